//! Internal addresses a responder leases to clients (RFC 7296 §3.15.1), shared by the
//! workers of a multi-core responder without a lock.
//!
//! Each family's range is a bitmap of atomic words, one bit per address, kept in blocks of 64
//! words that are allocated the first time a lease reaches them: a pool sized for a million
//! clients costs a pointer per 4,096 addresses until they come, and a responder starts without
//! zeroing its whole bitmap. A lease is a compare-and-swap on one word (workers that race for
//! the same word retry on the next free bit); a release clears its bit. Every lease takes the
//! lowest free address when no other worker leases at the same time, as one lowest-first
//! allocator would: clients of a small pool get the addresses an operator expects whichever
//! worker answers them. A hint (the first word that may hold a free bit) keeps a lease O(1)
//! amortised as the pool fills; it is only a starting point, so a stale one costs time, never
//! an address: before saying "exhausted" a lease has looked at every word.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::config::AddressPool;

/// The most addresses one family's pool may hold: its bitmap is then 2 MiB once every address
/// has been leased (and 64 KiB of block pointers before). A larger count is cut to this many
/// (an operator's typo of a /8 as a count must not take 512 MiB).
pub const MAX_POOL_ADDRESSES: u32 = 1 << 24;

/// Words per block of a range's bitmap: 4,096 addresses, 512 bytes.
const BLOCK_WORDS: usize = 64;

/// A block of the bitmap, made when a lease first reaches it.
type Block = Box<[AtomicU64; BLOCK_WORDS]>;

/// One family's range.
#[derive(Debug)]
struct Range {
    count: u32,
    /// Words in use: `count` bits rounded up to a word.
    nwords: usize,
    blocks: Box<[OnceLock<Block>]>,
    /// The index of the first word that may hold a free bit.
    hint: AtomicUsize,
    leased: AtomicUsize,
}

impl Range {
    fn new(count: u32) -> Self {
        let count = count.min(MAX_POOL_ADDRESSES);
        let nwords = (count as usize).div_ceil(64);
        let blocks = (0..nwords.div_ceil(BLOCK_WORDS)).map(|_| OnceLock::new()).collect();
        Self { count, nwords, blocks, hint: AtomicUsize::new(0), leased: AtomicUsize::new(0) }
    }

    /// Word `w` (below `nwords`), its block made if no lease reached it before. Workers that
    /// reach a new block together make it once (`OnceLock`): the others wait for that one.
    fn word(&self, w: usize) -> &AtomicU64 {
        let block = self.blocks[w / BLOCK_WORDS].get_or_init(|| self.new_block(w / BLOCK_WORDS));
        &block[w % BLOCK_WORDS]
    }

    /// Word `w` if its block exists: a word in a block never made has no address leased.
    fn word_if_made(&self, w: usize) -> Option<&AtomicU64> {
        Some(&self.blocks.get(w / BLOCK_WORDS)?.get()?[w % BLOCK_WORDS])
    }

    /// Block `b` with every address free, and the bits past `count` (in the last word, and the
    /// words past `nwords` in the last block) marked taken, so no lease returns them.
    fn new_block(&self, b: usize) -> Block {
        Box::new(std::array::from_fn(|i| {
            let w = b * BLOCK_WORDS + i;
            let tail = self.count % 64;
            if w >= self.nwords {
                AtomicU64::new(u64::MAX)
            } else if w + 1 == self.nwords && tail != 0 {
                AtomicU64::new(u64::MAX << tail)
            } else {
                AtomicU64::new(0)
            }
        }))
    }

    fn lease(&self) -> Option<u32> {
        if self.leased.load(Ordering::Relaxed) >= self.count as usize {
            return None;
        }
        let n = self.nwords;
        let hint = self.hint.load(Ordering::Relaxed).min(n);
        // From the hint to the end, then the words before it (a stale hint).
        for w in (hint..n).chain(0..hint) {
            let word = self.word(w);
            let mut bits = word.load(Ordering::Relaxed);
            while bits != u64::MAX {
                let bit = (!bits).trailing_zeros();
                match word.compare_exchange_weak(
                    bits,
                    bits | (1 << bit),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        self.hint.store(w, Ordering::Relaxed);
                        self.leased.fetch_add(1, Ordering::Relaxed);
                        // The word index fits: there are at most 2^24 / 64 words.
                        return Some(w as u32 * 64 + bit);
                    }
                    Err(now) => bits = now,
                }
            }
        }
        None
    }

    fn release(&self, offset: u32) {
        if offset >= self.count {
            return;
        }
        let w = offset as usize / 64;
        let mask = 1u64 << (offset % 64);
        let Some(word) = self.word_if_made(w) else { return };
        // Only a bit that was set counts: releasing twice gives back one address.
        if word.fetch_and(!mask, Ordering::AcqRel) & mask != 0 {
            self.leased.fetch_sub(1, Ordering::Relaxed);
            self.hint.fetch_min(w, Ordering::Relaxed);
        }
    }

    fn leased(&self) -> usize {
        self.leased.load(Ordering::Relaxed)
    }
}

