//! MOBIKE (RFC 4555) against strongSwan 5.9.8 (kernel-libipsec, `mobike = yes`): our
//! `ikeway connect` keeps its tunnel while, under a running iperf3 and a 10 ms ping stream,
//! the client gets a new address and loses the old one, moves from the direct path to the
//! NAT path and back, and loses every path for 2 s. `testbeds/mobike-interop.sh` drives the
//! namespaces (one run, shared by the tests below); this judges what it recorded.
//!
//! The figures (longest gap in the ping stream and pings lost around each change) are printed
//! for the log; the only timing asserted is the functional bound: traffic again
//! within 2 s of each change.
//!
//! Needs root, network namespaces, nftables, strongSwan and iperf3
//! (`testbeds/install-peers.sh`); without them it says loudly that it was skipped.

// The measured figures are printed for the log; the assertions judge.
#![allow(clippy::print_stderr)]

mod testbed;

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;
use testbed::{BedRun, read, status, swanctl_sas};

/// Seconds between changes (the script's `IKW_MOBIKE_PHASE_S`).
const PHASE_S: u64 = 3;
/// The bound: the tunnel carries traffic again within 2 s of a change.
const RECOVERY_MS: f64 = 2000.0;

fn run() -> &'static BedRun {
    static RUN: OnceLock<BedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        BedRun::start(
            "mobike-interop.sh",
            "ikwmo",
            &["charon-systemd", "swanctl", "iperf3", "ping"],
            &[("IKW_MOBIKE_PHASE_S", PHASE_S.to_string())],
        )
    })
}

/// The run's folder, once the client connected; `None` after a loud skip.
fn dir() -> Option<&'static Path> {
    let dir = run().folder("MOBIKE interop (ikeway connect vs strongSwan)")?;
    testbed::assert_connected(dir);
    Some(dir)
}

/// When each change started (ms, wall clock), by name.
fn phases(dir: &Path) -> Vec<(String, f64)> {
    read(dir, "phases.txt")
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, ms)| (name.to_owned(), ms.trim().parse().expect("phase start, ms")))
        .collect()
}

fn phase(dir: &Path, name: &str) -> f64 {
    phases(dir).into_iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no phase {name}")).1
}

/// (arrival ms, icmp_seq) of each echo reply in `ping -D` output.
fn replies(dir: &Path) -> Vec<(f64, u64)> {
    read(dir, "ping.txt")
        .lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| {
            let t: f64 = l.strip_prefix('[')?.split(']').next()?.parse().ok()?;
            let seq = l.split("icmp_seq=").nth(1)?.split_whitespace().next()?.parse().ok()?;
            Some((t * 1000.0, seq))
        })
        .collect()
}

/// What the ping stream saw around a change at `start`: the longest silence between two
/// replies (ms) from the last reply before the change to the end of `window_ms`; pings lost
/// in between (sequence numbers never answered); and when the first reply after the change
/// came (ms after it).
#[derive(Debug)]
struct Gap {
    longest_ms: f64,
    lost: u64,
    first_after_ms: f64,
    replies_in_last_500ms: usize,
}

fn gap(replies: &[(f64, u64)], start: f64, window_ms: f64) -> Gap {
    let end = start + window_ms;
    let before = replies.iter().rev().find(|(t, _)| *t < start).copied();
    let within: Vec<_> = replies.iter().filter(|(t, _)| *t >= start && *t < end).copied().collect();
    let mut times: Vec<f64> = before.iter().map(|b| b.0).collect();
    times.extend(within.iter().map(|w| w.0));
    let longest_ms = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    let (lo, hi) = (before.map_or(0, |b| b.1), within.iter().map(|w| w.1).max().unwrap_or(0));
    let answered = within.iter().filter(|w| w.1 > lo && w.1 <= hi).count() as u64;
    Gap {
        longest_ms,
        lost: (hi.saturating_sub(lo)).saturating_sub(answered),
        first_after_ms: within.first().map_or(f64::INFINITY, |w| w.0 - start),
        replies_in_last_500ms: within.iter().filter(|w| w.0 >= end - 500.0).count(),
    }
}

/// The one IKE SA strongSwan has after a phase: (remote address, NAT seen, its SPIs). Our
/// client's TUN datapath carries ESP only in UDP, so it forces UDP encapsulation with a NAT
/// detection hash that cannot match: strongSwan sees a NAT in front of us on every path, and
/// the remote address is what tells the direct path from the NAT's.
fn sw_sa(dir: &Path, file: &str) -> (String, bool, String) {
    let sas = swanctl_sas(&read(dir, file));
    assert_eq!(sas.len(), 1, "{file}: exactly one IKE SA: {}", read(dir, file));
    let f = &sas[0].fields;
    assert_eq!(f.get("state").map(String::as_str), Some("ESTABLISHED"), "{file}: {f:?}");
    assert!(
        sas[0].children.iter().any(|c| c.get("state").map(String::as_str) == Some("INSTALLED")),
        "{file}: a child SA installed: {:?}",
        sas[0].children
    );
    (
        f["remote-host"].clone(),
        f.get("nat-remote").map(String::as_str) == Some("yes"),
        format!("{}/{}", f["initiator-spi"], f["responder-spi"]),
    )
}

