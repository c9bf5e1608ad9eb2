//! An ESP Delete from the peer (RFC 2408 §3.15, informational exchange under this ISAKMP
//! SA). The RFC has the sender name its inbound SPIs, our outbound ones, and strongSwan
//! 5.9.8 does so when it deletes an SA it holds; but when it fails to install an SA it
//! answered as responder it sends a Delete naming the initiator's SPI (its quick mode's
//! `spi_i`, our inbound SPI), and it looks an SPI up both ways itself. So either SPI of a
//! pair removes the pair, the peer's (outbound) one looked up first.

use std::time::Instant;

use super::Child;
use crate::engine::{Ikev1Sa, Role};

/// How many ESP SAs a client makes again after the peer deleted them, per ISAKMP SA. A
/// gateway that cannot install the SA deletes each one we make right after its quick mode:
/// without a bound that would be a loop at network speed.
pub const REMAKES_AFTER_PEER_DELETE: u32 = 3;

impl Ikev1Sa {
    /// The peer deleted the ESP SA one of whose SPIs is `spi`: `ChildSaRemoved`, and a client
    /// makes it again (at most [`REMAKES_AFTER_PEER_DELETE`] times per ISAKMP SA) unless a
    /// newer SA already replaces it or its rekey is under way, as for a gateway's SA that
    /// expired: the connection must not lose the traffic it carried. An SPI that names no SA
    /// of this ISAKMP SA is counted and ignored.
    pub(crate) fn esp_deleted_by_peer(&mut self, now: Instant, spi: u32) {
        let children = &self.quick.children;
        let found = children
            .iter()
            .find(|c| c.spi_out == spi)
            .or_else(|| children.iter().find(|c| c.spi_in == spi))
            .cloned();
        let Some(child) = found else {
            self.stats.ignored_deletes += 1;
            return;
        };
        self.remove_child(child.spi_in);
        if self.should_remake(&child) {
            self.quick.remade_after_peer_delete += 1;
            self.start_quick_with(now, child.ids, None);
        }
    }

    fn should_remake(&self, child: &Child) -> bool {
        let rekeying = self.quick.initiating.iter().any(|i| i.replaces == Some(child.spi_in))
            || self.quick.queued.iter().any(|q| q.replaces == Some(child.spi_in));
        self.role == Role::Client
            && !child.superseded
            && !rekeying
            && self.quick.remade_after_peer_delete < REMAKES_AFTER_PEER_DELETE
    }
}
