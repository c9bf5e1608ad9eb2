//! XAUTH after aggressive mode with a group name and shared secret, both roles in memory:
//! the whole Apple flow up to the first ESP SA, a wrong password, a prompted password, and a
//! lost message answered again.

mod quick_pair;

use ikeway_crypto::SecretBytes;
use ikeway_ikev1::Event;
use ikeway_isakmp::ExchangeType;
use ikeway_sa::{CloseReason, ConfigReceived};
use quick_pair::*;

#[test]
fn aggressive_psk_then_xauth_then_mode_config_then_quick_mode_brings_up_one_esp_sa() {
    let p = Pair::connected(client(), gateway);
    assert_eq!(ups(&p.client_events), 1);
    assert_eq!(ups(p.gw_plain_events()), 1);
    assert_eq!(
        configs(&p.client_events),
        vec![&ConfigReceived {
            addresses: vec![("10.9.0.10".parse().unwrap(), 32)],
            dns: vec!["10.9.0.1".parse().unwrap()],
            dns_domains: vec!["corp.example".into(), "lab.example".into()],
            subnets: vec![("192.168.10.0".parse().unwrap(), 24)],
        }]
    );
    let banners: Vec<&String> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::Banner(b) => Some(b),
            _ => None,
        })
        .collect();
    assert_eq!(banners, vec!["Authorised use only.\nAll access is logged."]);
    let c = installed(&p.client_events);
    let g = installed(p.gw_plain_events());
    assert_eq!((c.len(), g.len()), (1, 1));
    assert_mirrored(c[0], g[0]);
    // The client speaks for its mode config address to the split network mode config named
    // (192.168.10.0/24: one network, one quick mode).
    assert_eq!(c[0].local_ts, vec![host_ts("10.9.0.10")]);
    assert_eq!(c[0].remote_ts, vec![net_ts("192.168.10.0", "192.168.10.255")]);
    assert!(!c[0].udp_encapsulation);
    assert_eq!(c[0].lifetime, std::time::Duration::from_secs(3600));
    assert_eq!(c[0].replaces, None);
    // The events come in the order a runtime needs them.
    let order: Vec<&str> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::Ike(ikeway_sa::Event::IkeSaUp { .. }) => Some("up"),
            Event::Ike(ikeway_sa::Event::ConfigReceived(_)) => Some("config"),
            Event::Banner(_) => Some("banner"),
            Event::Ike(ikeway_sa::Event::ChildSaInstalled(_)) => Some("child"),
            _ => None,
        })
        .collect();
    assert_eq!(order, ["up", "config", "banner", "child"]);
    // Aggressive 3, transaction 6 (XAUTH 4, mode config 2), quick mode 3.
    let kinds: Vec<Option<ExchangeType>> = p.wire.iter().map(Sent::exchange).collect();
    let count = |x| kinds.iter().filter(|k| **k == Some(x)).count();
    assert_eq!(count(ExchangeType::AGGRESSIVE), 3);
    assert_eq!(count(ExchangeType::TRANSACTION), 6);
    assert_eq!(count(ExchangeType::QUICK), 3);
    assert_eq!(p.allocator.leased(), 1);
}

#[test]
fn a_wrong_xauth_password_closes_both_sides_with_xauth_failed_and_no_esp_sa() {
    let mut c = client();
    c.transaction.xauth_client.as_mut().unwrap().password =
        Some(SecretBytes::from_slice(b"wrong password"));
    let p = Pair::connected(c, gateway);
    assert_eq!(closed(&p.client_events), vec![CloseReason::XauthFailed]);
    assert_eq!(closed(p.gw_plain_events()), vec![CloseReason::XauthFailed]);
    assert_eq!(ups(&p.client_events), 0, "the SA is never reported up");
    assert_eq!(ups(p.gw_plain_events()), 0);
    assert!(configs(&p.client_events).is_empty());
    assert!(installed(&p.client_events).is_empty());
    assert!(p.client.is_closed());
    assert_eq!(p.allocator.leased(), 0, "no address was leased");
    // The client acknowledges the FAIL, then deletes the ISAKMP SA itself: libreswan 4.10
    // keeps its SA after a FAIL and asks again until told (its interop run).
    let from_client: Vec<Option<ExchangeType>> =
        p.wire.iter().filter(|s| s.to_gateway).map(Sent::exchange).collect();
    assert_eq!(
        from_client[from_client.len() - 2..],
        [Some(ExchangeType::TRANSACTION), Some(ExchangeType::INFORMATIONAL)],
        "{from_client:?}"
    );
    assert_eq!(
        CloseReason::XauthFailed.to_string(),
        "extended authentication (XAUTH) failed: wrong user name or password"
    );
}

#[test]
fn an_unknown_user_fails_like_a_wrong_password() {
    let mut c = client();
    c.transaction.xauth_client.as_mut().unwrap().username = "mallory".into();
    let p = Pair::connected(c, gateway);
    assert_eq!(closed(&p.client_events), vec![CloseReason::XauthFailed]);
    assert_eq!(closed(p.gw_plain_events()), vec![CloseReason::XauthFailed]);
}

#[test]
fn without_a_stored_password_the_user_is_asked_and_the_answer_goes_to_the_gateway() {
    let mut c = client();
    c.transaction.xauth_client.as_mut().unwrap().password = None;
    let mut p = Pair::connected(c, gateway);
    let asked: Vec<&Event> = p
        .client_events
        .iter()
        .filter(|e| matches!(e, Event::XauthPasswordRequired { .. }))
        .collect();
    assert_eq!(asked.len(), 1);
    assert!(matches!(
        asked[0],
        Event::XauthPasswordRequired { username: Some(u), message: None } if u == USER
    ));
    assert_eq!(ups(&p.client_events), 0);
    // The gateway's resends of its REQUEST while the user types are not answered twice.
    p.advance(std::time::Duration::from_secs(3));
    let asked_again =
        p.client_events.iter().filter(|e| matches!(e, Event::XauthPasswordRequired { .. })).count();
    assert_eq!(asked_again, 1);
    p.client.xauth_reply(None, SecretBytes::from_slice(PASSWORD));
    p.run();
    assert_eq!(ups(&p.client_events), 1);
    assert_eq!(installed(&p.client_events).len(), 1);
    assert_eq!(installed(p.gw_plain_events()).len(), 1);
}

#[test]
fn a_lost_xauth_reply_is_sent_again_when_the_gateway_repeats_its_request() {
    let mut p = Pair::new(client(), gateway);
    // Drop the client's first transaction message (its REPLY to the XAUTH REQUEST).
    let mut dropped = false;
    p.filter = Box::new(move |s| {
        if s.to_gateway && !dropped && s.exchange() == Some(ExchangeType::TRANSACTION) {
            dropped = true;
            return false;
        }
        true
    });
    p.run();
    assert_eq!(ups(&p.client_events), 0);
    p.advance(std::time::Duration::from_secs(2));
    assert_eq!(p.client.stats().replayed_responses, 1, "the REPLY came from the cache");
    assert_eq!(ups(&p.client_events), 1);
    assert_eq!(ups(p.gw_plain_events()), 1);
    assert_eq!(installed(&p.client_events).len(), 1);
}
