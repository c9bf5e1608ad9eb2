//! The random generator of one IKE SA, kept as its seed and position.
//!
//! A `ChaCha20Rng` is 320 bytes, most of it a buffer of four blocks; an SA draws randomness
//! a few times per exchange (nonces, SPIs, IVs, private keys), exchanges that come minutes
//! apart once it is established. So the SA keeps 48 bytes and rebuilds the generator at its
//! position when it draws: the bytes are exactly those `ChaCha20Rng::from_seed(seed)` gives,
//! so a seeded SA still produces the same messages.
//!
//! Rebuilding costs a ChaCha20 refill of four blocks, however few bytes a draw takes, and a
//! handshake draws a dozen times in a burst (SPIs, nonces, private keys, IVs, timer
//! jitter): about 2 us of an X25519 handshake's 92 on both sides (issue 16). So an SA being
//! negotiated keeps the whole generator, boxed ([`SaRng::hot`]), and gives it up after the
//! datagram that established it ([`SaRng::settle`]), when draws become rare and the SA's size
//! counts. An established SA's exchanges draw in bursts too (a CREATE_CHILD_SA request: a
//! nonce, an SPI, an IV), so a draw from a settled generator rebuilds it hot, and the SA
//! settles it again when the call that drew returns (`IkeSa::settle_rng`): one refill per
//! burst instead of one per draw.

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use zeroize::Zeroizing;

/// A ChaCha20 stream at a word position. The seed (and the generator while hot) is wiped on
/// drop and never printed.
pub(crate) struct SaRng {
    seed: Zeroizing<[u8; 32]>,
    /// Words drawn so far while settled. 64 bits: an SA draws a few hundred bytes per
    /// exchange, so it never reaches 2^64 words (the generator's own position is 2^68).
    word_pos: u64,
    /// The generator itself while the SA is being negotiated, or until the call whose draws
    /// rebuilt it settles it: draws come in bursts.
    hot: Option<Box<ChaCha20Rng>>,
}

impl core::fmt::Debug for SaRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SaRng")
            .field("word_pos", &self.word_pos)
            .field("hot", &self.hot.is_some())
            .finish_non_exhaustive()
    }
}

impl SaRng {
    /// A settled generator: each draw rebuilds the stream at its position.
    #[cfg(test)]
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        Self { seed: Zeroizing::new(seed), word_pos: 0, hot: None }
    }

    /// A hot generator, for an SA that starts negotiating: draws continue one stream until
    /// [`SaRng::settle`]. Same bytes as [`SaRng::from_seed`].
    pub(crate) fn hot(seed: [u8; 32]) -> Self {
        let hot = Some(Box::new(ChaCha20Rng::from_seed(seed)));
        Self { seed: Zeroizing::new(seed), word_pos: 0, hot }
    }

    /// Gives up the hot generator (the SA is established and draws rarely), keeping its
    /// position, and wipes it; nothing if already settled.
    pub(crate) fn settle(&mut self) {
        if let Some(mut hot) = self.hot.take() {
            self.word_pos = word_pos(&hot);
            wipe(&mut hot);
        }
    }

    /// Whether the generator is kept whole (see [`SaRng::hot`]).
    #[cfg(test)]
    pub(crate) fn is_hot(&self) -> bool {
        self.hot.is_some()
    }

    /// Words drawn so far, hot or settled.
    #[cfg(test)]
    pub(crate) fn position(&self) -> u64 {
        self.hot.as_deref().map_or(self.word_pos, word_pos)
    }

    /// Runs `draw` on the generator at our position, rebuilding it hot there if settled (the
    /// caller settles it when its burst of draws is over).
    fn draw<T>(&mut self, draw: impl FnOnce(&mut ChaCha20Rng) -> T) -> T {
        let hot = self.hot.get_or_insert_with(|| {
            let mut rng = Box::new(ChaCha20Rng::from_seed(*self.seed));
            rng.set_word_pos(u128::from(self.word_pos));
            rng
        });
        draw(hot)
    }
}

