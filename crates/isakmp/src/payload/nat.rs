//! NAT Original Address payload (RFC 3947 §5.2), under type 21 or the
//! draft's 131: the address the sender sees itself at, for transport
//! mode checksum fixes.
//!
//! ```text
//! !    ID Type    !   RESERVED    !            RESERVED           !
//! ~           IPv4 (4 octets) or IPv6 address (16 octets)         ~
//! ```

use std::net::IpAddr;

use super::id::{v4, v6};
use super::{Body, body_api};
use crate::error::{DecodeError, DecodeErrorKind, EmitError};
use crate::reader::{Reader, Writer};
use crate::registry::IdType;

/// A NAT-OA payload body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NatOaRepr {
    /// The original address; its family gives the ID type.
    pub address: IpAddr,
}

impl NatOaRepr {
    /// The ID type that goes with the address.
    pub fn id_type(&self) -> IdType {
        if self.address.is_ipv4() { IdType::IPV4_ADDR } else { IdType::IPV6_ADDR }
    }
}

impl Body<crate::error::Ikev1> for NatOaRepr {
    fn parse_body(c: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let id_type = IdType(c.u8()?);
        c.take(3)?;
        let at = c.offset();
        let data = c.rest();
        let address = match id_type {
            IdType::IPV4_ADDR => v4(data),
            IdType::IPV6_ADDR => v6(data),
            _ => None,
        };
        address
            .map(|address| Self { address })
            .ok_or(DecodeError::new(DecodeErrorKind::IdLength, at))
    }

    fn body_len(&self) -> usize {
        4 + if self.address.is_ipv4() { 4 } else { 16 }
    }

    fn emit_body(&self, o: &mut Writer<'_>) -> Result<(), EmitError> {
        o.u8(self.id_type().0)?;
        o.zeros(3)?;
        match self.address {
            IpAddr::V4(a) => o.put(&a.octets()),
            IpAddr::V6(a) => o.put(&a.octets()),
        }
    }
}

body_api!(NatOaRepr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_families() {
        let v4 = NatOaRepr { address: "192.0.2.7".parse().unwrap() };
        assert_eq!(v4.to_vec().unwrap(), [1, 0, 0, 0, 192, 0, 2, 7]);
        let v6 = NatOaRepr { address: "2001:db8::7".parse().unwrap() };
        assert_eq!(NatOaRepr::parse(&v6.to_vec().unwrap()).unwrap(), v6);
    }

    #[test]
    fn rejects_mismatched_type_and_address() {
        let e = NatOaRepr::parse(&[5, 0, 0, 0, 192, 0, 2, 7]).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::IdLength, 4));
        let e = NatOaRepr::parse(&[2, 0, 0, 0, b'a']).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::IdLength);
        let e = NatOaRepr::parse(&[1, 0]).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::Truncated, 1));
    }
}
