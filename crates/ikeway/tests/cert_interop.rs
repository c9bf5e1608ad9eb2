//! Certificate authentication against strongSwan 5.9.8 in network namespaces (issue 11's
//! proof): our Personal VPN client (`config add` + `connect`) against strongSwan responders
//! with ECDSA, RSA and Ed25519 certificates, with a client PSK and with client certificates;
//! every defective server certificate refused with its documented disconnect error and no
//! state left on either side; a strongSwan initiator against `ikeway serve --cert --key`, with
//! and without `--require-client-cert`; and tshark's reading of IKE_AUTH with certificates.
//!
//! `testbeds/cert-interop.sh` runs the peers and records what each side saw (the cases are in
//! `testbeds/lib/certbed.sh`, the certificates from `testbeds/lib/pki.sh`, made once per run
//! with strongSwan's `pki`); this file judges it. Both scenarios run once, side by side, for
//! all the tests here. Needs root and the peers (`testbeds/install-peers.sh`); without them
//! every test says loudly that it was skipped.

mod testbed;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use ikeway_manager::DisconnectError;
use ikeway_pki::CertFailure;
use testbed::{
    Outcome, Runs, assert_client_restored, case_events, charon_lines, events, find, read,
    run_scenarios, status, swanctl_sas,
};

const NEEDS: &[&str] = &["charon-systemd", "swanctl", "pki", "openssl", "python3"];

/// The two scenarios (`client`, `server`), run once, side by side, for all the tests here.
fn runs() -> Option<&'static Runs> {
    static RUNS: OnceLock<Outcome> = OnceLock::new();
    RUNS.get_or_init(|| {
        run_scenarios("cert-interop.sh", "ikwc", "ikw_pki_testset", &["client", "server"], NEEDS)
    })
    .runs("certificate interop with strongSwan")
}

/// A client case that must come up: connected, traffic through strongSwan's tunnel, strongSwan
/// signed with `server_auth` (its words for the signature we verified) and verified our AUTH
/// as `client_auth`, the same SAs on both sides, and after the disconnect the client's routes
/// and links as before and no SA left at strongSwan.
fn assert_connected(dir: &Path, case: &str, server_auth: &str, client_auth: &str) {
    let connect = read(dir, &format!("{case}.connect.out"));
    let log = read(dir, &format!("{case}.log"));
    assert_eq!(
        read(dir, &format!("{case}.connect.rc")).trim(),
        "0",
        "{case}: {connect}\n{log}\n{}",
        read(dir, &format!("{case}.add.out"))
    );
    let st = status(dir, &format!("{case}.status.json"));
    assert_eq!(st["status"], "connected", "{case}: {st}");
    assert_eq!(
        read(dir, &format!("{case}.ping.rc")).trim(),
        "0",
        "{case}: ping through the tunnel"
    );
    let sas = swanctl_sas(&read(dir, &format!("{case}.sas")));
    assert_eq!(sas.len(), 1, "{case}: {sas:?}");
    assert_eq!(sas[0].fields["state"], "ESTABLISHED", "{case}");
    assert_eq!(
        sas[0].children[0].get("spi-out").map(String::as_str),
        st["child_sas"][0]["spi_in"].as_str(),
        "{case}: strongSwan's child SA is ours"
    );
    // What the server is known as (testbeds/lib/certbed.sh ikw_cert_server_id).
    let server = if case == "ip-san" { "10.99.0.27" } else { "srv.ikeway.test" };
    let lines = charon_lines(dir, case);
    for said in [
        format!("authentication of '{server}' (myself) with {server_auth} successful"),
        format!("authentication of 'cli.ikeway.test' with {client_auth} successful"),
    ] {
        assert!(lines.iter().any(|l| l.contains(&said)), "{case}: strongSwan did not log {said:?}");
    }
    assert_no_state(dir, case);
}

/// Nothing left: status disconnected, routes and links as before the connect, and strongSwan
/// holds no SA of the case.
fn assert_no_state(dir: &Path, case: &str) {
    assert_client_restored(dir, case);
    let end = swanctl_sas(&read(dir, &format!("{case}.end.sas")));
    assert!(end.is_empty(), "{case}: strongSwan kept an SA: {end:?}");
}

