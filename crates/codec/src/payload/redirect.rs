//! Gateway identities of IKEv2 redirect (RFC 5685): the Notification Data of REDIRECT and
//! REDIRECTED_FROM.
//!
//! ```text
//! REDIRECT (§8.2)                            REDIRECTED_FROM (§8.3)
//! | GW Ident Type | GW Ident Len  |          | GW Ident Type | GW Ident Len  |
//! ~   New Responder GW Identity   ~          ~  Original Responder GW Ident  ~
//! ~   Nonce Data (IKE_SA_INIT only)  ~
//! ```
//!
//! The identity type fixes its length: 4 octets for IPv4, 16 for IPv6, 1 to 255 printable
//! ASCII octets for an FQDN (§8.2, §10). Anything else is refused, so a redirect target is
//! always something the runtime can resolve or print.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{DecodeError, DecodeErrorKind, EmitError, check_room, len_u8};
use crate::reader::{Reader, Writer};

/// GW Ident Type values (RFC 5685 §10, IANA "IKEv2 Gateway Identity Types").
pub mod gw_ident_type {
    /// IPv4 address of the new VPN gateway.
    pub const IPV4: u8 = 1;
    /// IPv6 address of the new VPN gateway.
    pub const IPV6: u8 = 2;
    /// FQDN of the new VPN gateway.
    pub const FQDN: u8 = 3;
}

/// Nonce Data is 16 to 256 octets (RFC 7296 §3.9); REDIRECT echoes the initiator's Ni.
const NONCE_RANGE: core::ops::RangeInclusive<usize> = 16..=256;

/// The gateway a REDIRECT sends the client to, or a REDIRECTED_FROM names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Gateway {
    /// GW Ident Type 1.
    V4(Ipv4Addr),
    /// GW Ident Type 2.
    V6(Ipv6Addr),
    /// GW Ident Type 3: 1 to 255 printable ASCII octets, resolved by whoever follows it.
    Fqdn(String),
}

impl Gateway {
    /// The GW Ident Type octet.
    pub fn ident_type(&self) -> u8 {
        match self {
            Self::V4(_) => gw_ident_type::IPV4,
            Self::V6(_) => gw_ident_type::IPV6,
            Self::Fqdn(_) => gw_ident_type::FQDN,
        }
    }

    /// The address, when the identity is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::V4(a) => Some((*a).into()),
            Self::V6(a) => Some((*a).into()),
            Self::Fqdn(_) => None,
        }
    }

    /// REDIRECTED_FROM Notification Data: the identity and nothing after it. Offsets in errors
    /// count from the start of `data`.
    pub fn parse(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let gateway = Self::read(&mut r)?;
        r.expect_empty()?;
        Ok(gateway)
    }

    /// Length of the encoded identity: type, length and the identity octets.
    pub fn buffer_len(&self) -> usize {
        2 + self.ident_len()
    }

    /// Writes the identity (REDIRECTED_FROM Notification Data) into the front of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let n = self.buffer_len();
        check_room(buf, n)?;
        let mut w = Writer::new(&mut buf[..n]);
        self.write(&mut w)?;
        Ok(w.position())
    }

    /// The encoded identity in a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, EmitError> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out)?;
        Ok(out)
    }

    fn ident_len(&self) -> usize {
        match self {
            Self::V4(_) => 4,
            Self::V6(_) => 16,
            Self::Fqdn(name) => name.len(),
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let at = r.offset();
        let bad = DecodeError::new(DecodeErrorKind::GatewayIdentity, at);
        let ty = r.u8()?;
        let len = usize::from(r.u8()?);
        let ident = r.take(len)?;
        match (ty, ident.len()) {
            (gw_ident_type::IPV4, 4) => {
                Ok(Self::V4(<[u8; 4]>::try_from(ident).map_err(|_| bad)?.into()))
            }
            (gw_ident_type::IPV6, 16) => {
                Ok(Self::V6(<[u8; 16]>::try_from(ident).map_err(|_| bad)?.into()))
            }
            (gw_ident_type::FQDN, 1..) if fqdn_ok(ident) => {
                // Printable ASCII is UTF-8.
                Ok(Self::Fqdn(String::from_utf8(ident.to_vec()).map_err(|_| bad)?))
            }
            _ => Err(bad),
        }
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        w.u8(self.ident_type())?;
        w.u8(len_u8("gateway identity", self.ident_len())?)?;
        match self {
            Self::V4(a) => w.put(&a.octets()),
            Self::V6(a) => w.put(&a.octets()),
            Self::Fqdn(name) if fqdn_ok(name.as_bytes()) => w.put(name.as_bytes()),
            Self::Fqdn(_) => Err(EmitError::Inconsistent("FQDN gateway not 1-255 printable ASCII")),
        }
    }
}

