//! Keys: [`KeyKind`], [`PublicKey`] (from a certificate's SubjectPublicKeyInfo) and
//! [`PrivateKey`] (PKCS#8, PKCS#1 RSA or SEC1 EC, PEM or DER).
//!
//! Private keys live in aws-lc-rs key pairs, which wipe themselves on drop; ECDSA keys are kept
//! as their PKCS#8 bytes in `Zeroizing` because aws-lc-rs binds an ECDSA key pair to one
//! signature algorithm and an ECDSA key signs with two (DER signatures for RFC 7427, fixed
//! r||s for RFC 4754), so a key pair is made per signature.

use core::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use zeroize::Zeroizing;

use crate::der::{self, tag};
use crate::error::PkiError;

/// Apple's certificateType, and what a key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA with rsaEncryption keys (signs PKCS#1 v1.5).
    Rsa,
    /// RSA whose certificate names id-RSASSA-PSS as the key algorithm (signs RSASSA-PSS).
    RsaPss,
    /// ECDSA on P-256 (secp256r1).
    EcdsaP256,
    /// ECDSA on P-384 (secp384r1).
    EcdsaP384,
    /// ECDSA on P-521 (secp521r1).
    EcdsaP521,
    /// Ed25519 (RFC 8420 in IKEv2).
    Ed25519,
}

impl KeyKind {
    pub(crate) fn is_rsa(self) -> bool {
        matches!(self, Self::Rsa | Self::RsaPss)
    }
}

/// Algorithm and curve OIDs (contents octets) of SubjectPublicKeyInfo and PKCS#8.
pub(crate) mod oid {
    /// rsaEncryption, 1.2.840.113549.1.1.1 (RFC 8017 Appendix C).
    pub(crate) const RSA_ENCRYPTION: &[u8] =
        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    /// id-RSASSA-PSS, 1.2.840.113549.1.1.10 (RFC 4055 §3.1).
    pub(crate) const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    /// id-ecPublicKey, 1.2.840.10045.2.1 (RFC 5480 §2.1.1).
    pub(crate) const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    /// secp256r1, 1.2.840.10045.3.1.7 (RFC 5480 §2.1.1.1).
    pub(crate) const SECP256R1: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    /// secp384r1, 1.3.132.0.34.
    pub(crate) const SECP384R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    /// secp521r1, 1.3.132.0.35.
    pub(crate) const SECP521R1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    /// id-Ed25519, 1.3.101.112 (RFC 8410 §3).
    pub(crate) const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
}

/// A public key, from a certificate or from a private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    kind: KeyKind,
    /// The subjectPublicKey bits: RSAPublicKey DER for RSA, the uncompressed point for ECDSA,
    /// the 32 octets for Ed25519 (what aws-lc-rs's `UnparsedPublicKey` takes).
    key: Vec<u8>,
}

impl PublicKey {
    /// What the key is.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    pub(crate) fn key_bytes(&self) -> &[u8] {
        &self.key
    }

    /// Reads a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7): a certificate's key, or a
    /// key known by itself (test vectors, raw public keys).
    pub fn from_spki_der(spki: &[u8]) -> Result<Self, PkiError> {
        let unsupported = PkiError::Unsupported("public key algorithm");
        let Spki { alg_oid, curve, bits } =
            Spki::parse(spki).map_err(|_| PkiError::MalformedCertificate)?;
        // Keys are whole octets: no unused bits.
        let key = match bits.split_first() {
            Some((0, key)) if !key.is_empty() => key.to_vec(),
            _ => return Err(PkiError::MalformedCertificate),
        };
        let kind = match (alg_oid, curve) {
            (oid::RSA_ENCRYPTION, _) => KeyKind::Rsa,
            (oid::RSASSA_PSS, _) => KeyKind::RsaPss,
            (oid::EC_PUBLIC_KEY, Some(oid::SECP256R1)) => KeyKind::EcdsaP256,
            (oid::EC_PUBLIC_KEY, Some(oid::SECP384R1)) => KeyKind::EcdsaP384,
            (oid::EC_PUBLIC_KEY, Some(oid::SECP521R1)) => KeyKind::EcdsaP521,
            (oid::ED25519, None) => KeyKind::Ed25519,
            _ => return Err(unsupported),
        };
        Ok(Self { kind, key })
    }

    /// The modulus size of an RSA key in bits (`None` for other keys or a malformed
    /// RSAPublicKey, RFC 8017 §A.1.1).
    pub(crate) fn rsa_modulus_bits(&self) -> Option<usize> {
        if !self.kind.is_rsa() {
            return None;
        }
        let mut seq = der::Reader::new(der::single(&self.key, tag::SEQUENCE).ok()?);
        let n = seq.expect(tag::INTEGER).ok()?;
        let n = match n {
            [0, rest @ ..] => rest,
            n => n,
        };
        let first = *n.first()?;
        Some(n.len() * 8 - first.leading_zeros() as usize)
    }

    /// Whether `other` is the same key (an rsaEncryption and an RSASSA-PSS key with the same
    /// modulus and exponent are the same key).
    pub(crate) fn same_key(&self, other: &PublicKey) -> bool {
        let family = |k: KeyKind| if k.is_rsa() { KeyKind::Rsa } else { k };
        family(self.kind) == family(other.kind) && self.key == other.key
    }
}

