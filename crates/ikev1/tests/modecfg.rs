//! Mode config after XAUTH, in memory: pushed by the gateway (SET/ACK) as Cisco does, what a
//! client without Cisco Unity gets, and the first quick mode's client IDs from the lease.

mod quick_pair;

use ikeway_ikev1::Event;
use ikeway_ikev1::transaction::ModeConfigClient;
use ikeway_isakmp::ExchangeType;
use ikeway_sa::ConfigReceived;
use quick_pair::*;

fn transaction_messages(p: &Pair) -> (usize, usize) {
    let of = |to_gateway: bool| {
        p.wire
            .iter()
            .filter(|s| {
                s.to_gateway == to_gateway && s.exchange() == Some(ExchangeType::TRANSACTION)
            })
            .count()
    };
    (of(true), of(false))
}

#[test]
fn a_pushed_mode_config_is_acknowledged_and_reported_like_a_pulled_one() {
    let mut c = client();
    c.transaction.mode_config = Some(ModeConfigClient::Push);
    let p = Pair::connected(c, |a| {
        let mut g = gateway(a);
        g.transaction.mode_config_server.as_mut().unwrap().push = true;
        g
    });
    assert_eq!(
        configs(&p.client_events),
        vec![&ConfigReceived {
            addresses: vec![("10.9.0.10".parse().unwrap(), 32)],
            dns: vec!["10.9.0.1".parse().unwrap()],
            dns_domains: vec!["corp.example".into(), "lab.example".into()],
            subnets: vec![("192.168.10.0".parse().unwrap(), 24)],
        }]
    );
    // XAUTH REQUEST, REPLY, SET, ACK, then the pushed SET and its ACK.
    assert_eq!(transaction_messages(&p), (3, 3));
    let c = installed(&p.client_events);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].local_ts, vec![host_ts("10.9.0.10")]);
    assert_mirrored(c[0], installed(p.gw_plain_events())[0]);
}

#[test]
fn without_cisco_unity_only_the_address_and_dns_are_asked_for_and_given() {
    let mut c = client();
    c.cisco_unity = false;
    let p = Pair::connected(c, gateway);
    assert_eq!(
        configs(&p.client_events),
        vec![&ConfigReceived {
            addresses: vec![("10.9.0.10".parse().unwrap(), 32)],
            dns: vec!["10.9.0.1".parse().unwrap()],
            dns_domains: vec![],
            subnets: vec![],
        }]
    );
    assert!(!p.client_events.iter().any(|e| matches!(e, Event::Banner(_))));
}

#[test]
fn without_mode_config_the_quick_mode_is_between_the_ike_addresses() {
    let mut c = client();
    c.transaction.mode_config = None;
    let p = Pair::connected(c, gateway);
    assert!(configs(&p.client_events).is_empty());
    let c = installed(&p.client_events);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].local_ts, vec![host_ts("10.0.0.1")]);
    assert_eq!(c[0].remote_ts, vec![host_ts("10.0.0.2")]);
    assert_eq!(p.allocator.leased(), 0);
}

#[test]
fn two_clients_get_different_addresses_and_the_first_gets_its_own_back_after_it_leaves() {
    let mut first = Pair::connected(client(), gateway);
    let allocator = first.allocator.clone();
    let second = Pair::connected(client(), |_| gateway(allocator.clone()));
    assert_eq!(
        configs(&second.client_events)[0].addresses,
        vec![("10.9.0.11".parse().unwrap(), 32)]
    );
    assert_eq!(allocator.leased(), 2);
    let now = first.now;
    first.client.delete_ike(now);
    first.run();
    assert_eq!(allocator.leased(), 1);
}

#[test]
fn what_the_gateway_says_beyond_the_configuration_is_reported_apart_and_not_applied() {
    use ikeway_isakmp::{ConfigAttribute, ConfigAttributeType as T};
    let p = Pair::connected(client(), |a| {
        let mut g = gateway(a);
        g.transaction.mode_config_server.as_mut().unwrap().extra = vec![
            ConfigAttribute::ipv4(T::INTERNAL_IP4_NBNS, "10.9.0.4".parse().unwrap()),
            ConfigAttribute::integer(T::INTERNAL_ADDRESS_EXPIRY, 3600),
            ConfigAttribute::basic(T::UNITY_SAVE_PASSWD, 0),
            ConfigAttribute::text(T::UNITY_BACKUP_SERVERS, "vpn2.corp.example"),
        ];
        g
    });
    let notes: Vec<_> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            Event::ModeConfigNotes(n) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(
        notes,
        vec![&ikeway_ikev1::transaction::ModeConfigNotes {
            nbns: vec!["10.9.0.4".parse().unwrap()],
            address_expiry_s: Some(3600),
            save_password: Some(false),
            backup_servers: vec!["vpn2.corp.example".into()],
            ..Default::default()
        }]
    );
    // What the client applies is what it was without them.
    assert_eq!(
        configs(&p.client_events)[0].dns,
        vec!["10.9.0.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(installed(&p.client_events).len(), 1);
    // A gateway that says none of it: no such event.
    let plain = Pair::connected(client(), gateway);
    assert!(!plain.client_events.iter().any(|e| matches!(e, Event::ModeConfigNotes(_))));
}
