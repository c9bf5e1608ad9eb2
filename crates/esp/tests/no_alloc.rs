//! Zero heap allocations per packet in steady state, proven by a counting global allocator
//! (`allocation-counter`: the workspace forbids `unsafe`, which writing a `GlobalAlloc` needs).

mod common;

use common::*;
use ikeway_esp::NextHeader;

#[test]
fn steady_state_encap_decap_does_not_allocate() {
    for (suite, backend) in all_suites() {
        let config = config(suite, backend, true);
        let (mut out, mut inb) = pair(&config);
        let inner = ipv4_packet(1400, 0x5a);
        let mut buf = vec![0u8; out.buffer_len(inner.len())];
        let at = out.headroom();

        let mut round = |buf: &mut [u8]| {
            buf[at..at + inner.len()].copy_from_slice(&inner);
            let esp = out.encapsulate(buf, inner.len(), NextHeader::IPV4).unwrap();
            let got = inb.decapsulate(esp).unwrap();
            assert_eq!(got.payload.len(), inner.len());
        };
        // Warm up: lazy CPU-feature detection and the like happen once.
        round(&mut buf);
        let info = allocation_counter::measure(|| {
            for _ in 0..1000 {
                round(&mut buf);
            }
        });
        assert_eq!(info.count_total, 0, "{suite:?} {backend:?} allocated: {info:?}");
    }
}

#[test]
fn dropping_packets_does_not_allocate() {
    let config = config(gcm128(), ikeway_crypto::AeadBackend::Ring, false);
    let (mut out, mut inb) = pair(&config);
    let mut forged = seal(&mut out, &ipv4_packet(100, 1), NextHeader::IPV4);
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let info = allocation_counter::measure(|| {
        for _ in 0..1000 {
            let mut p = [0u8; 256];
            p[..forged.len()].copy_from_slice(&forged);
            assert!(inb.decapsulate(&mut p[..forged.len()]).is_err());
        }
    });
    assert_eq!(info.count_total, 0);
}
