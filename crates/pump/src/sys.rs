//! The system calls the safe wrappers in the standard library do not offer: TUN setup,
//! UDP sockets with `SO_REUSEPORT` set before `bind`, `poll(2)`. Every `unsafe` block says why
//! it is sound.

use std::fs::File;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A socket address in the kernel's layout (`sockaddr_in` or `sockaddr_in6`), built and read
/// byte by byte so that no pointer casts are needed outside the system calls.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(8))]
pub(crate) struct RawAddr {
    pub(crate) bytes: [u8; 28],
}

impl RawAddr {
    pub(crate) const SIZE: u32 = 28;

    pub(crate) fn new(addr: SocketAddr) -> (Self, u32) {
        let mut bytes = [0u8; 28];
        match addr {
            SocketAddr::V4(a) => {
                bytes[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
                bytes[2..4].copy_from_slice(&a.port().to_be_bytes());
                bytes[4..8].copy_from_slice(&a.ip().octets());
                (Self { bytes }, 16)
            }
            SocketAddr::V6(a) => {
                bytes[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
                bytes[2..4].copy_from_slice(&a.port().to_be_bytes());
                bytes[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
                bytes[8..24].copy_from_slice(&a.ip().octets());
                bytes[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
                (Self { bytes }, 28)
            }
        }
    }

    /// Reads a `sockaddr_in`/`sockaddr_in6` the kernel wrote.
    pub(crate) fn parse(b: &[u8]) -> Option<SocketAddr> {
        let family = i32::from(u16::from_ne_bytes([*b.first()?, *b.get(1)?]));
        let port = u16::from_be_bytes([*b.get(2)?, *b.get(3)?]);
        if family == libc::AF_INET && b.len() >= 8 {
            Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7])), port))
        } else if family == libc::AF_INET6 && b.len() >= 24 {
            let octets: [u8; 16] = b[8..24].try_into().ok()?;
            Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(octets)), port))
        } else {
            None
        }
    }
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) }
}

fn set_int_opt(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is a live c_int for the duration of the call and its size is passed.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// A non-blocking UDP socket bound to `addr`, with `SO_REUSEPORT` (so that each worker has
/// its own socket on the same port and the kernel spreads peers over them) and large buffers.
pub(crate) fn udp_socket(
    addr: SocketAddr,
    reuse_port: bool,
    buffer: usize,
) -> io::Result<UdpSocket> {
    let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: plain system call with constant arguments; the result is checked.
    let fd = cvt(unsafe {
        libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0)
    })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if reuse_port {
        set_int_opt(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    }
    if addr.is_ipv6() {
        set_int_opt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    }
    let size = libc::c_int::try_from(buffer).unwrap_or(libc::c_int::MAX);
    // The FORCE variants pass the sysctl limits when we have CAP_NET_ADMIN.
    if set_int_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, size).is_err() {
        set_int_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, size)?;
    }
    if set_int_opt(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, size).is_err() {
        set_int_opt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, size)?;
    }
    let (raw, len) = RawAddr::new(addr);
    // SAFETY: `raw` is a sockaddr_in/sockaddr_in6 in the kernel's layout, `len` its size, both
    // alive for the call.
    cvt(unsafe { libc::bind(fd, (&raw const raw).cast(), len) })?;
    Ok(UdpSocket::from(owned))
}

/// Opens one queue of the TUN device `name` (created if missing), `IFF_TUN | IFF_NO_PI`, with
/// `IFF_MULTI_QUEUE` when asked and `IFF_VNET_HDR` (a `virtio_net_hdr` before every packet,
/// needed for offloads) when `vnet_hdr`. Returns the file and the name the kernel chose.
/// `nonblocking` sets `O_NONBLOCK`.
pub(crate) fn open_tun(
    name: &str,
    multi_queue: bool,
    nonblocking: bool,
    vnet_hdr: bool,
) -> io::Result<(File, String)> {
    if name.len() >= libc::IFNAMSIZ {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "interface name too long"));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags_nonblock(nonblocking)
        .open("/dev/net/tun")?;
    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(name.as_bytes()) {
        *dst = src as libc::c_char;
    }
    let mut flags = libc::IFF_TUN | libc::IFF_NO_PI;
    if multi_queue {
        flags |= libc::IFF_MULTI_QUEUE;
    }
    if vnet_hdr {
        flags |= libc::IFF_VNET_HDR;
    }
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes one `ifreq`, which lives across the call; the fd is
    // the open /dev/net/tun.
    cvt(unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &raw mut req) })?;
    let chosen: Vec<u8> = req.ifr_name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    Ok((file, String::from_utf8_lossy(&chosen).into_owned()))
}

/// `TUNSETOFFLOAD` flags: checksum offload and TSO for IPv4 and IPv6.
pub(crate) const TUN_OFFLOAD_TSO: libc::c_uint =
    libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6;

