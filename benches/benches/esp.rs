//! ESP encapsulation and decapsulation next to the raw AEAD of the same backend, for 64, 512,
//! 1400 and 8000-byte inner packets. Throughput is in inner-packet bytes.
//!
//! Decapsulation cannot be repeated on one packet (the replay window refuses it), so it is
//! measured as `encap+decap`, next to the raw `seal+open` baseline.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ikeway_benches::{SIZES, Workload, matrix};

fn esp(c: &mut Criterion) {
    for setup in matrix() {
        let mut group = c.benchmark_group(format!("esp/{}", setup.label));
        for size in SIZES {
            group.throughput(Throughput::Bytes(size as u64));
            let mut w = Workload::new(setup, size);
            group.bench_function(format!("raw_seal/{size}"), |b| b.iter(|| w.raw_seal()));
            group.bench_function(format!("encap/{size}"), |b| b.iter(|| black_box(w.encap())));
            group.bench_function(format!("raw_seal_open/{size}"), |b| b.iter(|| w.raw_seal_open()));
            group.bench_function(format!("encap_decap/{size}"), |b| {
                b.iter(|| black_box(w.encap_decap()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, esp);
criterion_main!(benches);
