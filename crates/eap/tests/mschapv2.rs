//! EAP-MSCHAPv2 between our peer and our authenticator, and each against crafted messages.

mod common;

use common::{emitted, peer_config, rng, run, server_config, server_config_with};
use ikeway_eap::{
    AuthStep, EapAuthenticator, EapCode, EapFailure, EapPeer, EapRepr, EapType, Method, PeerStep,
};

const MSCHAPV2: u8 = 26;

fn mschapv2_peer(password: &str) -> EapPeer {
    EapPeer::new(peer_config("alice", Some(password), &[Method::MsChapV2]))
}

fn req(identifier: u8, data: &[u8]) -> EapRepr {
    EapRepr { code: EapCode::REQUEST, identifier, eap_type: Some(MSCHAPV2), data: data.to_vec() }
}

fn respond(peer: &mut EapPeer, m: &EapRepr) -> EapRepr {
    match peer.handle(m, &mut rng(0)) {
        Ok(PeerStep::Respond(r)) => r,
        other => panic!("expected a response, got {other:?}"),
    }
}

/// `OpCode | ID | MS-Length | body`.
fn packet(opcode: u8, id: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![opcode, id];
    p.extend_from_slice(&u16::try_from(4 + body.len()).expect("small").to_be_bytes());
    p.extend_from_slice(body);
    p
}

fn challenge_body() -> Vec<u8> {
    let mut b = vec![16];
    b.extend_from_slice(&[0x11; 16]);
    b.extend_from_slice(b"server");
    b
}

/// A peer that has answered a challenge.
fn answered(password: &str) -> EapPeer {
    let mut peer = mschapv2_peer(password);
    respond(&mut peer, &EapRepr { eap_type: Some(1), ..req(1, b"") });
    respond(&mut peer, &req(2, &packet(1, 2, &challenge_body())));
    peer
}

