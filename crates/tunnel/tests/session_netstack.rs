//! Two [`Session`]s whose child SAs go into userspace netstacks (`DatapathOptions::Netstack`):
//! TCP through the tunnel with no root and no TUN device, across a child SA rekey, and the
//! SAs out of the stacks' tables on disconnect.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{HANG, start_pair, until};
use ikeway_tunnel::netstack::demo::{SERVER_INNER, configs};
use ikeway_tunnel::netstack::{EspLink, Netstack, NetstackConfig, TcpHandle};
use ikeway_tunnel::{Cidr, EventKind, Status};

fn esp_socket() -> UdpSocket {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap()
}

/// Polls both stacks until `done`, or fails after [`HANG`].
fn drive(
    a: &mut Netstack,
    b: &mut Netstack,
    mut done: impl FnMut(&mut Netstack, &mut Netstack) -> bool,
) {
    let start = Instant::now();
    while !done(a, b) {
        assert!(start.elapsed() < HANG, "the stacks made no progress");
        if !(a.poll() | b.poll()) {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Sends `data` from `a`'s `conn` and reads it at `b`'s `peer`.
fn echo(
    a: &mut Netstack,
    conn: TcpHandle,
    b: &mut Netstack,
    peer: TcpHandle,
    data: &[u8],
) -> Vec<u8> {
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    drive(a, b, |a, b| {
        if sent < data.len() {
            sent += a.send(conn, &data[sent..]).unwrap();
        }
        while b.can_recv(peer).unwrap() {
            let n = b.recv(peer, &mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == data.len()
    });
    got
}

#[test]
fn tcp_through_two_sessions_with_userspace_stacks_across_a_rekey() {
    let (client_esp, server_esp) = (esp_socket(), esp_socket());
    let (client_esp_addr, server_esp_addr) =
        (client_esp.local_addr().unwrap(), server_esp.local_addr().unwrap());
    // ESP between the two links' own sockets; IKE on the sessions' sockets.
    let client_link = EspLink::new(client_esp, Some(server_esp_addr)).unwrap();
    let server_link = EspLink::new(server_esp, Some(client_esp_addr)).unwrap();

    let (responder, initiator) = start_pair(
        configs(),
        |o| o.with_netstack(server_link.sas()),
        |o| o.with_netstack(client_link.sas()),
    );

    let seen = until(initiator.events(), |e| *e == EventKind::Status { status: Status::Connected });
    let address = seen
        .iter()
        .find_map(|e| match e {
            EventKind::ConfigReceived { addresses, .. } => addresses.first().copied(),
            _ => None,
        })
        .expect("the server assigned an address");
    assert_eq!(address, Cidr { addr: IpAddr::V4(Ipv4Addr::new(10, 88, 0, 10)), len: 32 });
    let first_sa = seen
        .iter()
        .find_map(|e| match e {
            EventKind::DatapathSaInstalled { spi_in, tun } => Some((*spi_in, tun.clone())),
            _ => None,
        })
        .expect("the child SA went into the netstack's table");
    assert_eq!(first_sa.1, "netstack");
    // The responder's child SA goes into its stack's table too.
    until(responder.events(), |e| matches!(e, EventKind::DatapathSaInstalled { .. }));

    let mut client = Netstack::new(client_link, &NetstackConfig::new(address.addr)).unwrap();
    let mut server =
        Netstack::new(server_link, &NetstackConfig::new(IpAddr::V4(SERVER_INNER))).unwrap();
    let listener = server.listen(8080).unwrap();
    let conn = client.connect(SocketAddr::from((SERVER_INNER, 8080))).unwrap();
    drive(&mut client, &mut server, |c, _| c.is_established(conn).unwrap());
    assert_eq!(
        echo(&mut client, conn, &mut server, listener, b"GET / HTTP/1.0\r\n\r\n"),
        b"GET / HTTP/1.0\r\n\r\n"
    );
    assert_eq!(
        echo(&mut server, listener, &mut client, conn, b"HTTP/1.0 200 OK\r\n\r\n"),
        b"HTTP/1.0 200 OK\r\n\r\n"
    );

    // A rekey: the new SA goes in front, the old one out; the connection carries on.
    initiator.handle().rekey_child().unwrap();
    let seen = until(
        initiator.events(),
        |e| matches!(e, EventKind::DatapathSaRemoved { spi_in, .. } if *spi_in == first_sa.0),
    );
    assert!(seen.iter().any(|e| matches!(e, EventKind::DatapathSaRemoved { found: true, .. })));
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(echo(&mut client, conn, &mut server, listener, &big), big);
    let t = client.link().traffic();
    assert_eq!(t.drops, 0, "{t:?}");
    assert!(t.sent_bytes >= 200_000, "the new SA carried the bytes: {t:?}");

    initiator.handle().disconnect(Duration::from_secs(5)).unwrap();
    until(initiator.events(), |e| *e == EventKind::Status { status: Status::Disconnected });
    assert!(client.link().table().is_empty(), "the child SA left the client's table");
    initiator.wait().unwrap();
}
