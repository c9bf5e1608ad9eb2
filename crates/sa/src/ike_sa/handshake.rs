//! IKE_SA_INIT and IKE_AUTH, both sides (RFC 7296 §1.2, §2.15, §2.23).

use super::eap::{self, InitPair};
use super::*;
use crate::auth::{self, PeerRefused};
use crate::proposal::{AdditionalLimit, IkeLimits};

/// What proves us in the first IKE_AUTH request: CERT payloads, the AUTH (none when EAP
/// follows) and notifies that go with it.
#[derive(Debug, Default)]
pub(super) struct OwnProof {
    pub(super) certs: Vec<Payload>,
    pub(super) auth: Option<Payload>,
    pub(super) notifies: Vec<Payload>,
}

impl IkeSa {
    pub(super) fn nat_payloads(&self, spi_r: u64) -> [Payload; 2] {
        [
            notify(NotifyType::NAT_DETECTION_SOURCE_IP, &self.source_hash(spi_r, self.local)[..]),
            notify(
                NotifyType::NAT_DETECTION_DESTINATION_IP,
                &nat::hash(self.spi_i, spi_r, self.remote)[..],
            ),
        ]
    }

    /// Our NAT_DETECTION_SOURCE_IP for `local`. When encapsulation is forced, the hash of port
    /// 0, which no datagram comes from: the peer sees a NAT in front of us (RFC 7296 §2.23).
    pub(super) fn source_hash(&self, spi_r: u64, local: SocketAddr) -> [u8; 20] {
        let port = if self.config.force_udp_encapsulation { 0 } else { local.port() };
        nat::hash(self.spi_i, spi_r, SocketAddr::new(local.ip(), port))
    }

