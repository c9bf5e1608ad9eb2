//! Certificate authentication through a whole handshake (RFC 7296 §2.15, §3.6 - §3.8,
//! RFC 7427): server certificate with a client PSK, mutual certificates for every key type,
//! the AUTH method bound to what each side's configuration allows, and each way a peer's
//! certificate is refused, with the close reason on both sides and no state left on the
//! responder. Chains are made in process by rcgen; verifiers run at a fixed time.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::payloads::auth_method;
use common::run::{Run, open_auth, rewrite_auth};
use common::{client_config, server_config};
use ikeway_codec::{
    AuthMethod, CertRepr, ExchangeType, HeaderRepr, IdRepr, IdValue, MessageRepr, NotifyType,
    Payload, PayloadRepr,
};
use ikeway_pki::{
    CertFailure, Certificate, FixedTime, Identity, PrivateKey, Purpose, UnixTime, Validator,
};
use ikeway_sa::{CloseReason, Config, Event, IkeSa, LocalAuth, PeerAuth};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, RsaKeySize, date_time_ymd,
};

// ----- certificates -----

/// 2030-01-01: what the verifiers take as now. Certificates are valid 2025 to 2035 unless a
/// test says otherwise.
const NOW_SECS: u64 = 1_893_456_000;

#[derive(Clone, Copy)]
enum Alg {
    Rsa4096,
    P256,
    P384,
    Ed25519,
}

fn key(alg: Alg) -> KeyPair {
    match alg {
        Alg::Rsa4096 => KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096),
        Alg::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
        Alg::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
        Alg::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519),
    }
    .expect("rcgen makes keys of every kind we test")
}

/// A CA (root or intermediate): its DER, and what signs below it.
struct Ca {
    der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("no names");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2035, 1, 1);
    p
}

impl Ca {
    fn root(cn: &str, alg: Alg) -> Self {
        let key = key(alg);
        let params = ca_params(cn);
        let cert = params.self_signed(&key).expect("self-signed CA");
        Self { der: cert.der().to_vec(), issuer: Issuer::new(params, key) }
    }

    fn intermediate(&self, cn: &str, alg: Alg) -> Self {
        let key = key(alg);
        let params = ca_params(cn);
        let cert = params.signed_by(&key, &self.issuer).expect("intermediate");
        Self { der: cert.der().to_vec(), issuer: Issuer::new(params, key) }
    }

    /// An end entity with `dns` as its DNS SAN, valid from `from` to `until` (years).
    fn issue(&self, dns: &str, alg: Alg, from: i32, until: i32) -> (KeyPair, Vec<u8>) {
        let key = key(alg);
        let mut params = CertificateParams::new(vec![dns.to_owned()]).expect("a DNS name");
        params.distinguished_name.push(DnType::CommonName, dns);
        params.not_before = date_time_ymd(from, 1, 1);
        params.not_after = date_time_ymd(until, 1, 1);
        let cert = params.signed_by(&key, &self.issuer).expect("end entity");
        (key, cert.der().to_vec())
    }
}

fn identity(key: &KeyPair, chain: &[&[u8]]) -> LocalAuth {
    let key = PrivateKey::from_der(&key.serialize_der()).expect("rcgen's PKCS#8");
    let chain = chain.iter().map(|d| Certificate::from_der(d.to_vec()).expect("DER")).collect();
    LocalAuth::Certificate(Arc::new(Identity::new(key, chain).expect("key matches chain[0]")))
}

fn verifier(anchor: &Ca, purpose: Purpose) -> PeerAuth {
    let anchor = Certificate::from_der(anchor.der.clone()).expect("DER");
    let validator = Validator::new(vec![anchor], purpose);
    let now = UnixTime::since_unix_epoch(Duration::from_secs(NOW_SECS));
    PeerAuth::Certificate(Arc::new(FixedTime { validator, now }))
}

/// A PKI of one root and one intermediate, with `alg` keys all the way.
struct Pki {
    root: Ca,
    intermediate: Ca,
    alg: Alg,
}

