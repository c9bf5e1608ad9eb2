//! Joining the pieces of a message sent with IKEv1 fragmentation (the "FRAGMENTATION" vendor
//! ID, payload 132: [`FragmentRepr`]). Certificates make Main Mode messages 5 and 6 (and
//! Aggressive Mode 2 and 3) larger than many paths carry in one UDP datagram, and IP fragments
//! are what such paths drop.
//!
//! [`Reassembly`] holds the pieces of one message within [`FragmentLimits`]; anything that
//! breaks them ends the reassembly and leaves nothing behind, and each outcome is counted in
//! [`FragmentStats`]. What it joins is bytes that claim to be an ISAKMP message, for the caller
//! to check like any datagram. No clock is read: the caller passes `now`. The sending side is
//! [`split_message`](crate::split_message).

use std::time::{Duration, Instant};

use crate::payload::FragmentRepr;

/// How much of a fragmented message we hold before giving up on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentLimits {
    /// Highest fragment number taken (a message in more pieces is refused).
    pub max_fragments: u8,
    /// Most octets of fragment data held for one message.
    pub max_len: usize,
    /// A message not complete this long after its first fragment is dropped.
    pub timeout: Duration,
}

impl Default for FragmentLimits {
    /// 32 fragments, 32 KiB, 30 s: a Main Mode message with a chain of three RSA-8192
    /// certificates is about 8 KiB, and a peer's retransmission (strongSwan resends after 4 s)
    /// starts over well within the time.
    fn default() -> Self {
        Self { max_fragments: 32, max_len: 32 * 1024, timeout: Duration::from_secs(30) }
    }
}

/// What became of fragments received, by reason; every dropped reassembly is counted once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragmentStats {
    /// Fragments taken into a reassembly.
    pub received: u64,
    /// Messages joined from their fragments (then checked like any other message).
    pub reassembled: u64,
    /// A fragment received again with the same data: ignored, the reassembly goes on.
    pub duplicates: u64,
    /// A fragment number received again with other data: the reassembly is dropped (we cannot
    /// tell which copy is the peer's).
    pub conflicting: u64,
    /// A fragment numbered above [`FragmentLimits::max_fragments`]: dropped with its reassembly.
    pub too_many: u64,
    /// More data than [`FragmentLimits::max_len`]: the reassembly is dropped.
    pub too_large: u64,
    /// Two different last fragments, or a fragment numbered after the last: dropped.
    pub inconsistent: u64,
    /// A fragment of another fragment ID arrived: the unfinished reassembly is dropped for the
    /// newer message (strongSwan does the same; a peer that resends with a new ID gave up on
    /// the old one).
    pub superseded: u64,
    /// Not complete within [`FragmentLimits::timeout`]: dropped.
    pub timed_out: u64,
    /// Fragments where they do not belong (with other payloads, before the exchange started,
    /// while fragmentation is off, or inside a joined message): dropped.
    pub unexpected: u64,
    /// A joined message that is no ISAKMP message, or not one of this SA: dropped.
    pub not_a_message: u64,
}

/// What taking one fragment led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken {
    /// More pieces are missing (or this one was a duplicate).
    Incomplete,
    /// The whole message, in order; the reassembly is gone.
    Complete(Vec<u8>),
    /// The reassembly was dropped (counted).
    Dropped,
}

/// The pieces of one message being joined.
#[derive(Debug)]
struct Partial {
    id: u16,
    started: Instant,
    /// Index `n - 1` holds fragment `n`.
    pieces: Vec<Option<Vec<u8>>>,
    /// The number of the fragment flagged last, once seen.
    last: Option<u8>,
    len: usize,
}

/// The pieces of one message at a time (a peer sends one phase 1 message at a time).
#[derive(Debug, Default)]
pub struct Reassembly {
    partial: Option<Partial>,
}

impl Reassembly {
    /// When the unfinished reassembly expires, if there is one.
    pub fn deadline(&self, limits: &FragmentLimits) -> Option<Instant> {
        self.partial.as_ref().map(|p| p.started + limits.timeout)
    }

    /// Drops an unfinished reassembly whose time is up.
    pub fn expire(&mut self, now: Instant, limits: &FragmentLimits, stats: &mut FragmentStats) {
        if self.deadline(limits).is_some_and(|at| now >= at) {
            self.partial = None;
            stats.timed_out += 1;
        }
    }

    /// Forgets everything (the SA closed).
    pub fn clear(&mut self) {
        self.partial = None;
    }

