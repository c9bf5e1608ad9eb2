//! What the IKE SAs of one responder share, so that no client can take what another holds
//! (issue 9 findings 6-8): the address pool, the slots our IKE SPIs name, inbound child SPIs
//! in use, and the remote traffic selectors of every installed child SA.
//!
//! Every SA of a [`crate::Responder`] holds the same `Arc<Mutex<Registry>>`; an initiator has
//! none (it has one peer and chooses nothing on another's behalf). The workers of a
//! multi-core responder ([`crate::Workers`]) each have their own registry, which only that
//! worker's thread locks: SPIs are unique across workers because each carries its worker's
//! index (`crate::worker`), the address pool is shared without a lock, and only the remote
//! selector claims, taken once per child SA, sit behind a lock all workers share.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ikeway_codec::TrafficSelector;

use crate::pool::AddressAllocator;
use crate::proposal::MIN_ESP_SPI;
use crate::worker::WorkerId;

/// Which IKE SA holds a claim: stable across IKE rekeys, unlike its SPIs. Its low
/// [`SLOT_BITS`] are the SA's slot, which every IKE SPI the SA chooses carries too.
pub(crate) type Owner = u64;

/// How many low bits of our IKE SPIs name the slot of the SA they belong to, so that the
/// responder finds an SA by indexing its slab instead of hashing (docs/PERFORMANCE.md,
/// "Responder on the wire": at 100k SAs under churn every table an SA sits in is a cache
/// miss). The rest of the SPI stays random (the top byte carries the worker, `crate::worker`):
/// 32 random bits with workers, 40 alone.
pub(crate) const SLOT_BITS: u32 = 24;

const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

/// The slot one of our IKE SPIs (or an owner's name) names.
pub(crate) fn slot_of(spi: u64) -> usize {
    // At most 24 bits: fits any usize of 32 bits or more.
    (spi & SLOT_MASK) as usize
}

/// The most IKE SAs one responder (one worker) holds at once: every slot index must fit
/// [`SLOT_BITS`]. At about 2 KB each that is over 30 GB, so memory runs out first.
pub(crate) const MAX_SLOTS: usize = 1 << SLOT_BITS;

/// No owner's name: its slot bits would be the index never handed out.
const FREE: Owner = u64::MAX;

/// Which slots are taken, and by whom. Freed slots are reused last-freed first: the slot of
/// the SA just removed was touched by its last message and is still in cache.
#[derive(Debug)]
struct Slots {
    /// The owner holding each slot handed out so far ([`FREE`] when none), so that only the
    /// SA holding a slot can give it back.
    owners: Vec<Owner>,
    free: Vec<u32>,
    /// How many slots may be handed out: `MAX_SLOTS - 1` (tests lower it).
    limit: usize,
}

impl Default for Slots {
    fn default() -> Self {
        Self { owners: Vec::new(), free: Vec::new(), limit: MAX_SLOTS - 1 }
    }
}

/// An address as a number with its family, so both families sort in one map.
type Addr = (bool, u128);

fn addr(ip: IpAddr) -> Addr {
    match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

/// A claimed range, keyed by its start, then by the child SA and the selector's position
/// (several children and selectors may start at one address).
type Key = (Addr, u32, u16);

#[derive(Debug)]
struct Claim {
    end: u128,
    owner: Owner,
}

/// What the SAs of a responder hold between them, for status and for tests that prove
/// nothing leaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    pub leased_addresses: usize,
    /// IKE SAs holding a slot of the responder (each of their SPIs names it).
    pub ike_slots: usize,
    pub child_spis: usize,
    pub remote_selectors: usize,
}

/// Remote selectors of installed children, shared by every worker of a responder. Which keys
/// belong to which child is the worker's to know (`Registry::child_spis`).
#[derive(Debug, Default)]
pub(crate) struct Claims {
    /// Invariant: ranges of different owners never overlap (ranges of one owner may, e.g. an
    /// old child and its rekeyed successor).
    remote: BTreeMap<Key, Claim>,
}

#[derive(Debug)]
pub(crate) struct Registry {
    worker: WorkerId,
    pool: Option<Arc<AddressAllocator>>,
    claims: Arc<Mutex<Claims>>,
    slots: Slots,
    /// Inbound child SPIs in use, each with the keys of the remote selectors claimed with it,
    /// so that releasing one child costs its own claims only. One table for both: an SA
    /// retired long after it was made (a gateway with 100k clients under churn) misses the
    /// cache on every table it sits in (docs/PERFORMANCE.md, "Responder on the wire").
    child_spis: HashMap<u32, Vec<Key>>,
    next_owner: Owner,
}

