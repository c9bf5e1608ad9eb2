//! Attribute payload of the Transaction exchange: Mode Config
//! (draft-dukes-ike-mode-cfg-02 §3.2) and XAUTH
//! (draft-beaulieu-ike-xauth-02 §6), with the Cisco Unity attributes.
//!
//! ```text
//! !     Type      !   RESERVED    !           Identifier          !
//! ~                           Attributes                          ~
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{Body, body_api};
use crate::attribute::{self, AttributeValue, DataAttribute};
use crate::error::{DecodeError, DecodeErrorKind, EmitError};
use crate::reader::{Reader, Writer};
use crate::registry::{ConfigAttributeType, ConfigType};

/// A Mode Config or XAUTH attribute. Values of the credential types
/// (XAUTH-USER-PASSWORD, -PASSCODE, -NEXT-PIN, -ANSWER) are redacted from
/// `Debug` and zeroized on drop.
pub type ConfigAttribute = DataAttribute<ConfigAttributeType>;

/// An Attribute payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttributeRepr {
    /// REQUEST, REPLY, SET or ACK.
    pub kind: ConfigType,
    /// Pairs a REPLY with its REQUEST and an ACK with its SET.
    pub identifier: u16,
    /// The attributes in wire order.
    pub attributes: Vec<ConfigAttribute>,
    /// Zero octets after the last attribute, inside the payload (0 to 3): libreswan pads an
    /// IKEv1 message to a multiple of four octets by growing its last payload (its `ikepad=yes`
    /// default), and a Mode Config REPLY with text attributes is where that lands. Kept so the
    /// payload re-encodes to the length it had.
    pub padding: u8,
}

/// At most this many zero octets end an Attribute payload as padding: four or more would be
/// room for an attribute header, and are read as one.
const MAX_PADDING: usize = 3;

impl AttributeRepr {
    /// A payload with no padding.
    pub fn new(kind: ConfigType, identifier: u16, attributes: Vec<ConfigAttribute>) -> Self {
        Self { kind, identifier, attributes, padding: 0 }
    }

    /// The first attribute of type `kind`.
    pub fn get(&self, kind: ConfigAttributeType) -> Option<&ConfigAttribute> {
        self.attributes.iter().find(|a| a.kind == kind)
    }

    /// Every attribute of type `kind` (DNS servers come one per attribute).
    pub fn all(&self, kind: ConfigAttributeType) -> impl Iterator<Item = &ConfigAttribute> {
        self.attributes.iter().filter(move |a| a.kind == kind)
    }
}

/// One entry of UNITY_SPLIT_INCLUDE (or UNITY_LOCAL_LAN): a network the
/// gateway wants tunnelled, 14 octets on the wire. The layout is Cisco's,
/// as vpnc and strongSwan read it: address, mask, then protocol, source
/// and destination port (16 bits each, usually zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SplitNetwork {
    /// Network address.
    pub addr: Ipv4Addr,
    /// Network mask.
    pub mask: Ipv4Addr,
    /// IP protocol, 0 for any.
    pub protocol: u16,
    /// Source port, 0 for any.
    pub src_port: u16,
    /// Destination port, 0 for any.
    pub dst_port: u16,
}

/// Octets of one [`SplitNetwork`].
const SPLIT_ENTRY_LEN: usize = 14;

impl SplitNetwork {
    /// A whole network, any protocol and port.
    pub fn new(addr: Ipv4Addr, mask: Ipv4Addr) -> Self {
        Self { addr, mask, protocol: 0, src_port: 0, dst_port: 0 }
    }

    /// The prefix length, if the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u8> {
        let m = u32::from(self.mask);
        let ones = m.leading_ones();
        (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
    }

    /// Encode a list as one attribute value.
    pub fn encode_list(list: &[Self]) -> Vec<u8> {
        let mut out = Vec::with_capacity(list.len() * SPLIT_ENTRY_LEN);
        for n in list {
            out.extend_from_slice(&n.addr.octets());
            out.extend_from_slice(&n.mask.octets());
            out.extend_from_slice(&n.protocol.to_be_bytes());
            out.extend_from_slice(&n.src_port.to_be_bytes());
            out.extend_from_slice(&n.dst_port.to_be_bytes());
        }
        out
    }

