//! Encryption of IKEv1 message bodies (RFC 2408 §3.1 E flag, RFC 2409 Appendix B): the whole
//! body after the ISAKMP header is CBC-encrypted with the phase 1 key, and each exchange
//! keeps its own IV chain: the next message's IV is the last ciphertext block of the previous
//! message of that exchange. Phase 1 starts from `hash(g^xi | g^xr)`; every later exchange
//! (informational, transaction, quick mode) starts from `hash(last phase-1 block | M-ID)`.
//!
//! A message that does not decrypt to something valid must not move the chain (a forged or
//! damaged datagram would desynchronise both sides), so [`Crypt::open`] gives the next IV
//! back and the caller commits it with [`Crypt::commit`] once the message checked out.

use std::collections::HashMap;

use ikeway_crypto::{BlockCipher, CipherKey, CryptoError};

use crate::keys::{self, HashAlg};

/// Exchanges protected by an ISAKMP SA whose IV chains we keep at once: a quick mode, a
/// transaction and an informational exchange in flight, with room for rekeys that overlap.
/// Beyond this the oldest chain is forgotten (its exchange then fails and is retried).
pub(crate) const MAX_IV_CHAINS: usize = 16;

/// The cipher of an ISAKMP SA and its IV chains.
pub struct Crypt {
    cipher: CipherKey,
    block_len: usize,
    hash: HashAlg,
    /// The phase 1 chain, then (once phase 1 is done) its last block, the seed of every
    /// later exchange's IV.
    phase1_iv: Vec<u8>,
    phase1_done: bool,
    /// IVs of the exchanges after phase 1, by message ID, with the order they were made in
    /// (to forget the oldest).
    chains: HashMap<u32, (u64, Vec<u8>)>,
    made: u64,
}

impl core::fmt::Debug for Crypt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Crypt")
            .field("cipher", &self.cipher.algorithm())
            .field("chains", &self.chains.len())
            .finish_non_exhaustive()
    }
}

/// Why a received ciphertext was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// Empty, or not a whole number of cipher blocks.
    BadLength,
    Crypto(CryptoError),
}

impl Crypt {
    /// Keys the cipher for phase 1 with `enc_key` and its first IV.
    pub fn new(
        cipher: BlockCipher,
        enc_key: &[u8],
        hash: HashAlg,
        g_xi: &[u8],
        g_xr: &[u8],
    ) -> Result<Self, CryptoError> {
        let block_len = cipher.block_len();
        Ok(Self {
            cipher: cipher.key(enc_key)?,
            block_len,
            hash,
            phase1_iv: keys::phase1_iv(hash, g_xi, g_xr, block_len),
            phase1_done: false,
            chains: HashMap::new(),
            made: 0,
        })
    }

    pub fn block_len(&self) -> usize {
        self.block_len
    }

    /// Phase 1 is complete: from now on message ID 0 is no longer in use and the last phase 1
    /// block seeds the IV of every other exchange.
    pub fn finish_phase1(&mut self) {
        self.phase1_done = true;
    }

    /// The IV the next message of exchange `message_id` (0: phase 1) uses.
    pub fn iv(&mut self, message_id: u32) -> Vec<u8> {
        if message_id == 0 {
            return self.phase1_iv.clone();
        }
        if let Some((_, iv)) = self.chains.get(&message_id) {
            return iv.clone();
        }
        keys::exchange_iv(self.hash, &self.phase1_iv, message_id)
    }

    /// Encrypts `body` (padded here with zeros to whole blocks, RFC 2408 §3.5 puts no meaning
    /// in padding) for exchange `message_id`, and moves its chain on.
    pub fn seal(&mut self, message_id: u32, body: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let iv = self.iv(message_id);
        let padded = body.len().div_ceil(self.block_len).max(1) * self.block_len;
        let mut out = vec![0u8; padded];
        out[..body.len()].copy_from_slice(body);
        self.cipher.encrypt(&iv, &mut out)?;
        let next = out[padded - self.block_len..].to_vec();
        self.commit(message_id, next);
        Ok(out)
    }

