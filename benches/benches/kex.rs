//! IKEv2 key exchange per group and backend: key generation (private key from random bytes plus
//! the public value), the shared secret, and for Curve25519 a whole exchange as both sides do it
//! in IKE_SA_INIT (two key generations, two shared secrets).
//!
//! `cargo bench -p ikeway-benches --bench kex`; figures go in `docs/PERFORMANCE.md`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ikeway_crypto::{KexBackend, KexGroup, KeyExchange};

fn seeded(seed: u8) -> impl FnMut(&mut [u8]) {
    let mut state = seed;
    move |buf: &mut [u8]| {
        for b in buf {
            state = state.wrapping_mul(167).wrapping_add(13);
            *b = state;
        }
    }
}

fn backends(group: KexGroup) -> &'static [KexBackend] {
    // MODP groups are crypto-bigint whatever the backend says: measure them once.
    if group.modp_prime().is_some() { &[KexBackend::AwsLc] } else { &KexBackend::ALL }
}

fn backend_name(backend: KexBackend) -> &'static str {
    match backend {
        KexBackend::AwsLc => "aws-lc-rs",
        _ => "rustcrypto",
    }
}

fn kex(c: &mut Criterion) {
    for group in KexGroup::ALL {
        let mut g = c.benchmark_group(format!("kex/{group}"));
        if group.modp_prime().is_some() {
            g.sample_size(10);
        }
        for &backend in backends(group) {
            let name =
                if group.modp_prime().is_some() { "crypto-bigint" } else { backend_name(backend) };
            let private = {
                let mut bytes = vec![0u8; group.private_len()];
                seeded(1)(&mut bytes);
                bytes
            };
            g.bench_function(format!("keygen/{name}"), |b| {
                b.iter(|| {
                    black_box(
                        KeyExchange::from_private_bytes(group, backend, black_box(&private))
                            .unwrap(),
                    )
                })
            });
            let mine = KeyExchange::generate(group, backend, &mut seeded(1)).unwrap();
            let peer = KeyExchange::generate(group, backend, &mut seeded(2)).unwrap();
            g.bench_function(format!("shared/{name}"), |b| {
                b.iter(|| black_box(mine.shared_secret(black_box(peer.public_value())).unwrap()))
            });
            if group == KexGroup::Curve25519 {
                g.bench_function(format!("both_sides/{name}"), |b| {
                    b.iter(|| {
                        let i = KeyExchange::generate(group, backend, &mut seeded(1)).unwrap();
                        let r = KeyExchange::generate(group, backend, &mut seeded(2)).unwrap();
                        let si = i.shared_secret(r.public_value()).unwrap();
                        let sr = r.shared_secret(i.public_value()).unwrap();
                        black_box((si, sr))
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = kex
}
criterion_main!(benches);
