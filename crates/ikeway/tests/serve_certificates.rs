//! `ikeway serve` and `ikeway initiate` with certificates, against each other over loopback
//! (each binds UDP 500 and 4500 on its own 127.0.x.y address, so this needs root): mutual
//! certificate authentication, server certificate with client PSK, a client refusing a
//! server whose CA it does not trust, with the exact reason; and the server's certificate with
//! the client's EAP (`serve --eap-users`, `initiate --username`): right password, wrong
//! password and unknown user, each with its exact outcome; and EAP-TLS as the client's only
//! proof (`serve --eap-users --eap-methods tls --ca`) against our own client's saved
//! configuration: a certificate of the clients' CA signs in, one of another CA is refused;
//! with `serve --eap-only` (RFC 5998) the server's first IKE_AUTH response has no CERT or AUTH
//! (a loopback capture, decrypted with `serve --keylog`).

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use ikeway_manager::{
    DisconnectError, PreferencesStore, ProviderOptions, SessionProvider, VpnConnection, VpnStatus,
};
use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, PKCS_ED25519, TestCa};

/// Writes the CA, a server and a client certificate and key, another CA, and a PSK.
fn files(dir: &Path) {
    let ca = TestCa::new("Loopback CA");
    let other = TestCa::new("Other CA");
    let server = ca.issue("vpn.loopback.test", "vpn.loopback.test", &PKCS_ECDSA_P256_SHA256);
    let client = ca.issue("client.loopback.test", "client.loopback.test", &PKCS_ED25519);
    // EAP-TLS client certificates: one of the clients' CA, one of another CA, same names.
    let tls_client =
        ca.issue("client.loopback.test", "client.loopback.test", &PKCS_ECDSA_P256_SHA256);
    let stranger =
        other.issue("client.loopback.test", "client.loopback.test", &PKCS_ECDSA_P256_SHA256);
    for (name, text) in [
        ("ca.pem", ca.cert_pem.as_str()),
        ("other.pem", other.cert_pem.as_str()),
        ("server.pem", server.cert_pem.as_str()),
        ("server.key", server.key_pem.as_str()),
        ("client.pem", client.cert_pem.as_str()),
        ("client.key", client.key_pem.as_str()),
        ("tls-client.pem", tls_client.cert_pem.as_str()),
        ("tls-client.key", tls_client.key_pem.as_str()),
        ("stranger.pem", stranger.cert_pem.as_str()),
        ("stranger.key", stranger.key_pem.as_str()),
        ("psk", "a loopback pre-shared key\n"),
        ("users", "# EAP users\nalice : EAP \"correct horse\"\nbob : EAP battery\n"),
        ("right.pw", "correct horse\n"),
        ("wrong.pw", "incorrect horse\n"),
        ("bob.pw", "battery\n"),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("users"), std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn serve(dir: &Path, local: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(["serve", "--local", local, "--id", "vpn.loopback.test", "--duration", "15"])
        .args(["--cert", "server.pem", "--key", "server.key", "--pool", "10.88.0.10/10"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn initiate(dir: &Path, local: &str, remote: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(["initiate", "--local", local, "--remote", remote, "--timeout", "10"])
        .args(["--id", "client.loopback.test", "--remote-id", "vpn.loopback.test"])
        .arg("--request-config")
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// Runs one client against a fresh server on its own pair of loopback addresses.
fn run(pair: u8, server_extra: &[&str], client_extra: &[&str]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    files(dir.path());
    let (server_addr, client_addr) = (format!("127.0.{pair}.2"), format!("127.0.{pair}.1"));
    let server = serve(dir.path(), &server_addr, server_extra);
    // A head start for the server; a first IKE_SA_INIT it misses is retransmitted.
    std::thread::sleep(Duration::from_millis(500));
    let out = initiate(dir.path(), &client_addr, &server_addr, client_extra);
    (out, stop(server))
}

fn root_or_skip(test: &str) -> bool {
    if ikeway_testkit::is_root() {
        return true;
    }
    ikeway_testkit::skip(test, "binding UDP 500 and 4500 needs root");
    false
}

fn events(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn mutual_certificates_and_server_certificate_with_client_psk() {
    if !root_or_skip("mutual_certificates_and_server_certificate_with_client_psk") {
        return;
    }
    let (out, server) = run(
        41,
        &["--ca", "ca.pem", "--require-client-cert"],
        &["--cert", "client.pem", "--key", "client.key", "--ca", "ca.pem"],
    );
    let text = events(&out);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("\"ike_sa_up\"") || text.contains("IkeSaUp"), "{text}");
    assert!(text.contains("child_sa_installed") || text.contains("ChildSaInstalled"), "{text}");
    assert!(
        server.contains("child_sa_installed") || server.contains("ChildSaInstalled"),
        "{server}"
    );

    // The server shows its certificate, the client proves itself with the PSK.
    let (out, _) = run(42, &["--psk-file", "psk"], &["--psk-file", "psk", "--ca", "ca.pem"]);
    let text = events(&out);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(r#"{"event":"child_sa_installed""#), "{text}");
}

#[test]
fn a_server_from_an_untrusted_ca_is_refused_with_the_reason() {
    if !root_or_skip("a_server_from_an_untrusted_ca_is_refused_with_the_reason") {
        return;
    }
    let (out, _) = run(43, &["--psk-file", "psk"], &["--psk-file", "psk", "--ca", "other.pem"]);
    assert!(!out.status.success(), "{}", events(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "ikeway: IKE SA closed: certificate refused: the peer's certificate does not chain to \
         a trusted certificate authority"
    );
    // A client that shows no certificate to a server requiring one is refused too.
    let (out, _) = run(
        44,
        &["--ca", "ca.pem", "--require-client-cert"],
        &["--psk-file", "psk", "--ca", "ca.pem"],
    );
    assert!(!out.status.success(), "{}", events(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "ikeway: IKE SA closed: authentication failed"
    );
}

/// The server proves itself with its certificate; the client with EAP as a user of the
/// server's user file (RFC 7296 §2.16).
#[test]
fn eap_users_sign_in_with_the_right_password_only() {
    if !root_or_skip("eap_users_sign_in_with_the_right_password_only") {
        return;
    }
    fn client<'a>(user: &'a str, pw: &'a str) -> Vec<&'a str> {
        vec!["--username", user, "--password-file", pw, "--ca", "ca.pem"]
    }
    let (out, server) = run(45, &["--eap-users", "users"], &client("alice", "right.pw"));
    let text = events(&out);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains(r#"{"event":"child_sa_installed""#), "{text}");
    assert!(
        server.contains(
            r#""event":"peer_authenticated","id":"client.loopback.test","eap_identity":"alice""#
        ),
        "{server}"
    );

    // EAP-MD5 when both ends allow only it.
    let mut md5 = client("bob", "bob.pw");
    md5.extend(["--eap-methods", "md5"]);
    let (out, server) = run(46, &["--eap-users", "users", "--eap-methods", "md5"], &md5);
    assert!(out.status.success(), "{}\n{}", events(&out), String::from_utf8_lossy(&out.stderr));
    assert!(server.contains(r#""eap_identity":"bob""#), "{server}");

    // A wrong password and an unknown user get the same answer.
    for (pair, user, pw) in [(47, "alice", "wrong.pw"), (48, "mallory", "right.pw")] {
        let (out, server) = run(pair, &["--eap-users", "users"], &client(user, pw));
        assert_eq!(out.status.code(), Some(1), "{user}: {}", events(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim_end(),
            "ikeway: IKE SA closed: EAP authentication failed: the server rejected the \
             EAP-MSCHAPv2 authentication (error 691: wrong user name or password)",
            "{user}"
        );
        assert!(!events(&out).contains("child_sa_installed"), "{user}");
        assert!(!server.contains("peer_authenticated"), "{user}: {server}");
    }
}

/// Where our own client's connection ended: Connected (then stopped), or Disconnected with the
/// error and reason; and the server's events.
type Ended = (VpnStatus, Option<DisconnectError>, Option<String>, String);

/// EAP-TLS with the certificate `cert` (and `key`) against `serve --eap-users --eap-methods tls
/// --ca ca.pem`: the client is a configuration `ikeway config add --auth none --extended-auth
/// --eap-methods tls --identity-*` saved, started in process through the manager's
/// `VpnConnection` without a TUN device (`ikeway connect` would route this host through one).
fn eap_tls(pair: u8, cert: &str, key: &str) -> Ended {
    let dir = tempfile::tempdir().unwrap();
    eap_tls_in(dir.path(), pair, cert, key, &[], &[])
}

/// [`eap_tls`] in `dir`, with extra `config add` and `serve` arguments.
fn eap_tls_in(
    dir: &Path,
    pair: u8,
    cert: &str,
    key: &str,
    add_extra: &[&str],
    serve_extra: &[&str],
) -> Ended {
    files(dir);
    let (server_addr, client_addr) = (format!("127.0.{pair}.2"), format!("127.0.{pair}.1"));
    let config = dir.join("config");
    let add = Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(["config", "add", "tls", "--server", &server_addr])
        .args(["--remote-id", "vpn.loopback.test", "--local-id", "client.loopback.test"])
        .args(["--ca", "ca.pem", "--auth", "none", "--extended-auth", "--eap-methods", "tls"])
        .args(["--identity-cert", cert, "--identity-key", key, "--yes"])
        .args(add_extra)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", &config)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    let store = PreferencesStore::in_dir(config.join("ikeway"));
    let (app, mut configuration) = store.personal_configurations().unwrap().remove(0);
    assert_eq!(app, "ikeway-cli/tls");
    configuration.enabled = true;

    let mut args = vec!["--eap-users", "users", "--eap-methods", "tls", "--ca", "ca.pem"];
    args.extend_from_slice(serve_extra);
    let server = serve(dir, &server_addr, &args);
    std::thread::sleep(Duration::from_millis(500));
    let provider = SessionProvider::new(ProviderOptions {
        local: Some(client_addr.parse().unwrap()),
        ..ProviderOptions::default()
    });
    let mut connection = VpnConnection::new(Box::new(provider), Box::new(store.secrets().clone()));
    connection.set_configuration(Some(configuration));
    let changes = connection.subscribe();
    connection.start_tunnel().unwrap();
    let next = || changes.recv_timeout(Duration::from_secs(20)).unwrap().to;
    assert_eq!(next(), VpnStatus::Connecting);
    let ended = next();
    if ended == VpnStatus::Connected {
        connection.stop_tunnel();
        assert_eq!(next(), VpnStatus::Disconnecting);
        assert_eq!(next(), VpnStatus::Disconnected);
    }
    let server = stop(server);
    (ended, connection.last_disconnect_error(), connection.last_disconnect_reason(), server)
}

/// Stops `serve` as an operator would, with SIGTERM, and returns what it printed (its
/// events): it ends its session, writes out every event and exits 0. SIGKILL only if it has
/// not exited within 20 s, which then fails the test.
fn stop(mut server: Child) -> String {
    let pid = server.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while server.try_wait().unwrap().is_none() {
        if std::time::Instant::now() >= deadline {
            let _ = server.kill();
            panic!("serve did not exit within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = server.wait_with_output().unwrap();
    let events = String::from_utf8_lossy(&out.stdout).into_owned();
    // Its last event says it ended: the signal shut the session down and the loop wrote out
    // everything before exiting.
    assert!(
        events.trim_end().ends_with(r#"{"event":"status","status":"disconnected"}"#),
        "{events}"
    );
    assert!(out.status.success(), "serve after SIGTERM: {:?}", out.status);
    events
}

/// EAP-TLS as the client's only proof: `serve --ca` without --require-client-cert anchors the
/// client certificates EAP-TLS checks. A certificate of that CA signs in (the server names
/// the EAP identity it proved); one of another CA is refused inside EAP-TLS, the client told
/// so by the server's TLS alert, and the server authenticates no one.
#[test]
fn eap_tls_alone_accepts_client_certificates_of_the_ca_only() {
    if !root_or_skip("eap_tls_alone_accepts_client_certificates_of_the_ca_only") {
        return;
    }
    let (status, error, reason, server) = eap_tls(49, "tls-client.pem", "tls-client.key");
    assert_eq!((status, error, reason), (VpnStatus::Connected, None, None), "{server}");
    assert!(
        server.contains(
            r#""event":"peer_authenticated","id":"client.loopback.test","eap_identity":"client.loopback.test""#
        ),
        "{server}"
    );
    assert!(server.contains(r#"{"event":"ike_sa_up""#), "{server}");

    let (status, error, reason, server) = eap_tls(50, "stranger.pem", "stranger.key");
    assert_eq!(
        (status, error, reason.as_deref()),
        (
            VpnStatus::Disconnected,
            Some(DisconnectError::AuthenticationFailed),
            // unknown_ca (RFC 8446 §6.2): the server found no anchor for the chain.
            Some("the EAP-TLS handshake failed (TLS alert 48)")
        ),
        "{server}"
    );
    assert!(!server.contains("peer_authenticated"), "{server}");
}

/// `serve --keylog K` with EAP-TLS writes the TLS secrets to `K.tls` (0600) as NSS key log
/// lines for Wireshark: `CLIENT_RANDOM` for TLS 1.2, the five TLS 1.3 secrets otherwise, each
/// line naming the one handshake's client random; the IKE table still goes to `K`. With both,
/// tshark (4.0) opens IKE_AUTH and reads the whole EAP-TLS handshake inside the EAP payloads,
/// the encrypted messages too (TLS 1.2 Finished both ways; TLS 1.3 EncryptedExtensions,
/// CertificateRequest, Certificate, CertificateVerify, Finished both ways; without the TLS
/// key log only the Hellos of 1.3 are read), nothing malformed.
#[test]
fn serve_keylog_writes_the_eap_tls_secrets_next_to_the_ike_keys() {
    use std::os::unix::fs::PermissionsExt;
    if !root_or_skip("serve_keylog_writes_the_eap_tls_secrets_next_to_the_ike_keys") {
        return;
    }
    let tls13 = [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_TRAFFIC_SECRET_0",
    ];
    let tshark = ikeway_testkit::have("tshark") && ikeway_testkit::have("dumpcap");
    // (pair, version, labels, handshake messages tshark reads from the client, from the server)
    let cases = [
        (61, "1.2", &["CLIENT_RANDOM"][..], "1,11,16,15,20", "2,11,12,13,14,20"),
        (62, "1.3", &tls13[..], "1,11,15,20", "2,8,13,11,15,20"),
    ];
    for (pair, tls_max, labels, client_flight, server_flight) in cases {
        let dir = tempfile::tempdir().unwrap();
        let capture = tshark.then(|| Capture::start(dir.path(), pair));
        let (status, error, _, server) = eap_tls_in(
            dir.path(),
            pair,
            "tls-client.pem",
            "tls-client.key",
            &["--tls-max", tls_max],
            &["--keylog", "keys"],
        );
        assert_eq!((status, error), (VpnStatus::Connected, None), "TLS {tls_max}: {server}");
        let tls = dir.path().join("keys.tls");
        let mode = std::fs::symlink_metadata(&tls).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o600, "TLS {tls_max}");
        let text = std::fs::read_to_string(&tls).unwrap();
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split(' ').collect()).collect();
        let mut seen: Vec<&str> = lines.iter().map(|l| l[0]).collect();
        seen.sort_unstable();
        assert_eq!(seen, labels, "TLS {tls_max}: {text}");
        for line in &lines {
            assert_eq!(line.len(), 3, "TLS {tls_max}: {text}");
            assert_eq!(line[1], lines[0][1], "one handshake, one client random: {text}");
            assert_eq!(line[1].len(), 64, "{text}");
            let secret = line[2].len();
            let want = if tls_max == "1.2" { [96, 96] } else { [64, 96] };
            assert!(want.contains(&secret), "TLS {tls_max}: secret of {secret} hex digits: {text}");
            assert!(line[1..].iter().all(|h| h.bytes().all(|b| b.is_ascii_hexdigit())), "{text}");
        }
        let ike = std::fs::read_to_string(dir.path().join("keys")).unwrap();
        assert_eq!(ike.lines().count(), 1, "TLS {tls_max}: one IKE SA row: {ike}");
        assert!(!server.contains(lines[0][2]), "no secret on stdout");
        let Some(capture) = capture else { continue };
        let (client, server) = capture.eap_tls_handshake(dir.path(), pair);
        assert_eq!(
            (client.as_str(), server.as_str()),
            (client_flight, server_flight),
            "TLS {tls_max}"
        );
    }
    if !tshark {
        ikeway_testkit::skip(
            "serve_keylog_writes_the_eap_tls_secrets_next_to_the_ike_keys (tshark part)",
            "tshark or dumpcap not installed",
        );
    }
}

/// dumpcap on loopback, limited to one test's address pair; its stderr is kept open (closed,
/// dumpcap would die of SIGPIPE at its next message and capture nothing).
struct Capture {
    dumpcap: Child,
    _stderr: std::io::BufReader<std::process::ChildStderr>,
}

impl Capture {
    fn start(dir: &Path, pair: u8) -> Self {
        use std::io::BufRead;
        let mut child = Command::new("dumpcap")
            .args(["-i", "lo", "-q", "-f", &format!("udp and net 127.0.{pair}.0/24"), "-w"])
            .arg(dir.join("eap.pcapng"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Only once dumpcap names its file (after "Capturing on") is the first IKE_SA_INIT
        // sure to be seen.
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while !line.starts_with("File: ") {
            line.clear();
            assert!(stderr.read_line(&mut line).unwrap() > 0, "dumpcap ended: {line}");
        }
        Self { dumpcap: child, _stderr: stderr }
    }

    /// Stops the capture and has tshark read it with the IKE table and the TLS key log
    /// `serve` wrote: the TLS handshake message types it found in the client's and in the
    /// server's IKE_AUTH messages, in order (comma-separated). Fails on any malformed packet
    /// or expert warning.
    fn eap_tls_handshake(mut self, dir: &Path, pair: u8) -> (String, String) {
        // dumpcap stopped by SIGINT drops what the kernel still buffers for it (about a
        // second's worth): let it drain first.
        std::thread::sleep(Duration::from_secs(2));
        let stop = Command::new("kill").args(["-INT", &self.dumpcap.id().to_string()]).status();
        assert!(stop.unwrap().success());
        assert!(self.dumpcap.wait().unwrap().success());
        let conf = dir.join("wireshark");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::copy(dir.join("keys"), conf.join("ikev2_decryption_table")).unwrap();
        let out = Command::new("tshark")
            .env("WIRESHARK_CONFIG_DIR", &conf)
            .arg("-r")
            .arg(dir.join("eap.pcapng"))
            .arg("-o")
            .arg(format!("tls.keylog_file:{}", dir.join("keys.tls").display()))
            .args(["-Y", "isakmp.exchangetype == 35", "-T", "fields", "-E", "separator=|"])
            .args(["-E", "occurrence=a", "-E", "aggregator=,"])
            .args(["-e", "ip.dst", "-e", "tls.handshake.type"])
            .args(["-e", "_ws.malformed", "-e", "_ws.expert.message"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let (mut client, mut server) = (Vec::new(), Vec::new());
        for l in text.lines().map(|l| l.split('|').collect::<Vec<_>>()) {
            assert_eq!((l[2], l[3]), ("", ""), "tshark warnings: {text}");
            let to_server = l[0] == format!("127.0.{pair}.2");
            let flight = if to_server { &mut client } else { &mut server };
            flight.extend(l[1].split(',').filter(|t| !t.is_empty()).map(str::to_owned));
        }
        (client.join(","), server.join(","))
    }
}

/// The payload types of the server's first IKE_AUTH response (message 1) in `capture`,
/// decrypted with the server's key log by `ikeway decode`.
fn first_auth_response(dir: &Path, capture: &str, keys: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_ikeway"))
        .args(["decode", capture, "--keys", keys])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let messages: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let response = messages
        .iter()
        .find(|m| {
            m["exchange"] == "IKE_AUTH" && m["message_id"] == 1 && m["flags"]["response"] == true
        })
        .unwrap_or_else(|| panic!("no first IKE_AUTH response in {messages:?}"));
    response["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// Captures UDP to and from `addr` on loopback (dumpcap) while `run` runs, into `file`.
fn captured<T>(dir: &Path, addr: &str, file: &str, run: impl FnOnce() -> T) -> T {
    let mut dumpcap = Command::new("dumpcap")
        .args(["-q", "-i", "lo", "-f", &format!("udp and host {addr}"), "-w"])
        .arg(dir.join(file))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // dumpcap says so once it listens; its last lines (counts) fit in the pipe.
    let mut said = String::new();
    let mut stderr = std::io::BufReader::new(dumpcap.stderr.take().unwrap());
    while !said.contains("Capturing on") {
        let before = said.len();
        std::io::BufRead::read_line(&mut stderr, &mut said).unwrap();
        assert_ne!(said.len(), before, "dumpcap ended: {said}");
    }
    std::thread::sleep(Duration::from_millis(300));
    let result = run();
    // The kernel hands packets to dumpcap in blocks, the last one after a timeout; SIGINT,
    // not SIGKILL, so that it then writes out what it holds.
    std::thread::sleep(Duration::from_secs(1));
    let pid = dumpcap.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    dumpcap.wait().unwrap();
    result
}

/// RFC 5998 at our responder (`serve --eap-only`): our client offers only EAP-TLS, a mutual
/// method, so it asks for EAP-only authentication; with the switch the server's first
/// IKE_AUTH response carries IDr and EAP but no CERT or AUTH (EAP-TLS and the MSK-keyed AUTH
/// prove it), and the client still connects; without the switch the same client gets the
/// server's CERT and AUTH first. Read from a loopback capture decrypted with `serve --keylog`.
#[test]
fn eap_only_leaves_the_servers_cert_and_auth_out_of_the_first_ike_auth_response() {
    let test = "eap_only_leaves_the_servers_cert_and_auth_out_of_the_first_ike_auth_response";
    if !root_or_skip(test) {
        return;
    }
    if !ikeway_testkit::have("dumpcap") {
        ikeway_testkit::skip(test, "dumpcap (wireshark) is not installed");
        return;
    }
    for (pair, extra, expected) in [
        (53, &["--eap-only"][..], &["IDr", "EAP"][..]),
        (54, &[][..], &["IDr", "CERT", "AUTH", "EAP"][..]),
    ] {
        let work = tempfile::tempdir().unwrap();
        let mut server_extra = vec!["--keylog", "serve.keys"];
        server_extra.extend(extra);
        let (status, error, reason, server) =
            captured(work.path(), &format!("127.0.{pair}.2"), "ike.pcapng", || {
                let (cert, key) = ("tls-client.pem", "tls-client.key");
                eap_tls_in(work.path(), pair, cert, key, &[], &server_extra)
            });
        assert_eq!((status, error, reason), (VpnStatus::Connected, None, None), "{server}");
        assert!(server.contains(r#"{"event":"ike_sa_up""#), "{server}");
        let types = first_auth_response(work.path(), "ike.pcapng", "serve.keys");
        // SK, then its decrypted inner payloads.
        assert_eq!(types[0], "SK", "{extra:?}: {types:?}");
        assert_eq!(types[1..], *expected, "{extra:?}: {types:?}");
    }
}
