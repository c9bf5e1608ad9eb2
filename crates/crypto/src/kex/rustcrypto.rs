//! The pure-Rust backend: x25519-dalek for Curve25519, the RustCrypto `p256`/`p384` crates for
//! the NIST curves. Slower than aws-lc-rs here, but needs no C toolchain. All three wipe their
//! secret scalars and shared secrets on drop.

use p256::elliptic_curve::sec1::ToEncodedPoint;

use super::{KexGroup, ecp_sec1_uncompressed};
use crate::error::CryptoError;
use crate::secret::SecretBytes;

pub(crate) enum RustCryptoKey {
    X25519 { private: x25519_dalek::StaticSecret, public: [u8; 32] },
    P256 { private: p256::SecretKey, public: Vec<u8> },
    P384 { private: p384::SecretKey, public: Vec<u8> },
}

impl RustCryptoKey {
    /// The caller has checked the length of `private`.
    pub(crate) fn from_private(group: KexGroup, private: &[u8]) -> Result<Self, CryptoError> {
        match group {
            KexGroup::Curve25519 => {
                let bytes: [u8; 32] =
                    private.try_into().map_err(|_| CryptoError::InvalidPrivateKey)?;
                let private = x25519_dalek::StaticSecret::from(bytes);
                let public = x25519_dalek::PublicKey::from(&private).to_bytes();
                Ok(Self::X25519 { private, public })
            }
            KexGroup::Ecp256 => {
                // `from_slice` rejects zero and values at or above the group order.
                let private = p256::SecretKey::from_slice(private)
                    .map_err(|_| CryptoError::InvalidPrivateKey)?;
                let public = ecp_public(private.public_key().to_encoded_point(false).as_bytes());
                Ok(Self::P256 { private, public })
            }
            KexGroup::Ecp384 => {
                let private = p384::SecretKey::from_slice(private)
                    .map_err(|_| CryptoError::InvalidPrivateKey)?;
                let public = ecp_public(private.public_key().to_encoded_point(false).as_bytes());
                Ok(Self::P384 { private, public })
            }
            _ => Err(CryptoError::Unsupported),
        }
    }

    pub(crate) fn public(&self) -> &[u8] {
        match self {
            Self::X25519 { public, .. } => public,
            Self::P256 { public, .. } | Self::P384 { public, .. } => public,
        }
    }

    /// The caller has checked the peer value's length.
    pub(crate) fn shared_secret(&self, peer: &[u8]) -> Result<SecretBytes, CryptoError> {
        match self {
            Self::X25519 { private, .. } => {
                let peer: [u8; 32] =
                    peer.try_into().map_err(|_| CryptoError::InvalidPublicValue)?;
                let shared = private.diffie_hellman(&x25519_dalek::PublicKey::from(peer));
                // The all-zero check (RFC 7748 §6.1) is the caller's, common to both backends.
                Ok(SecretBytes::from_slice(shared.as_bytes()))
            }
            Self::P256 { private, .. } => {
                // `from_sec1_bytes` checks that the point is on the curve (RFC 6989 §2.3).
                let peer = p256::PublicKey::from_sec1_bytes(&ecp_sec1_uncompressed(peer))
                    .map_err(|_| CryptoError::InvalidPublicValue)?;
                let shared =
                    p256::ecdh::diffie_hellman(private.to_nonzero_scalar(), peer.as_affine());
                // RFC 5903 §7: the shared secret is the x coordinate alone.
                Ok(SecretBytes::from_slice(shared.raw_secret_bytes()))
            }
            Self::P384 { private, .. } => {
                let peer = p384::PublicKey::from_sec1_bytes(&ecp_sec1_uncompressed(peer))
                    .map_err(|_| CryptoError::InvalidPublicValue)?;
                let shared =
                    p384::ecdh::diffie_hellman(private.to_nonzero_scalar(), peer.as_affine());
                Ok(SecretBytes::from_slice(shared.raw_secret_bytes()))
            }
        }
    }
}

/// x || y from the SEC1 uncompressed encoding 0x04 || x || y.
fn ecp_public(point: &[u8]) -> Vec<u8> {
    point[1..].to_vec()
}
