//! Certificate and Certificate Request payloads (RFC 2408 §3.9, §3.10):
//! one encoding octet, then the certificate (or, in a request, the DER
//! name of an acceptable certificate authority, possibly empty).
//!
//! ```text
//! ! Cert Encoding !                                               !
//! +-+-+-+-+-+-+-+-+                                               !
//! ~                 Certificate Data / Certificate Authority      ~
//! ```

use super::{Body, body_api};
use crate::error::{DecodeError, EmitError};
use crate::reader::{Reader, Writer};
use crate::registry::CertEncoding;

/// A CERT or CR payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertRepr {
    /// The certificate type (X.509 signature, 4, in practice).
    pub encoding: CertEncoding,
    /// The certificate, or the requested authority's DER name.
    pub data: Vec<u8>,
}

impl CertRepr {
    /// An X.509 signature certificate, or a request for one from the
    /// authority named by `data` (empty: any).
    pub fn x509(data: impl Into<Vec<u8>>) -> Self {
        Self { encoding: CertEncoding::X509_SIGNATURE, data: data.into() }
    }
}

impl Body<crate::error::Ikev1> for CertRepr {
    fn parse_body(c: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let encoding = CertEncoding(c.u8()?);
        Ok(Self { encoding, data: c.rest().to_vec() })
    }

    fn body_len(&self) -> usize {
        1 + self.data.len()
    }

    fn emit_body(&self, o: &mut Writer<'_>) -> Result<(), EmitError> {
        o.u8(self.encoding.0)?;
        o.put(&self.data)
    }
}

body_api!(CertRepr);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;

    #[test]
    fn x509_round_trip_and_empty_request() {
        let c = CertRepr::x509(vec![0x30, 0x82, 0x01, 0x00]);
        assert_eq!(c.to_vec().unwrap(), [4, 0x30, 0x82, 0x01, 0x00]);
        assert_eq!(CertRepr::parse(&[4]).unwrap(), CertRepr::x509(Vec::new()));
        let e = CertRepr::parse(&[]).expect_err("no encoding octet");
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::Truncated, 0));
    }
}
