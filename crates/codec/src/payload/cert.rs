//! Certificate and Certificate Request payloads (RFC 7296 §3.6, §3.7).
//!
//! Both bodies are an encoding octet followed by opaque data (a certificate,
//! or for CERTREQ a concatenation of SHA-1 hashes of trusted CA keys).

use super::{Body, body_api};
use crate::error::{DecodeError, EmitError};
use crate::reader::{Reader, Writer};
use crate::registry::CertEncoding;

/// A CERT or CERTREQ payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertRepr {
    /// Certificate encoding.
    pub encoding: CertEncoding,
    /// Certificate data (CERT) or certification authority data (CERTREQ).
    pub data: Vec<u8>,
}

impl Body for CertRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let encoding = CertEncoding(r.u8()?);
        Ok(Self { encoding, data: r.rest().to_vec() })
    }

    fn body_len(&self) -> usize {
        1 + self.data.len()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        w.u8(self.encoding.0)?;
        w.put(&self.data)
    }
}

body_api!(CertRepr);

impl CertRepr {
    /// For a CERTREQ with X.509 encoding: the 20-octet SHA-1 hashes of the
    /// trusted CAs' public keys (§3.7), or `None` if the data is not a
    /// multiple of 20 octets.
    pub fn ca_hashes(&self) -> Option<impl Iterator<Item = &[u8]>> {
        if !self.data.len().is_multiple_of(20) {
            return None;
        }
        Some(self.data.chunks_exact(20))
    }
}
