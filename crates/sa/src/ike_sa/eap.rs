//! EAP inside IKE_AUTH, both sides (RFC 7296 §2.16), with EAP-only authentication (RFC 5998)
//! and a second authentication round after a PSK or certificate one (RFC 4739).
//!
//! ```text
//! Initiator                                  Responder
//! IDi, [CERTREQ], [IDr], [CP], SA, TSi, TSr -->           (no AUTH: EAP follows)
//!                                <-- IDr, [CERT, AUTH], EAP(Request)   (AUTH left out: RFC 5998)
//! EAP(Response)                 -->
//!                                <-- EAP(Request) ... EAP(Success)
//! AUTH(MSK)                     -->
//!                                <-- AUTH(MSK), [CP], SA, TSi, TSr
//! ```
//!
//! With RFC 4739 the first IKE_AUTH carries our PSK or certificate AUTH and
//! ANOTHER_AUTH_FOLLOWS, the responder answers IDr, [CERT,] AUTH, and a second IKE_AUTH with
//! the EAP identity as IDi and no AUTH starts the rounds above (without the responder's AUTH,
//! checked already). SA, TS and CP go in the first request, as strongSwan sends them, and the
//! child comes from the last response.
//!
//! The initiator checks the responder's certificate AUTH before it answers any EAP message;
//! the responder stays half-open (its limits and its timer) until the final AUTH verifies.

use ikeway_codec::{AuthRepr, EapCode, IdValue};
use ikeway_eap::{
    AuthStep, AuthenticatorConfig, EapAuthenticator, EapFailure, EapPeer, Method, PeerConfig,
    PeerStep,
};

use super::handshake::OwnProof;
use super::intermediate::AuthInputs;
use super::*;
use crate::auth::{self, LocalAuth, PeerAuth, PeerRefused};

/// IKE_AUTH exchanges one authentication may take, beyond which it fails: the EAP rounds
/// `ikeway-eap` allows, plus the IKE_AUTH that starts EAP, the one with the final AUTH and an
/// RFC 4739 first round. `ikeway-eap` bounds its rounds itself; this bounds the IKE side even
/// if a method miscounts. MSCHAPv2 takes six exchanges, EAP-TLS with a long chain in 1 KB
/// fragments a dozen or two, but in small fragments up to EAP-TLS's own bound: the larger of
/// the two, so the IKE side never cuts short what the method allows.
pub(crate) const MAX_EAP_EXCHANGES: u32 =
    max(ikeway_eap::limits::MAX_ROUNDS, ikeway_eap::tls::MAX_TLS_ROUNDS) + 3;

const fn max(a: u32, b: u32) -> u32 {
    if a > b { a } else { b }
}

/// What an initiator running EAP keeps until the SA is up.
#[derive(Debug)]
pub(super) struct Client {
    /// Our IKE_SA_INIT request (which our final AUTH covers), the responder's response (which
    /// its AUTHs cover) and the nonces.
    init: InitPair,
    child_spi: u32,
    /// The IDi of the round EAP runs in; the final AUTH covers it.
    round_id: IdRepr,
    /// The EAP client; `None` during an RFC 4739 first round.
    peer: Option<EapPeer>,
    /// The responder's IDr, once its first answer named it.
    responder_id: Option<IdRepr>,
    /// We asked for EAP-only authentication (RFC 5998).
    asked_eap_only: bool,
    /// The responder left its AUTH out (RFC 5998): only the MSK AUTH of a mutual method
    /// proves it.
    responder_unproven: bool,
    exchanges: u32,
    step: ClientStep,
}

#[derive(Debug)]
enum ClientStep {
    /// RFC 4739: our PSK or certificate AUTH with ANOTHER_AUTH_FOLLOWS is out.
    FirstRound,
    /// The IKE_AUTH without AUTH that starts EAP is out.
    EapStart,
    /// An EAP-Response is out.
    Eap,
    /// EAP succeeded; our AUTH keyed by `msk` (SK_pi when `None`) is out.
    FinalAuth { msk: Option<SecretBytes> },
}

