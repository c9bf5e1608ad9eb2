//! EAP inside IKE_AUTH through whole handshakes, our initiator against our responder (RFC 7296
//! §2.16, RFC 4739): the server proves itself with a certificate, the client with EAP; each
//! way EAP or the AUTH around it fails ends with the exact close reason on both sides and no
//! state left on the responder. Certificates are made in process (`ikeway_testkit::certs`),
//! verified at a fixed time.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use common::payloads::auth_method;
use common::run::{Run, open_auth, rewrite_auth, seal};
use common::{CLIENT, SERVER, addr, client_config, server_config};
use ikeway_codec::{
    AuthMethod, EapCode, EapRepr, ExchangeType, Flags, HeaderRepr, IdRepr, IdValue, MessageRepr,
    NotifyType, Payload, PayloadRepr,
};
use ikeway_crypto::SecretBytes;
use ikeway_eap::{
    AuthenticatorConfig, EapFailure, Method, PeerConfig, TlsPeerConfig, TlsServerConfig, Users,
};
use ikeway_pki::{
    CertFailure, Certificate, FixedTime, Identity, PrivateKey, Purpose, UnixTime, Validator,
};
use ikeway_sa::{CloseReason, Config, Event, LocalAuth, PeerAuth};
use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, TestCa};

const CLIENT_ID: &str = "client.example.org";
const SERVER_ID: &str = "vpn.example.org";
const USER: &str = "alice";
const PASSWORD: &str = "correct horse battery staple";
/// The half-open timeout is 30 s: this is past it.
const PAST_HALF_OPEN: Duration = Duration::from_secs(31);

// ----- configurations -----

/// Verifies at 2030-01-01, inside the test certificates' 2020-2100.
fn verifier(ca: &TestCa, purpose: Purpose) -> PeerAuth {
    PeerAuth::Certificate(pki_verifier(ca, purpose))
}

fn pki_verifier(ca: &TestCa, purpose: Purpose) -> Arc<FixedTime> {
    let anchor = Certificate::from_der(ca.cert_der.clone()).expect("DER");
    let validator = Validator::new(vec![anchor], purpose);
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000));
    Arc::new(FixedTime { validator, now })
}

fn cert_identity(ca: &TestCa, name: &str) -> Arc<Identity> {
    let cert = ca.issue(name, name, &PKCS_ECDSA_P256_SHA256);
    let key = PrivateKey::from_der(&cert.key_der).expect("PKCS#8");
    let chain = vec![Certificate::from_der(cert.cert_der).expect("DER")];
    Arc::new(Identity::new(key, chain).expect("the key is the cert's"))
}

fn identity(ca: &TestCa, name: &str) -> LocalAuth {
    LocalAuth::Certificate(cert_identity(ca, name))
}

fn peer(user: &str, password: &str, methods: &[Method]) -> Arc<PeerConfig> {
    Arc::new(PeerConfig {
        identity: user.to_owned(),
        password: Some(SecretBytes::from_slice(password.as_bytes())),
        tls: None,
        methods: methods.to_vec(),
    })
}

fn authenticator(methods: &[Method]) -> Arc<AuthenticatorConfig> {
    let users = Users::parse(&format!("{USER} : EAP \"{PASSWORD}\"\n")).expect("a user file");
    Arc::new(AuthenticatorConfig { methods: methods.to_vec(), users: Arc::new(users), tls: None })
}

/// A server with a certificate that `ca` issued, requiring EAP with `methods`; a client that
/// trusts `ca` and signs in as `user` with `password`. IKE_AUTH goes whole, so tests can
/// open it.
fn eap_configs(ca: &TestCa, user: &str, password: &str, methods: &[Method]) -> (Config, Config) {
    let mut client = client_config();
    client.max_message_len = 60_000;
    client.local_auth = LocalAuth::Eap(peer(user, password, methods));
    client.peer_auth = verifier(ca, Purpose::Server);
    let mut server = server_config();
    server.max_message_len = 60_000;
    server.local_auth = identity(ca, SERVER_ID);
    server.peer_auth = PeerAuth::Eap(authenticator(methods));
    (client, server)
}

// ----- what went over the wire -----

/// The payloads of each IKE_AUTH message in `datagrams`, with its message ID.
fn auth_messages(run: &Run, datagrams: &[Vec<u8>]) -> Vec<(u32, Vec<Payload>)> {
    datagrams
        .iter()
        .filter_map(|d| {
            let header = HeaderRepr::parse(d).ok()?;
            Some((header.message_id, open_auth(&run.initiator, d)?))
        })
        .collect()
}

fn has(payloads: &[Payload], want: fn(&PayloadRepr) -> bool) -> bool {
    payloads.iter().any(|p| want(&p.body))
}

fn notify(payloads: &[Payload], kind: NotifyType) -> bool {
    payloads.iter().any(|p| matches!(&p.body, PayloadRepr::Notify(n) if n.kind == kind))
}

fn eap(payloads: &[Payload]) -> Option<&EapRepr> {
    payloads.iter().find_map(|p| match &p.body {
        PayloadRepr::Eap(e) => Some(e),
        _ => None,
    })
}

