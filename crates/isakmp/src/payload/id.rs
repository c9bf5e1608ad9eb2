//! Identification payload (RFC 2408 §3.8, RFC 2407 §4.6.2): the phase 1
//! identity and quick mode's client identities (addresses, subnets and
//! ranges with a protocol and port).
//!
//! ```text
//! !   ID Type     !  Protocol ID  !             Port              !
//! ~                     Identification Data                       ~
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Body, body_api};
use crate::error::{DecodeError, DecodeErrorKind, EmitError};
use crate::reader::{Reader, Writer};
use crate::registry::IdType;

/// An Identification payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdRepr {
    /// The ID type.
    pub id_type: IdType,
    /// IP protocol (0 for any; phase 1 identities use 0 or 17, UDP).
    pub protocol: u8,
    /// Port (0 for any; phase 1 identities use 0 or 500).
    pub port: u16,
    /// The identification data; its length is checked against the type
    /// for the address types.
    pub data: Vec<u8>,
}

/// An identity's data, typed by its ID type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdValue<'a> {
    /// ID_IPV4_ADDR or ID_IPV6_ADDR.
    Addr(IpAddr),
    /// ID_IPV4_ADDR_SUBNET or ID_IPV6_ADDR_SUBNET: address and mask.
    Subnet(IpAddr, IpAddr),
    /// ID_IPV4_ADDR_RANGE or ID_IPV6_ADDR_RANGE: first and last address.
    Range(IpAddr, IpAddr),
    /// ID_FQDN.
    Fqdn(&'a str),
    /// ID_USER_FQDN.
    UserFqdn(&'a str),
    /// ID_KEY_ID: opaque octets (Apple puts the group name here).
    KeyId(&'a [u8]),
    /// ID_DER_ASN1_DN.
    DerAsn1Dn(&'a [u8]),
    /// ID_DER_ASN1_GN.
    DerAsn1Gn(&'a [u8]),
    /// A type not listed here, or a name that is not UTF-8.
    Other(&'a [u8]),
}

impl IdRepr {
    fn with(id_type: IdType, data: Vec<u8>) -> Self {
        Self { id_type, protocol: 0, port: 0, data }
    }

    /// An address identity (ID_IPV4_ADDR or ID_IPV6_ADDR).
    pub fn addr(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => Self::with(IdType::IPV4_ADDR, a.octets().to_vec()),
            IpAddr::V6(a) => Self::with(IdType::IPV6_ADDR, a.octets().to_vec()),
        }
    }

    /// An IPv4 subnet identity from an address and a prefix length (over
    /// 32 is clamped to 32).
    pub fn subnet4(addr: Ipv4Addr, prefix: u8) -> Self {
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0);
        let mut data = (u32::from(addr) & mask).to_be_bytes().to_vec();
        data.extend_from_slice(&mask.to_be_bytes());
        Self::with(IdType::IPV4_ADDR_SUBNET, data)
    }

    /// An IPv6 subnet identity from an address and a prefix length (over
    /// 128 is clamped to 128).
    pub fn subnet6(addr: Ipv6Addr, prefix: u8) -> Self {
        let mask = u128::MAX.checked_shl(128 - u32::from(prefix.min(128))).unwrap_or(0);
        let mut data = (u128::from(addr) & mask).to_be_bytes().to_vec();
        data.extend_from_slice(&mask.to_be_bytes());
        Self::with(IdType::IPV6_ADDR_SUBNET, data)
    }

    /// An address range identity; both ends must be of one family.
    pub fn range(first: IpAddr, last: IpAddr) -> Option<Self> {
        match (first, last) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                Some(Self::with(IdType::IPV4_ADDR_RANGE, [a.octets(), b.octets()].concat()))
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                Some(Self::with(IdType::IPV6_ADDR_RANGE, [a.octets(), b.octets()].concat()))
            }
            _ => None,
        }
    }

    /// An ID_FQDN identity.
    pub fn fqdn(name: &str) -> Self {
        Self::with(IdType::FQDN, name.as_bytes().to_vec())
    }

    /// An ID_USER_FQDN (e-mail address) identity.
    pub fn user_fqdn(name: &str) -> Self {
        Self::with(IdType::USER_FQDN, name.as_bytes().to_vec())
    }

    /// An ID_KEY_ID identity (the IPSec group name of Apple's client).
    pub fn key_id(id: impl Into<Vec<u8>>) -> Self {
        Self::with(IdType::KEY_ID, id.into())
    }

    /// An ID_DER_ASN1_DN identity (a certificate subject).
    pub fn der_asn1_dn(dn: impl Into<Vec<u8>>) -> Self {
        Self::with(IdType::DER_ASN1_DN, dn.into())
    }

    /// The same identity with a protocol and port.
    pub fn with_port(mut self, protocol: u8, port: u16) -> Self {
        self.protocol = protocol;
        self.port = port;
        self
    }

    /// The data, typed. Address types are length-checked on decode, so
    /// they always come out as addresses here unless built by hand.
    pub fn value(&self) -> IdValue<'_> {
        let d = &self.data;
        let typed = match self.id_type {
            IdType::IPV4_ADDR => v4(d).map(IdValue::Addr),
            IdType::IPV6_ADDR => v6(d).map(IdValue::Addr),
            IdType::IPV4_ADDR_SUBNET => pair(d, 4, v4).map(|(a, m)| IdValue::Subnet(a, m)),
            IdType::IPV6_ADDR_SUBNET => pair(d, 16, v6).map(|(a, m)| IdValue::Subnet(a, m)),
            IdType::IPV4_ADDR_RANGE => pair(d, 4, v4).map(|(a, b)| IdValue::Range(a, b)),
            IdType::IPV6_ADDR_RANGE => pair(d, 16, v6).map(|(a, b)| IdValue::Range(a, b)),
            IdType::FQDN => core::str::from_utf8(d).ok().map(IdValue::Fqdn),
            IdType::USER_FQDN => core::str::from_utf8(d).ok().map(IdValue::UserFqdn),
            IdType::KEY_ID => Some(IdValue::KeyId(d)),
            IdType::DER_ASN1_DN => Some(IdValue::DerAsn1Dn(d)),
            IdType::DER_ASN1_GN => Some(IdValue::DerAsn1Gn(d)),
            _ => None,
        };
        typed.unwrap_or(IdValue::Other(d))
    }
}

