//! Traffic selectors and the inner-packet view the policy checks use (RFC 4301 §4.4.1,
//! RFC 7296 §3.13.1).

use std::net::IpAddr;

/// One traffic selector: an address range, an IP protocol (0: any) and a port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selector {
    pub start: IpAddr,
    pub end: IpAddr,
    /// IP protocol; 0 matches every protocol.
    pub protocol: u8,
    pub start_port: u16,
    pub end_port: u16,
}

impl Selector {
    /// Every protocol and port between two addresses of one family.
    pub fn range(start: IpAddr, end: IpAddr) -> Self {
        Self { start, end, protocol: 0, start_port: 0, end_port: u16::MAX }
    }

    /// Every address of a prefix, e.g. `10.0.0.0/8` or `fd00::/64`; `None` if the prefix is
    /// longer than the address.
    pub fn cidr(addr: IpAddr, prefix: u8) -> Option<Self> {
        let (start, end) = match addr {
            IpAddr::V4(v4) => {
                let host = 32u32.checked_sub(u32::from(prefix))?;
                let mask = u32::MAX.checked_shl(host).unwrap_or(0);
                let base = u32::from(v4) & mask;
                (IpAddr::from(base.to_be_bytes()), IpAddr::from((base | !mask).to_be_bytes()))
            }
            IpAddr::V6(v6) => {
                let host = 128u32.checked_sub(u32::from(prefix))?;
                let mask = u128::MAX.checked_shl(host).unwrap_or(0);
                let base = u128::from(v6) & mask;
                (IpAddr::from(base.to_be_bytes()), IpAddr::from((base | !mask).to_be_bytes()))
            }
        };
        Some(Self::range(start, end))
    }

    /// Everything of one family.
    pub fn any_v4() -> Self {
        Self::range([0u8; 4].into(), [255u8; 4].into())
    }

    pub fn any_v6() -> Self {
        Self::range([0u8; 16].into(), [255u8; 16].into())
    }

    fn contains_addr(&self, addr: IpAddr) -> bool {
        match (self.start, self.end, addr) {
            (IpAddr::V4(s), IpAddr::V4(e), IpAddr::V4(a)) => s <= a && a <= e,
            (IpAddr::V6(s), IpAddr::V6(e), IpAddr::V6(a)) => s <= a && a <= e,
            _ => false,
        }
    }

    fn all_ports(&self) -> bool {
        self.start_port == 0 && self.end_port == u16::MAX
    }

    /// Whether this selector covers one end of `flow`: `addr` and `port` are that end's.
    fn covers(&self, flow: &Flow, addr: IpAddr, port: Option<u16>) -> bool {
        if !self.contains_addr(addr) {
            return false;
        }
        if self.protocol != 0 && self.protocol != flow.protocol {
            return false;
        }
        if self.all_ports() {
            return true;
        }
        // A selector with ports matches only packets whose ports are known (not a non-first
        // fragment, RFC 4301 §4.4.1.3 "OPAQUE").
        port.is_some_and(|p| self.start_port <= p && p <= self.end_port)
    }
}

/// What the policy looks at in an inner packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    /// Source port (TCP, UDP, SCTP) or ICMP type << 8 | code (RFC 7296 §3.13.1).
    pub src_port: Option<u16>,
    /// Destination port; for ICMP the same type/code value.
    pub dst_port: Option<u16>,
}

impl Flow {
    /// Parses the inner IPv4 or IPv6 header (and the first transport bytes) with etherparse.
    /// `None` for anything that is not a well-formed IP packet.
    pub fn parse(packet: &[u8]) -> Option<Self> {
        let ip = etherparse::IpSlice::from_slice(packet).ok()?;
        let payload = ip.payload();
        let protocol = payload.ip_number.0;
        let bytes = payload.payload;
        let (src_port, dst_port) = if payload.fragmented && ip.is_fragmenting_payload() {
            // Only the first fragment carries the ports; etherparse cannot tell which this is
            // from the payload alone, so treat every fragment as opaque.
            (None, None)
        } else {
            match protocol {
                6 | 17 | 132 | 136 if bytes.len() >= 4 => (
                    Some(u16::from_be_bytes([bytes[0], bytes[1]])),
                    Some(u16::from_be_bytes([bytes[2], bytes[3]])),
                ),
                1 | 58 if bytes.len() >= 2 => {
                    let tc = u16::from_be_bytes([bytes[0], bytes[1]]);
                    (Some(tc), Some(tc))
                }
                _ => (None, None),
            }
        };
        Some(Self {
            src: ip.source_addr(),
            dst: ip.destination_addr(),
            protocol,
            src_port,
            dst_port,
        })
    }
}

