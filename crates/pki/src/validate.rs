//! Whether a peer's certificate chain is acceptable: path, validity, constraints, EKU and CRLs
//! by rustls-webpki; key usage, identity and Apple's common-name checks here.

use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ikeway_codec::{IdRepr, IdType};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, ExtendedKeyUsageValidator, KeyPurposeId,
    KeyPurposeIdIter, KeyUsage, RequiredEkuNotFoundContext, RevocationCheckDepth,
    RevocationOptionsBuilder, UnknownStatusPolicy,
};

use crate::cert::Certificate;
use crate::crl::Crl;
use crate::error::{CertFailure, PkiError};
use crate::key::PublicKey;

/// The RSA key sizes accepted from a peer.
const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 8192;

/// Apple's enableRevocationCheck / strictRevocationCheck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Revocation {
    /// No revocation check.
    #[default]
    Off,
    /// A certificate a CRL lists is refused; an unknown status is accepted.
    BestEffort,
    /// As `BestEffort`, and an unknown status (no CRL from the issuer, an expired CRL) is
    /// refused too.
    Strict,
}

/// Which EKU the peer's certificate must allow (when it has an EKU extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The peer is a server (we are the initiator): serverAuth.
    Server,
    /// The peer is a client (we are the responder): clientAuth.
    Client,
}

/// EKU OIDs (contents octets).
mod eku {
    /// id-kp-serverAuth, 1.3.6.1.5.5.7.3.1 (RFC 5280 §4.2.1.12).
    pub(super) const SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
    /// id-kp-clientAuth, 1.3.6.1.5.5.7.3.2.
    pub(super) const CLIENT_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];
    /// id-kp-ipsecIKE, 1.3.6.1.5.5.7.3.17 (RFC 4945 §5.1.3.12).
    pub(super) const IPSEC_IKE: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x11];
    /// iKEIntermediate, 1.3.6.1.5.5.8.2.2 (what Apple and Windows put in VPN certificates).
    pub(super) const IKE_INTERMEDIATE: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x08, 0x02, 0x02];
    /// anyExtendedKeyUsage, 2.5.29.37.0 (RFC 4945 §5.1.3.12 accepts it for IKE).
    pub(super) const ANY: &[u8] = &[0x55, 0x1d, 0x25, 0x00];
}

/// The IKE EKU policy, applied by webpki to every certificate of the path: no EKU extension
/// passes; an EKU extension must name the purpose, IKE (either OID) or any purpose.
struct IkeEku(Purpose);

impl ExtendedKeyUsageValidator for IkeEku {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        let wanted = match self.0 {
            Purpose::Server => eku::SERVER_AUTH,
            Purpose::Client => eku::CLIENT_AUTH,
        };
        let accepted = [wanted, eku::IPSEC_IKE, eku::IKE_INTERMEDIATE, eku::ANY];
        let mut present = Vec::new();
        for id in iter {
            let id = id?;
            if accepted.iter().any(|oid| KeyPurposeId::new(oid) == id) {
                return Ok(());
            }
            present.push(id.to_decoded_oid());
        }
        if present.is_empty() {
            return Ok(());
        }
        let required = match self.0 {
            Purpose::Server => KeyUsage::server_auth(),
            Purpose::Client => KeyUsage::client_auth(),
        };
        Err(webpki::Error::RequiredEkuNotFoundContext(RequiredEkuNotFoundContext {
            required,
            present,
        }))
    }
}

/// Everything that decides whether a peer's chain is acceptable, except the clock.
#[derive(Clone)]
pub struct Validator {
    anchors: Vec<Certificate>,
    purpose: Purpose,
    crls: Vec<Crl>,
    revocation: Revocation,
    subject_cn: Option<String>,
    issuer_cn: Option<String>,
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Validator")
            .field("anchors", &self.anchors.len())
            .field("purpose", &self.purpose)
            .field("crls", &self.crls.len())
            .field("revocation", &self.revocation)
            .field("subject_cn", &self.subject_cn)
            .field("issuer_cn", &self.issuer_cn)
            .finish()
    }
}

