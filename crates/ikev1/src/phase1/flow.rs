//! The phase 1 messages of both modes and both roles, as methods of the SA: each handler
//! takes one decoded message in the state that expects it, answers, and moves the state on.

use std::time::Instant;

use ikeway_codec::DhGroup;
use ikeway_isakmp::{
    ExchangeType, IdRepr, KeRepr, NatDRepr, NonceRepr, NotifyType, Payload, PayloadSpan,
    PayloadType, SaRepr,
};
use ikeway_sa::{CloseReason, Side};

use super::auth::{self, ProofFailure};
use super::nat::{self, NatTVariant};
use super::proposal::{self, Phase1Suite};
use super::{Exchange, NONCE_LEN, NONCE_RANGE, PeerVendors, State, our_vendor_ids};
use crate::config::{Authentication, Phase1Mode};
use crate::crypt::Crypt;
use crate::engine::{Ikev1Sa, Role};
use crate::keys::{self, HashInputs, HashOf, SkeyidInput};
use crate::timer::Timer;

/// A received phase 1 message: its payloads, and the raw bytes each body had (what HASH_I
/// and HASH_R cover).
pub(crate) struct Received<'a> {
    pub payloads: &'a [Payload],
    pub spans: &'a [PayloadSpan],
    pub bytes: &'a [u8],
}

impl Received<'_> {
    fn find<T>(&self, f: impl Fn(&Payload) -> Option<&T>) -> Option<&T> {
        self.payloads.iter().find_map(f)
    }

    /// The raw body of the first payload of `kind`.
    fn body_of(&self, kind: PayloadType) -> Option<&[u8]> {
        let span = self.spans.iter().find(|s| s.kind == kind)?;
        self.bytes.get(span.body())
    }

    fn sa(&self) -> Option<&SaRepr> {
        self.find(|p| if let Payload::Sa(s) = p { Some(s) } else { None })
    }
    fn ke(&self) -> Option<&[u8]> {
        self.find(|p| if let Payload::Ke(k) = p { Some(&k.data) } else { None }).map(Vec::as_slice)
    }
    fn nonce(&self) -> Option<&[u8]> {
        let n = self.find(|p| if let Payload::Nonce(n) = p { Some(&n.data) } else { None })?;
        NONCE_RANGE.contains(&n.len()).then_some(n.as_slice())
    }
    fn id(&self) -> Option<&IdRepr> {
        self.find(|p| if let Payload::Id(i) = p { Some(i) } else { None })
    }
    fn nat_d(&self, variant: NatTVariant) -> Vec<&[u8]> {
        self.payloads
            .iter()
            .filter_map(|p| match (p, variant) {
                (Payload::NatD(d), NatTVariant::Rfc3947) => Some(d.data.as_slice()),
                (Payload::NatDDraft(d), NatTVariant::Draft) => Some(d.data.as_slice()),
                _ => None,
            })
            .take(nat::MAX_NAT_D)
            .collect()
    }
}

/// Why a phase 1 message was not acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase1Error {
    /// Malformed or missing payloads: dropped and counted, the exchange waits.
    Drop,
    /// The exchange is over: tell the peer (unencrypted, it cannot read anything else yet)
    /// and close with this reason.
    Fail(NotifyType, CloseReason),
}

use Phase1Error::{Drop, Fail};

impl Ikev1Sa {
    // ---- initiator -----------------------------------------------------------------------