    /// Decrypts a received body of exchange `message_id`, returning the plaintext (padding
    /// included) and the IV to [`commit`](Self::commit) once the message is accepted.
    pub fn open(
        &mut self,
        message_id: u32,
        ciphertext: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), OpenError> {
        if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(self.block_len) {
            return Err(OpenError::BadLength);
        }
        let iv = self.iv(message_id);
        let next = ciphertext[ciphertext.len() - self.block_len..].to_vec();
        let mut plain = ciphertext.to_vec();
        self.cipher.decrypt(&iv, &mut plain).map_err(OpenError::Crypto)?;
        Ok((plain, next))
    }

    /// Moves the chain of exchange `message_id` to `next` (the last ciphertext block of the
    /// message just sent or accepted).
    pub fn commit(&mut self, message_id: u32, next: Vec<u8>) {
        if message_id == 0 && !self.phase1_done {
            self.phase1_iv = next;
            return;
        }
        if message_id == 0 {
            // After phase 1, message ID 0 is never used by a valid exchange.
            return;
        }
        self.made += 1;
        if !self.chains.contains_key(&message_id) && self.chains.len() >= MAX_IV_CHAINS {
            let oldest = self.chains.iter().min_by_key(|(_, (made, _))| *made).map(|(id, _)| *id);
            if let Some(id) = oldest {
                self.chains.remove(&id);
            }
        }
        self.chains.insert(message_id, (self.made, next));
    }

    /// The exchange `message_id` is over: its chain is dropped.
    pub fn forget(&mut self, message_id: u32) {
        self.chains.remove(&message_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Crypt, Crypt) {
        let c = BlockCipher::AesCbc { key_bits: 128 };
        let a = Crypt::new(c, &[7; 16], HashAlg::Sha1, b"gxi", b"gxr").unwrap();
        let b = Crypt::new(c, &[7; 16], HashAlg::Sha1, b"gxi", b"gxr").unwrap();
        (a, b)
    }

    #[test]
    fn the_next_iv_is_the_last_ciphertext_block_of_the_previous_message() {
        let (mut a, mut b) = pair();
        assert_eq!(a.iv(0), HashAlg::Sha1.digest(&[b"gxi", b"gxr"])[..16].to_vec());
        let c1 = a.seal(0, b"message five, twenty bytes").unwrap();
        assert_eq!(c1.len(), 32);
        assert_eq!(a.iv(0), c1[16..].to_vec());
        let (plain, next) = b.open(0, &c1).unwrap();
        assert_eq!(&plain[..26], b"message five, twenty bytes");
        assert_eq!(&plain[26..], &[0; 6]);
        // Not accepted yet: the chain has not moved.
        assert_eq!(b.iv(0), HashAlg::Sha1.digest(&[b"gxi", b"gxr"])[..16].to_vec());
        b.commit(0, next);
        assert_eq!(b.iv(0), a.iv(0));
    }

    #[test]
    fn exchanges_after_phase_1_start_from_the_hash_of_the_last_block_and_message_id() {
        let (mut a, _) = pair();
        let last = a.seal(0, b"message six").unwrap();
        a.finish_phase1();
        let expected = HashAlg::Sha1.digest(&[&last, &0x0102_0304u32.to_be_bytes()]);
        assert_eq!(a.iv(0x0102_0304), expected[..16].to_vec());
        let c = a.seal(0x0102_0304, b"quick 1").unwrap();
        assert_eq!(a.iv(0x0102_0304), c.to_vec());
        // Another exchange still starts from phase 1's last block.
        let other = HashAlg::Sha1.digest(&[&last, &9u32.to_be_bytes()]);
        assert_eq!(a.iv(9), other[..16].to_vec());
        a.forget(0x0102_0304);
        assert_eq!(a.iv(0x0102_0304), expected[..16].to_vec());
    }

    #[test]
    fn ciphertext_that_is_not_whole_blocks_is_refused() {
        let (_, mut b) = pair();
        assert_eq!(b.open(0, &[]).unwrap_err(), OpenError::BadLength);
        assert_eq!(b.open(0, &[0; 17]).unwrap_err(), OpenError::BadLength);
    }

    #[test]
    fn chains_are_bounded_and_the_oldest_goes_first() {
        let (mut a, _) = pair();
        a.seal(0, b"p1").unwrap();
        a.finish_phase1();
        for id in 1..=(MAX_IV_CHAINS as u32 + 1) {
            a.commit(id, vec![id as u8; 16]);
        }
        assert_eq!(a.chains.len(), MAX_IV_CHAINS);
        assert!(!a.chains.contains_key(&1));
        assert_eq!(a.iv(2), vec![2; 16]);
    }
}
