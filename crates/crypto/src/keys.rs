//! The IKE SA key schedule and child SA key material (RFC 7296 §2.14, §2.17, §2.18), with the
//! key updates of additional key exchanges (RFC 9370) and PPK mixing (RFC 8784).
//!
//! The order an IKE SA's keys go through, when everything is negotiated:
//! 1. IKE_SA_INIT: [`skeyseed`] from g^ir, then [`derive_ike_keys`] -> SK_*(0);
//! 2. each IKE_INTERMEDIATE carrying ADDKE(n): [`intermediate_skeyseed`] from SK_d(n-1) and
//!    that exchange's secret SK(n), then [`derive_ike_keys`] with the IKE_SA_INIT nonces and
//!    SPIs -> SK_*(n) (RFC 9370 §2.2.2);
//! 3. with a PPK: [`ppk_mix`] on the final SK_d, SK_pi and SK_pr (RFC 8784 §3), before AUTH;
//! 4. CREATE_CHILD_SA, with every secret of the exchange in order (the KE payload's, then
//!    each IKE_FOLLOWUP_KE's): [`child_keymat_with_secrets`] for a child SA,
//!    [`rekey_skeyseed_with_secrets`] for the new IKE SA (RFC 9370 §2.2.4).
//!
//! `crates/crypto/tests/data/rfc9370_worked_example.py` computes all of these independently;
//! `crates/crypto/tests/rfc9370_worked_example.rs` checks these functions give its bytes.

use zeroize::Zeroize;

use crate::{CryptoError, Prf, SecretBytes};

/// How long each IKE SA key is, decided by the negotiated transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IkeKeyLengths {
    /// SK_ai / SK_ar: the integrity key length (0 with an AEAD cipher).
    pub integrity: usize,
    /// SK_ei / SK_er: the encryption key length including any salt or nonce bytes
    /// (RFC 5282 §7.1, RFC 5930 §2, RFC 7634 §2).
    pub encryption: usize,
}

/// The seven IKE SA secrets (RFC 7296 §2.14). All are wiped on drop.
#[derive(Debug, Clone)]
pub struct IkeSaKeys {
    pub sk_d: SecretBytes,
    pub sk_ai: SecretBytes,
    pub sk_ar: SecretBytes,
    pub sk_ei: SecretBytes,
    pub sk_er: SecretBytes,
    pub sk_pi: SecretBytes,
    pub sk_pr: SecretBytes,
}

/// `SKEYSEED = prf(Ni | Nr, g^ir)` for a new IKE SA (RFC 7296 §2.14).
pub fn skeyseed(prf: Prf, ni: &[u8], nr: &[u8], shared_secret: &[u8]) -> SecretBytes {
    // The concatenated nonces are the key; held as a secret so they are wiped too (inline for
    // nonces of up to 32 bytes each).
    let mut key = SecretBytes::zeroed(ni.len() + nr.len());
    let (i, r) = key.expose_mut().split_at_mut(ni.len());
    i.copy_from_slice(ni);
    r.copy_from_slice(nr);
    prf.compute(key.expose(), &[shared_secret])
}