/// Sets the offloads the TUN device accepts (`TUNSETOFFLOAD`; 0 turns them all off).
pub(crate) fn set_tun_offload(fd: RawFd, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: TUNSETOFFLOAD takes its argument by value; no memory is passed.
    cvt(unsafe { libc::ioctl(fd, libc::TUNSETOFFLOAD, libc::c_ulong::from(flags)) }).map(drop)
}

/// Turns on UDP GRO (`UDP_GRO`): the kernel may hand over several datagrams of one flow in one
/// receive, with their size in a `UDP_GRO` control message.
pub(crate) fn set_udp_gro(fd: RawFd) -> io::Result<()> {
    set_int_opt(fd, libc::SOL_UDP, libc::UDP_GRO, 1)
}

/// Control message buffer for one `UDP_SEGMENT` (u16) value, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct SegmentCmsg([u8; 32]);

/// Sends `payload` to `to` as one datagram, or with `segment = Some(n)` as datagrams of `n`
/// bytes each (the last may be shorter) in one system call (UDP GSO, `UDP_SEGMENT`). Waits
/// up to 10 ms for room in a full socket buffer before giving up.
pub(crate) fn send_segments(
    fd: RawFd,
    payload: &[u8],
    segment: Option<u16>,
    to: SocketAddr,
) -> io::Result<usize> {
    let (mut addr, addr_len) = RawAddr::new(to);
    let mut iov =
        libc::iovec { iov_base: payload.as_ptr().cast_mut().cast(), iov_len: payload.len() };
    let mut control = SegmentCmsg([0; 32]);
    // SAFETY: msghdr is plain old data; all-zero is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&raw mut addr).cast();
    msg.msg_namelen = addr_len;
    msg.msg_iov = &raw mut iov;
    msg.msg_iovlen = 1;
    if let Some(n) = segment {
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe { libc::CMSG_SPACE(size_of::<u16>() as u32) } as usize;
        assert!(space <= control.0.len());
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: `msg` points at `control`, which is aligned for cmsghdr and holds `space`
        // bytes: CMSG_FIRSTHDR returns its start, and CMSG_DATA a pointer with room for the u16
        // (CMSG_SPACE above); the unaligned write does not assume alignment of the data.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&raw const msg);
            (*c).cmsg_level = libc::SOL_UDP;
            (*c).cmsg_type = libc::UDP_SEGMENT;
            (*c).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<u16>(), n);
        }
    }
    for attempt in 0..2 {
        // SAFETY: `msg` and everything it points at (address, iovec over `payload`, control)
        // live across the call; sendmsg only reads them.
        let r = unsafe { libc::sendmsg(fd, &raw const msg, 0) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::WouldBlock || attempt == 1 {
            return Err(e);
        }
        let mut p = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
        // SAFETY: one initialised pollfd that outlives the call.
        unsafe { libc::poll(&raw mut p, 1, 10) };
    }
    Err(io::ErrorKind::WouldBlock.into())
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self, nonblocking: bool) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self, nonblocking: bool) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        let nb = if nonblocking { libc::O_NONBLOCK } else { 0 };
        self.custom_flags(nb | libc::O_CLOEXEC)
    }
}

/// Waits until one of `fds` is readable (or `timeout_ms` passes); returns which are.
pub(crate) fn poll_readable<const N: usize>(
    fds: [RawFd; N],
    timeout_ms: i32,
) -> io::Result<[bool; N]> {
    let mut pfds = fds.map(|fd| libc::pollfd { fd, events: libc::POLLIN, revents: 0 });
    // SAFETY: `pfds` is an array of N initialised pollfd structs that outlives the call.
    let r = unsafe { libc::poll(pfds.as_mut_ptr(), N as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok([false; N]);
        }
        return Err(e);
    }
    Ok(pfds.map(|p| p.revents != 0))
}

/// `/proc/sys/kernel/io_uring_disabled`: 0 enabled, 1 only for a group, 2 disabled.
pub(crate) fn io_uring_disabled() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_addr_round_trips() {
        for a in ["10.1.2.3:4500", "[fd00::7]:500"] {
            let a: SocketAddr = a.parse().unwrap();
            let (raw, len) = RawAddr::new(a);
            assert_eq!(RawAddr::parse(&raw.bytes[..len as usize]), Some(a));
        }
        assert_eq!(RawAddr::parse(&[0; 4]), None);
    }

    #[test]
    fn udp_socket_binds_twice_with_reuse_port() {
        let a = udp_socket("127.0.0.1:0".parse().unwrap(), true, 1 << 20).unwrap();
        let addr = a.local_addr().unwrap();
        let b = udp_socket(addr, true, 1 << 20).unwrap();
        assert_eq!(b.local_addr().unwrap(), addr);
    }
}