/// A server case that must be refused: connect fails with Apple's disconnect error `error`
/// (its name, sentence and NEVPNConnectionError code) and names the certificate failure `why`
/// (its sentence), and leaves no state.
fn assert_refused(dir: &Path, case: &str, error: DisconnectError, why: CertFailure) {
    let connect = read(dir, &format!("{case}.connect.out"));
    let log = read(dir, &format!("{case}.log"));
    assert_ne!(read(dir, &format!("{case}.connect.rc")).trim(), "0", "{case} connected: {log}");
    // Apple's name for the error, its sentence and code.
    let code = format!("{error:?}: {error}");
    assert!(connect.contains(&code), "{case}: wanted {code:?} in: {connect}");
    let reason = why.to_string();
    assert!(
        connect.contains(&reason) || log.contains(&reason),
        "{case}: wanted the reason {reason:?} in: {connect}\n{log}"
    );
    // We told strongSwan at once (RFC 7296 §2.21.2), which is why it keeps nothing.
    let told = "parsed INFORMATIONAL request 2 [ N(AUTH_FAILED) D ]";
    assert!(
        charon_lines(dir, case).iter().any(|l| l.contains(told)),
        "{case}: strongSwan was not told: no {told:?} in its log"
    );
    assert_no_state(dir, case);
}

#[test]
fn our_client_verifies_strongswan_server_certificates_with_a_psk_of_its_own() {
    let Some(runs) = runs() else { return };
    // The PSK is strongSwan's word for our AUTH; the server's certificate is what we checked.
    let dir = runs.dir("client");
    assert_connected(dir, "ec-psk", "ECDSA_WITH_SHA256_DER", "pre-shared key");
    assert_connected(dir, "rsa-psk", "RSA_EMSA_PKCS1_SHA2_256", "pre-shared key");
    // Apple's serverCertificateCommonName / IssuerCommonName that match, and a CRL that
    // revokes nothing.
    assert_connected(dir, "ec-psk-checked", "ECDSA_WITH_SHA256_DER", "pre-shared key");
    // A server known by its address: the remote identifier is an IPv4 address, found in the
    // certificate's SAN as an IP address.
    assert_connected(dir, "ip-san", "ECDSA_WITH_SHA256_DER", "pre-shared key");
}

#[test]
fn our_client_and_strongswan_authenticate_each_other_with_rsa_ecdsa_and_ed25519() {
    let Some(runs) = runs() else { return };
    let dir = runs.dir("client");
    // RFC 7427 both ways: strongSwan signs with SHA-256 (RSA) or the curve's hash, we with the
    // strongest hash it announced (SHA-512 for RSA), Ed25519 with "identity".
    let rsa = ("RSA_EMSA_PKCS1_SHA2_256", "RSA_EMSA_PKCS1_SHA2_512");
    assert_connected(dir, "mutual-rsa", rsa.0, rsa.1);
    // RSA certificates make IKE_AUTH outgrow strongSwan's 1280-byte fragments: RFC 7383 both
    // ways, our fragments reassembled by strongSwan and its by us.
    let lines = charon_lines(dir, "mutual-rsa");
    for said in ["parsed IKE_AUTH request 1 [ EF(1/", "generating IKE_AUTH response 1 [ EF(1/"] {
        assert!(lines.iter().any(|l| l.contains(said)), "mutual-rsa: no {said:?}");
    }
    let ec = ("ECDSA_WITH_SHA384_DER", "ECDSA_WITH_SHA256_DER");
    assert_connected(dir, "mutual-ec", ec.0, ec.1);
    assert_connected(dir, "mutual-ed", "ED25519", "ED25519");
    // The client identity from a PKCS#12 file (openssl 3's default encryption).
    assert_connected(dir, "mutual-ec-p12", ec.0, ec.1);
}

