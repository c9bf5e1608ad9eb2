//! What the workspace's tests share (a dev-dependency only): certificates made in the test
//! ([`certs`]), captures of what a test built and tshark over them ([`pcap`]), and the one way a test says it cannot run here. A skip is announced loudly on stderr and, under `CI=true`, is a failure, because
//! CI installs every peer and tool the tests need and runs as root.
//!
//! ```no_run
//! if !ikeway_testkit::have("tshark") {
//!     ikeway_testkit::skip("tshark_dissects_our_messages", "tshark is not installed");
//!     return;
//! }
//! ```

#![forbid(unsafe_code)]
// Skips are announced on stderr on purpose: a skipped check must never pass silently.
#![allow(clippy::print_stderr)]

pub mod certs;
pub mod pcap;

use std::process::Command;

/// True when the tests run in CI (`CI=true`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Announces that `test` cannot run here and why.
///
/// # Panics
/// Under `CI=true`, so that a skip there fails the test run.
pub fn skip(test: &str, why: &str) {
    eprintln!("\n*** SKIPPED {test}: {why}\n");
    assert!(!in_ci(), "{test} was skipped in CI (CI=true): {why}");
}

/// True when the effective user is root (namespaces, TUN and privileged ports need it).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// True when `cmd` is found on `PATH`.
pub fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    #[test]
    fn have_finds_sh_and_not_a_made_up_name() {
        assert!(super::have("sh"));
        assert!(!super::have("ikeway-no-such-tool-7f3a"));
    }
}
