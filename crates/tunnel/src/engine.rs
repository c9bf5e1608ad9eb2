//! What the session loop needs of its role beyond the sans-IO interface both share
//! (`ikeway_sa::Engine`): the SA a command without a name concerns, deleting every IKE SA for
//! a graceful disconnect, knowing when none is left, and the counters.

use std::time::Instant;

use ikeway_sa::{Engine, IkeSa, Responder, SaId};

use crate::datapath::ChildOwner;
use crate::session::Action;

/// An initiator's [`IkeSa`] or a [`Responder`], as a session drives it.
pub(crate) trait Role: Engine + ChildOwner + Send {
    /// The initiator's one IKE SA, what a command without an SA name means; a responder has
    /// none.
    fn own_sa(&mut self) -> Option<&mut IkeSa>;
    /// Sends DELETE for every established IKE SA (RFC 7296 §1.4.1).
    fn delete_all(&mut self, now: Instant);
    /// No established IKE SA is left (an initiator's one, or all of a responder's).
    fn all_closed(&self) -> bool;
    /// A responder: events name their IKE SA, and a datapath failure concerns one client.
    fn serves_many(&self) -> bool;
    /// The IKE SA's counters (initiator), or the endpoint's and what its SAs hold
    /// (responder), as text.
    fn stats_text(&self) -> (Option<String>, Option<String>, Option<String>);
    /// Retransmissions of the initiator's SA (a responder: none counted here).
    fn retransmits(&self) -> u64;
    /// ESP from the peer reached the datapath since the last call (IKEv1's DPD counts it
    /// as hearing from the peer; IKEv2 checks liveness on IKE messages alone).
    fn peer_traffic_seen(&mut self, _now: Instant) {}
    /// A session event of the role's own, not one of the negotiation's (IKEv1's banner).
    fn poll_note(&mut self) -> Option<crate::event::EventKind> {
        None
    }
    /// What ends the session now, if anything (a question nobody can answer).
    fn take_failure(&mut self) -> Option<crate::session::SessionError> {
        None
    }
    /// A command for the SA `sa` names (one of a responder's) or, without a name, the
    /// initiator's SA.
    fn act(&mut self, now: Instant, sa: Option<SaId>, action: Action) {
        let sa = match sa {
            Some(id) => self.sa_mut(id),
            None => self.own_sa(),
        };
        if let Some(sa) = sa {
            crate::driver::apply(sa, now, action);
        }
    }
}

impl Role for IkeSa {
    fn own_sa(&mut self) -> Option<&mut IkeSa> {
        Some(self)
    }
    fn delete_all(&mut self, now: Instant) {
        if !self.is_closed() {
            self.delete_ike(now);
        }
    }
    fn all_closed(&self) -> bool {
        self.is_closed()
    }
    fn serves_many(&self) -> bool {
        false
    }
    fn stats_text(&self) -> (Option<String>, Option<String>, Option<String>) {
        (Some(format!("{:?}", self.stats())), None, None)
    }
    fn retransmits(&self) -> u64 {
        self.stats().retransmits
    }
}

impl Role for Responder {
    fn own_sa(&mut self) -> Option<&mut IkeSa> {
        None
    }
    fn delete_all(&mut self, now: Instant) {
        let open: Vec<_> = self.sas().filter(|sa| sa.is_established()).map(IkeSa::id).collect();
        for id in open {
            if let Some(sa) = self.sa_mut(id) {
                sa.delete_ike(now);
            }
        }
    }
    fn all_closed(&self) -> bool {
        self.sas().all(|sa| sa.is_closed() || !sa.is_established())
    }
    fn serves_many(&self) -> bool {
        true
    }
    fn stats_text(&self) -> (Option<String>, Option<String>, Option<String>) {
        (None, Some(format!("{:?}", self.stats())), Some(format!("{:?}", self.held())))
    }
    fn retransmits(&self) -> u64 {
        0
    }
}
