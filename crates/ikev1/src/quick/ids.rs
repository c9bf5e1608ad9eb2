//! Quick mode client IDs (RFC 2409 §5.5, RFC 2407 §4.6.2): the networks an ESP SA carries,
//! as ID payloads on the wire and as traffic selectors for the datapath.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ikeway_codec::{AddrRange, TrafficSelector};
use ikeway_isakmp::{IdRepr, IdValue};

use super::config::Subnet;

impl Subnet {
    /// The ID payload: ID_IPV4_ADDR / ID_IPV6_ADDR for one address, else the subnet form;
    /// any protocol and port.
    pub(crate) fn to_id(self) -> IdRepr {
        match self.addr {
            IpAddr::V4(a) if self.prefix >= 32 => IdRepr::addr(IpAddr::V4(a)),
            IpAddr::V6(a) if self.prefix >= 128 => IdRepr::addr(IpAddr::V6(a)),
            IpAddr::V4(a) => IdRepr::subnet4(a, self.prefix),
            IpAddr::V6(a) => IdRepr::subnet6(a, self.prefix),
        }
    }

    /// Reads a client ID. Only whole-protocol address IDs are taken: a port or protocol
    /// restriction, a non-contiguous mask or a range that is no prefix is refused (the
    /// datapath selects by prefix).
    pub(crate) fn from_id(id: &IdRepr) -> Option<Self> {
        if id.protocol != 0 || id.port != 0 {
            return None;
        }
        match id.value() {
            IdValue::Addr(addr) => Some(Self::host(addr)),
            IdValue::Subnet(addr, mask) => {
                let prefix = prefix_of(mask)?;
                Some(Self { addr: masked(addr, prefix)?, prefix })
            }
            _ => None,
        }
    }

    /// First and last address.
    fn bounds(self) -> (IpAddr, IpAddr) {
        match self.addr {
            IpAddr::V4(a) => {
                let host = u32::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0);
                let first = u32::from(a) & !host;
                (Ipv4Addr::from(first).into(), Ipv4Addr::from(first | host).into())
            }
            IpAddr::V6(a) => {
                let host = u128::MAX.checked_shr(u32::from(self.prefix)).unwrap_or(0);
                let first = u128::from(a) & !host;
                (Ipv6Addr::from(first).into(), Ipv6Addr::from(first | host).into())
            }
        }
    }

    /// Whether `other` lies within this subnet (same family, a prefix at least as long).
    pub(crate) fn contains(self, other: Subnet) -> bool {
        self.addr.is_ipv4() == other.addr.is_ipv4()
            && other.prefix >= self.prefix
            && Subnet { addr: other.addr, prefix: self.prefix }.bounds().0 == self.bounds().0
    }

    /// The traffic selector the ESP datapath matches (any protocol and port).
    pub(crate) fn to_ts(self) -> TrafficSelector {
        let (start, end) = self.bounds();
        TrafficSelector::Range(AddrRange::any(start, end))
    }
}

/// The prefix length of a contiguous mask.
fn prefix_of(mask: IpAddr) -> Option<u8> {
    let (bits, width) = match mask {
        IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, 32),
        IpAddr::V6(m) => (u128::from(m), 128),
    };
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0 && ones <= width).then_some(ones as u8)
}

/// `addr` with its host bits cleared; `None` if they were set (a subnet ID names a network).
fn masked(addr: IpAddr, prefix: u8) -> Option<IpAddr> {
    let net = Subnet { addr, prefix }.bounds().0;
    (net == addr).then_some(net)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_is_an_address_id_and_a_network_a_subnet_id() {
        let host = Subnet::host("10.9.0.7".parse().unwrap());
        assert_eq!(host.to_id(), IdRepr::addr("10.9.0.7".parse().unwrap()));
        let any = Subnet::any_like("10.9.0.7".parse().unwrap());
        assert_eq!(any.to_id(), IdRepr::subnet4(Ipv4Addr::UNSPECIFIED, 0));
        for s in [host, any, Subnet { addr: "192.168.64.0".parse().unwrap(), prefix: 18 }] {
            assert_eq!(Subnet::from_id(&s.to_id()), Some(s));
        }
        let v6 = Subnet { addr: "fd00:1::".parse().unwrap(), prefix: 64 };
        assert_eq!(Subnet::from_id(&v6.to_id()), Some(v6));
    }

    #[test]
    fn traffic_selectors_span_the_subnet() {
        let s = Subnet { addr: "192.168.64.0".parse().unwrap(), prefix: 18 };
        assert_eq!(
            s.to_ts(),
            TrafficSelector::Range(AddrRange::any(
                "192.168.64.0".parse().unwrap(),
                "192.168.127.255".parse().unwrap()
            ))
        );
        let any = Subnet::any_like("10.0.0.1".parse().unwrap());
        assert_eq!(
            any.to_ts(),
            TrafficSelector::Range(AddrRange::any(
                "0.0.0.0".parse().unwrap(),
                "255.255.255.255".parse().unwrap()
            ))
        );
    }

    #[test]
    fn a_subnet_contains_its_parts_and_not_its_neighbours() {
        let any = Subnet::any_like("10.0.0.1".parse().unwrap());
        let corp = Subnet { addr: "10.77.0.0".parse().unwrap(), prefix: 24 };
        let host = Subnet::host("10.77.0.9".parse().unwrap());
        assert!(any.contains(corp) && corp.contains(host) && corp.contains(corp));
        assert!(!corp.contains(any));
        assert!(!corp.contains(Subnet::host("10.77.1.9".parse().unwrap())));
        assert!(!any.contains(Subnet::host("fd00::1".parse().unwrap())), "another family");
    }

    #[test]
    fn refuses_ports_host_bits_ranges_and_odd_masks() {
        let with_port = Subnet::host("10.0.0.1".parse().unwrap()).to_id().with_port(17, 53);
        assert_eq!(Subnet::from_id(&with_port), None);
        let mut host_bits = IdRepr::subnet4("10.0.0.0".parse().unwrap(), 24);
        host_bits.data[3] = 1;
        assert_eq!(Subnet::from_id(&host_bits), None);
        let range = IdRepr::range("10.0.0.1".parse().unwrap(), "10.0.0.9".parse().unwrap());
        assert_eq!(Subnet::from_id(&range.unwrap()), None);
        let mut odd = IdRepr::subnet4("10.0.0.0".parse().unwrap(), 24);
        odd.data[4..].copy_from_slice(&[255, 0, 255, 0]);
        assert_eq!(Subnet::from_id(&odd), None);
        assert_eq!(Subnet::from_id(&IdRepr::fqdn("gw.example")), None);
    }
}