/// Both sides installed the same child: mirrored SPIs and keys.
fn assert_children_agree(run: &Run) {
    let child = |events: &[Event]| {
        events
            .iter()
            .find_map(|e| match e {
                Event::ChildSaInstalled(c) => {
                    Some((c.spi_in, c.spi_out, c.inbound.encryption.expose().to_vec()))
                }
                _ => None,
            })
            .expect("a child")
    };
    let (i_in, i_out, i_key) = child(&run.initiator_events);
    let (r_in, r_out, _) = child(&run.responder_events);
    assert_eq!((i_in, i_out), (r_out, r_in));
    let r_out_key = run
        .responder_events
        .iter()
        .find_map(|e| match e {
            Event::ChildSaInstalled(c) => Some(c.outbound.encryption.expose().to_vec()),
            _ => None,
        })
        .expect("a child");
    assert_eq!(i_key, r_out_key);
}

fn peer_authenticated(run: &Run) -> Vec<(IdRepr, String)> {
    run.responder_events
        .iter()
        .filter_map(|e| match e {
            Event::PeerAuthenticated { id, eap_identity } => {
                Some((id.clone(), eap_identity.clone()))
            }
            _ => None,
        })
        .collect()
}

fn fqdn(s: &str) -> IdRepr {
    IdRepr::from_value(IdValue::Fqdn(s))
}

// ----- EAP in the first round: it works -----

/// The exchange RFC 7296 §2.16 draws, checked message by message, for `method`; returns the
/// run, up on both sides.
fn eap_handshake(method: Method) -> Run {
    let ca = TestCa::new("Test Root");
    let (client, server) = eap_configs(&ca, USER, PASSWORD, &[method]);
    let run = Run::new(client, server).run();
    assert!(run.both_up(), "{:?} / {:?}", run.initiator_events, run.responder_events);
    assert_children_agree(&run);
    assert_eq!(run.initiator_closed(), None);
    assert_eq!(run.responder_closed(), None);
    // The responder reports who proved themselves, before the SA is up.
    assert_eq!(peer_authenticated(&run), vec![(fqdn(CLIENT_ID), USER.to_owned())]);
    let order: Vec<bool> = run
        .responder_events
        .iter()
        .filter_map(|e| match e {
            Event::PeerAuthenticated { .. } => Some(true),
            Event::IkeSaUp { .. } => Some(false),
            _ => None,
        })
        .collect();
    assert_eq!(order, [true, false]);

    let requests = auth_messages(&run, &run.sent_by_initiator);
    let responses = auth_messages(&run, &run.sent_by_responder);
    let ids: Vec<u32> = requests.iter().map(|(mid, _)| *mid).collect();
    assert_eq!(ids, (1..=requests.len() as u32).collect::<Vec<_>>(), "one request per ID");
    assert_eq!(responses.len(), requests.len());
    // First request: IDi, CP, SA, TS and no AUTH.
    let first = &requests[0].1;
    assert!(has(first, |p| matches!(p, PayloadRepr::IdI(_))));
    assert!(has(first, |p| matches!(p, PayloadRepr::Config(_))));
    assert!(has(first, |p| matches!(p, PayloadRepr::Sa(_))));
    assert!(has(first, |p| matches!(p, PayloadRepr::TsI(_))));
    assert_eq!(auth_method(first), None);
    assert!(!notify(first, NotifyType::EAP_ONLY_AUTHENTICATION));
    // First response: IDr, CERT, the certificate AUTH and EAP-Request/Identity.
    let answer = &responses[0].1;
    assert!(has(answer, |p| matches!(p, PayloadRepr::IdR(_))));
    assert!(has(answer, |p| matches!(p, PayloadRepr::Cert(_))));
    assert_eq!(auth_method(answer), Some(AuthMethod::DIGITAL_SIGNATURE));
    let identity_request = eap(answer).expect("an EAP request");
    assert_eq!((identity_request.code, identity_request.eap_type), (EapCode::REQUEST, Some(1)));
    assert!(!has(answer, |p| matches!(p, PayloadRepr::Sa(_))));
    // The rounds between carry EAP only.
    for (_, m) in requests[1..requests.len() - 1].iter().chain(&responses[1..responses.len() - 1]) {
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(eap(m).is_some());
    }
    assert_eq!(eap(&responses[responses.len() - 2].1).map(|e| e.code), Some(EapCode::SUCCESS));
    // Last request: AUTH only, a shared key MIC; last response: AUTH, CP, SA, TS.
    let last = &requests[requests.len() - 1].1;
    assert_eq!(last.len(), 1);
    assert_eq!(auth_method(last), Some(AuthMethod::SHARED_KEY_MIC));
    let done = &responses[responses.len() - 1].1;
    assert_eq!(auth_method(done), Some(AuthMethod::SHARED_KEY_MIC));
    assert!(has(done, |p| matches!(p, PayloadRepr::Config(_))));
    assert!(has(done, |p| matches!(p, PayloadRepr::Sa(_))));
    assert!(has(done, |p| matches!(p, PayloadRepr::TsR(_))));
    assert!(eap(done).is_none());
    run
}

/// EAP-MD5 makes no MSK: both final AUTHs are keyed by SK_pi and SK_pr (§2.16; the keying
/// itself is `auth.rs` `eap_auth_is_keyed_by_the_msk_or_else_by_the_signers_sk_p`), and both
/// sides agree on them.
#[test]
fn eap_md5_with_server_certificate_brings_both_sides_up_with_auth_from_sk_p() {
    let run = eap_handshake(Method::Md5);
    // Identity, MD5 challenge, Success: 2 exchanges of EAP, plus the start and the AUTH.
    assert_eq!(auth_messages(&run, &run.sent_by_initiator).len(), 4);
    assert_eq!(run.responder.len(), 1);
    assert_eq!(run.responder.half_open(), 0);
}

// ----- EAP fails: the server says no -----

/// What the EAP conversation looked like on the wire: each EAP message's code, type and
/// length, in order, both ways.
type EapWire = Vec<(EapCode, Option<u8>, usize)>;

