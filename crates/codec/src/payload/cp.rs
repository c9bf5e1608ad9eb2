//! Configuration payload (RFC 7296 §3.15).
//!
//! ```text
//! |   CFG Type    |                    RESERVED                   |
//! ~                   Configuration Attributes                    ~
//!
//! attribute:
//! |R|         Attribute Type      |            Length             |
//! ~                             Value                             ~
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use smallvec::SmallVec;

use super::{Body, body_api};
use crate::error::{DecodeError, EmitError, len_u16};
use crate::reader::{Reader, Writer};
use crate::registry::{ConfigAttributeType, ConfigType};

/// A CP payload's attributes, inline up to 2 (an address and a DNS server, requested and
/// replied): parsing or building them allocates nothing. More spill to the heap.
pub type ConfigAttributes = SmallVec<[ConfigAttribute; 2]>;

/// A configuration attribute's value, inline up to 20 octets: an address (4 or 16), a subnet
/// (8), an IPv6 address with its prefix length (17). Longer values (a domain, a version
/// string) spill to the heap.
pub type ConfigValue = SmallVec<[u8; 20]>;

/// A CP payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigRepr {
    /// CFG_REQUEST, CFG_REPLY, CFG_SET or CFG_ACK.
    pub kind: ConfigType,
    /// The attributes, in order.
    pub attributes: ConfigAttributes,
}

/// One configuration attribute. Values are raw; the `as_*` helpers decode
/// the common shapes of §3.15.1 and return `None` for other lengths.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConfigAttribute {
    /// Attribute type (15 bits; the R bit is reserved, §3.15.1).
    pub kind: ConfigAttributeType,
    /// Value; empty in a CFG_REQUEST asking for any value.
    pub value: ConfigValue,
}

impl ConfigAttribute {
    /// An attribute with a raw value (a `Vec<u8>`, a slice, ...).
    pub fn new(kind: ConfigAttributeType, value: impl Into<ConfigValue>) -> Self {
        Self { kind, value: value.into() }
    }

    /// An empty attribute, as used in CFG_REQUEST to ask for a value.
    pub fn request(kind: ConfigAttributeType) -> Self {
        Self::new(kind, ConfigValue::new())
    }

    /// A 4-octet IPv4 value (INTERNAL_IP4_ADDRESS, _NETMASK, _DNS, ...).
    pub fn ipv4(kind: ConfigAttributeType, addr: Ipv4Addr) -> Self {
        Self::new(kind, &addr.octets()[..])
    }

    /// A 16-octet IPv6 value (INTERNAL_IP6_DNS, INTERNAL_IP6_DHCP, ...).
    pub fn ipv6(kind: ConfigAttributeType, addr: Ipv6Addr) -> Self {
        Self::new(kind, &addr.octets()[..])
    }

    /// An INTERNAL_IP4_SUBNET value: address then netmask.
    pub fn ipv4_subnet(addr: Ipv4Addr, mask: Ipv4Addr) -> Self {
        let mut v = ConfigValue::from_slice(&addr.octets());
        v.extend_from_slice(&mask.octets());
        Self::new(ConfigAttributeType::INTERNAL_IP4_SUBNET, v)
    }

    /// A 17-octet address-plus-prefix-length value
    /// (INTERNAL_IP6_ADDRESS, INTERNAL_IP6_SUBNET).
    pub fn ipv6_prefix(kind: ConfigAttributeType, addr: Ipv6Addr, prefix_len: u8) -> Self {
        let mut v = ConfigValue::from_slice(&addr.octets());
        v.push(prefix_len);
        Self::new(kind, v)
    }

    /// An INTERNAL_DNS_DOMAIN value (RFC 8598).
    pub fn dns_domain(domain: &str) -> Self {
        Self::new(ConfigAttributeType::INTERNAL_DNS_DOMAIN, domain.as_bytes())
    }

