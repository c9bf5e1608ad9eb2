//! Quick mode (RFC 2409 §5.5, exchange 32): the ESP SAs of an ISAKMP SA, both roles.
//!
//! ```text
//! Initiator                                   Responder
//! HDR*, HASH(1), SA, Ni [, KE] [, IDci, IDcr]  -->
//!                 <--  HDR*, HASH(2), SA, Nr [, KE] [, IDci, IDcr] [, N(RESPONDER-LIFETIME)]
//! HDR*, HASH(3)                                -->
//! ```
//!
//! The initiator installs the SA when message 2 checks out; the responder when message 3
//! does (the commit bit is neither set nor waited for). Either side starts quick modes: the
//! client its first one after mode config, both sides rekeys before the lifetime ends (new
//! SPIs, the old SA deleted once the new one is in). IKEv1 has no link between an SA and the
//! one it replaces, so a peer's quick mode for the client IDs of an SA we hold is taken as its
//! rekey.

mod config;
mod handover;
pub(crate) mod hash;
mod ids;
mod initiator;
#[cfg(test)]
pub(crate) mod kat_tests;
mod keymat;
mod offer;
mod peer_delete;
mod responder;
mod suite;

use std::time::{Duration, Instant};

use ikeway_sa::{ActiveKeyExchange, ChildSaInfo};

pub use config::{EspProposal, QuickConfig, Subnet};
pub use peer_delete::REMAKES_AFTER_PEER_DELETE;
pub use suite::Encapsulation;

use crate::engine::Ikev1Sa;
use suite::Transform;

/// Split networks (mode config's Cisco UNITY split include or INTERNAL_IP4_SUBNET) a client
/// asks a quick mode for, one ESP SA each; more are left out (and not reported, so not
/// routed). Half of [`QuickConfig::max_children`]'s default, so that a make-before-break
/// rekey of every one of them still fits.
pub const MAX_SPLIT_NETWORKS: usize = 8;

/// Our own quick modes under negotiation at once; the others wait in turn. A gateway keeps
/// the IV chains of only a few exchanges (strongSwan 5.9.8: the last 3,
/// `charon.max_ikev1_exchanges`): quick modes for many split networks sent together would
/// push the first ones' out before their message 3 arrived.
pub(crate) const OWN_AT_ONCE: usize = 1;

/// An ESP SA this ISAKMP SA negotiated and the datapath holds.
#[derive(Debug, Clone)]
pub(crate) struct Child {
    pub spi_in: u32,
    pub spi_out: u32,
    /// Our client ID and the peer's, `None` for host to host.
    pub ids: Option<(Subnet, Subnet)>,
    /// When we rekey it: quick modes we started only (the side that started one rekeys it);
    /// `None` once the rekey is under way.
    pub rekey_at: Option<Instant>,
    pub expire_at: Instant,
    /// A newer SA for the same client IDs is installed (the peer's rekey): this one only
    /// waits for the peer's Delete or its end.
    pub superseded: bool,
}

/// Our quick mode waiting for message 2.
#[derive(Debug)]
struct Initiating {
    message_id: u32,
    spi_in: u32,
    ni: Vec<u8>,
    kex: Option<Box<dyn ActiveKeyExchange>>,
    offered: Vec<Transform>,
    ids: Option<(Subnet, Subnet)>,
    /// The inbound SPI of the SA this one rekeys.
    replaces: Option<u32>,
    datagram: Vec<u8>,
    sends: u32,
    resend_at: Instant,
}

/// The peer's quick mode, answered, waiting for message 3.
#[derive(Debug)]
struct Responding {
    message_id: u32,
    /// Message 1 as received: seen again, it is answered with `datagram` again.
    received: Vec<u8>,
    datagram: Vec<u8>,
    ni: Vec<u8>,
    nr: Vec<u8>,
    info: Box<ChildSaInfo>,
    child: Child,
    sends: u32,
    resend_at: Instant,
}

/// Our finished quick mode: message 3 is resent if message 2 comes again (it was lost),
/// until `until`.
#[derive(Debug)]
struct Finished {
    message_id: u32,
    received: Vec<u8>,
    datagram: Vec<u8>,
    until: Instant,
}

/// The quick mode state of an ISAKMP SA.
#[derive(Debug, Default)]
pub(crate) struct State {
    initiating: Vec<Initiating>,
    responding: Vec<Responding>,
    finished: Vec<Finished>,
    pub(crate) children: Vec<Child>,
    /// Quick modes we were asked to start before the ISAKMP SA was up (or while mode config
    /// ran): started once it is.
    queued: Vec<QueuedStart>,
    /// This SA succeeds another (`renew`): its ESP SAs come from there, no first quick mode.
    pub(crate) renewing: bool,
    /// `Event::RenewalDue` was reported.
    renewal_reported: bool,
    /// Gateway: what this SA left when the client deleted it, for the client's newer SA.
    orphans: Option<handover::Orphans>,
    /// Client: ESP SAs made again after the peer deleted them (`peer_delete`).
    remade_after_peer_delete: u32,
}

#[derive(Debug, Clone, Copy)]
struct QueuedStart {
    replaces: Option<u32>,
    /// The client IDs, when they are not the configured ones (an SA made again).
    ids: Option<Option<(Subnet, Subnet)>>,
}

impl State {
    pub(crate) fn uses(&self, message_id: u32) -> bool {
        self.initiating.iter().any(|i| i.message_id == message_id)
            || self.responding.iter().any(|r| r.message_id == message_id)
            || self.finished.iter().any(|f| f.message_id == message_id)
    }

