//! Drives a sans-IO IKE engine over real UDP sockets: one reader thread per socket feeds a
//! channel; the loop sends what the engine queued, sleeps until the next datagram or timer,
//! and hands both to the engine.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use crossbeam_channel::{Receiver, RecvTimeoutError};
use ikeway_sa::{IkeSa, Responder, Transmit};

/// What the loop needs from an initiator's [`IkeSa`] or a [`Responder`].
pub(crate) trait Engine {
    fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        bytes: &[u8],
    );
    fn handle_timeout(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>>;
}

macro_rules! engine_for {
    ($t:ty) => {
        impl Engine for $t {
            fn handle_datagram(
                &mut self,
                now: Instant,
                remote: SocketAddr,
                local: SocketAddr,
                bytes: &[u8],
            ) {
                <$t>::handle_datagram(self, now, remote, local, bytes)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$t>::handle_timeout(self, now)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$t>::poll_timeout(self)
            }
            fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>> {
                <$t>::poll_transmit(self, buf)
            }
        }
    };
}
engine_for!(IkeSa);
engine_for!(Responder);

type Received = (SocketAddr, SocketAddr, Vec<u8>);

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
    rx: Receiver<Received>,
    pump: Option<Arc<ikeway_pump::Pump>>,
    /// Tells the reader threads to let go of their sockets, so the ports can be bound again.
    closed: Arc<std::sync::atomic::AtomicBool>,
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
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut sockets = Vec::new();
        let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Some(pump) = &pump {
            let up = pump.ike().clone();
            let tx = tx.clone();
            std::thread::Builder::new().name("pump-ike".into()).spawn(move || {
                for d in up {
                    if tx.send((d.local, d.remote, d.bytes)).is_err() {
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
                let mut buf = vec![0u8; 65536];
                while !closed.load(std::sync::atomic::Ordering::SeqCst) {
                    match reader.recv_from(&mut buf) {
                        Ok((n, remote)) => {
                            if tx.send((addr, remote, buf[..n].to_vec())).is_err() {
                                break;
                            }
                        }
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
        Ok(Self { sockets, rx, pump, closed })
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
        while let Some(t) = engine.poll_transmit(&mut buf) {
            let t = t.map_err(|needed| anyhow::anyhow!("datagram of {needed} bytes"))?;
            sockets.send(t, &buf[..t.len])?;
        }
        if tick(engine, Instant::now())?.is_break() {
            while let Some(Ok(t)) = engine.poll_transmit(&mut buf) {
                sockets.send(t, &buf[..t.len])?;
            }
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
            Ok((local, remote, bytes)) => {
                engine.handle_datagram(Instant::now(), remote, local, &bytes)
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
