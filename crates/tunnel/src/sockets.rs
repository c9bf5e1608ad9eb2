//! IKE's UDP sockets of one address: one reader thread per socket feeds the bounded queue
//! (`queue.rs`) the session loop waits on; sends go out on the socket of the datagram's local
//! port, or through the datapath when it owns the NAT-T port.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ikeway_pump::Pump;
use ikeway_sa::Transmit;

use crate::SessionError;
use crate::event::EventKind;
use crate::faults::{Fault, Faults};
use crate::queue::{self, Consumer};

/// How often a reader looks whether its sockets were dropped, should the wake-up datagram
/// `Drop` sends it be lost. Only the readers wait on this; the session loop never polls.
const READER_CHECK: Duration = Duration::from_millis(200);

/// UDP sockets on IKE's ports of one address. With a datapath (`pump`), the NAT-T port is the
/// pump's: its IKE datagrams arrive through the pump's channel and go out through the pump.
#[derive(Debug)]
pub(crate) struct Sockets {
    sockets: Vec<Arc<UdpSocket>>,
    pub(crate) rx: Consumer,
    pump: Option<Arc<Pump>>,
    /// The port the pump owns.
    pump_port: u16,
    /// Tells the reader threads to let go of their sockets, so the ports can be bound again.
    closed: Arc<AtomicBool>,
    readers: Vec<std::thread::JoinHandle<()>>,
    faults: Faults,
}

/// The ports are free again when this returns: each reader is woken by an empty datagram to
/// its own socket, sees `closed` and ends, and is joined.
impl Drop for Sockets {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
        for socket in &self.sockets {
            if let Ok(mut own) = socket.local_addr() {
                if own.ip().is_unspecified() {
                    own.set_ip(match own.ip() {
                        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
                    });
                }
                let _ = socket.send_to(&[], own);
            }
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
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

    /// Reads `sockets` (already bound: one worker's of a steered group, `crate::steering`),
    /// and with `pump`, the IKE datagrams of the port it owns.
    pub(crate) fn start(
        sockets: Vec<UdpSocket>,
        pump: Option<Arc<Pump>>,
        depth: usize,
    ) -> Result<Self, SessionError> {
        let (tx, rx) = queue::queue(depth);
        let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name(name).spawn(f).map_err(SessionError::Spawn)
        };
        let pump_port = match &pump {
            Some(p) => p.local_addr().map_err(SessionError::Spawn)?.port(),
            None => 0,
        };
        let mut this = Self {
            sockets: Vec::new(),
            rx,
            pump,
            pump_port,
            closed: Arc::new(AtomicBool::new(false)),
            readers: Vec::new(),
            faults: Faults::default(),
        };
        if let Some(pump) = &this.pump {
            let up = pump.ike().clone();
            let tx = tx.clone();
            // Ends when the pump stops and its channel closes.
            spawn(
                "pump-ike".into(),
                Box::new(move || {
                    for d in up {
                        let len = d.bytes.len();
                        if tx.push(d.local, d.remote, d.bytes, len).is_err() {
                            break;
                        }
                    }
                }),
            )?;
        }
        for socket in sockets {
            let socket = Arc::new(socket);
            let addr = socket.local_addr().map_err(SessionError::Spawn)?;
            socket.set_read_timeout(Some(READER_CHECK)).map_err(SessionError::Spawn)?;
            let reader = Arc::clone(&socket);
            let tx = tx.clone();
            let closed = Arc::clone(&this.closed);
            this.sockets.push(socket);
            let handle = spawn(
                format!("udp-{}", addr.port()),
                Box::new(move || {
                    let mut buf = tx.buffer();
                    while !closed.load(Ordering::SeqCst) {
                        match reader.recv_from(&mut buf) {
                            Ok((n, remote)) => match tx.push(addr, remote, buf, n) {
                                Ok(Some(back)) => buf = back,
                                Ok(None) => buf = tx.buffer(),
                                Err(queue::Closed) => break,
                            },
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                ) => {}
                            Err(_) => break,
                        }
                    }
                }),
            )?;
            this.readers.push(handle);
        }
        Ok(this)
    }

    /// The addresses of the sockets bound here, in the order of the ports given to `bind`
    /// (the pump's is not among them).
    pub(crate) fn local_addrs(&self) -> Vec<SocketAddr> {
        self.sockets.iter().filter_map(|s| s.local_addr().ok()).collect()
    }

    /// Datagrams dropped because the engine's queue was full.
    pub(crate) fn dropped_queue_full(&self) -> u64 {
        self.rx.dropped()
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
        let socket = self
            .sockets
            .iter()
            .find(|s| s.local_addr().is_ok_and(|a| a.port() == t.local.port()))
            .ok_or(SendError::NoSocket(t.local.port()))?;
        socket.send_to(bytes, t.remote).map(drop).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

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
    /// the readers keep `depth` datagrams, drop the rest and count them.
    #[test]
    fn readers_drop_and_count_what_the_full_queue_cannot_take() {
        let loopback: IpAddr = "127.0.0.1".parse().expect("literal");
        let sockets = Sockets::bind(loopback, &[0], None, 4).expect("bind");
        let local = sockets.local_addrs()[0];
        let peer = UdpSocket::bind((loopback, 0)).expect("bind the peer");
        for n in 0..10u8 {
            peer.send_to(&[n], local).expect("loopback send");
        }
        let until = Instant::now() + Duration::from_secs(5);
        while sockets.dropped_queue_full() < 6 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sockets.dropped_queue_full(), 6);
        let first: Vec<u8> = (0..4)
            .map(|_| sockets.rx.recv_timeout(Duration::from_secs(1)).expect("queued").bytes()[0])
            .collect();
        assert_eq!(first, [0, 1, 2, 3]);
        assert!(sockets.rx.recv_timeout(Duration::from_millis(50)).is_err());
    }
}
