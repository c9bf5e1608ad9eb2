//! A deterministic pair harness: an initiator and a responder joined by a simulated network
//! with a virtual clock and seeded loss, delay, duplication, reordering and an optional NAT
//! (the shape of quinn's `tests/util.rs` `Pair`).
#![allow(dead_code, clippy::print_stderr)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_codec::{IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{AddressPool, Config, Event, IkeSa, KeyExchangeProvider, Responder, SaId};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

pub(crate) mod payloads;
pub(crate) mod run;

pub(crate) const CLIENT: &str = "10.0.0.1:500";
pub(crate) const SERVER: &str = "10.0.0.2:500";
/// The NAT's public address; the client's port 500/4500 map to 40500/44500.
pub(crate) const NAT_PUBLIC: &str = "192.0.2.99";

pub(crate) fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

pub(crate) fn psk() -> SecretBytes {
    SecretBytes::from_slice(b"a pre-shared key of decent length")
}

pub(crate) fn client_config() -> Config {
    let mut c = Config::new(IdRepr::from_value(IdValue::Fqdn("client.example.org")), psk());
    c.config_request = vec![
        ikeway_codec::ConfigAttributeType::INTERNAL_IP4_ADDRESS,
        ikeway_codec::ConfigAttributeType::INTERNAL_IP4_DNS,
        ikeway_codec::ConfigAttributeType::INTERNAL_IP6_ADDRESS,
        ikeway_codec::ConfigAttributeType::INTERNAL_IP6_DNS,
        ikeway_codec::ConfigAttributeType::INTERNAL_DNS_DOMAIN,
    ];
    c.retransmit =
        ikeway_sa::Retransmit { initial: Duration::from_millis(500), factor: 2, tries: 6 };
    c
}

pub(crate) fn server_config() -> Config {
    let mut c = Config::new(IdRepr::from_value(IdValue::Fqdn("vpn.example.org")), psk());
    c.retransmit =
        ikeway_sa::Retransmit { initial: Duration::from_millis(500), factor: 2, tries: 6 };
    c
}

