//! `packaging/ikeway.service`: systemd accepts every line of it (`systemd-analyze verify`
//! says nothing: it prints, and still exits 0, for a key it ignores), its hardening scores
//! as systemd rates it (`systemd-analyze security --offline`), and what it runs parses.

use std::path::Path;
use std::process::Command;

fn unit_with_our_binary(dir: &Path, edit: impl Fn(&str) -> String) -> std::path::PathBuf {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/ikeway.service"),
    )
    .expect("packaging/ikeway.service");
    assert!(text.contains("\nExecStart=/usr/bin/ikeway daemon\n"), "{text}");
    // verify checks that the program exists: the one just built stands in for /usr/bin's.
    let text = text.replace("/usr/bin/ikeway", env!("CARGO_BIN_EXE_ikeway"));
    let path = dir.join("ikeway.service");
    std::fs::write(&path, edit(&text)).unwrap();
    path
}

/// stdout and stderr of `systemd-analyze ARGS... UNIT`.
fn analyze(args: &[&str], unit: &Path) -> (bool, String) {
    let out = Command::new("systemd-analyze").args(args).arg(unit).output().expect("runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn the_unit_verifies_and_its_hardening_scores_ok() {
    if !ikeway_testkit::have("systemd-analyze") {
        ikeway_testkit::skip("daemon_unit", "systemd-analyze is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_with_our_binary(dir.path(), str::to_owned);
    let (ok, said) = analyze(&["verify"], &unit);
    assert!(ok && said.is_empty(), "systemd-analyze verify: {said}");
    // The check can fail: a key systemd does not know is reported.
    let bad_dir = tempfile::tempdir().unwrap();
    let bad =
        unit_with_our_binary(bad_dir.path(), |t| t.replace("KillMode=mixed", "KillMode=bogus"));
    let (_, said) = analyze(&["verify"], &bad);
    assert!(said.contains("Failed to parse kill mode specification"), "{said}");

    let (_, report) = analyze(&["security", "--offline=yes"], &unit);
    let level = report
        .lines()
        .find_map(|l| l.split("Overall exposure level for ikeway.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no exposure level in: {report}"));
    // 10 is a service with no hardening at all; "OK" is below 5. Measured: 2.7.
    assert!(level <= 3.0, "exposure {level}: {report}");

    // What ExecStart runs is a command line the binary takes.
    let help =
        Command::new(env!("CARGO_BIN_EXE_ikeway")).args(["daemon", "--help"]).output().unwrap();
    assert!(help.status.success(), "{help:?}");
}