/// `SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr)` when rekeying an IKE SA (RFC 7296 §2.18).
pub fn rekey_skeyseed(
    prf: Prf,
    old_sk_d: &[u8],
    shared_secret: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> SecretBytes {
    rekey_skeyseed_with_secrets(prf, old_sk_d, &[shared_secret], ni, nr)
}

/// `SKEYSEED = prf(SK_d (old), g^ir (new) | SK(1) | ... | SK(n) | Ni | Nr)`: an IKE SA rekey
/// with additional key exchanges (RFC 9370 §2.2.4). `shared_secrets` is g^ir from the
/// CREATE_CHILD_SA KE payload then each IKE_FOLLOWUP_KE's secret, in exchange order; Ni and
/// Nr are the CREATE_CHILD_SA nonces. With one secret this is [`rekey_skeyseed`]. The new
/// IKE SA's keys then come from [`derive_ike_keys`] with the new nonces and SPIs.
pub fn rekey_skeyseed_with_secrets(
    prf: Prf,
    old_sk_d: &[u8],
    shared_secrets: &[&[u8]],
    ni: &[u8],
    nr: &[u8],
) -> SecretBytes {
    let mut parts: Vec<&[u8]> = Vec::with_capacity(shared_secrets.len() + 2);
    parts.extend_from_slice(shared_secrets);
    parts.push(ni);
    parts.push(nr);
    prf.compute(old_sk_d, &parts)
}

/// `SKEYSEED(n) = prf(SK_d(n-1), SK(n) | Ni | Nr)`: the key update after the IKE_INTERMEDIATE
/// exchange that carries additional key exchange n (RFC 9370 §2.2.2).
///
/// - `sk_d_prev` is SK_d(n-1): SK_d from IKE_SA_INIT for n = 1, else from the previous update;
/// - `shared_secret` is SK(n), the secret of this exchange (for ML-KEM, the 32-byte K);
/// - `ni`, `nr` are the nonces of IKE_SA_INIT (IKE_INTERMEDIATE has none of its own).
///
/// Feed the result to [`derive_ike_keys`] with the same nonces and the IKE SA's SPIs to get
/// every SK_*(n); all seven keys are replaced, and the next IKE_INTERMEDIATE message is
/// already protected with the new SK_e/SK_a.
pub fn intermediate_skeyseed(
    prf: Prf,
    sk_d_prev: &[u8],
    shared_secret: &[u8],
    ni: &[u8],
    nr: &[u8],
) -> SecretBytes {
    prf.compute(sk_d_prev, &[shared_secret, ni, nr])
}

/// Expands SKEYSEED into the seven IKE SA keys:
/// `{SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr} = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)`.
pub fn derive_ike_keys(
    prf: Prf,
    skeyseed: &[u8],
    ni: &[u8],
    nr: &[u8],
    spi_i: u64,
    spi_r: u64,
    lengths: IkeKeyLengths,
) -> Result<IkeSaKeys, CryptoError> {
    let prf_len = prf.output_len();
    let total = 3 * prf_len + 2 * lengths.integrity + 2 * lengths.encryption;
    let seed: [&[u8]; 4] = [ni, nr, &spi_i.to_be_bytes(), &spi_r.to_be_bytes()];
    with_keymat(prf, skeyseed, &[&seed], total, |keys| IkeSaKeys {
        sk_d: keys.next_key(prf_len),
        sk_ai: keys.next_key(lengths.integrity),
        sk_ar: keys.next_key(lengths.integrity),
        sk_ei: keys.next_key(lengths.encryption),
        sk_er: keys.next_key(lengths.encryption),
        sk_pi: keys.next_key(prf_len),
        sk_pr: keys.next_key(prf_len),
    })
}

/// Key material cut into keys as soon as it is made: prf+ (`prf`, `key`, `seed`) expands `len`
/// bytes on the stack when they fit (every suite we negotiate: the IKE SA keys of the longest
/// take 3 x 64 + 2 x 64 + 2 x 36 = 392 bytes, a child SA's at most 2 x (36 + 64)), else on
/// the heap, and `cut` copies each key into its own (inline) `SecretBytes`, so deriving a set
/// of keys allocates nothing. The buffer stays in this frame (a value holding it, returned,
/// was copied whole: measured) and its `len` bytes are wiped when `cut` returns or unwinds.
fn with_keymat<R>(
    prf: Prf,
    key: &[u8],
    seed: &[&[&[u8]]],
    len: usize,
    cut: impl FnOnce(&mut KeyCutter<'_>) -> R,
) -> Result<R, CryptoError> {
    let mut stack = [0u8; KEYMAT_ON_STACK];
    let mut heap;
    let out = if len <= KEYMAT_ON_STACK {
        &mut stack[..len]
    } else {
        heap = SecretBytes::zeroed(len);
        heap.expose_mut()
    };
    let material = WipedOnDrop(out);
    prf.prf_plus_into(key, seed, material.0)?;
    Ok(cut(&mut KeyCutter { rest: material.0 }))
}

const KEYMAT_ON_STACK: usize = 512;

/// Wipes the bytes it borrows when dropped, unwinding included.
struct WipedOnDrop<'a>(&'a mut [u8]);

impl Drop for WipedOnDrop<'_> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Takes keys off the front of the key material of [`with_keymat`] in order.
struct KeyCutter<'a> {
    rest: &'a [u8],
}

impl KeyCutter<'_> {
    /// # Panics
    /// If fewer than `len` bytes are left; the callers expand exactly what they cut.
    fn next_key(&mut self, len: usize) -> SecretBytes {
        let (key, rest) = self.rest.split_at(len);
        self.rest = rest;
        SecretBytes::from_slice(key)
    }
}

