//! A responder endpoint: many ISAKMP SAs behind one address, found by cookie, for our own
//! tests and `ikeway serve --ikev1`. A first message (responder cookie zero) makes a new SA,
//! unless it is a retransmission of one we already answered.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use ikeway_isakmp::HeaderRepr;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::engine::{Ikev1Sa, Role};
use crate::receive::ike_bytes;
use crate::{Config, EngineEvent, KeyExchangeProvider, SaId, Transmit};

/// Half-open SAs (phase 1 not finished) we keep at once: each costs a key exchange, so a
/// flood of first messages is bounded here rather than by memory.
pub const DEFAULT_MAX_HALF_OPEN: usize = 1024;

/// Many ISAKMP SAs in the responder role.
#[derive(Debug)]
pub struct Ikev1Responder {
    config: Arc<Config>,
    kex: Arc<dyn KeyExchangeProvider>,
    rng: ChaCha20Rng,
    /// By our cookie (the responder's).
    sas: HashMap<u64, Ikev1Sa>,
    /// (peer address, initiator cookie) -> our cookie, so a retransmitted first message
    /// reaches its SA instead of making another.
    first: HashMap<(SocketAddr, u64), u64>,
    events: VecDeque<EngineEvent>,
    /// Which SA to ask for a datagram first, so one busy SA does not starve the others.
    order: VecDeque<u64>,
    pub max_half_open: usize,
    /// First messages refused because `max_half_open` SAs were half open.
    pub refused_half_open: u64,
}

impl Ikev1Responder {
    pub fn new(config: Arc<Config>, kex: Arc<dyn KeyExchangeProvider>, seed: [u8; 32]) -> Self {
        Self {
            config,
            kex,
            rng: ChaCha20Rng::from_seed(seed),
            sas: HashMap::new(),
            first: HashMap::new(),
            events: VecDeque::new(),
            order: VecDeque::new(),
            max_half_open: DEFAULT_MAX_HALF_OPEN,
            refused_half_open: 0,
        }
    }

