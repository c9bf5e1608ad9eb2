//! IKEv2 AUTH signatures: RFC 7427 Digital Signature (method 14), RSA Digital Signature
//! (method 1, RFC 7296 §3.8) and ECDSA with fixed r||s (methods 9-11, RFC 4754 §3, §7).
//!
//! A method-14 AUTH payload's data is (RFC 7427 §3):
//! ```text
//! | ASN.1 Length  | AlgorithmIdentifier ASN.1 object (DER)         ~
//! ~                       Signature Value                           ~
//! ```

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use ikeway_codec::AuthMethod;

use crate::der::{self, tag};
use crate::error::PkiError;
use crate::key::{KeyKind, PrivateKey, PublicKey};

/// RFC 7427 §4 hash algorithm identifiers (the SIGNATURE_HASH_ALGORITHMS notify data is a list
/// of these as u16 big endian). Unknown values are kept as `Other(u16)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureHash {
    /// 1, SHA1 (never accepted by this crate).
    Sha1,
    /// 2, SHA2-256.
    Sha256,
    /// 3, SHA2-384.
    Sha384,
    /// 4, SHA2-512.
    Sha512,
    /// 5, Identity (RFC 8420: the message itself, for Ed25519).
    Identity,
    /// Any other registry value.
    Other(u16),
}

impl SignatureHash {
    /// From the registry value (IANA "IKEv2 Hash Algorithms").
    pub fn from_u16(value: u16) -> Self {
        match value {
            1 => Self::Sha1,
            2 => Self::Sha256,
            3 => Self::Sha384,
            4 => Self::Sha512,
            5 => Self::Identity,
            other => Self::Other(other),
        }
    }

    /// The registry value.
    pub fn to_u16(self) -> u16 {
        match self {
            Self::Sha1 => 1,
            Self::Sha256 => 2,
            Self::Sha384 => 3,
            Self::Sha512 => 4,
            Self::Identity => 5,
            Self::Other(v) => v,
        }
    }
}

/// The hashes we accept and announce in SIGNATURE_HASH_ALGORITHMS (RFC 7427 §4, RFC 8420 §2).
pub const SUPPORTED_SIGNATURE_HASHES: [SignatureHash; 4] =
    [SignatureHash::Sha256, SignatureHash::Sha384, SignatureHash::Sha512, SignatureHash::Identity];

/// A SHA-2 hash of a signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn len(self) -> u32 {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn announced(self) -> SignatureHash {
        match self {
            Self::Sha256 => SignatureHash::Sha256,
            Self::Sha384 => SignatureHash::Sha384,
            Self::Sha512 => SignatureHash::Sha512,
        }
    }
}

/// A signature scheme named by an RFC 7427 AlgorithmIdentifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    RsaPkcs1(Hash),
    RsaPss(Hash),
    Ecdsa(Hash),
    Ed25519,
}

/// OIDs (contents octets) of the AlgorithmIdentifiers in RFC 7427 Appendix A and RFC 8420 §2.
mod oid {
    const fn pkcs1(last: u8) -> [u8; 9] {
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, last]
    }
    const fn ecdsa_with(last: u8) -> [u8; 8] {
        [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, last]
    }
    const fn nist_hash(last: u8) -> [u8; 9] {
        [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, last]
    }
    /// sha1WithRSAEncryption, 1.2.840.113549.1.1.5.
    pub(super) const SHA1_WITH_RSA: [u8; 9] = pkcs1(0x05);
    /// sha{256,384,512}WithRSAEncryption, 1.2.840.113549.1.1.{11,12,13} (RFC 4055 §5).
    pub(super) const SHA256_WITH_RSA: [u8; 9] = pkcs1(0x0b);
    pub(super) const SHA384_WITH_RSA: [u8; 9] = pkcs1(0x0c);
    pub(super) const SHA512_WITH_RSA: [u8; 9] = pkcs1(0x0d);
    /// id-RSASSA-PSS, 1.2.840.113549.1.1.10, and id-mgf1, 1.2.840.113549.1.1.8 (RFC 4055 §3.1).
    pub(super) const RSASSA_PSS: [u8; 9] = pkcs1(0x0a);
    pub(super) const MGF1: [u8; 9] = pkcs1(0x08);
    /// ecdsa-with-SHA1, 1.2.840.10045.4.1.
    pub(super) const ECDSA_WITH_SHA1: [u8; 7] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
    /// ecdsa-with-SHA{256,384,512}, 1.2.840.10045.4.3.{2,3,4} (RFC 5758 §3.2).
    pub(super) const ECDSA_WITH_SHA256: [u8; 8] = ecdsa_with(0x02);
    pub(super) const ECDSA_WITH_SHA384: [u8; 8] = ecdsa_with(0x03);
    pub(super) const ECDSA_WITH_SHA512: [u8; 8] = ecdsa_with(0x04);
    /// id-sha1, 1.3.14.3.2.26.
    pub(super) const SHA1: [u8; 5] = [0x2b, 0x0e, 0x03, 0x02, 0x1a];
    /// id-sha{256,384,512}, 2.16.840.1.101.3.4.2.{1,2,3}.
    pub(super) const SHA256: [u8; 9] = nist_hash(0x01);
    pub(super) const SHA384: [u8; 9] = nist_hash(0x02);
    pub(super) const SHA512: [u8; 9] = nist_hash(0x03);
    /// id-Ed25519, 1.3.101.112 (RFC 8410 §3).
    pub(super) const ED25519: [u8; 3] = [0x2b, 0x65, 0x70];
}

