//! Drives a sans-IO IKE engine over real UDP sockets: one reader thread per socket feeds a
//! bounded queue (`queue.rs`); the loop sends what the engine queued, sleeps until the next
//! datagram or timer, and hands both to the engine.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use crossbeam_channel::RecvTimeoutError;
use ikeway_sa::{Engine, Transmit};

use super::faults::{Fault, Faults};
use super::queue::{self, Consumer};

/// 32 bytes from the operating system: the seed of an IKE SA's or a responder's randomness.
pub(crate) fn os_seed() -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("OS random source: {e}"))?;
    Ok(seed)
}

/// IKE's sockets on `local` (UDP 500 and 4500), with the datapath on a TUN device when `tun`
/// names one; the datapath then owns 4500 and passes IKE up.
pub(crate) fn endpoint(
    local: std::net::IpAddr,
    tun: &super::datapath::TunArgs,
) -> Result<(Sockets, Option<Arc<ikeway_pump::Pump>>)> {
    let pump = super::datapath::start(tun, local)?;
    let sockets = Sockets::bind(local, &[500, 4500], pump.clone())?;
    Ok((sockets, pump))
}

/// UDP sockets on IKE's ports of one address. With a datapath (`pump`), port 4500 is the
/// pump's: its IKE datagrams arrive through the pump's channel and go out through the pump.
pub(crate) struct Sockets {
    sockets: Vec<Arc<UdpSocket>>,
    rx: Consumer,
    pump: Option<Arc<ikeway_pump::Pump>>,
    /// Tells the reader threads to let go of their sockets, so the ports can be bound again.
    closed: Arc<std::sync::atomic::AtomicBool>,
    faults: Faults,
}

