//! Failures a peer can cause that must not end the service (issue 9 finding 9): a `sendto`
//! that fails for one address, a child SA the datapath refuses. Each is counted per cause and
//! logged, and the loop goes on for every other client.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

/// What went wrong, one counter each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// A datagram could not be sent (unreachable address, no socket for the port, ...).
    Send,
    /// The datapath refused or failed to apply an engine event (a child SA it cannot install).
    Datapath,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Self::Send => "send_failed",
            Self::Datapath => "datapath_failed",
        }
    }
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

    /// Counts one fault; returns the line to log, only for the 1st, 2nd, 4th, 8th ... of a
    /// cause, so a peer that fails on every packet cannot flood the log.
    pub(crate) fn record(&self, fault: Fault, error: &anyhow::Error) -> Option<Value> {
        let n = self.counter(fault).fetch_add(1, Ordering::Relaxed) + 1;
        n.is_power_of_two().then(|| {
            json!({"event": "fault", "cause": fault.name(), "count": n, "error": format!("{error:#}")})
        })
    }

    pub(crate) fn count(&self, fault: Fault) -> u64 {
        self.counter(fault).load(Ordering::Relaxed)
    }

    /// Every counter, for the final stats line.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            Fault::Send.name(): self.count(Fault::Send),
            Fault::Datapath.name(): self.count(Fault::Datapath),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_powers_of_two_and_counts_every_fault() {
        let f = Faults::default();
        let logged: Vec<u64> = (1..=9)
            .filter_map(|_| f.record(Fault::Send, &anyhow::anyhow!("boom")))
            .map(|v| v["count"].as_u64().expect("a count"))
            .collect();
        assert_eq!(logged, [1, 2, 4, 8]);
        assert_eq!(f.count(Fault::Send), 9);
        assert_eq!(f.count(Fault::Datapath), 0);
        assert_eq!(f.to_json(), json!({"send_failed": 9, "datapath_failed": 0}));
    }
}
