//! The responder endpoint: many IKE SAs behind one address, demultiplexed by SPI, with the
//! half-open state bounded and cookies demanded under load (RFC 7296 §2.6).
//!
//! Work per datagram does not grow with the number of SAs: the SA is found by SPI (the low bits
//! of every SPI we choose name its slot in a slab, `crate::registry::SLOT_BITS`), timers sit
//! in a heap (stale entries are skipped when they surface), and SAs with datagrams or events
//! to give wait in queues, so `poll_*` never scan. After anything touched an SA, `refresh`
//! brings these indexes, the half-open counts and the held bytes up to date.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ikeway_codec::{ExchangeType, MessageRepr, NotifyType};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

use crate::Transmit;
use crate::config::{AddressPool, Config};
use crate::cookie::{CookieSecrets, InitCookieFields, Verdict, init_cookie_fields};
use crate::engine::{EngineEvent, SaId};
use crate::ike_sa::{IkeSa, InitReply, ike_bytes, redirect_decision, stateless_reply_into};
use crate::pool::AddressAllocator;
use crate::provider::KeyExchangeProvider;
use crate::registry::{Held, MAX_SLOTS, Registry, slot_of};
use crate::worker::WorkerId;

/// What the endpoint dropped before any IKE SA saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub received: u64,
    pub dropped_malformed: u64,
    /// A message for an IKE SA we do not have: its SPI names a free slot, or a slot another
    /// SA holds now (one of ours from before, or a guess).
    pub dropped_unknown_spi: u64,
    /// IKE_SA_INIT requests dropped because the half-open limit was reached.
    pub dropped_half_open_limit: u64,
    /// IKE_SA_INIT requests dropped because their source already holds
    /// `Config::half_open_per_source` half-open SAs.
    pub dropped_half_open_per_source: u64,
    /// IKE_SA_INIT requests and fragments dropped because they would take a half-open SA past
    /// `Config::half_open_max_bytes`, or all of them past `Config::half_open_memory_limit`.
    pub dropped_half_open_memory: u64,
    pub cookies_demanded: u64,
    /// Cookies presented that no current or previous secret made (forged, or expired).
    pub cookies_refused: u64,
    pub stateless_replies: u64,
    /// IKE_SA_INIT requests answered with REDIRECT (RFC 5685 §4), keeping nothing.
    pub redirected_at_init: u64,
    /// IKE_SA_INIT requests dropped, before any key exchange, because every slot was taken
    /// (2^24 - 1 IKE SAs held by this responder or worker).
    pub dropped_slots_full: u64,
}

/// The endpoint's bookkeeping for one IKE SA, with the SA, in the slab where the SA's SPIs
/// point: finding it is one cache miss (a hash map with boxed slots was three: control
/// bytes, bucket, box).
#[derive(Debug)]
struct Slot {
    sa: IkeSa,
    /// Our SPI of the SA now, routed here.
    spi: u64,
    /// Our SPI of the IKE SA the last rekey replaced, still routed here while it answers its
    /// DELETE.
    alias: Option<u64>,
    /// Where a retransmitted IKE_SA_INIT for this SA is looked up, while it can be one.
    initiator_key: Option<(u64, SocketAddr)>,
    /// The deadline this SA has in the timer heap.
    deadline: Option<Instant>,
    /// The source counted in `half_open_by_source` while the SA is half-open.
    half_open_from: Option<IpAddr>,
    /// Bytes counted in `half_open_bytes` for this SA.
    held: usize,
    in_transmit_queue: bool,
    in_event_queue: bool,
}

/// How many sent stateless replies' buffers a responder keeps for the next ones.
const SPARE_REPLY_BUFFERS: usize = 8;

/// Slots per chunk of the slab: the slab grows by a chunk (about 110 KB when full) and never
/// moves a slot to another chunk, so a million SAs never cost a copy of the table.
const CHUNK: usize = 64;

/// The IKE SAs of a responder by slot, the slot their SPIs carry. The registry hands out the
/// slots (`Registry::new_owner`), densely and last-freed first, so the chunks stay full.
///
/// A chunk's vector grows as its slots are first used (its capacity doubling up to `CHUNK`):
/// a responder with a few SAs holds a few slots, not a whole chunk, and never frees a chunk
/// large enough to make the allocator consolidate its free lists. Each slot is moved at most
/// once on average by that growth.
#[derive(Debug, Default)]
struct Slab {
    chunks: Vec<Vec<Option<Slot>>>,
    len: usize,
}

