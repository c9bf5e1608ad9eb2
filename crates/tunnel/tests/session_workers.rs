//! Issue 16: a responder session on two workers over loopback (no root: SO_REUSEPORT and its
//! steering program need no privilege). Clients' IKE_SA_INIT requests are spread by the
//! kernel's hash; every later message of an IKE SA reaches the worker its responder SPI names
//! (else IKE_AUTH, the rekey or the DELETE would be dropped as unknown SPIs, counted); the
//! workers lease from one pool, lowest first, no address twice; the session reports one
//! status, one end, and each worker's counters.

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::{HANG, LOOPBACK, start_pair, until};
use ikeway_codec::{ConfigAttributeType, IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{AddressPool, Config, worker_of_ike_spi};
use ikeway_tunnel::{EventKind, Ports, Role, Session, SessionOptions, Status};

const CLIENTS: usize = 12;
const WORKERS: usize = 2;

fn configs() -> (Config, Config, AddressPool) {
    let psk = SecretBytes::from_slice(b"session workers test, not a secret");
    let fqdn = |name| IdRepr::from_value(IdValue::Fqdn(name));
    let mut client = Config::new(fqdn("client.workers.test"), psk.clone());
    client.config_request = vec![ConfigAttributeType::INTERNAL_IP4_ADDRESS];
    client.dpd_interval = None;
    let mut server = Config::new(fqdn("server.workers.test"), psk);
    server.dpd_interval = None;
    let pool =
        AddressPool { v4: Some((Ipv4Addr::new(10, 88, 0, 10), 100)), ..AddressPool::default() };
    (client, server, pool)
}

#[test]
fn two_workers_serve_every_message_of_an_sa_on_its_worker() {
    let (client_config, server_config, pool) = configs();
    let (responder, first) = start_pair(
        (client_config.clone(), server_config, pool),
        |o| o.with_workers(WORKERS),
        |o| o,
    );
    let server_events = responder.events();
    assert_eq!(until(server_events, |_| true), [EventKind::Status { status: Status::Connected }]);

    let mut clients = Vec::new();
    let mut leases = Vec::new();
    let mut first = Some(first);
    for _ in 0..CLIENTS {
        let client = first.take().unwrap_or_else(|| {
            let mut options = SessionOptions::initiator(LOOPBACK, LOOPBACK, client_config.clone())
                .with_ports(Ports::ephemeral());
            options.role = Role::Initiator { remote: responder.local_addr() };
            Session::start(options).expect("initiator starts")
        });
        let seen =
            until(client.events(), |e| *e == EventKind::Status { status: Status::Connected });
        let spi_r = seen
            .iter()
            .find_map(|e| match e {
                EventKind::IkeSaUp { spi_r, .. } => Some(spi_r.0),
                _ => None,
            })
            .expect("IKE SA up");
        let address = seen
            .iter()
            .find_map(|e| match e {
                EventKind::ConfigReceived { addresses, .. } => Some(addresses[0].addr),
                _ => None,
            })
            .expect("an address");
        leases.push((worker_of_ike_spi(spi_r), address));
        clients.push(client);
    }
    let workers_used: HashSet<usize> = leases.iter().map(|(w, _)| *w).collect();
    // 2^-11 that the kernel's hash put all twelve on one worker.
    assert_eq!(workers_used, HashSet::from([0, 1]), "{leases:?}");
    // Clients connected one after another: each got the next address, whichever worker.
    let addresses: Vec<IpAddr> = leases.iter().map(|(_, a)| *a).collect();
    let expected: Vec<IpAddr> =
        (0..CLIENTS as u8).map(|i| IpAddr::V4(Ipv4Addr::new(10, 88, 0, 10 + i))).collect();
    assert_eq!(addresses, expected, "{leases:?}");

    // Rekeys and deletes reach the SA's worker too.
    for client in &clients {
        client.handle().rekey_ike().expect("alive");
        until(client.events(), |e| matches!(e, EventKind::IkeSaRekeyed { .. }));
    }
    for client in clients {
        client.handle().disconnect(Duration::from_secs(5)).expect("alive");
        until(client.events(), |e| *e == EventKind::Status { status: Status::Disconnected });
        client.wait().expect("ended cleanly");
    }

    responder.handle().request_stats().expect("alive");
    responder.handle().shutdown().expect("alive");
    let rest: Vec<EventKind> = server_events.iter().map(|e| e.kind).collect();
    let stats: Vec<(Option<usize>, String)> = rest
        .iter()
        .filter_map(|e| match e {
            EventKind::Stats(s) => Some((s.worker, s.endpoint.clone()?)),
            _ => None,
        })
        .collect();
    // Each worker answers the request and reports again as it ends.
    let mut reporters: Vec<Option<usize>> = stats.iter().map(|(w, _)| *w).collect();
    reporters.sort();
    assert_eq!(reporters, [Some(0), Some(0), Some(1), Some(1)], "{stats:#?}");
    for (_, s) in &stats {
        assert!(s.contains("dropped_unknown_spi: 0,"), "a message reached another worker: {s}");
    }
    let statuses: Vec<&EventKind> =
        rest.iter().filter(|e| matches!(e, EventKind::Status { .. })).collect();
    assert_eq!(statuses, [&EventKind::Status { status: Status::Disconnected }]);
    let ups = rest.iter().filter(|e| matches!(e, EventKind::IkeSaUp { .. })).count();
    assert_eq!(ups, CLIENTS);
    assert!(server_events.recv_timeout(HANG).is_err(), "the stream ends after Disconnected");
    responder.wait().expect("ended cleanly");
}
