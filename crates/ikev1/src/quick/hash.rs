//! The HASH payloads that authenticate every exchange after phase 1 (RFC 2409 §5.5, §5.7;
//! draft-dukes-ike-mode-cfg §5; RFC 3706 §5).
//!
//! Each is `prf(SKEYID_a, ...)` over the message ID and the exact bytes that follow the HASH
//! payload (their generic headers included), so a receiver hashes what it was sent, not a
//! re-encoding of it.

use ikeway_crypto::{Prf, SecretBytes};
use subtle::ConstantTimeEq;

/// `SKEYID_a` with its PRF: what every post-phase-1 HASH is keyed with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HashKey<'a> {
    pub prf: Prf,
    pub skeyid_a: &'a [u8],
}

impl HashKey<'_> {
    /// Quick Mode HASH(1), and the one HASH of informational and transaction exchanges:
    /// `prf(SKEYID_a, M-ID | rest of the message)`.
    pub(crate) fn message(&self, message_id: u32, rest: &[u8]) -> SecretBytes {
        self.prf.compute(self.skeyid_a, &[&message_id.to_be_bytes(), rest])
    }

    /// Quick Mode HASH(2): `prf(SKEYID_a, M-ID | Ni_b | rest of the message)`.
    pub(crate) fn quick2(&self, message_id: u32, ni_b: &[u8], rest: &[u8]) -> SecretBytes {
        self.prf.compute(self.skeyid_a, &[&message_id.to_be_bytes(), ni_b, rest])
    }

    /// Quick Mode HASH(3): `prf(SKEYID_a, 0 | M-ID | Ni_b | Nr_b)`.
    pub(crate) fn quick3(&self, message_id: u32, ni_b: &[u8], nr_b: &[u8]) -> SecretBytes {
        self.prf.compute(self.skeyid_a, &[&[0], &message_id.to_be_bytes(), ni_b, nr_b])
    }
}

/// Compares a received HASH with the expected one without leaking where they differ.
pub(crate) fn hash_matches(expected: &SecretBytes, received: &[u8]) -> bool {
    expected.len() == received.len() && bool::from(expected.expose().ct_eq(received))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: HashKey<'static> = HashKey { prf: Prf::HmacSha256, skeyid_a: b"skeyid_a" };

    // Known answers from Python: hmac.new(b"skeyid_a", data, hashlib.sha256).hexdigest()
    #[test]
    fn hashes_match_an_independent_computation() {
        let mid = 0x0102_0304;
        assert_eq!(hex(KEY.message(mid, b"payloads").expose()), KAT_HASH1);
        assert_eq!(hex(KEY.quick2(mid, b"nonce-i", b"payloads").expose()), KAT_HASH2);
        assert_eq!(hex(KEY.quick3(mid, b"nonce-i", b"nonce-r").expose()), KAT_HASH3);
    }

    #[test]
    fn a_hash_of_other_length_or_content_does_not_match() {
        let expected = KEY.message(1, b"x");
        assert!(hash_matches(&expected, expected.expose()));
        assert!(!hash_matches(&expected, &expected.expose()[..31]));
        let mut flipped = expected.expose().to_vec();
        flipped[31] ^= 1;
        assert!(!hash_matches(&expected, &flipped));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    const KAT_HASH1: &str = "8500ac85598bd40507ff82d28475245fc1d2e2d4d6a80f437ce95b84a79620f3";
    const KAT_HASH2: &str = "d1ad15e20fc9b5b20efa2a62e5c73547e0e013d0b326f3d0b3adb26a11a88415";
    const KAT_HASH3: &str = "6a15f998a6295018ef2ecba0f7d627a5f310d9fcadab9c4eab94d394daa03155";
}
