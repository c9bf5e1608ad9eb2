//! MOBIKE (RFC 4555): negotiation, UPDATE_SA_ADDRESSES with NAT detection and COOKIE2, the
//! responder's return routability check, refusals, and NAT rebinding without MOBIKE
//! (RFC 7296 §2.23), each with the exact payloads and outcomes.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::payloads::notify_data;
use common::run::{Run, Wire, protector, seal};
use common::{CLIENT, SERVER, addr, client_config, server_config};
use ikeway_codec::payload::mobike::NoNatsAllowed;
use ikeway_codec::{
    ExchangeType, Flags, HeaderRepr, NotifyRepr, NotifyType, Payload, PayloadRepr, PayloadType, sk,
};
use ikeway_sa::{Error, Event};
use sha1::{Digest, Sha1};

/// What the MOBIKE tests read off a [`Run`]: its messages opened, and forged requests.
trait Net {
    fn open(&self, datagram: &[u8]) -> (HeaderRepr, Vec<Payload>);
    fn initiator_messages(&self, from: usize) -> Vec<(Wire, HeaderRepr, Vec<Payload>)>;
    fn responder_messages(&self, from: usize) -> Vec<(Wire, HeaderRepr, Vec<Payload>)>;
    fn forged_request(&self, mid: u32, payloads: &[Payload]) -> Vec<u8>;
}

/// Both ends with MOBIKE on, established.
fn mobike() -> Run {
    let (mut c, mut s) = (client_config(), server_config());
    c.mobike = true;
    s.mobike = true;
    let mut net = Run::new(c, s);
    net.deliver();
    assert!(net.initiator.mobike_negotiated());
    net
}

impl Net for Run {
    /// The payloads of an encrypted datagram, opened with the keys of the side that sent it.
    fn open(&self, datagram: &[u8]) -> (HeaderRepr, Vec<Payload>) {
        let bytes = datagram.strip_prefix(&[0, 0, 0, 0][..]).unwrap_or(datagram);
        let header = HeaderRepr::parse(bytes).expect("header");
        let opened = sk::open(bytes, &protector(&self.initiator, header.flags.initiator))
            .expect("our own message opens");
        (header, opened.payloads().expect("our own message parses"))
    }

    /// What the initiator sent from index `from` on, opened.
    fn initiator_messages(&self, from: usize) -> Vec<(Wire, HeaderRepr, Vec<Payload>)> {
        self.from_initiator[from..]
            .iter()
            .filter(|w| w.bytes != [0xff])
            .map(|w| {
                let (h, p) = self.open(&w.bytes);
                (w.clone(), h, p)
            })
            .collect()
    }

    fn responder_messages(&self, from: usize) -> Vec<(Wire, HeaderRepr, Vec<Payload>)> {
        self.from_responder[from..]
            .iter()
            .map(|w| {
                let (h, p) = self.open(&w.bytes);
                (w.clone(), h, p)
            })
            .collect()
    }

    /// An INFORMATIONAL request sealed with the initiator's keys under message ID `mid`.
    fn forged_request(&self, mid: u32, payloads: &[Payload]) -> Vec<u8> {
        let (spi_i, spi_r) = self.initiator.spis();
        let header = HeaderRepr {
            spi_i,
            spi_r,
            next_payload: PayloadType::NONE,
            version: 0x20,
            exchange: ExchangeType::INFORMATIONAL,
            flags: Flags { initiator: true, response: false, ..Flags::default() },
            message_id: mid,
            length: 0,
        };
        seal(&self.initiator, &header, payloads)
    }
}

fn n(kind: NotifyType, data: Vec<u8>) -> Payload {
    Payload::new(PayloadRepr::Notify(NotifyRepr::new(kind, data)))
}

/// The notifies of a message as (type, data), in order; any other payload fails the test.
fn notifies(payloads: &[Payload]) -> Vec<(NotifyType, Vec<u8>)> {
    payloads
        .iter()
        .map(|p| match &p.body {
            PayloadRepr::Notify(n) => (n.kind, n.data.to_vec()),
            other => panic!("unexpected payload {other:?}"),
        })
        .collect()
}

