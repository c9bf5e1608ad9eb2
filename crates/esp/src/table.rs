//! Inbound SAs keyed by SPI: the receive path's one entry point.

use std::collections::HashMap;

use crate::DropReason;
use crate::sa::{Counters, Decapsulated, ESP_HEADER_LEN, InboundSa};

/// The inbound SAs of one worker, found by the SPI in each packet (RFC 4301 §4.1: for unicast
/// SAs the SPI alone selects the SA). Lookups do not allocate.
#[derive(Debug, Default)]
pub struct SaTable {
    inbound: HashMap<u32, InboundSa>,
    /// Drops that belong to no SA: packets too short to name one, and unknown SPIs.
    counters: Counters,
}

impl SaTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs `sa`, returning the SA it replaces, if any.
    pub fn insert(&mut self, sa: InboundSa) -> Option<InboundSa> {
        self.inbound.insert(sa.spi(), sa)
    }

    pub fn remove(&mut self, spi: u32) -> Option<InboundSa> {
        self.inbound.remove(&spi)
    }

    pub fn get(&self, spi: u32) -> Option<&InboundSa> {
        self.inbound.get(&spi)
    }

    pub fn get_mut(&mut self, spi: u32) -> Option<&mut InboundSa> {
        self.inbound.get_mut(&spi)
    }

    pub fn len(&self) -> usize {
        self.inbound.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inbound.is_empty()
    }

    /// Drops counted by the table itself ([`DropReason::Short`] below 8 bytes,
    /// [`DropReason::UnknownSpi`]); the SAs count the rest.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Finds the SA for `packet` and decapsulates it in place ([`InboundSa::decapsulate`]).
    pub fn decapsulate<'a>(
        &mut self,
        packet: &'a mut [u8],
    ) -> Result<Decapsulated<'a>, DropReason> {
        let Some(spi) =
            packet.get(..ESP_HEADER_LEN).map(|h| u32::from_be_bytes([h[0], h[1], h[2], h[3]]))
        else {
            self.counters.drop(DropReason::Short);
            return Err(DropReason::Short);
        };
        match self.inbound.get_mut(&spi) {
            Some(sa) => sa.decapsulate(packet),
            None => {
                self.counters.drop(DropReason::UnknownSpi);
                Err(DropReason::UnknownSpi)
            }
        }
    }
}