/// The DER AlgorithmIdentifiers we send (RFC 7427 Appendix A; Ed25519 per RFC 8420 §2).
/// PSS parameters name the same hash for the message and MGF1 and a salt as long as the hash,
/// as RFC 8247 §3.2 (via RFC 4055 §3.1) recommends; the default trailerField is not encoded.
pub(crate) mod algorithm_identifier {
    pub(crate) const SHA256_WITH_RSA: &[u8] =
        &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00];
    pub(crate) const SHA384_WITH_RSA: &[u8] =
        &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00];
    pub(crate) const SHA512_WITH_RSA: &[u8] =
        &[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00];
    pub(crate) const ECDSA_WITH_SHA256: &[u8] =
        &[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    pub(crate) const ECDSA_WITH_SHA384: &[u8] =
        &[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
    pub(crate) const ECDSA_WITH_SHA512: &[u8] =
        &[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
    pub(crate) const ED25519: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

    macro_rules! pss {
        ($hash:literal, $salt:literal) => {
            &[
                0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30,
                0x34, // RSASSA-PSS-params
                0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                $hash, 0x05, 0x00, // [0] hashAlgorithm
                0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
                0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                $hash, 0x05, 0x00, // [1] maskGenAlgorithm
                0xa2, 0x03, 0x02, 0x01, $salt, // [2] saltLength
            ]
        };
    }
    pub(crate) const RSA_PSS_SHA256: &[u8] = pss!(0x01, 0x20);
    pub(crate) const RSA_PSS_SHA384: &[u8] = pss!(0x02, 0x30);
    pub(crate) const RSA_PSS_SHA512: &[u8] = pss!(0x03, 0x40);
}

impl Scheme {
    /// The AlgorithmIdentifier we send for this scheme.
    pub(crate) fn algorithm_identifier(self) -> &'static [u8] {
        use algorithm_identifier as a;
        match self {
            Self::RsaPkcs1(Hash::Sha256) => a::SHA256_WITH_RSA,
            Self::RsaPkcs1(Hash::Sha384) => a::SHA384_WITH_RSA,
            Self::RsaPkcs1(Hash::Sha512) => a::SHA512_WITH_RSA,
            Self::RsaPss(Hash::Sha256) => a::RSA_PSS_SHA256,
            Self::RsaPss(Hash::Sha384) => a::RSA_PSS_SHA384,
            Self::RsaPss(Hash::Sha512) => a::RSA_PSS_SHA512,
            Self::Ecdsa(Hash::Sha256) => a::ECDSA_WITH_SHA256,
            Self::Ecdsa(Hash::Sha384) => a::ECDSA_WITH_SHA384,
            Self::Ecdsa(Hash::Sha512) => a::ECDSA_WITH_SHA512,
            Self::Ed25519 => a::ED25519,
        }
    }

    /// Reads a DER AlgorithmIdentifier (exactly one, nothing after it).
    pub(crate) fn parse(alg_id: &[u8]) -> Result<Self, PkiError> {
        let malformed = |_| PkiError::MalformedAuth;
        let mut seq = der::Reader::new(der::single(alg_id, tag::SEQUENCE).map_err(malformed)?);
        let alg = seq.expect(tag::OID).map_err(malformed)?;
        let params = if seq.is_empty() {
            None
        } else {
            let (t, contents, _) = seq.any().map_err(malformed)?;
            Some((t, contents))
        };
        seq.finish().map_err(malformed)?;
        // PKCS#1 v1.5 AlgorithmIdentifiers carry NULL parameters (RFC 4055 §5), ECDSA ones
        // none (RFC 5758 §3.2), Ed25519 none (RFC 8410 §3); a NULL is tolerated where absence
        // is asked for, as many encoders add it.
        let null_or_absent = match params {
            None => true,
            Some((t, c)) => t == tag::NULL && c.is_empty(),
        };
        let scheme = match alg {
            a if a == oid::SHA1_WITH_RSA || a == oid::ECDSA_WITH_SHA1 => {
                return Err(PkiError::HashNotAllowed);
            }
            a if a == oid::SHA256_WITH_RSA => Self::RsaPkcs1(Hash::Sha256),
            a if a == oid::SHA384_WITH_RSA => Self::RsaPkcs1(Hash::Sha384),
            a if a == oid::SHA512_WITH_RSA => Self::RsaPkcs1(Hash::Sha512),
            a if a == oid::ECDSA_WITH_SHA256 => Self::Ecdsa(Hash::Sha256),
            a if a == oid::ECDSA_WITH_SHA384 => Self::Ecdsa(Hash::Sha384),
            a if a == oid::ECDSA_WITH_SHA512 => Self::Ecdsa(Hash::Sha512),
            a if a == oid::ED25519 => Self::Ed25519,
            a if a == oid::RSASSA_PSS => {
                return match params {
                    Some((tag::SEQUENCE, contents)) => parse_pss_params(contents).map(Self::RsaPss),
                    // Absent parameters mean the defaults: SHA-1 (RFC 4055 §3.1).
                    None => Err(PkiError::HashNotAllowed),
                    Some(_) => Err(PkiError::MalformedAuth),
                };
            }
            _ => return Err(PkiError::Unsupported("signature algorithm in the AUTH payload")),
        };
        if null_or_absent { Ok(scheme) } else { Err(PkiError::MalformedAuth) }
    }
}

/// RSASSA-PSS-params (RFC 4055 §3.1): we take SHA-2 with MGF1 over the same hash, a salt as
/// long as the hash (what aws-lc-rs verifies) and trailerField 1.
fn parse_pss_params(contents: &[u8]) -> Result<Hash, PkiError> {
    let malformed = |_| PkiError::MalformedAuth;
    let mut r = der::Reader::new(contents);
    let hash = match r.optional(tag::CONTEXT_0).map_err(malformed)? {
        Some(h) => hash_algorithm(der::single(h, tag::SEQUENCE).map_err(malformed)?)?,
        None => return Err(PkiError::HashNotAllowed),
    };
    match r.optional(tag::CONTEXT_1).map_err(malformed)? {
        Some(mgf) => {
            let mut mgf = der::Reader::new(der::single(mgf, tag::SEQUENCE).map_err(malformed)?);
            if mgf.expect(tag::OID).map_err(malformed)? != oid::MGF1 {
                return Err(PkiError::Unsupported("RSASSA-PSS mask generation other than MGF1"));
            }
            let mgf_hash = hash_algorithm(mgf.expect(tag::SEQUENCE).map_err(malformed)?)?;
            mgf.finish().map_err(malformed)?;
            if mgf_hash != hash {
                return Err(PkiError::Unsupported("RSASSA-PSS with MGF1 over another hash"));
            }
        }
        None => return Err(PkiError::HashNotAllowed),
    }
    let salt = match r.optional(tag::CONTEXT_2).map_err(malformed)? {
        Some(s) => {
            der::small_uint(der::single(s, tag::INTEGER).map_err(malformed)?).map_err(malformed)?
        }
        None => 20,
    };
    if salt != hash.len() {
        return Err(PkiError::Unsupported("RSASSA-PSS salt length other than the hash length"));
    }
    if let Some(t) = r.optional(tag::CONTEXT_3).map_err(malformed)? {
        let trailer =
            der::small_uint(der::single(t, tag::INTEGER).map_err(malformed)?).map_err(malformed)?;
        if trailer != 1 {
            return Err(PkiError::MalformedAuth);
        }
    }
    r.finish().map_err(malformed)?;
    Ok(hash)
}

/// A hash AlgorithmIdentifier's contents (OID, then NULL or nothing).
fn hash_algorithm(contents: &[u8]) -> Result<Hash, PkiError> {
    let malformed = |_| PkiError::MalformedAuth;
    let mut r = der::Reader::new(contents);
    let alg = r.expect(tag::OID).map_err(malformed)?;
    r.optional(tag::NULL).map_err(malformed)?;
    r.finish().map_err(malformed)?;
    match alg {
        a if a == oid::SHA256 => Ok(Hash::Sha256),
        a if a == oid::SHA384 => Ok(Hash::Sha384),
        a if a == oid::SHA512 => Ok(Hash::Sha512),
        a if a == oid::SHA1 => Err(PkiError::HashNotAllowed),
        _ => Err(PkiError::HashNotAllowed),
    }
}

/// The ECDSA signing algorithm for a curve and hash, if aws-lc-rs has it.
fn ecdsa_signing(
    kind: KeyKind,
    hash: Hash,
    fixed: bool,
) -> Option<&'static signature::EcdsaSigningAlgorithm> {
    use signature as s;
    Some(match (kind, hash, fixed) {
        (KeyKind::EcdsaP256, Hash::Sha256, false) => &s::ECDSA_P256_SHA256_ASN1_SIGNING,
        (KeyKind::EcdsaP256, Hash::Sha256, true) => &s::ECDSA_P256_SHA256_FIXED_SIGNING,
        (KeyKind::EcdsaP384, Hash::Sha384, false) => &s::ECDSA_P384_SHA384_ASN1_SIGNING,
        (KeyKind::EcdsaP384, Hash::Sha384, true) => &s::ECDSA_P384_SHA384_FIXED_SIGNING,
        (KeyKind::EcdsaP521, Hash::Sha256, false) => &s::ECDSA_P521_SHA256_ASN1_SIGNING,
        (KeyKind::EcdsaP521, Hash::Sha384, false) => &s::ECDSA_P521_SHA384_ASN1_SIGNING,
        (KeyKind::EcdsaP521, Hash::Sha512, false) => &s::ECDSA_P521_SHA512_ASN1_SIGNING,
        (KeyKind::EcdsaP521, Hash::Sha512, true) => &s::ECDSA_P521_SHA512_FIXED_SIGNING,
        _ => return None,
    })
}