/// RFC 7296 §2.23: SHA-1(SPIi | SPIr | IP | port), computed here independently.
fn nat_hash(spis: (u64, u64), a: SocketAddr) -> Vec<u8> {
    let mut h = Sha1::new();
    h.update(spis.0.to_be_bytes());
    h.update(spis.1.to_be_bytes());
    match a.ip() {
        IpAddr::V4(v4) => h.update(v4.octets()),
        IpAddr::V6(v6) => h.update(v6.octets()),
    }
    h.update(a.port().to_be_bytes());
    h.finalize().to_vec()
}

fn path_updates(events: &[Event]) -> Vec<(SocketAddr, SocketAddr, bool, bool, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PathUpdated {
                local,
                remote,
                local_behind_nat,
                remote_behind_nat,
                udp_encapsulation,
            } => Some((*local, *remote, *local_behind_nat, *remote_behind_nat, *udp_encapsulation)),
            _ => None,
        })
        .collect()
}

fn auth_notify_kinds(net: &Run, from_initiator: bool) -> Vec<NotifyType> {
    let wires = if from_initiator { &net.from_initiator } else { &net.from_responder };
    let auth = wires
        .iter()
        .map(|w| w.bytes.as_slice())
        .find(|b| HeaderRepr::parse(b).is_ok_and(|h| h.exchange == ExchangeType::IKE_AUTH))
        .expect("an IKE_AUTH message");
    let (_, payloads) = net.open(auth);
    payloads
        .iter()
        .filter_map(|p| match &p.body {
            PayloadRepr::Notify(n) => Some(n.kind),
            _ => None,
        })
        .collect()
}

#[test]
fn mobike_is_negotiated_when_both_sides_announce_it() {
    let mut net = mobike();
    assert!(net.responder_sa().mobike_negotiated());
    assert!(auth_notify_kinds(&net, true).contains(&NotifyType::MOBIKE_SUPPORTED));
    assert!(auth_notify_kinds(&net, false).contains(&NotifyType::MOBIKE_SUPPORTED));
}

#[test]
fn mobike_is_off_unless_both_sides_want_it() {
    for (client_on, server_on) in [(false, false), (true, false), (false, true)] {
        let (mut c, mut s) = (client_config(), server_config());
        c.mobike = client_on;
        s.mobike = server_on;
        let mut net = Run::new(c, s);
        net.deliver();
        assert!(net.initiator.is_established());
        assert!(!net.initiator.mobike_negotiated());
        assert!(!net.responder_sa().mobike_negotiated());
        assert_eq!(
            auth_notify_kinds(&net, true).contains(&NotifyType::MOBIKE_SUPPORTED),
            client_on,
            "the client announces MOBIKE exactly when configured"
        );
        // A responder answers MOBIKE_SUPPORTED only to a client that announced it.
        assert!(!auth_notify_kinds(&net, false).contains(&NotifyType::MOBIKE_SUPPORTED));
        let now = net.now;
        assert_eq!(
            net.initiator.update_path(now, addr("10.0.9.9:500"), addr(SERVER)),
            Err(Error::MobikeNotNegotiated)
        );
    }
}

