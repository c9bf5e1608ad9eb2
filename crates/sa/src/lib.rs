//! Sans-IO IKEv2 negotiation (RFC 7296): an initiator and a responder as deterministic state
//! machines with no I/O and no clock.
//!
//! An [`IkeSa`] takes datagrams, timeouts and commands, and gives back datagrams, the time it
//! next needs to be woken, and [`Event`]s (IKE SA up, child SA keys to install, configuration
//! received, closed...). A [`Responder`] serves many initiators behind one address; both are
//! driven through the one [`Engine`] interface, whose events name their IKE SA by a [`SaId`]. Time and randomness are inputs: every random choice of an SA comes
//! from the seed it was created with, so a seeded run is reproducible byte for byte (but for
//! an ECDSA certificate's AUTH signature, whose nonce `ikeway-pki` draws itself, and ML-KEM
//! on [`DefaultKex`]'s default aws-lc-rs backend, which draws key generation and
//! encapsulation randomness from AWS-LC's own DRBG; `KexBackend::RustCrypto` is seeded). Peers
//! authenticate with a PSK or a certificate ([`LocalAuth`], [`PeerAuth`]); certificate checks
//! go through the [`ikeway_pki::PeerVerifier`] the caller passes, which holds the clock. A
//! client may instead sign in with EAP inside IKE_AUTH (RFC 7296 §2.16: `LocalAuth::Eap`,
//! `PeerAuth::Eap`, the methods of `ikeway-eap`), also as a second round after a PSK or
//! certificate one (RFC 4739: `Config::local_auth2`, `Config::peer_auth2`), and with EAP-only
//! authentication of the server (RFC 5998: `Config::eap_only`).
//!
//! The driving loop, after any input:
//!
//! ```text
//! loop {
//!     while let Some(Ok(t)) = sa.poll_transmit(&mut buf) { socket.send_to(&buf[..t.len], t.remote) }
//!     while let Some(event) = sa.poll_event() { ... }
//!     wait for a datagram or until sa.poll_timeout(); then sa.handle_datagram / sa.handle_timeout
//! }
//! ```
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Instant;
//! use ikeway_codec::{AddrRange, IdRepr, IdValue, TrafficSelector};
//! use ikeway_sa::{Config, Event, IkeSa, InsecureKexForFuzzing, Responder};
//!
//! let psk = ikeway_crypto::SecretBytes::from_slice(b"correct horse battery staple");
//! let (a, b): (std::net::SocketAddr, std::net::SocketAddr) =
//!     ("127.0.0.1:500".parse().unwrap(), "127.0.0.2:500".parse().unwrap());
//! let mut client = Config::new(IdRepr::from_value(IdValue::Fqdn("client")), psk.clone());
//! // Host to host: without a leased address a client speaks for its own address only.
//! client.local_ts = vec![TrafficSelector::Range(AddrRange::any(a.ip(), a.ip()))];
//! let client = Arc::new(client);
//! let server = Arc::new(Config::new(IdRepr::from_value(IdValue::Fqdn("server")), psk));
//! // The insecure key exchange (feature `fuzzing`, on for this crate's tests) keeps this
//! // example fast; real code uses `DefaultKex`.
//! let kex = Arc::new(InsecureKexForFuzzing);
//! let now = Instant::now();
//! let mut init = IkeSa::initiate(client, kex.clone(), [1; 32], now, a, b).unwrap();
//! let mut resp = Responder::new(server, kex, None, [2; 32]);
//! let mut buf = vec![0u8; 65536];
//! let mut up = false;
//! for _ in 0..4 {
//!     while let Some(Ok(t)) = init.poll_transmit(&mut buf) { resp.handle_datagram(now, t.local, t.remote, &buf[..t.len]) }
//!     while let Some(Ok(t)) = resp.poll_transmit(&mut buf) { init.handle_datagram(now, t.local, t.remote, &buf[..t.len]) }
//!     while let Some(e) = init.poll_event() { up |= matches!(e.event, Event::ChildSaInstalled(_)) }
//! }
//! assert!(up && init.is_established());
//! ```

