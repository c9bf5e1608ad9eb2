//! What one datagram costs a responder as its number of established IKE SAs grows (1k, 10k,
//! 100k): a liveness check to one SA and its response, and a datagram for an unknown SPI,
//! each with the responder's `handle_timeout` and `poll_*` drained (issue 9 finding 10).
//! Run with `--features insecure-kex`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ikeway_benches::responder::Population;

fn per_datagram(c: &mut Criterion) {
    let mut g = c.benchmark_group("responder");
    for n in [1_000, 10_000, 100_000] {
        let mut p = Population::build(n);
        g.bench_with_input(BenchmarkId::new("dpd_round", n), &n, |b, _| b.iter(|| p.dpd_round()));
        g.bench_with_input(BenchmarkId::new("unknown_spi", n), &n, |b, _| {
            b.iter(|| p.unknown_spi())
        });
    }
    g.finish();
}

criterion_group!(benches, per_datagram);
criterion_main!(benches);