#[test]
fn update_moves_both_sides_with_nat_detection_cookie2_and_a_return_routability_check() {
    let mut net = mobike();
    let spis = net.initiator.spis();
    let (sent_i, sent_r) = (net.from_initiator.len(), net.from_responder.len());
    net.take_events();
    let new_local = addr("10.0.5.5:500");
    let now = net.now;
    net.initiator.update_path(now, new_local, addr(SERVER)).unwrap();
    net.deliver();

    // Initiator -> responder: the update, then the answer to the responder's check.
    let out = net.initiator_messages(sent_i);
    assert_eq!(out.len(), 2);
    let (wire, header, payloads) = &out[0];
    assert_eq!((wire.from, wire.to), (new_local, addr(SERVER)));
    assert_eq!(header.exchange, ExchangeType::INFORMATIONAL);
    assert!(!header.flags.response);
    let got = notifies(payloads);
    let cookie2 = got[3].1.clone();
    assert_eq!(cookie2.len(), 16);
    assert_eq!(
        got,
        vec![
            (NotifyType::UPDATE_SA_ADDRESSES, vec![]),
            (NotifyType::NAT_DETECTION_SOURCE_IP, nat_hash(spis, new_local)),
            (NotifyType::NAT_DETECTION_DESTINATION_IP, nat_hash(spis, addr(SERVER))),
            (NotifyType::COOKIE2, cookie2.clone()),
            (NotifyType::NO_ADDITIONAL_ADDRESSES, vec![]),
        ]
    );
    // Responder -> initiator: the answer to the new address, then its COOKIE2 check there.
    let back = net.responder_messages(sent_r);
    assert_eq!(back.len(), 2);
    let (wire, header, payloads) = &back[0];
    assert_eq!((wire.from, wire.to), (addr(SERVER), new_local));
    assert!(header.flags.response);
    assert_eq!(
        notifies(payloads),
        vec![
            (NotifyType::NAT_DETECTION_SOURCE_IP, nat_hash(spis, addr(SERVER))),
            (NotifyType::NAT_DETECTION_DESTINATION_IP, nat_hash(spis, new_local)),
            (NotifyType::COOKIE2, cookie2),
        ]
    );
    let (wire, header, check) = &back[1];
    assert_eq!(wire.to, new_local);
    assert!(!header.flags.response);
    let check = notifies(check);
    assert_eq!(check.len(), 1);
    assert_eq!(check[0].0, NotifyType::COOKIE2);
    assert_eq!(check[0].1.len(), 16);
    let (_, echo_header, echo) = &out[1];
    assert!(echo_header.flags.response);
    assert_eq!(notifies(echo), check, "the initiator echoes the responder's COOKIE2");

    let (ie, re) = net.take_events();
    assert_eq!(path_updates(&ie), [(new_local, addr(SERVER), false, false, false)]);
    assert_eq!(path_updates(&re), [(addr(SERVER), new_local, false, false, false)]);
    assert_eq!((net.initiator.local(), net.initiator.remote()), (new_local, addr(SERVER)));
    assert_eq!(net.responder_sa().remote(), new_local);
    assert_eq!(net.initiator.stats().path_updates, 1);
    assert_eq!(net.responder_sa().stats().path_updates, 1);
    // The SA carries on from there: a liveness check goes from and to the new address.
    let before = net.from_initiator.len();
    let now = net.now;
    net.initiator.dpd(now);
    net.deliver();
    assert_eq!(net.from_initiator[before].from, new_local);
    assert_eq!(net.from_responder.last().unwrap().to, new_local);
    assert!(net.initiator.is_established());
}

#[test]
fn the_responder_endpoint_finds_the_sa_whatever_the_new_source_address_and_port() {
    let mut net = mobike();
    for (i, new_local) in ["10.0.5.5:500", "10.0.5.5:1234", "[2001:db8::5]:500", "10.1.2.3:62000"]
        .into_iter()
        .map(addr)
        .enumerate()
    {
        let now = net.now;
        net.initiator.update_path(now, new_local, addr(SERVER)).unwrap();
        net.deliver();
        assert_eq!(net.responder_sa().remote(), new_local);
        assert_eq!(net.initiator.local(), new_local);
        assert_eq!(net.responder.stats().dropped_unknown_spi, 0);
        assert_eq!(net.responder_sa().stats().path_updates, i as u64 + 1);
    }
}

#[test]
fn a_forged_or_unauthenticated_update_moves_nothing_and_is_counted() {
    let mut net = mobike();
    let now = net.now;
    net.responder_reachable = false;
    net.initiator.update_path(now, addr("10.0.5.5:500"), addr(SERVER)).unwrap();
    net.deliver();
    net.responder_reachable = true;
    // The update the responder never heard, replayed by an attacker with one bit flipped,
    // from the attacker's address.
    let mut buf = vec![0u8; 65536];
    let attacker = addr("203.0.113.66:500");
    let mut update = net.lost.last().expect("the update was sent").bytes.clone();
    let last = update.len() - 1;
    update[last] ^= 1;
    net.responder.handle_datagram(net.now, attacker, addr(SERVER), &update);
    assert!(net.responder.poll_transmit(&mut buf).is_none(), "nothing answers a forgery");
    let stats = net.responder_sa().stats();
    assert_eq!(stats.dropped_unauthenticated, 1);
    assert_eq!(stats.path_updates, 0);
    assert_eq!(net.responder_sa().remote(), addr(CLIENT));
    assert!(net.responder.poll_event().is_none());
}