#[test]
fn our_client_refuses_each_defective_server_certificate_with_its_error() {
    let Some(runs) = runs() else { return };
    let dir = runs.dir("client");
    use CertFailure as F;
    use DisconnectError as E;
    let cases = [
        ("untrusted", E::ServerCertificateInvalid, F::UntrustedIssuer),
        ("expired", E::ServerCertificateExpired, F::Expired),
        ("future", E::ServerCertificateNotYetValid, F::NotYetValid),
        ("wrongsan", E::ServerCertificateInvalid, F::IdentityMismatch),
        ("revoked", E::ServerCertificateInvalid, F::Revoked),
        ("revoked-fetched", E::ServerCertificateInvalid, F::Revoked),
        ("eku", E::ServerCertificateInvalid, F::WrongKeyUsage),
        ("forged", E::ServerCertificateInvalid, F::UntrustedIssuer),
        ("truncated", E::ServerCertificateInvalid, F::UntrustedIssuer),
        ("ec-psk-wrong-cn", E::ServerCertificateInvalid, F::CommonNameMismatch),
        ("ec-psk-strict", E::ServerCertificateInvalid, F::RevocationUnknown),
    ];
    for (case, error, why) in cases {
        assert_refused(dir, case, error, why);
    }
    // The CRL of revoked-fetched came from srv-revoked's distribution point, once; the
    // revoked case before it had the CRL at hand and asked nobody.
    let http = read(dir, "http.out");
    let gets: Vec<&str> = http.lines().filter(|l| l.contains("GET ")).collect();
    assert_eq!(gets.len(), 1, "{http}");
    assert!(gets[0].contains("\"GET /root-ec.crl HTTP/1.1\" 200"), "{http}");
}

#[test]
fn our_client_with_an_expired_certificate_of_its_own_sends_nothing() {
    let Some(runs) = runs() else { return };
    let dir = runs.dir("client");
    let case = "own-expired";
    assert_ne!(read(dir, &format!("{case}.connect.rc")).trim(), "0");
    let connect = read(dir, &format!("{case}.connect.out"));
    let name = format!("{:?}", DisconnectError::ClientCertificateExpired);
    assert!(connect.contains(&name) && connect.contains("has expired"), "{connect}");
    let sent = charon_lines(dir, case);
    assert!(
        !sent.iter().any(|l| l.contains("received packet")),
        "strongSwan heard from us: {sent:?}"
    );
    assert_no_state(dir, case);
}

