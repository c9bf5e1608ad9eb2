//! An IKEv1 initiator ([`Ikev1Sa`], "Cisco IPSec") as a session drives it: the same sans-IO
//! loop as IKEv2's (`handle_datagram`, `poll_transmit`, `poll_event`, timers), the events that
//! mean the same for both (`ikev1::Event::Ike`), the same datapath for its ESP SAs.
//!
//! What only IKEv2 has is absent here rather than faked: no IKEv2 SA to give commands to
//! ([`Role::own_sa`] is `None`, so `Act` commands and MOBIKE do nothing), no redirect, and the
//! datapath's soft-lifetime rekey requests are left to the engine's own phase 2 rekey timers.

use std::net::SocketAddr;
use std::time::Instant;

use ikeway_ikev1::Ikev1Sa;
use ikeway_sa::{Engine, EngineEvent, IkeSa, SaId, Transmit};

use crate::datapath::ChildOwner;
use crate::engine::Role;

/// The session's engine for an IKEv1 initiator.
pub(crate) struct Ikev1Initiator(pub(crate) Ikev1Sa);

impl Engine for Ikev1Initiator {
    fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) {
        self.0.handle_datagram(now, remote, local, datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.0.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.0.poll_timeout()
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>> {
        self.0.poll_transmit(buf)
    }

    /// The events IKEv1 shares with IKEv2; an IKEv1-only one (the Unity banner, a prompt the
    /// configuration already answered) is passed over.
    fn poll_event(&mut self) -> Option<EngineEvent> {
        loop {
            let ikeway_ikev1::EngineEvent { sa, event } = self.0.poll_event()?;
            #[allow(unreachable_patterns)] // `Event` is non-exhaustive: more variants come.
            match event {
                ikeway_ikev1::Event::Ike(event) => return Some(EngineEvent { sa, event }),
                _ => continue,
            }
        }
    }

    /// There is no IKEv2 SA to give.
    fn sa_mut(&mut self, _id: SaId) -> Option<&mut IkeSa> {
        None
    }
}

impl ChildOwner for Ikev1Initiator {
    /// Quick mode rekeys run on the engine's own timers (before the lifetime it negotiated).
    fn rekey_child(&mut self, _now: Instant, _spi_in: u32) -> bool {
        false
    }
}

impl Role for Ikev1Initiator {
    fn own_sa(&mut self) -> Option<&mut IkeSa> {
        None
    }

    /// Until the engine can send a Delete, a disconnect ends the session after its grace.
    fn delete_all(&mut self, _now: Instant) {}

    fn all_closed(&self) -> bool {
        self.0.is_closed()
    }

    fn serves_many(&self) -> bool {
        false
    }

    fn stats_text(&self) -> (Option<String>, Option<String>, Option<String>) {
        (Some(format!("{:?}", self.0.stats())), None, None)
    }

    fn retransmits(&self) -> u64 {
        self.0.stats().retransmits
    }
}
