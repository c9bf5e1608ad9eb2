//! CREATE_CHILD_SA nonces outside 16..=256 octets (RFC 7296 §3.9) are refused.
//!
//! The initiator's real request is opened with its own keys, its Nonce payload swapped for
//! one of the length under test, sealed again and handed to the responder: everything else
//! in the request is valid, so the nonce is the only reason for a refusal.

mod common;

use std::sync::Arc;

use common::{Pair, client_config, server_config};
use ikeway_codec::{HeaderRepr, NotifyType, Payload, PayloadRepr, sk};
use ikeway_crypto::{AeadBackend, Protector};
use ikeway_sa::{InsecureKexForFuzzing, KeyExport};

fn keys(k: &KeyExport<'_>) -> (Protector, Protector) {
    let suite = k.suite.suite;
    let key = |e: &[u8], a: &[u8]| suite.key(AeadBackend::RustCrypto, e, a).expect("suite keys");
    (key(k.sk_ei.expose(), k.sk_ai.expose()), key(k.sk_er.expose(), k.sk_ar.expose()))
}

/// Sends the initiator's CREATE_CHILD_SA request with a nonce of `len` bytes; returns the
/// notifications in the responder's answer and how many children the responder then has.
fn create_child_with_nonce(len: usize) -> (Vec<NotifyType>, usize) {
    let mut pair = Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), 9);
    pair.establish();
    let (to_responder, to_initiator) =
        keys(&pair.initiator.export_keys_for_debugging().expect("established"));
    let children_before = pair.responder_sa().child_spis().len();
    assert_eq!(children_before, 1);

    pair.initiator.create_child(pair.now);
    let mut buf = vec![0u8; 65536];
    let t = pair.initiator.poll_transmit(&mut buf).expect("a request").expect("fits");
    // No NAT here: IKE stays on port 500, without the non-ESP marker.
    assert_eq!(t.local.port(), 500);
    let request = &buf[..t.len];
    let header = HeaderRepr::parse(request).expect("our own header");
    let mut inner = sk::open(request, &to_responder).expect("our own keys").payloads().unwrap();
    let nonce = inner
        .iter_mut()
        .find_map(|p| match &mut p.body {
            PayloadRepr::Nonce(n) => Some(n),
            _ => None,
        })
        .expect("the request carries a nonce");
    nonce.data = vec![0x5a; len].into();
    // A fresh IV: the initiator's own request used another one under the same key.
    let iv = vec![0xa5; to_responder.iv_len()];
    let forged = sk::seal(&header, &[], &inner, &to_responder, &iv).expect("seal");
    pair.responder.handle_datagram(pair.now, t.remote, t.local, &forged);

    let t = pair.responder.poll_transmit(&mut buf).expect("an answer").expect("fits");
    let answer = sk::open(&buf[..t.len], &to_initiator).expect("responder keys");
    let notifies = answer
        .payloads()
        .expect("the answer decodes")
        .into_iter()
        .filter_map(|p: Payload| match p.body {
            PayloadRepr::Notify(n) => Some(n.kind),
            _ => None,
        })
        .collect();
    (notifies, pair.responder_sa().child_spis().len())
}

/// Issue 9 finding 14: a CREATE_CHILD_SA request whose nonce is shorter than 16 or longer
/// than 256 bytes was accepted (only IKE_SA_INIT checked the length); it must be answered
/// INVALID_SYNTAX and create no child.
#[test]
fn refuses_create_child_nonce_outside_16_to_256_bytes() {
    for len in [1, 8, 15, 257, 1024] {
        let (notifies, children) = create_child_with_nonce(len);
        assert_eq!(notifies, vec![NotifyType::INVALID_SYNTAX], "nonce of {len} bytes");
        assert_eq!(children, 1, "nonce of {len} bytes created a child");
    }
}

/// The bounds themselves are valid nonces: the same forged request with 16 or 256 bytes
/// creates the child (so the refusal above is about the length alone).
#[test]
fn accepts_create_child_nonce_of_16_and_256_bytes() {
    for len in [16, 256] {
        let (notifies, children) = create_child_with_nonce(len);
        assert!(!notifies.contains(&NotifyType::INVALID_SYNTAX), "{len} bytes: {notifies:?}");
        assert_eq!(children, 2, "nonce of {len} bytes");
    }
}