    /// Decode a list: the value must be a whole number of entries; a
    /// partial entry is `Truncated` at its offset in the value.
    pub fn decode_list(value: &[u8]) -> Result<Vec<Self>, DecodeError> {
        let mut c = Reader::with_base(value, 0);
        let mut out = Vec::with_capacity(value.len() / SPLIT_ENTRY_LEN);
        while !c.is_empty() {
            let start = c.offset();
            let entry = c
                .array::<SPLIT_ENTRY_LEN>()
                .map_err(|_| DecodeError::new(DecodeErrorKind::Truncated, start))?;
            let u16_at = |i: usize| u16::from_be_bytes([entry[i], entry[i + 1]]);
            out.push(Self {
                addr: Ipv4Addr::new(entry[0], entry[1], entry[2], entry[3]),
                mask: Ipv4Addr::new(entry[4], entry[5], entry[6], entry[7]),
                protocol: u16_at(8),
                src_port: u16_at(10),
                dst_port: u16_at(12),
            });
        }
        Ok(out)
    }
}

impl DataAttribute<ConfigAttributeType> {
    /// An empty TLV of `kind`: how a REQUEST asks for an attribute, and
    /// how XAUTH asks for a user name or password (draft-dukes §3.3).
    pub fn request(kind: ConfigAttributeType) -> Self {
        Self::variable(kind, Vec::new())
    }

    /// An IPv4 address attribute (INTERNAL_IP4_ADDRESS, _NETMASK, _DNS,
    /// _NBNS, _DHCP).
    pub fn ipv4(kind: ConfigAttributeType, addr: Ipv4Addr) -> Self {
        Self::variable(kind, addr.octets().to_vec())
    }

    /// A text attribute (XAUTH-USER-NAME, UNITY_BANNER, UNITY_DEF_DOMAIN,
    /// ...).
    pub fn text(kind: ConfigAttributeType, text: &str) -> Self {
        Self::variable(kind, text.as_bytes().to_vec())
    }

    /// UNITY_SPLIT_INCLUDE with `networks`.
    pub fn split_include(networks: &[SplitNetwork]) -> Self {
        Self::variable(
            ConfigAttributeType::UNITY_SPLIT_INCLUDE,
            SplitNetwork::encode_list(networks),
        )
    }

    /// Whether this attribute carries no value (a request).
    pub fn is_empty(&self) -> bool {
        matches!(&self.value, AttributeValue::Variable(b) if b.is_empty())
    }

    /// The value as one IPv4 address (exactly four octets).
    pub fn as_ipv4(&self) -> Option<Ipv4Addr> {
        let b = self.value.as_bytes()?;
        <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from)
    }

    /// INTERNAL_IP4_SUBNET: address and mask (eight octets).
    pub fn as_ipv4_subnet(&self) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let b = <[u8; 8]>::try_from(self.value.as_bytes()?).ok()?;
        Some((Ipv4Addr::new(b[0], b[1], b[2], b[3]), Ipv4Addr::new(b[4], b[5], b[6], b[7])))
    }

    /// An IPv6 address (16 octets), or INTERNAL_IP6_ADDRESS's address and
    /// prefix length (17 octets, draft-dukes §3.3.7).
    pub fn as_ipv6(&self) -> Option<(Ipv6Addr, Option<u8>)> {
        let b = self.value.as_bytes()?;
        let addr = Ipv6Addr::from(<[u8; 16]>::try_from(b.get(..16)?).ok()?);
        match b.len() {
            16 => Some((addr, None)),
            17 => Some((addr, Some(b[16]))),
            _ => None,
        }
    }

    /// The value as UTF-8 text.
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.value.as_bytes()?).ok()
    }

    /// UNITY_SPLIT_INCLUDE / UNITY_LOCAL_LAN entries.
    pub fn split_networks(&self) -> Option<Result<Vec<SplitNetwork>, DecodeError>> {
        self.value.as_bytes().map(SplitNetwork::decode_list)
    }

    /// UNITY_SPLITDNS_NAME: a comma-separated list of domains.
    pub fn split_dns(&self) -> Option<Vec<&str>> {
        let text = self.as_str()?;
        Some(text.split(',').map(str::trim).filter(|d| !d.is_empty()).collect())
    }
}