impl Validator {
    /// Trusts `anchors` (CA certificates) for peers acting as `purpose`.
    pub fn new(anchors: Vec<Certificate>, purpose: Purpose) -> Self {
        Self {
            anchors,
            purpose,
            crls: Vec::new(),
            revocation: Revocation::Off,
            subject_cn: None,
            issuer_cn: None,
        }
    }

    /// CRLs configured up front (files, profile payloads).
    pub fn with_crls(mut self, crls: Vec<Crl>) -> Self {
        self.crls = crls;
        self
    }

    /// How revocation is checked.
    pub fn with_revocation(mut self, r: Revocation) -> Self {
        self.revocation = r;
        self
    }

    /// Apple's serverCertificateCommonName and serverCertificateIssuerCommonName.
    pub fn with_common_names(mut self, subject: Option<String>, issuer: Option<String>) -> Self {
        self.subject_cn = subject;
        self.issuer_cn = issuer;
        self
    }

    /// SHA-1 SPKI hashes of the anchors, for our CERTREQ.
    pub fn ca_key_hashes(&self) -> Vec<[u8; 20]> {
        self.anchors.iter().map(Certificate::spki_sha1).collect()
    }

    /// How revocation is checked.
    pub fn revocation(&self) -> Revocation {
        self.revocation
    }

    /// Validates `chain` (end entity first, as received in CERT payloads) at `now` for the
    /// peer identity `peer_id`, with the configured CRLs plus `extra_crls` (fetched by the
    /// runtime). Returns the end entity's key, to verify AUTH with.
    pub fn verify(
        &self,
        chain: &[Certificate],
        peer_id: &IdRepr,
        now: UnixTime,
        extra_crls: &[Crl],
    ) -> Result<PublicKey, CertFailure> {
        let end_entity = chain.first().ok_or(CertFailure::NoCertificate)?;
        self.verify_path(chain, now, extra_crls)?;
        if end_entity.digital_signature() == Some(false) {
            return Err(CertFailure::WrongKeyUsage);
        }
        if !identity_matches(end_entity, peer_id) {
            return Err(CertFailure::IdentityMismatch);
        }
        if let Some(cn) = &self.subject_cn
            && !names_equal(end_entity.subject_common_name(), cn)
        {
            return Err(CertFailure::CommonNameMismatch);
        }
        if let Some(cn) = &self.issuer_cn
            && !names_equal(end_entity.issuer_common_name(), cn)
        {
            return Err(CertFailure::IssuerCommonNameMismatch);
        }
        let key = end_entity.public_key().map_err(|e| match e {
            PkiError::Unsupported(_) => CertFailure::UnsupportedKey,
            _ => CertFailure::Malformed,
        })?;
        // Said here rather than as a failed AUTH: aws-lc-rs verifies RSA signatures of 2048
        // to 8192 bits only (RFC 8247 §3.2 asks for at least 2048).
        if key.rsa_modulus_bits().is_some_and(|bits| !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits))
        {
            return Err(CertFailure::UnsupportedKey);
        }
        Ok(key)
    }

    fn verify_path(
        &self,
        chain: &[Certificate],
        now: UnixTime,
        extra_crls: &[Crl],
    ) -> Result<(), CertFailure> {
        let anchor_ders: Vec<CertificateDer<'_>> =
            self.anchors.iter().map(|c| CertificateDer::from(c.der())).collect();
        let anchors: Vec<TrustAnchor<'_>> = anchor_ders
            .iter()
            .filter_map(|der| webpki::anchor_from_trusted_cert(der).ok())
            .collect();
        let ders: Vec<CertificateDer<'_>> =
            chain.iter().map(|c| CertificateDer::from(c.der())).collect();
        let (ee_der, intermediates) = ders.split_first().ok_or(CertFailure::NoCertificate)?;
        let ee = EndEntityCert::try_from(ee_der).map_err(map_webpki)?;

        // One path check, with or without revocation options.
        let verify_path = |revocation| {
            ee.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &anchors,
                intermediates,
                now,
                IkeEku(self.purpose),
                revocation,
                None,
            )
            .map(|_| ())
            .map_err(map_webpki)
        };
        let crls: Vec<&CertRevocationList<'_>> =
            self.crls.iter().chain(extra_crls).map(|c| &*c.list).collect();
        let revocation = match self.revocation {
            Revocation::Off => None,
            Revocation::BestEffort => RevocationOptionsBuilder::new(&crls).ok().map(|b| {
                b.with_depth(RevocationCheckDepth::Chain)
                    .with_status_policy(UnknownStatusPolicy::Allow)
                    // A stale CRL still proves what it lists.
                    .with_expiration_policy(ExpirationPolicy::Ignore)
                    .build()
            }),
            Revocation::Strict => match RevocationOptionsBuilder::new(&crls) {
                Ok(b) => Some(
                    b.with_depth(RevocationCheckDepth::Chain)
                        .with_status_policy(UnknownStatusPolicy::Deny)
                        .with_expiration_policy(ExpirationPolicy::Enforce)
                        .build(),
                ),
                // No CRL at all: every status is unknown. The path is still checked first so
                // that an untrusted or expired chain says so.
                Err(_) => {
                    verify_path(None)?;
                    return Err(CertFailure::RevocationUnknown);
                }
            },
        };
        verify_path(revocation)
    }
}