/// A client refused by EAP: the exact reasons on both sides, the last request answered again
/// from the response cache, and nothing left once the half-open time ran out. Returns the
/// EAP conversation, for comparing refusals on the wire.
fn refused_by_eap(
    method: Method,
    user: &str,
    password: &str,
    client_reason: CloseReason,
    server_reason: CloseReason,
) -> EapWire {
    let ca = TestCa::new("Test Root");
    let (client, server) = eap_configs(&ca, user, password, &[method]);
    let mut run = Run::new(client, server).run();
    assert!(!run.initiator.is_established());
    assert_eq!(run.initiator_closed(), Some(client_reason));
    assert!(peer_authenticated(&run).is_empty());
    let last = auth_messages(&run, &run.sent_by_responder).pop().expect("IKE_AUTH answered");
    assert_eq!(eap(&last.1).map(|e| e.code), Some(EapCode::FAILURE));
    // The responder keeps the failed SA, half-open, only to answer a retransmission.
    assert_eq!(run.responder_closed(), None);
    assert_eq!((run.responder.len(), run.responder.half_open()), (1, 1));
    let requests = auth_messages(&run, &run.sent_by_initiator);
    let responses = auth_messages(&run, &run.sent_by_responder);
    assert_eq!(requests.len(), responses.len());
    let wire = responses
        .iter()
        .zip(&requests[1..])
        .flat_map(|((_, answer), (_, next))| [eap(answer), eap(next)])
        .chain([eap(&responses[responses.len() - 1].1)])
        .flatten()
        .map(|e| (e.code, e.eap_type, e.data.len()))
        .collect();
    let request = run.sent_by_initiator.last().expect("a request").clone();
    let answer = run.sent_by_responder.last().expect("an answer").clone();
    run.responder.handle_datagram(run.now, addr(CLIENT), addr(SERVER), &request);
    let mut buf = vec![0u8; 65536];
    let t = run.responder.poll_transmit(&mut buf).expect("answered again").expect("fits");
    assert_eq!(&buf[..t.len], answer.as_slice(), "the cached EAP-Failure, byte for byte");
    assert!(run.responder.poll_transmit(&mut buf).is_none());
    run.advance(PAST_HALF_OPEN);
    assert_eq!(run.responder_closed(), Some(server_reason));
    run.assert_responder_empty();
    wire
}

/// EAP-MSCHAPv2 (the road-warrior default): the 64-byte MSK keys both final AUTHs.
#[test]
fn eap_mschapv2_with_server_certificate_brings_both_sides_up() {
    let run = eap_handshake(Method::MsChapV2);
    // Identity, challenge, success request, EAP-Success: 3 exchanges of EAP, plus the start
    // and the AUTH.
    assert_eq!(auth_messages(&run, &run.sent_by_initiator).len(), 5);
}

#[test]
fn eap_mschapv2_wrong_password_and_unknown_user_are_refused_alike_and_leave_nothing() {
    let client = CloseReason::Eap(EapFailure::MsChapV2Rejected { code: 691 });
    let server = CloseReason::Eap(EapFailure::Rejected);
    let wrong = refused_by_eap(Method::MsChapV2, USER, "not the password", client, server);
    let unknown = refused_by_eap(Method::MsChapV2, "mallo", PASSWORD, client, server);
    assert_eq!(wrong, unknown, "a wrong password and an unknown user differ on the wire");
    // Challenge, response, MSCHAPv2 failure, its acknowledgement, EAP-Failure.
    let kinds: Vec<_> = wrong.iter().map(|(code, t, _)| (*code, *t)).collect();
    let (req, resp) = (EapCode::REQUEST, EapCode::RESPONSE);
    assert_eq!(
        kinds,
        [
            (req, Some(1)),
            (resp, Some(1)),
            (req, Some(26)),
            (resp, Some(26)),
            (req, Some(26)),
            (resp, Some(26)),
            (EapCode::FAILURE, None)
        ]
    );
}

#[test]
fn eap_md5_wrong_password_and_unknown_user_are_refused_alike_and_leave_nothing() {
    let reason = CloseReason::Eap(EapFailure::Rejected);
    let wrong = refused_by_eap(Method::Md5, USER, "not the password", reason, reason);
    // A name of the same length, so that the two conversations could look the same.
    let unknown = refused_by_eap(Method::Md5, "mallo", PASSWORD, reason, reason);
    assert_eq!(wrong, unknown, "a wrong password and an unknown user differ on the wire");
}

// ----- the server does not prove itself -----

/// A server whose certificate the client does not trust: refused on its first answer, before
/// any EAP message is answered; the server is told and keeps nothing.
#[test]
fn server_with_an_untrusted_certificate_is_refused_before_any_eap_is_answered() {
    let ca = TestCa::new("Test Root");
    let other = TestCa::new("Another Root");
    let (client, mut server) = eap_configs(&ca, USER, PASSWORD, &[Method::Md5]);
    server.local_auth = identity(&other, SERVER_ID);
    let run = Run::new(client, server).run();
    assert_eq!(
        run.initiator_closed(),
        Some(CloseReason::PeerCertificate(CertFailure::UntrustedIssuer))
    );
    let requests = auth_messages(&run, &run.sent_by_initiator);
    assert_eq!(requests.len(), 1, "only the first IKE_AUTH: {requests:?}");
    assert!(requests.iter().all(|(_, m)| eap(m).is_none()), "an EAP message was answered");
    // The INFORMATIONAL that says AUTHENTICATION_FAILED deletes the half-open SA at once.
    assert_eq!(run.responder_closed(), Some(CloseReason::DeletedByPeer));
    run.assert_responder_empty();
}

