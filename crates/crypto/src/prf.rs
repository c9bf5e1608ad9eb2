//! Pseudorandom functions and prf+ (RFC 7296 §2.13, RFC 4868 §2.1.2).

use hmac::digest::OutputSizeUser;
use hmac::{Hmac, KeyInit, Mac};
use zeroize::{Zeroize, Zeroizing};

use crate::{CryptoError, SecretBytes};

/// The longest PRF output: HMAC-SHA2-512's.
pub(crate) const MAX_OUTPUT_LEN: usize = 64;

/// One PRF output, inline and wiped on drop; `Debug` shows only its length.
pub struct PrfOutput {
    bytes: Zeroizing<[u8; MAX_OUTPUT_LEN]>,
    len: usize,
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
        let mut out = PrfOutput { bytes: Zeroizing::new([0; MAX_OUTPUT_LEN]), len: 0 };
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
        fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]], out: &mut [u8]) -> usize {
            // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
            let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
            for part in parts {
                mac.update(part);
            }
            let tag = mac.finalize().into_bytes();
            let n = tag.len().min(out.len());
            out[..n].copy_from_slice(&tag[..n]);
            n
        }
        match self {
            Self::HmacSha1 => run::<Hmac<sha1::Sha1>>(key, parts, out),
            Self::HmacSha256 => run::<Hmac<sha2::Sha256>>(key, parts, out),
            Self::HmacSha384 => run::<Hmac<sha2::Sha384>>(key, parts, out),
            Self::HmacSha512 => run::<Hmac<sha2::Sha512>>(key, parts, out),
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
        let buf = out.expose_mut();
        match self {
            Self::HmacSha1 => expand::<Hmac<sha1::Sha1>>(key, seed, buf),
            Self::HmacSha256 => expand::<Hmac<sha2::Sha256>>(key, seed, buf),
            Self::HmacSha384 => expand::<Hmac<sha2::Sha384>>(key, seed, buf),
            Self::HmacSha512 => expand::<Hmac<sha2::Sha512>>(key, seed, buf),
        }
        Ok(out)
    }
}

/// prf+ into `out` (at most 255 blocks, checked by the caller). The key is set up once (an
/// HMAC key costs two hash blocks) and each block starts from a copy of that keyed state; every
/// block but the last is written straight into `out`, so `Tn-1` is read back from there.
fn expand<M: Mac + KeyInit + Clone>(key: &[u8], seed: &[&[u8]], out: &mut [u8]) {
    // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
    let keyed = <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
    let block_len = <M as OutputSizeUser>::output_size();
    let mut filled = 0;
    let mut counter: u8 = 1;
    while filled < out.len() {
        let mut mac = keyed.clone();
        if filled > 0 {
            mac.update(&out[filled - block_len..filled]);
        }
        for part in seed {
            mac.update(part);
        }
        mac.update(&[counter]);
        let mut block = mac.finalize().into_bytes();
        let take = block_len.min(out.len() - filled);
        out[filled..filled + take].copy_from_slice(&block[..take]);
        block.as_mut_slice().zeroize();
        filled += take;
        // At most 255 iterations run (checked by the caller), so the counter never wraps.
        counter = counter.wrapping_add(1);
    }
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

    #[test]
    fn prf_plus_first_block_is_prf_of_seed_and_one() {
        let key = b"key";
        let t1 = Prf::HmacSha256.compute(key, &[b"seed", &[1]]);
        let t2 = Prf::HmacSha256.compute(key, &[t1.expose(), b"seed", &[2]]);
        let out = Prf::HmacSha256.prf_plus(key, &[b"se", b"ed"], 40).unwrap();
        assert_eq!(&out.expose()[..32], t1.expose());
        assert_eq!(&out.expose()[32..], &t2.expose()[..8]);
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
    fn iana_ids_round_trip() {
        for prf in Prf::ALL {
            assert_eq!(Prf::from_iana_id(prf.iana_id()), Some(prf));
        }
        assert_eq!(Prf::from_iana_id(4), None, "AES128_XCBC is not implemented");
    }
}
