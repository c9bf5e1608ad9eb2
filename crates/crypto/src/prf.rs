//! Pseudorandom functions and prf+ (RFC 7296 §2.13, RFC 4868 §2.1.2).

use hmac::digest::{FixedOutputReset, OutputSizeUser};
use hmac::{Hmac, HmacReset, KeyInit, Mac};
use zeroize::Zeroize;

use crate::keyed_hmac::{HmacHash, KeyedHmac, finish, keyed};
use crate::{CryptoError, SecretBytes};

/// The longest PRF output: HMAC-SHA2-512's.
pub(crate) const MAX_OUTPUT_LEN: usize = 64;

/// One PRF output, inline and wiped on drop; `Debug` shows only its length.
pub struct PrfOutput {
    /// Only `bytes[..len]` is ever written, and that is what the drop wipes.
    bytes: [u8; MAX_OUTPUT_LEN],
    len: usize,
}

impl Drop for PrfOutput {
    fn drop(&mut self) {
        self.bytes[..self.len].zeroize();
    }
}

impl PrfOutput {
    /// The output. Callers must not copy it into storage that outlives this value unwiped.
    pub fn expose(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl core::fmt::Debug for PrfOutput {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PrfOutput({} bytes, redacted)", self.len)
    }
}

/// An IKEv2 PRF transform (IANA "Transform Type 2").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prf {
    /// PRF_HMAC_SHA1 (2), RFC 2104. Kept for peers and captures that still use it.
    HmacSha1,
    /// PRF_HMAC_SHA2_256 (5), RFC 4868.
    HmacSha256,
    /// PRF_HMAC_SHA2_384 (6), RFC 4868.
    HmacSha384,
    /// PRF_HMAC_SHA2_512 (7), RFC 4868.
    HmacSha512,
}

impl core::fmt::Display for Prf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::HmacSha1 => "PRF-HMAC-SHA1",
            Self::HmacSha256 => "PRF-HMAC-SHA2-256",
            Self::HmacSha384 => "PRF-HMAC-SHA2-384",
            Self::HmacSha512 => "PRF-HMAC-SHA2-512",
        })
    }
}

impl Prf {
    pub const ALL: [Prf; 4] =
        [Self::HmacSha1, Self::HmacSha256, Self::HmacSha384, Self::HmacSha512];

    /// The IANA transform ID.
    pub fn iana_id(self) -> u16 {
        match self {
            Self::HmacSha1 => 2,
            Self::HmacSha256 => 5,
            Self::HmacSha384 => 6,
            Self::HmacSha512 => 7,
        }
    }

    pub fn from_iana_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.iana_id() == id)
    }

    /// Output length in bytes; also the preferred key length (RFC 7296 §2.13).
    pub fn output_len(self) -> usize {
        match self {
            Self::HmacSha1 => 20,
            Self::HmacSha256 => 32,
            Self::HmacSha384 => 48,
            Self::HmacSha512 => 64,
        }
    }

    /// `prf(key, parts[0] | parts[1] | ...)` held inline, for values used where they are made
    /// (an AUTH, `prf(SK_p, ID)`): the handshake computes several per side, and a heap
    /// allocation for each was a measurable share of its allocations.
    pub fn compute_inline(self, key: &[u8], parts: &[&[u8]]) -> PrfOutput {
        let mut out = PrfOutput { bytes: [0; MAX_OUTPUT_LEN], len: 0 };
        out.len = self.compute_into(key, parts, &mut out.bytes[..]);
        out
    }

    /// `prf(key, parts[0] | parts[1] | ...)`.
    pub fn compute(self, key: &[u8], parts: &[&[u8]]) -> SecretBytes {
        let mut out = SecretBytes::zeroed(self.output_len());
        self.compute_into(key, parts, out.expose_mut());
        out
    }

    /// `prf(key, parts[0] | parts[1] | ...)` truncated to `out` (which takes
    /// `min(out.len(), output_len)` bytes; the count is returned), without a heap allocation:
    /// for values computed per datagram from untrusted input, such as responder cookies.
    pub fn compute_into(self, key: &[u8], parts: &[&[u8]], out: &mut [u8]) -> usize {
        match self {
            Self::HmacSha1 => finish(keyed::<Hmac<sha1::Sha1>>(key), parts, out),
            Self::HmacSha256 => finish(keyed::<Hmac<sha2::Sha256>>(key), parts, out),
            Self::HmacSha384 => finish(keyed::<Hmac<sha2::Sha384>>(key), parts, out),
            Self::HmacSha512 => finish(keyed::<Hmac<sha2::Sha512>>(key), parts, out),
        }
    }

    /// This PRF with `key` set up once, for several computations under the same key
    /// ([`KeyedPrf`]).
    pub fn keyed(self, key: &[u8]) -> KeyedPrf {
        KeyedPrf(KeyedHmac::new(self.hash(), key))
    }

    fn hash(self) -> HmacHash {
        match self {
            Self::HmacSha1 => HmacHash::Sha1,
            Self::HmacSha256 => HmacHash::Sha256,
            Self::HmacSha384 => HmacHash::Sha384,
            Self::HmacSha512 => HmacHash::Sha512,
        }
    }

    /// The most prf+ can produce: 255 iterations of the PRF (RFC 7296 §2.13).
    pub fn prf_plus_max(self) -> usize {
        255 * self.output_len()
    }

    /// `prf+(key, seed)` truncated to `len` bytes (RFC 7296 §2.13):
    /// `T1 = prf(K, S | 0x01)`, `Tn = prf(K, Tn-1 | S | n)`.
    pub fn prf_plus(
        self,
        key: &[u8],
        seed: &[&[u8]],
        len: usize,
    ) -> Result<SecretBytes, CryptoError> {
        let max = self.prf_plus_max();
        if len > max {
            return Err(CryptoError::PrfPlusTooLong { requested: len, max });
        }
        let mut out = SecretBytes::zeroed(len);
        self.prf_plus_into(key, &[seed], out.expose_mut())?;
        Ok(out)
    }

    /// `prf+(key, seed)` into `out`, as long as `out` (for key material cut into keys
    /// straight away, which then needs no buffer of its own). The seed is the concatenation
    /// of `seed`'s groups of parts: `&[shared_secrets, &[ni, nr]]` needs no list of its own.
    pub fn prf_plus_into(
        self,
        key: &[u8],
        seed: &[&[&[u8]]],
        out: &mut [u8],
    ) -> Result<(), CryptoError> {
        let max = self.prf_plus_max();
        if out.len() > max {
            return Err(CryptoError::PrfPlusTooLong { requested: out.len(), max });
        }
        match self {
            Self::HmacSha1 => expand::<sha1::Sha1>(key, seed, out),
            Self::HmacSha256 => expand::<sha2::Sha256>(key, seed, out),
            Self::HmacSha384 => expand::<sha2::Sha384>(key, seed, out),
            Self::HmacSha512 => expand::<sha2::Sha512>(key, seed, out),
        }
        Ok(())
    }
}

