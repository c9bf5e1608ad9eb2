//! The ESP path over in-memory devices: no root, no TUN, no io_uring.

use std::net::{IpAddr, SocketAddr};

use crossbeam_channel::{Receiver, unbounded};
use ikeway_crypto::{AeadAlgorithm, Encryption, SecretBytes, Suite};
use ikeway_esp::{DropReason, SaConfig};
use ikeway_pump::device::{Faults, MemoryLink, QueueDevice, pump};
use ikeway_pump::{
    ChildSa, Counters, Datapath, Drop, HEADROOM, IkeDatagram, Policy, SaTable, Selector, Stats,
    TAILROOM,
};
use std::sync::Arc;

const A: &str = "192.0.2.1:4500";
const B: &str = "192.0.2.2:4500";

fn sa(spi: u32, key: u8) -> SaConfig {
    let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap();
    SaConfig::new(spi, suite, SecretBytes::from_slice(&[key; 20]), SecretBytes::default())
}

fn cidr(s: &str) -> Selector {
    let (a, l) = s.split_once('/').unwrap();
    Selector::cidr(a.parse().unwrap(), l.parse().unwrap()).unwrap()
}

/// A's side of a child SA (A: 10.1.0.0/24, B: 10.2.0.0/24) and B's mirror.
fn child(spi_a: u32, spi_b: u32, key: u8) -> (ChildSa, ChildSa) {
    let a_net = cidr("10.1.0.0/24");
    let b_net = cidr("10.2.0.0/24");
    let at_a = ChildSa {
        inbound: sa(spi_a, key),
        outbound: sa(spi_b, key + 1),
        policy: Policy { local: vec![a_net], remote: vec![b_net] },
        remote: B.parse().unwrap(),
    };
    let at_b = ChildSa {
        inbound: sa(spi_b, key + 1),
        outbound: sa(spi_a, key),
        policy: Policy { local: vec![b_net], remote: vec![a_net] },
        remote: A.parse().unwrap(),
    };
    (at_a, at_b)
}

struct End {
    dp: Datapath,
    counters: Arc<Counters>,
    dev: QueueDevice,
    link: MemoryLink,
    ike: Receiver<IkeDatagram>,
    buf: Vec<u8>,
}

impl End {
    fn new(local: &str, link: MemoryLink) -> Self {
        let counters = Arc::new(Counters::default());
        let (tx, ike) = unbounded();
        let dp = Datapath::new(SaTable::new(), Arc::clone(&counters), tx, local.parse().unwrap());
        Self {
            dp,
            counters,
            dev: QueueDevice::new(1400),
            link,
            ike,
            buf: vec![0; HEADROOM + 1400 + TAILROOM],
        }
    }

    fn run(&mut self) {
        pump(&self.dp, &mut self.dev, &mut self.link, &mut self.buf, 1000);
    }

    fn stats(&self) -> Stats {
        Stats::sum([&*self.counters])
    }
}

fn pair(faults: Faults) -> (End, End) {
    let (la, lb) = MemoryLink::pair(A.parse().unwrap(), B.parse().unwrap());
    (End::new(A, la.with_faults(faults)), End::new(B, lb))
}

fn udp4(src: [u8; 4], dst: [u8; 4], n: u32) -> Vec<u8> {
    let body = n.to_be_bytes();
    let total = 20 + 8 + body.len();
    let mut p = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0, 0, 64, 17, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0]);
    p.extend_from_slice(&body);
    p
}