/// The two selector sets of a child SA, from our point of view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub local: Vec<Selector>,
    pub remote: Vec<Selector>,
}

impl Policy {
    /// Everything, both families (what `0.0.0.0/0` + `::/0` on both sides negotiates).
    pub fn any() -> Self {
        let all = vec![Selector::any_v4(), Selector::any_v6()];
        Self { local: all.clone(), remote: all }
    }

    /// An outbound packet: we are its source.
    pub fn covers_outbound(&self, flow: &Flow) -> bool {
        self.local.iter().any(|s| s.covers(flow, flow.src, flow.src_port))
            && self.remote.iter().any(|s| s.covers(flow, flow.dst, flow.dst_port))
    }

    /// A decrypted inbound packet: the peer is its source (RFC 4301 §5.2 step 4).
    pub fn covers_inbound(&self, flow: &Flow) -> bool {
        self.remote.iter().any(|s| s.covers(flow, flow.src, flow.src_port))
            && self.local.iter().any(|s| s.covers(flow, flow.dst, flow.dst_port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, proto, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0, 8, 0, 0]);
        p
    }

    #[test]
    fn cidr_bounds() {
        let s = Selector::cidr("10.1.2.3".parse().unwrap(), 16).unwrap();
        assert_eq!(s.start, "10.1.0.0".parse::<IpAddr>().unwrap());
        assert_eq!(s.end, "10.1.255.255".parse::<IpAddr>().unwrap());
        let s = Selector::cidr("fd00::1".parse().unwrap(), 0).unwrap();
        assert_eq!(s, Selector::any_v6());
        assert!(Selector::cidr("10.0.0.0".parse().unwrap(), 33).is_none());
    }

    #[test]
    fn policy_directions_and_ports() {
        let mut policy = Policy {
            local: vec![Selector::cidr("10.0.0.0".parse().unwrap(), 24).unwrap()],
            remote: vec![Selector::cidr("10.9.0.0".parse().unwrap(), 24).unwrap()],
        };
        let out = Flow::parse(&v4([10, 0, 0, 1], [10, 9, 0, 7], 17, 1000, 53)).unwrap();
        assert_eq!(out.dst_port, Some(53));
        assert!(policy.covers_outbound(&out));
        assert!(!policy.covers_inbound(&out));
        let back = Flow::parse(&v4([10, 9, 0, 7], [10, 0, 0, 1], 17, 53, 1000)).unwrap();
        assert!(policy.covers_inbound(&back));
        // Wrong family, wrong network.
        assert!(
            !policy.covers_inbound(
                &Flow::parse(&v4([10, 9, 1, 7], [10, 0, 0, 1], 17, 53, 1)).unwrap()
            )
        );
        // Port-restricted remote selector.
        policy.remote[0].protocol = 17;
        policy.remote[0].start_port = 53;
        policy.remote[0].end_port = 53;
        assert!(policy.covers_inbound(&back));
        assert!(
            !policy.covers_inbound(
                &Flow::parse(&v4([10, 9, 0, 7], [10, 0, 0, 1], 6, 53, 1000)).unwrap()
            )
        );
        assert!(!policy.covers_inbound(
            &Flow::parse(&v4([10, 9, 0, 7], [10, 0, 0, 1], 17, 54, 1000)).unwrap()
        ));
    }

    #[test]
    fn garbage_is_not_a_flow() {
        assert!(Flow::parse(&[]).is_none());
        assert!(Flow::parse(&[0x45, 0, 0]).is_none());
        assert!(Flow::parse(&[0x15; 40]).is_none());
    }
}
