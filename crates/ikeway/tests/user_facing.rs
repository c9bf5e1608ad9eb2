//! What a person sees from the `ikeway` binary: `config show` as text and JSON, and the
//! exact message of each bad input, none of them with Rust `Debug` text in it.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `ikeway` in `dir` with its preferences under `dir/config`.
fn ikeway(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("the ikeway binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Pieces of Rust `Debug` output that must never reach a person.
const DEBUG_TEXT: &[&str] = &["{ kind:", "Error {", "Io(", "Os {", " .. }", "Some(", "None,"];

/// Runs a command that must fail, and returns its one-line message.
fn failure(dir: &Path, args: &[&str]) -> String {
    let out = ikeway(dir, args);
    let err = stderr(&out);
    assert!(!out.status.success(), "{args:?} succeeded: {}", stdout(&out));
    for d in DEBUG_TEXT {
        assert!(!err.contains(d), "{args:?}: Debug text {d:?} in {err:?}");
    }
    assert_eq!(err.lines().count(), 1, "{args:?}: one line, not {err:?}");
    err.trim_end().to_owned()
}

/// A profile in Apple's format with one IKEv2 VPN payload whose `IKEv2` dictionary is `ikev2`.
/// What `config add office --server vpn.example.org EXTRA --yes` says when it fails.
fn add_failure(dir: &Path, extra: &[&str]) -> String {
    let args = [&["config", "add", "office", "--server", "vpn.example.org"], extra, &["--yes"]];
    failure(dir, &args.concat())
}

fn profile(ikev2: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadIdentifier</key><string>org.example.office</string>
<key>PayloadDisplayName</key><string>Office</string>
<key>PayloadContent</key><array><dict>
<key>PayloadType</key><string>com.apple.vpn.managed</string>
<key>PayloadIdentifier</key><string>org.example.office.vpn</string>
<key>UserDefinedName</key><string>Office</string>
<key>VPNType</key><string>IKEv2</string>
<key>IKEv2</key><dict>{ikev2}</dict>
</dict></array></dict></plist>
"#
    )
}

const GOOD_IKEV2: &str = "<key>RemoteAddress</key><string>vpn.example.org</string>\
<key>RemoteIdentifier</key><string>vpn.example.org</string>\
<key>LocalIdentifier</key><string>alice@example.org</string>\
<key>AuthenticationMethod</key><string>SharedSecret</string>\
<key>SharedSecret</key><string>correct horse battery staple</string>";

#[test]
fn a_truncated_profile_says_where_it_ends() {
    let dir = tempfile::tempdir().expect("temp dir");
    let full = profile(GOOD_IKEV2);
    std::fs::write(dir.path().join("cut.mobileconfig"), &full[..400]).expect("write");
    assert_eq!(
        failure(dir.path(), &["profile", "import", "cut.mobileconfig", "--yes"]),
        "ikeway: importing cut.mobileconfig: not a property list: \
         it ends at byte 400, in the middle (is the file truncated?)"
    );
    std::fs::write(dir.path().join("empty.mobileconfig"), "").expect("write");
    assert_eq!(
        failure(dir.path(), &["profile", "import", "empty.mobileconfig", "--yes"]),
        "ikeway: importing empty.mobileconfig: not a property list: the file is empty"
    );
}

#[test]
fn a_profile_value_of_the_wrong_type_names_its_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = GOOD_IKEV2.replace(
        "<key>RemoteAddress</key><string>vpn.example.org</string>",
        "<key>RemoteAddress</key><integer>42</integer>",
    );
    std::fs::write(dir.path().join("wrong.mobileconfig"), profile(&wrong)).expect("write");
    assert_eq!(
        failure(dir.path(), &["profile", "import", "wrong.mobileconfig", "--yes"]),
        "ikeway: importing wrong.mobileconfig: PayloadContent[0].IKEv2.RemoteAddress: \
         expected a string"
    );
}

