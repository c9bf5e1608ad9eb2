//! What can go wrong: [`PkiError`] for loading keys and certificates and for AUTH signatures,
//! [`CertFailure`] for why a peer's certificate chain was refused.

use core::fmt;

/// An error loading keys, certificates or CRLs, or making or checking an AUTH signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Bytes that are not a DER X.509 certificate (or PEM with none in it).
    #[error("not an X.509 certificate")]
    MalformedCertificate,
    /// PEM or DER without any certificate.
    #[error("no certificate found")]
    NoCertificate,
    /// A private key that is neither PKCS#8, PKCS#1 RSA nor SEC1 EC, or that its library
    /// refused (inconsistent, too small).
    #[error("not a usable private key (PKCS#8, PKCS#1 RSA or SEC1 EC)")]
    MalformedKey,
    /// Bytes that are not a DER or PEM X.509 CRL.
    #[error("not an X.509 CRL")]
    MalformedCrl,
    /// A PKCS#12 file that could not be opened (wrong password, damaged, unsupported cipher).
    #[error("PKCS#12: {0}")]
    Pkcs12(String),
    /// The private key is not the key of the first certificate of the chain.
    #[error("the private key does not belong to the certificate")]
    KeyMismatch,
    /// Something this crate does not do; the text says what.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// An AUTH method this key cannot be checked with (e.g. ECDSA_SHA256_P256 for an RSA key,
    /// or a method that is no signature at all).
    #[error("AUTH method {0} does not fit this key")]
    MethodMismatch(u8),
    /// An RFC 7427 AUTH payload whose length octet, AlgorithmIdentifier or signature is not
    /// well formed.
    #[error("malformed signature AUTH data")]
    MalformedAuth,
    /// The AlgorithmIdentifier names a hash outside `SUPPORTED_SIGNATURE_HASHES` (SHA-1 among
    /// them) or parameters we refuse.
    #[error("signature hash algorithm not allowed")]
    HashNotAllowed,
    /// The AlgorithmIdentifier names a signature scheme that is not the key's (ECDSA for an
    /// RSA key and the like).
    #[error("signature algorithm does not match the key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The peer's SIGNATURE_HASH_ALGORITHMS has no hash this key can sign with.
    #[error("no signature hash in common with the peer")]
    NoCommonHash,
    /// The signing library failed.
    #[error("signing failed")]
    SigningFailed,
}

/// Why a peer's certificate was refused: each maps to a disconnect error and a sentence.
/// `Copy` so it fits `ikeway_sa::CloseReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertFailure {
    /// The peer sent no CERT payload.
    NoCertificate,
    /// A CERT payload that is not a DER X.509 certificate.
    Malformed,
    /// Hash and URL or another encoding than X.509 Certificate - Signature.
    UnsupportedEncoding,
    /// No path to a configured anchor (a truncated chain included).
    UntrustedIssuer,
    /// A certificate of the path has expired.
    Expired,
    /// A certificate of the path is not valid yet.
    NotYetValid,
    /// A CRL lists a certificate of the path.
    Revoked,
    /// No CRL gave the status (only a failure with strict revocation checking).
    RevocationUnknown,
    /// Key usage without digitalSignature, or an EKU without serverAuth / clientAuth / IKE
    /// intermediate.
    WrongKeyUsage,
    /// The peer's IDi/IDr is in neither the SAN (DNS, IP, RFC822) nor the subject DN.
    IdentityMismatch,
    /// Apple's serverCertificateCommonName does not match.
    CommonNameMismatch,
    /// Apple's serverCertificateIssuerCommonName does not match.
    IssuerCommonNameMismatch,
    /// A key or signature algorithm we do not support.
    UnsupportedKey,
    /// The AUTH signature does not verify with the certificate's key.
    BadSignature,
}

impl fmt::Display for CertFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoCertificate => "the peer sent no certificate",
            Self::Malformed => "the peer's certificate is not a valid X.509 certificate",
            Self::UnsupportedEncoding => {
                "the peer's certificate encoding is not supported (only X.509 Certificate - Signature)"
            }
            Self::UntrustedIssuer => {
                "the peer's certificate does not chain to a trusted certificate authority"
            }
            Self::Expired => "the peer's certificate has expired",
            Self::NotYetValid => "the peer's certificate is not valid yet",
            Self::Revoked => "the peer's certificate has been revoked",
            Self::RevocationUnknown => {
                "the revocation status of the peer's certificate is unknown (strict revocation checking)"
            }
            Self::WrongKeyUsage => {
                "the peer's certificate is not allowed for IKE (key usage or extended key usage)"
            }
            Self::IdentityMismatch => "the peer's identity is not in its certificate",
            Self::CommonNameMismatch => {
                "the peer's certificate common name is not the configured one"
            }
            Self::IssuerCommonNameMismatch => {
                "the peer's certificate issuer common name is not the configured one"
            }
            Self::UnsupportedKey => "the peer's certificate uses an unsupported key or algorithm",
            Self::BadSignature => "the peer's AUTH signature does not verify with its certificate",
        })
    }
}

impl std::error::Error for CertFailure {}
