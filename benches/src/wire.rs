//! `cargo xtask bench responder`: a load generator that measures an IKEv2 responder on the
//! wire, whoever wrote it (ours or strongSwan's charon). Many sans-IO initiators share a few UDP
//! sockets in one thread ([`clients`]); a second thread sends spoofed IKE_SA_INIT requests from
//! a raw socket ([`flood`]); the responder's memory and CPU come from `/proc` ([`process`]).

pub mod clients;
pub mod flood;
pub mod key_pool;
pub mod process;

use std::time::Duration;

/// The `q`-quantile of `samples` (sorted here), nearest rank; zero when there are none.
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = (q * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// Milliseconds with two decimals, for printing.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut v: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(quantile(&mut v, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&mut v, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&mut v, 1.0), Duration::from_millis(100));
        assert_eq!(quantile(&mut [], 0.5), Duration::ZERO);
        assert_eq!(quantile(&mut [Duration::from_millis(7)], 0.99), Duration::from_millis(7));
        assert_eq!(ms(Duration::from_micros(1234)), "1.23");
    }
}
