//! EAP-TLS (RFC 5216 for TLS 1.2, RFC 9190 for TLS 1.3), both roles, on rustls driven
//! sans-IO: the TLS bytes of an EAP message go in through `read_tls` from a slice, rustls's
//! answer comes out through `write_tls` into a `Vec`, and `frame` cuts it into EAP-TLS
//! fragments. No socket, no clock, no thread: the caller's EAP state machine moves it.
//!
//! ```text
//! authenticator                               peer
//! Request/Identity            ->
//!                             <-  Response/Identity (A's dispatch)
//! Request/TLS [S]             ->
//!                             <-  Response/TLS ClientHello
//! Request/TLS [L,M] SH..Fin   ->  (fragments, each acknowledged by an empty Response)
//!                             <-  Response/TLS Certificate..Finished
//! Request/TLS 0x00 (TLS 1.3) / CCS+Finished (TLS 1.2)  ->
//!                             <-  Response/TLS (empty)
//! Success                     ->  the peer accepts it only after all of the above
//! ```
//!
//! MSK: the first 64 of 128 exported octets: label "EXPORTER_EAP_TLS_Key_Material" with
//! context 0x0D under TLS 1.3 (RFC 9190 §2.3), the TLS 1.2 PRF with "client EAP encryption"
//! over the two randoms (RFC 5216 §2.3, which is what rustls's exporter computes with no
//! context). The EMSK (the other 64) is not kept: IKEv2 uses only the MSK.
//!
//! Draft-era EAP-TLS 1.3 (strongSwan 5.9.2 to 5.9.9), opt-in on either side
//! (`TlsPeerConfig::draft_tls13_compat`, `TlsServerConfig::draft_tls13`): no success
//! indication, EAP-Success right after the client's Finished, and the MSK from TLS 1.3's
//! exporter with "client EAP encryption" and an empty context.

mod config;
pub(crate) mod frame;
mod peer;
mod server;
mod session;

use core::fmt;
use std::sync::Arc;

use ikeway_codec::IdRepr;
use ikeway_pki::{Identity, PeerVerifier};

use crate::TlsVersion;

pub use frame::{DEFAULT_FRAGMENT_SIZE, MAX_FRAGMENT_SIZE, MAX_TLS_MESSAGE, MIN_FRAGMENT_SIZE};
pub(crate) use peer::TlsPeer;
pub(crate) use server::TlsServer;
pub use session::MAX_TLS_ROUNDS;

/// Where TLS secrets go when the caller wants to decrypt the EAP-TLS exchange in Wireshark
/// (NSS key log lines: `label client_random secret`). Opt-in; nothing is logged without it.
pub trait TlsKeyLog: Send + Sync + fmt::Debug {
    /// One secret: `label` as in the NSS key log format (CLIENT_RANDOM,
    /// CLIENT_HANDSHAKE_TRAFFIC_SECRET, ...).
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]);
}

/// The peer (client) side of EAP-TLS.
#[derive(Debug, Clone)]
pub struct TlsPeerConfig {
    /// Our client certificate and key.
    pub identity: Arc<Identity>,
    /// Checks the server's TLS chain (path, time, usage, `server_id` in the certificate).
    pub verifier: Arc<dyn PeerVerifier>,
    /// What the server's certificate must name (as for an IKE IDr).
    pub server_id: IdRepr,
    /// Lowest TLS version we accept.
    pub min_version: TlsVersion,
    /// Highest TLS version we offer.
    pub max_version: TlsVersion,
    /// TLS bytes per EAP-Response we send (clamped to [`MIN_FRAGMENT_SIZE`],
    /// [`MAX_FRAGMENT_SIZE`]).
    pub fragment_size: usize,
    /// Where to log TLS secrets (for Wireshark); `None`: nowhere.
    pub key_log: Option<Arc<dyn TlsKeyLog>>,
    /// Draft-era EAP-TLS 1.3 compatibility (strongSwan 5.9.2 to 5.9.9): when TLS 1.3 ran and
    /// EAP-Success arrives after the handshake completed (the server's Finished verified, our
    /// Finished sent, every fragment of it answered) but without RFC 9190's protected success
    /// indication (one 0x00 octet of application data), the server is taken to be draft-era
    /// and the MSK is TLS-Exporter("client EAP encryption", empty context, 128)[0..64]. With
    /// the indication, RFC 9190 as always; Success before the handshake completed is still
    /// `PrematureSuccess`. TLS 1.2 is not affected.
    ///
    /// Only for a caller that binds the MSK to something the server must prove: inside IKE
    /// (RFC 7296 §2.16) the final AUTH payloads are keyed by the MSK, which only the TLS
    /// server that finished the handshake can derive, so a forged or early Success (an
    /// attacker who cannot complete TLS) fails there. Standalone EAP has no such binding,
    /// hence `false` by default.
    pub draft_tls13_compat: bool,
}

impl TlsPeerConfig {
    /// TLS 1.2 to 1.3, [`DEFAULT_FRAGMENT_SIZE`], no key log, RFC 9190 only (no draft-era
    /// compatibility).
    pub fn new(
        identity: Arc<Identity>,
        verifier: Arc<dyn PeerVerifier>,
        server_id: IdRepr,
    ) -> Self {
        Self {
            identity,
            verifier,
            server_id,
            min_version: TlsVersion::V1_2,
            max_version: TlsVersion::V1_3,
            fragment_size: DEFAULT_FRAGMENT_SIZE,
            key_log: None,
            draft_tls13_compat: false,
        }
    }
}

/// The authenticator (server) side of EAP-TLS: a client certificate is always required.
#[derive(Debug, Clone)]
pub struct TlsServerConfig {
    /// Our server certificate and key.
    pub identity: Arc<Identity>,
    /// Checks the client's chain; the EAP identity the client gave must be in its certificate
    /// (a SAN as for an IKE ID, or the subject common name).
    pub verifier: Arc<dyn PeerVerifier>,
    /// Lowest TLS version we accept.
    pub min_version: TlsVersion,
    /// Highest TLS version we accept.
    pub max_version: TlsVersion,
    /// TLS bytes per EAP-Request we send.
    pub fragment_size: usize,
    /// Where to log TLS secrets (for Wireshark); `None`: nowhere.
    pub key_log: Option<Arc<dyn TlsKeyLog>>,
    /// Speak draft-era EAP-TLS 1.3 to draft-era peers (strongSwan 5.9.2 to 5.9.9 clients):
    /// under TLS 1.3, EAP-Success follows the client's Finished with no protected success
    /// indication, and the MSK is TLS-Exporter("client EAP encryption", empty context,
    /// 128)[0..64]. An RFC 9190 peer refuses that Success (`PrematureSuccess`) unless it runs
    /// with [`TlsPeerConfig::draft_tls13_compat`]. TLS 1.2 is not affected. Default `false`.
    pub draft_tls13: bool,
}

impl TlsServerConfig {
    /// TLS 1.2 to 1.3, [`DEFAULT_FRAGMENT_SIZE`], no key log, RFC 9190.
    pub fn new(identity: Arc<Identity>, verifier: Arc<dyn PeerVerifier>) -> Self {
        Self {
            identity,
            verifier,
            min_version: TlsVersion::V1_2,
            max_version: TlsVersion::V1_3,
            fragment_size: DEFAULT_FRAGMENT_SIZE,
            key_log: None,
            draft_tls13: false,
        }
    }
}