/// The generator's position, which an SA keeps below 2^64 words (see `SaRng`).
fn word_pos(rng: &ChaCha20Rng) -> u64 {
    u64::try_from(rng.get_word_pos()).unwrap_or(u64::MAX)
}

/// Overwrites a generator's key and buffered output (`ChaCha20Rng` has no `Zeroize`): the
/// buffer holds bytes that become private keys and nonces.
fn wipe(rng: &mut ChaCha20Rng) {
    *rng = ChaCha20Rng::from_seed([0; 32]);
    // Keeps the overwrite from being dropped as a dead store before the memory is freed.
    std::hint::black_box(rng);
}

impl Drop for SaRng {
    fn drop(&mut self) {
        self.settle();
    }
}

impl RngCore for SaRng {
    fn next_u32(&mut self) -> u32 {
        self.draw(RngCore::next_u32)
    }

    fn next_u64(&mut self) -> u64 {
        self.draw(RngCore::next_u64)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.draw(|rng| rng.fill_bytes(dest));
    }
}

impl CryptoRng for SaRng {}

#[cfg(test)]
mod tests {
    use super::*;

    /// One draw of `kind` (0: a u32, 1: a u64, else `len` bytes) from both generators, which
    /// must agree.
    fn same_draw(ours: &mut SaRng, reference: &mut ChaCha20Rng, round: u32, kind: u32, len: usize) {
        match kind {
            0 => assert_eq!(ours.next_u32(), reference.next_u32(), "round {round}"),
            1 => assert_eq!(ours.next_u64(), reference.next_u64(), "round {round}"),
            _ => {
                let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
                ours.fill_bytes(&mut a);
                reference.fill_bytes(&mut b);
                assert_eq!(a, b, "round {round}, {len} bytes");
            }
        }
    }

    /// Draws of every kind and length, across block boundaries, give the bytes one
    /// `ChaCha20Rng` gives for the same calls: seeded tests keep their exact messages.
    #[test]
    fn same_stream_as_one_chacha20rng() {
        let seed = [0x5a; 32];
        let mut ours = SaRng::from_seed(seed);
        let mut reference = ChaCha20Rng::from_seed(seed);
        for round in 0..200u32 {
            same_draw(&mut ours, &mut reference, round, round % 4, (round as usize * 7) % 97);
            ours.settle();
        }
        assert!(std::mem::size_of::<SaRng>() <= 48, "{}", std::mem::size_of::<SaRng>());
    }

    /// A settled generator that draws is hot again until settled, at the same place in the
    /// stream: bursts of draws after the handshake refill once, and give the same bytes.
    #[test]
    fn a_settled_draw_warms_until_settled_on_the_same_stream() {
        let seed = [0x77; 32];
        let mut ours = SaRng::from_seed(seed);
        let mut reference = ChaCha20Rng::from_seed(seed);
        for round in 0..60u32 {
            assert!(!ours.is_hot(), "round {round}");
            same_draw(&mut ours, &mut reference, round, round % 3, (round as usize * 5) % 41);
            assert!(ours.is_hot(), "round {round}: the draw rebuilt the generator");
            same_draw(&mut ours, &mut reference, round, 1, 8);
            ours.settle();
        }
    }

    /// A hot generator, settled part way, continues the same stream: an SA that settles
    /// when established draws the bytes it always drew.
    #[test]
    fn hot_then_settled_is_the_same_stream() {
        let seed = [0x3c; 32];
        let mut ours = SaRng::hot(seed);
        let mut reference = ChaCha20Rng::from_seed(seed);
        for round in 0..120u32 {
            if round == 37 {
                assert!(ours.hot.is_some());
                ours.settle();
                assert!(ours.hot.is_none());
                ours.settle();
            }
            same_draw(&mut ours, &mut reference, round, round % 3, (round as usize * 11) % 71);
            if round > 37 {
                ours.settle();
            }
        }
    }
}