/// The classic method of an ECDSA key (RFC 4754 §7) and its hash.
fn classic_ecdsa(kind: KeyKind) -> Option<(AuthMethod, Hash)> {
    match kind {
        KeyKind::EcdsaP256 => Some((AuthMethod::ECDSA_SHA256_P256, Hash::Sha256)),
        KeyKind::EcdsaP384 => Some((AuthMethod::ECDSA_SHA384_P384, Hash::Sha384)),
        KeyKind::EcdsaP521 => Some((AuthMethod::ECDSA_SHA512_P521, Hash::Sha512)),
        _ => None,
    }
}

/// Signs `octets` with `scheme`, returning the bare signature value.
pub(crate) fn sign_scheme(
    key: &PrivateKey,
    kind: KeyKind,
    scheme: Scheme,
    octets: &[u8],
) -> Result<Vec<u8>, PkiError> {
    match scheme {
        Scheme::RsaPkcs1(hash) | Scheme::RsaPss(hash) => {
            let pair = key.rsa_pair().ok_or(PkiError::AlgorithmMismatch)?;
            let encoding: &'static dyn signature::RsaEncoding = match (scheme, hash) {
                (Scheme::RsaPss(_), Hash::Sha256) => &signature::RSA_PSS_SHA256,
                (Scheme::RsaPss(_), Hash::Sha384) => &signature::RSA_PSS_SHA384,
                (Scheme::RsaPss(_), Hash::Sha512) => &signature::RSA_PSS_SHA512,
                (_, Hash::Sha256) => &signature::RSA_PKCS1_SHA256,
                (_, Hash::Sha384) => &signature::RSA_PKCS1_SHA384,
                (_, Hash::Sha512) => &signature::RSA_PKCS1_SHA512,
            };
            let mut sig = vec![0u8; pair.public_modulus_len()];
            pair.sign(encoding, &SystemRandom::new(), octets, &mut sig)
                .map_err(|_| PkiError::SigningFailed)?;
            Ok(sig)
        }
        Scheme::Ecdsa(hash) => {
            let alg = ecdsa_signing(kind, hash, false).ok_or(PkiError::NoCommonHash)?;
            ecdsa_sign(key, alg, octets)
        }
        Scheme::Ed25519 => {
            let pair = key.ed25519_pair().ok_or(PkiError::AlgorithmMismatch)?;
            Ok(pair.sign(octets).as_ref().to_vec())
        }
    }
}

