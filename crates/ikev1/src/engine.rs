//! The ISAKMP SA as the runtime drives it: the same inputs and outputs as
//! `ikeway_sa::Engine` (`handle_datagram`, `handle_timeout`, `poll_timeout`, `poll_transmit`,
//! `poll_event`), so a socket-and-timer loop drives IKEv1 as it drives IKEv2.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::crypt::Crypt;
use crate::keys::Phase1Keys;
use crate::timer::{Timer, TimerTable};
use crate::{Config, EngineEvent, Event, KeyExchangeProvider, Outgoing, SaId, Side, Transmit};

/// Counters of what an ISAKMP SA received, sent, resent and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub received: u64,
    pub sent: u64,
    pub retransmits: u64,
    /// A peer's retransmission answered by resending our last message (RFC 2408 §5.1 leaves
    /// the rule local; every IKEv1 implementation resends).
    pub replayed_responses: u64,
    /// Our transaction requests sent again under a new message ID after the peer refused
    /// a resend of them (`transaction::Ikev1Sa::transaction_refused`).
    pub restarted_requests: u64,
    pub dropped_malformed: u64,
    pub dropped_unauthenticated: u64,
    pub dropped_unexpected: u64,
    /// Phase 1 messages refused for carrying more CERT payloads or bytes than we parse.
    pub peer_certificates_over_limit: u64,
    /// Fragments of the peer's messages (vendor-ID-negotiated IKEv1 fragmentation): taken,
    /// joined, and dropped by reason.
    pub fragments: ikeway_isakmp::FragmentStats,
    /// Our messages sent in fragments (each counted once, however many pieces).
    pub sent_fragmented: u64,
    /// Client: a phase 1 message 1 (a gateway renewing the ISAKMP SA toward us) not taken:
    /// from another address than the gateway's, in another mode than ours, while this SA is
    /// not up, or one we could not start on ([`Ikev1Sa::answer_gateway`]).
    pub gateway_phase1_refused: u64,
    /// SPIs in the peer's ESP Deletes that name no ESP SA of this ISAKMP SA (neither SPI of
    /// any pair): ignored.
    pub ignored_deletes: u64,
}

/// Whom the SA serves, whichever side started its phase 1: the client (XAUTH and mode config
/// client, quick mode initiator for its own address) or the gateway. Phase 1's own rules
/// (who sends which message) follow [`Side`]; everything after it follows the role, so a
/// gateway may start the phase 1 that renews a client's ISAKMP SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Client,
    Gateway,
}

/// One ISAKMP SA and the exchanges it protects, initiator or responder.
#[derive(Debug)]
pub struct Ikev1Sa {
    pub(crate) config: Arc<Config>,
    pub(crate) kex: Arc<dyn KeyExchangeProvider>,
    pub(crate) rng: ChaCha20Rng,
    pub(crate) side: Side,
    pub(crate) role: Role,
    pub(crate) cky_i: u64,
    /// Zero until the responder's first message.
    pub(crate) cky_r: u64,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) phase1: crate::phase1::State,
    /// Phase 1 in progress; emptied (secrets wiped) once established.
    pub(crate) exchange: crate::phase1::Exchange,
    pub(crate) resend: crate::phase1::Resend,
    /// The peer's fragmented message being joined, if any.
    pub(crate) reassembly: ikeway_isakmp::Reassembly,
    /// The fragment ID of our next fragmented message.
    pub(crate) next_fragment_id: u16,
    /// What the peer announced by vendor ID (DPD, XAUTH, NAT-T variant, Unity).
    pub(crate) vendors: crate::phase1::PeerVendors,
    /// NAT-T negotiated and what it found; `None` without NAT-T.
    pub(crate) nat: Option<crate::phase1::NatState>,
    /// The phase 1 suite, once established.
    pub(crate) suite: Option<crate::phase1::Phase1Suite>,
    /// The peer's phase 1 identity and its ID payload body, once received.
    pub(crate) peer_id: Option<ikeway_isakmp::IdRepr>,
    pub(crate) peer_id_b: Vec<u8>,
    /// Phase 1 keys (SKEYID_d for KEYMAT, SKEYID_a for the HASHes of later exchanges).
    pub(crate) keys: Option<Phase1Keys>,
    /// The cipher and IV chains, from the moment phase 1 has keys.
    pub(crate) crypt: Option<Crypt>,
    pub(crate) timers: TimerTable,
    pub(crate) transmits: VecDeque<Outgoing>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) stats: Stats,
    /// Quick mode exchanges and the ESP SAs they made (helper C's `quick`).
    pub(crate) quick: crate::quick::State,
    /// XAUTH and mode config (helper C's `transaction`).
    pub(crate) transaction: crate::transaction::State,
    /// DPD and the peer's informational messages (helper C's `informational`).
    pub(crate) informational: crate::informational::State,
}

