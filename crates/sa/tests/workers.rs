//! Issue 16: the workers of a multi-core responder. Every SPI a worker chooses names it, so a
//! datagram routed by SPI alone (what the kernel's steering program does) always reaches the
//! worker holding the SA, through IKE_AUTH, rekeys of either side and DELETE; the workers
//! share one address pool and never hand out an address twice.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use common::{addr, client_config, pool, server_config};
use ikeway_codec::HeaderRepr;
use ikeway_sa::{
    Event, IkeSa, InsecureKexForFuzzing, Responder, SaId, Workers, worker_of_esp_spi,
    worker_of_ike_spi,
};

const WORKERS: usize = 2;

/// Clients and the workers of one responder; IKE_SA_INIT requests go to the worker a test
/// names (the kernel's hash), everything else to the worker the SPI names.
struct Farm {
    now: Instant,
    workers: Workers,
    servers: Vec<Responder>,
    clients: Vec<IkeSa>,
    client_addrs: Vec<SocketAddr>,
    client_events: Vec<Vec<Event>>,
    /// Events of each worker.
    events: Vec<Vec<Event>>,
    /// Datagrams a worker received for an SA it does not hold.
    misrouted: usize,
}

/// The worker a datagram to the responder goes to: what the steering program computes, our
/// SPI (the responder's unless the I flag says we started this SA) read from the header.
fn steer(bytes: &[u8], init_to: usize) -> usize {
    let h = HeaderRepr::parse(bytes).expect("our clients send valid headers");
    let ours = if h.flags.initiator { h.spi_r } else { h.spi_i };
    if ours == 0 { init_to } else { worker_of_ike_spi(ours) }
}

impl Farm {
    fn new(clients: usize) -> Self {
        let workers = Workers::new(Some(pool()), WORKERS);
        let kex = Arc::new(InsecureKexForFuzzing);
        let config = Arc::new(server_config());
        let servers = (0..WORKERS)
            .map(|w| workers.responder(w, Arc::clone(&config), kex.clone(), [w as u8 + 1; 32]))
            .collect();
        let now = Instant::now();
        let client_addrs: Vec<SocketAddr> =
            (0..clients).map(|i| addr(&format!("10.0.1.{}:500", i + 1))).collect();
        let clients: Vec<IkeSa> = client_addrs
            .iter()
            .enumerate()
            .map(|(i, &local)| {
                IkeSa::initiate(
                    Arc::new(client_config()),
                    kex.clone(),
                    [100 + i as u8; 32],
                    now,
                    local,
                    addr(common::SERVER),
                )
                .expect("initiate")
            })
            .collect();
        Self {
            now,
            workers,
            servers,
            client_events: clients.iter().map(|_| Vec::new()).collect(),
            clients,
            client_addrs,
            events: (0..WORKERS).map(|_| Vec::new()).collect(),
            misrouted: 0,
        }
    }

    /// Moves datagrams until all are quiet; client `i`'s IKE_SA_INIT goes to worker `i % 2`.
    fn settle(&mut self) {
        let mut buf = vec![0u8; 65536];
        for _ in 0..64 {
            let mut moved = 0;
            for (i, client) in self.clients.iter_mut().enumerate() {
                while let Some(t) = client.poll_transmit(&mut buf) {
                    let t = t.expect("64 KiB is enough");
                    let w = steer(&buf[..t.len], i % WORKERS);
                    let before = self.servers[w].stats().dropped_unknown_spi;
                    self.servers[w].handle_datagram(self.now, t.local, t.remote, &buf[..t.len]);
                    self.misrouted +=
                        (self.servers[w].stats().dropped_unknown_spi - before) as usize;
                    moved += 1;
                }
            }
            for (w, server) in self.servers.iter_mut().enumerate() {
                while let Some(t) = server.poll_transmit(&mut buf) {
                    let t = t.expect("64 KiB is enough");
                    let i = self
                        .client_addrs
                        .iter()
                        .position(|a| *a == t.remote)
                        .expect("a reply goes to one of the clients");
                    self.clients[i].handle_datagram(self.now, t.remote, t.local, &buf[..t.len]);
                    moved += 1;
                }
                while let Some(e) = server.poll_event() {
                    self.events[w].push(e.event);
                }
            }
            for (c, events) in self.clients.iter_mut().zip(&mut self.client_events) {
                while let Some(e) = c.poll_event() {
                    events.push(e.event);
                }
            }
            if moved == 0 {
                return;
            }
        }
        panic!("never quiet");
    }
}

