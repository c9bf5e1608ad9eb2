//! The SA table shared by every worker, read-mostly.
//!
//! Workers read an immutable [`Snapshot`] through [`ArcSwap`]: one atomic load per batch of
//! packets, no lock on the table. The control plane installs or removes SAs by building a new
//! snapshot (copy on write, serialised by a writer mutex) and swapping it in; workers pick it
//! up on their next load, so a rekey never stops traffic. Entries are `Arc`s shared between
//! snapshots, so an SA keeps its sequence number and replay window across swaps.
//!
//! **Sequence numbers.** `OutboundSa::encapsulate` and `InboundSa::decapsulate` take
//! `&mut self` (sequence number, replay window, counters are plain integers in `ikeway-esp`).
//! Each SA direction therefore sits behind its own `Mutex`, held only for the seal or open of
//! one packet. Workers are fed by a multi-queue TUN (flows hashed to queues) and
//! `SO_REUSEPORT` sockets (peers hashed to sockets), so one flow's packets stay on one worker
//! and the lock is uncontended in the common case; when two workers do meet on one SA, the
//! lock is what keeps its sequence numbers unique. We chose this over an atomic sequence
//! number because the ESP crate's per-SA state (lifetimes, counters, events) is not atomic,
//! and over pinning SAs to workers because the kernel, not us, picks the worker of a packet.
//!
//! **Outbound lookup.** A snapshot indexes its outbound SAs by the destination addresses their
//! remote selectors cover (`dest_index`): a packet's candidates come from one binary search,
//! narrowest selector first, so the cost does not grow with the number of clients and a
//! client's host SA is always preferred to any wider one (issue 9 finding 6).
//!
//! **Rekey (make before break).** A new child SA is installed inbound and outbound at once;
//! outbound lookups try the newest SA first (among equally narrow ones), so traffic moves to it
//! at once, while the old
//! inbound SA keeps accepting in-flight packets until [`SaTable::remove`] (the negotiation's
//! delete) takes both halves of the old SA away. The datapath asks for that rekey itself:
//! when an SA raises `RekeyNeeded` (a soft lifetime, or the sequence number space 15/16 used),
//! the worker that saw it queues the SA's inbound SPI for [`SaTable::poll_rekey`].

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;
use ikeway_esp::{Counters as SaCounters, EspError, InboundSa, OutboundSa, SaConfig};

use crate::dest_index::DestIndex;
use crate::selector::{Flow, Policy};

/// A child SA as the control plane hands it to the datapath.
#[derive(Debug, Clone)]
pub struct ChildSa {
    /// Inbound direction; its SPI identifies the child SA in [`SaTable::remove`].
    pub inbound: SaConfig,
    pub outbound: SaConfig,
    pub policy: Policy,
    /// Where ESP goes (the peer's 4500, or wherever it floated to).
    pub remote: SocketAddr,
}

/// Locks a mutex even if a panicking worker poisoned it: SA state is consistent between
/// packets.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug)]
pub(crate) struct InboundEntry {
    pub(crate) sa: Mutex<InboundState>,
    pub(crate) policy: Policy,
    /// The same child SA's outbound half: where an authenticated packet from a new source
    /// moves the peer's address to (`SaTable::follows_peer`).
    pub(crate) outbound: Arc<OutboundEntry>,
}

#[derive(Debug)]
pub(crate) struct OutboundEntry {
    /// Inbound SPI of the same child SA: the key for removal.
    pub(crate) spi_in: u32,
    pub(crate) sa: Mutex<OutboundState>,
    pub(crate) policy: Policy,
    pub(crate) headroom: usize,
    /// Whether the peer is known to have this SA: set at install for a new child SA; for a
    /// rekey's successor once a valid packet arrived on its inbound half or the SA it replaces
    /// was removed (RFC 7296 §2.8: until then the old SA carries our traffic, so a lost
    /// CREATE_CHILD_SA response blackholes nothing).
    pub(crate) ready: AtomicBool,
    /// The inbound SPI of the child SA this one replaces (a rekey's successor).
    pub(crate) replaces: Option<u32>,
}

/// How many not-yet-confirmed successors the outbound lookup walks back through.
const MAX_SUCCESSORS: usize = 4;