/// An IPv4 TCP segment with `flags` and the options `opts`, its checksum computed.
fn tcp4(src: [u8; 4], dst: [u8; 4], flags: u8, opts: &[u8]) -> Vec<u8> {
    let tcp_len = 20 + opts.len();
    let total = 20 + tcp_len;
    let mut p = vec![0x45, 0, 0, total as u8, 0, 0, 0x40, 0, 64, 6, 0, 0];
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&[0xc0, 0x01, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0]);
    p.extend_from_slice(&[((tcp_len / 4) as u8) << 4, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(opts);
    let c = tcp4_checksum(&p);
    p[36..38].copy_from_slice(&c.to_be_bytes());
    p
}

/// The TCP checksum of an IPv4 packet (20-byte header) computed from scratch.
fn tcp4_checksum(p: &[u8]) -> u16 {
    let mut words = [&p[12..20], &[0, 6, 0, (p.len() - 20) as u8], &p[20..36], &p[38..]].concat();
    if !words.len().is_multiple_of(2) {
        words.push(0);
    }
    let mut sum: u32 = words.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// MSS clamping in the datapath: A clamps to its MTU of 1400, B does not clamp. A SYN from A's
/// TUN (TUN -> ESP) and a SYN-ACK from B's TUN (ESP -> TUN at A) both arrive with MSS 1360 and a
/// right checksum; an ACK and a SYN already small enough pass unchanged; A counts two clamps.
#[test]
fn syns_are_clamped_to_the_mtu_both_ways() {
    use ikeway_esp::mss::MssClamp;
    let (mut a, mut b) = installed();
    a.dp = a.dp.clone().with_mss_clamp(MssClamp::for_mtu(1400));
    let mss = |v: u16| [2, 4, (v >> 8) as u8, v as u8];
    let syn = tcp4([10, 1, 0, 5], [10, 2, 0, 9], 0x02, &mss(1460));
    let small = tcp4([10, 1, 0, 5], [10, 2, 0, 9], 0x02, &mss(1200));
    let ack = tcp4([10, 1, 0, 5], [10, 2, 0, 9], 0x10, &[1, 1, 1, 1]);
    a.dev.rx.extend([syn, small.clone(), ack.clone()]);
    a.run();
    b.run();
    assert_eq!(b.dev.tx.len(), 3);
    assert_eq!(b.dev.tx[0], tcp4([10, 1, 0, 5], [10, 2, 0, 9], 0x02, &mss(1360)));
    assert_eq!(tcp4_checksum(&b.dev.tx[0]), u16::from_be_bytes([b.dev.tx[0][36], b.dev.tx[0][37]]));
    assert_eq!(b.dev.tx[1], small);
    assert_eq!(b.dev.tx[2], ack);
    b.dev.rx.push_back(tcp4([10, 2, 0, 9], [10, 1, 0, 5], 0x12, &mss(8960)));
    b.run();
    a.run();
    assert_eq!(a.dev.tx, [tcp4([10, 2, 0, 9], [10, 1, 0, 5], 0x12, &mss(1360))]);
    assert_eq!(a.stats().mss_clamped, 2);
    assert_eq!(b.stats().mss_clamped, 0);
}

fn installed() -> (End, End) {
    let (mut a, mut b) = pair(Faults::default());
    let (ca, cb) = child(0x1000, 0x2000, 1);
    install(&mut a, &mut b, &ca, &cb);
    (a, b)
}

fn install(a: &mut End, b: &mut End, ca: &ChildSa, cb: &ChildSa) {
    a.dp.table().install(ca).unwrap();
    b.dp.table().install(cb).unwrap();
}

#[test]
fn packets_cross_both_ways() {
    let (mut a, mut b) = installed();
    for n in 0..10 {
        a.dev.rx.push_back(udp4([10, 1, 0, 5], [10, 2, 0, 9], n));
    }
    a.run();
    b.run();
    assert_eq!(b.dev.tx.len(), 10);
    assert_eq!(b.dev.tx[3], udp4([10, 1, 0, 5], [10, 2, 0, 9], 3));
    b.dev.rx.push_back(udp4([10, 2, 0, 9], [10, 1, 0, 5], 99));
    b.run();
    a.run();
    assert_eq!(a.dev.tx, vec![udp4([10, 2, 0, 9], [10, 1, 0, 5], 99)]);
    let s = a.stats();
    assert_eq!((s.tun_rx_packets, s.esp_tx_packets, s.tun_tx_packets), (10, 10, 1));
    assert_eq!(s.total_drops(), 0);
    let sa = &a.dp.table().stats()[0];
    assert_eq!(sa.outbound.as_ref().unwrap().packets, 10);
    assert_eq!(sa.inbound.packets, 1);
}

#[test]
fn outbound_without_covering_selector_is_dropped() {
    let (mut a, mut b) = installed();
    a.dev.rx.push_back(udp4([10, 1, 0, 5], [10, 3, 0, 9], 1)); // not B's network
    a.dev.rx.push_back(vec![0x60; 10]); // not a parsable packet
    a.run();
    b.run();
    assert!(b.dev.tx.is_empty());
    assert_eq!(a.stats().dropped(Drop::NoPolicy), 1);
    assert_eq!(a.stats().dropped(Drop::NotIp), 1);
}

#[test]
fn inbound_policy_drops_packets_outside_the_selectors() {
    // B's peer (A) is wrongly configured to send 10.3.0.0/24 through the SA: B must drop it
    // after decryption (RFC 4301 §5.2) and count it.
    let (mut a, mut b) = pair(Faults::default());
    let (mut ca, cb) = child(0x1000, 0x2000, 1);
    ca.policy.remote.push(cidr("10.3.0.0/24"));
    ca.policy.local.push(cidr("10.9.0.0/24"));
    install(&mut a, &mut b, &ca, &cb);
    a.dev.rx.push_back(udp4([10, 1, 0, 5], [10, 3, 0, 9], 1));
    a.dev.rx.push_back(udp4([10, 9, 0, 5], [10, 2, 0, 9], 2));
    a.dev.rx.push_back(udp4([10, 1, 0, 5], [10, 2, 0, 9], 3));
    a.run();
    b.run();
    assert_eq!(b.dev.tx, vec![udp4([10, 1, 0, 5], [10, 2, 0, 9], 3)]);
    assert_eq!(b.stats().dropped(Drop::InboundPolicy), 2);
}

#[test]
fn ike_goes_up_keepalives_and_garbage_are_dropped() {
    let (a, mut b) = installed();
    let mut ike = vec![0u8; 4 + 28];
    ike[4..12].copy_from_slice(&[7; 8]);
    a.link.inject(&ike);
    a.link.inject(&[0xff]);
    a.link.inject(&[1, 2, 3]);
    a.link.inject(&[0, 0, 0x99, 0x99, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    b.run();
    let got = b.ike.try_recv().unwrap();
    assert_eq!(got.bytes, ike);
    assert_eq!(got.remote, A.parse::<SocketAddr>().unwrap());
    assert_eq!(got.local, B.parse::<SocketAddr>().unwrap());
    let s = b.stats();
    assert_eq!((s.ike_up, s.keepalives), (1, 1));
    assert_eq!(s.dropped(Drop::Invalid), 1);
    assert_eq!(s.dropped(Drop::Esp(DropReason::UnknownSpi)), 1);
    assert!(b.dev.tx.is_empty());
}

#[test]
fn faults_are_counted_and_survivors_delivered() {
    let faults = Faults {
        drop_every: Some(7),
        corrupt_every: Some(5),
        duplicate_every: Some(3),
        reorder_every: Some(4),
    };
    let (mut a, mut b) = pair(faults);
    let (ca, cb) = child(0x1000, 0x2000, 1);
    install(&mut a, &mut b, &ca, &cb);
    for n in 0..100 {
        a.dev.rx.push_back(udp4([10, 1, 0, 5], [10, 2, 0, 9], n));
    }
    a.run();
    b.run();
    let s = b.stats();
    let mut seen: Vec<u32> =
        b.dev.tx.iter().map(|p| u32::from_be_bytes(p[28..32].try_into().unwrap())).collect();
    let delivered = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), delivered, "a duplicate got through");
    assert!(s.dropped(Drop::Esp(DropReason::BadIcv)) >= 15, "{s:?}");
    assert!(s.dropped(Drop::Esp(DropReason::Replay)) >= 10, "{s:?}");
    // Every datagram is either delivered or dropped with a reason.
    assert_eq!(s.udp_rx_packets, delivered as u64 + s.total_drops());
    // Every packet neither lost on the wire nor corrupted arrives.
    let expected = (1..=100usize).filter(|n| n % 7 != 0 && n % 5 != 0).count();
    assert!(delivered >= expected, "{delivered} < {expected}");
}

#[test]
fn rekey_moves_traffic_without_loss_and_old_sa_drains() {
    let (mut a, mut b) = installed();
    // In flight under the old SA.
    for n in 0..5 {
        a.dev.rx.push_back(udp4([10, 1, 0, 5], [10, 2, 0, 9], n));
    }
    a.run();
    // Rekey: new SAs installed on both ends (make before break); the old ones stay inbound.
    let (ca, cb) = child(0x1001, 0x2001, 9);
    install(&mut a, &mut b, &ca, &cb);
    for n in 5..10 {
        a.dev.rx.push_back(udp4([10, 1, 0, 5], [10, 2, 0, 9], n));
    }
    a.run();
    b.run();
    assert_eq!(b.dev.tx.len(), 10);
    let stats = b.dp.table().stats();
    let new = stats.iter().find(|s| s.spi_in == 0x2001).unwrap();
    let old = stats.iter().find(|s| s.spi_in == 0x2000).unwrap();
    assert_eq!((old.inbound.packets, new.inbound.packets), (5, 5));
    // Delete of the old child SA: late packets under its SPI are now unknown.
    assert!(b.dp.table().remove(0x2000));
    assert!(a.dp.table().remove(0x1000));
    assert_eq!(b.dp.table().len(), 1);
    a.dev.rx.push_back(udp4([10, 1, 0, 5], [10, 2, 0, 9], 11));
    a.run();
    b.run();
    assert_eq!(b.dev.tx.len(), 11);
}

#[test]
fn ipv6_inner_packets_cross() {
    let (mut a, mut b) = pair(Faults::default());
    let (mut ca, mut cb) = child(0x1000, 0x2000, 1);
    ca.policy = Policy::any();
    cb.policy = Policy::any();
    install(&mut a, &mut b, &ca, &cb);
    let src: IpAddr = "fd01::5".parse().unwrap();
    let dst: IpAddr = "fd02::9".parse().unwrap();
    let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) else { unreachable!() };
    let mut p = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
    p.extend_from_slice(&s.octets());
    p.extend_from_slice(&d.octets());
    p.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
    a.dev.rx.push_back(p.clone());
    a.run();
    b.run();
    assert_eq!(b.dev.tx, vec![p]);
}

#[test]
fn many_threads_share_one_sa_without_repeating_sequence_numbers() {
    // Four "workers" seal through one outbound SA at once; the receiver must accept each
    // packet exactly once (a repeated sequence number would be a replay drop).
    let (mut a, mut b) = installed();
    let table = a.dp.table().clone();
    let (tx, rx) = unbounded::<Vec<u8>>();
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let dp = Datapath::new(
                table.clone(),
                Arc::new(Counters::default()),
                unbounded().0,
                A.parse().unwrap(),
            );
            let tx = tx.clone();
            s.spawn(move || {
                let mut buf = vec![0u8; HEADROOM + 1400 + TAILROOM];
                for n in 0..250u32 {
                    let p = udp4([10, 1, 0, t], [10, 2, 0, 9], n);
                    buf[HEADROOM..HEADROOM + p.len()].copy_from_slice(&p);
                    let (at, len, _) = dp.seal(&mut buf, p.len()).unwrap();
                    tx.send(buf[at..at + len].to_vec()).unwrap();
                }
            });
        }
    });
    drop(tx);
    let mut n = 0;
    for d in rx {
        a.link.inject(&d);
        n += 1;
        if n % 64 == 0 {
            b.run();
        }
    }
    b.run();
    assert_eq!(b.dev.tx.len(), 1000);
    assert_eq!(b.stats().total_drops(), 0);
    let _ = &mut a;
}

