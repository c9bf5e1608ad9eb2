//! The aws-lc-rs backend: ML-KEM from AWS-LC.
//!
//! aws-lc-rs draws the randomness of key generation and encapsulation from AWS-LC's own DRBG
//! and has no way to pass caller bytes in, so this backend is not reproducible from a seed
//! (the exception documented in the module above). AWS-LC frees keys with `OPENSSL_free`,
//! which cleanses the memory first; aws-lc-rs wipes its `SharedSecret` on drop.

use aws_lc_rs::kem::{
    Algorithm, AlgorithmId, Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_768, ML_KEM_1024,
};

use super::KemAlgorithm;
use crate::error::CryptoError;
use crate::secret::SecretBytes;

fn algorithm(alg: KemAlgorithm) -> &'static Algorithm<AlgorithmId> {
    match alg {
        KemAlgorithm::MlKem768 => &ML_KEM_768,
        KemAlgorithm::MlKem1024 => &ML_KEM_1024,
    }
}

pub(crate) struct AwsDecapsulator {
    key: DecapsulationKey<AlgorithmId>,
}

impl AwsDecapsulator {
    /// A fresh key pair; returns it with its encapsulation key bytes.
    pub(crate) fn generate(alg: KemAlgorithm) -> Result<(Self, Vec<u8>), CryptoError> {
        let key =
            DecapsulationKey::generate(algorithm(alg)).map_err(|_| CryptoError::Unsupported)?;
        let ek = key
            .encapsulation_key()
            .and_then(|ek| ek.key_bytes())
            .map_err(|_| CryptoError::Unsupported)?;
        Ok((Self { key }, ek.as_ref().to_vec()))
    }

    /// An expanded decapsulation key (FIPS 203 `dk`); the caller has checked its length and
    /// validated it.
    pub(crate) fn from_expanded(alg: KemAlgorithm, dk: &[u8]) -> Result<Self, CryptoError> {
        let key = DecapsulationKey::new(algorithm(alg), dk)
            .map_err(|_| CryptoError::InvalidPrivateKey)?;
        Ok(Self { key })
    }

    /// The caller has checked the ciphertext's length; AWS-LC then returns the
    /// implicit-rejection key for a wrong one (FIPS 203 §6.3), never an error.
    pub(crate) fn decapsulate(&self, ciphertext: &[u8]) -> Result<SecretBytes, CryptoError> {
        let shared = self
            .key
            .decapsulate(Ciphertext::from(ciphertext))
            .map_err(|_| CryptoError::InvalidPublicValue)?;
        Ok(SecretBytes::from_slice(shared.as_ref()))
    }
}

/// Encapsulates to `ek`, whose length and modulus the caller has checked.
pub(crate) fn encapsulate(
    alg: KemAlgorithm,
    ek: &[u8],
) -> Result<(Vec<u8>, SecretBytes), CryptoError> {
    let ek =
        EncapsulationKey::new(algorithm(alg), ek).map_err(|_| CryptoError::InvalidPublicValue)?;
    let (ct, shared) = ek.encapsulate().map_err(|_| CryptoError::InvalidPublicValue)?;
    Ok((ct.as_ref().to_vec(), SecretBytes::from_slice(shared.as_ref())))
}