pub(crate) fn pool() -> AddressPool {
    AddressPool {
        v4: Some(("10.88.0.10".parse().unwrap(), 100)),
        v6: Some(("fd88::10".parse().unwrap(), 100)),
        dns: vec!["10.88.0.1".parse().unwrap(), "fd88::1".parse().unwrap()],
        dns_domains: vec!["corp.example.org".into()],
        subnets: vec![("10.77.0.0".parse().unwrap(), 24)],
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum To {
    Initiator,
    Responder,
}

#[derive(Debug)]
struct Packet {
    at: Instant,
    to: To,
    from: SocketAddr,
    dest: SocketAddr,
    bytes: Vec<u8>,
}

/// Network impairments, each decided by the seeded RNG.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Impairments {
    pub(crate) loss: f64,
    pub(crate) duplicate: f64,
    /// Each datagram is delayed by up to this much (which also reorders them).
    pub(crate) max_delay: Duration,
    /// Put a NAT between the initiator and the responder.
    pub(crate) nat: bool,
}

pub(crate) struct Pair {
    pub(crate) now: Instant,
    pub(crate) initiator: IkeSa,
    pub(crate) responder: Responder,
    pub(crate) initiator_events: Vec<Event>,
    pub(crate) responder_events: Vec<(SaId, Event)>,
    pub(crate) impair: Impairments,
    net_rng: ChaCha20Rng,
    in_flight: Vec<Packet>,
    pub(crate) sent_to_responder: usize,
    pub(crate) sent_to_initiator: usize,
    pub(crate) dropped: usize,
    /// Every datagram as sent, in order (before impairments), for determinism checks.
    pub(crate) transcript: Vec<Vec<u8>>,
    /// When false, the responder drops everything (a crashed or unplugged peer).
    pub(crate) responder_alive: bool,
}

impl Pair {
    pub(crate) fn new(
        client: Config,
        server: Config,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: u64,
    ) -> Self {
        Self::with(client, server, kex, seed, Impairments::default())
    }

    pub(crate) fn with(
        client: Config,
        server: Config,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: u64,
        impair: Impairments,
    ) -> Self {
        let now = Instant::now();
        let mut seeds = ChaCha20Rng::seed_from_u64(seed);
        let mut s1 = [0u8; 32];
        let mut s2 = [0u8; 32];
        seeds.fill_bytes(&mut s1);
        seeds.fill_bytes(&mut s2);
        let initiator = IkeSa::initiate(
            Arc::new(client),
            Arc::clone(&kex),
            s1,
            now,
            addr(CLIENT),
            addr(SERVER),
        )
        .expect("initiate");
        let responder = Responder::new(Arc::new(server), kex, Some(pool()), s2);
        Self {
            now,
            initiator,
            responder,
            initiator_events: Vec::new(),
            responder_events: Vec::new(),
            impair,
            net_rng: ChaCha20Rng::seed_from_u64(seed ^ 0x5eed),
            in_flight: Vec::new(),
            sent_to_responder: 0,
            sent_to_initiator: 0,
            dropped: 0,
            transcript: Vec::new(),
            responder_alive: true,
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.net_rng.next_u64() as f64 / u64::MAX as f64) < p
    }

    /// Maps addresses across the simulated NAT.
    fn nat_out(&self, from: SocketAddr) -> SocketAddr {
        if !self.impair.nat {
            return from;
        }
        let port = if from.port() == 4500 { 44500 } else { 40500 };
        SocketAddr::new(NAT_PUBLIC.parse().unwrap(), port)
    }

    fn nat_in(&self, dest: SocketAddr) -> SocketAddr {
        if !self.impair.nat || dest.ip().to_string() != NAT_PUBLIC {
            return dest;
        }
        let client = addr(CLIENT);
        SocketAddr::new(client.ip(), if dest.port() == 44500 { 4500 } else { 500 })
    }

    fn send(&mut self, to: To, from: SocketAddr, dest: SocketAddr, bytes: Vec<u8>) {
        self.transcript.push(bytes.clone());
        match to {
            To::Responder => self.sent_to_responder += 1,
            To::Initiator => self.sent_to_initiator += 1,
        }
        if self.chance(self.impair.loss) {
            self.dropped += 1;
            return;
        }
        let copies = if self.chance(self.impair.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let max = self.impair.max_delay.as_micros() as u64;
            let delay = if max == 0 { 0 } else { self.net_rng.next_u64() % max };
            let at = self.now + Duration::from_micros(delay);
            self.in_flight.push(Packet { at, to, from, dest, bytes: bytes.clone() });
        }
    }

    fn collect(&mut self) {
        let mut buf = vec![0u8; 65536];
        while let Some(t) = self.initiator.poll_transmit(&mut buf) {
            let t = t.expect("64 KiB is enough");
            let from = self.nat_out(t.local);
            self.send(To::Responder, from, t.remote, buf[..t.len].to_vec());
        }
        while let Some(t) = self.responder.poll_transmit(&mut buf) {
            let t = t.expect("64 KiB is enough");
            self.send(To::Initiator, t.local, t.remote, buf[..t.len].to_vec());
        }
        while let Some(e) = self.initiator.poll_event() {
            self.initiator_events.push(e.event);
        }
        while let Some(e) = self.responder.poll_event() {
            self.responder_events.push((e.sa, e.event));
        }
    }

    /// Delivers everything due, fires due timers, then advances the clock to the next thing
    /// that will happen. Returns false when nothing is left to happen.
    pub(crate) fn step(&mut self) -> bool {
        self.collect();
        let now = self.now;
        let (due, later): (Vec<Packet>, Vec<Packet>) =
            std::mem::take(&mut self.in_flight).into_iter().partition(|p| p.at <= now);
        self.in_flight = later;
        let delivered = !due.is_empty();
        for p in due {
            match p.to {
                To::Responder if self.responder_alive => {
                    self.responder.handle_datagram(now, p.from, p.dest, &p.bytes)
                }
                To::Responder => {}
                To::Initiator => {
                    let dest = self.nat_in(p.dest);
                    self.initiator.handle_datagram(now, p.from, dest, &p.bytes)
                }
            }
        }
        let mut fired = false;
        if self.initiator.poll_timeout().is_some_and(|t| t <= now) {
            self.initiator.handle_timeout(now);
            fired = true;
        }
        if self.responder.poll_timeout().is_some_and(|t| t <= now) {
            self.responder.handle_timeout(now);
            fired = true;
        }
        self.collect();
        // Work happened at this instant: let the caller look before time moves on.
        if delivered || fired || self.in_flight.iter().any(|p| p.at <= self.now) {
            return true;
        }
        let next = [
            self.in_flight.iter().map(|p| p.at).min(),
            self.initiator.poll_timeout(),
            self.responder.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            Some(t) if t > self.now => {
                self.now = t;
                true
            }
            Some(_) => true,
            None => false,
        }
    }

    /// Steps until `done` holds or `limit` of virtual time has passed. Returns whether `done`.
    pub(crate) fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Pair) -> bool,
    ) -> bool {
        let end = self.now + limit;
        for _ in 0..1_000_000 {
            if done(self) {
                return true;
            }
            if self.now > end || !self.step() {
                return done(self);
            }
        }
        panic!("harness did not converge in a million steps");
    }

    /// Runs the handshake and returns once both sides installed a child SA.
    pub(crate) fn establish(&mut self) {
        let ok = self.run_until(Duration::from_secs(60), |p| {
            p.initiator.is_established()
                && p.children_up(To::Initiator) >= 1
                && p.children_up(To::Responder) >= 1
        });
        assert!(
            ok,
            "handshake did not complete: {:?} / {:?}",
            self.initiator_events, self.responder_events
        );
    }

    pub(crate) fn children_up(&self, side: To) -> usize {
        match side {
            To::Initiator => self
                .initiator_events
                .iter()
                .filter(|e| matches!(e, Event::ChildSaInstalled(_)))
                .count(),
            To::Responder => self
                .responder_events
                .iter()
                .filter(|(_, e)| matches!(e, Event::ChildSaInstalled(_)))
                .count(),
        }
    }

    pub(crate) fn responder_sa(&mut self) -> &mut IkeSa {
        // The initiator started the SA, so the responder chose (and files it under) SPIr.
        let id = SaId::from_spi(self.initiator.spis().1);
        self.responder.sa_mut(id).expect("responder holds the SA")
    }

    /// Checks that every child the initiator installed has a responder twin with mirrored
    /// SPIs and keys.
    pub(crate) fn assert_children_agree(&self) {
        let init: Vec<_> = self
            .initiator_events
            .iter()
            .filter_map(|e| match e {
                Event::ChildSaInstalled(c) => Some(c),
                _ => None,
            })
            .collect();
        let resp: Vec<_> = self
            .responder_events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::ChildSaInstalled(c) => Some(c),
                _ => None,
            })
            .collect();
        assert!(!init.is_empty());
        for c in &init {
            let twin = resp
                .iter()
                .find(|r| r.spi_in == c.spi_out)
                .unwrap_or_else(|| panic!("no responder child for {:#x}", c.spi_out));
            assert_eq!(twin.spi_out, c.spi_in);
            assert_eq!(twin.suite, c.suite);
            assert_eq!(twin.inbound.encryption.expose(), c.outbound.encryption.expose());
            assert_eq!(twin.outbound.encryption.expose(), c.inbound.encryption.expose());
            assert_eq!(twin.inbound.integrity.expose(), c.outbound.integrity.expose());
        }
    }
}

/// A client and server that send nothing longer than 200 bytes, and a client identity of
/// `identity_len` characters, so that IKE_AUTH goes both ways as SKF fragments (RFC 7383).
pub(crate) fn fragmenting_configs(identity_len: usize) -> (Config, Config) {
    let mut client = client_config();
    client.max_message_len = 200;
    let long = format!("{}.example.org", "x".repeat(identity_len));
    client.local_id = IdRepr::from_value(IdValue::Fqdn(&long));
    let mut server = server_config();
    server.max_message_len = 200;
    (client, server)
}
