//! The cost of TCP MSS clamping on the datapath (issue 14): a 1400-byte TCP segment and a SYN
//! sealed at one end and opened at the other through `Datapath` (AES-128-GCM), with and
//! without the clamp, in the same run; and the clamp alone on a data segment and on a SYN.
//! A data segment costs the clamp a few compares (version, protocol, flags); only a SYN walks
//! its options.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use ikeway_crypto::{AeadAlgorithm, Encryption, SecretBytes, Suite};
use ikeway_esp::SaConfig;
use ikeway_esp::mss::MssClamp;
use ikeway_pump::{ChildSa, Counters, Datapath, HEADROOM, Opened, Policy, SaTable, TAILROOM};

const MTU: usize = 1400;

fn sa(spi: u32) -> SaConfig {
    let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None)
        .expect("AES-GCM-16-128 is a suite");
    SaConfig::new(spi, suite, SecretBytes::from_slice(&[7; 20]), SecretBytes::default())
}

fn datapath(clamp: bool, out_spi: u32, in_spi: u32) -> Datapath {
    // No IKE reaches this datapath: the receiver may go.
    let (tx, _) = crossbeam_channel::bounded(1);
    let dp = Datapath::new(
        SaTable::new(),
        Arc::new(Counters::default()),
        tx,
        "192.0.2.1:4500".parse().expect("literal"),
    );
    let dp = if clamp { dp.with_mss_clamp(MssClamp::for_mtu(MTU)) } else { dp };
    let child = ChildSa {
        inbound: sa(in_spi),
        outbound: sa(out_spi),
        policy: Policy::any(),
        remote: "192.0.2.2:4500".parse().expect("literal"),
    };
    dp.table().install(&child).expect("valid SA");
    dp
}

/// An IPv4 TCP segment of `len` bytes: a SYN with MSS 1460 (and SACK, timestamps, window
/// scale, as Linux sends it) or an ACK carrying data.
fn tcp4(syn: bool, len: usize) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    p.extend_from_slice(&[0xc0, 0x01, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0]);
    if syn {
        p.extend_from_slice(&[0xa0, 0x02, 0xff, 0xff, 0x12, 0x34, 0, 0]);
        p.extend_from_slice(&[2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7]);
    } else {
        p.extend_from_slice(&[0x50, 0x10, 0xff, 0xff, 0x12, 0x34, 0, 0]);
    }
    p.resize(len.max(p.len()), 0xab);
    let total = u16::try_from(p.len()).expect("small");
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p
}

fn mss(c: &mut Criterion) {
    let mut group = c.benchmark_group("mss_clamp");
    let clamp = MssClamp::for_mtu(MTU);
    for (name, syn) in [("ack_1400", false), ("syn", true)] {
        let packet = tcp4(syn, if syn { 0 } else { 1400 });
        // The clamp alone. A data segment is left as it is, so the same bytes serve every
        // iteration; a SYN gets its MSS option and checksum (4 bytes) written back first,
        // which `restore` measures alone. (Copying the whole packet in each iteration would
        // measure the store-to-load stall of reading bytes just written by `memcpy`, which a
        // packet read from TUN or UDP long before does not pay.)
        let mut p = packet.clone();
        let (mss_at, check_at) = (20 + 20 + 2, 20 + 16);
        let restore = |p: &mut [u8]| {
            p[mss_at..mss_at + 2].copy_from_slice(&packet[mss_at..mss_at + 2]);
            p[check_at..check_at + 2].copy_from_slice(&packet[check_at..check_at + 2]);
        };
        if syn {
            group.bench_function(format!("restore/{name}"), |b| {
                b.iter(|| {
                    restore(black_box(&mut p));
                    black_box(&mut p);
                })
            });
        }
        group.bench_function(format!("clamp/{name}"), |b| {
            b.iter(|| {
                if syn {
                    restore(&mut p);
                }
                black_box(clamp.clamp(black_box(&mut p)))
            })
        });
        for on in [false, true] {
            let a = datapath(on, 0x1000, 0x2000);
            let z = datapath(on, 0x2000, 0x1000);
            let mut buf = vec![0u8; HEADROOM + MTU + TAILROOM];
            let from: SocketAddr = "192.0.2.1:4500".parse().expect("literal");
            let label = if on { "clamp" } else { "no_clamp" };
            group.bench_function(format!("seal_open/{name}/{label}"), |b| {
                b.iter(|| {
                    buf[HEADROOM..HEADROOM + packet.len()].copy_from_slice(&packet);
                    let (start, len, _) = a.seal(&mut buf, packet.len()).expect("covered");
                    let opened = z.open(&mut buf[start..], len, from);
                    assert!(matches!(opened, Opened::Inner { .. }));
                    black_box(opened)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, mss);
criterion_main!(benches);
