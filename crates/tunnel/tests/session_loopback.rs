//! Two [`Session`]s, an initiator and a responder, over loopback UDP on ephemeral ports (no
//! root, no TUN): connect, rekey the child SA and the IKE SA, answer a command that arrives
//! while the loop is idle, and disconnect gracefully.

// The measured command latency goes into docs/PERFORMANCE.md.
#![allow(clippy::print_stdout)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::{HANG, LOOPBACK, start_pair, until};
use ikeway_codec::{AddrRange, ConfigAttributeType, IdRepr, IdValue, TrafficSelector};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{AddressPool, CloseReason, Config};
use ikeway_tunnel::{EventKind, Ports, Role, Session, SessionEvent, SessionOptions, Spi32, Status};

fn configs() -> (Config, Config, AddressPool) {
    let psk = SecretBytes::from_slice(b"session loopback test, not a secret");
    let fqdn = |name| IdRepr::from_value(IdValue::Fqdn(name));
    let mut client = Config::new(fqdn("client.session.test"), psk.clone());
    client.remote_id = Some(fqdn("server.session.test"));
    client.config_request =
        vec![ConfigAttributeType::INTERNAL_IP4_ADDRESS, ConfigAttributeType::INTERNAL_IP4_DNS];
    // No timer may fire while the test watches the loop sleep.
    client.dpd_interval = None;
    let mut server = Config::new(fqdn("server.session.test"), psk);
    server.dpd_interval = None;
    let net = |last| IpAddr::V4(Ipv4Addr::new(10, 77, 0, last));
    server.local_ts = vec![TrafficSelector::Range(AddrRange::any(net(0), net(255)))];
    let pool = AddressPool {
        v4: Some((Ipv4Addr::new(10, 88, 0, 10), 10)),
        dns: vec![net(53)],
        ..AddressPool::default()
    };
    (client, server, pool)
}

fn installed(seen: &[EventKind]) -> Vec<(Spi32, Option<Spi32>)> {
    seen.iter()
        .filter_map(|e| match e {
            EventKind::ChildSaInstalled { spi_in, replaces, .. } => Some((*spi_in, *replaces)),
            _ => None,
        })
        .collect()
}

#[test]
fn two_sessions_connect_rekey_answer_an_idle_command_and_disconnect() {
    let (responder, initiator) = start_pair(configs(), |o| o, |o| o);
    let handle = initiator.handle();
    let events = initiator.events();

    // Connected: IKE_SA_INIT done, IKE SA, configuration, child SA, in that order, then the
    // status.
    let seen = until(events, |e| *e == EventKind::Status { status: Status::Connected });
    assert_eq!(seen[0], EventKind::Status { status: Status::Connecting });
    assert!(matches!(seen[1], EventKind::Authenticating { .. }), "{seen:#?}");
    assert!(matches!(seen[2], EventKind::IkeSaUp { .. }), "{seen:#?}");
    let config = seen.iter().find_map(|e| match e {
        EventKind::ConfigReceived { addresses, dns, .. } => Some((addresses.clone(), dns.clone())),
        _ => None,
    });
    let (addresses, dns) = config.expect("a configuration");
    assert_eq!(addresses.iter().map(ToString::to_string).collect::<Vec<_>>(), ["10.88.0.10/32"]);
    assert_eq!(dns, [IpAddr::V4(Ipv4Addr::new(10, 77, 0, 53))]);
    let first = installed(&seen);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1, None);

    // Idle: no timer is due for hours and nothing arrives, so the loop does not wake at all;
    // then one command wakes it exactly once.
    let before = initiator.wakeups();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(initiator.wakeups(), before, "the idle loop woke up without a cause");
    let sent = Instant::now();
    handle.request_stats().expect("session alive");
    let seen = until(events, |e| matches!(e, EventKind::Stats(_)));
    let latency = sent.elapsed();
    let Some(EventKind::Stats(stats)) = seen.last() else { unreachable!("until returned it") };
    assert_eq!(stats.wakeups, before + 1, "exactly the command's wake-up");
    assert_eq!(stats.events_dropped, 0);
    println!("command latency on an idle session: {} µs", latency.as_micros());

    // Rekey the child SA: make before break, the new one names the one it replaces.
    handle.rekey_child().expect("session alive");
    let seen = until(events, |e| matches!(e, EventKind::ChildSaRemoved { .. }));
    let rekeyed = installed(&seen);
    assert_eq!(rekeyed.len(), 1, "{seen:#?}");
    assert_eq!(rekeyed[0].1, Some(first[0].0));
    assert!(seen.contains(&EventKind::ChildSaRemoved {
        spi_in: first[0].0,
        spi_out: match seen.iter().find(|e| matches!(e, EventKind::ChildSaRemoved { .. })) {
            Some(EventKind::ChildSaRemoved { spi_out, .. }) => *spi_out,
            _ => unreachable!("until returned it"),
        },
    }));

    // Rekey the IKE SA.
    handle.rekey_ike().expect("session alive");
    let seen = until(events, |e| matches!(e, EventKind::IkeSaRekeyed { .. }));
    let Some(EventKind::IkeSaRekeyed { old, new }) = seen.last() else { unreachable!() };
    assert_ne!(old, new);

    // Disconnect: DELETE, the answer, the end.
    handle.disconnect(Duration::from_secs(5)).expect("session alive");
    let seen = until(events, |e| *e == EventKind::Status { status: Status::Disconnected });
    assert_eq!(seen[0], EventKind::Status { status: Status::Disconnecting });
    assert!(seen.contains(&EventKind::IkeSaClosed { reason: CloseReason::Deleted }), "{seen:#?}");
    assert!(events.recv_timeout(HANG).is_err(), "the stream ends after Disconnected");
    initiator.wait().expect("ended cleanly");

    // The responder saw all of it, each event naming the client's IKE SA.
    let server_events: Vec<SessionEvent> = {
        responder.handle().shutdown().expect("responder alive");
        let all: Vec<SessionEvent> = responder.events().iter().collect();
        all
    };
    let kinds: Vec<&EventKind> = server_events.iter().map(|e| &e.kind).collect();
    assert_eq!(kinds[0], &EventKind::Status { status: Status::Connected });
    assert_eq!(kinds.iter().filter(|e| matches!(e, EventKind::ChildSaInstalled { .. })).count(), 2);
    assert!(kinds.contains(&&EventKind::IkeSaClosed { reason: CloseReason::DeletedByPeer }));
    for e in &server_events {
        let per_sa = !matches!(e.kind, EventKind::Status { .. } | EventKind::Stats(_));
        assert_eq!(e.sa.is_some(), per_sa, "{e:?}");
    }
    responder.wait().expect("ended cleanly");
}

