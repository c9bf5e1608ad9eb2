//! Sans-IO EAP (RFC 3748) for IKEv2 (RFC 7296 §2.16), both roles.
//!
//! - [`EapPeer`]: the client. It answers each EAP message the server sends ([`EapPeer::handle`])
//!   until EAP-Success, which yields the MSK when the method makes one.
//! - [`EapAuthenticator`]: the server. [`EapAuthenticator::start`] makes the first request
//!   (EAP-Request/Identity); [`EapAuthenticator::handle`] takes each response and says what to
//!   send next, ending with EAP-Success (the identity the peer proved) or EAP-Failure (why).
//!
//! Methods: Identity, Notification and Nak (RFC 3748 §5), MD5-Challenge (RFC 3748 §5.4),
//! MSCHAPv2 (RFC 2759, draft-kamath-pppext-eap-mschapv2, MSK from the RFC 3079 master keys) and
//! EAP-TLS (RFC 5216, RFC 9190). The EAP message type is the codec's [`EapRepr`]: the payload the
//! IKE message carries is the message the state machines read and write, with no copy type.
//!
//! The crate does no I/O and reads no clock; randomness is an argument. Passwords, NT hashes and
//! MSKs are [`SecretBytes`], wiped on drop and never printed.
//!
//! ```
//! use std::sync::Arc;
//! use ikeway_crypto::SecretBytes;
//! use ikeway_eap::{
//!     AuthStep, AuthenticatorConfig, EapAuthenticator, EapPeer, Method, PeerConfig, PeerStep,
//!     Users,
//! };
//! use rand_core::SeedableRng;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
//! let users = Users::parse("alice : EAP \"correct horse\"\n")?;
//! let mut server = EapAuthenticator::new(Arc::new(AuthenticatorConfig {
//!     methods: vec![Method::MsChapV2],
//!     users: Arc::new(users),
//!     tls: None,
//! }));
//! let mut client = EapPeer::new(Arc::new(PeerConfig {
//!     identity: "alice".into(),
//!     password: Some(SecretBytes::from_slice(b"correct horse")),
//!     tls: None,
//!     methods: vec![Method::MsChapV2],
//! }));
//!
//! // In IKE these messages travel in the EAP payloads of IKE_AUTH.
//! let mut request = server.start(&mut rng);
//! loop {
//!     let response = match client.handle(&request, &mut rng)? {
//!         PeerStep::Respond(response) => response,
//!         PeerStep::Success { .. } => unreachable!("success comes after the server's verdict"),
//!     };
//!     match server.handle(&response, &mut rng) {
//!         AuthStep::Request(next) => request = next,
//!         AuthStep::Success { message, identity, msk } => {
//!             assert_eq!(identity, "alice");
//!             let PeerStep::Success { msk: client_msk } = client.handle(&message, &mut rng)?
//!             else { unreachable!("EAP-Success ends the exchange") };
//!             // Both ends hold the same 64-byte MSK: the key of the final IKE AUTH payloads.
//!             let (client_msk, msk) = (client_msk.expect("MSCHAPv2 makes one"), msk.expect("same"));
//!             assert_eq!((client_msk.len(), client_msk), (64, msk));
//!             break;
//!         }
//!         AuthStep::Failure { reason, .. } => panic!("{reason}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod authenticator;
mod config;
mod failure;
mod md5_challenge;
mod message;
mod method;
mod mschapv2;
mod peer;
pub mod tls;
mod users;

pub use authenticator::{AuthStep, EapAuthenticator};
pub use config::{AuthenticatorConfig, Credentials, PeerConfig};
pub use failure::EapFailure;
pub use ikeway_codec::{EapCode, EapRepr};
pub use ikeway_crypto::SecretBytes;
pub use peer::{EapPeer, PeerStep};
pub use tls::{TlsKeyLog, TlsPeerConfig, TlsServerConfig};
pub use users::{Users, UsersError};

use core::fmt;

/// EAP method types (IANA "Extensible Authentication Protocol (EAP) Registry", Method Types).
/// A newtype so that types we do not run survive and print as numbers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EapType(pub u8);