impl Ikev1Sa {
    /// A fresh SA in the given role, before any message.
    pub(crate) fn new(
        config: Arc<Config>,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: [u8; 32],
        side: Side,
        role: Role,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Self {
        Self {
            config,
            kex,
            rng: ChaCha20Rng::from_seed(seed),
            side,
            role,
            cky_i: 0,
            cky_r: 0,
            local,
            remote,
            phase1: Default::default(),
            exchange: Default::default(),
            resend: Default::default(),
            reassembly: Default::default(),
            next_fragment_id: 1,
            vendors: Default::default(),
            nat: None,
            suite: None,
            peer_id: None,
            peer_id_b: Vec::new(),
            keys: None,
            crypt: None,
            timers: TimerTable::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            quick: Default::default(),
            transaction: Default::default(),
            informational: Default::default(),
        }
    }

    /// Our own cookie names the SA in events (the peer chooses the other one).
    pub fn id(&self) -> SaId {
        SaId::from_spi(match self.side {
            Side::Initiator => self.cky_i,
            Side::Responder => self.cky_r,
        })
    }

    pub fn side(&self) -> Side {
        self.side
    }

    /// Whether this SA is the client's (whoever started its phase 1).
    pub fn is_client(&self) -> bool {
        self.role == Role::Client
    }

    /// The initiator's and the responder's cookie.
    pub fn cookies(&self) -> (u64, u64) {
        (self.cky_i, self.cky_r)
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn is_established(&self) -> bool {
        matches!(self.phase1, crate::phase1::State::Established)
    }

    /// Whether the SA took a message or sent one (a responder's is made before its first
    /// message is checked).
    pub(crate) fn has_started(&self) -> bool {
        self.phase1 != crate::phase1::State::Start
    }

    /// Phase 1 failed, or the SA ended: it takes nothing more.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase1, crate::phase1::State::Closed)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        let reassembly = self.reassembly.deadline(&self.config.fragment_limits);
        [self.timers.next(), self.phase2_deadline(), reassembly].into_iter().flatten().min()
    }

    /// The next datagram to send, copied into `buf`; `Err(needed)` when `buf` is too short
    /// (the datagram stays queued).
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>> {
        let next = self.transmits.front()?;
        if buf.len() < next.bytes.len() {
            return Some(Err(next.bytes.len()));
        }
        let out = self.transmits.pop_front()?;
        buf[..out.bytes.len()].copy_from_slice(&out.bytes);
        Some(Ok(Transmit { local: out.local, remote: out.remote, len: out.bytes.len() }))
    }

    /// The next event, with this SA's id.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        let event = self.events.pop_front()?;
        Some(EngineEvent { sa: self.id(), event })
    }

    pub(crate) fn emit(&mut self, event: ikeway_sa::Event) {
        self.events.push_back(Event::Ike(event));
    }

    /// Queues an ISAKMP message to the peer on the SA's current path (framed for port 4500
    /// there).
    pub(crate) fn send(&mut self, message: Vec<u8>) {
        let datagram = self.frame(&message);
        self.send_datagram(datagram);
    }

