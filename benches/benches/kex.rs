//! IKEv2 key exchange per group and backend: key generation (private key from random bytes plus
//! the public value), the shared secret, and for Curve25519 a whole exchange as both sides do it
//! in IKE_SA_INIT (two key generations, two shared secrets). ML-KEM-768/1024 (RFC 9370
//! additional key exchanges) per backend: key generation, encapsulation (with the FIPS 203
//! encapsulation-key check), decapsulation, and both sides of one exchange.
//!
//! `cargo bench -p ikeway-benches --bench kex`; figures go in `docs/PERFORMANCE.md`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ikeway_crypto::kem::{self, KemAlgorithm, KemDecapsulator};
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

fn mlkem(c: &mut Criterion) {
    for alg in KemAlgorithm::ALL {
        let mut g = c.benchmark_group(format!("kex/{alg}"));
        for backend in KexBackend::ALL {
            let name = backend_name(backend);
            g.bench_function(format!("keygen/{name}"), |b| {
                b.iter(|| {
                    black_box(KemDecapsulator::generate(alg, backend, &mut seeded(1)).unwrap())
                })
            });
            let mine = KemDecapsulator::generate(alg, backend, &mut seeded(1)).unwrap();
            g.bench_function(format!("encaps/{name}"), |b| {
                b.iter(|| {
                    black_box(
                        kem::encapsulate(
                            alg,
                            backend,
                            black_box(mine.encapsulation_key()),
                            &mut seeded(2),
                        )
                        .unwrap(),
                    )
                })
            });
            let answer =
                kem::encapsulate(alg, backend, mine.encapsulation_key(), &mut seeded(2)).unwrap();
            g.bench_function(format!("decaps/{name}"), |b| {
                b.iter(|| black_box(mine.decapsulate(black_box(&answer.ciphertext)).unwrap()))
            });
            g.bench_function(format!("both_sides/{name}"), |b| {
                b.iter(|| {
                    let i = KemDecapsulator::generate(alg, backend, &mut seeded(1)).unwrap();
                    let r = kem::encapsulate(alg, backend, i.encapsulation_key(), &mut seeded(2))
                        .unwrap();
                    black_box((i.decapsulate(&r.ciphertext).unwrap(), r.shared_secret))
                })
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = kex, mlkem
}
criterion_main!(benches);
