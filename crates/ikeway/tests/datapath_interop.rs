//! The datapath end to end: our `ikeway initiate --tun` (ikeway-pump over io_uring) against a
//! strongSwan responder with kernel-libipsec, a protected host behind it. Ping over IPv4 and
//! IPv6, iperf3 TCP both ways, and a child SA rekey in the middle of an iperf3 run with a
//! ping stream alongside. `testbeds/datapath.sh interop` drives the namespaces; this judges.
//!
//! Needs root, network namespaces, strongSwan and iperf3 (`testbeds/install-peers.sh`);
//! without them it says loudly that it was skipped.

// The measured figures are printed for the log; the assertions judge.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn unavailable() -> Option<String> {
    if !ikeway_testkit::is_root() {
        return Some("not root (network namespaces and TUN need root)".into());
    }
    if !Path::new("/dev/net/tun").exists() {
        return Some("/dev/net/tun missing".into());
    }
    ["ip", "charon-systemd", "swanctl", "iperf3", "ping"]
        .into_iter()
        .find(|tool| !ikeway_testkit::have(tool))
        .map(|tool| format!("{tool} is not installed (run testbeds/install-peers.sh)"))
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
}

/// (transmitted, received) from ping's summary line.
fn ping_counts(text: &str) -> (u64, u64) {
    let line = text.lines().find(|l| l.contains("packets transmitted")).unwrap_or_else(|| {
        panic!("no ping summary in:\n{text}");
    });
    let nums: Vec<u64> =
        line.split(|c: char| !c.is_ascii_digit()).filter_map(|w| w.parse().ok()).collect();
    (nums[0], nums[1])
}

fn iperf(dir: &Path, file: &str) -> (f64, u64) {
    let v: Value = serde_json::from_str(&read(dir, file))
        .unwrap_or_else(|e| panic!("{file}: not iperf3 JSON: {e}"));
    assert!(v.get("error").is_none(), "{file}: iperf3 failed: {}", v["error"]);
    let end = &v["end"];
    (
        end["sum_received"]["bits_per_second"].as_f64().unwrap_or(0.0) / 1e9,
        end["sum_sent"]["retransmits"].as_u64().unwrap_or(0),
    )
}

#[test]
fn our_tunnel_to_strongswan_libipsec_carries_traffic_through_a_rekey() {
    if let Some(why) = unavailable() {
        ikeway_testkit::skip("datapath interop (ikeway --tun vs strongSwan libipsec)", &why);
        return;
    }
    let out = std::env::temp_dir().join(format!("ikeway-datapath-interop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new("bash")
        .arg(root().join("testbeds/datapath.sh"))
        .arg("interop")
        .arg(&out)
        .arg(env!("CARGO_BIN_EXE_ikeway"))
        .env("IKW_PREFIX", format!("ikwdi{}", std::process::id() % 10000))
        .status()
        .expect("bash runs");
    assert!(status.success(), "testbeds/datapath.sh interop failed (output in {})", out.display());

    let events: Vec<Value> =
        read(&out, "ours.log").lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    assert_eq!(count("datapath_sa_installed"), 2, "first child SA and its rekeyed successor");
    assert_eq!(count("datapath_sa_removed"), 1, "the old child SA, deleted after the rekey");
    assert!(read(&out, "ours.log").contains("exit 0"), "ikeway initiate failed");

    for file in ["ping4.txt", "ping6.txt", "ping4-after.txt"] {
        let (tx, rx) = ping_counts(&read(&out, file));
        assert_eq!(tx, rx, "{file}: lost pings through the tunnel");
    }
    let (fwd, fwd_retrans) = iperf(&out, "iperf-fwd.json");
    let (rev, _) = iperf(&out, "iperf-rev.json");
    assert!(fwd > 0.01 && rev > 0.01, "iperf3 through the tunnel: {fwd} / {rev} Gbit/s");
    let (tx, rx) = ping_counts(&read(&out, "pingstream.txt"));
    eprintln!(
        "datapath interop: iperf3 {fwd:.3} Gbit/s up ({fwd_retrans} retransmits, rekey inside), \
         {rev:.3} Gbit/s down; ping stream across the rekey: {} of {tx} lost",
        tx - rx
    );
    assert!(tx - rx <= 5, "{} pings lost across the rekey", tx - rx);
    let _ = std::fs::remove_dir_all(&out);
}