#[test]
fn mschapv2_right_password_gives_both_sides_the_same_msk() {
    let t = run(
        peer_config("alice", Some("correct horse"), &[Method::MsChapV2]),
        server_config(&[Method::MsChapV2]),
        11,
    );
    let msk = t.peer.clone().expect("peer succeeded").expect("an MSK");
    assert_eq!(msk.len(), 64);
    assert_eq!(msk[32..], [0u8; 32]);
    assert_eq!(t.server, Some(Ok(("alice".to_owned(), Some(msk)))));

    let shape: Vec<_> =
        t.wire.iter().map(|m| (m.code, m.eap_type, m.data.first().copied())).collect();
    let (req, resp) = (EapCode::REQUEST, EapCode::RESPONSE);
    assert_eq!(
        shape,
        [
            (req, Some(1), None),
            (resp, Some(1), Some(b'a')),
            (req, Some(MSCHAPV2), Some(1)),
            (resp, Some(MSCHAPV2), Some(2)),
            (req, Some(MSCHAPV2), Some(3)),
            (resp, Some(MSCHAPV2), Some(3)),
            (EapCode::SUCCESS, None, None),
        ]
    );
    // Challenge: MS-CHAPv2-ID = EAP identifier, MS-Length = Type-Data length, 16-octet value,
    // our name.
    let challenge = &t.wire[2];
    assert_eq!(challenge.data[1], challenge.identifier);
    assert_eq!(
        usize::from(u16::from_be_bytes([challenge.data[2], challenge.data[3]])),
        challenge.data.len()
    );
    assert_eq!(challenge.data[4], 16);
    assert_eq!(&challenge.data[21..], b"ikeway");
    // Response: the ID echoed, Value-Size 49, reserved and flags zero, the identity as Name.
    let response = &t.wire[3].data;
    assert_eq!(response[1], challenge.identifier);
    assert_eq!(usize::from(u16::from_be_bytes([response[2], response[3]])), response.len());
    assert_eq!(response[4], 49);
    assert_eq!(response[21..29], [0; 8]);
    assert_eq!(response[53], 0);
    assert_eq!(&response[54..], b"alice");
    // Success: "S=" and 40 upper-case hex digits, a message; the peer's answer is the OpCode.
    let success = String::from_utf8(t.wire[4].data[4..].to_vec()).expect("text");
    assert!(success.starts_with("S="), "{success}");
    assert_eq!(success.len(), 42 + " M=Welcome".len());
    assert!(success[2..42].chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
    assert_eq!(t.wire[5].data, [3]);
    assert_eq!(t.wire[6].identifier, t.wire[5].identifier);
}

#[test]
fn mschapv2_wrong_password_gets_error_691_on_both_sides() {
    let t = run(
        peer_config("alice", Some("wrong horse"), &[Method::MsChapV2]),
        server_config(&[Method::MsChapV2]),
        12,
    );
    assert_eq!(t.peer, Err(EapFailure::MsChapV2Rejected { code: 691 }));
    assert_eq!(t.server, Some(Err(EapFailure::Rejected)));
    let failure = String::from_utf8(t.wire[4].data[4..].to_vec()).expect("text");
    assert_eq!(t.wire[4].data[0], 4);
    let (head, tail) = failure.split_at("E=691 R=0 C=".len());
    assert_eq!(head, "E=691 R=0 C=");
    assert_eq!(&tail[32..], " V=3 M=Authentication failed");
    assert!(tail[..32].chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(t.wire[5].data, [4]);
    assert_eq!((t.wire[6].code, t.wire[6].identifier), (EapCode::FAILURE, t.wire[5].identifier));
}

#[test]
fn mschapv2_unknown_user_looks_like_a_wrong_password_on_the_wire() {
    let wrong = run(
        peer_config("alice", Some("wrong horse"), &[Method::MsChapV2]),
        server_config(&[Method::MsChapV2]),
        13,
    );
    let unknown = run(
        peer_config("mallory", Some("wrong horse"), &[Method::MsChapV2]),
        server_config(&[Method::MsChapV2]),
        13,
    );
    assert_eq!(unknown.peer, wrong.peer);
    assert_eq!(unknown.server, wrong.server);
    assert_eq!(unknown.wire.len(), wrong.wire.len());
    // Everything the server sends is the same, byte for byte (the peer's own messages carry its
    // name, so they differ).
    for (i, (a, b)) in wrong.wire.iter().zip(&unknown.wire).enumerate() {
        if a.code != EapCode::RESPONSE {
            assert_eq!(emitted(a), emitted(b), "message {i}");
        }
    }
}

#[test]
fn mschapv2_utf8_password_and_windows_domain() {
    let t = run(
        peer_config("bob", Some("pässwörd"), &[Method::MsChapV2]),
        server_config(&[Method::MsChapV2]),
        14,
    );
    assert!(matches!(t.peer, Ok(Some(_))), "{:?}", t.peer);
    // The domain goes in the Name and the user lookup, not in the challenge hash.
    let t = run(
        peer_config("BIGCO\\carol", Some("pw"), &[Method::MsChapV2]),
        server_config_with("\"BIGCO\\carol\" : EAP pw\n", &[Method::MsChapV2]),
        15,
    );
    assert_eq!(t.server.map(|r| r.map(|(id, _)| id)), Some(Ok("BIGCO\\carol".to_owned())));
}

#[test]
fn peer_naks_md5_for_mschapv2_and_the_server_follows() {
    let t = run(
        peer_config("alice", Some("correct horse"), &[Method::MsChapV2]),
        server_config(&[Method::Md5, Method::MsChapV2]),
        16,
    );
    assert_eq!(t.wire[2].eap_type, Some(EapType::MD5_CHALLENGE.0));
    assert_eq!((t.wire[3].eap_type, t.wire[3].data.as_slice()), (Some(3), &[MSCHAPV2][..]));
    assert_eq!(t.wire[4].eap_type, Some(MSCHAPV2));
    assert_eq!(t.wire[4].identifier, t.wire[3].identifier.wrapping_add(1));
    assert!(matches!(t.peer, Ok(Some(_))));
    assert!(matches!(t.server, Some(Ok(_))));
}

#[test]
fn nak_naming_nothing_we_offer_fails_on_both_sides() {
    let t = run(
        peer_config("alice", Some("correct horse"), &[Method::Md5]),
        server_config(&[Method::MsChapV2]),
        17,
    );
    assert_eq!(t.wire[3].data, [4]);
    assert_eq!(t.peer, Err(EapFailure::MethodNotAllowed(MSCHAPV2)));
    assert_eq!(t.server, Some(Err(EapFailure::MethodNotAllowed(MSCHAPV2))));
}

#[test]
fn peer_without_password_refuses_mschapv2() {
    let t = run(
        peer_config("alice", None, &[Method::MsChapV2]),
        server_config(&[Method::MsChapV2]),
        18,
    );
    assert_eq!(t.wire[3].data, [0]);
    assert_eq!(t.peer, Err(EapFailure::MethodNotAllowed(MSCHAPV2)));
}

#[test]
fn peer_refuses_a_wrong_authenticator_response() {
    let cases = [
        b"S=0000000000000000000000000000000000000000 M=hi".to_vec(),
        b"M=no auth string".to_vec(),
        b"S=407A5589".to_vec(),
        b"S=ZZ7A5589115FD0D6209F510FE9C04566932CDA56".to_vec(),
        Vec::new(),
    ];
    for body in cases {
        let mut peer = answered("correct horse");
        assert_eq!(
            peer.handle(&req(3, &packet(3, 2, &body)), &mut rng(0)).err(),
            Some(EapFailure::ServerNotAuthenticated),
            "{:?}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn peer_refuses_success_before_checking_the_server() {
    let mut peer = answered("correct horse");
    let success = EapRepr { code: EapCode::SUCCESS, identifier: 2, eap_type: None, data: vec![] };
    assert_eq!(peer.handle(&success, &mut rng(0)).err(), Some(EapFailure::PrematureSuccess));
    // Nor after it acknowledged a Failure packet.
    let mut peer = answered("correct horse");
    respond(&mut peer, &req(3, &packet(4, 2, b"E=691 R=1 C=00112233445566778899AABBCCDDEEFF")));
    let success = EapRepr { code: EapCode::SUCCESS, identifier: 3, eap_type: None, data: vec![] };
    assert_eq!(peer.handle(&success, &mut rng(0)).err(), Some(EapFailure::PrematureSuccess));
}

#[test]
fn peer_reads_the_failure_code() {
    for (message, code) in [
        (&b"E=648 R=0 C=00112233445566778899AABBCCDDEEFF V=3 M=expired"[..], 648),
        (&b"E=691 R=1 C=00112233445566778899AABBCCDDEEFF"[..], 691),
        (&b"R=0 M=E=12 in text"[..], 0),
        (&b"E=99999"[..], 0),
    ] {
        let mut peer = answered("x");
        assert_eq!(respond(&mut peer, &req(3, &packet(4, 2, message))).data, [4]);
        let failure =
            EapRepr { code: EapCode::FAILURE, identifier: 3, eap_type: None, data: vec![] };
        assert_eq!(
            peer.handle(&failure, &mut rng(0)).err(),
            Some(EapFailure::MsChapV2Rejected { code }),
            "{}",
            String::from_utf8_lossy(message)
        );
    }
}

#[test]
fn peer_refuses_malformed_mschapv2_requests() {
    let mut short_value = vec![8];
    short_value.extend_from_slice(&[0; 8]);
    let cases: [(&str, Vec<u8>); 6] = [
        ("empty", vec![]),
        ("header only", vec![1, 2, 0]),
        ("value size 8", packet(1, 2, &short_value)),
        ("truncated challenge", packet(1, 2, &[16, 1, 2, 3])),
        ("success first", packet(3, 2, b"S=407A5589115FD0D6209F510FE9C04566932CDA56")),
        ("unknown opcode", packet(7, 2, b"")),
    ];
    for (what, data) in cases {
        let mut peer = mschapv2_peer("x");
        respond(&mut peer, &EapRepr { eap_type: Some(1), ..req(1, b"") });
        assert_eq!(
            peer.handle(&req(2, &data), &mut rng(0)).err(),
            Some(EapFailure::Malformed),
            "{what}"
        );
    }
    // A second challenge after the answer is out of order too.
    let mut peer = answered("x");
    assert_eq!(
        peer.handle(&req(3, &packet(1, 3, &challenge_body())), &mut rng(0)).err(),
        Some(EapFailure::Malformed)
    );
}

/// A server that proposed MSCHAPv2 to alice: its challenge request.
fn challenged() -> (EapAuthenticator, EapRepr) {
    let mut server = EapAuthenticator::new(server_config(&[Method::MsChapV2]));
    let first = server.start(&mut rng(1));
    let identity = EapRepr {
        code: EapCode::RESPONSE,
        identifier: first.identifier,
        eap_type: Some(1),
        data: b"alice".to_vec(),
    };
    match server.handle(&identity, &mut rng(2)) {
        AuthStep::Request(r) => (server, r),
        other => panic!("{other:?}"),
    }
}

#[test]
fn server_refuses_malformed_responses() {
    let (_, challenge) = challenged();
    let ms_id = challenge.data[1];
    let mut good_value = vec![49];
    good_value.extend_from_slice(&[0; 49]);
    let mut wrong_size = good_value.clone();
    wrong_size[0] = 48;
    let cases: [(&str, Vec<u8>); 5] = [
        ("empty", vec![]),
        ("other MS-CHAPv2-ID", packet(2, ms_id.wrapping_add(1), &good_value)),
        ("value size 48", packet(2, ms_id, &wrong_size)),
        ("truncated", packet(2, ms_id, &good_value[..30])),
        ("success instead", vec![3]),
    ];
    for (what, data) in cases {
        let (mut server, challenge) = challenged();
        let response = EapRepr {
            code: EapCode::RESPONSE,
            identifier: challenge.identifier,
            eap_type: Some(MSCHAPV2),
            data,
        };
        match server.handle(&response, &mut rng(3)) {
            AuthStep::Failure { message, reason } => {
                assert_eq!(reason, EapFailure::Malformed, "{what}");
                assert_eq!(
                    (message.code, message.identifier),
                    (EapCode::FAILURE, challenge.identifier)
                );
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // A well-formed answer with a wrong NT-Response is a wrong password: the Failure packet.
    let (mut server, challenge) = challenged();
    let response = EapRepr {
        code: EapCode::RESPONSE,
        identifier: challenge.identifier,
        eap_type: Some(MSCHAPV2),
        data: packet(2, ms_id, &good_value),
    };
    match server.handle(&response, &mut rng(3)) {
        AuthStep::Request(r) => {
            // 4 + "E=691 R=0 C=" + 32 hex digits + " V=3 M=Authentication failed"
            assert_eq!(&r.data[..4], &[4, ms_id, 0, 76]);
            assert_eq!(r.data.len(), 76);
        }
        other => panic!("{other:?}"),
    }
}