/// A server's child SA towards one client: its own host address behind `peer`.
fn client_child(spi: u32, host: &str, peer: &str) -> ChildSa {
    ChildSa {
        inbound: sa(spi, 3),
        outbound: sa(spi + 1, 4),
        policy: Policy { local: vec![Selector::any_v4()], remote: vec![cidr(host)] },
        remote: peer.parse().unwrap(),
    }
}

/// Issue 9 finding 6: the outbound SA was the newest whose selectors covered the packet, found
/// by trying every SA; a newer client SA with wider selectors took the traffic of an older
/// client's address. Now each client's packets go to its own SA, whatever the order of
/// installation, and a wider SA only gets what no narrower one covers.
#[test]
fn each_clients_packets_go_to_its_own_sa_never_a_newer_or_wider_one() {
    let (tx, _ike) = unbounded();
    let dp = Datapath::new(
        SaTable::new(),
        Arc::new(Counters::default()),
        tx,
        "192.0.2.254:4500".parse().unwrap(),
    );
    let table = dp.table();
    table
        .install_all(&[
            client_child(0x1000, "10.88.0.10/32", "192.0.2.10:4500"),
            client_child(0x2000, "10.88.0.11/32", "192.0.2.11:4500"),
        ])
        .unwrap();
    table.install(&client_child(0x3000, "0.0.0.0/0", "192.0.2.66:4500")).unwrap();
    assert_eq!(table.len(), 3);
    let peer_of = |dst: [u8; 4]| {
        let packet = udp4([10, 0, 0, 1], dst, 1);
        let mut buf = vec![0u8; HEADROOM + packet.len() + TAILROOM];
        buf[HEADROOM..HEADROOM + packet.len()].copy_from_slice(&packet);
        dp.seal(&mut buf, packet.len()).map(|(_, _, to)| to.to_string())
    };
    assert_eq!(peer_of([10, 88, 0, 10]).as_deref(), Ok("192.0.2.10:4500"));
    assert_eq!(peer_of([10, 88, 0, 11]).as_deref(), Ok("192.0.2.11:4500"));
    assert_eq!(peer_of([10, 88, 0, 12]).as_deref(), Ok("192.0.2.66:4500"));
    // Without the wide SA, an address no client holds goes nowhere.
    table.remove(0x3000);
    assert_eq!(peer_of([10, 88, 0, 12]), Err(Drop::NoPolicy));
    assert_eq!(peer_of([10, 88, 0, 10]).as_deref(), Ok("192.0.2.10:4500"));
}

