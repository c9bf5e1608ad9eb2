//! IKEv2 redirect (RFC 5685) against strongSwan 5.9.8 in network namespaces (issue 13's proof):
//! `swanctl --redirect` sends our connected client from strongSwan's A to strongSwan's B, which
//! serves it (REDIRECTED_FROM seen, traffic through B); our `serve --redirect-to` sends
//! strongSwan's initiator, and our own client, to a second responder in IKE_SA_INIT, and in
//! IKE_AUTH once the client authenticated.
//!
//! `testbeds/redirect-interop.sh` runs the peers and records what each side saw; this file
//! judges it. Needs root and strongSwan (`testbeds/install-peers.sh`); without them every test
//! says loudly that it was skipped.

mod testbed;

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;
use testbed::{Outcome, Runs, events, find, read, run_scenarios, status, swanctl_sas};

const NEEDS: &[&str] = &["charon-systemd", "swanctl"];
const A: &str = "10.99.0.2";
const B: &str = "10.99.0.5";

fn runs() -> Option<&'static Runs> {
    static RUNS: OnceLock<Outcome> = OnceLock::new();
    // No certificates: every case authenticates with the testbed's PSK (":" makes none).
    RUNS.get_or_init(|| {
        run_scenarios("redirect-interop.sh", "ikwd", ":", &["client", "server"], NEEDS)
    })
    .runs("redirect interop with strongSwan")
}

fn rc(dir: &Path, file: &str) -> String {
    read(dir, file).trim().to_owned()
}

/// (a) Connected at A, redirected by `swanctl --redirect` on the established SA, connected at
/// B: B logged REDIRECTED_FROM A, holds our SA with an address from its own pool, A holds
/// nothing, and traffic flows through B.
#[test]
fn swanctl_redirect_moves_our_connected_client_to_b() {
    let Some(runs) = runs() else { return };
    let dir = runs.dir("client");
    assert_eq!(rc(dir, "a.connect.rc"), "0", "{}", read(dir, "a.connect.out"));
    let before = status(dir, "a.status.json");
    assert_eq!(before["server"], format!("{A}:500"), "{before}");
    assert_eq!(before["internal_addresses"][0], "10.88.0.1/32", "A's pool: {before}");
    assert_eq!(read(dir, "a.redirect.out").trim(), "redirect completed successfully");
    assert_eq!(rc(dir, "a.b-up.rc"), "0", "strongSwan's connection b came up");

    let after = status(dir, "a.status.redirected.json");
    assert_eq!(after["status"], "connected", "{after}");
    assert_eq!(after["server"], format!("{B}:500"), "{after}");
    assert_eq!(after["internal_addresses"], serde_json::json!(["10.88.1.1/32"]), "{after}");
    // The tunnel's link carries B's address only: A's went with the old plan.
    let addrs = read(dir, "a.addrs.redirected");
    assert!(addrs.contains("inet 10.88.1.1/32"), "{addrs}");
    assert!(!addrs.contains("10.88.0.1"), "A's address is left: {addrs}");
    assert_eq!(rc(dir, "a.ping.rc"), "0", "ping through B: {}", read(dir, "a.ping.out"));

    let b = swanctl_sas(&read(dir, "a.sas-b"));
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0].fields["state"], "ESTABLISHED");
    assert_eq!(b[0].fields["local-host"], B);
    assert_eq!(b[0].fields["remote-vips"], "10.88.1.1");
    assert_eq!(
        b[0].children[0].get("spi-out").map(String::as_str),
        after["child_sas"][0]["spi_in"].as_str(),
        "B's child SA is ours"
    );
    assert!(swanctl_sas(&read(dir, "a.sas-a")).is_empty(), "our client deleted A's SA");

    let log = read(dir, "charon.log");
    for said in [
        "N(REDIR_SUP) ]".to_owned(),
        format!("redirecting peer to {B}"),
        "generating INFORMATIONAL request 0 [ N(REDIR) ]".to_owned(),
        "N(REDIR_FROM) ]".to_owned(),
        format!("client got redirected from {A}"),
    ] {
        assert!(log.contains(&said), "strongSwan did not log {said:?}");
    }
    let end = status(dir, "a.status.after.json");
    assert_eq!(end["status"], "disconnected", "{end}");
}

fn serve_events(dir: &Path, name: &str) -> Vec<Value> {
    events(dir, &format!("{name}.jsonl"))
}