fn ecdsa_sign(
    key: &PrivateKey,
    alg: &'static signature::EcdsaSigningAlgorithm,
    octets: &[u8],
) -> Result<Vec<u8>, PkiError> {
    let pair = key.ecdsa_pair(alg).ok_or(PkiError::AlgorithmMismatch)?;
    let sig = pair.sign(&SystemRandom::new(), octets).map_err(|_| PkiError::SigningFailed)?;
    Ok(sig.as_ref().to_vec())
}

/// Chooses the method and scheme for our key and the peer's announced hashes (see
/// `Identity::sign_auth`) and signs.
pub(crate) fn sign_auth(
    key: &PrivateKey,
    kind: KeyKind,
    octets: &[u8],
    peer_hashes: Option<&[SignatureHash]>,
) -> Result<(AuthMethod, Vec<u8>), PkiError> {
    let Some(peer) = peer_hashes else {
        return match classic_ecdsa(kind) {
            Some((method, hash)) => {
                let alg = ecdsa_signing(kind, hash, true).ok_or(PkiError::SigningFailed)?;
                Ok((method, ecdsa_sign(key, alg, octets)?))
            }
            None if kind.is_rsa() => Err(PkiError::Unsupported(
                "RSA_SIG (method 1) signs SHA-1 PKCS#1 v1.5, which aws-lc-rs cannot make; \
                 the peer must announce SIGNATURE_HASH_ALGORITHMS (RFC 7427)",
            )),
            None => Err(PkiError::Unsupported(
                "Ed25519 has no classic AUTH method; the peer must announce the Identity hash",
            )),
        };
    };
    match choose_scheme(kind, peer) {
        Some(scheme) => {
            let sig = sign_scheme(key, kind, scheme, octets)?;
            let alg_id = scheme.algorithm_identifier();
            let mut data = Vec::with_capacity(1 + alg_id.len() + sig.len());
            // Every AlgorithmIdentifier we send is shorter than 256 octets.
            data.push(u8::try_from(alg_id.len()).map_err(|_| PkiError::SigningFailed)?);
            data.extend_from_slice(alg_id);
            data.extend_from_slice(&sig);
            Ok((AuthMethod::DIGITAL_SIGNATURE, data))
        }
        // An ECDSA key still has its classic method when no hash is shared.
        None => match classic_ecdsa(kind) {
            Some(_) => sign_auth(key, kind, octets, None),
            None => Err(PkiError::NoCommonHash),
        },
    }
}

