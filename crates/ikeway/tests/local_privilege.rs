//! Issue 9, "Local privilege": what the `ikeway` binary does with the files and options a local
//! user can prepare for it. The runtime-directory tests that need root and namespaces are in
//! `runtime_dir_netns.rs`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn ikeway(args: &[&str], config_home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("the ikeway binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `initiate` options up to (not including) `--keylog`/`--seed`; nothing is negotiated
/// because these tests fail before any socket is bound.
fn initiate_args(dir: &Path) -> Vec<String> {
    let psk = dir.join("psk");
    std::fs::write(&psk, "testing-psk\n").unwrap();
    [
        "initiate",
        "--local",
        "127.0.0.1",
        "--remote",
        "127.0.0.2",
        "--id",
        "a@test",
        "--timeout",
        "1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain(["--psk-file".to_owned(), psk.display().to_string()])
    .collect()
}

/// Issue 9 finding 4: `--keylog` refuses an existing file and a symlink, and leaves both (and
/// the symlink's target) as they were.
#[test]
fn keylog_refuses_an_existing_file_or_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let base = initiate_args(dir.path());
    let existing = dir.path().join("existing.keys");
    std::fs::write(&existing, "theirs").unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, "canary").unwrap();
    let link = dir.path().join("link.keys");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for path in [&existing, &link] {
        let mut args = base.clone();
        args.extend(["--keylog".to_owned(), path.display().to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ikeway(&args, dir.path());
        assert!(!out.status.success());
        assert_eq!(
            stderr(&out).trim(),
            format!(
                "ikeway: {} already exists (file or symlink): secrets are only written to a new \
                 file; remove it or choose another name",
                path.display()
            )
        );
    }
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "theirs");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "canary");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
}

/// Issue 9 finding 4: `profile export --include-secrets --output FILE` creates FILE 0600 and
/// refuses to reuse an existing one.
#[test]
fn exported_secrets_are_0600_and_never_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let psk = dir.path().join("psk");
    std::fs::write(&psk, "profile-export-secret\n").unwrap();
    let add = ikeway(
        &[
            "config",
            "add",
            "office",
            "--server",
            "vpn.example.org",
            "--remote-id",
            "vpn.example.org",
            "--psk-file",
            &psk.display().to_string(),
            "--yes",
        ],
        dir.path(),
    );
    assert!(add.status.success(), "config add: {}", stderr(&add));
    let profile = dir.path().join("office.mobileconfig");
    let export = |path: &Path| {
        ikeway(
            &[
                "profile",
                "export",
                "office",
                "--include-secrets",
                "--output",
                &path.display().to_string(),
            ],
            dir.path(),
        )
    };
    let out = export(&profile);
    assert!(out.status.success(), "export: {}", stderr(&out));
    let meta = std::fs::symlink_metadata(&profile).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600);
    assert!(std::fs::read_to_string(&profile).unwrap().contains("profile-export-secret"));

    let again = export(&profile);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already exists (file or symlink)"), "{}", stderr(&again));
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, "canary").unwrap();
    let link = dir.path().join("link.mobileconfig");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let via_link = export(&link);
    assert!(!via_link.status.success());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "canary");
}

/// Issue 9 finding 5: the production build (no `insecure-seed` feature) refuses `--seed`
/// even when it is well formed, and a seed of the wrong length is refused in any build.
#[test]
fn production_build_refuses_seed() {
    let dir = tempfile::tempdir().unwrap();
    let base = initiate_args(dir.path());
    let run = |seed: &str| {
        let mut args = base.clone();
        args.extend(["--seed".to_owned(), seed.to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ikeway(&args, dir.path())
    };
    let short = run("0011");
    assert!(!short.status.success());
    assert_eq!(stderr(&short).trim(), "ikeway: --seed must be 64 hex digits (32 bytes), not 4");
    let good = run(&"ab".repeat(32));
    if cfg!(feature = "insecure-seed") {
        // A test build: the seed is accepted and the run fails later (nobody answers).
        assert!(!stderr(&good).contains("--seed"), "{}", stderr(&good));
    } else {
        assert!(!good.status.success());
        assert_eq!(
            stderr(&good).trim(),
            "ikeway: --seed makes every key, nonce and SPI predictable; only a test build \
             (cargo feature insecure-seed) accepts it"
        );
    }
}

/// Issue 9 finding 1: `connect --tun` takes only the link names whose routes a later undo may
/// delete (`ikeway` and digits), before anything else happens.
#[test]
fn connect_refuses_a_tun_name_that_is_not_ours() {
    let dir = tempfile::tempdir().unwrap();
    for tun in ["eth0", "ikeway", "ikeway0;x", "-ikeway0"] {
        let out = ikeway(&["connect", "office", &format!("--tun={tun}")], dir.path());
        assert!(!out.status.success());
        assert_eq!(
            stderr(&out).trim(),
            format!(
                "ikeway: --tun {tun:?}: the TUN device must be named ikeway followed by 1-9 digits"
            )
        );
    }
}