impl From<IpAddr> for Gateway {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Self::V4(a),
            IpAddr::V6(a) => Self::V6(a),
        }
    }
}

impl fmt::Display for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V4(a) => a.fmt(f),
            Self::V6(a) => a.fmt(f),
            Self::Fqdn(name) => f.write_str(name),
        }
    }
}

/// An FQDN identity: 1 to 255 octets of printable ASCII, no spaces or control characters that
/// could forge a log line or a resolver query.
fn fqdn_ok(name: &[u8]) -> bool {
    (1..=255).contains(&name.len()) && name.iter().all(u8::is_ascii_graphic)
}

/// REDIRECT Notification Data (RFC 5685 §8.2): where to go, and in an IKE_SA_INIT response
/// the initiator's nonce, which ties the unprotected redirect to the request (§4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectRepr {
    pub gateway: Gateway,
    /// Ni, echoed: present in an IKE_SA_INIT response, absent in IKE_AUTH and INFORMATIONAL.
    pub nonce: Option<Vec<u8>>,
}

impl RedirectRepr {
    /// Decodes REDIRECT Notification Data; a nonce, when present, must be 16-256 octets.
    pub fn parse(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let gateway = Gateway::read(&mut r)?;
        let nonce = match r.remaining() {
            0 => None,
            n if NONCE_RANGE.contains(&n) => Some(r.rest().to_vec()),
            _ => return Err(r.error(DecodeErrorKind::NonceLength)),
        };
        Ok(Self { gateway, nonce })
    }

    pub fn buffer_len(&self) -> usize {
        self.gateway.buffer_len() + self.nonce.as_ref().map_or(0, Vec::len)
    }

