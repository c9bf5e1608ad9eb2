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
use crate::timer::TimerTable;
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
    pub dropped_malformed: u64,
    pub dropped_unauthenticated: u64,
    pub dropped_unexpected: u64,
}

/// One ISAKMP SA and the exchanges it protects, initiator or responder.
#[derive(Debug)]
pub struct Ikev1Sa {
    pub(crate) config: Arc<Config>,
    pub(crate) kex: Arc<dyn KeyExchangeProvider>,
    pub(crate) rng: ChaCha20Rng,
    pub(crate) side: Side,
    pub(crate) cky_i: u64,
    /// Zero until the responder's first message.
    pub(crate) cky_r: u64,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) phase1: crate::phase1::State,
    /// Phase 1 keys (SKEYID_d for KEYMAT, SKEYID_a for the HASHes of later exchanges).
    pub(crate) keys: Option<Phase1Keys>,
    /// The cipher and IV chains, from the moment phase 1 has keys.
    pub(crate) crypt: Option<Crypt>,
    pub(crate) timers: TimerTable,
    pub(crate) transmits: VecDeque<Outgoing>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) stats: Stats,
}

impl Ikev1Sa {
    /// A fresh SA in the given role, before any message.
    pub(crate) fn new(
        config: Arc<Config>,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: [u8; 32],
        side: Side,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Self {
        Self {
            config,
            kex,
            rng: ChaCha20Rng::from_seed(seed),
            side,
            cky_i: 0,
            cky_r: 0,
            local,
            remote,
            phase1: Default::default(),
            keys: None,
            crypt: None,
            timers: TimerTable::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
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

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
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

    /// Queues `bytes` to the peer on the SA's current path.
    pub(crate) fn send(&mut self, bytes: Vec<u8>) {
        self.stats.sent += 1;
        self.transmits.push_back(Outgoing { local: self.local, remote: self.remote, bytes });
    }
}
