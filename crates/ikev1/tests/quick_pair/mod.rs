//! A client and a gateway in memory for the exchanges after phase 1 (XAUTH, mode config,
//! quick mode, informational): a virtual clock that steps to the earliest deadline, every
//! datagram passed through a filter that may drop it, and the events of both sides kept.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_crypto::SecretBytes;
use ikeway_ikev1::transaction::{ModeConfigClient, ModeConfigServer, XauthCredentials};
use ikeway_ikev1::{
    Config, DefaultKex, Event, Identity, Ikev1Responder, Ikev1Sa, Phase1Mode, SaId,
};
use ikeway_isakmp::{Body, ExchangeType, MessageRepr};
use ikeway_sa::{AddressAllocator, AddressPool, ChildSaInfo, CloseReason, ConfigReceived};

pub(crate) const GROUP: &[u8] = b"ikeway-group";
pub(crate) const PSK: &[u8] = b"ikeway group secret 42";
pub(crate) const USER: &str = "alice";
pub(crate) const PASSWORD: &[u8] = b"correct horse battery";

/// How far the NAT moves the client's ports (500 -> 10500, 4500 -> 14500).
pub(crate) const NAT_PORT_SHIFT: u16 = 10_000;

pub(crate) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Apple's IPSec profile with a shared secret: aggressive mode, the group name as KEY_ID,
/// XAUTH, mode config pulled, Cisco Unity.
pub(crate) fn client() -> Config {
    let mut c = Config::psk(Identity::KeyId(GROUP.to_vec()), SecretBytes::from_slice(PSK));
    c.mode = Phase1Mode::Aggressive;
    c.xauth = true;
    c.cisco_unity = true;
    c.transaction.xauth_client = Some(XauthCredentials {
        username: USER.into(),
        password: Some(SecretBytes::from_slice(PASSWORD)),
    });
    c.transaction.mode_config = Some(ModeConfigClient::Pull);
    c
}

pub(crate) fn pool() -> AddressPool {
    AddressPool {
        v4: Some(("10.9.0.10".parse().unwrap(), 4)),
        dns: vec!["10.9.0.1".parse().unwrap()],
        dns_domains: vec!["corp.example".into()],
        subnets: vec![("192.168.10.0".parse().unwrap(), 24)],
        ..Default::default()
    }
}

/// The gateway for [`client`]: the same secret, XAUTH users, a pool with Unity extras.
pub(crate) fn gateway(allocator: Arc<AddressAllocator>) -> Config {
    let mut c =
        Config::psk(Identity::Ipv4("10.0.0.2".parse().unwrap()), SecretBytes::from_slice(PSK));
    c.mode = Phase1Mode::Aggressive;
    c.remote_id = Some(Identity::KeyId(GROUP.to_vec()));
    c.xauth = true;
    c.cisco_unity = true;
    c.transaction.xauth_users = vec![(USER.into(), SecretBytes::from_slice(PASSWORD))];
    c.transaction.mode_config_server = Some(ModeConfigServer {
        pool: allocator,
        banner: Some("Authorised use only.\nAll access is logged.".into()),
        split_dns: vec!["lab.example".into()],
        push: false,
        extra: Vec::new(),
    });
    c
}

/// A datagram on the wire.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub(crate) from: SocketAddr,
    pub(crate) to: SocketAddr,
    pub(crate) bytes: Vec<u8>,
    pub(crate) to_gateway: bool,
}

impl Sent {
    /// The exchange type of an ISAKMP message (after any non-ESP marker), if it is one.
    pub(crate) fn exchange(&self) -> Option<ExchangeType> {
        let ike = if self.from.port() == 4500 || self.to.port() == 4500 {
            self.bytes.get(4..)?
        } else {
            &self.bytes[..]
        };
        let m = MessageRepr::parse(ike).ok()?;
        let _encrypted = matches!(m.body, Body::Encrypted(_));
        Some(m.header.exchange)
    }
}

pub(crate) type Filter = Box<dyn FnMut(&Sent) -> bool>;

