//! IPSec (IKEv1, Apple's "Cisco IPSec") configurations from the command line, without root:
//! `config add --type ipsec` (group name, group secret, XAUTH), `config show`/`list`, the
//! IKEv2-only options refused by name, `profile import` of an Apple `VPNType IPSec` profile
//! and `profile export` back.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `ikeway` in `dir` with its preferences under `dir/config` and no terminal on stdin.
fn ikeway(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the ikeway binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn succeeds(dir: &Path, args: &[&str]) -> String {
    let out = ikeway(dir, args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// A command that must fail with exit code 1 and this one line.
fn fails(dir: &Path, args: &[&str], message: &str) {
    let out = ikeway(dir, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out.stdout));
    assert_eq!(text(&out.stderr), format!("{message}\n"), "{args:?}");
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("group.psk"), "sales group secret\n").unwrap();
    std::fs::write(dir.path().join("alice.pw"), "alice xauth pw\n").unwrap();
    dir
}

const ADD: &[&str] = &[
    "config",
    "add",
    "branch",
    "--type",
    "ipsec",
    "--server",
    "gw.example.org",
    "--group",
    "sales",
    "--psk-file",
    "group.psk",
    "--extended-auth",
    "--username",
    "alice",
    "--password-file",
    "alice.pw",
    "--yes",
];

#[test]
fn config_add_type_ipsec_saves_a_group_psk_xauth_configuration_and_shows_it() {
    let dir = setup();
    assert_eq!(succeeds(dir.path(), ADD), "saved \"branch\"\n");
    let shown = succeeds(dir.path(), &["config", "show", "branch"]);
    assert_eq!(
        shown,
        "\
branch
  Enabled                   no
  Source                    personal

Server (IPSec, IKEv1)
  Server address            gw.example.org
  Remote ID                 (not set)
  Group name                sales

Authentication
  Method                    shared secret (stored, never shown)
  Phase 1                   Aggressive Mode, group name as KEY_ID
  XAUTH                     on
  Username                  alice
  Password                  stored, never shown

DNS and routes
  From the server           Mode Config (address, DNS, Cisco Unity split networks, banner)
  Include all networks      off

On demand
  Connect on demand         off
  Rules                     none
"
    );
    let list: serde_json::Value =
        serde_json::from_str(&succeeds(dir.path(), &["config", "list", "--json"])).unwrap();
    assert_eq!(list[0]["type"], "IPSec");
    assert_eq!(list[0]["server"], "gw.example.org");
    let json: serde_json::Value =
        serde_json::from_str(&succeeds(dir.path(), &["config", "show", "branch", "--json"]))
            .unwrap();
    assert_eq!(json["protocol"], serde_json::Value::Null);
    assert_eq!(json["ipsec"]["local_identifier"], "sales");
    assert_eq!(json["ipsec"]["authentication_method"], "SharedSecret");
    assert_eq!(json["ipsec"]["use_extended_authentication"], true);
    // The secrets are in the secret store only.
    let prefs = std::fs::read_to_string(dir.path().join("config/ikeway/preferences.json"))
        .or_else(|_| {
            let found = walk(&dir.path().join("config"), "preferences");
            std::fs::read_to_string(found.expect("a preferences file"))
        })
        .unwrap();
    assert!(!prefs.contains("sales group secret") && !prefs.contains("alice xauth pw"));

    // An edit keeps the protocol; the IKEv2-only options are refused by name.
    assert_eq!(
        succeeds(dir.path(), &["config", "edit", "branch", "--enable"]),
        "saved \"branch\"\n"
    );
    fails(
        dir.path(),
        &["config", "edit", "branch", "--ike-encryption", "aes256"],
        "ikeway: --ike-encryption applies to IKEv2 configurations only (this one is IPSec, IKEv1)",
    );
    fails(
        dir.path(),
        &["config", "edit", "branch", "--type", "ikev2"],
        "ikeway: this is an IPSec configuration; --type cannot change its protocol",
    );
    assert_eq!(succeeds(dir.path(), &["config", "remove", "branch"]), "removed \"branch\"\n");
}

/// The first file under `dir` whose name contains `part`.
fn walk(dir: &Path, part: &str) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = walk(&p, part) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|n| n.to_string_lossy().contains(part)) {
            return Some(p);
        }
    }
    None
}

