//! NAT traversal: detection, floating to port 4500 with the non-ESP marker, keepalives.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Impairments, Pair, client_config, server_config};
use ikeway_sa::{Event, InsecureKexForFuzzing};

#[test]
fn nat_is_detected_and_ike_floats_to_4500() {
    let impair = Impairments { nat: true, ..Impairments::default() };
    let mut pair =
        Pair::with(client_config(), server_config(), Arc::new(InsecureKexForFuzzing), 81, impair);
    pair.establish();
    assert!(pair.initiator_events.iter().any(|e| matches!(
        e,
        Event::NatDetected { local_behind_nat: true, remote_behind_nat: false }
    )));
    assert!(pair.responder_events.iter().any(|(_, e)| matches!(
        e,
        Event::NatDetected { local_behind_nat: false, remote_behind_nat: true }
    )));
    assert_eq!(pair.initiator.local().port(), 4500);
    assert_eq!(pair.initiator.remote().port(), 4500);
    // The responder answers the NAT's public mapping of port 4500.
    assert_eq!(pair.responder_sa().remote(), "192.0.2.99:44500".parse().unwrap());
    // Everything after IKE_SA_INIT carries the non-ESP marker.
    assert!(pair.transcript[2..].iter().all(|m| m[..4] == [0, 0, 0, 0]));
    let child = pair
        .initiator_events
        .iter()
        .find_map(|e| match e {
            Event::ChildSaInstalled(c) => Some(c),
            _ => None,
        })
        .unwrap();
    assert!(child.udp_encapsulation);
}

#[test]
fn keepalives_flow_from_behind_the_nat() {
    let impair = Impairments { nat: true, ..Impairments::default() };
    let mut client = client_config();
    client.dpd_interval = None;
    let mut pair = Pair::with(client, server_config(), Arc::new(InsecureKexForFuzzing), 82, impair);
    pair.establish();
    let before = pair.transcript.len();
    pair.run_until(Duration::from_secs(61), |_| false);
    let keepalives = pair.transcript[before..].iter().filter(|m| m.as_slice() == [0xff]).count();
    assert_eq!(keepalives, 3);
}

/// The child SA each side installed: whether it is UDP-encapsulated.
fn encapsulated(pair: &Pair) -> (bool, bool) {
    let child = |e: &Event| match e {
        Event::ChildSaInstalled(c) => Some(c.udp_encapsulation),
        _ => None,
    };
    let initiator = pair.initiator_events.iter().find_map(child).unwrap();
    let responder = pair.responder_events.iter().find_map(|(_, e)| child(e)).unwrap();
    (initiator, responder)
}

/// On a direct path (no NAT), `force_udp_encapsulation` at either end fakes our NAT detection
/// source hash: the peer sees a NAT in front of the forcing side (the forcing side reports
/// none), IKE floats to 4500 after IKE_SA_INIT, and both ends' child SAs are UDP-encapsulated.
/// Without it nothing floats.
#[test]
fn forced_encapsulation_floats_a_direct_path_from_either_end() {
    for (seed, force_i, force_r) in [(83, false, false), (84, true, false), (85, false, true)] {
        let mut client = client_config();
        client.force_udp_encapsulation = force_i;
        let mut server = server_config();
        server.force_udp_encapsulation = force_r;
        let mut pair = Pair::with(
            client,
            server,
            Arc::new(InsecureKexForFuzzing),
            seed,
            Impairments::default(),
        );
        pair.establish();
        let forced = force_i || force_r;
        let nat_i = pair.initiator_events.iter().find_map(|e| match e {
            Event::NatDetected { local_behind_nat, remote_behind_nat } => {
                Some((*local_behind_nat, *remote_behind_nat))
            }
            _ => None,
        });
        let nat_r = pair.responder_events.iter().find_map(|(_, e)| match e {
            Event::NatDetected { local_behind_nat, remote_behind_nat } => {
                Some((*local_behind_nat, *remote_behind_nat))
            }
            _ => None,
        });
        let (want_i, want_r) = match (force_i, force_r) {
            (false, false) => (None, None),
            // What each side reports is what it saw: only the forcing side's faked hash.
            (true, false) => (None, Some((false, true))),
            _ => (Some((false, true)), None),
        };
        assert_eq!((nat_i, nat_r), (want_i, want_r), "forced {force_i}/{force_r}");
        let port = if forced { 4500 } else { 500 };
        assert_eq!(pair.initiator.local().port(), port);
        assert_eq!(pair.initiator.remote().port(), port);
        assert_eq!(pair.responder_sa().local().port(), port);
        assert_eq!(pair.responder_sa().remote().port(), port);
        // After IKE_SA_INIT, every message carries the non-ESP marker exactly when floated.
        assert!(pair.transcript[2..].iter().all(|m| (m[..4] == [0, 0, 0, 0]) == forced));
        assert_eq!(encapsulated(&pair), (forced, forced), "forced {force_i}/{force_r}");
    }
}
