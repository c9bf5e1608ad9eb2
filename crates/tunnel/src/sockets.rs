//! IKE's UDP sockets of one address, read by the session loop itself: it takes what is queued
//! on them without blocking ([`Sockets::receive`]) and sleeps in `poll(2)` on them and its
//! [`Doorbell`] ([`Sockets::wait`]). No reader thread stands between a datagram and the
//! engine, so a busy loop takes a burst with no wake-up at all (the kernel's receive queue is
//! the loop's queue, bounded and counting its drops). With a datapath, the NAT-T port is the
//! pump's: its IKE datagrams come through the pump's channel, queued (`queue.rs`) and rung.
//! Sends go out on the socket of the datagram's local port, or through the pump.

use std::cell::Cell;
use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::Instant;

use ikeway_pump::Pump;
use ikeway_sa::Transmit;
use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use smallvec::SmallVec;

use crate::SessionError;
use crate::doorbell::Doorbell;
use crate::event::EventKind;
use crate::faults::{Fault, Faults};
use crate::queue::{self, Consumer};

/// Kernel memory asked per datagram of the receive queue (`SO_RCVBUF` = depth times this; the
/// kernel caps it at `net.core.rmem_max`): a small UDP datagram's buffer takes about this.
const RCVBUF_PER_DATAGRAM: usize = 2048;

/// One bound socket and what the loop knows of it.
#[derive(Debug)]
struct Bound {
    socket: UdpSocket,
    local: SocketAddr,
    /// The kernel's count of datagrams this socket's full queue dropped, as the last datagram
    /// read reported it (`SO_RXQ_OVFL`).
    dropped: u32,
    /// Worth a read: `poll` said so, and no read since found the queue empty. A socket whose
    /// queue ran dry is not read again until `poll` says so, so an empty look costs one
    /// `poll` for all sockets rather than a failed read on each. (A `Cell`: `wait` sets it
    /// while its poll descriptors still borrow the socket.)
    ready: Cell<bool>,
}

/// A datagram [`Sockets::receive`] put in the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) len: usize,
}

/// UDP sockets on IKE's ports of one address. With a datapath (`pump`), the NAT-T port is the
/// pump's: its IKE datagrams arrive through the pump's channel and go out through the pump.
#[derive(Debug)]
pub(crate) struct Sockets {
    sockets: Vec<Bound>,
    /// The socket the next receive looks at first: each gets its turn under a flood.
    next: usize,
    /// Control-message space for `SO_RXQ_OVFL`, kept from one receive to the next.
    control: Vec<u8>,
    bell: Arc<Doorbell>,
    /// The pump's IKE datagrams, queued by a forwarding thread that rings `bell`.
    from_pump: Option<Consumer>,
    pump: Option<Arc<Pump>>,
    /// The port the pump owns.
    pump_port: u16,
    faults: Faults,
}

/// A socket send that failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("no socket bound to port {0}")]
    NoSocket(u16),
    #[error("sending to {remote}: {source}")]
    Io { remote: SocketAddr, source: std::io::Error },
}

impl Sockets {
    /// Binds `ports` on `ip` (0: an ephemeral port), except the one `pump` already owns. On
    /// an error, what was bound is let go again before this returns.
    pub(crate) fn bind(
        ip: IpAddr,
        ports: &[u16],
        pump: Option<Arc<Pump>>,
        depth: usize,
    ) -> Result<Self, SessionError> {
        let pump_port = match &pump {
            Some(p) => p.local_addr().map_err(SessionError::Spawn)?.port(),
            None => 0,
        };
        let mut sockets = Vec::new();
        for &port in ports {
            if pump.is_some() && port == pump_port {
                continue;
            }
            let addr = SocketAddr::new(ip, port);
            sockets
                .push(UdpSocket::bind(addr).map_err(|source| SessionError::Bind { addr, source })?);
        }
        Self::start(sockets, pump, depth)
    }