    /// Sends main mode message 1 or aggressive mode message 1.
    pub(crate) fn start_phase1(&mut self, now: Instant) -> Result<(), crate::Error> {
        let method = self.phase1_method();
        let sa = proposal::offer_with(&self.config, method);
        let sa_payload = Payload::Sa(sa);
        self.exchange.sa_i_b = sa_payload.emit_body().map_err(crate::Error::Emit)?;
        let mut payloads = vec![sa_payload];
        let kind = match self.config.mode {
            Phase1Mode::Main => {
                self.phase1 = State::MainI1;
                ExchangeType::MAIN
            }
            Phase1Mode::Aggressive => {
                // Aggressive mode cannot negotiate the group: KE is in message 1. The offer
                // keeps only the transforms of the first group.
                let group = self
                    .config
                    .proposals
                    .first()
                    .map(|p| p.group)
                    .ok_or(crate::Error::NoUsableGroup)?;
                let mut only = (*self.config).clone();
                only.proposals.retain(|p| p.group == group);
                let sa_payload = Payload::Sa(proposal::offer_with(&only, method));
                self.exchange.sa_i_b = sa_payload.emit_body().map_err(crate::Error::Emit)?;
                payloads = vec![sa_payload];
                let kex = self.kex.start(group, &mut self.rng).map_err(crate::Error::Kex)?;
                self.exchange.g_xi = kex.public_value().to_vec();
                self.exchange.kex = Some(kex);
                self.exchange.ni = self.random(NONCE_LEN);
                let id = auth::id_payload(&self.config.local_id);
                self.exchange.own_id_b = id.to_vec().unwrap_or_default();
                payloads.push(Payload::Ke(KeRepr::new(self.exchange.g_xi.clone())));
                payloads.push(Payload::Nonce(NonceRepr::new(self.exchange.ni.clone())));
                payloads.push(Payload::Id(id));
                self.phase1 = State::AggrI1;
                ExchangeType::AGGRESSIVE
            }
        };
        payloads.extend(our_vendor_ids(&self.config, None, None));
        self.send_phase1(now, kind, payloads, false, true);
        Ok(())
    }

    /// Main mode message 2: the responder's choice. Answers with message 3.
    fn main_i2(&mut self, now: Instant, rx: &Received<'_>) -> Result<(), Phase1Error> {
        let sa = rx.sa().ok_or(Drop)?;
        let suite = proposal::check_with(&self.config, self.phase1_method(), sa)
            .map_err(|_| Fail(NotifyType::NO_PROPOSAL_CHOSEN, CloseReason::NoProposalChosen))?;
        self.vendors = PeerVendors::read(rx.payloads);
        let kex = self
            .kex
            .start(suite.group, &mut self.rng)
            .map_err(|_| Fail(NotifyType::NO_PROPOSAL_CHOSEN, CloseReason::NoProposalChosen))?;
        self.exchange.g_xi = kex.public_value().to_vec();
        self.exchange.kex = Some(kex);
        self.exchange.ni = self.random(NONCE_LEN);
        self.exchange.suite = Some(suite);
        let mut payloads = vec![
            Payload::Ke(KeRepr::new(self.exchange.g_xi.clone())),
            Payload::Nonce(NonceRepr::new(self.exchange.ni.clone())),
        ];
        payloads.extend(self.our_nat_d(suite));
        self.phase1 = State::MainI3;
        self.send_phase1(now, ExchangeType::MAIN, payloads, false, true);
        Ok(())
    }

    /// Main mode message 4: the responder's KE and nonce. Keys, NAT detection, message 5.
    fn main_i4(&mut self, now: Instant, rx: &Received<'_>) -> Result<(), Phase1Error> {
        let suite = self.exchange.suite.ok_or(Drop)?;
        let (g_xr, nr) = (rx.ke().ok_or(Drop)?.to_vec(), rx.nonce().ok_or(Drop)?.to_vec());
        let g_xy = self.exchange.kex.as_ref().ok_or(Drop)?.complete(&g_xr).map_err(|_| Drop)?;
        self.exchange.g_xr = g_xr;
        self.exchange.nr = nr;
        self.exchange.g_xy = Some(g_xy);
        self.exchange.kex = None;
        self.key_phase1(suite)?;
        self.detect_nat(suite, rx);
        self.float_if_natted();
        let id = auth::id_payload(&self.config.local_id);
        self.exchange.own_id_b = id.to_vec().map_err(|_| Drop)?;
        let hash_i = self.phase1_hash(HashOf::Initiator, &self.exchange.own_id_b.clone());
        let mut payloads = vec![Payload::Id(id)];
        payloads.extend(auth::prove(&self.config.auth, &hash_i).map_err(|_| {
            Fail(NotifyType::AUTHENTICATION_FAILED, CloseReason::OwnCertificateUnusable)
        })?);
        self.phase1 = State::MainI5;
        self.send_phase1(now, ExchangeType::MAIN, payloads, true, true);
        Ok(())
    }