/// A server whose certificate is trusted but whose AUTH signature does not verify: refused on
/// its first answer, the EAP-Request in that answer never answered.
#[test]
fn server_with_a_bad_certificate_auth_signature_is_refused_before_any_eap_is_answered() {
    let ca = TestCa::new("Test Root");
    let (client, server) = eap_configs(&ca, USER, PASSWORD, &[Method::MsChapV2]);
    let mut run = Run::new(client, server);
    run.tamper_response = Some(Box::new(|sa, bytes| {
        rewrite_auth(sa, bytes, |payloads| {
            for p in payloads.iter_mut() {
                if let PayloadRepr::Auth(a) = &mut p.body
                    && a.method == AuthMethod::DIGITAL_SIGNATURE
                {
                    let last = a.data.len() - 1;
                    a.data[last] ^= 1;
                }
            }
        })
    }));
    let run = run.run();
    assert_eq!(
        run.initiator_closed(),
        Some(CloseReason::PeerCertificate(CertFailure::BadSignature))
    );
    let requests = auth_messages(&run, &run.sent_by_initiator);
    assert_eq!(requests.len(), 1);
    assert!(eap(&requests[0].1).is_none());
    assert_eq!(run.responder_closed(), Some(CloseReason::DeletedByPeer));
    run.assert_responder_empty();
}

/// A server whose final AUTH is not keyed by the MSK (or SK_pr): refused after EAP-Success,
/// the SA never up on the client; the server, up already, is told and deletes it.
#[test]
fn server_final_auth_that_does_not_match_is_refused() {
    let ca = TestCa::new("Test Root");
    let (client, server) = eap_configs(&ca, USER, PASSWORD, &[Method::Md5]);
    let mut run = Run::new(client, server);
    run.tamper_response = Some(Box::new(|sa, bytes| {
        rewrite_auth(sa, bytes, |payloads| {
            let last = payloads.iter().any(|p| matches!(p.body, PayloadRepr::Sa(_)));
            for p in payloads.iter_mut() {
                if let (true, PayloadRepr::Auth(a)) = (last, &mut p.body) {
                    a.data[0] ^= 1;
                }
            }
        })
    }));
    let run = run.run();
    assert!(!run.initiator.is_established());
    assert!(!run.initiator_events.iter().any(|e| matches!(e, Event::ChildSaInstalled(_))));
    assert_eq!(run.initiator_closed(), Some(CloseReason::AuthenticationFailed));
    assert_eq!(run.responder_closed(), Some(CloseReason::DeletedByPeer));
    run.assert_responder_empty();
}

/// A client whose final AUTH does not match: AUTHENTICATION_FAILED, nothing kept.
#[test]
fn client_final_auth_that_does_not_match_is_refused() {
    let ca = TestCa::new("Test Root");
    let (client, server) = eap_configs(&ca, USER, PASSWORD, &[Method::Md5]);
    let mut run = Run::new(client, server);
    run.tamper_request = Some(Box::new(|sa, bytes| {
        rewrite_auth(sa, bytes, |payloads| {
            if let [Payload { body: PayloadRepr::Auth(a), .. }] = payloads.as_mut_slice() {
                a.data[0] ^= 1;
            }
        })
    }));
    let run = run.run();
    assert_eq!(run.initiator_closed(), Some(CloseReason::AuthenticationFailed));
    assert_eq!(run.responder_closed(), Some(CloseReason::AuthenticationFailed));
    assert!(peer_authenticated(&run).is_empty());
    run.assert_responder_empty();
}

/// EAP-Success where the server's first request was (RFC 4137 §4.1): refused, never up.
#[test]
fn premature_eap_success_is_refused() {
    let ca = TestCa::new("Test Root");
    let (client, server) = eap_configs(&ca, USER, PASSWORD, &[Method::Md5]);
    let mut run = Run::new(client, server);
    run.tamper_response = Some(Box::new(|sa, bytes| {
        rewrite_auth(sa, bytes, |payloads| {
            for p in payloads.iter_mut() {
                if let PayloadRepr::Eap(e) = &mut p.body {
                    *e = EapRepr {
                        code: EapCode::SUCCESS,
                        identifier: e.identifier,
                        eap_type: None,
                        data: Vec::new(),
                    };
                }
            }
        })
    }));
    let run = run.run();
    assert_eq!(run.initiator_closed(), Some(CloseReason::Eap(EapFailure::PrematureSuccess)));
    assert!(!run.initiator.is_established());
    // The server still waits for the client, which tells it (§2.21.2) instead of leaving it
    // to the half-open timeout: its SA ends at once.
    assert_eq!(auth_messages(&run, &run.sent_by_initiator).len(), 1);
    assert_eq!(run.responder_closed(), Some(CloseReason::DeletedByPeer));
    run.assert_responder_empty();
}

