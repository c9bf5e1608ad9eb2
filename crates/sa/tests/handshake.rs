//! A complete IKE_SA_INIT + IKE_AUTH with PSK and CP, for every IKE suite we offer.

mod common;

use std::sync::Arc;

use common::{Pair, To, client_config, server_config};
use ikeway_codec::DhGroup;
use ikeway_crypto::{AeadAlgorithm, BlockCipher, Encryption, Integrity, Prf};
use ikeway_sa::{CloseReason, Event, IkeProposal, InsecureKexForFuzzing};

fn suites() -> Vec<(Encryption, Option<Integrity>, Prf)> {
    let cbc = |b| Encryption::Cipher(BlockCipher::AesCbc { key_bits: b });
    vec![
        (Encryption::Aead(AeadAlgorithm::AES128_GCM16), None, Prf::HmacSha256),
        (Encryption::Aead(AeadAlgorithm::AES256_GCM16), None, Prf::HmacSha384),
        (Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305), None, Prf::HmacSha512),
        (cbc(128), Some(Integrity::HmacSha256_128), Prf::HmacSha256),
        (cbc(256), Some(Integrity::HmacSha384_192), Prf::HmacSha384),
        (cbc(256), Some(Integrity::HmacSha512_256), Prf::HmacSha512),
    ]
}

#[test]
fn handshake_completes_for_every_ike_suite() {
    for (i, (encryption, integrity, prf)) in suites().into_iter().enumerate() {
        let proposal = IkeProposal {
            encryption,
            integrity,
            prf,
            groups: vec![DhGroup::CURVE25519],
            additional_kes: Vec::new(),
        };
        let mut client = client_config();
        client.ike_proposals = vec![proposal.clone()];
        let mut server = server_config();
        server.ike_proposals.push(proposal);
        let mut pair = Pair::new(client, server, Arc::new(InsecureKexForFuzzing), i as u64);
        pair.establish();
        let suite = pair
            .initiator_events
            .iter()
            .find_map(|e| match e {
                Event::IkeSaUp { suite, .. } => Some(*suite),
                _ => None,
            })
            .expect("IKE SA up");
        assert_eq!(
            (suite.suite.encryption(), suite.suite.integrity(), suite.prf),
            (encryption, integrity, prf)
        );
        pair.assert_children_agree();
    }
}

#[test]
fn config_reply_gives_addresses_dns_and_domain() {
    let mut pair = Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), 7);
    pair.establish();
    let cfg = pair
        .initiator_events
        .iter()
        .find_map(|e| match e {
            Event::ConfigReceived(c) => Some(c.clone()),
            _ => None,
        })
        .expect("CFG_REPLY");
    assert_eq!(
        cfg.addresses,
        vec![("10.88.0.10".parse().unwrap(), 32), ("fd88::10".parse().unwrap(), 128)]
    );
    assert_eq!(
        cfg.dns,
        vec!["10.88.0.1".parse::<std::net::IpAddr>().unwrap(), "fd88::1".parse().unwrap()]
    );
    assert_eq!(cfg.dns_domains, vec!["corp.example.org".to_owned()]);
    assert_eq!(cfg.subnets, vec![("10.77.0.0".parse().unwrap(), 24)]);
    // The responder narrowed the client's selectors to its leased addresses (RFC 7296 §2.9).
    let child = pair
        .initiator_events
        .iter()
        .find_map(|e| match e {
            Event::ChildSaInstalled(c) => Some(c),
            _ => None,
        })
        .unwrap();
    let ikeway_codec::TrafficSelector::Range(r) = &child.local_ts[0] else { panic!() };
    assert_eq!((r.start, r.end), ("10.88.0.10".parse().unwrap(), "10.88.0.10".parse().unwrap()));
}

#[test]
fn wrong_psk_fails_authentication_and_leaves_no_state() {
    let mut server = server_config();
    let other =
        ikeway_sa::PresharedKey::from(ikeway_crypto::SecretBytes::from_slice(b"a different key"));
    server.local_auth = ikeway_sa::LocalAuth::Psk(other.clone());
    server.peer_auth = ikeway_sa::PeerAuth::Psk(other);
    let mut pair = Pair::new(client_config(), server, Arc::new(InsecureKexForFuzzing), 3);
    let closed = pair.run_until(std::time::Duration::from_secs(30), |p| p.initiator.is_closed());
    assert!(closed);
    assert!(
        pair.initiator_events
            .iter()
            .any(|e| matches!(e, Event::IkeSaClosed { reason: CloseReason::AuthenticationFailed }))
    );
    assert!(pair.responder_events.iter().any(|(_, e)| matches!(
        e,
        Event::IkeSaClosed { reason: CloseReason::AuthenticationFailed }
    )));
    assert_eq!(pair.children_up(To::Initiator), 0);
    // Drain: the closed SA is forgotten and its address lease returned.
    pair.step();
    assert!(pair.responder.is_empty(), "responder kept state after AUTHENTICATION_FAILED");
}

#[test]
fn no_common_proposal_closes_with_no_proposal_chosen() {
    let mut client = client_config();
    client.ike_proposals[0].groups = vec![DhGroup::MODP_1024];
    client.ike_proposals.truncate(1);
    let mut pair = Pair::new(client, server_config(), Arc::new(InsecureKexForFuzzing), 4);
    assert!(pair.run_until(std::time::Duration::from_secs(10), |p| p.initiator.is_closed()));
    assert!(
        pair.initiator_events
            .iter()
            .any(|e| matches!(e, Event::IkeSaClosed { reason: CloseReason::NoProposalChosen }))
    );
    assert!(pair.responder.is_empty());
}

#[test]
fn seeded_runs_are_identical_byte_for_byte() {
    let run = |seed| {
        let mut pair =
            Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), seed);
        pair.establish();
        pair.transcript
    };
    assert_eq!(run(11), run(11));
    assert_ne!(run(11), run(12));
}
