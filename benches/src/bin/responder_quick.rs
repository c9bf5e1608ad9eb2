//! `cargo xtask bench responder-datagram`: what one datagram costs a responder holding 1k, 10k and
//! 100k established IKE SAs (issue 9 finding 10: flat within 20%). One line per size:
//! `responder <n> SAs: setup S s, dpd round X ns (median M), unknown SPI Y ns (median N)`,
//! then the spread of the fastest batches.
//!
//! All populations are built first, then measured in alternation, batch by batch, so that
//! load from other processes falls on every size alike; the fastest batch is the figure least
//! disturbed by it, the median is printed beside it.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use ikeway_benches::responder::Population;

const BATCHES: usize = 31;
/// Each batch runs about this long.
const BATCH: Duration = Duration::from_millis(3);

/// How many calls of `f` fill a batch.
fn batch_len(f: &mut impl FnMut()) -> u32 {
    let start = Instant::now();
    for _ in 0..10 {
        f();
    }
    let one = start.elapsed() / 10;
    u32::try_from(BATCH.as_nanos() / one.as_nanos().max(1)).unwrap_or(u32::MAX).max(1)
}

fn batch(len: u32, f: &mut impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..len {
        f();
    }
    start.elapsed() / len
}

/// (fastest, median) of the samples, in nanoseconds.
fn summary(samples: &mut [Duration]) -> (u128, u128) {
    samples.sort();
    (samples[0].as_nanos(), samples[samples.len() / 2].as_nanos())
}

fn main() {
    let sizes: Vec<usize> =
        std::env::args().skip(1).map(|a| a.parse().expect("sizes are numbers of SAs")).collect();
    let sizes = if sizes.is_empty() { vec![1_000, 10_000, 100_000] } else { sizes };
    let mut populations: Vec<(usize, Duration, Population)> = sizes
        .iter()
        .map(|&n| {
            let start = Instant::now();
            let p = Population::build(n);
            assert_eq!(p.responder.len(), n);
            (n, start.elapsed(), p)
        })
        .collect();
    let lens: Vec<(u32, u32)> = populations
        .iter_mut()
        .map(|(_, _, p)| (batch_len(&mut || p.dpd_round()), batch_len(&mut || p.unknown_spi())))
        .collect();
    let mut samples = vec![(Vec::new(), Vec::new()); populations.len()];
    for _ in 0..BATCHES {
        for (i, (_, _, p)) in populations.iter_mut().enumerate() {
            samples[i].0.push(batch(lens[i].0, &mut || p.dpd_round()));
            samples[i].1.push(batch(lens[i].1, &mut || p.unknown_spi()));
        }
    }
    let mut fastest = (Vec::new(), Vec::new());
    for ((n, setup, _), (dpd, unknown)) in populations.iter().zip(&mut samples) {
        let (d, dm) = summary(dpd);
        let (u, um) = summary(unknown);
        println!(
            "responder {n} SAs: setup {:.1} s, dpd round {d} ns (median {dm}), unknown SPI {u} ns (median {um})",
            setup.as_secs_f64()
        );
        fastest.0.push(d as f64);
        fastest.1.push(u as f64);
    }
    let spread = |v: &[f64]| {
        let (lo, hi) = v.iter().fold((f64::MAX, 0f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
        (hi / lo - 1.0) * 100.0
    };
    println!(
        "spread of the fastest batches (largest over smallest): dpd round {:.0}%, unknown SPI {:.0}% (target: within 20%)",
        spread(&fastest.0),
        spread(&fastest.1)
    );
}