/// The parts of a SubjectPublicKeyInfo we read.
struct Spki<'a> {
    alg_oid: &'a [u8],
    curve: Option<&'a [u8]>,
    bits: &'a [u8],
}

impl<'a> Spki<'a> {
    fn parse(spki: &'a [u8]) -> Result<Self, der::DerError> {
        let mut outer = der::Reader::new(der::single(spki, tag::SEQUENCE)?);
        let mut alg = der::Reader::new(outer.expect(tag::SEQUENCE)?);
        let bits = outer.expect(tag::BIT_STRING)?;
        outer.finish()?;
        let alg_oid = alg.expect(tag::OID)?;
        let curve = alg.optional(tag::OID)?;
        Ok(Self { alg_oid, curve, bits })
    }
}

/// A private key (zeroized on drop, Debug prints no secret).
pub struct PrivateKey {
    inner: Inner,
    public: PublicKey,
}

enum Inner {
    Rsa(RsaKeyPair),
    /// PKCS#8 bytes; see the module comment.
    Ecdsa(Zeroizing<Vec<u8>>),
    Ed25519(Ed25519KeyPair),
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey").field("kind", &self.public.kind).finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// The first private key in PEM text: PRIVATE KEY (PKCS#8), RSA PRIVATE KEY (PKCS#1) or
    /// EC PRIVATE KEY (SEC1).
    pub fn from_pem(pem: &[u8]) -> Result<Self, PkiError> {
        // rustls-pki-types skips sections it does not know, so an encrypted key would read as
        // "no key"; say what it is instead.
        if pem.windows(ENCRYPTED_PEM.len()).any(|w| w == ENCRYPTED_PEM) {
            return Err(PkiError::Unsupported(
                "encrypted PEM private keys: decrypt it (openssl pkey) or use PKCS#12",
            ));
        }
        let der =
            Zeroizing::new(PrivateKeyDer::from_pem_slice(pem).map_err(|_| PkiError::MalformedKey)?);
        match &*der {
            PrivateKeyDer::Pkcs8(k) => Self::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => Self::from_pkcs1(k.secret_pkcs1_der()),
            PrivateKeyDer::Sec1(k) => Self::from_sec1(k.secret_sec1_der()),
            _ => Err(PkiError::MalformedKey),
        }
    }

