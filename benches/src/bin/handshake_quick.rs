//! `cargo xtask bench handshake`: complete in-process handshakes (PSK, a CFG_REQUEST, the first
//! child SA), two lines per group, each with the key exchanges alone beside it:
//!
//! `handshake <group> cpu X us, kex floor Y us, ratio R (both sides); wall median W us`
//! `handshake <group> ratio per round: min A, q1 B, median R, q3 C, max D (N rounds, M ms each side)`
//!
//! Arguments name the rows to run (`x25519`, `ecp256`, `modp2048`, `x25519+mlkem768`,
//! `rekey_child`); none runs them all.
//!
//! With `--features count-allocations` the first line of each row also ends with the heap
//! allocations per handshake (both sides and the bench's own, counted over 100 handshakes after
//! the timed runs), a figure the machine's load does not change.
//!
//! CPU time is the thread's (`CLOCK_THREAD_CPUTIME_ID`), which other processes on a shared
//! machine do not stretch; the wall-clock median is printed too, and is only meaningful on an
//! idle machine. The floor is the same groups' key exchanges on the same provider and backend
//! (the first speaker's start, the answer, the first speaker's completion, per group), so the
//! ratio is what the rest of the handshake costs on top of the mathematics.
//!
//! The handshakes and the floor are timed interleaved ([`interleaved`]): in each of `N` rounds a
//! batch of handshakes and a batch of key exchanges run back to back, which one first
//! alternating, and the round's ratio is taken between the two. The speed of a shared virtual
//! CPU drifts by tens of percent between seconds, which a ratio of two separately taken medians
//! carries whole; within a round it nearly cancels. `cpu` and `kex floor` are the medians of the
//! rounds' figures, `ratio` (on both lines) the median of the rounds' ratios.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use ikeway_benches::cpu_time::{Spread, interleaved, per_op, us};
use ikeway_benches::handshake::InProcess;
use ikeway_codec::DhGroup;
use ikeway_sa::{DefaultKex, KeyExchangeProvider, Random};

/// Deterministic bytes for the key-exchange floor (the handshake seeds its own generators).
struct Counter(u8);

impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_mul(167).wrapping_add(13);
            *b = self.0;
        }
    }
}

/// Median wall time per call of 15 batches of 20, after a warm-up of 20.
fn wall(mut f: impl FnMut(u64)) -> Duration {
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

/// Rounds of the interleaved measurement: enough that the quartiles of the ratio mean something.
const ROUNDS: usize = 41;

/// CPU time of one batch, each side, in a round: long enough that a timer tick or a
/// preemption is a small part of it, short enough that the machine's speed holds within the
/// round. Four rows take 4 x 41 x 2 x 75 ms = 25 s.
const BATCH: Duration = Duration::from_millis(75);

/// Both sides' key exchanges for these groups, nothing else.
fn kex_once(kex: &DefaultKex, groups: &[DhGroup], rng: &mut Counter) {
    for &group in groups {
        let first = kex.start(group, rng).expect("start");
        let (answer, _) = kex.respond(group, first.public_value(), rng).expect("respond");
        black_box(first.complete(&answer).expect("complete"));
    }
}

fn main() {
    let rows: [(&str, DhGroup, &[DhGroup]); 4] = [
        ("x25519", DhGroup::CURVE25519, &[]),
        ("ecp256", DhGroup::ECP_256, &[]),
        ("modp2048", DhGroup::MODP_2048, &[]),
        // RFC 9370 hybrid: X25519 in IKE_SA_INIT, then ML-KEM-768 in one IKE_INTERMEDIATE.
        ("x25519+mlkem768", DhGroup::CURVE25519, &[DhGroup::ML_KEM_768]),
    ];
    // Rows named on the command line only (all without), e.g. `handshake-quick x25519` for a
    // profile of one workload.
    let only: Vec<String> = std::env::args().skip(1).collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    for (name, group, additional) in rows.into_iter().filter(|r| wanted(r.0)) {
        let groups: Vec<DhGroup> =
            std::iter::once(group).chain(additional.iter().copied()).collect();
        let kex = DefaultKex::default();
        let mut rng = Counter(1);
        let mut seed = 0;
        let rounds = interleaved(
            ROUNDS,
            BATCH,
            || {
                seed += 1;
                black_box(InProcess::handshake_hybrid(group, additional, seed));
            },
            || kex_once(&kex, &groups, &mut rng),
        );
        let median = |samples: &[Duration]| Spread::of(samples).expect("rounds").median;
        let (cpu, floor) = (median(&rounds.first), median(&rounds.second));
        let ratio = Spread::of(&rounds.ratios).expect("rounds");
        let wall_median = wall(|seed| {
            black_box(InProcess::handshake_hybrid(group, additional, seed));
        });
        print!(
            "handshake {name} cpu {:.1} us, kex floor {:.1} us, ratio {:.2} (both sides); wall median {:.1} us",
            us(cpu),
            us(floor),
            ratio.median,
            us(wall_median)
        );
        #[cfg(feature = "count-allocations")]
        {
            let info = allocation_counter::measure(|| {
                for seed in 0..100 {
                    black_box(InProcess::handshake_hybrid(group, additional, 5000 + seed));
                }
            });
            print!(
                "; {:.1} allocations ({:.0} bytes) per handshake",
                info.count_total as f64 / 100.0,
                info.bytes_total as f64 / 100.0
            );
        }
        println!();
        println!(
            "handshake {name} ratio per round: min {:.2}, q1 {:.2}, median {:.2}, q3 {:.2}, max {:.2} ({ROUNDS} rounds, {} ms each side)",
            ratio.min,
            ratio.q1,
            ratio.median,
            ratio.q3,
            ratio.max,
            BATCH.as_millis()
        );
    }
    if !wanted("rekey_child") {
        return;
    }
    let mut pair = InProcess::handshake(DhGroup::CURVE25519, 7);
    let cpu = per_op(|| pair.rekey_child());
    println!("rekey_child x25519 cpu {:.1} us (both sides)", us(cpu));
}