    /// Main mode message 6: the responder proves itself; phase 1 is done.
    fn main_i6(&mut self, now: Instant, rx: &Received<'_>) -> Result<(), Phase1Error> {
        self.check_peer_proof(HashOf::Responder, rx)?;
        // Message 5 asked, message 6 answered: nothing of ours answers message 6, so a copy
        // of it is dropped, not answered with message 5 (which a responder like strongSwan
        // answers with message 6 again, and so on).
        self.resend.datagrams.clear();
        self.phase1_done(now);
        Ok(())
    }

    /// Aggressive mode message 2: choice, KE, nonce, identity and proof of the responder.
    /// Answers with message 3 and is done.
    fn aggr_i2(&mut self, now: Instant, rx: &Received<'_>) -> Result<(), Phase1Error> {
        let sa = rx.sa().ok_or(Drop)?;
        let suite = proposal::check_with(&self.config, self.phase1_method(), sa)
            .map_err(|_| Fail(NotifyType::NO_PROPOSAL_CHOSEN, CloseReason::NoProposalChosen))?;
        let kex = self.exchange.kex.as_ref().ok_or(Drop)?;
        if kex.group() != suite.group {
            return Err(Fail(NotifyType::NO_PROPOSAL_CHOSEN, CloseReason::NoProposalChosen));
        }
        let (g_xr, nr) = (rx.ke().ok_or(Drop)?.to_vec(), rx.nonce().ok_or(Drop)?.to_vec());
        rx.id().ok_or(Drop)?;
        let g_xy = kex.complete(&g_xr).map_err(|_| Drop)?;
        self.vendors = PeerVendors::read(rx.payloads);
        self.exchange.suite = Some(suite);
        self.exchange.g_xr = g_xr;
        self.exchange.nr = nr;
        self.exchange.g_xy = Some(g_xy);
        self.exchange.kex = None;
        self.key_phase1(suite)?;
        self.check_peer_proof(HashOf::Responder, rx)?;
        self.detect_nat(suite, rx);
        // The NAT-D we send are computed on the path we received on, before floating.
        let nat_d = self.our_nat_d(suite);
        self.float_if_natted();
        let hash_i = self.phase1_hash(HashOf::Initiator, &self.exchange.own_id_b.clone());
        let mut payloads = auth::prove(&self.config.auth, &hash_i).map_err(|_| {
            Fail(NotifyType::AUTHENTICATION_FAILED, CloseReason::OwnCertificateUnusable)
        })?;
        payloads.extend(nat_d);
        self.send_phase1(now, ExchangeType::AGGRESSIVE, payloads, true, false);
        self.phase1_done(now);
        Ok(())
    }

    // ---- responder -----------------------------------------------------------------------

    /// Main mode message 1: choose a transform, answer with message 2.
    fn main_r1(&mut self, now: Instant, rx: &Received<'_>) -> Result<(), Phase1Error> {
        let sa = rx.sa().ok_or(Drop)?;
        let kex = self.kex.clone();
        let method = self.phase1_method();
        let (suite, answer) = proposal::choose_with(&self.config, method, sa, |g| kex.supports(g))
            .map_err(|_| Fail(NotifyType::NO_PROPOSAL_CHOSEN, CloseReason::NoProposalChosen))?;
        self.exchange.sa_i_b = rx.body_of(PayloadType::SA).ok_or(Drop)?.to_vec();
        self.exchange.suite = Some(suite);
        self.vendors = PeerVendors::read(rx.payloads);
        let mut payloads = vec![Payload::Sa(answer)];
        payloads.extend(our_vendor_ids(&self.config, self.nat_t_variant(), Some(&self.vendors)));
        self.phase1 = State::MainR2;
        self.send_phase1(now, ExchangeType::MAIN, payloads, false, true);
        Ok(())
    }