    /// Sends (or re-sends) IKE_SA_INIT. A COOKIE retry must repeat the request unchanged
    /// but for the cookie (§2.6), so the key exchange and nonce can be passed back in.
    pub(super) fn send_init(
        &mut self,
        now: Instant,
        group: DhGroup,
        cookie: Option<Vec<u8>>,
        reuse: Option<(Box<dyn ActiveKeyExchange>, Vec<u8>)>,
    ) -> Result<(), crate::Error> {
        let (kex, ni) = match reuse {
            Some((kex, ni)) if kex.group() == group => (kex, ni),
            Some((_, ni)) => {
                (self.kex_provider.start(group, &mut self.rng).map_err(crate::Error::Kex)?, ni)
            }
            None => {
                let kex =
                    self.kex_provider.start(group, &mut self.rng).map_err(crate::Error::Kex)?;
                (kex, self.random_bytes(NONCE_LEN))
            }
        };
        // At most COOKIE, SA, KE, Ni, two NAT notifies and six more notifies: one allocation.
        let mut payloads = Vec::with_capacity(12);
        if let Some(c) = &cookie {
            // §2.6: the COOKIE notify comes first.
            payloads.push(notify(NotifyType::COOKIE, c.clone()));
        }
        payloads.push(Payload::new(PayloadRepr::Sa(proposal::ike_offer(
            &self.config.ike_proposals,
            &[],
        ))));
        payloads
            .push(Payload::new(PayloadRepr::Ke(KeRepr { group, data: kex.public_value().into() })));
        payloads.push(Payload::new(PayloadRepr::Nonce(NonceRepr { data: ni.as_slice().into() })));
        payloads.extend(self.nat_payloads(0));
        payloads.push(notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, Vec::new()));
        payloads.push(auth::signature_hashes_notify());
        if proposal::wants_additional(&self.config.ike_proposals) {
            // RFC 9370 §2.2.1 / RFC 9242 §3: additional key exchanges run in IKE_INTERMEDIATE.
            payloads.push(notify(NotifyType::INTERMEDIATE_EXCHANGE_SUPPORTED, Vec::new()));
        }
        payloads.extend(self.use_ppk_request());
        if self.config.local_auth2.is_some() {
            // RFC 4739 §3.1: we do a second round.
            payloads.push(notify(NotifyType::MULTIPLE_AUTH_SUPPORTED, Vec::new()));
        }
        payloads.extend(self.redirect_announcement());
        let header = self.header(ExchangeType::IKE_SA_INIT, false, 0);
        let request = Arc::new(MessageRepr { header, payloads }.to_vec()?);
        self.send_mid = 0;
        self.state = State::InitSent { kex, ni, cookie, request: Arc::clone(&request) };
        self.send_request(now, Request::Init, Datagrams::from_buf([request]));
        Ok(())
    }

    /// Responder side of IKE_SA_INIT, run by the endpoint for a request without state, once
    /// it checked the cookie (if it wanted one) and its limits.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn respond_init(
        config: Arc<Config>,
        kex_provider: Arc<dyn KeyExchangeProvider>,
        registry: Arc<Mutex<Registry>>,
        seed: [u8; 32],
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        request: &[u8],
        message: &MessageRepr,
    ) -> Result<InitReply, crate::Error> {
        let mut sa = Self::new(Side::Responder, config, kex_provider, seed, now, local, remote);
        sa.owner = registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner).new_owner();
        sa.registry = Some(registry);
        sa.spi_i = message.header.spi_i;
        let payloads = &message.payloads;
        let stateless = |sa: &Self, kind: NotifyType, data: Vec<u8>| {
            stateless_reply(local, remote, sa.spi_i, kind, &data).map(InitReply::Stateless)
        };
        let (Some(offer), Some(ke), Some(nonce)) = (
            find_payload!(payloads, Sa),
            find_payload!(payloads, Ke),
            find_payload!(payloads, Nonce),
        ) else {
            return stateless(&sa, NotifyType::INVALID_SYNTAX, Vec::new());
        };
        if !(16..=256).contains(&nonce.data.len()) {
            return stateless(&sa, NotifyType::INVALID_SYNTAX, Vec::new());
        }
        // RFC 9370 §2.2.1: additional key exchanges only with an initiator that does
        // IKE_INTERMEDIATE; without it, a slot of ours that allows NONE is all that can match.
        let intermediate = find_notify(payloads, NotifyType::INTERMEDIATE_EXCHANGE_SUPPORTED)
            .is_some()
            && proposal::wants_additional(&sa.config.ike_proposals);
        let mut limits = IkeLimits {
            kex: Some(&*sa.kex_provider),
            group: None,
            additional: if intermediate {
                AdditionalLimit::AsConfigured
            } else {
                AdditionalLimit::NoneOnly
            },
        };
        let ours = &sa.config.ike_proposals;
        let Some(suite) = proposal::ike_suite_within(offer, ours, &limits) else {
            return stateless(&sa, NotifyType::NO_PROPOSAL_CHOSEN, Vec::new());
        };
        // §1.2: if the KE is not for the group we would pick but one we accept, ask for ours.
        limits.group = Some(ke.group);
        let Some((suite, sa_reply)) = proposal::choose_ike_within(offer, ours, &limits, &[]) else {
            return stateless(
                &sa,
                NotifyType::INVALID_KE_PAYLOAD,
                suite.group.0.to_be_bytes().to_vec(),
            );
        };
        let group = ke.group;
        // `respond`, not start-then-complete: for a KEM the answer is a ciphertext.
        let (our_public, shared) = match sa.kex_provider.respond(group, &ke.data, &mut sa.rng) {
            Ok(answer) => answer,
            Err(crate::KexError::InvalidPublicValue) => {
                return stateless(&sa, NotifyType::INVALID_SYNTAX, Vec::new());
            }
            Err(e) => return Err(crate::Error::Kex(e)),
        };
        sa.spi_r = sa.random_spi64();
        let nr = sa.random_bytes(NONCE_LEN);
        sa.peer_fragmentation =
            find_notify(payloads, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
        sa.detect_nat(payloads, message.header.spi_r);
        sa.peer_hashes = auth::peer_signature_hashes(payloads);

        // SA, KE, Nr, CERTREQ, two NAT notifies and at most five more: one allocation.
        let mut reply = Vec::with_capacity(11);
        reply.extend([
            Payload::new(PayloadRepr::Sa(sa_reply)),
            Payload::new(PayloadRepr::Ke(KeRepr { group, data: our_public.into() })),
            Payload::new(PayloadRepr::Nonce(NonceRepr { data: nr.as_slice().into() })),
        ]);
        // §1.2: HDR, SAr1, KEr, Nr, [CERTREQ]: which CAs we trust, when we verify the client.
        reply.extend(auth::cert_request(&sa.config.peer_auth));
        reply.extend(sa.nat_payloads(sa.spi_r));
        reply.push(notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, Vec::new()));
        reply.push(auth::signature_hashes_notify());
        reply.extend(sa.use_ppk_reply(payloads));
        if sa.config.peer_auth2.is_some() {
            // RFC 4739 §3.1: we take a second round, and require one.
            reply.push(notify(NotifyType::MULTIPLE_AUTH_SUPPORTED, Vec::new()));
        }
        if intermediate {
            reply.push(notify(NotifyType::INTERMEDIATE_EXCHANGE_SUPPORTED, Vec::new()));
        }
        let header = sa.header(ExchangeType::IKE_SA_INIT, true, 0);
        let response = Arc::new(MessageRepr { header, payloads: reply }.to_vec()?);

        let seed_key = keys::skeyseed(suite.prf, &nonce.data, &nr, shared.expose());
        sa.crypto = Some(IkeCrypto::derive(
            Side::Responder,
            suite,
            &seed_key,
            &nonce.data,
            &nr,
            sa.spi_i,
            sa.spi_r,
        )?);
        sa.recv_mid = 1;
        sa.expect_intermediate(&nonce.data, &nr);
        sa.transmit_all(std::slice::from_ref(&response));
        sa.response_cache = Some((0, Datagrams::from_buf([Arc::clone(&response)])));
        sa.timers.set(Timer::HalfOpen, now + HALF_OPEN_TIMEOUT);
        // Until IKE_AUTH verifies, fragments share the half-open SA's byte budget.
        let stored = sa.held_bytes() + request.len() + response.len();
        sa.reassembler.set_limits(ReassemblyLimits {
            max_len: sa.config.half_open_max_bytes.saturating_sub(stored),
            ..ReassemblyLimits::default()
        });
        sa.state = State::InitReplied {
            ni: nonce.data.to_vec(),
            nr,
            init_request: request.to_vec(),
            init_response: response,
        };
        Ok(InitReply::Accepted(sa))
    }

    /// Compares the peer's NAT_DETECTION hashes with what we see (§2.23).
    pub(super) fn detect_nat(&mut self, payloads: &[Payload], spi_r_in_message: u64) {
        let source = find_notify(payloads, NotifyType::NAT_DETECTION_SOURCE_IP);
        let destination = find_notify(payloads, NotifyType::NAT_DETECTION_DESTINATION_IP);
        let (Some(source), Some(destination)) = (source, destination) else { return };
        let remote_behind_nat =
            source.data[..] != nat::hash(self.spi_i, spi_r_in_message, self.remote);
        let local_behind_nat =
            destination.data[..] != nat::hash(self.spi_i, spi_r_in_message, self.local);
        if remote_behind_nat || local_behind_nat {
            self.local_behind_nat = local_behind_nat;
            self.remote_behind_nat = remote_behind_nat;
            self.events.push_back(Event::NatDetected { local_behind_nat, remote_behind_nat });
        }
        // What we report stays what we saw; forced encapsulation floats all the same (the
        // peer, shown a NAT in front of us, expects it).
        let float = remote_behind_nat || local_behind_nat || self.config.force_udp_encapsulation;
        if float && self.side == Side::Initiator && !self.nat_t {
            // §2.23: float to port 4500 from IKE_AUTH on.
            self.nat_t = true;
            self.local.set_port(NAT_T_PORT);
            self.remote.set_port(NAT_T_PORT);
        }
    }

    pub(super) fn handle_init_response(
        &mut self,
        now: Instant,
        message: &MessageRepr,
    ) -> Result<(), crate::Error> {
        if self.redirect_in_init_response(message) {
            return Ok(());
        }
        let State::InitSent { kex, ni, cookie, request } =
            std::mem::replace(&mut self.state, State::Closed)
        else {
            unreachable!("checked by the caller");
        };
        let payloads = &message.payloads;
        if let Some(c) = find_notify(payloads, NotifyType::COOKIE) {
            // §2.6: retry with the cookie; only once per distinct cookie to avoid loops.
            if cookie.as_deref() != Some(c.data.as_slice()) {
                self.take_outstanding();
                let group = kex.group();
                return self.send_init(now, group, Some(c.data.to_vec()), Some((kex, ni)));
            }
        }
        if let Some(n) = find_notify(payloads, NotifyType::INVALID_KE_PAYLOAD) {
            let asked = n.data.get(..2).map(|b| DhGroup(u16::from_be_bytes([b[0], b[1]])));
            let acceptable = asked.filter(|g| {
                *g != kex.group()
                    && self.kex_provider.supports(*g)
                    && self.config.ike_proposals.iter().any(|p| p.groups.contains(g))
            });
            return match acceptable {
                Some(group) => {
                    self.take_outstanding();
                    self.send_init(now, group, cookie, Some((kex, ni)))
                }
                None => {
                    self.close(CloseReason::PeerError(NotifyType::INVALID_KE_PAYLOAD));
                    Ok(())
                }
            };
        }
        if let Some(error) = first_error(payloads) {
            let reason = if error == NotifyType::NO_PROPOSAL_CHOSEN {
                CloseReason::NoProposalChosen
            } else {
                CloseReason::PeerError(error)
            };
            self.close(reason);
            return Ok(());
        }
        let accepted = find_payload!(payloads, Sa)
            .and_then(|sa| proposal::accept_ike(sa, &self.config.ike_proposals));
        let (Some((suite, _)), Some(ke), Some(nonce)) =
            (accepted, find_payload!(payloads, Ke), find_payload!(payloads, Nonce))
        else {
            self.stats.dropped_malformed += 1;
            self.state = State::InitSent { kex, ni, cookie, request };
            return Ok(());
        };
        if ke.group != kex.group()
            || suite.group != kex.group()
            || !(16..=256).contains(&nonce.data.len())
        {
            self.stats.dropped_malformed += 1;
            self.state = State::InitSent { kex, ni, cookie, request };
            return Ok(());
        }
        let Ok(shared) = kex.complete(&ke.data) else {
            self.stats.dropped_malformed += 1;
            self.state = State::InitSent { kex, ni, cookie, request };
            return Ok(());
        };
        self.take_outstanding();
        // The outstanding request shared it; it is ours alone now, unless still queued.
        let request = Arc::try_unwrap(request).unwrap_or_else(|queued| queued.to_vec());
        self.spi_r = message.header.spi_r;
        let nr = nonce.data.to_vec();
        let seed_key = keys::skeyseed(suite.prf, &ni, &nr, shared.expose());
        self.crypto = Some(IkeCrypto::derive(
            Side::Initiator,
            suite,
            &seed_key,
            &ni,
            &nr,
            self.spi_i,
            self.spi_r,
        )?);
        self.peer_fragmentation =
            find_notify(payloads, NotifyType::IKEV2_FRAGMENTATION_SUPPORTED).is_some();
        self.detect_nat(payloads, self.spi_r);
        self.peer_hashes = auth::peer_signature_hashes(payloads);
        self.peer_multiple_auth =
            find_notify(payloads, NotifyType::MULTIPLE_AUTH_SUPPORTED).is_some();
        self.note_use_ppk_response(payloads);
        if let Some((ni, nr, request)) = self.start_intermediate(now, payloads, ni, nr, request)? {
            self.send_auth(now, ni, nr, request)?;
        }
        if !self.is_closed() {
            self.events.push_back(Event::Authenticating { spi_i: self.spi_i, spi_r: self.spi_r });
        }
        Ok(())
    }

    pub(super) fn send_auth(
        &mut self,
        now: Instant,
        ni: Vec<u8>,
        nr: Vec<u8>,
        init_request: Vec<u8>,
    ) -> Result<(), crate::Error> {
        // RFC 8784: the keys are final here (after any IKE_INTERMEDIATE); mixed from now on.
        let Some(ppk_notifies) = self.ppk_offer(&init_request, &nr)? else { return Ok(()) };
        let Some((ni, nr, init_request)) =
            self.send_first_auth_with_eap(now, (ni, nr, init_request))?
        else {
            return Ok(());
        };
        let Some(own) = self.own_auth(Side::Initiator, &init_request, &nr)? else {
            self.close(CloseReason::OwnCertificateUnusable);
            return Ok(());
        };
        let child_spi = self.random_spi32();
        let proof = OwnProof { certs: own.certs, auth: Some(own.auth), notifies: ppk_notifies };
        let inner = self.first_auth_payloads(proof, child_spi);
        self.state = State::AuthSent { ni, nr, child_spi };
        self.send_encrypted_request(now, ExchangeType::IKE_AUTH, &inner, Request::Auth)
    }

    /// The initiator's first IKE_AUTH request, §1.2: HDR, SK {IDi, [CERT,] [CERTREQ,] [IDr,]
    /// AUTH, [CP,] SAi2, TSi, TSr}, the AUTH left out when EAP follows (§2.16).
    pub(super) fn first_auth_payloads(&self, proof: OwnProof, child_spi: u32) -> Vec<Payload> {
        let config = &self.config;
        // The payloads below with a CERTREQ, a few notifies and CP; CERTs come on top.
        let mut inner = Vec::with_capacity(12 + proof.certs.len() + proof.notifies.len());
        inner.push(Payload::new(PayloadRepr::IdI(config.local_id.clone())));
        inner.extend(proof.certs);
        inner.extend(auth::cert_request(&config.peer_auth));
        inner.push(notify(NotifyType::INITIAL_CONTACT, Vec::new()));
        inner.extend(self.mobike_auth_notifies());
        inner.extend(proof.notifies);
        if let Some(id) = &config.remote_id {
            inner.push(Payload::new(PayloadRepr::IdR(id.clone())));
        }
        inner.extend(proof.auth);
        if !config.config_request.is_empty() {
            let attributes =
                config.config_request.iter().map(|k| ConfigAttribute::request(*k)).collect();
            inner.push(Payload::new(PayloadRepr::Config(ConfigRepr {
                kind: ConfigType::CFG_REQUEST,
                attributes,
            })));
        }
        inner.push(Payload::new(PayloadRepr::Sa(proposal::esp_offer(
            &config.esp_proposals,
            child_spi,
            false,
            &[],
        ))));
        inner.push(Payload::new(PayloadRepr::TsI(TsRepr {
            selectors: Selectors::from(&config.local_ts[..]),
        })));
        inner.push(Payload::new(PayloadRepr::TsR(TsRepr {
            selectors: Selectors::from(&config.remote_ts[..]),
        })));
        inner
    }

    /// Our CERT and AUTH payloads as `signer`, over `real_message` (our IKE_SA_INIT message)
    /// and the peer's nonce. `None` when our certificate's key cannot sign anything the peer
    /// accepts.
    pub(super) fn own_auth(
        &self,
        signer: Side,
        real_message: &[u8],
        peer_nonce: &[u8],
    ) -> Result<Option<auth::OwnAuth>, crate::Error> {
        let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
        let octets =
            crypto.signed_octets(signer, real_message, peer_nonce, &self.config.local_id)?;
        let hashes = self.peer_hashes.map(auth::AnnouncedHashes::to_list);
        let hashes = hashes.as_ref().map(|(list, n)| &list[..*n]);
        Ok(auth::own_auth(&self.config.local_auth, crypto, &octets, hashes))
    }

    /// Our CERT and AUTH as the responder in answer to IKE_AUTH request `message_id`. When our
    /// key cannot sign anything the client accepts, answers AUTHENTICATION_FAILED (the client
    /// is fine, but RFC 7296 §2.21.2 has no better notify for that), closes, and gives `None`.
    pub(super) fn responder_own_auth(
        &mut self,
        message_id: u32,
        init: &InitPair,
    ) -> Result<Option<auth::OwnAuth>, crate::Error> {
        let own = self.own_auth(Side::Responder, &init.response, &init.ni)?;
        if own.is_none() {
            self.send_response(
                message_id,
                ExchangeType::IKE_AUTH,
                &[notify(NotifyType::AUTHENTICATION_FAILED, Vec::new())],
            )?;
            self.close(CloseReason::OwnCertificateUnusable);
        }
        Ok(own)
    }

    /// Checks the peer's ID and AUTH (and CERT) payloads against `real_message` (the peer's
    /// IKE_SA_INIT message) and our nonce; returns the identity it proved.
    pub(super) fn verify_peer_auth(
        &mut self,
        payloads: &[Payload],
        id_is_initiator: bool,
        real_message: &[u8],
        our_nonce: &[u8],
    ) -> Result<IdRepr, PeerRefused> {
        let id = if id_is_initiator {
            find_payload!(payloads, IdI)
        } else {
            find_payload!(payloads, IdR)
        };
        let (Some(id), Some(auth)) = (id, find_payload!(payloads, Auth)) else {
            return Err(PeerRefused::Syntax);
        };
        if let Some(expected) = &self.config.remote_id
            && expected != id
        {
            return Err(PeerRefused::Failed);
        }
        let crypto = self.crypto.as_ref().ok_or(PeerRefused::Syntax)?;
        let signer = if id_is_initiator { Side::Initiator } else { Side::Responder };
        let octets = crypto
            .signed_octets(signer, real_message, our_nonce, id)
            .map_err(|_| PeerRefused::Syntax)?;
        let checked = auth::check_peer(&self.config.peer_auth, crypto, payloads, auth, id, &octets);
        if checked == Err(PeerRefused::OverLimits) {
            self.stats.peer_certificates_over_limit += 1;
        }
        checked.map(|()| id.clone())
    }

    pub(super) fn handle_auth_request(
        &mut self,
        now: Instant,
        message_id: u32,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        let State::InitReplied { ni, nr, init_request, init_response } =
            std::mem::replace(&mut self.state, State::Closed)
        else {
            unreachable!("checked by the caller");
        };
        let init = InitPair { ni, nr, request: init_request, response: init_response };
        // RFC 8784: the keys are final here; mixed with the initiator's PPK if we have it.
        let payloads = match self.accept_ppk(payloads) {
            Ok(payloads) => payloads,
            Err(reason) => return self.refuse_eap(message_id, reason),
        };
        let payloads = &*payloads;
        if let Some(eap) = eap::eap_required(&self.config)
            && find_payload!(payloads, Auth).is_none()
        {
            return self.start_eap_server(message_id, payloads, init, eap);
        }
        let id = match self.verify_peer_auth(payloads, true, &init.request, &init.nr) {
            Ok(id) => id,
            // §2.21.2: answer AUTHENTICATION_FAILED, then forget everything.
            Err(refused) => return self.refuse_initiator(message_id, refused),
        };
        let Some(own) = self.responder_own_auth(message_id, &init)? else { return Ok(()) };
        // §1.2: HDR, SK {IDr, [CERT,] AUTH, SAr2, TSi, TSr}.
        // IDr, CERTs, AUTH, then what finish_responder_auth adds: notifies, CP, SA, TSi, TSr.
        let mut reply = Vec::with_capacity(12 + own.certs.len());
        reply.push(Payload::new(PayloadRepr::IdR(self.config.local_id.clone())));
        reply.extend(own.certs);
        reply.push(own.auth);
        reply.extend(self.ppk_confirmation());
        if self.config.peer_auth2.is_some() {
            // RFC 4739: EAP must follow, and the initiator must say so.
            if find_notify(payloads, NotifyType::ANOTHER_AUTH_FOLLOWS).is_none() {
                self.send_response(
                    message_id,
                    ExchangeType::IKE_AUTH,
                    &[notify(NotifyType::AUTHENTICATION_FAILED, Vec::new())],
                )?;
                self.close(CloseReason::MultipleAuthUnsupported);
                return Ok(());
            }
            return self.await_second_round(message_id, payloads, init, id, &reply);
        }
        self.finish_responder_auth(now, message_id, reply, payloads, &init.ni, &init.nr)
    }

    /// The responder's last IKE_AUTH response, once the initiator is authenticated: `reply`
    /// (our proof), then CP and the child answered from `request` (the IKE_AUTH request that
    /// carried SA, TS and CP).
    pub(super) fn finish_responder_auth(
        &mut self,
        now: Instant,
        message_id: u32,
        mut reply: Vec<Payload>,
        request: &[Payload],
        ni: &[u8],
        nr: &[u8],
    ) -> Result<(), crate::Error> {
        if self.redirects_at_auth() {
            return self.redirect_at_auth(now, message_id, reply);
        }
        self.timers.stop(Timer::HalfOpen);
        self.state = State::Established;
        self.established(now);
        if self.mobike_negotiated() {
            reply.extend(self.mobike_auth_notifies());
        }
        if let Some(cp) =
            find_payload!(request, Config).filter(|c| c.kind == ConfigType::CFG_REQUEST)
        {
            match self.config_reply(cp) {
                Some(reply_cp) => reply.push(Payload::new(PayloadRepr::Config(reply_cp))),
                None => {
                    // §3.15.4: no address to give: the IKE SA stays, the child is refused.
                    reply.push(notify(NotifyType::INTERNAL_ADDRESS_FAILURE, Vec::new()));
                    self.send_response(message_id, ExchangeType::IKE_AUTH, &reply)?;
                    return Ok(());
                }
            }
        }
        // Without a KE payload no additional key exchange is chosen: never a chain here.
        if let Err(n) = self.respond_child(now, request, ni, nr, None, &mut reply) {
            reply.push(notify(n, Vec::new()));
        }
        self.send_response(message_id, ExchangeType::IKE_AUTH, &reply)
    }

    pub(super) fn handle_auth_response(
        &mut self,
        now: Instant,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        if matches!(self.state, State::EapClient(_)) {
            return self.handle_eap_response(now, payloads);
        }
        let State::AuthSent { ni, nr, child_spi } =
            std::mem::replace(&mut self.state, State::Closed)
        else {
            unreachable!("checked by the caller");
        };
        if let Some(NotifyType::AUTHENTICATION_FAILED) = first_error(payloads) {
            self.close(CloseReason::AuthenticationFailed);
            return Ok(());
        }
        if let Err(reason) = self.settle_ppk(payloads) {
            self.give_up_handshake(reason);
            return Ok(());
        }
        // The responder's AUTH covers its IKE_SA_INIT response, kept by the outstanding init.
        let init_response = self.init_response.take().unwrap_or_default();
        if let Err(refused) = self.verify_peer_auth(payloads, false, &init_response, &ni) {
            return self.refuse_responder(refused);
        }
        self.finish_initiator_auth(now, payloads, child_spi, &ni, &nr);
        Ok(())
    }

    /// The responder did not prove itself. §2.21.2: it thinks the SA is up (or EAP goes on);
    /// tell it, once and unanswered (we are gone), so it deletes the SA rather than wait for
    /// its liveness check.
    pub(super) fn refuse_responder(&mut self, refused: PeerRefused) -> Result<(), crate::Error> {
        self.give_up_handshake(refused.close_reason());
        Ok(())
    }

    /// Ends our handshake as the initiator while the responder still waits for us: tells it
    /// (§2.21.2), once and unanswered, then closes with `reason`.
    pub(super) fn give_up_handshake(&mut self, reason: CloseReason) {
        let inner = [
            notify(NotifyType::AUTHENTICATION_FAILED, Vec::new()),
            Payload::new(PayloadRepr::Delete(DeleteRepr::ike())),
        ];
        let header = self.header(ExchangeType::INFORMATIONAL, false, self.send_mid);
        if let Ok(datagrams) = self.seal(&header, &inner) {
            self.transmit_all(&datagrams);
        }
        self.close(reason);
    }

    /// The initiator's side once the responder is authenticated: the SA is up, and CP and
    /// the child come from its last IKE_AUTH response.
    pub(super) fn finish_initiator_auth(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        child_spi: u32,
        ni: &[u8],
        nr: &[u8],
    ) {
        if self.redirect_in_auth_response(payloads) {
            return;
        }
        self.state = State::Established;
        self.established(now);
        if let Some(cp) =
            find_payload!(payloads, Config).filter(|c| c.kind == ConfigType::CFG_REPLY)
        {
            self.events.push_back(Event::ConfigReceived(config_received(cp)));
        }
        match first_error(payloads) {
            Some(error) => self.events.push_back(Event::ChildSaRefused { notify: error }),
            None => {
                if let Err(n) = self.accept_child(now, payloads, child_spi, ni, nr, None, None) {
                    self.events.push_back(Event::ChildSaRefused { notify: n });
                }
            }
        }
    }

    pub(super) fn established(&mut self, now: Instant) {
        let suite = self.crypto.as_ref().map(|c| c.suite).expect("keyed before established");
        self.settle_mobike();
        self.events.push_back(Event::IkeSaUp { spi_i: self.spi_i, spi_r: self.spi_r, suite });
        let (rekey, expire) = self.jittered(now, self.config.lifetimes.ike);
        self.timers.set(Timer::IkeRekey, rekey);
        self.timers.set(Timer::IkeExpire, expire);
        // Authenticated now: the half-open budget for fragments no longer applies.
        self.reassembler.set_limits(ReassemblyLimits::default());
        if self.local_behind_nat {
            self.timers.set(Timer::Keepalive, now + self.config.nat_keepalive);
        }
    }

    pub(super) fn config_reply(&mut self, request: &ConfigRepr) -> Option<ConfigRepr> {
        let registry = self.registry.clone()?;
        let registry = registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let pool = registry.pool()?;
        let mut attributes = ikeway_codec::ConfigAttributes::new();
        let mut asked_address = false;
        // Inline for the few kinds a client asks for; a longer list spills to the heap.
        let mut answered = ikeway_codec::smallvec::SmallVec::<[ConfigAttributeType; 8]>::new();
        for a in &request.attributes {
            // Each kind is answered once: one address per family per IKE SA however many
            // times it is asked for (issue 9 finding 8), and no reply that grows with repeats.
            if answered.contains(&a.kind) {
                continue;
            }
            answered.push(a.kind);
            match a.kind {
                // An address family without a pool is left out; only a request that gets no
                // address at all fails (RFC 7296 §3.15.4).
                ConfigAttributeType::INTERNAL_IP4_ADDRESS => {
                    asked_address = true;
                    if let Some(addr) = pool.lease_v4() {
                        self.leases.push(addr.into());
                        attributes.push(ConfigAttribute::ipv4(a.kind, addr));
                    }
                }
                ConfigAttributeType::INTERNAL_IP6_ADDRESS => {
                    asked_address = true;
                    if let Some(addr) = pool.lease_v6() {
                        self.leases.push(addr.into());
                        attributes.push(ConfigAttribute::ipv6_prefix(a.kind, addr, 128));
                    }
                }
                ConfigAttributeType::INTERNAL_IP4_DNS => {
                    for d in pool.pool().dns.iter().filter_map(|d| match d {
                        std::net::IpAddr::V4(v4) => Some(*v4),
                        _ => None,
                    }) {
                        attributes.push(ConfigAttribute::ipv4(a.kind, d));
                    }
                }
                ConfigAttributeType::INTERNAL_IP6_DNS => {
                    for d in pool.pool().dns.iter().filter_map(|d| match d {
                        std::net::IpAddr::V6(v6) => Some(*v6),
                        _ => None,
                    }) {
                        attributes.push(ConfigAttribute::ipv6(a.kind, d));
                    }
                }
                ConfigAttributeType::INTERNAL_DNS_DOMAIN => {
                    for d in &pool.pool().dns_domains {
                        attributes.push(ConfigAttribute::dns_domain(d));
                    }
                }
                ConfigAttributeType::INTERNAL_IP4_SUBNET
                | ConfigAttributeType::INTERNAL_IP6_SUBNET => {}
                _ => {}
            }
        }
        for (net, len) in &pool.pool().subnets {
            attributes.push(match net {
                std::net::IpAddr::V4(v4) => ConfigAttribute::ipv4_subnet(*v4, prefix_to_mask(*len)),
                std::net::IpAddr::V6(v6) => ConfigAttribute::ipv6_prefix(
                    ConfigAttributeType::INTERNAL_IP6_SUBNET,
                    *v6,
                    *len,
                ),
            });
        }
        if asked_address && self.leases.is_empty() {
            return None;
        }
        Some(ConfigRepr { kind: ConfigType::CFG_REPLY, attributes })
    }
}

