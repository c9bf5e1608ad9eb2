//! One end of the demo's tunnel: the datapath's own ESP path (`ikeway_pump::device::pump`,
//! with its SA table and selector policy) between a smoltcp userspace stack, as the inner
//! device, and a loopback UDP socket, as the outer transport.

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;

use anyhow::{Context, Result};
use ikeway_pump::device::{self, Device as PumpDevice, Transport};
use ikeway_pump::{Counters, Datapath, HEADROOM, SaTable, TAILROOM};
use ikeway_sa::ChildSaInfo;
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant as SmolInstant;

/// Inner MTU: what fits a 1500-byte path after IPv4, UDP and the largest ESP overhead.
pub(crate) const INNER_MTU: usize = 1400;

/// Packets between the smoltcp stack and the ESP path.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    /// Written by smoltcp, to be sealed and sent.
    to_tunnel: VecDeque<Vec<u8>>,
    /// Opened by the ESP path, for smoltcp to read.
    from_tunnel: VecDeque<Vec<u8>>,
}

/// An ESP-in-UDP link to the peer through the datapath's ESP path.
#[derive(Debug)]
pub(crate) struct EspLink {
    datapath: Datapath,
    socket: UdpSocket,
    pub(crate) queues: Queues,
    buf: Vec<u8>,
}

impl EspLink {
    /// Installs `child` in a datapath whose ESP goes to `peer` over `socket`.
    pub(crate) fn new(socket: UdpSocket, peer: SocketAddr, child: &ChildSaInfo) -> Result<Self> {
        socket.set_nonblocking(true)?;
        let table = SaTable::new();
        table.install(&crate::ike::datapath::child(child)).context("installing the child SA")?;
        // ESP goes to the peer's ESP socket, not to the address IKE used.
        table.set_remote(child.spi_in, peer);
        // IKE travels on its own sockets here; nothing comes up this channel.
        let (ike, _) = crossbeam_channel::unbounded();
        let datapath =
            Datapath::new(table, Arc::new(Counters::default()), ike, socket.local_addr()?);
        Ok(Self {
            datapath,
            socket,
            queues: Queues::default(),
            buf: vec![0; HEADROOM + 65536 + TAILROOM],
        })
    }

    /// Seals what smoltcp wrote and opens what arrived, a batch each way.
    pub(crate) fn pump(&mut self) -> usize {
        let Self { datapath, socket, queues, buf } = self;
        let moved = device::pump(datapath, &mut Inner(queues), &mut Udp(socket), buf, 64);
        moved.inbound + moved.outbound
    }

    /// (packets, bytes) sent and received through the child SA, and packets dropped.
    pub(crate) fn traffic(&self) -> ((u64, u64), (u64, u64), u64) {
        let stats = self.datapath.table().stats();
        let mut out = (0, 0);
        let mut inn = (0, 0);
        let mut drops = 0;
        for s in stats {
            inn = (inn.0 + s.inbound.packets, inn.1 + s.inbound.bytes);
            drops += s.inbound.total_drops();
            if let Some(o) = s.outbound {
                out = (out.0 + o.packets, out.1 + o.bytes);
            }
        }
        let path = ikeway_pump::Stats::sum([self.datapath.counters()]);
        (out, inn, drops + path.total_drops())
    }
}

/// The ESP path's view of the queues: it reads what smoltcp sent and delivers to smoltcp.
struct Inner<'a>(&'a mut Queues);

struct QueueRx(Vec<u8>);
struct QueueTx<'a>(&'a mut VecDeque<Vec<u8>>);

impl device::RxToken for QueueRx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.0)
    }
}

impl device::TxToken for QueueTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0u8; len];
        let r = f(&mut packet);
        self.0.push_back(packet);
        r
    }
}

impl PumpDevice for Inner<'_> {
    type RxToken<'a>
        = QueueRx
    where
        Self: 'a;
    type TxToken<'a>
        = QueueTx<'a>
    where
        Self: 'a;

    fn receive(&mut self) -> Option<QueueRx> {
        self.0.to_tunnel.pop_front().map(QueueRx)
    }

    fn transmit(&mut self) -> Option<QueueTx<'_>> {
        Some(QueueTx(&mut self.0.from_tunnel))
    }

    fn mtu(&self) -> usize {
        INNER_MTU
    }
}

/// The outer side: a non-blocking loopback UDP socket.
struct Udp<'a>(&'a UdpSocket);

impl Transport for Udp<'_> {
    fn recv(&mut self, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        match self.0.recv_from(buf) {
            Ok(r) => Some(r),
            Err(e) if e.kind() == ErrorKind::WouldBlock => None,
            Err(_) => None,
        }
    }

    fn send(&mut self, payload: &[u8], to: SocketAddr) -> bool {
        // Loopback drops only when its buffer is full; TCP above recovers as on a wire.
        self.0.send_to(payload, to).is_ok()
    }
}

/// smoltcp's view of the queues.
pub(crate) struct SmolRx(Vec<u8>);
pub(crate) struct SmolTx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for SmolRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for SmolTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0u8; len];
        let r = f(&mut packet);
        self.0.push_back(packet);
        r
    }
}

impl Device for Queues {
    type RxToken<'a> = SmolRx;
    type TxToken<'a> = SmolTx<'a>;

    fn receive(&mut self, _now: SmolInstant) -> Option<(SmolRx, SmolTx<'_>)> {
        let packet = self.from_tunnel.pop_front()?;
        Some((SmolRx(packet), SmolTx(&mut self.to_tunnel)))
    }

    fn transmit(&mut self, _now: SmolInstant) -> Option<SmolTx<'_>> {
        Some(SmolTx(&mut self.to_tunnel))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = INNER_MTU;
        caps
    }
}
