//! The IKE SA key schedule and child SA key material (RFC 7296 §2.14, §2.17, §2.18).

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
    let mut key = Vec::with_capacity(ni.len() + nr.len());
    key.extend_from_slice(ni);
    key.extend_from_slice(nr);
    // The concatenated nonces are the key; wrap them so they are wiped too.
    let key = SecretBytes::new(key);
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
    prf.compute(old_sk_d, &[shared_secret, ni, nr])
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
    let mut material =
        prf.prf_plus(skeyseed, &[ni, nr, &spi_i.to_be_bytes(), &spi_r.to_be_bytes()], total)?;
    Ok(IkeSaKeys {
        sk_d: material.split_off_front(prf_len),
        sk_ai: material.split_off_front(lengths.integrity),
        sk_ar: material.split_off_front(lengths.integrity),
        sk_ei: material.split_off_front(lengths.encryption),
        sk_er: material.split_off_front(lengths.encryption),
        sk_pi: material.split_off_front(prf_len),
        sk_pr: material.split_off_front(prf_len),
    })
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
    match pfs_shared_secret {
        Some(g_ir) => prf.prf_plus(sk_d, &[g_ir, ni, nr], len),
        None => prf.prf_plus(sk_d, &[ni, nr], len),
    }
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