#[test]
fn a_replayed_update_moves_nothing() {
    let mut net = mobike();
    let first = addr("10.0.5.5:500");
    let now = net.now;
    let sent = net.from_initiator.len();
    net.initiator.update_path(now, first, addr(SERVER)).unwrap();
    net.deliver();
    let update = net.from_initiator[sent].bytes.clone();
    let attacker = addr("203.0.113.66:500");
    let answered = net.from_responder.len();

    // Its message ID is the last one answered: answered again from the cache, to where the
    // SA is (never to the replayer), and the SA stays.
    net.responder.handle_datagram(net.now, attacker, addr(SERVER), &update);
    net.deliver();
    let again = &net.from_responder[answered..];
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].to, first);
    assert_eq!(net.responder_sa().remote(), first);
    assert_eq!(net.responder_sa().stats().replayed_responses, 1);

    // Once the SA moved on, the old update is out of the window: dropped, nothing moves.
    let second = addr("10.0.6.6:500");
    let now = net.now;
    net.initiator.update_path(now, second, addr(SERVER)).unwrap();
    net.deliver();
    assert_eq!(net.responder_sa().remote(), second);
    let dropped = net.responder_sa().stats().dropped_unexpected;
    let answered = net.from_responder.len();
    net.responder.handle_datagram(net.now, first, addr(SERVER), &update);
    net.deliver();
    assert_eq!(net.from_responder.len(), answered, "nothing answers it");
    assert_eq!(net.responder_sa().stats().dropped_unexpected, dropped + 1);
    assert_eq!(net.responder_sa().remote(), second);
    assert_eq!(net.responder_sa().stats().path_updates, 2);
    let (_, re) = net.take_events();
    assert_eq!(path_updates(&re).len(), 2);
}

#[test]
fn without_mobike_an_authenticated_update_is_answered_but_moves_nothing() {
    let mut net = Run::new(client_config(), server_config());
    net.deliver();
    net.take_events();
    let now = net.now;
    assert_eq!(
        net.responder_sa().update_path(now, addr(SERVER), addr(CLIENT)),
        Err(Error::MobikeNotInitiator)
    );
    let spis = net.initiator.spis();
    let elsewhere = addr("10.0.7.7:500");
    let update = net.forged_request(
        2,
        &[
            n(NotifyType::UPDATE_SA_ADDRESSES, vec![]),
            n(NotifyType::NAT_DETECTION_SOURCE_IP, nat_hash(spis, elsewhere)),
            n(NotifyType::NAT_DETECTION_DESTINATION_IP, nat_hash(spis, addr(SERVER))),
            n(NotifyType::COOKIE2, vec![7; 16]),
        ],
    );
    let answered = net.from_responder.len();
    net.responder.handle_datagram(net.now, elsewhere, addr(SERVER), &update);
    net.advance(Duration::ZERO);
    let reply = net.responder_messages(answered);
    assert_eq!(reply.len(), 1);
    let (wire, header, payloads) = &reply[0];
    assert_eq!(wire.to, addr(CLIENT), "answered where the SA is");
    assert!(header.flags.response);
    assert!(payloads.is_empty(), "no MOBIKE notify is understood: {payloads:?}");
    assert_eq!(net.responder_sa().remote(), addr(CLIENT));
    assert_eq!(net.responder_sa().stats().path_updates, 0);
    let (_, re) = net.take_events();
    assert!(path_updates(&re).is_empty());
}

#[test]
fn a_response_whose_cookie2_is_not_ours_is_refused_and_the_update_stays_outstanding() {
    let mut net = mobike();
    net.take_events();
    let new_local = addr("10.0.5.5:500");
    // The responder is reached, but its answer to the update comes back with another COOKIE2
    // (sealed with the right keys: only a broken or hostile responder does that).
    let now = net.now;
    net.initiator.update_path(now, new_local, addr(SERVER)).unwrap();
    let mut buf = vec![0u8; 65536];
    let t = net.initiator.poll_transmit(&mut buf).unwrap().unwrap();
    net.responder.handle_datagram(net.now, t.local, t.remote, &buf[..t.len]);
    let t = net.responder.poll_transmit(&mut buf).unwrap().unwrap();
    let (header, mut payloads) = net.open(&buf[..t.len]);
    for p in &mut payloads {
        if let PayloadRepr::Notify(n) = &mut p.body
            && n.kind == NotifyType::COOKIE2
        {
            n.data[0] ^= 0xff;
        }
    }
    let forged = seal(&net.initiator, &header, &payloads);
    net.initiator.handle_datagram(net.now, t.local, t.remote, &forged);
    while net.initiator.poll_event().is_some() {}
    assert_eq!(net.initiator.stats().cookie2_mismatches, 1);
    assert_eq!(net.initiator.stats().path_updates, 0);
    assert_eq!(net.initiator.local(), addr(CLIENT), "not moved");
    // Still outstanding: it is sent again, from the new path, when its timer runs out.
    net.initiator.handle_timeout(net.now + Duration::from_millis(500));
    let t = net.initiator.poll_transmit(&mut buf).unwrap().unwrap();
    assert_eq!(t.local, new_local);
    assert_eq!(net.initiator.stats().retransmits, 1);
}