    /// Takes `sockets` (already bound: one worker's of a steered group, `crate::steering`),
    /// each with a receive queue of about `depth` datagrams, and with `pump`, the IKE
    /// datagrams of the port it owns (at most `depth` waiting).
    pub(crate) fn start(
        sockets: Vec<UdpSocket>,
        pump: Option<Arc<Pump>>,
        depth: usize,
    ) -> Result<Self, SessionError> {
        let bell = Doorbell::new().map_err(SessionError::Spawn)?;
        let pump_port = match &pump {
            Some(p) => p.local_addr().map_err(SessionError::Spawn)?.port(),
            None => 0,
        };
        let from_pump = match &pump {
            Some(pump) => Some(forward_pump(pump, depth, Arc::clone(&bell))?),
            None => None,
        };
        let mut bound = Vec::with_capacity(sockets.len());
        for socket in sockets {
            let local = socket.local_addr().map_err(SessionError::Spawn)?;
            let spawn = |e: Errno| SessionError::Spawn(e.into());
            setsockopt(&socket, sockopt::RxqOvfl, &1).map_err(spawn)?;
            let rcvbuf = depth.saturating_mul(RCVBUF_PER_DATAGRAM).min(i32::MAX as usize);
            setsockopt(&socket, sockopt::RcvBuf, &rcvbuf).map_err(spawn)?;
            bound.push(Bound { socket, local, dropped: 0, ready: Cell::new(true) });
        }
        Ok(Self {
            sockets: bound,
            next: 0,
            control: nix::cmsg_space!(u32),
            bell,
            from_pump,
            pump,
            pump_port,
            faults: Faults::default(),
        })
    }

    /// The addresses of the sockets bound here, in the order of the ports given to `bind`
    /// (the pump's is not among them).
    pub(crate) fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().map(|b| b.local).collect()
    }

    /// What the loop's other sources ring to wake it.
    pub(crate) fn bell(&self) -> &Arc<Doorbell> {
        &self.bell
    }

    /// One datagram already waiting, into `buf` (which must take 64 KiB, the largest UDP
    /// payload), without blocking: the ready sockets in turn, then the pump's queue.
    pub(crate) fn receive(&mut self, buf: &mut [u8]) -> Option<Received> {
        let n = self.sockets.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            let bound = &mut self.sockets[i];
            if !bound.ready.get() {
                continue;
            }
            match receive_one(bound, &mut self.control, buf) {
                Some(r) => {
                    self.next = (i + 1) % n;
                    return Some(r);
                }
                None => bound.ready.set(false),
            }
        }
        let d = self.from_pump.as_ref()?.try_recv()?;
        let len = d.bytes().len().min(buf.len());
        buf[..len].copy_from_slice(&d.bytes()[..len]);
        Some(Received { local: d.local, remote: d.remote, len })
    }

    /// Sleeps until a socket has a datagram, the bell rings, or `deadline` (none: no limit),
    /// and notes which sockets have something to read; a ring is answered here, before the
    /// loop looks at what rang (whatever rings after that wakes the next sleep). A signal ends
    /// it early; the loop just looks again.
    pub(crate) fn wait(&self, deadline: Option<Instant>) {
        // On the stack for the usual ports 500 and 4500 and the bell: a busy responder sleeps
        // after every burst of datagrams, and a heap list was an allocation per sleep.
        let mut fds: SmallVec<[PollFd<'_>; 4]> = self
            .sockets
            .iter()
            .map(|b| PollFd::new(&b.socket, PollFlags::IN))
            .chain([PollFd::from_borrowed_fd(self.bell.fd(), PollFlags::IN)])
            .collect();
        let timeout = deadline.map(|d| {
            let left = d.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(left.subsec_nanos()),
            }
        });
        let polled = poll(&mut fds, timeout.as_ref()).is_ok();
        for (bound, fd) in self.sockets.iter().zip(&fds) {
            // Interrupted: look at every socket again rather than trust stale flags.
            if !polled || !fd.revents().is_empty() {
                bound.ready.set(true);
            }
        }
        if polled && fds.last().is_some_and(|f| !f.revents().is_empty()) {
            self.bell.answer();
        }
    }

    /// Datagrams dropped because the loop fell behind: its sockets' full receive queues (as
    /// the kernel counted them up to the last datagram read) and the pump's.
    pub(crate) fn dropped_queue_full(&self) -> u64 {
        let sockets: u64 = self.sockets.iter().map(|b| u64::from(b.dropped)).sum();
        sockets + self.from_pump.as_ref().map_or(0, Consumer::dropped)
    }

    /// What went wrong so far without ending the loop.
    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Sends one datagram. A failure concerns one peer (an unreachable or invalid address),
    /// so it is counted, never returned: one client must not end the service for all. Returns
    /// the fault event to report, if this one is reported.
    pub(crate) fn send_or_count(&self, t: Transmit, bytes: &[u8]) -> Option<EventKind> {
        let e = self.send(t, bytes).err()?;
        self.faults.record(Fault::Send, &e)
    }

    fn send(&self, t: Transmit, bytes: &[u8]) -> Result<(), SendError> {
        let io = |source| SendError::Io { remote: t.remote, source };
        if let Some(pump) = self.pump.as_ref().filter(|_| t.local.port() == self.pump_port) {
            return pump.send_ike(t.remote, bytes).map_err(io);
        }
        let bound = self
            .sockets
            .iter()
            .find(|b| b.local.port() == t.local.port())
            .ok_or(SendError::NoSocket(t.local.port()))?;
        bound.socket.send_to(bytes, t.remote).map(drop).map_err(io)
    }
}

