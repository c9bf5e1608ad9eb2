//! A responder on several cores: one [`Responder`] per worker, each on its own thread with its
//! own SAs and timers, sharing only the address pool (lock-free, `crate::pool`) and the remote
//! selector claims (one lock taken once per child SA).
//!
//! Every SPI a worker chooses carries the worker's index in its top byte: our IKE SPIs (the
//! responder SPI of an SA a client started, the initiator SPI of an IKE rekey we start) and our
//! inbound ESP SPIs. The runtime steers each datagram to the worker its SPI names (a socket
//! per worker and a classic BPF program on the SO_REUSEPORT group, `ikeway-tunnel`), so every
//! message of an IKE SA reaches the one worker that holds it, with no state shared between
//! workers on the way. An IKE_SA_INIT request (responder SPI zero) goes wherever the kernel's
//! hash of its addresses sends it, which is where its retransmissions and its cookie retry go
//! too.

use std::sync::{Arc, Mutex};

use crate::config::{AddressPool, Config};
use crate::pool::AddressAllocator;
use crate::provider::KeyExchangeProvider;
use crate::registry::{Claims, Registry};
use crate::responder::Responder;

/// The most workers one responder runs: the index must fit the top byte of an SPI.
pub const MAX_WORKERS: usize = 128;

/// Where a worker's index sits in our IKE SPIs (the top byte, RFC 7296 §3.1 leaves the SPI's
/// content to its chooser).
pub const IKE_SPI_WORKER_SHIFT: u32 = 56;

/// Where a worker's index sits in our inbound ESP SPIs (the top byte; RFC 4303 §2.1 leaves the
/// SPI's content to the receiver, values below 256 excepted).
pub const ESP_SPI_WORKER_SHIFT: u32 = 24;

/// The worker whose index one of our IKE SPIs carries.
pub fn worker_of_ike_spi(spi: u64) -> usize {
    (spi >> IKE_SPI_WORKER_SHIFT) as usize
}

/// The worker whose index one of our inbound ESP SPIs carries.
pub fn worker_of_esp_spi(spi: u32) -> usize {
    (spi >> ESP_SPI_WORKER_SHIFT) as usize
}

/// Which worker a registry belongs to, and so what its SPIs carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WorkerId {
    /// `None`: a responder alone (`Responder::new`), whose SPIs are random in every bit.
    index: Option<u8>,
}

impl WorkerId {
    pub(crate) const ALONE: Self = Self { index: None };

    /// Worker `index` of several.
    pub(crate) const fn of(index: u8) -> Self {
        Self { index: Some(index) }
    }

    /// A random IKE SPI (or owner name) with this worker's index in its top byte.
    pub(crate) fn stamp_ike(self, v: u64) -> u64 {
        match self.index {
            Some(i) => {
                (v & !(0xff << IKE_SPI_WORKER_SHIFT)) | (u64::from(i) << IKE_SPI_WORKER_SHIFT)
            }
            None => v,
        }
    }

    /// A random inbound ESP SPI with this worker's index in its top byte.
    pub(crate) fn stamp_esp(self, v: u32) -> u32 {
        match self.index {
            Some(i) => {
                (v & !(0xff << ESP_SPI_WORKER_SHIFT)) | (u32::from(i) << ESP_SPI_WORKER_SHIFT)
            }
            None => v,
        }
    }
}

/// What the workers of one responder share; [`Workers::responder`] makes each worker's
/// [`Responder`].
#[derive(Debug)]
pub struct Workers {
    count: usize,
    pool: Option<Arc<AddressAllocator>>,
    claims: Arc<Mutex<Claims>>,
}

impl Workers {
    /// `count` workers (cut to 1..=[`MAX_WORKERS`]) handing out `pool`.
    pub fn new(pool: Option<AddressPool>, count: usize) -> Self {
        let count = count.clamp(1, MAX_WORKERS);
        let pool = pool.map(|p| Arc::new(AddressAllocator::new(p)));
        Self { count, pool, claims: Arc::default() }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Addresses leased by all workers now.
    pub fn leased(&self) -> usize {
        self.pool.as_ref().map_or(0, |p| p.leased())
    }

    /// Worker `index`'s responder (an index past the count is cut to the last worker).
    pub fn responder(
        &self,
        index: usize,
        config: Arc<Config>,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: [u8; 32],
    ) -> Responder {
        let index = u8::try_from(index.min(self.count - 1)).unwrap_or(u8::MAX);
        let registry =
            Registry::new(WorkerId::of(index), self.pool.clone(), Arc::clone(&self.claims));
        Responder::with_registry(config, kex, registry, seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_put_the_index_in_the_top_byte_and_keep_the_rest() {
        let w = WorkerId { index: Some(5) };
        assert_eq!(w.stamp_ike(0xffee_ddcc_bbaa_9988), 0x05ee_ddcc_bbaa_9988);
        assert_eq!(w.stamp_esp(0xffee_ddcc), 0x05ee_ddcc);
        assert_eq!(worker_of_ike_spi(w.stamp_ike(u64::MAX)), 5);
        assert_eq!(worker_of_esp_spi(w.stamp_esp(u32::MAX)), 5);
        assert_eq!(WorkerId::ALONE.stamp_ike(0xffee_ddcc_bbaa_9988), 0xffee_ddcc_bbaa_9988);
        assert_eq!(WorkerId::ALONE.stamp_esp(0xffee_ddcc), 0xffee_ddcc);
    }
}