/// tshark, given the key log `initiate` wrote, decrypts our IKE_AUTH with a certificate: CERT
/// and CERTREQ from us, CERT and AUTH from strongSwan, RFC 7427 signatures (method 14) both
/// ways, nothing malformed.
#[test]
fn tshark_reads_certificate_ike_auth_both_ways() {
    let Some(runs) = runs() else { return };
    let dir = runs.dir("client");
    assert_eq!(read(dir, "initiate.rc").trim(), "0", "{}", read(dir, "initiate.err"));
    let ours = events(dir, "initiate.jsonl");
    assert_eq!(find(&ours, "ike_sa_closed")[0]["reason"], "Deleted");
    if !ikeway_testkit::have("tshark") {
        ikeway_testkit::skip("tshark reading of certificate IKE_AUTH", "tshark not installed");
        return;
    }
    let conf = dir.join("wireshark");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::copy(dir.join("certs.keys"), conf.join("ikev2_decryption_table")).unwrap();
    let out = Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", &conf)
        .arg("-r")
        .arg(dir.join("certs.pcapng"))
        .args(["-Y", "isakmp.exchangetype == 35", "-T", "fields", "-E", "separator=|"])
        .args(["-E", "occurrence=a", "-E", "aggregator=,"])
        .args(["-e", "isakmp.rspi", "-e", "isakmp.flags", "-e", "isakmp.typepayload"])
        .args(["-e", "isakmp.cert.encoding", "-e", "isakmp.auth.method"])
        .args(["-e", "_ws.malformed", "-e", "_ws.expert.message"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(lines.len(), 2, "one IKE_AUTH request and response: {text}");
    for l in &lines {
        assert_eq!((l[5], l[6]), ("", ""), "tshark warnings: {l:?}");
        let payloads: Vec<&str> = l[2].split(',').collect();
        // SK (46) decrypted; CERT 37, AUTH 39.
        assert_eq!(payloads.first(), Some(&"46"), "{l:?}");
        assert!(payloads.contains(&"37") && payloads.contains(&"39"), "CERT and AUTH: {l:?}");
        assert!(l[3].split(',').all(|e| e == "4"), "X.509 Certificate - Signature: {l:?}");
        assert_eq!(l[4], "14", "RFC 7427 Digital Signature: {l:?}");
    }
    // Our request asks for the server's certificate by its anchor (CERTREQ, 38).
    assert!(lines[0][2].split(',').any(|p| p == "38"), "CERTREQ in our IKE_AUTH: {:?}", lines[0]);
}

/// A strongSwan client case that must come up at our responder: strongSwan verified our
/// certificate, and our responder has the same IKE SA.
fn assert_served(dir: &Path, case: &str, client_auth: &str) {
    assert_eq!(
        read(dir, &format!("{case}.rc")).trim(),
        "0",
        "{}",
        read(dir, &format!("{case}.initiate.out"))
    );
    let sas = swanctl_sas(&read(dir, &format!("{case}.sas")));
    assert_eq!(sas.len(), 1, "{case}: {sas:?}");
    let ours = case_events(dir, case);
    let up = find(&ours, "ike_sa_up");
    assert_eq!(up.len(), 1, "{case}: {ours:?}");
    assert_eq!(up[0]["spi_i"].as_str(), sas[0].fields.get("initiator-spi").map(String::as_str));
    assert_eq!(up[0]["spi_r"].as_str(), sas[0].fields.get("responder-spi").map(String::as_str));
    assert_eq!(sas[0].children[0]["state"], "INSTALLED", "{case}");
    let lines = charon_lines(dir, case);
    for said in [
        // strongSwan adds "successful" to signatures, not to its PSK MAC.
        format!("authentication of 'cli.ikeway.test' (myself) with {client_auth}"),
        "authentication of 'srv.ikeway.test' with ECDSA_WITH_SHA256_DER successful".to_owned(),
    ] {
        assert!(lines.iter().any(|l| l.contains(&said)), "{case}: strongSwan did not log {said:?}");
    }
}

/// A strongSwan client case our responder must refuse: AUTHENTICATION_FAILED to strongSwan,
/// no IKE SA up at ours, and `reason` in our responder's events.
fn assert_turned_away(dir: &Path, case: &str, reason: &str) {
    assert_ne!(read(dir, &format!("{case}.rc")).trim(), "0", "{case} came up");
    assert!(
        charon_lines(dir, case)
            .iter()
            .any(|l| l.contains("received AUTHENTICATION_FAILED notify error")),
        "{case}: {}",
        read(dir, &format!("{case}.initiate.out"))
    );
    let ours = case_events(dir, case);
    assert!(find(&ours, "ike_sa_up").is_empty(), "{case}: our responder kept an IKE SA: {ours:?}");
    let text = read(dir, &format!("{case}.events.jsonl"));
    assert!(text.contains(reason), "{case}: wanted {reason:?} in our events: {text}");
    assert!(swanctl_sas(&read(dir, &format!("{case}.sas"))).is_empty(), "{case}");
}

#[test]
fn strongswan_clients_authenticate_our_certificate_responder() {
    let Some(runs) = runs() else { return };
    let dir = runs.dir("server");
    // PSK client, certificate server.
    assert_served(dir, "cli-psk", "pre-shared key");
    // Certificate clients where one is required; our responder verified each signature:
    // ECDSA, RSASSA-PSS (strongSwan's initiator runs with rsa_pss = yes; cli-rsa's certificate
    // is PSS-signed too) and Ed25519.
    assert_served(dir, "cli-ec", "ECDSA_WITH_SHA256_DER");
    assert_served(dir, "cli-rsa", "RSA_EMSA_PSS_SHA2_256_SALT_32");
    assert_served(dir, "cli-ed", "ED25519");
}

#[test]
fn our_responder_turns_away_clients_without_a_good_certificate() {
    let Some(runs) = runs() else { return };
    let dir = runs.dir("server");
    assert_turned_away(dir, "cli-psk-req", "AuthenticationFailed");
    assert_turned_away(dir, "cli-untrusted", "Untrusted");
    assert_turned_away(dir, "cli-expired", "Expired");
    assert_turned_away(dir, "cli-revoked", "Revoked");
}
