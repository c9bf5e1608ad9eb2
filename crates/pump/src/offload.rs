//! TUN offloads done in userspace. With `IFF_VNET_HDR` and `TUNSETOFFLOAD` (checksum, TSO4,
//! TSO6) the kernel hands the TUN reader whole TCP super-packets (up to 64 KiB) behind a
//! `virtio_net_hdr`, with the transport checksum left partial. This module reads that header,
//! completes partial checksums and cuts a super-packet into MSS-sized TCP segments, each a
//! valid IP packet that the pump then seals as one ESP packet. Only safe code; no I/O.

/// Size of `struct virtio_net_hdr` (the TUN default, `TUNSETVNETHDRSZ` not used).
pub(crate) const VNET_HDR_LEN: usize = 10;

const F_NEEDS_CSUM: u8 = 1;
const GSO_NONE: u8 = 0;
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
const GSO_ECN: u8 = 0x80;

/// A `virtio_net_hdr` as TUN writes it (little-endian fields on every host we run on: the
/// kernel uses the host order unless `TUNSETVNETBE`, and we only build for little-endian
/// targets with io_uring in mind; big-endian hosts read it the same way by `from_le`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct VnetHdr {
    pub(crate) flags: u8,
    pub(crate) gso_type: u8,
    pub(crate) gso_size: u16,
    pub(crate) csum_start: u16,
    pub(crate) csum_offset: u16,
}

impl VnetHdr {
    pub(crate) fn parse(b: &[u8]) -> Option<Self> {
        let b = b.get(..VNET_HDR_LEN)?;
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(Self {
            flags: b[0],
            gso_type: b[1],
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        })
    }
}

/// Why a packet read from TUN could not be made into plain IP packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsupported;

/// What one TUN read holds, ready to seal.
#[derive(Debug)]
pub(crate) enum TunPacket {
    /// One IP packet (its checksum completed if it was partial).
    Single,
    /// A TCP super-packet to cut with [`TcpSegmenter`].
    Tcp(TcpSegmenter),
}

/// Interprets `hdr` for the packet `pkt` (the bytes after the header); completes a partial
/// checksum in place for a single packet.
pub(crate) fn classify(hdr: &VnetHdr, pkt: &mut [u8]) -> Result<TunPacket, Unsupported> {
    match hdr.gso_type & !GSO_ECN {
        GSO_NONE => {
            if hdr.flags & F_NEEDS_CSUM != 0 {
                complete_csum(pkt, usize::from(hdr.csum_start), usize::from(hdr.csum_offset))?;
            }
            Ok(TunPacket::Single)
        }
        GSO_TCPV4 | GSO_TCPV6 => {
            let seg = TcpSegmenter::new(pkt, usize::from(hdr.gso_size))?;
            if seg.count() == 1 {
                // Nothing to cut: only the checksum to finish, as a segment would.
                let mut out = vec![0; seg.segment_len(0)];
                seg.write(pkt, 0, &mut out);
                pkt[..out.len()].copy_from_slice(&out);
                return Ok(TunPacket::Single);
            }
            Ok(TunPacket::Tcp(seg))
        }
        _ => Err(Unsupported),
    }
}

