//! Steering for a responder on several cores (`Session` with `workers > 1`): each worker binds
//! its own socket on each IKE port, all of them in one SO_REUSEPORT group, and a classic BPF
//! program attached to the group (SO_ATTACH_REUSEPORT_CBPF) returns, for each datagram, the
//! index of the socket that must take it. That index is the worker's: sockets join the group in
//! worker order, and the kernel numbers them in the order they joined.
//!
//! The program reads the SPI of ours from the IKE header (RFC 7296 §3.1): the responder SPI
//! when the I flag says the original initiator sent the message, else the initiator SPI (an SA
//! we started by rekeying), and returns its top byte, the worker index every SPI of ours
//! carries (`ikeway_sa::IKE_SPI_WORKER_SHIFT`). An IKE_SA_INIT request has no SPI of ours
//! (zero): the program returns an index no socket has, and the kernel falls back to its hash
//! of the addresses and ports, the same for every retransmission and cookie retry of that
//! initiator. On the NAT-T port (RFC 3948 §2.2) four zero bytes precede the IKE header; anything
//! else is ESP, steered by the top byte of its SPI (`ikeway_sa::ESP_SPI_WORKER_SHIFT`). A datagram
//! too short for a load ends the program with 0: the first worker drops it.
//!
//! The kernel runs the program with the UDP payload at offset 0 (`reuseport_select_sock` pulls
//! the UDP header first).

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::OwnedFd;

use libc::sock_filter;
use nix::sys::socket::{setsockopt, sockopt::AttachReusePortCbpf};
use rustix::net::{AddressFamily, SocketType, sockopt};

/// Classic BPF opcodes (linux/bpf_common.h): class | size | mode, or class | operation | source
/// (BPF_LD and BPF_W are 0).
mod op {
    pub(super) const LD_W_ABS: u16 = 0x20;
    pub(super) const LD_B_ABS: u16 = 0x10 | 0x20;
    pub(super) const JEQ_K: u16 = 0x05 | 0x10;
    pub(super) const JSET_K: u16 = 0x05 | 0x40;
    pub(super) const RSH_K: u16 = 0x04 | 0x70;
    pub(super) const RET_A: u16 = 0x06 | 0x10;
    pub(super) const RET_K: u16 = 0x06;
}

/// An index no group has as many sockets: the kernel then picks by its hash.
const BY_HASH: u32 = u32::MAX;

/// The I flag in the IKE header's flags byte (RFC 7296 §3.1).
const FLAG_INITIATOR: u32 = 0x08;

const fn ins(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The IKE header at `base`: the top byte of our SPI, or [`BY_HASH`] when it is zero.
fn ike_section(base: u32) -> [sock_filter; 13] {
    [
        /* 0 */ ins(op::LD_B_ABS, 0, 0, base + 19), // flags
        /* 1 */ ins(op::JSET_K, 0, 8, FLAG_INITIATOR), // I clear: ours is SPIi (-> 10)
        /* 2 */ ins(op::LD_W_ABS, 0, 0, base + 8), // SPIr, high word
        /* 3 */ ins(op::JEQ_K, 2, 0, 0), // zero: look at the low word (-> 6)
        /* 4 */ ins(op::RSH_K, 0, 0, 24),
        /* 5 */ ins(op::RET_A, 0, 0, 0),
        /* 6 */ ins(op::LD_W_ABS, 0, 0, base + 12), // SPIr, low word
        /* 7 */ ins(op::JEQ_K, 1, 0, 0), // zero too: no SPI of ours yet (-> 9)
        /* 8 */ ins(op::RET_K, 0, 0, 0), // top byte zero: worker 0
        /* 9 */ ins(op::RET_K, 0, 0, BY_HASH),
        /* 10 */ ins(op::LD_W_ABS, 0, 0, base), // SPIi, high word
        /* 11 */ ins(op::RSH_K, 0, 0, 24),
        /* 12 */ ins(op::RET_A, 0, 0, 0),
    ]
}

/// The program for the IKE port (`natt` false) or the NAT-T port.
pub(crate) fn program(natt: bool) -> Vec<sock_filter> {
    if !natt {
        return ike_section(0).to_vec();
    }
    let mut p = vec![
        /* 0 */ ins(op::LD_W_ABS, 0, 0, 0), // the non-ESP marker, or an ESP SPI
        /* 1 */ ins(op::JEQ_K, 2, 0, 0), // the marker: IKE after it (-> 4)
        /* 2 */ ins(op::RSH_K, 0, 0, 24),
        /* 3 */ ins(op::RET_A, 0, 0, 0),
    ];
    p.extend(ike_section(4));
    p
}

/// A UDP socket on `addr` in the SO_REUSEPORT group of that address.
fn reuseport_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let family = if addr.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
    let fd: OwnedFd = rustix::net::socket(family, SocketType::DGRAM, None)?;
    sockopt::set_socket_reuseport(&fd, true)?;
    rustix::net::bind(&fd, &addr)?;
    Ok(UdpSocket::from(fd))
}

fn attach(socket: &UdpSocket, natt: bool) -> io::Result<()> {
    let mut filter = program(natt);
    let len = u16::try_from(filter.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    // The kernel copies the program during the call; `filter` outlives it.
    let prog = libc::sock_fprog { len, filter: filter.as_mut_ptr() };
    setsockopt(socket, AttachReusePortCbpf, &prog).map_err(io::Error::from)
}

/// `workers` sockets on `ip`:`port` (0: one ephemeral port for all), the group steered by
/// [`program`]; socket `i` is worker `i`'s. Nobody else may already hold the port.
pub(crate) fn bind_group(
    ip: IpAddr,
    port: u16,
    natt: bool,
    workers: usize,
) -> io::Result<Vec<UdpSocket>> {
    let first = reuseport_socket(SocketAddr::new(ip, port))?;
    let addr = first.local_addr()?;
    // Before the others join, so that no datagram is spread by hash alone in between.
    attach(&first, natt)?;
    let mut group = vec![first];
    for _ in 1..workers {
        group.push(reuseport_socket(addr)?);
    }
    Ok(group)
}

#[cfg(test)]
mod tests;
