//! The datapath asks for child SA rekeys and the IKE engine carries them out: our initiator
//! and responder negotiate in memory, and each end's ESP runs through the pump's own
//! device-generic path (`ikeway_pump::device::pump`) over an in-memory link, the path the
//! userspace datapath uses. No root, no TUN, no sockets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_codec::TrafficSelector;
use ikeway_esp::Lifetime;
use ikeway_pump::device::{MemoryLink, QueueDevice, pump};
use ikeway_pump::{Counters, Datapath, HEADROOM, SaTable, Stats, TAILROOM};
use ikeway_sa::{DefaultKex, EngineEvent, Event, IkeSa, Responder};

use super::rekey_requested;
use crate::child::datapath_child as child;

/// Lowered packet lifetimes of the child SAs: the soft one raises `RekeyNeeded` exactly as
/// 15/16 of a non-ESN SA's 2^32 sequence numbers do, and the hard one stops the SA exactly as
/// sequence number 2^32 - 1 does.
const SOFT: u64 = 100;
const HARD: u64 = 150;
const PACKETS: usize = 1000;
/// Packets sent between two turns of the IKE engines.
const BATCH: usize = 10;

const CLIENT: &str = "192.0.2.1";
const SERVER: &str = "192.0.2.2";
const SERVER_INNER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

fn addr(ip: &str, port: u16) -> SocketAddr {
    SocketAddr::new(ip.parse().expect("test address"), port)
}

/// One end's datapath, as `ikeway --tun` builds it, on an in-memory device and link.
struct End {
    table: SaTable,
    dp: Datapath,
    counters: Arc<Counters>,
    dev: QueueDevice,
    link: MemoryLink,
    buf: Vec<u8>,
    /// (spi_in, spi_out, replaces) of every child SA installed, in order.
    installed: Vec<(u32, u32, Option<u32>)>,
    removed: Vec<u32>,
    inner_addr: Option<IpAddr>,
    /// Lower the inbound lifetimes too, not only the outbound ones.
    inbound_limits: bool,
}

impl End {
    fn new(local: SocketAddr, link: MemoryLink, inbound_limits: bool) -> Self {
        let table = SaTable::new();
        let counters = Arc::new(Counters::default());
        let (ike, _) = crossbeam_channel::unbounded();
        let dp = Datapath::new(table.clone(), Arc::clone(&counters), ike, local);
        Self {
            table,
            dp,
            counters,
            dev: QueueDevice::new(1400),
            link,
            buf: vec![0; HEADROOM + 1400 + TAILROOM],
            installed: Vec::new(),
            removed: Vec::new(),
            inner_addr: None,
            inbound_limits,
        }
    }

    fn run(&mut self) {
        pump(&self.dp, &mut self.dev, &mut self.link, &mut self.buf, 1000);
    }

    /// What `datapath::on_event` does, with the lowered lifetimes.
    fn on_event(&mut self, e: &Event) {
        match e {
            Event::ChildSaInstalled(c) => {
                let limits = Lifetime {
                    soft_packets: Some(SOFT),
                    hard_packets: Some(HARD),
                    ..Lifetime::default()
                };
                let mut sa = child(c);
                sa.outbound.lifetime = limits;
                if self.inbound_limits {
                    sa.inbound.lifetime = limits;
                }
                match c.replaces {
                    Some(old) => self.table.install_successor(&sa, old),
                    None => self.table.install(&sa),
                }
                .expect("a negotiated child SA installs");
                self.installed.push((c.spi_in, c.spi_out, c.replaces));
                if let Some(TrafficSelector::Range(r)) = c.local_ts.first() {
                    self.inner_addr = Some(r.start);
                }
            }
            Event::ChildSaRemoved { spi_in, .. } => {
                self.table.remove(*spi_in);
                self.removed.push(*spi_in);
            }
            _ => {}
        }
    }

    fn stats(&self) -> Stats {
        Stats::sum([&*self.counters])
    }
}

struct Tunnel {
    now: Instant,
    /// Rekeys the client's datapath asked for, and the wake-ups its table sent for them.
    client_requests: usize,
    client_wakes: crossbeam_channel::Receiver<()>,
    client: IkeSa,
    server: Responder,
    c: End,
    s: End,
}

impl Tunnel {
    fn new(inbound_limits: bool) -> Self {
        let (client_cfg, server_cfg, pool) = crate::netstack::demo::configs();
        let kex = Arc::new(DefaultKex::default());
        let now = Instant::now();
        let client = IkeSa::initiate(
            Arc::new(client_cfg),
            kex.clone(),
            [1; 32],
            now,
            addr(CLIENT, 500),
            addr(SERVER, 500),
        )
        .expect("initiate");
        let server = Responder::new(Arc::new(server_cfg), kex, Some(pool), [2; 32]);
        let (lc, ls) = MemoryLink::pair(addr(CLIENT, 4500), addr(SERVER, 4500));
        let c = End::new(addr(CLIENT, 4500), lc, inbound_limits);
        let s = End::new(addr(SERVER, 4500), ls, inbound_limits);
        let (waker, client_wakes) = crossbeam_channel::unbounded();
        c.table.set_rekey_waker(move || waker.send(()).expect("the test holds the receiver"));
        let mut t = Self { now, client_requests: 0, client_wakes, client, server, c, s };
        t.ike();
        assert!(!t.c.installed.is_empty() && !t.s.installed.is_empty(), "the first child is up");
        t
    }

