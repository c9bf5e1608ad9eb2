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
    for expected in [
        "IKE_SA_INIT request #0 [SA, KE, Nonce, N, N, N, N]",
        "IKE_SA_INIT response #0",
        "IKE_AUTH request #1 [SK]",
        "IKE_AUTH response #1 [SK]",
        "IKE SA up: AES-GCM-16-256 / PRF-HMAC-SHA2-256 / CURVE25519",
        "configuration from the server: address 10.88.0.10/32, DNS 10.77.0.53, domain demo.ikeway",
        "CHILD_SA installed: ESP AES-GCM-16-256",
        "2097152 bytes received intact",
        "drops              0",
        "INFORMATIONAL request #2 [SK]",
        "IKE SA closed: deleted by us",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
