//! The deadlines an IKE SA keeps, in one table (the shape of quinn-proto's `TimerTable`):
//! `poll_timeout` asks the table for the earliest, `handle_timeout` for the ones due, so a
//! new timer is added in one place and cannot be forgotten in the other.
//!
//! Deadlines that follow from other state stay outside the table: DPD (the last message
//! heard plus the interval, while idle), the child SAs' rekey and expiry (one pair per
//! child) and fragment reassembly (the reassembler's own).

use std::time::Instant;

/// One deadline of an IKE SA. The order is the order [`TimerTable::expired`] reports them
/// in, which is the order `handle_timeout` acts: the ones that may close the SA first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// Our outstanding request is resent, or the peer is declared unreachable (§2.1).
    Retransmit,
    /// A responder's half-open SA was never authenticated.
    HalfOpen,
    /// The IKE SA's hard lifetime ends.
    IkeExpire,
    /// The keys of the IKE SA a rekey replaced are no longer needed for its DELETE.
    OldSa,
    /// A responder's CREATE_CHILD_SA waited too long for its next IKE_FOLLOWUP_KE (RFC 9370).
    Followup,
    /// Our last response can no longer be asked for again: the cached copy goes.
    ResponseCache,
    /// A NAT keepalive is due (RFC 3948 §2.3).
    Keepalive,
    /// The IKE SA's soft lifetime ends: rekey it (§2.8).
    IkeRekey,
}

impl Timer {
    const ALL: [Timer; 8] = [
        Timer::Retransmit,
        Timer::HalfOpen,
        Timer::IkeExpire,
        Timer::OldSa,
        Timer::Followup,
        Timer::ResponseCache,
        Timer::Keepalive,
        Timer::IkeRekey,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// When each [`Timer`] fires, if it is armed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct TimerTable {
    at: [Option<Instant>; Timer::ALL.len()],
}

impl TimerTable {
    /// Arms `timer` for `at`, replacing any earlier setting.
    pub(super) fn set(&mut self, timer: Timer, at: Instant) {
        self.at[timer.index()] = Some(at);
    }

    pub(super) fn get(&self, timer: Timer) -> Option<Instant> {
        self.at[timer.index()]
    }

    pub(super) fn stop(&mut self, timer: Timer) {
        self.at[timer.index()] = None;
    }

    pub(super) fn stop_all(&mut self) {
        self.at = [None; Timer::ALL.len()];
    }

    pub(super) fn is_expired(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|t| now >= t)
    }

    /// The earliest armed deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// The timers due at `now`, in [`Timer`] order. A snapshot: the table may be changed while
    /// it is walked (a handler re-arming its timer is not reported again).
    pub(super) fn expired(&self, now: Instant) -> impl Iterator<Item = Timer> + use<> {
        let due = *self;
        Timer::ALL.into_iter().filter(move |t| due.is_expired(*t, now))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(base: Instant, secs: u64) -> Instant {
        base + Duration::from_secs(secs)
    }

    #[test]
    fn an_empty_table_has_no_deadline_and_nothing_due() {
        let table = TimerTable::default();
        let now = Instant::now();
        assert_eq!(table.next(), None);
        assert_eq!(table.expired(at(now, 1_000_000)).count(), 0);
    }

    #[test]
    fn next_is_the_earliest_armed_timer() {
        let now = Instant::now();
        let mut table = TimerTable::default();
        table.set(Timer::IkeRekey, at(now, 30));
        table.set(Timer::Keepalive, at(now, 20));
        table.set(Timer::OldSa, at(now, 25));
        assert_eq!(table.next(), Some(at(now, 20)));
        table.stop(Timer::Keepalive);
        assert_eq!(table.next(), Some(at(now, 25)));
        assert_eq!(table.get(Timer::Keepalive), None);
    }

    #[test]
    fn set_replaces_an_earlier_setting() {
        let now = Instant::now();
        let mut table = TimerTable::default();
        table.set(Timer::Retransmit, at(now, 1));
        table.set(Timer::Retransmit, at(now, 9));
        assert_eq!(table.get(Timer::Retransmit), Some(at(now, 9)));
        assert_eq!(table.next(), Some(at(now, 9)));
    }

    #[test]
    fn expired_lists_what_is_due_in_table_order_whatever_the_deadlines() {
        let now = Instant::now();
        let mut table = TimerTable::default();
        // Armed out of order, due at different past instants; one not yet due.
        table.set(Timer::IkeRekey, at(now, 1));
        table.set(Timer::Keepalive, at(now, 5));
        table.set(Timer::Retransmit, at(now, 3));
        table.set(Timer::HalfOpen, at(now, 11));
        let due: Vec<Timer> = table.expired(at(now, 10)).collect();
        assert_eq!(due, [Timer::Retransmit, Timer::Keepalive, Timer::IkeRekey]);
        // A deadline equal to now is due.
        assert_eq!(table.expired(at(now, 11)).count(), 4);
        assert!(table.is_expired(Timer::HalfOpen, at(now, 11)));
        assert!(!table.is_expired(Timer::HalfOpen, at(now, 10)));
        assert!(!table.is_expired(Timer::OldSa, at(now, 100)), "unarmed is never due");
    }

    #[test]
    fn expired_is_a_snapshot_so_re_arming_while_walking_is_safe() {
        let now = Instant::now();
        let mut table = TimerTable::default();
        table.set(Timer::Retransmit, at(now, 1));
        table.set(Timer::Keepalive, at(now, 1));
        let mut seen = Vec::new();
        for timer in table.expired(at(now, 2)) {
            seen.push(timer);
            table.set(timer, at(now, 60));
            table.stop(Timer::Keepalive);
        }
        assert_eq!(seen, [Timer::Retransmit, Timer::Keepalive]);
        assert_eq!(table.next(), Some(at(now, 60)));
    }

    #[test]
    fn stop_all_disarms_everything() {
        let now = Instant::now();
        let mut table = TimerTable::default();
        for (i, timer) in Timer::ALL.into_iter().enumerate() {
            table.set(timer, at(now, i as u64));
        }
        assert_eq!(table.expired(at(now, 100)).count(), Timer::ALL.len());
        table.stop_all();
        assert_eq!(table.next(), None);
    }
}
