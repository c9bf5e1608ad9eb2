//! What each side is configured with.

use core::fmt;
use std::sync::Arc;

use ikeway_crypto::SecretBytes;

use crate::Method;
use crate::tls::{TlsPeerConfig, TlsServerConfig};

/// The client's side of EAP.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Our EAP-Identity (Apple: `username`; for EAP-TLS without a username, the identity the
    /// caller chose, e.g. the certificate subject or the local IKE identity).
    pub identity: String,
    /// For MD5 and MSCHAPv2, UTF-8 (MSCHAPv2 hashes its UTF-16LE form). `None`: those methods
    /// are refused (answered with a Nak), and if the server offers nothing else the outcome is
    /// [`crate::EapFailure::MethodNotAllowed`].
    pub password: Option<SecretBytes>,
    /// For EAP-TLS.
    pub tls: Option<TlsPeerConfig>,
    /// Methods we accept, in preference order (a Nak names those we can run, in this order).
    pub methods: Vec<Method>,
}

/// Where the authenticator finds passwords.
pub trait Credentials: Send + Sync + fmt::Debug {
    /// The password of `user`; `None` for an unknown user (treated exactly like a wrong password
    /// on the wire, so names cannot be probed).
    fn password(&self, user: &str) -> Option<SecretBytes>;
}

/// The server's side of EAP.
#[derive(Debug, Clone)]
pub struct AuthenticatorConfig {
    /// Offered in this order: the first is proposed; a Nak may pick another from this list.
    pub methods: Vec<Method>,
    /// Passwords for MD5 and MSCHAPv2.
    pub users: Arc<dyn Credentials>,
    /// For EAP-TLS: our server identity, the client verifier, the versions.
    pub tls: Option<TlsServerConfig>,
}
