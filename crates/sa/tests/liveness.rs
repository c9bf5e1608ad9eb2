//! DPD, retransmission and deletion.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Impairments, Pair, client_config, server_config};
use ikeway_codec::{ExchangeType, HeaderRepr};
use ikeway_sa::{CloseReason, Event, InsecureKexForFuzzing};

#[test]
fn dpd_detects_a_dead_peer_within_the_retransmit_bound() {
    let mut client = client_config();
    client.dpd_interval = Some(Duration::from_secs(30));
    let mut pair = Pair::new(client, server_config(), Arc::new(InsecureKexForFuzzing), 71);
    pair.establish();
    pair.responder_alive = false;
    let start = pair.now;
    assert!(pair.run_until(Duration::from_secs(120), |p| p.initiator.is_closed()));
    // 30 s idle, then sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5 s and a last 16 s wait.
    let took = pair.now - start;
    assert!(took >= Duration::from_secs(61) && took <= Duration::from_secs(62), "{took:?}");
    assert!(
        pair.initiator_events
            .iter()
            .any(|e| matches!(e, Event::IkeSaClosed { reason: CloseReason::PeerUnreachable }))
    );
    assert_eq!(pair.initiator.stats().retransmits, 5);
}

#[test]
fn delete_child_and_ike() {
    let mut pair = Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), 72);
    pair.establish();
    let (spi, _) = pair.initiator.child_spis()[0];
    pair.initiator.delete_child(pair.now, spi);
    assert!(pair.run_until(Duration::from_secs(5), |p| p.initiator.child_spis().is_empty()));
    assert!(pair.responder_sa().child_spis().is_empty());
    pair.initiator.delete_ike(pair.now);
    assert!(pair.run_until(Duration::from_secs(5), |p| p.initiator.is_closed()));
    assert!(
        pair.initiator_events
            .iter()
            .any(|e| matches!(e, Event::IkeSaClosed { reason: CloseReason::Deleted }))
    );
    assert!(
        pair.responder_events
            .iter()
            .any(|(_, e)| matches!(e, Event::IkeSaClosed { reason: CloseReason::DeletedByPeer }))
    );
    pair.step();
    assert!(pair.responder.is_empty());
}

#[test]
fn converges_with_30_percent_loss_duplication_and_reordering() {
    for seed in 0..20 {
        let impair = Impairments {
            loss: 0.3,
            duplicate: 0.1,
            max_delay: Duration::from_millis(300),
            nat: false,
        };
        let mut pair = Pair::with(
            client_config(),
            server_config(),
            Arc::new(InsecureKexForFuzzing),
            100 + seed,
            impair,
        );
        let ok = pair.run_until(Duration::from_secs(60), |p| {
            p.initiator.is_established()
                && !p.responder.is_empty()
                && p.children_up(common::To::Responder) == 1
        });
        if !ok {
            // With 30% loss, six sends can all be lost (0.3^6 = 0.07%); anything else is a bug.
            assert!(pair.initiator.is_closed(), "seed {seed}: stuck without closing");
            continue;
        }
        pair.assert_children_agree();
        // Duplicates and retransmissions never installed a child twice.
        assert_eq!(pair.children_up(common::To::Initiator), 1, "seed {seed}");
        assert_eq!(pair.children_up(common::To::Responder), 1, "seed {seed}");
    }
}

#[test]
fn retransmitted_requests_are_answered_from_the_cache_without_acting_twice() {
    let mut pair = Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), 73);
    pair.establish();
    pair.initiator.create_child(pair.now);
    // Lose every response once: the initiator retransmits, the responder replays.
    pair.impair.loss = 0.0;
    pair.run_until(Duration::from_secs(10), |p| p.children_up(common::To::Initiator) == 2);
    let replays_before = pair.responder_sa().stats().replayed_responses;
    // Re-deliver the last request to the responder by hand.
    let last_request = pair.transcript.iter().rev().nth(1).unwrap().clone();
    let (c, s) = (common::addr(common::CLIENT), common::addr(common::SERVER));
    let now = pair.now;
    pair.responder.handle_datagram(now, c, s, &last_request);
    pair.step();
    assert_eq!(pair.responder_sa().stats().replayed_responses, replays_before + 1);
    assert_eq!(pair.children_up(common::To::Responder), 2, "a replayed request created nothing");
}

/// RFC 7296 §2.1: a retransmitted IKE_AUTH is answered from the cache while its sender may
/// still be retransmitting; once that window (3 minutes) has passed with no newer request,
/// the copy is gone (the SA holds no bytes of it) and a late copy of the request is dropped
/// and counted, answered with nothing, the SA and its child untouched.
#[test]
fn ike_auth_response_cache_is_dropped_after_the_retransmission_window() {
    let mut pair = Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), 74);
    pair.establish();
    let auth_request = pair
        .transcript
        .iter()
        .find(|d| {
            let h = HeaderRepr::parse(d).expect("our own datagrams parse");
            h.exchange == ExchangeType::IKE_AUTH && !h.flags.response
        })
        .expect("the handshake sent IKE_AUTH")
        .clone();
    let (c, s) = (common::addr(common::CLIENT), common::addr(common::SERVER));
    let mut buf = vec![0u8; 65536];

    let before = pair.responder_sa().stats();
    assert!(pair.responder_sa().held_bytes() > 0, "the IKE_AUTH response is cached");
    let now = pair.now;
    pair.responder.handle_datagram(now, c, s, &auth_request);
    assert_eq!(pair.responder_sa().stats().replayed_responses, before.replayed_responses + 1);
    let replay = pair.responder.poll_transmit(&mut buf).expect("replayed").expect("fits");
    assert!(pair.responder.poll_transmit(&mut buf).is_none(), "one datagram replayed");
    let replayed = HeaderRepr::parse(&buf[..replay.len]).expect("parses");
    assert_eq!((replayed.exchange, replayed.message_id), (ExchangeType::IKE_AUTH, 1));

    // Nothing else happens for 3 minutes and a second (DPD is 10 minutes on both sides).
    assert!(!pair.run_until(Duration::from_secs(181), |_| false));
    assert_eq!(pair.responder_sa().held_bytes(), 0, "the cached response is gone");

    let before = pair.responder_sa().stats();
    let now = pair.now;
    pair.responder.handle_datagram(now, c, s, &auth_request);
    let after = pair.responder_sa().stats();
    assert_eq!(after.replayed_responses, before.replayed_responses);
    assert_eq!(after.dropped_unexpected, before.dropped_unexpected + 1);
    assert!(pair.responder.poll_transmit(&mut buf).is_none(), "nothing answers it");
    assert!(pair.responder_sa().is_established());
    assert_eq!(pair.children_up(common::To::Responder), 1);
}
