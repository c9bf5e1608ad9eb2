//! `cargo xtask bench esp [--quick]`: a short timing run that prints one line per AEAD, backend
//! and size, with the ratio of ESP to the raw AEAD seal of the same library in the same run.
//! The criterion bench (`cargo bench -p ikeway-benches --bench esp`) is the careful version.

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use ikeway_benches::{SIZES, Workload, matrix};

/// Seconds per second of run time: runs `op` in batches until `budget` is spent, returning the
/// best (least disturbed) nanoseconds per call over several rounds.
fn time(budget: Duration, mut op: impl FnMut()) -> f64 {
    for _ in 0..100 {
        op(); // warm up
    }
    let rounds = 5;
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget / rounds {
            for _ in 0..64 {
                op();
            }
            n += 64;
        }
        best = best.min(start.elapsed().as_nanos() as f64 / n as f64);
    }
    best
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = Duration::from_millis(if quick { 150 } else { 1000 });
    for setup in matrix() {
        for size in SIZES {
            let mut w = Workload::new(setup, size);
            let seal = time(budget, || w.raw_seal());
            let encap = time(budget, || {
                black_box(w.encap());
            });
            let both = time(budget, || {
                black_box(w.encap_decap());
            });
            // Decap cannot repeat one packet (replay window): take it as the difference.
            let decap = (both - encap).max(1.0);
            let gbps = |ns: f64| size as f64 / ns;
            let ratio = gbps(encap).min(gbps(decap)) / gbps(seal);
            println!(
                "esp {} {size}B encap {:.2} GB/s decap {:.2} GB/s raw-seal {:.2} GB/s ratio {:.2}",
                setup.label,
                gbps(encap),
                gbps(decap),
                gbps(seal),
                ratio
            );
        }
    }
}
