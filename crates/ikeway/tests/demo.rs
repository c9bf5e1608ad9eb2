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
