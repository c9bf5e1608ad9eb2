//! EAP from the command line, without root: `config add` with the extended-authentication
//! flags, `config show` (the password only as "stored"), and the exact errors of a missing
//! password when there is no terminal to ask on.

use std::path::Path;
use std::process::{Command, Output};

use ikeway_testkit::certs::TestCa;

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

/// A command that must fail with exit code 1 and this one line.
fn fails(dir: &Path, args: &[&str], message: &str) {
    let out = ikeway(dir, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out.stdout));
    assert_eq!(text(&out.stderr), format!("{message}\n"), "{args:?}");
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Office CA");
    std::fs::write(dir.path().join("ca.pem"), &ca.cert_pem).unwrap();
    std::fs::write(dir.path().join("alice.pw"), "correct horse\n").unwrap();
    dir
}

#[test]
fn config_add_with_eap_saves_it_and_show_prints_it_without_the_password() {
    let dir = setup();
    let out = ikeway(
        dir.path(),
        &[
            "config",
            "add",
            "office",
            "--server",
            "vpn.example.org",
            "--remote-id",
            "vpn.example.org",
            "--ca",
            "ca.pem",
            "--extended-auth",
            "--username",
            "alice",
            "--password-file",
            "alice.pw",
            "--eap-methods",
            "mschapv2,md5",
            "--tls-min",
            "1.2",
            "--tls-max",
            "1.3",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = ikeway(dir.path(), &["config", "show", "office"]);
    let shown = text(&out.stdout);
    for line in [
        "  Method                    EAP only\n",
        "  Extended authentication   on\n",
        "  Username                  alice\n",
        "  Password                  stored, never shown\n",
        "  EAP                       EAP-MSCHAPv2, EAP-MD5, instead of our AUTH\n",
        "  Server certificate from   Office CA\n",
    ] {
        assert!(shown.contains(line), "missing {line:?} in\n{shown}");
    }
    assert!(!shown.contains("correct horse"), "{shown}");
    let out = ikeway(dir.path(), &["config", "show", "office", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &json["protocol"];
    assert_eq!(p["use_extended_authentication"], true);
    assert_eq!(p["username"], "alice");
    assert_eq!(p["eap_methods"], serde_json::json!(["mschapv2", "md5"]));
    assert_eq!(
        (p["minimum_tls_version"].as_str(), p["maximum_tls_version"].as_str()),
        (Some("Tls1_2"), Some("Default"))
    );
    assert!(p["password_reference"].is_string());
    assert!(!text(&out.stdout).contains("correct horse"));

    // `config edit` changes the methods and the bounds; the password stays.
    let out = ikeway(
        dir.path(),
        &["config", "edit", "office", "--eap-methods", "tls", "--tls-max", "1.2"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&ikeway(dir.path(), &["config", "show", "office"]).stdout);
    assert!(shown.contains("  Password                  stored, never shown\n"), "{shown}");
    assert!(
        shown.contains("  EAP                       cannot run: eap_methods = \"tls\": no allowed method has its credentials"),
        "{shown}"
    );
}

#[test]
fn bad_eap_flags_say_what_is_accepted() {
    let dir = setup();
    fn add<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        [&["config", "add", "office", "--server", "vpn.example.org"], extra, &["--yes"]].concat()
    }
    fails(
        dir.path(),
        &add(&["--extended-auth", "--eap-methods", "mschapv2,peap"]),
        "ikeway: unknown EAP method \"peap\"; one of mschapv2, md5, tls",
    );
    fails(
        dir.path(),
        &add(&["--tls-min", "1.3"]),
        "ikeway: --tls-min 1.3: Apple's minimumTLSVersion stops at 1.2; TLS 1.3 is used whenever the server speaks it",
    );
    fails(
        dir.path(),
        &add(&["--tls-max", "2"]),
        "ikeway: unknown --tls-max \"2\"; one of 1.0, 1.1, 1.2, 1.3",
    );
    let long = "u".repeat(254);
    fails(
        dir.path(),
        &add(&["--username", &long]),
        "ikeway: --username: a user name of 1 to 253 bytes",
    );
    fails(
        dir.path(),
        &add(&["--username", "alice", "--password-prompt"]),
        "ikeway: EAP needs a password for \"alice\" and there is no terminal to ask; give it with --password-file FILE",
    );
    fails(
        dir.path(),
        &add(&["--password-prompt"]),
        "ikeway: --password-prompt: the password is for --username, which is not set",
    );
    // Nothing was saved by any of them.
    assert_eq!(
        text(&ikeway(dir.path(), &["config", "list"]).stdout),
        "no configurations (add one with `ikeway config add` or `ikeway profile import`)\n"
    );
}

/// `connect` of a configuration whose EAP needs a password none gave: without a terminal it
/// fails at once, naming the flag, before anything is set up.
#[test]
fn connect_without_a_password_or_a_terminal_names_the_flag() {
    let dir = setup();
    let out = ikeway(
        dir.path(),
        &[
            "config",
            "add",
            "roam",
            "--server",
            "vpn.example.org",
            "--ca",
            "ca.pem",
            "--extended-auth",
            "--username",
            "bob",
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let started = std::time::Instant::now();
    fails(
        dir.path(),
        &["connect", "roam"],
        "ikeway: EAP needs a password for \"bob\" and there is no terminal to ask; give it with --password-file FILE",
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "it waited for an answer");
    fails(
        dir.path(),
        &["connect", "roam", "--password-file", "missing.pw"],
        "ikeway: reading missing.pw: No such file or directory (os error 2)",
    );
    // The pipe a parent `connect` writes the password into: empty is refused by name.
    fails(
        dir.path(),
        &["connect", "roam", "--foreground", "--password-stdin"],
        "ikeway: --password-stdin: expected a password of 1 to 1024 bytes",
    );
}

/// `serve --eap-users` and `initiate --username` check their files and options before any
/// socket is bound (so without root).
#[test]
fn serve_and_initiate_eap_options_are_checked_first() {
    let dir = setup();
    std::fs::write(dir.path().join("bad"), "alice EAP \"x\"\n").unwrap();
    std::fs::write(dir.path().join("bin"), b"\xff\xfe\n").unwrap();
    let serve = |users: &str| {
        vec![
            "serve",
            "--local",
            "127.0.0.1",
            "--id",
            "vpn.example.org",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
            "--eap-users",
            users,
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
    };
    let run = |args: Vec<String>, message: &str| {
        fails(dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>(), message);
    };
    run(serve("bad"), "ikeway: --eap-users bad: line 1: expected `name : EAP \"password\"`");
    run(serve("bin"), "ikeway: --eap-users bin: not UTF-8 text (at byte 0)");
    run(
        serve("missing"),
        "ikeway: --eap-users missing: reading missing: No such file or directory (os error 2)",
    );
    let mut methods = serve("bad");
    methods.extend(["--eap-methods".into(), "peap".into()]);
    run(methods, "ikeway: unknown EAP method \"peap\"; one of mschapv2, md5, tls");
    // --ca without --require-client-cert anchors EAP-TLS: tls must be offered, and needs it.
    std::fs::write(dir.path().join("users"), "alice : EAP \"x\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path().join("users"), std::fs::Permissions::from_mode(0o600))
        .unwrap();
    let with = |extra: &[&str]| {
        let mut args = serve("users");
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    run(
        with(&["--eap-methods", "mschapv2,md5", "--ca", "ca.pem"]),
        "ikeway: serve: --ca with --eap-users anchors EAP-TLS client certificates; add tls to \
         --eap-methods, or --require-client-cert",
    );
    run(
        with(&["--eap-methods", "tls"]),
        "ikeway: --eap-methods tls needs --ca: the CAs of the clients' certificates",
    );
    // RFC 5998: only a mutual first method can stand in for our AUTH; else the switch would
    // never apply.
    run(
        with(&["--eap-methods", "mschapv2,tls", "--ca", "ca.pem", "--eap-only"]),
        "ikeway: --eap-only needs tls first in --eap-methods: EAP-TLS proves the server \
         instead of its AUTH",
    );
    run(
        with(&["--eap-methods", "mschapv2", "--eap-tls13-draft"]),
        "ikeway: --eap-tls13-draft needs tls in --eap-methods",
    );
    fails(
        dir.path(),
        &[
            "initiate",
            "--local",
            "127.0.0.1",
            "--remote",
            "127.0.0.2",
            "--id",
            "client",
            "--username",
            "alice",
            "--password-file",
            "alice.pw",
        ],
        "ikeway: --username needs --ca: with EAP the responder proves itself with its \
         certificate (RFC 7296 §2.16)",
    );
}

/// `--password-prompt` on a terminal (a pseudo-terminal from util-linux `script`): the prompt
/// names the user, what is typed is not echoed, and the secret store keeps exactly that.
#[test]
fn the_password_prompt_does_not_echo_and_stores_what_was_typed() {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    if Command::new("script").arg("--version").output().is_err() {
        ikeway_testkit::skip(
            "the_password_prompt_does_not_echo_and_stores_what_was_typed",
            "util-linux `script` (a pseudo-terminal) is not installed",
        );
        return;
    }
    let dir = setup();
    let command = format!(
        "{} config add roam --server vpn.example.org --extended-auth --username bob \
         --password-prompt --yes",
        env!("CARGO_BIN_EXE_ikeway")
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir.path())
        .env("XDG_CONFIG_HOME", dir.path().join("config"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            let _ = tx.send(buf[..n].to_vec());
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !String::from_utf8_lossy(&seen).contains("Password for bob: ") {
        let left = deadline.saturating_duration_since(Instant::now());
        seen.extend(rx.recv_timeout(left).expect("the prompt within 20 s"));
    }
    // Echo goes off right after the prompt is written.
    std::thread::sleep(Duration::from_millis(300));
    child.stdin.take().unwrap().write_all(b"tr0ub4dor\n").unwrap();
    assert!(child.wait().unwrap().success(), "{}", String::from_utf8_lossy(&seen));
    while let Ok(more) = rx.recv_timeout(Duration::from_secs(2)) {
        seen.extend(more);
    }
    let shown = String::from_utf8_lossy(&seen);
    assert_eq!(
        shown, "Password for bob: \r\nsaved \"roam\"\r\n",
        "the typed password is not echoed"
    );
    let store = std::fs::read_to_string(dir.path().join("config/ikeway/secrets.json")).unwrap();
    assert!(store.contains(&"tr0ub4dor".bytes().map(|b| format!("{b:02x}")).collect::<String>()));
    assert!(!store.contains("tr0ub4dor"), "kept as hex, not as text");
}
