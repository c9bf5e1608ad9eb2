//! `cargo run --profile bench -p ikeway-benches --bin kex-cpu [modp|mlkem]`: CPU time per MODP
//! key generation and shared secret, and per ML-KEM key generation, encapsulation and
//! decapsulation on each backend, one line each (both without an argument). Thread CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), not wall time, so that other processes on a shared machine do
//! not inflate the figures the way they inflate criterion's (`benches/kex.rs`).
#![allow(clippy::print_stdout)]

use ikeway_benches::cpu_time::{per_op, us};
use ikeway_crypto::kem::{self, KemAlgorithm, KemDecapsulator};
use ikeway_crypto::{KexBackend, KexGroup, KeyExchange};
use std::hint::black_box;

fn mlkem() {
    let mut rng = |buf: &mut [u8]| {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(167).wrapping_add(13);
        }
    };
    for alg in KemAlgorithm::ALL {
        for backend in KexBackend::ALL {
            let keygen = per_op(|| {
                black_box(KemDecapsulator::generate(alg, backend, &mut rng).unwrap());
            });
            let mine = KemDecapsulator::generate(alg, backend, &mut rng).unwrap();
            let encaps = per_op(|| {
                black_box(
                    kem::encapsulate(alg, backend, black_box(mine.encapsulation_key()), &mut rng)
                        .unwrap(),
                );
            });
            let answer =
                kem::encapsulate(alg, backend, mine.encapsulation_key(), &mut rng).unwrap();
            let decaps = per_op(|| {
                black_box(mine.decapsulate(black_box(&answer.ciphertext)).unwrap());
            });
            println!(
                "kex {alg} {backend:?}: keygen {:.1} us, encaps {:.1} us, decaps {:.1} us, both sides {:.1} us (CPU time)",
                us(keygen),
                us(encaps),
                us(decaps),
                us(keygen + encaps + decaps)
            );
        }
    }
}

fn main() {
    let only = std::env::args().nth(1);
    if only.as_deref() != Some("modp") {
        mlkem();
    }
    if only.as_deref() == Some("mlkem") {
        return;
    }
    for group in [KexGroup::Modp2048, KexGroup::Modp3072, KexGroup::Modp4096] {
        let private: Vec<u8> =
            (0..group.private_len()).map(|i| (i as u8).wrapping_mul(167) | 1).collect();
        let peer_private: Vec<u8> = private.iter().map(|b| b.wrapping_add(13)).collect();
        let backend = KexBackend::AwsLc;
        let keygen = per_op(|| {
            black_box(
                KeyExchange::from_private_bytes(group, backend, black_box(&private)).unwrap(),
            );
        });
        let mine = KeyExchange::from_private_bytes(group, backend, &private).unwrap();
        let peer = KeyExchange::from_private_bytes(group, backend, &peer_private).unwrap();
        let shared = per_op(|| {
            black_box(mine.shared_secret(black_box(peer.public_value())).unwrap());
        });
        println!(
            "kex {group} ({}-bit exponent): keygen {:.0} us, shared {:.0} us (CPU time)",
            group.private_len() * 8,
            keygen.as_secs_f64() * 1e6,
            shared.as_secs_f64() * 1e6
        );
    }
}
