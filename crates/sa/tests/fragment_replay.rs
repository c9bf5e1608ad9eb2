//! Issue 9 finding 11: retransmitted fragments (RFC 7383 §2.6.1). Only a first fragment whose
//! ICV verifies makes the responder resend its cached response; a forged or a later fragment
//! makes it send nothing. Incomplete reassemblies time out and release their memory.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{CLIENT, Pair, SERVER, addr, fragmenting_configs};
use ikeway_sa::InsecureKexForFuzzing;

/// Offsets in an IKE message: the first payload type, the flags, and (in an SKF payload that
/// comes first) the fragment number (RFC 7383 §2.5).
const NEXT_PAYLOAD: usize = 16;
const FLAGS: usize = 19;
const FRAGMENT_NUMBER: usize = 28 + 4;
const SKF: u8 = 53;

/// A pair whose IKE_AUTH went both ways as fragments, established.
fn fragmented_pair(seed: u64) -> Pair {
    let (client, server) = fragmenting_configs(300);
    let mut pair = Pair::new(client, server, Arc::new(InsecureKexForFuzzing), seed);
    pair.establish();
    pair
}

/// The SKF datagrams of one direction, in the order they were sent.
fn fragments(pair: &Pair, from_initiator: bool) -> Vec<Vec<u8>> {
    pair.transcript
        .iter()
        .filter(|m| m.len() > FRAGMENT_NUMBER + 2 && m[NEXT_PAYLOAD] == SKF)
        .filter(|m| (m[FLAGS] & 0x08 != 0) == from_initiator)
        .cloned()
        .collect()
}

fn fragment_number(m: &[u8]) -> u16 {
    u16::from_be_bytes([m[FRAGMENT_NUMBER], m[FRAGMENT_NUMBER + 1]])
}

fn transmits(pair: &mut Pair) -> usize {
    let mut buf = vec![0u8; 65536];
    let mut n = 0;
    while let Some(t) = pair.responder.poll_transmit(&mut buf) {
        t.expect("64 KiB is enough");
        n += 1;
    }
    n
}

/// Issue 9 finding 11: a copy of an answered request's fragment with a broken ICV (an
/// off-path attacker who only knows the SPIs and message ID) makes the responder send
/// nothing and counts it; before, any SKF with the right SPIs and message ID resent the whole
/// cached response.
#[test]
fn forged_fragment_with_bad_icv_causes_no_transmit() {
    let mut pair = fragmented_pair(111);
    let auth = fragments(&pair, true);
    assert!(auth.len() >= 3, "{} IKE_AUTH fragments", auth.len());
    let mut forged = auth[0].clone();
    let last = forged.len() - 1;
    forged[last] ^= 0x01;
    let before = pair.responder_sa().stats();
    pair.responder.handle_datagram(pair.now, addr(CLIENT), addr(SERVER), &forged);
    assert_eq!(transmits(&mut pair), 0);
    let after = pair.responder_sa().stats();
    assert_eq!(after.dropped_unauthenticated, before.dropped_unauthenticated + 1);
    assert_eq!(after.replayed_responses, before.replayed_responses);
}

/// Issue 9 finding 11: an authentic retransmission of fragment 2 answers nothing (only
/// fragment 1 does, RFC 7383 §2.6.1) and is counted as ignored.
#[test]
fn valid_retransmitted_second_fragment_causes_no_transmit() {
    let mut pair = fragmented_pair(112);
    let auth = fragments(&pair, true);
    assert_eq!(fragment_number(&auth[1]), 2);
    let before = pair.responder_sa().stats();
    pair.responder.handle_datagram(pair.now, addr(CLIENT), addr(SERVER), &auth[1]);
    assert_eq!(transmits(&mut pair), 0);
    let after = pair.responder_sa().stats();
    assert_eq!(after.ignored_fragments, before.ignored_fragments + 1);
    assert_eq!(after.replayed_responses, before.replayed_responses);
}

/// Issue 9 finding 11: an authentic retransmission of fragment 1 resends the whole cached
/// response, every fragment of it, once.
#[test]
fn retransmitted_first_fragment_resends_the_cached_response() {
    let mut pair = fragmented_pair(113);
    let auth = fragments(&pair, true);
    let response = fragments(&pair, false);
    assert!(response.len() >= 2, "the IKE_AUTH response went as {} fragments", response.len());
    assert_eq!(fragment_number(&auth[0]), 1);
    let before = pair.responder_sa().stats();
    pair.responder.handle_datagram(pair.now, addr(CLIENT), addr(SERVER), &auth[0]);
    assert_eq!(transmits(&mut pair), response.len());
    let after = pair.responder_sa().stats();
    assert_eq!(after.replayed_responses, before.replayed_responses + 1);
}

/// Issue 9 finding 11: a fragmented request missing its last fragment is dropped when its
/// reassembly times out (the SA asks to be woken for it), and its memory is released.
#[test]
fn incomplete_request_is_dropped_after_the_timeout() {
    let mut pair = fragmented_pair(114);
    let now = pair.now;
    pair.initiator.create_child(now);
    let mut buf = vec![0u8; 65536];
    let mut request = Vec::new();
    while let Some(t) = pair.initiator.poll_transmit(&mut buf) {
        request.push(buf[..t.expect("64 KiB is enough").len].to_vec());
    }
    assert!(request.len() >= 2, "CREATE_CHILD_SA went as {} fragments", request.len());
    for f in &request[..request.len() - 1] {
        pair.responder.handle_datagram(now, addr(CLIENT), addr(SERVER), f);
    }
    assert_eq!(transmits(&mut pair), 0);
    assert!(pair.responder_sa().reassembly_bytes() > 0);
    let expiry = now + Duration::from_secs(30);
    assert!(pair.responder.poll_timeout().is_some_and(|t| t <= expiry));
    pair.responder.handle_timeout(expiry);
    let sa = pair.responder_sa();
    assert_eq!(sa.reassembly_bytes(), 0);
    assert_eq!(sa.stats().reassemblies_expired, 1);
}