#[test]
fn an_update_asked_for_while_a_request_is_outstanding_follows_it_and_resends_it_from_the_new_path()
{
    let mut net = mobike();
    net.take_events();
    let now = net.now;
    // A liveness check is in flight, unanswered: the old address just died.
    net.responder_reachable = false;
    net.initiator.dpd(now);
    net.deliver();
    net.responder_reachable = true;
    let sent = net.from_initiator.len();
    let new_local = addr("10.0.5.5:500");
    net.initiator.update_path(now, new_local, addr(SERVER)).unwrap();
    net.deliver();
    let out = net.initiator_messages(sent);
    // The DPD again from the new address (same message ID 2), then the update (3).
    assert_eq!(out[0].0.from, new_local);
    assert_eq!((out[0].1.message_id, notifies(&out[0].2)), (2, vec![]));
    assert_eq!(out[1].0.from, new_local);
    assert_eq!(out[1].1.message_id, 3);
    assert_eq!(notifies(&out[1].2)[0].0, NotifyType::UPDATE_SA_ADDRESSES);
    // The responder answered the DPD where it came from (RFC 7296 §2.11) but moved only on
    // the update.
    let (ie, re) = net.take_events();
    assert_eq!(path_updates(&ie), [(new_local, addr(SERVER), false, false, false)]);
    assert_eq!(path_updates(&re), [(addr(SERVER), new_local, false, false, false)]);
    assert_eq!(net.responder_sa().remote(), new_local);
}

#[test]
fn a_newer_update_supersedes_the_outstanding_one() {
    let mut net = mobike();
    net.take_events();
    let spis = net.initiator.spis();
    let (first, second) = (addr("10.0.5.5:500"), addr("10.0.6.6:500"));
    let now = net.now;
    // The first update is lost with its address.
    net.dead.push(first.ip());
    net.initiator.update_path(now, first, addr(SERVER)).unwrap();
    net.deliver();
    assert_eq!(net.lost.len(), 1);
    let sent = net.from_initiator.len();
    net.initiator.update_path(now, second, addr(SERVER)).unwrap();
    net.deliver();
    let out = net.initiator_messages(sent);
    // The same request (message ID 2, NAT detection for the first path) goes again at once
    // from the second path; the responder moves there, and sees a NAT since the request names
    // another source. The initiator then confirms the second path with a fresh update (3).
    assert_eq!(out[0].0.from, second);
    assert_eq!(out[0].1.message_id, 2);
    assert_eq!(
        notify_data(&out[0].2, NotifyType::NAT_DETECTION_SOURCE_IP),
        Some(nat_hash(spis, first))
    );
    let updates: Vec<_> = out
        .iter()
        .filter(|(_, h, p)| {
            !h.flags.response && notify_data(p, NotifyType::UPDATE_SA_ADDRESSES).is_some()
        })
        .map(|(w, h, p)| {
            (w.from, h.message_id, notify_data(p, NotifyType::NAT_DETECTION_SOURCE_IP))
        })
        .collect();
    assert_eq!(
        updates,
        [(second, 2, Some(nat_hash(spis, first))), (second, 3, Some(nat_hash(spis, second)))]
    );
    let (ie, re) = net.take_events();
    assert_eq!(path_updates(&ie), [(second, addr(SERVER), false, false, false)]);
    // The responder first believed in a NAT; the second update cleared that up before its
    // return routability check of the (same) path came back, so it reports only what holds.
    assert_eq!(path_updates(&re), [(addr(SERVER), second, false, false, false)]);
    assert_eq!((net.initiator.local(), net.responder_sa().remote()), (second, second));
}