impl Slab {
    fn get(&self, index: usize) -> Option<&Slot> {
        self.chunks.get(index / CHUNK)?.get(index % CHUNK)?.as_ref()
    }

    fn get_mut(&mut self, index: usize) -> Option<&mut Slot> {
        self.chunks.get_mut(index / CHUNK)?.get_mut(index % CHUNK)?.as_mut()
    }

    /// The slot our SPI `spi` names, if the SA there has it as its SPI now or as its old SA's.
    /// A free slot, or one whose SA has other SPIs (it was reused since), is no answer: the
    /// SPI's random bits act as the slot's generation.
    fn find(&self, spi: u64) -> Option<usize> {
        let index = slot_of(spi);
        let slot = self.get(index)?;
        (slot.spi == spi || slot.alias == Some(spi)).then_some(index)
    }

    /// Files `slot` at `index`; gives it back if the place is taken or is the index the
    /// registry never hands out (`MAX_SLOTS - 1`: an SA made while every slot was taken).
    fn insert(&mut self, index: usize, slot: Slot) -> Result<(), Box<Slot>> {
        if index >= MAX_SLOTS - 1 {
            return Err(Box::new(slot));
        }
        while self.chunks.len() <= index / CHUNK {
            self.chunks.push(Vec::new());
        }
        let chunk = &mut self.chunks[index / CHUNK];
        if chunk.len() <= index % CHUNK {
            chunk.resize_with(index % CHUNK + 1, || None);
        }
        let place = &mut chunk[index % CHUNK];
        if place.is_some() {
            return Err(Box::new(slot));
        }
        *place = Some(slot);
        self.len += 1;
        Ok(())
    }

    fn take(&mut self, index: usize) -> Option<Slot> {
        let slot = self.chunks.get_mut(index / CHUNK)?.get_mut(index % CHUNK)?.take()?;
        self.len -= 1;
        Some(slot)
    }

    fn iter(&self) -> impl Iterator<Item = (usize, &Slot)> {
        self.chunks.iter().enumerate().flat_map(|(c, chunk)| {
            chunk.iter().enumerate().filter_map(move |(i, s)| Some((c * CHUNK + i, s.as_ref()?)))
        })
    }
}

/// A responder serving many initiators. Drive it like an [`IkeSa`], through the same
/// [`crate::Engine`] interface; events name the IKE SA they concern.
#[derive(Debug)]
pub struct Responder {
    config: Arc<Config>,
    kex: Arc<dyn KeyExchangeProvider>,
    /// What every SA shares: leases, SPIs in use, remote selectors (issue 9 findings 6-8).
    registry: Arc<Mutex<Registry>>,
    rng: ChaCha20Rng,
    cookies: CookieSecrets,
    sas: Slab,
    /// (SPIi, initiator address) of half-open SAs, to answer retransmitted IKE_SA_INIT, to
    /// their slot (see `refresh` for why an established SA needs none).
    by_initiator: HashMap<(u64, SocketAddr), usize>,
    half_open: usize,
    half_open_by_source: HashMap<IpAddr, usize>,
    half_open_bytes: usize,
    /// (deadline, slot); an entry is live only while it equals its slot's `deadline`.
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Slots with datagrams (events) to give. An entry left by a removed SA is passed over,
    /// or serves the SA that took the slot since, which is queued anyway.
    transmit_queue: VecDeque<usize>,
    event_queue: VecDeque<usize>,
    /// Slots of SAs handed out by `sa_mut`, whose indexes the next call brings up to date.
    touched: Vec<usize>,
    stateless: VecDeque<(SocketAddr, SocketAddr, Vec<u8>)>,
    /// Buffers of stateless replies already sent, written over by the next ones: a COOKIE
    /// reply to a spoofed IKE_SA_INIT then costs no allocation (at most
    /// [`SPARE_REPLY_BUFFERS`] kept, each under 100 bytes).
    spare_replies: Vec<Vec<u8>>,
    stats: EndpointStats,
}

impl Responder {
    /// A responder alone on its thread (for several, see [`crate::Workers`]).
    pub fn new(
        config: Arc<Config>,
        kex: Arc<dyn KeyExchangeProvider>,
        pool: Option<AddressPool>,
        seed: [u8; 32],
    ) -> Self {
        let pool = pool.map(|p| Arc::new(AddressAllocator::new(p)));
        let registry = Registry::new(WorkerId::ALONE, pool, Arc::default());
        Self::with_registry(config, kex, registry, seed)
    }

