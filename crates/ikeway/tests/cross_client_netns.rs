//! Issue 9 finding 6 in real namespaces: two strongSwan clients against `ikeway serve --tun`;
//! the second proposes the first's leased address (10.88.0.10) as its TSi, once with an
//! address of its own from the pool and once without. Both times it must be refused with
//! TS_UNACCEPTABLE, and the first client's ping through the tunnel must keep working.
//! `testbeds/cross-client.sh` drives the namespaces and records; this judges.
//!
//! Before the fix, the first attempt got a child for 10.88.0.10 and the second took the
//! first client's traffic (its pings were all lost).
//!
//! Needs root, network namespaces, TUN and strongSwan (`testbeds/install-peers.sh`); without
//! them it says loudly that it was skipped, and fails when `CI=true`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

/// (transmitted, received) from ping's summary line.
fn ping_counts(dir: &Path, file: &str) -> (u64, u64) {
    let text = read(dir, file);
    let line = text
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .unwrap_or_else(|| panic!("no ping summary in {file}:\n{text}"));
    let nums: Vec<u64> =
        line.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    (nums[0], nums[1])
}

#[test]
fn a_client_proposing_another_clients_address_is_refused_and_the_first_keeps_its_traffic() {
    let test = "cross_client_netns";
    if !ikeway_testkit::is_root() {
        ikeway_testkit::skip(test, "not root (network namespaces and TUN need root)");
        return;
    }
    for tool in ["ip", "ping", "charon-systemd", "swanctl"] {
        if !ikeway_testkit::have(tool) {
            ikeway_testkit::skip(
                test,
                &format!("{tool} is not installed (run testbeds/install-peers.sh)"),
            );
            return;
        }
    }
    if !Path::new("/dev/net/tun").exists() {
        ikeway_testkit::skip(test, "/dev/net/tun is missing");
        return;
    }
    let out =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cross-client-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new("bash")
        .arg(root().join("testbeds/cross-client.sh"))
        .arg(&out)
        .arg(env!("CARGO_BIN_EXE_ikeway"))
        .env("IKW_PREFIX", format!("ikwxc{}", std::process::id() % 100_000))
        .status()
        .expect("bash runs");
    assert!(status.success(), "testbeds/cross-client.sh failed (output in {})", out.display());
    let o = out.as_path();

    assert_eq!(read(o, "cli-initiate.rc").trim(), "0", "{}", read(o, "cli-initiate.out"));
    assert_eq!(ping_counts(o, "ping1.out"), (3, 3), "client 1 through the tunnel, before");

    for attempt in ["cl2", "cl2b"] {
        let log = read(o, &format!("{attempt}-initiate.out"));
        assert!(
            log.contains("received TS_UNACCEPTABLE notify"),
            "{attempt}: the responder must refuse the selectors:\n{log}"
        );
        assert_ne!(read(o, &format!("{attempt}-initiate.rc")).trim(), "0", "{attempt}");
        assert!(
            !read(o, &format!("{attempt}.sas")).contains("state=INSTALLED"),
            "{attempt}: no child SA on the second client"
        );
    }

    let events: Vec<Value> =
        read(o, "serve.jsonl").lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let ups = events.iter().filter(|e| e["event"] == "ike_sa_up").count();
    assert_eq!(ups, 3, "client 1 and both attempts of client 2 authenticate");
    let children: Vec<&Value> =
        events.iter().filter(|e| e["event"] == "child_sa_installed").collect();
    assert_eq!(children.len(), 1, "only client 1's child: {children:?}");
    assert_eq!(children[0]["remote_ts"], serde_json::json!(["10.88.0.10-10.88.0.10"]));

    assert_eq!(ping_counts(o, "ping2.out"), (3, 3), "client 1 after attempt A");
    assert_eq!(ping_counts(o, "ping3.out"), (3, 3), "client 1 after attempt B");
}
