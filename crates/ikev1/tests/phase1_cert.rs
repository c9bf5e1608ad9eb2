//! Main mode with ECDSA (RFC 4754) and RSA (RFC 2409 §5.1) certificates: CERT, CR and SIG, the
//! peer's chain checked through `ikeway-pki` for the identity it names.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_ikev1::{
    Authentication, CloseReason, Config, DefaultKex, Event, Identity, Ikev1Responder, Ikev1Sa,
    Phase1Mode,
};
use ikeway_isakmp::{AuthMethod, MessageRepr, OakleyAttribute, Payload};
use ikeway_pki::{Certificate, FixedTime, PrivateKey, Purpose, UnixTime, Validator};
use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, TestCa};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Verifies at 2030-01-01, inside the test certificates' 2020-2100.
fn verifier(ca: &TestCa, purpose: Purpose) -> Arc<FixedTime> {
    let anchor = Certificate::from_der(ca.cert_der.clone()).unwrap();
    let validator = Validator::new(vec![anchor], purpose);
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000));
    Arc::new(FixedTime { validator, now })
}

fn identity(ca: &TestCa, name: &str) -> Arc<ikeway_pki::Identity> {
    identity_of(ca, name, &PKCS_ECDSA_P256_SHA256)
}

fn identity_of(
    ca: &TestCa,
    name: &str,
    alg: &'static ikeway_testkit::certs::SignatureAlgorithm,
) -> Arc<ikeway_pki::Identity> {
    let cert = ca.issue(name, name, alg);
    let key = PrivateKey::from_der(&cert.key_der).unwrap();
    let chain = vec![Certificate::from_der(cert.cert_der).unwrap()];
    Arc::new(ikeway_pki::Identity::new(key, chain).unwrap())
}

fn config(own: Arc<ikeway_pki::Identity>, name: &str, trust: Arc<FixedTime>) -> Config {
    let mut c = Config::psk(Identity::Fqdn(name.into()), ikeway_crypto::SecretBytes::default());
    c.mode = Phase1Mode::Main;
    c.auth = Authentication::Certificates { own, verifier: trust };
    // Phase 1 alone: no quick mode or DPD after it (tests/quick*.rs and dpd.rs run those).
    c.quick.first_child = false;
    c.informational.dpd = None;
    c
}

/// Runs the exchange; returns the events of both sides and the auth method the initiator
/// offered.
fn run(client: Config, server: Config) -> (Vec<Event>, Vec<Event>, Option<u64>, Vec<u64>) {
    let now = Instant::now();
    let kex = Arc::new(DefaultKex::default());
    let mut init = Ikev1Sa::initiate(
        Arc::new(client),
        kex.clone(),
        [3; 32],
        now,
        addr("10.0.0.1:500"),
        addr("10.0.0.2:500"),
    )
    .unwrap();
    let mut resp = Ikev1Responder::new(Arc::new(server), kex, [4; 32]);
    let mut buf = vec![0u8; 65536];
    let mut method = None;
    let mut hashes = Vec::new();
    loop {
        let mut moved = false;
        while let Some(Ok(t)) = init.poll_transmit(&mut buf) {
            let m = MessageRepr::parse(&buf[..t.len]).unwrap();
            if let Some(Payload::Sa(sa)) = m.payloads().first() {
                method = method
                    .or(sa.proposals[0].transforms[0]
                        .oakley(OakleyAttribute::AUTHENTICATION_METHOD));
                let offered = sa.proposals[0].transforms.iter();
                hashes.extend(offered.filter_map(|t| t.oakley(OakleyAttribute::HASH_ALGORITHM)));
            }
            resp.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
            moved = true;
        }
        while let Some(Ok(t)) = resp.poll_transmit(&mut buf) {
            init.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
            moved = true;
        }
        if !moved {
            break;
        }
    }
    let ei = std::iter::from_fn(|| init.poll_event()).map(|e| e.event).collect();
    let er = std::iter::from_fn(|| resp.poll_event()).map(|e| e.event).collect();
    (ei, er, method, hashes)
}

fn is_up(events: &[Event]) -> bool {
    events.iter().any(|e| matches!(e, Event::Ike(ikeway_sa::Event::IkeSaUp { .. })))
}

fn closed(events: &[Event]) -> Option<CloseReason> {
    events.iter().find_map(|e| match e {
        Event::Ike(ikeway_sa::Event::IkeSaClosed { reason }) => Some(*reason),
        _ => None,
    })
}

