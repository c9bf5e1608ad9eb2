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
        let Ok(message) = Received::parse(bytes) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let h = *message.header();
        if self.old_sa.as_ref().is_some_and(|o| o.spi_r == h.spi_r && o.spi_i == h.spi_i) {
            self.handle_old_sa(bytes, &h);
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
            self.handle_request(now, remote, local, bytes, &h)
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
        self.settle_rng();
    }

    /// Decrypts an SK/SKF message; fragments are held until complete (`Ok(None)`). Gives the
    /// inner payloads and the plaintext they came from (IntAuth covers it, RFC 9242 §3.3.2).
    pub(super) fn open(
        &mut self,
        now: Instant,
        bytes: &[u8],
        header: &HeaderRepr,
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
        let direction = sk::Direction::of_response_flag(header.flags.response);
        let whole = match self.reassembler.push(now, direction, header.message_id, opened) {
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
        message: &Received,
    ) -> Result<(), crate::Error> {
        let header = message.header();
        let Some(out) = &self.outstanding else {
            self.stats.dropped_unexpected += 1;
            return Ok(());
        };
        if out.message_id != header.message_id || out_exchange(&out.kind) != header.exchange {
            self.stats.dropped_unexpected += 1;
            return Ok(());
        }
        if matches!(out.kind, Request::Init) {
            self.init_response = Some(bytes.to_vec());
            self.last_heard = now;
            return match message {
                Received::Clear(message) => self.handle_init_response(now, message),
                // Framed as the decoder wants, so this parse succeeds; the SA payload the
                // response needs is missing all the same.
                Received::Sealed(_) => {
                    let message = MessageRepr::parse(bytes).map_err(sk::SkError::from)?;
                    self.handle_init_response(now, &message)
                }
            };
        }
        let Ok(Some((payloads, opened))) = self.open(now, bytes, header) else { return Ok(()) };
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
                self.handle_intermediate_response(now, header, &opened, &payloads, kex)?
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
        header: &HeaderRepr,
    ) -> Result<(), crate::Error> {
        let mid = header.message_id;
        if header.exchange == ExchangeType::IKE_SA_INIT {
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
                Some(i) if header.exchange == ExchangeType::IKE_INTERMEDIATE => {
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
        let Ok(Some((payloads, opened))) = self.open(now, bytes, header) else { return Ok(()) };
        self.last_heard = now;
        // Floated to 4500 in IKE_AUTH, or rebound by a NAT: answer where it came from.
        self.follow_peer(now, remote, local);
        if header.exchange == ExchangeType::IKE_AUTH {
            self.note_peer_mobike(&payloads);
        }
        self.recv_mid = self.recv_mid.wrapping_add(1);
        match (header.exchange, &self.state) {
            (ExchangeType::IKE_INTERMEDIATE, State::InitReplied { .. }) => {
                self.handle_intermediate_request(mid, header, &opened, &payloads)
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

/// A received message as far as routing it needs.
#[derive(Debug)]
pub(super) enum Received {
    /// An SK payload is the message's only payload (every unfragmented message after
    /// IKE_SA_INIT): its header, the framing checked as [`MessageRepr::parse`] checks it.
    /// [`sk::open`] finds the payload again and decrypts from the datagram, so the ciphertext
    /// is not copied out first.
    Sealed(HeaderRepr),
    /// Anything else (IKE_SA_INIT, SKF fragments, clear payloads before SK), decoded whole.
    Clear(MessageRepr),
}

impl Received {
    /// Refuses exactly what [`MessageRepr::parse`] refuses: the short path takes only a
    /// message the decoder accepts, and everything else goes to the decoder.
    pub(super) fn parse(bytes: &[u8]) -> Result<Self, ikeway_codec::DecodeError> {
        match sk::sealed_header(bytes) {
            Some(header) => Ok(Self::Sealed(header)),
            None => MessageRepr::parse(bytes).map(Self::Clear),
        }
    }

    pub(super) fn header(&self) -> &HeaderRepr {
        match self {
            Self::Sealed(header) => header,
            Self::Clear(message) => &message.header,
        }
    }
}

#[cfg(test)]
mod tests {
    use ikeway_codec::EncryptedRepr;

    use super::*;

    fn sealed_message() -> Vec<u8> {
        let header = HeaderRepr {
            spi_i: 1,
            spi_r: 2,
            next_payload: PayloadType::NONE,
            version: 0x20,
            exchange: ExchangeType::IKE_AUTH,
            flags: Flags { initiator: true, ..Flags::default() },
            message_id: 1,
            length: 0,
        };
        let sk = EncryptedRepr { first_inner: PayloadType::IDI, body: vec![0xa5; 40] };
        MessageRepr { header, payloads: vec![Payload::new(PayloadRepr::Encrypted(sk))] }
            .to_vec()
            .unwrap()
    }

    /// The short path takes a message the decoder takes, with the same header; every framing
    /// fault near the SK payload is still refused (by the decoder the message falls back to).
    #[test]
    fn received_refuses_what_the_decoder_refuses() {
        let good = sealed_message();
        let parsed = MessageRepr::parse(&good).unwrap();
        match Received::parse(&good).unwrap() {
            Received::Sealed(header) => assert_eq!(header, parsed.header),
            Received::Clear(_) => panic!("one SK payload takes the short path"),
        }
        let set_u16 = |bytes: &mut Vec<u8>, at: usize, v: u16| {
            bytes[at..at + 2].copy_from_slice(&v.to_be_bytes());
        };
        let sk_len_at = ikeway_codec::HEADER_LEN + 2;
        let mut faults: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut m = good.clone();
        m.push(0);
        faults.push(("a byte past the header's length", m));
        let mut m = good.clone();
        m.truncate(m.len() - 1);
        faults.push(("a byte short of the header's length", m));
        let (mut longer, mut shorter, mut tiny) = (good.clone(), good.clone(), good.clone());
        let sk_len = u16::try_from(good.len() - ikeway_codec::HEADER_LEN).unwrap();
        set_u16(&mut longer, sk_len_at, sk_len + 1);
        faults.push(("SK longer than the message", longer));
        set_u16(&mut shorter, sk_len_at, sk_len - 4);
        faults.push(("octets after the SK payload", shorter));
        set_u16(&mut tiny, sk_len_at, 3);
        faults.push(("SK shorter than its own header", tiny));
        let mut m = good[..ikeway_codec::HEADER_LEN + 2].to_vec();
        let len = u32::try_from(m.len()).unwrap();
        m[24..28].copy_from_slice(&len.to_be_bytes());
        faults.push(("SK header cut short", m));
        let mut m = good.clone();
        m[17] = 0x10;
        faults.push(("IKEv1's major version", m));
        for (name, bytes) in faults {
            assert!(MessageRepr::parse(&bytes).is_err(), "{name}: the decoder refuses it");
            assert!(Received::parse(&bytes).is_err(), "{name}: refused here too");
        }
    }

    /// A chain that is not one SK payload (here SKF, a fragment) is decoded whole.
    #[test]
    fn received_decodes_other_chains_whole() {
        let mut m = sealed_message();
        m[16] = PayloadType::SKF.0;
        // SKF's Fragment Number 1 of Total 1 where the SK body began.
        m[32..36].copy_from_slice(&[0, 1, 0, 1]);
        match Received::parse(&m).unwrap() {
            Received::Clear(message) => assert_eq!(message, MessageRepr::parse(&m).unwrap()),
            Received::Sealed(_) => panic!("SKF is decoded whole"),
        }
    }
}