/// A PRF with its key set up once: for HMAC, the hash states after the key's inner and outer
/// pad blocks (RFC 2104 §2), so that each computation under this key skips those two blocks
/// (and, for a key longer than the hash's block, hashing the key). For a key used many times,
/// such as the `prf(PSK, "Key Pad for IKEv2")` every PSK AUTH is keyed with (RFC 7296 §2.15).
///
/// The states are as secret as the key: they are wiped on drop (`sha1` and `sha2` built with
/// their `zeroize` feature, which this crate turns on), and `Debug` shows only the PRF.
#[derive(Clone)]
pub struct KeyedPrf(KeyedHmac);

impl KeyedPrf {
    pub fn prf(&self) -> Prf {
        match self.0.hash() {
            HmacHash::Sha1 => Prf::HmacSha1,
            HmacHash::Sha256 => Prf::HmacSha256,
            HmacHash::Sha384 => Prf::HmacSha384,
            HmacHash::Sha512 => Prf::HmacSha512,
        }
    }

    /// `prf(key, parts[0] | parts[1] | ...)`, the same bytes as [`Prf::compute_inline`].
    pub fn compute_inline(&self, parts: &[&[u8]]) -> PrfOutput {
        let mut out = PrfOutput { bytes: [0; MAX_OUTPUT_LEN], len: 0 };
        out.len = self.compute_into(parts, &mut out.bytes[..]);
        out
    }

    /// `prf(key, parts[0] | parts[1] | ...)` truncated to `out`, as [`Prf::compute_into`].
    pub fn compute_into(&self, parts: &[&[u8]], out: &mut [u8]) -> usize {
        self.0.mac_into(parts, out)
    }
}

impl core::fmt::Debug for KeyedPrf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "KeyedPrf({}, redacted)", self.prf())
    }
}

