//! Hybrid authentication (draft-ietf-ipsra-hybrid-auth-ike-03, Apple's `[hybrid]`): only the
//! gateway signs (RSA, HybridInitRSA 64221), the client sends HASH_I keyed from the nonces and
//! proves itself with XAUTH; both roles in memory, then mode config and quick mode as with a
//! group secret.

mod quick_pair;

use std::sync::Arc;
use std::time::Duration;

use ikeway_ikev1::{Authentication, Identity};
use ikeway_isakmp::{AuthMethod, MessageRepr, OakleyAttribute, Payload};
use ikeway_pki::{Certificate, FixedTime, PrivateKey, Purpose, UnixTime, Validator};
use ikeway_sa::CloseReason;
use ikeway_testkit::certs::{PKCS_RSA_SHA256, TestCa};
use quick_pair::*;

const GW_NAME: &str = "vpn.ikeway.test";

/// Checks at 2030-01-01, inside the test certificates' 2020-2100.
fn verifier(ca: &TestCa) -> Arc<FixedTime> {
    let anchor = Certificate::from_der(ca.cert_der.clone()).unwrap();
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000));
    Arc::new(FixedTime { validator: Validator::new(vec![anchor], Purpose::Server), now })
}

fn gateway_identity(ca: &TestCa) -> Arc<ikeway_pki::Identity> {
    let cert = ca.issue(GW_NAME, GW_NAME, &PKCS_RSA_SHA256);
    let key = PrivateKey::from_der(&cert.key_der).unwrap();
    let chain = vec![Certificate::from_der(cert.cert_der).unwrap()];
    Arc::new(ikeway_pki::Identity::new(key, chain).unwrap())
}

fn hybrid_client(trust: &TestCa) -> ikeway_ikev1::Config {
    let mut c = client();
    c.auth = Authentication::HybridClient { verifier: verifier(trust) };
    c.remote_id = Some(Identity::Fqdn(GW_NAME.into()));
    c
}

fn hybrid_gateway(
    own: Arc<ikeway_pki::Identity>,
) -> impl FnOnce(Arc<ikeway_sa::AddressAllocator>) -> ikeway_ikev1::Config {
    move |allocator| {
        let mut g = gateway(allocator);
        g.auth = Authentication::HybridGateway { own };
        g.local_id = Identity::Fqdn(GW_NAME.into());
        g
    }
}

/// The Authentication Method of the client's first message.
fn offered_method(p: &Pair) -> Option<u64> {
    let first = p.wire.iter().find(|s| s.to_gateway)?;
    let m = MessageRepr::parse(&first.bytes).ok()?;
    m.payloads().iter().find_map(|pl| match pl {
        Payload::Sa(sa) => {
            sa.proposals[0].transforms[0].oakley(OakleyAttribute::AUTHENTICATION_METHOD)
        }
        _ => None,
    })
}

#[test]
fn the_gateway_signs_the_client_hashes_then_xauth_mode_config_and_quick_mode() {
    let ca = TestCa::new("ikeway test CA");
    let p = Pair::connected(hybrid_client(&ca), hybrid_gateway(gateway_identity(&ca)));
    assert_eq!(offered_method(&p), Some(u64::from(AuthMethod::HYBRID_INIT_RSA.0)));
    assert_eq!(ups(&p.client_events), 1, "{:?}", p.client_events);
    assert_eq!(ups(p.gw_plain_events()), 1);
    assert_eq!(configs(&p.client_events).len(), 1);
    let (c, g) = (installed(&p.client_events), installed(p.gw_plain_events()));
    assert_eq!((c.len(), g.len()), (1, 1));
    assert_mirrored(c[0], g[0]);
    // The client sent no certificate and no signature, only its HASH_I (in message 3, which
    // is encrypted: the gateway accepted it, or nothing would be up).
    let client_cleartext: Vec<Payload> = p
        .wire
        .iter()
        .filter(|s| s.to_gateway)
        .filter_map(|s| MessageRepr::parse(&s.bytes).ok())
        .flat_map(|m| m.payloads().to_vec())
        .collect();
    assert!(!client_cleartext.iter().any(|pl| matches!(pl, Payload::Cert(_) | Payload::Sig(_))));
}

#[test]
fn a_gateway_certificate_from_another_ca_is_refused_before_xauth() {
    let (ca, rogue) = (TestCa::new("ikeway test CA"), TestCa::new("somebody else"));
    let p = Pair::connected(hybrid_client(&ca), hybrid_gateway(gateway_identity(&rogue)));
    assert_eq!(
        closed(&p.client_events),
        vec![CloseReason::PeerCertificate(ikeway_pki::CertFailure::UntrustedIssuer)]
    );
    assert_eq!(ups(&p.client_events), 0);
    assert!(installed(&p.client_events).is_empty());
}

#[test]
fn a_wrong_xauth_password_still_fails_the_hybrid_client() {
    let ca = TestCa::new("ikeway test CA");
    let mut c = hybrid_client(&ca);
    c.transaction.xauth_client.as_mut().unwrap().password =
        Some(ikeway_crypto::SecretBytes::from_slice(b"wrong password"));
    let p = Pair::connected(c, hybrid_gateway(gateway_identity(&ca)));
    assert_eq!(closed(&p.client_events), vec![CloseReason::XauthFailed]);
    assert_eq!(closed(p.gw_plain_events()), vec![CloseReason::XauthFailed]);
    assert_eq!(ups(&p.client_events), 0);
}

#[test]
fn hybrid_without_xauth_does_not_start() {
    let ca = TestCa::new("ikeway test CA");
    let mut c = hybrid_client(&ca);
    c.xauth = false;
    let err = ikeway_ikev1::Ikev1Sa::initiate(
        Arc::new(c),
        Arc::new(ikeway_ikev1::DefaultKex::default()),
        [1; 32],
        std::time::Instant::now(),
        addr("10.0.0.1:500"),
        addr("10.0.0.2:500"),
    )
    .err();
    assert_eq!(err, Some(ikeway_ikev1::Error::HybridWithoutXauth));
    assert_eq!(
        ikeway_ikev1::Error::HybridWithoutXauth.to_string(),
        "hybrid authentication needs XAUTH: the client proves itself there"
    );
}