    /// Main mode message 3: the initiator's KE and nonce. Keys, message 4.
    fn main_r3(&mut self, now: Instant, rx: &Received<'_>) -> Result<(), Phase1Error> {
        let suite = self.exchange.suite.ok_or(Drop)?;
        let (g_xi, ni) = (rx.ke().ok_or(Drop)?.to_vec(), rx.nonce().ok_or(Drop)?.to_vec());
        self.respond_kex(suite.group, g_xi, ni)?;
        self.key_phase1(suite)?;
        self.detect_nat(suite, rx);
        let mut payloads = vec![
            Payload::Ke(KeRepr::new(self.exchange.g_xr.clone())),
            Payload::Nonce(NonceRepr::new(self.exchange.nr.clone())),
        ];
        if matches!(self.config.auth, Authentication::Certificates { .. }) {
            // An empty CR asks for a certificate from any authority (RFC 2408 §3.10).
            payloads.push(Payload::CertReq(ikeway_isakmp::CertRepr::x509(Vec::new())));
        }
        payloads.extend(self.our_nat_d(suite));
        self.phase1 = State::MainR4;
        self.send_phase1(now, ExchangeType::MAIN, payloads, false, true);
        Ok(())
    }

    /// Main mode message 5: the initiator proves itself; message 6 and done.
    fn main_r5(&mut self, now: Instant, rx: &Received<'_>) -> Result<(), Phase1Error> {
        self.check_peer_proof(HashOf::Initiator, rx)?;
        let id = auth::id_payload(&self.config.local_id);
        self.exchange.own_id_b = id.to_vec().map_err(|_| Drop)?;
        let hash_r = self.phase1_hash(HashOf::Responder, &self.exchange.own_id_b.clone());
        let mut payloads = vec![Payload::Id(id)];
        payloads.extend(auth::prove(&self.config.auth, &hash_r).map_err(|_| {
            Fail(NotifyType::AUTHENTICATION_FAILED, CloseReason::OwnCertificateUnusable)
        })?);
        self.send_phase1(now, ExchangeType::MAIN, payloads, true, false);
        self.phase1_done(now);
        Ok(())
    }

    /// Aggressive mode message 1: choose, key, prove ourselves in message 2.
    fn aggr_r1(&mut self, now: Instant, rx: &Received<'_>) -> Result<(), Phase1Error> {
        let sa = rx.sa().ok_or(Drop)?;
        let (g_xi, ni) = (rx.ke().ok_or(Drop)?.to_vec(), rx.nonce().ok_or(Drop)?.to_vec());
        let peer_id = rx.id().ok_or(Drop)?;
        if !auth::id_matches(&self.config.remote_id, peer_id) {
            return Err(Fail(
                NotifyType::INVALID_ID_INFORMATION,
                CloseReason::AuthenticationFailed,
            ));
        }
        let kex = self.kex.clone();
        let method = self.phase1_method();
        let (suite, answer) = proposal::choose_with(&self.config, method, sa, |g| kex.supports(g))
            .map_err(|_| Fail(NotifyType::NO_PROPOSAL_CHOSEN, CloseReason::NoProposalChosen))?;
        self.exchange.sa_i_b = rx.body_of(PayloadType::SA).ok_or(Drop)?.to_vec();
        self.exchange.suite = Some(suite);
        self.vendors = PeerVendors::read(rx.payloads);
        self.respond_kex(suite.group, g_xi, ni).map_err(|_| {
            Fail(NotifyType::INVALID_KEY_INFORMATION, CloseReason::NoProposalChosen)
        })?;
        self.key_phase1(suite)?;
        self.peer_id_b = rx.body_of(PayloadType::ID).ok_or(Drop)?.to_vec();
        self.peer_id = Some(peer_id.clone());
        let id = auth::id_payload(&self.config.local_id);
        self.exchange.own_id_b = id.to_vec().map_err(|_| Drop)?;
        let hash_r = self.phase1_hash(HashOf::Responder, &self.exchange.own_id_b.clone());
        let mut payloads = vec![
            Payload::Sa(answer),
            Payload::Ke(KeRepr::new(self.exchange.g_xr.clone())),
            Payload::Nonce(NonceRepr::new(self.exchange.nr.clone())),
            Payload::Id(id),
        ];
        payloads.extend(auth::prove(&self.config.auth, &hash_r).map_err(|_| {
            Fail(NotifyType::AUTHENTICATION_FAILED, CloseReason::OwnCertificateUnusable)
        })?);
        payloads.extend(our_vendor_ids(&self.config, self.nat_t_variant(), Some(&self.vendors)));
        payloads.extend(self.our_nat_d(suite));
        self.phase1 = State::AggrR2;
        self.send_phase1(now, ExchangeType::AGGRESSIVE, payloads, false, true);
        Ok(())
    }

