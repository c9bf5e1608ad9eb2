//! What the integration tests share: a loud skip that becomes a failure in CI.

// Skips are announced on stderr on purpose: a skipped check must never pass silently.
#![allow(clippy::print_stderr, dead_code)]

use std::process::Command;

/// Announces that `test` cannot run here and why; under `CI=true` a skip is a failure, since
/// CI installs everything the tests need and runs as root.
pub(crate) fn skip(test: &str, why: &str) {
    eprintln!("\n*** SKIPPED {test}: {why}\n");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} was skipped in CI (CI=true): {why}");
    }
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

pub(crate) fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}