/// An IPv4 address from exactly 4 octets.
pub(crate) fn v4(b: &[u8]) -> Option<IpAddr> {
    <[u8; 4]>::try_from(b).ok().map(|a| IpAddr::from(Ipv4Addr::from(a)))
}

/// An IPv6 address from exactly 16 octets.
pub(crate) fn v6(b: &[u8]) -> Option<IpAddr> {
    <[u8; 16]>::try_from(b).ok().map(|a| IpAddr::from(Ipv6Addr::from(a)))
}

/// Two addresses of `n` octets each, filling `d` exactly.
fn pair(d: &[u8], n: usize, addr: fn(&[u8]) -> Option<IpAddr>) -> Option<(IpAddr, IpAddr)> {
    if d.len() != 2 * n {
        return None;
    }
    Some((addr(&d[..n])?, addr(&d[n..])?))
}

/// The data length an address ID type requires, if it is one.
pub(crate) fn address_len(id_type: IdType) -> Option<usize> {
    match id_type {
        IdType::IPV4_ADDR => Some(4),
        IdType::IPV4_ADDR_SUBNET | IdType::IPV4_ADDR_RANGE => Some(8),
        IdType::IPV6_ADDR => Some(16),
        IdType::IPV6_ADDR_SUBNET | IdType::IPV6_ADDR_RANGE => Some(32),
        _ => None,
    }
}