/// What a responder whose initiator runs EAP keeps while the SA is half-open.
#[derive(Debug)]
pub(super) struct Server {
    /// The IKE_SA_INIT pair and nonces both sides' final AUTHs cover.
    init: InitPair,
    /// The IDi of the first IKE_AUTH: the IKE identity reported once authenticated.
    first_id: IdRepr,
    /// The IDi of the round EAP runs in; the initiator's final AUTH covers it.
    round_id: IdRepr,
    /// The first request's SA, TS, CP and notifies: the child is answered from them once the
    /// initiator is authenticated.
    child_request: Vec<Payload>,
    /// `None` while an RFC 4739 second round has not started.
    authenticator: Option<EapAuthenticator>,
    exchanges: u32,
    step: ServerStep,
}

#[derive(Debug)]
enum ServerStep {
    /// RFC 4739: the first round verified; the IKE_AUTH that starts EAP is awaited.
    AwaitSecondRound,
    /// An EAP-Request is out.
    Eap,
    /// EAP-Success is out; the initiator's AUTH keyed by `msk` (SK_pi when `None`) is awaited.
    FinalAuth { msk: Option<SecretBytes>, eap_identity: String },
    /// EAP-Failure is out. Only a retransmission of the last request is answered (from the
    /// response cache) until the half-open timer closes the SA with this reason.
    Failed(EapFailure),
}

impl Server {
    /// Bytes of peer input held: counted against the half-open limits.
    pub(super) fn held_bytes(&self) -> usize {
        let child: usize = self.child_request.iter().map(Payload::buffer_len).sum();
        self.init.request.len() + self.init.response.len() + child
    }

    /// Why the SA ends when the half-open timer fires.
    pub(super) fn timeout_reason(&self) -> CloseReason {
        match self.step {
            ServerStep::Failed(reason) => CloseReason::Eap(reason),
            _ => CloseReason::HandshakeTimeout,
        }
    }
}

/// The IDi of an RFC 4739 EAP round: the EAP identity, as an e-mail address when it looks
/// like one, else as a name (strongSwan reads a bare user name the same way).
fn round_id(identity: &str) -> IdRepr {
    if identity.contains('@') && !identity.starts_with('@') {
        IdRepr::from_value(IdValue::Rfc822(identity))
    } else {
        IdRepr::from_value(IdValue::Fqdn(identity))
    }
}

/// What a new request carries besides SA, TS and CP: those of the first IKE_AUTH that the
/// responder answers only once the initiator is authenticated.
fn child_payloads(payloads: &[Payload]) -> Vec<Payload> {
    payloads
        .iter()
        .filter(|p| {
            matches!(
                &p.body,
                PayloadRepr::Sa(_)
                    | PayloadRepr::TsI(_)
                    | PayloadRepr::TsR(_)
                    | PayloadRepr::Config(_)
            ) || matches!(&p.body, PayloadRepr::Notify(n) if !n.kind.is_error())
        })
        .cloned()
        .collect()
}

/// Whether the initiator may ask for EAP-only authentication: every method it allows
/// authenticates the server (RFC 5998 §4).
fn eap_only_possible(peer: &PeerConfig) -> bool {
    !peer.methods.is_empty() && peer.methods.iter().all(|m| m.is_mutual())
}

impl IkeSa {
    // ----- initiator -----