/// Hands out addresses from an [`AddressPool`] and takes them back when an IKE SA ends. Takes
/// `&self`: the workers of one responder share it (`Arc`) with no lock.
#[derive(Debug)]
pub struct AddressAllocator {
    pool: AddressPool,
    v4: Range,
    v6: Range,
}

impl AddressAllocator {
    pub fn new(pool: AddressPool) -> Self {
        let v4 = Range::new(pool.v4.map_or(0, |(_, n)| n));
        let v6 = Range::new(pool.v6.map_or(0, |(_, n)| n));
        Self { pool, v4, v6 }
    }

    pub fn pool(&self) -> &AddressPool {
        &self.pool
    }

    /// The lowest free IPv4 address (see the module documentation), leased until
    /// [`Self::release`].
    pub fn lease_v4(&self) -> Option<Ipv4Addr> {
        let (first, _) = self.pool.v4?;
        let offset = self.v4.lease()?;
        Some(Ipv4Addr::from(u32::from(first).wrapping_add(offset)))
    }

    /// The lowest free IPv6 address, leased until [`Self::release`].
    pub fn lease_v6(&self) -> Option<Ipv6Addr> {
        let (first, _) = self.pool.v6?;
        let offset = self.v6.lease()?;
        Some(Ipv6Addr::from(u128::from(first).wrapping_add(u128::from(offset))))
    }

    /// Takes back an address; one this pool never leased is ignored.
    pub fn release(&self, addr: IpAddr) {
        match (addr, self.pool.v4, self.pool.v6) {
            (IpAddr::V4(a), Some((first, _)), _) => {
                self.v4.release(u32::from(a).wrapping_sub(u32::from(first)));
            }
            (IpAddr::V6(a), _, Some((first, _))) => {
                let offset = u128::from(a).wrapping_sub(u128::from(first));
                if let Ok(offset) = u32::try_from(offset) {
                    self.v6.release(offset);
                }
            }
            _ => {}
        }
    }

