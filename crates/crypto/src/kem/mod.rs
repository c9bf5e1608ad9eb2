//! ML-KEM (FIPS 203) as an IKEv2 key exchange method: ML-KEM-768 (36) and ML-KEM-1024 (37),
//! draft-ietf-ipsecme-ikev2-mlkem, used in additional key exchanges (RFC 9370).
//!
//! A KEM is asymmetric where Diffie-Hellman is not: the side that speaks first (the initiator,
//! or whoever starts a CREATE_CHILD_SA) makes a key pair and sends the encapsulation key
//! ([`KemDecapsulator::generate`], [`KemDecapsulator::encapsulation_key`]); the other side
//! encapsulates to it ([`encapsulate`]) and sends the ciphertext back with the shared secret
//! kept; the first side decapsulates ([`KemDecapsulator::decapsulate`]).
//!
//! Peer input is checked as FIPS 203 §7.2/§7.3 ask:
//! - exact lengths: encapsulation key 1184 / 1568 bytes, ciphertext 1088 / 1568 bytes
//!   ([`CryptoError::PublicValueLength`]);
//! - the encapsulation-key modulus check: every 12-bit coefficient below q = 3329
//!   ([`CryptoError::InvalidPublicValue`]), done here for both backends;
//! - decapsulation of a well-sized but wrong ciphertext is not an error: it gives the
//!   implicit-rejection secret (FIPS 203 §6.3), so a tampered ciphertext surfaces later as
//!   keys that do not match (in IKE: an AUTH that fails).
//!
//! Backends ([`KexBackend`]): aws-lc-rs (the default, measured faster, `docs/PERFORMANCE.md`)
//! and RustCrypto `ml-kem`. Both give interoperable values (tests cross them), but only the
//! RustCrypto one is deterministic from caller bytes: aws-lc-rs takes key-generation and
//! encapsulation randomness from AWS-LC's own DRBG, so with it the `rng` argument is not
//! drawn from and a seeded run is not reproducible byte for byte. Tests that need
//! reproducibility, and the known-answer tests, use [`KexBackend::RustCrypto`].
//!
//! ```
//! use ikeway_crypto::kem::{self, KemAlgorithm, KemDecapsulator};
//! use ikeway_crypto::KexBackend;
//!
//! let alg = KemAlgorithm::from_iana_id(36).unwrap();
//! let mut rng = |buf: &mut [u8]| buf.fill(7); // a real caller passes an OS or DRBG fill
//! for backend in KexBackend::ALL {
//!     let initiator = KemDecapsulator::generate(alg, backend, &mut rng).unwrap();
//!     assert_eq!(initiator.encapsulation_key().len(), 1184);
//!     let answer = kem::encapsulate(alg, backend, initiator.encapsulation_key(), &mut rng).unwrap();
//!     assert_eq!(answer.ciphertext.len(), 1088);
//!     let secret = initiator.decapsulate(&answer.ciphertext).unwrap();
//!     assert_eq!(secret.expose(), answer.shared_secret.expose());
//!     // A short ciphertext is an error, never a panic.
//!     assert!(initiator.decapsulate(&answer.ciphertext[1..]).is_err());
//! }
//! ```

mod aws;
mod rustcrypto;

use core::fmt;

use zeroize::Zeroizing;

use self::aws::AwsDecapsulator;
use self::rustcrypto::RustCryptoDecapsulator;
use crate::error::CryptoError;
use crate::kex::KexBackend;
use crate::secret::SecretBytes;

/// q, the ML-KEM modulus (FIPS 203 §2.4).
const Q: u16 = 3329;

/// An ML-KEM parameter set from the IKEv2 "Transform Type 4 - Key Exchange Method" registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KemAlgorithm {
    /// 36: ML-KEM-768 (FIPS 203 security category 3).
    MlKem768,
    /// 37: ML-KEM-1024 (FIPS 203 security category 5).
    MlKem1024,
}

impl KemAlgorithm {
    /// Every supported parameter set.
    pub const ALL: [KemAlgorithm; 2] = [Self::MlKem768, Self::MlKem1024];

    /// Length of the key-generation seed d || z (FIPS 203 `ML-KEM.KeyGen_internal`).
    pub const SEED_LEN: usize = 64;

    /// Length of the encapsulation randomness m (FIPS 203 `ML-KEM.Encaps_internal`).
    pub const ENCAPS_RANDOM_LEN: usize = 32;

