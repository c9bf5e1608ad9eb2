//! Identification payloads, IDi and IDr (RFC 7296 §3.5, RFC 7619).
//!
//! ```text
//! |   ID Type     |                 RESERVED                      |
//! ~                   Identification Data                         ~
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use smallvec::SmallVec;

use super::{Body, body_api};
use crate::error::{DecodeError, DecodeErrorKind, EmitError};
use crate::reader::{Reader, Writer};
use crate::registry::IdType;

/// Identification data, inline up to 32 octets: addresses and the names administrators
/// usually give (an FQDN or e-mail address) are parsed, built and cloned (an SA keeps its own
/// and its peer's) without an allocation. Longer names and DER names spill to the heap.
pub type IdData = SmallVec<[u8; 32]>;

/// An IDi or IDr payload body.
///
/// The data is kept raw: the AUTH computation (§2.15) signs the body bytes
/// exactly as sent. [`IdRepr::value`] gives a typed view.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdRepr {
    /// ID type.
    pub id_type: IdType,
    /// Identification data.
    pub data: IdData,
}

/// A typed view of identification data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdValue<'a> {
    /// ID_IPV4_ADDR.
    Ipv4(Ipv4Addr),
    /// ID_IPV6_ADDR.
    Ipv6(Ipv6Addr),
    /// ID_FQDN (ASCII per §3.5; kept if it is UTF-8).
    Fqdn(&'a str),
    /// ID_RFC822_ADDR.
    Rfc822(&'a str),
    /// ID_DER_ASN1_DN: a DER Name.
    DerAsn1Dn(&'a [u8]),
    /// ID_DER_ASN1_GN: a DER GeneralName.
    DerAsn1Gn(&'a [u8]),
    /// ID_KEY_ID: opaque octets.
    KeyId(&'a [u8]),
    /// ID_NULL (RFC 7619); its data should be empty.
    Null,
    /// Any other type, or an FQDN/RFC822 name that is not UTF-8.
    Other(IdType, &'a [u8]),
}

impl IdRepr {
    /// Build from a typed value.
    pub fn from_value(value: IdValue<'_>) -> Self {
        let (id_type, data) = match value {
            IdValue::Ipv4(a) => (IdType::ID_IPV4_ADDR, &a.octets()[..]),
            IdValue::Ipv6(a) => (IdType::ID_IPV6_ADDR, &a.octets()[..]),
            IdValue::Fqdn(s) => (IdType::ID_FQDN, s.as_bytes()),
            IdValue::Rfc822(s) => (IdType::ID_RFC822_ADDR, s.as_bytes()),
            IdValue::DerAsn1Dn(b) => (IdType::ID_DER_ASN1_DN, b),
            IdValue::DerAsn1Gn(b) => (IdType::ID_DER_ASN1_GN, b),
            IdValue::KeyId(b) => (IdType::ID_KEY_ID, b),
            IdValue::Null => (IdType::ID_NULL, &[][..]),
            IdValue::Other(t, b) => (t, b),
        };
        Self { id_type, data: IdData::from_slice(data) }
    }

    /// The typed view of the data. Address lengths were checked on parse;
    /// a hand-built repr with a wrong length yields `Other`.
    pub fn value(&self) -> IdValue<'_> {
        let d = self.data.as_slice();
        match self.id_type {
            IdType::ID_IPV4_ADDR => match <[u8; 4]>::try_from(d) {
                Ok(a) => IdValue::Ipv4(Ipv4Addr::from(a)),
                Err(_) => IdValue::Other(self.id_type, d),
            },
            IdType::ID_IPV6_ADDR => match <[u8; 16]>::try_from(d) {
                Ok(a) => IdValue::Ipv6(Ipv6Addr::from(a)),
                Err(_) => IdValue::Other(self.id_type, d),
            },
            IdType::ID_FQDN => match core::str::from_utf8(d) {
                Ok(s) => IdValue::Fqdn(s),
                Err(_) => IdValue::Other(self.id_type, d),
            },
            IdType::ID_RFC822_ADDR => match core::str::from_utf8(d) {
                Ok(s) => IdValue::Rfc822(s),
                Err(_) => IdValue::Other(self.id_type, d),
            },
            IdType::ID_DER_ASN1_DN => IdValue::DerAsn1Dn(d),
            IdType::ID_DER_ASN1_GN => IdValue::DerAsn1Gn(d),
            IdType::ID_KEY_ID => IdValue::KeyId(d),
            IdType::ID_NULL => IdValue::Null,
            t => IdValue::Other(t, d),
        }
    }
}

impl Body<crate::Ikev2> for IdRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let id_type = IdType(r.u8()?);
        r.skip(3)?;
        let at = r.offset();
        let data = r.rest();
        // §3.5: an IPv4 ID is "a single four (4) octet IPv4 address", an
        // IPv6 ID "a single sixteen (16) octet IPv6 address".
        let want = match id_type {
            IdType::ID_IPV4_ADDR => Some(4),
            IdType::ID_IPV6_ADDR => Some(16),
            _ => None,
        };
        if want.is_some_and(|n| n != data.len()) {
            return Err(DecodeError::new(DecodeErrorKind::IdLength, at));
        }
        Ok(Self { id_type, data: IdData::from_slice(data) })
    }

    fn body_len(&self) -> usize {
        4 + self.data.len()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        w.u8(self.id_type.0)?;
        w.zeros(3)?;
        w.put(&self.data)
    }
}

body_api!(IdRepr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values() {
        let id = IdRepr::parse(&[1, 0, 0, 0, 192, 168, 1, 2]).unwrap();
        assert_eq!(id.value(), IdValue::Ipv4(Ipv4Addr::new(192, 168, 1, 2)));
        let fq = IdRepr::from_value(IdValue::Fqdn("vpn.example.org"));
        let mut buf = vec![0u8; fq.buffer_len()];
        fq.emit(&mut buf).unwrap();
        assert_eq!(IdRepr::parse(&buf).unwrap().value(), IdValue::Fqdn("vpn.example.org"));
        assert_eq!(IdRepr::from_value(IdValue::Null).value(), IdValue::Null);
    }
}
