//! The link under the userspace stack: the datapath's own ESP path
//! ([`ikeway_pump::device::pump`], with its SA table and selector policy) between the stack's
//! packet queues, as the inner device, and a UDP socket, as the outer transport.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ikeway_pump::device::{self, Device as PumpDevice, Transport};
use ikeway_pump::{Counters, Datapath, HEADROOM, SaTable, TAILROOM};
use ikeway_sa::{ChildSaInfo, Event};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant as SmolInstant;

use super::NetstackError;
use crate::child::datapath_child;
use crate::datapath::ApplyError;
use crate::event::{EventKind, Spi32};

/// Inner MTU: what fits a 1500-byte path after IPv4, UDP and the largest ESP overhead.
pub const INNER_MTU: usize = 1400;

/// Packets per direction one [`EspLink::pump`] call moves at most, so neither direction
/// starves the other.
const BUDGET: usize = 64;

/// Packets between the userspace stack and the ESP path.
#[derive(Debug, Default)]
pub(crate) struct Queues {
    /// Written by the stack, to be sealed and sent.
    to_tunnel: VecDeque<Vec<u8>>,
    /// Opened by the ESP path, for the stack to read.
    from_tunnel: VecDeque<Vec<u8>>,
}

/// What went through a link's child SAs: ESP packets and inner bytes each way, and packets
/// dropped (by an SA's replay window or ICV check, or by the ESP path itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// ESP packets sealed and sent.
    pub sent_packets: u64,
    /// Inner bytes sealed and sent.
    pub sent_bytes: u64,
    /// ESP packets opened and delivered.
    pub received_packets: u64,
    /// Inner bytes opened and delivered.
    pub received_bytes: u64,
    /// Packets dropped, for any reason.
    pub drops: u64,
}

/// An ESP-in-UDP link to the peer: child SAs go into its table as the negotiation installs
/// them, and [`Netstack`](super::Netstack) moves its packets through it.
#[derive(Debug)]
pub struct EspLink {
    datapath: Datapath,
    socket: UdpSocket,
    sas: NetstackSas,
    pub(crate) queues: Queues,
    buf: Vec<u8>,
}

/// Numbers [`NetstackSas`] so that two handles compare equal only when they share a table.
static NEXT_LINK: AtomicU64 = AtomicU64::new(1);

/// Where a [`crate::Session`] puts the child SAs it negotiates for an [`EspLink`]
/// ([`crate::DatapathOptions::Netstack`]): a handle to the link's SA table. The session
/// installs each child SA as it comes up and removes it when it goes (make before break on a
/// rekey), and rekeys those whose ESP counters ask for it; the application keeps polling its
/// [`Netstack`](super::Netstack). Cheap to clone.
#[derive(Debug, Clone)]
pub struct NetstackSas {
    table: SaTable,
    esp_peer: Option<SocketAddr>,
    id: u64,
}

impl PartialEq for NetstackSas {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for NetstackSas {}

impl NetstackSas {
    fn install(&self, child: &ChildSaInfo) -> Result<(), ikeway_esp::EspError> {
        self.table.install(&datapath_child(child))?;
        if let Some(peer) = self.esp_peer {
            self.table.set_remote(child.spi_in, peer);
        }
        Ok(())
    }

    /// The SA table the ESP path reads.
    pub(crate) fn table(&self) -> &SaTable {
        &self.table
    }

    /// Applies a negotiation event: child SAs in and out of the table.
    pub(crate) fn on_event(&self, e: &Event) -> Result<Option<EventKind>, ApplyError> {
        match e {
            Event::ChildSaInstalled(c) => {
                self.install(c)
                    .map_err(|source| ApplyError::Install { spi_in: Spi32(c.spi_in), source })?;
                Ok(Some(EventKind::DatapathSaInstalled {
                    spi_in: Spi32(c.spi_in),
                    tun: "netstack".to_owned(),
                }))
            }
            Event::ChildSaRemoved { spi_in, .. } => {
                let found = self.table.remove(*spi_in);
                Ok(Some(EventKind::DatapathSaRemoved { spi_in: Spi32(*spi_in), found }))
            }
            _ => Ok(None),
        }
    }
}

impl EspLink {
    /// A link sending and receiving ESP on `socket` (made non-blocking). ESP goes to the
    /// address each child SA names, or to `esp_peer` when given (two ends in one process,
    /// each with its own ESP socket apart from its IKE socket).
    pub fn new(socket: UdpSocket, esp_peer: Option<SocketAddr>) -> Result<Self, NetstackError> {
        socket.set_nonblocking(true)?;
        // IKE travels on the session's own sockets; nothing comes up this channel.
        let (ike, _) = crossbeam_channel::unbounded();
        let sas = NetstackSas {
            table: SaTable::new(),
            esp_peer,
            id: NEXT_LINK.fetch_add(1, Ordering::Relaxed),
        };
        let datapath = Datapath::new(
            sas.table.clone(),
            Arc::new(Counters::default()),
            ike,
            socket.local_addr()?,
        );
        Ok(Self {
            datapath,
            socket,
            sas,
            queues: Queues::default(),
            buf: vec![0; HEADROOM + 65536 + TAILROOM],
        })
    }

