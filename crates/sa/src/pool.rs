//! Internal addresses a responder leases to clients (RFC 7296 §3.15.1).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::AddressPool;

/// Hands out addresses from an [`AddressPool`] and takes them back when an IKE SA ends.
#[derive(Debug)]
pub struct AddressAllocator {
    pool: AddressPool,
    leased: BTreeSet<IpAddr>,
}

impl AddressAllocator {
    pub fn new(pool: AddressPool) -> Self {
        Self { pool, leased: BTreeSet::new() }
    }

    pub fn pool(&self) -> &AddressPool {
        &self.pool
    }

    /// The lowest free IPv4 address, leased until [`Self::release`].
    pub fn lease_v4(&mut self) -> Option<Ipv4Addr> {
        let (first, count) = self.pool.v4?;
        let start = u32::from(first);
        (0..count)
            .map(|i| Ipv4Addr::from(start.wrapping_add(i)))
            .find(|a| self.leased.insert((*a).into()))
    }

    /// The lowest free IPv6 address, leased until [`Self::release`].
    pub fn lease_v6(&mut self) -> Option<Ipv6Addr> {
        let (first, count) = self.pool.v6?;
        let start = u128::from(first);
        (0..count)
            .map(|i| Ipv6Addr::from(start.wrapping_add(u128::from(i))))
            .find(|a| self.leased.insert((*a).into()))
    }

    pub fn release(&mut self, addr: IpAddr) {
        self.leased.remove(&addr);
    }

    pub fn leased(&self) -> usize {
        self.leased.len()
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
}