pub(crate) struct Pair {
    pub(crate) now: Instant,
    pub(crate) client: Ikev1Sa,
    pub(crate) gw: Ikev1Responder,
    pub(crate) allocator: Arc<AddressAllocator>,
    pub(crate) client_events: Vec<Event>,
    /// The client's successor ISAKMP SA, once made (`Ikev1Sa::renew`).
    pub(crate) client2: Option<Ikev1Sa>,
    pub(crate) client2_events: Vec<Event>,
    pub(crate) gw_events: Vec<(SaId, Event)>,
    /// Every datagram delivered or dropped, in order.
    pub(crate) wire: Vec<Sent>,
    /// Returns `false` to drop a datagram.
    pub(crate) filter: Filter,
    /// A NAT in front of the client: its inside address becomes the outside one, each port
    /// shifted by [`NAT_PORT_SHIFT`].
    pub(crate) nat: Option<(IpAddr, IpAddr)>,
}

impl Pair {
    pub(crate) fn new(
        client: Config,
        gateway_of: impl FnOnce(Arc<AddressAllocator>) -> Config,
    ) -> Self {
        Self::with_pool(client, gateway_of, pool())
    }

    /// As [`Pair::new`], the gateway leasing from `pool`.
    pub(crate) fn with_pool(
        client: Config,
        gateway_of: impl FnOnce(Arc<AddressAllocator>) -> Config,
        pool: AddressPool,
    ) -> Self {
        let now = Instant::now();
        let allocator = Arc::new(AddressAllocator::new(pool));
        let kex = Arc::new(DefaultKex::default());
        let client = Ikev1Sa::initiate(
            Arc::new(client),
            kex.clone(),
            [1; 32],
            now,
            addr("10.0.0.1:500"),
            addr("10.0.0.2:500"),
        )
        .unwrap();
        let gw = Ikev1Responder::new(Arc::new(gateway_of(allocator.clone())), kex, [2; 32]);
        Self {
            now,
            client,
            gw,
            allocator,
            client_events: Vec::new(),
            client2: None,
            client2_events: Vec::new(),
            gw_events: Vec::new(),
            wire: Vec::new(),
            filter: Box::new(|_| true),
            nat: None,
        }
    }

    /// The standard pair, run until both sides are quiet.
    pub(crate) fn connected(
        client: Config,
        gateway_of: impl FnOnce(Arc<AddressAllocator>) -> Config,
    ) -> Self {
        let mut p = Self::new(client, gateway_of);
        p.run();
        p
    }

    fn collect(&mut self) {
        while let Some(e) = self.client.poll_event() {
            self.client_events.push(e.event);
        }
        if let Some(c2) = self.client2.as_mut() {
            while let Some(e) = c2.poll_event() {
                self.client2_events.push(e.event);
            }
        }
        while let Some(e) = self.gw.poll_event() {
            self.gw_events.push((e.sa, e.event));
        }
    }

