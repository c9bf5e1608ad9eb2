//! The gateway renews the ISAKMP SA itself (strongSwan's IKEv1 `rekey_time`, libreswan's
//! replace): it starts a new phase 1 toward its connected client, which answers as phase 1
//! responder with its own configuration, does XAUTH as the gateway asks, asks for the address
//! it has, and moves its ESP SAs to the new SA. A phase 1 from another address, in another
//! mode, before the SA is up, malformed, or from a gateway with another identity is refused
//! with an exact outcome and nothing kept.

mod quick_pair;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use ikeway_ikev1::{DefaultKex, Event, Identity, Ikev1Sa, Phase1Mode};
use ikeway_isakmp::{AuthMethod, MessageRepr};
use ikeway_sa::{CloseReason, Side};
use quick_pair::*;

fn kex() -> Arc<DefaultKex> {
    Arc::new(DefaultKex::default())
}

/// Datagrams an SA has queued: (from, to, bytes).
fn drain(sa: &mut Ikev1Sa) -> Vec<(SocketAddr, SocketAddr, Vec<u8>)> {
    let mut buf = vec![0u8; 65536];
    let mut out = Vec::new();
    while let Some(Ok(t)) = sa.poll_transmit(&mut buf) {
        out.push((t.local, t.remote, buf[..t.len].to_vec()));
    }
    out
}

fn events(sa: &mut Ikev1Sa, into: &mut Vec<Event>) {
    while let Some(e) = sa.poll_event() {
        into.push(e.event);
    }
}

/// The gateway's new SA (`Ikev1Sa::renew` of its SA with the client) and what the client
/// made of its first message.
struct GatewayRenewal {
    gw2: Ikev1Sa,
    client2: Option<Ikev1Sa>,
    gw2_events: Vec<Event>,
    client2_events: Vec<Event>,
}

impl GatewayRenewal {
    /// The gateway renews; its message 1 goes to the connected client's `answer_gateway`.
    fn start(p: &mut Pair) -> Self {
        let now = p.now;
        let mut gw2 = p.gw_sa().renew(kex(), [21; 32], now).unwrap();
        assert_eq!(gw2.side(), Side::Initiator);
        assert!(!gw2.is_client());
        let mut client2 = None;
        for (from, to, bytes) in drain(&mut gw2) {
            assert!(client2.is_none());
            client2 = p.client.answer_gateway(kex(), [22; 32], now, from, to, &bytes);
        }
        let mut r = Self { gw2, client2, gw2_events: Vec::new(), client2_events: Vec::new() };
        r.run(now);
        r
    }

    /// Delivers between the gateway's new SA and the client's until both are quiet.
    fn run(&mut self, now: Instant) {
        let Some(c2) = self.client2.as_mut() else { return };
        for _ in 0..100 {
            let (to_client, to_gw) = (drain(&mut self.gw2), drain(c2));
            if to_client.is_empty() && to_gw.is_empty() {
                break;
            }
            for (from, to, bytes) in to_client {
                c2.handle_datagram(now, from, to, &bytes);
            }
            for (from, to, bytes) in to_gw {
                self.gw2.handle_datagram(now, from, to, &bytes);
            }
        }
        events(&mut self.gw2, &mut self.gw2_events);
        events(c2, &mut self.client2_events);
    }
}

