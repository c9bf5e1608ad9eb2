//! INITIAL-CONTACT (RFC 2407 §4.6.3.3) in memory: the client sends it once, in an
//! informational exchange right after the first phase 1 of a connection (before XAUTH), and
//! never from a renewal, whose predecessor's SAs are still in use; our gateway reads it.

mod quick_pair;

use std::sync::Arc;
use std::time::Duration;

use ikeway_ikev1::{DefaultKex, Event, SaId};
use ikeway_isakmp::ExchangeType;
use quick_pair::*;

/// The gateway's SAs that came up, in order.
fn gateway_sas(p: &Pair) -> Vec<SaId> {
    p.gw_events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Ike(ikeway_sa::Event::IkeSaUp { .. })))
        .map(|(id, _)| *id)
        .collect()
}

/// The exchanges the client sent after phase 1, in order.
fn client_exchanges(p: &Pair) -> Vec<ExchangeType> {
    p.wire.iter().filter(|s| s.to_gateway).filter_map(Sent::exchange).collect()
}

fn without_dpd(mut c: ikeway_ikev1::Config) -> ikeway_ikev1::Config {
    c.informational.dpd = None;
    c
}

#[test]
fn the_first_phase_1_is_followed_by_initial_contact_before_xauth() {
    let mut p = Pair::connected(without_dpd(client()), |a| without_dpd(gateway(a)));
    // Aggressive Mode 1 and 3, INITIAL-CONTACT, then XAUTH's REPLY and ACK, mode config and
    // quick mode.
    assert_eq!(
        client_exchanges(&p),
        [
            ExchangeType::AGGRESSIVE,
            ExchangeType::AGGRESSIVE,
            ExchangeType::INFORMATIONAL,
            ExchangeType::TRANSACTION,
            ExchangeType::TRANSACTION,
            ExchangeType::TRANSACTION,
            ExchangeType::QUICK,
            ExchangeType::QUICK,
        ]
    );
    let id = gateway_sas(&p)[0];
    let gw = p.gw.sa_mut(id).unwrap();
    assert!(gw.initial_contact_received());
    assert_eq!(gw.stats().dropped_unexpected, 0);
    assert!(!p.client.initial_contact_received(), "the gateway sends none");
}

#[test]
fn a_renewal_sends_no_initial_contact() {
    let mut c = without_dpd(client());
    c.lifetime = Duration::from_secs(1800);
    let mut p = Pair::connected(c, |a| without_dpd(gateway(a)));
    p.advance(Duration::from_secs(1620));
    let before = p.wire.len();
    let now = p.now;
    let next = p.client.renew(Arc::new(DefaultKex::default()), [9; 32], now).unwrap();
    p.client2 = Some(next);
    p.run();
    let renewal: Vec<ExchangeType> =
        p.wire[before..].iter().filter(|s| s.to_gateway).filter_map(Sent::exchange).collect();
    assert_eq!(
        renewal,
        [
            ExchangeType::AGGRESSIVE,
            ExchangeType::AGGRESSIVE,
            ExchangeType::TRANSACTION,
            ExchangeType::TRANSACTION,
        ],
        "phase 1 and XAUTH, nothing else"
    );
    let sas = gateway_sas(&p);
    assert_eq!(sas.len(), 2);
    assert!(p.gw.sa_mut(sas[0]).unwrap().initial_contact_received());
    assert!(!p.gw.sa_mut(sas[1]).unwrap().initial_contact_received());
}

#[test]
fn a_client_configured_without_it_sends_none() {
    let mut c = without_dpd(client());
    c.informational.initial_contact = false;
    let mut p = Pair::connected(c, |a| without_dpd(gateway(a)));
    assert!(!client_exchanges(&p).contains(&ExchangeType::INFORMATIONAL));
    let id = gateway_sas(&p)[0];
    assert!(!p.gw.sa_mut(id).unwrap().initial_contact_received());
    assert_eq!(installed(&p.client_events).len(), 1);
}

/// The client restarts: a new `Ikev1Sa` from the same address, user and group, its first SA
/// never deleted (a crash or a SIGKILL). `initial_contact` says whether it sends one.
fn restarted(initial_contact: bool) -> Pair {
    let mut p = Pair::connected(without_dpd(client()), |a| without_dpd(gateway(a)));
    let mut c = without_dpd(client());
    c.informational.initial_contact = initial_contact;
    let now = p.now;
    let again = ikeway_ikev1::Ikev1Sa::initiate(
        Arc::new(c),
        Arc::new(DefaultKex::default()),
        [7; 32],
        now,
        addr("10.0.0.1:500"),
        addr("10.0.0.2:500"),
    )
    .unwrap();
    p.client2 = Some(again);
    p.run();
    p
}

fn gateway_closed(p: &Pair, id: SaId) -> Vec<ikeway_sa::CloseReason> {
    p.gw_events
        .iter()
        .filter(|(sa, _)| *sa == id)
        .filter_map(|(_, e)| match ike(e)? {
            ikeway_sa::Event::IkeSaClosed { reason } => Some(*reason),
            _ => None,
        })
        .collect()
}

#[test]
fn our_gateway_drops_the_sas_a_restarted_client_left_when_its_initial_contact_comes() {
    let mut p = restarted(true);
    let sas = gateway_sas(&p);
    assert_eq!(sas.len(), 2);
    // The first run's SA is gone, with its ESP SA and its address; the new one is up with
    // its own ESP SA.
    assert_eq!(gateway_closed(&p, sas[0]), [ikeway_sa::CloseReason::DeletedByPeer]);
    assert!(p.gw.sa_mut(sas[0]).is_none(), "forgotten");
    let first_esp = installed(p.gw_plain_events())[0].spi_in;
    assert!(removed(p.gw_plain_events()).iter().any(|r| r.0 == first_esp));
    assert!(gateway_closed(&p, sas[1]).is_empty());
    assert_eq!(installed(&p.client2_events).len(), 1);
    assert_eq!(p.gw.len(), 1);
    // One address leased, the new client's; the old client was never told anything.
    assert_eq!(p.allocator.leased(), 1);
    assert!(closed(&p.client_events).is_empty());
}

#[test]
fn without_initial_contact_the_gateway_keeps_both_clients_sas() {
    let p = restarted(false);
    let sas = gateway_sas(&p);
    assert_eq!(sas.len(), 2);
    assert!(gateway_closed(&p, sas[0]).is_empty());
    assert!(removed(p.gw_plain_events()).is_empty());
    assert_eq!(p.gw.len(), 2);
    assert_eq!(p.allocator.leased(), 2);
}