    /// Delivers what both sides send until neither sends anything.
    pub(crate) fn run(&mut self) {
        let mut buf = vec![0u8; 65536];
        for _ in 0..1000 {
            let mut moved = false;
            let mut out = Vec::new();
            while let Some(Ok(t)) = self.client.poll_transmit(&mut buf) {
                out.push((t, buf[..t.len].to_vec()));
            }
            if let Some(c2) = self.client2.as_mut() {
                while let Some(Ok(t)) = c2.poll_transmit(&mut buf) {
                    out.push((t, buf[..t.len].to_vec()));
                }
            }
            for (t, bytes) in out {
                moved = true;
                let mut sent = Sent { from: t.local, to: t.remote, bytes, to_gateway: true };
                if let Some((inside, outside)) = self.nat
                    && sent.from.ip() == inside
                {
                    sent.from = SocketAddr::new(outside, sent.from.port() + NAT_PORT_SHIFT);
                }
                let keep = (self.filter)(&sent);
                self.wire.push(sent.clone());
                if keep {
                    self.gw.handle_datagram(self.now, sent.from, sent.to, &sent.bytes);
                }
            }
            while let Some(Ok(t)) = self.gw.poll_transmit(&mut buf) {
                moved = true;
                let mut sent = Sent {
                    from: t.local,
                    to: t.remote,
                    bytes: buf[..t.len].to_vec(),
                    to_gateway: false,
                };
                if let Some((inside, outside)) = self.nat
                    && sent.to.ip() == outside
                {
                    sent.to = SocketAddr::new(inside, sent.to.port() - NAT_PORT_SHIFT);
                }
                let keep = (self.filter)(&sent);
                self.wire.push(sent.clone());
                if keep {
                    let to_second = self.client2.as_ref().is_some_and(|c2| {
                        let ike =
                            if sent.to.port() == 4500 { &sent.bytes[4..] } else { &sent.bytes[..] };
                        ike.get(..8) == Some(&c2.cookies().0.to_be_bytes()[..])
                    });
                    match self.client2.as_mut() {
                        Some(c2) if to_second => {
                            c2.handle_datagram(self.now, sent.from, sent.to, &sent.bytes)
                        }
                        _ => self.client.handle_datagram(self.now, sent.from, sent.to, &sent.bytes),
                    }
                }
            }
            self.collect();
            if !moved {
                return;
            }
        }
        panic!("the two sides never went quiet");
    }

    /// Moves the clock to `until`, stepping through every deadline on the way.
    pub(crate) fn advance(&mut self, by: Duration) {
        let until = self.now + by;
        loop {
            let next =
                [self.client.poll_timeout(), self.gw.poll_timeout()].into_iter().flatten().min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.client.handle_timeout(self.now);
                    if let Some(c2) = self.client2.as_mut() {
                        c2.handle_timeout(self.now);
                    }
                    self.gw.handle_timeout(self.now);
                    self.run();
                }
                _ => break,
            }
        }
        self.now = until;
    }

    /// The gateway's one SA.
    pub(crate) fn gw_sa(&mut self) -> &mut Ikev1Sa {
        let id = self
            .gw_events
            .iter()
            .find_map(|(id, e)| {
                matches!(e, Event::Ike(ikeway_sa::Event::IkeSaUp { .. })).then_some(*id)
            })
            .or_else(|| self.gw_events.first().map(|(id, _)| *id))
            .expect("the gateway has an SA");
        self.gw.sa_mut(id).expect("the gateway's SA is there")
    }

    /// Runs a command on the gateway's SA and keeps the events it raised there.
    pub(crate) fn gw_command(&mut self, command: impl FnOnce(&mut Ikev1Sa, Instant)) {
        let now = self.now;
        let sa = self.gw_sa();
        command(sa, now);
        let id = sa.id();
        let mut raised = Vec::new();
        while let Some(e) = sa.poll_event() {
            raised.push((id, e.event));
        }
        self.gw_events.extend(raised);
        self.run();
    }

    pub(crate) fn gw_plain_events(&self) -> Vec<&Event> {
        self.gw_events.iter().map(|(_, e)| e).collect()
    }
}

pub(crate) fn ike(e: &Event) -> Option<&ikeway_sa::Event> {
    match e {
        Event::Ike(e) => Some(e),
        _ => None,
    }
}

pub(crate) fn installed<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<&'a ChildSaInfo> {
    events
        .into_iter()
        .filter_map(|e| match ike(e)? {
            ikeway_sa::Event::ChildSaInstalled(info) => Some(&**info),
            _ => None,
        })
        .collect()
}

pub(crate) fn removed<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<(u32, u32)> {
    events
        .into_iter()
        .filter_map(|e| match ike(e)? {
            ikeway_sa::Event::ChildSaRemoved { spi_in, spi_out } => Some((*spi_in, *spi_out)),
            _ => None,
        })
        .collect()
}

pub(crate) fn closed<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<CloseReason> {
    events
        .into_iter()
        .filter_map(|e| match ike(e)? {
            ikeway_sa::Event::IkeSaClosed { reason } => Some(*reason),
            _ => None,
        })
        .collect()
}

