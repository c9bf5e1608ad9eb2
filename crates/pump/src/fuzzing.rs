//! Entry points for the fuzz targets (`fuzz/`) into the TUN offload code the io_uring worker
//! runs on every packet; only with the `fuzzing` feature, so they are no part of the API.

use crate::offload::{self, TunPacket, VNET_HDR_LEN, VnetHdr};

/// One TUN read (`virtio_net_hdr`, then the packet) made into the IP packets the worker seals,
/// as `uring.rs` does it: one packet with its checksum completed, or the segments of a TCP
/// super-packet. `None` where the worker drops the read.
pub fn tun_read(read: &mut [u8]) -> Option<Vec<Vec<u8>>> {
    let hdr = VnetHdr::parse(read)?;
    let pkt = &mut read[VNET_HDR_LEN..];
    match offload::classify(&hdr, pkt).ok()? {
        TunPacket::Single => Some(vec![pkt.to_vec()]),
        TunPacket::Tcp(seg) => Some(
            (0..seg.count())
                .map(|i| {
                    let mut out = vec![0; seg.segment_len(i)];
                    seg.write(pkt, i, &mut out);
                    out
                })
                .collect(),
        ),
    }
}

/// The TUN writes (offset of the `virtio_net_hdr`, length with it) for the inner packets at
/// `packets` in `buf`, merged like receive offload; see `offload::coalesce` for the layout it
/// needs.
pub fn coalesce(buf: &mut [u8], packets: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    offload::coalesce(buf, packets, &mut out);
    out
}

/// Bytes each packet given to [`coalesce`] needs before it for the `virtio_net_hdr`.
pub const VNET_HDR_BYTES: usize = VNET_HDR_LEN;