    /// Whether the value is empty (a request for any value).
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }

    /// The value as one IPv4 address (4 octets).
    pub fn as_ipv4(&self) -> Option<Ipv4Addr> {
        <[u8; 4]>::try_from(self.value.as_slice()).ok().map(Ipv4Addr::from)
    }

    /// The value as one IPv6 address (16 octets).
    pub fn as_ipv6(&self) -> Option<Ipv6Addr> {
        <[u8; 16]>::try_from(self.value.as_slice()).ok().map(Ipv6Addr::from)
    }

    /// The value as IPv4 address and netmask (8 octets, INTERNAL_IP4_SUBNET).
    pub fn as_ipv4_subnet(&self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let v = <[u8; 8]>::try_from(self.value.as_slice()).ok()?;
        Some((Ipv4Addr::new(v[0], v[1], v[2], v[3]), Ipv4Addr::new(v[4], v[5], v[6], v[7])))
    }

    /// The value as IPv6 address and prefix length (17 octets,
    /// INTERNAL_IP6_ADDRESS and INTERNAL_IP6_SUBNET).
    pub fn as_ipv6_prefix(&self) -> Option<(Ipv6Addr, u8)> {
        let v = <[u8; 17]>::try_from(self.value.as_slice()).ok()?;
        let mut a = [0u8; 16];
        a.copy_from_slice(&v[..16]);
        Some((Ipv6Addr::from(a), v[16]))
    }

    /// The value as text (APPLICATION_VERSION, INTERNAL_DNS_DOMAIN).
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.value).ok()
    }
}

impl Body<crate::Ikev2> for ConfigRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let kind = ConfigType(r.u8()?);
        r.skip(3)?;
        let mut attributes = ConfigAttributes::new();
        while !r.is_empty() {
            // The R bit is reserved: ignored on receipt (§3.15.1).
            let ty = ConfigAttributeType(r.u16()? & 0x7fff);
            let len = usize::from(r.u16()?);
            let value = ConfigValue::from_slice(r.take(len)?);
            attributes.push(ConfigAttribute { kind: ty, value });
        }
        Ok(Self { kind, attributes })
    }

    fn body_len(&self) -> usize {
        4 + self.attributes.iter().map(|a| 4 + a.value.len()).sum::<usize>()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        w.u8(self.kind.0)?;
        w.zeros(3)?;
        for a in &self.attributes {
            if a.kind.0 & 0x8000 != 0 {
                return Err(EmitError::Inconsistent(
                    "configuration attribute type exceeds 15 bits",
                ));
            }
            w.u16(a.kind.0)?;
            w.u16(len_u16("configuration attribute", a.value.len())?)?;
            w.put(&a.value)?;
        }
        Ok(())
    }
}

body_api!(ConfigRepr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_helpers() {
        let cp = ConfigRepr {
            kind: ConfigType::CFG_REPLY,
            attributes: smallvec::smallvec![
                ConfigAttribute::ipv4(
                    ConfigAttributeType::INTERNAL_IP4_ADDRESS,
                    Ipv4Addr::new(10, 0, 0, 7),
                ),
                ConfigAttribute::ipv4_subnet(
                    Ipv4Addr::new(10, 1, 0, 0),
                    Ipv4Addr::new(255, 255, 0, 0),
                ),
                ConfigAttribute::ipv6_prefix(
                    ConfigAttributeType::INTERNAL_IP6_ADDRESS,
                    Ipv6Addr::LOCALHOST,
                    64,
                ),
                ConfigAttribute::dns_domain("corp.example"),
                ConfigAttribute::request(ConfigAttributeType::INTERNAL_IP4_DNS),
            ],
        };
        let mut buf = vec![0u8; cp.buffer_len()];
        cp.emit(&mut buf).unwrap();
        let back = ConfigRepr::parse(&buf).unwrap();
        assert_eq!(back, cp);
        assert_eq!(back.attributes[0].as_ipv4(), Some(Ipv4Addr::new(10, 0, 0, 7)));
        assert_eq!(
            back.attributes[1].as_ipv4_subnet(),
            Some((Ipv4Addr::new(10, 1, 0, 0), Ipv4Addr::new(255, 255, 0, 0)))
        );
        assert_eq!(back.attributes[2].as_ipv6_prefix(), Some((Ipv6Addr::LOCALHOST, 64)));
        assert_eq!(back.attributes[3].as_str(), Some("corp.example"));
        assert!(back.attributes[4].is_empty());
    }

    #[test]
    fn reserved_bit_ignored() {
        let raw = [1, 0, 0, 0, 0x80, 1, 0, 0];
        let cp = ConfigRepr::parse(&raw).unwrap();
        assert_eq!(cp.attributes[0].kind, ConfigAttributeType::INTERNAL_IP4_ADDRESS);
    }
}