/// What a worker changes when it opens: the SA (replay window) and where the outbound half
/// sends to, as last known here. The copy lets an authenticated packet from the usual source
/// (every packet but a NAT rebinding's first) skip the outbound lock
/// (`SaTable::follows_peer`); every writer of `OutboundState::remote` updates it too.
#[derive(Debug)]
pub(crate) struct InboundState {
    pub(crate) sa: InboundSa,
    pub(crate) peer: SocketAddr,
}

impl std::ops::Deref for InboundState {
    type Target = InboundSa;

    fn deref(&self) -> &InboundSa {
        &self.sa
    }
}

impl std::ops::DerefMut for InboundState {
    fn deref_mut(&mut self) -> &mut InboundSa {
        &mut self.sa
    }
}

/// What a worker changes when it sends: the SA (sequence number) and where it sends to.
#[derive(Debug)]
pub(crate) struct OutboundState {
    pub(crate) sa: OutboundSa,
    pub(crate) remote: SocketAddr,
}

/// What workers read: immutable, replaced whole.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) inbound: HashMap<u32, Arc<InboundEntry>>,
    /// Newest first.
    pub(crate) outbound: Vec<Arc<OutboundEntry>>,
    /// `outbound` by the destinations each entry's remote selectors cover.
    by_destination: DestIndex<OutboundEntry>,
}

impl Snapshot {
    fn new(inbound: HashMap<u32, Arc<InboundEntry>>, outbound: Vec<Arc<OutboundEntry>>) -> Self {
        let by_destination =
            DestIndex::build(outbound.iter().map(|e| (e, e.policy.remote.as_slice())));
        Self { inbound, outbound, by_destination }
    }

    /// Sends `entry`'s ESP to `remote`, and tells its inbound half, under the outbound lock
    /// (always taken before the inbound one), so a worker following the peer and the control
    /// plane moving it leave both halves agreeing.
    pub(crate) fn move_peer(&self, entry: &OutboundEntry, remote: SocketAddr) -> bool {
        let mut out = lock(&entry.sa);
        let moved = out.remote != remote;
        out.remote = remote;
        if let Some(i) = self.inbound.get(&entry.spi_in) {
            lock(&i.sa).peer = remote;
        }
        moved
    }

    /// The SA to seal `flow` with: among those whose remote selectors cover its destination,
    /// the narrowest, then newest, whose whole policy covers it; a rekey's successor the peer
    /// is not known to have yet (`OutboundEntry::ready`) gives way to the SA it replaces while
    /// that one is installed (never to any other SA). Allocates nothing.
    pub(crate) fn outbound_for(&self, flow: &Flow) -> Option<&Arc<OutboundEntry>> {
        let candidates = self.by_destination.lookup(flow.dst);
        let mut chosen = candidates.iter().find(|e| e.policy.covers_outbound(flow))?;
        // A chain of successors is short: one per rekey still in flight.
        for _ in 0..MAX_SUCCESSORS {
            if chosen.ready.load(Ordering::Relaxed) {
                break;
            }
            let Some(old) = chosen.replaces else { break };
            match candidates.iter().find(|e| e.spi_in == old && e.policy.covers_outbound(flow)) {
                Some(e) => chosen = e,
                None => break,
            }
        }
        Some(chosen)
    }
}

/// Per-SA counters copied out for status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaStats {
    pub spi_in: u32,
    pub spi_out: Option<u32>,
    pub inbound: SaCounters,
    pub outbound: Option<SaCounters>,
    pub remote: Option<SocketAddr>,
}

/// The shared SA table: cheap to clone a handle to (`Arc` inside).
#[derive(Debug, Clone, Default)]
pub struct SaTable {
    inner: Arc<TableInner>,
}

/// [`SaTable::set_rekey_waker`]'s callback.
struct RekeyWaker(Box<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for RekeyWaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RekeyWaker")
    }
}

