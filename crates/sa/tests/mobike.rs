//! MOBIKE (RFC 4555): negotiation, UPDATE_SA_ADDRESSES with NAT detection and COOKIE2, the
//! responder's return routability check, refusals, and NAT rebinding without MOBIKE
//! (RFC 7296 §2.23), each with the exact payloads and outcomes.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::run::{protector, seal};
use common::{CLIENT, SERVER, addr, client_config, pool, server_config};
use ikeway_codec::{
    ExchangeType, Flags, HeaderRepr, NotifyRepr, NotifyType, Payload, PayloadRepr, PayloadType, sk,
};
use ikeway_sa::{Config, Error, Event, IkeSa, InsecureKexForFuzzing, Responder, SaId};
use sha1::{Digest, Sha1};

/// A datagram as it crossed the simulated network.
#[derive(Debug, Clone)]
struct Wire {
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// An initiator and a responder on a lossless network whose initiator side can sit behind a
/// NAT (one public address, ports mapped to 40000 + port) or lose an address (what is sent
/// from or to it is dropped).
struct Net {
    now: Instant,
    initiator: IkeSa,
    responder: Responder,
    initiator_events: Vec<Event>,
    responder_events: Vec<Event>,
    /// The NAT's public address while the initiator is behind it.
    nat: Option<IpAddr>,
    /// Public side -> private side of the NAT's mappings.
    mappings: HashMap<SocketAddr, SocketAddr>,
    /// Initiator addresses that no longer work.
    dead: Vec<IpAddr>,
    /// Everything the initiator sent, as the responder saw it (after the NAT).
    from_initiator: Vec<Wire>,
    /// Everything the responder sent, as it addressed it (before the NAT).
    from_responder: Vec<Wire>,
    /// When false the responder hears nothing.
    responder_reachable: bool,
    /// What the initiator sent that never arrived.
    lost: Vec<Wire>,
}

impl Net {
    fn new(client: Config, server: Config) -> Self {
        Self::from(client, server, addr(CLIENT), None)
    }

    fn from(client: Config, server: Config, local: SocketAddr, nat: Option<IpAddr>) -> Self {
        let kex = Arc::new(InsecureKexForFuzzing);
        let now = Instant::now();
        let initiator =
            IkeSa::initiate(Arc::new(client), kex.clone(), [1; 32], now, local, addr(SERVER))
                .expect("initiate");
        let responder = Responder::new(Arc::new(server), kex, Some(pool()), [2; 32]);
        Self {
            now,
            initiator,
            responder,
            initiator_events: Vec::new(),
            responder_events: Vec::new(),
            nat,
            mappings: HashMap::new(),
            dead: Vec::new(),
            from_initiator: Vec::new(),
            from_responder: Vec::new(),
            responder_reachable: true,
            lost: Vec::new(),
        }
    }

    fn mobike() -> Self {
        let (mut c, mut s) = (client_config(), server_config());
        c.mobike = true;
        s.mobike = true;
        let mut net = Self::new(c, s);
        net.deliver();
        assert!(net.initiator.mobike_negotiated());
        net
    }

    fn outside(&mut self, private: SocketAddr) -> SocketAddr {
        let Some(public) = self.nat else { return private };
        let mapped = SocketAddr::new(public, 40000 + private.port());
        self.mappings.insert(mapped, private);
        mapped
    }

    fn deliver(&mut self) {
        let mut buf = vec![0u8; 65536];
        for _ in 0..256 {
            let mut moved = false;
            while let Some(t) = self.initiator.poll_transmit(&mut buf) {
                let t = t.expect("64 KiB is enough");
                moved = true;
                let bytes = buf[..t.len].to_vec();
                if self.dead.contains(&t.local.ip()) || !self.responder_reachable {
                    self.lost.push(Wire { from: t.local, to: t.remote, bytes });
                    continue;
                }
                let from = self.outside(t.local);
                self.from_initiator.push(Wire { from, to: t.remote, bytes: bytes.clone() });
                self.responder.handle_datagram(self.now, from, t.remote, &bytes);
            }
            while let Some(t) = self.responder.poll_transmit(&mut buf) {
                let t = t.expect("64 KiB is enough");
                moved = true;
                let bytes = buf[..t.len].to_vec();
                self.from_responder.push(Wire {
                    from: t.local,
                    to: t.remote,
                    bytes: bytes.clone(),
                });
                let to = self.mappings.get(&t.remote).copied().unwrap_or(t.remote);
                if self.dead.contains(&to.ip()) {
                    continue;
                }
                self.initiator.handle_datagram(self.now, t.local, to, &bytes);
            }
            while let Some(e) = self.initiator.poll_event() {
                self.initiator_events.push(e.event);
            }
            while let Some(e) = self.responder.poll_event() {
                self.responder_events.push(e.event);
            }
            if !moved {
                return;
            }
        }
        panic!("the two ends never went quiet");
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.initiator.handle_timeout(self.now);
        self.responder.handle_timeout(self.now);
        self.deliver();
    }

    fn responder_sa(&mut self) -> &mut IkeSa {
        let id = SaId::from_spi(self.initiator.spis().1);
        self.responder.sa_mut(id).expect("responder holds the SA")
    }

    fn take_events(&mut self) -> (Vec<Event>, Vec<Event>) {
        (std::mem::take(&mut self.initiator_events), std::mem::take(&mut self.responder_events))
    }

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
            PayloadRepr::Notify(n) => (n.kind, n.data.clone()),
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

fn auth_notify_kinds(net: &Net, from_initiator: bool) -> Vec<NotifyType> {
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
    let mut net = Net::mobike();
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
        let mut net = Net::new(c, s);
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
    let mut net = Net::mobike();
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
    let mut net = Net::mobike();
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
    let mut net = Net::mobike();
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
    let mut net = Net::mobike();
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
    let mut net = Net::new(client_config(), server_config());
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