#[test]
fn config_add_type_ipsec_refuses_what_ipsec_cannot_do() {
    let dir = setup();
    let add = |extra: &[&str]| {
        let mut args = vec!["config", "add", "x", "--type", "ipsec", "--server", "gw", "--yes"];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |extra: &[&str], message: &str| {
        let args = add(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        fails(dir.path(), &args, message);
    };
    run(
        &["--auth", "none"],
        "ikeway: unknown --auth \"none\" for IPSec; one of shared-secret, certificate",
    );
    run(
        &["--dpd", "high"],
        "ikeway: --dpd applies to IKEv2 configurations only (this one is IPSec, IKEv1)",
    );
    run(&["--group", ""], "ikeway: --local-id: a group name of 1 to 255 bytes");
    fails(
        dir.path(),
        &["config", "add", "y", "--type", "l2tp", "--server", "gw", "--yes"],
        "ikeway: unknown --type \"l2tp\"; one of ikev2, ipsec",
    );
    fails(
        dir.path(),
        &["config", "add", "z", "--type", "ipsec", "--yes"],
        "ikeway: --server is required for a new configuration",
    );
    let list = succeeds(dir.path(), &["config", "list"]);
    assert_eq!(
        list,
        "no configurations (add one with `ikeway config add` or `ikeway profile import`)\n"
    );
}

const APPLE_PROFILE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadVersion</key><integer>1</integer>
<key>PayloadIdentifier</key><string>com.example.cisco</string>
<key>PayloadUUID</key><string>7A1C2E3F-4B5D-4E6F-8A9B-0C1D2E3F4A5B</string>
<key>PayloadDisplayName</key><string>Example Cisco VPN</string>
<key>PayloadContent</key><array><dict>
  <key>PayloadType</key><string>com.apple.vpn.managed</string>
  <key>PayloadVersion</key><integer>1</integer>
  <key>PayloadIdentifier</key><string>com.example.cisco.vpn</string>
  <key>PayloadUUID</key><string>8B2D3F40-5C6E-4F70-9BAC-1D2E3F405B6C</string>
  <key>UserDefinedName</key><string>Cisco Branch</string>
  <key>VPNType</key><string>IPSec</string>
  <key>IPSec</key><dict>
    <key>RemoteAddress</key><string>gw.example.com</string>
    <key>AuthenticationMethod</key><string>SharedSecret</string>
    <key>LocalIdentifier</key><string>sales</string>
    <key>LocalIdentifierType</key><string>KeyID</string>
    <key>SharedSecret</key><data>c2FsZXMgZ3JvdXAgc2VjcmV0</data>
    <key>XAuthEnabled</key><integer>1</integer>
    <key>XAuthName</key><string>alice</string>
    <key>XAuthPasswordEncryption</key><string>Prompt</string>
  </dict>
</dict></array>
</dict></plist>
"#;

#[test]
fn an_apple_ipsec_profile_imports_shows_and_exports_back() {
    let dir = setup();
    std::fs::write(dir.path().join("cisco.mobileconfig"), APPLE_PROFILE).unwrap();
    let out = succeeds(dir.path(), &["profile", "import", "cisco.mobileconfig", "--yes"]);
    assert_eq!(out, "installed \"Cisco Branch\" from profile \"Example Cisco VPN\" (managed)\n");
    let shown = succeeds(dir.path(), &["config", "show", "Cisco Branch"]);
    for line in [
        "  Source                    profile (read-only)\n",
        "  Group name                sales\n",
        "  Method                    shared secret (stored, never shown)\n",
        "  Password                  asked at each connection\n",
    ] {
        assert!(shown.contains(line), "{line:?} in\n{shown}");
    }
    let exported =
        succeeds(dir.path(), &["profile", "export", "Cisco Branch", "--include-secrets"]);
    for part in [
        "<key>VPNType</key>\n\t\t\t<string>IPSec</string>",
        "<key>LocalIdentifierType</key>\n\t\t\t\t<string>KeyID</string>",
        "<key>XAuthPasswordEncryption</key>\n\t\t\t\t<string>Prompt</string>",
        "c2FsZXMgZ3JvdXAgc2VjcmV0",
    ] {
        assert!(exported.contains(part), "{part:?} in\n{exported}");
    }
    let without = succeeds(dir.path(), &["profile", "export", "Cisco Branch"]);
    assert!(!without.contains("c2FsZXMgZ3JvdXAgc2VjcmV0"), "{without}");
}

/// `config add --type ipsec` with an identity (PEM key + chain), `--ca` and `--crl`: Main
/// Mode with certificates, shown as such; hostile files and IKEv2-only certificate options are
/// refused naming the option or the file, and leave nothing saved.
#[test]
fn config_add_type_ipsec_with_a_certificate_saves_main_mode_and_refuses_bad_files() {
    use ikeway_testkit::certs::{PKCS_RSA_SHA256, TestCa};
    let dir = setup();
    let ca = TestCa::new("Office CA");
    let client = ca.issue("alice", "client.example.org", &PKCS_RSA_SHA256);
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("client.key", &client.key_pem);
    write("client.crt", &client.cert_pem);
    write("ca.crt", &ca.cert_pem);
    write("ca.crl", &ca.empty_crl_pem());
    let cert_add = |name: &'static str, extra: &[&'static str]| {
        let mut args = vec![
            "config",
            "add",
            name,
            "--type",
            "ipsec",
            "--server",
            "192.0.2.1",
            "--remote-id",
            "vpn.example.org",
            "--identity-key",
            "client.key",
            "--identity-cert",
            "client.crt",
            "--ca",
            "ca.crt",
            "--yes",
        ];
        args.extend_from_slice(extra);
        args
    };
    assert_eq!(
        succeeds(dir.path(), &cert_add("office", &["--crl", "ca.crl"])),
        "saved \"office\"\n"
    );
    let shown = succeeds(dir.path(), &["config", "show", "office"]);
    for line in [
        "  Method                    certificate\n",
        "  Phase 1                   Main Mode\n",
        "  Identity                  stored, never shown\n",
        "  Revocation check          the 1 CRL given\n",
    ] {
        assert!(shown.contains(line), "{line:?} in\n{shown}");
    }
    let stored = std::fs::read_to_string(walk(dir.path(), "preferences").unwrap()).unwrap();
    assert!(!stored.contains("PRIVATE KEY"), "the key is in the secret store only");

    fails(dir.path(), &cert_add("bad1", &["--crl", "ca.crt"]), "ikeway: ca.crt: not an X.509 CRL");
    write("junk.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    let mut junk = cert_add("bad2", &[]);
    junk[10] = "junk.key";
    fails(
        dir.path(),
        &junk,
        "ikeway: junk.key and client.crt: not a usable private key (PKCS#8, PKCS#1 RSA or SEC1 EC)",
    );
    fails(
        dir.path(),
        &cert_add("bad3", &["--server-cert-cn", "vpn.example.org"]),
        "ikeway: --server-cert-cn applies to IKEv2 configurations only (this one is IPSec, IKEv1)",
    );
    let list = succeeds(dir.path(), &["config", "list"]);
    assert!(list.contains("office") && !list.contains("bad"), "{list}");
}
