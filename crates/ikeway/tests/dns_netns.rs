//! Issue 14, DNS and MTU, against strongSwan sending INTERNAL_IP4_DNS (10.77.0.53) and
//! INTERNAL_DNS_DOMAIN (corp.example), with a real systemd-resolved (the Debian package,
//! unpacked by `testbeds/install-peers.sh`, never installed) on a private D-Bus in the client's
//! mount and network namespaces. `testbeds/dns-netns.sh` drives it and records; this judges.
//!
//! - split tunnel (`config add --mtu 1300`): resolved routes only `corp.example` to the
//!   tunnel's server (`~corp.example`, not a default route); a query for it is answered through
//!   the tunnel by the DNS server on the protected host, a query for any other name by the
//!   host's own server outside, and each server sees only its names. The TUN link has the
//!   configured MTU, and a TCP connection to the protected host shows the MSS clamp: the
//!   protected host's SYN-ACK leaves with MSS 1460 and reaches the client's TUN with 1260
//!   (1300 - 40). After disconnect resolved has no tunnel link left and the name goes outside.
//! - IncludeAllNetworks (a profile): every name goes to the tunnel's server (`~.`, default
//!   route) and the host's server is asked nothing.
//! - Both: `/etc/resolv.conf` is not touched when resolved is in charge.
//!
//! The resolv.conf fallback runs for real in `connection_netns.rs` (no resolved there).
//! Needs root, TUN, strongSwan, dbus-daemon and the unpacked resolved; without them it says
//! loudly that it was skipped, and fails when `CI=true`.

mod testbed;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use testbed::read;

/// The value after `Link N (ikeway0): ` in a `resolvectl <setting> ikeway0` answer.
fn link_setting(dir: &Path, file: &str) -> String {
    let text = read(dir, file);
    let (_, value) = text
        .trim()
        .split_once("(ikeway0): ")
        .unwrap_or_else(|| panic!("{file}: no ikeway0 setting:\n{text}"));
    value.to_owned()
}

/// The names a DNS server was asked (`dnsd.py` logs `NAME TYPE`).
fn asked(dir: &Path, file: &str) -> Vec<String> {
    let mut names: Vec<String> = read(dir, file)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The MSS of the SYNs (`kind` SYN or SYN-ACK) `mss_probe.py capture` saw.
fn mss(dir: &Path, file: &str, kind: &str) -> Vec<u16> {
    read(dir, file)
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(kind))
        .filter_map(|l| l.rsplit_once("mss=").and_then(|(_, v)| v.parse().ok()))
        .collect()
}

#[test]
fn split_dns_through_resolved_mtu_and_mss_clamp() {
    let test = "dns_netns";
    if let Some(why) = testbed::unavailable(&[
        "charon-systemd",
        "swanctl",
        "dbus-daemon",
        "setpriv",
        "nsenter",
        "unshare",
        "python3",
    ]) {
        ikeway_testkit::skip(test, &why);
        return;
    }
    if !Path::new("/dev/net/tun").exists() {
        ikeway_testkit::skip(test, "/dev/net/tun is missing");
        return;
    }
    let resolved = testbed::root().join("testbeds/.peers/systemd-resolved");
    if !resolved.join("lib/systemd/systemd-resolved").exists() {
        ikeway_testkit::skip(
            test,
            "systemd-resolved is not unpacked in testbeds/.peers (run testbeds/install-peers.sh)",
        );
        return;
    }
    let out =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("dns-netns-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let status = Command::new("bash")
        .arg(testbed::root().join("testbeds/dns-netns.sh"))
        .arg(&out)
        .arg(env!("CARGO_BIN_EXE_ikeway"))
        .arg(&resolved)
        .env("IKW_PREFIX", format!("ikwdn{}", std::process::id() % 100_000))
        .status()
        .expect("bash runs");
    assert!(status.success(), "testbeds/dns-netns.sh failed (output in {})", out.display());
    let o = out.as_path();

    // Split tunnel.
    assert_eq!(read(o, "split.connect.rc").trim(), "0", "{}", read(o, "split.connect.out"));
    assert_eq!(link_setting(o, "split.dns"), "10.77.0.53");
    assert_eq!(link_setting(o, "split.domain"), "~corp.example");
    assert_eq!(link_setting(o, "split.default-route"), "no");
    let corp = read(o, "split.query-corp");
    assert!(
        corp.starts_with("www.corp.example: 10.77.0.99 ") && corp.contains("-- link: ikeway0"),
        "{corp}"
    );
    let other = read(o, "split.query-other");
    assert!(
        other.starts_with("www.other.example: 192.0.2.1 ") && other.contains("-- link: ike0"),
        "{other}"
    );
    assert_eq!(asked(o, "split.dnsd-tunnel"), ["www.corp.example"]);
    assert_eq!(asked(o, "split.dnsd-outer"), ["www.other.example"]);

    // The configured MTU on the TUN link.
    let link: Value = serde_json::from_str(&read(o, "split.link"))
        .unwrap_or_else(|e| panic!("ip -j link: {e}: {}", read(o, "split.link")));
    assert_eq!(link[0]["mtu"], 1300, "{link}");

    // MSS: the client's own SYN already fits (its kernel reads the TUN MTU); the protected
    // host answers with its Ethernet MSS, and the pump lowers it on the way to the TUN.
    assert_eq!(mss(o, "split.mss-cli", "SYN"), [1260], "{}", read(o, "split.mss-cli"));
    assert_eq!(mss(o, "split.mss-prot", "SYN-ACK"), [1460], "{}", read(o, "split.mss-prot"));
    assert_eq!(mss(o, "split.mss-cli", "SYN-ACK"), [1260], "{}", read(o, "split.mss-cli"));

    // After disconnect: no tunnel link in resolved, the name goes outside.
    let links = read(o, "split.after-links");
    assert!(links.contains("(ike0)") && !links.contains("ikeway0"), "{links}");
    let after = read(o, "split.after-query-corp");
    assert!(
        after.starts_with("www.corp.example: 192.0.2.1 ") && after.contains("-- link: ike0"),
        "{after}"
    );

    // All traffic.
    assert_eq!(read(o, "all.connect.rc").trim(), "0", "{}", read(o, "all.connect.out"));
    assert_eq!(link_setting(o, "all.domain"), "~. corp.example");
    assert_eq!(link_setting(o, "all.default-route"), "yes");
    let other = read(o, "all.query-other");
    assert!(
        other.starts_with("www.other.example: 10.77.0.99 ") && other.contains("-- link: ikeway0"),
        "{other}"
    );
    assert_eq!(asked(o, "all.dnsd-tunnel"), ["www.corp.example", "www.other.example"]);
    assert_eq!(asked(o, "all.dnsd-outer"), Vec::<String>::new());

    // resolved is in charge: resolv.conf stays as it was, byte for byte.
    let before = read(o, "resolv.before");
    assert_eq!(read(o, "split.resolv.after"), before);
    assert_eq!(read(o, "all.resolv.after"), before);
}
