//! ESP datagrams into a pump [`Datapath::open`], then the receive coalescing the io_uring
//! worker does before writing to TUN. Most datagrams are sealed by the harness with the SA's
//! known keys around the fuzzer's bytes, so the inner-packet handling behind the ICV is fuzzed:
//! padding and next header, the inbound selector check, counters, GRO-style merging.
//!
//! Input: `[pick]` (see `esp::Inbound::new`), then records `[kind][next header][len:2][bytes]`.
//! `kind` bit 0: the bytes are a raw UDP payload (IKE, keepalive, forged ESP) instead of an
//! inner packet to seal; `next header` 0 means "from the IP version".
//!
//! Checks: an opened packet is exactly the sealed inner packet (up to the length its IP
//! header claims: the rest is TFC padding); a raw datagram never opens;
//! every TUN write stays in the buffer, and our own TUN reader cuts it back into as many
//! packets as were merged into it.
//!
//! Issue 9 finding 15: one of the targets that reach what the first release left unfuzzed.
#![no_main]

use ikeway_esp::NextHeader;
use ikeway_fuzz::Input;
use ikeway_fuzz::esp::{Inbound, delivered};
use ikeway_pump::Opened;
use ikeway_pump::fuzzing::{VNET_HDR_BYTES, coalesce, tun_read};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut tunnel = Inbound::new(input.byte());
    // One receive buffer holding the datagrams back to back, as a UDP GRO receive does.
    let mut buf = vec![0u8; 64];
    let mut datagrams = Vec::new();
    while !input.is_empty() && datagrams.len() < 32 {
        let kind = input.byte();
        let next_header = input.byte();
        let bytes = input.bytes();
        let sealed = if kind & 1 == 1 {
            None
        } else {
            let nh = match next_header {
                0 => NextHeader::of_ip_packet(bytes).unwrap_or(NextHeader(4)),
                n => NextHeader(n),
            };
            match tunnel.seal(bytes, nh) {
                Some(esp) => Some((esp, nh)),
                None => return,
            }
        };
        let at = buf.len();
        match &sealed {
            Some((esp, _)) => buf.extend_from_slice(esp),
            None => buf.extend_from_slice(bytes),
        }
        datagrams.push((at, buf.len() - at, sealed.map(|(_, nh)| (bytes, nh))));
    }
    let mut inner = Vec::new();
    for &(at, len, ref sealed) in &datagrams {
        let opened = tunnel.server.open(&mut buf[at..at + len], len, tunnel.client_addr);
        match (opened, sealed) {
            (Opened::Inner { start, len: n }, Some((bytes, nh))) => {
                let expected = delivered(bytes, *nh).expect("only IP is delivered");
                assert_eq!(&buf[at + start..at + start + n], expected, "opened != sealed");
                assert!(start >= VNET_HDR_BYTES, "no room for the virtio_net_hdr");
                inner.push((at + start, n));
            }
            (Opened::Inner { .. }, None) => panic!("a raw datagram opened as ESP"),
            _ => {}
        }
    }
    let writes = coalesce(&mut buf, &inner);
    let mut segments = 0;
    for &(at, len) in &writes {
        let write = buf.get(at..at + len).expect("a TUN write inside the buffer");
        segments += tun_read(&mut write.to_vec()).expect("our own TUN reader takes it").len();
    }
    assert_eq!(segments, inner.len(), "merging lost or invented packets");
});
