//! CREATE_CHILD_SA: another child, child rekey (make before break), IKE rekey, PFS.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Pair, To, client_config, server_config};
use ikeway_codec::DhGroup;
use ikeway_sa::{Event, InsecureKexForFuzzing};

fn removed(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ChildSaRemoved { spi_in, .. } => Some(*spi_in),
            _ => None,
        })
        .collect()
}

#[test]
fn create_another_child() {
    let mut pair = Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), 51);
    pair.establish();
    pair.initiator.create_child(pair.now);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.children_up(To::Initiator) == 2
        && p.children_up(To::Responder) == 2));
    pair.assert_children_agree();
    assert_eq!(pair.initiator.child_spis().len(), 2);
}

#[test]
fn child_rekey_installs_new_before_removing_old() {
    let mut client = client_config();
    for p in &mut client.esp_proposals {
        p.pfs_groups = vec![DhGroup::CURVE25519];
    }
    let mut server = server_config();
    for p in &mut server.esp_proposals {
        p.pfs_groups = vec![DhGroup::CURVE25519];
    }
    let mut pair = Pair::new(client, server, Arc::new(InsecureKexForFuzzing), 52);
    pair.establish();
    let (old_in, _) = pair.initiator.child_spis()[0];
    pair.initiator.rekey_child(pair.now, old_in);
    assert!(
        pair.run_until(Duration::from_secs(10), |p| removed(&p.initiator_events).contains(&old_in))
    );
    // The new child (with its `replaces`) came before the old one's removal.
    let installed_at = pair
        .initiator_events
        .iter()
        .position(|e| matches!(e, Event::ChildSaInstalled(c) if c.replaces == Some(old_in)));
    let removed_at = pair
        .initiator_events
        .iter()
        .position(|e| matches!(e, Event::ChildSaRemoved { spi_in, .. } if *spi_in == old_in));
    assert!(installed_at.unwrap() < removed_at.unwrap());
    pair.run_until(Duration::from_secs(5), |p| {
        removed(&p.responder_events.iter().map(|(_, e)| clone_removed(e)).collect::<Vec<_>>()).len()
            == 1
    });
    assert_eq!(pair.initiator.child_spis().len(), 1);
    assert_eq!(pair.responder_sa().child_spis().len(), 1);
    pair.assert_children_agree();
}

fn clone_removed(e: &Event) -> Event {
    match e {
        Event::ChildSaRemoved { spi_in, spi_out } => {
            Event::ChildSaRemoved { spi_in: *spi_in, spi_out: *spi_out }
        }
        _ => Event::ChildSaRefused { notify: ikeway_codec::NotifyType(0) },
    }
}

#[test]
fn ike_rekey_moves_children_and_keeps_working() {
    let mut pair = Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), 53);
    pair.establish();
    let old = pair.initiator.spis();
    pair.initiator.rekey_ike(pair.now);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.initiator.spis() != old));
    let new = pair.initiator.spis();
    assert_ne!(new.0, old.0);
    assert!(pair.initiator_events.iter().any(|e| matches!(e, Event::IkeSaRekeyed { old_spis, new_spis } if *old_spis == old && *new_spis == new)));
    // The new IKE SA carries exchanges: a child rekey after the IKE rekey completes.
    let (spi, _) = pair.initiator.child_spis()[0];
    pair.initiator.rekey_child(pair.now, spi);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.children_up(To::Initiator) == 2
        && p.initiator.child_spis().len() == 1));
    pair.assert_children_agree();
    // The old IKE SA's DELETE was answered at once, long before the grace period ends.
    assert!(
        pair.run_until(Duration::from_secs(2), |p| p
            .responder
            .sas()
            .all(|s| s.old_spis().is_none()))
    );
    assert_eq!(pair.responder_sa().stats().dropped_unexpected, 0);
    assert!(pair.initiator.is_established());
}

#[test]
fn responder_can_rekey_too() {
    let mut pair = Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), 54);
    pair.establish();
    let (spi, _) = pair.responder_sa().child_spis()[0];
    let now = pair.now;
    pair.responder_sa().rekey_child(now, spi);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.children_up(To::Responder) == 2
        && removed(&p.initiator_events).len() == 1));
    pair.assert_children_agree();
}