/// prf+ into `out` (at most 255 blocks, checked by the caller). The key is set up once (an
/// HMAC key costs two hash blocks) and each block finishes into a stack buffer and resets to
/// that keyed state in place (`HmacReset`: a copy of the inner state, not of the whole HMAC
/// with its block buffer, and no move of it into `finalize`); every block but the last is
/// written straight into `out`, so `Tn-1` is read back from there.
fn expand<D>(key: &[u8], seed: &[&[&[u8]]], out: &mut [u8])
where
    D: hmac::EagerHash,
    HmacReset<D>: Mac + KeyInit + FixedOutputReset,
{
    let mut mac = keyed::<HmacReset<D>>(key);
    let block_len = <HmacReset<D> as OutputSizeUser>::output_size();
    let mut block = hmac::digest::Output::<HmacReset<D>>::default();
    let mut filled = 0;
    let mut counter: u8 = 1;
    while filled < out.len() {
        if filled > 0 {
            Mac::update(&mut mac, &out[filled - block_len..filled]);
        }
        for part in seed.iter().flat_map(|group| group.iter()) {
            Mac::update(&mut mac, part);
        }
        Mac::update(&mut mac, &[counter]);
        FixedOutputReset::finalize_into_reset(&mut mac, &mut block);
        let take = block_len.min(out.len() - filled);
        out[filled..filled + take].copy_from_slice(&block[..take]);
        filled += take;
        // At most 255 iterations run (checked by the caller), so the counter never wraps.
        counter = counter.wrapping_add(1);
    }
    block.as_mut_slice().zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prf_plus_rejects_more_than_255_blocks() {
        let err = Prf::HmacSha256.prf_plus(b"k", &[b"s"], 255 * 32 + 1).unwrap_err();
        assert_eq!(err, CryptoError::PrfPlusTooLong { requested: 8161, max: 8160 });
        assert_eq!(Prf::HmacSha256.prf_plus(b"k", &[b"s"], 8160).unwrap().len(), 8160);
    }

    /// prf+ for every PRF against RFC 7296 §2.13 written out with `compute`: T1 = prf(K, S |
    /// 0x01), Tn = prf(K, Tn-1 | S | n), over several blocks and a partial last one, with the
    /// seed given as groups of parts (the reset between blocks must leave nothing behind).
    #[test]
    fn prf_plus_is_the_rfc_7296_chain_for_every_prf() {
        let (key, ni, nr, spis) = (b"a key".as_slice(), [1u8; 32], [2u8; 20], [3u8; 16]);
        let seed: Vec<u8> = [&ni[..], &nr, &spis].concat();
        for prf in Prf::ALL {
            let len = prf.output_len() * 3 + 5;
            let mut want = Vec::new();
            let mut previous = Vec::new();
            for n in 1..=4u8 {
                previous = prf.compute(key, &[&previous, &seed, &[n]]).expose().to_vec();
                want.extend_from_slice(&previous);
            }
            want.truncate(len);
            let mut got = vec![0u8; len];
            prf.prf_plus_into(key, &[&[&ni], &[&nr, &spis]], &mut got).unwrap();
            assert_eq!(got, want, "{prf:?}");
        }
    }

    #[test]
    fn prf_plus_first_block_is_prf_of_seed_and_one() {
        let key = b"key";
        let t1 = Prf::HmacSha256.compute(key, &[b"seed", &[1]]);
        let t2 = Prf::HmacSha256.compute(key, &[t1.expose(), b"seed", &[2]]);
        let out = Prf::HmacSha256.prf_plus(key, &[b"se", b"ed"], 40).unwrap();
        assert_eq!(&out.expose()[..32], t1.expose());
        assert_eq!(&out.expose()[32..], &t2.expose()[..8]);
        // Groups of parts are one seed, whichever way it is cut.
        let mut into = [0u8; 40];
        Prf::HmacSha256.prf_plus_into(key, &[&[b"s"], &[], &[b"e", b"ed"]], &mut into).unwrap();
        assert_eq!(&into, out.expose());
        let mut too_long = vec![0u8; 255 * 32 + 1];
        let err = Prf::HmacSha256.prf_plus_into(key, &[], &mut too_long).unwrap_err();
        assert_eq!(err, CryptoError::PrfPlusTooLong { requested: 8161, max: 8160 });
    }

    #[test]
    fn compute_inline_gives_the_same_bytes_as_compute() {
        for prf in Prf::ALL {
            let inline = prf.compute_inline(b"key", &[b"par", b"ts"]);
            assert_eq!(inline.expose(), prf.compute(b"key", &[b"parts"]).expose(), "{prf}");
            assert_eq!(inline.expose().len(), prf.output_len());
            assert!(prf.output_len() <= MAX_OUTPUT_LEN);
        }
        let shown = format!("{:?}", Prf::HmacSha256.compute_inline(b"k", &[]));
        assert_eq!(shown, "PrfOutput(32 bytes, redacted)");
    }

    #[test]
    fn keyed_prf_gives_the_same_bytes_as_compute_every_time() {
        for prf in Prf::ALL {
            // A key longer than SHA-512's block too, which HMAC hashes first.
            for key in [&b"key"[..], &[0x5a; 200]] {
                let keyed = prf.keyed(key);
                assert_eq!(keyed.prf(), prf);
                for parts in [&[&b"par"[..], b"ts"][..], &[b"other parts"], &[]] {
                    let once = prf.compute(key, parts);
                    assert_eq!(keyed.compute_inline(parts).expose(), once.expose(), "{prf}");
                    let mut short = [0u8; 16];
                    assert_eq!(keyed.compute_into(parts, &mut short), 16);
                    assert_eq!(&short, &once.expose()[..16]);
                }
            }
        }
        let shown = format!("{:?}", Prf::HmacSha384.keyed(b"k"));
        assert_eq!(shown, "KeyedPrf(PRF-HMAC-SHA2-384, redacted)");
    }

    #[test]
    fn iana_ids_round_trip() {
        for prf in Prf::ALL {
            assert_eq!(Prf::from_iana_id(prf.iana_id()), Some(prf));
        }
        assert_eq!(Prf::from_iana_id(4), None, "AES128_XCBC is not implemented");
    }
}