    /// Takes one fragment.
    pub fn take(
        &mut self,
        now: Instant,
        fragment: &FragmentRepr,
        limits: &FragmentLimits,
        stats: &mut FragmentStats,
    ) -> Taken {
        self.expire(now, limits, stats);
        if fragment.number > limits.max_fragments {
            return self.drop_with(&mut stats.too_many);
        }
        // The decoder refuses fragment number 0, but a `FragmentRepr` can be built by hand.
        let Some(index) = usize::from(fragment.number).checked_sub(1) else {
            return self.drop_with(&mut stats.inconsistent);
        };
        if self.partial.as_ref().is_some_and(|p| p.id != fragment.id) {
            self.partial = None;
            stats.superseded += 1;
        }
        stats.received += 1;
        let partial = self.partial.get_or_insert_with(|| Partial {
            id: fragment.id,
            started: now,
            pieces: Vec::new(),
            last: None,
            len: 0,
        });
        if let Some(Some(held)) = partial.pieces.get(index) {
            if *held == fragment.data {
                stats.duplicates += 1;
                return Taken::Incomplete;
            }
            return self.drop_with(&mut stats.conflicting);
        }
        let last = if fragment.is_last() { Some(fragment.number) } else { partial.last };
        let beyond_last =
            last.is_some_and(|l| fragment.number > l || partial.pieces.len() > usize::from(l));
        if (fragment.is_last() && partial.last.is_some_and(|l| l != fragment.number)) || beyond_last
        {
            return self.drop_with(&mut stats.inconsistent);
        }
        if partial.len + fragment.data.len() > limits.max_len {
            return self.drop_with(&mut stats.too_large);
        }
        partial.last = last;
        partial.len += fragment.data.len();
        if partial.pieces.len() <= index {
            partial.pieces.resize(index + 1, None);
        }
        partial.pieces[index] = Some(fragment.data.clone());
        let complete = partial.last.is_some_and(|l| {
            partial.pieces.len() == usize::from(l) && partial.pieces.iter().all(Option::is_some)
        });
        if !complete {
            return Taken::Incomplete;
        }
        let done = self.partial.take().map(|p| p.pieces).unwrap_or_default();
        stats.reassembled += 1;
        Taken::Complete(done.into_iter().flatten().flatten().collect())
    }

