//! The per-packet work, independent of how packets move: [`Datapath::seal`] (inner packet to
//! ESP datagram) and [`Datapath::open`] (UDP/4500 payload to inner packet, IKE or nothing).
//! Both work in place in the caller's buffer; the io_uring worker, the poll fallback and the
//! in-memory test devices all call these two.

use std::net::SocketAddr;
use std::sync::Arc;

use crossbeam_channel::Sender;
use ikeway_esp::mss::MssClamp;
use ikeway_esp::udp::Datagram;
use ikeway_esp::{NextHeader, SaEvent};

use crate::counters::{Counters, Drop, bump};
use crate::selector::Flow;
use crate::table::{SaTable, lock};

/// Bytes every buffer keeps free before the inner packet: ESP header (8) and the largest IV
/// (16, AES-CBC), rounded up.
pub const HEADROOM: usize = 32;
/// Bytes after the inner packet: padding (< 16), trailer (2), largest ICV (32), rounded up.
pub const TAILROOM: usize = 64;

/// An IKE datagram for the control plane, exactly as received (non-ESP marker included on
/// port 4500: `IkeSa::handle_datagram` strips it itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IkeDatagram {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub bytes: Vec<u8>,
}

/// What [`Datapath::open`] made of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// A verified inner packet at `buf[start..start + len]`, inside the SA's policy.
    Inner { start: usize, len: usize },
    /// Handed to the control plane, or a keepalive: nothing to write.
    Consumed,
    /// Dropped and counted.
    Dropped(Drop),
}

/// The shared state one worker needs: the SA table, its counters, the channel up.
#[derive(Debug, Clone)]
pub struct Datapath {
    table: SaTable,
    counters: Arc<Counters>,
    ike: Sender<IkeDatagram>,
    local: SocketAddr,
    mss: Option<MssClamp>,
}

impl Datapath {
    /// `local` is the socket address datagrams arrive on (reported with IKE datagrams).
    pub fn new(
        table: SaTable,
        counters: Arc<Counters>,
        ike: Sender<IkeDatagram>,
        local: SocketAddr,
    ) -> Self {
        Self { table, counters, ike, local, mss: None }
    }

    /// Lowers the MSS of TCP SYNs crossing the tunnel, both ways, to what fits `clamp` (the
    /// pump uses its TUN MTU): in place, before sealing and after the inbound policy check.
    pub fn with_mss_clamp(mut self, clamp: MssClamp) -> Self {
        self.mss = Some(clamp);
        self
    }