    /// Aggressive mode message 3: the initiator's proof and NAT-D; done.
    fn aggr_r3(&mut self, now: Instant, rx: &Received<'_>) -> Result<(), Phase1Error> {
        let suite = self.exchange.suite.ok_or(Drop)?;
        self.check_peer_proof(HashOf::Initiator, rx)?;
        self.detect_nat(suite, rx);
        self.resend.datagrams.clear();
        self.phase1_done(now);
        Ok(())
    }

    // ---- shared --------------------------------------------------------------------------

    /// Hands a decoded phase 1 message to the handler its state expects. `encrypted` is
    /// whether it came under the phase 1 key (it must for main mode 5/6).
    pub(crate) fn handle_phase1(
        &mut self,
        now: Instant,
        exchange: ExchangeType,
        encrypted: bool,
        rx: &Received<'_>,
    ) -> Result<(), Phase1Error> {
        let expected = match self.config.mode {
            Phase1Mode::Main => ExchangeType::MAIN,
            Phase1Mode::Aggressive => ExchangeType::AGGRESSIVE,
        };
        if exchange != expected {
            return Err(Drop);
        }
        match (self.phase1, encrypted) {
            (State::Start, false) if self.side == Side::Responder => match expected {
                ExchangeType::MAIN => self.main_r1(now, rx),
                _ => self.aggr_r1(now, rx),
            },
            (State::MainI1, false) => self.main_i2(now, rx),
            (State::MainI3, false) => self.main_i4(now, rx),
            (State::MainI5, true) => self.main_i6(now, rx),
            (State::AggrI1, false) => self.aggr_i2(now, rx),
            (State::MainR2, false) => self.main_r3(now, rx),
            (State::MainR4, true) => self.main_r5(now, rx),
            // RFC 2409 §5 shows aggressive message 3 in the clear; most peers encrypt it.
            (State::AggrR2, _) => self.aggr_r3(now, rx),
            _ => Err(Drop),
        }
    }

    /// The responder's side of the key exchange, and its nonce.
    fn respond_kex(
        &mut self,
        group: DhGroup,
        g_xi: Vec<u8>,
        ni: Vec<u8>,
    ) -> Result<(), Phase1Error> {
        let (g_xr, g_xy) = self.kex.respond(group, &g_xi, &mut self.rng).map_err(|_| Drop)?;
        self.exchange.g_xi = g_xi;
        self.exchange.ni = ni;
        self.exchange.g_xr = g_xr;
        self.exchange.g_xy = Some(g_xy);
        self.exchange.nr = self.random(NONCE_LEN);
        Ok(())
    }

    /// SKEYID and its family, and the cipher with its first IV.
    fn key_phase1(&mut self, suite: Phase1Suite) -> Result<(), Phase1Error> {
        let ex = &self.exchange;
        let g_xy = ex.g_xy.as_ref().ok_or(Drop)?;
        let input = match &self.config.auth {
            Authentication::Psk(psk) => SkeyidInput::PreSharedKey(psk.expose()),
            // Hybrid has no shared secret: SKEYID from the nonces, as for signatures.
            Authentication::Certificates { .. }
            | Authentication::HybridClient { .. }
            | Authentication::HybridGateway { .. } => SkeyidInput::Signature,
        };
        let k = keys::derive(
            suite.hash,
            input,
            &ex.ni,
            &ex.nr,
            g_xy.expose(),
            self.cky_i,
            self.cky_r,
            suite.cipher.keymat_len(),
        );
        let crypt = Crypt::new(suite.cipher, k.enc_key.expose(), suite.hash, &ex.g_xi, &ex.g_xr)
            .map_err(|_| Drop)?;
        self.keys = Some(k);
        self.crypt = Some(crypt);
        Ok(())
    }