mod auth;
mod config;
mod cookie;
mod engine;
mod event;
mod ike_sa;
mod keys;
mod nat;
mod pool;
mod proposal;
mod provider;
mod psk;
mod registry;
mod responder;
mod sa_rng;
mod ts;
mod worker;

use std::net::SocketAddr;

pub use auth::{LocalAuth, PeerAuth};
pub use config::{
    AddressPool, CLIENT_CONFIG_REQUEST, Config, DEFAULT_MAX_CHILDREN, DEFAULT_MAX_MESSAGE_LEN,
    EsnPolicy, EspProposal, IkeProposal, Lifetimes, MAX_ADDITIONAL_KES, Retransmit, any_v4, any_v6,
};
pub use engine::{Engine, EngineEvent, SaId};
pub use event::{ChildSaInfo, CloseReason, ConfigReceived, Event, Stats};
pub use ike_sa::{AddKeFailure, IkeSa, KeyExport, RedirectPhase, RedirectPolicy};
pub use ike_sa::{Ppk, PpkConfig};
pub use pool::{AddressAllocator, MAX_POOL_ADDRESSES};
pub use proposal::{EspSuite, IkeSuite};
#[cfg(feature = "fuzzing")]
pub use provider::InsecureKexForFuzzing;
pub use provider::{ActiveKeyExchange, DefaultKex, KexError, KeyExchangeProvider, Random};
pub use psk::PresharedKey;
pub use registry::Held;
pub use responder::{EndpointStats, Responder};
pub use worker::{
    ESP_SPI_WORKER_SHIFT, IKE_SPI_WORKER_SHIFT, MAX_WORKERS, Workers, worker_of_esp_spi,
    worker_of_ike_spi,
};

/// Which end of an IKE SA we are: the original initiator or the original responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Initiator,
    Responder,
}

/// A datagram written by `poll_transmit`: send `len` bytes from `local` to `remote`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub len: usize,
}

/// Errors from commands and construction. Bad input from the network never produces one:
/// it is dropped and counted in [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// No configured key-exchange group is supported by the provider.
    NoUsableGroup,
    Kex(KexError),
    /// An operation that needs IKE SA keys ran before IKE_SA_INIT completed.
    NotKeyed,
    Emit(ikeway_codec::EmitError),
    Sk(ikeway_codec::sk::SkError),
    Crypto(ikeway_crypto::CryptoError),
    /// `IkeSa::redirect` on an initiator, or for a client that did not announce redirect
    /// support (RFC 5685 §3).
    PeerCannotBeRedirected,
    /// `update_path` on an SA where both sides did not announce MOBIKE (RFC 4555 §3.2), or
    /// before it is established.
    MobikeNotNegotiated,
    /// `update_path` on the responder's side: only the original initiator moves an IKE SA
    /// (RFC 4555 §3.5).
    MobikeNotInitiator,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoUsableGroup => f.write_str("no configured key exchange group is supported"),
            Self::Kex(e) => write!(f, "{e}"),
            Self::NotKeyed => f.write_str("IKE SA has no keys yet"),
            Self::Emit(e) => write!(f, "{e}"),
            Self::Sk(e) => write!(f, "{e}"),
            Self::Crypto(e) => write!(f, "{e}"),
            Self::PeerCannotBeRedirected => {
                f.write_str("the peer did not announce that it follows redirects")
            }
            Self::MobikeNotNegotiated => f.write_str("MOBIKE was not negotiated on this IKE SA"),
            Self::MobikeNotInitiator => {
                f.write_str("only the IKE SA's initiator can move it to new addresses")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<ikeway_codec::EmitError> for Error {
    fn from(e: ikeway_codec::EmitError) -> Self {
        Self::Emit(e)
    }
}

impl From<ikeway_codec::sk::SkError> for Error {
    fn from(e: ikeway_codec::sk::SkError) -> Self {
        Self::Sk(e)
    }
}

impl From<ikeway_crypto::CryptoError> for Error {
    fn from(e: ikeway_crypto::CryptoError) -> Self {
        Self::Crypto(e)
    }
}