impl Body<crate::error::Ikev1> for AttributeRepr {
    fn parse_body(c: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let kind = ConfigType(c.u8()?);
        c.u8()?;
        let identifier = c.u16()?;
        let mut attributes = Vec::new();
        let mut padding = 0;
        while !c.is_empty() {
            // Fewer octets than an attribute header, all zero: the sender's padding. Anything
            // else must parse as attributes (and fails as truncated where it cannot).
            if c.remaining() <= MAX_PADDING && c.peek_rest().iter().all(|&b| b == 0) {
                padding = c.rest().len() as u8;
                break;
            }
            attributes.push(attribute::DataAttribute::parse(c)?);
        }
        Ok(Self { kind, identifier, attributes, padding })
    }

    fn body_len(&self) -> usize {
        4 + attribute::list_len(&self.attributes) + usize::from(self.padding)
    }

    fn emit_body(&self, o: &mut Writer<'_>) -> Result<(), EmitError> {
        o.u8(self.kind.0)?;
        o.u8(0)?;
        o.u16(self.identifier)?;
        attribute::emit_list(&self.attributes, o)?;
        if usize::from(self.padding) > MAX_PADDING {
            // Four zero octets would be read back as an attribute, not as padding.
            return Err(EmitError::Inconsistent("attribute payload padding over 3 octets"));
        }
        o.zeros(usize::from(self.padding))
    }
}

