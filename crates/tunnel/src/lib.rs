//! `ikeway-tunnel`: the connection runtime that embedders, the manager and the `ikeway` binary
//! share. It sits over the sans-IO negotiation (`ikeway-sa`) and the datapath (`ikeway-pump`)
//! as `quinn` sits over `quinn-proto` and `quinn-udp`: it owns the sockets, the timers, the
//! datapath and the host's network changes, and runs them on its own thread.
//!
//! (Being built in issue 10: `Session`, `SessionHandle`, the event stream, `HostNetwork` and
//! `TunnelPlan` land here; see docs/ARCHITECTURE.md.)

#![forbid(unsafe_code)]

pub mod child;
pub mod netstack;