    /// Length of the shared secret K, 32 for both parameter sets.
    pub const SHARED_SECRET_LEN: usize = 32;

    /// The Transform ID in the IANA key exchange method registry.
    pub fn iana_id(self) -> u16 {
        match self {
            Self::MlKem768 => 36,
            Self::MlKem1024 => 37,
        }
    }

    /// The parameter set for a Transform ID, or `None` if it is not an ML-KEM one.
    pub fn from_iana_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.iana_id() == id)
    }

    /// k, the module rank (FIPS 203 §8).
    fn rank(self) -> usize {
        match self {
            Self::MlKem768 => 3,
            Self::MlKem1024 => 4,
        }
    }

    /// Length of the encapsulation key, 384k + 32: what the first speaker's KE payload carries.
    pub fn encapsulation_key_len(self) -> usize {
        384 * self.rank() + 32
    }

    /// Length of the ciphertext: what the answering side's KE payload carries.
    pub fn ciphertext_len(self) -> usize {
        match self {
            Self::MlKem768 => 1088,
            Self::MlKem1024 => 1568,
        }
    }

    /// Length of an expanded decapsulation key, 768k + 96 (FIPS 203 §7.1).
    pub fn expanded_decapsulation_key_len(self) -> usize {
        768 * self.rank() + 96
    }

    /// FIPS 203 §7.2 "encapsulation key check": the exact length, then the modulus check
    /// (`ByteEncode12(ByteDecode12(ek[0:384k])) == ek[0:384k]`, i.e. every 12-bit value
    /// below q). The key is public, so this need not be constant time.
    pub fn check_encapsulation_key(self, ek: &[u8]) -> Result<(), CryptoError> {
        let expected = self.encapsulation_key_len();
        if ek.len() != expected {
            return Err(CryptoError::PublicValueLength { expected, got: ek.len() });
        }
        let canonical = ek[..384 * self.rank()].chunks_exact(3).all(|c| {
            let (b0, b1, b2) = (u16::from(c[0]), u16::from(c[1]), u16::from(c[2]));
            let low = b0 | ((b1 & 0x0f) << 8);
            let high = (b1 >> 4) | (b2 << 4);
            low < Q && high < Q
        });
        if canonical { Ok(()) } else { Err(CryptoError::InvalidPublicValue) }
    }
}

impl fmt::Display for KemAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MlKem768 => "mlkem768",
            Self::MlKem1024 => "mlkem1024",
        })
    }
}

/// The first speaker's side of an ML-KEM exchange: the decapsulation key (wiped on drop, never
/// printed) and the encapsulation key to send.
pub struct KemDecapsulator {
    alg: KemAlgorithm,
    backend: KexBackend,
    key: Decapsulator,
    encapsulation_key: Vec<u8>,
}

enum Decapsulator {
    Aws(AwsDecapsulator),
    RustCrypto(RustCryptoDecapsulator),
}

impl KemDecapsulator {
    /// A fresh key pair. With [`KexBackend::RustCrypto`], the 64-byte seed d || z is drawn
    /// through `rng`, which must fill the whole buffer; aws-lc-rs uses AWS-LC's own DRBG and
    /// does not call `rng` (see the module documentation).
    pub fn generate(
        alg: KemAlgorithm,
        backend: KexBackend,
        rng: &mut dyn FnMut(&mut [u8]),
    ) -> Result<Self, CryptoError> {
        match backend {
            KexBackend::AwsLc => {
                let (key, encapsulation_key) = AwsDecapsulator::generate(alg)?;
                Ok(Self { alg, backend, key: Decapsulator::Aws(key), encapsulation_key })
            }
            KexBackend::RustCrypto => {
                let mut seed = Zeroizing::new([0u8; KemAlgorithm::SEED_LEN]);
                rng(seed.as_mut_slice());
                Self::from_seed(alg, seed.as_slice())
            }
        }
    }

