//! A new ISAKMP SA before the old one's lifetime ends (RFC 2409 has no ISAKMP rekey): the
//! client is told when, makes the successor (phase 1 and XAUTH again, its address kept), the
//! ESP SAs move to it on both sides without leaving the datapath, the old ISAKMP SA is deleted,
//! and the moved ESP SAs are rekeyed under the new one.

mod quick_pair;

use std::sync::Arc;
use std::time::Duration;

use ikeway_ikev1::{DefaultKex, Event};
use ikeway_sa::CloseReason;
use quick_pair::*;

fn rekeyed(events: &[&Event]) -> Vec<((u64, u64), (u64, u64))> {
    events
        .iter()
        .filter_map(|e| match ike(e)? {
            ikeway_sa::Event::IkeSaRekeyed { old_spis, new_spis } => Some((*old_spis, *new_spis)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_esp_sas_move_to_a_new_isakmp_sa_before_the_old_one_ends() {
    let mut c = client();
    c.lifetime = Duration::from_secs(1800);
    c.informational.dpd = None;
    let mut p = Pair::connected(c, |a| {
        let mut g = gateway(a);
        g.informational.dpd = None;
        g
    });
    let child = p.client.child_spis()[0];
    let old = p.client.cookies();
    // A tenth of 1800 s before the end.
    p.advance(Duration::from_secs(1619));
    assert!(!p.client_events.iter().any(|e| matches!(e, Event::RenewalDue)));
    p.advance(Duration::from_secs(1));
    assert!(p.client_events.iter().any(|e| matches!(e, Event::RenewalDue)));

    let now = p.now;
    let new = p.client.renew(Arc::new(DefaultKex::default()), [9; 32], now).unwrap();
    p.client2 = Some(new);
    p.run();
    let new = p.client2.as_ref().unwrap().cookies();
    assert_ne!(new, old);
    assert_eq!(ups(&p.client2_events), 1, "phase 1 and XAUTH again");
    assert!(configs(&p.client2_events).is_empty(), "no mode config: the address is kept");
    assert!(installed(&p.client2_events).is_empty(), "no quick mode of its own");

    let mut second = p.client2.take().unwrap();
    assert!(p.client.hand_over(&mut second, now));
    p.client2 = Some(second);
    p.run();
    let c2: Vec<&Event> = p.client2_events.iter().collect();
    assert_eq!(rekeyed(&c2), vec![(old, new)]);
    assert_eq!(closed(&p.client_events), vec![CloseReason::Rekeyed]);
    assert!(removed(&p.client_events).is_empty(), "the ESP SA stays in the datapath");
    assert_eq!(p.client2.as_ref().unwrap().child_spis(), vec![child]);
    // The gateway: the old SA deleted by the client, its ESP SA and the client's address on
    // the new one.
    let gw = p.gw_plain_events();
    assert_eq!(closed(gw.iter().copied()), vec![CloseReason::DeletedByPeer]);
    assert_eq!(rekeyed(&gw), vec![(old, new)]);
    assert!(removed(gw.iter().copied()).is_empty());
    assert_eq!(p.allocator.leased(), 1);

    // The moved SA is rekeyed under the new ISAKMP SA, and the gateway still holds the
    // client to its address.
    let now = p.now;
    p.client2.as_mut().unwrap().rekey_child(now, child.0);
    p.run();
    let fresh = installed(&p.client2_events);
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0].replaces, Some(child.0));
    assert_eq!(fresh[0].local_ts, vec![host_ts("10.9.0.10")]);
    let c2: Vec<&Event> = p.client2_events.iter().collect();
    assert_eq!(removed(c2.iter().copied()), vec![child]);
}

#[test]
fn hand_over_waits_for_a_successor_that_is_up_and_a_plain_delete_still_removes_everything() {
    let mut p = Pair::connected(client(), gateway);
    let child = p.client.child_spis()[0];
    // The client deletes only its ISAKMP SA (as a renewal would), but no new SA follows.
    let now = p.now;
    let mut dummy = p.client.renew(Arc::new(DefaultKex::default()), [7; 32], now).unwrap();
    assert!(!p.client.hand_over(&mut dummy, now), "the successor is not up");
    p.client.delete_ike(now);
    p.run();
    assert_eq!(removed(p.gw_plain_events()), vec![(child.1, child.0)]);
    assert_eq!(p.allocator.leased(), 0);
}

#[test]
fn another_user_of_the_same_group_and_address_does_not_inherit_the_esp_sas() {
    let mut p = Pair::connected(client(), |a| {
        let mut g = gateway(a);
        g.transaction
            .xauth_users
            .push(("bob".into(), ikeway_crypto::SecretBytes::from_slice(b"bobs pw")));
        g
    });
    let child = p.client.child_spis()[0];
    // Bob, from the same address with the same group secret, gets an ISAKMP SA of his own.
    let mut bob = client();
    bob.transaction.xauth_client = Some(ikeway_ikev1::transaction::XauthCredentials {
        username: "bob".into(),
        password: Some(ikeway_crypto::SecretBytes::from_slice(b"bobs pw")),
    });
    bob.transaction.mode_config = None;
    bob.quick.first_child = false;
    let now = p.now;
    let bob = ikeway_ikev1::Ikev1Sa::initiate(
        Arc::new(bob),
        Arc::new(DefaultKex::default()),
        [11; 32],
        now,
        addr("10.0.0.1:500"),
        addr("10.0.0.2:500"),
    )
    .unwrap();
    p.client2 = Some(bob);
    p.run();
    assert_eq!(ups(&p.client2_events), 1);
    // Alice's ISAKMP SA is deleted on its own (as a renewal does): the gateway must not give
    // her ESP SA and address to Bob's SA.
    let mut bob = p.client2.take().unwrap();
    assert!(p.client.hand_over(&mut bob, now));
    p.client2 = Some(bob);
    p.run();
    let gw = p.gw_plain_events();
    assert_eq!(removed(gw.iter().copied()), vec![(child.1, child.0)]);
    assert!(rekeyed(&gw).is_empty());
    assert_eq!(p.allocator.leased(), 0, "Alice's address went back");
}

#[test]
fn renewing_with_a_gateway_that_pushes_mode_config_keeps_the_clients_address() {
    let mut c = client();
    c.transaction.mode_config = Some(ikeway_ikev1::transaction::ModeConfigClient::Push);
    let mut p = Pair::connected(c, |a| {
        let mut g = gateway(a);
        g.transaction.mode_config_server.as_mut().unwrap().push = true;
        g
    });
    let child = p.client.child_spis()[0];
    let now = p.now;
    p.client2 = Some(p.client.renew(Arc::new(DefaultKex::default()), [9; 32], now).unwrap());
    p.run();
    // The gateway pushed a second address to the new SA; the client acknowledged it and kept
    // its own.
    assert!(configs(&p.client2_events).is_empty());
    assert_eq!(p.allocator.leased(), 2);
    let mut second = p.client2.take().unwrap();
    assert!(p.client.hand_over(&mut second, now));
    p.client2 = Some(second);
    p.run();
    // After the move the gateway holds the client to its first address, and the second one
    // went back to the pool.
    assert_eq!(p.allocator.leased(), 1);
    p.client2.as_mut().unwrap().rekey_child(now, child.0);
    p.run();
    let fresh = installed(&p.client2_events);
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0].local_ts, vec![host_ts("10.9.0.10")]);
    assert_eq!(fresh[0].replaces, Some(child.0));
}
