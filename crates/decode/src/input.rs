//! Reads IKE datagrams out of a pcap, a pcapng or a hex file.

use std::net::{IpAddr, SocketAddr};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use pcap_file::DataLink;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};

use crate::Error;

type Result<T> = std::result::Result<T, Error>;

/// IKE's UDP ports: 500, and 4500 after NAT traversal (RFC 7296 §2.23, RFC 3948).
const IKE_PORT: u16 = 500;
const NAT_T_PORT: u16 = 4500;
/// On port 4500, IKE messages start with four zero bytes where ESP has its SPI (RFC 3948 §2.2).
const NON_ESP_MARKER: [u8; 4] = [0; 4];

/// One IKE message found in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Datagram {
    /// 1-based frame (pcap) or line (hex) number.
    pub(crate) frame: usize,
    pub(crate) src: Option<SocketAddr>,
    pub(crate) dst: Option<SocketAddr>,
    /// The IKE message, without the non-ESP marker.
    pub(crate) ike: Vec<u8>,
}

/// Something in the input that is not an IKE message, reported rather than dropped silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub(crate) frame: usize,
    pub(crate) reason: String,
}

#[derive(Debug, Default)]
pub(crate) struct Input {
    pub(crate) datagrams: Vec<Datagram>,
    pub(crate) skipped: Vec<Skipped>,
}

/// Decodes `bytes` as pcap or pcapng (by magic number), else as hex text.
pub(crate) fn read(bytes: &[u8]) -> Result<Input> {
    const PCAP_MAGICS: [[u8; 4]; 4] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
    ];
    const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
    match bytes.get(..4) {
        Some(m) if PCAP_MAGICS.iter().any(|p| p == m) => read_pcap(bytes),
        Some(m) if m == PCAPNG_MAGIC => read_pcapng(bytes),
        _ => read_hex(bytes),
    }
}

fn read_pcap(bytes: &[u8]) -> Result<Input> {
    let mut reader = PcapReader::new(bytes).map_err(|e| Error::capture("pcap header", e))?;
    let link = reader.header().datalink;
    let mut input = Input::default();
    let mut frame = 0;
    while let Some(packet) = reader.next_packet() {
        frame += 1;
        let packet = packet.map_err(|e| Error::capture(format!("pcap frame {frame}"), e))?;
        input.add_frame(frame, link, &packet.data);
    }
    Ok(input)
}

fn read_pcapng(bytes: &[u8]) -> Result<Input> {
    let mut reader =
        PcapNgReader::new(bytes).map_err(|e| Error::capture("pcapng section header", e))?;
    let mut input = Input::default();
    let mut frame = 0;
    // Link types of the interfaces described so far, indexed by interface ID.
    let mut links: Vec<DataLink> = Vec::new();
    while let Some(block) = reader.next_block() {
        let block =
            block.map_err(|e| Error::capture(format!("pcapng block after frame {frame}"), e))?;
        let link_of = |id: usize| links.get(id).copied();
        let (link, data) = match &block {
            Block::InterfaceDescription(idb) => {
                links.push(idb.linktype);
                continue;
            }
            Block::EnhancedPacket(epb) => (link_of(epb.interface_id as usize), &epb.data),
            Block::SimplePacket(spb) => (link_of(0), &spb.data),
            Block::Packet(pb) => (link_of(usize::from(pb.interface_id)), &pb.data),
            _ => continue,
        };
        frame += 1;
        match link {
            Some(link) => input.add_frame(frame, link, data),
            None => input.skip(frame, "packet names an interface the file does not describe"),
        }
    }
    Ok(input)
}

/// One message per non-empty line; `#` starts a comment; whitespace and `:` inside are ignored.
fn read_hex(bytes: &[u8]) -> Result<Input> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::capture("input", format!("neither pcap, pcapng nor hex text ({e})")))?;
    let mut input = Input::default();
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default();
        let digits: String = line.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
        if digits.is_empty() {
            continue;
        }
        let frame = index + 1;
        match hex::decode(&digits) {
            Ok(bytes) => {
                // A hex dump of a port-4500 payload may still carry its marker.
                let ike = strip_marker(&bytes).unwrap_or(&bytes).to_vec();
                input.datagrams.push(Datagram { frame, src: None, dst: None, ike });
            }
            Err(e) => return Err(Error::capture(format!("line {frame}"), format!("not hex: {e}"))),
        }
    }
    Ok(input)
}

fn strip_marker(bytes: &[u8]) -> Option<&[u8]> {
    bytes.strip_prefix(&NON_ESP_MARKER)
}

impl Input {
    fn skip(&mut self, frame: usize, reason: impl Into<String>) {
        self.skipped.push(Skipped { frame, reason: reason.into() });
    }

    fn add_frame(&mut self, frame: usize, link: DataLink, data: &[u8]) {
        let sliced = match link {
            DataLink::ETHERNET => SlicedPacket::from_ethernet(data),
            DataLink::LINUX_SLL => SlicedPacket::from_linux_sll(data),
            DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => SlicedPacket::from_ip(data),
            // BSD loopback: a 4-byte address family in host order, then the IP packet.
            DataLink::NULL | DataLink::LOOP => match data.get(4..) {
                Some(ip) => SlicedPacket::from_ip(ip),
                None => return self.skip(frame, "truncated loopback header"),
            },
            other => return self.skip(frame, format!("unsupported link type {other:?}")),
        };
        let sliced = match sliced {
            Ok(s) => s,
            Err(e) => return self.skip(frame, format!("not an IP packet: {e}")),
        };
        let (src_ip, dst_ip): (IpAddr, IpAddr) = match &sliced.net {
            Some(NetSlice::Ipv4(v4)) => {
                (v4.header().source_addr().into(), v4.header().destination_addr().into())
            }
            Some(NetSlice::Ipv6(v6)) => {
                (v6.header().source_addr().into(), v6.header().destination_addr().into())
            }
            _ => return self.skip(frame, "not IPv4 or IPv6"),
        };
        let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
            return self.skip(frame, "not UDP");
        };
        let (sport, dport) = (udp.source_port(), udp.destination_port());
        let src = SocketAddr::new(src_ip, sport);
        let dst = SocketAddr::new(dst_ip, dport);
        let payload = udp.payload();
        let ports = [sport, dport];
        let ike = if ports.contains(&NAT_T_PORT) {
            match payload {
                [0xff] => return self.skip(frame, "NAT keepalive"),
                _ => match strip_marker(payload) {
                    Some(ike) => ike,
                    None => return self.skip(frame, "ESP on port 4500"),
                },
            }
        } else if ports.contains(&IKE_PORT) {
            payload
        } else {
            return self.skip(frame, format!("UDP {sport} -> {dport} is not an IKE port"));
        };
        self.datagrams.push(Datagram { frame, src: Some(src), dst: Some(dst), ike: ike.to_vec() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_lines_become_messages_and_markers_are_stripped() {
        let text = b"# comment\n00000000 0102\n\n0a0b:0c # trailing\n";
        let input = read(text).unwrap();
        assert_eq!(input.datagrams.len(), 2);
        assert_eq!(input.datagrams[0].frame, 2);
        assert_eq!(input.datagrams[0].ike, [1, 2]);
        assert_eq!(input.datagrams[1].ike, [0x0a, 0x0b, 0x0c]);
    }

    #[test]
    fn rejects_non_hex_text() {
        let err = read(b"zz\n").unwrap_err();
        assert!(err.to_string().starts_with("line 1: not hex"), "{err}");
    }
}