/// The address change under iperf3: strongSwan shows the new address on the same IKE SA,
/// `ikeway status` our new address, and the ping stream carries on within 2 s.
#[test]
fn a_new_address_replacing_the_old_keeps_the_tunnel() {
    let Some(dir) = dir() else { return };
    let (start_host, _, start_id) = sw_sa(dir, "start.sas");
    assert_eq!(start_host, "10.97.0.2");
    let (host, nat, id) = sw_sa(dir, "address.sas");
    assert_eq!((host.as_str(), nat), ("10.97.0.3", true), "strongSwan follows the new address");
    assert_eq!(id, start_id, "the same IKE SA: moved, not re-established");
    // kernel-libipsec cannot move an SA: strongSwan rekeys the child after the update, and we
    // answer it (CREATE_CHILD_SA from the original responder: keys in the exchange's order,
    // RFC 7296 §2.17); the ping stream below proves the new child carries traffic.
    let child_spi = |file: &str| {
        swanctl_sas(&read(dir, file))[0]
            .children
            .iter()
            .filter(|c| c.get("state").map(String::as_str) == Some("INSTALLED"))
            .find_map(|c| c.get("spi-in").cloned())
    };
    let (before, after) = (child_spi("start.sas"), child_spi("address.sas"));
    assert!(
        before.is_some() && after.is_some() && before != after,
        "rekeyed: {before:?} {after:?}"
    );
    let st = status(dir, "address.status.json");
    assert_eq!(st["status"], "connected", "{st}");
    assert_eq!(st["local"], "10.97.0.3", "{st}");
    let g = gap(&replies(dir), phase(dir, "address"), (PHASE_S * 1000) as f64);
    eprintln!(
        "MOBIKE address change: longest ping gap {:.0} ms, {} pings lost (10 ms apart)",
        g.longest_ms, g.lost
    );
    assert!(g.longest_ms < RECOVERY_MS, "traffic again within 2 s: {g:?}");
    assert!(g.replies_in_last_500ms > 0, "traffic flows after the change: {g:?}");
}

/// Direct -> NAT -> direct: strongSwan sees the NAT's address and then the
/// direct address again, on the same IKE SA; traffic again within 2 s each time.
#[test]
fn a_move_between_the_direct_and_the_nat_path_keeps_the_tunnel() {
    let Some(dir) = dir() else { return };
    let (_, _, start_id) = sw_sa(dir, "start.sas");
    let (host, nat, id) = sw_sa(dir, "to-nat.sas");
    assert_eq!((host.as_str(), nat), ("10.99.0.3", true), "through the NAT");
    assert_eq!(id, start_id);
    assert_eq!(status(dir, "to-nat.status.json")["local"], "10.98.0.2");
    let (host, nat, id) = sw_sa(dir, "to-direct.sas");
    assert_eq!((host.as_str(), nat), ("10.97.0.3", true), "direct again");
    assert_eq!(id, start_id);
    assert_eq!(status(dir, "to-direct.status.json")["local"], "10.97.0.3");
    let r = replies(dir);
    for name in ["to-nat", "to-direct"] {
        let g = gap(&r, phase(dir, name), (PHASE_S * 1000) as f64);
        eprintln!(
            "MOBIKE {name}: longest ping gap {:.0} ms, {} pings lost (10 ms apart)",
            g.longest_ms, g.lost
        );
        assert!(g.longest_ms < RECOVERY_MS, "{name}: traffic again within 2 s: {g:?}");
        assert!(g.replies_in_last_500ms > 0, "{name}: traffic flows after: {g:?}");
    }
}

/// No path at all: `ikeway status` says reasserting; when a path returns the same IKE SA moves
/// to it, the status is connected again and traffic flows within 2 s.
#[test]
fn no_path_is_reasserting_and_a_returning_path_recovers() {
    let Some(dir) = dir() else { return };
    let during = status(dir, "no-path.during.json");
    assert_eq!(during["status"], "reasserting", "{during}");
    let after = status(dir, "recover.status.json");
    assert_eq!(after["status"], "connected", "{after}");
    assert_eq!(after["local"], "10.98.0.2", "{after}");
    let (_, _, start_id) = sw_sa(dir, "start.sas");
    let (host, nat, id) = sw_sa(dir, "recover.sas");
    assert_eq!((host.as_str(), nat, id), ("10.99.0.3", true, start_id));
    let log = read(dir, "connection.log");
    assert!(log.contains("Connected -> Reasserting"), "{log}");
    assert!(log.contains("Reasserting -> Connected"), "{log}");
    let g = gap(&replies(dir), phase(dir, "recover"), (PHASE_S * 1000) as f64);
    eprintln!(
        "MOBIKE no path for 2 s, then a path: first reply {:.0} ms after the route returned",
        g.first_after_ms
    );
    assert!(g.first_after_ms < RECOVERY_MS, "traffic again within 2 s of the path: {g:?}");
    assert!(g.replies_in_last_500ms > 0, "{g:?}");
}

/// The TCP flow through the tunnel (iperf3, inner addresses unchanged) survives every move,
/// and carries data after the last one.
#[test]
fn iperf3_runs_through_every_move() {
    let Some(dir) = dir() else { return };
    let v: Value = serde_json::from_str(&read(dir, "iperf3.json")).expect("iperf3 JSON");
    assert!(v.get("error").is_none(), "iperf3 failed: {}", v["error"]);
    let intervals = v["intervals"].as_array().expect("intervals");
    let last = intervals.last().expect("at least one interval");
    let bytes = last["sum"]["bytes"].as_u64().unwrap_or(0);
    eprintln!(
        "MOBIKE iperf3: {:.3} Gbit/s received over the whole run (5 moves), {} retransmits",
        v["end"]["sum_received"]["bits_per_second"].as_f64().unwrap_or(0.0) / 1e9,
        v["end"]["sum_sent"]["retransmits"].as_u64().unwrap_or(0)
    );
    assert!(bytes > 0, "data in the last interval: {last}");
}