pub(crate) fn ups<'a>(events: impl IntoIterator<Item = &'a Event>) -> usize {
    events.into_iter().filter(|e| matches!(ike(e), Some(ikeway_sa::Event::IkeSaUp { .. }))).count()
}

pub(crate) fn configs<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<&'a ConfigReceived> {
    events
        .into_iter()
        .filter_map(|e| match ike(e)? {
            ikeway_sa::Event::ConfigReceived(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// The two ends of one ESP SA agree: the client's inbound is the gateway's outbound, keys
/// included, and the other way round.
pub(crate) fn assert_mirrored(client: &ChildSaInfo, gw: &ChildSaInfo) {
    assert_eq!((client.spi_in, client.spi_out), (gw.spi_out, gw.spi_in));
    assert_eq!(client.inbound.encryption.expose(), gw.outbound.encryption.expose());
    assert_eq!(client.inbound.integrity.expose(), gw.outbound.integrity.expose());
    assert_eq!(client.outbound.encryption.expose(), gw.inbound.encryption.expose());
    assert_eq!(client.outbound.integrity.expose(), gw.inbound.integrity.expose());
    assert_ne!(client.inbound.encryption.expose(), client.outbound.encryption.expose());
    assert_eq!(client.suite, gw.suite);
    assert_eq!(client.local_ts, gw.remote_ts);
    assert_eq!(client.remote_ts, gw.local_ts);
    assert_eq!(client.lifetime, gw.lifetime);
    assert_eq!(client.udp_encapsulation, gw.udp_encapsulation);
}

pub(crate) fn host_ts(a: &str) -> ikeway_codec::TrafficSelector {
    let ip: std::net::IpAddr = a.parse().unwrap();
    ikeway_codec::TrafficSelector::Range(ikeway_codec::AddrRange::any(ip, ip))
}

/// The selector of the IPv4 network `first`..=`last`.
pub(crate) fn net_ts(first: &str, last: &str) -> ikeway_codec::TrafficSelector {
    ikeway_codec::TrafficSelector::Range(ikeway_codec::AddrRange::any(
        first.parse().unwrap(),
        last.parse().unwrap(),
    ))
}

pub(crate) fn any_v4_ts() -> ikeway_codec::TrafficSelector {
    ikeway_codec::TrafficSelector::Range(ikeway_codec::AddrRange::any(
        Ipv4Addr::UNSPECIFIED.into(),
        Ipv4Addr::BROADCAST.into(),
    ))
}

/// A pcap file (link type raw IP) of the datagrams, each with the addresses and ports it was
/// sent with (IPv4, UDP with no checksum), for tshark.
pub(crate) fn pcap(datagrams: &[Sent]) -> Vec<u8> {
    // The pcap header: magic, version 2.4, no time zone, snap length, LINKTYPE_RAW (101).
    let mut out = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes());
    for (n, d) in datagrams.iter().enumerate() {
        let (IpAddr::V4(src), IpAddr::V4(dst)) = (d.from.ip(), d.to.ip()) else {
            panic!("the harness speaks IPv4");
        };
        let total = u16::try_from(28 + d.bytes.len()).expect("a datagram fits");
        let mut ip = vec![0x45, 0];
        ip.extend_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
        ip.extend_from_slice(&src.octets());
        ip.extend_from_slice(&dst.octets());
        let sum: u32 = ip.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
        let sum = (sum & 0xffff) + (sum >> 16);
        let check = !(((sum & 0xffff) + (sum >> 16)) as u16);
        ip[10..12].copy_from_slice(&check.to_be_bytes());
        ip.extend_from_slice(&d.from.port().to_be_bytes());
        ip.extend_from_slice(&d.to.port().to_be_bytes());
        ip.extend_from_slice(&(total - 20).to_be_bytes());
        ip.extend_from_slice(&[0, 0]);
        ip.extend_from_slice(&d.bytes);
        let len = u32::try_from(ip.len()).expect("a datagram fits");
        out.extend_from_slice(&u32::try_from(n).expect("few packets").to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&ip);
    }
    out
}
