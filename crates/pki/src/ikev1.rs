//! IKEv1 signatures (RFC 2409 §5.1, RFC 4754 for ECDSA): SIG_I / SIG_R sign the HASH_I /
//! HASH_R value itself, which is already the output of the negotiated hash, so the signature
//! takes it as the digest instead of hashing it again (what strongSwan does, checked against
//! its signatures in `crates/ikev1/tests/phase1_kat.rs`).
//!
//! - ECDSA: P-256 with a SHA-256 hash, P-384 with SHA-384, P-521 with SHA-512, the signature as
//!   r | s (aws-lc-rs).
//! - RSA (method 3 and XAUTHInitRSA): the bare hash in PKCS#1 v1.5 type 1 padding, without the
//!   DigestInfo a PKCS#1 signature normally wraps it in (RFC 2409 §5.1 signs HASH_I itself;
//!   strongSwan's and libreswan's IKEv1 do the same). aws-lc-rs only signs with a DigestInfo,
//!   so these go through RustCrypto's `rsa` (`Pkcs1v15Sign::new_unprefixed`), blinded with the
//!   OS RNG. RSASSA-PSS keys are refused: their certificate forbids PKCS#1 v1.5.

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};
use zeroize::Zeroizing;

use crate::error::PkiError;
use crate::key::{KeyKind, PrivateKey, PublicKey};

/// The hash lengths an IKEv1 phase 1 negotiates (SHA-1, SHA2-256/384/512: what
/// `ikeway-ikev1` offers and accepts). Anything else signed or checked as HASH_I/HASH_R is a
/// caller's mistake or a peer's trick, and is refused.
const PHASE1_HASH_LENGTHS: [usize; 4] = [20, 32, 48, 64];

/// RSA moduli we verify with, as for IKEv2 (aws-lc-rs's 2048-8192 bit algorithms): smaller
/// keys are breakable, larger ones make verification a CPU sink a peer chooses.
const RSA_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;

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
        KeyKind::RsaPss => {
            return Err(PkiError::Unsupported(
                "IKEv1 signatures with an RSASSA-PSS key (IKEv1 signs with PKCS#1 v1.5)",
            ));
        }
        _ => return Err(PkiError::Unsupported("IKEv1 signatures with Ed25519 keys")),
    })
}

/// The digest form of a HASH_I/HASH_R; its length must be the curve's hash length (a SHA1
/// phase 1 hash with P-256 is refused: RFC 4754 binds each curve to its hash).
fn as_digest(hash: &[u8], alg: &'static digest::Algorithm) -> Result<Digest, PkiError> {
    Digest::import_less_safe(hash, alg).map_err(|_| PkiError::HashNotAllowed)
}

fn phase1_hash(hash: &[u8]) -> Result<&[u8], PkiError> {
    if PHASE1_HASH_LENGTHS.contains(&hash.len()) { Ok(hash) } else { Err(PkiError::HashNotAllowed) }
}

pub(crate) fn sign(key: &PrivateKey, kind: KeyKind, hash: &[u8]) -> Result<Vec<u8>, PkiError> {
    if kind == KeyKind::Rsa {
        return sign_rsa(key, phase1_hash(hash)?);
    }
    let (signing, _, alg) = algorithms(kind)?;
    let pair = key.ecdsa_pair(signing).ok_or(PkiError::AlgorithmMismatch)?;
    let sig = pair.sign_digest(&as_digest(hash, alg)?).map_err(|_| PkiError::SigningFailed)?;
    Ok(sig.as_ref().to_vec())
}

/// The key moves from aws-lc-rs to `rsa` as PKCS#8 for this one signature: the DER copy is
/// wiped when it goes, and `rsa`'s key wipes its own numbers on drop.
fn sign_rsa(key: &PrivateKey, hash: &[u8]) -> Result<Vec<u8>, PkiError> {
    let pair = key.rsa_pair().ok_or(PkiError::AlgorithmMismatch)?;
    let pkcs8 = pair.as_der().map_err(|_| PkiError::MalformedKey)?;
    let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
    let key = RsaPrivateKey::from_pkcs8_der(&pkcs8).map_err(|_| PkiError::MalformedKey)?;
    key.sign(Pkcs1v15Sign::new_unprefixed(), hash).map_err(|_| PkiError::SigningFailed)
}

pub(crate) fn verify(key: &PublicKey, hash: &[u8], sig: &[u8]) -> Result<(), PkiError> {
    if key.kind() == KeyKind::Rsa {
        return verify_rsa(key, phase1_hash(hash)?, sig);
    }
    let (_, verification, alg) = algorithms(key.kind())?;
    UnparsedPublicKey::new(verification, key.key_bytes())
        .verify_digest(&as_digest(hash, alg)?, sig)
        .map_err(|_| PkiError::BadSignature)
}

fn verify_rsa(key: &PublicKey, hash: &[u8], sig: &[u8]) -> Result<(), PkiError> {
    let bits = key.rsa_modulus_bits().ok_or(PkiError::MalformedCertificate)?;
    if !RSA_BITS.contains(&bits) {
        return Err(PkiError::Unsupported("RSA keys outside 2048-8192 bits"));
    }
    let rsa = RsaPublicKey::from_pkcs1_der(key.key_bytes())
        .map_err(|_| PkiError::MalformedCertificate)?;
    rsa.verify(Pkcs1v15Sign::new_unprefixed(), hash, sig).map_err(|_| PkiError::BadSignature)
}
