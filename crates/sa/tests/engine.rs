//! The one engine interface: an initiator and a responder driven by the same code through
//! `&mut dyn Engine`, their events naming the IKE SA they concern by our own SPI of it.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::{CLIENT, SERVER, addr, client_config, pool, server_config};
use ikeway_sa::{Engine, EngineEvent, Event, IkeSa, InsecureKexForFuzzing, Responder, SaId};

/// Both ends, stepped in lock step on one instant; every event kept with its name.
struct Ends {
    now: Instant,
    client: IkeSa,
    server: Responder,
    client_events: Vec<EngineEvent>,
    server_events: Vec<EngineEvent>,
}

/// Hands everything `from` wants to send to `to`; returns how many datagrams moved.
fn deliver(from: &mut dyn Engine, to: &mut dyn Engine, now: Instant) -> usize {
    let mut buf = vec![0u8; 65536];
    let mut moved = 0;
    while let Some(t) = from.poll_transmit(&mut buf) {
        let t = t.expect("64 KiB is enough");
        to.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
        moved += 1;
    }
    moved
}

fn drain(engine: &mut dyn Engine, into: &mut Vec<EngineEvent>) {
    while let Some(e) = engine.poll_event() {
        into.push(e);
    }
}

impl Ends {
    fn new() -> Self {
        let kex = Arc::new(InsecureKexForFuzzing);
        let now = Instant::now();
        let client = IkeSa::initiate(
            Arc::new(client_config()),
            kex.clone(),
            [5; 32],
            now,
            addr(CLIENT),
            addr(SERVER),
        )
        .expect("initiate");
        let server = Responder::new(Arc::new(server_config()), kex, Some(pool()), [6; 32]);
        Self { now, client, server, client_events: Vec::new(), server_events: Vec::new() }
    }

    /// Exchanges datagrams until neither end has anything to send.
    fn settle(&mut self) {
        for _ in 0..32 {
            let moved = deliver(&mut self.client, &mut self.server, self.now)
                + deliver(&mut self.server, &mut self.client, self.now);
            drain(&mut self.client, &mut self.client_events);
            drain(&mut self.server, &mut self.server_events);
            if moved == 0 {
                return;
            }
        }
        panic!("the ends never went quiet");
    }

    /// Our SPIs on each end: the client chose SPIi, the server SPIr.
    fn ids(&self) -> (SaId, SaId) {
        let (spi_i, spi_r) = self.client.spis();
        (SaId::from_spi(spi_i), SaId::from_spi(spi_r))
    }
}

fn kinds(events: &[EngineEvent]) -> Vec<&'static str> {
    events
        .iter()
        .map(|e| match e.event {
            Event::Authenticating { .. } => "authenticating",
            Event::IkeSaUp { .. } => "ike-up",
            Event::ChildSaInstalled(_) => "child-installed",
            Event::ChildSaRemoved { .. } => "child-removed",
            Event::ConfigReceived(_) => "config",
            Event::NatDetected { .. } => "nat",
            Event::IkeSaRekeyed { .. } => "ike-rekeyed",
            Event::IkeSaClosed { .. } => "ike-closed",
            _ => "other",
        })
        .collect()
}

#[test]
fn events_of_both_roles_name_the_sa_by_our_own_spi() {
    let mut ends = Ends::new();
    ends.settle();
    assert!(ends.client.is_established());
    let (client_id, server_id) = ends.ids();
    assert_ne!(client_id, server_id);
    assert_eq!(ends.client.id(), client_id);
    // Only the initiator reports the wait for IKE_AUTH.
    assert_eq!(
        kinds(&ends.client_events),
        ["authenticating", "ike-up", "config", "child-installed"]
    );
    assert_eq!(kinds(&ends.server_events), ["ike-up", "child-installed"]);
    assert!(ends.client_events.iter().all(|e| e.sa == client_id), "{:?}", ends.client_events);
    let (spi_i, spi_r) = ends.client.spis();
    assert!(matches!(
        ends.client_events[0].event,
        Event::Authenticating { spi_i: i, spi_r: r } if (i, r) == (spi_i, spi_r)
    ));
    assert!(ends.server_events.iter().all(|e| e.sa == server_id), "{:?}", ends.server_events);
}