/// A server that never ends the conversation (EAP-Notification after EAP-Notification):
/// the client gives up after a bounded number of rounds.
#[test]
fn a_server_that_never_ends_eap_is_given_up_on() {
    let ca = TestCa::new("Test Root");
    let (client, server) = eap_configs(&ca, USER, PASSWORD, &[Method::Md5]);
    let mut run = Run::new(client, server);
    // From the second IKE_AUTH on, the client's requests go to the test, not the server.
    let held: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let stash = Rc::clone(&held);
    run.tamper_request = Some(Box::new(move |_, bytes| match HeaderRepr::parse(&bytes) {
        Ok(h) if h.exchange == ExchangeType::IKE_AUTH && h.message_id >= 2 => {
            stash.borrow_mut().push(bytes);
            Vec::new()
        }
        _ => bytes,
    }));
    run.deliver();
    let mut answered = 0u32;
    loop {
        let next = held.borrow_mut().pop();
        let Some(request) = next else { break };
        let h = HeaderRepr::parse(&request).expect("a header");
        let header = HeaderRepr {
            flags: Flags { initiator: false, response: true, ..Flags::default() },
            length: 0,
            next_payload: ikeway_codec::PayloadType::NONE,
            ..h
        };
        let notification = EapRepr {
            code: EapCode::REQUEST,
            identifier: h.message_id as u8,
            eap_type: Some(2),
            data: b"still here".to_vec(),
        };
        let reply = seal(&run.initiator, &header, &[Payload::new(PayloadRepr::Eap(notification))]);
        run.initiator.handle_datagram(run.now, addr(SERVER), addr(CLIENT), &reply);
        answered += 1;
        assert!(answered <= 100, "the client never gave up");
        run.deliver();
    }
    assert_eq!(run.initiator_closed(), Some(CloseReason::Eap(EapFailure::TooManyRounds)));
    // ikeway-eap's bound: 50 requests, the 50th answered is the last.
    assert_eq!(answered, ikeway_eap::limits::MAX_ROUNDS);
    // The server saw only the first IKE_AUTH; its SA times out.
    run.advance(PAST_HALF_OPEN);
    assert_eq!(run.responder_closed(), Some(CloseReason::HandshakeTimeout));
    run.assert_responder_empty();
}

// ----- RFC 4739: a certificate round, then EAP -----

fn multiple_auth_configs(ca: &TestCa) -> (Config, Config) {
    let mut client = client_config();
    client.max_message_len = 60_000;
    client.local_auth = identity(ca, CLIENT_ID);
    client.local_auth2 = Some(peer(USER, PASSWORD, &[Method::Md5]));
    client.peer_auth = verifier(ca, Purpose::Server);
    let mut server = server_config();
    server.max_message_len = 60_000;
    server.local_auth = identity(ca, SERVER_ID);
    server.peer_auth = verifier(ca, Purpose::Client);
    server.peer_auth2 = Some(authenticator(&[Method::Md5]));
    (client, server)
}

#[test]
fn certificate_round_then_eap_brings_both_sides_up() {
    let ca = TestCa::new("Test Root");
    let (client, server) = multiple_auth_configs(&ca);
    let run = Run::new(client, server).run();
    assert!(run.both_up(), "{:?} / {:?}", run.initiator_events, run.responder_events);
    assert_children_agree(&run);
    assert_eq!(peer_authenticated(&run), vec![(fqdn(CLIENT_ID), USER.to_owned())]);
    // MULTIPLE_AUTH_SUPPORTED both ways in IKE_SA_INIT.
    for sent in [&run.sent_by_initiator[0], &run.sent_by_responder[0]] {
        let m = MessageRepr::parse(sent).expect("IKE_SA_INIT");
        assert!(notify(&m.payloads, NotifyType::MULTIPLE_AUTH_SUPPORTED));
    }
    let requests = auth_messages(&run, &run.sent_by_initiator);
    let responses = auth_messages(&run, &run.sent_by_responder);
    // Round one: our certificate AUTH, ANOTHER_AUTH_FOLLOWS, and SA/TS (as strongSwan).
    let first = &requests[0].1;
    assert_eq!(auth_method(first), Some(AuthMethod::DIGITAL_SIGNATURE));
    assert!(notify(first, NotifyType::ANOTHER_AUTH_FOLLOWS));
    assert!(has(first, |p| matches!(p, PayloadRepr::Sa(_))));
    assert_eq!(auth_method(&responses[0].1), Some(AuthMethod::DIGITAL_SIGNATURE));
    assert!(eap(&responses[0].1).is_none());
    // Round two: the EAP identity as IDi, no AUTH; the server answers EAP only.
    let second = &requests[1].1;
    assert_eq!(second.len(), 1);
    assert!(matches!(&second[0].body, PayloadRepr::IdI(id) if *id == fqdn(USER)));
    assert_eq!(responses[1].1.len(), 1);
    assert!(eap(&responses[1].1).is_some());
    let done = &responses[responses.len() - 1].1;
    assert_eq!(auth_method(done), Some(AuthMethod::SHARED_KEY_MIC));
    assert!(has(done, |p| matches!(p, PayloadRepr::Sa(_))));
}

/// A client configured for a second round against a server that does not announce RFC 4739:
/// it stops before IKE_AUTH rather than skip the round.
#[test]
fn second_round_against_a_server_without_multiple_auth_is_refused() {
    let ca = TestCa::new("Test Root");
    let (client, mut server) = multiple_auth_configs(&ca);
    server.peer_auth2 = None;
    let mut run = Run::new(client, server).run();
    assert_eq!(run.initiator_closed(), Some(CloseReason::MultipleAuthUnsupported));
    assert!(auth_messages(&run, &run.sent_by_initiator).is_empty());
    assert!(!run.initiator_events.iter().any(|e| matches!(e, Event::Authenticating { .. })));
    run.advance(PAST_HALF_OPEN);
    assert_eq!(run.responder_closed(), Some(CloseReason::HandshakeTimeout));
    run.assert_responder_empty();
}

