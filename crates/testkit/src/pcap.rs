//! Captures made in a test, and tshark run over them: the tests that check our
//! messages with Wireshark's dissectors write what they built to a pcap here.

use std::path::Path;
use std::process::Command;

/// Link type of a capture whose records are bare IP packets.
pub const LINKTYPE_RAW: u32 = 101;

/// A classic pcap (24-octet global header, 16 per record, link type raw IP)
/// holding `packets`, one second apart.
pub fn raw_ip(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]); // thiszone, sigfigs
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        let len = u32::try_from(p.len()).expect("a packet is small");
        let second = u32::try_from(i).expect("few packets");
        for field in [second, 0, len, len] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out.extend_from_slice(p);
    }
    out
}

/// An IPv4 packet of protocol `protocol` from `src` to `dst` with a valid
/// header checksum.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], protocol: u8, payload: &[u8]) -> Vec<u8> {
    let total = u16::try_from(20 + payload.len()).expect("a packet is small");
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, protocol, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let sum: u32 = ip.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    let check = !u16::try_from((folded & 0xffff) + (folded >> 16)).expect("folded twice");
    ip[10..12].copy_from_slice(&check.to_be_bytes());
    ip.extend_from_slice(payload);
    ip
}

/// An IPv4/UDP datagram from `src` to `dst`, both ports `port`, UDP checksum
/// zero ("none" over IPv4).
pub fn ipv4_udp(src: [u8; 4], dst: [u8; 4], port: u16, payload: &[u8]) -> Vec<u8> {
    let udp_len = u16::try_from(8 + payload.len()).expect("a datagram is small");
    let mut udp = Vec::with_capacity(usize::from(udp_len));
    udp.extend_from_slice(&port.to_be_bytes());
    udp.extend_from_slice(&port.to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(payload);
    ipv4(src, dst, 17, &udp)
}

/// A pcap of IKE messages on UDP 500 as an exchange runs: the first from
/// 10.0.0.1 to 10.0.0.2, the next back, and so on (Wireshark tells an
/// initiator's message from a responder's by direction where the protocol
/// does not say).
pub fn ike_exchange(messages: &[Vec<u8>]) -> Vec<u8> {
    let (a, b) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let packets: Vec<Vec<u8>> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| if i % 2 == 0 { ipv4_udp(a, b, 500, m) } else { ipv4_udp(b, a, 500, m) })
        .collect();
    raw_ip(&packets)
}

/// tshark's standard output over the capture at `pcap` with `args`, run
/// with an empty configuration directory so a user's preferences cannot
/// change what it shows.
///
/// # Panics
/// If tshark cannot run or fails.
pub fn tshark(pcap: &Path, args: &[&str]) -> String {
    let config = std::env::temp_dir().join("ikeway-empty-wireshark-config");
    std::fs::create_dir_all(&config).expect("config dir");
    let out = Command::new("tshark")
        .env("WIRESHARK_CONFIG_DIR", &config)
        .arg("-r")
        .arg(pcap)
        .args(args)
        .output()
        .expect("tshark runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}