#[test]
fn main_mode_with_ecdsa_certificates_authenticates_both_sides() {
    let ca = TestCa::new("ikeway test CA");
    let client = config(
        identity(&ca, "client.ikeway.test"),
        "client.ikeway.test",
        verifier(&ca, Purpose::Server),
    );
    let mut server =
        config(identity(&ca, "vpn.ikeway.test"), "vpn.ikeway.test", verifier(&ca, Purpose::Client));
    server.remote_id = Some(Identity::Fqdn("client.ikeway.test".into()));
    let (ei, er, method, hashes) = run(client, server);
    assert_eq!(method, Some(u64::from(AuthMethod::ECDSA_SHA256_P256.0)));
    // P-256 signs a SHA-256 HASH only (RFC 4754): the SHA1 and SHA-384 suites are not offered.
    assert_eq!(hashes, [4, 4, 4]);
    assert!(is_up(&ei), "initiator: {ei:?}");
    assert!(is_up(&er), "responder: {er:?}");
}

#[test]
fn a_certificate_from_another_ca_is_refused_with_its_failure() {
    let ca = TestCa::new("ikeway test CA");
    let rogue = TestCa::new("somebody else");
    let client = config(
        identity(&rogue, "client.ikeway.test"),
        "client.ikeway.test",
        verifier(&ca, Purpose::Server),
    );
    let server =
        config(identity(&ca, "vpn.ikeway.test"), "vpn.ikeway.test", verifier(&ca, Purpose::Client));
    let (ei, er, _, _) = run(client, server);
    assert_eq!(
        closed(&er),
        Some(CloseReason::PeerCertificate(ikeway_pki::CertFailure::UntrustedIssuer))
    );
    // The responder said INVALID-CERTIFICATE in the clear; the initiator ends with it.
    assert_eq!(closed(&ei), Some(CloseReason::PeerError(ikeway_codec::NotifyType(20))));
    assert!(!is_up(&ei) && !is_up(&er));
}

#[test]
fn a_certificate_for_another_name_than_the_id_is_refused() {
    let ca = TestCa::new("ikeway test CA");
    // The client names itself client.ikeway.test but holds a certificate for mallory.
    let client = config(
        identity(&ca, "mallory.ikeway.test"),
        "client.ikeway.test",
        verifier(&ca, Purpose::Server),
    );
    let server =
        config(identity(&ca, "vpn.ikeway.test"), "vpn.ikeway.test", verifier(&ca, Purpose::Client));
    let (_, er, _, _) = run(client, server);
    assert_eq!(
        closed(&er),
        Some(CloseReason::PeerCertificate(ikeway_pki::CertFailure::IdentityMismatch))
    );
}

#[test]
fn aggressive_mode_with_ecdsa_certificates_authenticates_both_sides() {
    let ca = TestCa::new("ikeway test CA");
    let mut client = config(
        identity(&ca, "client.ikeway.test"),
        "client.ikeway.test",
        verifier(&ca, Purpose::Server),
    );
    client.mode = Phase1Mode::Aggressive;
    let mut server =
        config(identity(&ca, "vpn.ikeway.test"), "vpn.ikeway.test", verifier(&ca, Purpose::Client));
    server.mode = Phase1Mode::Aggressive;
    let (ei, er, method, hashes) = run(client, server);
    assert_eq!(method, Some(u64::from(AuthMethod::ECDSA_SHA256_P256.0)));
    // Aggressive mode offers the first group's transforms only: AES-256 and AES-128 with
    // SHA2-256 on MODP-2048.
    assert_eq!(hashes, [4, 4]);
    assert!(is_up(&ei), "initiator: {ei:?}");
    assert!(is_up(&er), "responder: {er:?}");
}

#[test]
fn a_client_certificate_the_gateway_refuses_in_aggressive_mode_is_deleted_at_the_client_too() {
    // The client's certificate is from a CA the gateway does not trust: the gateway refuses
    // message 3. The client was up once it sent message 3 and ignores a clear notify from then
    // on; the gateway's Delete under the phase 1 keys ends it at once (before, it waited for an
    // XAUTH or quick mode that never came).
    let ca = TestCa::new("ikeway test CA");
    let rogue = TestCa::new("somebody else");
    let mut client = config(
        identity(&rogue, "client.ikeway.test"),
        "client.ikeway.test",
        verifier(&ca, Purpose::Server),
    );
    client.mode = Phase1Mode::Aggressive;
    let mut server =
        config(identity(&ca, "vpn.ikeway.test"), "vpn.ikeway.test", verifier(&ca, Purpose::Client));
    server.mode = Phase1Mode::Aggressive;
    let (ei, er, _, _) = run(client, server);
    assert_eq!(
        closed(&er),
        Some(CloseReason::PeerCertificate(ikeway_pki::CertFailure::UntrustedIssuer))
    );
    assert!(!is_up(&er), "responder: {er:?}");
    assert!(is_up(&ei), "the client was up after message 3: {ei:?}");
    assert_eq!(closed(&ei), Some(CloseReason::DeletedByPeer), "{ei:?}");
}