/// The value of `name` in a `stats` event's endpoint counters (`EndpointStats { received: 2,
/// ... }`, as the event prints them).
fn counter(endpoint: &str, name: &str) -> Option<u64> {
    let (_, rest) = endpoint.split_once(&format!("{name}: "))?;
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// (b) strongSwan's initiator follows our IKE_SA_INIT redirect (with REDIRECTED_FROM) and
/// comes up at B; A reported nothing and kept nothing.
#[test]
fn our_responder_redirects_strongswans_initiator_in_ike_sa_init() {
    let Some(runs) = runs() else { return };
    let dir = runs.dir("server");
    assert_eq!(rc(dir, "b.rc"), "0", "{}", read(dir, "b.initiate.out"));
    let sas = swanctl_sas(&read(dir, "b.sas"));
    assert_eq!(sas.len(), 1, "{sas:?}");
    assert_eq!(sas[0].fields["state"], "ESTABLISHED");
    assert_eq!(sas[0].fields["remote-host"], B);
    assert_eq!(sas[0].children[0]["state"], "INSTALLED");
    let log = read(dir, "b.charon.log");
    for said in [
        "parsed IKE_SA_INIT response 0 [ N(REDIR) ]".to_owned(),
        format!("redirected to {B}"),
        "N(REDIR_FROM) ]".to_owned(),
    ] {
        assert!(log.contains(&said), "strongSwan did not log {said:?}");
    }
    // A redirects statelessly: it reported no SA at all, only its status (connected, then
    // disconnected when stopped) and, at the end, each worker's counters, which count the
    // redirects.
    let a = serve_events(dir, "serve-a");
    assert!(a.iter().all(|e| e["event"] == "status" || e["event"] == "stats"), "{a:?}");
    assert_eq!(a[0]["status"], "connected", "{a:?}");
    let redirected: u64 = find(&a, "stats")
        .iter()
        .filter_map(|e| counter(e["endpoint"].as_str()?, "redirected_at_init"))
        .sum();
    assert!(redirected >= 1, "{a:?}");
    let b = serve_events(dir, "serve-b");
    assert!(find(&b, "ike_sa_up").len() >= 2, "strongSwan (b) and our client (c) at B: {b:?}");
}

/// (c) and (c2): our client, redirected by our responder in IKE_SA_INIT and in IKE_AUTH, is
/// connected at B with B's address; in IKE_AUTH A sent the REDIRECT and our client deleted the
/// IKE SA there.
#[test]
fn our_client_follows_our_responders_redirect_in_both_exchanges() {
    let Some(runs) = runs() else { return };
    let dir = runs.dir("server");
    for case in ["c", "c2"] {
        assert_eq!(
            rc(dir, &format!("{case}.connect.rc")),
            "0",
            "{case}: {}",
            read(dir, &format!("{case}.connect.out"))
        );
        let st = status(dir, &format!("{case}.status.json"));
        assert_eq!(st["status"], "connected", "{case}: {st}");
        assert_eq!(st["server"], format!("{B}:500"), "{case}: {st}");
        let address = st["internal_addresses"][0].as_str().unwrap_or_default();
        assert!(address.starts_with("10.88.1."), "{case}: B's pool, got {st}");
    }
    let a2 = serve_events(dir, "serve-a2");
    let redirects = find(&a2, "redirect");
    assert_eq!(redirects.len(), 2, "c2 and b2: {a2:?}");
    assert!(redirects.iter().all(|r| r["gateway"] == B), "{a2:?}");
    // Our client (the first) deleted its IKE SA at A after following the redirect.
    let ours = &redirects[0]["sa"];
    assert!(
        a2.iter().any(|e| e["event"] == "ike_sa_closed"
            && e["reason"] == "DeletedByPeer"
            && e["sa"] == *ours),
        "{a2:?}"
    );
    assert!(find(&a2, "ike_sa_up").is_empty(), "A reports no SA up for a redirected client");
    assert!(find(&a2, "child_sa_installed").is_empty(), "no child SA at A: {a2:?}");
}

/// (b2) strongSwan 5.9.8's initiator authenticates our IKE_AUTH response with REDIRECT and
/// starts towards B, then aborts with a double free (a strongSwan bug: its own process, on
/// its redirect path); what it saw before is what we check.
#[test]
fn strongswan_accepts_our_authenticated_ike_auth_redirect() {
    let Some(runs) = runs() else { return };
    let dir = runs.dir("server");
    // charon's own log (flushed per line): swanctl's stream may break off with the crash.
    let log = read(dir, "b2.charon.log");
    for said in [
        "parsed IKE_AUTH response 1 [ IDr AUTH N(REDIR) ]".to_owned(),
        "authentication of 'srv.ikeway.test' with pre-shared key successful".to_owned(),
        format!("redirected to {B}"),
    ] {
        assert!(log.contains(&said), "strongSwan did not log {said:?}: {log}");
    }
}
