//! Issue 9 finding 10: the responder under floods of IKE_SA_INIT and fragments. Cookies come
//! before the half-open limits, one source holds a bounded share of the half-open SAs, their
//! memory is bounded per SA and in total, and the cookie secret rotates.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Pair, SERVER, addr, client_config, fragmenting_configs, server_config};
use ikeway_codec::{MessageRepr, NotifyType, PayloadRepr};
use ikeway_sa::{Config, IkeSa, InsecureKexForFuzzing, Responder};

fn responder(server: Config) -> Responder {
    Responder::new(Arc::new(server), Arc::new(InsecureKexForFuzzing), None, [9; 32])
}

fn initiator(seed: u8, from: SocketAddr, now: Instant) -> IkeSa {
    let kex = Arc::new(InsecureKexForFuzzing);
    IkeSa::initiate(Arc::new(client_config()), kex, [seed; 32], now, from, addr(SERVER))
        .expect("initiate")
}

/// What the responder answered to one round.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Nothing,
    Cookie,
    InitResponse,
}

/// Sends the initiator's pending datagrams to the responder and its answers back.
fn round(r: &mut Responder, i: &mut IkeSa, now: Instant) -> Answer {
    let mut buf = vec![0u8; 65536];
    let from = i.local();
    while let Some(t) = i.poll_transmit(&mut buf) {
        r.handle_datagram(now, from, addr(SERVER), &buf[..t.expect("fits").len]);
    }
    let mut answer = Answer::Nothing;
    while let Some(t) = r.poll_transmit(&mut buf) {
        let t = t.expect("fits");
        assert_eq!(t.remote, from);
        let message = MessageRepr::parse(&buf[..t.len]).expect("well-formed answer");
        let cookie = message
            .payloads
            .iter()
            .any(|p| matches!(&p.body, PayloadRepr::Notify(n) if n.kind == NotifyType::COOKIE));
        answer = if cookie { Answer::Cookie } else { Answer::InitResponse };
        i.handle_datagram(now, addr(SERVER), from, &buf[..t.len]);
    }
    answer
}

fn from(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("test address"), port)
}

/// Issue 9 finding 10: over the cookie threshold the cookie is demanded before the half-open
/// limit is checked, so a request from an unproven address costs a stateless reply and counts
/// against no limit; before, the limit dropped it first and no cookie was ever sent.
#[test]
fn over_the_threshold_the_cookie_comes_before_the_half_open_limit() {
    let mut server = server_config();
    server.cookie_threshold = 1;
    server.half_open_limit = 1;
    let mut r = responder(server);
    let now = Instant::now();
    let mut a = initiator(1, from("10.0.1.1", 500), now);
    assert_eq!(round(&mut r, &mut a, now), Answer::InitResponse);
    let mut b = initiator(2, from("10.0.1.2", 500), now);
    assert_eq!(round(&mut r, &mut b, now), Answer::Cookie);
    let stats = r.stats();
    assert_eq!((stats.cookies_demanded, stats.dropped_half_open_limit), (1, 0));
    // With its address proven, B meets the limit.
    assert_eq!(round(&mut r, &mut b, now), Answer::Nothing);
    assert_eq!(r.stats().dropped_half_open_limit, 1);
    assert_eq!(r.half_open(), 1);
}

/// Issue 9 finding 10: one host that returns every cookie holds at most
/// `half_open_per_source` half-open SAs; others still get theirs. Before, it could take them
/// all for 30 s.
#[test]
fn one_source_cannot_hold_every_half_open_slot() {
    let mut server = server_config();
    server.cookie_threshold = 0;
    server.half_open_limit = 100;
    server.half_open_per_source = 4;
    let mut r = responder(server);
    let now = Instant::now();
    for n in 0..10u8 {
        let mut i = initiator(10 + n, from("10.0.2.1", 1000 + u16::from(n)), now);
        assert_eq!(round(&mut r, &mut i, now), Answer::Cookie);
        let expected = if n < 4 { Answer::InitResponse } else { Answer::Nothing };
        assert_eq!(round(&mut r, &mut i, now), expected, "request {n}");
    }
    assert_eq!(r.half_open(), 4);
    assert_eq!(r.stats().dropped_half_open_per_source, 6);
    let mut other = initiator(50, from("10.0.2.2", 500), now);
    assert_eq!(round(&mut r, &mut other, now), Answer::Cookie);
    assert_eq!(round(&mut r, &mut other, now), Answer::InitResponse);
    assert_eq!(r.half_open(), 5);
}