#[test]
fn main_mode_with_rsa_certificates_authenticates_both_sides() {
    let ca = TestCa::new("ikeway test CA");
    let rsa = |name| identity_of(&ca, name, &PKCS_RSA_SHA256);
    let client =
        config(rsa("client.ikeway.test"), "client.ikeway.test", verifier(&ca, Purpose::Server));
    let mut server =
        config(rsa("vpn.ikeway.test"), "vpn.ikeway.test", verifier(&ca, Purpose::Client));
    server.remote_id = Some(Identity::Fqdn("client.ikeway.test".into()));
    let (ei, er, method, hashes) = run(client, server);
    assert_eq!(method, Some(u64::from(AuthMethod::RSA_SIGNATURES.0)));
    // RSA signs any phase 1 hash: every default suite is offered (SHA2-256 2, SHA1 2,
    // SHA2-256, SHA-384 ... in Phase1Proposal::defaults' order).
    assert_eq!(hashes, [4, 2, 4, 2, 2, 4, 5]);
    assert!(is_up(&ei), "initiator: {ei:?}");
    assert!(is_up(&er), "responder: {er:?}");
}

#[test]
fn with_xauth_rsa_certificates_offer_xauth_init_rsa() {
    let ca = TestCa::new("ikeway test CA");
    let own = identity_of(&ca, "client.ikeway.test", &PKCS_RSA_SHA256);
    let mut client = config(own, "client.ikeway.test", verifier(&ca, Purpose::Server));
    client.xauth = true;
    let server = config(
        identity_of(&ca, "vpn.ikeway.test", &PKCS_RSA_SHA256),
        "vpn.ikeway.test",
        verifier(&ca, Purpose::Client),
    );
    // The responder runs no XAUTH, so it has no XAUTHInitRSA transform to choose.
    let (ei, er, method, _) = run(client, server);
    assert_eq!(method, Some(u64::from(AuthMethod::XAUTH_INIT_RSA.0)));
    assert_eq!(closed(&ei), Some(CloseReason::NoProposalChosen));
    assert!(!is_up(&ei) && !is_up(&er));
}

#[test]
fn an_rsa_client_and_an_ecdsa_server_sign_each_with_its_own_method_and_fail_to_agree() {
    let ca = TestCa::new("ikeway test CA");
    let client = config(
        identity_of(&ca, "client.ikeway.test", &PKCS_RSA_SHA256),
        "client.ikeway.test",
        verifier(&ca, Purpose::Server),
    );
    let server =
        config(identity(&ca, "vpn.ikeway.test"), "vpn.ikeway.test", verifier(&ca, Purpose::Client));
    // IKEv1 negotiates one method for both sides: RSA signatures offered, ECDSA taken.
    let (ei, er, _, _) = run(client, server);
    assert_eq!(closed(&ei), Some(CloseReason::NoProposalChosen));
    assert!(!is_up(&ei) && !is_up(&er));
}

#[test]
fn a_server_certificate_we_refuse_in_main_mode_is_deleted_at_the_server_too() {
    let ca = TestCa::new("ikeway test CA");
    let rogue = TestCa::new("somebody else");
    let client = config(
        identity(&ca, "client.ikeway.test"),
        "client.ikeway.test",
        verifier(&ca, Purpose::Server),
    );
    let server = config(
        identity(&rogue, "vpn.ikeway.test"),
        "vpn.ikeway.test",
        verifier(&ca, Purpose::Client),
    );
    let (ei, er, _, _) = run(client, server);
    assert_eq!(
        closed(&ei),
        Some(CloseReason::PeerCertificate(ikeway_pki::CertFailure::UntrustedIssuer))
    );
    // The responder was up after message 6; our Delete under the phase 1 keys ends it.
    assert!(is_up(&er), "responder: {er:?}");
    assert_eq!(closed(&er), Some(CloseReason::DeletedByPeer));
}
