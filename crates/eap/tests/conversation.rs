//! The EAP conversation itself (RFC 3748 §4, §5.1-5.3): identifiers, Nak, Notification,
//! premature success, bounds, malformed messages. Exact outcomes on both sides.

mod common;

use common::{peer_config, rng, server_config};
use ikeway_eap::limits::{MAX_MESSAGE_LEN, MAX_ROUNDS};
use ikeway_eap::{
    AuthStep, EapAuthenticator, EapCode, EapFailure, EapPeer, EapRepr, EapType, Method, PeerStep,
};

fn req(identifier: u8, t: EapType, data: &[u8]) -> EapRepr {
    EapRepr { code: EapCode::REQUEST, identifier, eap_type: Some(t.0), data: data.to_vec() }
}

fn resp(identifier: u8, t: EapType, data: &[u8]) -> EapRepr {
    EapRepr { code: EapCode::RESPONSE, identifier, eap_type: Some(t.0), data: data.to_vec() }
}

fn verdict(code: EapCode, identifier: u8) -> EapRepr {
    EapRepr { code, identifier, eap_type: None, data: Vec::new() }
}

fn md5_peer() -> EapPeer {
    EapPeer::new(peer_config("alice", Some("correct horse"), &[Method::Md5]))
}

fn respond(peer: &mut EapPeer, m: &EapRepr) -> EapRepr {
    match peer.handle(m, &mut rng(0)) {
        Ok(PeerStep::Respond(r)) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

fn request_of(step: AuthStep) -> EapRepr {
    match step {
        AuthStep::Request(r) => r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn failure_of(step: AuthStep) -> (EapRepr, EapFailure) {
    match step {
        AuthStep::Failure { message, reason } => (message, reason),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn peer_answers_identity_and_notification() {
    let mut peer = md5_peer();
    assert_eq!(
        respond(&mut peer, &req(5, EapType::IDENTITY, b"")),
        resp(5, EapType::IDENTITY, b"alice")
    );
    // Notification: an empty Notification Response, its text ignored; the method goes on.
    assert_eq!(
        respond(&mut peer, &req(6, EapType::NOTIFICATION, b"maintenance at 5")),
        resp(6, EapType::NOTIFICATION, b"")
    );
    let r = respond(&mut peer, &req(7, EapType::MD5_CHALLENGE, &[1, 0xaa]));
    assert_eq!((r.identifier, r.eap_type, r.data.len()), (7, Some(4), 17));
    assert_eq!(peer.method(), Some(Method::Md5));
}

#[test]
fn peer_resends_its_response_to_a_repeated_request() {
    let mut peer = md5_peer();
    respond(&mut peer, &req(1, EapType::IDENTITY, b""));
    let challenge = req(2, EapType::MD5_CHALLENGE, &[1, 0xaa]);
    let first = respond(&mut peer, &challenge);
    // The same Request again (RFC 3748 §4.1): the same Response, the method does not run twice.
    assert_eq!(respond(&mut peer, &challenge), first);
    assert_eq!(format!("{peer:?}"), "EapPeer { method: Some(Md5), rounds: 3, over: None, .. }");
}

#[test]
fn peer_answers_a_new_request_that_reuses_the_identifier() {
    // strongSwan draws each method's first identifier at random: the MD5 challenge may carry the
    // Identity request's identifier. It is a new Request, not a repeat of the Identity one.
    let mut peer = md5_peer();
    assert_eq!(respond(&mut peer, &req(7, EapType::IDENTITY, b"")).eap_type, Some(1));
    let answer = respond(&mut peer, &req(7, EapType::MD5_CHALLENGE, &[1, 0xaa]));
    assert_eq!((answer.identifier, answer.eap_type, answer.data.len()), (7, Some(4), 17));
    match peer.handle(&verdict(EapCode::SUCCESS, 7), &mut rng(0)) {
        Ok(PeerStep::Success { msk: None }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn peer_naks_a_method_it_does_not_allow_naming_its_own() {
    let mut peer = md5_peer();
    respond(&mut peer, &req(1, EapType::IDENTITY, b""));
    assert_eq!(
        respond(&mut peer, &req(2, EapType::MSCHAPV2, &[1, 2])),
        resp(2, EapType::NAK, &[4])
    );
    assert_eq!(peer.method(), None);
    // The server gives up: the refused type is the reason.
    assert_eq!(
        peer.handle(&verdict(EapCode::FAILURE, 2), &mut rng(0)).err(),
        Some(EapFailure::MethodNotAllowed(26))
    );
}

#[test]
fn peer_without_password_naks_with_no_alternative() {
    let mut peer = EapPeer::new(peer_config("alice", None, &[Method::Md5, Method::MsChapV2]));
    respond(&mut peer, &req(1, EapType::IDENTITY, b""));
    assert_eq!(
        respond(&mut peer, &req(2, EapType::MD5_CHALLENGE, &[1, 2])),
        resp(2, EapType::NAK, &[0])
    );
}

#[test]
fn peer_answers_an_expanded_request_with_an_expanded_nak() {
    let mut peer = md5_peer();
    let r = respond(&mut peer, &req(3, EapType::EXPANDED, &[0, 0x01, 0x37, 0, 0, 0, 1]));
    assert_eq!(r, resp(3, EapType::EXPANDED, &[0, 0, 0, 0, 0, 0, 3, 254, 0, 0, 0, 0, 0, 0, 4]));
}

#[test]
fn peer_refuses_premature_success() {
    // Before anything.
    assert_eq!(
        md5_peer().handle(&verdict(EapCode::SUCCESS, 0), &mut rng(0)).err(),
        Some(EapFailure::PrematureSuccess)
    );
    // After the Identity, before any method.
    let mut peer = md5_peer();
    respond(&mut peer, &req(1, EapType::IDENTITY, b""));
    assert_eq!(
        peer.handle(&verdict(EapCode::SUCCESS, 1), &mut rng(0)).err(),
        Some(EapFailure::PrematureSuccess)
    );
    // And it stays refused.
    assert_eq!(
        peer.handle(&req(2, EapType::MD5_CHALLENGE, &[1, 2]), &mut rng(0)).err(),
        Some(EapFailure::PrematureSuccess)
    );
}

#[test]
fn peer_refuses_success_with_another_identifier() {
    let mut peer = md5_peer();
    respond(&mut peer, &req(1, EapType::IDENTITY, b""));
    respond(&mut peer, &req(2, EapType::MD5_CHALLENGE, &[1, 2]));
    assert_eq!(
        peer.handle(&verdict(EapCode::SUCCESS, 3), &mut rng(0)).err(),
        Some(EapFailure::Malformed)
    );
}

#[test]
fn peer_success_after_md5_answer() {
    let mut peer = md5_peer();
    respond(&mut peer, &req(1, EapType::IDENTITY, b""));
    respond(&mut peer, &req(2, EapType::MD5_CHALLENGE, &[1, 2]));
    match peer.handle(&verdict(EapCode::SUCCESS, 2), &mut rng(0)) {
        Ok(PeerStep::Success { msk: None }) => {}
        other => panic!("{other:?}"),
    }
    // Nothing is expected after success.
    assert_eq!(
        peer.handle(&req(3, EapType::IDENTITY, b""), &mut rng(0)).err(),
        Some(EapFailure::Malformed)
    );
}

#[test]
fn peer_refuses_method_switch_identity_mid_method_and_requests_of_nak() {
    let started = || {
        let mut peer = md5_peer();
        respond(&mut peer, &req(1, EapType::IDENTITY, b""));
        respond(&mut peer, &req(2, EapType::MD5_CHALLENGE, &[1, 2]));
        peer
    };
    assert_eq!(
        started().handle(&req(3, EapType::MSCHAPV2, &[1]), &mut rng(0)).err(),
        Some(EapFailure::Malformed)
    );
    assert_eq!(
        started().handle(&req(3, EapType::IDENTITY, b""), &mut rng(0)).err(),
        Some(EapFailure::Malformed)
    );
    assert_eq!(
        md5_peer().handle(&req(1, EapType::NAK, &[4]), &mut rng(0)).err(),
        Some(EapFailure::Malformed)
    );
    assert_eq!(
        md5_peer().handle(&resp(1, EapType::IDENTITY, b"x"), &mut rng(0)).err(),
        Some(EapFailure::Malformed)
    );
}

#[test]
fn peer_refuses_malformed_md5_challenges() {
    for data in [&[][..], &[0][..], &[2, 0xaa][..]] {
        let mut peer = md5_peer();
        respond(&mut peer, &req(1, EapType::IDENTITY, b""));
        assert_eq!(
            peer.handle(&req(2, EapType::MD5_CHALLENGE, data), &mut rng(0)).err(),
            Some(EapFailure::Malformed),
            "{data:?}"
        );
    }
}

#[test]
fn peer_refuses_oversized_messages() {
    let mut peer = md5_peer();
    let big = vec![0u8; MAX_MESSAGE_LEN - 4];
    assert_eq!(
        peer.handle(&req(1, EapType::NOTIFICATION, &big), &mut rng(0)).err(),
        Some(EapFailure::Malformed)
    );
    // One byte less is taken.
    let mut peer = md5_peer();
    respond(&mut peer, &req(1, EapType::NOTIFICATION, &big[1..]));
}

#[test]
fn peer_bounds_the_rounds() {
    let mut peer = md5_peer();
    for i in 0..MAX_ROUNDS {
        respond(&mut peer, &req(i as u8, EapType::NOTIFICATION, b""));
    }
    assert_eq!(
        peer.handle(&req(0xff, EapType::NOTIFICATION, b""), &mut rng(0)).err(),
        Some(EapFailure::TooManyRounds)
    );
}

#[test]
fn peer_reports_failure_as_rejected() {
    let mut peer = md5_peer();
    respond(&mut peer, &req(1, EapType::IDENTITY, b""));
    assert_eq!(
        peer.handle(&verdict(EapCode::FAILURE, 1), &mut rng(0)).err(),
        Some(EapFailure::Rejected)
    );
    assert_eq!(
        peer.handle(&req(2, EapType::IDENTITY, b""), &mut rng(0)).err(),
        Some(EapFailure::Rejected)
    );
}

fn md5_server() -> (EapAuthenticator, EapRepr) {
    let mut server = EapAuthenticator::new(server_config(&[Method::Md5]));
    let first = server.start(&mut rng(9));
    (server, first)
}

#[test]
fn server_starts_with_identity_then_proposes_its_first_method() {
    let (mut server, first) = md5_server();
    assert_eq!((first.code, first.eap_type, first.data.len()), (EapCode::REQUEST, Some(1), 0));
    let next = request_of(
        server.handle(&resp(first.identifier, EapType::IDENTITY, b"alice"), &mut rng(1)),
    );
    assert_eq!((next.identifier, next.eap_type), (first.identifier.wrapping_add(1), Some(4)));
    assert_eq!(server.method(), Some(Method::Md5));
}

#[test]
fn server_resends_its_request_for_a_response_with_another_identifier() {
    let (mut server, first) = md5_server();
    let again =
        request_of(server.handle(
            &resp(first.identifier.wrapping_add(7), EapType::IDENTITY, b"alice"),
            &mut rng(1),
        ));
    assert_eq!(again, first);
    // The right one still works.
    let next = request_of(
        server.handle(&resp(first.identifier, EapType::IDENTITY, b"alice"), &mut rng(1)),
    );
    assert_eq!(next.eap_type, Some(4));
}

#[test]
fn server_bounds_the_rounds() {
    let (mut server, first) = md5_server();
    let wrong = resp(first.identifier.wrapping_add(1), EapType::IDENTITY, b"alice");
    for _ in 0..MAX_ROUNDS {
        assert_eq!(request_of(server.handle(&wrong, &mut rng(1))), first);
    }
    let (message, reason) = failure_of(server.handle(&wrong, &mut rng(1)));
    assert_eq!(reason, EapFailure::TooManyRounds);
    assert_eq!(message, verdict(EapCode::FAILURE, wrong.identifier));
}

#[test]
fn server_nak_with_nothing_we_offer_fails() {
    let (mut server, first) = md5_server();
    let md5 = request_of(
        server.handle(&resp(first.identifier, EapType::IDENTITY, b"alice"), &mut rng(1)),
    );
    let (message, reason) =
        failure_of(server.handle(&resp(md5.identifier, EapType::NAK, &[26]), &mut rng(1)));
    assert_eq!(reason, EapFailure::MethodNotAllowed(4));
    assert_eq!(message, verdict(EapCode::FAILURE, md5.identifier));
}

type MakeResponse = Box<dyn Fn(u8) -> EapRepr>;

#[test]
fn server_refuses_malformed_responses() {
    let cases: [(&str, MakeResponse); 5] = [
        ("a request", Box::new(|id| req(id, EapType::IDENTITY, b"alice"))),
        ("a success", Box::new(|id| verdict(EapCode::SUCCESS, id))),
        ("not UTF-8", Box::new(|id| resp(id, EapType::IDENTITY, &[0xff, 0xfe]))),
        ("control characters", Box::new(|id| resp(id, EapType::IDENTITY, b"al\nice"))),
        ("a Nak to Identity", Box::new(|id| resp(id, EapType::NAK, &[4]))),
    ];
    for (what, make) in cases {
        let (mut server, first) = md5_server();
        let (_, reason) = failure_of(server.handle(&make(first.identifier), &mut rng(1)));
        assert_eq!(reason, EapFailure::Malformed, "{what}");
    }
    let (mut server, first) = md5_server();
    let big = vec![b'a'; MAX_MESSAGE_LEN - 4];
    let (_, reason) =
        failure_of(server.handle(&resp(first.identifier, EapType::IDENTITY, &big), &mut rng(1)));
    assert_eq!(reason, EapFailure::Malformed);
}

#[test]
fn server_refuses_a_late_nak_and_other_types_mid_method() {
    let (mut server, first) = md5_server();
    let md5 = request_of(
        server.handle(&resp(first.identifier, EapType::IDENTITY, b"alice"), &mut rng(1)),
    );
    let (_, reason) =
        failure_of(server.handle(&resp(md5.identifier, EapType::MSCHAPV2, &[1]), &mut rng(1)));
    assert_eq!(reason, EapFailure::Malformed);
}

#[test]
fn server_without_start_or_after_the_end_refuses() {
    let mut server = EapAuthenticator::new(server_config(&[Method::Md5]));
    let (message, reason) =
        failure_of(server.handle(&resp(1, EapType::IDENTITY, b"alice"), &mut rng(1)));
    assert_eq!((message, reason), (verdict(EapCode::FAILURE, 1), EapFailure::Malformed));

    let (mut server, first) = md5_server();
    let mut peer = EapPeer::new(peer_config("alice", Some("wrong"), &[Method::Md5]));
    let id = respond(&mut peer, &first);
    let md5 = request_of(server.handle(&id, &mut rng(1)));
    let answer = respond(&mut peer, &md5);
    let (_, reason) = failure_of(server.handle(&answer, &mut rng(1)));
    assert_eq!(reason, EapFailure::Rejected);
    // A replay of the last answer after the verdict changes nothing.
    let (message, reason) = failure_of(server.handle(&answer, &mut rng(1)));
    assert_eq!(
        (message, reason),
        (verdict(EapCode::FAILURE, answer.identifier), EapFailure::Malformed)
    );
}

#[test]
fn server_with_no_runnable_method_fails_after_identity() {
    // EAP-TLS without TLS settings cannot run.
    let mut server = EapAuthenticator::new(server_config(&[Method::Tls]));
    let first = server.start(&mut rng(1));
    let (message, reason) = failure_of(
        server.handle(&resp(first.identifier, EapType::IDENTITY, b"alice"), &mut rng(1)),
    );
    assert_eq!(
        (message, reason),
        (verdict(EapCode::FAILURE, first.identifier), EapFailure::MethodNotAllowed(0))
    );
}

#[test]
fn both_sides_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<EapPeer>();
    send_sync::<EapAuthenticator>();
    send_sync::<ikeway_eap::PeerConfig>();
    send_sync::<ikeway_eap::AuthenticatorConfig>();
}

#[test]
fn debug_shows_no_secret() {
    let config = peer_config("alice", Some("correct horse"), &[Method::MsChapV2]);
    let shown = format!("{config:?}");
    assert!(!shown.contains("correct horse"), "{shown}");
    let mut peer = EapPeer::new(config);
    respond(&mut peer, &req(1, EapType::IDENTITY, b""));
    respond(&mut peer, &req(2, EapType::MD5_CHALLENGE, &[1, 2]));
    let shown = format!("{peer:?}");
    assert_eq!(shown, "EapPeer { method: None, rounds: 2, over: None, .. }");
    let server = server_config(&[Method::MsChapV2]);
    assert!(!format!("{server:?}").contains("horse"));
    assert!(!format!("{server:?}").contains("alice"));
}