/// The strongest scheme our key can sign that the peer announced.
pub(crate) fn choose_scheme(kind: KeyKind, peer: &[SignatureHash]) -> Option<Scheme> {
    let offered = |h: Hash| peer.contains(&h.announced());
    let strongest = |candidates: &[Hash]| candidates.iter().copied().find(|&h| offered(h));
    match kind {
        KeyKind::Rsa => {
            strongest(&[Hash::Sha512, Hash::Sha384, Hash::Sha256]).map(Scheme::RsaPkcs1)
        }
        KeyKind::RsaPss => {
            strongest(&[Hash::Sha512, Hash::Sha384, Hash::Sha256]).map(Scheme::RsaPss)
        }
        // aws-lc-rs signs P-256 only with SHA-256 and P-384 only with SHA-384.
        KeyKind::EcdsaP256 => strongest(&[Hash::Sha256]).map(Scheme::Ecdsa),
        KeyKind::EcdsaP384 => strongest(&[Hash::Sha384]).map(Scheme::Ecdsa),
        KeyKind::EcdsaP521 => {
            strongest(&[Hash::Sha512, Hash::Sha384, Hash::Sha256]).map(Scheme::Ecdsa)
        }
        KeyKind::Ed25519 => peer.contains(&SignatureHash::Identity).then_some(Scheme::Ed25519),
    }
}