    /// The first IKE_AUTH request of an initiator that authenticates with EAP in this round
    /// (`LocalAuth::Eap`) or in a second one (`local_auth2`). Gives `inputs` (Ni, Nr, our
    /// IKE_SA_INIT request) back when it is not ours to send (a plain PSK or certificate
    /// handshake), so that they are not copied for a path that keeps them.
    pub(super) fn send_first_auth_with_eap(
        &mut self,
        now: Instant,
        inputs: AuthInputs,
    ) -> Result<Option<AuthInputs>, crate::Error> {
        let (ni, nr, init_request) = inputs;
        let config = Arc::clone(&self.config);
        let (proof, peer, asked_eap_only, step) = match (&config.local_auth, &config.local_auth2) {
            (LocalAuth::Eap(peer), _) => {
                let eap_only = config.eap_only && eap_only_possible(peer);
                let mut proof = OwnProof::default();
                if eap_only {
                    proof.notifies.push(notify(NotifyType::EAP_ONLY_AUTHENTICATION, Vec::new()));
                }
                (proof, Some(EapPeer::new(Arc::clone(peer))), eap_only, ClientStep::EapStart)
            }
            (_, Some(_)) => {
                if !self.peer_multiple_auth {
                    self.close(CloseReason::MultipleAuthUnsupported);
                    return Ok(None);
                }
                let Some(own) = self.own_auth(Side::Initiator, &init_request, &nr)? else {
                    self.close(CloseReason::OwnCertificateUnusable);
                    return Ok(None);
                };
                let notifies = vec![
                    notify(NotifyType::MULTIPLE_AUTH_SUPPORTED, Vec::new()),
                    notify(NotifyType::ANOTHER_AUTH_FOLLOWS, Vec::new()),
                ];
                let proof = OwnProof { certs: own.certs, auth: Some(own.auth), notifies };
                (proof, None, false, ClientStep::FirstRound)
            }
            _ => return Ok(Some((ni, nr, init_request))),
        };
        let child_spi = self.random_spi32();
        let inner = self.first_auth_payloads(proof, child_spi);
        let response = Arc::new(self.init_response.take().unwrap_or_default());
        self.state = State::EapClient(Box::new(Client {
            init: InitPair { ni, nr, request: init_request, response },
            child_spi,
            round_id: config.local_id.clone(),
            peer,
            responder_id: None,
            asked_eap_only,
            responder_unproven: false,
            exchanges: 0,
            step,
        }));
        self.send_encrypted_request(now, ExchangeType::IKE_AUTH, &inner, Request::Auth)?;
        Ok(None)
    }

    /// An IKE_AUTH response while EAP runs on our side.
    pub(super) fn handle_eap_response(
        &mut self,
        now: Instant,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        let State::EapClient(mut c) = std::mem::replace(&mut self.state, State::Closed) else {
            unreachable!("checked by the caller");
        };
        let last = matches!(c.step, ClientStep::FinalAuth { .. });
        match first_error(payloads) {
            Some(NotifyType::AUTHENTICATION_FAILED) => {
                self.close(CloseReason::AuthenticationFailed);
                return Ok(());
            }
            // Before the last answer an error ends the handshake; in it, an error refuses
            // only the child (the IKE SA itself is then up, §2.21.3).
            Some(error) if !last => {
                self.close(CloseReason::PeerError(error));
                return Ok(());
            }
            _ => {}
        }
        c.exchanges += 1;
        if c.exchanges > MAX_EAP_EXCHANGES {
            self.give_up_handshake(CloseReason::Eap(EapFailure::TooManyRounds));
            return Ok(());
        }
        match std::mem::replace(&mut c.step, ClientStep::EapStart) {
            ClientStep::FirstRound => {
                let id = match self.verify_peer_auth(payloads, false, &c.init.response, &c.init.ni)
                {
                    Ok(id) => id,
                    Err(refused) => return self.refuse_responder(refused),
                };
                c.responder_id = Some(id);
                let peer = Arc::clone(
                    self.config.local_auth2.as_ref().expect("a first round only with local_auth2"),
                );
                c.round_id = round_id(&peer.identity);
                c.peer = Some(EapPeer::new(peer));
                let inner = [Payload::new(PayloadRepr::IdI(c.round_id.clone()))];
                self.state = State::EapClient(c);
                self.send_encrypted_request(now, ExchangeType::IKE_AUTH, &inner, Request::Auth)
            }
            ClientStep::EapStart => {
                if c.responder_id.is_none() {
                    if find_payload!(payloads, Auth).is_some() || !c.asked_eap_only {
                        // The responder proves itself before we answer any EAP message.
                        match self.verify_peer_auth(payloads, false, &c.init.response, &c.init.ni) {
                            Ok(id) => c.responder_id = Some(id),
                            Err(refused) => return self.refuse_responder(refused),
                        }
                    } else {
                        // RFC 5998: no AUTH yet; the method and the MSK AUTH prove it.
                        let Some(id) = find_payload!(payloads, IdR) else {
                            return self.refuse_responder(PeerRefused::Syntax);
                        };
                        if self.config.remote_id.as_ref().is_some_and(|r| r != id) {
                            return self.refuse_responder(PeerRefused::Failed);
                        }
                        c.responder_id = Some(id.clone());
                        c.responder_unproven = true;
                    }
                }
                self.client_eap_step(now, c, payloads)
            }
            ClientStep::Eap => self.client_eap_step(now, c, payloads),
            ClientStep::FinalAuth { msk } => {
                let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
                let id = c.responder_id.as_ref().expect("named before EAP ran");
                let octets =
                    crypto.signed_octets(Side::Responder, &c.init.response, &c.init.ni, id)?;
                let proved = find_payload!(payloads, Auth).is_some_and(|a| {
                    auth::check_eap_auth(crypto, msk.as_ref(), Side::Responder, &octets, a)
                });
                if !proved {
                    return self.refuse_responder(PeerRefused::Failed);
                }
                let Client { init, child_spi, .. } = *c;
                self.finish_initiator_auth(now, payloads, child_spi, &init.ni, &init.nr);
                Ok(())
            }
        }
    }

