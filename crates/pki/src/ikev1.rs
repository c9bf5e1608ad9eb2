//! IKEv1 signatures (RFC 2409 §5.1, RFC 4754 for ECDSA): SIG_I / SIG_R sign the HASH_I /
//! HASH_R value itself, which is already the output of the negotiated hash, so the signature
//! takes it as the digest instead of hashing it again (what strongSwan does, checked against
//! its signatures in `crates/ikev1/tests/phase1_kat.rs`). ECDSA only: P-256 with a SHA-256
//! hash, P-384 with SHA-384, P-521 with SHA-512, the signature as r | s. RSA (method 3) signs
//! the bare hash with PKCS#1 v1.5 padding and no DigestInfo, which aws-lc-rs does not make.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::signature::{self, UnparsedPublicKey};

use crate::error::PkiError;
use crate::key::{KeyKind, PrivateKey, PublicKey};

/// The curve's signing and verification algorithms and the digest length it takes.
fn algorithms(
    kind: KeyKind,
) -> Result<
    (
        &'static signature::EcdsaSigningAlgorithm,
        &'static signature::EcdsaVerificationAlgorithm,
        &'static digest::Algorithm,
    ),
    PkiError,
> {
    use signature as s;
    Ok(match kind {
        KeyKind::EcdsaP256 => {
            (&s::ECDSA_P256_SHA256_FIXED_SIGNING, &s::ECDSA_P256_SHA256_FIXED, &digest::SHA256)
        }
        KeyKind::EcdsaP384 => {
            (&s::ECDSA_P384_SHA384_FIXED_SIGNING, &s::ECDSA_P384_SHA384_FIXED, &digest::SHA384)
        }
        KeyKind::EcdsaP521 => {
            (&s::ECDSA_P521_SHA512_FIXED_SIGNING, &s::ECDSA_P521_SHA512_FIXED, &digest::SHA512)
        }
        _ => return Err(PkiError::Unsupported("IKEv1 signatures with keys other than ECDSA")),
    })
}

/// The digest form of a HASH_I/HASH_R; its length must be the curve's hash length (a SHA1
/// phase 1 hash with P-256 is refused: RFC 4754 binds each curve to its hash).
fn as_digest(hash: &[u8], alg: &'static digest::Algorithm) -> Result<Digest, PkiError> {
    Digest::import_less_safe(hash, alg).map_err(|_| PkiError::HashNotAllowed)
}

pub(crate) fn sign(key: &PrivateKey, kind: KeyKind, hash: &[u8]) -> Result<Vec<u8>, PkiError> {
    let (signing, _, alg) = algorithms(kind)?;
    let pair = key.ecdsa_pair(signing).ok_or(PkiError::AlgorithmMismatch)?;
    let sig = pair.sign_digest(&as_digest(hash, alg)?).map_err(|_| PkiError::SigningFailed)?;
    Ok(sig.as_ref().to_vec())
}

pub(crate) fn verify(key: &PublicKey, hash: &[u8], sig: &[u8]) -> Result<(), PkiError> {
    let (_, verification, alg) = algorithms(key.kind())?;
    UnparsedPublicKey::new(verification, key.key_bytes())
        .verify_digest(&as_digest(hash, alg)?, sig)
        .map_err(|_| PkiError::BadSignature)
}