/// Checks an AUTH payload (see `PublicKey::verify_auth`).
pub(crate) fn verify_auth(
    key: &PublicKey,
    method: AuthMethod,
    data: &[u8],
    octets: &[u8],
) -> Result<(), PkiError> {
    let kind = key.kind();
    let (alg, sig): (&'static dyn VerificationAlgorithm, &[u8]) = match method {
        AuthMethod::RSA_SIG if kind == KeyKind::Rsa => {
            // RFC 7296 §3.8 leaves the hash to convention, which is SHA-1 (RFC 7427 §1).
            (&signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, data)
        }
        AuthMethod::ECDSA_SHA256_P256
        | AuthMethod::ECDSA_SHA384_P384
        | AuthMethod::ECDSA_SHA512_P521 => {
            let (alg, len): (&'static dyn VerificationAlgorithm, usize) = match (method, kind) {
                (AuthMethod::ECDSA_SHA256_P256, KeyKind::EcdsaP256) => {
                    (&signature::ECDSA_P256_SHA256_FIXED, 64)
                }
                (AuthMethod::ECDSA_SHA384_P384, KeyKind::EcdsaP384) => {
                    (&signature::ECDSA_P384_SHA384_FIXED, 96)
                }
                (AuthMethod::ECDSA_SHA512_P521, KeyKind::EcdsaP521) => {
                    (&signature::ECDSA_P521_SHA512_FIXED, 132)
                }
                _ => return Err(PkiError::MethodMismatch(method.0)),
            };
            // RFC 4754 §7: r and s, each exactly as long as the group order.
            if data.len() != len {
                return Err(PkiError::MalformedAuth);
            }
            (alg, data)
        }
        AuthMethod::DIGITAL_SIGNATURE => {
            let (&alg_len, rest) = data.split_first().ok_or(PkiError::MalformedAuth)?;
            let alg_len = usize::from(alg_len);
            if alg_len == 0 || rest.len() <= alg_len {
                return Err(PkiError::MalformedAuth);
            }
            let (alg_id, sig) = rest.split_at(alg_len);
            let scheme = Scheme::parse(alg_id)?;
            (verification_algorithm(kind, scheme)?, sig)
        }
        _ => return Err(PkiError::MethodMismatch(method.0)),
    };
    UnparsedPublicKey::new(alg, key.key_bytes())
        .verify(octets, sig)
        .map_err(|_| PkiError::BadSignature)
}