#[test]
fn a_nat_appearing_with_the_move_floats_the_sa_to_4500() {
    let mut net = mobike();
    net.take_events();
    // The client moves behind a NAT (public 198.51.100.7, port p -> 40000 + p).
    let public: IpAddr = "198.51.100.7".parse().unwrap();
    net.nat = Some(public);
    let private = addr("192.168.1.5:500");
    let now = net.now;
    net.initiator.update_path(now, private, addr(SERVER)).unwrap();
    net.deliver();
    let (ie, re) = net.take_events();
    let server_t = addr("10.0.0.2:4500");
    assert_eq!(path_updates(&ie), [(addr("192.168.1.5:4500"), server_t, true, false, true)]);
    // The responder followed the port-500 mapping, then the port-4500 one; its check of the
    // first came back after the second move, so ESP moves once, to the mapping of 4500.
    let public_t = SocketAddr::new(public, 44500);
    assert_eq!(path_updates(&re), [(server_t, public_t, false, true, true)]);
    assert_eq!(net.responder_sa().stats().path_updates, 2);
    assert_eq!(net.responder_sa().remote(), public_t);
    // From 4500 on, IKE carries the non-ESP marker; keepalives go out from behind the NAT.
    let last = net.from_initiator.last().unwrap();
    assert_eq!(&last.bytes[..4], &[0, 0, 0, 0]);
    net.advance(Duration::from_secs(20));
    assert!(net.from_initiator.iter().any(|w| w.bytes == [0xff] && w.from == public_t));
}

#[test]
fn a_nat_disappearing_with_the_move_is_reported_and_keepalives_stop() {
    let (mut c, mut s) = (client_config(), server_config());
    c.mobike = true;
    s.mobike = true;
    c.dpd_interval = None;
    let public: IpAddr = "198.51.100.7".parse().unwrap();
    let mut net = Run::at(c, s, addr("192.168.1.5:500"), Some(public));
    net.deliver();
    assert!(net.initiator.mobike_negotiated());
    assert_eq!(net.initiator.local(), addr("192.168.1.5:4500"));
    net.take_events();
    // Out of the NAT, onto a public address; IKE stays on 4500.
    net.nat = None;
    let direct = addr("203.0.113.20:4500");
    let server_t = addr("10.0.0.2:4500");
    let now = net.now;
    net.initiator.update_path(now, direct, server_t).unwrap();
    net.deliver();
    let (ie, re) = net.take_events();
    assert_eq!(path_updates(&ie), [(direct, server_t, false, false, true)]);
    assert_eq!(path_updates(&re), [(server_t, direct, false, false, true)]);
    let before = net.from_initiator.len();
    net.advance(Duration::from_secs(61));
    assert!(
        net.from_initiator[before..].iter().all(|w| w.bytes != [0xff]),
        "no keepalive without a NAT"
    );
}

#[test]
fn an_unacceptable_address_is_refused_and_nothing_moves() {
    let mut net = mobike();
    net.take_events();
    let nowhere = addr("0.0.0.0:500");
    let now = net.now;
    net.initiator.update_path(now, nowhere, addr(SERVER)).unwrap();
    let answered = net.from_responder.len();
    net.deliver();
    let back = net.responder_messages(answered);
    assert_eq!(back.len(), 1, "no return routability check for a refused move");
    assert_eq!(notifies(&back[0].2)[0], (NotifyType::UNACCEPTABLE_ADDRESSES, vec![]));
    let (ie, re) = net.take_events();
    assert_eq!(ie.len(), 1);
    assert!(matches!(
        ie[0],
        Event::PathUpdateRefused { local, remote, notify: NotifyType::UNACCEPTABLE_ADDRESSES }
            if local == nowhere && remote == addr(SERVER)
    ));
    assert!(re.is_empty());
    assert_eq!(net.initiator.local(), addr(CLIENT));
    assert_eq!(net.responder_sa().remote(), addr(CLIENT));
    assert_eq!(net.initiator.stats().path_updates_refused, 1);
    assert_eq!(net.responder_sa().stats().path_updates_refused, 1);
    // The SA goes on where it was.
    let sent = net.from_initiator.len();
    let now = net.now;
    net.initiator.dpd(now);
    net.deliver();
    assert_eq!(net.from_initiator[sent].from, addr(CLIENT));
    assert!(net.initiator.is_established());
}