/// Issue 9 finding 10: the half-open SAs together hold at most `half_open_memory_limit`
/// bytes; a request that would pass it is dropped and counted. Before, nothing was counted
/// and 1024 half-open SAs could hold ~130 MiB.
#[test]
fn half_open_memory_is_bounded_in_total() {
    let now = Instant::now();
    let mut probe = responder(server_config());
    let mut i = initiator(60, from("10.0.3.1", 500), now);
    assert_eq!(round(&mut probe, &mut i, now), Answer::InitResponse);
    let one = probe.half_open_bytes();
    assert!(one > 0);

    let mut server = server_config();
    server.half_open_memory_limit = 2 * one + one / 2;
    let mut r = responder(server);
    for n in 0..3u8 {
        let mut i = initiator(60, from(&format!("10.0.3.{}", n + 1), 500), now);
        let expected = if n < 2 { Answer::InitResponse } else { Answer::Nothing };
        assert_eq!(round(&mut r, &mut i, now), expected, "request {n}");
    }
    assert_eq!(r.half_open(), 2);
    assert_eq!(r.half_open_bytes(), 2 * one);
    assert_eq!(r.stats().dropped_half_open_memory, 1);
}

/// Issue 9 finding 10: a half-open SA reassembles IKE_AUTH fragments only within its own
/// byte budget (`half_open_max_bytes`, which also counts its stored IKE_SA_INIT messages);
/// the message that would pass it is dropped and counted. Before, each half-open SA could
/// take 64 KiB of fragments.
#[test]
fn half_open_sa_reassembles_only_within_its_budget() {
    let (client, mut server) = fragmenting_configs(2000);
    server.half_open_max_bytes = 2048;
    let mut pair = Pair::new(client, server, Arc::new(InsecureKexForFuzzing), 61);
    let refused = pair.run_until(Duration::from_secs(5), |p| {
        p.responder.sas().any(|sa| sa.stats().dropped_over_budget > 0)
    });
    assert!(refused, "the oversized IKE_AUTH was not refused");
    let sa = pair.responder_sa();
    assert_eq!(sa.stats().dropped_over_budget, 1);
    assert!(sa.is_half_open());
    assert!(sa.held_bytes() <= 2048, "{}", sa.held_bytes());
    assert_eq!(pair.responder.half_open_bytes(), pair.responder_sa().held_bytes());
    assert!(!pair.initiator.is_established());
}

/// Issue 9 finding 10: the cookie secret is replaced every `cookie_secret_period`; a cookie
/// stays valid across one replacement and is refused after the second (RFC 7296 §2.6).
/// Before, the secret never changed and a cookie stayed valid forever.
#[test]
fn cookie_secret_rotates_and_the_previous_one_is_accepted_for_one_period() {
    let mut server = server_config();
    server.cookie_threshold = 0;
    server.cookie_secret_period = Duration::from_secs(60);
    let mut r = responder(server);
    let t0 = Instant::now();
    let mut a = initiator(70, from("10.0.4.1", 500), t0);
    let mut b = initiator(71, from("10.0.4.2", 500), t0);
    assert_eq!(round(&mut r, &mut a, t0), Answer::Cookie);
    assert_eq!(round(&mut r, &mut b, t0), Answer::Cookie);
    // One rotation later, A's cookie (previous secret) still opens an SA.
    assert_eq!(round(&mut r, &mut a, t0 + Duration::from_secs(61)), Answer::InitResponse);
    assert_eq!(r.stats().cookies_refused, 0);
    // Two rotations later, B's cookie is refused and a fresh one demanded.
    assert_eq!(round(&mut r, &mut b, t0 + Duration::from_secs(122)), Answer::Cookie);
    let stats = r.stats();
    assert_eq!((stats.cookies_refused, stats.cookies_demanded), (1, 3));
    assert_eq!(r.half_open(), 1);
}

/// Issue 9 finding 10: the endpoint's indexes (half-open counts per source, held bytes,
/// timers) return to zero when half-open SAs time out and their events are taken.
#[test]
fn half_open_sas_time_out_and_every_count_returns_to_zero() {
    let mut server = server_config();
    server.cookie_threshold = 100;
    let mut r = responder(server);
    let now = Instant::now();
    for n in 0..3u8 {
        let mut i = initiator(80 + n, from("10.0.5.1", 2000 + u16::from(n)), now);
        assert_eq!(round(&mut r, &mut i, now), Answer::InitResponse);
    }
    assert_eq!((r.len(), r.half_open()), (3, 3));
    let deadline = r.poll_timeout().expect("half-open SAs time out");
    assert_eq!(deadline, now + Duration::from_secs(30));
    r.handle_timeout(deadline);
    let mut closed = 0;
    while let Some(e) = r.poll_event() {
        closed += usize::from(matches!(e.event, ikeway_sa::Event::IkeSaClosed { .. }));
    }
    assert_eq!(closed, 3);
    assert_eq!((r.len(), r.half_open(), r.half_open_bytes()), (0, 0, 0));
    assert_eq!(r.poll_timeout(), None);
    // The source may open SAs again.
    let mut again = initiator(90, from("10.0.5.1", 3000), now);
    assert_eq!(round(&mut r, &mut again, deadline), Answer::InitResponse);
}