/// One datagram from `bound` if one is waiting. Errors other than an empty queue (an ICMP
/// error queued on the socket, say) skip the socket this turn: the next datagram is read.
fn receive_one(bound: &mut Bound, control: &mut [u8], buf: &mut [u8]) -> Option<Received> {
    let fd = bound.socket.as_fd().as_raw_fd();
    let mut iov = [IoSliceMut::new(buf)];
    loop {
        match recvmsg::<SockaddrStorage>(fd, &mut iov, Some(control), MsgFlags::MSG_DONTWAIT) {
            Ok(msg) => {
                if let Ok(cmsgs) = msg.cmsgs() {
                    for c in cmsgs {
                        if let ControlMessageOwned::RxqOvfl(dropped) = c {
                            bound.dropped = dropped;
                        }
                    }
                }
                let remote = msg.address.as_ref().and_then(socket_addr)?;
                return Some(Received { local: bound.local, remote, len: msg.bytes });
            }
            Err(Errno::EINTR) => {}
            Err(_) => return None,
        }
    }
}

fn socket_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    a.as_sockaddr_in6().map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

/// The pump's IKE datagrams into a queue of `depth` that rings `bell`; the thread ends when
/// the pump stops (its channel closes) or the queue's reader is gone.
fn forward_pump(pump: &Pump, depth: usize, bell: Arc<Doorbell>) -> Result<Consumer, SessionError> {
    let (tx, rx) = queue::queue(depth);
    let up = pump.ike().clone();
    std::thread::Builder::new()
        .name("pump-ike".into())
        .spawn(move || {
            for d in up {
                match tx.push(d.local, d.remote, d.bytes) {
                    Ok(true) => bell.ring(),
                    Ok(false) => {}
                    Err(queue::Closed) => break,
                }
            }
        })
        .map_err(SessionError::Spawn)?;
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Dropping the sockets lets go of the ports at once: the same address binds again right
    /// after, with no reader still holding it.
    #[test]
    fn dropped_sockets_free_their_ports_at_once() {
        let loopback: IpAddr = "127.0.0.1".parse().expect("literal");
        for _ in 0..3 {
            let sockets = Sockets::bind(loopback, &[0, 0], None, 4).expect("bind");
            let bound = sockets.local_addrs();
            drop(sockets);
            for addr in bound {
                UdpSocket::bind(addr).expect("the port is free again");
            }
        }
    }

    /// A bind that fails half way lets go of what it bound before.
    #[test]
    fn a_failed_bind_lets_go_of_the_ports_it_took() {
        let loopback: IpAddr = "127.0.0.1".parse().expect("literal");
        let taken = UdpSocket::bind((loopback, 0)).expect("bind");
        let busy = taken.local_addr().expect("bound").port();
        let free = UdpSocket::bind((loopback, 0)).expect("bind");
        let first = free.local_addr().expect("bound");
        drop(free);
        let err = Sockets::bind(loopback, &[first.port(), busy], None, 4).expect_err("busy port");
        assert!(matches!(err, SessionError::Bind { addr, .. } if addr.port() == busy), "{err}");
        UdpSocket::bind(first).expect("the first port was let go");
    }

    /// Issue 9 finding 10: a flood while the engine is busy was queued without bound. Now
    /// the socket's own receive queue (about `depth` datagrams) holds what the loop has not
    /// read; the kernel drops the rest and the count reaches the loop with the next datagram.
    #[test]
    fn a_full_receive_queue_drops_and_the_drops_are_counted() {
        let loopback: IpAddr = "127.0.0.1".parse().expect("literal");
        let mut sockets = Sockets::bind(loopback, &[0], None, 1).expect("bind");
        let local = sockets.local_addrs()[0];
        let peer = UdpSocket::bind((loopback, 0)).expect("bind the peer");
        let sent = 200u32;
        for n in 0..sent {
            peer.send_to(&n.to_be_bytes(), local).expect("loopback send");
        }
        let mut buf = vec![0u8; 65536];
        let mut received = Vec::new();
        while let Some(r) = sockets.receive(&mut buf) {
            assert_eq!(
                (r.local, r.remote.port(), r.len),
                (local, peer.local_addr().unwrap().port(), 4)
            );
            received.push(u32::from_be_bytes(buf[..4].try_into().expect("4 bytes")));
        }
        assert!(!received.is_empty() && received.len() < sent as usize, "{}", received.len());
        assert!(received.windows(2).all(|w| w[0] < w[1]), "in order: {received:?}");
        // The next datagram carries the kernel's count of what was dropped before it.
        peer.send_to(&sent.to_be_bytes(), local).expect("loopback send");
        let until = Instant::now() + Duration::from_secs(5);
        let last = loop {
            if let Some(r) = sockets.receive(&mut buf) {
                break r;
            }
            assert!(Instant::now() < until, "the last datagram did not arrive");
            sockets.wait(Some(until));
        };
        assert_eq!(&buf[..last.len], sent.to_be_bytes());
        assert_eq!(received.len() as u64 + 1 + sockets.dropped_queue_full(), u64::from(sent) + 1);
    }

    /// The loop sleeps in `wait` until a datagram, a ring of its bell, or its deadline; a
    /// socket that ran dry is read again only once `wait` saw something on it.
    #[test]
    fn wait_returns_for_a_datagram_a_ring_or_the_deadline() {
        let loopback: IpAddr = "127.0.0.1".parse().expect("literal");
        let mut sockets = Sockets::bind(loopback, &[0, 0], None, 16).expect("bind");
        let started = Instant::now();
        sockets.wait(Some(started + Duration::from_millis(20)));
        assert!(started.elapsed() >= Duration::from_millis(20), "returned before the deadline");

        let bell = Arc::clone(sockets.bell());
        let ringer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            bell.ring();
        });
        sockets.wait(None);
        ringer.join().expect("ringer");
        assert!(!sockets.bell().answer(), "the wait answered the ring that woke it");
        let again = Instant::now();
        sockets.wait(Some(again + Duration::from_millis(20)));
        assert!(again.elapsed() >= Duration::from_millis(20), "an answered ring woke it again");

        let second = sockets.local_addrs()[1];
        let peer = UdpSocket::bind((loopback, 0)).expect("bind the peer");
        peer.send_to(b"x", second).expect("loopback send");
        sockets.wait(None);
        let mut buf = vec![0u8; 65536];
        let r = sockets.receive(&mut buf).expect("the datagram that woke it");
        assert_eq!((r.local, &buf[..r.len]), (second, &b"x"[..]));
        assert!(sockets.receive(&mut buf).is_none());
        peer.send_to(b"y", second).expect("loopback send");
        std::thread::sleep(Duration::from_millis(20));
        assert!(sockets.receive(&mut buf).is_none(), "dry until a wait saw the new datagram");
        sockets.wait(None);
        let r = sockets.receive(&mut buf).expect("seen by the wait");
        assert_eq!(&buf[..r.len], b"y");
    }
}
