//! The MODP exponentiation's time depends on the exponent's length, never on its value.

use ikeway_crypto::{KexBackend, KexGroup, KeyExchange};

/// CPU time this thread has used, in clock ticks (`/proc/thread-self/stat`, utime + stime):
/// unlike wall time it does not grow while other processes hold the CPU.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("Linux /proc");
    let after_name = &stat[stat.rfind(')').expect("stat has a (comm) field") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of proc(5), counted from the state (field 3) here.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// CPU ticks spent on `runs` key generations from `exponent`.
fn keygen_ticks(exponent: &[u8], runs: usize) -> u64 {
    let start = cpu_ticks();
    for _ in 0..runs {
        let k = KeyExchange::from_private_bytes(KexGroup::Modp2048, KexBackend::AwsLc, exponent)
            .expect("a valid exponent");
        std::hint::black_box(k.public_value());
    }
    cpu_ticks() - start
}

/// Issue 9 finding 14: MODP used `num-bigint`'s `modpow`, whose time follows the exponent's
/// significant bits: a 32-byte exponent whose value is 2 cost almost nothing next to one with
/// every bit set (a timing side channel on the private exponent). Now the exponentiation runs
/// one fixed sequence for any 32-byte exponent: equal CPU time within noise (a generous 2x
/// band: the old code was off by far more).
#[test]
fn modp_keygen_time_does_not_depend_on_the_exponent_value() {
    let mut two = [0u8; 32];
    two[31] = 2;
    let dense = [0xffu8; 32];
    let mut sparse = [0u8; 32];
    sparse[0] = 0x80;
    sparse[31] = 1;
    keygen_ticks(&dense, 2);
    // As many runs as make some 50 ticks (0.5 s at 100 Hz) for the all-ones exponent.
    let mut runs = 2;
    let mut dense_ticks = keygen_ticks(&dense, runs);
    while dense_ticks < 50 && runs < 4096 {
        runs *= 2;
        dense_ticks = keygen_ticks(&dense, runs);
    }
    for (name, exponent) in [("2", &two), ("2^255 + 1", &sparse)] {
        let ticks = keygen_ticks(exponent, runs);
        let ratio = ticks as f64 / dense_ticks as f64;
        assert!(
            (0.5..2.0).contains(&ratio),
            "exponent {name}: {ticks} ticks vs {dense_ticks} for all ones (ratio {ratio:.2})"
        );
    }
}