#[test]
fn lifetimes_trigger_rekey_before_expiry() {
    let mut client = client_config();
    client.lifetimes.child = Duration::from_secs(120);
    client.lifetimes.rekey_margin = Duration::from_secs(30);
    client.lifetimes.jitter = Duration::from_secs(5);
    client.dpd_interval = None;
    let mut server = server_config();
    server.dpd_interval = None;
    let mut pair = Pair::new(client, server, Arc::new(InsecureKexForFuzzing), 55);
    pair.establish();
    let start = pair.now;
    assert!(pair.run_until(Duration::from_secs(200), |p| p.children_up(To::Initiator) >= 2));
    let elapsed = pair.now - start;
    assert!(
        elapsed >= Duration::from_secs(85) && elapsed <= Duration::from_secs(91),
        "rekeyed after {elapsed:?}"
    );
}

#[test]
fn responder_rekeys_the_ike_sa_and_the_new_sa_carries_traffic_and_delete() {
    let mut pair = Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), 56);
    pair.establish();
    let old = pair.initiator.spis();
    let now = pair.now;
    pair.responder_sa().rekey_ike(now);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.initiator.spis() != old));
    // The old IKE SA's DELETE (sent by the responder, which started the rekey) was answered.
    assert!(
        pair.run_until(Duration::from_secs(5), |p| p
            .responder
            .sas()
            .all(|s| s.old_spis().is_none())
            && p.initiator.old_spis().is_none())
    );
    assert!(
        pair.initiator.stats().dropped_unauthenticated == 0
            && pair.initiator.stats().dropped_unexpected == 0,
        "{:?}",
        pair.initiator.stats()
    );
    // Both directions work on the new SA: a child rekey by the initiator, then a delete.
    let (spi, _) = pair.initiator.child_spis()[0];
    pair.initiator.rekey_child(pair.now, spi);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.children_up(To::Initiator) == 2
        && p.initiator.child_spis().len() == 1));
    pair.initiator.delete_ike(pair.now);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.initiator.is_closed()));
    assert!(pair.responder_events.iter().any(|(_, e)| matches!(
        e,
        Event::IkeSaClosed { reason: ikeway_sa::CloseReason::DeletedByPeer }
    )));
}

#[test]
fn simultaneous_ike_rekeys_converge_on_one_new_ike_sa() {
    for seed in 57..63 {
        let mut pair =
            Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), seed);
        pair.establish();
        let old = pair.initiator.spis();
        let now = pair.now;
        pair.initiator.rekey_ike(now);
        pair.responder_sa().rekey_ike(now);
        // Both answer the other's request with TEMPORARY_FAILURE, then retry at random.
        assert!(
            pair.run_until(Duration::from_secs(30), |p| {
                p.initiator.spis() != old && p.initiator.old_spis().is_none()
            }),
            "seed {seed}: no rekey completed"
        );
        pair.run_until(Duration::from_secs(15), |_| false);
        let new = pair.initiator.spis();
        let resp = pair.responder.sas().find(|s| s.spis() == new).map(ikeway_sa::IkeSa::spis);
        assert_eq!(resp, Some(new), "seed {seed}: both sides on the same IKE SA");
        assert!(pair.initiator.is_established());
        assert_eq!(pair.initiator.child_spis().len(), 1, "seed {seed}: the child moved over");
        // And the new SA works.
        pair.initiator.dpd(pair.now);
        let before = pair.initiator.stats().received;
        assert!(pair.run_until(Duration::from_secs(5), |p| p.initiator.stats().received > before));
    }
}

/// The responder's CREATE_CHILD_SA response for a new child without PFS is SA, Nonce, TSi,
/// TSr in that order (RFC 7296 §1.3.1: the nonce right after the SA; the child's payloads are
/// appended to the response being built, the nonce put in behind the SA).
#[test]
fn create_child_response_has_the_nonce_after_the_sa() {
    use ikeway_codec::{ExchangeType, HeaderRepr, PayloadType, sk};
    let mut pair = Pair::new(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), 53);
    pair.establish();
    let start = pair.transcript.len();
    pair.initiator.create_child(pair.now);
    assert!(pair.run_until(Duration::from_secs(10), |p| p.children_up(To::Initiator) == 2
        && p.children_up(To::Responder) == 2));
    let responses: Vec<Vec<PayloadType>> = pair.transcript[start..]
        .iter()
        .filter(|m| {
            HeaderRepr::parse(m)
                .is_ok_and(|h| h.exchange == ExchangeType::CREATE_CHILD_SA && h.flags.response)
        })
        .map(|m| {
            let opened = sk::open(m, &common::run::protector(&pair.initiator, false)).unwrap();
            opened.payloads().unwrap().iter().map(|p| p.kind()).collect()
        })
        .collect();
    assert_eq!(
        responses,
        [vec![PayloadType::SA, PayloadType::NONCE, PayloadType::TSI, PayloadType::TSR]]
    );
}