    /// Installs a negotiated child SA (both directions; on a rekey the new SA goes in front of
    /// the old one, which stays for inbound until [`EspLink::remove`]).
    pub fn install(&self, child: &ChildSaInfo) -> Result<(), NetstackError> {
        Ok(self.sas.install(child)?)
    }

    /// The handle a [`crate::Session`] installs this link's child SAs through
    /// ([`crate::DatapathOptions::Netstack`]).
    pub fn sas(&self) -> NetstackSas {
        self.sas.clone()
    }

    /// Removes the child SA with inbound SPI `spi_in`; `false` if it was not installed.
    pub fn remove(&self, spi_in: u32) -> bool {
        self.datapath.table().remove(spi_in)
    }

    /// The SA table, e.g. for [`SaTable::poll_rekey`].
    pub fn table(&self) -> &SaTable {
        self.datapath.table()
    }

    /// The local address of the ESP socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Seals what the stack wrote and opens what arrived, a batch each way; returns the
    /// number of packets moved.
    pub(crate) fn pump(&mut self) -> usize {
        let Self { datapath, socket, queues, buf, .. } = self;
        let moved = device::pump(datapath, &mut Inner(queues), &mut Udp(socket), buf, BUDGET);
        moved.inbound + moved.outbound
    }

    /// Totals over every child SA installed now, plus the ESP path's own drops.
    pub fn traffic(&self) -> Traffic {
        let mut t = Traffic::default();
        for s in self.datapath.table().stats() {
            t.received_packets += s.inbound.packets;
            t.received_bytes += s.inbound.bytes;
            t.drops += s.inbound.total_drops();
            if let Some(o) = s.outbound {
                t.sent_packets += o.packets;
                t.sent_bytes += o.bytes;
            }
        }
        t.drops += ikeway_pump::Stats::sum([self.datapath.counters()]).total_drops();
        t
    }
}

/// The ESP path's view of the queues: it reads what the stack sent and delivers to the stack.
struct Inner<'a>(&'a mut Queues);

/// One packet taken from a queue, for either side (the ESP path or smoltcp).
pub(crate) struct Packet(Vec<u8>);
/// A packet to be written into the back of a queue, by either side.
pub(crate) struct PushBack<'a>(&'a mut VecDeque<Vec<u8>>);

impl PushBack<'_> {
    fn write<R>(self, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
        let mut packet = vec![0u8; len];
        let r = f(&mut packet);
        self.0.push_back(packet);
        r
    }
}

impl device::RxToken for Packet {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.0)
    }
}

impl device::TxToken for PushBack<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.write(len, f)
    }
}

impl phy::RxToken for Packet {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for PushBack<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.write(len, f)
    }
}

impl PumpDevice for Inner<'_> {
    type RxToken<'a>
        = Packet
    where
        Self: 'a;
    type TxToken<'a>
        = PushBack<'a>
    where
        Self: 'a;

    fn receive(&mut self) -> Option<Packet> {
        self.0.to_tunnel.pop_front().map(Packet)
    }

    fn transmit(&mut self) -> Option<PushBack<'_>> {
        Some(PushBack(&mut self.0.from_tunnel))
    }

    fn mtu(&self) -> usize {
        INNER_MTU
    }
}

/// The outer side: a non-blocking UDP socket.
struct Udp<'a>(&'a UdpSocket);

impl Transport for Udp<'_> {
    fn recv(&mut self, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        // WouldBlock is the usual "nothing now"; any other error (an ICMP unreachable
        // reported on the socket) also means nothing to deliver.
        self.0.recv_from(buf).ok()
    }

    fn send(&mut self, payload: &[u8], to: SocketAddr) -> bool {
        // UDP drops only when a buffer is full; TCP above recovers as on a wire.
        self.0.send_to(payload, to).is_ok()
    }
}

/// smoltcp's view of the queues.
impl phy::Device for Queues {
    type RxToken<'a> = Packet;
    type TxToken<'a> = PushBack<'a>;

    fn receive(&mut self, _now: SmolInstant) -> Option<(Packet, PushBack<'_>)> {
        let packet = self.from_tunnel.pop_front()?;
        Some((Packet(packet), PushBack(&mut self.to_tunnel)))
    }

    fn transmit(&mut self, _now: SmolInstant) -> Option<PushBack<'_>> {
        Some(PushBack(&mut self.to_tunnel))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = INNER_MTU;
        caps
    }
}