#[test]
fn sa_mut_finds_an_sa_by_our_spi_and_never_by_the_peers() {
    let mut ends = Ends::new();
    ends.settle();
    let (client_id, server_id) = ends.ids();
    let client: &mut dyn Engine = &mut ends.client;
    assert_eq!(client.sa_mut(client_id).map(|sa| sa.local_spi()), Some(client_id.spi()));
    assert!(client.sa_mut(server_id).is_none(), "the peer's SPI names nothing");
    let server: &mut dyn Engine = &mut ends.server;
    assert_eq!(server.sa_mut(server_id).map(|sa| sa.local_spi()), Some(server_id.spi()));
    assert!(server.sa_mut(client_id).is_none(), "the peer's SPI names nothing");
}

#[test]
fn a_command_given_through_sa_mut_runs_on_the_sa_the_event_named() {
    let mut ends = Ends::new();
    ends.settle();
    let up = ends.server_events.iter().find(|e| matches!(e.event, Event::IkeSaUp { .. }));
    let id = up.expect("the server saw the SA come up").sa;
    let now = ends.now;
    let sa = Engine::sa_mut(&mut ends.server, id).expect("the named SA");
    let before = sa.stats().sent;
    sa.dpd(now);
    ends.settle();
    let sa = Engine::sa_mut(&mut ends.server, id).expect("still there");
    // The liveness check went out and its answer came back.
    assert_eq!(sa.stats().sent, before + 1);
    assert!(sa.is_established());
}

#[test]
fn after_an_ike_rekey_events_carry_the_new_name_and_the_old_one_finds_the_sa_until_deleted() {
    let mut ends = Ends::new();
    ends.settle();
    let (old_client, old_server) = ends.ids();
    let now = ends.now;
    Engine::sa_mut(&mut ends.client, old_client).expect("the client's SA").rekey_ike(now);
    // Request out, answer back: the client switches to the new SA and keeps the old one until
    // its DELETE is answered.
    deliver(&mut ends.client, &mut ends.server, now);
    deliver(&mut ends.server, &mut ends.client, now);
    drain(&mut ends.client, &mut ends.client_events);
    let (new_client, new_server) = ends.ids();
    assert_ne!(new_client, old_client);
    assert_ne!(new_server, old_server);
    let rekeyed = ends.client_events.last().expect("the client reported the rekey");
    assert!(matches!(rekeyed.event, Event::IkeSaRekeyed { .. }), "{rekeyed:?}");
    assert_eq!(rekeyed.sa, new_client);
    let client: &mut dyn Engine = &mut ends.client;
    assert_eq!(client.sa_mut(old_client).map(|sa| sa.local_spi()), Some(new_client.spi()));
    let server: &mut dyn Engine = &mut ends.server;
    assert_eq!(server.sa_mut(old_server).map(|sa| sa.local_spi()), Some(new_server.spi()));

    ends.settle();
    let server_rekeyed = ends
        .server_events
        .iter()
        .find(|e| matches!(e.event, Event::IkeSaRekeyed { .. }))
        .expect("the server reported the rekey");
    assert_eq!(server_rekeyed.sa, new_server);
    // The old SA's DELETE was answered: its name is gone, the new one stays.
    let client: &mut dyn Engine = &mut ends.client;
    assert!(client.sa_mut(old_client).is_none());
    assert!(client.sa_mut(new_client).is_some());
    let server: &mut dyn Engine = &mut ends.server;
    assert!(server.sa_mut(old_server).is_none());
    assert!(server.sa_mut(new_server).is_some_and(|sa| sa.is_established()));
}

#[test]
fn an_sa_id_prints_as_sixteen_hex_digits() {
    assert_eq!(SaId::from_spi(0x1234_abcd).to_string(), "000000001234abcd");
    assert_eq!(SaId::from_spi(u64::MAX).to_string(), "ffffffffffffffff");
    assert_eq!(SaId::from_spi(7).spi(), 7);
}
