//! Dead peer detection (RFC 3706) in memory: an idle client checks on the gateway and is
//! answered, a peer that is heard from is not checked, and a gateway that went away is
//! declared unreachable after the configured retries.

mod quick_pair;

use std::time::Duration;

use ikeway_ikev1::informational::DpdConfig;
use ikeway_isakmp::ExchangeType;
use ikeway_sa::CloseReason;
use quick_pair::*;

fn dpd(interval: u64, retries: u32) -> Option<DpdConfig> {
    Some(DpdConfig {
        interval: Duration::from_secs(interval),
        retransmit: Duration::from_secs(5),
        retries,
    })
}

/// The client without INITIAL-CONTACT (`initial_contact.rs`): the informational messages
/// counted here are DPD's only.
fn client() -> ikeway_ikev1::Config {
    let mut c = quick_pair::client();
    c.informational.initial_contact = false;
    c
}

/// Informational messages (client to gateway, gateway to client) on the wire so far.
fn informationals(p: &Pair) -> (usize, usize) {
    let of = |to_gateway: bool| {
        p.wire
            .iter()
            .filter(|s| {
                s.to_gateway == to_gateway && s.exchange() == Some(ExchangeType::INFORMATIONAL)
            })
            .count()
    };
    (of(true), of(false))
}

#[test]
fn an_idle_client_checks_every_interval_and_each_check_is_answered() {
    let mut c = client();
    c.informational.dpd = dpd(30, 2);
    let mut p = Pair::connected(c, |a| {
        let mut g = gateway(a);
        g.informational.dpd = None;
        g
    });
    assert_eq!(informationals(&p), (0, 0));
    p.advance(Duration::from_secs(29));
    assert_eq!(informationals(&p), (0, 0), "not idle long enough yet");
    p.advance(Duration::from_secs(1));
    assert_eq!(informationals(&p), (1, 1), "R-U-THERE and its ACK");
    p.advance(Duration::from_secs(90));
    assert_eq!(informationals(&p), (4, 4), "one check every 30 s, each answered");
    assert!(p.client.is_established());
    assert!(closed(&p.client_events).is_empty());
    assert_eq!(p.client.stats().retransmits, 0);
}

#[test]
fn a_peer_that_is_heard_from_is_not_checked() {
    let mut c = client();
    c.informational.dpd = dpd(30, 2);
    let mut p = Pair::connected(c, |a| {
        let mut g = gateway(a);
        g.informational.dpd = dpd(20, 2);
        g
    });
    p.advance(Duration::from_secs(95));
    // The gateway checks at 20, 40, 60 and 80 s; each of its checks is the client hearing
    // from it, so the client never needs a check of its own: it only answers.
    assert_eq!(informationals(&p), (4, 4));
}

#[test]
fn a_gateway_that_stopped_answering_is_declared_unreachable_after_the_retries() {
    let mut c = client();
    c.informational.dpd = dpd(30, 2);
    let mut p = Pair::connected(c, |a| {
        let mut g = gateway(a);
        g.informational.dpd = None;
        g
    });
    let child = p.client.child_spis()[0];
    p.filter = Box::new(|s| s.to_gateway);
    p.advance(Duration::from_secs(44));
    assert!(p.client.is_established(), "first try at 30 s, resends at 35 and 40 s");
    assert_eq!(informationals(&p).0, 3);
    p.advance(Duration::from_secs(1));
    assert_eq!(closed(&p.client_events), vec![CloseReason::PeerUnreachable]);
    assert_eq!(removed(&p.client_events), vec![child], "its ESP SA goes with it");
    assert!(p.client.is_closed());
    assert_eq!(p.client.poll_timeout(), None);
}

#[test]
fn the_dpd_command_checks_at_once() {
    let mut c = client();
    c.informational.dpd = dpd(30, 2);
    let mut p = Pair::connected(c, gateway);
    let now = p.now;
    p.client.dpd(now);
    p.run();
    assert_eq!(informationals(&p), (1, 1));
}

#[test]
fn esp_traffic_from_the_peer_counts_as_hearing_from_it() {
    let mut c = client();
    c.informational.dpd = dpd(30, 2);
    let mut p = Pair::connected(c, |a| {
        let mut g = gateway(a);
        g.informational.dpd = None;
        g
    });
    p.advance(Duration::from_secs(20));
    let now = p.now;
    p.client.peer_traffic_seen(now);
    p.advance(Duration::from_secs(29));
    assert_eq!(informationals(&p), (0, 0), "the datapath saw the peer 29 s ago");
    p.advance(Duration::from_secs(1));
    assert_eq!(informationals(&p), (1, 1));
}