impl Pki {
    fn new(alg: Alg) -> Self {
        let root = Ca::root("Test Root", alg);
        let intermediate = root.intermediate("Test Intermediate", alg);
        Self { root, intermediate, alg }
    }

    /// The identity for `dns`: end entity then intermediate.
    fn identity(&self, dns: &str) -> LocalAuth {
        self.identity_valid(dns, 2025, 2035)
    }

    fn identity_valid(&self, dns: &str, from: i32, until: i32) -> LocalAuth {
        let (key, ee) = self.intermediate.issue(dns, self.alg, from, until);
        identity(&key, &[&ee, &self.intermediate.der])
    }
}

const CLIENT_ID: &str = "client.example.org";
const SERVER_ID: &str = "vpn.example.org";

fn configs() -> (Config, Config) {
    (client_config(), server_config())
}

/// Both sides up, on a fresh handshake with these configurations.
fn handshake(client: Config, server: Config) -> Run {
    let run = Run::new(client, server).run();
    assert!(
        run.both_up(),
        "handshake failed: {:?} / {:?}",
        run.initiator_events,
        run.responder_events
    );
    run
}

/// The handshake fails; returns the close reasons (initiator, responder).
fn refused(client: Config, server: Config) -> (Option<CloseReason>, Option<CloseReason>, Run) {
    let run = Run::new(client, server).run();
    assert!(!run.initiator.is_established(), "the initiator came up");
    (run.initiator_closed(), run.responder_closed(), run)
}

fn cert_count(payloads: &[Payload]) -> usize {
    payloads.iter().filter(|p| matches!(p.body, PayloadRepr::Cert(_))).count()
}

/// IKE_AUTH sent whole (no RFC 7383 fragments), so the tests can open it.
fn unfragmented(mut client: Config, mut server: Config) -> (Config, Config) {
    client.max_message_len = 60_000;
    server.max_message_len = 60_000;
    (client, server)
}

// ----- what each side sends -----