    pub fn leased(&self) -> usize {
        self.v4.leased() + self.v6.leased()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::{Arc, Barrier};

    use super::*;

    fn v4_pool(first: Ipv4Addr, count: u32) -> AddressPool {
        AddressPool { v4: Some((first, count)), ..AddressPool::default() }
    }

    #[test]
    fn leases_lowest_free_and_reuses_released() {
        let a = AddressAllocator::new(v4_pool(Ipv4Addr::new(10, 0, 0, 1), 2));
        assert_eq!(a.lease_v4(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a.lease_v4(), Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(a.lease_v4(), None, "pool exhausted");
        a.release(Ipv4Addr::new(10, 0, 0, 1).into());
        assert_eq!(a.lease_v4(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a.lease_v6(), None, "no IPv6 pool");
    }

    #[test]
    fn releases_are_exact_and_foreign_addresses_ignored() {
        let a = AddressAllocator::new(AddressPool {
            v4: Some((Ipv4Addr::new(10, 0, 0, 10), 100)),
            v6: Some(("fd00::10".parse().unwrap(), 100)),
            ..AddressPool::default()
        });
        let v4: Vec<_> = (0..5).map(|_| a.lease_v4().unwrap()).collect();
        let v6 = a.lease_v6().unwrap();
        assert_eq!(a.leased(), 6);
        a.release(v4[3].into());
        a.release(v4[1].into());
        a.release(v4[1].into()); // twice: still one address back
        a.release(Ipv4Addr::new(10, 0, 0, 9).into()); // below the pool
        a.release(Ipv4Addr::new(10, 0, 0, 200).into()); // never leased
        a.release("fd00::ffff:0:0".parse::<IpAddr>().unwrap()); // far outside
        assert_eq!(a.leased(), 4);
        assert_eq!(a.lease_v4(), Some(v4[1]), "lowest free first");
        assert_eq!(a.lease_v4(), Some(v4[3]));
        assert_eq!(a.lease_v4(), Some(Ipv4Addr::new(10, 0, 0, 15)));
        a.release(v6.into());
        assert_eq!(a.lease_v6(), Some(v6));
        assert_eq!(a.leased(), 7);
    }

    /// A large pool fills in time proportional to its size (a scan from the start on every
    /// lease took quadratic time: hours for this one).
    #[test]
    fn a_large_pool_fills_and_drains() {
        let a = AddressAllocator::new(v4_pool(Ipv4Addr::new(10, 0, 0, 0), 1 << 18));
        for _ in 0..(1 << 18) {
            a.lease_v4().expect("room left");
        }
        assert_eq!(a.lease_v4(), None);
        assert_eq!(a.leased(), 1 << 18);
        for i in (0..(1u32 << 18)).step_by(2) {
            a.release(Ipv4Addr::from(0x0a00_0000 + i).into());
        }
        assert_eq!(a.leased(), 1 << 17);
        assert_eq!(a.lease_v4(), Some(Ipv4Addr::new(10, 0, 0, 0)));
    }

    /// The last address of a count that is not a multiple of 64 is handed out, none past it.
    #[test]
    fn a_count_between_words_ends_exactly() {
        let a = AddressAllocator::new(v4_pool(Ipv4Addr::new(10, 0, 0, 0), 130));
        let got: Vec<Ipv4Addr> = std::iter::from_fn(|| a.lease_v4()).collect();
        assert_eq!(got.len(), 130);
        assert_eq!(got.last(), Some(&Ipv4Addr::new(10, 0, 0, 129)));
        assert_eq!(a.leased(), 130);
        a.release(Ipv4Addr::new(10, 0, 0, 130).into());
        assert_eq!(a.leased(), 130, "past the count: never leased");
    }

    /// Issue 16: workers lease and release at the same time from one pool; no address is ever
    /// held by two of them, none is lost, and the pool ends empty.
    #[test]
    fn concurrent_workers_never_hold_one_address_twice() {
        const WORKERS: usize = 4;
        const COUNT: u32 = 1000;
        let a = Arc::new(AddressAllocator::new(v4_pool(Ipv4Addr::new(10, 0, 0, 0), COUNT)));
        let start = Arc::new(Barrier::new(WORKERS));
        let threads: Vec<_> = (0..WORKERS)
            .map(|_| {
                let (a, start) = (Arc::clone(&a), Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    let mut held = Vec::new();
                    // Churn: give one back every third lease, until the pool is dry.
                    let mut leases = 0;
                    while let Some(addr) = a.lease_v4() {
                        held.push(addr);
                        leases += 1;
                        if leases % 3 == 0 {
                            a.release(held.swap_remove(held.len() / 2).into());
                        }
                    }
                    held
                })
            })
            .collect();
        let held: Vec<Vec<Ipv4Addr>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let all: HashSet<Ipv4Addr> = held.iter().flatten().copied().collect();
        let total: usize = held.iter().map(Vec::len).sum();
        assert_eq!(total, all.len(), "an address held by two workers");
        assert_eq!(all.len(), COUNT as usize, "every address ends leased, none lost");
        assert_eq!(a.leased(), COUNT as usize);
        assert!(all.iter().all(|x| u32::from(*x) < COUNT + 0x0a00_0000));
        for addr in all {
            a.release(addr.into());
        }
        assert_eq!(a.leased(), 0);
    }

    #[test]
    fn a_huge_count_is_cut_to_the_maximum() {
        let a = AddressAllocator::new(v4_pool(Ipv4Addr::new(10, 0, 0, 0), u32::MAX));
        assert_eq!(a.v4.count, MAX_POOL_ADDRESSES);
        assert_eq!(a.v4.nwords, (MAX_POOL_ADDRESSES / 64) as usize);
        assert_eq!(a.v4.blocks.len(), (MAX_POOL_ADDRESSES / 64) as usize / BLOCK_WORDS);
    }

    /// A block of the bitmap is made when a lease first reaches it, not before: a pool for
    /// 2^24 clients holds none until the first lease, one for the first 4,096 leases, and a
    /// release of an address in a block never made changes nothing.
    #[test]
    fn blocks_are_made_as_leases_reach_them() {
        let made = |a: &AddressAllocator| a.v4.blocks.iter().filter(|b| b.get().is_some()).count();
        let a = AddressAllocator::new(v4_pool(Ipv4Addr::new(10, 0, 0, 0), MAX_POOL_ADDRESSES));
        assert_eq!(made(&a), 0);
        a.release(Ipv4Addr::new(10, 0, 0, 5).into());
        assert_eq!((made(&a), a.leased()), (0, 0), "a release makes no block");
        assert_eq!(a.lease_v4(), Some(Ipv4Addr::new(10, 0, 0, 0)));
        assert_eq!(made(&a), 1);
        for _ in 1..(64 * BLOCK_WORDS) {
            a.lease_v4().expect("room left");
        }
        assert_eq!(made(&a), 1, "4,096 leases fill the first block");
        assert_eq!(a.lease_v4(), Some(Ipv4Addr::new(10, 0, 16, 0)), "the next starts the second");
        assert_eq!(made(&a), 2);
        a.release(Ipv4Addr::new(10, 0, 0, 7).into());
        assert_eq!(a.lease_v4(), Some(Ipv4Addr::new(10, 0, 0, 7)), "lowest free first");
    }

    /// A count that ends inside a block's first word: the rest of that block is never leased.
    #[test]
    fn a_count_inside_a_block_ends_exactly() {
        let count = (64 * BLOCK_WORDS + 70) as u32;
        let a = AddressAllocator::new(v4_pool(Ipv4Addr::new(10, 0, 0, 0), count));
        assert_eq!(std::iter::from_fn(|| a.lease_v4()).count(), count as usize);
        assert_eq!(a.leased(), count as usize);
        assert_eq!(a.v4.blocks.len(), 2);
    }
}