impl Body<crate::error::Ikev1> for IdRepr {
    fn parse_body(c: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let id_type = IdType(c.u8()?);
        let protocol = c.u8()?;
        let port = c.u16()?;
        let data_at = c.offset();
        let data = c.rest().to_vec();
        if address_len(id_type).is_some_and(|n| n != data.len()) {
            return Err(DecodeError::new(DecodeErrorKind::IdLength, data_at));
        }
        Ok(Self { id_type, protocol, port, data })
    }

    fn body_len(&self) -> usize {
        4 + self.data.len()
    }

    fn emit_body(&self, o: &mut Writer<'_>) -> Result<(), EmitError> {
        o.u8(self.id_type.0)?;
        o.u8(self.protocol)?;
        o.u16(self.port)?;
        o.put(&self.data)
    }
}

body_api!(IdRepr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase1_key_id_as_apple_sends_it() {
        let id = IdRepr::key_id(b"vpngroup".to_vec()).with_port(17, 500);
        let wire = id.to_vec().expect("encodes");
        assert_eq!(wire, b"\x0b\x11\x01\xf4vpngroup");
        let back = IdRepr::parse(&wire).expect("decodes");
        assert_eq!(back.value(), IdValue::KeyId(b"vpngroup"));
    }

    #[test]
    fn quick_mode_client_ids() {
        let mine = IdRepr::addr("10.3.0.2".parse().expect("address"));
        assert_eq!(mine.to_vec().unwrap(), [1, 0, 0, 0, 10, 3, 0, 2]);
        let any = IdRepr::subnet4(Ipv4Addr::UNSPECIFIED, 0);
        assert_eq!(any.to_vec().unwrap(), [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let net = IdRepr::subnet4(Ipv4Addr::new(192, 168, 7, 9), 24);
        assert_eq!(
            IdRepr::parse(&net.to_vec().unwrap()).unwrap().value(),
            IdValue::Subnet("192.168.7.0".parse().unwrap(), "255.255.255.0".parse().unwrap())
        );
        let v6 = IdRepr::subnet6("2001:db8::1".parse().unwrap(), 64);
        assert_eq!(
            v6.value(),
            IdValue::Subnet(
                "2001:db8::".parse().unwrap(),
                "ffff:ffff:ffff:ffff::".parse().unwrap()
            )
        );
        let r = IdRepr::range("10.0.0.1".parse().unwrap(), "10.0.0.9".parse().unwrap()).unwrap();
        assert_eq!(
            r.value(),
            IdValue::Range("10.0.0.1".parse().unwrap(), "10.0.0.9".parse().unwrap())
        );
        assert_eq!(IdRepr::range("10.0.0.1".parse().unwrap(), "::1".parse().unwrap()), None);
        assert_eq!(IdRepr::fqdn("vpn.example").value(), IdValue::Fqdn("vpn.example"));
        assert_eq!(IdRepr::user_fqdn("a@b").value(), IdValue::UserFqdn("a@b"));
        assert_eq!(IdRepr::der_asn1_dn(vec![0x30, 0]).value(), IdValue::DerAsn1Dn(&[0x30, 0]));
    }

    #[test]
    fn rejects_address_of_the_wrong_length() {
        let e = IdRepr::parse(&[1, 0, 0, 0, 10, 0, 0]).expect_err("three octets");
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::IdLength, 4));
        let e = IdRepr::parse(&[6, 0, 0, 0, 0]).expect_err("one octet");
        assert_eq!(e.kind, DecodeErrorKind::IdLength);
        let e = IdRepr::parse(&[2, 0, 0]).expect_err("no port");
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::Truncated, 2));
    }

    #[test]
    fn non_utf8_names_are_other() {
        let id = IdRepr { id_type: IdType::FQDN, protocol: 0, port: 0, data: vec![0xff] };
        assert_eq!(id.value(), IdValue::Other(&[0xff]));
    }
}