/// A server that requires a second round and a client that does only one: refused.
#[test]
fn server_requiring_a_second_round_refuses_a_client_without_one() {
    let ca = TestCa::new("Test Root");
    let (mut client, server) = multiple_auth_configs(&ca);
    client.local_auth2 = None;
    let run = Run::new(client, server).run();
    assert_eq!(run.initiator_closed(), Some(CloseReason::AuthenticationFailed));
    assert_eq!(run.responder_closed(), Some(CloseReason::MultipleAuthUnsupported));
    run.assert_responder_empty();
}

/// A client that skips EAP with a PSK AUTH of its own is refused by a server requiring EAP.
#[test]
fn client_psk_is_refused_by_a_server_requiring_eap() {
    let ca = TestCa::new("Test Root");
    let (mut client, server) = eap_configs(&ca, USER, PASSWORD, &[Method::Md5]);
    client.local_auth = LocalAuth::Psk(common::psk().into());
    let run = Run::new(client, server).run();
    assert_eq!(run.initiator_closed(), Some(CloseReason::AuthenticationFailed));
    assert_eq!(run.responder_closed(), Some(CloseReason::AuthenticationFailed));
    run.assert_responder_empty();
}

// ----- EAP-TLS, and EAP-only authentication (RFC 5998) -----

/// A client that proves itself with its certificate inside EAP-TLS, checking the server's TLS
/// certificate; a server that also has `eap_only` as given.
fn tls_configs(ca: &TestCa, eap_only: bool) -> (Config, Config) {
    let tls = TlsPeerConfig::new(
        cert_identity(ca, CLIENT_ID),
        pki_verifier(ca, Purpose::Server),
        fqdn(SERVER_ID),
    );
    let mut client = client_config();
    client.max_message_len = 60_000;
    client.local_auth = LocalAuth::Eap(Arc::new(PeerConfig {
        identity: CLIENT_ID.to_owned(),
        password: None,
        tls: Some(tls),
        methods: vec![Method::Tls],
    }));
    client.peer_auth = verifier(ca, Purpose::Server);
    client.eap_only = eap_only;
    let server_identity = cert_identity(ca, SERVER_ID);
    let mut server = server_config();
    server.max_message_len = 60_000;
    server.local_auth = LocalAuth::Certificate(Arc::clone(&server_identity));
    server.peer_auth = PeerAuth::Eap(Arc::new(AuthenticatorConfig {
        methods: vec![Method::Tls],
        users: Arc::new(Users::default()),
        tls: Some(TlsServerConfig::new(server_identity, pki_verifier(ca, Purpose::Client))),
    }));
    server.eap_only = eap_only;
    (client, server)
}

#[test]
fn eap_tls_with_server_certificate_brings_both_sides_up() {
    let ca = TestCa::new("Test Root");
    let (client, server) = tls_configs(&ca, false);
    let run = Run::new(client, server).run();
    assert!(run.both_up(), "{:?} / {:?}", run.initiator_events, run.responder_events);
    assert_children_agree(&run);
    assert_eq!(peer_authenticated(&run), vec![(fqdn(CLIENT_ID), CLIENT_ID.to_owned())]);
    let requests = auth_messages(&run, &run.sent_by_initiator);
    let responses = auth_messages(&run, &run.sent_by_responder);
    assert!(!notify(&requests[0].1, NotifyType::EAP_ONLY_AUTHENTICATION));
    assert_eq!(auth_method(&responses[0].1), Some(AuthMethod::DIGITAL_SIGNATURE));
    assert_eq!(auth_method(&requests[requests.len() - 1].1), Some(AuthMethod::SHARED_KEY_MIC));
}

/// RFC 5998: the client asks for EAP-only (its one method, EAP-TLS, is mutual), the server
/// leaves its CERT and AUTH out, and the MSK AUTHs and the TLS certificate prove it.
#[test]
fn eap_only_with_eap_tls_leaves_the_servers_certificate_auth_out() {
    let ca = TestCa::new("Test Root");
    let (client, server) = tls_configs(&ca, true);
    let run = Run::new(client, server).run();
    assert!(run.both_up(), "{:?} / {:?}", run.initiator_events, run.responder_events);
    assert_children_agree(&run);
    let requests = auth_messages(&run, &run.sent_by_initiator);
    let responses = auth_messages(&run, &run.sent_by_responder);
    assert!(notify(&requests[0].1, NotifyType::EAP_ONLY_AUTHENTICATION));
    let first = &responses[0].1;
    assert!(has(first, |p| matches!(p, PayloadRepr::IdR(_))));
    assert!(!has(first, |p| matches!(p, PayloadRepr::Cert(_))));
    assert_eq!(auth_method(first), None);
    assert!(eap(first).is_some());
    assert_eq!(auth_method(&responses[responses.len() - 1].1), Some(AuthMethod::SHARED_KEY_MIC));
}

/// The client asks for EAP-only but the server does not do it: it proves itself with its
/// certificate as usual, and the client takes that.
#[test]
fn eap_only_asked_of_a_server_that_does_not_do_it_falls_back_to_its_certificate() {
    let ca = TestCa::new("Test Root");
    let (client, mut server) = tls_configs(&ca, true);
    server.eap_only = false;
    let run = Run::new(client, server).run();
    assert!(run.both_up(), "{:?} / {:?}", run.initiator_events, run.responder_events);
    let responses = auth_messages(&run, &run.sent_by_responder);
    assert_eq!(auth_method(&responses[0].1), Some(AuthMethod::DIGITAL_SIGNATURE));
}

