//! Truncated HMAC integrity transforms (RFC 2404, RFC 4595, RFC 4868).

use core::fmt;

use crate::CryptoError;
use crate::keyed_hmac::{HmacHash, KeyedHmac};

/// An integrity transform (IANA "Transform Type 3").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Integrity {
    /// AUTH_HMAC_SHA1_96 (2), RFC 2404.
    HmacSha1_96,
    /// AUTH_HMAC_SHA1_160 (7), RFC 4595.
    HmacSha1_160,
    /// AUTH_HMAC_SHA2_256_128 (12), RFC 4868.
    HmacSha256_128,
    /// AUTH_HMAC_SHA2_384_192 (13), RFC 4868.
    HmacSha384_192,
    /// AUTH_HMAC_SHA2_512_256 (14), RFC 4868.
    HmacSha512_256,
}

impl Integrity {
    pub const ALL: [Integrity; 5] = [
        Self::HmacSha1_96,
        Self::HmacSha1_160,
        Self::HmacSha256_128,
        Self::HmacSha384_192,
        Self::HmacSha512_256,
    ];

    pub fn iana_id(self) -> u16 {
        match self {
            Self::HmacSha1_96 => 2,
            Self::HmacSha1_160 => 7,
            Self::HmacSha256_128 => 12,
            Self::HmacSha384_192 => 13,
            Self::HmacSha512_256 => 14,
        }
    }

    pub fn from_iana_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.iana_id() == id)
    }

    /// Key length: the hash output length (RFC 4868 §2.1.1, RFC 2404 §3).
    pub fn key_len(self) -> usize {
        match self {
            Self::HmacSha1_96 | Self::HmacSha1_160 => 20,
            Self::HmacSha256_128 => 32,
            Self::HmacSha384_192 => 48,
            Self::HmacSha512_256 => 64,
        }
    }

    /// Length of the transmitted (truncated) ICV.
    pub fn icv_len(self) -> usize {
        match self {
            Self::HmacSha1_96 => 12,
            Self::HmacSha1_160 => 20,
            Self::HmacSha256_128 => 16,
            Self::HmacSha384_192 => 24,
            Self::HmacSha512_256 => 32,
        }
    }

    /// Prepares a key for repeated use; the HMAC inner and outer pads are computed once here.
    pub fn key(self, key: &[u8]) -> Result<IntegrityKey, CryptoError> {
        if key.len() != self.key_len() {
            return Err(CryptoError::KeyLength { expected: self.key_len(), got: key.len() });
        }
        let hash = match self {
            Self::HmacSha1_96 | Self::HmacSha1_160 => HmacHash::Sha1,
            Self::HmacSha256_128 => HmacHash::Sha256,
            Self::HmacSha384_192 => HmacHash::Sha384,
            Self::HmacSha512_256 => HmacHash::Sha512,
        };
        Ok(IntegrityKey { algorithm: self, state: KeyedHmac::new(hash, key) })
    }
}

/// A keyed integrity transform. The key schedule lives inside the HMAC states, which wipe
/// themselves on drop (the `zeroize` feature of `hmac`).
#[derive(Clone)]
pub struct IntegrityKey {
    algorithm: Integrity,
    state: KeyedHmac,
}

impl fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntegrityKey").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl IntegrityKey {
    pub fn algorithm(&self) -> Integrity {
        self.algorithm
    }

    pub fn icv_len(&self) -> usize {
        self.algorithm.icv_len()
    }

    /// Computes the truncated ICV over `parts` concatenated, into `icv`.
    pub fn compute(&self, parts: &[&[u8]], icv: &mut [u8]) -> Result<(), CryptoError> {
        let n = self.icv_len();
        if icv.len() != n {
            return Err(CryptoError::IcvLength { expected: n, got: icv.len() });
        }
        // No ICV is longer than its hash's output, so all of `icv` is written.
        self.state.mac_into(parts, icv);
        Ok(())
    }

    /// Checks `icv` against the MAC of `parts`, in constant time.
    pub fn verify(&self, parts: &[&[u8]], icv: &[u8]) -> Result<(), CryptoError> {
        if icv.len() != self.icv_len() {
            return Err(CryptoError::IcvLength { expected: self.icv_len(), got: icv.len() });
        }
        if self.state.verify_truncated(parts, icv) {
            Ok(())
        } else {
            Err(CryptoError::Authentication)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_key_length() {
        let err = Integrity::HmacSha256_128.key(&[0; 31]).unwrap_err();
        assert_eq!(err, CryptoError::KeyLength { expected: 32, got: 31 });
    }

    #[test]
    fn verify_accepts_own_icv_and_rejects_flipped_bit() {
        for alg in Integrity::ALL {
            let key = alg.key(&vec![7; alg.key_len()]).unwrap();
            let mut icv = vec![0; alg.icv_len()];
            key.compute(&[b"hello ", b"world"], &mut icv).unwrap();
            key.verify(&[b"hello world"], &icv).unwrap();
            icv[0] ^= 1;
            assert_eq!(key.verify(&[b"hello world"], &icv), Err(CryptoError::Authentication));
        }
    }

    #[test]
    fn debug_hides_key() {
        let key = Integrity::HmacSha1_96.key(&[0xab; 20]).unwrap();
        assert_eq!(format!("{key:?}"), "IntegrityKey { algorithm: HmacSha1_96, .. }");
    }
}
