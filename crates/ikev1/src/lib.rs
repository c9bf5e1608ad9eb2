//! Sans-IO IKEv1 negotiation (RFC 2408, RFC 2409): an ISAKMP SA in main or aggressive mode
//! authenticated with a shared secret or certificates, then XAUTH, mode config, quick mode
//! and informational exchanges, as deterministic state machines with no I/O and no clock.
//!
//! IKEv1 shares no payload layout and no exchange logic with IKEv2, so it lives beside
//! `ikeway-sa` rather than inside it; what both share is the crypto (`ikeway-crypto`), the
//! certificates (`ikeway-pki`), the key-exchange providers and the events the runtime acts on
//! ([`ikeway_sa::Event`], wrapped in [`Event::Ike`] where the meaning is the same).
//!
//! An [`Ikev1Sa`] takes datagrams and timeouts (`now` is passed in, randomness comes from a
//! seed) and gives back datagrams, its next deadline and events. The driving loop is the one
//! of `ikeway_sa::Engine`: after any input, drain `poll_transmit` and `poll_event`, then wait
//! for a datagram or until `poll_timeout`.

mod config;
mod crypt;
mod engine;
mod gateway_renewal;
pub mod informational;
mod keylog;
pub mod keys;
mod legacy_kex;
pub mod phase1;
pub mod quick;
mod receive;
mod responder;
mod timer;
pub mod transaction;

use std::net::SocketAddr;

pub use config::{Authentication, Config, Identity, Phase1Mode, Phase1Proposal};
pub use crypt::{Crypt, OpenError};
pub use engine::{Ikev1Sa, Stats};
pub use ikeway_isakmp::{FragmentLimits, FragmentStats};
#[cfg(feature = "fuzzing")]
pub use ikeway_sa::InsecureKexForFuzzing;
pub use ikeway_sa::{
    ActiveKeyExchange, CloseReason, DefaultKex, KeyExchangeProvider, Retransmit, SaId, Side,
    Transmit,
};
pub use keylog::KeyExport;
pub use keys::HashAlg;
pub use receive::initiator_cookie;
pub use responder::{DEFAULT_MAX_HALF_OPEN, Ikev1Responder};

/// What an ISAKMP SA reports to the runtime.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// An event that means for IKEv1 what it means for IKEv2: `IkeSaUp` (the cookies as the
    /// SPIs) once phase 1 (and XAUTH, if configured) is done, `ChildSaInstalled` /
    /// `ChildSaRemoved` for ESP SAs of quick mode, `ConfigReceived` from mode config,
    /// `NatDetected`, `IkeSaRekeyed` when a new ISAKMP SA replaces this one, `IkeSaClosed`.
    Ike(ikeway_sa::Event),
    /// XAUTH: the gateway asks for the user's password and the configuration holds none (an
    /// "ask every time" profile). Answer with [`Ikev1Sa::xauth_reply`]; `message` is the
    /// gateway's XAUTH-MESSAGE for the user, control characters removed.
    XauthPasswordRequired { username: Option<String>, message: Option<String> },
    /// The Cisco UNITY banner of mode config, to show the user (control characters other than
    /// line breaks and tabs removed, at most 2048 characters).
    Banner(String),
    /// What mode config said that the client reports but never applies (NBNS servers,
    /// address expiry, Cisco UNITY save-password, PFS, backup servers, local LAN), checked and
    /// bounded; only when the gateway said any of it.
    ModeConfigNotes(transaction::ModeConfigNotes),
    /// Client: the ISAKMP SA nears the end of its lifetime; make its successor with
    /// [`Ikev1Sa::renew`], drive it until up, then [`Ikev1Sa::hand_over`] the ESP SAs to it
    /// (RFC 2409 has no rekey of an ISAKMP SA). Without that, the SA closes at its end with
    /// `CloseReason::Expired`.
    RenewalDue,
}

/// An [`Event`] and the ISAKMP SA it concerns (named by our own cookie).
#[derive(Debug)]
pub struct EngineEvent {
    pub sa: SaId,
    pub event: Event,
}

/// Errors from commands and construction. Bad input from the network never produces one: it
/// is dropped and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// No configured proposal's group is supported by the key-exchange provider.
    NoUsableGroup,
    Kex(ikeway_sa::KexError),
    Crypto(ikeway_crypto::CryptoError),
    /// Our own message could not be encoded (a configuration too large for its fields).
    Emit(ikeway_isakmp::EmitError),
    /// The ISAKMP SA is not established yet (or no longer).
    NotEstablished,
    /// Hybrid authentication without XAUTH: the client would prove nothing.
    HybridWithoutXauth,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoUsableGroup => f.write_str("no configured key exchange group is supported"),
            Self::Kex(e) => write!(f, "{e}"),
            Self::Crypto(e) => write!(f, "{e}"),
            Self::Emit(e) => write!(f, "{e}"),
            Self::NotEstablished => f.write_str("the ISAKMP SA is not established"),
            Self::HybridWithoutXauth => {
                f.write_str("hybrid authentication needs XAUTH: the client proves itself there")
            }
        }
    }
}

impl std::error::Error for Error {}

impl From<ikeway_crypto::CryptoError> for Error {
    fn from(e: ikeway_crypto::CryptoError) -> Self {
        Self::Crypto(e)
    }
}

/// Where a datagram goes: the runtime sends `bytes` from `local` to `remote` (port 4500
/// datagrams get the non-ESP marker here, RFC 3948 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub bytes: Vec<u8>,
}