/// Apple compares common names as strings; ASCII case is ignored as for the DNS names they
/// usually are.
fn names_equal(cert: Option<&str>, configured: &str) -> bool {
    cert.is_some_and(|cn| cn.eq_ignore_ascii_case(configured))
}

/// The peer's ID against the certificate (RFC 7296 §3.5, RFC 4945 §3.1: the ID must be in
/// the certificate): FQDN in a DNS SAN (ASCII case ignored), an address in an IP SAN, an
/// RFC 822 address in an rfc822Name SAN (local part exact, domain case ignored, RFC 5280
/// §4.2.1.6), a DN equal to the subject (DER). Anything else (KEY_ID ...) never matches.
fn identity_matches(cert: &Certificate, id: &IdRepr) -> bool {
    let data = id.data.as_slice();
    match id.id_type {
        IdType::ID_FQDN => core::str::from_utf8(data)
            .is_ok_and(|fqdn| cert.dns_names().iter().any(|d| d.eq_ignore_ascii_case(fqdn))),
        IdType::ID_IPV4_ADDR => {
            data.len() == Ipv4Addr::from([0; 4]).octets().len()
                && cert.ip_addresses().iter().any(|ip| ip.as_slice() == data)
        }
        IdType::ID_IPV6_ADDR => {
            data.len() == Ipv6Addr::UNSPECIFIED.octets().len()
                && cert.ip_addresses().iter().any(|ip| ip.as_slice() == data)
        }
        IdType::ID_RFC822_ADDR => core::str::from_utf8(data)
            .is_ok_and(|addr| cert.emails().iter().any(|e| emails_equal(e, addr))),
        IdType::ID_DER_ASN1_DN => !data.is_empty() && cert.subject_der() == data,
        _ => false,
    }
}

fn emails_equal(a: &str, b: &str) -> bool {
    match (a.rsplit_once('@'), b.rsplit_once('@')) {
        (Some((la, da)), Some((lb, db))) => la == lb && da.eq_ignore_ascii_case(db),
        _ => false,
    }
}

/// Every webpki error as the failure a user is told.
fn map_webpki(e: webpki::Error) -> CertFailure {
    use webpki::Error as E;
    #[allow(deprecated)] // RequiredEkuNotFound is still produced by older call paths
    match e {
        E::CertExpired { .. } => CertFailure::Expired,
        E::CertNotValidYet { .. } => CertFailure::NotYetValid,
        E::CertRevoked => CertFailure::Revoked,
        E::UnknownRevocationStatus | E::CrlExpired { .. } => CertFailure::RevocationUnknown,
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            CertFailure::WrongKeyUsage
        }
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::InvalidCertValidity
        | E::InvalidSerialNumber
        | E::MalformedExtensions
        | E::ExtensionValueInvalid
        | E::UnsupportedCertVersion
        | E::UnsupportedCriticalExtension
        | E::SignatureAlgorithmMismatch => CertFailure::Malformed,
        E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => CertFailure::UnsupportedKey,
        // UnknownIssuer, a bad signature on a certificate, path length, CA flag, name
        // constraints, path-building limits: no acceptable path to an anchor.
        _ => CertFailure::UntrustedIssuer,
    }
}