    /// Takes one UDP payload that arrived from `remote` at `local`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) {
        let Some(header) =
            ike_bytes(local, remote, datagram).and_then(|b| HeaderRepr::parse(b).ok())
        else {
            return;
        };
        let (cky_i, cky_r) =
            (u64::from_be_bytes(header.cookie_i), u64::from_be_bytes(header.cookie_r));
        let mut fresh = false;
        let ours = if cky_r != 0 {
            cky_r
        } else if let Some(c) = self.first.get(&(remote, cky_i)) {
            *c
        } else {
            fresh = true;
            if cky_i == 0 || self.half_open() >= self.max_half_open {
                self.refused_half_open += u64::from(cky_i != 0);
                return;
            }
            let mut seed = [0u8; 32];
            self.rng.fill_bytes(&mut seed);
            let sa = Ikev1Sa::respond_as(
                self.config.clone(),
                self.kex.clone(),
                seed,
                now,
                local,
                remote,
                cky_i,
                Role::Gateway,
            );
            let (_, c) = sa.cookies();
            self.first.insert((remote, cky_i), c);
            self.sas.insert(c, sa);
            self.order.push_back(c);
            c
        };
        if let Some(sa) = self.sas.get_mut(&ours) {
            sa.handle_datagram(now, remote, local, datagram);
            if fresh && !sa.has_started() {
                // Not a first message we could take (junk with a zero responder cookie): no
                // state is kept for it, so junk cannot fill the half-open slots.
                self.forget(ours);
                return;
            }
        }
        self.collect(now, ours);
    }

    /// Runs every SA's due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .sas
            .iter()
            .filter(|(_, sa)| sa.poll_timeout().is_some_and(|t| t <= now))
            .map(|(c, _)| *c)
            .collect();
        for c in due {
            if let Some(sa) = self.sas.get_mut(&c) {
                sa.handle_timeout(now);
            }
            self.collect(now, c);
        }
    }

    /// The earliest deadline of any SA.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sas.values().filter_map(Ikev1Sa::poll_timeout).min()
    }

    /// The next datagram of any SA.
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>> {
        for _ in 0..self.order.len() {
            let c = self.order.pop_front()?;
            self.order.push_back(c);
            if let Some(out) = self.sas.get_mut(&c).and_then(|sa| sa.poll_transmit(buf)) {
                return Some(out);
            }
            // Drained: a closed SA whose last word (an error notify) is out can go.
            if self.sas.get(&c).is_some_and(Ikev1Sa::is_closed) {
                self.forget(c);
            }
        }
        None
    }

    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// The SA an event named, to give it commands; `None` once it is gone.
    pub fn sa_mut(&mut self, id: SaId) -> Option<&mut Ikev1Sa> {
        self.sas.get_mut(&id.spi())
    }

    /// SAs held now, established or not.
    pub fn len(&self) -> usize {
        self.sas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sas.is_empty()
    }

    fn half_open(&self) -> usize {
        self.sas.values().filter(|sa| !sa.is_established()).count()
    }

    /// Moves an SA's events out, and forgets it once closed and drained.
    fn collect(&mut self, now: Instant, cookie: u64) {
        let Some(sa) = self.sas.get_mut(&cookie) else { return };
        while let Some(e) = sa.poll_event() {
            self.events.push_back(e);
        }
        let initial_contact = sa.take_initial_contact();
        let closed = sa.is_closed();
        if initial_contact {
            self.drop_earlier_sas(now, cookie);
        }
        if closed {
            self.pass_on_orphans(cookie);
        }
        if self.sas.get(&cookie).is_some_and(|sa| sa.is_closed() && sa.transmits.is_empty()) {
            self.forget(cookie);
        }
    }

    /// A client deleted its old ISAKMP SA after making a new one (helper C's
    /// `quick::handover`): the ESP SAs and the address go to the new SA, or are removed if
    /// there is none.
    fn pass_on_orphans(&mut self, cookie: u64) {
        let Some(orphans) = self.sas.get_mut(&cookie).and_then(Ikev1Sa::take_orphans) else {
            return;
        };
        let heir = self.sas.iter().find(|(_, sa)| sa.can_adopt(&orphans)).map(|(c, _)| *c);
        let at = heir.unwrap_or(cookie);
        let Some(sa) = self.sas.get_mut(&at) else { return };
        match heir {
            Some(_) => sa.adopt(orphans),
            None => sa.abandon(orphans),
        }
        while let Some(e) = sa.poll_event() {
            self.events.push_back(e);
        }
    }

    /// The client of SA `cookie` sent INITIAL-CONTACT: it has no other SA (it restarted), so
    /// the established SAs of the same client (address, identity, XAUTH user) are stale and
    /// go, with their ESP SAs and address, without a word to a client that no longer knows
    /// them. Their ESP SAs are not handed to the new SA: the client has no keys for them.
    fn drop_earlier_sas(&mut self, now: Instant, cookie: u64) {
        let Some(who) = self.sas.get(&cookie).map(|sa| {
            let (ip, id, user) = sa.client_identity();
            (ip, id, user.map(str::to_owned))
        }) else {
            return;
        };
        let stale: Vec<u64> = self
            .sas
            .iter()
            .filter(|(c, sa)| {
                let (ip, id, user) = sa.client_identity();
                **c != cookie && sa.is_established() && (ip, id, user.map(str::to_owned)) == who
            })
            .map(|(c, _)| *c)
            .collect();
        for c in stale {
            if let Some(sa) = self.sas.get_mut(&c) {
                sa.shut_down(now, ikeway_sa::CloseReason::DeletedByPeer);
            }
            self.collect(now, c);
        }
    }

    fn forget(&mut self, cookie: u64) {
        self.sas.remove(&cookie);
        self.first.retain(|_, c| *c != cookie);
        self.order.retain(|c| *c != cookie);
    }
}