    /// Writes the Notification Data into the front of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let n = self.buffer_len();
        check_room(buf, n)?;
        if let Some(nonce) = &self.nonce
            && !NONCE_RANGE.contains(&nonce.len())
        {
            return Err(EmitError::Inconsistent("REDIRECT nonce not 16-256 octets"));
        }
        let mut w = Writer::new(&mut buf[..n]);
        self.gateway.write(&mut w)?;
        if let Some(nonce) = &self.nonce {
            w.put(nonce)?;
        }
        Ok(w.position())
    }

    pub fn to_vec(&self) -> Result<Vec<u8>, EmitError> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NI: [u8; 16] = [0xa5; 16];

    #[test]
    fn ipv4_redirect_with_nonce_decodes_encodes_and_sizes() {
        let mut bytes = vec![1, 4, 192, 0, 2, 7];
        bytes.extend_from_slice(&NI);
        let r = RedirectRepr::parse(&bytes).unwrap();
        assert_eq!(r.gateway, Gateway::V4(Ipv4Addr::new(192, 0, 2, 7)));
        assert_eq!(r.nonce.as_deref(), Some(&NI[..]));
        assert_eq!(r.buffer_len(), bytes.len());
        assert_eq!(r.to_vec().unwrap(), bytes);
    }

    #[test]
    fn ipv6_and_fqdn_redirects_without_nonce_round_trip() {
        let v6: Ipv6Addr = "2001:db8::9".parse().unwrap();
        let mut bytes = vec![2, 16];
        bytes.extend_from_slice(&v6.octets());
        let r = RedirectRepr::parse(&bytes).unwrap();
        assert_eq!(r, RedirectRepr { gateway: Gateway::V6(v6), nonce: None });
        assert_eq!(r.to_vec().unwrap(), bytes);

        let bytes = b"\x03\x0bvpn.example".to_vec();
        let r = RedirectRepr::parse(&bytes).unwrap();
        assert_eq!(r.gateway, Gateway::Fqdn("vpn.example".into()));
        assert_eq!(r.gateway.to_string(), "vpn.example");
        assert_eq!(r.to_vec().unwrap(), bytes);
    }

    #[test]
    fn redirected_from_is_the_identity_alone() {
        let g = Gateway::from(IpAddr::from([198, 51, 100, 1]));
        assert_eq!(g.to_vec().unwrap(), [1, 4, 198, 51, 100, 1]);
        assert_eq!(Gateway::parse(&[1, 4, 198, 51, 100, 1]).unwrap(), g);
        assert_eq!(
            Gateway::parse(&[1, 4, 198, 51, 100, 1, 0]).unwrap_err().kind,
            DecodeErrorKind::TrailingData
        );
    }

    #[test]
    fn rejects_identity_length_that_does_not_fit_its_type() {
        for bytes in [
            &[1u8, 3, 1, 2, 3][..],
            &[1, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            &[2, 4, 1, 2, 3, 4],
            &[3, 0],
            &[9, 4, 1, 2, 3, 4],
            &[0, 4, 1, 2, 3, 4],
        ] {
            let e = Gateway::parse(bytes).unwrap_err();
            assert_eq!((e.kind, e.offset), (DecodeErrorKind::GatewayIdentity, 0), "{bytes:?}");
        }
    }

    #[test]
    fn rejects_fqdn_with_spaces_controls_or_non_ascii() {
        for name in [&b"a b"[..], b"vpn\n", b"caf\xc3\xa9", b"\x00"] {
            let mut bytes = vec![3, name.len() as u8];
            bytes.extend_from_slice(name);
            assert_eq!(
                RedirectRepr::parse(&bytes).unwrap_err().kind,
                DecodeErrorKind::GatewayIdentity,
                "{name:?}"
            );
        }
        let bad = RedirectRepr { gateway: Gateway::Fqdn("a b".into()), nonce: None };
        assert!(matches!(bad.to_vec(), Err(EmitError::Inconsistent(_))));
        let long = Gateway::Fqdn("a".repeat(256));
        assert_eq!(long.to_vec(), Err(EmitError::TooLong { field: "gateway identity", len: 256 }));
    }

    #[test]
    fn rejects_truncated_redirect_data() {
        for bytes in [&[][..], &[1], &[1, 4, 192, 0, 2]] {
            assert_eq!(RedirectRepr::parse(bytes).unwrap_err().kind, DecodeErrorKind::Truncated);
        }
    }

    #[test]
    fn rejects_nonce_outside_16_to_256_octets() {
        let mut short = vec![1, 4, 192, 0, 2, 7];
        short.extend_from_slice(&[1; 15]);
        let e = RedirectRepr::parse(&short).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::NonceLength, 6));
        let mut long = vec![1, 4, 192, 0, 2, 7];
        long.extend_from_slice(&[1; 257]);
        assert_eq!(RedirectRepr::parse(&long).unwrap_err().kind, DecodeErrorKind::NonceLength);
        let bad = RedirectRepr { gateway: Gateway::V4(Ipv4Addr::LOCALHOST), nonce: Some(vec![1]) };
        assert!(matches!(bad.to_vec(), Err(EmitError::Inconsistent(_))));
    }

    #[test]
    fn short_buffer_is_an_error_naming_the_size() {
        let r = RedirectRepr { gateway: Gateway::V4(Ipv4Addr::LOCALHOST), nonce: None };
        assert_eq!(r.emit(&mut [0; 5]), Err(EmitError::BufferTooShort { needed: 6, available: 5 }));
    }
}
