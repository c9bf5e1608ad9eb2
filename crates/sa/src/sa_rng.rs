//! The random generator of one IKE SA, kept as its seed and position.
//!
//! A `ChaCha20Rng` is 320 bytes, most of it a buffer of four blocks; an SA draws randomness
//! a few times per exchange (nonces, SPIs, IVs, private keys), exchanges that come minutes
//! apart once it is established. So the SA keeps 48 bytes and rebuilds the generator at its
//! position for each draw: the bytes are exactly those `ChaCha20Rng::from_seed(seed)` gives,
//! so a seeded SA still produces the same messages.

use rand_chacha::ChaCha20Rng;
use rand_core::{CryptoRng, RngCore, SeedableRng};
use zeroize::Zeroizing;

/// A ChaCha20 stream at a word position. The seed is wiped on drop and never printed.
pub(crate) struct SaRng {
    seed: Zeroizing<[u8; 32]>,
    word_pos: u128,
}

impl core::fmt::Debug for SaRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SaRng").field("word_pos", &self.word_pos).finish_non_exhaustive()
    }
}

impl SaRng {
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        Self { seed: Zeroizing::new(seed), word_pos: 0 }
    }

    /// Runs `draw` on the generator at our position and moves the position past what it took.
    fn draw<T>(&mut self, draw: impl FnOnce(&mut ChaCha20Rng) -> T) -> T {
        let mut rng = ChaCha20Rng::from_seed(*self.seed);
        rng.set_word_pos(self.word_pos);
        let out = draw(&mut rng);
        self.word_pos = rng.get_word_pos();
        out
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

    /// Draws of every kind and length, across block boundaries, give the bytes one
    /// `ChaCha20Rng` gives for the same calls: seeded tests keep their exact messages.
    #[test]
    fn same_stream_as_one_chacha20rng() {
        let seed = [0x5a; 32];
        let mut ours = SaRng::from_seed(seed);
        let mut reference = ChaCha20Rng::from_seed(seed);
        for round in 0..200u32 {
            match round % 4 {
                0 => assert_eq!(ours.next_u32(), reference.next_u32(), "round {round}"),
                1 => assert_eq!(ours.next_u64(), reference.next_u64(), "round {round}"),
                _ => {
                    let len = (round as usize * 7) % 97;
                    let (mut a, mut b) = (vec![0u8; len], vec![0u8; len]);
                    ours.fill_bytes(&mut a);
                    reference.fill_bytes(&mut b);
                    assert_eq!(a, b, "round {round}, {len} bytes");
                }
            }
        }
        assert!(std::mem::size_of::<SaRng>() <= 48, "{}", std::mem::size_of::<SaRng>());
    }
}
