//! `ikeway_demo_run`: the in-process handshake and transfer of `ikeway demo`, through the C
//! ABI, with each line reported to a callback.
// `#[unsafe(no_mangle)]` on the export is the only unsafe code here; pointers go through
// `raw`.
#![allow(unsafe_code)]

use std::ffi::{CString, c_char, c_void};

use ikeway_tunnel::netstack::demo::{self, DemoEvent, DemoOptions};

use crate::error::{Failure, IkewayResult, guard};
use crate::raw::{out_ok, write_out};

/// What a demo line is about.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IkewayDemoEventKind {
    /// A heading: negotiation, traffic, status, disconnect.
    Phase = 0,
    /// An IKE datagram between the two ends.
    Datagram = 1,
    /// Something the client's negotiation reported (IKE SA up, configuration, child SA).
    Negotiation = 2,
    /// Both ends have the child SA, and how long it took.
    Handshake = 3,
    /// How much of the transfer has arrived (many of these; most callers skip them).
    Progress = 4,
    /// The transfer completed.
    Transferred = 5,
    /// The status table (several lines).
    Status = 6,
    /// The IKE SA closed.
    Closed = 7,
}

/// Called once per demo line, on the calling thread, with the `ctx` given to
/// `ikeway_demo_run`; `line` is UTF-8, borrowed for the duration of the call.
pub type IkewayDemoCallback =
    Option<extern "C" fn(ctx: *mut c_void, kind: IkewayDemoEventKind, line: *const c_char)>;

/// The figures of a demo run.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IkewayDemoResult {
    /// From the first IKE_SA_INIT to the child SA, in microseconds.
    pub handshake_us: u64,
    /// Bytes that arrived intact.
    pub transferred: u64,
    /// How long the transfer took, in microseconds.
    pub transfer_us: u64,
    /// ESP packets the client sent.
    pub sent_packets: u64,
    /// ESP packets the client received.
    pub received_packets: u64,
    /// Packets dropped.
    pub drops: u64,
}

fn kind(e: &DemoEvent) -> IkewayDemoEventKind {
    match e {
        DemoEvent::Phase(_) => IkewayDemoEventKind::Phase,
        DemoEvent::Datagram { .. } => IkewayDemoEventKind::Datagram,
        DemoEvent::Handshake { .. } => IkewayDemoEventKind::Handshake,
        DemoEvent::Progress { .. } => IkewayDemoEventKind::Progress,
        DemoEvent::Transferred { .. } => IkewayDemoEventKind::Transferred,
        DemoEvent::Status(_) => IkewayDemoEventKind::Status,
        DemoEvent::Closed(_) => IkewayDemoEventKind::Closed,
        _ => IkewayDemoEventKind::Negotiation,
    }
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Runs both ends of an IKEv2/IPsec tunnel in this process over loopback UDP (no root): the
/// negotiation, a TCP transfer of `bytes` bytes between two userspace stacks through the
/// child SA, the status, and the DELETE, reporting each line to `callback` (may be NULL). On
/// success `*out_result` (may be NULL) gets the figures.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_demo_run(
    bytes: u64,
    callback: IkewayDemoCallback,
    ctx: *mut c_void,
    out_result: *mut IkewayDemoResult,
) -> IkewayResult {
    guard(|| {
        if bytes == 0 {
            return Err(Failure::new(IkewayResult::InvalidArgument, "bytes must be at least 1"));
        }
        let status = demo::run(DemoOptions { bytes }, &mut |event| {
            if let Some(cb) = callback {
                // Demo lines never hold a NUL; an empty line stands in if one ever did.
                let line = CString::new(event.to_string()).unwrap_or_default();
                cb(ctx, kind(event), line.as_ptr());
            }
        })
        .map_err(|e| Failure::new(IkewayResult::Tunnel, e.to_string()))?;
        if out_ok(out_result, "out_result").is_ok() {
            let result = IkewayDemoResult {
                handshake_us: micros(status.handshake),
                transferred: status.transferred,
                transfer_us: micros(status.transfer_time),
                sent_packets: status.traffic.sent_packets,
                received_packets: status.traffic.received_packets,
                drops: status.traffic.drops,
            };
            write_out(out_result, result, "out_result")?;
        }
        Ok(())
    })
}