#[test]
fn no_nats_allowed_is_refused_with_unexpected_nat_detected_when_a_nat_rewrote_the_addresses() {
    let mut net = mobike();
    net.take_events();
    let spis = net.initiator.spis();
    let claimed = addr("10.0.5.5:500");
    let update = |net: &Run, mid: u32, no_nats: NoNatsAllowed| {
        net.forged_request(
            mid,
            &[
                n(NotifyType::UPDATE_SA_ADDRESSES, vec![]),
                n(NotifyType::NAT_DETECTION_SOURCE_IP, nat_hash(spis, claimed)),
                n(NotifyType::NAT_DETECTION_DESTINATION_IP, nat_hash(spis, addr(SERVER))),
                n(NotifyType::NO_NATS_ALLOWED, no_nats.to_vec().unwrap()),
                n(NotifyType::COOKIE2, vec![9; 8]),
            ],
        )
    };
    let said = NoNatsAllowed { source: claimed, destination: addr(SERVER) };
    // It arrives from elsewhere than it says: a NAT is in the way.
    let rewritten = addr("198.51.100.7:40500");
    let answered = net.from_responder.len();
    let bytes = update(&net, 2, said);
    net.responder.handle_datagram(net.now, rewritten, addr(SERVER), &bytes);
    net.advance(Duration::ZERO);
    let back = net.responder_messages(answered);
    assert_eq!(back[0].0.to, rewritten, "answered where it came from");
    assert_eq!(
        notifies(&back[0].2),
        vec![
            (NotifyType::UNEXPECTED_NAT_DETECTED, vec![]),
            (NotifyType::NAT_DETECTION_SOURCE_IP, nat_hash(spis, addr(SERVER))),
            (NotifyType::NAT_DETECTION_DESTINATION_IP, nat_hash(spis, rewritten)),
            (NotifyType::COOKIE2, vec![9; 8]),
        ]
    );
    assert_eq!(net.responder_sa().remote(), addr(CLIENT));
    assert_eq!(net.responder_sa().stats().path_updates_refused, 1);
    // The same notify over an untouched path moves the SA.
    let bytes = update(&net, 3, said);
    net.responder.handle_datagram(net.now, claimed, addr(SERVER), &bytes);
    net.advance(Duration::ZERO);
    assert_eq!(net.responder_sa().remote(), claimed);
    assert_eq!(net.responder_sa().stats().path_updates, 1);
}

#[test]
fn a_bad_cookie2_or_address_list_from_the_peer_is_bounded() {
    let mut net = mobike();
    let spis = net.initiator.spis();
    let answered = net.from_responder.len();
    // COOKIE2 of 7 octets (8 to 64 allowed): INVALID_SYNTAX, nothing moves.
    let elsewhere = addr("10.0.8.8:500");
    let bytes = net.forged_request(
        2,
        &[
            n(NotifyType::UPDATE_SA_ADDRESSES, vec![]),
            n(NotifyType::NAT_DETECTION_SOURCE_IP, nat_hash(spis, elsewhere)),
            n(NotifyType::NAT_DETECTION_DESTINATION_IP, nat_hash(spis, addr(SERVER))),
            n(NotifyType::COOKIE2, vec![1; 7]),
        ],
    );
    net.responder.handle_datagram(net.now, elsewhere, addr(SERVER), &bytes);
    net.advance(Duration::ZERO);
    let back = net.responder_messages(answered);
    assert_eq!(notifies(&back[0].2), vec![(NotifyType::INVALID_SYNTAX, vec![])]);
    assert_eq!(net.responder_sa().remote(), addr(CLIENT));
    // 40 addresses, one malformed: the first 16 good ones are kept.
    let mut list = vec![n(NotifyType::ADDITIONAL_IP4_ADDRESS, vec![1, 2, 3])];
    for i in 0..40u8 {
        list.push(n(NotifyType::ADDITIONAL_IP4_ADDRESS, vec![10, 9, 0, i]));
    }
    let bytes = net.forged_request(3, &list);
    net.responder.handle_datagram(net.now, addr(CLIENT), addr(SERVER), &bytes);
    net.advance(Duration::ZERO);
    let kept: Vec<IpAddr> = (0..16u8).map(|i| IpAddr::from([10, 9, 0, i])).collect();
    assert_eq!(net.responder_sa().peer_additional_addresses(), kept.as_slice());
    // NO_ADDITIONAL_ADDRESSES empties it.
    let bytes = net.forged_request(4, &[n(NotifyType::NO_ADDITIONAL_ADDRESSES, vec![])]);
    net.responder.handle_datagram(net.now, addr(CLIENT), addr(SERVER), &bytes);
    net.advance(Duration::ZERO);
    assert!(net.responder_sa().peer_additional_addresses().is_empty());
}

