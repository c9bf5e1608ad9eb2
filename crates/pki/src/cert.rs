//! One X.509 certificate: its DER (which path validation and CERT payloads use) and the
//! fields read once at parse time (names, validity, SAN, key usage, CRL distribution points).

use core::fmt;
use core::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};
use sha1::{Digest, Sha1};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::error::PkiError;
use crate::key::PublicKey;

/// One parsed X.509 certificate (DER kept).
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    fields: Fields,
}

/// What validation and identity matching read, copied out of the parse so a `Certificate`
/// owns no borrowed parser state.
#[derive(Clone, Default)]
struct Fields {
    subject_cn: Option<String>,
    issuer_cn: Option<String>,
    subject_dn: Vec<u8>,
    not_before: u64,
    not_after: u64,
    spki: Vec<u8>,
    dns_names: Vec<String>,
    ip_addresses: Vec<Vec<u8>>,
    emails: Vec<String>,
    /// `None` when the certificate has no key usage extension.
    digital_signature: Option<bool>,
    crl_urls: Vec<String>,
}

impl Certificate {
    /// Parses one DER certificate; trailing bytes are refused.
    pub fn from_der(der: Vec<u8>) -> Result<Self, PkiError> {
        let fields = {
            let (rest, cert) =
                X509Certificate::from_der(&der).map_err(|_| PkiError::MalformedCertificate)?;
            if !rest.is_empty() {
                return Err(PkiError::MalformedCertificate);
            }
            Fields::read(&cert)?
        };
        Ok(Self { der, fields })
    }

    /// The DER encoding, as sent in a CERT payload.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The first commonName of the subject, if it is a string.
    pub fn subject_common_name(&self) -> Option<&str> {
        self.fields.subject_cn.as_deref()
    }

    /// The first commonName of the issuer, if it is a string.
    pub fn issuer_common_name(&self) -> Option<&str> {
        self.fields.issuer_cn.as_deref()
    }

    /// The DER of the subject Name (what ID_DER_ASN1_DN carries).
    pub fn subject_der(&self) -> &[u8] {
        &self.fields.subject_dn
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(self.fields.not_before))
    }

    /// End of the validity period (inclusive, RFC 5280 §4.1.2.5).
    pub fn not_after(&self) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(self.fields.not_after))
    }

    /// The subject's public key.
    pub fn public_key(&self) -> Result<PublicKey, PkiError> {
        PublicKey::from_spki_der(&self.fields.spki)
    }

    /// SHA-1 of the DER SubjectPublicKeyInfo: the CA value of a CERTREQ (RFC 7296 §3.7).
    pub fn spki_sha1(&self) -> [u8; 20] {
        Sha1::digest(&self.fields.spki).into()
    }

    /// http:// URLs of the CRL distribution points.
    pub fn crl_urls(&self) -> Vec<String> {
        self.fields.crl_urls.clone()
    }

    pub(crate) fn dns_names(&self) -> &[String] {
        &self.fields.dns_names
    }

    pub(crate) fn ip_addresses(&self) -> &[Vec<u8>] {
        &self.fields.ip_addresses
    }

    pub(crate) fn emails(&self) -> &[String] {
        &self.fields.emails
    }

    /// `Some(false)` when a key usage extension is present without digitalSignature.
    pub(crate) fn digital_signature(&self) -> Option<bool> {
        self.fields.digital_signature
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject_cn", &self.fields.subject_cn)
            .field("issuer_cn", &self.fields.issuer_cn)
            .field("not_before", &self.fields.not_before)
            .field("not_after", &self.fields.not_after)
            .field("der_len", &self.der.len())
            .finish()
    }
}

impl Fields {
    fn read(cert: &X509Certificate<'_>) -> Result<Self, PkiError> {
        let malformed = |_| PkiError::MalformedCertificate;
        let first_cn = |name: &x509_parser::x509::X509Name<'_>| {
            name.iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned)
        };
        // Times before 1970 cannot be a UnixTime; they only make a certificate valid earlier,
        // so clamping to the epoch changes no decision after 1970.
        let secs = |t: i64| u64::try_from(t).unwrap_or(0);
        let validity = cert.validity();
        let mut fields = Fields {
            subject_cn: first_cn(cert.subject()),
            issuer_cn: first_cn(cert.issuer()),
            subject_dn: cert.subject().as_raw().to_vec(),
            not_before: secs(validity.not_before.timestamp()),
            not_after: secs(validity.not_after.timestamp()),
            spki: cert.public_key().raw.to_vec(),
            ..Fields::default()
        };
        if let Some(san) = cert.subject_alternative_name().map_err(malformed)? {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => fields.dns_names.push((*dns).to_owned()),
                    GeneralName::IPAddress(ip) => fields.ip_addresses.push(ip.to_vec()),
                    GeneralName::RFC822Name(email) => fields.emails.push((*email).to_owned()),
                    _ => {}
                }
            }
        }
        if let Some(ku) = cert.key_usage().map_err(malformed)? {
            fields.digital_signature = Some(ku.value.digital_signature());
        }
        for ext in cert.extensions() {
            if let ParsedExtension::CRLDistributionPoints(points) = ext.parsed_extension() {
                for point in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point
                    {
                        for name in names {
                            if let GeneralName::URI(uri) = name
                                && uri.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"))
                            {
                                fields.crl_urls.push((*uri).to_owned());
                            }
                        }
                    }
                }
            }
        }
        Ok(fields)
    }
}

/// PEM (one or more CERTIFICATE blocks) or a single DER certificate.
pub fn certificates_from_pem_or_der(bytes: &[u8]) -> Result<Vec<Certificate>, PkiError> {
    // DER certificates start with a SEQUENCE tag; PEM is text.
    if bytes.first() == Some(&0x30) {
        return Ok(vec![Certificate::from_der(bytes.to_vec())?]);
    }
    let mut out = Vec::new();
    for item in CertificateDer::pem_slice_iter(bytes) {
        let der = item.map_err(|_| PkiError::MalformedCertificate)?;
        out.push(Certificate::from_der(der.as_ref().to_vec())?);
    }
    if out.is_empty() {
        return Err(PkiError::NoCertificate);
    }
    Ok(out)
}
