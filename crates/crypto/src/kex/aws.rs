//! The aws-lc-rs backend: X25519, P-256 and P-384 from AWS-LC.
//!
//! `agreement::PrivateKey::from_private_key` takes caller-supplied bytes, which is what makes
//! seeded runs reproducible (ring's `agreement` only takes its own sealed `SecureRandom`).
//! AWS-LC frees keys with `OPENSSL_free`, which cleanses the memory first, so the private key
//! is wiped on drop.

use aws_lc_rs::agreement::{self, Algorithm, PrivateKey, UnparsedPublicKey};

use super::{KexGroup, ecp_sec1_uncompressed};
use crate::error::CryptoError;
use crate::secret::SecretBytes;

pub(crate) struct AwsKey {
    private: PrivateKey,
    /// The IKE encoding: X25519's u-coordinate, or x || y for the NIST curves (RFC 5903 §7).
    public: Vec<u8>,
}

fn algorithm(group: KexGroup) -> Result<&'static Algorithm, CryptoError> {
    match group {
        KexGroup::Curve25519 => Ok(&agreement::X25519),
        KexGroup::Ecp256 => Ok(&agreement::ECDH_P256),
        KexGroup::Ecp384 => Ok(&agreement::ECDH_P384),
        _ => Err(CryptoError::Unsupported),
    }
}

impl AwsKey {
    /// `private` is the 32-byte X25519 scalar or the big-endian ECDH scalar in `[1, n - 1]`;
    /// the caller has checked the length.
    pub(crate) fn from_private(group: KexGroup, private: &[u8]) -> Result<Self, CryptoError> {
        let private = PrivateKey::from_private_key(algorithm(group)?, private)
            .map_err(|_| CryptoError::InvalidPrivateKey)?;
        let public = private.compute_public_key().map_err(|_| CryptoError::InvalidPrivateKey)?;
        let public = match group {
            KexGroup::Curve25519 => public.as_ref().to_vec(),
            // aws-lc-rs gives the SEC1 uncompressed form 0x04 || x || y; IKE drops the 0x04.
            _ => public.as_ref()[1..].to_vec(),
        };
        Ok(Self { private, public })
    }

    pub(crate) fn public(&self) -> &[u8] {
        &self.public
    }

    /// The caller has checked the peer value's length.
    pub(crate) fn shared_secret(
        &self,
        group: KexGroup,
        peer: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        let alg = algorithm(group)?;
        // AWS-LC parses the point and rejects one not on the curve (RFC 6989 §2.3); for X25519
        // it fails an all-zero result (RFC 7748 §6.1), which the caller checks again.
        let agree = |peer_bytes: &[u8]| {
            agreement::agree(
                &self.private,
                UnparsedPublicKey::new(alg, peer_bytes),
                CryptoError::InvalidPublicValue,
                |secret| Ok(SecretBytes::from_slice(secret)),
            )
        };
        match group {
            KexGroup::Curve25519 => agree(peer),
            _ => agree(&ecp_sec1_uncompressed(peer)),
        }
    }
}