/// Seals one inner packet at `from` for its peer; returns the ESP datagram.
fn sealed(from: &End, inner: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; HEADROOM + 1400 + TAILROOM];
    buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(inner);
    let (start, len, _) = from.dp.seal(&mut buf, inner.len()).expect("sealed");
    buf[start..start + len].to_vec()
}

/// Opens `esp` at `to` as if it came from `source`; whether it was delivered.
fn open_from(to: &End, esp: &[u8], source: &str) -> bool {
    let mut buf = esp.to_vec();
    let len = buf.len();
    matches!(to.dp.open(&mut buf, len, source.parse().unwrap()), ikeway_pump::Opened::Inner { .. })
}

/// NAT rebinding (RFC 7296 §2.23, RFC 3948): with following on, authenticated ESP from a new
/// source moves where the SA sends, counted once; a replay of it from yet another source, a
/// packet with a broken ICV and a packet for an unknown SPI move nothing; with following off
/// (the default, and MOBIKE) nothing moves at all.
#[test]
fn authenticated_esp_from_a_new_source_moves_the_peer_only_when_following() {
    let (a, b) = installed();
    let remote_at_b = || b.dp.table().stats()[0].remote.unwrap();
    let first = sealed(&a, &udp4([10, 1, 0, 5], [10, 2, 0, 9], 1));
    assert!(open_from(&b, &first, "198.51.100.7:31000"));
    assert_eq!(remote_at_b(), A.parse::<SocketAddr>().unwrap(), "following is off by default");
    assert_eq!(b.stats().peer_moved, 0);

    b.dp.table().set_follow_peer(true);
    let second = sealed(&a, &udp4([10, 1, 0, 5], [10, 2, 0, 9], 2));
    assert!(open_from(&b, &second, "198.51.100.7:31000"));
    assert_eq!(remote_at_b(), "198.51.100.7:31000".parse::<SocketAddr>().unwrap());
    assert_eq!(b.stats().peer_moved, 1);

    // A replay from another source fails the replay window: no move.
    assert!(!open_from(&b, &second, "203.0.113.9:4500"));
    // A forged packet (flipped ICV byte) from another source: no move.
    let mut forged = sealed(&a, &udp4([10, 1, 0, 5], [10, 2, 0, 9], 3));
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(!open_from(&b, &forged, "203.0.113.9:4500"));
    // An unknown SPI from another source: no move.
    let mut unknown = sealed(&a, &udp4([10, 1, 0, 5], [10, 2, 0, 9], 4));
    unknown[..4].copy_from_slice(&0x7777u32.to_be_bytes());
    assert!(!open_from(&b, &unknown, "203.0.113.9:4500"));
    assert_eq!(remote_at_b(), "198.51.100.7:31000".parse::<SocketAddr>().unwrap());
    assert_eq!(b.stats().peer_moved, 1);

    // B's answer goes to the new address.
    let mut buf = vec![0u8; HEADROOM + 1400 + TAILROOM];
    let inner = udp4([10, 2, 0, 9], [10, 1, 0, 5], 5);
    buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(&inner);
    let (_, _, to) = b.dp.seal(&mut buf, inner.len()).unwrap();
    assert_eq!(to, "198.51.100.7:31000".parse::<SocketAddr>().unwrap());

    // Off again (MOBIKE negotiated): the next authenticated packet from elsewhere moves nothing.
    b.dp.table().set_follow_peer(false);
    let third = sealed(&a, &udp4([10, 1, 0, 5], [10, 2, 0, 9], 6));
    assert!(open_from(&b, &third, "203.0.113.9:4500"));
    assert_eq!(remote_at_b(), "198.51.100.7:31000".parse::<SocketAddr>().unwrap());
    assert_eq!(b.stats().peer_moved, 1);
}

