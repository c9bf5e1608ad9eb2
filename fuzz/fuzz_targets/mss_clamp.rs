//! TCP MSS clamping on arbitrary packets: nothing panics, the length never changes, the
//! one's complement sum of the whole packet is kept (the TCP segment starts at an even offset
//! and its checksum is updated with the MSS, so a packet whose checksum was right stays right),
//! a second clamp changes nothing, and a clamp no MSS exceeds never changes a byte.
//!
//! Input: two bytes of MTU (big-endian), then the IP packet.

#![no_main]

use ikeway_esp::mss::MssClamp;
use libfuzzer_sys::fuzz_target;

/// The one's complement sum of `data` as 16-bit words, 0 and 0xffff being the same number.
fn ones_sum(data: &[u8]) -> u16 {
    let mut sum: u64 = data
        .chunks(2)
        .map(|w| u64::from(u16::from_be_bytes([w[0], w.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    if sum == 0xffff { 0 } else { sum as u16 }
}

fuzz_target!(|data: &[u8]| {
    let Some((mtu, packet)) = data.split_at_checked(2) else { return };
    let clamp = MssClamp::for_mtu(usize::from(u16::from_be_bytes([mtu[0], mtu[1]])));
    let mut p = packet.to_vec();
    let replaced = clamp.clamp(&mut p);
    assert_eq!(p.len(), packet.len());
    assert_eq!(ones_sum(&p), ones_sum(packet), "the checksum no longer matches");
    if replaced.is_none() {
        assert_eq!(p, packet, "changed without saying so");
    } else {
        let limit = if packet[0] >> 4 == 4 { clamp.ipv4() } else { clamp.ipv6() };
        assert!(replaced > Some(limit), "replaced an MSS that fit: {replaced:?} <= {limit}");
    }
    let once = p.clone();
    assert_eq!(clamp.clamp(&mut p), None, "a second clamp found more to lower");
    assert_eq!(p, once);
    let mut untouched = packet.to_vec();
    assert_eq!(MssClamp::for_mtu(usize::from(u16::MAX) + 60).clamp(&mut untouched), None);
    assert_eq!(untouched, packet);
});