#[derive(Debug, Default)]
struct TableInner {
    current: ArcSwap<Snapshot>,
    writer: Mutex<()>,
    /// Inbound SPIs of child SAs that raised [`ikeway_esp::SaEvent::RekeyNeeded`], oldest
    /// first, for the control plane to take with [`SaTable::poll_rekey`]. Each SA raises it
    /// once, so this holds at most one entry per SA.
    rekeys: Mutex<VecDeque<u32>>,
    /// Called when a rekey is queued, so a control plane that sleeps until its next input wakes
    /// for it instead of polling (see [`SaTable::set_rekey_waker`]).
    rekey_waker: Mutex<Option<RekeyWaker>>,
    /// Whether authenticated ESP from a new source moves the peer's address (RFC 7296
    /// §2.23, RFC 3948): `false` by default and once MOBIKE is negotiated, where addresses move
    /// only by UPDATE_SA_ADDRESSES (RFC 4555).
    follow_peer: AtomicBool,
}

impl SaTable {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.inner.current.load()
    }

    fn update(&self, f: impl FnOnce(&Snapshot) -> Snapshot) {
        let _writer = lock(&self.inner.writer);
        let old = self.inner.current.load_full();
        self.inner.current.store(Arc::new(f(&old)));
    }

    /// Installs a child SA (both directions). Traffic is never stopped: workers see the new
    /// SA from their next packet on. An SA with the same inbound SPI is replaced.
    pub fn install(&self, child: &ChildSa) -> Result<(), EspError> {
        self.install_all(std::slice::from_ref(child))
    }

    /// Installs several child SAs in one snapshot swap, the last of them newest (a table
    /// change costs a copy and an index build whatever its size, so a batch pays that once).
    /// Nothing is installed if any of them is refused.
    pub fn install_all(&self, children: &[ChildSa]) -> Result<(), EspError> {
        self.install_entries(children, None)
    }

    /// Installs the successor of the child SA with inbound SPI `replaces` (a rekey, RFC 7296
    /// §2.8): inbound at once, but our traffic stays on the SA it replaces until a valid packet
    /// arrives on the new one or the old one is removed, whichever comes first. Without this, the side that answered the
    /// CREATE_CHILD_SA sent on an SA the peer may not have (its response lost).
    pub fn install_successor(&self, child: &ChildSa, replaces: u32) -> Result<(), EspError> {
        self.install_entries(std::slice::from_ref(child), Some(replaces))
    }

    fn install_entries(&self, children: &[ChildSa], replaces: Option<u32>) -> Result<(), EspError> {
        let mut entries = Vec::with_capacity(children.len());
        for child in children {
            let out_sa = OutboundSa::new(&child.outbound)?;
            let outbound = Arc::new(OutboundEntry {
                spi_in: child.inbound.spi,
                headroom: out_sa.headroom(),
                sa: Mutex::new(OutboundState { sa: out_sa, remote: child.remote }),
                policy: child.policy.clone(),
                ready: AtomicBool::new(replaces.is_none()),
                replaces,
            });
            let inbound = Arc::new(InboundEntry {
                sa: Mutex::new(InboundState {
                    sa: InboundSa::new(&child.inbound)?,
                    peer: child.remote,
                }),
                policy: child.policy.clone(),
                outbound: Arc::clone(&outbound),
            });
            entries.push((inbound, outbound));
        }
        self.update(|old| {
            let mut inbound_map = old.inbound.clone();
            let mut out = Vec::with_capacity(old.outbound.len() + entries.len());
            let mut replaced = std::collections::HashSet::new();
            for (inbound, outbound) in entries.into_iter().rev() {
                // The last of one SPI in the batch wins, as if installed one by one.
                let spi_in = outbound.spi_in;
                if replaced.insert(spi_in) {
                    inbound_map.insert(spi_in, inbound);
                    out.push(outbound);
                }
            }
            out.extend(old.outbound.iter().filter(|e| !replaced.contains(&e.spi_in)).cloned());
            Snapshot::new(inbound_map, out)
        });
        Ok(())
    }

    /// Removes the child SA whose inbound SPI is `spi_in`, both directions. Returns whether it
    /// was there.
    pub fn remove(&self, spi_in: u32) -> bool {
        let mut found = false;
        self.update(|old| {
            found = old.inbound.contains_key(&spi_in);
            let mut inbound = old.inbound.clone();
            inbound.remove(&spi_in);
            let outbound =
                old.outbound.iter().filter(|e| e.spi_in != spi_in).cloned().collect::<Vec<_>>();
            Snapshot::new(inbound, outbound)
        });
        found
    }

    /// Sends the child SA's ESP to `remote` from now on (the peer's NAT mapping moved,
    /// RFC 7296 §2.23). Returns whether the SA was there.
    pub fn set_remote(&self, spi_in: u32, remote: SocketAddr) -> bool {
        let snap = self.load();
        let mut found = false;
        for e in snap.outbound.iter().filter(|e| e.spi_in == spi_in) {
            snap.move_peer(e, remote);
            found = true;
        }
        found
    }

    /// Sends every child SA's ESP to `remote` from now on: an initiator's one peer moved
    /// (MOBIKE, RFC 4555). Returns how many SAs there were.
    pub fn set_peer(&self, remote: SocketAddr) -> usize {
        let snap = self.load();
        for e in &snap.outbound {
            snap.move_peer(e, remote);
        }
        snap.outbound.len()
    }

    /// Lets authenticated ESP from a new source address or port move where the SA's ESP goes
    /// (a NAT rebinding, RFC 7296 §2.23 and RFC 3948): only a packet that passed the ICV and
    /// the replay window does, so a forged or replayed packet from anywhere moves nothing.
    /// Off by default; off again once MOBIKE is negotiated (RFC 4555 moves addresses only by
    /// UPDATE_SA_ADDRESSES).
    pub fn set_follow_peer(&self, follow: bool) {
        self.inner.follow_peer.store(follow, Ordering::Relaxed);
    }

    /// Whether [`Self::set_follow_peer`] is on.
    pub fn follows_peer(&self) -> bool {
        self.inner.follow_peer.load(Ordering::Relaxed)
    }

    /// Records that the child SA with inbound SPI `spi_in` reached a soft limit.
    pub(crate) fn request_rekey(&self, spi_in: u32) {
        let mut rekeys = lock(&self.inner.rekeys);
        if !rekeys.contains(&spi_in) {
            rekeys.push_back(spi_in);
            drop(rekeys);
            if let Some(waker) = lock(&self.inner.rekey_waker).as_ref() {
                (waker.0)();
            }
        }
    }

    /// Calls `wake` whenever a rekey is queued for [`Self::poll_rekey`] (on the datapath's
    /// thread, so it must not block: a control plane rings whatever it sleeps on). Replaces an
    /// earlier waker.
    pub fn set_rekey_waker(&self, wake: impl Fn() + Send + Sync + 'static) {
        *lock(&self.inner.rekey_waker) = Some(RekeyWaker(Box::new(wake)));
    }

    /// The next child SA (by inbound SPI) that the datapath wants rekeyed: one of its
    /// directions reached a soft lifetime, or its outbound sequence numbers are nearly used up
    /// (RFC 4303 §3.3.3: without ESN they never wrap; the SA stops at 2^32 - 1). The control
    /// plane starts a CREATE_CHILD_SA rekey (RFC 7296 §2.8), installs the new SA with
    /// [`Self::install`] and removes this one when the old SA is deleted. Poll after each
    /// batch of input, as with the IKE engine's own `poll_*` calls.
    pub fn poll_rekey(&self) -> Option<u32> {
        lock(&self.inner.rekeys).pop_front()
    }

    pub fn len(&self) -> usize {
        self.load().inbound.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Per-SA counters, newest outbound first, then inbound-only (rekeyed, awaiting delete).
    pub fn stats(&self) -> Vec<SaStats> {
        let snap = self.load();
        let mut out: Vec<SaStats> = snap
            .outbound
            .iter()
            .map(|e| {
                let o = lock(&e.sa);
                SaStats {
                    spi_in: e.spi_in,
                    spi_out: Some(o.sa.spi()),
                    inbound: snap
                        .inbound
                        .get(&e.spi_in)
                        .map(|i| lock(&i.sa).counters().clone())
                        .unwrap_or_default(),
                    outbound: Some(o.sa.counters().clone()),
                    remote: Some(o.remote),
                }
            })
            .collect();
        for (spi, i) in &snap.inbound {
            if !out.iter().any(|s| s.spi_in == *spi) {
                out.push(SaStats {
                    spi_in: *spi,
                    spi_out: None,
                    inbound: lock(&i.sa).counters().clone(),
                    outbound: None,
                    remote: None,
                });
            }
        }
        out
    }
}