/// RFC 8784 §3: one of SK_d, SK_pi, SK_pr mixed with a post-quantum preshared key:
/// `SK' = prf+(PPK, SK)`, as long as the PRF's preferred key (its output, for the HMAC PRFs).
/// Called once per key, after every other update of the IKE SA keys (IKE_INTERMEDIATE
/// included) and before the AUTH payloads are computed.
pub fn ppk_mix(prf: Prf, ppk: &[u8], key: &[u8]) -> Result<SecretBytes, CryptoError> {
    prf.prf_plus(ppk, &[key], prf.output_len())
}

/// Child SA key material: `KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr)` (RFC 7296 §2.17).
///
/// Keys are taken from KEYMAT in the order: initiator-to-responder encryption, then integrity,
/// then the same for responder-to-initiator; [`ChildKeys::split`] does that.
pub fn child_keymat(
    prf: Prf,
    sk_d: &[u8],
    pfs_shared_secret: Option<&[u8]>,
    ni: &[u8],
    nr: &[u8],
    len: usize,
) -> Result<SecretBytes, CryptoError> {
    child_keymat_with_secrets(prf, sk_d, pfs_shared_secret.as_slice(), ni, nr, len)
}

/// Child SA key material with additional key exchanges (RFC 9370 §2.2.4):
/// `KEYMAT = prf+(SK_d, g^ir (new) | SK(1) | ... | SK(n) | Ni | Nr)`.
///
/// `shared_secrets` holds every secret of the CREATE_CHILD_SA exchange in order: g^ir from
/// its KE payload, then the secret of each IKE_FOLLOWUP_KE exchange. Empty means no PFS
/// (plain `prf+(SK_d, Ni | Nr)`), one secret is [`child_keymat`] with PFS. Ni and Nr are the
/// CREATE_CHILD_SA nonces (or the IKE_SA_INIT ones for the first child SA, which has no key
/// exchange of its own).
pub fn child_keymat_with_secrets(
    prf: Prf,
    sk_d: &[u8],
    shared_secrets: &[&[u8]],
    ni: &[u8],
    nr: &[u8],
    len: usize,
) -> Result<SecretBytes, CryptoError> {
    let mut keymat = SecretBytes::zeroed(len);
    prf.prf_plus_into(sk_d, &[shared_secrets, &[ni, nr]], keymat.expose_mut())?;
    Ok(keymat)
}

/// One direction's keys of a child SA.
#[derive(Debug, Clone)]
pub struct DirectionKeys {
    /// Encryption key including salt/nonce bytes.
    pub encryption: SecretBytes,
    pub integrity: SecretBytes,
}

/// Both directions' child SA keys, cut from KEYMAT (RFC 7296 §2.17).
#[derive(Debug, Clone)]
pub struct ChildKeys {
    pub initiator_to_responder: DirectionKeys,
    pub responder_to_initiator: DirectionKeys,
}

impl ChildKeys {
    /// KEYMAT length needed for the given per-direction key lengths.
    pub fn keymat_len(encryption: usize, integrity: usize) -> usize {
        2 * (encryption + integrity)
    }

    /// [`child_keymat_with_secrets`] cut into keys ([`ChildKeys::split`]) without a buffer
    /// of its own on the heap: the child SA keys of a handshake or CREATE_CHILD_SA.
    #[allow(clippy::too_many_arguments)] // the PRF inputs of RFC 7296 §2.17, then the layout
    pub fn derive(
        prf: Prf,
        sk_d: &[u8],
        shared_secrets: &[&[u8]],
        ni: &[u8],
        nr: &[u8],
        encryption: usize,
        integrity: usize,
    ) -> Result<Self, CryptoError> {
        let len = Self::keymat_len(encryption, integrity);
        with_keymat(prf, sk_d, &[shared_secrets, &[ni, nr]], len, |keys| {
            let mut direction = || DirectionKeys {
                encryption: keys.next_key(encryption),
                integrity: keys.next_key(integrity),
            };
            let initiator_to_responder = direction();
            let responder_to_initiator = direction();
            Self { initiator_to_responder, responder_to_initiator }
        })
    }

