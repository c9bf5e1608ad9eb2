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

impl Body<crate::Ikev2> for CertRepr {
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

/// Octets of one CA entry of an X.509 CERTREQ: the SHA-1 hash of the CA's
/// SubjectPublicKeyInfo (RFC 7296 §3.7).
pub const CA_HASH_LEN: usize = 20;

impl CertRepr {
    /// A CERT payload carrying one DER certificate with encoding 4, "X.509
    /// Certificate - Signature" (RFC 7296 §3.6).
    pub fn x509(der: Vec<u8>) -> Self {
        Self { encoding: CertEncoding::X509_CERT_SIG, data: der }
    }

    /// A CERTREQ for X.509 certificates signed by any of the CAs whose public
    /// key hashes are given (RFC 7296 §3.7: "a concatenated list of SHA-1
    /// hashes of the public keys of trusted Certification Authorities").
    pub fn x509_request(ca_hashes: &[[u8; CA_HASH_LEN]]) -> Self {
        Self { encoding: CertEncoding::X509_CERT_SIG, data: ca_hashes.concat() }
    }

    /// For a CERTREQ with X.509 encoding: the 20-octet SHA-1 hashes of the
    /// trusted CAs' public keys (§3.7), or `None` if the data is not a
    /// multiple of 20 octets.
    pub fn ca_hashes(&self) -> Option<&[[u8; CA_HASH_LEN]]> {
        match self.data.as_chunks::<CA_HASH_LEN>() {
            (hashes, []) => Some(hashes),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certreq_of_two_ca_hashes_encodes_and_splits_back() {
        let hashes = [[0x11; 20], [0x22; 20]];
        let req = CertRepr::x509_request(&hashes);
        let mut buf = [0u8; 41];
        assert_eq!(req.emit(&mut buf), Ok(41));
        assert_eq!(buf[0], 4);
        assert_eq!(&buf[1..21], &[0x11; 20]);
        assert_eq!(&buf[21..], &[0x22; 20]);
        let back = CertRepr::parse(&buf).expect("valid CERTREQ");
        assert_eq!(back.ca_hashes(), Some(&hashes[..]));
    }

    #[test]
    fn certreq_with_no_ca_is_an_empty_list() {
        let req = CertRepr::parse(&[4]).expect("an encoding octet alone is a valid body");
        assert_eq!(req.ca_hashes(), Some(&[][..]));
    }

    #[test]
    fn rejects_ca_list_not_a_multiple_of_twenty_octets() {
        let mut body = vec![4u8];
        body.extend_from_slice(&[0xab; 21]);
        assert_eq!(CertRepr::parse(&body).expect("opaque data parses").ca_hashes(), None);
    }

    #[test]
    fn x509_cert_payload_is_encoding_four_then_the_der() {
        let cert = CertRepr::x509(vec![0x30, 0x03, 0x02, 0x01, 0x05]);
        assert_eq!(cert.buffer_len(), 6);
        let mut buf = [0u8; 6];
        assert_eq!(cert.emit(&mut buf), Ok(6));
        assert_eq!(buf, [4, 0x30, 0x03, 0x02, 0x01, 0x05]);
        assert_eq!(CertRepr::parse(&buf), Ok(cert));
    }

    #[test]
    fn rejects_empty_cert_body() {
        assert_eq!(
            CertRepr::parse(&[]).map_err(|e| e.kind),
            Err(crate::DecodeErrorKind::Truncated)
        );
    }
}
