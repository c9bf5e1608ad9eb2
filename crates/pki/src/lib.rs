//! Certificates, private keys and IKEv2 signature authentication for ikeway.
//!
//! What IKE_AUTH needs when a side proves itself with a certificate rather than a PSK:
//!
//! - [`Identity`]: our private key and certificate chain (PEM files or PKCS#12), and
//!   [`Identity::sign_auth`], the AUTH payload by RFC 7427 Digital Signature (method 14) or
//!   a classic method (ECDSA 9-11, RFC 4754).
//! - [`Validator`]: whether a peer's chain is acceptable (path to the configured anchors,
//!   validity at a time given by the caller, basic constraints, key usage and EKU, CRLs, the
//!   peer's ID in the certificate, Apple's common-name checks), returning the peer's
//!   [`PublicKey`], whose [`PublicKey::verify_auth`] checks its AUTH payload.
//! - [`PeerVerifier`]: the `Validator` with a clock, as the sans-IO state machine calls it.
//!
//! The crate reads no clock and does no I/O: callers pass bytes and the time.
//!
//! ```
//! use ikeway_codec::{IdRepr, IdValue};
//! use ikeway_pki::{
//!     Identity, Purpose, SignatureHash, UnixTime, Validator, certificates_from_pem_or_der,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let (ca_pem, server_pem, server_key_pem) = {
//! #     use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
//! #     let ca_key = KeyPair::generate()?;
//! #     let mut ca = CertificateParams::new(Vec::<String>::new())?;
//! #     ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
//! #     let ca_cert = ca.self_signed(&ca_key)?;
//! #     let key = KeyPair::generate()?;
//! #     let server = CertificateParams::new(vec!["vpn.example.com".to_owned()])?
//! #         .signed_by(&key, &Issuer::new(ca, ca_key))?;
//! #     (ca_cert.pem(), server.pem(), key.serialize_pem())
//! # };
//! // The server: its key and certificate, and its AUTH signature over the signed octets
//! // (RFC 7296 §2.15), with a hash the client announced.
//! let server = Identity::from_pem_files_content(server_key_pem.as_bytes(), server_pem.as_bytes())?;
//! let octets = b"the octets RFC 7296 section 2.15 says to sign";
//! let (method, auth) = server.sign_auth(octets, Some(&[SignatureHash::Sha256]))?;
//!
//! // The client: the server's chain as received, validated for the ID it claims, at a time
//! // the caller read from its clock; then the AUTH payload with the certificate's key.
//! let anchors = certificates_from_pem_or_der(ca_pem.as_bytes())?;
//! let validator = Validator::new(anchors, Purpose::Server);
//! let peer_id = IdRepr::from_value(IdValue::Fqdn("vpn.example.com"));
//! let key = validator.verify(server.chain(), &peer_id, UnixTime::now(), &[])?;
//! key.verify_auth(method, &auth, octets)?;
//! # Ok(())
//! # }
//! ```
//!
//! Parsing uses `x509-parser`, path building `rustls-webpki`, signatures `aws-lc-rs` (see
//! `docs/ARCHITECTURE.md` for why).

#![forbid(unsafe_code)]

mod auth;
mod cert;
mod crl;
mod der;
mod error;
mod identity;
mod ikev1;
mod key;
mod validate;

pub use rustls_pki_types::UnixTime;

pub use auth::{SUPPORTED_SIGNATURE_HASHES, SignatureHash};
pub use cert::{Certificate, certificates_from_pem_or_der};
pub use crl::Crl;
pub use error::{CertFailure, PkiError};
pub use identity::Identity;
pub use key::{KeyKind, PrivateKey, PublicKey};
pub use validate::{FixedTime, PeerVerifier, Purpose, Revocation, Validator};

impl PublicKey {
    /// Checks an AUTH payload of method 1, 9, 10, 11 or 14 over `octets`; for 14 the hash in
    /// the AlgorithmIdentifier must be one of `SUPPORTED_SIGNATURE_HASHES` (never SHA-1).
    pub fn verify_auth(
        &self,
        method: ikeway_codec::AuthMethod,
        data: &[u8],
        octets: &[u8],
    ) -> Result<(), PkiError> {
        auth::verify_auth(self, method, data, octets)
    }

    /// Checks an IKEv1 SIG_I / SIG_R over `hash` (HASH_I or HASH_R taken as the digest, RFC
    /// 2409 §5.1, RFC 4754): ECDSA, or RSA (2048-8192 bits) with PKCS#1 v1.5 padding around
    /// the bare hash.
    pub fn verify_ikev1(&self, hash: &[u8], sig: &[u8]) -> Result<(), PkiError> {
        ikev1::verify(self, hash, sig)
    }
}
