//! Certificate revocation lists, parsed once by rustls-webpki for its revocation check.

use core::fmt;
use std::sync::Arc;

use rustls_pki_types::CertificateRevocationListDer;
use rustls_pki_types::pem::PemObject;
use webpki::{BorrowedCertRevocationList, CertRevocationList};

use crate::error::PkiError;

/// A parsed CRL (DER or PEM). Cloning shares the parsed list.
#[derive(Clone)]
pub struct Crl {
    pub(crate) list: Arc<CertRevocationList<'static>>,
}

impl Crl {
    /// One DER CRL, or the first X509 CRL block of PEM text.
    pub fn from_pem_or_der(bytes: &[u8]) -> Result<Self, PkiError> {
        let der = if bytes.first() == Some(&0x30) {
            bytes.to_vec()
        } else {
            CertificateRevocationListDer::from_pem_slice(bytes)
                .map_err(|_| PkiError::MalformedCrl)?
                .as_ref()
                .to_vec()
        };
        let list = BorrowedCertRevocationList::from_der(&der)
            .and_then(|l| l.to_owned())
            .map_err(|_| PkiError::MalformedCrl)?;
        Ok(Self { list: Arc::new(CertRevocationList::Owned(list)) })
    }
}

impl fmt::Debug for Crl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crl").finish_non_exhaustive()
    }
}
