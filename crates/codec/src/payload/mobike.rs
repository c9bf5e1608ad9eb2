//! Notification Data of the MOBIKE notifies (RFC 4555 §4.2): the addresses of
//! ADDITIONAL_IP4_ADDRESS / ADDITIONAL_IP6_ADDRESS, the address pair of
//! NO_NATS_ALLOWED, and the length rule of COOKIE2.
//!
//! ```text
//! ADDITIONAL_IP4_ADDRESS   4 octets: an IPv4 address
//! ADDITIONAL_IP6_ADDRESS  16 octets: an IPv6 address
//! NO_NATS_ALLOWED         source IP | source port | destination IP | destination port
//!                         (12 octets for IPv4, 36 for IPv6)
//! COOKIE2                  8 to 64 octets, opaque
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::RangeInclusive;

use super::NotifyRepr;
use crate::error::{DecodeError, DecodeErrorKind};
use crate::reader::Reader;
use crate::registry::NotifyType;

/// COOKIE2 data is 8 to 64 octets (RFC 4555 §4.2.7).
pub const COOKIE2_LEN: RangeInclusive<usize> = 8..=64;

/// The ADDITIONAL_IP4_ADDRESS or ADDITIONAL_IP6_ADDRESS notify announcing `addr`.
pub fn additional_address_notify(addr: IpAddr) -> NotifyRepr {
    match addr {
        IpAddr::V4(v4) => NotifyRepr::new(NotifyType::ADDITIONAL_IP4_ADDRESS, v4.octets().to_vec()),
        IpAddr::V6(v6) => NotifyRepr::new(NotifyType::ADDITIONAL_IP6_ADDRESS, v6.octets().to_vec()),
    }
}

/// The address an ADDITIONAL_IP4_ADDRESS / ADDITIONAL_IP6_ADDRESS notify carries; `Ok(None)`
/// for any other notify. Data of the wrong length for its family is an error (offsets count
/// from the start of the data).
pub fn additional_address(notify: &NotifyRepr) -> Result<Option<IpAddr>, DecodeError> {
    let addr = match notify.kind {
        NotifyType::ADDITIONAL_IP4_ADDRESS => IpAddr::V4(exact::<4>(&notify.data)?.into()),
        NotifyType::ADDITIONAL_IP6_ADDRESS => IpAddr::V6(exact::<16>(&notify.data)?.into()),
        _ => return Ok(None),
    };
    Ok(Some(addr))
}

/// The data of NO_NATS_ALLOWED: the addresses and ports a message was sent from and to, as its
/// sender saw them (RFC 4555 §3.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoNatsAllowed {
    pub source: SocketAddr,
    pub destination: SocketAddr,
}

impl NoNatsAllowed {
    /// Both addresses must be of one family: a datagram has one.
    pub fn to_vec(&self) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(36);
        match (self.source.ip(), self.destination.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                push(&mut out, &s.octets(), self.source.port());
                push(&mut out, &d.octets(), self.destination.port());
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                push(&mut out, &s.octets(), self.source.port());
                push(&mut out, &d.octets(), self.destination.port());
            }
            _ => return None,
        }
        Some(out)
    }

    pub fn parse(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let parsed = match data.len() {
            12 => {
                let s = Ipv4Addr::from(r.array::<4>()?);
                let sp = r.u16()?;
                let d = Ipv4Addr::from(r.array::<4>()?);
                let dp = r.u16()?;
                Self { source: (s, sp).into(), destination: (d, dp).into() }
            }
            36 => {
                let s = Ipv6Addr::from(r.array::<16>()?);
                let sp = r.u16()?;
                let d = Ipv6Addr::from(r.array::<16>()?);
                let dp = r.u16()?;
                Self { source: (s, sp).into(), destination: (d, dp).into() }
            }
            n if n < 36 => return Err(DecodeError::new(DecodeErrorKind::Truncated, n)),
            _ => return Err(DecodeError::new(DecodeErrorKind::TrailingData, 36)),
        };
        Ok(parsed)
    }
}

fn push(out: &mut Vec<u8>, ip: &[u8], port: u16) {
    out.extend_from_slice(ip);
    out.extend_from_slice(&port.to_be_bytes());
}

fn exact<const N: usize>(data: &[u8]) -> Result<[u8; N], DecodeError> {
    let mut r = Reader::new(data);
    let v = r.array::<N>()?;
    if !r.is_empty() {
        return Err(r.error(DecodeErrorKind::TrailingData));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn additional_addresses_round_trip_both_families() {
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let n = additional_address_notify(v4);
        assert_eq!(n.kind, NotifyType::ADDITIONAL_IP4_ADDRESS);
        assert_eq!(n.data[..], [192, 0, 2, 7]);
        assert_eq!(additional_address(&n), Ok(Some(v4)));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let n = additional_address_notify(v6);
        assert_eq!(n.kind, NotifyType::ADDITIONAL_IP6_ADDRESS);
        assert_eq!(n.data[..], [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(additional_address(&n), Ok(Some(v6)));
    }

    #[test]
    fn rejects_additional_address_of_the_wrong_length() {
        let short = NotifyRepr::new(NotifyType::ADDITIONAL_IP4_ADDRESS, vec![10, 0, 0]);
        assert_eq!(additional_address(&short).unwrap_err().kind, DecodeErrorKind::Truncated);
        let long = NotifyRepr::new(NotifyType::ADDITIONAL_IP4_ADDRESS, vec![10, 0, 0, 1, 9]);
        let e = additional_address(&long).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::TrailingData, 4));
        // An IPv4 address in the IPv6 notify is not read as anything.
        let mixed = NotifyRepr::new(NotifyType::ADDITIONAL_IP6_ADDRESS, vec![10, 0, 0, 1]);
        assert_eq!(additional_address(&mixed).unwrap_err().kind, DecodeErrorKind::Truncated);
        let other = NotifyRepr::new(NotifyType::COOKIE2, vec![1; 8]);
        assert_eq!(additional_address(&other), Ok(None));
    }

    #[test]
    fn no_nats_allowed_round_trips_and_checks_its_length() {
        let v4 = NoNatsAllowed {
            source: "10.0.0.1:4500".parse().unwrap(),
            destination: "10.0.0.2:500".parse().unwrap(),
        };
        let data = v4.to_vec().unwrap();
        assert_eq!(data, [10, 0, 0, 1, 0x11, 0x94, 10, 0, 0, 2, 0x01, 0xf4]);
        assert_eq!(NoNatsAllowed::parse(&data), Ok(v4));
        let v6 = NoNatsAllowed {
            source: "[2001:db8::1]:4500".parse().unwrap(),
            destination: "[2001:db8::2]:4500".parse().unwrap(),
        };
        let data = v6.to_vec().unwrap();
        assert_eq!(data.len(), 36);
        assert_eq!(NoNatsAllowed::parse(&data), Ok(v6));
        assert_eq!(NoNatsAllowed::parse(&data[..20]).unwrap_err().kind, DecodeErrorKind::Truncated);
        assert_eq!(NoNatsAllowed::parse(&[0; 37]).unwrap_err().kind, DecodeErrorKind::TrailingData);
        let mixed = NoNatsAllowed {
            source: "10.0.0.1:4500".parse().unwrap(),
            destination: "[2001:db8::2]:4500".parse().unwrap(),
        };
        assert_eq!(mixed.to_vec(), None);
    }
}