    /// HASH_I or HASH_R with `id_b` the ID body of the side it is for.
    fn phase1_hash(&self, of: HashOf, id_b: &[u8]) -> ikeway_crypto::SecretBytes {
        let ex = &self.exchange;
        // Only called once `key_phase1` set the keys.
        let (prf, skeyid) = match &self.keys {
            Some(k) => (k.hash.prf(), &k.skeyid),
            None => return ikeway_crypto::SecretBytes::default(),
        };
        let inputs = HashInputs {
            g_xi: &ex.g_xi,
            g_xr: &ex.g_xr,
            cky_i: self.cky_i,
            cky_r: self.cky_r,
            sa_i_b: &ex.sa_i_b,
        };
        keys::phase1_hash(prf, skeyid, of, inputs, id_b)
    }

    /// Checks the peer's identity and its HASH or SIG (`of` names whose proof it is).
    fn check_peer_proof(&mut self, of: HashOf, rx: &Received<'_>) -> Result<(), Phase1Error> {
        let suite = self.exchange.suite.ok_or(Drop)?;
        let (peer_id, peer_id_b) = match (rx.id(), rx.body_of(PayloadType::ID)) {
            (Some(id), Some(b)) => (id.clone(), b.to_vec()),
            // Aggressive message 3 carries no ID: it was in message 1.
            _ => (self.peer_id.clone().ok_or(Drop)?, self.peer_id_b.clone()),
        };
        if !auth::id_matches(&self.config.remote_id, &peer_id) {
            return Err(Fail(
                NotifyType::INVALID_ID_INFORMATION,
                CloseReason::AuthenticationFailed,
            ));
        }
        let expected = self.phase1_hash(of, &peer_id_b);
        auth::verify(&self.config.auth, suite.method, rx.payloads, &peer_id, &expected).map_err(
            |e| match e {
                ProofFailure::Missing => Drop,
                ProofFailure::Mismatch => {
                    Fail(NotifyType::AUTHENTICATION_FAILED, CloseReason::AuthenticationFailed)
                }
                ProofFailure::TooManyCertificates => {
                    self.stats.peer_certificates_over_limit += 1;
                    Fail(NotifyType::INVALID_CERTIFICATE, CloseReason::AuthenticationFailed)
                }
                ProofFailure::Certificate(f) => {
                    Fail(NotifyType::INVALID_CERTIFICATE, CloseReason::PeerCertificate(f))
                }
            },
        )?;
        self.peer_id = Some(peer_id);
        self.peer_id_b = peer_id_b;
        Ok(())
    }

    /// The Authentication Method this SA offers or takes: the configuration's, in its
    /// XAUTHResp*/HybridResp form when the gateway started phase 1.
    fn phase1_method(&self) -> ikeway_isakmp::AuthMethod {
        let gateway_initiates = (self.role == Role::Gateway) == (self.side == Side::Initiator);
        proposal::auth_method_as(&self.config, gateway_initiates)
    }

    /// The NAT-T variant both sides announced, if we do NAT-T.
    pub(crate) fn nat_t_variant(&self) -> Option<NatTVariant> {
        if self.config.nat_traversal { self.vendors.nat_t } else { None }
    }

    /// Our two NAT-D payloads, when both sides do NAT-T.
    fn our_nat_d(&self, suite: Phase1Suite) -> Vec<Payload> {
        let Some(variant) = self.nat_t_variant() else { return Vec::new() };
        nat::ours(suite.hash, self.cky_i, self.cky_r, self.local, self.remote)
            .into_iter()
            .map(|d| match variant {
                NatTVariant::Rfc3947 => Payload::NatD(NatDRepr::new(d)),
                NatTVariant::Draft => Payload::NatDDraft(NatDRepr::new(d)),
            })
            .collect()
    }