    /// Hands the response's EAP message to our EAP client and sends what it answers: the
    /// next EAP-Response, or, after EAP-Success, our AUTH over the MSK.
    fn client_eap_step(
        &mut self,
        now: Instant,
        mut c: Box<Client>,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        let Some(message) = find_payload!(payloads, Eap) else {
            self.give_up_handshake(CloseReason::Eap(EapFailure::Malformed));
            return Ok(());
        };
        let peer = c.peer.as_mut().expect("EAP runs with a client");
        let step = match peer.handle(message, &mut self.rng) {
            Ok(step) => step,
            // The server said no and has ended its side: nothing to tell it.
            Err(failure) if message.code == EapCode::FAILURE => {
                self.close(CloseReason::Eap(failure));
                return Ok(());
            }
            // We refuse what the server did (premature success, its TLS certificate, a
            // malformed message...): it still waits for us, so tell it.
            Err(failure) => {
                self.give_up_handshake(CloseReason::Eap(failure));
                return Ok(());
            }
        };
        match step {
            PeerStep::Respond(response) => {
                c.step = ClientStep::Eap;
                let inner = [Payload::new(PayloadRepr::Eap(response))];
                self.state = State::EapClient(c);
                self.send_encrypted_request(now, ExchangeType::IKE_AUTH, &inner, Request::Auth)
            }
            PeerStep::Success { msk } => {
                if c.responder_unproven && !peer.method().is_some_and(Method::is_mutual) {
                    self.give_up_handshake(CloseReason::EapOnlyMethodNotMutual);
                    return Ok(());
                }
                let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
                let octets = crypto.signed_octets(
                    Side::Initiator,
                    &c.init.request,
                    &c.init.nr,
                    &c.round_id,
                )?;
                let inner = [auth::eap_auth(crypto, msk.as_ref(), Side::Initiator, &octets)];
                c.step = ClientStep::FinalAuth { msk };
                self.state = State::EapClient(c);
                self.send_encrypted_request(now, ExchangeType::IKE_AUTH, &inner, Request::Auth)
            }
        }
    }

    // ----- responder -----

