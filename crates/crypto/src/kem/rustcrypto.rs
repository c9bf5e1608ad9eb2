//! The pure-Rust backend: RustCrypto `ml-kem`. Deterministic from caller-supplied bytes
//! (FIPS 203 `ML-KEM.KeyGen_internal(d, z)` and `ML-KEM.Encaps_internal(ek, m)`), which is what
//! makes seeded runs and the known-answer tests reproducible. `ml-kem` wipes its decapsulation
//! key on drop (its `zeroize` feature); the shared keys it returns are copied into
//! [`SecretBytes`] and the copies wiped here.

use ml_kem::array::Array;
use ml_kem::{Decapsulate, KeyExport, MlKem768, MlKem1024};
use zeroize::{Zeroize, Zeroizing};

use super::KemAlgorithm;
use crate::error::CryptoError;
use crate::secret::SecretBytes;

pub(crate) enum RustCryptoDecapsulator {
    MlKem768(Box<ml_kem::DecapsulationKey<MlKem768>>),
    MlKem1024(Box<ml_kem::DecapsulationKey<MlKem1024>>),
}

/// Moves an `ml-kem` shared key into a [`SecretBytes`] and wipes the original.
fn take_shared(mut shared: ml_kem::SharedKey) -> SecretBytes {
    let secret = SecretBytes::from_slice(shared.as_slice());
    shared.as_mut_slice().zeroize();
    secret
}

impl RustCryptoDecapsulator {
    /// `seed` is d || z, 64 bytes (the caller checked).
    pub(crate) fn from_seed(alg: KemAlgorithm, seed: &[u8]) -> Result<Self, CryptoError> {
        let mut seed: ml_kem::Seed =
            Array::try_from(seed).map_err(|_| CryptoError::InvalidPrivateKey)?;
        let key = match alg {
            KemAlgorithm::MlKem768 => {
                Self::MlKem768(Box::new(ml_kem::DecapsulationKey::from_seed(seed)))
            }
            KemAlgorithm::MlKem1024 => {
                Self::MlKem1024(Box::new(ml_kem::DecapsulationKey::from_seed(seed)))
            }
        };
        seed.as_mut_slice().zeroize();
        Ok(key)
    }

    /// FIPS 203 §7.3 input checks on an expanded decapsulation key (the hash of the embedded
    /// encapsulation key must match) are done by `ml-kem`; the caller checked the length.
    #[allow(deprecated)] // the expanded form is what the ACVP vectors and other stacks store
    pub(crate) fn from_expanded(alg: KemAlgorithm, dk: &[u8]) -> Result<Self, CryptoError> {
        match alg {
            KemAlgorithm::MlKem768 => {
                let dk = Zeroizing::new(
                    Array::try_from(dk).map_err(|_| CryptoError::InvalidPrivateKey)?,
                );
                let key = ml_kem::DecapsulationKey::<MlKem768>::from_expanded(&dk)
                    .map_err(|_| CryptoError::InvalidPrivateKey)?;
                Ok(Self::MlKem768(Box::new(key)))
            }
            KemAlgorithm::MlKem1024 => {
                let dk = Zeroizing::new(
                    Array::try_from(dk).map_err(|_| CryptoError::InvalidPrivateKey)?,
                );
                let key = ml_kem::DecapsulationKey::<MlKem1024>::from_expanded(&dk)
                    .map_err(|_| CryptoError::InvalidPrivateKey)?;
                Ok(Self::MlKem1024(Box::new(key)))
            }
        }
    }

    pub(crate) fn encapsulation_key(&self) -> Vec<u8> {
        match self {
            Self::MlKem768(k) => k.encapsulation_key().to_bytes().to_vec(),
            Self::MlKem1024(k) => k.encapsulation_key().to_bytes().to_vec(),
        }
    }

    /// The caller has checked the ciphertext's length. Never fails for a well-sized one: a
    /// wrong ciphertext gives the implicit-rejection key (FIPS 203 §6.3).
    pub(crate) fn decapsulate(&self, ciphertext: &[u8]) -> Result<SecretBytes, CryptoError> {
        let shared = match self {
            Self::MlKem768(k) => {
                let ct =
                    Array::try_from(ciphertext).map_err(|_| CryptoError::InvalidPublicValue)?;
                k.decapsulate(&ct)
            }
            Self::MlKem1024(k) => {
                let ct =
                    Array::try_from(ciphertext).map_err(|_| CryptoError::InvalidPublicValue)?;
                k.decapsulate(&ct)
            }
        };
        Ok(take_shared(shared))
    }
}

/// FIPS 203 `ML-KEM.Encaps_internal(ek, m)`: the caller has checked the length and modulus of
/// `ek` and supplies the 32 random bytes `m`.
pub(crate) fn encapsulate(
    alg: KemAlgorithm,
    ek: &[u8],
    m: &[u8; 32],
) -> Result<(Vec<u8>, SecretBytes), CryptoError> {
    let m = Zeroizing::new(Array::from(*m));
    let (ct, shared) = match alg {
        KemAlgorithm::MlKem768 => {
            let ek = Array::try_from(ek).map_err(|_| CryptoError::InvalidPublicValue)?;
            let ek = ml_kem::EncapsulationKey::<MlKem768>::new(&ek)
                .map_err(|_| CryptoError::InvalidPublicValue)?;
            let (ct, k) = ek.encapsulate_deterministic(&m);
            (ct.to_vec(), k)
        }
        KemAlgorithm::MlKem1024 => {
            let ek = Array::try_from(ek).map_err(|_| CryptoError::InvalidPublicValue)?;
            let ek = ml_kem::EncapsulationKey::<MlKem1024>::new(&ek)
                .map_err(|_| CryptoError::InvalidPublicValue)?;
            let (ct, k) = ek.encapsulate_deterministic(&m);
            (ct.to_vec(), k)
        }
    };
    Ok((ct, take_shared(shared)))
}