#[test]
fn a_missing_file_is_named_once_with_the_cause_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert_eq!(
        failure(dir.path(), &["profile", "import", "absent.mobileconfig", "--yes"]),
        "ikeway: reading absent.mobileconfig: No such file or directory (os error 2)"
    );
    assert_eq!(
        add_failure(dir.path(), &["--psk-file", "absent.psk"]),
        "ikeway: reading absent.psk: No such file or directory (os error 2)"
    );
}

#[test]
fn a_psk_file_without_a_secret_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("empty.psk"), "\n").expect("write");
    assert_eq!(
        add_failure(dir.path(), &["--psk-file", "empty.psk"]),
        "ikeway: empty.psk holds no secret on its first line"
    );
}

#[test]
fn unknown_names_and_values_say_what_is_known() {
    let dir = tempfile::tempdir().expect("temp dir");
    assert_eq!(
        failure(dir.path(), &["config", "show", "nowhere"]),
        "ikeway: no configuration named \"nowhere\" (see `ikeway config list`)"
    );
    // Said at once, before a runtime directory or a background connection exists.
    assert_eq!(
        failure(dir.path(), &["connect", "nowhere"]),
        "ikeway: no configuration named \"nowhere\" (see `ikeway config list`)"
    );
    assert_eq!(
        add_failure(dir.path(), &["--ike-encryption", "rot13"]),
        "ikeway: unknown encryption \"rot13\"; one of des, tripledes, aes128, aes256, \
         aes128gcm, aes256gcm, chacha20poly1305"
    );
    assert_eq!(
        add_failure(dir.path(), &["--ike-lifetime", "5"]),
        "ikeway: lifetime 5 minutes is outside 10-1440"
    );
    // Without a terminal to ask, consent must be given on the command line.
    assert_eq!(
        failure(dir.path(), &["config", "add", "office", "--server", "vpn.example.org"]),
        "ikeway: Allow ikeway to add the VPN configuration \"office\"?: consent is needed and \
         there is no terminal to ask; re-run with --yes"
    );
}

#[test]
fn corrupt_preferences_are_named_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let prefs = dir.path().join("config/ikeway");
    std::fs::create_dir_all(&prefs).expect("mkdir");
    std::fs::write(prefs.join("preferences.json"), "{oops").expect("write");
    assert_eq!(
        failure(dir.path(), &["config", "list"]),
        format!(
            "ikeway: preferences file {}/preferences.json is corrupt at line 1, column 2: \
             key must be a string at line 1 column 2; it was left unchanged: fix or move it away",
            prefs.display()
        )
    );
    assert_eq!(std::fs::read_to_string(prefs.join("preferences.json")).expect("kept"), "{oops");
}

