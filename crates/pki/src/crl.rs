//! Certificate revocation lists, parsed once by rustls-webpki for its revocation check.

use core::fmt;
use std::sync::Arc;

use core::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateRevocationListDer, UnixTime};
use webpki::{BorrowedCertRevocationList, CertRevocationList};

use crate::error::PkiError;

/// A parsed CRL (DER or PEM). Cloning shares the parsed list.
#[derive(Clone)]
pub struct Crl {
    pub(crate) list: Arc<CertRevocationList<'static>>,
    next_update: UnixTime,
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
        // webpki keeps nextUpdate to itself; it refuses a CRL without one, so this is found.
        let next_update = {
            use x509_parser::prelude::FromDer;
            let (_, crl) = x509_parser::revocation_list::CertificateRevocationList::from_der(&der)
                .map_err(|_| PkiError::MalformedCrl)?;
            let secs = crl.next_update().ok_or(PkiError::MalformedCrl)?.timestamp();
            UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(secs).unwrap_or(0)))
        };
        Ok(Self { list: Arc::new(CertRevocationList::Owned(list)), next_update })
    }

    /// nextUpdate: when the issuer promises the next CRL, so until when a cached copy is
    /// current (RFC 5280 §5.1.2.5).
    pub fn next_update(&self) -> UnixTime {
        self.next_update
    }
}

impl fmt::Debug for Crl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crl").finish_non_exhaustive()
    }
}
