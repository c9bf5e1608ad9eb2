//! The userspace netstack over a negotiated child SA, both ends in this process (no root).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use ikeway_sa::CloseReason;
use ikeway_tunnel::netstack::demo::{
    self, DemoEvent, DemoOptions, DemoTunnel, Phase, SERVER_INNER,
};
use ikeway_tunnel::netstack::{EspLink, Netstack, NetstackConfig, NetstackError};

fn link() -> EspLink {
    EspLink::new(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap(), None).unwrap()
}

#[test]
fn demo_reports_every_step_in_order() {
    let mut lines = Vec::new();
    let mut progress = 0;
    let status = demo::run(DemoOptions { bytes: 300_000 }, &mut |e| match e {
        DemoEvent::Progress { received, total } => {
            assert_eq!(*total, 300_000);
            assert!(*received > progress, "progress goes forward");
            progress = *received;
        }
        other => lines.push(other.to_string()),
    })
    .unwrap();
    assert_eq!(progress, 300_000);
    assert_eq!(status.transferred, 300_000);
    assert_eq!(status.client_address, Ipv4Addr::new(10, 88, 0, 10));
    assert_eq!(status.traffic.drops, 0);
    assert!(status.traffic.sent_bytes > 300_000, "{:?}", status.traffic);
    let text = lines.join("\n");
    let expected = [
        "1. Negotiation (RFC 7296): IKE_SA_INIT, IKE_AUTH with a pre-shared key and CP",
        "  client -> server  IKE_SA_INIT request #0 [SA, KE, Nonce, N, N, N, N]",
        "  server -> client  IKE_SA_INIT response #0",
        "  client -> server  IKE_AUTH request #1 [SK]",
        "  server -> client  IKE_AUTH response #1 [SK]",
        "  IKE SA up: AES-GCM-16-256 / PRF-HMAC-SHA2-256 / CURVE25519",
        "  configuration from the server: address 10.88.0.10/32, DNS 10.77.0.53, domain demo.ikeway",
        "  CHILD_SA installed: ESP AES-GCM-16-256 with ESN",
        "  handshake took ",
        "2. Traffic: TCP from 10.88.0.10 to 10.77.0.1:5001 through the child SA (two smoltcp stacks)",
        "  300000 bytes received intact in ",
        "\n3. Status\n  status             connected",
        "  drops              0",
        "\n4. Disconnect: INFORMATIONAL with DELETE",
        "  client -> server  INFORMATIONAL request #2 [SK]",
        "  server -> client  INFORMATIONAL response #2 [SK]",
        "  IKE SA closed: deleted by us",
    ];
    let mut at = 0;
    for e in expected {
        let found = text[at..]
            .find(e)
            .unwrap_or_else(|| panic!("{e:?} missing after byte {at} of:\n{text}"));
        at += found + e.len();
    }
}

#[test]
fn stale_and_foreign_handles_are_errors_not_panics() {
    let mut tunnel = DemoTunnel::establish(&mut |_| {}).unwrap();
    let conn = tunnel.client.connect(SocketAddr::from((SERVER_INNER, 9))).unwrap();
    tunnel.client.remove(conn).unwrap();
    assert!(matches!(tunnel.client.send(conn, b"x"), Err(NetstackError::UnknownHandle)));
    assert!(matches!(tunnel.client.remove(conn), Err(NetstackError::UnknownHandle)));
    // A handle of the other stack whose slot this stack never had.
    let theirs = tunnel.server.listen(1).unwrap();
    let _ = tunnel.server.listen(2).unwrap();
    let other = tunnel.server.listen(3).unwrap();
    assert!(matches!(tunnel.client.is_established(other), Err(NetstackError::UnknownHandle)));
    assert!(tunnel.server.is_established(theirs).is_ok());
    assert_eq!(tunnel.close(&mut |_| {}).unwrap(), CloseReason::Deleted);
}

#[test]
fn reading_after_the_peer_closed_is_an_error() {
    let mut tunnel = DemoTunnel::establish(&mut |_| {}).unwrap();
    let listener = tunnel.server.listen(7).unwrap();
    let conn = tunnel.client.connect(SocketAddr::from((SERVER_INNER, 7))).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(tunnel.client.recv(conn, &mut buf).unwrap(), 0, "nothing yet is not an error");
    assert_eq!(
        tunnel.client.send(conn, b"early").unwrap_err().to_string(),
        "send: invalid state",
        "sending before the handshake is refused"
    );
    while !tunnel.client.is_established(conn).unwrap() {
        tunnel.poll();
    }
    tunnel.client.send(conn, b"ping").unwrap();
    tunnel.client.close(conn).unwrap();
    let mut got = Vec::new();
    for _ in 0..10_000 {
        tunnel.poll();
        while tunnel.server.can_recv(listener).unwrap() {
            let n = tunnel.server.recv(listener, &mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        if tunnel.server.is_finished(listener).unwrap() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
    assert_eq!(got, b"ping");
    assert!(tunnel.server.is_finished(listener).unwrap());
    let err = tunnel.server.recv(listener, &mut buf).unwrap_err();
    assert_eq!(err.to_string(), "receive: operation finished");
}

#[test]
fn rejects_an_unusable_interface_address() {
    let err = Netstack::new(
        link(),
        &NetstackConfig {
            prefix_len: 33,
            ..NetstackConfig::new(Ipv4Addr::new(10, 0, 0, 1).into())
        },
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "10.0.0.1/33 is not a usable interface address");
    let err =
        Netstack::new(link(), &NetstackConfig::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED))).unwrap_err();
    assert_eq!(err.to_string(), "0.0.0.0/32 is not a usable interface address");
}

#[test]
fn a_default_config_is_a_host_address_with_a_route_out() {
    assert_eq!(NetstackConfig::new(Ipv4Addr::new(10, 0, 0, 1).into()).prefix_len, 32);
    assert_eq!(NetstackConfig::new("fd00::1".parse().unwrap()).prefix_len, 128);
    // A /32 host reaches an address outside its prefix through the default route.
    let mut stack =
        Netstack::new(link(), &NetstackConfig::new(Ipv4Addr::new(10, 0, 0, 1).into())).unwrap();
    assert!(stack.connect(SocketAddr::from((Ipv4Addr::new(192, 0, 2, 1), 80))).is_ok());
}

#[test]
fn phases_print_as_the_binary_did() {
    assert_eq!(
        Phase::Traffic { client: Ipv4Addr::new(10, 88, 0, 10) }.to_string(),
        "2. Traffic: TCP from 10.88.0.10 to 10.77.0.1:5001 through the child SA (two smoltcp stacks)"
    );
}
