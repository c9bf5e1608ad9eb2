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