impl Registry {
    /// A responder alone, or one worker of several sharing `pool` and `claims`.
    pub(crate) fn new(
        worker: WorkerId,
        pool: Option<Arc<AddressAllocator>>,
        claims: Arc<Mutex<Claims>>,
    ) -> Self {
        Self {
            worker,
            pool,
            claims,
            slots: Slots::default(),
            child_spis: HashMap::new(),
            next_owner: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn alone() -> Self {
        Self::new(WorkerId::ALONE, None, Arc::default())
    }

    /// A name for a new IKE SA, unique across the workers (it carries the worker's index),
    /// with a free slot in its low bits, held until [`Self::free_slot`]. With every slot taken
    /// (the responder refuses new SAs before that: [`Self::slots_full`]) the SA gets the
    /// last index, which is never handed out, and the responder cannot file it.
    pub(crate) fn new_owner(&mut self) -> Owner {
        self.next_owner += 1;
        let slot = match self.slots.free.pop() {
            Some(i) => i as usize,
            None if self.slots.owners.len() < self.slots.limit => {
                self.slots.owners.push(FREE);
                self.slots.owners.len() - 1
            }
            None => return self.worker.stamp_ike((self.next_owner << SLOT_BITS) | SLOT_MASK),
        };
        let owner = self.worker.stamp_ike((self.next_owner << SLOT_BITS) | slot as u64);
        self.slots.owners[slot] = owner;
        owner
    }

    /// Whether every slot is taken, so that a new SA could not be filed.
    pub(crate) fn slots_full(&self) -> bool {
        self.slots.free.is_empty() && self.slots.owners.len() >= self.slots.limit
    }

    /// Hands out at most `limit` slots (below `MAX_SLOTS - 1`), to reach the limit in a test.
    #[cfg(test)]
    pub(crate) fn limit_slots(&mut self, limit: usize) {
        self.slots.limit = limit.min(MAX_SLOTS - 1);
    }

    /// Gives back `owner`'s slot, if it holds one.
    pub(crate) fn free_slot(&mut self, owner: Owner) {
        let slot = slot_of(owner);
        if let Some(o) = self.slots.owners.get_mut(slot)
            && *o == owner
            && owner != FREE
        {
            *o = FREE;
            // The index is below MAX_SLOTS, 2^24: it fits.
            self.slots.free.push(slot as u32);
        }
    }

    /// An IKE SPI for `owner`'s SA from the random `v`: its slot in the low bits, the worker
    /// in the top byte. SPIs of different SAs differ in their slot, so none is reserved here;
    /// an SA keeps its own ones apart (`IkeSa::random_spi64`).
    pub(crate) fn ike_spi(&self, owner: Owner, v: u64) -> u64 {
        self.worker.stamp_ike((v & !SLOT_MASK) | (owner & SLOT_MASK))
    }

    pub(crate) fn worker(&self) -> WorkerId {
        self.worker
    }

    pub(crate) fn pool(&self) -> Option<&AddressAllocator> {
        self.pool.as_deref()
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, Claims> {
        self.claims.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Addresses leased to clients now (by every worker).
    pub(crate) fn leased(&self) -> usize {
        self.pool.as_ref().map_or(0, |p| p.leased())
    }

    /// Takes `spi` as an inbound ESP SPI; `false` if reserved by IANA or already in use by any
    /// child of any SA (the datapath demultiplexes inbound ESP by this SPI alone).
    pub(crate) fn reserve_child_spi(&mut self, spi: u32) -> bool {
        spi >= MIN_ESP_SPI
            && match self.child_spis.entry(spi) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(Vec::new());
                    true
                }
            }
    }

    /// Gives back an inbound child SPI and forgets the remote selectors claimed with it.
    pub(crate) fn release_child_spi(&mut self, spi: u32) {
        if let Some(keys) = self.child_spis.remove(&spi)
            && !keys.is_empty()
        {
            self.claims().release(&keys);
        }
    }

    pub(crate) fn held(&self) -> Held {
        Held {
            leased_addresses: self.leased(),
            ike_slots: self.slots.owners.len() - self.slots.free.len(),
            child_spis: self.child_spis.len(),
            remote_selectors: self.claims().remote.len(),
        }
    }

    /// Records the remote selectors of child `spi_in` for `owner`, unless one of them overlaps
    /// another owner's, of any worker (then nothing is recorded and `false` is returned). They
    /// are forgotten with the child's SPI ([`Self::release_child_spi`]); an SA claims only
    /// for an SPI it reserved, and a claim for another takes the SPI too.
    pub(crate) fn claim_remote(
        &mut self,
        owner: Owner,
        spi_in: u32,
        selectors: &[TrafficSelector],
    ) -> bool {
        let mut claims = self.claims.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let keys = self.child_spis.entry(spi_in).or_default();
        claims.claim(owner, spi_in, selectors, keys)
    }
}

impl Claims {
    /// Whether `range` overlaps a remote selector another owner holds. Cost: a lookup and the
    /// claims of one owner (bounded by the child cap), whatever the number of SAs.
    fn taken_by_other(&self, owner: Owner, start: Addr, end: u128) -> bool {
        let family = start.0;
        // Claims starting inside the range overlap it.
        let from = (start, 0, 0);
        let to = ((family, end), u32::MAX, u16::MAX);
        if self.remote.range(from..=to).any(|(_, c)| c.owner != owner) {
            return true;
        }
        // A claim starting before the range overlaps it if it reaches the range's start. If
        // one of owner O does, every claim between it and `start` is O's too (claims of
        // different owners are disjoint), so the nearest run of one owner decides.
        let mut run_owner = None;
        for ((a, _, _), c) in self.remote.range(..from).rev() {
            if a.0 != family || run_owner.is_some_and(|o| o != c.owner) {
                break;
            }
            run_owner = Some(c.owner);
            if c.owner != owner && c.end >= start.1 {
                return true;
            }
        }
        false
    }

    /// Records the claims and appends their keys to `keys`.
    fn claim(
        &mut self,
        owner: Owner,
        spi_in: u32,
        selectors: &[TrafficSelector],
        keys: &mut Vec<Key>,
    ) -> bool {
        let ranges = || {
            selectors.iter().filter_map(|s| match s {
                TrafficSelector::Range(r) => Some(r),
                TrafficSelector::Other { .. } => None,
            })
        };
        if ranges().any(|r| self.taken_by_other(owner, addr(r.start), addr(r.end).1)) {
            return false;
        }
        // Held for the child's life: a child has one or two ranges, and a first push would
        // reserve four keys of 48 bytes.
        keys.reserve_exact(ranges().count());
        for (i, r) in ranges().enumerate() {
            let key = (addr(r.start), spi_in, u16::try_from(i).unwrap_or(u16::MAX));
            self.remote.insert(key, Claim { end: addr(r.end).1, owner });
            keys.push(key);
        }
        true
    }

    fn release(&mut self, keys: &[Key]) {
        for key in keys {
            self.remote.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ikeway_codec::AddrRange;

    fn range(a: &str, b: &str) -> TrafficSelector {
        TrafficSelector::Range(AddrRange::any(a.parse().unwrap(), b.parse().unwrap()))
    }

    /// Every live SA has its own slot, its SPIs carry it, and only its holder gives it back.
    #[test]
    fn slots_are_unique_reused_last_freed_first_and_freed_only_by_their_holder() {
        let mut r = Registry::alone();
        let (a, b, c) = (r.new_owner(), r.new_owner(), r.new_owner());
        assert_eq!([slot_of(a), slot_of(b), slot_of(c)], [0, 1, 2]);
        let spi = r.ike_spi(b, 0xffff_ffff_ffff_ffff);
        assert_eq!(slot_of(spi), 1);
        assert_eq!(spi >> SLOT_BITS, 0xff_ffff_ffff, "the other bits are the random ones");
        r.free_slot(b);
        r.free_slot(b); // twice: the slot goes back once
        let d = r.new_owner();
        assert_eq!(slot_of(d), 1, "b's slot, reused");
        assert_ne!(d, b, "under another name");
        r.free_slot(b); // b no longer holds it: d keeps it
        assert_eq!(slot_of(r.new_owner()), 3);
        assert_eq!(r.held().ike_slots, 4);
        let mut w = Registry::new(WorkerId::of(5), None, Arc::default());
        let owner = w.new_owner();
        let spi = w.ike_spi(owner, u64::MAX);
        assert_eq!((crate::worker::worker_of_ike_spi(spi), slot_of(spi)), (5, 0));
    }

    #[test]
    fn child_spis_are_unique_across_sas_and_reserved_ones_refused() {
        let mut r = Registry::alone();
        assert!(r.reserve_child_spi(256));
        assert!(!r.reserve_child_spi(256), "taken");
        assert!(!r.reserve_child_spi(255), "reserved by IANA");
        assert_eq!(
            r.held(),
            Held { leased_addresses: 0, ike_slots: 0, child_spis: 1, remote_selectors: 0 }
        );
    }

    /// A child's SPI and its claims live and go together: giving back the SPI frees exactly
    /// that child's selectors (another child's of the same SA stay), and the SPI is free again.
    #[test]
    fn releasing_a_child_spi_releases_its_claims_and_only_its_own() {
        let mut r = Registry::alone();
        let (a, b) = (r.new_owner(), r.new_owner());
        assert!(r.reserve_child_spi(1000) && r.reserve_child_spi(1001));
        assert!(r.claim_remote(a, 1000, &[range("10.0.0.1", "10.0.0.1")]));
        assert!(r.claim_remote(
            a,
            1001,
            &[range("10.0.0.2", "10.0.0.2"), range("fd00::2", "fd00::2")]
        ));
        assert_eq!(
            r.held(),
            Held { leased_addresses: 0, ike_slots: 2, child_spis: 2, remote_selectors: 3 }
        );
        r.release_child_spi(1001);
        assert_eq!(
            r.held(),
            Held { leased_addresses: 0, ike_slots: 2, child_spis: 1, remote_selectors: 1 }
        );
        assert!(r.claim_remote(b, 2000, &[range("10.0.0.2", "10.0.0.2")]), "1001's is free");
        assert!(!r.claim_remote(b, 2001, &[range("10.0.0.1", "10.0.0.1")]), "1000's is not");
        r.release_child_spi(1001); // twice: nothing more goes
        assert_eq!(r.held().remote_selectors, 2);
        assert!(r.reserve_child_spi(1001), "the SPI is free again");
        assert!(!r.reserve_child_spi(1000), "still held");
    }

    /// Issue 9 finding 6: claims of different owners never overlap, whatever their order.
    #[test]
    fn remote_claims_of_different_owners_never_overlap() {
        let mut r = Registry::alone();
        let (a, b, c) = (r.new_owner(), r.new_owner(), r.new_owner());
        assert!(r.claim_remote(a, 1000, &[range("10.0.0.10", "10.0.0.10")]));
        // The same owner may claim it again (a rekeyed child).
        assert!(r.claim_remote(a, 1001, &[range("10.0.0.10", "10.0.0.10")]));
        assert!(!r.claim_remote(b, 2000, &[range("10.0.0.10", "10.0.0.10")]), "same address");
        assert!(!r.claim_remote(b, 2000, &[range("0.0.0.0", "255.255.255.255")]), "covers it");
        assert!(!r.claim_remote(b, 2000, &[range("10.0.0.0", "10.0.0.10")]), "ends on it");
        assert!(!r.claim_remote(b, 2000, &[range("10.0.0.10", "10.0.0.99")]), "starts on it");
        assert!(r.claim_remote(b, 2000, &[range("10.0.0.11", "10.0.0.20")]), "next to it");
        assert!(r.claim_remote(b, 2001, &[range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]));
        assert!(r.claim_remote(a, 1002, &[range("9.0.0.0", "9.255.255.255")]));
        assert!(!r.claim_remote(c, 3000, &[range("9.1.0.0", "9.1.0.0")]), "inside A's range");
        assert!(!r.claim_remote(c, 3000, &[range("10.0.0.15", "10.0.0.15")]), "inside B's");
        assert!(!r.claim_remote(c, 3000, &[range("fd00::1", "fd00::1")]), "inside B's v6 range");
        assert!(r.claim_remote(c, 3000, &[range("10.0.0.21", "10.0.0.21")]));
        assert!(!r.claim_remote(b, 2002, &[range("10.0.0.21", "10.0.0.21")]), "C's now");
        // Releasing B's v6 child frees its range for C.
        r.release_child_spi(2001);
        assert!(r.claim_remote(c, 3001, &[range("fd00::1", "fd00::1")]));
        // A refused claim records nothing.
        let before = r.held().remote_selectors;
        assert!(!r.claim_remote(
            c,
            3002,
            &[range("172.16.0.1", "172.16.0.1"), range("10.0.0.10", "10.0.0.10")]
        ));
        assert_eq!(r.held().remote_selectors, before);
    }
}
