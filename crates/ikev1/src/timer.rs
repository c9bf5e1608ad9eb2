//! The deadlines of an ISAKMP SA in one table: `poll_timeout` asks it for the earliest,
//! `handle_timeout` for the ones due, so a deadline is added in one place.

use std::time::Instant;

/// One deadline of an ISAKMP SA, in the order `handle_timeout` acts on them (the ones that
/// may close the SA first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The message we sent last in phase 1 is resent, or the peer declared unreachable.
    Retransmit,
    /// A responder's phase 1 was not completed in time.
    HalfOpen,
    /// The ISAKMP SA's lifetime ends.
    Phase1Expire,
    /// A NAT-T keepalive is due (RFC 3948 §2.3).
    Keepalive,
}

impl Timer {
    const ALL: [Timer; 4] =
        [Timer::Retransmit, Timer::HalfOpen, Timer::Phase1Expire, Timer::Keepalive];
}

/// When each [`Timer`] fires, if armed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TimerTable {
    at: [Option<Instant>; Timer::ALL.len()],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.at[timer as usize] = Some(at);
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.at[timer as usize]
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.at[timer as usize] = None;
    }

    pub(crate) fn stop_all(&mut self) {
        self.at = Default::default();
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// The timers due at `now`, in [`Timer`] order, as a snapshot (handlers may re-arm).
    pub(crate) fn expired(&self, now: Instant) -> impl Iterator<Item = Timer> + use<> {
        let due = *self;
        Timer::ALL.into_iter().filter(move |t| due.get(*t).is_some_and(|at| now >= at))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_earliest_deadline_is_next_and_due_ones_come_in_table_order() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut table = TimerTable::default();
        assert_eq!(table.next(), None);
        table.set(Timer::Keepalive, t0 + s(5));
        table.set(Timer::Retransmit, t0 + s(7));
        table.set(Timer::Phase1Expire, t0 + s(20));
        assert_eq!(table.next(), Some(t0 + s(5)));
        let due: Vec<_> = table.expired(t0 + s(7)).collect();
        assert_eq!(due, [Timer::Retransmit, Timer::Keepalive]);
        table.stop(Timer::Keepalive);
        assert_eq!(table.get(Timer::Keepalive), None);
        assert_eq!(table.next(), Some(t0 + s(7)));
        table.stop_all();
        assert_eq!(table.next(), None);
    }
}