impl EapType {
    /// RFC 3748 §5.1.
    pub const IDENTITY: Self = Self(1);
    /// RFC 3748 §5.2.
    pub const NOTIFICATION: Self = Self(2);
    /// Legacy Nak, RFC 3748 §5.3.1 (responses only).
    pub const NAK: Self = Self(3);
    /// RFC 3748 §5.4.
    pub const MD5_CHALLENGE: Self = Self(4);
    /// RFC 5216.
    pub const TLS: Self = Self(13);
    /// draft-kamath-pppext-eap-mschapv2.
    pub const MSCHAPV2: Self = Self(26);
    /// Expanded Types, RFC 3748 §5.7.
    pub const EXPANDED: Self = Self(254);
}

impl fmt::Debug for EapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::IDENTITY => f.write_str("Identity"),
            Self::NOTIFICATION => f.write_str("Notification"),
            Self::NAK => f.write_str("Nak"),
            Self::MD5_CHALLENGE => f.write_str("MD5-Challenge"),
            Self::TLS => f.write_str("EAP-TLS"),
            Self::MSCHAPV2 => f.write_str("EAP-MSCHAPv2"),
            Self::EXPANDED => f.write_str("Expanded"),
            Self(n) => write!(f, "{n}"),
        }
    }
}

/// The authentication methods we run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// MD5-Challenge (RFC 3748 §5.4): proves the password, authenticates no server, no MSK.
    Md5,
    /// EAP-MSCHAPv2: proves the password both ways, 64-byte MSK.
    MsChapV2,
    /// EAP-TLS (RFC 5216, RFC 9190): certificates both ways, 64-byte MSK.
    Tls,
}

impl Method {
    /// Every method, in our default order of preference.
    pub const ALL: [Method; 3] = [Method::MsChapV2, Method::Tls, Method::Md5];

    /// The EAP Type that carries it.
    pub fn eap_type(self) -> EapType {
        match self {
            Self::Md5 => EapType::MD5_CHALLENGE,
            Self::MsChapV2 => EapType::MSCHAPV2,
            Self::Tls => EapType::TLS,
        }
    }

    /// The method an EAP Type names, if we run it.
    pub fn from_eap_type(t: EapType) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.eap_type() == t)
    }

    /// Authenticates the server too and makes keys (RFC 5998 §4: only such a method may run
    /// EAP-only): TLS yes. MSCHAPv2 proves the server knows the password but its keys come from
    /// the password alone, which RFC 5998 §4 does not count; MD5 proves nothing of the server.
    pub fn is_mutual(self) -> bool {
        matches!(self, Self::Tls)
    }

    /// Proves the user with a password (`PeerConfig::password`); else with a certificate.
    pub fn uses_password(self) -> bool {
        !matches!(self, Self::Tls)
    }

    /// The name people read in logs and errors.
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "EAP-MD5",
            Self::MsChapV2 => "EAP-MSCHAPv2",
            Self::Tls => "EAP-TLS",
        }
    }

    /// The method a command line or configuration file names: `mschapv2`, `md5` or `tls`
    /// (ASCII case ignored).
    pub fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mschapv2" => Some(Self::MsChapV2),
            "md5" => Some(Self::Md5),
            "tls" => Some(Self::Tls),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// TLS version bounds for EAP-TLS (Apple: `minimumTLSVersion` / `maximumTLSVersion`). rustls
/// speaks 1.2 and 1.3 only, so older versions cannot be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// TLS 1.2 (RFC 5246; EAP-TLS keys by RFC 5216 §2.3).
    V1_2,
    /// TLS 1.3 (RFC 8446; EAP-TLS by RFC 9190).
    V1_3,
}

/// Bounds on what either side accepts, so that a peer cannot keep us busy or make us allocate.
pub mod limits {
    /// Requests a peer answers, or responses an authenticator takes, in one conversation
    /// (RFC 3748 §4.3 leaves the bound to the implementation; strongSwan's EAP-TLS needs about
    /// ten rounds for a certificate chain of a few kilobytes in 1 KiB fragments).
    pub const MAX_ROUNDS: u32 = 50;
    /// The largest EAP message taken, header included. IKE carries up to 64 KiB, but no method
    /// here needs more than one TLS fragment per message (strongSwan sends 1 KiB, Windows
    /// about 1.4 KiB).
    pub const MAX_MESSAGE_LEN: usize = 16 * 1024;
    /// The longest EAP-Identity accepted (RFC 7542 §2.2 bounds a NAI at 253 octets; some
    /// Windows identities carry a domain, so a little more).
    pub const MAX_IDENTITY_LEN: usize = 512;
}
