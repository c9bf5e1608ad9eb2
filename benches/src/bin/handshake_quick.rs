//! `cargo xtask bench handshake`: a short measurement of complete in-process handshakes,
//! one line per group: `handshake <group> X us (both sides), Y handshakes/s`.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use ikeway_benches::handshake::InProcess;
use ikeway_codec::DhGroup;

fn measure(mut f: impl FnMut(u64)) -> Duration {
    // Warm up, then take the median of 15 batches.
    for i in 0..20 {
        f(i);
    }
    let mut samples: Vec<Duration> = (0..15u64)
        .map(|batch| {
            let start = Instant::now();
            for i in 0..20 {
                f(1000 + batch * 20 + i);
            }
            start.elapsed() / 20
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    for (name, group) in [
        ("x25519", DhGroup::CURVE25519),
        ("ecp256", DhGroup::ECP_256),
        ("modp2048", DhGroup::MODP_2048),
    ] {
        let t = measure(|seed| {
            InProcess::handshake(group, seed);
        });
        println!(
            "handshake {name} {:.1} us (both sides), {:.0} handshakes/s",
            t.as_secs_f64() * 1e6,
            1.0 / t.as_secs_f64()
        );
    }
    // RFC 9370 hybrid: X25519 in IKE_SA_INIT, then ML-KEM-768 in one IKE_INTERMEDIATE.
    let t = measure(|seed| {
        InProcess::handshake_hybrid(DhGroup::CURVE25519, &[DhGroup::ML_KEM_768], seed);
    });
    println!(
        "handshake x25519+mlkem768 {:.1} us (both sides), {:.0} handshakes/s",
        t.as_secs_f64() * 1e6,
        1.0 / t.as_secs_f64()
    );
    let mut pair = InProcess::handshake(DhGroup::CURVE25519, 7);
    let t = measure(|_| pair.rekey_child());
    println!("rekey_child x25519 {:.1} us (both sides)", t.as_secs_f64() * 1e6);
}