    /// Our answer to a retransmitted message 1 (message 2) or message 2 (message 3).
    pub(crate) fn answer_to_repeat(&self, message_id: u32, ciphertext: &[u8]) -> Option<Vec<u8>> {
        let responding = self.responding.iter().find(|r| r.message_id == message_id);
        if let Some(r) = responding.filter(|r| r.received == ciphertext) {
            return Some(r.datagram.clone());
        }
        let finished = self.finished.iter().find(|f| f.message_id == message_id);
        finished.filter(|f| f.received == ciphertext).map(|f| f.datagram.clone())
    }

    /// The earliest moment quick mode needs the clock.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let resends = self.initiating.iter().map(|i| i.resend_at);
        let answers = self.responding.iter().map(|r| r.resend_at);
        let finished = self.finished.iter().map(|f| f.until);
        let children =
            self.children.iter().flat_map(|c| c.rekey_at.into_iter().chain([c.expire_at]));
        resends.chain(answers).chain(finished).chain(children).min()
    }

    pub(crate) fn child_spis(&self) -> Vec<(u32, u32)> {
        self.children.iter().map(|c| (c.spi_in, c.spi_out)).collect()
    }
}

/// When to rekey an SA of `lifetime`: `margin` before its end, or halfway if it is shorter
/// than twice the margin.
fn rekey_after(lifetime: Duration, margin: Duration) -> Duration {
    if lifetime > margin.saturating_mul(2) { lifetime - margin } else { lifetime / 2 }
}

impl Ikev1Sa {
    /// Starts a quick mode for the configured client IDs (or queues it until the ISAKMP SA
    /// and mode config are done).
    pub fn create_child(&mut self, now: Instant) {
        self.start_quick(now, None);
    }

    /// Rekeys the ESP SA with inbound SPI `spi_in`: a new quick mode for its client IDs; the
    /// old SA is deleted once the new one is installed.
    pub fn rekey_child(&mut self, now: Instant, spi_in: u32) {
        if let Some(child) = self.quick.children.iter_mut().find(|c| c.spi_in == spi_in) {
            child.rekey_at = None;
            self.start_quick(now, Some(spi_in));
        }
    }

    /// Deletes the ESP SA with inbound SPI `spi_in` (a Delete to the peer, then
    /// `ChildSaRemoved`).
    pub fn delete_child(&mut self, now: Instant, spi_in: u32) {
        if self.quick.children.iter().any(|c| c.spi_in == spi_in) {
            self.send_delete_esp(now, &[spi_in]);
            self.remove_child(spi_in);
        }
    }

    /// Sends an ESP Delete naming `spis` as given, whether or not they are SAs of ours,
    /// removing nothing here: how tests play a peer that names the other SPI of a pair
    /// (strongSwan 5.9.8 after failing to install an SA) or an SA we never had.
    #[doc(hidden)]
    pub fn send_esp_delete_naming(&mut self, now: Instant, spis: &[u32]) {
        if self.is_established() {
            self.send_delete_esp(now, spis);
        }
    }

    /// The ESP SAs (inbound SPI, outbound SPI) this ISAKMP SA holds.
    pub fn child_spis(&self) -> Vec<(u32, u32)> {
        self.quick.child_spis()
    }

    /// Removes a child and tells the datapath.
    pub(crate) fn remove_child(&mut self, spi_in: u32) {
        if let Some(at) = self.quick.children.iter().position(|c| c.spi_in == spi_in) {
            let child = self.quick.children.remove(at);
            self.emit(ikeway_sa::Event::ChildSaRemoved {
                spi_in: child.spi_in,
                spi_out: child.spi_out,
            });
        }
    }

    /// Quick mode's timers: resends, forgetting finished exchanges, rekeys and expiries.
    pub(crate) fn handle_quick_timeout(&mut self, now: Instant) {
        self.resend_quick(now);
        let (done, kept): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.quick.finished).into_iter().partition(|f| now >= f.until);
        self.quick.finished = kept;
        for f in done {
            self.forget_chain(f.message_id);
        }
        let expired: Vec<Child> =
            self.quick.children.iter().filter(|c| now >= c.expire_at).cloned().collect();
        if !expired.is_empty() {
            let spis: Vec<u32> = expired.iter().map(|c| c.spi_in).collect();
            self.send_delete_esp(now, &spis);
            for child in &expired {
                self.remove_child(child.spi_in);
            }
            // An SA the gateway started and never rekeyed: the client makes it again rather
            // than lose the traffic it carried.
            if self.role == crate::engine::Role::Client {
                for child in expired.iter().filter(|c| !c.superseded) {
                    self.start_quick_with(now, child.ids, None);
                }
            }
        }
        let due: Vec<u32> = self
            .quick
            .children
            .iter()
            .filter(|c| c.rekey_at.is_some_and(|t| now >= t))
            .map(|c| c.spi_in)
            .collect();
        for spi in due {
            self.rekey_child(now, spi);
        }
    }

    /// Starts the quick modes asked for before the ISAKMP SA could carry them.
    pub(crate) fn start_queued_quick(&mut self, now: Instant) {
        for q in std::mem::take(&mut self.quick.queued) {
            match q.ids {
                Some(ids) => self.start_quick_with(now, ids, q.replaces),
                None => self.start_quick(now, q.replaces),
            }
        }
    }

    pub(crate) fn forget_chain(&mut self, message_id: u32) {
        if let Some(crypt) = self.crypt.as_mut() {
            crypt.forget(message_id);
        }
    }
}
