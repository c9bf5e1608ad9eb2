//! Internal addresses a responder leases to clients (RFC 7296 §3.15.1).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::AddressPool;

/// One family's range: offsets below `next` are leased unless in `free`; offsets from `next`
/// on were never leased. A lease or release is O(log n), whatever the number of clients (a
/// scan for the lowest free address made every IKE_AUTH cost as much as the leases held).
#[derive(Debug, Default)]
struct Range {
    count: u32,
    next: u32,
    free: BTreeSet<u32>,
}

impl Range {
    fn new(count: u32) -> Self {
        Self { count, ..Self::default() }
    }

    /// The lowest free offset: every free offset below `next` is in `free`.
    fn lease(&mut self) -> Option<u32> {
        if let Some(offset) = self.free.pop_first() {
            return Some(offset);
        }
        (self.next < self.count).then(|| {
            self.next += 1;
            self.next - 1
        })
    }

    fn release(&mut self, offset: u32) {
        if offset < self.next {
            self.free.insert(offset);
        }
    }

    fn leased(&self) -> usize {
        self.next as usize - self.free.len()
    }
}

/// Hands out addresses from an [`AddressPool`] and takes them back when an IKE SA ends.
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

    /// The lowest free IPv4 address, leased until [`Self::release`].
    pub fn lease_v4(&mut self) -> Option<Ipv4Addr> {
        let (first, _) = self.pool.v4?;
        let offset = self.v4.lease()?;
        Some(Ipv4Addr::from(u32::from(first).wrapping_add(offset)))
    }

    /// The lowest free IPv6 address, leased until [`Self::release`].
    pub fn lease_v6(&mut self) -> Option<Ipv6Addr> {
        let (first, _) = self.pool.v6?;
        let offset = self.v6.lease()?;
        Some(Ipv6Addr::from(u128::from(first).wrapping_add(u128::from(offset))))
    }

    /// Takes back an address; one this pool never leased is ignored.
    pub fn release(&mut self, addr: IpAddr) {
        match (addr, self.pool.v4, self.pool.v6) {
            (IpAddr::V4(a), Some((first, count)), _) => {
                let offset = u32::from(a).wrapping_sub(u32::from(first));
                if offset < count {
                    self.v4.release(offset);
                }
            }
            (IpAddr::V6(a), _, Some((first, count))) => {
                let offset = u128::from(a).wrapping_sub(u128::from(first));
                if let Ok(offset) = u32::try_from(offset)
                    && offset < count
                {
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
    use super::*;

    #[test]
    fn leases_lowest_free_and_reuses_released() {
        let mut a = AddressAllocator::new(AddressPool {
            v4: Some((Ipv4Addr::new(10, 0, 0, 1), 2)),
            ..AddressPool::default()
        });
        assert_eq!(a.lease_v4(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a.lease_v4(), Some(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(a.lease_v4(), None, "pool exhausted");
        a.release(Ipv4Addr::new(10, 0, 0, 1).into());
        assert_eq!(a.lease_v4(), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(a.lease_v6(), None, "no IPv6 pool");
    }

    #[test]
    fn releases_are_exact_and_foreign_addresses_ignored() {
        let mut a = AddressAllocator::new(AddressPool {
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

    /// A large pool fills in time proportional to its size (the scan it replaced took
    /// quadratic time: hours for this one).
    #[test]
    fn a_large_pool_fills_and_drains() {
        let mut a = AddressAllocator::new(AddressPool {
            v4: Some((Ipv4Addr::new(10, 0, 0, 0), 1 << 18)),
            ..AddressPool::default()
        });
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
}