    /// A first IKE_AUTH without AUTH to a responder that requires EAP: answers our own proof
    /// (unless RFC 5998 lets us leave it out) and the first EAP-Request.
    pub(super) fn start_eap_server(
        &mut self,
        message_id: u32,
        payloads: &[Payload],
        init: InitPair,
        config: Arc<AuthenticatorConfig>,
    ) -> Result<(), crate::Error> {
        let Some(id) = find_payload!(payloads, IdI) else {
            return self.refuse_initiator(message_id, PeerRefused::Syntax);
        };
        if self.config.remote_id.as_ref().is_some_and(|r| r != id) {
            return self.refuse_initiator(message_id, PeerRefused::Failed);
        }
        let eap_only = self.config.eap_only
            && find_notify(payloads, NotifyType::EAP_ONLY_AUTHENTICATION).is_some()
            && config.methods.first().is_some_and(|m| m.is_mutual());
        let mut reply = vec![Payload::new(PayloadRepr::IdR(self.config.local_id.clone()))];
        if !eap_only {
            let Some(own) = self.responder_own_auth(message_id, &init)? else { return Ok(()) };
            reply.extend(own.certs);
            reply.push(own.auth);
        }
        let mut authenticator = EapAuthenticator::new(config);
        reply.push(Payload::new(PayloadRepr::Eap(authenticator.start(&mut self.rng))));
        self.state = State::EapServer(Box::new(Server {
            init,
            first_id: id.clone(),
            round_id: id.clone(),
            child_request: child_payloads(payloads),
            authenticator: Some(authenticator),
            exchanges: 1,
            step: ServerStep::Eap,
        }));
        self.send_response(message_id, ExchangeType::IKE_AUTH, &reply)
    }

    /// RFC 4739: the first round verified `first_id`; answers `reply` (our proof) and waits
    /// for the IKE_AUTH that starts EAP.
    pub(super) fn await_second_round(
        &mut self,
        message_id: u32,
        payloads: &[Payload],
        init: InitPair,
        first_id: IdRepr,
        reply: &[Payload],
    ) -> Result<(), crate::Error> {
        self.state = State::EapServer(Box::new(Server {
            init,
            round_id: first_id.clone(),
            first_id,
            child_request: child_payloads(payloads),
            authenticator: None,
            exchanges: 1,
            step: ServerStep::AwaitSecondRound,
        }));
        self.send_response(message_id, ExchangeType::IKE_AUTH, reply)
    }

    /// An IKE_AUTH request while the initiator runs EAP.
    pub(super) fn handle_eap_request(
        &mut self,
        now: Instant,
        message_id: u32,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        let State::EapServer(mut s) = std::mem::replace(&mut self.state, State::Closed) else {
            unreachable!("checked by the caller");
        };
        if let ServerStep::Failed(_) = s.step {
            // Done: what is left is answering the last request again, from the cache.
            self.stats.dropped_unexpected += 1;
            self.state = State::EapServer(s);
            return Ok(());
        }
        s.exchanges += 1;
        if s.exchanges > MAX_EAP_EXCHANGES {
            return self.refuse_eap(message_id, CloseReason::Eap(EapFailure::TooManyRounds));
        }
        match std::mem::replace(&mut s.step, ServerStep::Eap) {
            ServerStep::AwaitSecondRound => {
                let (Some(id), None) =
                    (find_payload!(payloads, IdI), find_payload!(payloads, Auth))
                else {
                    return self.refuse_initiator(message_id, PeerRefused::Syntax);
                };
                let config = Arc::clone(
                    self.config.peer_auth2.as_ref().expect("a second round only with peer_auth2"),
                );
                let mut authenticator = EapAuthenticator::new(config);
                let first = authenticator.start(&mut self.rng);
                s.round_id = id.clone();
                s.authenticator = Some(authenticator);
                self.state = State::EapServer(s);
                self.send_response(
                    message_id,
                    ExchangeType::IKE_AUTH,
                    &[Payload::new(PayloadRepr::Eap(first))],
                )
            }
            ServerStep::Eap => {
                let Some(message) = find_payload!(payloads, Eap) else {
                    return self.refuse_eap(message_id, CloseReason::Eap(EapFailure::Malformed));
                };
                let authenticator =
                    s.authenticator.as_mut().expect("EAP runs with an authenticator");
                let answer = match authenticator.handle(message, &mut self.rng) {
                    AuthStep::Request(request) => request,
                    AuthStep::Success { message, identity, msk } => {
                        s.step = ServerStep::FinalAuth { msk, eap_identity: identity };
                        message
                    }
                    AuthStep::Failure { message, reason } => {
                        s.step = ServerStep::Failed(reason);
                        message
                    }
                };
                self.state = State::EapServer(s);
                self.send_response(
                    message_id,
                    ExchangeType::IKE_AUTH,
                    &[Payload::new(PayloadRepr::Eap(answer))],
                )
            }
            ServerStep::FinalAuth { msk, eap_identity } => {
                let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
                let octets = crypto.signed_octets(
                    Side::Initiator,
                    &s.init.request,
                    &s.init.nr,
                    &s.round_id,
                )?;
                let proved = find_payload!(payloads, Auth).is_some_and(|a: &AuthRepr| {
                    auth::check_eap_auth(crypto, msk.as_ref(), Side::Initiator, &octets, a)
                });
                if !proved {
                    return self.refuse_initiator(message_id, PeerRefused::Failed);
                }
                let ours = crypto.signed_octets(
                    Side::Responder,
                    &s.init.response,
                    &s.init.ni,
                    &self.config.local_id,
                )?;
                let reply = vec![auth::eap_auth(crypto, msk.as_ref(), Side::Responder, &ours)];
                let Server { init, first_id, child_request, .. } = *s;
                self.events.push_back(Event::PeerAuthenticated { id: first_id, eap_identity });
                self.finish_responder_auth(
                    now,
                    message_id,
                    reply,
                    &child_request,
                    &init.ni,
                    &init.nr,
                )
            }
            ServerStep::Failed(_) => unreachable!("answered above"),
        }
    }

