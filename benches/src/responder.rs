//! A responder holding many established IKE SAs, for measuring what one datagram costs as the
//! number of SAs grows (issue 9 finding 10: that cost must not grow with it).
//!
//! The SAs are made by real in-process handshakes with the insecure test key exchange and
//! fixed seeds, so building 100k of them takes seconds and every run is the same.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use ikeway_codec::{AddrRange, IdRepr, IdValue, TrafficSelector};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{Config, IkeSa, InsecureKexForFuzzing, Responder};

const SERVER: &str = "10.0.0.2:500";

fn config(id: &str) -> Config {
    let mut c = Config::new(
        IdRepr::from_value(IdValue::Fqdn(id)),
        SecretBytes::from_slice(b"bench pre-shared key"),
    );
    // One proposal each: the smallest messages, the least to parse.
    c.ike_proposals.truncate(1);
    c.esp_proposals.truncate(1);
    c
}

/// A distinct client address for SA `i`, so per-source limits never bind.
fn client(i: usize) -> SocketAddr {
    let i = u32::try_from(i).expect("fewer than 2^32 SAs");
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i & 0x00ff_ffff))), 500)
}

fn seed(i: usize, side: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&(i as u64).to_le_bytes());
    s[31] = side;
    s
}

/// A responder with `len` established IKE SAs (each with its child SA), and the initiator of
/// the last one, kept to send requests to it.
#[derive(Debug)]
pub struct Population {
    pub responder: Responder,
    probe: IkeSa,
    unknown_spi: Vec<u8>,
    buf: Vec<u8>,
    now: Instant,
}

impl Population {
    pub fn build(len: usize) -> Self {
        let kex = Arc::new(InsecureKexForFuzzing);
        let mut responder =
            Responder::new(Arc::new(config("vpn.example.org")), kex.clone(), None, seed(0, 2));
        let now = Instant::now();
        let server: SocketAddr = SERVER.parse().expect("literal");
        let mut buf = vec![0u8; 65536];
        let mut last = None;
        for i in 0..len {
            // Each client speaks for its own address: a responder refuses selectors one client
            // cannot own alone (issue 9 finding 6), and would refuse this SA's child.
            let mut client_config = config("client.example.org");
            let host = client(i).ip();
            client_config.local_ts = vec![TrafficSelector::Range(AddrRange::any(host, host))];
            let mut sa = IkeSa::initiate(
                Arc::new(client_config),
                kex.clone(),
                seed(i, 1),
                now,
                client(i),
                server,
            )
            .expect("initiate");
            exchange(&mut sa, &mut responder, &mut buf, now);
            assert!(sa.is_established(), "handshake {i} failed");
            assert_eq!(sa.child_spis().len(), 1, "SA {i} has its child");
            last = Some(sa);
        }
        let probe = last.expect("at least one SA");
        // An INFORMATIONAL request with SPIs nobody holds: dropped after the SPI lookup.
        let mut unknown_spi = vec![0u8; 28];
        let header = ikeway_codec::HeaderRepr {
            spi_i: 0x0123_4567_89ab_cdef,
            spi_r: 0xfedc_ba98_7654_3210,
            next_payload: ikeway_codec::PayloadType::NONE,
            version: 0x20,
            exchange: ikeway_codec::ExchangeType::INFORMATIONAL,
            flags: ikeway_codec::Flags { initiator: true, ..Default::default() },
            message_id: 7,
            length: 28,
        };
        header.emit(&mut unknown_spi).expect("28 bytes hold the header");
        Self { responder, probe, unknown_spi, buf, now }
    }

    /// One liveness check (an empty INFORMATIONAL request) from the last SA's initiator and
    /// its response, with the responder's `handle_timeout` and every `poll_*` drained: the
    /// responder's whole work for one datagram to one SA, plus the initiator's.
    pub fn dpd_round(&mut self) {
        self.probe.dpd(self.now);
        exchange(&mut self.probe, &mut self.responder, &mut self.buf, self.now);
    }

    /// A datagram for an IKE SA nobody holds, then the responder's timers and `poll_*`.
    pub fn unknown_spi(&mut self) {
        let from = client(0);
        let server = SERVER.parse().expect("literal");
        self.responder.handle_datagram(self.now, from, server, &self.unknown_spi);
        drain(&mut self.responder, &mut self.buf, self.now);
    }
}

fn drain(responder: &mut Responder, buf: &mut [u8], now: Instant) {
    if responder.poll_timeout().is_some_and(|t| t <= now) {
        responder.handle_timeout(now);
    }
    while responder.poll_transmit(buf).is_some() {}
    while responder.poll_event().is_some() {}
}

/// Moves datagrams both ways until neither side has more to say.
fn exchange(sa: &mut IkeSa, responder: &mut Responder, buf: &mut [u8], now: Instant) {
    loop {
        let mut moved = false;
        while let Some(Ok(t)) = sa.poll_transmit(buf) {
            responder.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
            moved = true;
        }
        if responder.poll_timeout().is_some_and(|t| t <= now) {
            responder.handle_timeout(now);
        }
        while let Some(Ok(t)) = responder.poll_transmit(buf) {
            sa.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
            moved = true;
        }
        while responder.poll_event().is_some() {}
        while sa.poll_event().is_some() {}
        if !moved {
            return;
        }
    }
}