    /// FIPS 203 `ML-KEM.KeyGen_internal(d, z)` with `seed` = d || z (64 bytes), on the
    /// RustCrypto backend (the only deterministic one). Other lengths are
    /// [`CryptoError::InvalidPrivateKey`].
    pub fn from_seed(alg: KemAlgorithm, seed: &[u8]) -> Result<Self, CryptoError> {
        if seed.len() != KemAlgorithm::SEED_LEN {
            return Err(CryptoError::InvalidPrivateKey);
        }
        let key = RustCryptoDecapsulator::from_seed(alg, seed)?;
        let encapsulation_key = key.encapsulation_key();
        Ok(Self {
            alg,
            backend: KexBackend::RustCrypto,
            key: Decapsulator::RustCrypto(key),
            encapsulation_key,
        })
    }

    /// A key from its expanded FIPS 203 encoding dk = dk_PKE || ek || H(ek) || z (the form
    /// the ACVP vectors and other stacks store), on either backend. The FIPS 203 §7.3 input
    /// checks apply: exact length, and H(ek) must match; otherwise
    /// [`CryptoError::InvalidPrivateKey`].
    pub fn from_expanded(
        alg: KemAlgorithm,
        backend: KexBackend,
        dk: &[u8],
    ) -> Result<Self, CryptoError> {
        if dk.len() != alg.expanded_decapsulation_key_len() {
            return Err(CryptoError::InvalidPrivateKey);
        }
        // `ml-kem` runs the hash check; aws-lc-rs only checks the length, so the RustCrypto
        // parse validates for both.
        let checked = RustCryptoDecapsulator::from_expanded(alg, dk)?;
        let encapsulation_key = checked.encapsulation_key();
        let key = match backend {
            KexBackend::AwsLc => Decapsulator::Aws(AwsDecapsulator::from_expanded(alg, dk)?),
            KexBackend::RustCrypto => Decapsulator::RustCrypto(checked),
        };
        Ok(Self { alg, backend, key, encapsulation_key })
    }

    pub fn algorithm(&self) -> KemAlgorithm {
        self.alg
    }

    pub fn backend(&self) -> KexBackend {
        self.backend
    }

    /// The encapsulation key to send: [`KemAlgorithm::encapsulation_key_len`] bytes.
    pub fn encapsulation_key(&self) -> &[u8] {
        &self.encapsulation_key
    }

    /// The shared secret from the peer's ciphertext.
    ///
    /// # Errors
    /// [`CryptoError::PublicValueLength`] if `ciphertext` is not
    /// [`KemAlgorithm::ciphertext_len`] bytes. A well-sized but wrong ciphertext is *not* an
    /// error: it gives the implicit-rejection secret, unrelated to the peer's (FIPS 203 §6.3).
    pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<SecretBytes, CryptoError> {
        let expected = self.alg.ciphertext_len();
        if ciphertext.len() != expected {
            return Err(CryptoError::PublicValueLength { expected, got: ciphertext.len() });
        }
        match &self.key {
            Decapsulator::Aws(k) => k.decapsulate(ciphertext),
            Decapsulator::RustCrypto(k) => k.decapsulate(ciphertext),
        }
    }
}

impl fmt::Debug for KemDecapsulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KemDecapsulator")
            .field("algorithm", &self.alg)
            .field("backend", &self.backend)
            .field("decapsulation_key", &"redacted")
            .finish_non_exhaustive()
    }
}

/// The answering side's result: the ciphertext to send and the shared secret to keep.
#[derive(Debug)]
pub struct KemEncapsulation {
    pub ciphertext: Vec<u8>,
    pub shared_secret: SecretBytes,
}

/// Encapsulates to the peer's encapsulation key. With [`KexBackend::RustCrypto`] the 32 random
/// bytes m are drawn through `rng`; aws-lc-rs uses its own DRBG.
///
/// # Errors
/// [`CryptoError::PublicValueLength`] for a key of the wrong length,
/// [`CryptoError::InvalidPublicValue`] for one that fails the modulus check.
pub fn encapsulate(
    alg: KemAlgorithm,
    backend: KexBackend,
    encapsulation_key: &[u8],
    rng: &mut dyn FnMut(&mut [u8]),
) -> Result<KemEncapsulation, CryptoError> {
    alg.check_encapsulation_key(encapsulation_key)?;
    let (ciphertext, shared_secret) = match backend {
        KexBackend::AwsLc => aws::encapsulate(alg, encapsulation_key)?,
        KexBackend::RustCrypto => {
            let mut m = Zeroizing::new([0u8; KemAlgorithm::ENCAPS_RANDOM_LEN]);
            rng(m.as_mut_slice());
            rustcrypto::encapsulate(alg, encapsulation_key, &m)?
        }
    };
    Ok(KemEncapsulation { ciphertext, shared_secret })
}

