//! The certificate material of a configuration: trust anchors and CRLs (public, kept in the
//! preferences as DER), our identity (secret, kept in the [`SecretStore`]), and the check of
//! Apple's `certificateType` against the identity's key.
//!
//! Every file here is read as hostile: at most [`MAX_CERTIFICATE_FILE`] bytes, parsed by
//! `ikeway-pki` (bounded DER and PEM parsers), refused whole at the first error.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use ikeway_crypto::SecretBytes;
use ikeway_pki::{Certificate, Crl, Identity, KeyKind, PkiError, certificates_from_pem_or_der};
use rustls_pki_types::CertificateRevocationListDer;
use rustls_pki_types::pem::PemObject;

use crate::model::{AuthenticationMethod, CertificateType, Der, Ikev2Protocol};
use crate::secrets::{PersistentRef, SecretError, SecretSource, SecretStore};

/// The largest certificate, key, CRL or PKCS#12 file read.
pub const MAX_CERTIFICATE_FILE: u64 = 1 << 20;

/// Where the system's trusted certificates are (Debian's `ca-certificates` layout).
pub const SYSTEM_TRUST_STORE: &str = "/etc/ssl/certs";

/// The bundle of the system store, read instead of the directory when present.
const SYSTEM_BUNDLE: &str = "ca-certificates.crt";

/// The system store read at most: a bundle of every public CA is about 200 KiB.
const MAX_SYSTEM_STORE: u64 = 16 << 20;

/// Why certificate material could not be read or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path} is larger than {max} bytes: not a certificate, key or CRL")]
    TooLarge { path: PathBuf, max: u64 },
    #[error("{what}: {source}")]
    Pki { what: String, source: PkiError },
    #[error("{what}: the PKCS#12 password is not UTF-8")]
    PasswordNotUtf8 { what: String },
    #[error(
        "certificate_type is {configured} but the identity's key is {actual}; \
         set certificate_type to {actual}"
    )]
    TypeMismatch { configured: &'static str, actual: &'static str },
    #[error(transparent)]
    Secret(#[from] SecretError),
}

/// Reads a certificate, key, CRL or PKCS#12 file, refusing one larger than
/// [`MAX_CERTIFICATE_FILE`] without reading it whole.
pub fn read_certificate_file(path: &Path) -> Result<Vec<u8>, CertError> {
    read_bounded(path, MAX_CERTIFICATE_FILE)
}

fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, CertError> {
    let io = |source| CertError::Read { path: path.to_owned(), source };
    let mut bytes = Vec::new();
    fs::File::open(path).map_err(io)?.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(CertError::TooLarge { path: path.to_owned(), max });
    }
    Ok(bytes)
}

fn pki(what: impl std::fmt::Display) -> impl FnOnce(PkiError) -> CertError {
    move |source| CertError::Pki { what: what.to_string(), source }
}

/// The certificates of a PEM or DER file, as the preferences keep them.
pub fn anchors_from(what: impl std::fmt::Display, bytes: &[u8]) -> Result<Vec<Der>, CertError> {
    let certificates = certificates_from_pem_or_der(bytes).map_err(pki(what))?;
    Ok(certificates.iter().map(|c| Der(c.der().to_vec())).collect())
}

/// A CRL from a PEM or DER file, checked and kept as DER.
pub fn crl_from(what: impl std::fmt::Display, bytes: &[u8]) -> Result<Der, CertError> {
    Crl::from_pem_or_der(bytes).map_err(pki(&what))?;
    if bytes.first() == Some(&0x30) {
        return Ok(Der(bytes.to_vec()));
    }
    // It parsed, so the PEM has a CRL block.
    let der = CertificateRevocationListDer::from_pem_slice(bytes)
        .map_err(|_| PkiError::MalformedCrl)
        .map_err(pki(what))?;
    Ok(Der(der.as_ref().to_vec()))
}

/// Apple's `certificateType` for a key.
pub fn certificate_type_of(kind: KeyKind) -> CertificateType {
    match kind {
        KeyKind::Rsa => CertificateType::Rsa,
        KeyKind::RsaPss => CertificateType::RsaPss,
        KeyKind::EcdsaP256 => CertificateType::Ecdsa256,
        KeyKind::EcdsaP384 => CertificateType::Ecdsa384,
        KeyKind::EcdsaP521 => CertificateType::Ecdsa521,
        KeyKind::Ed25519 => CertificateType::Ed25519,
    }
}

/// Apple's profile name of a certificate type (`CertificateType` key).
pub(crate) fn certificate_type_name(t: CertificateType) -> &'static str {
    crate::profile::name_of(crate::profile::CERT_TYPES, t)
}

