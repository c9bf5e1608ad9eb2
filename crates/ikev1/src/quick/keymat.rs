//! Quick Mode key material (RFC 2409 §5.5).
//!
//! Each direction of an IPsec SA has its own KEYMAT, keyed by the SPI the *receiving* side
//! chose, so both peers compute the same keys for a direction without saying which is which:
//! `KEYMAT = K1 | K2 | ...` with `K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)`
//! and `Kn = prf(SKEYID_d, Kn-1 | [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)`. The nonces are
//! always the initiator's first, whichever side computes.

use ikeway_crypto::keys::DirectionKeys;
use ikeway_crypto::{Prf, SecretBytes, Suite};

/// IPsec DOI protocol ID of ESP (RFC 2407 §4.4.1), the `protocol` octet of KEYMAT.
pub(crate) const PROTO_IPSEC_ESP: u8 = 3;

/// The longest KEYMAT any ESP suite needs is 64 (HMAC-SHA2-512 key) + 36 (AES-256-CTR/GCM key
/// and salt) bytes; a bound keeps a bad length from looping.
const MAX_KEYMAT_LEN: usize = 256;

/// The shared secret of Quick Mode's optional KE exchange (PFS) and the two nonce bodies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeymatInput<'a> {
    pub prf: Prf,
    pub skeyid_d: &'a [u8],
    pub pfs_secret: Option<&'a [u8]>,
    pub ni_b: &'a [u8],
    pub nr_b: &'a [u8],
}

/// `len` bytes of expanded KEYMAT for the SA whose receiver chose `spi`; `None` past
/// [`MAX_KEYMAT_LEN`].
pub(crate) fn keymat(input: &KeymatInput<'_>, spi: u32, len: usize) -> Option<SecretBytes> {
    if len > MAX_KEYMAT_LEN {
        return None;
    }
    let spi = spi.to_be_bytes();
    let protocol = [PROTO_IPSEC_ESP];
    let mut out = SecretBytes::zeroed(len);
    let mut previous = SecretBytes::default();
    let mut filled = 0;
    while filled < len {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(6);
        if !previous.is_empty() {
            parts.push(previous.expose());
        }
        if let Some(secret) = input.pfs_secret {
            parts.push(secret);
        }
        parts.extend_from_slice(&[&protocol, &spi, input.ni_b, input.nr_b]);
        let block = input.prf.compute(input.skeyid_d, &parts);
        let take = block.len().min(len - filled);
        out.expose_mut()[filled..filled + take].copy_from_slice(&block.expose()[..take]);
        filled += take;
        previous = block;
    }
    Some(out)
}

/// The keys of the direction whose receiver chose `spi`: the encryption key (salt included)
/// first, then the integrity key, as the Linux XFRM and strongSwan cut them.
pub(crate) fn direction_keys(
    input: &KeymatInput<'_>,
    suite: &Suite,
    spi: u32,
) -> Option<DirectionKeys> {
    let encryption = suite.encryption_key_len();
    let mut all = keymat(input, spi, encryption + suite.integrity_key_len())?;
    let encryption = all.split_off_front(encryption);
    Some(DirectionKeys { encryption, integrity: all })
}

#[cfg(test)]
mod tests {
    use ikeway_crypto::{AeadAlgorithm, BlockCipher, Encryption, Integrity};

    use super::*;

    const NI: [u8; 16] = [0x11; 16];
    const NR: [u8; 16] = [0x22; 16];

    fn input(pfs: Option<&'static [u8]>) -> KeymatInput<'static> {
        KeymatInput {
            prf: Prf::HmacSha1,
            skeyid_d: b"skeyid_d",
            pfs_secret: pfs,
            ni_b: &NI,
            nr_b: &NR,
        }
    }

    // Known answers from an independent computation (Python's hmac module):
    // k1 = HMAC-SHA1(b"skeyid_d", [gxy] + b"\x03" + spi + ni + nr); k2 = HMAC-SHA1(.., k1 + ...)
    #[test]
    fn keymat_without_pfs_matches_an_independent_computation() {
        let got = keymat(&input(None), 0xc0ff_ee01, 40).unwrap();
        assert_eq!(hex(got.expose()), KAT_NO_PFS);
    }

    #[test]
    fn keymat_with_pfs_puts_the_shared_secret_after_the_previous_block() {
        let got = keymat(&input(Some(b"g(qm)^xy")), 0xc0ff_ee01, 40).unwrap();
        assert_eq!(hex(got.expose()), KAT_PFS);
    }

    #[test]
    fn each_direction_is_keyed_by_its_own_spi() {
        let a = keymat(&input(None), 0x1000, 20).unwrap();
        let b = keymat(&input(None), 0x1001, 20).unwrap();
        assert_ne!(a.expose(), b.expose());
    }

    #[test]
    fn direction_keys_cut_encryption_then_integrity() {
        let suite = Suite::new(
            Encryption::Cipher(BlockCipher::AesCbc { key_bits: 128 }),
            Some(Integrity::HmacSha256_128),
        )
        .unwrap();
        let keys = direction_keys(&input(None), &suite, 0xc0ff_ee01).unwrap();
        let all = keymat(&input(None), 0xc0ff_ee01, 48).unwrap();
        assert_eq!(keys.encryption.expose(), &all.expose()[..16]);
        assert_eq!(keys.integrity.expose(), &all.expose()[16..]);

        let gcm = Suite::new(Encryption::Aead(AeadAlgorithm::AES256_GCM16), None).unwrap();
        let keys = direction_keys(&input(None), &gcm, 7).unwrap();
        assert_eq!((keys.encryption.len(), keys.integrity.len()), (36, 0));
    }

    #[test]
    fn refuses_an_unbounded_length() {
        assert!(keymat(&input(None), 1, MAX_KEYMAT_LEN + 1).is_none());
        assert_eq!(keymat(&input(None), 1, MAX_KEYMAT_LEN).unwrap().len(), MAX_KEYMAT_LEN);
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    const KAT_NO_PFS: &str =
        "a5c778f7d02cb57f873f3b16e56cc4043811370c9fce0d93ba79e932da975fb19affc4a63a37391c";
    const KAT_PFS: &str =
        "bc8f6f6c634be13ad4170d26e833f1d083c783428d4661a5ba86f2aff21aa03b24ee1f636f81a39b";
}
