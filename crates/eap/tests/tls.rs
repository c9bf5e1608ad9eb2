//! EAP-TLS through the public API: an `EapPeer` and an `EapAuthenticator` in one process,
//! TLS 1.2 (RFC 5216) and TLS 1.3 (RFC 9190), certificates made here (ikeway-testkit), the
//! time fixed by `ikeway_pki::FixedTime`. Every test asserts the exact outcome on the side
//! that decides it.

use std::sync::{Arc, Mutex};

mod common;

use common::Transcript;
use ikeway_codec::{IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_eap::tls::{MAX_TLS_ROUNDS, MIN_FRAGMENT_SIZE};
use ikeway_eap::{
    AuthStep, AuthenticatorConfig, Credentials, EapAuthenticator, EapCode, EapFailure, EapPeer,
    EapRepr, EapType, Method, PeerConfig, PeerStep, TlsKeyLog, TlsPeerConfig, TlsServerConfig,
    TlsVersion,
};
use ikeway_pki::{
    CertFailure, FixedTime, Identity, Purpose, UnixTime, Validator, certificates_from_pem_or_der,
};
use ikeway_testkit::certs::{
    PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_ED25519, TestCa, Validity,
};
use rand_chacha::ChaCha20Rng;

const SERVER: &str = "vpn.example.com";
const CLIENT: &str = "alice.example.com";

/// TLS alert descriptions (RFC 8446 §6).
mod alert {
    pub(super) const UNEXPECTED_MESSAGE: u8 = 10;
    pub(super) const BAD_RECORD_MAC: u8 = 20;
    pub(super) const BAD_CERTIFICATE: u8 = 42;
    pub(super) const CERTIFICATE_EXPIRED: u8 = 45;
    pub(super) const UNKNOWN_CA: u8 = 48;
    pub(super) const DECODE_ERROR: u8 = 50;
    pub(super) const PROTOCOL_VERSION: u8 = 70;
}

fn identity(ca: &TestCa, cn: &str, dns: &str, validity: Validity) -> Arc<Identity> {
    identity_of(ca, cn, dns, validity, &PKCS_ECDSA_P256_SHA256)
}

fn identity_of(
    ca: &TestCa,
    cn: &str,
    dns: &str,
    validity: Validity,
    alg: &'static rcgen::SignatureAlgorithm,
) -> Arc<Identity> {
    let c = ca.issue_valid(cn, dns, alg, validity);
    Arc::new(Identity::from_pem_files_content(c.key_pem.as_bytes(), c.cert_pem.as_bytes()).unwrap())
}

fn verifier(ca: &TestCa, purpose: Purpose) -> Arc<FixedTime> {
    let anchors = certificates_from_pem_or_der(ca.cert_pem.as_bytes()).unwrap();
    Arc::new(FixedTime {
        validator: Validator::new(anchors, purpose),
        // 2027-01-15: inside Validity::Now, after Validity::Expired.
        now: UnixTime::since_unix_epoch(core::time::Duration::from_secs(1_800_000_000)),
    })
}

/// No passwords: EAP-TLS only.
#[derive(Debug)]
struct NoUsers;

impl Credentials for NoUsers {
    fn password(&self, _user: &str) -> Option<SecretBytes> {
        None
    }
}

/// Both sides' configurations, to be changed by each test before `run`.
struct Setup {
    ca: TestCa,
    peer_identity: String,
    peer: TlsPeerConfig,
    server: TlsServerConfig,
}

impl Setup {
    fn new(version: TlsVersion) -> Self {
        let ca = TestCa::new("EAP-TLS Test CA");
        let mut peer = TlsPeerConfig::new(
            identity(&ca, "alice", CLIENT, Validity::Now),
            verifier(&ca, Purpose::Server),
            IdRepr::from_value(IdValue::Fqdn(SERVER)),
        );
        peer.min_version = version;
        peer.max_version = version;
        let mut server = TlsServerConfig::new(
            identity(&ca, "vpn", SERVER, Validity::Now),
            verifier(&ca, Purpose::Client),
        );
        server.min_version = version;
        server.max_version = version;
        Self { ca, peer_identity: CLIENT.to_owned(), peer, server }
    }

    fn fragments(mut self, size: usize) -> Self {
        self.peer.fragment_size = size;
        self.server.fragment_size = size;
        self
    }

    fn configs(&self) -> (Arc<PeerConfig>, Arc<AuthenticatorConfig>) {
        let peer = PeerConfig {
            identity: self.peer_identity.clone(),
            password: None,
            tls: Some(self.peer.clone()),
            methods: vec![Method::Tls],
        };
        let auth = AuthenticatorConfig {
            methods: vec![Method::Tls],
            users: Arc::new(NoUsers),
            tls: Some(self.server.clone()),
        };
        (Arc::new(peer), Arc::new(auth))
    }

    /// A whole conversation (the crate's shared harness).
    fn run(&self) -> Transcript {
        let (peer, auth) = self.configs();
        common::run(peer, auth, 12)
    }

    /// Both sides, to be stepped by hand.
    fn pair(&self) -> Pair {
        let (peer, auth) = self.configs();
        Pair { peer: EapPeer::new(peer), auth: EapAuthenticator::new(auth), rng: common::rng(12) }
    }
}

/// A peer and an authenticator stepped one message at a time, for the tests that put
/// crafted messages in between.
struct Pair {
    peer: EapPeer,
    auth: EapAuthenticator,
    rng: ChaCha20Rng,
}

impl Pair {
    /// Runs until the authenticator sends its EAP-TLS Start; returns it.
    fn run_to_tls_start(&mut self) -> EapRepr {
        let mut request = self.auth.start(&mut self.rng);
        loop {
            if request.eap_type == Some(EapType::TLS.0) {
                return request;
            }
            let Ok(PeerStep::Respond(response)) = self.peer.handle(&request, &mut self.rng) else {
                panic!("the peer stopped before EAP-TLS");
            };
            match self.auth.handle(&response, &mut self.rng) {
                AuthStep::Request(r) => request = r,
                other => panic!("the authenticator ended before EAP-TLS: {other:?}"),
            }
        }
    }

    /// The peer's answer to a crafted Request of type TLS with `data`, numbered after `last`.
    fn peer_gets(&mut self, last: &EapRepr, data: Vec<u8>) -> Result<PeerStep, EapFailure> {
        let request = EapRepr {
            code: EapCode::REQUEST,
            identifier: last.identifier.wrapping_add(1),
            eap_type: Some(EapType::TLS.0),
            data,
        };
        self.peer.handle(&request, &mut self.rng)
    }

    /// The authenticator's answer to a crafted Response of type TLS with `data` to `request`.
    fn auth_gets(&mut self, request: &EapRepr, data: Vec<u8>) -> AuthStep {
        let response = EapRepr {
            code: EapCode::RESPONSE,
            identifier: request.identifier,
            eap_type: Some(EapType::TLS.0),
            data,
        };
        self.auth.handle(&response, &mut self.rng)
    }
}

/// Both sides finished with the same 64-byte MSK; the authenticator names the EAP identity.
fn assert_success(t: &Transcript) -> Vec<u8> {
    let peer_msk = t.peer.clone().expect("peer succeeds").expect("EAP-TLS makes an MSK");
    let (identity, server_msk) = t.server.clone().expect("server ended").expect("server succeeds");
    assert_eq!(identity, CLIENT);
    assert_eq!(peer_msk.len(), 64);
    assert_eq!(Some(&peer_msk), server_msk.as_ref());
    assert_ne!(peer_msk, [0u8; 64]);
    peer_msk
}

/// The Type-Data of the EAP-TLS messages with `code` on the wire.
fn tls_type_data(t: &Transcript, code: EapCode) -> Vec<&[u8]> {
    t.wire
        .iter()
        .filter(|m| m.code == code && m.eap_type == Some(EapType::TLS.0))
        .map(|m| &m.data[..])
        .collect()
}

fn requests(t: &Transcript) -> Vec<&[u8]> {
    tls_type_data(t, EapCode::REQUEST)
}

fn responses(t: &Transcript) -> Vec<&[u8]> {
    tls_type_data(t, EapCode::RESPONSE)
}

/// The peer's and the authenticator's failures.
fn failures(t: Transcript) -> (EapFailure, EapFailure) {
    (t.peer.unwrap_err(), t.server.expect("the server ended").unwrap_err())
}

#[test]
fn tls_is_mutual() {
    assert!(Method::Tls.is_mutual());
    assert_eq!(Method::Tls.eap_type(), EapType::TLS);
}

#[test]
fn tls12_peer_and_authenticator_agree_on_the_msk() {
    let setup = Setup::new(TlsVersion::V1_2);
    let t = setup.run();
    let msk = assert_success(&t);
    // A second run makes another MSK (fresh randoms).
    assert_ne!(assert_success(&setup.run()), msk);
    // The first TLS Request is the Start (S flag only), the last TLS Response an empty ack.
    assert_eq!(requests(&t)[0], [0x20]);
    assert_eq!(*responses(&t).last().unwrap(), [0x00]);
}

#[test]
fn tls13_peer_and_authenticator_agree_on_the_msk() {
    let t = Setup::new(TlsVersion::V1_3).run();
    assert_success(&t);
    // RFC 9190 §2.1.1: the last TLS Request is one application-data record (the protected
    // success indication), type 23 in the outer record header.
    let last = *requests(&t).last().unwrap();
    assert_eq!(last[0], 0x00, "unfragmented");
    assert_eq!(last[1], 23, "application_data record");
    assert_eq!(*responses(&t).last().unwrap(), [0x00]);
}

#[test]
fn version_range_picks_the_highest_common() {
    let mut setup = Setup::new(TlsVersion::V1_2);
    setup.peer.max_version = TlsVersion::V1_3;
    setup.server.max_version = TlsVersion::V1_3;
    let t = setup.run();
    assert_success(&t);
    // TLS 1.3 ran: its success indication is there.
    assert_eq!(requests(&t).last().unwrap()[1], 23);
}

#[test]
fn small_fragments_still_complete() {
    for version in [TlsVersion::V1_2, TlsVersion::V1_3] {
        let setup = Setup::new(version).fragments(MIN_FRAGMENT_SIZE);
        let t = setup.run();
        assert_success(&t);
        let requests = requests(&t);
        assert!(requests.len() > 10, "{version:?}: {} requests", requests.len());
        // Every fragment within the bound: flags, optional length, data.
        for data in requests.iter().chain(&responses(&t)) {
            assert!(data.len() <= 1 + 4 + MIN_FRAGMENT_SIZE, "{}", data.len());
        }
        // The first fragment of a split message carries L and M.
        assert!(requests.iter().any(|d| d[0] & 0xc0 == 0xc0));
    }
}

/// Our keys reach rustls as PKCS#8 whatever their kind: RSA (PKCS#1 v1.5 under TLS 1.2, PSS
/// under 1.3), P-384 and Ed25519, on either side, under both versions.
#[test]
fn rsa_p384_and_ed25519_identities_work() {
    for version in [TlsVersion::V1_2, TlsVersion::V1_3] {
        let mut setup = Setup::new(version);
        setup.peer.identity = identity_of(&setup.ca, "alice", CLIENT, Validity::Now, &PKCS_ED25519);
        setup.server.identity =
            identity_of(&setup.ca, "vpn", SERVER, Validity::Now, &PKCS_ECDSA_P384_SHA384);
        assert_success(&setup.run());
        setup.peer.identity =
            identity_of(&setup.ca, "alice", CLIENT, Validity::Now, &PKCS_ECDSA_P384_SHA384);
        setup.server.identity = identity_of(&setup.ca, "vpn", SERVER, Validity::Now, &PKCS_ED25519);
        assert_success(&setup.run());
        setup.server.identity =
            identity_of(&setup.ca, "vpn", SERVER, Validity::Now, &rcgen::PKCS_RSA_SHA256);
        assert_success(&setup.run());
    }
}

#[test]
fn server_from_an_untrusted_ca_is_refused() {
    for version in [TlsVersion::V1_2, TlsVersion::V1_3] {
        let mut setup = Setup::new(version);
        let other = TestCa::new("Another CA");
        setup.server.identity = identity(&other, "vpn", SERVER, Validity::Now);
        let (peer, server) = failures(setup.run());
        // The peer sends unknown_ca, the authenticator answers EAP-Failure, and the peer
        // reports its own reason.
        assert_eq!(peer, EapFailure::TlsCertificate(CertFailure::UntrustedIssuer));
        assert_eq!(server, EapFailure::Tls(alert::UNKNOWN_CA));
    }
}

#[test]
fn server_with_another_name_is_refused() {
    for version in [TlsVersion::V1_2, TlsVersion::V1_3] {
        let mut setup = Setup::new(version);
        setup.server.identity = identity(&setup.ca, "vpn", "other.example.com", Validity::Now);
        let (peer, server) = failures(setup.run());
        assert_eq!(peer, EapFailure::TlsCertificate(CertFailure::IdentityMismatch));
        assert_eq!(server, EapFailure::Tls(alert::BAD_CERTIFICATE));
    }
}

#[test]
fn expired_server_certificate_is_refused() {
    let mut setup = Setup::new(TlsVersion::V1_3);
    setup.server.identity = identity(&setup.ca, "vpn", SERVER, Validity::Expired);
    let (peer, server) = failures(setup.run());
    assert_eq!(peer, EapFailure::TlsCertificate(CertFailure::Expired));
    assert_eq!(server, EapFailure::Tls(alert::CERTIFICATE_EXPIRED));
}

#[test]
fn client_from_an_untrusted_ca_is_refused() {
    for version in [TlsVersion::V1_2, TlsVersion::V1_3] {
        let mut setup = Setup::new(version);
        let other = TestCa::new("Another CA");
        setup.peer.identity = identity(&other, "alice", CLIENT, Validity::Now);
        let (peer, server) = failures(setup.run());
        assert_eq!(server, EapFailure::TlsCertificate(CertFailure::UntrustedIssuer));
        // The peer heard the alert, acknowledged it, then EAP-Failure.
        assert_eq!(peer, EapFailure::Tls(alert::UNKNOWN_CA));
    }
}

#[test]
fn client_whose_certificate_does_not_name_its_eap_identity_is_refused() {
    let mut setup = Setup::new(TlsVersion::V1_3);
    setup.peer_identity = "mallory.example.com".to_owned();
    let (peer, server) = failures(setup.run());
    assert_eq!(server, EapFailure::TlsCertificate(CertFailure::IdentityMismatch));
    assert_eq!(peer, EapFailure::Tls(alert::BAD_CERTIFICATE));
}

#[test]
fn client_identity_may_be_the_certificate_common_name() {
    let mut setup = Setup::new(TlsVersion::V1_2);
    // The certificate's CN is "alice"; its SAN is alice.example.com.
    setup.peer_identity = "alice".to_owned();
    let t = setup.run();
    let (identity, msk) = t.server.unwrap().unwrap();
    assert_eq!(identity, "alice");
    assert_eq!(msk.unwrap(), t.peer.unwrap().unwrap());
}

#[test]
fn version_mismatch_fails_with_protocol_version() {
    let mut setup = Setup::new(TlsVersion::V1_2);
    setup.server.min_version = TlsVersion::V1_3;
    setup.server.max_version = TlsVersion::V1_3;
    let (peer, server) = failures(setup.run());
    assert_eq!(server, EapFailure::Tls(alert::PROTOCOL_VERSION));
    assert_eq!(peer, EapFailure::Tls(alert::PROTOCOL_VERSION));
}

#[test]
fn empty_version_range_means_the_method_cannot_run() {
    let mut setup = Setup::new(TlsVersion::V1_2);
    setup.peer.min_version = TlsVersion::V1_3;
    setup.peer.max_version = TlsVersion::V1_2;
    let (peer, server) = failures(setup.run());
    // The peer cannot run EAP-TLS, so it Naks; the server has nothing else to offer.
    assert_eq!(peer, EapFailure::MethodNotAllowed(EapType::TLS.0));
    assert_eq!(server, EapFailure::MethodNotAllowed(EapType::TLS.0));
}

/// Flags, TLS Message Length and data as an EAP-TLS Type-Data.
fn type_data(flags: u8, length: Option<u32>, data: &[u8]) -> Vec<u8> {
    let mut out = vec![flags];
    if let Some(len) = length {
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

const L: u8 = 0x80;
const M: u8 = 0x40;
const S: u8 = 0x20;

/// The peer, after the Start: each hostile Request ends it with the exact failure.
#[test]
fn peer_refuses_malformed_fragments() {
    let cases: [(&str, Vec<Vec<u8>>, EapFailure); 9] = [
        ("no flags octet", vec![vec![]], EapFailure::Malformed),
        ("L without its four octets", vec![vec![L, 0, 0]], EapFailure::Malformed),
        (
            "L says more than the data",
            vec![type_data(L, Some(100), &[0x16; 10])],
            EapFailure::Malformed,
        ),
        (
            "L over 64 KiB",
            vec![type_data(L | M, Some(64 * 1024 + 1), &[0x16; 10])],
            EapFailure::Malformed,
        ),
        (
            "fragments beyond their L",
            vec![type_data(L | M, Some(20), &[0x16; 15]), type_data(0, None, &[0; 10])],
            EapFailure::Malformed,
        ),
        (
            "L changed between fragments",
            vec![type_data(L | M, Some(20), &[0x16; 5]), type_data(L | M, Some(30), &[0; 5])],
            EapFailure::Malformed,
        ),
        ("a second Start", vec![type_data(S, None, &[])], EapFailure::Malformed),
        // A handshake message of a type that does not exist.
        (
            "unknown handshake type",
            vec![type_data(0, None, &[0x16, 0x03, 0x03, 0x00, 0x04, 0xff, 0, 0, 0])],
            EapFailure::Tls(alert::UNEXPECTED_MESSAGE),
        ),
        // A ServerHello with an empty body.
        (
            "truncated ServerHello",
            vec![type_data(0, None, &[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0, 0, 0])],
            EapFailure::Tls(alert::DECODE_ERROR),
        ),
    ];
    for (name, requests, want) in cases {
        let mut pair = Setup::new(TlsVersion::V1_3).pair();
        let start = pair.run_to_tls_start();
        let Ok(PeerStep::Respond(_hello)) = pair.peer.handle(&start, &mut pair.rng) else {
            panic!("{name}: no ClientHello");
        };
        let mut last = start;
        let mut result = Ok(PeerStep::Respond(last.clone()));
        for data in requests {
            result = pair.peer_gets(&last, data);
            last.identifier = last.identifier.wrapping_add(1);
            if result.is_err() {
                break;
            }
        }
        // A TLS failure is answered with the alert first; the EAP-Failure that follows
        // brings the reason out.
        let reason = match result {
            Err(e) => e,
            Ok(_) => {
                let failure = EapRepr {
                    code: EapCode::FAILURE,
                    identifier: last.identifier,
                    eap_type: None,
                    data: vec![],
                };
                pair.peer.handle(&failure, &mut pair.rng).unwrap_err()
            }
        };
        assert_eq!(reason, want, "{name}");
    }
}

/// Fragments of 64 KiB and more without an L: stopped at the bound, never buffered.
#[test]
fn peer_stops_unbounded_fragments() {
    let mut pair = Setup::new(TlsVersion::V1_3).pair();
    let start = pair.run_to_tls_start();
    pair.peer.handle(&start, &mut pair.rng).unwrap();
    let mut last = start;
    let mut sent = 0;
    let reason = loop {
        match pair.peer_gets(&last, type_data(M, None, &[0x16; 1400])) {
            Ok(_) => sent += 1400,
            Err(e) => break e,
        }
        last.identifier = last.identifier.wrapping_add(1);
        assert!(sent <= 64 * 1024, "buffered {sent} bytes");
    };
    assert_eq!(reason, EapFailure::Malformed);
}

/// One byte per fragment: the round bound ends it.
#[test]
fn peer_stops_endless_tiny_fragments() {
    let mut pair = Setup::new(TlsVersion::V1_3).pair();
    let start = pair.run_to_tls_start();
    pair.peer.handle(&start, &mut pair.rng).unwrap();
    let mut last = start;
    let mut rounds = 0u32;
    let reason = loop {
        match pair.peer_gets(&last, type_data(M, None, &[0x16])) {
            Ok(_) => rounds += 1,
            Err(e) => break e,
        }
        last.identifier = last.identifier.wrapping_add(1);
    };
    assert_eq!(reason, EapFailure::TooManyRounds);
    assert!(rounds < MAX_TLS_ROUNDS, "{rounds}");
}

/// The authenticator, after its Start: each hostile Response ends it with the exact failure.
#[test]
fn authenticator_refuses_malformed_fragments() {
    let cases: [(&str, Vec<u8>, EapFailure); 5] = [
        ("no flags octet", vec![], EapFailure::Malformed),
        ("S from the peer", type_data(S, None, &[]), EapFailure::Malformed),
        ("L lies", type_data(L, Some(7), &[0x16; 3]), EapFailure::Malformed),
        ("L over 64 KiB", type_data(L | M, Some(1 << 20), &[0x16; 3]), EapFailure::Malformed),
        (
            "not a ClientHello",
            type_data(0, None, &[0x17, 3, 3, 0, 1, 0]),
            EapFailure::Tls(alert::UNEXPECTED_MESSAGE),
        ),
    ];
    for (name, data, want) in cases {
        let mut pair = Setup::new(TlsVersion::V1_2).pair();
        let start = pair.run_to_tls_start();
        match pair.auth_gets(&start, data) {
            AuthStep::Failure { message, reason } => {
                assert_eq!(reason, want, "{name}");
                assert_eq!(message.code, EapCode::FAILURE, "{name}");
            }
            // rustls answered with an alert first; the peer's acknowledgement ends it.
            AuthStep::Request(alert) => {
                let AuthStep::Failure { reason, .. } = pair.auth_gets(&alert, vec![0]) else {
                    panic!("{name}: no failure after the alert");
                };
                assert_eq!(reason, want, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// While the authenticator sends fragments, only acknowledgements are accepted.
#[test]
fn authenticator_wants_acknowledgements_between_its_fragments() {
    let mut pair = Setup::new(TlsVersion::V1_3).fragments(MIN_FRAGMENT_SIZE).pair();
    let start = pair.run_to_tls_start();
    let Ok(PeerStep::Respond(hello)) = pair.peer.handle(&start, &mut pair.rng) else { panic!() };
    // The ClientHello itself comes in fragments: acknowledge them until the server speaks.
    let mut response = hello;
    let first = loop {
        match pair.auth.handle(&response, &mut pair.rng) {
            AuthStep::Request(r) if r.data == [0x00] => {
                let Ok(PeerStep::Respond(next)) = pair.peer.handle(&r, &mut pair.rng) else {
                    panic!()
                };
                response = next;
            }
            AuthStep::Request(r) => break r,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(first.data[0] & (L | M), L | M, "the server's flight is fragmented");
    let AuthStep::Failure { reason, .. } = pair.auth_gets(&first, type_data(0, None, &[0x16; 5]))
    else {
        panic!("data instead of an acknowledgement was accepted");
    };
    assert_eq!(reason, EapFailure::Malformed);
}

/// RFC 4137 §4.1 and RFC 9190 §2.1.1: EAP-Success before the server finished is refused:
/// after the ClientHello (no server flight yet), and after the client's own flight, when under
/// TLS 1.2 the server's Finished and under TLS 1.3 its success indication is still due.
#[test]
fn early_success_is_refused() {
    for version in [TlsVersion::V1_2, TlsVersion::V1_3] {
        for flights in [0, 1] {
            let mut pair = Setup::new(version).pair();
            let mut request = pair.run_to_tls_start();
            for _ in 0..=flights {
                let Ok(PeerStep::Respond(response)) = pair.peer.handle(&request, &mut pair.rng)
                else {
                    panic!("{version:?} {flights}: the peer stopped");
                };
                let AuthStep::Request(next) = pair.auth.handle(&response, &mut pair.rng) else {
                    panic!("{version:?} {flights}: the server ended");
                };
                request = next;
            }
            // Success carries the identifier of the peer's last Response.
            let success = EapRepr {
                code: EapCode::SUCCESS,
                identifier: request.identifier.wrapping_sub(1),
                eap_type: None,
                data: vec![],
            };
            let reason = pair.peer.handle(&success, &mut pair.rng).unwrap_err();
            assert_eq!(reason, EapFailure::PrematureSuccess, "{version:?} after {flights}");
        }
    }
}

/// TLS 1.3: application data other than the one 0x00 octet is refused.
#[test]
fn tls13_peer_refuses_other_application_data() {
    // Our server's own success indication, with its record's plaintext unknown to the test,
    // cannot be changed without its keys; so the test changes the ciphertext: the record no
    // longer decrypts, and the peer says bad_record_mac.
    let mut pair = Setup::new(TlsVersion::V1_3).pair();
    let start = pair.run_to_tls_start();
    let mut request = start;
    loop {
        let Ok(PeerStep::Respond(response)) = pair.peer.handle(&request, &mut pair.rng) else {
            panic!()
        };
        let AuthStep::Request(next) = pair.auth.handle(&response, &mut pair.rng) else { panic!() };
        if next.data.get(1) == Some(&23) {
            request = next;
            break;
        }
        request = next;
    }
    let last = request.data.len() - 1;
    request.data[last] ^= 1;
    let Ok(PeerStep::Respond(alert)) = pair.peer.handle(&request, &mut pair.rng) else { panic!() };
    assert!(alert.data.len() > 1, "the peer sends its alert");
    let failure = EapRepr {
        code: EapCode::FAILURE,
        identifier: request.identifier,
        eap_type: None,
        data: vec![],
    };
    let reason = pair.peer.handle(&failure, &mut pair.rng).unwrap_err();
    assert_eq!(reason, EapFailure::Tls(alert::BAD_RECORD_MAC));
}

/// Secrets as rustls logs them (NSS key log labels).
#[derive(Debug, Default)]
struct Secrets(Mutex<Vec<LogLine>>);

#[derive(Debug)]
struct LogLine {
    label: String,
    client_random: Vec<u8>,
    secret: Vec<u8>,
}

impl TlsKeyLog for Secrets {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = LogLine {
            label: label.to_owned(),
            client_random: client_random.to_vec(),
            secret: secret.to_vec(),
        };
        self.0.lock().unwrap().push(line);
    }
}

/// HMAC-SHA-256 or -384 of the concatenated `parts`.
fn hmac(sha384: bool, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::{Hmac, KeyInit, Mac};
    macro_rules! mac {
        ($hash:ty) => {{
            let mut m = <Hmac<$hash> as KeyInit>::new_from_slice(key).unwrap();
            for p in parts {
                m.update(p);
            }
            m.finalize().into_bytes().to_vec()
        }};
    }
    if sha384 { mac!(sha2::Sha384) } else { mac!(sha2::Sha256) }
}

/// TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label || seed) with HMAC-SHA-256 or -384.
fn tls12_prf(sha384: bool, secret: &[u8], label: &[u8], seed: &[u8], len: usize) -> Vec<u8> {
    let seed = [label, seed].concat();
    let mut a = hmac(sha384, secret, &[&seed]);
    let mut out = Vec::new();
    while out.len() < len {
        out.extend(hmac(sha384, secret, &[&a, &seed]));
        a = hmac(sha384, secret, &[&a]);
    }
    out.truncate(len);
    out
}

/// HKDF-Expand (RFC 5869 §2.3).
fn hkdf_expand(sha384: bool, prk: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let mut t = Vec::new();
    let mut out = Vec::new();
    for i in 1u8.. {
        if out.len() >= len {
            break;
        }
        t = hmac(sha384, prk, &[&t, info, &[i]]);
        out.extend_from_slice(&t);
    }
    out.truncate(len);
    out
}

/// HKDF-Expand-Label (RFC 8446 §7.1).
fn hkdf_expand_label(
    sha384: bool,
    secret: &[u8],
    label: &[u8],
    context: &[u8],
    len: u16,
) -> Vec<u8> {
    let full = [b"tls13 ", label].concat();
    let info = [
        &len.to_be_bytes()[..],
        &[u8::try_from(full.len()).unwrap()],
        &full,
        &[u8::try_from(context.len()).unwrap()],
        context,
    ]
    .concat();
    hkdf_expand(sha384, secret, &info, usize::from(len))
}

fn digest(sha384: bool, data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    if sha384 { sha2::Sha384::digest(data).to_vec() } else { sha2::Sha256::digest(data).to_vec() }
}

/// TLS-Exporter (RFC 8446 §7.5) from the exporter master secret.
fn tls13_exporter(
    sha384: bool,
    exporter_master: &[u8],
    label: &[u8],
    context: &[u8],
    len: u16,
) -> Vec<u8> {
    let hash_len = u16::try_from(digest(sha384, b"").len()).unwrap();
    let secret = hkdf_expand_label(sha384, exporter_master, label, &digest(sha384, b""), hash_len);
    hkdf_expand_label(sha384, &secret, b"exporter", &digest(sha384, context), len)
}

/// The test's PRF against OpenSSL's: master secret 00..2f, client random 40..5f, server random
/// 80..9f, label "client EAP encryption", 64 octets, from
/// `openssl kdf -keylen 64 -kdfopt digest:SHA256 (or SHA384) -kdfopt hexsecret:000102..2f
/// -kdfopt hexseed:<hex of label>4041..5f8081..9f TLS1-PRF` (OpenSSL 3.0.19).
#[test]
fn tls12_prf_matches_openssl() {
    let master: Vec<u8> = (0x00..0x30).collect();
    let randoms: Vec<u8> = (0x40..0x60).chain(0x80..0xa0).collect();
    let sha256 = "1f3d593d4ce89ae2067b1361f748e33f8661a56ea314b0c307f2990c85bbdc3e\
                  08d9b1ad2c633deec23bb59d930076d28020d2d241085411f5e83cb70a61f50f";
    let sha384 = "f50ce169f52bb955cb9490e31b5c37e48fb008154684d7b76aae8762716d65bf\
                  583df048938097157ce3de1e3d6d930073d2969ae1d94c0dce8fb391fc5ae65d";
    let label = b"client EAP encryption";
    assert_eq!(hex::encode(tls12_prf(false, &master, label, &randoms, 64)), sha256);
    assert_eq!(hex::encode(tls12_prf(true, &master, label, &randoms, 64)), sha384);
}

/// The test's HKDF-Expand against OpenSSL's: PRK 00..2f, info 60..7f, 80 octets, from
/// `openssl kdf -keylen 80 -kdfopt digest:SHA256 (or SHA384) -kdfopt mode:EXPAND_ONLY
/// -kdfopt hexkey:000102..2f -kdfopt hexinfo:6061..7f HKDF` (OpenSSL 3.0.19).
#[test]
fn hkdf_expand_matches_openssl() {
    let prk: Vec<u8> = (0x00..0x30).collect();
    let info: Vec<u8> = (0x60..0x80).collect();
    let sha256 = "fb4a9b1c8cb07f9267e6036dfcee033373d785342636f23d4eee26098a5fe887\
                  0ff7f868c4962680709b9914042a65e38cefd56d9e253a1770b83f74ee7dd521\
                  c229cc29cf587df59e04e26405694617";
    let sha384 = "edfdfe8e086b892a7b32b7ed2e510f41ea20bcd609e45e23c690853c657d4364\
                  cd1941e64c74454c09fcdedf293b6b1a704b9e5d100a3f0d991f2e0c46d95b62\
                  0b018d34ae01e774c13c611f688c1c4d";
    assert_eq!(hex::encode(hkdf_expand(false, &prk, &info, 80)), sha256);
    assert_eq!(hex::encode(hkdf_expand(true, &prk, &info, 80)), sha384);
}

/// RFC 5216 §2.3's key material of a finished TLS 1.2 run, recomputed by the test: the
/// master secret from the key log, the randoms and cipher suite from the plaintext hellos, the
/// PRF checked against OpenSSL above.
fn tls12_key_material(t: &Transcript, secrets: &Secrets) -> Vec<u8> {
    // ClientHello: Type-Data flags(1) | record header(5) | handshake header(4) | version(2) |
    // random(32). ServerHello likewise, then session id and the cipher suite.
    let hello = responses(t)[0];
    let server_hello = requests(t)[1];
    let flags_len = |d: &[u8]| if d[0] & L != 0 { 5 } else { 1 };
    let (c, s) = (flags_len(hello), flags_len(server_hello));
    assert_eq!((hello[c], hello[c + 5]), (0x16, 1), "ClientHello");
    assert_eq!((server_hello[s], server_hello[s + 5]), (0x16, 2), "ServerHello");
    let client_random = &hello[c + 11..c + 43];
    let server_random = &server_hello[s + 11..s + 43];
    let sid_len = usize::from(server_hello[s + 43]);
    let suite =
        u16::from_be_bytes([server_hello[s + 44 + sid_len], server_hello[s + 45 + sid_len]]);
    // TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 and TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 use
    // SHA-384 for the PRF (RFC 5289 §3); the others here SHA-256.
    let sha384 = matches!(suite, 0xc02c | 0xc030);

    let logged = secrets.0.lock().unwrap();
    let master = logged.iter().find(|l| l.label == "CLIENT_RANDOM").expect("master secret logged");
    assert_eq!(master.client_random, client_random);
    let seed = [client_random, server_random].concat();
    tls12_prf(sha384, &master.secret, b"client EAP encryption", &seed, 64)
}

/// RFC 5216 §2.3 known-answer check on a live handshake: the MSK both sides derived is the
/// PRF output the test recomputes.
#[test]
fn tls12_msk_is_the_rfc5216_prf_output() {
    let secrets = Arc::new(Secrets::default());
    let mut setup = Setup::new(TlsVersion::V1_2);
    setup.peer.key_log = Some(secrets.clone());
    let t = setup.run();
    let msk = assert_success(&t);
    assert_eq!(msk, tls12_key_material(&t, &secrets));
}

/// A TLS client that trusts any server and has no certificate: rustls itself, framed here as
/// the simplest EAP-TLS peer (acknowledging fragments, one message per flight).
mod no_certificate {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, aws_lc_rs};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

    #[derive(Debug)]
    struct TrustAnyone(Arc<CryptoProvider>);

    impl ServerCertVerifier for TrustAnyone {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = &self.0.signature_verification_algorithms;
            rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            let algs = &self.0.signature_verification_algorithms;
            rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    pub(super) fn client(tls13: bool) -> ClientConnection {
        let provider = Arc::new(aws_lc_rs::default_provider());
        let version: &'static rustls::SupportedProtocolVersion =
            if tls13 { &rustls::version::TLS13 } else { &rustls::version::TLS12 };
        let config = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[version])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TrustAnyone(provider)))
            .with_no_client_auth();
        ClientConnection::new(Arc::new(config), super::SERVER.try_into().unwrap()).unwrap()
    }
}

/// A client that sends no certificate at all (an empty Certificate message) is refused by the
/// authenticator with `TlsCertificate(NoCertificate)`, after its alert went out.
#[test]
fn client_without_a_certificate_is_refused() {
    for version in [TlsVersion::V1_2, TlsVersion::V1_3] {
        let mut pair = Setup::new(version).pair();
        let mut request = pair.run_to_tls_start();
        let mut client = no_certificate::client(version == TlsVersion::V1_3);
        let mut received = Vec::new();
        let mut alerted = false;
        let reason = loop {
            // The Start carries nothing; later Requests carry the server's TLS bytes.
            let (flags, data) = match request.data.split_first() {
                Some((&f, rest)) if f & L != 0 => (f, &rest[4..]),
                Some((&f, rest)) => (f, rest),
                None => panic!("empty Type-Data"),
            };
            received.extend_from_slice(data);
            let reply = if flags & M != 0 {
                vec![0]
            } else {
                let mut bytes = &received[..];
                while !bytes.is_empty() {
                    client.read_tls(&mut bytes).unwrap();
                    if client.process_new_packets().is_err() {
                        alerted = true;
                        break;
                    }
                }
                received.clear();
                let mut out = vec![0];
                client.write_tls(&mut out).unwrap();
                out
            };
            match pair.auth_gets(&request, reply) {
                AuthStep::Request(next) => request = next,
                AuthStep::Failure { reason, .. } => break reason,
                AuthStep::Success { .. } => {
                    panic!("{version:?}: a client without a certificate got in")
                }
            }
        };
        assert_eq!(reason, EapFailure::TlsCertificate(CertFailure::NoCertificate), "{version:?}");
        assert!(alerted, "{version:?}: the server sent its alert first");
    }
}

/// The TLS bytes of the first message in `frames` (EAP-TLS Type-Data in wire order, one side's),
/// its fragments joined; the other side's acknowledgements are not in `frames`, our own
/// empty ones are skipped.
fn first_message(frames: &[&[u8]]) -> Vec<u8> {
    let mut message = Vec::new();
    for frame in frames.iter().filter(|d| **d != [0x00]) {
        let data = if frame[0] & L != 0 { &frame[5..] } else { &frame[1..] };
        message.extend_from_slice(data);
        if frame[0] & 0x40 == 0 {
            return message;
        }
    }
    panic!("no complete message")
}

/// TLS-Exporter(`label`, `context`, 128) of a finished TLS 1.3 run, recomputed by the test:
/// the exporter master secret from the key log (EXPORTER_SECRET), the suite's hash from the
/// plaintext ServerHello, the HKDF checked against OpenSSL above.
fn tls13_key_material(t: &Transcript, secrets: &Secrets, label: &[u8], context: &[u8]) -> Vec<u8> {
    let server_hello = first_message(&requests(t)[1..]);
    assert_eq!((server_hello[0], server_hello[5]), (0x16, 2), "ServerHello");
    let sid_len = usize::from(server_hello[43]);
    let suite = u16::from_be_bytes([server_hello[44 + sid_len], server_hello[45 + sid_len]]);
    // TLS_AES_256_GCM_SHA384 hashes with SHA-384; TLS_AES_128_GCM_SHA256 and
    // TLS_CHACHA20_POLY1305_SHA256 with SHA-256 (RFC 8446 §B.4).
    assert!(matches!(suite, 0x1301..=0x1303), "{suite:#x}");
    let sha384 = suite == 0x1302;

    let logged = secrets.0.lock().unwrap();
    let exporter =
        logged.iter().find(|l| l.label == "EXPORTER_SECRET").expect("exporter secret logged");
    tls13_exporter(sha384, &exporter.secret, label, context, 128)
}

/// RFC 9190 §2.3 known-answer check on a live TLS 1.3 handshake: its first 64 octets of
/// TLS-Exporter("EXPORTER_EAP_TLS_Key_Material", 0x0D, 128) are the MSK both sides derived.
#[test]
fn tls13_msk_is_the_rfc9190_exporter_output() {
    let secrets = Arc::new(Secrets::default());
    let mut setup = Setup::new(TlsVersion::V1_3);
    setup.peer.key_log = Some(secrets.clone());
    let t = setup.run();
    let msk = assert_success(&t);
    let material = tls13_key_material(&t, &secrets, RFC9190_LABEL, &[13]);
    assert_eq!(msk, material[..64]);
}

const RFC9190_LABEL: &[u8] = b"EXPORTER_EAP_TLS_Key_Material";
/// strongSwan 5.9.2 to 5.9.9 (src/libtls/tls_crypto.c derive_app_keys): RFC 5216's label with
/// TLS 1.3's exporter, empty context.
const DRAFT_LABEL: &[u8] = b"client EAP encryption";

/// A TLS 1.3 setup whose authenticator is draft-era: no success indication, the draft MSK.
fn draft_era(compat: bool) -> Setup {
    let mut setup = Setup::new(TlsVersion::V1_3);
    setup.server.draft_tls13 = true;
    setup.peer.draft_tls13_compat = compat;
    setup
}

/// What a draft-era server sends: EAP-Success right after the client's Finished flight, no
/// application-data record before it.
fn assert_draft_era_wire(t: &Transcript) {
    let [.., finished, success] = &t.wire[..] else { panic!("too short") };
    assert_eq!(success.code, EapCode::SUCCESS);
    assert_eq!(finished.code, EapCode::RESPONSE);
    // Under RFC 9190 the Success answers the client's empty acknowledgement of the success
    // indication; here it answers the (last fragment of the) client's Finished flight.
    assert!(finished.data.len() > 1, "the Success answers the client's Finished, not an ack");
}

/// Compatibility off (the default): a draft-era server's Success without RFC 9190's success
/// indication is refused as premature, although the server considers the method done.
#[test]
fn draft_era_tls13_success_is_premature_without_compat() {
    assert!(!Setup::new(TlsVersion::V1_3).peer.draft_tls13_compat, "off by default");
    assert!(!Setup::new(TlsVersion::V1_3).server.draft_tls13, "off by default");
    let t = draft_era(false).run();
    assert_draft_era_wire(&t);
    assert_eq!(t.peer, Err(EapFailure::PrematureSuccess));
    let (identity, msk) = t.server.expect("the server ended").expect("the server succeeded");
    assert_eq!((identity.as_str(), msk.map(|m| m.len())), (CLIENT, Some(64)));
}

/// Compatibility on: the draft-era Success is taken, and both sides hold the draft MSK,
/// TLS-Exporter("client EAP encryption", "", 128)[0..64], not RFC 9190's. Also with the
/// client's Finished flight in 64-byte fragments (the Success answers the last one).
#[test]
fn draft_era_tls13_success_gives_the_draft_msk_with_compat() {
    for fragments in [None, Some(MIN_FRAGMENT_SIZE)] {
        let secrets = Arc::new(Secrets::default());
        let mut setup = draft_era(true);
        if let Some(size) = fragments {
            setup = setup.fragments(size);
        }
        setup.peer.key_log = Some(secrets.clone());
        let t = setup.run();
        assert_draft_era_wire(&t);
        let msk = assert_success(&t);
        let draft = tls13_key_material(&t, &secrets, DRAFT_LABEL, &[]);
        assert_eq!(msk, draft[..64], "{fragments:?}");
        let rfc9190 = tls13_key_material(&t, &secrets, RFC9190_LABEL, &[13]);
        assert_ne!(msk, rfc9190[..64], "{fragments:?}");
    }
}

/// Compatibility on against an RFC 9190 server: the success indication arrives, so the MSK is
/// RFC 9190's; TLS 1.2 is untouched by either option.
#[test]
fn compat_peer_keeps_rfc9190_and_tls12_keys() {
    let secrets = Arc::new(Secrets::default());
    let mut setup = Setup::new(TlsVersion::V1_3);
    setup.peer.draft_tls13_compat = true;
    setup.peer.key_log = Some(secrets.clone());
    let t = setup.run();
    let msk = assert_success(&t);
    assert_eq!(requests(&t).last().unwrap()[1], 23, "the success indication was sent");
    let rfc9190 = tls13_key_material(&t, &secrets, RFC9190_LABEL, &[13]);
    assert_eq!(msk, rfc9190[..64]);
    assert_ne!(msk, tls13_key_material(&t, &secrets, DRAFT_LABEL, &[])[..64]);

    let mut tls12 = Setup::new(TlsVersion::V1_2);
    (tls12.peer.draft_tls13_compat, tls12.server.draft_tls13) = (true, true);
    let secrets = Arc::new(Secrets::default());
    tls12.peer.key_log = Some(secrets.clone());
    let t = tls12.run();
    let msk = assert_success(&t);
    assert_eq!(msk, tls12_key_material(&t, &secrets));
}

/// Compatibility on: EAP-Success before the handshake completed is still refused, whether it
/// comes after our ClientHello, in the middle of the server's flight, or while our Finished
/// flight is still going out in fragments; the same Success after its last fragment is taken
/// (the control that the harness reached the points it names).
#[test]
fn early_success_is_refused_with_draft_compat() {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Point {
        AfterClientHello,
        InServerFlight,
        InOurFinishedFlight,
        AfterOurFinished,
    }
    for point in [
        Point::AfterClientHello,
        Point::InServerFlight,
        Point::InOurFinishedFlight,
        Point::AfterOurFinished,
    ] {
        let mut pair = draft_era(true).fragments(MIN_FRAGMENT_SIZE).pair();
        let mut request = pair.run_to_tls_start();
        let mut acked = false;
        let response = loop {
            let Ok(PeerStep::Respond(response)) = pair.peer.handle(&request, &mut pair.rng) else {
                panic!("{point:?}: the peer stopped");
            };
            let ack = response.data == [0x00];
            let more = response.data[0] & 0x40 != 0;
            let here = match point {
                Point::AfterClientHello => true,
                Point::InServerFlight => ack,
                Point::InOurFinishedFlight => acked && more,
                Point::AfterOurFinished => acked && !ack && !more,
            };
            if here {
                break response;
            }
            acked |= ack;
            match pair.auth.handle(&response, &mut pair.rng) {
                AuthStep::Request(next) => request = next,
                other => panic!("{point:?}: the server ended early: {other:?}"),
            }
        };
        let success = EapRepr {
            code: EapCode::SUCCESS,
            identifier: response.identifier,
            eap_type: None,
            data: vec![],
        };
        let outcome = pair.peer.handle(&success, &mut pair.rng);
        match point {
            Point::AfterOurFinished => {
                let Ok(PeerStep::Success { msk: Some(msk) }) = outcome else {
                    panic!("{point:?}: {outcome:?}")
                };
                assert_eq!(msk.len(), 64);
                // The server, given the same last fragment, ends with the same MSK.
                let AuthStep::Success { msk: Some(server), .. } =
                    pair.auth.handle(&response, &mut pair.rng)
                else {
                    panic!("{point:?}: the server did not succeed")
                };
                assert_eq!(msk.expose(), server.expose());
            }
            _ => assert_eq!(outcome.unwrap_err(), EapFailure::PrematureSuccess, "{point:?}"),
        }
    }
}