#[test]
fn every_spi_names_its_worker_and_every_message_reaches_it() {
    let mut farm = Farm::new(6);
    farm.settle();
    assert!(farm.clients.iter().all(IkeSa::is_established));
    assert_eq!(farm.misrouted, 0);
    for (i, c) in farm.clients.iter().enumerate() {
        let (_, spi_r) = c.spis();
        assert_eq!(worker_of_ike_spi(spi_r), i % WORKERS, "client {i}'s responder SPI");
    }
    for (w, events) in farm.events.iter().enumerate() {
        let children: Vec<u32> = events
            .iter()
            .filter_map(|e| match e {
                Event::ChildSaInstalled(c) => Some(c.spi_in),
                _ => None,
            })
            .collect();
        assert_eq!(children.len(), 3, "worker {w}: three clients, one child each");
        assert!(children.iter().all(|s| worker_of_esp_spi(*s) == w), "{children:x?}");
        assert_eq!(farm.servers[w].len(), 3);
    }

    // Rekeys started by the clients and by the responder: the new SAs' SPIs of ours still
    // name the worker, so their messages and the old SAs' DELETEs still reach it.
    let now = farm.now;
    farm.clients[0].rekey_ike(now);
    let id = SaId::from_spi(farm.clients[1].spis().1);
    farm.servers[1].sa_mut(id).expect("worker 1 holds client 1").rekey_ike(now);
    farm.settle();
    assert_eq!(farm.misrouted, 0);
    let (spi_i, spi_r) = farm.clients[0].spis();
    assert_eq!(worker_of_ike_spi(spi_r), 0, "client 0 rekeyed: a new responder SPI");
    let (spi_i1, _) = farm.clients[1].spis();
    assert_eq!(worker_of_ike_spi(spi_i1), 1, "worker 1 rekeyed: its SPI is the initiator's");
    assert_ne!((spi_i, spi_i1), (0, 0));
    farm.clients[1].dpd(now);
    farm.clients[1].delete_ike(now);
    farm.settle();
    assert_eq!(farm.misrouted, 0);
    assert!(farm.clients[1].is_closed());
    assert_eq!(farm.servers[1].len(), 2, "the SA the responder rekeyed is gone on DELETE");
}

#[test]
fn workers_share_one_pool_and_never_lease_an_address_twice() {
    let mut farm = Farm::new(6);
    farm.settle();
    let addresses = |events: &Vec<Event>| -> Vec<IpAddr> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::ConfigReceived(c) => Some(c.addresses.iter().map(|(a, _)| *a)),
                _ => None,
            })
            .flatten()
            .collect()
    };
    let leased: Vec<(usize, IpAddr)> = farm
        .client_events
        .iter()
        .enumerate()
        .flat_map(|(i, e)| addresses(e).into_iter().filter(IpAddr::is_ipv4).map(move |a| (i, a)))
        .collect();
    // One pool for both workers, lowest free first whichever worker answers: clients got
    // 10.88.0.10 on in the order they authenticated (one after another here).
    let expect: Vec<(usize, IpAddr)> =
        (0..6).map(|i| (i, format!("10.88.0.{}", 10 + i).parse().unwrap())).collect();
    let mut sorted = leased.clone();
    sorted.sort_by_key(|(_, a)| *a);
    assert_eq!(
        sorted.iter().map(|(_, a)| *a).collect::<Vec<_>>(),
        expect.iter().map(|(_, a)| *a).collect::<Vec<_>>()
    );
    assert_eq!(leased.len(), 6);
    // Both families, both workers: six v4 and six v6 leases, all different.
    assert_eq!(farm.workers.leased(), 12);
    let v6: HashSet<IpAddr> =
        farm.client_events.iter().flat_map(addresses).filter(IpAddr::is_ipv6).collect();
    assert_eq!(v6.len(), 6);
    // Leases come back when the SAs end, on whichever worker held them.
    let now = farm.now;
    for c in &mut farm.clients {
        c.delete_ike(now);
    }
    farm.settle();
    assert_eq!(farm.workers.leased(), 0);
    assert!(farm.servers.iter().all(Responder::is_empty));
}