impl Drop for Sockets {
    fn drop(&mut self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Sockets {
    pub(crate) fn bind(
        ip: IpAddr,
        ports: &[u16],
        pump: Option<Arc<ikeway_pump::Pump>>,
    ) -> Result<Self> {
        Self::with_queue(ip, ports, pump, queue::DEPTH)
    }

    fn with_queue(
        ip: IpAddr,
        ports: &[u16],
        pump: Option<Arc<ikeway_pump::Pump>>,
        depth: usize,
    ) -> Result<Self> {
        let (tx, rx) = queue::queue(depth);
        let mut sockets = Vec::new();
        let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Some(pump) = &pump {
            let up = pump.ike().clone();
            let tx = tx.clone();
            std::thread::Builder::new().name("pump-ike".into()).spawn(move || {
                for d in up {
                    let len = d.bytes.len();
                    if tx.push(d.local, d.remote, d.bytes, len).is_err() {
                        break;
                    }
                }
            })?;
        }
        for &port in ports {
            if pump.is_some() && port == 4500 {
                continue;
            }
            let addr = SocketAddr::new(ip, port);
            let socket =
                Arc::new(UdpSocket::bind(addr).with_context(|| format!("binding UDP {addr}"))?);
            // Wake up now and then to notice that the sockets were dropped.
            socket.set_read_timeout(Some(std::time::Duration::from_millis(200)))?;
            let reader = Arc::clone(&socket);
            let tx = tx.clone();
            let closed = Arc::clone(&closed);
            std::thread::Builder::new().name(format!("udp-{port}")).spawn(move || {
                let mut buf = tx.buffer();
                while !closed.load(std::sync::atomic::Ordering::SeqCst) {
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
            })?;
            sockets.push(socket);
        }
        Ok(Self { sockets, rx, pump, closed, faults: Faults::default() })
    }

    /// Datagrams dropped because the engine's queue was full.
    pub(crate) fn dropped_queue_full(&self) -> u64 {
        self.rx.dropped()
    }

    /// What went wrong so far without ending the loop.
    pub(crate) fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Counts and logs a failure caused by one peer; the loop carries on for the others.
    pub(crate) fn fault(&self, fault: Fault, error: &anyhow::Error) {
        if let Some(line) = self.faults.record(fault, error) {
            super::print(&line);
        }
    }

    /// Sends one datagram. A failure concerns one peer (an unreachable or invalid address),
    /// so it is counted, never returned: one client must not end the service for all.
    fn send_or_count(&self, t: Transmit, bytes: &[u8]) {
        if let Err(e) = self.send(t, bytes) {
            self.fault(Fault::Send, &e);
        }
    }

    fn send(&self, t: Transmit, bytes: &[u8]) -> Result<()> {
        if let Some(pump) = self.pump.as_ref().filter(|_| t.local.port() == 4500) {
            pump.send_ike(t.remote, bytes).with_context(|| format!("sending to {}", t.remote))?;
            return Ok(());
        }
        let socket = self
            .sockets
            .iter()
            .find(|s| s.local_addr().is_ok_and(|a| a.port() == t.local.port()))
            .with_context(|| format!("no socket bound to port {}", t.local.port()))?;
        socket.send_to(bytes, t.remote).with_context(|| format!("sending to {}", t.remote))?;
        Ok(())
    }
}

/// Sends everything the engine queued. A datagram larger than `buf` grows it (the engine
/// keeps the datagram queued until taken, so skipping it would spin).
fn flush<E: Engine>(engine: &mut E, sockets: &Sockets, buf: &mut Vec<u8>) {
    while let Some(t) = engine.poll_transmit(buf) {
        match t {
            Ok(t) => sockets.send_or_count(t, &buf[..t.len]),
            Err(needed) => buf.resize(needed, 0),
        }
    }
}

/// Runs `engine` until `tick` breaks or `deadline` passes. `tick` runs after every input, to
/// drain events and issue commands.
pub(crate) fn run<E: Engine>(
    engine: &mut E,
    sockets: &Sockets,
    deadline: Instant,
    mut tick: impl FnMut(&mut E, Instant) -> Result<ControlFlow<()>>,
) -> Result<()> {
    let mut buf = vec![0u8; 65536];
    loop {
        flush(engine, sockets, &mut buf);
        if tick(engine, Instant::now())?.is_break() {
            flush(engine, sockets, &mut buf);
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            bail!("timed out");
        }
        // Wake at least every 100 ms so that scheduled commands in `tick` run on time.
        let wake = [engine.poll_timeout(), Some(deadline), Some(now + Duration::from_millis(100))]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(deadline);
        match sockets.rx.recv_timeout(wake.saturating_duration_since(now)) {
            Ok(d) => {
                engine.handle_datagram(Instant::now(), d.remote, d.local, d.bytes());
                sockets.rx.recycle(d);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => bail!("all sockets closed"),
        }
        let now = Instant::now();
        if engine.poll_timeout().is_some_and(|t| t <= now) {
            engine.handle_timeout(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// An engine that only has datagrams to send.
    struct Sender(VecDeque<(Transmit, Vec<u8>)>);

    impl Engine for Sender {
        fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
        fn handle_timeout(&mut self, _: Instant) {}
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
        fn poll_event(&mut self) -> Option<ikeway_sa::EngineEvent> {
            None
        }
        fn sa_mut(&mut self, _: ikeway_sa::SaId) -> Option<&mut ikeway_sa::IkeSa> {
            None
        }
        fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>> {
            let (t, bytes) = self.0.front()?;
            if bytes.len() > buf.len() {
                return Some(Err(bytes.len()));
            }
            buf[..bytes.len()].copy_from_slice(bytes);
            let t = *t;
            self.0.pop_front();
            Some(Ok(t))
        }
    }

    /// Issue 9 finding 9: a `sendto` that failed for one peer ended `serve` for every
    /// client. Now the failure is counted and the next peer still gets its datagram.
    #[test]
    fn a_failing_send_to_one_peer_does_not_stop_the_loop() {
        let loopback: IpAddr = "127.0.0.1".parse().expect("literal");
        let sockets = Sockets::bind(loopback, &[0], None).expect("bind an ephemeral port");
        let local = sockets.sockets[0].local_addr().expect("bound");
        let peer = UdpSocket::bind((loopback, 0)).expect("bind the peer");
        peer.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        // An IPv6 destination from an IPv4 socket: sendto fails (EAFNOSUPPORT/EINVAL).
        let unreachable: SocketAddr = "[::1]:500".parse().expect("literal");
        let good = peer.local_addr().expect("bound");
        let mut engine = Sender(VecDeque::from([
            (Transmit { local, remote: unreachable, len: 3 }, b"bad".to_vec()),
            (Transmit { local, remote: good, len: 4 }, b"good".to_vec()),
        ]));
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut ticks = 0;
        let result = run(&mut engine, &sockets, deadline, |_, _| {
            ticks += 1;
            Ok(if ticks >= 2 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
        });
        assert!(result.is_ok(), "the loop ran on: {result:?}");
        assert_eq!(ticks, 2, "the loop went round again after the failure");
        let mut buf = [0u8; 16];
        let (n, from) = peer.recv_from(&mut buf).expect("the second peer got its datagram");
        assert_eq!((&buf[..n], from), (&b"good"[..], local));
        assert_eq!(sockets.faults().count(Fault::Send), 1);
        assert_eq!(sockets.faults().count(Fault::Datapath), 0);
    }

    /// Issue 9 finding 10: a flood while the engine is busy was queued without bound. Now
    /// the readers keep `depth` datagrams, drop the rest and count them.
    #[test]
    fn readers_drop_and_count_what_the_full_queue_cannot_take() {
        let loopback: IpAddr = "127.0.0.1".parse().expect("literal");
        let sockets = Sockets::with_queue(loopback, &[0], None, 4).expect("bind");
        let local = sockets.sockets[0].local_addr().expect("bound");
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
