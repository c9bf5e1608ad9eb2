//! TCP MSS clamping of the inner packets (RFC 4459 §3.2): a SYN or SYN-ACK crossing the tunnel
//! has its Maximum Segment Size option (RFC 9293 §3.7.1) lowered to what fits the tunnel MTU,
//! so neither end sends segments the tunnel cannot carry and large transfers do not stall on a
//! lost ICMP "packet too big". Done in place in the caller's buffer, before sealing and after
//! opening: it is byte surgery on a packet the ESP path already holds, so it lives here,
//! outside the `unsafe` pump, and the pump calls it on the buffer it seals or writes.
//!
//! As Linux's `TCPMSS --clamp-mss-to-pmtu`: the MSS is `MTU - 40` (IPv4) or `MTU - 60` (IPv6),
//! an existing MSS option is only ever lowered, and the TCP checksum is updated incrementally
//! (RFC 1624 eqn. 3). A SYN without an MSS option is left alone: its sender then assumes 536
//! (IPv4) or 1220 (IPv6) bytes (RFC 9293 §3.7.1, RFC 8200 §8.3), which fits every MTU a tunnel
//! takes (576 / 1280 at least), so an option inserted there (Linux inserts `min(MSS, 536)`)
//! would say nothing new and cost a packet move. Malformed options (length 0 or 1, running past
//! the header) end the walk with the packet unchanged; fragments other than the first, and
//! IPv6 extension headers other than hop-by-hop, routing, destination options and fragment, are
//! not touched.
//!
//! Anything but a TCP SYN costs a few compares: the IP version, the protocol, the flags.
//!
//! ```
//! use ikeway_esp::mss::MssClamp;
//!
//! let clamp = MssClamp::for_mtu(1400);
//! assert_eq!((clamp.ipv4(), clamp.ipv6()), (1360, 1340));
//! let mut not_tcp = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
//! assert_eq!(clamp.clamp(&mut not_tcp), None);
//! ```

/// IPv4 and TCP headers without options (Linux `TCPMSS`: `sizeof(iphdr) + sizeof(tcphdr)`).
const IPV4_TCP_HEADERS: usize = 20 + 20;
/// IPv6 and TCP headers without options or extension headers.
const IPV6_TCP_HEADERS: usize = 40 + 20;
const PROTO_TCP: u8 = 6;
/// RFC 8200 §4: extension headers walked to find TCP (hop-by-hop, routing, fragment,
/// destination options).
const EXT_HOP_BY_HOP: u8 = 0;
const EXT_ROUTING: u8 = 43;
const EXT_FRAGMENT: u8 = 44;
const EXT_DEST_OPTS: u8 = 60;
/// At most this many extension headers are walked: a SYN with more is left alone.
const MAX_EXT_HEADERS: usize = 4;
/// TCP flags (RFC 9293 §3.1).
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
/// TCP options (RFC 9293 §3.2).
const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;
const OPT_MSS_LEN: usize = 4;

/// The MSS each family's SYNs are lowered to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MssClamp {
    v4: u16,
    v6: u16,
}

impl MssClamp {
    /// The clamp for a tunnel carrying inner packets of at most `mtu` bytes.
    pub fn for_mtu(mtu: usize) -> Self {
        let mss = |headers: usize| u16::try_from(mtu.saturating_sub(headers)).unwrap_or(u16::MAX);
        Self { v4: mss(IPV4_TCP_HEADERS), v6: mss(IPV6_TCP_HEADERS) }
    }

    /// The largest MSS an IPv4 SYN keeps.
    pub fn ipv4(&self) -> u16 {
        self.v4
    }

    /// The largest MSS an IPv6 SYN keeps.
    pub fn ipv6(&self) -> u16 {
        self.v6
    }

    /// Lowers the MSS option of the IP packet `packet` (exactly one packet, as it crosses the
    /// tunnel) if it is a TCP SYN asking for more than fits; returns the MSS it replaced.
    #[inline]
    pub fn clamp(&self, packet: &mut [u8]) -> Option<u16> {
        match packet.first()? >> 4 {
            4 => self.clamp_v4(packet),
            6 => self.clamp_v6(packet),
            _ => None,
        }
    }

