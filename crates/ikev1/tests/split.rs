//! Split tunnels in memory: a gateway whose mode config names the networks behind it (Cisco
//! UNITY split include) gets one quick mode, one ESP SA, per network, asked one after the
//! other, each rekeyed by itself; a network it refuses does not keep the next from coming up.

mod quick_pair;

use std::net::IpAddr;
use std::time::Duration;

use ikeway_ikev1::quick::{MAX_SPLIT_NETWORKS, Subnet};
use ikeway_isakmp::ExchangeType;
use ikeway_sa::AddressPool;
use quick_pair::*;

/// The standard pool with `nets` as its split networks.
fn pool_with(nets: &[(&str, u8)]) -> AddressPool {
    AddressPool {
        subnets: nets.iter().map(|&(a, l)| (a.parse::<IpAddr>().unwrap(), l)).collect(),
        ..pool()
    }
}

const THREE: [(&str, u8); 3] = [("192.168.10.0", 24), ("172.16.0.0", 16), ("10.20.30.0", 24)];

fn three_ts() -> Vec<Vec<ikeway_codec::TrafficSelector>> {
    vec![
        vec![net_ts("192.168.10.0", "192.168.10.255")],
        vec![net_ts("172.16.0.0", "172.16.255.255")],
        vec![net_ts("10.20.30.0", "10.20.30.255")],
    ]
}

#[test]
fn a_split_include_of_three_networks_brings_up_three_esp_sas_one_quick_mode_at_a_time() {
    let p = Pair::with_pool(client(), gateway, pool_with(&THREE));
    let mut p = p;
    p.run();
    let config = configs(&p.client_events);
    assert_eq!(config.len(), 1);
    let nets: Vec<(IpAddr, u8)> = THREE.iter().map(|&(a, l)| (a.parse().unwrap(), l)).collect();
    assert_eq!(config[0].subnets, nets);
    let c = installed(&p.client_events);
    let g = installed(p.gw_plain_events());
    assert_eq!((c.len(), g.len()), (3, 3));
    for (i, want) in three_ts().into_iter().enumerate() {
        assert_eq!(c[i].local_ts, vec![host_ts("10.9.0.10")], "SA {i}");
        assert_eq!(c[i].remote_ts, want, "SA {i}");
        assert_eq!(c[i].replaces, None);
        assert_mirrored(c[i], g[i]);
    }
    assert_eq!(p.client.child_spis().len(), 3);
    // The quick modes on the wire: each one's three messages before the next one's first.
    let quick: Vec<bool> = p
        .wire
        .iter()
        .filter(|s| s.exchange() == Some(ExchangeType::QUICK))
        .map(|s| s.to_gateway)
        .collect();
    assert_eq!(quick, [true, false, true].repeat(3));
}

#[test]
fn each_split_sa_is_rekeyed_by_itself_for_its_own_network() {
    let mut c = client();
    c.quick.lifetime = Duration::from_secs(600);
    c.quick.rekey_margin = Duration::from_secs(60);
    c.informational.dpd = None;
    let mut p = Pair::with_pool(
        c,
        |a| {
            let mut g = gateway(a);
            g.informational.dpd = None;
            g
        },
        pool_with(&THREE),
    );
    p.run();
    let old = p.client.child_spis();
    assert_eq!(old.len(), 3);
    p.advance(Duration::from_secs(540));
    let c = installed(&p.client_events);
    assert_eq!(c.len(), 6);
    for (i, want) in three_ts().into_iter().enumerate() {
        let fresh = c[3 + i];
        assert_eq!(fresh.replaces, Some(old[i].0), "rekey {i}");
        assert_eq!(fresh.remote_ts, want, "rekey {i}");
        assert_mirrored(fresh, installed(p.gw_plain_events())[3 + i]);
    }
    assert_eq!(removed(&p.client_events), old);
    let now: Vec<u32> = p.client.child_spis().iter().map(|s| s.0).collect();
    assert_eq!(now, c[3..].iter().map(|i| i.spi_in).collect::<Vec<_>>());
}

#[test]
fn more_split_networks_than_the_bound_get_sas_and_are_reported_for_the_first_only() {
    let names: Vec<String> = (0..12).map(|i| format!("10.{}.0.0", 100 + i)).collect();
    let nets: Vec<(&str, u8)> = names.iter().map(|n| (n.as_str(), 16)).collect();
    let mut p = Pair::with_pool(client(), gateway, pool_with(&nets));
    p.run();
    assert_eq!(MAX_SPLIT_NETWORKS, 8);
    let reported = &configs(&p.client_events)[0].subnets;
    let first8: Vec<(IpAddr, u8)> = names[..8].iter().map(|n| (n.parse().unwrap(), 16)).collect();
    assert_eq!(reported, &first8);
    let c = installed(&p.client_events);
    assert_eq!(c.len(), 8);
    let last = c[7].remote_ts.clone();
    assert_eq!(last, vec![net_ts("10.107.0.0", "10.107.255.255")]);
}

#[test]
fn a_split_network_the_gateway_refuses_does_not_keep_the_next_from_coming_up() {
    // This gateway speaks only for 192.168.10.0/24: the client's quick mode for 172.16.0.0/16,
    // asked first, is refused with INVALID-ID-INFORMATION; the next one comes up.
    let nets = [("172.16.0.0", 16), ("192.168.10.0", 24)];
    let mut p = Pair::with_pool(
        client(),
        |a| {
            let mut g = gateway(a);
            g.quick.local = Some(Subnet { addr: "192.168.10.0".parse().unwrap(), prefix: 24 });
            g
        },
        pool_with(&nets),
    );
    p.run();
    let refused: Vec<_> = p
        .client_events
        .iter()
        .filter_map(|e| match ike(e)? {
            ikeway_sa::Event::ChildSaRefused { notify } => Some(*notify),
            _ => None,
        })
        .collect();
    assert_eq!(refused, vec![ikeway_codec::NotifyType(18)]);
    let c = installed(&p.client_events);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].remote_ts, vec![net_ts("192.168.10.0", "192.168.10.255")]);
    assert_mirrored(c[0], installed(p.gw_plain_events())[0]);
}

#[test]
fn without_a_split_include_the_one_quick_mode_is_for_everything() {
    let mut p = Pair::with_pool(client(), gateway, pool_with(&[]));
    p.run();
    assert!(configs(&p.client_events)[0].subnets.is_empty());
    let c = installed(&p.client_events);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].remote_ts, vec![any_v4_ts()]);
}
