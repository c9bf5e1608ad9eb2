//! Thread CPU time (`CLOCK_THREAD_CPUTIME_ID`) for the quick measurements: on a shared machine
//! other processes stretch wall time (criterion's figures, a median of wall-clock batches) but
//! not the CPU time this thread spends, so CPU time is what the targets are checked against.

use std::time::Duration;

use rustix::time::{ClockId, clock_gettime};

/// The CPU time this thread has used so far.
pub fn thread_cpu() -> Duration {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Median CPU time per call of 7 batches of at least 0.2 s each, after a warm-up batch.
pub fn per_op(mut f: impl FnMut()) -> Duration {
    let mut batch = || {
        let start = thread_cpu();
        let mut n = 0u32;
        while thread_cpu() - start < Duration::from_millis(200) {
            f();
            n += 1;
        }
        (thread_cpu() - start) / n
    };
    batch();
    let mut samples: Vec<Duration> = (0..7).map(|_| batch()).collect();
    samples.sort();
    samples[samples.len() / 2]
}

/// Microseconds, for printing.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Two workloads timed in alternation, round by round: see [`interleaved`].
#[derive(Debug, Clone)]
pub struct Interleaved {
    /// CPU time per call of the first workload, one entry per round.
    pub first: Vec<Duration>,
    /// CPU time per call of the second workload, one entry per round.
    pub second: Vec<Duration>,
    /// `first / second` of each round.
    pub ratios: Vec<f64>,
}

/// Times `first` and `second` in `rounds` rounds, each round one batch of each back to back
/// (which of the two goes first alternates from round to round), and returns each round's CPU
/// time per call and their ratio.
///
/// On a shared virtual machine the speed of the CPU drifts by tens of percent over seconds
/// (steal, frequency, a neighbour's cache); two medians taken seconds apart carry that drift
/// into their ratio, while the two batches of one round see nearly the same machine, so the
/// per-round ratio cancels it. Each workload's batch is a fixed count of calls, sized in the
/// warm-up to take about `batch` of CPU time, so a batch reads the clock twice and not once
/// per call.
pub fn interleaved(
    rounds: usize,
    batch: Duration,
    mut first: impl FnMut(),
    mut second: impl FnMut(),
) -> Interleaved {
    let calls_first = calls_per_batch(&mut first, batch);
    let calls_second = calls_per_batch(&mut second, batch);
    let mut out = Interleaved {
        first: Vec::with_capacity(rounds),
        second: Vec::with_capacity(rounds),
        ratios: Vec::with_capacity(rounds),
    };
    for round in 0..rounds {
        let (a, b) = if round % 2 == 0 {
            let a = timed(&mut first, calls_first);
            (a, timed(&mut second, calls_second))
        } else {
            let b = timed(&mut second, calls_second);
            (timed(&mut first, calls_first), b)
        };
        out.first.push(a);
        out.second.push(b);
        out.ratios.push(a.as_secs_f64() / b.as_secs_f64());
    }
    out
}

/// Runs `f` for about `batch` of CPU time (the warm-up) and returns how many calls that took.
fn calls_per_batch(f: &mut impl FnMut(), batch: Duration) -> u32 {
    let start = thread_cpu();
    let mut n = 0u32;
    while thread_cpu() - start < batch {
        f();
        n += 1;
    }
    n
}

/// CPU time per call of `calls` calls of `f`.
fn timed(f: &mut impl FnMut(), calls: u32) -> Duration {
    let start = thread_cpu();
    for _ in 0..calls {
        f();
    }
    (thread_cpu() - start) / calls
}

/// The smallest, the quartiles and the largest of some samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread<T> {
    pub min: T,
    pub q1: T,
    pub median: T,
    pub q3: T,
    pub max: T,
}

impl<T: Copy + PartialOrd> Spread<T> {
    /// Quartiles by nearest rank, rounding the rank down (for 41 samples: the 1st, 11th, 21st,
    /// 31st and 41st smallest); `None` without samples.
    pub fn of(samples: &[T]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        let last = sorted.len().checked_sub(1)?;
        let at = |quarter: usize| sorted[last * quarter / 4];
        Some(Self { min: at(0), q1: at(1), median: at(2), q3: at(3), max: at(4) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_of_odd_count_picks_ranks() {
        let samples: Vec<u32> = (1..=41).rev().collect();
        let s = Spread::of(&samples).expect("samples");
        assert_eq!(s, Spread { min: 1, q1: 11, median: 21, q3: 31, max: 41 });
    }

    #[test]
    fn spread_of_one_and_none() {
        assert_eq!(Spread::of(&[7]), Some(Spread { min: 7, q1: 7, median: 7, q3: 7, max: 7 }));
        assert_eq!(Spread::<u32>::of(&[]), None);
    }

    #[test]
    fn interleaved_counts_rounds_and_divides() {
        // Each call reads the clock, so no call takes zero time and no ratio divides by zero.
        let (mut a, mut b) = (0u32, 0u32);
        let r = interleaved(
            5,
            Duration::from_millis(2),
            || a += u32::from(thread_cpu() > Duration::ZERO),
            || b += u32::from(thread_cpu() > Duration::ZERO),
        );
        assert_eq!((r.first.len(), r.second.len(), r.ratios.len()), (5, 5, 5));
        for i in 0..5 {
            let want = r.first[i].as_secs_f64() / r.second[i].as_secs_f64();
            assert_eq!(r.ratios[i], want);
        }
        assert!(a > 0 && b > 0);
    }
}
