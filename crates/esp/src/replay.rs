//! The anti-replay window of RFC 4303 §3.4.3 and Appendix A, with extended sequence numbers.
//!
//! The receiver keeps the highest authenticated sequence number (`top`, 64 bits) and a bitmap
//! of the `size` numbers at and below it. The bitmap is a ring indexed by `seq % size`, so
//! moving the window forward clears the bits it passes over and never shifts memory.
//!
//! With ESN only the low 32 bits travel in the packet; [`ReplayWindow::check`] infers the high
//! half from the window position (RFC 4303 Appendix A2.2), and the ICV, computed over the
//! inferred high half, confirms the guess.
//!
//! Use in three steps, in this order: [`ReplayWindow::check`] (cheap, before any crypto),
//! verify the ICV, then [`ReplayWindow::commit`]. Only authenticated packets move the window.

use core::fmt;

/// Smallest window: RFC 4303 §3.4.3 requires a default of at least 32 (64 recommended).
pub const MIN_WINDOW: u32 = 64;
/// Largest window this implementation keeps (the bitmap is inline, 512 bytes).
pub const MAX_WINDOW: u32 = 4096;

const WORDS: usize = (MAX_WINDOW / 64) as usize;

/// Why a sequence number was refused by the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// Inside the window and already received.
    Replay,
    /// Below the window, or a sequence number that can never be valid (0, or past 2^64 - 1).
    TooOld,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Replay => "sequence number already received",
            Self::TooOld => "sequence number left of the replay window",
        })
    }
}

impl std::error::Error for ReplayError {}

/// The window size was not a multiple of 64 between [`MIN_WINDOW`] and [`MAX_WINDOW`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSizeError(pub u32);

impl fmt::Display for WindowSizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "replay window of {} packets: need a multiple of 64 in {MIN_WINDOW}..={MAX_WINDOW}",
            self.0
        )
    }
}

impl std::error::Error for WindowSizeError {}

/// An anti-replay window of `size` packets, with or without extended sequence numbers.
#[derive(Clone)]
pub struct ReplayWindow {
    size: u32,
    esn: bool,
    /// Highest authenticated sequence number; 0 before the first packet (0 is never sent:
    /// RFC 4303 §3.3.3, the first packet carries 1).
    top: u64,
    bits: [u64; WORDS],
}

impl fmt::Debug for ReplayWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayWindow")
            .field("size", &self.size)
            .field("esn", &self.esn)
            .field("top", &self.top)
            .finish_non_exhaustive()
    }
}