/// EAP-only is never asked for with a method that does not authenticate the server
/// (MSCHAPv2), so such a server always proves itself with its certificate.
#[test]
fn eap_only_is_not_asked_for_with_mschapv2() {
    let ca = TestCa::new("Test Root");
    let (mut client, mut server) = eap_configs(&ca, USER, PASSWORD, &[Method::MsChapV2]);
    client.eap_only = true;
    server.eap_only = true;
    let run = Run::new(client, server).run();
    assert!(run.both_up());
    let requests = auth_messages(&run, &run.sent_by_initiator);
    let responses = auth_messages(&run, &run.sent_by_responder);
    assert!(!notify(&requests[0].1, NotifyType::EAP_ONLY_AUTHENTICATION));
    assert_eq!(auth_method(&responses[0].1), Some(AuthMethod::DIGITAL_SIGNATURE));
}

/// A first answer without the server's AUTH when the client did not ask for EAP-only: the
/// server is refused and no EAP message answered.
#[test]
fn server_without_auth_is_refused_unless_eap_only_was_asked_for() {
    let ca = TestCa::new("Test Root");
    let (client, server) = eap_configs(&ca, USER, PASSWORD, &[Method::MsChapV2]);
    let mut run = Run::new(client, server);
    run.tamper_response = Some(Box::new(|sa, bytes| {
        rewrite_auth(sa, bytes, |payloads| {
            payloads.retain(|p| !matches!(p.body, PayloadRepr::Auth(_) | PayloadRepr::Cert(_)))
        })
    }));
    let run = run.run();
    assert_eq!(run.initiator_closed(), Some(CloseReason::AuthenticationFailed));
    let requests = auth_messages(&run, &run.sent_by_initiator);
    assert_eq!(requests.len(), 1);
    assert_eq!(run.responder_closed(), Some(CloseReason::DeletedByPeer));
    run.assert_responder_empty();
}

// ----- the responder's limits while EAP runs -----

/// EAP-TLS in IKE messages of at most 400 bytes: each EAP-TLS fragment (1 KB) goes in RFC 7383
/// fragments, reassembled within the half-open SA's byte budget.
#[test]
fn eap_tls_in_fragmented_ike_messages_fits_the_half_open_budget() {
    let ca = TestCa::new("Test Root");
    let (mut client, mut server) = tls_configs(&ca, false);
    client.max_message_len = 400;
    server.max_message_len = 400;
    let run = Run::new(client, server).run();
    assert!(run.both_up(), "{:?} / {:?}", run.initiator_events, run.responder_events);
    assert_eq!(peer_authenticated(&run), vec![(fqdn(CLIENT_ID), CLIENT_ID.to_owned())]);
    assert_eq!(run.responder.stats().dropped_half_open_memory, 0);
    let fragments = |sent: &[Vec<u8>]| {
        sent.iter()
            .filter_map(|d| HeaderRepr::parse(d).ok())
            .filter(|h| h.next_payload == ikeway_codec::PayloadType::SKF)
            .count()
    };
    assert!(fragments(&run.sent_by_responder) > 1, "the server's TLS flight went whole");
    assert!(fragments(&run.sent_by_initiator) > 1, "the client's TLS flight went whole");
    let longest = run.sent_by_responder.iter().chain(&run.sent_by_initiator).map(Vec::len).max();
    assert!(longest.is_some_and(|l| l <= 400), "{longest:?}");
}

/// Until the client's final AUTH verifies the SA is half-open: counted, its bytes held, no
/// address leased; if that AUTH never comes, the half-open timer ends it and nothing stays.
#[test]
fn the_sa_stays_half_open_without_a_lease_until_the_final_auth() {
    let ca = TestCa::new("Test Root");
    let (client, server) = eap_configs(&ca, USER, PASSWORD, &[Method::MsChapV2]);
    let mut run = Run::new(client, server);
    // The client's final AUTH (its only payload) never arrives.
    run.tamper_request = Some(Box::new(|sa, bytes| match open_auth(sa, &bytes).as_deref() {
        Some([Payload { body: PayloadRepr::Auth(_), .. }]) => Vec::new(),
        _ => bytes,
    }));
    run.deliver();
    let last = auth_messages(&run, &run.sent_by_responder).pop().expect("answered");
    assert_eq!(eap(&last.1).map(|e| e.code), Some(EapCode::SUCCESS));
    assert_eq!((run.responder.len(), run.responder.half_open()), (1, 1));
    assert!(run.responder.half_open_bytes() > 0);
    assert_eq!(run.responder.leased(), 0, "an address leased before the final AUTH");
    assert!(peer_authenticated(&run).is_empty());
    run.advance(PAST_HALF_OPEN);
    assert_eq!(run.responder_closed(), Some(CloseReason::HandshakeTimeout));
    run.assert_responder_empty();
}

// ----- choosing the method -----

/// The server proposes MSCHAPv2 first; the client allows only MD5 and says so with a Nak
/// (one more IKE_AUTH exchange); the server moves to MD5 and the SA comes up.
#[test]
fn a_nak_moves_the_server_to_the_method_the_client_allows() {
    let ca = TestCa::new("Test Root");
    let (mut client, server) = eap_configs(&ca, USER, PASSWORD, &[Method::MsChapV2, Method::Md5]);
    client.local_auth = LocalAuth::Eap(peer(USER, PASSWORD, &[Method::Md5]));
    let run = Run::new(client, server).run();
    assert!(run.both_up(), "{:?} / {:?}", run.initiator_events, run.responder_events);
    let requests = auth_messages(&run, &run.sent_by_initiator);
    // Start, Identity, Nak, MD5 response, AUTH.
    assert_eq!(requests.len(), 5);
    let nak = eap(&requests[2].1).expect("a Nak");
    assert_eq!((nak.eap_type, nak.data.as_slice()), (Some(3), &[4u8][..]));
}

