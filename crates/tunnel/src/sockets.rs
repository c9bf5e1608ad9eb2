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

/// How often a reader looks whether its sockets were dropped. Only the readers wait on this;
/// the session loop never polls.
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
    faults: Faults,
}

impl Drop for Sockets {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::SeqCst);
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
    /// Binds `ports` on `ip` (0: an ephemeral port), except the one `pump` already owns.
    pub(crate) fn bind(
        ip: IpAddr,
        ports: &[u16],
        pump: Option<Arc<Pump>>,
        depth: usize,
    ) -> Result<Self, SessionError> {
        let (tx, rx) = queue::queue(depth);
        let mut sockets = Vec::new();
        let closed = Arc::new(AtomicBool::new(false));
        let spawn = |name: String, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new().name(name).spawn(f).map(drop).map_err(SessionError::Spawn)
        };
        let mut pump_port = 0;
        if let Some(pump) = &pump {
            pump_port = pump.local_addr().map_err(SessionError::Spawn)?.port();
            let up = pump.ike().clone();
            let tx = tx.clone();
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
        for &port in ports {
            if pump.is_some() && port == pump_port {
                continue;
            }
            let addr = SocketAddr::new(ip, port);
            let socket = Arc::new(
                UdpSocket::bind(addr).map_err(|source| SessionError::Bind { addr, source })?,
            );
            let addr = socket.local_addr().map_err(|source| SessionError::Bind { addr, source })?;
            socket.set_read_timeout(Some(READER_CHECK)).map_err(SessionError::Spawn)?;
            let reader = Arc::clone(&socket);
            let tx = tx.clone();
            let closed = Arc::clone(&closed);
            spawn(
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
            sockets.push(socket);
        }
        Ok(Self { sockets, rx, pump, pump_port, closed, faults: Faults::default() })
    }

    /// The address of the socket bound on `index`-th port given to `bind` (not the pump's).
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