    #[inline]
    fn clamp_v4(&self, p: &mut [u8]) -> Option<u16> {
        if *p.get(9)? != PROTO_TCP {
            return None;
        }
        let ihl = usize::from(p[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
        // Only the first fragment holds the TCP header.
        let fragment_offset = u16::from_be_bytes([p[6], p[7]]) & 0x1fff;
        if ihl < 20 || fragment_offset != 0 {
            return None;
        }
        clamp_segment(p.get_mut(ihl..total)?, self.v4)
    }

    #[inline]
    fn clamp_v6(&self, p: &mut [u8]) -> Option<u16> {
        let payload = usize::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
        // A jumbogram (payload length 0) never crosses a tunnel of at most 65535 bytes.
        let end = 40 + payload;
        let mut next = *p.get(6)?;
        let mut at = 40;
        for _ in 0..MAX_EXT_HEADERS {
            match next {
                PROTO_TCP => return clamp_segment(p.get_mut(at..end)?, self.v6),
                EXT_HOP_BY_HOP | EXT_ROUTING | EXT_DEST_OPTS => {
                    let h = p.get(at..at + 2)?;
                    next = h[0];
                    at += (usize::from(h[1]) + 1) * 8;
                }
                EXT_FRAGMENT => {
                    let h = p.get(at..at + 8)?;
                    if u16::from_be_bytes([h[2], h[3]]) >> 3 != 0 {
                        return None;
                    }
                    next = h[0];
                    at += 8;
                }
                _ => return None,
            }
        }
        None
    }
}

/// Clamps the MSS options of the TCP segment `tcp` (header and data) to `mss` if it is a SYN.
#[inline]
fn clamp_segment(tcp: &mut [u8], mss: u16) -> Option<u16> {
    if *tcp.get(13)? & (TCP_SYN | TCP_RST) != TCP_SYN {
        return None;
    }
    clamp_syn(tcp, mss)
}

/// The option walk, off the fast path: only SYNs get here.
#[cold]
fn clamp_syn(tcp: &mut [u8], mss: u16) -> Option<u16> {
    let header = usize::from(tcp[12] >> 4) * 4;
    if header < 20 || header > tcp.len() {
        return None;
    }
    let mut replaced = None;
    let mut i = 20;
    while i < header {
        let kind = tcp[i];
        if kind == OPT_EOL {
            break;
        }
        if kind == OPT_NOP {
            i += 1;
            continue;
        }
        // Malformed (no length byte, length 0 or 1, past the header): nothing after it can be
        // trusted to be an option. What was lowered before it stays lowered, and is reported.
        let Some(&len) = tcp[..header].get(i + 1) else { break };
        let len = usize::from(len);
        if len < 2 || i + len > header {
            break;
        }
        if kind == OPT_MSS && len == OPT_MSS_LEN {
            let old = u16::from_be_bytes([tcp[i + 2], tcp[i + 3]]);
            if old > mss {
                tcp[i + 2..i + 4].copy_from_slice(&mss.to_be_bytes());
                let check = u16::from_be_bytes([tcp[16], tcp[17]]);
                // The checksum sums 16-bit words from the segment's start: a field at an odd
                // offset straddles two of them, which is its byte-swapped value (RFC 1071 §2).
                let (from, to) = if i.is_multiple_of(2) {
                    (old, mss)
                } else {
                    (old.swap_bytes(), mss.swap_bytes())
                };
                tcp[16..18].copy_from_slice(&checksum_replace(check, from, to).to_be_bytes());
                replaced = Some(old);
            }
        }
        i += len;
    }
    replaced
}

/// RFC 1624 eqn. 3: the checksum after one 16-bit word changed from `old` to `new`,
/// `HC' = ~(~HC + ~m + m')`.
fn checksum_replace(check: u16, old: u16, new: u16) -> u16 {
    let mut sum = u32::from(!check) + u32::from(!old) + u32::from(new);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN from `connect` to 127.0.0.1 as Linux 6 sent it on `lo` (MSS 65495, SACK, TS,
    /// window scale); lo leaves the checksum partial, so [`fixed`] completes it.
    const SYN_V4: &str = "4500003ca9144000400693a57f0000017f000001e1baaadba7e6564200000000a002ffd7\
                          fe3000000204ffd70402080a67e59281000000000103030a";
    /// Its SYN-ACK.
    const SYN_ACK_V4: &str = "4500003c0000400040063cba7f0000017f000001aadbe1ba2c296475a7e65643a012\
                              ffcbfe3000000204ffd70402080a3a7be25467e592810103030a";
    /// The same over ::1 (MSS 65476).
    const SYN_V6: &str = "6001257e0028064000000000000000000000000000000001000000000000000000000000\
                          00000001df009771c6fbc63b00000000a002ffc4003000000204ffc40402080a56acba2f\
                          000000000103030a";
    const SYN_ACK_V6: &str = "600179bc00280640000000000000000000000000000000010000000000000000000000\
                              00000000019771df00f6ef38bdc6fbc63ca012ffb8003000000204ffc40402080a4a3b\
                              69b256acba2f0103030a";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// Where the TCP header starts and where the segment ends (no extension headers here).
    fn tcp_span(p: &[u8]) -> (usize, usize) {
        if p[0] >> 4 == 4 {
            (usize::from(p[0] & 0x0f) * 4, usize::from(u16::from_be_bytes([p[2], p[3]])))
        } else {
            (40, 40 + usize::from(u16::from_be_bytes([p[4], p[5]])))
        }
    }

    /// The TCP checksum computed from scratch over the pseudo-header (RFC 9293 §3.1, RFC 8200
    /// §8.1) and the segment.
    fn full_checksum(p: &[u8]) -> u16 {
        let (start, end) = tcp_span(p);
        let len = u32::try_from(end - start).unwrap().to_be_bytes();
        let mut all = if p[0] >> 4 == 4 {
            [&p[12..20], &[0, PROTO_TCP], &len[2..]].concat()
        } else {
            [&p[8..40], &len[..], &[0, 0, 0, PROTO_TCP]].concat()
        };
        all.extend_from_slice(&p[start..end]);
        let check = all.len() - (end - start) + 16;
        all[check..check + 2].fill(0);
        if !all.len().is_multiple_of(2) {
            all.push(0);
        }
        let mut sum: u32 = all.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    fn fixed(s: &str) -> Vec<u8> {
        let mut p = hex(s);
        let (start, _) = tcp_span(&p);
        let c = full_checksum(&p);
        p[start + 16..start + 18].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn checksum_ok(p: &[u8]) -> bool {
        let (start, _) = tcp_span(p);
        u16::from_be_bytes([p[start + 16], p[start + 17]]) == full_checksum(p)
    }

    fn mss_of(p: &[u8]) -> Vec<u16> {
        let (start, _) = tcp_span(p);
        let tcp = &p[start..];
        let header = usize::from(tcp[12] >> 4) * 4;
        let mut out = Vec::new();
        let mut i = 20;
        while i + 1 < header && tcp[i] != OPT_EOL {
            if tcp[i] == OPT_NOP {
                i += 1;
                continue;
            }
            if tcp[i] == OPT_MSS {
                out.push(u16::from_be_bytes([tcp[i + 2], tcp[i + 3]]));
            }
            i += usize::from(tcp[i + 1]).max(1);
        }
        out
    }

    /// Rebuilds `p` with `options` as its TCP options (padded to 4 bytes), lengths fixed and
    /// the checksum computed from scratch.
    fn with_options(p: &[u8], options: &[u8]) -> Vec<u8> {
        let (start, end) = tcp_span(p);
        let header = usize::from(p[start + 12] >> 4) * 4;
        let mut opts = options.to_vec();
        while !opts.len().is_multiple_of(4) {
            opts.push(OPT_EOL);
        }
        let mut out = p[..start + 20].to_vec();
        out.extend_from_slice(&opts);
        out.extend_from_slice(&p[start + header..end]);
        out[start + 12] = u8::try_from((20 + opts.len()) / 4).unwrap() << 4;
        if out[0] >> 4 == 4 {
            let total = u16::try_from(out.len()).unwrap();
            out[2..4].copy_from_slice(&total.to_be_bytes());
            // The IPv4 header checksum is not the clamp's business; leave it.
        } else {
            let payload = u16::try_from(out.len() - 40).unwrap();
            out[4..6].copy_from_slice(&payload.to_be_bytes());
        }
        let c = full_checksum(&out);
        out[start + 16..start + 18].copy_from_slice(&c.to_be_bytes());
        out
    }

    #[test]
    fn clamp_follows_the_mtu() {
        assert_eq!(MssClamp::for_mtu(1400), MssClamp { v4: 1360, v6: 1340 });
        assert_eq!(MssClamp::for_mtu(1280), MssClamp { v4: 1240, v6: 1220 });
        assert_eq!(MssClamp::for_mtu(576).ipv4(), 536);
        assert_eq!(MssClamp::for_mtu(30), MssClamp { v4: 0, v6: 0 });
        assert_eq!(MssClamp::for_mtu(200_000), MssClamp { v4: u16::MAX, v6: u16::MAX });
    }

    /// Linux's real SYN and SYN-ACK, both families: the MSS drops to MTU - 40 / MTU - 60,
    /// the checksum stays right (checked from scratch), nothing else changes.
    #[test]
    fn lowers_the_mss_of_real_syns_and_syn_acks() {
        let clamp = MssClamp::for_mtu(1400);
        for (name, s, old, new) in [
            ("syn v4", SYN_V4, 65495, 1360),
            ("syn-ack v4", SYN_ACK_V4, 65495, 1360),
            ("syn v6", SYN_V6, 65476, 1340),
            ("syn-ack v6", SYN_ACK_V6, 65476, 1340),
        ] {
            let before = fixed(s);
            assert!(checksum_ok(&before), "{name}");
            let mut p = before.clone();
            assert_eq!(clamp.clamp(&mut p), Some(old), "{name}");
            assert_eq!(mss_of(&p), [new], "{name}");
            assert!(checksum_ok(&p), "{name}: checksum after the clamp");
            let changed: Vec<usize> = (0..p.len()).filter(|&i| p[i] != before[i]).collect();
            let (start, _) = tcp_span(&p);
            assert!(
                changed.iter().all(|&i| i >= start && [16, 17, 22, 23].contains(&(i - start))),
                "{name}: {changed:?}"
            );
            // Clamping again changes nothing.
            assert_eq!(clamp.clamp(&mut p), None, "{name}");
        }
    }

    /// An MSS already small enough is never raised (Linux only lowers).
    #[test]
    fn never_raises_an_mss() {
        let mut p = fixed(SYN_V4);
        let before = p.clone();
        assert_eq!(MssClamp::for_mtu(70_000).clamp(&mut p), None);
        let mut small = with_options(&before, &[OPT_MSS, 4, 0x02, 0x18]);
        let kept = small.clone();
        assert_eq!(MssClamp::for_mtu(1400).clamp(&mut small), None);
        assert_eq!(small, kept);
        assert_eq!(p, before);
    }

    /// The MSS option after others, at an even and at an odd offset (one NOP before it): the
    /// incremental checksum handles both alignments; two MSS options are both lowered.
    #[test]
    fn finds_the_mss_option_anywhere_and_keeps_the_checksum() {
        let clamp = MssClamp::for_mtu(1400);
        for base in [SYN_V4, SYN_V6] {
            let real = fixed(base);
            let want = if real[0] >> 4 == 4 { 1360 } else { 1340 };
            for options in [
                vec![4, 2, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8, OPT_MSS, 4, 0x23, 0x28],
                vec![OPT_NOP, OPT_MSS, 4, 0x23, 0x28, OPT_NOP, 3, 3, 7],
                vec![OPT_NOP, OPT_NOP, OPT_NOP, OPT_MSS, 4, 0xff, 0xff],
                vec![OPT_MSS, 4, 0x23, 0x28, OPT_NOP, OPT_MSS, 4, 0x24, 0x00],
            ] {
                let mut p = with_options(&real, &options);
                assert!(checksum_ok(&p));
                let olds = mss_of(&p);
                assert_eq!(clamp.clamp(&mut p), olds.last().copied(), "{options:?}");
                assert_eq!(mss_of(&p), vec![want; olds.len()], "{options:?}");
                assert!(checksum_ok(&p), "{options:?}");
            }
        }
    }

    /// Hostile and odd segments: no MSS option (left alone, see the module doc), option
    /// length 0 or 1, an option running past the header, a truncated header, a data offset
    /// past the packet, RST+SYN, a plain ACK, a later fragment, UDP, garbage: nothing changes
    /// and nothing panics.
    #[test]
    fn leaves_hostile_and_other_packets_alone() {
        let clamp = MssClamp::for_mtu(1400);
        let real = fixed(SYN_V4);
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("no MSS option", with_options(&real, &[OPT_NOP, OPT_NOP, 4, 2])),
            ("length 0 before MSS", with_options(&real, &[30, 0, OPT_MSS, 4, 0xff, 0xff])),
            ("length 1 before MSS", with_options(&real, &[30, 1, OPT_MSS, 4, 0xff, 0xff])),
            ("MSS length 3", with_options(&real, &[OPT_MSS, 3, 0xff, 0xff])),
            ("MSS length 0", with_options(&real, &[OPT_MSS, 0, 0xff, 0xff])),
            ("MSS past the header", with_options(&real, &[1, 1, 1, 1, 1, OPT_MSS, 4, 0xff])),
            ("EOL before MSS", with_options(&real, &[OPT_EOL, OPT_MSS, 4, 0xff, 0xff])),
        ];
        let mut truncated = real.clone();
        truncated.truncate(20 + 23);
        cases.push(("truncated options", truncated.clone()));
        let mut short_total = real.clone();
        short_total[2..4].copy_from_slice(&(20u16 + 30).to_be_bytes());
        cases.push(("total length inside the options", short_total));
        let mut doff = real.clone();
        doff[20 + 12] = 0xf0;
        cases.push(("data offset past the packet", doff));
        let mut small_doff = real.clone();
        small_doff[20 + 12] = 0x40;
        cases.push(("data offset 16", small_doff));
        let mut rst = real.clone();
        rst[20 + 13] |= TCP_RST;
        cases.push(("RST+SYN", rst));
        let mut ack = real.clone();
        ack[20 + 13] = 0x10;
        cases.push(("ACK", ack));
        let mut later = real.clone();
        later[6..8].copy_from_slice(&0x0010u16.to_be_bytes());
        cases.push(("later fragment", later));
        let mut udp = real.clone();
        udp[9] = 17;
        cases.push(("UDP", udp));
        let mut ihl = real.clone();
        ihl[0] = 0x44;
        cases.push(("IHL 4", ihl));
        cases.push(("IPv4 header only", real[..20].to_vec()));
        cases.push(("one byte", vec![0x45]));
        cases.push(("empty", Vec::new()));
        cases.push(("IPv6 header only", hex(SYN_V6)[..40].to_vec()));
        let mut v6_len = hex(SYN_V6);
        v6_len[4..6].copy_from_slice(&200u16.to_be_bytes());
        cases.push(("IPv6 payload length past the packet", v6_len));
        cases.push(("version 5", vec![0x50; 80]));
        for (name, mut p) in cases {
            let before = p.clone();
            assert_eq!(clamp.clamp(&mut p), None, "{name}");
            assert_eq!(p, before, "{name}");
        }
    }

    /// Found by the `mss_clamp` fuzz target: an MSS lowered before a malformed option at the
    /// very end of the header (no room for its length byte) is reported, and the checksum
    /// stays right.
    #[test]
    fn reports_a_clamp_before_a_malformed_last_option() {
        let real = fixed(SYN_ACK_V4);
        let mut p = with_options(&real, &[OPT_MSS, 4, 0xff, 0xd7, 1, 1, 1, 0x28]);
        assert_eq!(MssClamp::for_mtu(1400).clamp(&mut p), Some(0xffd7));
        assert_eq!(mss_of(&p), [1360]);
        assert!(checksum_ok(&p));
    }

    /// IPv6 extension headers before TCP are walked (hop-by-hop, then a first fragment); a
    /// later fragment and an unknown header are not.
    #[test]
    fn walks_ipv6_extension_headers() {
        let clamp = MssClamp::for_mtu(1400);
        let real = fixed(SYN_V6);
        let with_ext = |ext: &[u8], first: u8| {
            let mut p = real[..40].to_vec();
            p[6] = first;
            p.extend_from_slice(ext);
            p.extend_from_slice(&real[40..]);
            let payload = u16::try_from(p.len() - 40).unwrap();
            p[4..6].copy_from_slice(&payload.to_be_bytes());
            p
        };
        let hop = [EXT_FRAGMENT, 0, 1, 4, 0, 0, 0, 0];
        let frag = [PROTO_TCP, 0, 0, 0, 0, 0, 0, 1];
        let mut p = with_ext(&[&hop[..], &frag[..]].concat(), EXT_HOP_BY_HOP);
        assert_eq!(clamp.clamp(&mut p), Some(65476));
        assert_eq!(u16::from_be_bytes([p[56 + 22], p[56 + 23]]), 1340);
        let later = [PROTO_TCP, 0, 0, 0x08, 0, 0, 0, 1];
        let mut p = with_ext(&later, EXT_FRAGMENT);
        assert_eq!(clamp.clamp(&mut p), None);
        let mut p = with_ext(&hop, 99);
        assert_eq!(clamp.clamp(&mut p), None);
        let chain = |n: usize| {
            let mut c: Vec<u8> =
                std::iter::repeat_n([EXT_DEST_OPTS, 0, 1, 4, 0, 0, 0, 0], n).flatten().collect();
            c[(n - 1) * 8] = PROTO_TCP;
            c
        };
        let mut p = with_ext(&chain(3), EXT_DEST_OPTS);
        assert_eq!(clamp.clamp(&mut p), Some(65476), "three destination options headers");
        let mut p = with_ext(&chain(MAX_EXT_HEADERS + 1), EXT_DEST_OPTS);
        assert_eq!(clamp.clamp(&mut p), None, "more extension headers than walked");
    }

    /// RFC 1624's example: a checksum update equals the recomputation, including the -0 case.
    #[test]
    fn incremental_checksum_matches_rfc_1624() {
        // RFC 1624 §4: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285 gives HC' = 0x0000.
        assert_eq!(checksum_replace(0xdd2f, 0x5555, 0x3285), 0x0000);
        assert_eq!(checksum_replace(0x0000, 0x3285, 0x5555), 0xdd2f);
    }
}
