//! Datagrams and timeouts into an ISAKMP SA: framing on port 4500, the header and cookie
//! checks, the answer to a peer's retransmission, decryption of phase 1 messages, and the
//! phase 1 resend timer. What arrives under an established SA with a message ID goes to the
//! exchange modules.

use std::net::SocketAddr;
use std::time::Instant;

use ikeway_isakmp::{
    Body, ExchangeType, HeaderRepr, MessageRepr, NotificationRepr, NotifyType, Payload, Taken,
    chain_to_vec, first_type, parse_chain,
};
use ikeway_sa::{CloseReason, Side};

use crate::engine::Ikev1Sa;
use crate::keys::HashAlg;
use crate::phase1::State;
use crate::phase1::flow::{Phase1Error, Received};
use crate::phase1::nat::{NON_ESP_MARKER, on_nat_t_port};
use crate::timer::Timer;

/// The IKE message in a UDP payload: as is on port 500, after the non-ESP marker on 4500
/// (anything else there is ESP or a keepalive, not ours).
pub(crate) fn ike_bytes(local: SocketAddr, remote: SocketAddr, datagram: &[u8]) -> Option<&[u8]> {
    if on_nat_t_port(local, remote) {
        datagram.strip_prefix(&NON_ESP_MARKER)
    } else {
        Some(datagram)
    }
}

/// The initiator's cookie of the ISAKMP message in a UDP payload (after the non-ESP marker on
/// port 4500): a
/// runtime driving several ISAKMP SAs of one peer (an SA and the successor that renews it)
/// gives each datagram to the SA whose cookie it carries. `None` for ESP, a keepalive or
/// anything too short to be ISAKMP.
pub fn initiator_cookie(local: SocketAddr, remote: SocketAddr, datagram: &[u8]) -> Option<u64> {
    let bytes = ike_bytes(local, remote, datagram)?;
    let cookie: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(cookie))
}

/// What an error notify the peer sent in phase 1 means for us.
fn close_reason(notify: NotifyType) -> CloseReason {
    match notify {
        NotifyType::NO_PROPOSAL_CHOSEN => CloseReason::NoProposalChosen,
        NotifyType::AUTHENTICATION_FAILED
        | NotifyType::INVALID_HASH_INFORMATION
        | NotifyType::INVALID_SIGNATURE => CloseReason::AuthenticationFailed,
        other => CloseReason::PeerError(ikeway_codec::NotifyType(other.0)),
    }
}

