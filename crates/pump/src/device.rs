//! Devices the datapath moves packets through, in the style of smoltcp's `phy` module: a
//! device hands out tokens, and a token lends a buffer for exactly one packet. The ESP path
//! ([`pump`]) is generic over an inner [`Device`] (IP packets: a TUN device, a queue in
//! tests, a userspace TCP/IP stack) and an outer [`Transport`] (UDP datagrams with addresses),
//! so it runs without io_uring, without root and without the kernel in tests, and the poll
//! fallback runs it over real file descriptors.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use crate::datapath::{Datapath, HEADROOM, Opened, TAILROOM};
use crate::table::lock;

/// A received packet, lent for the duration of [`RxToken::consume`].
pub trait RxToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R;
}

/// Room for one packet to send: [`TxToken::consume`] gets a buffer of `len` bytes to fill.
pub trait TxToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R;
}

/// An IP-packet device (the inner side of the tunnel).
pub trait Device {
    type RxToken<'a>: RxToken
    where
        Self: 'a;
    type TxToken<'a>: TxToken
    where
        Self: 'a;
    /// The next received packet, if any (never blocks).
    fn receive(&mut self) -> Option<Self::RxToken<'_>>;
    /// Room for a packet to send, if the device can take one now.
    fn transmit(&mut self) -> Option<Self::TxToken<'_>>;
    /// The largest inner packet.
    fn mtu(&self) -> usize;
}

/// A datagram socket (the outer side: UDP 4500).
pub trait Transport {
    /// Receives one datagram into `buf` (never blocks).
    fn recv(&mut self, buf: &mut [u8]) -> Option<(usize, SocketAddr)>;
    /// Sends one datagram; `false` if it was not sent.
    fn send(&mut self, payload: &[u8], to: SocketAddr) -> bool;
}

/// What one [`pump`] call moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    pub outbound: usize,
    pub inbound: usize,
}

/// Moves up to `budget` packets each way: device -> seal -> transport, and
/// transport -> open -> device. `buf` is the worker's scratch buffer, at least
/// `HEADROOM + mtu + TAILROOM` bytes.
pub fn pump<D: Device, T: Transport>(
    dp: &Datapath,
    dev: &mut D,
    net: &mut T,
    buf: &mut [u8],
    budget: usize,
) -> Moved {
    let mut moved = Moved::default();
    let room = buf.len().saturating_sub(HEADROOM + TAILROOM);
    while moved.outbound < budget {
        let Some(rx) = dev.receive() else { break };
        moved.outbound += 1;
        let len = rx.consume(|p| {
            let n = p.len().min(room);
            buf[HEADROOM..HEADROOM + n].copy_from_slice(&p[..n]);
            n
        });
        if let Ok((start, esp_len, to)) = dp.seal(buf, len)
            && !net.send(&buf[start..start + esp_len], to)
        {
            dp.counters().drop(crate::Drop::Io);
        }
    }
    while moved.inbound < budget {
        let Some((n, from)) = net.recv(buf) else { break };
        moved.inbound += 1;
        if let Opened::Inner { start, len } = dp.open(buf, n, from) {
            match dev.transmit() {
                Some(tx) => tx.consume(len, |out| out.copy_from_slice(&buf[start..start + len])),
                None => dp.counters().drop(crate::Drop::Io),
            }
        }
    }
    moved
}

/// An in-memory device: the test puts packets into `rx` ("from the host") and finds what
/// the tunnel delivered in `tx`.
#[derive(Debug, Default)]
pub struct QueueDevice {
    pub rx: VecDeque<Vec<u8>>,
    pub tx: Vec<Vec<u8>>,
    pub mtu: usize,
}

impl QueueDevice {
    pub fn new(mtu: usize) -> Self {
        Self { mtu, ..Self::default() }
    }
}

#[derive(Debug)]
pub struct QueueRx(Vec<u8>);

impl RxToken for QueueRx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.0)
    }
}

#[derive(Debug)]
pub struct QueueTx<'a>(&'a mut Vec<Vec<u8>>);

impl TxToken for QueueTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut packet = vec![0; len];
        let r = f(&mut packet);
        self.0.push(packet);
        r
    }
}

impl Device for QueueDevice {
    type RxToken<'a> = QueueRx;
    type TxToken<'a> = QueueTx<'a>;

    fn receive(&mut self) -> Option<QueueRx> {
        self.rx.pop_front().map(QueueRx)
    }

    fn transmit(&mut self) -> Option<QueueTx<'_>> {
        Some(QueueTx(&mut self.tx))
    }

    fn mtu(&self) -> usize {
        self.mtu
    }
}

type Wire = Arc<Mutex<VecDeque<(Vec<u8>, SocketAddr)>>>;

/// Faults a [`MemoryLink`] applies to the datagrams it sends, deterministically by count.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Drop every n-th datagram.
    pub drop_every: Option<usize>,
    /// Flip a bit in every n-th datagram.
    pub corrupt_every: Option<usize>,
    /// Send every n-th datagram twice.
    pub duplicate_every: Option<usize>,
    /// Swap every n-th datagram with the one after it.
    pub reorder_every: Option<usize>,
}

/// One end of an in-memory UDP link; [`MemoryLink::pair`] makes two connected ends.
#[derive(Debug)]
pub struct MemoryLink {
    local: SocketAddr,
    inbox: Wire,
    peer_inbox: Wire,
    faults: Faults,
    sent: usize,
    held: Option<(Vec<u8>, SocketAddr)>,
}

impl MemoryLink {
    pub fn pair(a: SocketAddr, b: SocketAddr) -> (Self, Self) {
        let wa = Wire::default();
        let wb = Wire::default();
        let end = |local, inbox, peer_inbox| Self {
            local,
            inbox,
            peer_inbox,
            faults: Faults::default(),
            sent: 0,
            held: None,
        };
        (end(a, Arc::clone(&wa), Arc::clone(&wb)), end(b, wb, wa))
    }

    /// Faults applied to what this end sends.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Puts a raw datagram on the wire towards the peer, bypassing faults (an attacker).
    pub fn inject(&self, payload: &[u8]) {
        lock(&self.peer_inbox).push_back((payload.to_vec(), self.local));
    }

    /// Datagrams waiting at this end.
    pub fn pending(&self) -> usize {
        lock(&self.inbox).len()
    }
}

fn every(n: Option<usize>, count: usize) -> bool {
    n.is_some_and(|n| n > 0 && count.is_multiple_of(n))
}

impl Transport for MemoryLink {
    fn recv(&mut self, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        let (d, from) = lock(&self.inbox).pop_front()?;
        let n = d.len().min(buf.len());
        buf[..n].copy_from_slice(&d[..n]);
        Some((n, from))
    }

    fn send(&mut self, payload: &[u8], _to: SocketAddr) -> bool {
        self.sent += 1;
        let n = self.sent;
        if every(self.faults.drop_every, n) {
            return true;
        }
        let mut d = payload.to_vec();
        if every(self.faults.corrupt_every, n) {
            let i = d.len() / 2;
            d[i] ^= 0x10;
        }
        let mut wire = lock(&self.peer_inbox);
        if every(self.faults.reorder_every, n) && self.held.is_none() {
            self.held = Some((d, self.local));
            return true;
        }
        if every(self.faults.duplicate_every, n) {
            wire.push_back((d.clone(), self.local));
        }
        wire.push_back((d, self.local));
        if let Some(h) = self.held.take() {
            wire.push_back(h);
        }
        true
    }
}
