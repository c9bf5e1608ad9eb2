//! The steering program run by the kernel itself, on loopback (no privilege needed): which
//! socket of a group each crafted datagram reaches.

use std::time::{Duration, Instant};

use super::*;

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
const IKE_SA_INIT: u8 = 34;
const INFORMATIONAL: u8 = 37;
const FLAG_I: u8 = 0x08;

/// A 28-byte IKE header (RFC 7296 §3.1).
fn header(spi_i: u64, spi_r: u64, exchange: u8, flags: u8) -> Vec<u8> {
    let mut h = Vec::with_capacity(28);
    h.extend_from_slice(&spi_i.to_be_bytes());
    h.extend_from_slice(&spi_r.to_be_bytes());
    h.extend_from_slice(&[0, 0x20, exchange, flags]);
    h.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 28]);
    h
}

fn marked(datagram: Vec<u8>) -> Vec<u8> {
    let mut d = vec![0; 4];
    d.extend(datagram);
    d
}

/// What each socket of `group` received, once `total` datagrams arrived (and a moment more,
/// so that a datagram delivered twice would be seen).
fn received(group: &[UdpSocket], total: usize) -> Vec<Vec<Vec<u8>>> {
    for s in group {
        s.set_nonblocking(true).expect("nonblocking");
    }
    let mut got: Vec<Vec<Vec<u8>>> = group.iter().map(|_| Vec::new()).collect();
    let until = Instant::now() + Duration::from_secs(5);
    let mut settle: Option<Instant> = None;
    let mut buf = [0u8; 2048];
    loop {
        for (i, s) in group.iter().enumerate() {
            while let Ok(n) = s.recv(&mut buf) {
                got[i].push(buf[..n].to_vec());
            }
        }
        let now = Instant::now();
        if got.iter().map(Vec::len).sum::<usize>() >= total {
            let end = *settle.get_or_insert(now + Duration::from_millis(50));
            if now >= end {
                return got;
            }
        }
        assert!(now < until, "only {got:?} of {total} arrived");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn ike_datagrams_reach_the_worker_their_spi_names() {
    let group = bind_group(LOOPBACK, 0, false, 3).expect("bind the group");
    let to = group[0].local_addr().expect("bound");
    assert!(group.iter().all(|s| s.local_addr().ok() == Some(to)), "one port for all");
    let client = UdpSocket::bind((LOOPBACK, 0)).expect("client");
    // (datagram, the socket it must reach)
    let cases: Vec<(Vec<u8>, usize)> = vec![
        // From the original initiator: our SPI is the responder's.
        (header(0xaaaa, 0x0200_0000_0000_0001, INFORMATIONAL, FLAG_I), 2),
        (header(0xaaaa, 0x01ff_ffff_ffff_ffff, INFORMATIONAL, FLAG_I), 1),
        (header(0xaaaa, 0x00ff_ffff_ffff_ffff, INFORMATIONAL, FLAG_I), 0),
        // Top word zero, low word not: still an SPI of worker 0.
        (header(0x0200_0000_0000_0000, 0x0000_0000_0000_0007, INFORMATIONAL, FLAG_I), 0),
        // An SA we started (IKE rekey): the peer is not the original initiator, so our SPI is
        // the initiator's.
        (header(0x0100_0000_0000_0005, 0x0200_0000_0000_0000, INFORMATIONAL, 0x20), 1),
        (header(0x0200_0000_0000_0005, 0x0100_0000_0000_0000, INFORMATIONAL, 0x20), 2),
    ];
    for (d, _) in &cases {
        client.send_to(d, to).expect("send");
    }
    let got = received(&group, cases.len());
    assert_eq!(got.len(), 3);
    for (w, got) in got.iter().enumerate() {
        let want: Vec<Vec<u8>> =
            cases.iter().filter(|(_, to)| *to == w).map(|(d, _)| d.clone()).collect();
        assert_eq!(*got, want, "socket {w}");
    }
}

#[test]
fn the_natt_port_steers_ike_after_the_marker_and_esp_by_its_spi() {
    let group = bind_group(LOOPBACK, 0, true, 2).expect("bind the group");
    let to = group[0].local_addr().expect("bound");
    let client = UdpSocket::bind((LOOPBACK, 0)).expect("client");
    let esp = |spi: u32| {
        let mut d = spi.to_be_bytes().to_vec();
        d.extend_from_slice(&[0, 0, 0, 1, 0xee, 0xee]);
        d
    };
    let cases: Vec<(Vec<u8>, usize)> = vec![
        (marked(header(0xaaaa, 0x0100_0000_0000_0001, INFORMATIONAL, FLAG_I)), 1),
        (marked(header(0xaaaa, 0x0000_0000_0000_0001, INFORMATIONAL, FLAG_I)), 0),
        (marked(header(0x0100_0000_0000_0001, 0xbbbb, INFORMATIONAL, 0x20)), 1),
        (esp(0x0100_1234), 1),
        (esp(0x0000_1234), 0),
    ];
    for (d, _) in &cases {
        client.send_to(d, to).expect("send");
    }
    let got = received(&group, cases.len());
    assert_eq!(got.len(), 2);
    for (w, got) in got.iter().enumerate() {
        let want: Vec<Vec<u8>> =
            cases.iter().filter(|(_, to)| *to == w).map(|(d, _)| d.clone()).collect();
        assert_eq!(*got, want, "socket {w}");
    }
}

/// IKE_SA_INIT requests (no SPI of ours) and SPIs naming no worker go by the kernel's hash:
/// each is delivered once, every datagram of one source to the same socket (so an initiator's
/// retransmissions and cookie retry find the worker that answered it), and many sources
/// spread over the workers.
#[test]
fn requests_without_our_spi_are_spread_by_source_and_stick_to_it() {
    const SOURCES: usize = 32;
    let group = bind_group(LOOPBACK, 0, false, 2).expect("bind the group");
    let to = group[0].local_addr().expect("bound");
    let clients: Vec<UdpSocket> =
        (0..SOURCES).map(|_| UdpSocket::bind((LOOPBACK, 0)).expect("client")).collect();
    for (i, c) in clients.iter().enumerate() {
        let spi_i = 0x1000 + i as u64;
        c.send_to(&header(spi_i, 0, IKE_SA_INIT, FLAG_I), to).expect("send");
        c.send_to(&header(spi_i, 0, IKE_SA_INIT, FLAG_I), to).expect("retransmit");
        // An SPI naming worker 9 of 2: the hash decides.
        c.send_to(&header(spi_i, 0x0900_0000_0000_0001, INFORMATIONAL, FLAG_I), to).expect("send");
    }
    let got = received(&group, 3 * SOURCES);
    assert_eq!(got.iter().map(Vec::len).sum::<usize>(), 3 * SOURCES, "each delivered once");
    for i in 0..SOURCES {
        let spi_i = (0x1000 + i as u64).to_be_bytes();
        let holders: Vec<usize> =
            (0..2).filter(|&w| got[w].iter().any(|d| d[..8] == spi_i)).collect();
        let counts: Vec<usize> =
            (0..2).map(|w| got[w].iter().filter(|d| d[..8] == spi_i).count()).collect();
        assert_eq!(holders.len(), 1, "source {i} split over sockets: {counts:?}");
        assert_eq!(counts[holders[0]], 3);
    }
    // 2^-31 that 32 sources all hash to one socket.
    assert!(
        got.iter().all(|g| !g.is_empty()),
        "spread: {:?}",
        got.iter().map(Vec::len).collect::<Vec<_>>()
    );
}

#[test]
fn short_datagrams_go_to_the_first_worker() {
    let group = bind_group(LOOPBACK, 0, true, 2).expect("bind the group");
    let to = group[0].local_addr().expect("bound");
    let client = UdpSocket::bind((LOOPBACK, 0)).expect("client");
    // A NAT-T keepalive (RFC 3948 §2.3) and a truncated IKE header behind the marker.
    client.send_to(&[0xff], to).expect("send");
    client.send_to(&[0, 0, 0, 0, 1, 2, 3], to).expect("send");
    let got = received(&group, 2);
    assert_eq!(got[0], vec![vec![0xff], vec![0, 0, 0, 0, 1, 2, 3]]);
    assert!(got[1].is_empty());
}