    /// Cuts KEYMAT into keys.
    ///
    /// # Panics
    /// If `keymat` is shorter than [`ChildKeys::keymat_len`]; it must come from
    /// [`child_keymat`] called with that length.
    pub fn split(mut keymat: SecretBytes, encryption: usize, integrity: usize) -> Self {
        assert!(keymat.len() >= Self::keymat_len(encryption, integrity), "KEYMAT too short");
        let ei = keymat.split_off_front(encryption);
        let ai = keymat.split_off_front(integrity);
        let er = keymat.split_off_front(encryption);
        let ar = keymat.split_off_front(integrity);
        Self {
            initiator_to_responder: DirectionKeys { encryption: ei, integrity: ai },
            responder_to_initiator: DirectionKeys { encryption: er, integrity: ar },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ike_keys_are_consecutive_slices_of_prf_plus() {
        let lengths = IkeKeyLengths { integrity: 32, encryption: 36 };
        let keys = derive_ike_keys(Prf::HmacSha256, b"seed", b"ni", b"nr", 1, 2, lengths).unwrap();
        let all = Prf::HmacSha256
            .prf_plus(
                b"seed",
                &[b"ninr", &1u64.to_be_bytes(), &2u64.to_be_bytes()],
                32 * 3 + 64 + 72,
            )
            .unwrap();
        let joined: Vec<u8> = [
            &keys.sk_d,
            &keys.sk_ai,
            &keys.sk_ar,
            &keys.sk_ei,
            &keys.sk_er,
            &keys.sk_pi,
            &keys.sk_pr,
        ]
        .iter()
        .flat_map(|k| k.expose().to_vec())
        .collect();
        assert_eq!(joined, all.expose());
        assert_eq!(keys.sk_ei.len(), 36);
        assert_eq!(keys.sk_pr.len(), 32);
    }

    /// Worked out independently with Python's `hmac`:
    /// `hmac.new(ppk, sk + b"\x01", hashlib.sha256)` (prf+ needs one block here).
    #[test]
    fn ppk_mix_is_prf_plus_keyed_by_the_ppk() {
        let ppk = b"this is a post-quantum preshared key";
        let sk: Vec<u8> = (0u8..32).collect();
        let mixed = ppk_mix(Prf::HmacSha256, ppk, &sk).unwrap();
        assert_eq!(
            hex(mixed.expose()),
            "070e8f39c87fd202047fb4c9c0667dbea45bb21f1f5b49ab710c961b7843c98f"
        );
        let sk: Vec<u8> = (0u8..48).collect();
        let mixed = ppk_mix(Prf::HmacSha384, ppk, &sk).unwrap();
        assert_eq!(
            hex(mixed.expose()),
            "858d4c013ecddd2c31a780a1bc399b79debc559f12f6074bcade9a9db403943c\
             9fe244753f952bbe0da57e67bbabfab6"
        );
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Derived straight into keys, the same bytes as KEYMAT then split, with and without
    /// PFS secrets, and past the stack buffer (HMAC-SHA1's 20 bytes a block, 255 blocks).
    #[test]
    fn child_keys_derive_is_keymat_then_split() {
        for (prf, secrets, e, i) in [
            (Prf::HmacSha256, &[][..], 36, 0),
            (Prf::HmacSha384, &[&b"g^ir"[..], b"SK(1)"][..], 32, 24),
            (Prf::HmacSha1, &[&b"g^ir"[..]][..], 1200, 1300),
        ] {
            let len = ChildKeys::keymat_len(e, i);
            let keymat = child_keymat_with_secrets(prf, b"SK_d", secrets, b"Ni", b"Nr", len);
            let split = ChildKeys::split(keymat.unwrap(), e, i);
            let derived = ChildKeys::derive(prf, b"SK_d", secrets, b"Ni", b"Nr", e, i).unwrap();
            for (a, b) in [
                (&split.initiator_to_responder, &derived.initiator_to_responder),
                (&split.responder_to_initiator, &derived.responder_to_initiator),
            ] {
                assert_eq!(a.encryption, b.encryption, "{prf}");
                assert_eq!(a.integrity, b.integrity, "{prf}");
            }
        }
        let too_long = ChildKeys::derive(Prf::HmacSha1, b"k", &[], b"", b"", 3000, 0).unwrap_err();
        assert_eq!(too_long, CryptoError::PrfPlusTooLong { requested: 6000, max: 5100 });
    }

    #[test]
    fn child_keys_split_in_rfc_order() {
        let keymat = SecretBytes::new((0u8..20).collect());
        let keys = ChildKeys::split(keymat, 4, 6);
        assert_eq!(keys.initiator_to_responder.encryption.expose(), &[0, 1, 2, 3]);
        assert_eq!(keys.initiator_to_responder.integrity.expose(), &[4, 5, 6, 7, 8, 9]);
        assert_eq!(keys.responder_to_initiator.encryption.expose(), &[10, 11, 12, 13]);
        assert_eq!(keys.responder_to_initiator.integrity.expose(), &[14, 15, 16, 17, 18, 19]);
    }
}
