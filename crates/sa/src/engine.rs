//! The one interface a runtime drives: an initiator's [`IkeSa`] and a [`Responder`] endpoint
//! take the same inputs and give the same outputs, so a socket-and-timer loop is written once
//! (quinn-proto's `Endpoint` and `Connection` are driven alike; here one trait says so).
//!
//! Events name the IKE SA they concern by a [`SaId`] for both roles: an initiator has one SA,
//! a responder many, and a runtime that gives a command to "the SA this event came from"
//! (rekey it, write its keys to a key log) looks it up with [`Engine::sa_mut`].

use std::net::SocketAddr;
use std::time::Instant;

use crate::event::Event;
use crate::{IkeSa, Responder, Transmit};

/// Which IKE SA an event concerns: our own SPI of it, the one we chose.
///
/// The peer chooses the other SPI, possibly equal to another client's, so it never names an
/// SA (issue 9 finding 7); this type keeps the two apart. After an IKE rekey the SA is known
/// by its new SPI, and the old one still finds it while the old SA answers its DELETE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SaId(u64);

impl SaId {
    /// Our SPI of the IKE SA this names.
    pub fn spi(self) -> u64 {
        self.0
    }

    /// Names the SA filed under `spi`, an SPI *we* chose (e.g. one read back from a command
    /// line); the peer's SPI names nothing.
    pub fn from_spi(spi: u64) -> Self {
        Self(spi)
    }
}

/// Sixteen hex digits, as IKE SPIs are usually written.
impl core::fmt::Display for SaId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// An [`Event`] and the IKE SA it concerns: the output of [`Engine::poll_event`].
#[derive(Debug)]
pub struct EngineEvent {
    pub sa: SaId,
    pub event: Event,
}

/// What a runtime needs from a sans-IO IKE engine, initiator or responder.
///
/// The loop, after any input (a datagram, a timeout, a command given through
/// [`Engine::sa_mut`]): send everything [`Engine::poll_transmit`] gives, act on every
/// [`Engine::poll_event`], then wait for a datagram or until [`Engine::poll_timeout`] and call
/// [`Engine::handle_datagram`] or [`Engine::handle_timeout`]. The trait is object safe, so a
/// runtime may hold a `Box<dyn Engine + Send>`.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Instant;
/// use ikeway_codec::{AddrRange, IdRepr, IdValue, TrafficSelector};
/// use ikeway_sa::{Config, Engine, Event, IkeSa, InsecureKexForFuzzing, Responder};
///
/// /// Hands everything `from` wants to send to `to`.
/// fn deliver(from: &mut dyn Engine, to: &mut dyn Engine, now: Instant) {
///     let mut buf = vec![0u8; 65536];
///     while let Some(Ok(t)) = from.poll_transmit(&mut buf) {
///         to.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
///     }
/// }
///
/// let psk = ikeway_crypto::SecretBytes::from_slice(b"correct horse battery staple");
/// let (a, b): (std::net::SocketAddr, std::net::SocketAddr) =
///     ("127.0.0.1:500".parse().unwrap(), "127.0.0.2:500".parse().unwrap());
/// let mut client = Config::new(IdRepr::from_value(IdValue::Fqdn("client")), psk.clone());
/// client.local_ts = vec![TrafficSelector::Range(AddrRange::any(a.ip(), a.ip()))];
/// let server = Config::new(IdRepr::from_value(IdValue::Fqdn("server")), psk);
/// let kex = Arc::new(InsecureKexForFuzzing);
/// let now = Instant::now();
/// let mut init = IkeSa::initiate(Arc::new(client), kex.clone(), [1; 32], now, a, b).unwrap();
/// let mut resp = Responder::new(Arc::new(server), kex, None, [2; 32]);
/// let mut server_sa = None;
/// for _ in 0..4 {
///     deliver(&mut init, &mut resp, now);
///     deliver(&mut resp, &mut init, now);
///     while let Some(e) = resp.poll_event() {
///         if matches!(e.event, Event::IkeSaUp { .. }) {
///             server_sa = Some(e.sa);
///         }
///     }
/// }
/// // The event named the SA: give it a command.
/// let sa = resp.sa_mut(server_sa.unwrap()).unwrap();
/// assert!(sa.is_established());
/// sa.dpd(now);
/// ```
pub trait Engine {
    /// Takes one UDP payload that arrived from `remote` at `local`.
    fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    );

    /// Runs every timer due at `now`.
    fn handle_timeout(&mut self, now: Instant);

    /// When [`Engine::handle_timeout`] must next be called, if ever. May be early, never late.
    fn poll_timeout(&self) -> Option<Instant>;

    /// The next datagram to send, copied into `buf`; `Err(needed)` when `buf` is shorter than
    /// the datagram, which then stays queued.
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>>;

    /// The next event, with the IKE SA it concerns.
    fn poll_event(&mut self) -> Option<EngineEvent>;

    /// The IKE SA an event named, to give it commands; `None` once it is gone.
    fn sa_mut(&mut self, id: SaId) -> Option<&mut IkeSa>;
}

impl Engine for IkeSa {
    fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) {
        IkeSa::handle_datagram(self, now, remote, local, datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        IkeSa::handle_timeout(self, now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        IkeSa::poll_timeout(self)
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>> {
        IkeSa::poll_transmit(self, buf)
    }

    fn poll_event(&mut self) -> Option<EngineEvent> {
        IkeSa::poll_event(self)
    }

    /// The SA itself, under its SPI or, while the old SA is kept after an IKE rekey, the old
    /// one (as a responder finds it).
    fn sa_mut(&mut self, id: SaId) -> Option<&mut IkeSa> {
        let spi = id.spi();
        (spi == self.local_spi() || Some(spi) == self.old_local_spi()).then_some(self)
    }
}

impl Engine for Responder {
    fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) {
        Responder::handle_datagram(self, now, remote, local, datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        Responder::handle_timeout(self, now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Responder::poll_timeout(self)
    }

    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>> {
        Responder::poll_transmit(self, buf)
    }

    fn poll_event(&mut self) -> Option<EngineEvent> {
        Responder::poll_event(self)
    }

    fn sa_mut(&mut self, id: SaId) -> Option<&mut IkeSa> {
        Responder::sa_mut(self, id)
    }
}