    /// An INFORMATIONAL while the initiator runs EAP: answered as on an established SA (a
    /// Delete ends the SA), and one that says the initiator gave up, with an error notify
    /// (§2.21.2: AUTHENTICATION_FAILED; strongSwan's client sends it without a Delete after an
    /// MSCHAPv2 failure), ends the half-open SA at once rather than at the half-open timeout.
    pub(super) fn handle_informational_during_eap(
        &mut self,
        message_id: u32,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        let verdict = match &self.state {
            State::EapServer(s) => match s.step {
                ServerStep::Failed(reason) => Some(reason),
                _ => None,
            },
            _ => None,
        };
        self.handle_informational_request(message_id, payloads)?;
        if let Some(error) = first_error(payloads)
            && !self.is_closed()
        {
            self.close(verdict.map_or(CloseReason::PeerError(error), CloseReason::Eap));
        }
        Ok(())
    }

    /// Refuses the initiator's IKE_AUTH: the notify of `refused` (§2.21.2), then no state.
    pub(super) fn refuse_initiator(
        &mut self,
        message_id: u32,
        refused: PeerRefused,
    ) -> Result<(), crate::Error> {
        self.send_response(
            message_id,
            ExchangeType::IKE_AUTH,
            &[notify(refused.notify(), Vec::new())],
        )?;
        self.close(refused.close_reason());
        Ok(())
    }

    /// Ends an EAP exchange that broke off (malformed, too long), or refuses a client without
    /// the PPK we require: AUTHENTICATION_FAILED and `reason`.
    pub(super) fn refuse_eap(
        &mut self,
        message_id: u32,
        reason: CloseReason,
    ) -> Result<(), crate::Error> {
        self.send_response(
            message_id,
            ExchangeType::IKE_AUTH,
            &[notify(NotifyType::AUTHENTICATION_FAILED, Vec::new())],
        )?;
        self.close(reason);
        Ok(())
    }
}

/// An IKE_SA_INIT pair and its nonces, which both sides' AUTHs cover.
#[derive(Debug)]
pub(super) struct InitPair {
    pub(super) ni: Vec<u8>,
    pub(super) nr: Vec<u8>,
    pub(super) request: Vec<u8>,
    /// Shared with the responder's response cache while that holds it.
    pub(super) response: Datagram,
}

/// Whether the responder requires EAP in the first round.
pub(super) fn eap_required(config: &Config) -> Option<Arc<AuthenticatorConfig>> {
    match &config.peer_auth {
        PeerAuth::Eap(c) => Some(Arc::clone(c)),
        _ => None,
    }
}
