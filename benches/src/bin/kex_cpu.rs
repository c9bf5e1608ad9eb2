//! `cargo run --profile bench -p ikeway-benches --bin kex-cpu`: CPU time per MODP key
//! generation and shared secret, one line each. Thread CPU time (`CLOCK_THREAD_CPUTIME_ID`),
//! not wall time, so that other processes on a shared machine do not inflate the figures the
//! way they inflate criterion's (`benches/kex.rs`).
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Duration;

use ikeway_crypto::{KexBackend, KexGroup, KeyExchange};
use rustix::time::{ClockId, clock_gettime};

fn cpu() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Median CPU time per call of 7 batches of at least 0.2 s each, after a warm-up batch.
fn per_op(mut f: impl FnMut()) -> Duration {
    let batch = || {
        let start = cpu();
        let mut n = 0u32;
        while cpu() - start < Duration::from_millis(200) {
            f();
            n += 1;
        }
        (cpu() - start) / n
    };
    let mut batch = batch;
    batch();
    let mut samples: Vec<Duration> = (0..7).map(|_| batch()).collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
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
