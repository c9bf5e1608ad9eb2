//! The fallback worker: `poll(2)` on the TUN queue and the UDP socket, then the generic
//! [`crate::device::pump`] over them. One system call per packet; used where io_uring is
//! unavailable, disabled, or turned off.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::datapath::{Datapath, HEADROOM, TAILROOM};
use crate::device::{Device, RxToken, Transport, TxToken, pump};
use crate::offload::VNET_HDR_LEN;
use crate::sys::poll_readable;

/// A non-blocking TUN queue as a [`Device`].
#[derive(Debug)]
pub struct TunDevice {
    file: File,
    mtu: usize,
    rx: Vec<u8>,
    tx: Vec<u8>,
    /// Bytes of `virtio_net_hdr` before every packet (0, or 10 with `IFF_VNET_HDR` and no
    /// offloads on).
    vnet: usize,
}

impl TunDevice {
    pub fn new(file: File, mtu: usize) -> Self {
        Self { file, mtu, rx: vec![0; mtu + 64], tx: vec![0; mtu + 64], vnet: 0 }
    }

    /// A queue opened with `IFF_VNET_HDR` whose offloads are off: the header is stripped on
    /// receive and a zero one added on transmit.
    pub(crate) fn with_vnet_hdr(file: File, mtu: usize) -> Self {
        let v = VNET_HDR_LEN;
        Self { file, mtu, rx: vec![0; mtu + 64 + v], tx: vec![0; mtu + 64 + v], vnet: v }
    }
}

#[derive(Debug)]
pub struct TunRx<'a>(&'a mut [u8]);

impl RxToken for TunRx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

#[derive(Debug)]
pub struct TunTx<'a> {
    file: &'a mut File,
    buf: &'a mut [u8],
    vnet: usize,
}

impl TxToken for TunTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let v = self.vnet;
        let len = len.min(self.buf.len() - v);
        self.buf[..v].fill(0);
        let r = f(&mut self.buf[v..v + len]);
        // A full device queue drops the packet, as a NIC would.
        let _ = self.file.write(&self.buf[..v + len]);
        r
    }
}

impl Device for TunDevice {
    type RxToken<'a> = TunRx<'a>;
    type TxToken<'a> = TunTx<'a>;

    fn receive(&mut self) -> Option<TunRx<'_>> {
        match self.file.read(&mut self.rx) {
            Ok(n) if n > self.vnet => Some(TunRx(&mut self.rx[self.vnet..n])),
            _ => None,
        }
    }

    fn transmit(&mut self) -> Option<TunTx<'_>> {
        Some(TunTx { file: &mut self.file, buf: &mut self.tx, vnet: self.vnet })
    }

    fn mtu(&self) -> usize {
        self.mtu
    }
}

/// A non-blocking UDP socket as a [`Transport`].
#[derive(Debug)]
pub struct UdpTransport(pub UdpSocket);

impl Transport for UdpTransport {
    fn recv(&mut self, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        self.0.recv_from(buf).ok()
    }

    fn send(&mut self, payload: &[u8], to: SocketAddr) -> bool {
        self.0.send_to(payload, to).is_ok()
    }
}

/// Runs the poll loop until `stop`.
pub(crate) fn run(
    dp: &Datapath,
    tun: File,
    udp: UdpSocket,
    mtu: usize,
    vnet_hdr: bool,
    stop: &AtomicBool,
) -> io::Result<()> {
    udp.set_nonblocking(true)?;
    let fds = [tun.as_raw_fd(), udp.as_raw_fd()];
    let mut dev =
        if vnet_hdr { TunDevice::with_vnet_hdr(tun, mtu) } else { TunDevice::new(tun, mtu) };
    let mut net = UdpTransport(udp);
    let mut buf = vec![0u8; HEADROOM + mtu + TAILROOM + 64];
    while !stop.load(Ordering::Relaxed) {
        let moved = pump(dp, &mut dev, &mut net, &mut buf, 64);
        if moved.inbound == 0 && moved.outbound == 0 {
            poll_readable(fds, 100)?;
        }
    }
    Ok(())
}
