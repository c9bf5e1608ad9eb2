//! Traffic Selector payloads, TSi and TSr (RFC 7296 §3.13).
//!
//! ```text
//! | Number of TSs |                 RESERVED                      |
//! ~                       <Traffic Selectors>                     ~
//!
//! selector:
//! |   TS Type     |IP Protocol ID*|       Selector Length         |
//! |           Start Port*         |           End Port*           |
//! ~                         Starting Address*                     ~
//! ~                         Ending Address*                       ~
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use smallvec::SmallVec;

use super::{Body, body_api};
use crate::error::{DecodeError, DecodeErrorKind, EmitError, len_u8, len_u16};
use crate::reader::{Reader, Writer};
use crate::registry::TsType;

/// A payload's traffic selectors, inline up to 2 (one range per address family, what a
/// tunnel proposes and is narrowed to): parsing or building them allocates nothing. More spill
/// to the heap.
pub type Selectors = SmallVec<[TrafficSelector; 2]>;

/// A TSi or TSr payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TsRepr {
    /// The selectors, in order.
    pub selectors: Selectors,
}

/// One traffic selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TrafficSelector {
    /// TS_IPV4_ADDR_RANGE or TS_IPV6_ADDR_RANGE, by the address family.
    Range(AddrRange),
    /// A selector of another type, kept raw.
    Other {
        /// Its type.
        ts_type: TsType,
        /// Its second octet (the IP protocol for address ranges; other
        /// types define it themselves).
        ip_protocol: u8,
        /// Everything after the Selector Length field.
        data: Vec<u8>,
    },
}

/// An address range selector (§3.13.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrRange {
    /// IP protocol (0: any).
    pub ip_protocol: u8,
    /// First port (for ICMP: type and code, §3.13.1).
    pub start_port: u16,
    /// Last port.
    pub end_port: u16,
    /// First address; IPv4 and IPv6 give the two selector types.
    pub start: IpAddr,
    /// Last address, of the same family as `start`.
    pub end: IpAddr,
}

impl AddrRange {
    /// Every port and protocol between two addresses.
    pub fn any(start: IpAddr, end: IpAddr) -> Self {
        Self { ip_protocol: 0, start_port: 0, end_port: 0xffff, start, end }
    }
}

impl TrafficSelector {
    /// The selector's TS Type.
    pub fn ts_type(&self) -> TsType {
        match self {
            Self::Range(AddrRange { start: IpAddr::V4(_), .. }) => TsType::TS_IPV4_ADDR_RANGE,
            Self::Range(_) => TsType::TS_IPV6_ADDR_RANGE,
            Self::Other { ts_type, .. } => *ts_type,
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Self::Range(AddrRange { start: IpAddr::V4(_), .. }) => IPV4_SELECTOR_LEN,
            Self::Range(_) => IPV6_SELECTOR_LEN,
            Self::Other { data, .. } => 4 + data.len(),
        }
    }

    fn parse(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let start_at = r.offset();
        let ts_type = TsType(r.u8()?);
        let ip_protocol = r.u8()?;
        let len_at = r.offset();
        let len = usize::from(r.u16()?);
        if len < 4 {
            return Err(DecodeError::new(DecodeErrorKind::LengthTooSmall, len_at));
        }
        if len - 4 > r.remaining() {
            return Err(DecodeError::new(DecodeErrorKind::LengthPastEnd, len_at));
        }
        let want = match ts_type {
            TsType::TS_IPV4_ADDR_RANGE => Some(IPV4_SELECTOR_LEN),
            TsType::TS_IPV6_ADDR_RANGE => Some(IPV6_SELECTOR_LEN),
            _ => None,
        };
        if want.is_some_and(|w| w != len) {
            return Err(DecodeError::new(DecodeErrorKind::SelectorLength, len_at));
        }
        let mut s = r.sub(len - 4)?;
        let sel = match ts_type {
            TsType::TS_IPV4_ADDR_RANGE => {
                let start_port = s.u16()?;
                let end_port = s.u16()?;
                let start = IpAddr::V4(Ipv4Addr::from(s.array::<4>()?));
                let end = IpAddr::V4(Ipv4Addr::from(s.array::<4>()?));
                Self::Range(AddrRange { ip_protocol, start_port, end_port, start, end })
            }
            TsType::TS_IPV6_ADDR_RANGE => {
                let start_port = s.u16()?;
                let end_port = s.u16()?;
                let start = IpAddr::V6(Ipv6Addr::from(s.array::<16>()?));
                let end = IpAddr::V6(Ipv6Addr::from(s.array::<16>()?));
                Self::Range(AddrRange { ip_protocol, start_port, end_port, start, end })
            }
            _ => Self::Other { ts_type, ip_protocol, data: s.rest().to_vec() },
        };
        debug_assert!(s.is_empty(), "selector at {start_at} not fully read");
        Ok(sel)
    }

    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        match self {
            Self::Range(range) => {
                w.u8(self.ts_type().0)?;
                w.u8(range.ip_protocol)?;
                w.u16(len_u16("selector length", self.encoded_len())?)?;
                w.u16(range.start_port)?;
                w.u16(range.end_port)?;
                match (range.start, range.end) {
                    (IpAddr::V4(a), IpAddr::V4(b)) => {
                        w.put(&a.octets())?;
                        w.put(&b.octets())
                    }
                    (IpAddr::V6(a), IpAddr::V6(b)) => {
                        w.put(&a.octets())?;
                        w.put(&b.octets())
                    }
                    _ => Err(EmitError::Inconsistent(
                        "traffic selector start and end differ in address family",
                    )),
                }
            }
            Self::Other { ts_type, ip_protocol, data } => {
                w.u8(ts_type.0)?;
                w.u8(*ip_protocol)?;
                w.u16(len_u16("selector length", self.encoded_len())?)?;
                w.put(data)
            }
        }
    }
}

/// Selector Length of TS_IPV4_ADDR_RANGE (§3.13.1).
const IPV4_SELECTOR_LEN: usize = 16;
/// Selector Length of TS_IPV6_ADDR_RANGE (§3.13.1).
const IPV6_SELECTOR_LEN: usize = 40;

impl Body<crate::Ikev2> for TsRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count_at = r.offset();
        let count = usize::from(r.u8()?);
        r.skip(3)?;
        // Read what is there (each selector is at least 4 octets, bounding
        // the vector by the input), then compare with the count.
        let mut selectors = Selectors::new();
        while !r.is_empty() {
            selectors.push(TrafficSelector::parse(r)?);
        }
        if selectors.len() != count {
            return Err(DecodeError::new(DecodeErrorKind::CountMismatch, count_at));
        }
        Ok(Self { selectors })
    }

    fn body_len(&self) -> usize {
        4 + self.selectors.iter().map(TrafficSelector::encoded_len).sum::<usize>()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        w.u8(len_u8("number of traffic selectors", self.selectors.len())?)?;
        w.zeros(3)?;
        for s in &self.selectors {
            s.emit(w)?;
        }
        Ok(())
    }
}

body_api!(TsRepr);