    /// Runs both IKE engines until neither has anything to send, applying their events to
    /// the datapaths.
    fn ike(&mut self) {
        let mut buf = vec![0u8; 65536];
        loop {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit(&mut buf) {
                let t = t.expect("fits");
                self.server.handle_datagram(self.now, t.local, t.remote, &buf[..t.len]);
                moved = true;
            }
            while let Some(t) = self.server.poll_transmit(&mut buf) {
                let t = t.expect("fits");
                self.client.handle_datagram(self.now, t.local, t.remote, &buf[..t.len]);
                moved = true;
            }
            while let Some(EngineEvent { event: e, .. }) = self.client.poll_event() {
                self.c.on_event(&e);
            }
            while let Some(EngineEvent { event: e, .. }) = self.server.poll_event() {
                self.s.on_event(&e);
            }
            if !moved {
                return;
            }
        }
    }

    /// One turn of the runtime loop: datapaths, then the rekeys they asked for, then IKE.
    fn turn(&mut self) {
        self.c.run();
        self.s.run();
        self.client_requests += rekey_requested(&self.c.table, self.now, &mut self.client).len();
        rekey_requested(&self.s.table, self.now, &mut self.server);
        self.ike();
        self.now += Duration::from_millis(10);
        if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
            self.client.handle_timeout(self.now);
        }
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
    }
}

/// An IPv4/UDP packet whose payload is its number.
fn packet(src: IpAddr, n: usize) -> Vec<u8> {
    let IpAddr::V4(src) = src else { panic!("the demo pool is IPv4") };
    let payload = (n as u64).to_be_bytes();
    let builder =
        etherparse::PacketBuilder::ipv4(src.octets(), SERVER_INNER.octets(), 64).udp(40000, 5001);
    let mut out = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut out, &payload).expect("a small packet");
    out
}

/// Sends `PACKETS` packets from the client to the server, `BATCH` per turn; checks that
/// every one arrived intact and in order and that nothing was refused on either side (no
/// seal failed for a hard limit, no inbound SA expired, no packet on an unknown SPI), and
/// that the first child SA is gone from both ends with traffic on other SPIs.
fn send_through_rekeys(inbound_limits: bool) -> Tunnel {
    let mut t = Tunnel::new(inbound_limits);
    let src = t.c.inner_addr.expect("the client's child SA names its address");
    let first = t.c.installed[0];
    let sent: Vec<Vec<u8>> = (0..PACKETS).map(|n| packet(src, n)).collect();
    for batch in sent.chunks(BATCH) {
        t.c.dev.rx.extend(batch.iter().cloned());
        t.turn();
    }
    assert_eq!(t.s.dev.tx.len(), PACKETS, "delivered");
    assert!(t.s.dev.tx == sent, "the packets arrived intact and in order");
    assert_eq!(t.c.stats().total_drops(), 0, "client drops: {}", t.c.stats().to_line());
    assert_eq!(t.s.stats().total_drops(), 0, "server drops: {}", t.s.stats().to_line());
    assert!(t.c.removed.contains(&first.0) && t.s.removed.contains(&first.1));
    let in_use = t.c.table.stats();
    assert!(!in_use.is_empty());
    assert!(in_use.iter().all(|sa| sa.spi_in != first.0 && sa.spi_out != Some(first.1)));
    for sa in in_use.iter().chain(&t.s.table.stats()) {
        assert!(sa.outbound.as_ref().is_none_or(|o| o.packets <= HARD));
    }
    t
}

/// Issue 9 finding 12: the ESP SA's `RekeyNeeded` was never acted on, so a non-ESN child
/// stopped sending at 2^32 packets (`seal_failed`) until its lifetime ran out. With the
/// outbound lifetime lowered to 100 (soft) and 150 (hard) packets, the analogue of the
/// sequence number limit, 1,000 packets go through: each soft limit makes the datapath ask
/// (`SaTable::poll_rekey`), the client's IKE SA rekeys the child make before break, and
/// traffic moves to the new SPIs before the old SA's hard limit: exactly one rekey per 100
/// packets. Before the fix, delivery stopped at packet 150 and the rest were dropped.
#[test]
fn soft_limit_rekeys_the_child_and_traffic_continues_past_the_hard_limit() {
    let t = send_through_rekeys(false);
    let rekeys = PACKETS / SOFT as usize;
    assert_eq!(t.c.installed.len(), 1 + rekeys, "{:x?}", t.c.installed);
    assert_eq!(t.s.installed.len(), 1 + rekeys);
    // A chain: each child replaces the one before it, and the old one is deleted.
    for pair in t.c.installed.windows(2) {
        assert_eq!(pair[1].2, Some(pair[0].0), "{:x?}", t.c.installed);
    }
    // Each request woke the control plane once (a session sleeps until it is told).
    assert_eq!(t.client_requests, rekeys);
    assert_eq!(t.client_wakes.try_iter().count(), rekeys);
    let replaced: Vec<u32> = t.c.installed[..rekeys].iter().map(|c| c.0).collect();
    assert_eq!(t.c.removed, replaced);
    assert_eq!(t.c.table.len(), 1);
    assert_eq!(t.s.table.len(), 1);
}

/// The same with the inbound lifetimes lowered too: both ends reach their soft limit on the
/// same packet and rekey the same child at once. The collision rule (RFC 7296 §2.8.1) keeps
/// one of the two new SAs each time; no packet is lost and one child SA is left at the end.
#[test]
fn both_ends_asking_at_once_still_carry_every_packet() {
    let t = send_through_rekeys(true);
    let rekeys = PACKETS / SOFT as usize;
    assert_eq!(t.c.installed.len(), 1 + 2 * rekeys, "{:x?}", t.c.installed);
    assert_eq!(t.c.removed.len(), 2 * rekeys);
    assert_eq!(t.c.table.len(), 1);
    assert_eq!(t.s.table.len(), 1);
}