/// `certificateType` must name the identity's key (Apple refuses the identity otherwise).
pub fn check_certificate_type(configured: CertificateType, kind: KeyKind) -> Result<(), CertError> {
    let actual = certificate_type_of(kind);
    if configured == actual {
        return Ok(());
    }
    Err(CertError::TypeMismatch {
        configured: certificate_type_name(configured),
        actual: certificate_type_name(actual),
    })
}

/// Our identity as the user gives it.
#[derive(Debug, Clone, Copy)]
pub enum IdentityData<'a> {
    /// `identityData` and `identityDataPassword`: PKCS#12.
    Pkcs12 { data: &'a [u8], password: &'a SecretBytes },
    /// A PEM private key and its PEM certificate chain.
    Pem { key: &'a [u8], chain: &'a [u8] },
}

fn password_str<'a>(what: &str, password: &'a SecretBytes) -> Result<&'a str, CertError> {
    std::str::from_utf8(password.expose())
        .map_err(|_| CertError::PasswordNotUtf8 { what: what.to_owned() })
}

/// Parses an identity: the key must belong to the first certificate.
pub fn parse_identity(what: &str, data: IdentityData<'_>) -> Result<Identity, CertError> {
    match data {
        IdentityData::Pkcs12 { data, password } => {
            Identity::from_pkcs12(data, password_str(what, password)?).map_err(pki(what))
        }
        IdentityData::Pem { key, chain } => {
            Identity::from_pem_files_content(key, chain).map_err(pki(what))
        }
    }
}

/// Makes `data` the identity of `protocol`: parsed, its key checked against
/// `certificate_type` (`None`: the type is set from the key), stored in `store` (a PEM key
/// and chain as one PEM text), the previous identity and password removed, and the
/// authentication method set to Certificate.
pub fn set_identity(
    protocol: &mut Ikev2Protocol,
    store: &SecretStore,
    what: &str,
    data: IdentityData<'_>,
    certificate_type: Option<CertificateType>,
) -> Result<Identity, CertError> {
    let identity = parse_identity(what, data)?;
    match certificate_type {
        Some(t) => check_certificate_type(t, identity.kind())?,
        None => protocol.certificate_type = certificate_type_of(identity.kind()),
    }
    let refs = (&mut protocol.identity_reference, &mut protocol.identity_data_password_reference);
    store_identity(store, data, refs)?;
    protocol.authentication_method = AuthenticationMethod::Certificate;
    Ok(identity)
}

/// Stores an identity that parsed (a PEM key and chain as one PEM text) and points `refs`
/// (identity, PKCS#12 password) at it, removing what they pointed at before.
pub fn store_identity(
    store: &SecretStore,
    data: IdentityData<'_>,
    refs: (&mut Option<PersistentRef>, &mut Option<PersistentRef>),
) -> Result<(), CertError> {
    let (blob, password) = match data {
        IdentityData::Pkcs12 { data, password } => {
            (SecretBytes::from_slice(data), Some(password.clone()))
        }
        IdentityData::Pem { key, chain } => {
            let mut pem = zeroize::Zeroizing::new(Vec::with_capacity(key.len() + chain.len() + 1));
            pem.extend_from_slice(key);
            pem.push(b'\n');
            pem.extend_from_slice(chain);
            (SecretBytes::from_slice(&pem), None)
        }
    };
    let reference = store.add(&blob)?;
    let password = password.map(|p| store.add(&p)).transpose()?;
    if let Some(old) = refs.0.replace(reference) {
        store.remove(&old)?;
    }
    if let Some(old) = std::mem::replace(refs.1, password) {
        store.remove(&old)?;
    }
    Ok(())
}

/// Why a stored identity could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    #[error("no identity is configured (identity_reference)")]
    Missing,
    #[error("identity_reference: the secret store has no secret {0}")]
    MissingSecret(PersistentRef),
    #[error(transparent)]
    Cert(#[from] CertError),
}

impl From<SecretError> for IdentityError {
    fn from(e: SecretError) -> Self {
        Self::Cert(CertError::Secret(e))
    }
}

fn stored(secrets: &dyn SecretSource, r: &PersistentRef) -> Result<SecretBytes, IdentityError> {
    secrets.secret(r)?.ok_or_else(|| IdentityError::MissingSecret(r.clone()))
}

/// The identity of `protocol`, from the secret store: PKCS#12 (DER, which starts with a
/// SEQUENCE) with its password, or PEM text.
pub fn load_identity(
    protocol: &Ikev2Protocol,
    secrets: &dyn SecretSource,
) -> Result<Identity, IdentityError> {
    let refs =
        (protocol.identity_reference.as_ref(), protocol.identity_data_password_reference.as_ref());
    load_identity_from(refs, secrets)
}