#[test]
fn server_certificate_with_client_psk() {
    let pki = Pki::new(Alg::P256);
    let (client, server) = configs();
    let (mut client, mut server) = unfragmented(client, server);
    client.peer_auth = verifier(&pki.root, Purpose::Server);
    server.local_auth = pki.identity(SERVER_ID);
    let mut run = Run::new(client, server);
    let seen: Arc<std::sync::Mutex<Vec<Vec<Payload>>>> = Arc::default();
    let (req, resp) = (seen.clone(), seen.clone());
    run.tamper_request = Some(Box::new(move |sa, bytes| {
        req.lock().unwrap().extend(open_auth(sa, &bytes));
        bytes
    }));
    run.tamper_response = Some(Box::new(move |sa, bytes| {
        resp.lock().unwrap().extend(open_auth(sa, &bytes));
        bytes
    }));
    let run = run.run();
    assert!(run.both_up(), "{:?} / {:?}", run.initiator_events, run.responder_events);
    let seen = seen.lock().unwrap();
    let [request, response] = &seen[..] else { panic!("one IKE_AUTH each way: {seen:?}") };
    // The client: PSK, and a CERTREQ naming the root it trusts (RFC 7296 §3.7).
    assert_eq!(auth_method(request), Some(AuthMethod::SHARED_KEY_MIC));
    assert_eq!(cert_count(request), 0);
    let root_hash = Certificate::from_der(pki.root.der.clone()).unwrap().spki_sha1();
    let certreq = request.iter().find_map(|p| match &p.body {
        PayloadRepr::CertReq(c) => Some(c.clone()),
        _ => None,
    });
    assert_eq!(certreq, Some(CertRepr::x509_request(&[root_hash])));
    // The server: its end entity then the intermediate, and an RFC 7427 signature (both
    // announced SIGNATURE_HASH_ALGORITHMS).
    assert_eq!(auth_method(response), Some(AuthMethod::DIGITAL_SIGNATURE));
    let certs: Vec<&CertRepr> = response
        .iter()
        .filter_map(|p| match &p.body {
            PayloadRepr::Cert(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[1].data, pki.intermediate.der);
    assert_eq!(certs.iter().map(|c| c.encoding.0).collect::<Vec<_>>(), [4, 4]);
    assert!(!response.iter().any(|p| matches!(p.body, PayloadRepr::CertReq(_))));
}

#[test]
fn responder_that_verifies_clients_sends_certreq_in_ike_sa_init() {
    let pki = Pki::new(Alg::P256);
    let (client, mut server) = configs();
    server.peer_auth = verifier(&pki.root, Purpose::Client);
    let mut run = Run::new(client, server);
    let mut buf = vec![0u8; 65536];
    let t = run.initiator.poll_transmit(&mut buf).unwrap().unwrap();
    let request = MessageRepr::parse(&buf[..t.len]).unwrap();
    let announced = request.find_notify(NotifyType::SIGNATURE_HASH_ALGORITHMS).unwrap();
    assert_eq!(announced.data[..], [0, 2, 0, 3, 0, 4, 0, 5]);
    run.responder.handle_datagram(run.now, t.local, t.remote, &buf[..t.len]);
    let t = run.responder.poll_transmit(&mut buf).unwrap().unwrap();
    let response = MessageRepr::parse(&buf[..t.len]).unwrap();
    let root_hash = Certificate::from_der(pki.root.der.clone()).unwrap().spki_sha1();
    let certreq = response.payloads.iter().find_map(|p| match &p.body {
        PayloadRepr::CertReq(c) => Some(c.clone()),
        _ => None,
    });
    assert_eq!(certreq, Some(CertRepr::x509_request(&[root_hash])));
    let announced = response.find_notify(NotifyType::SIGNATURE_HASH_ALGORITHMS).unwrap();
    assert_eq!(announced.data[..], [0, 2, 0, 3, 0, 4, 0, 5]);
}

#[test]
fn psk_responder_sends_no_certreq() {
    let mut run = Run::new(client_config(), server_config());
    let mut buf = vec![0u8; 65536];
    let t = run.initiator.poll_transmit(&mut buf).unwrap().unwrap();
    run.responder.handle_datagram(run.now, t.local, t.remote, &buf[..t.len]);
    let t = run.responder.poll_transmit(&mut buf).unwrap().unwrap();
    let response = MessageRepr::parse(&buf[..t.len]).unwrap();
    assert!(!response.payloads.iter().any(|p| matches!(p.body, PayloadRepr::CertReq(_))));
}

fn mutual(alg: Alg) -> Run {
    let pki = Pki::new(alg);
    let (mut client, mut server) = configs();
    client.local_auth = pki.identity(CLIENT_ID);
    client.peer_auth = verifier(&pki.root, Purpose::Server);
    server.local_auth = pki.identity(SERVER_ID);
    server.peer_auth = verifier(&pki.root, Purpose::Client);
    handshake(client, server)
}

/// RSA-4096 end entities with an RSA-4096 intermediate: the client's IKE_AUTH is 3.6 KB in
/// three RFC 7383 fragments (1280-byte messages, the default), well within the responder's
/// 16 KiB half-open budget.
#[test]
fn mutual_certificates_rsa_4096_fragmented() {
    let pki = Pki::new(Alg::Rsa4096);
    let (mut client, mut server) = configs();
    client.local_auth = pki.identity(CLIENT_ID);
    client.peer_auth = verifier(&pki.root, Purpose::Server);
    server.local_auth = pki.identity(SERVER_ID);
    server.peer_auth = verifier(&pki.root, Purpose::Client);
    let budget = server.half_open_max_bytes;
    let mut run = Run::new(client, server);
    let sent: Arc<std::sync::Mutex<Vec<usize>>> = Arc::default();
    let seen = sent.clone();
    run.tamper_request = Some(Box::new(move |_, bytes| {
        if HeaderRepr::parse(&bytes).is_ok_and(|h| h.exchange == ExchangeType::IKE_AUTH) {
            seen.lock().unwrap().push(bytes.len());
        }
        bytes
    }));
    let run = run.run();
    assert!(run.both_up(), "{:?} / {:?}", run.initiator_events, run.responder_events);
    let sent = sent.lock().unwrap();
    let total: usize = sent.iter().sum();
    assert!(sent.len() >= 3, "the IKE_AUTH request went in 1280-byte fragments: {sent:?}");
    assert!(total > 3000 && total < budget / 2, "{total} bytes");
}

#[test]
fn mutual_certificates_ecdsa_p256() {
    mutual(Alg::P256);
}

#[test]
fn mutual_certificates_ecdsa_p384() {
    mutual(Alg::P384);
}

#[test]
fn mutual_certificates_ed25519() {
    mutual(Alg::Ed25519);
}

#[test]
fn client_certificate_with_server_psk_is_accepted_when_the_server_asks_for_certificates() {
    let pki = Pki::new(Alg::P256);
    let (mut client, mut server) = configs();
    client.local_auth = pki.identity(CLIENT_ID);
    server.peer_auth = verifier(&pki.root, Purpose::Client);
    handshake(client, server);
}

// ----- the AUTH method must be one the configuration allows -----

#[test]
fn client_certificate_is_refused_by_a_psk_server() {
    let pki = Pki::new(Alg::P256);
    let (mut client, server) = configs();
    client.local_auth = pki.identity(CLIENT_ID);
    let (i, r, run) = refused(client, server);
    assert_eq!(r, Some(CloseReason::AuthenticationFailed));
    assert_eq!(i, Some(CloseReason::AuthenticationFailed));
    run.assert_responder_empty();
}

#[test]
fn client_psk_is_refused_by_a_server_that_requires_a_certificate() {
    let pki = Pki::new(Alg::P256);
    let (client, mut server) = configs();
    server.peer_auth = verifier(&pki.root, Purpose::Client);
    let (i, r, run) = refused(client, server);
    assert_eq!(r, Some(CloseReason::AuthenticationFailed));
    assert_eq!(i, Some(CloseReason::AuthenticationFailed));
    run.assert_responder_empty();
}

#[test]
fn server_psk_is_refused_by_a_client_that_requires_a_certificate() {
    let pki = Pki::new(Alg::P256);
    let (mut client, server) = configs();
    client.peer_auth = verifier(&pki.root, Purpose::Server);
    let (i, r, run) = refused(client, server);
    assert_eq!(i, Some(CloseReason::AuthenticationFailed));
    // The client told the server, which deleted the SA it had thought up.
    assert_eq!(r, Some(CloseReason::DeletedByPeer));
    run.assert_responder_empty();
}

// ----- refused client certificates: the responder answers AUTHENTICATION_FAILED -----

/// A client certificate the server refuses for `failure`: both ends close, the responder
/// keeps nothing.
fn client_refused(client: Config, server: Config, failure: CertFailure) {
    let (i, r, run) = refused(client, server);
    assert_eq!(r, Some(CloseReason::PeerCertificate(failure)));
    assert_eq!(i, Some(CloseReason::AuthenticationFailed));
    assert_eq!(
        CloseReason::PeerCertificate(failure).to_string(),
        format!("certificate refused: {failure}")
    );
    run.assert_responder_empty();
}

fn client_with(local: LocalAuth, trusted: &Ca) -> (Config, Config) {
    let (mut client, mut server) = configs();
    client.local_auth = local;
    server.peer_auth = verifier(trusted, Purpose::Client);
    (client, server)
}

#[test]
fn client_certificate_from_an_untrusted_ca_is_refused() {
    let pki = Pki::new(Alg::P256);
    let other = Ca::root("Another Root", Alg::P256);
    let (client, server) = client_with(pki.identity(CLIENT_ID), &other);
    client_refused(client, server, CertFailure::UntrustedIssuer);
}

#[test]
fn expired_client_certificate_is_refused() {
    let pki = Pki::new(Alg::P256);
    let (client, server) = client_with(pki.identity_valid(CLIENT_ID, 2025, 2029), &pki.root);
    client_refused(client, server, CertFailure::Expired);
}

#[test]
fn not_yet_valid_client_certificate_is_refused() {
    let pki = Pki::new(Alg::P256);
    let (client, server) = client_with(pki.identity_valid(CLIENT_ID, 2031, 2034), &pki.root);
    client_refused(client, server, CertFailure::NotYetValid);
}

#[test]
fn client_identity_not_in_the_certificate_is_refused() {
    let pki = Pki::new(Alg::P256);
    let (mut client, server) = client_with(pki.identity(CLIENT_ID), &pki.root);
    client.local_id = IdRepr::from_value(IdValue::Fqdn("someone-else.example.org"));
    client_refused(client, server, CertFailure::IdentityMismatch);
}

#[test]
fn truncated_client_chain_is_refused() {
    let pki = Pki::new(Alg::P256);
    let (key, ee) = pki.intermediate.issue(CLIENT_ID, Alg::P256, 2025, 2035);
    let (client, server) = client_with(identity(&key, &[&ee]), &pki.root);
    client_refused(client, server, CertFailure::UntrustedIssuer);
}

/// The client's CERT payloads are swapped for another valid certificate of the same name
/// and CA: the chain passes, the AUTH signature (by the first key) does not.
#[test]
fn auth_signed_by_a_key_that_is_not_the_certificates_is_refused() {
    let pki = Pki::new(Alg::P256);
    let (client, server) = client_with(pki.identity(CLIENT_ID), &pki.root);
    let (client, server) = unfragmented(client, server);
    let (_, other) = pki.intermediate.issue(CLIENT_ID, Alg::P256, 2025, 2035);
    let mut run = Run::new(client, server);
    run.tamper_request = Some(Box::new(move |sa, bytes| {
        rewrite_auth(sa, bytes, |payloads| {
            for p in payloads.iter_mut() {
                if let PayloadRepr::Cert(c) = &mut p.body
                    && c.data != pki.intermediate.der
                {
                    c.data = other.clone();
                }
            }
        })
    }));
    let run = run.run();
    assert_eq!(
        run.responder_closed(),
        Some(CloseReason::PeerCertificate(CertFailure::BadSignature))
    );
    assert_eq!(run.initiator_closed(), Some(CloseReason::AuthenticationFailed));
    run.assert_responder_empty();
}

/// Nine CERT payloads: refused before any is parsed.
#[test]
fn too_many_client_cert_payloads_are_refused() {
    let pki = Pki::new(Alg::P256);
    let (client, server) = client_with(pki.identity(CLIENT_ID), &pki.root);
    let (client, server) = unfragmented(client, server);
    let mut run = Run::new(client, server);
    run.tamper_request = Some(Box::new(|sa, bytes| {
        rewrite_auth(sa, bytes, |payloads| {
            let at = payloads.iter().position(|p| matches!(p.body, PayloadRepr::Cert(_))).unwrap();
            let first = payloads[at].clone();
            for _ in 0..7 {
                payloads.insert(at + 1, first.clone());
            }
            assert_eq!(cert_count(payloads), 9);
        })
    }));
    let run = run.run();
    assert_eq!(run.responder_closed(), Some(CloseReason::PeerCertificate(CertFailure::Malformed)));
    assert_eq!(run.initiator_closed(), Some(CloseReason::AuthenticationFailed));
    run.assert_responder_empty();
}

// ----- refused server certificates: the client closes and tells the server -----

#[test]
fn expired_server_certificate_is_refused_and_the_server_told() {
    let pki = Pki::new(Alg::P384);
    let (mut client, mut server) = configs();
    client.peer_auth = verifier(&pki.root, Purpose::Server);
    server.local_auth = pki.identity_valid(SERVER_ID, 2025, 2029);
    let (i, r, run) = refused(client, server);
    assert_eq!(i, Some(CloseReason::PeerCertificate(CertFailure::Expired)));
    assert_eq!(r, Some(CloseReason::DeletedByPeer));
    run.assert_responder_empty();
}

/// Nine CERT payloads in the server's answer: refused, and counted by the client.
#[test]
fn too_many_server_cert_payloads_are_refused_and_counted() {
    let pki = Pki::new(Alg::P256);
    let (mut client, mut server) = configs();
    client.peer_auth = verifier(&pki.root, Purpose::Server);
    server.local_auth = pki.identity(SERVER_ID);
    let (client, server) = unfragmented(client, server);
    let mut run = Run::new(client, server);
    run.tamper_response = Some(Box::new(|sa, bytes| {
        rewrite_auth(sa, bytes, |payloads| {
            let first = payloads.iter().find(|p| matches!(p.body, PayloadRepr::Cert(_))).cloned();
            payloads.extend(std::iter::repeat_n(first.unwrap(), 7));
        })
    }));
    let run = run.run();
    assert_eq!(run.initiator_closed(), Some(CloseReason::PeerCertificate(CertFailure::Malformed)));
    assert_eq!(run.initiator.stats().peer_certificates_over_limit, 1);
    assert_eq!(run.responder_closed(), Some(CloseReason::DeletedByPeer));
    run.assert_responder_empty();
}

// ----- a peer that announces no SIGNATURE_HASH_ALGORITHMS -----

/// Removes SIGNATURE_HASH_ALGORITHMS from the responder's IKE_SA_INIT response (in clear).
/// The responder's AUTH covers the response as it sent it, so the client then refuses the
/// server's AUTH: what these tests look at is the client's own AUTH before that.
fn strip_signature_hashes(_: &IkeSa, bytes: Vec<u8>) -> Vec<u8> {
    let Ok(mut m) = MessageRepr::parse(&bytes) else { return bytes };
    if m.header.exchange != ExchangeType::IKE_SA_INIT {
        return bytes;
    }
    m.payloads.retain(|p| {
        !matches!(&p.body, PayloadRepr::Notify(n)
            if n.kind == NotifyType::SIGNATURE_HASH_ALGORITHMS)
    });
    m.to_vec().expect("re-encodes")
}

/// RFC 7427 §4: without the peer's list, an ECDSA key signs with its classic method
/// (RFC 4754: 9 for P-256), which the server verifies.
#[test]
fn peer_without_signature_hash_algorithms_gets_the_classic_ecdsa_method() {
    let pki = Pki::new(Alg::P256);
    let (client, server) = client_with(pki.identity(CLIENT_ID), &pki.root);
    let (client, server) = unfragmented(client, server);
    let mut run = Run::new(client, server);
    run.tamper_response = Some(Box::new(strip_signature_hashes));
    let methods: Arc<std::sync::Mutex<Vec<AuthMethod>>> = Arc::default();
    let seen = methods.clone();
    run.tamper_request = Some(Box::new(move |sa, bytes| {
        if let Some(p) = open_auth(sa, &bytes) {
            seen.lock().unwrap().push(auth_method(&p).expect("an AUTH payload"));
        }
        bytes
    }));
    let run = run.run();
    assert_eq!(*methods.lock().unwrap(), [AuthMethod::ECDSA_SHA256_P256]);
    assert!(
        run.responder_events.iter().any(|e| matches!(e, Event::IkeSaUp { .. })),
        "the server accepted method 9: {:?}",
        run.responder_events
    );
    // The stripped response no longer matches the server's AUTH.
    assert_eq!(run.initiator_closed(), Some(CloseReason::AuthenticationFailed));
}

/// An RSA key has no classic method we sign with (method 1 is SHA-1): the client cannot
/// prove itself to such a peer and says why; the server's half-open SA times out.
#[test]
fn rsa_client_cannot_sign_for_a_peer_without_signature_hash_algorithms() {
    let root = Ca::root("RSA Root", Alg::Rsa4096);
    let (key, ee) = root.issue(CLIENT_ID, Alg::Rsa4096, 2025, 2035);
    let (client, server) = client_with(identity(&key, &[&ee]), &root);
    let mut run = Run::new(client, server);
    run.tamper_response = Some(Box::new(strip_signature_hashes));
    let mut run = run.run();
    assert_eq!(run.initiator_closed(), Some(CloseReason::OwnCertificateUnusable));
    assert_eq!(run.responder.half_open(), 1);
    run.now += Duration::from_secs(31);
    run.responder.handle_timeout(run.now);
    let run = run.run();
    assert_eq!(run.responder_closed(), Some(CloseReason::HandshakeTimeout));
    run.assert_responder_empty();
}