/// A responder's disconnect deletes every IKE SA it holds: the client hears DELETE, and the
/// responder ends as soon as none is left, before its grace period.
#[test]
fn a_responder_disconnect_deletes_its_clients_sas() {
    let (responder, initiator) = start_pair(configs(), |o| o, |o| o);
    until(initiator.events(), |e| *e == EventKind::Status { status: Status::Connected });

    // A grace far longer than the test may take: only the answer can end it early.
    responder.handle().disconnect(Duration::from_secs(3600)).expect("responder alive");
    let seen =
        until(responder.events(), |e| *e == EventKind::Status { status: Status::Disconnected });
    assert!(seen.contains(&EventKind::Status { status: Status::Disconnecting }), "{seen:#?}");
    assert!(seen.contains(&EventKind::IkeSaClosed { reason: CloseReason::Deleted }), "{seen:#?}");
    responder.wait().expect("ended cleanly");
    let seen =
        until(initiator.events(), |e| *e == EventKind::Status { status: Status::Disconnected });
    assert!(
        seen.contains(&EventKind::IkeSaClosed { reason: CloseReason::DeletedByPeer }),
        "{seen:#?}"
    );
    initiator.wait().expect("ended cleanly");
}

/// An initiator whose first child SA does not come up within its connect timeout ends with
/// `TimedOut`, reported as an error event before the last status.
#[test]
fn no_answer_within_the_connect_timeout_ends_the_session() {
    let (client, _, _) = configs();
    // A bound socket that never answers: the datagrams arrive and are ignored.
    let silent = std::net::UdpSocket::bind((LOOPBACK, 0)).expect("bind");
    let mut options = SessionOptions::initiator(LOOPBACK, LOOPBACK, client)
        .with_ports(Ports::ephemeral())
        .with_connect_timeout(Duration::from_millis(200));
    options.role = Role::Initiator { remote: silent.local_addr().expect("bound") };
    let session = Session::start(options).expect("starts");
    let seen =
        until(session.events(), |e| *e == EventKind::Status { status: Status::Disconnected });
    assert_eq!(seen[0], EventKind::Status { status: Status::Connecting });
    assert!(seen.contains(&EventKind::Error { error: "timed out".into() }), "{seen:#?}");
    assert!(!seen.iter().any(|e| matches!(e, EventKind::IkeSaUp { .. })));
    assert!(matches!(session.wait(), Err(ikeway_tunnel::SessionError::TimedOut)));
}