/// No method in common: both sides end with the method refusal, nothing left.
#[test]
fn no_method_in_common_is_refused_on_both_sides() {
    let ca = TestCa::new("Test Root");
    let (mut client, server) = eap_configs(&ca, USER, PASSWORD, &[Method::MsChapV2]);
    client.local_auth = LocalAuth::Eap(peer(USER, PASSWORD, &[Method::Md5]));
    let mut run = Run::new(client, server).run();
    assert_eq!(run.initiator_closed(), Some(CloseReason::Eap(EapFailure::MethodNotAllowed(26))));
    run.advance(PAST_HALF_OPEN);
    assert_eq!(run.responder_closed(), Some(CloseReason::Eap(EapFailure::MethodNotAllowed(26))));
    run.assert_responder_empty();
}

// ----- a client that keeps the server talking -----

/// A client that answers every EAP-Request with a Response of another identifier: the server
/// repeats its Request (RFC 3748 §4.1) only so many times, then ends with EAP-Failure; its SA
/// never leaves the half-open limits and goes at the half-open timeout.
#[test]
fn a_client_that_never_answers_the_request_is_given_up_on() {
    let ca = TestCa::new("Test Root");
    let (client, server) = eap_configs(&ca, USER, PASSWORD, &[Method::MsChapV2]);
    let mut run = Run::new(client, server);
    // The real client stops after its first IKE_AUTH; the test speaks for it from there.
    run.tamper_request = Some(Box::new(|_, bytes| match HeaderRepr::parse(&bytes) {
        Ok(h) if h.exchange == ExchangeType::IKE_AUTH && h.message_id >= 2 => Vec::new(),
        _ => bytes,
    }));
    run.deliver();
    let first = auth_messages(&run, &run.sent_by_responder).pop().expect("the first answer");
    let identifier = eap(&first.1).expect("EAP-Request/Identity").identifier;
    let (spi_i, spi_r) = run.initiator.spis();
    let mut buf = vec![0u8; 65536];
    let mut exchanges = 0u32;
    let last = loop {
        exchanges += 1;
        assert!(exchanges <= 100, "the server never gave up");
        let header = HeaderRepr {
            spi_i,
            spi_r,
            next_payload: ikeway_codec::PayloadType::NONE,
            version: 0x20,
            exchange: ExchangeType::IKE_AUTH,
            flags: Flags { initiator: true, response: false, ..Flags::default() },
            message_id: 1 + exchanges,
            length: 0,
        };
        let wrong = EapRepr {
            code: EapCode::RESPONSE,
            identifier: identifier.wrapping_add(100),
            eap_type: Some(1),
            data: USER.as_bytes().to_vec(),
        };
        let request = seal(&run.initiator, &header, &[Payload::new(PayloadRepr::Eap(wrong))]);
        run.responder.handle_datagram(run.now, addr(CLIENT), addr(SERVER), &request);
        let t = run.responder.poll_transmit(&mut buf).expect("an answer").expect("fits");
        let answer = open_auth(&run.initiator, &buf[..t.len]).expect("IKE_AUTH");
        assert_eq!(run.responder.half_open(), 1);
        match eap(&answer) {
            Some(e) if e.code == EapCode::REQUEST => {
                assert_eq!((e.identifier, e.eap_type), (identifier, Some(1)), "the same request")
            }
            _ => break answer,
        }
    };
    assert_eq!(eap(&last).map(|e| e.code), Some(EapCode::FAILURE), "{last:?}");
    // ikeway-eap's bound: the request repeated 50 times, the 51st answer the EAP-Failure
    // (below the sa's own bound on IKE_AUTH exchanges).
    assert_eq!(exchanges, ikeway_eap::limits::MAX_ROUNDS + 1);
    run.advance(PAST_HALF_OPEN);
    assert_eq!(run.responder_closed(), Some(CloseReason::Eap(EapFailure::TooManyRounds)));
    run.assert_responder_empty();
}

/// strongSwan's client answers an MSCHAPv2 failure not with the acknowledgement but with an
/// INFORMATIONAL N(AUTHENTICATION_FAILED), no Delete: the server ends the half-open SA at
/// once, not at the half-open timeout.
#[test]
fn a_client_that_gives_up_with_authentication_failed_ends_the_half_open_sa_at_once() {
    let ca = TestCa::new("Test Root");
    let (client, server) = eap_configs(&ca, USER, "not the password", &[Method::MsChapV2]);
    let mut run = Run::new(client, server);
    run.tamper_request = Some(Box::new(|sa, bytes| {
        let Some(payloads) = open_auth(sa, &bytes) else { return bytes };
        // The MSCHAPv2 Failure acknowledgement: a Response of type 26, OpCode 4.
        let ack =
            eap(&payloads).is_some_and(|e| e.eap_type == Some(26) && e.data.first() == Some(&4));
        if !ack {
            return bytes;
        }
        let header = HeaderRepr {
            exchange: ExchangeType::INFORMATIONAL,
            ..HeaderRepr::parse(&bytes).expect("parsed above")
        };
        let failed = ikeway_codec::NotifyRepr::new(NotifyType::AUTHENTICATION_FAILED, Vec::new());
        seal(sa, &header, &[Payload::new(PayloadRepr::Notify(failed))])
    }));
    let run = run.run();
    assert_eq!(
        run.responder_closed(),
        Some(CloseReason::PeerError(NotifyType::AUTHENTICATION_FAILED))
    );
    assert!(peer_authenticated(&run).is_empty());
    run.assert_responder_empty();
}