    fn detect_nat(&mut self, suite: Phase1Suite, rx: &Received<'_>) {
        let Some(variant) = self.nat_t_variant() else { return };
        let seen = rx.nat_d(variant);
        let (local, remote) = self.exchange.before_float.unwrap_or((self.local, self.remote));
        if let Some(state) =
            nat::detect(variant, suite.hash, self.cky_i, self.cky_r, local, remote, &seen)
        {
            self.nat = Some(state);
        }
    }

    /// RFC 3947 §4: with a NAT between us, the initiator moves to port 4500 for the rest.
    fn float_if_natted(&mut self) {
        if self.nat.is_some_and(|n| n.nat_detected()) {
            self.local = nat::floated(self.local);
            self.remote = nat::floated(self.remote);
        }
    }

    /// Builds, sends and keeps for resending a phase 1 message; `wait` arms the resend timer
    /// (we expect an answer).
    fn send_phase1(
        &mut self,
        now: Instant,
        exchange: ExchangeType,
        payloads: Vec<Payload>,
        encrypt: bool,
        wait: bool,
    ) {
        let Some(message) = self.build_message(exchange, 0, payloads, encrypt) else {
            return;
        };
        let datagrams: Vec<Vec<u8>> =
            self.in_fragments(&message).iter().map(|m| self.frame(m)).collect();
        self.resend.datagrams = datagrams.clone();
        self.resend.attempts = 1;
        datagrams.into_iter().for_each(|d| self.send_datagram(d));
        if wait {
            self.timers.set(Timer::Retransmit, now + self.config.retransmit.timeout(0));
        } else {
            self.timers.stop(Timer::Retransmit);
        }
    }

    /// `message` as it goes out: whole, or in fragments when it is longer than
    /// `max_message_len` and the peer announced that it takes them. Fragments carry the phase 1
    /// mode's exchange type and message ID 0, as strongSwan and Windows send them.
    fn in_fragments(&mut self, message: &[u8]) -> Vec<Vec<u8>> {
        let limit = self.config.max_message_len;
        if message.len() <= limit || !self.config.fragmentation || !self.vendors.fragmentation {
            return vec![message.to_vec()];
        }
        let exchange = match self.config.mode {
            crate::Phase1Mode::Main => ExchangeType::MAIN,
            crate::Phase1Mode::Aggressive => ExchangeType::AGGRESSIVE,
        };
        let id = self.next_fragment_id;
        match ikeway_isakmp::split_message(message, exchange, id, limit) {
            Ok(pieces) => {
                self.next_fragment_id = id.wrapping_add(1).max(1);
                self.stats.sent_fragmented += 1;
                pieces
            }
            // A size too small for any fragment: the message goes whole, and the path decides.
            Err(_) => vec![message.to_vec()],
        }
    }

    /// Phase 1 is complete: report it, start the SA's lifetime, drop the exchange's secrets.
    fn phase1_done(&mut self, now: Instant) {
        self.phase1 = State::Established;
        self.timers.stop(Timer::HalfOpen);
        // Nothing of phase 1 is awaited any more; our last message is still resent when the
        // peer's previous one comes again.
        self.timers.stop(Timer::Retransmit);
        if let Some(crypt) = &mut self.crypt {
            crypt.finish_phase1();
        }
        let suite = self.exchange.suite;
        self.exchange = Exchange::default();
        self.suite = suite;
        if let Some(s) = suite {
            self.timers.set(Timer::Phase1Expire, now + s.lifetime);
        }
        if let Some(n) = self.nat {
            self.emit(ikeway_sa::Event::NatDetected {
                local_behind_nat: n.local_behind_nat,
                remote_behind_nat: n.remote_behind_nat,
            });
        }
        self.phase1_complete(now);
    }

    fn random(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        rand_core::RngCore::fill_bytes(&mut self.rng, &mut out);
        out
    }
}