fn rekeyed(events: &[Event]) -> Vec<((u64, u64), (u64, u64))> {
    events
        .iter()
        .filter_map(|e| match ike(e)? {
            ikeway_sa::Event::IkeSaRekeyed { old_spis, new_spis } => Some((*old_spis, *new_spis)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_phase_1_the_gateway_starts_takes_over_the_esp_sas_and_keeps_the_address() {
    let mut p = Pair::connected(client(), gateway);
    let child = p.client.child_spis()[0];
    let old = p.client.cookies();
    assert_eq!(p.allocator.leased(), 1);
    let mut r = GatewayRenewal::start(&mut p);
    let c2 = r.client2.as_mut().expect("the client answers its gateway");
    // Aggressive mode with the gateway as initiator: XAUTHRespPreShared on both sides.
    assert_eq!(c2.side(), Side::Responder);
    assert!(c2.is_client());
    assert!(c2.is_established());
    assert_eq!(c2.cookies().0, r.gw2.cookies().0);
    assert_ne!(c2.cookies(), old);
    assert_eq!(c2.phase1_suite().unwrap().method, AuthMethod::XAUTH_RESP_PRE_SHARED);
    assert_eq!(r.gw2.phase1_suite().unwrap().method, AuthMethod::XAUTH_RESP_PRE_SHARED);
    // XAUTH from the gateway, answered with the configured password: up once, on both.
    assert_eq!(ups(&r.client2_events), 1);
    assert_eq!(ups(&r.gw2_events), 1);
    // The client asked for the address it has (the gateway leased another one meanwhile: ours
    // hands out the next) and applied nothing: no new configuration, no quick mode of its own.
    assert!(configs(&r.client2_events).is_empty());
    assert!(installed(&r.client2_events).is_empty());
    assert_eq!(p.allocator.leased(), 2);
    assert_eq!(p.client.stats().gateway_phase1_refused, 0);

    // Both sides move their ESP SAs to the new SA (the gateway first, as strongSwan does);
    // each old SA's Delete then finds the other old SA already closed.
    let now = p.now;
    assert!(p.gw_sa().hand_over(&mut r.gw2, now));
    let mut c2 = r.client2.take().unwrap();
    assert!(p.client.hand_over(&mut c2, now));
    r.client2 = Some(c2);
    p.run();
    r.run(now);
    let new = r.client2.as_ref().unwrap().cookies();
    assert_eq!(rekeyed(&r.client2_events), vec![(old, new)]);
    assert_eq!(closed(&p.client_events), vec![CloseReason::Rekeyed]);
    assert!(removed(&p.client_events).is_empty(), "the ESP SA stays in the datapath");
    assert_eq!(r.client2.as_ref().unwrap().child_spis(), vec![child]);
    assert_eq!(r.gw2.child_spis(), vec![(child.1, child.0)]);
    assert!(removed(p.gw_plain_events()).is_empty());
    assert_eq!(p.allocator.leased(), 1, "the second address went back, the first moved");

    // The moved ESP SA is rekeyed under the new ISAKMP SA for the client's own address.
    let c2 = r.client2.as_mut().unwrap();
    c2.rekey_child(now, child.0);
    r.run(now);
    let fresh = installed(&r.client2_events);
    assert_eq!(fresh.len(), 1, "{:?}", r.client2_events);
    assert_eq!(fresh[0].replaces, Some(child.0));
    assert_eq!(fresh[0].local_ts, vec![host_ts("10.9.0.10")]);
    assert_eq!(installed(&r.gw2_events).len(), 1);
    assert_mirrored(fresh[0], installed(&r.gw2_events)[0]);
}

/// The gateway's message 1 toward the connected client, taken from its renewing SA.
fn gateway_message_1(p: &mut Pair) -> (SocketAddr, SocketAddr, Vec<u8>) {
    let now = p.now;
    let mut gw2 = p.gw_sa().renew(kex(), [31; 32], now).unwrap();
    let mut out = drain(&mut gw2);
    assert_eq!(out.len(), 1);
    out.remove(0)
}

/// Nothing kept, nothing sent, nothing reported, and the connected SA unchanged.
fn assert_refused_quietly(p: &mut Pair, answer: Option<Ikev1Sa>, refusals: u64) {
    assert!(answer.is_none());
    assert_eq!(p.client.stats().gateway_phase1_refused, refusals);
    assert!(drain(&mut p.client).is_empty());
    assert!(p.client.poll_event().is_none());
    assert!(p.client.is_established());
    assert_eq!(p.client.child_spis().len(), 1);
}

#[test]
fn a_phase_1_from_another_address_than_the_gateways_is_refused_and_counted() {
    let mut p = Pair::connected(client(), gateway);
    let (_, to, bytes) = gateway_message_1(&mut p);
    let now = p.now;
    // The same message, from another host and from the gateway's host on another port: only
    // the address counts (a NAT may change the port), so the second is taken.
    let other = p.client.answer_gateway(kex(), [1; 32], now, addr("10.0.0.3:500"), to, &bytes);
    assert_refused_quietly(&mut p, other, 1);
    let port = p.client.answer_gateway(kex(), [1; 32], now, addr("10.0.0.2:1500"), to, &bytes);
    assert!(port.is_some_and(|sa| sa.side() == Side::Responder && !sa.is_closed()));
}

#[test]
fn a_phase_1_before_the_sa_is_up_in_another_mode_or_malformed_is_refused_and_counted() {
    // Before phase 1 is done.
    let mut p = Pair::new(client(), gateway);
    let mut early = Pair::connected(client(), gateway);
    let (from, to, bytes) = gateway_message_1(&mut early);
    let now = p.now;
    let got = p.client.answer_gateway(kex(), [1; 32], now, from, to, &bytes);
    assert!(got.is_none());
    assert_eq!(p.client.stats().gateway_phase1_refused, 1);

    // Main mode toward an aggressive-mode client.
    let mut p = Pair::connected(client(), gateway);
    let mut main_client = client();
    main_client.mode = Phase1Mode::Main;
    let (_, (from, to, bytes)) = renewal_of(main_client, |a| {
        let mut g = gateway(a);
        g.mode = Phase1Mode::Main;
        g
    });
    let parsed = MessageRepr::parse(&bytes).unwrap();
    assert_eq!(parsed.header.exchange, ikeway_isakmp::ExchangeType::MAIN);
    let got = p.client.answer_gateway(kex(), [1; 32], now, from, to, &bytes);
    assert_refused_quietly(&mut p, got, 1);

    // Our own cookie, a responder cookie, truncated, and an aggressive message 1 without its
    // payloads (the header alone, its length fixed).
    let (from, to, good) = gateway_message_1(&mut p);
    let mut ours = good.clone();
    ours[..8].copy_from_slice(&p.client.cookies().0.to_be_bytes());
    let mut answered = good.clone();
    answered[8..16].copy_from_slice(&[1; 8]);
    let mut bare = good[..28].to_vec();
    bare[16] = 0; // next payload: none
    bare[24..28].copy_from_slice(&28u32.to_be_bytes());
    for (n, bad) in [ours, answered, good[..20].to_vec(), bare].iter().enumerate() {
        let got = p.client.answer_gateway(kex(), [1; 32], now, from, to, bad);
        assert_refused_quietly(&mut p, got, n as u64 + 2);
    }
}

/// A gateway configured by `gateway_of` (and a client that connects to it) renews; its new
/// SA and its message 1, to be sent to another client.
fn renewal_of(
    client_config: ikeway_ikev1::Config,
    gateway_of: impl FnOnce(Arc<ikeway_sa::AddressAllocator>) -> ikeway_ikev1::Config,
) -> (Ikev1Sa, (SocketAddr, SocketAddr, Vec<u8>)) {
    let mut other = Pair::connected(client_config, gateway_of);
    assert!(other.client.is_established());
    let now = other.now;
    let mut gw2 = other.gw_sa().renew(kex(), [31; 32], now).unwrap();
    let mut out = drain(&mut gw2);
    assert_eq!(out.len(), 1);
    (gw2, out.remove(0))
}

/// The notify types of a message in the clear.
fn clear_notifies(bytes: &[u8]) -> Vec<ikeway_isakmp::NotifyType> {
    let m = MessageRepr::parse(bytes).unwrap();
    assert_eq!(m.header.exchange, ikeway_isakmp::ExchangeType::INFORMATIONAL);
    match &m.body {
        ikeway_isakmp::Body::Plain(payloads) => payloads
            .iter()
            .filter_map(|p| match p {
                ikeway_isakmp::Payload::Notification(n) => Some(n.kind),
                _ => None,
            })
            .collect(),
        ikeway_isakmp::Body::Encrypted(_) => panic!("an error notify goes in the clear"),
    }
}

#[test]
fn a_gateway_naming_another_identity_than_configured_is_told_invalid_id_and_nothing_is_kept() {
    let mut c = client();
    c.remote_id = Some(Identity::Ipv4("10.0.0.2".parse().unwrap()));
    let mut p = Pair::connected(c.clone(), gateway);
    assert!(p.client.is_established());
    // The same group and secret, but the gateway names itself otherwise.
    let (_, (from, to, bytes)) = renewal_of(client(), |a| {
        let mut g = gateway(a);
        g.local_id = Identity::Fqdn("someone.else.example".into());
        g
    });
    let now = p.now;
    let mut refused =
        p.client.answer_gateway(kex(), [1; 32], now, from, to, &bytes).expect("an answer");
    // Told in the clear, closed at once, nothing established.
    assert!(refused.is_closed());
    let out = drain(&mut refused);
    assert_eq!(out.len(), 1);
    assert_eq!(clear_notifies(&out[0].2), vec![ikeway_isakmp::NotifyType::INVALID_ID_INFORMATION]);
    let mut ev = Vec::new();
    events(&mut refused, &mut ev);
    assert_eq!(closed(&ev), vec![CloseReason::AuthenticationFailed]);
    assert_eq!(ups(&ev), 0);
    assert_eq!(p.client.stats().gateway_phase1_refused, 0, "answered, not dropped");
    assert!(p.client.is_established());
    assert_eq!(p.client.child_spis().len(), 1);
}

#[test]
fn a_gateway_with_another_group_secret_refuses_our_hash_and_the_client_keeps_its_sa() {
    let mut p = Pair::connected(client(), gateway);
    let wrong = || ikeway_crypto::SecretBytes::from_slice(b"not the group secret");
    let mut c = client();
    c.auth = ikeway_ikev1::Authentication::Psk(wrong());
    let (mut gw2, (from, to, bytes)) = renewal_of(c, |a| {
        let mut g = gateway(a);
        g.auth = ikeway_ikev1::Authentication::Psk(wrong());
        g
    });
    let now = p.now;
    let mut c2 = p.client.answer_gateway(kex(), [1; 32], now, from, to, &bytes).expect("an answer");
    assert!(!c2.is_closed(), "message 2 sent, waiting for message 3");
    // Our message 2 reaches that gateway, whose check of our HASH_R fails: it says so in the
    // clear and the client's new SA closes with it.
    for (f, t, b) in drain(&mut c2) {
        gw2.handle_datagram(now, f, t, &b);
    }
    let out = drain(&mut gw2);
    assert_eq!(out.len(), 1);
    assert_eq!(clear_notifies(&out[0].2), vec![ikeway_isakmp::NotifyType::AUTHENTICATION_FAILED]);
    for (f, t, b) in out {
        c2.handle_datagram(now, f, t, &b);
    }
    let mut ev = Vec::new();
    events(&mut c2, &mut ev);
    assert_eq!(closed(&ev), vec![CloseReason::AuthenticationFailed]);
    assert_eq!(ups(&ev), 0);
    assert!(drain(&mut c2).is_empty());
    assert!(p.client.is_established());
    assert_eq!(p.client.child_spis().len(), 1);
}

#[test]
fn a_message_1_nobody_completes_is_forgotten_after_the_half_open_time() {
    let mut p = Pair::connected(client(), gateway);
    let (from, to, bytes) = gateway_message_1(&mut p);
    let now = p.now;
    let mut c2 = p.client.answer_gateway(kex(), [1; 32], now, from, to, &bytes).expect("an answer");
    // Message 2 resent on its timer; after the half-open time (30 s) the SA closes.
    let mut t = now;
    while let Some(next) = c2.poll_timeout() {
        t = next;
        c2.handle_timeout(t);
    }
    assert!(c2.is_closed());
    assert_eq!(t - now, std::time::Duration::from_secs(30));
    let mut ev = Vec::new();
    events(&mut c2, &mut ev);
    assert_eq!(closed(&ev), vec![CloseReason::HandshakeTimeout]);
    assert!(p.client.is_established());
}