impl Ikev1Sa {
    /// Takes one UDP payload that arrived from `remote` at `local`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) {
        self.stats.received += 1;
        if self.phase1 == State::Closed {
            self.stats.dropped_unexpected += 1;
            return;
        }
        let Some(bytes) = ike_bytes(local, remote, datagram) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        self.handle_message(now, remote, local, bytes, false);
    }

    /// One ISAKMP message, as received or joined from its fragments (`joined`).
    fn handle_message(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
        joined: bool,
    ) {
        let Ok((message, spans)) = MessageRepr::parse_with_spans(bytes) else {
            if joined {
                self.stats.fragments.not_a_message += 1;
            } else {
                self.stats.dropped_malformed += 1;
            }
            return;
        };
        let header = message.header;
        let (cky_i, cky_r) =
            (u64::from_be_bytes(header.cookie_i), u64::from_be_bytes(header.cookie_r));
        let digest = HashAlg::Sha256.digest(&[bytes]);
        if cky_i == self.cky_i && self.resend.last_received.as_ref() == Some(&digest) {
            // The peer did not get our answer to this message: send it again (RFC 2408
            // leaves this local; every IKEv1 peer does it).
            if !self.resend.datagrams.is_empty() {
                self.stats.replayed_responses += 1;
                let again = self.resend.datagrams.clone();
                again.into_iter().for_each(|d| self.send_datagram(d));
            }
            return;
        }
        let first_answer = self.side == Side::Initiator
            && matches!(self.phase1, State::MainI1 | State::AggrI1)
            && cky_r != 0;
        let first_message =
            self.side == Side::Responder && self.phase1 == State::Start && cky_r == 0;
        if cky_i != self.cky_i || (cky_r != self.cky_r && !first_answer && !first_message) {
            if joined {
                self.stats.fragments.not_a_message += 1;
            } else {
                self.stats.dropped_unexpected += 1;
            }
            return;
        }
        if message.payloads().iter().any(|p| matches!(p, Payload::Fragment(_))) {
            self.fragment_received(now, remote, local, message.payloads(), joined);
            return;
        }
        match message.body {
            Body::Plain(payloads) if header.exchange == ExchangeType::INFORMATIONAL => {
                self.clear_informational(&payloads);
            }
            Body::Plain(payloads) => {
                let rx = Received { payloads: &payloads, spans: &spans, bytes };
                self.run_phase1(now, header, false, &rx, digest, cky_r, remote, local);
            }
            Body::Encrypted(ciphertext) if self.phase1 == State::Established => {
                self.protected(now, header, &ciphertext);
            }
            Body::Encrypted(ciphertext) if header.message_id == 0 => {
                self.encrypted_phase1(now, header, &ciphertext, digest, cky_r, remote, local);
            }
            Body::Encrypted(_) => {
                // An informational under keys the peer has and we may not (a wrong PSK):
                // nothing here to act on.
                self.stats.dropped_unauthenticated += 1;
            }
        }
    }

    /// A fragment of a larger message (vendor-ID-negotiated IKEv1 fragmentation): taken only
    /// alone in its message, once the exchange has started and when we announced that we take
    /// fragments; the joined message goes through every check a datagram does.
    fn fragment_received(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        payloads: &[Payload],
        joined: bool,
    ) {
        let [Payload::Fragment(fragment)] = payloads else {
            self.stats.fragments.unexpected += 1;
            return;
        };
        if joined || !self.config.fragmentation || self.phase1 == State::Start {
            self.stats.fragments.unexpected += 1;
            return;
        }
        let limits = self.config.fragment_limits;
        match self.reassembly.take(now, fragment, &limits, &mut self.stats.fragments) {
            Taken::Complete(whole) => self.handle_message(now, remote, local, &whole, true),
            Taken::Incomplete | Taken::Dropped => {}
        }
    }

    /// Main mode 5/6 and aggressive 3: decrypted under the phase 1 IV. The chain moves on
    /// before the handler runs (its answer is encrypted with the next IV) and back if the
    /// message is refused.
    #[allow(clippy::too_many_arguments)]
    fn encrypted_phase1(
        &mut self,
        now: Instant,
        header: HeaderRepr,
        ciphertext: &[u8],
        digest: Vec<u8>,
        cky_r: u64,
        remote: SocketAddr,
        local: SocketAddr,
    ) {
        let Some(crypt) = self.crypt.as_mut() else {
            self.stats.dropped_unexpected += 1;
            return;
        };
        let before = crypt.iv(0);
        let Ok((plain, next)) = crypt.open(0, ciphertext) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        let Ok(chain) = parse_chain(header.next_payload, &plain) else {
            // Garbage under the phase 1 key: the peer derived another key, which with a PSK
            // means another secret (RFC 2409 §5.4).
            self.stats.dropped_unauthenticated += 1;
            if self.side == Side::Responder && self.phase1 == State::MainR4 {
                self.fail(NotifyType::AUTHENTICATION_FAILED, CloseReason::AuthenticationFailed);
            }
            return;
        };
        crypt.commit(0, next);
        let rx = Received { payloads: &chain.payloads, spans: &chain.spans, bytes: &plain };
        if !self.run_phase1(now, header, true, &rx, digest, cky_r, remote, local)
            && let Some(crypt) = self.crypt.as_mut()
        {
            crypt.commit(0, before);
        }
    }

    /// Runs a phase 1 handler and settles its outcome; `true` if the message was taken.
    #[allow(clippy::too_many_arguments)]
    fn run_phase1(
        &mut self,
        now: Instant,
        header: HeaderRepr,
        encrypted: bool,
        rx: &Received<'_>,
        digest: Vec<u8>,
        cky_r: u64,
        remote: SocketAddr,
        local: SocketAddr,
    ) -> bool {
        let before = self.cky_r;
        if self.side == Side::Initiator && cky_r != 0 {
            self.cky_r = cky_r;
        }
        // The initiator floats to 4500 on its own; the peer's later messages come from
        // where it now is (a NAT may have mapped 4500 to another port).
        if self.phase1 != State::Start && on_nat_t_port(local, remote) {
            if (self.local, self.remote) != (local, remote) {
                self.exchange.before_float.get_or_insert((self.local, self.remote));
            }
            self.remote = remote;
            self.local = local;
        }
        match self.handle_phase1(now, header.exchange, encrypted, rx) {
            Ok(()) => {
                self.resend.last_received = Some(digest);
                true
            }
            Err(Phase1Error::Drop) => {
                self.cky_r = before;
                self.stats.dropped_unexpected += 1;
                false
            }
            Err(Phase1Error::Fail(notify, reason)) => {
                self.fail(notify, reason);
                true
            }
        }
    }

    /// An informational exchange in the clear: during phase 1, the peer's error notify ends
    /// it (it cannot be authenticated yet; the cookies at least match ours).
    fn clear_informational(&mut self, payloads: &[Payload]) {
        let error = payloads.iter().find_map(|p| match p {
            Payload::Notification(n) if n.kind.is_error() => Some(n.kind),
            _ => None,
        });
        match error {
            Some(kind) if !matches!(self.phase1, State::Start | State::Established) => {
                self.close(close_reason(kind));
            }
            _ => self.stats.dropped_unauthenticated += 1,
        }
    }

    /// Tells the peer why phase 1 ends, in the clear (it may not share our keys), and closes.
    /// When the peer is done with phase 1 already, the ISAKMP SA is also deleted under the
    /// phase 1 keys: it takes nothing unauthenticated from then on, so the clear notify alone
    /// would leave it holding the SA until its DPD (or its wait for XAUTH) gives up. That is
    /// an initiator refusing main mode message 6 (the responder's proof), and a responder
    /// refusing aggressive mode message 3 (the initiator is up once it sent it).
    pub(crate) fn fail(&mut self, notify: NotifyType, reason: CloseReason) {
        let peer_done = match self.side {
            Side::Initiator => self.phase1 == State::MainI5,
            Side::Responder => self.phase1 == State::AggrR2,
        };
        let cookies = {
            let mut c = [0u8; 16];
            c[..8].copy_from_slice(&self.cky_i.to_be_bytes());
            c[8..].copy_from_slice(&self.cky_r.to_be_bytes());
            c
        };
        let n = Payload::Notification(NotificationRepr::isakmp(notify, cookies, Vec::new()));
        let mut id = [0u8; 4];
        rand_core::RngCore::fill_bytes(&mut self.rng, &mut id);
        if let Some(m) =
            self.build_message(ExchangeType::INFORMATIONAL, u32::from_be_bytes(id), vec![n], false)
        {
            self.send(m);
        }
        if peer_done && self.keys.is_some() {
            let cookies = self.cookies_spi();
            self.send_delete_isakmp(cookies);
        }
        self.close(reason);
    }

    /// The SA is over: everything further is dropped.
    pub(crate) fn close(&mut self, reason: CloseReason) {
        if self.phase1 == State::Closed {
            return;
        }
        self.end_phase2();
        self.phase1 = State::Closed;
        self.timers.stop_all();
        self.reassembly.clear();
        self.exchange = Default::default();
        self.resend = Default::default();
        self.emit(ikeway_sa::Event::IkeSaClosed { reason });
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let limits = self.config.fragment_limits;
        self.reassembly.expire(now, &limits, &mut self.stats.fragments);
        for timer in self.timers.expired(now) {
            match timer {
                Timer::Retransmit => self.retransmit(now),
                Timer::HalfOpen => self.close(CloseReason::HandshakeTimeout),
                Timer::Phase1Expire => self.close(CloseReason::Expired),
                Timer::Keepalive => self.keepalive(now),
            }
        }
        if self.phase2_deadline().is_some_and(|t| t <= now) {
            self.handle_phase2_timeout(now);
        }
    }

    /// Phase 1 resends its last message with back-off until the tries run out.
    fn retransmit(&mut self, now: Instant) {
        let policy = self.config.retransmit;
        if self.resend.attempts >= policy.tries || self.resend.datagrams.is_empty() {
            self.close(match self.side {
                Side::Initiator => CloseReason::PeerUnreachable,
                Side::Responder => CloseReason::HandshakeTimeout,
            });
            return;
        }
        self.stats.retransmits += 1;
        let again = self.resend.datagrams.clone();
        again.into_iter().for_each(|d| self.send_datagram(d));
        self.timers.set(Timer::Retransmit, now + policy.timeout(self.resend.attempts));
        self.resend.attempts += 1;
    }

    /// A NAT-T keepalive (RFC 3948 §2.3: one 0xFF octet) keeps our NAT mapping open.
    fn keepalive(&mut self, now: Instant) {
        if self.phase1 == State::Established && self.nat.is_some_and(|n| n.local_behind_nat) {
            self.send_datagram(vec![0xff]);
            self.timers.set(Timer::Keepalive, now + crate::phase1::nat::KEEPALIVE_INTERVAL);
        }
    }

    /// An ISAKMP message from our cookies: header, then the payloads in the clear or
    /// encrypted under exchange `message_id`'s IV.
    pub(crate) fn build_message(
        &mut self,
        exchange: ExchangeType,
        message_id: u32,
        payloads: Vec<Payload>,
        encrypt: bool,
    ) -> Option<Vec<u8>> {
        let mut header = HeaderRepr::new(
            self.cky_i.to_be_bytes(),
            self.cky_r.to_be_bytes(),
            exchange,
            message_id,
        );
        let message = if encrypt {
            header.next_payload = first_type(&payloads);
            let body = chain_to_vec(&payloads).ok()?;
            let ciphertext = self.crypt.as_mut()?.seal(message_id, &body).ok()?;
            MessageRepr { header, body: Body::Encrypted(ciphertext) }
        } else {
            MessageRepr::plain(header, payloads)
        };
        message.to_vec().ok()
    }

    /// The message as it goes on the current path: after the non-ESP marker on port 4500.
    pub(crate) fn frame(&self, message: &[u8]) -> Vec<u8> {
        if on_nat_t_port(self.local, self.remote) {
            [&NON_ESP_MARKER[..], message].concat()
        } else {
            message.to_vec()
        }
    }

    /// Queues a framed datagram to the peer on the SA's current path.
    pub(crate) fn send_datagram(&mut self, datagram: Vec<u8>) {
        self.stats.sent += 1;
        self.transmits.push_back(crate::Outgoing {
            local: self.local,
            remote: self.remote,
            bytes: datagram,
        });
    }
}