/// The inbound half keeps the source it last followed, so only a new source takes the
/// outbound lock (review of `follow_peer`): the control plane's own moves (`set_remote`,
/// `set_peer`) update that copy too, so a packet from the old source after them still moves
/// the peer back, and further packets from the same source count nothing.
#[test]
fn following_and_control_plane_moves_agree() {
    let (a, b) = installed();
    let remote_at_b = || b.dp.table().stats()[0].remote.unwrap();
    let spi_in = b.dp.table().stats()[0].spi_in;
    b.dp.table().set_follow_peer(true);
    let mut seq = 0;
    let mut from = |source: &str| {
        seq += 1;
        assert!(open_from(&b, &sealed(&a, &udp4([10, 1, 0, 5], [10, 2, 0, 9], seq)), source));
    };
    for _ in 0..3 {
        from("198.51.100.7:31000");
    }
    assert_eq!(b.stats().peer_moved, 1, "one move, then the same source moves nothing");
    assert!(b.dp.table().set_remote(spi_in, "203.0.113.9:4500".parse().unwrap()));
    assert_eq!(remote_at_b(), "203.0.113.9:4500".parse::<SocketAddr>().unwrap());
    from("198.51.100.7:31000");
    assert_eq!(remote_at_b(), "198.51.100.7:31000".parse::<SocketAddr>().unwrap());
    assert_eq!(b.stats().peer_moved, 2, "after set_remote the old source is a move again");
    assert_eq!(b.dp.table().set_peer("192.0.2.99:4500".parse().unwrap()), 1);
    from("198.51.100.7:31000");
    assert_eq!(remote_at_b(), "198.51.100.7:31000".parse::<SocketAddr>().unwrap());
    assert_eq!(b.stats().peer_moved, 3, "after set_peer the old source is a move again");
    from("198.51.100.7:31000");
    assert_eq!(b.stats().peer_moved, 3);
}

