//! EAP-MD5 (RFC 3748 §5.4) between our peer and our authenticator.

mod common;

use common::{peer_config, run, server_config};
use ikeway_eap::{EapCode, EapFailure, EapPeer, EapRepr, EapType, Method, PeerStep};

#[test]
fn md5_right_password_succeeds_without_msk() {
    let t = run(
        peer_config("alice", Some("correct horse"), &[Method::Md5]),
        server_config(&[Method::Md5]),
        1,
    );
    assert_eq!(t.peer, Ok(None));
    assert_eq!(t.server, Some(Ok(("alice".to_owned(), None))));
    let codes: Vec<_> = t.wire.iter().map(|m| (m.code, m.eap_type)).collect();
    assert_eq!(
        codes,
        [
            (EapCode::REQUEST, Some(EapType::IDENTITY.0)),
            (EapCode::RESPONSE, Some(EapType::IDENTITY.0)),
            (EapCode::REQUEST, Some(EapType::MD5_CHALLENGE.0)),
            (EapCode::RESPONSE, Some(EapType::MD5_CHALLENGE.0)),
            (EapCode::SUCCESS, None),
        ]
    );
    assert_eq!(t.wire[1].data, b"alice");
    // The challenge: Value-Size 16, 16 octets, no name; the answer: Value-Size 16 and the hash.
    assert_eq!(t.wire[2].data.len(), 17);
    assert_eq!(t.wire[2].data[0], 16);
    let id = t.wire[2].identifier;
    assert_eq!(id, t.wire[0].identifier.wrapping_add(1));
    let mut expected = vec![16];
    expected.extend_from_slice(&md5_of(&[&[id], b"correct horse", &t.wire[2].data[1..]]));
    assert_eq!(t.wire[3].data, expected);
    assert_eq!(t.wire[4].identifier, id);
}

#[test]
fn md5_wrong_password_is_rejected_on_both_sides() {
    let t =
        run(peer_config("alice", Some("wrong"), &[Method::Md5]), server_config(&[Method::Md5]), 2);
    assert_eq!(t.peer, Err(EapFailure::Rejected));
    assert_eq!(t.server, Some(Err(EapFailure::Rejected)));
    let last = t.wire.last().expect("a verdict");
    assert_eq!((last.code, last.identifier), (EapCode::FAILURE, t.wire[3].identifier));
}

#[test]
fn md5_unknown_user_looks_like_a_wrong_password_on_the_wire() {
    let wrong =
        run(peer_config("alice", Some("wrong"), &[Method::Md5]), server_config(&[Method::Md5]), 3);
    let unknown = run(
        peer_config("mallory", Some("wrong"), &[Method::Md5]),
        server_config(&[Method::Md5]),
        3,
    );
    assert_eq!(unknown.peer, Err(EapFailure::Rejected));
    assert_eq!(unknown.server, wrong.server);
    assert_eq!(wrong.wire.len(), unknown.wire.len());
    // Every message but the peer's own Identity is the same, byte for byte.
    for (i, (a, b)) in wrong.wire.iter().zip(&unknown.wire).enumerate() {
        if i == 1 {
            assert_eq!((a.code, a.identifier, a.eap_type), (b.code, b.identifier, b.eap_type));
            continue;
        }
        assert_eq!(common::emitted(a), common::emitted(b), "message {i}");
    }
}

#[test]
fn md5_utf8_password() {
    let t =
        run(peer_config("bob", Some("pässwörd"), &[Method::Md5]), server_config(&[Method::Md5]), 4);
    assert_eq!(t.peer, Ok(None));
    assert_eq!(t.server, Some(Ok(("bob".to_owned(), None))));
}

fn md5_of(parts: &[&[u8]]) -> [u8; 16] {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// tests/vectors/md5_challenge.txt (derived vectors, see its note), through the peer.
#[test]
fn md5_known_answers_through_the_peer() {
    let text = include_str!("vectors/md5_challenge.txt");
    let mut checked = 0;
    for block in text.split("\n\n") {
        let field = |name: &str| {
            let v = block
                .lines()
                .filter_map(|l| l.split_once(" = "))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v)
                .unwrap_or_else(|| panic!("{name} missing"));
            hex::decode(v).expect("hex")
        };
        let secret = String::from_utf8(field("secret")).expect("UTF-8 secret");
        let mut peer = EapPeer::new(peer_config("alice", Some(&secret), &[Method::Md5]));
        let mut data = vec![16];
        data.extend_from_slice(&field("challenge"));
        let request = EapRepr {
            code: EapCode::REQUEST,
            identifier: field("identifier")[0],
            eap_type: Some(EapType::MD5_CHALLENGE.0),
            data,
        };
        let Ok(PeerStep::Respond(response)) = peer.handle(&request, &mut common::rng(0)) else {
            panic!("no response");
        };
        let mut expected = vec![16];
        expected.extend_from_slice(&field("response"));
        assert_eq!(response.data, expected);
        assert_eq!(response.identifier, request.identifier);
        checked += 1;
    }
    assert_eq!(checked, 2);
}
