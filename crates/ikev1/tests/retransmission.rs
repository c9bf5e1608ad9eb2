//! Retransmission of the exchanges after phase 1, in memory: a resent request is the very
//! datagram sent first (RFC 2409 Appendix B: the same bytes under the same IV), and the side
//! that answered it resends its stored answer instead of decrypting it again under an IV
//! chain that has moved on.

mod quick_pair;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use ikeway_isakmp::ExchangeType;
use quick_pair::*;

/// The transaction datagrams one side sent, in order (dropped ones included).
fn transactions(p: &Pair, to_gateway: bool) -> Vec<Vec<u8>> {
    p.wire
        .iter()
        .filter(|s| s.to_gateway == to_gateway && s.exchange() == Some(ExchangeType::TRANSACTION))
        .map(|s| s.bytes.clone())
        .collect()
}

/// A pair whose gateway's mode config REPLY (its third transaction message, after the XAUTH
/// REQUEST and SET) is dropped the first time.
fn pair_losing_the_first_mode_config_reply() -> Pair {
    let mut p = Pair::new(client(), gateway);
    let seen = Rc::new(RefCell::new(0u32));
    let counter = seen.clone();
    p.filter = Box::new(move |s| {
        if s.to_gateway || s.exchange() != Some(ExchangeType::TRANSACTION) {
            return true;
        }
        *counter.borrow_mut() += 1;
        *counter.borrow() != 3
    });
    p.run();
    assert_eq!(*seen.borrow(), 3, "the reply was sent (and dropped)");
    assert!(configs(&p.client_events).is_empty(), "no configuration without the reply");
    p
}

/// Checks that the client's mode config request went out twice, byte for byte the same, that
/// the gateway answered the second with the first reply's bytes, and that the connection came
/// up with one lease.
fn assert_resent_and_answered_from_the_stored_reply(p: &mut Pair) {
    // Client: XAUTH REPLY, XAUTH ACK, mode config REQUEST, its resend.
    let ours = transactions(p, true);
    assert_eq!(ours.len(), 4, "client transaction messages");
    assert_eq!(ours[3], ours[2], "the resent mode config request is the first one's bytes");
    // Gateway: XAUTH REQUEST, SET, REPLY (lost), the same REPLY again.
    let theirs = transactions(p, false);
    assert_eq!(theirs.len(), 4, "gateway transaction messages");
    assert_eq!(theirs[3], theirs[2], "the gateway resent its stored reply");
    assert_eq!(p.client.stats().retransmits, 1);
    assert_eq!(p.gw_sa().stats().replayed_responses, 1);
    let got = configs(&p.client_events);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].addresses, vec![("10.9.0.10".parse().unwrap(), 32)]);
    assert_eq!(installed(&p.client_events).len(), 1);
    assert!(closed(&p.client_events).is_empty(), "{:?}", p.client_events);
}

#[test]
fn a_lost_mode_config_reply_is_resent_by_the_gateway_for_the_byte_identical_request() {
    let mut p = pair_losing_the_first_mode_config_reply();
    p.advance(Duration::from_secs(10));
    assert_resent_and_answered_from_the_stored_reply(&mut p);
}

/// strongSwan 5.9.8 remembers only the last request it answered: an R-U-THERE-ACK of ours in
/// between made it decrypt our resent mode config request under the IV its reply moved to
/// (PAYLOAD-MALFORMED, "invalid HASH_V1 payload length"). Our gateway keeps the stored reply by
/// message ID, so a DPD exchange in between changes nothing.
#[test]
fn a_dpd_exchange_between_the_lost_reply_and_the_resend_does_not_hide_the_stored_reply() {
    let mut p = pair_losing_the_first_mode_config_reply();
    let sent_before = p.wire.len();
    p.gw_command(|sa, now| sa.dpd(now));
    let dpd: Vec<_> = p.wire[sent_before..].iter().map(|s| (s.to_gateway, s.exchange())).collect();
    assert_eq!(
        dpd,
        [(false, Some(ExchangeType::INFORMATIONAL)), (true, Some(ExchangeType::INFORMATIONAL))],
        "R-U-THERE and its ACK"
    );
    p.advance(Duration::from_secs(10));
    assert_resent_and_answered_from_the_stored_reply(&mut p);
}

/// Where strongSwan fails (see above): our resend is not recognised, the gateway answers an
/// authenticated PAYLOAD-MALFORMED, and the client sends its mode config request again as a
/// new exchange (new message ID, fresh IV), which the gateway answers with the same lease.
#[test]
fn a_peer_refusing_our_resent_mode_config_request_gets_it_again_as_a_new_exchange() {
    use ikeway_isakmp::payload::chain_to_vec;
    use ikeway_isakmp::{NotificationRepr, NotifyType, Payload, PayloadType};

    let mut p = pair_losing_the_first_mode_config_reply();
    let first = transactions(&p, true)[2].clone();
    // The peer cannot make sense of the request any more: every copy of it is lost to it.
    let unrecognised = first.clone();
    p.filter = Box::new(move |s| !(s.to_gateway && s.bytes == unrecognised));
    for _ in 0..60 {
        if p.client.stats().retransmits == 1 {
            break;
        }
        p.advance(Duration::from_millis(500));
    }
    assert_eq!(p.client.stats().retransmits, 1, "the client resent its request");
    // The gateway's authenticated PAYLOAD-MALFORMED, as strongSwan sends it.
    let (cky_i, cky_r) = p.client.cookies();
    let mut spi = [0u8; 16];
    spi[..8].copy_from_slice(&cky_i.to_be_bytes());
    spi[8..].copy_from_slice(&cky_r.to_be_bytes());
    let notify = NotificationRepr::isakmp(NotifyType::PAYLOAD_MALFORMED, spi, Vec::new());
    let rest = chain_to_vec(&[Payload::Notification(notify)]).unwrap();
    let sealed = p
        .gw_sa()
        .seal_for_fuzzing(
            ExchangeType::INFORMATIONAL.0,
            0x5eed_0001,
            PayloadType::NOTIFICATION.0,
            &rest,
        )
        .unwrap();
    let (local, remote) = p.client.path();
    let datagram = if remote.port() == 4500 { [&[0u8; 4][..], &sealed].concat() } else { sealed };
    p.client.handle_datagram(p.now, remote, local, &datagram);
    p.run();
    assert_eq!(p.client.stats().restarted_requests, 1);
    // REPLY, ACK, REQUEST, its identical resend, the request again under a new message ID.
    let ours = transactions(&p, true);
    assert_eq!(ours.len(), 5, "client transaction messages");
    assert_eq!(ours[3], first);
    let message_id = |d: &[u8]| {
        let ike = if remote.port() == 4500 { &d[4..] } else { d };
        u32::from_be_bytes(ike[20..24].try_into().unwrap())
    };
    assert_ne!(message_id(&ours[4]), message_id(&first), "a new exchange");
    let got = configs(&p.client_events);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].addresses, vec![("10.9.0.10".parse().unwrap(), 32)]);
    assert_eq!(installed(&p.client_events).len(), 1);
    assert!(closed(&p.client_events).is_empty(), "{:?}", p.client_events);
}
