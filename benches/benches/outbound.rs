//! The datapath's outbound SA lookup as the number of clients grows (issue 9 finding 6): one
//! 64-byte packet sealed by `Datapath::seal` with 1, 1k, 10k and 100k client SAs installed,
//! each client holding one host address. A linear scan grows with the table; the index by
//! destination must stay flat. The packet goes to a client in the middle of the table.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use ikeway_crypto::{AeadAlgorithm, Encryption, SecretBytes, Suite};
use ikeway_esp::SaConfig;
use ikeway_pump::{ChildSa, Counters, Datapath, HEADROOM, Policy, SaTable, Selector, TAILROOM};

const CLIENTS: [u32; 4] = [1, 1_000, 10_000, 100_000];

fn client(i: u32) -> ChildSa {
    let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None)
        .expect("AES-GCM-16-128 is a suite");
    let sa =
        |spi| SaConfig::new(spi, suite, SecretBytes::from_slice(&[7; 20]), SecretBytes::default());
    let host = IpAddr::V4(Ipv4Addr::from(0x0a40_0000 + i));
    ChildSa {
        inbound: sa(0x1000_0000 + i),
        outbound: sa(0x2000_0000 + i),
        policy: Policy {
            local: vec![Selector::any_v4()],
            remote: vec![Selector::range(host, host)],
        },
        remote: SocketAddr::new(IpAddr::V4(Ipv4Addr::from(0xc000_0200 + (i & 0xff))), 4500),
    }
}

fn udp4(dst: u32) -> Vec<u8> {
    let mut p = vec![0x45, 0, 0, 64, 0, 0, 0, 0, 64, 17, 0, 0, 10, 77, 0, 2];
    p.extend_from_slice(&dst.to_be_bytes());
    p.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 44, 0, 0]);
    p.resize(64, 0);
    p
}

fn outbound(c: &mut Criterion) {
    let mut group = c.benchmark_group("outbound_lookup");
    for n in CLIENTS {
        let (tx, _rx) = crossbeam_channel::bounded(1);
        let dp = Datapath::new(
            SaTable::new(),
            Arc::new(Counters::default()),
            tx,
            "192.0.2.1:4500".parse().expect("literal"),
        );
        let children: Vec<ChildSa> = (0..n).map(client).collect();
        dp.table().install_all(&children).expect("valid SAs");
        let packet = udp4(0x0a40_0000 + n / 2);
        let mut buf = vec![0u8; HEADROOM + packet.len() + TAILROOM];
        group.bench_function(format!("seal_64/{n}_clients"), |b| {
            b.iter(|| {
                buf[HEADROOM..HEADROOM + packet.len()].copy_from_slice(&packet);
                black_box(dp.seal(&mut buf, packet.len()).expect("a client covers it"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, outbound);
criterion_main!(benches);
