//! Reference-model property test of the replay window: random sequence streams, window sizes
//! 64..=4096, ESN wrap-around. The model sees full 64-bit numbers; the window sees only the low
//! 32 bits, as on the wire, and an ICV check (simulated: it passes only if the inferred number
//! is the one sent) stands between `check` and `commit`.

use std::collections::BTreeSet;

use ikeway_esp::replay::ReplayWindow;
use proptest::prelude::*;

struct Model {
    size: u64,
    top: u64,
    seen: BTreeSet<u64>,
}

impl Model {
    fn accepts(&self, seq: u64) -> bool {
        seq != 0 && (seq > self.top || (self.top - seq < self.size && !self.seen.contains(&seq)))
    }

    fn commit(&mut self, seq: u64) {
        self.top = self.top.max(seq);
        self.seen.insert(seq);
    }
}

/// A step relative to the highest number sent so far: mostly forward, sometimes back (late or
/// replayed packets), sometimes a jump.
fn steps() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(
        prop_oneof![
            6 => 1i64..4,
            3 => -5000i64..1,
            1 => 4i64..100_000,
        ],
        1..400,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn window_matches_model(
        words in 1u32..=64,
        esn in any::<bool>(),
        start_below_wrap in prop::option::of(0u64..50_000),
        steps in steps(),
    ) {
        let size = words * 64;
        let mut window = ReplayWindow::new(size, esn).unwrap();
        let mut model = Model { size: u64::from(size), top: 0, seen: BTreeSet::new() };
        let limit = if esn { u64::MAX } else { u64::from(u32::MAX) };
        // With ESN, start just below a 2^32 boundary so streams cross it.
        let mut sent = match (esn, start_below_wrap) {
            (true, Some(d)) => (3u64 << 32) - d,
            (false, Some(d)) => u64::from(u32::MAX) - d,
            _ => 0,
        };
        if sent > 0 {
            window.restore(sent);
            model.top = sent;
            model.seen.extend(sent.saturating_sub(model.size - 1)..=sent);
        }
        for step in steps {
            let seq = sent.saturating_add_signed(step).min(limit);
            sent = sent.max(seq);
            let expected = model.accepts(seq);
            let got = match window.check(seq as u32) {
                Ok(inferred) if inferred == seq => {
                    window.commit(inferred);
                    true
                }
                // The ICV, computed over the inferred high half, fails: a drop.
                Ok(_) | Err(_) => false,
            };
            prop_assert_eq!(got, expected, "seq {} size {} esn {}", seq, size, esn);
            if expected {
                model.commit(seq);
            }
            prop_assert_eq!(window.top(), model.top);
        }
    }
}