    fn drop_with(&mut self, counter: &mut u64) -> Taken {
        self.partial = None;
        *counter += 1;
        Taken::Dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(id: u16, number: u8, last: bool, data: &[u8]) -> FragmentRepr {
        let flags = if last { crate::LAST_FRAGMENT } else { 0 };
        FragmentRepr { id, number, flags, data: data.to_vec() }
    }

    struct Bed {
        r: Reassembly,
        limits: FragmentLimits,
        stats: FragmentStats,
        t0: Instant,
    }

    impl Bed {
        fn new() -> Self {
            Self {
                r: Reassembly::default(),
                limits: FragmentLimits::default(),
                stats: FragmentStats::default(),
                t0: Instant::now(),
            }
        }

        fn take_at(&mut self, secs: u64, f: FragmentRepr) -> Taken {
            self.r.take(self.t0 + Duration::from_secs(secs), &f, &self.limits, &mut self.stats)
        }

        fn take(&mut self, f: FragmentRepr) -> Taken {
            self.take_at(0, f)
        }

        fn is_empty(&self) -> bool {
            self.r.partial.is_none() && self.r.deadline(&self.limits).is_none()
        }
    }

    #[test]
    fn pieces_in_any_order_join_in_number_order() {
        let mut b = Bed::new();
        assert_eq!(b.take(frag(1, 3, true, b"ef")), Taken::Incomplete);
        assert_eq!(b.take(frag(1, 1, false, b"ab")), Taken::Incomplete);
        assert_eq!(b.r.deadline(&b.limits), Some(b.t0 + Duration::from_secs(30)));
        assert_eq!(b.take(frag(1, 2, false, b"cd")), Taken::Complete(b"abcdef".to_vec()));
        assert!(b.is_empty());
        assert_eq!(b.stats, FragmentStats { received: 3, reassembled: 1, ..Default::default() });
        // A one-piece message is complete at once.
        assert_eq!(b.take(frag(2, 1, true, b"x")), Taken::Complete(b"x".to_vec()));
    }

    #[test]
    fn an_identical_duplicate_is_ignored_and_a_different_one_ends_the_reassembly() {
        let mut b = Bed::new();
        assert_eq!(b.take(frag(1, 1, false, b"ab")), Taken::Incomplete);
        assert_eq!(b.take(frag(1, 1, false, b"ab")), Taken::Incomplete);
        assert_eq!(b.stats.duplicates, 1);
        assert_eq!(b.take(frag(1, 2, true, b"cd")), Taken::Complete(b"abcd".to_vec()));

        assert_eq!(b.take(frag(1, 1, false, b"ab")), Taken::Incomplete);
        assert_eq!(b.take(frag(1, 1, false, b"XX")), Taken::Dropped);
        assert_eq!(b.stats.conflicting, 1);
        assert!(b.is_empty());
        // What follows starts afresh: the old first piece is gone.
        assert_eq!(b.take(frag(1, 2, true, b"cd")), Taken::Incomplete);
    }

    #[test]
    fn a_fragment_numbered_beyond_the_limit_is_refused_with_its_reassembly() {
        let mut b = Bed::new();
        assert_eq!(b.take(frag(1, 1, false, b"ab")), Taken::Incomplete);
        assert_eq!(b.take(frag(1, 33, true, b"cd")), Taken::Dropped);
        assert_eq!(b.stats.too_many, 1);
        assert_eq!(b.stats.received, 1);
        assert!(b.is_empty());
        // 32 is the last number taken.
        assert_eq!(b.take(frag(1, 32, true, b"z")), Taken::Incomplete);
    }

    #[test]
    fn more_data_than_the_limit_ends_the_reassembly() {
        let mut b = Bed::new();
        b.limits.max_len = 10;
        assert_eq!(b.take(frag(1, 1, false, &[0; 6])), Taken::Incomplete);
        assert_eq!(b.take(frag(1, 2, true, &[0; 5])), Taken::Dropped);
        assert_eq!(b.stats.too_large, 1);
        assert!(b.is_empty());
        // Exactly the limit is fine.
        assert_eq!(b.take(frag(1, 1, false, &[0; 6])), Taken::Incomplete);
        assert_eq!(b.take(frag(1, 2, true, &[0; 4])), Taken::Complete(vec![0; 10]));
    }

    #[test]
    fn two_last_fragments_or_one_after_the_last_are_inconsistent() {
        let mut b = Bed::new();
        assert_eq!(b.take(frag(1, 2, true, b"b")), Taken::Incomplete);
        assert_eq!(b.take(frag(1, 3, true, b"c")), Taken::Dropped);
        assert_eq!(b.stats.inconsistent, 1);
        assert!(b.is_empty());

        assert_eq!(b.take(frag(1, 2, true, b"b")), Taken::Incomplete);
        assert_eq!(b.take(frag(1, 3, false, b"c")), Taken::Dropped);
        assert_eq!(b.stats.inconsistent, 2);

        // The last flag arriving after a higher number was already held.
        assert_eq!(b.take(frag(1, 4, false, b"d")), Taken::Incomplete);
        assert_eq!(b.take(frag(1, 2, true, b"b")), Taken::Dropped);
        assert_eq!(b.stats.inconsistent, 3);
        assert!(b.is_empty());
    }

    #[test]
    fn a_hand_built_fragment_number_zero_ends_the_reassembly_without_a_panic() {
        let mut b = Bed::new();
        assert_eq!(b.take(frag(1, 1, false, b"a")), Taken::Incomplete);
        assert_eq!(b.take(frag(1, 0, false, b"z")), Taken::Dropped);
        assert_eq!(b.stats.inconsistent, 1);
        assert!(b.is_empty());
    }

    #[test]
    fn a_new_fragment_id_supersedes_the_unfinished_message() {
        let mut b = Bed::new();
        assert_eq!(b.take(frag(1, 1, false, b"old")), Taken::Incomplete);
        assert_eq!(b.take(frag(2, 2, true, b"cd")), Taken::Incomplete);
        assert_eq!(b.stats.superseded, 1);
        assert_eq!(b.take(frag(2, 1, false, b"ab")), Taken::Complete(b"abcd".to_vec()));
    }

    #[test]
    fn an_unfinished_message_expires_after_the_timeout() {
        let mut b = Bed::new();
        assert_eq!(b.take(frag(1, 1, false, b"ab")), Taken::Incomplete);
        b.r.expire(b.t0 + Duration::from_secs(29), &b.limits, &mut b.stats);
        assert!(!b.is_empty());
        b.r.expire(b.t0 + Duration::from_secs(30), &b.limits, &mut b.stats);
        assert!(b.is_empty());
        assert_eq!(b.stats.timed_out, 1);
        // A late piece does not complete the old message.
        assert_eq!(b.take_at(31, frag(1, 2, true, b"cd")), Taken::Incomplete);
        // Nor does one arriving after the time without a timer having run.
        let mut b = Bed::new();
        assert_eq!(b.take(frag(1, 1, false, b"ab")), Taken::Incomplete);
        assert_eq!(b.take_at(30, frag(1, 2, true, b"cd")), Taken::Incomplete);
        assert_eq!(b.stats.timed_out, 1);
    }
}
