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
