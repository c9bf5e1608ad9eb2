//! The inbound datapath with NAT-rebinding following on and off (review of `follow_peer`): a
//! 64-byte packet sealed at one end and opened at the other through `Datapath` (AES-128-GCM),
//! always from the same source. Following must not cost a lock per packet: the inbound SA
//! keeps the source it last saw and only a new one takes the outbound SA's lock.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use ikeway_crypto::{AeadAlgorithm, Encryption, SecretBytes, Suite};
use ikeway_esp::SaConfig;
use ikeway_pump::{ChildSa, Counters, Datapath, HEADROOM, Opened, Policy, SaTable, TAILROOM};

fn sa(spi: u32) -> SaConfig {
    let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None)
        .expect("AES-GCM-16-128 is a suite");
    SaConfig::new(spi, suite, SecretBytes::from_slice(&[7; 20]), SecretBytes::default())
}

fn datapath(out_spi: u32, in_spi: u32) -> Datapath {
    // No IKE reaches this datapath: the receiver may go.
    let (tx, _) = crossbeam_channel::bounded(1);
    let dp = Datapath::new(
        SaTable::new(),
        Arc::new(Counters::default()),
        tx,
        "192.0.2.1:4500".parse().expect("literal"),
    );
    let child = ChildSa {
        inbound: sa(in_spi),
        outbound: sa(out_spi),
        policy: Policy::any(),
        remote: "192.0.2.2:4500".parse().expect("literal"),
    };
    dp.table().install(&child).expect("valid SA");
    dp
}

fn udp4() -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 64, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    p.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 44, 0, 0]);
    p.resize(64, 0);
    p
}

fn inbound(c: &mut Criterion) {
    let mut group = c.benchmark_group("inbound_follow");
    let packet = udp4();
    for follow in [false, true] {
        let a = datapath(0x1000, 0x2000);
        let z = datapath(0x2000, 0x1000);
        z.table().set_follow_peer(follow);
        let from: SocketAddr = "192.0.2.2:4500".parse().expect("literal");
        let mut buf = vec![0u8; HEADROOM + 1400 + TAILROOM];
        let label = if follow { "follow_on" } else { "follow_off" };
        group.bench_function(format!("seal_open_64/{label}"), |b| {
            b.iter(|| {
                buf[HEADROOM..HEADROOM + packet.len()].copy_from_slice(&packet);
                let (start, len, _) = a.seal(&mut buf, packet.len()).expect("covered");
                let opened = z.open(&mut buf[start..], len, from);
                assert!(matches!(opened, Opened::Inner { .. }));
                black_box(opened)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, inbound);
criterion_main!(benches);