#[test]
fn additional_addresses_are_announced_in_ike_auth_in_updates_and_when_they_change() {
    let (mut c, mut s) = (client_config(), server_config());
    c.mobike = true;
    s.mobike = true;
    let mut net = Run::new(c, s);
    let v4: IpAddr = "10.0.3.3".parse().unwrap();
    let v6: IpAddr = "2001:db8::3".parse().unwrap();
    let now = net.now;
    net.initiator.set_additional_addresses(now, vec![v4, v6, v4]);
    net.deliver();
    assert_eq!(net.responder_sa().peer_additional_addresses(), [v4, v6]);
    let sent = net.from_initiator.len();
    // Changed once up: an INFORMATIONAL with the new list at once.
    net.initiator.set_additional_addresses(now, vec![v6]);
    net.deliver();
    let out = net.initiator_messages(sent);
    assert_eq!(
        notifies(&out[0].2),
        vec![(
            NotifyType::ADDITIONAL_IP6_ADDRESS,
            "2001:db8::3".parse::<std::net::Ipv6Addr>().unwrap().octets().to_vec()
        )]
    );
    assert_eq!(net.responder_sa().peer_additional_addresses(), [v6]);
    // Every update carries the list too.
    let sent = net.from_initiator.len();
    net.initiator.update_path(now, addr("10.0.5.5:500"), addr(SERVER)).unwrap();
    net.deliver();
    let out = net.initiator_messages(sent);
    assert_eq!(notifies(&out[0].2).last().unwrap().0, NotifyType::ADDITIONAL_IP6_ADDRESS);
}

#[test]
fn without_mobike_a_responder_follows_a_nat_rebinding_from_authenticated_requests_only() {
    let (mut c, s) = (client_config(), server_config());
    c.dpd_interval = None;
    let public: IpAddr = "198.51.100.7".parse().unwrap();
    let mut net = Run::at(c, s, addr("192.168.1.5:500"), Some(public));
    net.deliver();
    assert!(!net.initiator.mobike_negotiated());
    net.take_events();
    let server_t = addr("10.0.0.2:4500");
    let old = SocketAddr::new(public, 44500);
    assert_eq!(net.responder_sa().remote(), old);
    // The NAT loses the mapping; the next liveness check comes from a new public port.
    let rebound = SocketAddr::new(public, 51000);
    net.mappings.insert(rebound, addr("192.168.1.5:4500"));
    let now = net.now;
    net.initiator.dpd(now);
    let mut buf = vec![0u8; 65536];
    let t = net.initiator.poll_transmit(&mut buf).unwrap().unwrap();
    let dpd = buf[..t.len].to_vec();
    // A copy with a flipped bit from a third address first: dropped, nothing moves.
    let mut forged = dpd.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    net.responder.handle_datagram(net.now, addr("203.0.113.66:4500"), server_t, &forged);
    assert_eq!(net.responder_sa().remote(), old);
    net.responder.handle_datagram(net.now, rebound, server_t, &dpd);
    net.deliver();
    let (_, re) = net.take_events();
    assert_eq!(path_updates(&re), [(server_t, rebound, false, true, true)]);
    assert_eq!(net.responder_sa().remote(), rebound);
    assert_eq!(net.from_responder.last().unwrap().to, rebound);
    // The same request replayed from elsewhere is answered from the cache to the SA's
    // address and moves nothing.
    net.responder.handle_datagram(net.now, old, server_t, &dpd);
    net.deliver();
    assert_eq!(net.responder_sa().remote(), rebound);
    assert_eq!(net.from_responder.last().unwrap().to, rebound);
    assert_eq!(net.responder_sa().stats().path_updates, 1);
}

#[test]
fn without_a_nat_a_responder_does_not_follow_a_new_source_without_mobike() {
    let mut net = Run::new(client_config(), server_config());
    net.deliver();
    net.take_events();
    let now = net.now;
    net.initiator.dpd(now);
    let mut buf = vec![0u8; 65536];
    let t = net.initiator.poll_transmit(&mut buf).unwrap().unwrap();
    net.responder.handle_datagram(net.now, addr("10.0.0.77:500"), addr(SERVER), &buf[..t.len]);
    net.deliver();
    assert_eq!(net.responder_sa().remote(), addr(CLIENT));
    assert!(path_updates(&net.take_events().1).is_empty());
}