    /// Starts phase 1 as initiator from `local` to `remote` (port 500; NAT-T moves to 4500
    /// itself). `seed` makes every random choice (cookies, nonces, key exchange) reproducible.
    pub fn initiate(
        config: Arc<Config>,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: [u8; 32],
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<Self, crate::Error> {
        Self::initiate_as(config, kex, seed, now, local, remote, Role::Client)
    }

    /// Starts phase 1 as initiator for `role`: the client's, or a gateway's that renews its
    /// ISAKMP SA toward a client itself.
    pub(crate) fn initiate_as(
        config: Arc<Config>,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: [u8; 32],
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        role: Role,
    ) -> Result<Self, crate::Error> {
        let kex = crate::legacy_kex::for_config(&config, kex);
        if !config.proposals.iter().any(|p| kex.supports(p.group)) {
            return Err(crate::Error::NoUsableGroup);
        }
        if matches!(config.auth, crate::Authentication::HybridClient { .. }) && !config.xauth {
            return Err(crate::Error::HybridWithoutXauth);
        }
        let mut sa = Self::new(config, kex, seed, Side::Initiator, role, local, remote);
        sa.cky_i = sa.nonzero_cookie();
        sa.start_phase1(now)?;
        Ok(sa)
    }

    /// A phase 1 responder's SA for the initiator cookie `cky_i`, serving `role` (a gateway's,
    /// or a client's that answers its gateway), before its first message.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn respond_as(
        config: Arc<Config>,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: [u8; 32],
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        cky_i: u64,
        role: Role,
    ) -> Self {
        let half_open = config.half_open_timeout;
        let kex = crate::legacy_kex::for_config(&config, kex);
        let mut sa = Self::new(config, kex, seed, Side::Responder, role, local, remote);
        sa.cky_i = cky_i;
        sa.cky_r = sa.nonzero_cookie();
        sa.timers.set(Timer::HalfOpen, now + half_open);
        sa
    }

    fn nonzero_cookie(&mut self) -> u64 {
        loop {
            let c = rand_core::RngCore::next_u64(&mut self.rng);
            if c != 0 {
                return c;
            }
        }
    }

    /// The phase 1 suite in the terms the IKEv2 events use: the cipher with the HMAC of the
    /// phase 1 hash as its integrity, that HMAC as the PRF.
    pub fn ike_suite(&self) -> Option<ikeway_sa::IkeSuite> {
        let s = self.suite?;
        let integrity = match s.hash {
            crate::HashAlg::Sha1 => ikeway_crypto::Integrity::HmacSha1_96,
            crate::HashAlg::Sha256 => ikeway_crypto::Integrity::HmacSha256_128,
            crate::HashAlg::Sha384 => ikeway_crypto::Integrity::HmacSha384_192,
            crate::HashAlg::Sha512 => ikeway_crypto::Integrity::HmacSha512_256,
        };
        let suite =
            ikeway_crypto::Suite::new(ikeway_crypto::Encryption::Cipher(s.cipher), Some(integrity))
                .ok()?;
        Some(ikeway_sa::IkeSuite {
            suite,
            prf: s.hash.prf(),
            group: s.group,
            additional_kes: [ikeway_codec::DhGroup::NONE; ikeway_sa::MAX_ADDITIONAL_KES],
        })
    }

    /// The suite phase 1 settled on, once established.
    pub fn phase1_suite(&self) -> Option<crate::phase1::Phase1Suite> {
        self.suite
    }

    /// What phase 1 found about NATs (`None` without NAT-T).
    pub fn nat(&self) -> Option<crate::phase1::NatState> {
        self.nat
    }

    /// The peer's phase 1 identity, once it proved it.
    pub fn peer_id(&self) -> Option<&ikeway_isakmp::IdRepr> {
        self.peer_id.as_ref()
    }

    /// The addresses the SA talks on now (port 4500 after the NAT-T float).
    pub fn path(&self) -> (SocketAddr, SocketAddr) {
        (self.local, self.remote)
    }

    /// Phase 1 is complete (both roles): NAT-T keepalives start, then XAUTH, mode config and
    /// quick mode (helper C's modules; they report `IkeSaUp`).
    pub(crate) fn phase1_complete(&mut self, now: Instant) {
        if self.nat.is_some_and(|n| n.local_behind_nat) {
            self.timers.set(Timer::Keepalive, now + crate::phase1::nat::KEEPALIVE_INTERVAL);
        }
        self.start_phase2(now);
    }

    pub(crate) fn protected(
        &mut self,
        now: Instant,
        header: ikeway_isakmp::HeaderRepr,
        ciphertext: &[u8],
    ) {
        self.handle_protected(now, &header, ciphertext);
    }
}