    /// A DER private key: PKCS#8, else PKCS#1 RSA, else SEC1 EC.
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        Self::from_pkcs8(der)
            .or_else(|_| Self::from_pkcs1(der))
            .or_else(|_| Self::from_sec1(der))
            .map_err(|_| PkiError::MalformedKey)
    }

    /// What the key is.
    pub fn kind(&self) -> KeyKind {
        self.public.kind
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        self.public.clone()
    }

    /// The key as PKCS#8 DER (RFC 5958), wiped on drop: what a TLS library loads (EAP-TLS
    /// hands it to rustls's aws-lc-rs key provider, which keeps its own wiping key pair).
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<PrivateKeyDer<'static>>, PkiError> {
        let mut der: Zeroizing<Vec<u8>> = match &self.inner {
            Inner::Rsa(pair) => {
                // aws-lc-rs's Pkcs8V1Der wipes itself; ours is a second copy, wiped too.
                let doc = pair.as_der().map_err(|_| PkiError::MalformedKey)?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
            Inner::Ecdsa(pkcs8) => pkcs8.clone(),
            Inner::Ed25519(pair) => {
                let doc = pair.to_pkcs8v1().map_err(|_| PkiError::MalformedKey)?;
                Zeroizing::new(doc.as_ref().to_vec())
            }
        };
        // The allocation moves (no copy) into the PrivateKeyDer, which the wrapper wipes.
        let der = core::mem::take(&mut *der);
        Ok(Zeroizing::new(PrivateKeyDer::Pkcs8(der.into())))
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self, PkiError> {
        let (alg, curve) = pkcs8_algorithm(der).ok_or(PkiError::MalformedKey)?;
        match (alg, curve) {
            (oid::RSA_ENCRYPTION, _) => {
                let pair = RsaKeyPair::from_pkcs8(der).map_err(|_| PkiError::MalformedKey)?;
                Ok(Self::rsa(pair))
            }
            (oid::RSASSA_PSS, _) => Err(PkiError::Unsupported(
                "RSASSA-PSS private keys (id-RSASSA-PSS in PKCS#8); use an rsaEncryption key",
            )),
            (oid::EC_PUBLIC_KEY, Some(curve)) => {
                let kind = match curve {
                    oid::SECP256R1 => KeyKind::EcdsaP256,
                    oid::SECP384R1 => KeyKind::EcdsaP384,
                    oid::SECP521R1 => KeyKind::EcdsaP521,
                    _ => return Err(PkiError::Unsupported("elliptic curve")),
                };
                let pair = EcdsaKeyPair::from_pkcs8(ecdsa_fixed(kind), der)
                    .map_err(|_| PkiError::MalformedKey)?;
                Ok(Self::ecdsa(kind, &pair, Zeroizing::new(der.to_vec())))
            }
            (oid::ED25519, _) => {
                let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(|_| PkiError::MalformedKey)?;
                let public =
                    PublicKey { kind: KeyKind::Ed25519, key: pair.public_key().as_ref().to_vec() };
                Ok(Self { inner: Inner::Ed25519(pair), public })
            }
            _ => Err(PkiError::Unsupported("private key algorithm")),
        }
    }

    fn from_pkcs1(der: &[u8]) -> Result<Self, PkiError> {
        let pair = RsaKeyPair::from_der(der).map_err(|_| PkiError::MalformedKey)?;
        Ok(Self::rsa(pair))
    }

    fn from_sec1(der: &[u8]) -> Result<Self, PkiError> {
        // SEC1 keys name their curve inside; aws-lc-rs refuses a key of another curve.
        for kind in [KeyKind::EcdsaP256, KeyKind::EcdsaP384, KeyKind::EcdsaP521] {
            if let Ok(pair) = EcdsaKeyPair::from_private_key_der(ecdsa_fixed(kind), der) {
                let pkcs8 = pair.to_pkcs8v1().map_err(|_| PkiError::MalformedKey)?;
                return Ok(Self::ecdsa(kind, &pair, Zeroizing::new(pkcs8.as_ref().to_vec())));
            }
        }
        Err(PkiError::MalformedKey)
    }

    fn rsa(pair: RsaKeyPair) -> Self {
        let public = PublicKey { kind: KeyKind::Rsa, key: pair.public_key().as_ref().to_vec() };
        Self { inner: Inner::Rsa(pair), public }
    }

    fn ecdsa(kind: KeyKind, pair: &EcdsaKeyPair, pkcs8: Zeroizing<Vec<u8>>) -> Self {
        let public = PublicKey { kind, key: pair.public_key().as_ref().to_vec() };
        Self { inner: Inner::Ecdsa(pkcs8), public }
    }

    pub(crate) fn rsa_pair(&self) -> Option<&RsaKeyPair> {
        match &self.inner {
            Inner::Rsa(pair) => Some(pair),
            _ => None,
        }
    }

    pub(crate) fn ecdsa_pair(
        &self,
        alg: &'static signature::EcdsaSigningAlgorithm,
    ) -> Option<EcdsaKeyPair> {
        match &self.inner {
            Inner::Ecdsa(pkcs8) => EcdsaKeyPair::from_pkcs8(alg, pkcs8).ok(),
            _ => None,
        }
    }

    pub(crate) fn ed25519_pair(&self) -> Option<&Ed25519KeyPair> {
        match &self.inner {
            Inner::Ed25519(pair) => Some(pair),
            _ => None,
        }
    }
}

/// The label of an encrypted PKCS#8 key in PEM (RFC 7468 §11).
const ENCRYPTED_PEM: &[u8] = b"-----BEGIN ENCRYPTED PRIVATE KEY-----";

/// The fixed-format signing algorithm of a curve (any one serves to load the key).
fn ecdsa_fixed(kind: KeyKind) -> &'static signature::EcdsaSigningAlgorithm {
    match kind {
        KeyKind::EcdsaP384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        KeyKind::EcdsaP521 => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
        _ => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    }
}

/// The algorithm OID and (for EC) curve OID of a PKCS#8 PrivateKeyInfo (RFC 5208 §5,
/// RFC 5958 §2).
fn pkcs8_algorithm(der: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let mut info = der::Reader::new(der::single(der, tag::SEQUENCE).ok()?);
    info.expect(tag::INTEGER).ok()?;
    let mut alg = der::Reader::new(info.expect(tag::SEQUENCE).ok()?);
    let alg_oid = alg.expect(tag::OID).ok()?;
    let curve = alg.optional(tag::OID).ok()?;
    Some((alg_oid, curve))
}
