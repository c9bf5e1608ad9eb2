//! Traffic selector narrowing (RFC 7296 §2.9): the intersection of what one side proposes
//! and what the other allows.

use std::net::IpAddr;

use ikeway_codec::smallvec::SmallVec;
use ikeway_codec::{AddrRange, TrafficSelector};

/// Selectors as a child holds them: inline for the usual one per family (IPv4, IPv6), so
/// narrowing and storing them allocates nothing; more spill to the heap.
pub(crate) type Narrowed = SmallVec<[TrafficSelector; 2]>;

fn max_ip(a: IpAddr, b: IpAddr) -> IpAddr {
    if a >= b { a } else { b }
}

fn min_ip(a: IpAddr, b: IpAddr) -> IpAddr {
    if a <= b { a } else { b }
}

/// The intersection of two address-range selectors, if any.
pub(crate) fn intersect(a: &AddrRange, b: &AddrRange) -> Option<AddrRange> {
    if a.start.is_ipv4() != b.start.is_ipv4() {
        return None;
    }
    let ip_protocol = match (a.ip_protocol, b.ip_protocol) {
        (0, p) | (p, 0) => p,
        (p, q) if p == q => p,
        _ => return None,
    };
    let start_port = a.start_port.max(b.start_port);
    let end_port = a.end_port.min(b.end_port);
    let start = max_ip(a.start, b.start);
    let end = min_ip(a.end, b.end);
    (start_port <= end_port && start <= end).then_some(AddrRange {
        ip_protocol,
        start_port,
        end_port,
        start,
        end,
    })
}

/// Most selectors one child SA may have on the peer's side: a remote-access client needs one
/// per family; more is refused (TS_UNACCEPTABLE) rather than stored without bound.
pub(crate) const MAX_SELECTORS: usize = 16;

/// Whether the selector covers exactly one address (any protocol and ports).
pub(crate) fn is_single_address(selector: &TrafficSelector) -> bool {
    matches!(selector, TrafficSelector::Range(r) if r.start == r.end)
}

/// Every non-empty intersection of a proposed selector with an allowed one; `None` if there
/// is none (the exchange then fails with TS_UNACCEPTABLE).
pub(crate) fn narrow(
    proposed: &[TrafficSelector],
    allowed: &[TrafficSelector],
) -> Option<Narrowed> {
    let mut out = Narrowed::new();
    for p in proposed {
        let TrafficSelector::Range(p) = p else { continue };
        for a in allowed {
            let TrafficSelector::Range(a) = a else { continue };
            if let Some(r) = intersect(p, a) {
                let r = TrafficSelector::Range(r);
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn range(a: [u8; 4], b: [u8; 4]) -> TrafficSelector {
        TrafficSelector::Range(AddrRange::any(Ipv4Addr::from(a).into(), Ipv4Addr::from(b).into()))
    }

    #[test]
    fn narrows_to_the_overlap() {
        let got = narrow(
            &[range([0, 0, 0, 0], [255, 255, 255, 255])],
            &[range([10, 1, 0, 0], [10, 1, 255, 255])],
        );
        assert_eq!(got.as_deref(), Some(&[range([10, 1, 0, 0], [10, 1, 255, 255])][..]));
    }

    #[test]
    fn disjoint_ranges_and_families_give_nothing() {
        assert_eq!(
            narrow(
                &[range([10, 0, 0, 0], [10, 0, 0, 255])],
                &[range([10, 0, 1, 0], [10, 0, 1, 255])]
            ),
            None
        );
        assert_eq!(
            narrow(&[crate::config::any_v6()], &[range([0, 0, 0, 0], [255, 255, 255, 255])]),
            None
        );
    }

    #[test]
    fn protocol_and_ports_intersect() {
        let tcp80 = AddrRange {
            ip_protocol: 6,
            start_port: 80,
            end_port: 80,
            ..AddrRange::any(Ipv4Addr::UNSPECIFIED.into(), Ipv4Addr::BROADCAST.into())
        };
        let any =
            AddrRange::any(Ipv4Addr::new(10, 0, 0, 1).into(), Ipv4Addr::new(10, 0, 0, 1).into());
        let got = intersect(&tcp80, &any).unwrap();
        assert_eq!((got.ip_protocol, got.start_port, got.end_port), (6, 80, 80));
        assert_eq!(got.start, IpAddr::from(Ipv4Addr::new(10, 0, 0, 1)));
        let udp = AddrRange { ip_protocol: 17, ..tcp80 };
        assert_eq!(intersect(&tcp80, &udp), None);
    }
}