/// An IKE_SA_INIT response that creates no state (COOKIE, INVALID_KE_PAYLOAD,
/// NO_PROPOSAL_CHOSEN...): responder SPI zero, one notify `kind` with `data` (RFC 7296 §2.6,
/// §1.2).
pub(crate) fn stateless_reply(
    local: SocketAddr,
    remote: SocketAddr,
    spi_i: u64,
    kind: NotifyType,
    data: &[u8],
) -> Result<Vec<u8>, crate::Error> {
    let mut reply = Vec::new();
    stateless_reply_into(local, remote, spi_i, kind, data, &mut reply)?;
    Ok(reply)
}

/// [`stateless_reply`] written over `out` (cleared first), which keeps its capacity: the
/// responder answers every cookie-less IKE_SA_INIT over its threshold, spoofed ones included,
/// and reuses the buffers of replies already sent.
pub(crate) fn stateless_reply_into(
    local: SocketAddr,
    remote: SocketAddr,
    spi_i: u64,
    kind: NotifyType,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), crate::Error> {
    let header = HeaderRepr {
        spi_i,
        spi_r: 0,
        next_payload: PayloadType::NONE,
        version: 0x20,
        exchange: ExchangeType::IKE_SA_INIT,
        flags: Flags { initiator: false, response: true, ..Flags::default() },
        message_id: 0,
        length: 0,
    };
    out.clear();
    if on_nat_t_port(local, remote) {
        out.extend_from_slice(&NON_ESP_MARKER);
    }
    let at = out.len();
    out.resize(at + ikeway_codec::message::notify_message_len(data.len()), 0);
    ikeway_codec::message::emit_notify_message(&header, kind, data, &mut out[at..])?;
    Ok(())
}