/// FIPS 203 `ML-KEM.Encaps_internal(ek, m)` with the given 32 bytes m (RustCrypto backend):
/// for known-answer tests and seeded runs. The same input checks as [`encapsulate`].
pub fn encapsulate_deterministic(
    alg: KemAlgorithm,
    encapsulation_key: &[u8],
    m: &[u8; KemAlgorithm::ENCAPS_RANDOM_LEN],
) -> Result<KemEncapsulation, CryptoError> {
    alg.check_encapsulation_key(encapsulation_key)?;
    let (ciphertext, shared_secret) = rustcrypto::encapsulate(alg, encapsulation_key, m)?;
    Ok(KemEncapsulation { ciphertext, shared_secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_ids_and_lengths() {
        assert_eq!(KemAlgorithm::from_iana_id(36), Some(KemAlgorithm::MlKem768));
        assert_eq!(KemAlgorithm::from_iana_id(37), Some(KemAlgorithm::MlKem1024));
        assert_eq!(KemAlgorithm::from_iana_id(35), None);
        assert_eq!(KemAlgorithm::from_iana_id(31), None);
        assert_eq!(KemAlgorithm::MlKem768.encapsulation_key_len(), 1184);
        assert_eq!(KemAlgorithm::MlKem1024.encapsulation_key_len(), 1568);
        assert_eq!(KemAlgorithm::MlKem768.ciphertext_len(), 1088);
        assert_eq!(KemAlgorithm::MlKem1024.ciphertext_len(), 1568);
        assert_eq!(KemAlgorithm::MlKem768.expanded_decapsulation_key_len(), 2400);
        assert_eq!(KemAlgorithm::MlKem1024.expanded_decapsulation_key_len(), 3168);
    }

    #[test]
    fn modulus_check_rejects_a_coefficient_of_q() {
        let alg = KemAlgorithm::MlKem768;
        let key = KemDecapsulator::from_seed(alg, &[3; 64]).unwrap();
        let mut ek = key.encapsulation_key().to_vec();
        assert_eq!(alg.check_encapsulation_key(&ek), Ok(()));
        // Coefficient 1 of the first triple (high 12 bits) set to q = 3329 = 0xd01.
        ek[1] = (ek[1] & 0x0f) | 0x10;
        ek[2] = 0xd0;
        assert_eq!(alg.check_encapsulation_key(&ek), Err(CryptoError::InvalidPublicValue));
        // q - 1 passes.
        ek[1] &= 0x0f;
        ek[2] = 0xd0;
        assert_eq!(alg.check_encapsulation_key(&ek), Ok(()));
        // The seed rho (last 32 bytes) is not checked: any value is fine there.
        let len = ek.len();
        ek[len - 32..].fill(0xff);
        assert_eq!(alg.check_encapsulation_key(&ek), Ok(()));
    }

    #[test]
    fn wrong_ciphertext_gives_a_different_secret_not_an_error() {
        for alg in KemAlgorithm::ALL {
            for backend in KexBackend::ALL {
                let key = KemDecapsulator::generate(alg, backend, &mut |b| b.fill(5)).unwrap();
                let answer =
                    encapsulate(alg, backend, key.encapsulation_key(), &mut |b| b.fill(6)).unwrap();
                let mut tampered = answer.ciphertext.clone();
                tampered[alg.ciphertext_len() - 1] ^= 0x80;
                let rejected = key.decapsulate(&tampered).unwrap();
                assert_eq!(rejected.len(), 32);
                assert_ne!(rejected.expose(), answer.shared_secret.expose(), "{alg} {backend:?}");
                // The rejection secret is a function of the key and the ciphertext (J(z || c)),
                // not fresh randomness: the same ciphertext gives the same secret.
                assert_eq!(key.decapsulate(&tampered).unwrap().expose(), rejected.expose());
                let honest = key.decapsulate(&answer.ciphertext).unwrap();
                assert_eq!(honest.expose(), answer.shared_secret.expose());
            }
        }
    }

    #[test]
    fn debug_hides_decapsulation_key() {
        let key = KemDecapsulator::from_seed(KemAlgorithm::MlKem1024, &[0x42; 64]).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains("42, 42"));
    }
}