/// `set_peer` moves every outbound SA of an initiator's one peer (a MOBIKE update).
#[test]
fn set_peer_moves_every_outbound_sa() {
    let (mut a, mut b) = installed();
    let (ca, cb) = child(0x1001, 0x2001, 5);
    install(&mut a, &mut b, &ca, &cb);
    let new: SocketAddr = "192.0.2.9:4500".parse().unwrap();
    assert_eq!(a.dp.table().set_peer(new), 2);
    assert!(a.dp.table().stats().iter().all(|s| s.remote == Some(new)));
}

/// RFC 7296 §2.8: a rekey's successor installed with `install_successor` takes inbound at
/// once, but our traffic stays on the SA it replaces until the peer uses the new one (a valid
/// packet on it) or the old one is removed; so a lost CREATE_CHILD_SA response (the peer never
/// installed the new SA) blackholes nothing. A successor never gives way to another child's SA.
#[test]
fn a_rekeys_successor_carries_our_traffic_once_the_peer_uses_it_or_the_old_one_goes() {
    let out_spi = |end: &End, n: u32| {
        let esp = sealed(end, &udp4([10, 1, 0, 5], [10, 2, 0, 9], n));
        u32::from_be_bytes([esp[0], esp[1], esp[2], esp[3]])
    };
    // A's side answered the rekey: 0x1001/0x2001 replaces 0x1000/0x2000.
    let (a, b) = installed();
    let (ca, cb) = child(0x1001, 0x2001, 5);
    a.dp.table().install_successor(&ca, 0x1000).unwrap();
    assert_eq!(out_spi(&a, 1), 0x2000, "the old SA until the peer is known to have the new one");
    b.dp.table().install(&cb).unwrap();
    let from_b = {
        let mut buf = vec![0u8; HEADROOM + 1400 + TAILROOM];
        let inner = udp4([10, 2, 0, 9], [10, 1, 0, 5], 2);
        buf[HEADROOM..HEADROOM + inner.len()].copy_from_slice(&inner);
        let (start, len, _) = b.dp.seal(&mut buf, inner.len()).unwrap();
        buf[start..start + len].to_vec()
    };
    assert_eq!(u32::from_be_bytes([from_b[0], from_b[1], from_b[2], from_b[3]]), 0x1001);
    // A forged packet on the new SA proves nothing.
    let mut forged = from_b.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(!open_from(&a, &forged, B));
    assert_eq!(out_spi(&a, 3), 0x2000);
    assert!(open_from(&a, &from_b, B));
    assert_eq!(out_spi(&a, 4), 0x2001, "the peer used the new SA");

    // The old SA removed before the peer sent anything: the successor at once.
    let (a, _b) = installed();
    a.dp.table().install_successor(&ca, 0x1000).unwrap();
    assert_eq!(out_spi(&a, 5), 0x2000);
    assert!(a.dp.table().remove(0x1000));
    assert_eq!(out_spi(&a, 6), 0x2001);

    // Another client's wider SA never stands in for a pending successor.
    let (a, _b) = pair(Faults::default());
    let wide = ChildSa {
        inbound: sa(0x3000, 9),
        outbound: sa(0x4000, 10),
        policy: Policy { local: vec![cidr("10.1.0.0/24")], remote: vec![cidr("10.0.0.0/8")] },
        remote: B.parse().unwrap(),
    };
    a.dp.table().install(&wide).unwrap();
    a.dp.table().install_successor(&ca, 0x1000).unwrap();
    assert_eq!(out_spi(&a, 7), 0x2001, "its predecessor is gone: the successor, not 10.0.0.0/8");
}
