//! Datapath counters: each worker owns one [`Counters`] (relaxed atomics on its own cache
//! lines, written by that worker only); the control plane sums them into [`Stats`].

use std::sync::atomic::{AtomicU64, Ordering};

use ikeway_esp::DropReason;

/// Why the pump dropped a packet. ESP's own reasons ([`DropReason`]) are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Drop {
    /// A TUN packet that is not IPv4/IPv6.
    NotIp,
    /// No outbound SA's selectors cover the packet.
    NoPolicy,
    /// Sealing failed (sequence numbers or lifetime exhausted, buffer too small).
    SealFailed,
    /// A decrypted packet whose addresses are outside the child SA's selectors
    /// (RFC 4301 §5.2).
    InboundPolicy,
    /// A UDP datagram that is neither IKE, ESP nor a keepalive.
    Invalid,
    /// The control plane's channel is full or gone: an IKE datagram was lost.
    ControlPlane,
    /// Writing to the TUN device or sending on the socket failed.
    Io,
    /// ESP decapsulation refused the packet.
    Esp(DropReason),
}

const PUMP_REASONS: usize = 7;
const SLOTS: usize = PUMP_REASONS + DropReason::ALL.len();

impl Drop {
    /// Every reason, in counter order.
    pub fn all() -> impl Iterator<Item = Drop> {
        [
            Self::NotIp,
            Self::NoPolicy,
            Self::SealFailed,
            Self::InboundPolicy,
            Self::Invalid,
            Self::ControlPlane,
            Self::Io,
        ]
        .into_iter()
        .chain(DropReason::ALL.into_iter().map(Self::Esp))
    }

    fn index(self) -> usize {
        match self {
            Self::NotIp => 0,
            Self::NoPolicy => 1,
            Self::SealFailed => 2,
            Self::InboundPolicy => 3,
            Self::Invalid => 4,
            Self::ControlPlane => 5,
            Self::Io => 6,
            Self::Esp(r) => {
                PUMP_REASONS + DropReason::ALL.iter().position(|&x| x == r).unwrap_or(0)
            }
        }
    }

    /// A short stable name for logs and JSON.
    pub fn name(self) -> String {
        match self {
            Self::NotIp => "not_ip".into(),
            Self::NoPolicy => "no_policy".into(),
            Self::SealFailed => "seal_failed".into(),
            Self::InboundPolicy => "inbound_policy".into(),
            Self::Invalid => "invalid".into(),
            Self::ControlPlane => "control_plane".into(),
            Self::Io => "io".into(),
            Self::Esp(r) => format!("esp_{r:?}").to_lowercase(),
        }
    }
}

/// One worker's counters. Cache-line aligned so that two workers never share a line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Counters {
    /// Inner packets read from the device / bytes.
    pub tun_rx_packets: AtomicU64,
    pub tun_rx_bytes: AtomicU64,
    /// Inner packets written to the device / bytes.
    pub tun_tx_packets: AtomicU64,
    pub tun_tx_bytes: AtomicU64,
    /// ESP datagrams sent / bytes (UDP payload).
    pub esp_tx_packets: AtomicU64,
    pub esp_tx_bytes: AtomicU64,
    /// UDP datagrams received / bytes (UDP payload, any kind).
    pub udp_rx_packets: AtomicU64,
    pub udp_rx_bytes: AtomicU64,
    /// IKE datagrams handed to the control plane.
    pub ike_up: AtomicU64,
    /// NAT keepalives received (and dropped, as RFC 3948 says).
    pub keepalives: AtomicU64,
    /// Authenticated ESP from a new peer address moved where the SA sends (a NAT rebinding).
    pub peer_moved: AtomicU64,
    /// TCP SYNs whose MSS option was lowered to fit the tunnel (both directions).
    pub mss_clamped: AtomicU64,
    /// io_uring: times the submission queue was full and operations waited in the backlog.
    pub ring_stalls: AtomicU64,
    /// io_uring: submit calls (each may carry many operations).
    pub submits: AtomicU64,
    drops: [AtomicU64; SLOTS],
}

#[inline]
pub(crate) fn bump(c: &AtomicU64, n: u64) {
    // One writer per counter: a load and a store are enough, and cheaper than a locked add.
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn drop(&self, reason: Drop) {
        bump(&self.drops[reason.index()], 1);
    }

    pub fn drops(&self, reason: Drop) -> u64 {
        self.drops[reason.index()].load(Ordering::Relaxed)
    }
}

/// A copy of the counters summed over workers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub tun_rx_packets: u64,
    pub tun_rx_bytes: u64,
    pub tun_tx_packets: u64,
    pub tun_tx_bytes: u64,
    pub esp_tx_packets: u64,
    pub esp_tx_bytes: u64,
    pub udp_rx_packets: u64,
    pub udp_rx_bytes: u64,
    pub ike_up: u64,
    pub keepalives: u64,
    pub peer_moved: u64,
    pub mss_clamped: u64,
    pub ring_stalls: u64,
    pub submits: u64,
    /// Non-zero drop counters by reason.
    pub drops: Vec<(Drop, u64)>,
}

impl Stats {
    pub fn sum<'a>(workers: impl IntoIterator<Item = &'a Counters>) -> Self {
        let mut s = Self::default();
        let mut drops = [0u64; SLOTS];
        for c in workers {
            let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
            s.tun_rx_packets += get(&c.tun_rx_packets);
            s.tun_rx_bytes += get(&c.tun_rx_bytes);
            s.tun_tx_packets += get(&c.tun_tx_packets);
            s.tun_tx_bytes += get(&c.tun_tx_bytes);
            s.esp_tx_packets += get(&c.esp_tx_packets);
            s.esp_tx_bytes += get(&c.esp_tx_bytes);
            s.udp_rx_packets += get(&c.udp_rx_packets);
            s.udp_rx_bytes += get(&c.udp_rx_bytes);
            s.ike_up += get(&c.ike_up);
            s.keepalives += get(&c.keepalives);
            s.peer_moved += get(&c.peer_moved);
            s.mss_clamped += get(&c.mss_clamped);
            s.ring_stalls += get(&c.ring_stalls);
            s.submits += get(&c.submits);
            for (d, a) in drops.iter_mut().zip(&c.drops) {
                *d += get(a);
            }
        }
        s.drops =
            Drop::all().filter_map(|r| Some((r, drops[r.index()])).filter(|x| x.1 > 0)).collect();
        s
    }

    pub fn dropped(&self, reason: Drop) -> u64 {
        self.drops.iter().find(|(r, _)| *r == reason).map_or(0, |x| x.1)
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.iter().map(|x| x.1).sum()
    }

    /// One line of `key=value` pairs, for logs and scripts.
    pub fn to_line(&self) -> String {
        let mut line = format!(
            "tun_rx={} tun_rx_bytes={} tun_tx={} tun_tx_bytes={} esp_tx={} esp_tx_bytes={} udp_rx={} udp_rx_bytes={} ike_up={} keepalives={} peer_moved={} mss_clamped={} ring_stalls={} submits={}",
            self.tun_rx_packets,
            self.tun_rx_bytes,
            self.tun_tx_packets,
            self.tun_tx_bytes,
            self.esp_tx_packets,
            self.esp_tx_bytes,
            self.udp_rx_packets,
            self.udp_rx_bytes,
            self.ike_up,
            self.keepalives,
            self.peer_moved,
            self.mss_clamped,
            self.ring_stalls,
            self.submits
        );
        for (r, n) in &self.drops {
            line.push_str(&format!(" drop_{}={n}", r.name()));
        }
        line
    }
}