/// The one's complement sum of `data` as big-endian 16-bit words, added to `acc`.
fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc += (v >> 48) + ((v >> 32) & 0xffff) + ((v >> 16) & 0xffff) + (v & 0xffff);
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for c in &mut rest {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = rest.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Finishes a partial checksum (`VIRTIO_NET_HDR_F_NEEDS_CSUM`): the field at
/// `start + offset` holds the pseudo-header sum; the sum runs from `start` to the end.
fn complete_csum(pkt: &mut [u8], start: usize, offset: usize) -> Result<(), Unsupported> {
    let field = start.checked_add(offset).ok_or(Unsupported)?;
    if field + 2 > pkt.len() {
        return Err(Unsupported);
    }
    let c = !fold(sum(&pkt[start..], 0));
    pkt[field..field + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Cuts a TCP super-packet (IPv4 or IPv6 without extension headers) into segments of at most
/// `mss` payload bytes: IP length, IPv4 ID and header checksum, TCP sequence number, flags
/// (FIN/PSH on the last only, CWR on the first only) and TCP checksum are set per segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TcpSegmenter {
    v6: bool,
    ip_len: usize,
    hdr_len: usize,
    payload: usize,
    mss: usize,
}

const TCP: u8 = 6;

impl TcpSegmenter {
    pub(crate) fn new(pkt: &[u8], mss: usize) -> Result<Self, Unsupported> {
        let first = *pkt.first().ok_or(Unsupported)?;
        let (v6, ip_len) = match first >> 4 {
            4 if pkt.len() >= 20 && pkt[9] == TCP => (false, usize::from(first & 0x0f) * 4),
            6 if pkt.len() >= 40 && pkt[6] == TCP => (true, 40),
            _ => return Err(Unsupported),
        };
        if ip_len < 20 || pkt.len() < ip_len + 20 || mss == 0 {
            return Err(Unsupported);
        }
        let tcp_len = usize::from(pkt[ip_len + 12] >> 4) * 4;
        let hdr_len = ip_len + tcp_len;
        if tcp_len < 20 || pkt.len() < hdr_len {
            return Err(Unsupported);
        }
        Ok(Self { v6, ip_len, hdr_len, payload: pkt.len() - hdr_len, mss })
    }

    /// Number of segments (at least one).
    pub(crate) fn count(&self) -> usize {
        self.payload.div_ceil(self.mss).max(1)
    }

    /// Length of segment `i` (headers included).
    pub(crate) fn segment_len(&self, i: usize) -> usize {
        let from = i * self.mss;
        self.hdr_len + self.payload.saturating_sub(from).min(self.mss)
    }

    /// Writes segment `i` of `pkt` into `out[..segment_len(i)]`.
    pub(crate) fn write(&self, pkt: &[u8], i: usize, out: &mut [u8]) {
        let (h, ip) = (self.hdr_len, self.ip_len);
        let from = h + i * self.mss;
        let n = self.segment_len(i) - h;
        let out = &mut out[..h + n];
        out[..h].copy_from_slice(&pkt[..h]);
        out[h..].copy_from_slice(&pkt[from..from + n]);
        let total = h + n;
        if self.v6 {
            out[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
        } else {
            out[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            let id = u16::from_be_bytes([pkt[4], pkt[5]]).wrapping_add(i as u16);
            out[4..6].copy_from_slice(&id.to_be_bytes());
            out[10..12].copy_from_slice(&[0, 0]);
            let c = !fold(sum(&out[..ip], 0));
            out[10..12].copy_from_slice(&c.to_be_bytes());
        }
        let tcp = ip;
        let seq = u32::from_be_bytes([pkt[tcp + 4], pkt[tcp + 5], pkt[tcp + 6], pkt[tcp + 7]])
            .wrapping_add((i * self.mss) as u32);
        out[tcp + 4..tcp + 8].copy_from_slice(&seq.to_be_bytes());
        let mut flags = pkt[tcp + 13];
        if i + 1 < self.count() {
            flags &= !(0x01 | 0x08); // FIN, PSH
        }
        if i > 0 {
            flags &= !0x80; // CWR
        }
        out[tcp + 13] = flags;
        out[tcp + 16..tcp + 18].copy_from_slice(&[0, 0]);
        let tcp_len = (total - ip) as u64;
        let pseudo = if self.v6 {
            sum(&out[8..40], tcp_len + u64::from(TCP))
        } else {
            sum(&out[12..20], tcp_len + u64::from(TCP))
        };
        let c = !fold(sum(&out[tcp..], pseudo));
        out[tcp + 16..tcp + 18].copy_from_slice(&c.to_be_bytes());
    }
}

/// A TCP segment's layout, when it can be merged with its neighbours.
#[derive(Debug, Clone, Copy)]
struct Mergeable {
    v6: bool,
    hdr_len: usize,
    seq: u32,
    flags: u8,
    payload: usize,
}

const ACK: u8 = 0x10;
const PSH: u8 = 0x08;

fn mergeable(p: &[u8]) -> Option<Mergeable> {
    let first = *p.first()?;
    let (v6, ip_len) = match first >> 4 {
        // IPv4 without options, not a fragment, the total length exact.
        4 if p.len() >= 40
            && first == 0x45
            && p[9] == TCP
            && p[6] & 0x3f == 0
            && p[7] == 0
            && usize::from(u16::from_be_bytes([p[2], p[3]])) == p.len() =>
        {
            (false, 20)
        }
        6 if p.len() >= 60
            && p[6] == TCP
            && usize::from(u16::from_be_bytes([p[4], p[5]])) + 40 == p.len() =>
        {
            (true, 40)
        }
        _ => return None,
    };
    let tcp_len = usize::from(p[ip_len + 12] >> 4) * 4;
    let hdr_len = ip_len + tcp_len;
    if tcp_len < 20 || p.len() <= hdr_len {
        return None;
    }
    let seq = u32::from_be_bytes([p[ip_len + 4], p[ip_len + 5], p[ip_len + 6], p[ip_len + 7]]);
    Some(Mergeable { v6, hdr_len, seq, flags: p[ip_len + 13], payload: p.len() - hdr_len })
}

/// Whether the headers `a` and `b` (both `hdr_len` long) differ only where segments of one
/// burst differ: IP length, IPv4 ID and checksum, TCP sequence number, flags and checksum.
fn same_flow(a: &[u8], b: &[u8], v6: bool) -> bool {
    let ip = if v6 { 40 } else { 20 };
    let skip = |i: usize| {
        (!v6 && matches!(i, 2..=5 | 10 | 11))
            || (v6 && matches!(i, 4 | 5))
            || matches!(i.wrapping_sub(ip), 4..=7 | 13 | 16 | 17)
    };
    a.len() == b.len() && a.iter().zip(b).enumerate().all(|(i, (x, y))| x == y || skip(i))
}

/// Writes the packets found at `packets` (offsets and lengths into `buf`, in arrival order) as
/// TUN writes behind a `virtio_net_hdr`, merging runs of in-order TCP segments of one flow
/// (receive offload in userspace, like GRO): the payloads of a run are moved in place behind
/// the first segment, whose headers then describe the whole run, and the header asks the
/// kernel for TSO-style handling (`GSO_TCPV4/6`, checksum partial). Each packet needs
/// `VNET_HDR_LEN` bytes before it in `buf` that belong to no earlier packet. `out` gets the
/// writes, (offset of the header, length with the header).
pub(crate) fn coalesce(buf: &mut [u8], packets: &[(usize, usize)], out: &mut Vec<(usize, usize)>) {
    let mut i = 0;
    while i < packets.len() {
        let (s0, l0) = packets[i];
        i += 1;
        let mut total = l0;
        let mut segments = 1;
        let head = mergeable(&buf[s0..s0 + l0]).filter(|m| m.flags == ACK);
        if let Some(m) = head {
            let mut next = m.seq.wrapping_add(m.payload as u32);
            let mut psh = false;
            while i < packets.len() {
                let (sj, lj) = packets[i];
                let Some(n) = mergeable(&buf[sj..sj + lj]) else { break };
                let fits = n.v6 == m.v6
                    && n.hdr_len == m.hdr_len
                    && n.seq == next
                    && n.payload <= m.payload
                    && (n.flags == ACK || n.flags == ACK | PSH)
                    && total + n.payload <= 65535
                    && same_flow(&buf[s0..s0 + m.hdr_len], &buf[sj..sj + m.hdr_len], m.v6);
                if !fits {
                    break;
                }
                buf.copy_within(sj + n.hdr_len..sj + lj, s0 + total);
                total += n.payload;
                segments += 1;
                next = next.wrapping_add(n.payload as u32);
                i += 1;
                if n.payload < m.payload || n.flags & PSH != 0 {
                    psh = n.flags & PSH != 0;
                    break;
                }
            }
            if segments > 1 {
                merge_headers(&mut buf[s0 - VNET_HDR_LEN..s0 + total], m, psh);
                out.push((s0 - VNET_HDR_LEN, total + VNET_HDR_LEN));
                continue;
            }
        }
        buf[s0 - VNET_HDR_LEN..s0].fill(0);
        out.push((s0 - VNET_HDR_LEN, l0 + VNET_HDR_LEN));
    }
}

/// Turns the first segment's headers into those of the merged packet `p` (virtio_net_hdr
/// included) of segments of `m.payload` bytes.
fn merge_headers(p: &mut [u8], m: Mergeable, psh: bool) {
    let (hdr, pkt) = p.split_at_mut(VNET_HDR_LEN);
    let total = pkt.len();
    let ip = if m.v6 { 40 } else { 20 };
    if m.v6 {
        pkt[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
    } else {
        pkt[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        pkt[10..12].copy_from_slice(&[0, 0]);
        let c = !fold(sum(&pkt[..20], 0));
        pkt[10..12].copy_from_slice(&c.to_be_bytes());
    }
    if psh {
        pkt[ip + 13] |= PSH;
    }
    // Checksum partial: the field holds the pseudo-header sum, the kernel does the rest.
    let tcp_len = (total - ip) as u64 + u64::from(TCP);
    let pseudo = if m.v6 { sum(&pkt[8..40], tcp_len) } else { sum(&pkt[12..20], tcp_len) };
    pkt[ip + 16..ip + 18].copy_from_slice(&fold(pseudo).to_be_bytes());
    let v = VnetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: if m.v6 { GSO_TCPV6 } else { GSO_TCPV4 },
        gso_size: m.payload as u16,
        csum_start: ip as u16,
        csum_offset: 16,
    };
    hdr[0] = v.flags;
    hdr[1] = v.gso_type;
    hdr[2..4].copy_from_slice(&(m.hdr_len as u16).to_ne_bytes());
    hdr[4..6].copy_from_slice(&v.gso_size.to_ne_bytes());
    hdr[6..8].copy_from_slice(&v.csum_start.to_ne_bytes());
    hdr[8..10].copy_from_slice(&v.csum_offset.to_ne_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};

    fn tcp_packet(v6: bool, payload: &[u8], flags_fin_psh: bool) -> Vec<u8> {
        let b = if v6 {
            PacketBuilder::ipv6([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], [0xfd; 16], 64)
        } else {
            PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        };
        let mut b = b.tcp(40000, 5201, 0xffff_fff0, 1000).ack(77);
        if flags_fin_psh {
            b = b.psh().fin();
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    fn checksums_ok(p: &[u8]) -> bool {
        let s = SlicedPacket::from_ip(p).unwrap();
        let Some(TransportSlice::Tcp(t)) = s.transport else { return false };
        match &s.net {
            Some(etherparse::NetSlice::Ipv4(ip)) => {
                let h = ip.header();
                fold(sum(&p[..h.slice().len()], 0)) == 0xffff
                    && t.calc_checksum_ipv4(h.source(), h.destination()).unwrap() == t.checksum()
            }
            Some(etherparse::NetSlice::Ipv6(ip)) => {
                let h = ip.header();
                t.calc_checksum_ipv6(h.source(), h.destination()).unwrap() == t.checksum()
            }
            _ => false,
        }
    }

    #[test]
    fn segments_reassemble_with_valid_headers() {
        for v6 in [false, true] {
            let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 + 3) as u8).collect();
            let sp = tcp_packet(v6, &data, true);
            let seg = TcpSegmenter::new(&sp, 1360).unwrap();
            assert_eq!(seg.count(), 4);
            let mut joined = Vec::new();
            for i in 0..seg.count() {
                let mut out = vec![0; seg.segment_len(i)];
                seg.write(&sp, i, &mut out);
                assert!(checksums_ok(&out), "v6 {v6} segment {i}");
                let s = SlicedPacket::from_ip(&out).unwrap();
                let Some(TransportSlice::Tcp(t)) = s.transport else { panic!() };
                assert_eq!(t.sequence_number(), 0xffff_fff0u32.wrapping_add(i as u32 * 1360));
                assert_eq!(t.fin(), i == 3);
                assert_eq!(t.psh(), i == 3);
                assert!(t.ack());
                joined.extend_from_slice(t.payload());
            }
            assert_eq!(joined, data);
        }
    }

    #[test]
    fn partial_checksum_is_completed() {
        let mut p = tcp_packet(false, b"hello world!", false);
        let good = p.clone();
        // Replace the TCP checksum with the pseudo-header sum, as the kernel leaves it.
        let pseudo = fold(sum(&p[12..20], (p.len() - 20) as u64 + 6));
        p[36..38].copy_from_slice(&pseudo.to_be_bytes());
        let hdr =
            VnetHdr { flags: F_NEEDS_CSUM, csum_start: 20, csum_offset: 16, ..Default::default() };
        assert!(matches!(classify(&hdr, &mut p), Ok(TunPacket::Single)));
        assert_eq!(p, good);
    }

    #[test]
    fn rejects_what_it_cannot_cut() {
        let hdr = VnetHdr { gso_type: 3, ..Default::default() };
        assert_eq!(classify(&hdr, &mut [0x45; 40]).err(), Some(Unsupported));
        assert!(TcpSegmenter::new(&[0x45, 0, 0], 1000).is_err());
    }

    #[test]
    fn coalesce_merges_a_burst_and_keeps_the_rest() {
        for v6 in [false, true] {
            let data: Vec<u8> = (0..4000u32).map(|i| (i * 13 + 1) as u8).collect();
            let sp = tcp_packet(v6, &data, false);
            let seg = TcpSegmenter::new(&sp, 1000).unwrap();
            // Four segments spaced out as ESP would leave them, then an unrelated packet.
            let mut buf = vec![0u8; 64];
            let mut packets = Vec::new();
            let mut segs = Vec::new();
            for i in 0..seg.count() {
                let mut p = vec![0; seg.segment_len(i)];
                seg.write(&sp, i, &mut p);
                packets.push((buf.len(), p.len()));
                buf.extend_from_slice(&p);
                buf.extend_from_slice(&[0xee; 40]);
                segs.push(p);
            }
            let other = tcp_packet(v6, b"x", false);
            packets.push((buf.len(), other.len()));
            buf.extend_from_slice(&other);
            let mut out = Vec::new();
            coalesce(&mut buf, &packets, &mut out);
            assert_eq!(out.len(), 2, "v6 {v6}");
            let (at, len) = out[0];
            let h = VnetHdr::parse(&buf[at..]).unwrap();
            assert_eq!(h.gso_type, if v6 { GSO_TCPV6 } else { GSO_TCPV4 });
            assert_eq!(h.gso_size, 1000);
            // Finishing the partial checksum gives the super-packet we cut.
            let mut merged = buf[at + VNET_HDR_LEN..at + len].to_vec();
            complete_csum(&mut merged, usize::from(h.csum_start), usize::from(h.csum_offset))
                .unwrap();
            assert_eq!(merged.len(), sp.len());
            let again = TcpSegmenter::new(&merged, 1000).unwrap();
            for (i, want) in segs.iter().enumerate() {
                let mut p = vec![0; again.segment_len(i)];
                again.write(&merged, i, &mut p);
                assert_eq!(&p[..], &want[..], "v6 {v6} segment {i}");
            }
            assert_eq!(out[1], (packets[4].0 - VNET_HDR_LEN, other.len() + VNET_HDR_LEN));
            assert_eq!(&buf[out[1].0..out[1].0 + VNET_HDR_LEN], &[0; VNET_HDR_LEN]);
        }
    }
}