body_api!(AttributeRepr);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::XauthType;
    use ConfigAttributeType as T;

    #[test]
    fn xauth_request_as_a_gateway_sends_it() {
        let req = AttributeRepr {
            kind: ConfigType::REQUEST,
            identifier: 0x1f2e,
            padding: 0,
            attributes: vec![
                ConfigAttribute::basic(T::XAUTH_TYPE, XauthType::GENERIC.0),
                ConfigAttribute::request(T::XAUTH_USER_NAME),
                ConfigAttribute::request(T::XAUTH_USER_PASSWORD),
            ],
        };
        let wire = req.to_vec().unwrap();
        assert_eq!(wire, [1, 0, 0x1f, 0x2e, 0xc0, 0x88, 0, 0, 0x40, 0x89, 0, 0, 0x40, 0x8a, 0, 0]);
        let back = AttributeRepr::parse(&wire).unwrap();
        assert_eq!(back, req);
        assert!(back.get(T::XAUTH_USER_PASSWORD).unwrap().is_empty());
        assert_eq!(back.get(T::XAUTH_TYPE).unwrap().value.as_basic(), Some(0));
    }

    #[test]
    fn mode_config_reply_with_unity_attributes() {
        let nets = [
            SplitNetwork::new(Ipv4Addr::new(10, 1, 0, 0), Ipv4Addr::new(255, 255, 0, 0)),
            SplitNetwork {
                protocol: 6,
                src_port: 0,
                dst_port: 443,
                ..SplitNetwork::new(Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::BROADCAST)
            },
        ];
        let reply = AttributeRepr {
            kind: ConfigType::REPLY,
            identifier: 7,
            padding: 0,
            attributes: vec![
                ConfigAttribute::ipv4(T::INTERNAL_IP4_ADDRESS, Ipv4Addr::new(10, 3, 0, 2)),
                ConfigAttribute::ipv4(T::INTERNAL_IP4_DNS, Ipv4Addr::new(10, 1, 0, 53)),
                ConfigAttribute::ipv4(T::INTERNAL_IP4_DNS, Ipv4Addr::new(10, 1, 0, 54)),
                ConfigAttribute::text(T::UNITY_BANNER, "Welcome"),
                ConfigAttribute::text(T::UNITY_DEF_DOMAIN, "corp.example"),
                ConfigAttribute::text(T::UNITY_SPLITDNS_NAME, "corp.example, lab.example"),
                ConfigAttribute::split_include(&nets),
                ConfigAttribute::basic(T::UNITY_SAVE_PASSWD, 0),
                ConfigAttribute::basic(T::UNITY_PFS, 1),
                ConfigAttribute::variable(
                    T::INTERNAL_IP6_ADDRESS,
                    [[0x20, 1, 0xd, 0xb8].as_slice(), &[0; 11], &[5, 64]].concat(),
                ),
            ],
        };
        let back = AttributeRepr::parse(&reply.to_vec().unwrap()).unwrap();
        assert_eq!(back, reply);
        assert_eq!(
            back.get(T::INTERNAL_IP4_ADDRESS).unwrap().as_ipv4(),
            Some(Ipv4Addr::new(10, 3, 0, 2))
        );
        assert_eq!(back.all(T::INTERNAL_IP4_DNS).filter_map(ConfigAttribute::as_ipv4).count(), 2);
        assert_eq!(back.get(T::UNITY_BANNER).unwrap().as_str(), Some("Welcome"));
        assert_eq!(
            back.get(T::UNITY_SPLITDNS_NAME).unwrap().split_dns(),
            Some(vec!["corp.example", "lab.example"])
        );
        let got = back.get(T::UNITY_SPLIT_INCLUDE).unwrap().split_networks().unwrap().unwrap();
        assert_eq!(got, nets);
        assert_eq!(got[0].prefix_len(), Some(16));
        assert_eq!(got[1].prefix_len(), Some(32));
        assert_eq!(
            back.get(T::INTERNAL_IP6_ADDRESS).unwrap().as_ipv6(),
            Some(("2001:db8::5".parse().unwrap(), Some(64)))
        );
        assert_eq!(back.get(T::UNITY_PFS).unwrap().value.as_basic(), Some(1));
    }

    #[test]
    fn split_include_wire_layout() {
        let one = [SplitNetwork {
            protocol: 17,
            src_port: 1,
            dst_port: 2,
            ..SplitNetwork::new(Ipv4Addr::new(10, 0, 0, 0), Ipv4Addr::new(255, 0, 0, 0))
        }];
        assert_eq!(SplitNetwork::encode_list(&one), [10, 0, 0, 0, 255, 0, 0, 0, 0, 17, 0, 1, 0, 2]);
        let e = SplitNetwork::decode_list(&[0; 20]).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::Truncated, 14));
        let odd = SplitNetwork::new(Ipv4Addr::new(10, 0, 0, 0), Ipv4Addr::new(255, 0, 255, 0));
        assert_eq!(odd.prefix_len(), None);
    }

    /// libreswan 4.10's Mode Config REPLY ends with three zero octets inside the payload (its
    /// `ikepad=yes` pads the message to four octets by growing the last payload); the reply
    /// was dropped as truncated before, and the client never got its address.
    #[test]
    fn zero_padding_after_the_last_attribute_is_read_and_kept() {
        let mut wire = vec![2, 0, 0x38, 0xb3];
        wire.extend_from_slice(&[0x00, 0x01, 0x00, 0x04, 10, 88, 2, 1]);
        wire.extend_from_slice(&[0x70, 0x00, 0x00, 0x03, b'h', b'e', b'y']);
        for pad in 0..=3u8 {
            let mut padded = wire.clone();
            padded.resize(wire.len() + usize::from(pad), 0);
            let reply = AttributeRepr::parse(&padded).unwrap();
            assert_eq!(reply.padding, pad);
            assert_eq!(reply.attributes.len(), 2);
            assert_eq!(reply.get(T::UNITY_BANNER).unwrap().as_str(), Some("hey"));
            assert_eq!(reply.to_vec().unwrap(), padded, "re-encodes with its padding");
        }
        // Padding that is not zero, or as long as an attribute header, is not padding.
        let mut junk = wire.clone();
        junk.extend_from_slice(&[0, 0, 1]);
        let e = AttributeRepr::parse(&junk).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::AttributeTruncated, wire.len()));
        let mut four = wire.clone();
        four.extend_from_slice(&[0; 4]);
        let long = AttributeRepr::parse(&four).unwrap();
        assert_eq!((long.attributes.len(), long.padding), (3, 0), "an empty attribute 0");
        let bad = AttributeRepr { padding: 4, ..AttributeRepr::parse(&wire).unwrap() };
        assert_eq!(
            bad.to_vec().unwrap_err(),
            EmitError::Inconsistent("attribute payload padding over 3 octets")
        );
    }

    #[test]
    fn rejects_attribute_running_past_the_payload() {
        let e = AttributeRepr::parse(&[2, 0, 0, 1, 0x00, 0x01, 0x00, 0x04, 10, 3]).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::AttributeTruncated, 4));
    }
}
