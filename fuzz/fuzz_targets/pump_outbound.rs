//! One TUN read (`virtio_net_hdr` + packet) through the offload code the io_uring worker runs
//! (checksum completion, TCP segmentation of super-packets), each resulting packet sealed by
//! one pump [`Datapath::seal`] and opened by the peer's [`Datapath::open`].
//!
//! Input: `[pick]` (suite and ESN, see `esp::Pair::new`), then the TUN read.
//!
//! Checks: no panic; every segment fits the size the header announced; what one datapath
//! seals, the other opens to the same bytes (up to the length the IP header claims).
//!
//! Issue 9 finding 15: one of the targets that reach what the first release left unfuzzed.
#![no_main]

use ikeway_esp::NextHeader;
use ikeway_fuzz::esp::{Pair, delivered};
use ikeway_pump::fuzzing::tun_read;
use ikeway_pump::{Drop, HEADROOM, Opened, TAILROOM};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, read)) = data.split_first() else { return };
    let pair = Pair::new(pick);
    let Some(packets) = tun_read(&mut read.to_vec()) else { return };
    assert!(packets.len() <= 65536, "more segments than bytes");
    for packet in packets.iter().take(64) {
        let mut buf = vec![0u8; HEADROOM + packet.len() + TAILROOM];
        buf[HEADROOM..HEADROOM + packet.len()].copy_from_slice(packet);
        let Ok((start, len, _to)) = pair.client.seal(&mut buf, packet.len()) else { continue };
        let esp = &mut buf[start..start + len];
        let opened = pair.server.open(esp, len, pair.client_addr);
        let nh = NextHeader::of_ip_packet(packet).expect("only IP is sealed");
        let expected = delivered(packet, nh).expect("IP is delivered");
        match opened {
            Opened::Inner { start, len } => {
                assert_eq!(&esp[start..start + len], expected, "opened != sealed");
            }
            // A packet whose IP length field disagrees with its size is cut to the field on
            // receipt (TFC padding), and what is left may no longer parse for the policy check.
            // The kernel never hands TUN such a packet; every consistent one must arrive.
            Opened::Dropped(Drop::InboundPolicy) if expected.len() != packet.len() => {}
            other => panic!("our own ESP packet did not open: {other:?}"),
        }
    }
});