impl ReplayWindow {
    /// A window of `size` packets (a multiple of 64 in 64..=4096).
    pub fn new(size: u32, esn: bool) -> Result<Self, WindowSizeError> {
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&size) || !size.is_multiple_of(64) {
            return Err(WindowSizeError(size));
        }
        Ok(Self { size, esn, top: 0, bits: [0; WORDS] })
    }

    pub fn size(&self) -> u32 {
        self.size
    }

    pub fn esn(&self) -> bool {
        self.esn
    }

    /// The highest authenticated sequence number (0 if none yet).
    pub fn top(&self) -> u64 {
        self.top
    }

    /// Restores a window whose state was saved elsewhere: everything at or below `top` counts as
    /// received. Conservative on purpose: a restored window may drop a few late packets, never
    /// accept a replay.
    pub fn restore(&mut self, top: u64) {
        self.top = top;
        self.bits = [u64::MAX; WORDS];
    }

    /// Maps the 32 bits on the wire to the full sequence number (the same value without ESN)
    /// and checks it against the window. Changes nothing.
    pub fn check(&self, seq_lo: u32) -> Result<u64, ReplayError> {
        let seq = if self.esn { self.infer(seq_lo)? } else { u64::from(seq_lo) };
        self.check_full(seq)?;
        Ok(seq)
    }

    /// RFC 4303 Appendix A2.2: pick the high half that puts `seq_lo` inside or ahead of the
    /// window.
    fn infer(&self, seq_lo: u32) -> Result<u64, ReplayError> {
        let (top_hi, top_lo) = ((self.top >> 32) as u32, self.top as u32);
        let bottom_lo = top_lo.wrapping_sub(self.size - 1);
        let hi = if top_lo >= self.size - 1 {
            // Case A: the window lies inside one 2^32 subspace. Anything below its bottom must
            // be from the next subspace.
            if seq_lo >= bottom_lo { Some(top_hi) } else { top_hi.checked_add(1) }
        } else {
            // Case B: the window straddles two subspaces. Values at or above the (wrapped)
            // bottom belong to the previous one.
            if seq_lo >= bottom_lo { top_hi.checked_sub(1) } else { Some(top_hi) }
        };
        let hi = hi.ok_or(ReplayError::TooOld)?;
        Ok(u64::from(hi) << 32 | u64::from(seq_lo))
    }

    /// Checks a full 64-bit sequence number against the window. Changes nothing.
    pub fn check_full(&self, seq: u64) -> Result<(), ReplayError> {
        if seq == 0 {
            return Err(ReplayError::TooOld);
        }
        if seq > self.top {
            return Ok(());
        }
        if self.top - seq >= u64::from(self.size) {
            return Err(ReplayError::TooOld);
        }
        let (word, bit) = self.slot(seq);
        if self.bits[word] & (1 << bit) != 0 {
            return Err(ReplayError::Replay);
        }
        Ok(())
    }

    /// Records `seq` as received. Call only after [`Self::check`] accepted it and the packet's
    /// ICV verified; a `seq` the window would refuse is ignored.
    pub fn commit(&mut self, seq: u64) {
        if self.check_full(seq).is_err() {
            return;
        }
        if seq > self.top {
            let advance = seq - self.top;
            if advance >= u64::from(self.size) {
                self.bits = [0; WORDS];
            } else {
                self.clear_after_top(advance);
            }
            self.top = seq;
        }
        let (word, bit) = self.slot(seq);
        self.bits[word] |= 1 << bit;
    }

    /// Clears the `count` slots after `top` (count < size), a word at a time.
    fn clear_after_top(&mut self, count: u64) {
        let size = u64::from(self.size);
        let mut pos = (self.top + 1) % size;
        let mut left = count;
        while left > 0 {
            let bit = pos % 64;
            // `size` is a multiple of 64, so a run never crosses the end of the ring mid-word.
            let run = (64 - bit).min(left);
            let mask = if run == 64 { u64::MAX } else { ((1u64 << run) - 1) << bit };
            self.bits[(pos / 64) as usize] &= !mask;
            pos = (pos + run) % size;
            left -= run;
        }
    }

    fn slot(&self, seq: u64) -> (usize, u32) {
        let index = seq % u64::from(self.size);
        ((index / 64) as usize, (index % 64) as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug)]
    enum Op {
        /// Wire value (low 32 bits), expected outcome; accepted packets are committed.
        Recv(u32, Result<u64, ReplayError>),
        /// Check only: the packet failed its ICV, the window must not move.
        Forged(u32),
        /// Check only, with the inferred sequence number: an old packet that ESN inference
        /// maps ahead of the window; its ICV (over the wrong high half) will fail.
        Guess(u32, Result<u64, ReplayError>),
    }
    use Op::*;
    use ReplayError::{Replay, TooOld};

    /// Runs a numbered table of cases against one window, like WireGuard's
    /// `selftest/counter.c`: each line depends on the state the previous ones left.
    fn run(mut w: ReplayWindow, table: &[Op]) {
        for (n, op) in table.iter().enumerate() {
            match *op {
                Recv(lo, expected) => {
                    let got = w.check(lo);
                    assert_eq!(got, expected, "case {n}: {op:?} with {w:?}");
                    if let Ok(seq) = got {
                        w.commit(seq);
                    }
                }
                Guess(lo, expected) => assert_eq!(w.check(lo), expected, "case {n}: {op:?}"),
                Forged(lo) => {
                    let before = (w.top, w.bits);
                    let _ = w.check(lo);
                    assert_eq!((w.top, w.bits), before, "case {n}: check must not move");
                }
            }
        }
    }

    #[test]
    fn table_without_esn() {
        let w = ReplayWindow::new(64, false).unwrap();
        run(
            w,
            &[
                /* 0 */ Recv(0, Err(TooOld)),
                /* 1 */ Recv(1, Ok(1)),
                /* 2 */ Recv(1, Err(Replay)),
                /* 3 */ Recv(2, Ok(2)),
                /* 4 */ Recv(64, Ok(64)),
                /* 5 */ Recv(3, Ok(3)),
                /* 6 */ Recv(1, Err(Replay)),
                /* 7 */ Recv(65, Ok(65)),
                /* 8 */ Recv(1, Err(TooOld)),
                /* 9 */ Recv(2, Err(Replay)),
                /* 10 */ Recv(4, Ok(4)),
                /* 11 */ Recv(129, Ok(129)),
                /* 12 */ Recv(65, Err(TooOld)),
                /* 13 */ Recv(66, Ok(66)),
                /* 14 */ Recv(66, Err(Replay)),
                /* 15 */ Forged(1000),
                /* 16 */ Recv(128, Ok(128)),
                /* 17 */ Recv(1000, Ok(1000)),
                /* 18 */ Recv(937, Ok(937)),
                /* 19 */ Recv(936, Err(TooOld)),
                /* 20 */ Recv(u32::MAX, Ok(u64::from(u32::MAX))),
                /* 21 */ Recv(u32::MAX, Err(Replay)),
                /* 22 */ Recv(u32::MAX - 63, Ok(u64::from(u32::MAX - 63))),
                /* 23 */ Recv(u32::MAX - 64, Err(TooOld)),
                /* 24 */ Recv(0, Err(TooOld)),
            ],
        );
    }

    #[test]
    fn table_with_esn_across_the_32_bit_boundary() {
        let mut w = ReplayWindow::new(64, true).unwrap();
        w.commit(u64::from(u32::MAX) - 10);
        const HI: u64 = 1 << 32;
        run(
            w,
            &[
                /* 0 */ Recv(u32::MAX - 5, Ok(HI - 6)),
                /* 1 */ Recv(0, Ok(HI)),
                /* 2 */ Recv(0, Err(Replay)),
                /* 3 */ Recv(u32::MAX - 10, Err(Replay)),
                /* 4 */ Recv(u32::MAX - 11, Ok(HI - 12)),
                /* 5 */ Recv(5, Ok(HI + 5)),
                // Now top = 2^32 + 5 and the window spans 2^32 - 58 ..= 2^32 + 5 (case B).
                /* 6 */
                Recv(u32::MAX - 57, Ok(HI - 58)),
                /* 7 */ Guess(u32::MAX - 58, Ok(2 * HI - 59)),
                /* 8 */ Recv(u32::MAX, Ok(HI - 1)),
                /* 9 */ Recv(3, Ok(HI + 3)),
                /* 10 */ Recv(3, Err(Replay)),
                /* 11 */ Forged(70),
                /* 12 */ Recv(70, Ok(HI + 70)),
                // Case A again: a low value below the bottom is from the next subspace.
                /* 13 */
                Recv(6, Ok(2 * HI + 6)),
                /* 14 */ Guess(70, Ok(2 * HI + 70)),
                /* 15 */ Recv(u32::MAX - 40, Ok(2 * HI - 41)),
                /* 16 */ Recv(u32::MAX - 40, Err(Replay)),
            ],
        );
    }

    #[test]
    fn esn_at_the_very_end_of_the_space() {
        let mut w = ReplayWindow::new(128, true).unwrap();
        w.commit(u64::MAX - 1);
        assert_eq!(w.check(u32::MAX), Ok(u64::MAX));
        w.commit(u64::MAX);
        // Nothing can come after 2^64 - 1: a small low half would need high half 2^32.
        assert_eq!(w.check(0), Err(TooOld));
        assert_eq!(w.check(u32::MAX), Err(Replay));
    }

    #[test]
    fn esn_first_packets_cannot_belong_below_zero() {
        let w = ReplayWindow::new(64, true).unwrap();
        assert_eq!(w.check(1), Ok(1));
        assert_eq!(w.check(u32::MAX), Err(TooOld), "would need high half -1");
    }

    #[test]
    fn big_jumps_clear_the_whole_ring() {
        for size in [64, 192, 4096] {
            let mut w = ReplayWindow::new(size, false).unwrap();
            for seq in 1..=u64::from(size) {
                w.commit(seq);
            }
            let jump = 2 * u64::from(size) + 7;
            w.commit(jump);
            for seq in jump - u64::from(size) + 1..jump {
                assert_eq!(w.check_full(seq), Ok(()), "size {size} seq {seq}");
            }
            // A jump of less than a window clears only what it passes over.
            w.commit(jump + 100);
            let ok = (jump + 100 - u64::from(size) + 1..jump + 100).filter(|&s| s != jump);
            assert!(ok.clone().all(|s| w.check_full(s).is_ok()), "size {size}");
            let expected = if size > 100 { Replay } else { TooOld };
            assert_eq!(w.check_full(jump), Err(expected), "size {size}");
        }
    }

    #[test]
    fn restore_counts_everything_below_as_seen() {
        let mut w = ReplayWindow::new(64, true).unwrap();
        w.restore(0x8765_4320_ffff_ffff);
        assert_eq!(w.check(0), Ok(0x8765_4321_0000_0000));
        assert_eq!(w.check(u32::MAX - 3), Err(Replay));
    }

    #[test]
    fn rejects_bad_sizes() {
        for size in [0, 32, 63, 65, 4097, 8192] {
            assert_eq!(ReplayWindow::new(size, false).unwrap_err(), WindowSizeError(size));
        }
    }
}
