//! Receiving: datagrams in, demultiplexed to requests and responses, replays answered from
//! the response cache (RFC 7296 §2.1), informational requests handled.

use super::*;

impl IkeSa {
    /// Handles one UDP payload from `remote` that arrived on `local`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) {
        self.stats.received += 1;
        let Some(bytes) = ike_bytes(local, remote, datagram) else {
            // ESP or a keepalive: not ours to handle.
            self.stats.dropped_unexpected += 1;
            return;
        };
        let Ok(message) = MessageRepr::parse(bytes) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let h = message.header;
        if self.old_sa.as_ref().is_some_and(|o| o.spi_r == h.spi_r && o.spi_i == h.spi_i) {
            self.handle_old_sa(bytes, &message);
            return;
        }
        if self.is_closed() || h.spi_i != self.spi_i {
            self.stats.dropped_unexpected += 1;
            return;
        }
        let init_response = matches!(self.state, State::InitSent { .. }) && h.flags.response;
        // A retransmitted IKE_SA_INIT request still has SPIr zero; it is answered from the
        // cache below (the endpoint routed it here by SPIi and address).
        let init_retransmit =
            h.exchange == ExchangeType::IKE_SA_INIT && !h.flags.response && h.spi_r == 0;
        if !init_response && !init_retransmit && h.spi_r != self.spi_r {
            self.stats.dropped_unexpected += 1;
            return;
        }
        // The sender's role flag must match the other side's role (§3.1).
        if h.flags.initiator == (self.side == Side::Initiator) {
            self.stats.dropped_unexpected += 1;
            return;
        }
        let result = if h.flags.response {
            self.handle_response(now, bytes, &message)
        } else {
            self.handle_request(now, remote, local, bytes, &message)
        };
        if result.is_err() {
            self.stats.dropped_malformed += 1;
        }
        if let Err(_e) = self.start_next(now) {
            self.stats.dropped_malformed += 1;
        }
        // The handshake's draws are over once the datagram that ended it is answered (the
        // child's SPI and timers, the reply's IV come after `established`): from here on
        // draws are rare and the SA's size counts (see `SaRng`).
        if !self.negotiating() {
            self.rng.settle();
        }
    }

    /// Decrypts an SK/SKF message; fragments are held until complete (`Ok(None)`). Gives the
    /// inner payloads and the plaintext they came from (IntAuth covers it, RFC 9242 §3.3.2).
    pub(super) fn open(
        &mut self,
        now: Instant,
        bytes: &[u8],
        message: &MessageRepr,
    ) -> Result<Option<(Vec<Payload>, sk::Opened)>, ()> {
        let Some(crypto) = self.crypto.as_ref() else {
            self.stats.dropped_unexpected += 1;
            return Err(());
        };
        let Ok(inbound) = crypto.inbound() else {
            self.stats.dropped_unexpected += 1;
            return Err(());
        };
        let opened = match sk::open(bytes, &inbound) {
            Ok(o) => o,
            Err(sk::SkError::Authentication) => {
                self.stats.dropped_unauthenticated += 1;
                return Err(());
            }
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return Err(());
            }
        };
        let direction = sk::Direction::of_response_flag(message.header.flags.response);
        let whole = match self.reassembler.push(now, direction, message.header.message_id, opened) {
            Ok(Reassembly::Complete(o)) => o,
            Ok(Reassembly::Pending | Reassembly::Ignored) => return Ok(None),
            Err(sk::SkError::ReassembledTooLong { .. } | sk::SkError::TooManyFragments { .. }) => {
                self.stats.dropped_over_budget += 1;
                return Err(());
            }
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return Err(());
            }
        };
        match whole.payloads() {
            Ok(p) => Ok(Some((p, whole))),
            Err(_) => {
                self.stats.dropped_malformed += 1;
                Err(())
            }
        }
    }

    pub(super) fn handle_response(
        &mut self,
        now: Instant,
        bytes: &[u8],
        message: &MessageRepr,
    ) -> Result<(), crate::Error> {
        let Some(out) = &self.outstanding else {
            self.stats.dropped_unexpected += 1;
            return Ok(());
        };
        if out.message_id != message.header.message_id
            || out_exchange(&out.kind) != message.header.exchange
        {
            self.stats.dropped_unexpected += 1;
            return Ok(());
        }
        if matches!(out.kind, Request::Init) {
            self.init_response = Some(bytes.to_vec());
            self.last_heard = now;
            return self.handle_init_response(now, message);
        }
        let Ok(Some((payloads, opened))) = self.open(now, bytes, message) else { return Ok(()) };
        self.last_heard = now;
        if let Some(out) = self.outstanding.take() {
            let echoed = self.cookie2_echoed(&out.kind, &payloads);
            self.outstanding = Some(out);
            if !echoed {
                return Ok(());
            }
        }
        let Some(out) = self.take_outstanding() else { return Ok(()) };
        if matches!(out.kind, Request::Auth) {
            self.note_peer_mobike(&payloads);
        }
        match out.kind {
            Request::Init => unreachable!("handled above"),
            Request::Auth => self.handle_auth_response(now, &payloads)?,
            Request::Intermediate { kex } => {
                self.handle_intermediate_response(now, &message.header, &opened, &payloads, kex)?
            }
            Request::CreateChild { spi_in, ni, kex, rekey_of } => {
                self.finish_create_child(now, &payloads, spi_in, &ni, kex, rekey_of);
            }
            Request::RekeyIke { spi, ni, kex } => {
                self.finish_rekey_ike(now, &payloads, spi, &ni, kex)?
            }
            Request::FollowupKe { chain, kex } => {
                self.handle_followup_response(now, &payloads, *chain, kex)
            }
            Request::Dpd => {}
            Request::DeleteChildren(spis) => {
                for spi in spis {
                    self.remove_child(spi);
                }
            }
            Request::DeleteIke => self.close(CloseReason::Deleted),
            Request::UpdateAddresses { path, .. } => self.finish_update(now, &payloads, path),
            Request::CheckPath { path, .. } => self.finish_check(path),
            Request::AnnounceAddresses => {}
        }
        Ok(())
    }

    pub(super) fn handle_request(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
        message: &MessageRepr,
    ) -> Result<(), crate::Error> {
        let mid = message.header.message_id;
        if message.header.exchange == ExchangeType::IKE_SA_INIT {
            // A retransmitted IKE_SA_INIT: answer again from the cache (§2.1).
            if let (0, Some((0, cached))) = (mid, &self.response_cache) {
                let cached = cached.clone();
                self.stats.replayed_responses += 1;
                self.transmit_all(&cached);
            } else {
                self.stats.dropped_unexpected += 1;
            }
            return Ok(());
        }
        if mid.wrapping_add(1) == self.recv_mid
            && let Some((cached_mid, cached)) = &self.response_cache
            && *cached_mid == mid
        {
            // Authenticate before answering, so spoofed copies cannot trigger replies; of a
            // fragmented request only the first fragment does (RFC 7383 §2.6.1), so one
            // retransmission is answered once, not once per fragment.
            let crypto = self.crypto.as_ref().ok_or(crate::Error::NotKeyed)?;
            // After an IKE_INTERMEDIATE the keys moved on; its request came under the old ones.
            let keys = match &self.intermediate {
                Some(i) if message.header.exchange == ExchangeType::IKE_INTERMEDIATE => {
                    i.previous_keys().unwrap_or(crypto)
                }
                _ => crypto,
            };
            match sk::open(bytes, &keys.inbound()?) {
                Ok(o) if o.fragment.is_none_or(|f| f.number == 1) => {
                    let cached = cached.clone();
                    self.stats.replayed_responses += 1;
                    self.transmit_all(&cached);
                }
                Ok(_) => self.stats.ignored_fragments += 1,
                Err(sk::SkError::Authentication) => self.stats.dropped_unauthenticated += 1,
                Err(_) => self.stats.dropped_malformed += 1,
            }
            return Ok(());
        }
        if mid != self.recv_mid {
            self.stats.dropped_unexpected += 1;
            return Ok(());
        }
        let Ok(Some((payloads, opened))) = self.open(now, bytes, message) else { return Ok(()) };
        self.last_heard = now;
        // Floated to 4500 in IKE_AUTH, or rebound by a NAT: answer where it came from.
        self.follow_peer(now, remote, local);
        if message.header.exchange == ExchangeType::IKE_AUTH {
            self.note_peer_mobike(&payloads);
        }
        self.recv_mid = self.recv_mid.wrapping_add(1);
        match (message.header.exchange, &self.state) {
            (ExchangeType::IKE_INTERMEDIATE, State::InitReplied { .. }) => {
                self.handle_intermediate_request(mid, &message.header, &opened, &payloads)
            }
            (ExchangeType::IKE_AUTH, State::InitReplied { .. }) if self.intermediate_pending() => {
                self.refuse_intermediate(mid, AddKeFailure::Incomplete)
            }
            (ExchangeType::IKE_AUTH, State::InitReplied { .. }) => {
                // The keys before the last update are no longer needed: wipe them now.
                self.intermediate = None;
                self.handle_auth_request(now, mid, &payloads)
            }
            (ExchangeType::IKE_AUTH, State::EapServer(_)) => {
                self.handle_eap_request(now, mid, &payloads)
            }
            (ExchangeType::CREATE_CHILD_SA, State::Established) => {
                self.handle_create_child_request(now, mid, &payloads)
            }
            (ExchangeType::IKE_FOLLOWUP_KE, State::Established) => {
                self.handle_followup_request(now, mid, &payloads)
            }
            (ExchangeType::INFORMATIONAL, State::Established) => {
                self.handle_established_informational(now, mid, (local, remote), &payloads)
            }
            (ExchangeType::INFORMATIONAL, State::EapServer(_)) => {
                self.handle_informational_during_eap(mid, &payloads)
            }
            _ => {
                self.stats.dropped_unexpected += 1;
                Ok(())
            }
        }
    }

    pub(super) fn handle_informational_request(
        &mut self,
        mid: u32,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        self.answer_informational(mid, payloads, Vec::new(), None)
    }

    /// Answers an INFORMATIONAL request: `reply` (what MOBIKE answers), then its deletes,
    /// sent to `to` or where we send everything.
    pub(super) fn answer_informational(
        &mut self,
        mid: u32,
        payloads: &[Payload],
        mut reply: Vec<Payload>,
        to: Option<mobike::Path>,
    ) -> Result<(), crate::Error> {
        if self.redirect_in_informational(mid, payloads)? {
            return Ok(());
        }
        let mut close = false;
        for p in payloads {
            let PayloadRepr::Delete(d) = &p.body else { continue };
            if d.protocol == ProtocolId::IKE {
                close = true;
                continue;
            }
            // §1.4.1: answer with the SPIs of our halves of the deleted pairs.
            let mut ours = Vec::new();
            for spi in &d.spis {
                let Ok(their_in) = <[u8; 4]>::try_from(spi.as_slice()).map(u32::from_be_bytes)
                else {
                    continue;
                };
                if let Some(spi_in) =
                    self.children.iter().find(|c| c.spi_out == their_in).map(|c| c.spi_in)
                {
                    self.remove_child(spi_in);
                    ours.push(spi_in);
                }
            }
            if !ours.is_empty() {
                reply.push(Payload::new(PayloadRepr::Delete(DeleteRepr::esp(ours))));
            }
        }
        self.send_response_to(to, mid, ExchangeType::INFORMATIONAL, &reply)?;
        if close {
            self.close(CloseReason::DeletedByPeer);
        }
        Ok(())
    }
}
