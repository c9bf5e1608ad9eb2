//! `ikeway demo` end to end: negotiation, a TCP transfer through ESP between two userspace
//! stacks, the status table and the DELETE, without root.

use std::process::Command;

#[test]
fn demo_negotiates_transfers_and_disconnects() {
    let out = Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(["demo", "--megabytes", "2", "--quiet"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    // The same lines the C demo must print (`cargo xtask ffi-check` reads this file too).
    for expected in include_str!("data/demo.expected").lines() {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

/// `ikeway demo --auth cert`: both ends prove themselves with certificates of a CA made for
/// the run, and the demo says which certificate each end proved itself with; the rest of the
/// run is the PSK demo's.
#[test]
fn demo_with_certificates_says_what_each_end_proved() {
    let out = Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(["demo", "--auth", "cert", "--megabytes", "1", "--quiet"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for expected in [
        "certificates: a CA and both ends' certificates, made in memory for this run",
        "the server proved itself with vpn.demo.ikeway (ECDSA P-256), issued by ikeway demo CA",
        "the client proved itself with client.demo.ikeway (Ed25519), issued by ikeway demo CA",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    for expected in include_str!("data/demo.expected").lines().filter(|l| !l.contains("bytes")) {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(text.contains("1048576 bytes received intact"), "{text}");
}

/// `ikeway demo --auth eap`: the server proves itself with its certificate, the client signs in
/// with EAP-MSCHAPv2 as the demo's user; the demo says what ran, and never the password or the
/// MSK.
#[test]
fn demo_with_eap_says_which_method_ran_for_whom() {
    let out = Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(["demo", "--auth", "eap", "--megabytes", "1", "--quiet"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for expected in [
        "EAP: the server's certificate from a CA made in memory for this run; the client signs \
         in as \"alice\" with EAP-MSCHAPv2",
        "1. Negotiation (RFC 7296): IKE_SA_INIT, IKE_AUTH with the server's certificate, \
         EAP-MSCHAPv2 (RFC 7296 §2.16) and CP",
        "the server proved itself with vpn.demo.ikeway (ECDSA P-256), issued by ikeway demo CA",
        "the client proved itself with EAP-MSCHAPv2 as \"alice\"; both AUTH payloads keyed by \
         the MSK",
    ] {
        assert!(lines.contains(&expected), "missing {expected:?} in:\n{text}");
    }
    // Four IKE_AUTH exchanges more than with a PSK: the EAP-Identity, the MSCHAPv2 challenge,
    // its success, and EAP-Success with the MSK-keyed AUTH payloads.
    for expected in include_str!("data/demo.expected")
        .lines()
        .filter(|l| !l.contains("bytes") && !l.starts_with("INFORMATIONAL"))
    {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    for expected in ["IKE_AUTH request #5 [SK]", "INFORMATIONAL request #6 [SK]"] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(text.contains("1048576 bytes received intact"), "{text}");
    assert!(!text.contains("ikeway demo password"), "the password is never shown: {text}");
}
