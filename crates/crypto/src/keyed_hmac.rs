//! An HMAC keyed once, over the hashes IKE and ESP name: what a PRF used many times under one
//! key ([`crate::KeyedPrf`]) and an integrity transform's key ([`crate::IntegrityKey`]) hold.

use hmac::{Hmac, KeyInit, Mac};
use zeroize::Zeroize;

/// The hash under an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HmacHash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

/// The hash states after the key's inner and outer pad blocks (RFC 2104 §2): each MAC starts
/// from a copy of them, skipping those two blocks (and the hashing of a key longer than a
/// block). They are as secret as the key and wipe themselves on drop (`sha1` and `sha2` built
/// with their `zeroize` feature, which this crate turns on and checks in `prf.rs`).
#[derive(Clone)]
pub(crate) enum KeyedHmac {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha384(Hmac<sha2::Sha384>),
    Sha512(Hmac<sha2::Sha512>),
}

impl KeyedHmac {
    pub(crate) fn new(hash: HmacHash, key: &[u8]) -> Self {
        match hash {
            HmacHash::Sha1 => Self::Sha1(keyed(key)),
            HmacHash::Sha256 => Self::Sha256(keyed(key)),
            HmacHash::Sha384 => Self::Sha384(keyed(key)),
            HmacHash::Sha512 => Self::Sha512(keyed(key)),
        }
    }

    pub(crate) fn hash(&self) -> HmacHash {
        match self {
            Self::Sha1(_) => HmacHash::Sha1,
            Self::Sha256(_) => HmacHash::Sha256,
            Self::Sha384(_) => HmacHash::Sha384,
            Self::Sha512(_) => HmacHash::Sha512,
        }
    }

    /// The MAC of `parts` concatenated, as much of it as `out` takes; the count is returned.
    pub(crate) fn mac_into(&self, parts: &[&[u8]], out: &mut [u8]) -> usize {
        match self {
            Self::Sha1(m) => finish(m.clone(), parts, out),
            Self::Sha256(m) => finish(m.clone(), parts, out),
            Self::Sha384(m) => finish(m.clone(), parts, out),
            Self::Sha512(m) => finish(m.clone(), parts, out),
        }
    }

    /// Whether `tag` is the MAC of `parts` truncated to its length, compared in constant time.
    pub(crate) fn verify_truncated(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        fn run<M: Mac + Clone>(m: &M, parts: &[&[u8]], tag: &[u8]) -> bool {
            let mut m = m.clone();
            for p in parts {
                m.update(p);
            }
            m.verify_truncated_left(tag).is_ok()
        }
        match self {
            Self::Sha1(m) => run(m, parts, tag),
            Self::Sha256(m) => run(m, parts, tag),
            Self::Sha384(m) => run(m, parts, tag),
            Self::Sha512(m) => run(m, parts, tag),
        }
    }
}

/// An HMAC keyed with `key`.
pub(crate) fn keyed<M: Mac + KeyInit>(key: &[u8]) -> M {
    // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
    <M as KeyInit>::new_from_slice(key).expect("HMAC takes any key length")
}

/// Feeds `parts` to a keyed HMAC and writes as much of the tag as `out` takes; the count is
/// returned, and the tag's copy on the stack is wiped.
pub(crate) fn finish<M: Mac>(mut mac: M, parts: &[&[u8]], out: &mut [u8]) -> usize {
    for part in parts {
        mac.update(part);
    }
    let mut tag = mac.finalize().into_bytes();
    let n = tag.len().min(out.len());
    out[..n].copy_from_slice(&tag[..n]);
    tag.as_mut_slice().zeroize();
    n
}
