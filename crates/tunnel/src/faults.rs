//! Failures a peer can cause that must not end the service (issue 9 finding 9): a `sendto`
//! that fails for one address, a child SA the datapath refuses. Each is counted per cause and
//! reported, and the loop goes on for every other client.

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::event::EventKind;

/// What went wrong without ending the session, one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// A datagram could not be sent (unreachable address, no socket for the port, ...).
    #[serde(rename = "send_failed")]
    Send,
    /// The datapath refused or failed to apply an engine event (a child SA it cannot install).
    #[serde(rename = "datapath_failed")]
    Datapath,
}

impl Fault {
    /// The cause's name in events and stats.
    pub fn name(self) -> &'static str {
        match self {
            Self::Send => "send_failed",
            Self::Datapath => "datapath_failed",
        }
    }
}

impl Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The fault counters at one moment, as the stats event carries them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts {
    /// Datagrams that could not be sent.
    pub send_failed: u64,
    /// Engine events the datapath could not apply.
    pub datapath_failed: u64,
}

/// Per-cause counters, shared between the loop and whoever reports them.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    send: AtomicU64,
    datapath: AtomicU64,
}

impl Faults {
    fn counter(&self, fault: Fault) -> &AtomicU64 {
        match fault {
            Fault::Send => &self.send,
            Fault::Datapath => &self.datapath,
        }
    }

    /// Counts one fault; returns the event to report, only for the 1st, 2nd, 4th, 8th ... of
    /// a cause, so a peer that fails on every packet cannot flood the event stream.
    pub(crate) fn record(&self, fault: Fault, error: &dyn Display) -> Option<EventKind> {
        let n = self.counter(fault).fetch_add(1, Ordering::Relaxed) + 1;
        n.is_power_of_two().then(|| EventKind::Fault {
            cause: fault,
            count: n,
            error: error.to_string(),
        })
    }

    pub(crate) fn count(&self, fault: Fault) -> u64 {
        self.counter(fault).load(Ordering::Relaxed)
    }

    /// Every counter, for the stats event.
    pub(crate) fn counts(&self) -> FaultCounts {
        FaultCounts {
            send_failed: self.count(Fault::Send),
            datapath_failed: self.count(Fault::Datapath),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_powers_of_two_and_counts_every_fault() {
        let f = Faults::default();
        let logged: Vec<u64> = (1..=9)
            .filter_map(|_| f.record(Fault::Send, &"boom"))
            .map(|e| match e {
                EventKind::Fault { count, cause: Fault::Send, error } if error == "boom" => count,
                other => panic!("not a send fault: {other:?}"),
            })
            .collect();
        assert_eq!(logged, [1, 2, 4, 8]);
        assert_eq!(f.count(Fault::Send), 9);
        assert_eq!(f.count(Fault::Datapath), 0);
        assert_eq!(
            serde_json::to_value(f.counts()).expect("plain struct"),
            serde_json::json!({"send_failed": 9, "datapath_failed": 0})
        );
    }
}
