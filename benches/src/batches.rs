//! Timing of one cheap call without criterion, for the `--bin` benches that print a line: the
//! call is timed in 31 batches of about 3 ms each (sized from a first 100 calls), and the
//! fastest and the median batch give the cost per call. The fastest is the one least disturbed
//! by the rest of the machine; the median says how disturbed it was.

use std::time::{Duration, Instant};

const BATCHES: usize = 31;
const BATCH: Duration = Duration::from_millis(3);

/// The cost of one `f()`: (fastest, median) of the batches, in nanoseconds.
pub fn per_call(mut f: impl FnMut()) -> (u128, u128) {
    let start = Instant::now();
    for _ in 0..100 {
        f();
    }
    let one = start.elapsed() / 100;
    let len = u32::try_from(BATCH.as_nanos() / one.as_nanos().max(1)).unwrap_or(u32::MAX).max(1);
    let mut samples: Vec<Duration> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..len {
                f();
            }
            start.elapsed() / len
        })
        .collect();
    samples.sort();
    (samples[0].as_nanos(), samples[BATCHES / 2].as_nanos())
}