fn verification_algorithm(
    kind: KeyKind,
    scheme: Scheme,
) -> Result<&'static dyn VerificationAlgorithm, PkiError> {
    use signature as s;
    Ok(match (kind, scheme) {
        (KeyKind::Rsa, Scheme::RsaPkcs1(Hash::Sha256)) => &s::RSA_PKCS1_2048_8192_SHA256,
        (KeyKind::Rsa, Scheme::RsaPkcs1(Hash::Sha384)) => &s::RSA_PKCS1_2048_8192_SHA384,
        (KeyKind::Rsa, Scheme::RsaPkcs1(Hash::Sha512)) => &s::RSA_PKCS1_2048_8192_SHA512,
        (KeyKind::Rsa | KeyKind::RsaPss, Scheme::RsaPss(Hash::Sha256)) => {
            &s::RSA_PSS_2048_8192_SHA256
        }
        (KeyKind::Rsa | KeyKind::RsaPss, Scheme::RsaPss(Hash::Sha384)) => {
            &s::RSA_PSS_2048_8192_SHA384
        }
        (KeyKind::Rsa | KeyKind::RsaPss, Scheme::RsaPss(Hash::Sha512)) => {
            &s::RSA_PSS_2048_8192_SHA512
        }
        (KeyKind::EcdsaP256, Scheme::Ecdsa(Hash::Sha256)) => &s::ECDSA_P256_SHA256_ASN1,
        (KeyKind::EcdsaP256, Scheme::Ecdsa(Hash::Sha384)) => &s::ECDSA_P256_SHA384_ASN1,
        (KeyKind::EcdsaP256, Scheme::Ecdsa(Hash::Sha512)) => &s::ECDSA_P256_SHA512_ASN1,
        (KeyKind::EcdsaP384, Scheme::Ecdsa(Hash::Sha256)) => &s::ECDSA_P384_SHA256_ASN1,
        (KeyKind::EcdsaP384, Scheme::Ecdsa(Hash::Sha384)) => &s::ECDSA_P384_SHA384_ASN1,
        (KeyKind::EcdsaP384, Scheme::Ecdsa(Hash::Sha512)) => &s::ECDSA_P384_SHA512_ASN1,
        (KeyKind::EcdsaP521, Scheme::Ecdsa(Hash::Sha256)) => &s::ECDSA_P521_SHA256_ASN1,
        (KeyKind::EcdsaP521, Scheme::Ecdsa(Hash::Sha384)) => &s::ECDSA_P521_SHA384_ASN1,
        (KeyKind::EcdsaP521, Scheme::Ecdsa(Hash::Sha512)) => &s::ECDSA_P521_SHA512_ASN1,
        (KeyKind::Ed25519, Scheme::Ed25519) => &s::ED25519,
        _ => return Err(PkiError::AlgorithmMismatch),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 7427 Appendix A, the hex dumps as printed there (A.1.2-A.1.4, A.3.2-A.3.4, A.4.3),
    /// and RFC 8420 §2 for Ed25519; the same octets are in libreswan's
    /// `include/ietf_constants.h` table of RFC 7427 blobs.
    #[test]
    fn algorithm_identifiers_match_rfc7427_appendix_a() {
        let cases = [
            (Scheme::RsaPkcs1(Hash::Sha256), "300d 0609 2a86 4886 f70d 0101 0b05 00"),
            (Scheme::RsaPkcs1(Hash::Sha384), "300d 0609 2a86 4886 f70d 0101 0c05 00"),
            (Scheme::RsaPkcs1(Hash::Sha512), "300d 0609 2a86 4886 f70d 0101 0d05 00"),
            (Scheme::Ecdsa(Hash::Sha256), "300a 0608 2a86 48ce 3d04 0302"),
            (Scheme::Ecdsa(Hash::Sha384), "300a 0608 2a86 48ce 3d04 0303"),
            (Scheme::Ecdsa(Hash::Sha512), "300a 0608 2a86 48ce 3d04 0304"),
            (
                Scheme::RsaPss(Hash::Sha256),
                "3041 0609 2a86 4886 f70d 0101 0a30 34a0 0f30 0d06 0960 8648 0165 0304 0201 0500
                 a11c 301a 0609 2a86 4886 f70d 0101 0830 0d06 0960 8648 0165 0304 0201 0500 a203
                 0201 20",
            ),
            (Scheme::Ed25519, "3005 0603 2b65 70"),
        ];
        for (scheme, hex) in cases {
            assert_eq!(scheme.algorithm_identifier(), unhex(hex).as_slice(), "{scheme:?}");
            assert_eq!(Scheme::parse(&unhex(hex)), Ok(scheme));
        }
        // SHA-384 and SHA-512 PSS follow A.4.3 with the hash OIDs and salts 48 and 64.
        for (hash, last, salt) in [(Hash::Sha384, 0x02, 0x30), (Hash::Sha512, 0x03, 0x40)] {
            let mut expected = unhex(
                "3041 0609 2a86 4886 f70d 0101 0a30 34a0 0f30 0d06 0960 8648 0165 0304 0201 0500
                 a11c 301a 0609 2a86 4886 f70d 0101 0830 0d06 0960 8648 0165 0304 0201 0500 a203
                 0201 20",
            );
            expected[29] = last;
            expected[59] = last;
            expected[66] = salt;
            assert_eq!(Scheme::RsaPss(hash).algorithm_identifier(), expected.as_slice());
            assert_eq!(Scheme::parse(&expected), Ok(Scheme::RsaPss(hash)));
        }
    }

    /// SHA-1 in every form RFC 7427 Appendix A shows it: A.1.1, A.3.1, A.4.1 (no parameters,
    /// so the SHA-1 defaults) and A.4.2 (the defaults spelled out, as in the RFC's text).
    #[test]
    fn rejects_sha1_algorithm_identifiers() {
        for hex in [
            "300d 0609 2a86 4886 f70d 0101 0505 00",
            "3009 0607 2a86 48ce 3d04 01",
            "300b 0609 2a86 4886 f70d 0101 0a",
            "303e 0609 2a86 4886 f70d 0101 0a30 31a0 0b30 0906 052b 0e03 021a 0500 a118 3016
             0609 2a86 4886 f70d 0101 0830 0906 052b 0e03 021a 0500 a203 0201 14a3 0302 0101",
        ] {
            assert_eq!(Scheme::parse(&unhex(hex)), Err(PkiError::HashNotAllowed), "{hex}");
        }
    }

    #[test]
    fn pss_parameters_are_checked() {
        let a43 = unhex(
            "3046 0609 2a86 4886 f70d 0101 0a30 39a0 0f30 0d06 0960 8648 0165 0304 0201 0500
             a11c 301a 0609 2a86 4886 f70d 0101 0830 0d06 0960 8648 0165 0304 0201 0500 a203
             0201 20a3 0302 0101",
        );
        // The default trailerField spelled out is tolerated.
        assert_eq!(Scheme::parse(&a43), Ok(Scheme::RsaPss(Hash::Sha256)));
        let mut trailer2 = a43.clone();
        *trailer2.last_mut().unwrap() = 2;
        assert_eq!(Scheme::parse(&trailer2), Err(PkiError::MalformedAuth));
        let mut salt20 = Scheme::RsaPss(Hash::Sha256).algorithm_identifier().to_vec();
        *salt20.last_mut().unwrap() = 20;
        assert!(matches!(Scheme::parse(&salt20), Err(PkiError::Unsupported(_))));
        let mut mgf_sha384 = Scheme::RsaPss(Hash::Sha256).algorithm_identifier().to_vec();
        mgf_sha384[59] = 0x02;
        assert!(matches!(Scheme::parse(&mgf_sha384), Err(PkiError::Unsupported(_))));
    }

    #[test]
    fn rejects_malformed_algorithm_identifiers() {
        let good = Scheme::Ecdsa(Hash::Sha256).algorithm_identifier();
        assert_eq!(Scheme::parse(&good[..good.len() - 1]), Err(PkiError::MalformedAuth));
        let mut trailing = good.to_vec();
        trailing.push(0);
        assert_eq!(Scheme::parse(&trailing), Err(PkiError::MalformedAuth));
        // Parameters that are neither absent nor NULL.
        assert_eq!(
            Scheme::parse(&unhex("300f 0609 2a86 4886 f70d 0101 0b04 0200 00")),
            Err(PkiError::MalformedAuth)
        );
        // dsa-with-sha256 (A.2.2) is no scheme of ours.
        assert!(matches!(
            Scheme::parse(&unhex("300b 0609 6086 4801 6503 0403 02")),
            Err(PkiError::Unsupported(_))
        ));
        assert_eq!(Scheme::parse(&[]), Err(PkiError::MalformedAuth));
    }

    #[test]
    fn signature_hash_registry_values() {
        for (v, h) in [
            (1, SignatureHash::Sha1),
            (2, SignatureHash::Sha256),
            (3, SignatureHash::Sha384),
            (4, SignatureHash::Sha512),
            (5, SignatureHash::Identity),
            (6, SignatureHash::Other(6)),
            (1024, SignatureHash::Other(1024)),
        ] {
            assert_eq!(SignatureHash::from_u16(v), h);
            assert_eq!(h.to_u16(), v);
        }
    }

    #[test]
    fn strongest_hash_the_key_can_sign_is_chosen() {
        let all = [
            SignatureHash::Sha256,
            SignatureHash::Sha384,
            SignatureHash::Sha512,
            SignatureHash::Identity,
        ];
        assert_eq!(choose_scheme(KeyKind::Rsa, &all), Some(Scheme::RsaPkcs1(Hash::Sha512)));
        assert_eq!(choose_scheme(KeyKind::RsaPss, &all[..2]), Some(Scheme::RsaPss(Hash::Sha384)));
        assert_eq!(choose_scheme(KeyKind::EcdsaP256, &all), Some(Scheme::Ecdsa(Hash::Sha256)));
        assert_eq!(choose_scheme(KeyKind::EcdsaP384, &all), Some(Scheme::Ecdsa(Hash::Sha384)));
        assert_eq!(choose_scheme(KeyKind::EcdsaP521, &all[..2]), Some(Scheme::Ecdsa(Hash::Sha384)));
        assert_eq!(choose_scheme(KeyKind::Ed25519, &all), Some(Scheme::Ed25519));
        assert_eq!(choose_scheme(KeyKind::Ed25519, &all[..3]), None);
        assert_eq!(choose_scheme(KeyKind::EcdsaP256, &[SignatureHash::Sha384]), None);
        assert_eq!(
            choose_scheme(KeyKind::Rsa, &[SignatureHash::Sha1, SignatureHash::Other(9)]),
            None
        );
    }

    /// RSASSA-PSS round trips with each hash (an rsaEncryption key may sign PSS; the
    /// certificate-driven choice is `KeyKind::RsaPss`, which rcgen cannot make).
    #[test]
    fn rsa_pss_sign_verify_round_trip() {
        let key = PrivateKey::from_pem(include_bytes!("../tests/data/rsa2048.key.pem")).unwrap();
        let octets = b"signed octets";
        for hash in [Hash::Sha256, Hash::Sha384, Hash::Sha512] {
            let scheme = Scheme::RsaPss(hash);
            let sig = sign_scheme(&key, KeyKind::RsaPss, scheme, octets).unwrap();
            let alg = scheme.algorithm_identifier();
            let mut data = vec![u8::try_from(alg.len()).unwrap()];
            data.extend_from_slice(alg);
            data.extend_from_slice(&sig);
            let public = key.public_key();
            assert_eq!(verify_auth(&public, AuthMethod::DIGITAL_SIGNATURE, &data, octets), Ok(()));
            assert_eq!(
                verify_auth(&public, AuthMethod::DIGITAL_SIGNATURE, &data, b"other octets"),
                Err(PkiError::BadSignature)
            );
            // The same key through sign_auth with an RSASSA-PSS certificate's kind.
            let (method, auth) =
                sign_auth(&key, KeyKind::RsaPss, octets, Some(&[hash.announced()])).unwrap();
            assert_eq!(method, AuthMethod::DIGITAL_SIGNATURE);
            assert_eq!(&auth[1..1 + alg.len()], alg);
            assert_eq!(verify_auth(&public, method, &auth, octets), Ok(()));
        }
    }
}