/// The identity that `refs` (identity, PKCS#12 password) point at in the secret store.
pub fn load_identity_from(
    refs: (Option<&PersistentRef>, Option<&PersistentRef>),
    secrets: &dyn SecretSource,
) -> Result<Identity, IdentityError> {
    let reference = refs.0.ok_or(IdentityError::Missing)?;
    let blob = stored(secrets, reference)?;
    let what = "identity_reference";
    let data = blob.expose();
    if data.first() == Some(&0x30) {
        let password = match refs.1 {
            Some(r) => stored(secrets, r)?,
            None => SecretBytes::from_slice(b""),
        };
        Ok(parse_identity(what, IdentityData::Pkcs12 { data, password: &password })?)
    } else {
        Ok(parse_identity(what, IdentityData::Pem { key: data, chain: data })?)
    }
}

/// The certificates of the system store: its bundle (`ca-certificates.crt`) when there is
/// one, else every `.pem` / `.crt` file of the directory. A file that does not parse is
/// skipped (stores hold other things too); an empty result is an error.
pub fn system_anchors(dir: &Path) -> Result<Vec<Certificate>, CertError> {
    let bundle = dir.join(SYSTEM_BUNDLE);
    let mut files = Vec::new();
    if bundle.is_file() {
        files.push(bundle);
    } else {
        let entries =
            fs::read_dir(dir).map_err(|source| CertError::Read { path: dir.to_owned(), source })?;
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "pem" || x == "crt") {
                files.push(p);
            }
        }
        files.sort();
    }
    let mut anchors = Vec::new();
    let mut total = 0u64;
    for f in files {
        let Ok(bytes) = read_bounded(&f, MAX_SYSTEM_STORE - total) else {
            continue;
        };
        total += bytes.len() as u64;
        if let Ok(mut c) = certificates_from_pem_or_der(&bytes) {
            anchors.append(&mut c);
        }
        if total >= MAX_SYSTEM_STORE {
            break;
        }
    }
    if anchors.is_empty() {
        return Err(CertError::Pki {
            what: format!("the system trust store {}", dir.display()),
            source: PkiError::NoCertificate,
        });
    }
    Ok(anchors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ikeway_testkit::certs::TestCa;

    #[test]
    fn the_system_store_is_its_bundle_or_its_certificate_files() {
        let (a, b) = (TestCa::new("A"), TestCa::new("B"));
        let names = |v: Vec<Certificate>| -> Vec<String> {
            v.iter().map(|c| c.subject_common_name().unwrap_or_default().to_owned()).collect()
        };
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.pem"), &a.cert_pem).unwrap();
        fs::write(dir.path().join("b.crt"), &b.cert_pem).unwrap();
        fs::write(dir.path().join("README"), "not a certificate").unwrap();
        fs::write(dir.path().join("broken.pem"), "-----BEGIN CERTIFICATE-----\nAA==\n").unwrap();
        assert_eq!(names(system_anchors(dir.path()).unwrap()), ["A", "B"]);
        // With a bundle, only the bundle.
        fs::write(dir.path().join(SYSTEM_BUNDLE), &b.cert_pem).unwrap();
        assert_eq!(names(system_anchors(dir.path()).unwrap()), ["B"]);
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            system_anchors(empty.path()).unwrap_err().to_string(),
            format!("the system trust store {}: no certificate found", empty.path().display())
        );
    }

    #[test]
    fn crls_are_kept_as_der_whether_given_as_pem_or_der() {
        let ca = TestCa::new("A");
        let pem = ca.empty_crl_pem();
        let der = crl_from("a.crl", pem.as_bytes()).unwrap();
        assert_eq!(der.0.first(), Some(&0x30));
        assert_eq!(crl_from("a.der", &der.0).unwrap(), der);
        assert_eq!(
            crl_from("a.pem", ca.cert_pem.as_bytes()).unwrap_err().to_string(),
            "a.pem: not an X.509 CRL"
        );
    }

    #[test]
    fn files_over_the_limit_are_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.pem");
        fs::write(&path, vec![b'-'; MAX_CERTIFICATE_FILE as usize + 1]).unwrap();
        assert_eq!(
            read_certificate_file(&path).unwrap_err().to_string(),
            format!(
                "{} is larger than 1048576 bytes: not a certificate, key or CRL",
                path.display()
            )
        );
        fs::write(&path, vec![b'-'; MAX_CERTIFICATE_FILE as usize]).unwrap();
        assert_eq!(read_certificate_file(&path).unwrap().len(), MAX_CERTIFICATE_FILE as usize);
    }
}
