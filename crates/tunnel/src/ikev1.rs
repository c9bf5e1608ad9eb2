//! An IKEv1 initiator ([`Ikev1Sa`], "Cisco IPSec") as a session drives it: the same sans-IO
//! loop as IKEv2's (`handle_datagram`, `poll_transmit`, `poll_event`, timers), the events that
//! mean the same for both (`ikev1::Event::Ike`), the same datapath for its ESP SAs.
//!
//! Commands (rekey a child, DPD, delete) go to the engine in IKEv1 terms ([`Role::act`]).
//! What only IKEv2 has is absent here rather than faked: no IKEv2 SA ([`Role::own_sa`] is
//! `None`, so no MOBIKE), no redirect, no IKE SA rekey command.

use std::net::SocketAddr;
use std::time::Instant;

use ikeway_ikev1::Ikev1Sa;
use ikeway_sa::{Engine, EngineEvent, IkeSa, SaId, Transmit};

use crate::datapath::ChildOwner;
use crate::engine::Role;
use crate::session::Action;

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
    /// A new quick mode for the ESP SA the datapath asked about (its soft limit).
    fn rekey_child(&mut self, now: Instant, spi_in: u32) -> bool {
        let ours = self.0.child_spis().iter().any(|&(spi, _)| spi == spi_in);
        if ours {
            self.0.rekey_child(now, spi_in);
        }
        ours
    }
}

impl Role for Ikev1Initiator {
    fn own_sa(&mut self) -> Option<&mut IkeSa> {
        None
    }

    /// Deletes the ESP SAs and the ISAKMP SA (informational exchanges with Delete payloads).
    fn delete_all(&mut self, now: Instant) {
        if !self.0.is_closed() {
            self.0.delete_ike(now);
        }
    }

    /// The initiator's commands in IKEv1 terms; IKEv1 has no IKE SA rekey (RFC 2409: a new
    /// ISAKMP SA replaces the old one on the engine's own timer), so `RekeyIke` does nothing.
    fn act(&mut self, now: Instant, sa: Option<SaId>, action: Action) {
        if sa.is_some_and(|id| id != self.0.id()) {
            return;
        }
        let sa = &mut self.0;
        let first_child = sa.child_spis().first().map(|c| c.0);
        match action {
            Action::RekeyChild(spi) => {
                if let Some(spi) = spi.or(first_child) {
                    sa.rekey_child(now, spi);
                }
            }
            Action::RekeyIke => {}
            Action::Dpd => sa.dpd(now),
            Action::CreateChild => sa.create_child(now),
            Action::DeleteChild(spi) => {
                if let Some(spi) = spi.or(first_child) {
                    sa.delete_child(now, spi);
                }
            }
            Action::DeleteIke => sa.delete_ike(now),
        }
    }

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
