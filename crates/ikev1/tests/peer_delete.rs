//! ESP Deletes from the gateway, in memory: either SPI of a pair removes the pair
//! (`ChildSaRemoved`, the datapath's cue) and the client makes the SA again, a bounded
//! number of times; an SPI naming no SA of this ISAKMP SA is counted and changes nothing.

mod quick_pair;

use ikeway_ikev1::quick::REMAKES_AFTER_PEER_DELETE;
use quick_pair::*;

/// The gateway sends a Delete naming `spi` as it is (its own SA stays: as strongSwan's when
/// it failed to install it, it is the client's reaction under test).
fn gateway_deletes(p: &mut Pair, spi: u32) {
    p.gw_command(|gw, now| gw.send_esp_delete_naming(now, &[spi]));
}

#[test]
fn a_delete_naming_the_clients_inbound_spi_removes_the_pair_and_the_client_makes_it_again() {
    // strongSwan 5.9.8 names the initiator's SPI (ours, inbound) when it cannot install the SA.
    let mut p = Pair::connected(client(), gateway);
    let old = p.client.child_spis()[0];
    assert_eq!(installed(&p.client_events).len(), 1);
    gateway_deletes(&mut p, old.0);
    assert_eq!(removed(&p.client_events), vec![old]);
    let now_installed = installed(&p.client_events);
    assert_eq!(now_installed.len(), 2, "the client made the SA again");
    let new = p.client.child_spis();
    assert_eq!(new.len(), 1);
    assert_eq!((now_installed[1].spi_in, now_installed[1].spi_out), new[0]);
    assert!(new[0].0 != old.0 && new[0].1 != old.1);
    assert_eq!(now_installed[1].replaces, None, "a new SA, not a rekey of the deleted one");
    assert_eq!(installed(p.gw_plain_events()).len(), 2, "the gateway installed the new one");
    assert_eq!(p.client.stats().ignored_deletes, 0);
    assert!(p.client.is_established());
}

#[test]
fn a_delete_naming_the_clients_outbound_spi_removes_the_pair_and_the_client_makes_it_again() {
    // RFC 2408 §3.15: the sender names its inbound SPI, our outbound one.
    let mut p = Pair::connected(client(), gateway);
    let old = p.client.child_spis()[0];
    gateway_deletes(&mut p, old.1);
    assert_eq!(removed(&p.client_events), vec![old]);
    assert_eq!(installed(&p.client_events).len(), 2);
    let new = p.client.child_spis();
    assert_eq!(new.len(), 1);
    assert!(new[0] != old);
    assert_eq!(p.client.stats().ignored_deletes, 0);
}

#[test]
fn a_delete_naming_no_sa_of_this_isakmp_sa_is_counted_and_changes_nothing() {
    let mut p = Pair::connected(client(), gateway);
    let old = p.client.child_spis()[0];
    let unknown = old.0 ^ old.1 ^ 0x5a5a_5a5a;
    assert!(unknown != old.0 && unknown != old.1);
    gateway_deletes(&mut p, unknown);
    assert_eq!(removed(&p.client_events), Vec::<(u32, u32)>::new());
    assert_eq!(installed(&p.client_events).len(), 1);
    assert_eq!(p.client.child_spis(), vec![old]);
    assert_eq!(p.client.stats().ignored_deletes, 1);
    assert!(p.client.is_established());
}

#[test]
fn a_gateway_deleting_every_sa_it_gets_is_answered_a_bounded_number_of_times() {
    // A gateway that cannot install any SA deletes each one right after its quick mode.
    let mut p = Pair::connected(client(), gateway);
    let mut deletes = 0;
    while let Some(&(spi_in, _)) = p.client.child_spis().first() {
        assert!(deletes <= REMAKES_AFTER_PEER_DELETE, "the client kept making the SA");
        gateway_deletes(&mut p, spi_in);
        deletes += 1;
    }
    assert_eq!(deletes, REMAKES_AFTER_PEER_DELETE + 1);
    assert_eq!(installed(&p.client_events).len() as u32, REMAKES_AFTER_PEER_DELETE + 1);
    assert_eq!(removed(&p.client_events).len() as u32, REMAKES_AFTER_PEER_DELETE + 1);
    assert!(p.client.child_spis().is_empty());
    assert!(p.client.is_established(), "the ISAKMP SA stays");
}

#[test]
fn a_delete_from_the_client_is_not_answered_with_a_new_sa_by_the_gateway() {
    let mut p = Pair::connected(client(), gateway);
    let old = p.client.child_spis()[0];
    let now = p.now;
    // The client names the gateway's own inbound SPI (not RFC 2408's way, strongSwan's after
    // a failed install): the gateway finds the pair by it too, and makes nothing again.
    p.client.send_esp_delete_naming(now, &[old.1]);
    p.run();
    assert_eq!(removed(p.gw_plain_events()), vec![(old.1, old.0)]);
    assert_eq!(installed(p.gw_plain_events()).len(), 1);
    assert_eq!(installed(&p.client_events).len(), 1);
}