/// Adds `office` with a few fields off Apple's defaults.
fn add_office(dir: &Path) {
    std::fs::write(dir.join("office.psk"), "correct horse battery staple\n").expect("write");
    let out = ikeway(
        dir,
        &[
            "config",
            "add",
            "office",
            "--server",
            "vpn.example.org",
            "--remote-id",
            "vpn.example.org",
            "--local-id",
            "alice@example.org",
            "--psk-file",
            "office.psk",
            "--ike-encryption",
            "aes256gcm",
            "--ike-dh-group",
            "31",
            "--dpd",
            "high",
            "--mtu",
            "1400",
            "--disable-mobike",
            "true",
            "--enable",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn config_show_prints_the_settings_screen() {
    let dir = tempfile::tempdir().expect("temp dir");
    add_office(dir.path());
    let out = ikeway(dir.path(), &["config", "show", "office"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "\
office
  Enabled                   yes
  Source                    personal

Server
  Server address            vpn.example.org
  Remote ID                 vpn.example.org
  Local ID                  alice@example.org

Authentication
  Method                    shared secret (stored, never shown)
  Extended authentication   off

SA parameters
  IKE SA                    AES-256-GCM, SHA2-256, group 31, 60 min
  Child SA                  AES-256, SHA2-256, group 14, 30 min
  Perfect forward secrecy   off
  Dead peer detection       high (every minute)
  MOBIKE                    off
  Redirect                  on
  MTU                       1400
  NAT keepalive             every 20 s (default)

Routing
  Include all networks      off
  Exclude local networks    off
  Enforce routes            off
  Included routes           the server's traffic selectors
  Excluded routes           cellular services, APNs, device communication

DNS
  Servers and domains       from the server (configuration reply)

On demand
  Connect on demand         off
  Rules                     none
"
    );
    assert!(!stdout(&out).contains("correct horse"), "the secret is never shown");
}

#[test]
fn config_show_json_has_every_field_for_scripts() {
    let dir = tempfile::tempdir().expect("temp dir");
    add_office(dir.path());
    let out = ikeway(dir.path(), &["config", "show", "office", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(!text.contains("correct horse"), "the secret is never shown");
    let v: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    assert_eq!(v["name"], "office");
    assert_eq!(v["managed"], false);
    assert_eq!(v["enabled"], true);
    assert_eq!(v["localized_description"], "office");
    let p = &v["protocol"];
    assert_eq!(p["server_address"], "vpn.example.org");
    assert_eq!(p["local_identifier"], "alice@example.org");
    assert_eq!(p["authentication_method"], "SharedSecret");
    assert_eq!(p["ike_sa_parameters"]["encryption_algorithm"], "Aes256Gcm");
    assert_eq!(p["ike_sa_parameters"]["diffie_hellman_group"], "Group31");
    assert_eq!(p["dead_peer_detection_rate"], "High");
    assert_eq!(p["mtu"], 1400);
    // Redirect (RFC 5685) is implemented now: nothing of this configuration is without effect.
    assert_eq!(v["unsupported"], serde_json::json!([]));
}

/// Runs `args`, reads the first line of stdout, then closes it as `| head -1` does.
fn stop_reading_after_one_line(dir: &Path, args: &[&str]) -> Output {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(args)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the ikeway binary runs");
    let stdout = child.stdout.take().expect("piped");
    let mut first = String::new();
    std::io::BufReader::new(stdout).read_line(&mut first).expect("a first line");
    assert!(!first.is_empty());
    // The reader is dropped here: our end of the pipe closes.
    child.wait_with_output().expect("it ends")
}

#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The demo prints through println!; its later lines meet the closed pipe.
    let out = stop_reading_after_one_line(dir.path(), &["demo", "--megabytes", "4", "--quiet"]);
    assert_eq!(stderr(&out), "", "no panic, no message");
    assert_eq!(out.status.code(), Some(141));
    // decode writes through a buffer: the error comes back to main instead.
    let hex: String = (0..50_000).map(|i| format!("{i:064x}\n")).collect();
    std::fs::write(dir.path().join("many.hex"), hex).expect("write");
    let out = stop_reading_after_one_line(dir.path(), &["decode", "many.hex"]);
    assert_eq!(stderr(&out), "", "no panic, no message");
    assert_eq!(out.status.code(), Some(141));
}

/// The certificate options that need no file are saved under Apple's names and raw values.
#[test]
fn config_add_saves_the_server_certificate_checks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = ikeway(
        dir.path(),
        &[
            "config",
            "add",
            "office",
            "--server",
            "vpn.example.org",
            "--auth",
            "certificate",
            "--certificate-type",
            "ecdsa256",
            "--server-cert-cn",
            "vpn.example.org",
            "--server-cert-issuer-cn",
            "Example CA",
            "--system-ca",
            "--revocation-check",
            "--strict-revocation-check",
            "false",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ikeway(dir.path(), &["config", "show", "office", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    let p = &v["protocol"];
    assert_eq!(p["authentication_method"], "Certificate");
    assert_eq!(p["certificate_type"], "Ecdsa256");
    assert_eq!(p["server_certificate_common_name"], "vpn.example.org");
    assert_eq!(p["server_certificate_issuer_common_name"], "Example CA");
    assert_eq!(p["use_system_trust_store"], true);
    assert_eq!(p["enable_revocation_check"], true);
    assert_eq!(p["strict_revocation_check"], false);
    let dir = tempfile::tempdir().expect("temp dir");
    assert_eq!(
        add_failure(dir.path(), &["--auth", "password"]),
        "ikeway: unknown --auth \"password\"; one of certificate, shared-secret, none"
    );
    assert_eq!(
        add_failure(dir.path(), &["--certificate-type", "dsa"]),
        "ikeway: unknown certificate type \"dsa\"; one of rsa, ecdsa256, ecdsa384, ecdsa521, \
         ed25519, rsapss"
    );
}

mod certificates {
    use super::*;
    use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, PKCS_ED25519, TestCa, TestCert};

    struct Files {
        ca: TestCa,
        client: TestCert,
    }

    /// ca.pem, ca.crl, client.p12 (password in p12.pw), client.key + client.pem, and an
    /// Ed25519 ed.key + ed.pem, in `dir`.
    fn files(dir: &Path) -> Files {
        let ca = TestCa::new("Office CA");
        let client = ca.issue("alice", "client.example.org", &PKCS_ECDSA_P256_SHA256);
        let ed = ca.issue("alice", "client.example.org", &PKCS_ED25519);
        let write =
            |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).expect("write");
        write("ca.pem", ca.cert_pem.as_bytes());
        write("ca.crl", ca.empty_crl_pem().as_bytes());
        write("client.p12", &client.pkcs12(&ca, "p12 secret"));
        write("p12.pw", b"p12 secret\n");
        write("wrong.pw", b"not it\n");
        write("client.key", client.key_pem.as_bytes());
        write("client.pem", client.cert_pem.as_bytes());
        write("ed.key", ed.key_pem.as_bytes());
        write("ed.pem", ed.cert_pem.as_bytes());
        write("notes.txt", b"not a certificate\n");
        Files { ca, client }
    }

    fn show_json(dir: &Path) -> serde_json::Value {
        let out = ikeway(dir, &["config", "show", "office", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_str(&stdout(&out)).expect("one JSON document")
    }

    fn add(dir: &Path, extra: &[&str]) {
        let args = [&["config", "add", "office", "--server", "vpn.example.org"], extra, &["--yes"]];
        let out = ikeway(dir, &args.concat());
        assert!(out.status.success(), "{}", stderr(&out));
    }

    #[test]
    fn config_add_keeps_anchors_and_crls_in_the_preferences_and_the_identity_in_the_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let f = files(dir.path());
        add(
            dir.path(),
            &[
                "--ca",
                "ca.pem",
                "--crl",
                "ca.crl",
                "--identity-p12",
                "client.p12",
                "--identity-password-file",
                "p12.pw",
                "--revocation-check",
                "--strict-revocation-check",
            ],
        );
        let v = show_json(dir.path());
        let p = &v["protocol"];
        assert_eq!(p["authentication_method"], "Certificate");
        assert_eq!(p["certificate_type"], "Ecdsa256", "taken from the identity's key");
        assert_eq!(p["trust_anchors"], serde_json::json!([hex::encode(&f.ca.cert_der)]));
        assert_eq!(p["certificate_revocation_lists"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            (p["enable_revocation_check"].clone(), p["strict_revocation_check"].clone()),
            (true.into(), true.into())
        );
        assert!(
            p["identity_reference"].is_string()
                && p["identity_data_password_reference"].is_string()
        );
        let prefs = std::fs::read_to_string(dir.path().join("config/ikeway/preferences.json"))
            .expect("preferences");
        let p12 = std::fs::read(dir.path().join("client.p12")).expect("p12");
        assert!(!prefs.contains(&hex::encode(&p12[..64])) && !prefs.contains("p12 secret"));
        let secrets = dir.path().join("config/ikeway/secrets.json");
        let store = std::fs::read_to_string(&secrets).expect("secret store");
        assert!(store.contains(&hex::encode(&p12)), "the PKCS#12 is in the secret store");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secrets).expect("mode").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let _ = f.client;
    }

    #[test]
    fn config_add_takes_a_pem_key_and_certificate() {
        let dir = tempfile::tempdir().expect("temp dir");
        files(dir.path());
        add(
            dir.path(),
            &[
                "--identity-key",
                "ed.key",
                "--identity-cert",
                "ed.pem",
                "--ca",
                "ca.pem",
                "--system-ca",
            ],
        );
        let text = stdout(&ikeway(dir.path(), &["config", "show", "office"]));
        let authentication = text
            .split("\n\n")
            .find(|s| s.starts_with("Authentication"))
            .expect("an Authentication section");
        assert_eq!(
            authentication,
            "\
Authentication
  Method                    certificate
  Extended authentication   off
  Certificate type          Ed25519
  Identity                  stored, never shown
  Server certificate from   Office CA, the system store
  Server certificate name   (not set)
  Issuer name               (not set)
  Revocation check          off"
        );
        let p = &show_json(dir.path())["protocol"];
        assert_eq!(p["authentication_method"], "Certificate");
        assert_eq!(p["certificate_type"], "Ed25519");
        assert_eq!(p["use_system_trust_store"], true);
        // Editing the type to one that is not the key's is refused at save time.
        assert_eq!(
            failure(dir.path(), &["config", "edit", "office", "--certificate-type", "rsa"]),
            "ikeway: certificate_type is RSA but the identity's key is Ed25519; \
             set certificate_type to Ed25519"
        );
    }

    #[test]
    fn bad_certificate_files_are_refused_by_name_and_nothing_is_saved() {
        let dir = tempfile::tempdir().expect("temp dir");
        files(dir.path());
        let d = dir.path();
        assert_eq!(
            add_failure(d, &["--ca", "notes.txt"]),
            "ikeway: notes.txt: no certificate found"
        );
        assert_eq!(add_failure(d, &["--crl", "ca.pem"]), "ikeway: ca.pem: not an X.509 CRL");
        assert_eq!(
            add_failure(
                d,
                &["--identity-p12", "client.p12", "--identity-password-file", "wrong.pw"]
            ),
            "ikeway: client.p12: PKCS#12: MAC tag mismatch"
        );
        assert_eq!(
            add_failure(d, &["--identity-key", "ed.key", "--identity-cert", "client.pem"]),
            "ikeway: ed.key and client.pem: the private key does not belong to the certificate"
        );
        assert_eq!(
            add_failure(d, &["--identity-key", "notes.txt", "--identity-cert", "client.pem"]),
            "ikeway: notes.txt and client.pem: not a usable private key (PKCS#8, PKCS#1 RSA or \
             SEC1 EC)"
        );
        assert_eq!(
            add_failure(
                d,
                &[
                    "--identity-p12",
                    "client.p12",
                    "--identity-password-file",
                    "p12.pw",
                    "--certificate-type",
                    "ecdsa384"
                ]
            ),
            "ikeway: certificate_type is ECDSA384 but the identity's key is ECDSA256; \
             set certificate_type to ECDSA256"
        );
        let out = ikeway(d, &["config", "list"]);
        assert_eq!(
            stdout(&out),
            "no configurations (add one with `ikeway config add` or `ikeway profile import`)\n"
        );
        assert!(
            !d.join("config/ikeway/secrets.json").exists(),
            "a refused identity left a secret behind"
        );
    }

    /// `serve` and `initiate` refuse bad certificate options before anything is bound.
    #[test]
    fn serve_and_initiate_certificate_options_are_checked_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        files(dir.path());
        let d = dir.path();
        let serve = |extra: &[&str]| {
            let args = [&["serve", "--local", "127.0.0.1", "--id", "vpn.example.org"], extra];
            failure(d, &args.concat())
        };
        assert_eq!(
            serve(&["--cert", "client.pem", "--key", "client.key", "--ca", "ca.pem"]),
            "ikeway: serve: --ca names the CAs of client certificates; add --require-client-cert, \
             or --eap-users for EAP-TLS"
        );
        assert_eq!(serve(&[]), "ikeway: --psk-file (or --cert and --key) is required");
        assert_eq!(
            serve(&["--cert", "client.pem", "--key", "client.key"]),
            "ikeway: --psk-file is required: the peer authenticates with the pre-shared key \
             unless it must show a certificate (--ca)"
        );
        assert_eq!(
            serve(&["--cert", "client.pem", "--key", "ed.key", "--psk-file", "p12.pw"]),
            "ikeway: ed.key and client.pem: the private key does not belong to the certificate"
        );
        assert_eq!(
            serve(&[
                "--cert",
                "client.pem",
                "--key",
                "client.key",
                "--ca",
                "notes.txt",
                "--require-client-cert"
            ]),
            "ikeway: notes.txt: no certificate found"
        );
        let initiate = |extra: &[&str]| {
            let args = [
                &["initiate", "--local", "127.0.0.1", "--remote", "127.0.0.2", "--id", "a.example"]
                    [..],
                extra,
            ];
            failure(d, &args.concat())
        };
        assert_eq!(
            initiate(&["--psk-file", "p12.pw", "--ca", "ca.pem", "--crl", "notes.txt"]),
            "ikeway: notes.txt: not an X.509 CRL"
        );
    }
}

#[test]
fn config_pq_kex_and_fallback_are_stored_and_shown() {
    let dir = tempfile::tempdir().expect("temp dir");
    add_office(dir.path());
    let edit = ["config", "edit", "office", "--pq-kex", "mlkem768,mlkem1024", "--pq-fallback"];
    let out = ikeway(dir.path(), &edit);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&ikeway(dir.path(), &["config", "show", "office"]));
    assert!(
        shown.contains(
            "  IKE SA                    AES-256-GCM, SHA2-256, group 31, 60 min, \
             post-quantum ML-KEM-768 + ML-KEM-1024\n"
        ),
        "{shown}"
    );
    assert!(shown.contains(
        "  Post-quantum exchange     IKE_INTERMEDIATE (RFC 9370), classical fallback allowed\n"
    ));
    assert!(!shown.contains("post_quantum"), "nothing reported without effect: {shown}");
    let json = stdout(&ikeway(dir.path(), &["config", "show", "office", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&json).expect("one JSON document");
    let p = &v["protocol"];
    assert_eq!(
        p["ike_sa_parameters"]["post_quantum_key_exchange_methods"],
        serde_json::json!([36, 37])
    );
    assert_eq!(p["allow_post_quantum_key_exchange_fallback"], true);

    let out = ikeway(dir.path(), &["config", "edit", "office", "--pq-fallback", "false"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = stdout(&ikeway(dir.path(), &["config", "show", "office"]));
    assert!(shown.contains("  Post-quantum exchange     IKE_INTERMEDIATE (RFC 9370), required\n"));
    let out = ikeway(dir.path(), &["config", "edit", "office", "--pq-kex", "none"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&ikeway(dir.path(), &["config", "show", "office"])).contains("Post-quantum"));

    assert_eq!(
        failure(dir.path(), &["config", "edit", "office", "--pq-kex", "x25519"]),
        "ikeway: unknown post-quantum key exchange \"x25519\"; mlkem768, mlkem1024 or none"
    );
}

/// `profile import --enable` installs the profile's VPN enabled (what On Demand runs for);
/// without it the VPN is installed disabled, as Apple installs a profile's.
#[test]
fn profile_import_enable_enables_the_vpn() {
    let enabled = |dir: &Path| -> serde_json::Value {
        let out = ikeway(dir, &["config", "list", "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        list.as_array().expect("a list")[0]["enabled"].clone()
    };
    let on_demand = "<key>OnDemandEnabled</key><integer>1</integer>\
        <key>OnDemandRules</key><array><dict><key>Action</key><string>Connect</string></dict></array>";
    for (flag, expected) in [(None, false), (Some("--enable"), true)] {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("p.mobileconfig"),
            profile(&format!("{GOOD_IKEV2}{on_demand}")),
        )
        .expect("write");
        let mut args = vec!["profile", "import", "p.mobileconfig", "--yes"];
        args.extend(flag);
        let out = ikeway(dir.path(), &args);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out).contains("Office: enabled"), expected, "{}", stdout(&out));
        assert_eq!(enabled(dir.path()), expected, "{flag:?}");
    }
}