    pub(crate) fn with_registry(
        config: Arc<Config>,
        kex: Arc<dyn KeyExchangeProvider>,
        registry: Registry,
        seed: [u8; 32],
    ) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let cookies = CookieSecrets::new(&mut rng, config.cookie_secret_period);
        Self {
            config,
            kex,
            registry: Arc::new(Mutex::new(registry)),
            rng,
            cookies,
            sas: Slab::default(),
            by_initiator: HashMap::new(),
            half_open: 0,
            half_open_by_source: HashMap::new(),
            half_open_bytes: 0,
            timers: BinaryHeap::new(),
            transmit_queue: VecDeque::new(),
            event_queue: VecDeque::new(),
            touched: Vec::new(),
            stateless: VecDeque::new(),
            spare_replies: Vec::new(),
            stats: EndpointStats::default(),
        }
    }

    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    /// Number of IKE SAs held, half-open ones included.
    pub fn len(&self) -> usize {
        self.sas.len
    }

    pub fn is_empty(&self) -> bool {
        self.sas.len == 0
    }

    pub fn half_open(&self) -> usize {
        self.half_open
    }

    /// Bytes of peer input all half-open SAs hold (see [`IkeSa::held_bytes`]).
    pub fn half_open_bytes(&self) -> usize {
        self.half_open_bytes
    }

    /// The IKE SA an event named, to give it commands; its old SPI still finds it while the
    /// SA it replaced in an IKE rekey answers its DELETE.
    pub fn sa_mut(&mut self, id: SaId) -> Option<&mut IkeSa> {
        let index = self.sas.find(id.spi())?;
        self.touched.push(index);
        self.sas.get_mut(index).map(|s| &mut s.sa)
    }

    /// Addresses leased to clients now.
    pub fn leased(&self) -> usize {
        self.registry().leased()
    }

    /// Leases, SPIs and remote selectors the SAs hold between them.
    pub fn held(&self) -> Held {
        self.registry().held()
    }

    pub(crate) fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn sas(&self) -> impl Iterator<Item = &IkeSa> {
        self.sas.iter().map(|(_, s)| &s.sa)
    }

    pub fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) {
        self.refresh_touched();
        self.stats.received += 1;
        let Some(bytes) = ike_bytes(local, remote, datagram) else {
            return; // ESP or keepalive: the datapath's business
        };
        // Only the fixed header is needed to route; the SA parses the rest.
        let Ok(header) = ikeway_codec::HeaderRepr::parse(bytes) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        if header.spi_r == 0
            && header.exchange == ExchangeType::IKE_SA_INIT
            && !header.flags.response
        {
            self.handle_init(now, remote, local, bytes, header.spi_i, datagram);
            return;
        }
        // SAs are filed under the SPI we chose: the responder's while the peer initiated the
        // SA, the initiator's after an IKE rekey we started. The peer picks the other one,
        // possibly equal to another client's (issue 9 finding 7).
        let ours = if header.flags.initiator { header.spi_r } else { header.spi_i };
        let Some(index) = self.sas.find(ours) else {
            self.stats.dropped_unknown_spi += 1;
            return;
        };
        self.deliver(now, remote, local, index, datagram);
    }

    /// Hands a datagram to the SA in slot `index`, within the half-open memory bound.
    fn deliver(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        index: usize,
        datagram: &[u8],
    ) {
        let Some(slot) = self.sas.get_mut(index) else {
            self.stats.dropped_unknown_spi += 1;
            return;
        };
        // A fragment may grow a half-open SA by its length; refuse before it is stored.
        if slot.half_open_from.is_some()
            && self.half_open_bytes + datagram.len() > self.config.half_open_memory_limit
        {
            self.stats.dropped_half_open_memory += 1;
            return;
        }
        slot.sa.handle_datagram(now, remote, local, datagram);
        self.refresh(index);
    }

    fn handle_init(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
        spi_i: u64,
        datagram: &[u8],
    ) {
        if let Some(index) = self.by_initiator.get(&(spi_i, remote)).copied() {
            self.deliver(now, remote, local, index, datagram);
            return;
        }
        // Over the threshold the cookie comes first: only initiators that proved their address
        // reach the limits below, so spoofed floods cost a stateless reply and nothing else;
        // the request is decoded only once its cookie is good.
        if self.half_open >= self.config.cookie_threshold {
            let Some(fields) = init_cookie_fields(bytes) else {
                self.stats.dropped_malformed += 1;
                return;
            };
            if !self.cookie_ok(now, &fields, spi_i, local, remote) {
                return;
            }
        }
        let Ok(message) = MessageRepr::parse(bytes) else {
            self.stats.dropped_malformed += 1;
            return;
        };
        // A redirect keeps nothing, so the half-open limits below do not apply to it.
        let established = self.sas.len - self.half_open;
        let redirect = redirect_decision(&self.config, established, local, remote, &message);
        if let Some(reply) = redirect.stateless_reply {
            self.stats.redirected_at_init += 1;
            self.stats.stateless_replies += 1;
            self.stateless.push_back((local, remote, reply));
            return;
        }
        if self.half_open >= self.config.half_open_limit {
            self.stats.dropped_half_open_limit += 1;
            return;
        }
        if self.registry().slots_full() {
            self.stats.dropped_slots_full += 1;
            return;
        }
        let source = remote.ip();
        if self.half_open_by_source.get(&source).copied().unwrap_or(0)
            >= self.config.half_open_per_source
        {
            self.stats.dropped_half_open_per_source += 1;
            return;
        }
        // The request is stored with the SA; a larger one is refused before any key exchange.
        if bytes.len() > self.config.half_open_max_bytes
            || self.half_open_bytes + bytes.len() > self.config.half_open_memory_limit
        {
            self.stats.dropped_half_open_memory += 1;
            return;
        }
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        let reply = IkeSa::respond_init(
            Arc::clone(&self.config),
            Arc::clone(&self.kex),
            Arc::clone(&self.registry),
            seed,
            now,
            local,
            remote,
            bytes,
            &message,
        );
        match reply {
            Ok(InitReply::Accepted(mut sa)) => {
                sa.apply_redirect_decision(redirect);
                let held = sa.held_bytes();
                if held > self.config.half_open_max_bytes
                    || self.half_open_bytes + held > self.config.half_open_memory_limit
                {
                    self.stats.dropped_half_open_memory += 1;
                    return;
                }
                let spi = sa.local_spi();
                let index = slot_of(spi);
                let slot = Slot {
                    sa,
                    spi,
                    alias: None,
                    initiator_key: Some((spi_i, remote)),
                    deadline: None,
                    half_open_from: Some(source),
                    held,
                    in_transmit_queue: false,
                    in_event_queue: false,
                };
                // The registry gave the SA a free slot; were it taken (every slot was, and
                // the SA has the index never handed out), the SA is dropped unfiled.
                if self.sas.insert(index, slot).is_err() {
                    self.stats.dropped_slots_full += 1;
                    return;
                }
                self.by_initiator.insert((spi_i, remote), index);
                self.half_open += 1;
                *self.half_open_by_source.entry(source).or_default() += 1;
                self.half_open_bytes += held;
                self.refresh(index);
            }
            Ok(InitReply::Stateless(reply)) => {
                self.stats.stateless_replies += 1;
                self.stateless.push_back((local, remote, reply));
            }
            Err(_) => self.stats.dropped_malformed += 1,
        }
    }

    /// Checks the request's cookie; without a valid one, queues a COOKIE reply and says no.
    fn cookie_ok(
        &mut self,
        now: Instant,
        request: &InitCookieFields<'_>,
        spi_i: u64,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> bool {
        self.cookies.rotate(now, &mut self.rng);
        let ni = request.nonce;
        match self.cookies.check(request.cookie, ni, remote, spi_i) {
            Verdict::Valid => return true,
            Verdict::Invalid => self.stats.cookies_refused += 1,
            Verdict::Missing => {}
        }
        let cookie = self.cookies.make(ni, remote, spi_i);
        let mut reply = self.spare_replies.pop().unwrap_or_default();
        match stateless_reply_into(local, remote, spi_i, NotifyType::COOKIE, &cookie, &mut reply) {
            Ok(()) => {
                self.stats.cookies_demanded += 1;
                self.stats.stateless_replies += 1;
                self.stateless.push_back((local, remote, reply));
            }
            Err(_) => {
                self.stats.dropped_malformed += 1;
                self.spare_replies.push(reply);
            }
        }
        false
    }

    /// Brings the endpoint's indexes up to date with the SA in slot `index` after anything
    /// touched it: its SPIs (an IKE rekey gives it new ones in the same slot), half-open
    /// counts and bytes, its timer, its place in the output queues; and forgets it once it is
    /// closed and has said everything.
    fn refresh(&mut self, index: usize) {
        let Some(slot) = self.sas.get_mut(index) else { return };
        slot.spi = slot.sa.local_spi();
        slot.alias = slot.sa.old_local_spi();
        if slot.half_open_from.is_some() {
            let held = if slot.sa.is_half_open() { slot.sa.held_bytes() } else { 0 };
            self.half_open_bytes = self.half_open_bytes - slot.held + held;
            slot.held = held;
        }
        if !slot.sa.is_half_open()
            && let Some(source) = slot.half_open_from.take()
        {
            // A retransmitted IKE_SA_INIT no longer needs finding. RFC 7296 §2.1: the
            // initiator retransmits a request only until it receives the response, and the
            // IKE_AUTH request that ended the half-open state (or the EAP exchange after it)
            // was protected with keys from our IKE_SA_INIT response, so the initiator had it;
            // §2.3: a response needs keeping only until a request with a higher message ID
            // arrives, and IKE_AUTH is message 1. A copy of the request the network delayed
            // past that point makes a new half-open SA, which the initiator ignores and which
            // expires as any half-open SA does (the `half_open_*` limits count it). Keeping the
            // entry for the SA's life cost a cold table entry per SA at 100k SAs under churn.
            if let Some(key) = slot.initiator_key.take()
                && self.by_initiator.get(&key) == Some(&index)
            {
                self.by_initiator.remove(&key);
            }
            self.half_open -= 1;
            if let Some(n) = self.half_open_by_source.get_mut(&source) {
                *n -= 1;
                if *n == 0 {
                    self.half_open_by_source.remove(&source);
                }
            }
        }
        let deadline = slot.sa.poll_timeout();
        if deadline != slot.deadline {
            slot.deadline = deadline;
            if let Some(t) = deadline {
                self.timers.push(Reverse((t, index)));
            }
        }
        if slot.sa.has_transmit() && !slot.in_transmit_queue {
            slot.in_transmit_queue = true;
            self.transmit_queue.push_back(index);
        }
        if slot.sa.has_event() && !slot.in_event_queue {
            slot.in_event_queue = true;
            self.event_queue.push_back(index);
        }
        if slot.sa.is_closed() && !slot.sa.has_output() {
            self.remove(index);
        }
        // Stale timer entries pile up as deadlines move; rebuilding is linear, and happens
        // only after as many pushes as there are SAs, so it costs O(1) per push.
        if self.timers.len() > 2 * self.sas.len + 1024 {
            self.timers =
                self.sas.iter().filter_map(|(i, s)| s.deadline.map(|t| Reverse((t, i)))).collect();
        }
    }

    /// Drops the SA in slot `index`; dropping it gives its slot back to the registry.
    fn remove(&mut self, index: usize) {
        let Some(slot) = self.sas.take(index) else { return };
        if let Some(key) = slot.initiator_key
            && self.by_initiator.get(&key) == Some(&index)
        {
            self.by_initiator.remove(&key);
        }
        if let Some(source) = slot.half_open_from {
            self.half_open -= 1;
            self.half_open_bytes -= slot.held;
            if let Some(n) = self.half_open_by_source.get_mut(&source) {
                *n -= 1;
                if *n == 0 {
                    self.half_open_by_source.remove(&source);
                }
            }
        }
    }

    fn refresh_touched(&mut self) {
        for index in std::mem::take(&mut self.touched) {
            self.refresh(index);
        }
    }

    /// Runs the timers of every SA that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.refresh_touched();
        let mut due = Vec::new();
        while let Some(&Reverse((t, index))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            if let Some(slot) = self.sas.get_mut(index)
                && slot.deadline == Some(t)
            {
                slot.deadline = None;
                due.push(index);
            }
        }
        for index in due {
            if let Some(slot) = self.sas.get_mut(index) {
                slot.sa.handle_timeout(now);
                self.refresh(index);
            }
        }
    }

    /// When [`Responder::handle_timeout`] must next be called. May be early (a timer that
    /// moved later since), never late.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let touched = self.touched.iter().filter_map(|i| self.sas.get(*i)?.sa.poll_timeout());
        self.timers.peek().map(|Reverse((t, _))| *t).into_iter().chain(touched).min()
    }

    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>> {
        self.refresh_touched();
        if let Some((local, remote, bytes)) = self.stateless.front() {
            if bytes.len() > buf.len() {
                return Some(Err(bytes.len()));
            }
            let t = Transmit { local: *local, remote: *remote, len: bytes.len() };
            buf[..bytes.len()].copy_from_slice(bytes);
            if let Some((_, _, sent)) = self.stateless.pop_front()
                && self.spare_replies.len() < SPARE_REPLY_BUFFERS
            {
                self.spare_replies.push(sent);
            }
            return Some(Ok(t));
        }
        while let Some(&index) = self.transmit_queue.front() {
            let Some(slot) = self.sas.get_mut(index) else {
                self.transmit_queue.pop_front();
                continue;
            };
            let sent = slot.sa.poll_transmit(buf);
            if !matches!(sent, Some(Err(_))) && !slot.sa.has_transmit() {
                slot.in_transmit_queue = false;
                self.transmit_queue.pop_front();
                self.refresh(index);
            }
            if sent.is_some() {
                return sent;
            }
        }
        None
    }

    /// The next event of any IKE SA, with the SA it concerns. Closed SAs are dropped once
    /// everything they had to say was taken.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.refresh_touched();
        while let Some(&index) = self.event_queue.front() {
            let Some(slot) = self.sas.get_mut(index) else {
                self.event_queue.pop_front();
                continue;
            };
            let event = slot.sa.pop_event();
            let sa = SaId::from_spi(slot.spi);
            if !slot.sa.has_event() {
                slot.in_event_queue = false;
                self.event_queue.pop_front();
                self.refresh(index);
            }
            if let Some(event) = event {
                return Some(EngineEvent { sa, event });
            }
        }
        None
    }
}