    #[inline]
    fn clamp_mss(&self, packet: &mut [u8]) {
        if let Some(clamp) = &self.mss
            && clamp.clamp(packet).is_some()
        {
            bump(&self.counters.mss_clamped, 1);
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn table(&self) -> &SaTable {
        &self.table
    }

    /// Encapsulates the inner packet at `buf[HEADROOM..HEADROOM + len]` for the SA whose
    /// selectors cover it (the narrowest, then newest: see `SaTable`). Returns where the ESP packet (the UDP payload) is in `buf` and where
    /// to send it. `buf` must hold `HEADROOM + len + TAILROOM` bytes.
    pub fn seal(&self, buf: &mut [u8], len: usize) -> Result<(usize, usize, SocketAddr), Drop> {
        let c = &*self.counters;
        bump(&c.tun_rx_packets, 1);
        bump(&c.tun_rx_bytes, len as u64);
        let result = self.seal_inner(buf, len);
        match result {
            Ok((_, esp_len, _)) => {
                bump(&c.esp_tx_packets, 1);
                bump(&c.esp_tx_bytes, esp_len as u64);
            }
            Err(reason) => c.drop(reason),
        }
        result
    }

    fn seal_inner(&self, buf: &mut [u8], len: usize) -> Result<(usize, usize, SocketAddr), Drop> {
        let inner = buf.get_mut(HEADROOM..HEADROOM + len).ok_or(Drop::SealFailed)?;
        self.clamp_mss(inner);
        let inner = &*inner;
        let next_header = NextHeader::of_ip_packet(inner).ok_or(Drop::NotIp)?;
        let flow = Flow::parse(inner).ok_or(Drop::NotIp)?;
        let snap = self.table.load();
        let entry = snap.outbound_for(&flow).ok_or(Drop::NoPolicy)?;
        let start = HEADROOM - entry.headroom;
        let mut state = lock(&entry.sa);
        let sealed = state.sa.encapsulate(&mut buf[start..], len, next_header).map(|esp| esp.len());
        let rekey = state.sa.poll_event().is_some_and(|e| e == SaEvent::RekeyNeeded);
        let remote = state.remote;
        drop(state);
        if rekey {
            self.table.request_rekey(entry.spi_in);
        }
        let esp_len = sealed.map_err(|_| Drop::SealFailed)?;
        Ok((start, esp_len, remote))
    }

    /// Classifies a UDP payload received at `buf[..len]` from `remote` on port 4500 (or on a
    /// port that carries only ESP-in-UDP) and acts on it: IKE up the channel, keepalives
    /// dropped, ESP decrypted in place and checked against the SA's selectors.
    pub fn open(&self, buf: &mut [u8], len: usize, remote: SocketAddr) -> Opened {
        let c = &*self.counters;
        bump(&c.udp_rx_packets, 1);
        bump(&c.udp_rx_bytes, len as u64);
        let Some(payload) = buf.get_mut(..len) else {
            c.drop(Drop::Invalid);
            return Opened::Dropped(Drop::Invalid);
        };
        match Datagram::classify(payload) {
            Datagram::Esp(_) => {}
            Datagram::Ike(_) => {
                let d = IkeDatagram { local: self.local, remote, bytes: payload.to_vec() };
                if self.ike.try_send(d).is_err() {
                    c.drop(Drop::ControlPlane);
                    return Opened::Dropped(Drop::ControlPlane);
                }
                bump(&c.ike_up, 1);
                return Opened::Consumed;
            }
            Datagram::Keepalive => {
                bump(&c.keepalives, 1);
                return Opened::Consumed;
            }
            Datagram::Invalid => {
                c.drop(Drop::Invalid);
                return Opened::Dropped(Drop::Invalid);
            }
        }
        let spi = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
        let snap = self.table.load();
        let Some(entry) = snap.inbound.get(&spi) else {
            let reason = Drop::Esp(ikeway_esp::DropReason::UnknownSpi);
            c.drop(reason);
            return Opened::Dropped(reason);
        };
        let base = payload.as_ptr() as usize;
        let mut sa = lock(&entry.sa);
        let opened = sa.decapsulate(payload);
        let rekey = sa.poll_event().is_some_and(|e| e == SaEvent::RekeyNeeded);
        let moved = sa.peer != remote;
        drop(sa);
        if rekey {
            self.table.request_rekey(spi);
        }
        match opened {
            Ok(d) => {
                let start = d.payload.as_ptr() as usize - base;
                let inner_len = d.payload.len();
                let inside =
                    Flow::parse(d.payload).is_some_and(|f| entry.policy.covers_inbound(&f));
                if !inside {
                    c.drop(Drop::InboundPolicy);
                    return Opened::Dropped(Drop::InboundPolicy);
                }
                // The peer uses the new SA: so can we (RFC 7296 §2.8).
                if !entry.outbound.ready.load(std::sync::atomic::Ordering::Relaxed) {
                    entry.outbound.ready.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                // Only a source other than the one the outbound half sends to (as the inbound
                // half last saw it) takes the outbound lock: a NAT rebinding, not every packet.
                if moved && self.table.follows_peer() && snap.move_peer(&entry.outbound, remote) {
                    bump(&c.peer_moved, 1);
                }
                self.clamp_mss(&mut payload[start..start + inner_len]);
                bump(&c.tun_tx_packets, 1);
                bump(&c.tun_tx_bytes, inner_len as u64);
                Opened::Inner { start, len: inner_len }
            }
            Err(reason) => {
                c.drop(Drop::Esp(reason));
                Opened::Dropped(Drop::Esp(reason))
            }
        }
    }
}
