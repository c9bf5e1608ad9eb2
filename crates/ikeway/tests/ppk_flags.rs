//! The PPK options of the binary (RFC 8784): `config add/edit --ppk-file --ppk-id
//! [--ppk-optional]` store the key in the secret store and never show it; `serve`/`initiate`
//! `--ppk ID=FILE [--ppk-required]` refuse what they cannot use, before binding anything.

use std::path::Path;
use std::process::{Command, Output};

const KEY: &str = "a post-quantum preshared key of 32+ bytes";

fn ikeway(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("the ikeway binary runs")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = ikeway(dir, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(dir: &Path, args: &[&str]) -> String {
    let out = ikeway(dir, args);
    assert!(!out.status.success(), "{args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).trim_end().to_owned()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("office.psk"), "correct horse battery staple\n").unwrap();
    std::fs::write(dir.path().join("ppk"), format!("{KEY}\n")).unwrap();
    dir
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

/// Every file under `dir` holding `needle` (the secret store is one of them).
fn files_with(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
            {
                found.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn config_add_stores_the_ppk_and_show_names_only_its_identifier() {
    let dir = setup();
    let d = dir.path();
    let add = [
        "config",
        "add",
        "office",
        "--server",
        "vpn.example.org",
        "--local-id",
        "alice@example.org",
        "--psk-file",
        "office.psk",
        "--ppk-file",
        "ppk",
        "--ppk-id",
        "qkd-link-1",
        "--yes",
    ];
    ok(d, &add);
    let text = ok(d, &["config", "show", "office"]);
    assert!(
        text.contains(
            "  Post-quantum PPK          qkd-link-1 (required), key stored, never shown\n"
        ),
        "{text}"
    );
    assert!(!text.contains(KEY) && !text.contains("ppk_configuration"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(d, &["config", "show", "office", "--json"])).unwrap();
    let ppk = &json["protocol"]["ppk_configuration"];
    assert_eq!(ppk["identifier"], "qkd-link-1");
    assert_eq!(ppk["is_mandatory"], true);
    assert!(!json.to_string().contains(KEY));
    // The key is in one file only, the secret store (which keeps it in hex), never in clear.
    assert!(files_with(&d.join("config"), KEY).is_empty());
    let holders = files_with(&d.join("config"), &hex(KEY));
    assert_eq!(holders.len(), 1, "{holders:?}");
    assert!(!holders[0].contains("preferences"), "{holders:?}");

    // Optional, then a new key: the old one leaves the store.
    ok(d, &["config", "edit", "office", "--ppk-optional"]);
    let text = ok(d, &["config", "show", "office"]);
    assert!(text.contains("qkd-link-1 (optional)"), "{text}");
    std::fs::write(d.join("ppk2"), "another post-quantum preshared key\n").unwrap();
    ok(d, &["config", "edit", "office", "--ppk-file", "ppk2"]);
    assert!(files_with(&d.join("config"), &hex(KEY)).is_empty());
    assert_eq!(files_with(&d.join("config"), &hex("another post-quantum")).len(), 1);
    // Removing the configuration removes its PPK too.
    ok(d, &["config", "remove", "office"]);
    assert!(files_with(&d.join("config"), &hex("another post-quantum")).is_empty());
}

#[test]
fn ppk_options_without_what_they_need_are_refused_and_nothing_is_saved() {
    let dir = setup();
    let d = dir.path();
    let add = |extra: &[&str]| {
        let args = [
            &["config", "add", "office", "--server", "vpn.example.org"][..],
            extra,
            &["--psk-file", "office.psk", "--yes"],
        ]
        .concat();
        fails(d, &args)
    };
    assert_eq!(
        add(&["--ppk-file", "ppk"]),
        "ikeway: --ppk-file needs --ppk-id: the identifier the server knows the PPK by"
    );
    assert_eq!(
        add(&["--ppk-id", "qkd-link-1"]),
        "ikeway: --ppk-id and --ppk-optional need --ppk-file (no PPK is saved yet)"
    );
    assert_eq!(add(&["--ppk-file", "ppk", "--ppk-id", ""]), "ikeway: --ppk-id must not be empty");
    assert!(files_with(d, KEY).iter().all(|f| f == "ppk"));
}

#[test]
fn serve_and_initiate_refuse_a_malformed_ppk_before_binding() {
    let dir = setup();
    let d = dir.path();
    let serve = |extra: &[&str]| {
        let args = [
            &[
                "serve",
                "--local",
                "127.0.0.1",
                "--id",
                "vpn.example.org",
                "--psk-file",
                "office.psk",
            ][..],
            extra,
        ]
        .concat();
        fails(d, &args)
    };
    assert_eq!(serve(&["--ppk", "ppk"]), "ikeway: --ppk \"ppk\": expected PPK_ID=FILE");
    assert_eq!(serve(&["--ppk", "=ppk"]), "ikeway: --ppk \"=ppk\": expected PPK_ID=FILE");
    assert_eq!(
        serve(&["--ppk", "a=ppk", "--ppk", "a=ppk"]),
        "ikeway: --ppk: PPK_ID \"a\" given twice"
    );
    assert!(serve(&["--ppk", "a=missing"]).starts_with("ikeway: --ppk a: "));
    let err = fails(
        d,
        &[
            "initiate",
            "--local",
            "127.0.0.1",
            "--remote",
            "127.0.0.2",
            "--id",
            "a.example",
            "--psk-file",
            "office.psk",
            "--ppk-required",
        ],
    );
    assert!(err.contains("--ppk <ID=FILE>"), "{err}");
}
