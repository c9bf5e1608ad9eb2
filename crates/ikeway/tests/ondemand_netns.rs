//! VPN On Demand against strongSwan 5.9.8 (kernel-libipsec, `mobike = yes`), as root in
//! network namespaces: `ikeway daemon` with an imported profile whose rules are "Disconnect on
//! the search domain corp.example", "Disconnect when the trusted-network probe URL says OK",
//! "Connect on Ethernet". `testbeds/ondemand-netns.sh` drives the namespaces (one run, shared
//! by the tests below) and records each phase; this judges what it recorded.
//!
//! Needs root, network namespaces, nftables, strongSwan and python3 (its `http.server` is the
//! probe URL's server); without them it says loudly that it was skipped (a failure under CI).

// The figure of the first connect is printed for the log; the assertions judge.
#![allow(clippy::print_stderr)]

mod testbed;

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;
use testbed::{BedRun, read, status};

fn run() -> &'static BedRun {
    static RUN: OnceLock<BedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        BedRun::start(
            "ondemand-netns.sh",
            "ikwod",
            &["charon-systemd", "swanctl", "python3", "ping"],
            &[],
        )
    })
}

/// The run's folder; `None` after a loud skip.
fn dir() -> Option<&'static Path> {
    let dir = run().folder("On Demand (ikeway daemon vs strongSwan)")?;
    Some(dir)
}

/// How long phase `name` took to reach its status, in ms; fails on a timeout.
fn reached(dir: &Path, name: &str) -> u64 {
    let phases = read(dir, "phases.txt");
    let line = phases
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("phase {name} did not run: {phases}"));
    line.parse().unwrap_or_else(|_| {
        panic!("phase {name}: {line}; daemon log:\n{}", read(dir, "daemon.log"))
    })
}

fn status_of(dir: &Path, file: &str) -> Value {
    status(dir, &format!("{file}.status.json"))
}

/// The daemon connects on its own: no `connect` command was given, the Connect rule
/// (interface type Ethernet) matched the client's wired link, and traffic goes through.
#[test]
fn the_daemon_connects_with_no_connect_command() {
    let Some(dir) = dir() else { return };
    assert!(read(dir, "import.out").contains("Roaming: enabled"), "{}", read(dir, "import.out"));
    let took = reached(dir, "up");
    let up = status_of(dir, "up");
    assert_eq!(up["status"], "connected", "{up}");
    assert_eq!(up["configuration"], "Roaming");
    assert_eq!(read(dir, "up.ping.rc").trim(), "0", "ping through the tunnel");
    let log = read(dir, "daemon.log");
    assert!(log.contains("Roaming: on demand: connecting"), "{log}");
    // `connect` through the control socket would have logged "Roaming: connecting".
    assert!(!log.lines().any(|l| l == "Roaming: connecting"), "{log}");
    eprintln!("connected on demand {took} ms after the daemon started");
}

/// With no route to the server the tunnel goes reasserting; with the route back it is
/// connected again and carries traffic.
#[test]
fn losing_the_route_reasserts_and_restoring_it_reconnects() {
    let Some(dir) = dir() else { return };
    reached(dir, "no-route");
    assert_eq!(status_of(dir, "no-route")["status"], "reasserting");
    reached(dir, "restored");
    let restored = status_of(dir, "restored");
    assert_eq!(restored["status"], "connected", "{restored}");
    assert_eq!(read(dir, "restored.ping.rc").trim(), "0", "ping after the route came back");
}

/// A Disconnect rule matching the resolver's search domain takes the tunnel down and keeps it
/// down (4 s later still), without an error; without the domain, Connect brings it back.
#[test]
fn a_disconnect_rule_on_the_search_domain_keeps_it_down() {
    let Some(dir) = dir() else { return };
    reached(dir, "corp");
    for file in ["corp", "corp.later"] {
        let s = status_of(dir, file);
        assert_eq!(s["status"], "disconnected", "{file}: {s}");
        assert_eq!(s["last_disconnect_error"], Value::Null, "{file}: not an error: {s}");
    }
    reached(dir, "back");
    assert_eq!(status_of(dir, "back")["status"], "connected");
    let log = read(dir, "daemon.log");
    assert!(log.contains("Roaming: on demand: disconnecting"), "{log}");
}

/// The probe URL rule: once the trusted network's server answers OK, a network change makes
/// the rules run again, the probe succeeds and its Disconnect rule keeps the tunnel down.
#[test]
fn a_probe_url_rule_detects_the_trusted_network() {
    let Some(dir) = dir() else { return };
    reached(dir, "trusted");
    for file in ["trusted", "trusted.later"] {
        assert_eq!(status_of(dir, file)["status"], "disconnected", "{file}");
    }
    let http = read(dir, "http.log");
    assert!(http.contains("\"GET /trusted HTTP/1.1\" 200"), "the probe was fetched: {http}");
}

/// After the daemon stopped: the client's routes are as before, no TUN link is left.
#[test]
fn the_host_is_restored_after_the_daemon_stops() {
    let Some(dir) = dir() else { return };
    assert_eq!(read(dir, "routes.end"), read(dir, "routes.before"));
    let links = read(dir, "links.end");
    assert!(!links.contains("ikeway"), "a TUN link is left: {links}");
}

/// EvaluateConnection through the daemon's DNS stub: a second profile enabled while the
/// daemon runs (it follows the configuration change and starts the stub); a name no rule
/// covers starts nothing, a ConnectIfNeeded name that does not resolve outside brings the
/// tunnel up, and the query is answered (with its ID) once it is.
#[test]
fn a_name_evaluate_connection_covers_brings_the_tunnel_up() {
    let Some(dir) = dir() else { return };
    let log = read(dir, "daemon.log");
    assert!(
        log.contains("Evaluate: on demand: DNS stub on 127.0.0.153:53"),
        "the daemon followed the configuration change: {log}"
    );
    // No resolver answers outside: SERVFAIL, and nothing started for an unrelated name.
    assert_eq!(read(dir, "evaluate.other.answer").trim(), "id=4660 rcode=2");
    assert_eq!(status_of(dir, "evaluate.other")["status"], "disconnected");
    let took = reached(dir, "evaluate");
    let up = status_of(dir, "evaluate");
    assert_eq!((&up["status"], &up["configuration"]), (&"connected".into(), &"Evaluate".into()));
    assert!(log.contains("Evaluate: on demand: connecting"), "{log}");
    // The server gave no DNS, so the stub relays the outside answer, after the tunnel is up.
    assert_eq!(read(dir, "evaluate.corp.answer").trim(), "id=4661 rcode=2");
    eprintln!("connected for git.corp.example {took} ms after the query");
}

/// `connect --foreground` runs the same On Demand: a Disconnect rule takes its tunnel down
/// without ending the process, and the Connect rule brings it back; SIGTERM ends it with the
/// routes as before.
#[test]
fn connect_foreground_runs_the_same_on_demand() {
    let Some(dir) = dir() else { return };
    reached(dir, "fg-up");
    assert_eq!(status_of(dir, "fg-up")["configuration"], "Roaming");
    reached(dir, "fg-corp");
    reached(dir, "fg-back");
    let log = read(dir, "foreground.log");
    assert!(log.contains("Roaming: on demand: disconnecting"), "{log}");
    assert!(log.contains("Roaming: on demand: connecting"), "{log}");
    assert_eq!(read(dir, "routes.fg-end"), read(dir, "routes.before"));
}
