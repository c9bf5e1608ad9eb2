//! Kilobyte lifetimes of ESP SAs (SA Life Type 2, RFC 2407 §4.5) in memory: offered, answered,
//! held to less with RESPONDER-LIFETIME, refused under 1 MiB, and handed to the datapath as
//! `ChildSaInfo::lifetime_bytes` on both sides (whose ESP counts bytes and asks for the rekey).

mod quick_pair;

use ikeway_ikev1::Config;
use quick_pair::*;

fn with_kb(mut c: Config, kb: Option<u32>) -> Config {
    c.quick.lifetime_kilobytes = kb;
    c
}

fn refusals(p: &Pair) -> Vec<ikeway_codec::NotifyType> {
    p.client_events
        .iter()
        .filter_map(|e| match ike(e)? {
            ikeway_sa::Event::ChildSaRefused { notify } => Some(*notify),
            _ => None,
        })
        .collect()
}

/// The byte lifetimes both ends gave their datapath for the one ESP SA.
fn both(p: &Pair) -> (Option<u64>, Option<u64>) {
    let (c, g) = (installed(&p.client_events), installed(p.gw_plain_events()));
    assert_eq!((c.len(), g.len()), (1, 1), "one ESP SA each");
    assert_mirrored(c[0], g[0]);
    (c[0].lifetime_bytes, g[0].lifetime_bytes)
}

#[test]
fn an_offered_kilobyte_lifetime_reaches_both_datapaths_in_bytes() {
    let p = Pair::connected(with_kb(client(), Some(4096)), gateway);
    assert_eq!(both(&p), (Some(4096 * 1024), Some(4096 * 1024)));
    let p = Pair::connected(client(), gateway);
    assert_eq!(both(&p), (None, None), "none offered, none held");
}

#[test]
fn a_gateway_holding_the_sa_to_fewer_kilobytes_says_so_and_the_client_takes_it() {
    // The gateway's 2048 KB beside the client's 4096: RESPONDER-LIFETIME, both at 2048.
    let p = Pair::connected(with_kb(client(), Some(4096)), |a| with_kb(gateway(a), Some(2048)));
    assert_eq!(both(&p), (Some(2048 * 1024), Some(2048 * 1024)));
    // A gateway with a limit the client did not offer: held to it all the same.
    let p = Pair::connected(client(), |a| with_kb(gateway(a), Some(2048)));
    assert_eq!(both(&p), (Some(2048 * 1024), Some(2048 * 1024)));
}

#[test]
fn kilobyte_lifetimes_under_a_mebibyte_are_refused_from_either_side() {
    // Offered by the client: the gateway finds no acceptable transform.
    let p = Pair::connected(with_kb(client(), Some(512)), gateway);
    assert_eq!(refusals(&p), vec![ikeway_codec::NotifyType::NO_PROPOSAL_CHOSEN]);
    assert!(installed(p.gw_plain_events()).is_empty());
    // Held to by the gateway (RESPONDER-LIFETIME 512 KB): the client sends no message 3.
    let p = Pair::connected(client(), |a| with_kb(gateway(a), Some(512)));
    assert_eq!(refusals(&p), vec![ikeway_codec::NotifyType::NO_PROPOSAL_CHOSEN]);
    assert!(installed(&p.client_events).is_empty());
    assert!(installed(p.gw_plain_events()).is_empty());
    assert!(p.client.is_established(), "the ISAKMP SA stays");
}