#[cfg(test)]
mod slot_tests {
    use super::*;
    use crate::provider::InsecureKexForFuzzing;

    fn config(name: &str) -> Config {
        Config::new(
            ikeway_codec::IdRepr::from_value(ikeway_codec::IdValue::Fqdn(name)),
            ikeway_crypto::SecretBytes::from_slice(b"a pre-shared key"),
        )
    }

    /// With every slot taken, an IKE_SA_INIT is dropped before any key exchange, counted, and
    /// leaves nothing; a slot given back takes the next one.
    #[test]
    fn with_every_slot_taken_ike_sa_init_is_dropped_and_counted() {
        let kex = Arc::new(InsecureKexForFuzzing);
        let mut r = Responder::new(Arc::new(config("vpn.example")), kex.clone(), None, [7; 32]);
        r.registry().limit_slots(2);
        let now = Instant::now();
        let server: SocketAddr = "10.0.0.2:500".parse().unwrap();
        let mut buf = vec![0u8; 65536];
        let mut answered = |r: &mut Responder, n: u16| {
            let client = SocketAddr::new([10, 0, 1, 1].into(), 1000 + n);
            let seed = [n as u8; 32];
            let mut i = IkeSa::initiate(
                Arc::new(config("c.example")),
                kex.clone(),
                seed,
                now,
                client,
                server,
            )
            .unwrap();
            let t = i.poll_transmit(&mut buf).unwrap().unwrap();
            let request = buf[..t.len].to_vec();
            r.handle_datagram(now, client, server, &request);
            let mut sent = 0;
            while let Some(t) = r.poll_transmit(&mut buf) {
                t.unwrap();
                sent += 1;
            }
            sent
        };
        assert_eq!(answered(&mut r, 1), 1);
        assert_eq!(answered(&mut r, 2), 1);
        let before = r.stats();
        assert_eq!(answered(&mut r, 3), 0, "no answer");
        assert_eq!(
            r.stats(),
            EndpointStats {
                received: before.received + 1,
                dropped_slots_full: before.dropped_slots_full + 1,
                ..before
            }
        );
        assert_eq!((r.len(), r.half_open(), r.held().ike_slots), (2, 2, 2));
        // The half-open SAs expire and give their slots back.
        let deadline = r.poll_timeout().unwrap();
        r.handle_timeout(deadline);
        while r.poll_event().is_some() {}
        assert_eq!((r.len(), r.held().ike_slots), (0, 0));
        assert_eq!(answered(&mut r, 4), 1);
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;
    use crate::DefaultKex;

    /// Issue 9 finding 14: the responder's `Debug` printed its cookie secret (the derived impl
    /// showed the 32 bytes), so a debug log line was enough to forge cookies.
    #[test]
    fn debug_does_not_print_the_cookie_secret() {
        let config = Config::new(
            ikeway_codec::IdRepr::from_value(ikeway_codec::IdValue::Fqdn("responder.example")),
            ikeway_crypto::SecretBytes::from_slice(b"a pre-shared key"),
        );
        let r = Responder::new(Arc::new(config), Arc::new(DefaultKex::default()), None, [7; 32]);
        let secret = r.cookies.current_key();
        assert_ne!(secret, [0; 32], "the secret was drawn from the seeded generator");
        let shown = format!("{r:?}");
        assert!(shown.contains("CookieSecret(redacted)"), "{shown}");
        let decimal = format!("{secret:?}");
        let decimal_inner = &decimal[1..decimal.len() - 1];
        let hex_lower: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        for needle in [decimal_inner, &hex_lower, &hex_lower.to_uppercase()] {
            assert!(!shown.contains(needle), "Debug shows the secret as {needle}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::InsecureKexForFuzzing;
    use ikeway_codec::{IdRepr, IdValue};
    use ikeway_crypto::SecretBytes;

    /// A slot holding a fresh initiator's SA, told apart by `spi`.
    fn slot(spi: u64) -> Slot {
        let config = Config::new(
            IdRepr::from_value(IdValue::Fqdn("client.example.org")),
            SecretBytes::from_slice(b"a pre-shared key"),
        );
        let (a, b): (SocketAddr, SocketAddr) =
            ("10.0.0.1:500".parse().unwrap(), "10.0.0.2:500".parse().unwrap());
        let sa = IkeSa::initiate(
            Arc::new(config),
            Arc::new(InsecureKexForFuzzing),
            [spi as u8; 32],
            Instant::now(),
            a,
            b,
        )
        .expect("initiate");
        Slot {
            sa,
            spi,
            alias: None,
            initiator_key: None,
            deadline: None,
            half_open_from: None,
            held: 0,
            in_transmit_queue: false,
            in_event_queue: false,
        }
    }

    /// Chunks grow as their slots are first used, and every slot keeps its index: across a
    /// chunk's growth, across chunks, past the last slot used, and through `iter`.
    #[test]
    fn slots_keep_their_index_as_chunks_grow() {
        let mut slab = Slab::default();
        let indices = [0, 1, 2, 5, 63, 64, 65, 130, 3];
        for &i in &indices {
            assert!(slab.insert(i, slot(1000 + i as u64)).is_ok());
        }
        assert_eq!(slab.len, indices.len());
        assert_eq!(slab.chunks[0].len(), 64, "grown to its highest slot used");
        assert_eq!(slab.chunks[1].len(), 2);
        assert_eq!(slab.chunks[2].len(), 3, "slot 130 is the third of the third chunk");
        for &i in &indices {
            assert_eq!(slab.get(i).map(|s| s.spi), Some(1000 + i as u64));
        }
        for free in [4, 6, 62, 66, 129, 131, 191, 192, 10_000] {
            assert!(slab.get(free).is_none(), "slot {free} is free");
        }
        let mut listed: Vec<(usize, u64)> = slab.iter().map(|(i, s)| (i, s.spi)).collect();
        listed.sort_unstable();
        let mut expected: Vec<(usize, u64)> =
            indices.iter().map(|&i| (i, 1000 + i as u64)).collect();
        expected.sort_unstable();
        assert_eq!(listed, expected);

        assert_eq!(slab.insert(5, slot(7)).map_err(|s| s.spi), Err(7), "slot 5 is taken");
        assert_eq!(slab.insert(MAX_SLOTS - 1, slot(8)).map_err(|s| s.spi), Err(8));
        assert_eq!(slab.take(64).map(|s| s.spi), Some(1064));
        assert!(slab.take(64).is_none());
        assert!(slab.take(4).is_none() && slab.take(10_000).is_none());
        assert_eq!(slab.len, indices.len() - 1);
        assert!(slab.insert(64, slot(9)).is_ok(), "a freed slot is filed again");
        assert_eq!(slab.get(64).map(|s| s.spi), Some(9));
    }
}