/// What the sa state machine calls: `Validator` plus a clock (and, in the runtime, CRL
/// fetching). The sans-IO crates never read the clock; the tunnel crate implements this with
/// `SystemTime::now()`, tests with a fixed time ([`FixedTime`]).
pub trait PeerVerifier: Send + Sync + fmt::Debug {
    /// SHA-1 SPKI hashes of the trusted anchors, for CERTREQ.
    fn ca_key_hashes(&self) -> Vec<[u8; 20]>;
    /// Validates the peer's chain (end entity first) for its identity.
    fn verify(&self, chain: &[Certificate], peer_id: &IdRepr) -> Result<PublicKey, CertFailure>;
}

/// A `Validator` at a fixed time: for tests and for callers who pass the time themselves.
#[derive(Debug)]
pub struct FixedTime {
    /// The rules.
    pub validator: Validator,
    /// The time every verification uses.
    pub now: UnixTime,
}

impl PeerVerifier for FixedTime {
    fn ca_key_hashes(&self) -> Vec<[u8; 20]> {
        self.validator.ca_key_hashes()
    }

    fn verify(&self, chain: &[Certificate], peer_id: &IdRepr) -> Result<PublicKey, CertFailure> {
        self.validator.verify(chain, peer_id, self.now, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webpki::Error as E;

    /// Every webpki error we name, and the catch-all, as the failure a user is told.
    #[test]
    #[allow(deprecated)] // the context-free variants are the simplest to build
    fn webpki_errors_map_to_failures() {
        let t = UnixTime::since_unix_epoch(core::time::Duration::from_secs(1));
        let cases = [
            (E::UnknownIssuer, CertFailure::UntrustedIssuer),
            (E::CertExpired { time: t, not_after: t }, CertFailure::Expired),
            (E::CertNotValidYet { time: t, not_before: t }, CertFailure::NotYetValid),
            (E::CertRevoked, CertFailure::Revoked),
            (E::UnknownRevocationStatus, CertFailure::RevocationUnknown),
            (E::CrlExpired { time: t, next_update: t }, CertFailure::RevocationUnknown),
            (E::RequiredEkuNotFound, CertFailure::WrongKeyUsage),
            (E::EmptyEkuExtension, CertFailure::WrongKeyUsage),
            (E::BadDer, CertFailure::Malformed),
            (E::BadDerTime, CertFailure::Malformed),
            (E::UnsupportedCertVersion, CertFailure::Malformed),
            (E::UnsupportedCriticalExtension, CertFailure::Malformed),
            (E::SignatureAlgorithmMismatch, CertFailure::Malformed),
            (E::UnsupportedSignatureAlgorithm, CertFailure::UnsupportedKey),
            (E::UnsupportedSignatureAlgorithmForPublicKey, CertFailure::UnsupportedKey),
            (E::PathLenConstraintViolated, CertFailure::UntrustedIssuer),
            (E::CaUsedAsEndEntity, CertFailure::UntrustedIssuer),
            (E::EndEntityUsedAsCa, CertFailure::UntrustedIssuer),
            (E::InvalidSignatureForPublicKey, CertFailure::UntrustedIssuer),
            (E::NameConstraintViolation, CertFailure::UntrustedIssuer),
            (E::MaximumSignatureChecksExceeded, CertFailure::UntrustedIssuer),
        ];
        for (error, failure) in cases {
            let text = format!("{error:?}");
            assert_eq!(map_webpki(error), failure, "{text}");
        }
    }
}
