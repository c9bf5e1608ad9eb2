//! EAP-TLS (RFC 5216, RFC 9190) on rustls, both roles.
//!
//! Owner: helper T (issue 12). Until the method lands, [`Method::Tls`](crate::Method::Tls) is
//! not runnable: the peer answers an EAP-TLS request with a Nak and the authenticator skips
//! it (see `crate::method::peer_method` / `server_method`, where it plugs in).

use std::sync::Arc;

use ikeway_codec::IdRepr;
use ikeway_pki::{Identity, PeerVerifier};

use crate::TlsVersion;

/// The client's EAP-TLS settings.
#[derive(Debug, Clone)]
pub struct TlsPeerConfig {
    /// Our client certificate and key.
    pub identity: Arc<Identity>,
    /// Checks the server's TLS certificate chain.
    pub verifier: Arc<dyn PeerVerifier>,
    /// What the server's chain must name.
    pub server_id: IdRepr,
    /// The lowest TLS version we accept.
    pub min_version: TlsVersion,
    /// The highest TLS version we offer.
    pub max_version: TlsVersion,
}

/// The server's EAP-TLS settings.
#[derive(Debug, Clone)]
pub struct TlsServerConfig {
    /// Our server certificate and key.
    pub identity: Arc<Identity>,
    /// Checks the client's certificate chain.
    pub verifier: Arc<dyn PeerVerifier>,
    /// The lowest TLS version we accept.
    pub min_version: TlsVersion,
    /// The highest TLS version we accept.
    pub max_version: TlsVersion,
}
