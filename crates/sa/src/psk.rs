//! A pre-shared key and the key every shared key MIC is made with (RFC 7296 §2.15):
//! `AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)`.
//!
//! The inner `prf(PSK, "Key Pad for IKEv2")` depends only on the PSK and the PRF, yet every
//! AUTH made or checked computed it again (four times per handshake, both sides counted), and
//! keyed an HMAC with it again. [`PresharedKey`] keeps, per PRF, that HMAC keyed once.

use std::sync::{Arc, OnceLock};

use ikeway_crypto::{KeyedPrf, Prf, SecretBytes};

/// RFC 7296 §2.15: the PSK is first keyed with this pad so that it is never used directly.
const KEY_PAD: &[u8] = b"Key Pad for IKEv2";

/// `prf(prf(key, "Key Pad for IKEv2"), ...)` keyed and ready: what a shared key MIC is
/// computed with, from a PSK or from EAP's MSK (or SK_p) alike (RFC 7296 §2.15, §2.16).
pub(crate) fn padded(prf: Prf, key: &[u8]) -> KeyedPrf {
    prf.keyed(prf.compute_inline(key, &[KEY_PAD]).expose())
}

/// A pre-shared key (AUTH method 2), wiped on drop and printed as its length only.
///
/// The first AUTH under each PRF computes `prf(PSK, "Key Pad for IKEv2")` and keeps the PRF
/// keyed with it (HMAC's inner and outer states, wiped on drop like the key: see
/// [`KeyedPrf`]); later AUTHs start from a copy of those states instead of making them again
/// from the PSK: six hash blocks fewer per AUTH with an HMAC-SHA2 PRF and a PSK no longer
/// than its block (keying with the PSK, two; the pad's MAC, two more; keying with that, two).
/// Clones share the key and what was computed from it, so the configuration of every SA of a
/// responder keys each PRF once. Reading takes no lock: a `OnceLock` per PRF, which blocks
/// only callers racing for its first computation.
#[derive(Clone)]
pub struct PresharedKey(Arc<Inner>);

struct Inner {
    secret: SecretBytes,
    /// Per PRF, in [`Prf::ALL`] order. Boxed: a keyed HMAC-SHA2-512 is about 300 bytes and
    /// a configuration uses one PRF or two of the four.
    padded: [OnceLock<Box<KeyedPrf>>; Prf::ALL.len()],
}

impl PresharedKey {
    pub fn new(secret: SecretBytes) -> Self {
        Self(Arc::new(Inner { secret, padded: Default::default() }))
    }

    /// The key's bytes. Callers must not copy them into storage that outlives this value
    /// unwiped.
    pub fn expose(&self) -> &[u8] {
        self.0.secret.expose()
    }

    pub fn secret(&self) -> &SecretBytes {
        &self.0.secret
    }

    /// `prf` keyed with `prf(PSK, "Key Pad for IKEv2")`, computed the first time it is asked.
    pub(crate) fn padded(&self, prf: Prf) -> &KeyedPrf {
        let slot = Prf::ALL.iter().position(|p| *p == prf).expect("Prf::ALL lists every PRF");
        self.0.padded[slot].get_or_init(|| Box::new(padded(prf, self.expose())))
    }
}

impl From<SecretBytes> for PresharedKey {
    fn from(secret: SecretBytes) -> Self {
        Self::new(secret)
    }
}

impl core::fmt::Debug for PresharedKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PresharedKey({} bytes, redacted)", self.expose().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7296 §2.15 computed from the PSK each time, against the kept keyed PRF, for every
    /// PRF and for a PSK longer than the hash blocks; the keyed PRF is made once per PRF and
    /// shared by clones.
    #[test]
    fn padded_is_prf_of_the_key_pad_and_made_once_per_prf() {
        for secret in [&b"correct horse battery staple"[..], &[0x42; 300]] {
            let psk = PresharedKey::new(SecretBytes::from_slice(secret));
            let clone = psk.clone();
            for prf in Prf::ALL {
                let inner = prf.compute(secret, &[b"Key Pad for IKEv2"]);
                let expected = prf.compute(inner.expose(), &[b"signed octets"]);
                let kept = psk.padded(prf);
                assert_eq!(kept.prf(), prf);
                assert_eq!(kept.compute_inline(&[b"signed octets"]).expose(), expected.expose());
                assert!(std::ptr::eq(kept, psk.padded(prf)), "computed once");
                assert!(std::ptr::eq(kept, clone.padded(prf)), "shared by clones");
            }
        }
    }

    #[test]
    fn debug_shows_only_the_length() {
        let psk = PresharedKey::from(SecretBytes::from_slice(b"a pre-shared key"));
        let _ = psk.padded(Prf::HmacSha256);
        assert_eq!(format!("{psk:?}"), "PresharedKey(16 bytes, redacted)");
    }
}
