//! Complete in-process IKE handshakes (IKE_SA_INIT + IKE_AUTH with PSK and CP, both sides'
//! CPU) per key-exchange group, and a CREATE_CHILD_SA rekey.

use criterion::{Criterion, criterion_group, criterion_main};
use ikeway_benches::handshake::InProcess;
use ikeway_codec::DhGroup;

fn handshakes(c: &mut Criterion) {
    let mut g = c.benchmark_group("handshake");
    for (name, group) in [
        ("x25519", DhGroup::CURVE25519),
        ("ecp256", DhGroup::ECP_256),
        ("modp2048", DhGroup::MODP_2048),
    ] {
        let mut seed = 0u64;
        g.bench_function(name, |b| {
            b.iter(|| {
                seed += 1;
                InProcess::handshake(group, seed)
            })
        });
    }
    let mut seed = 0u64;
    g.bench_function("x25519_mlkem768", |b| {
        b.iter(|| {
            seed += 1;
            InProcess::handshake_hybrid(DhGroup::CURVE25519, &[DhGroup::ML_KEM_768], seed)
        })
    });
    let mut pair = InProcess::handshake(DhGroup::CURVE25519, 1);
    g.bench_function("rekey_child", |b| b.iter(|| pair.rekey_child()));
    g.finish();
}

criterion_group!(benches, handshakes);
criterion_main!(benches);
