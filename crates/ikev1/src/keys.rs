//! The IKEv1 key schedule (RFC 2409 §5 and Appendix B): SKEYID for each authentication
//! method, SKEYID_d/a/e, the encryption key expanded from SKEYID_e when it is too short, the
//! IVs of phase 1 and of the exchanges protected by it, and HASH_I/HASH_R.
//!
//! IKEv1 names a hash algorithm, not a PRF: the PRF is the HMAC of that hash (RFC 2409 §4,
//! "the HMAC version of the negotiated hash algorithm"), and the IVs are plain hashes.

use ikeway_crypto::{Prf, SecretBytes};
use sha1::Digest;

/// A phase 1 hash algorithm (RFC 2409 Appendix A class 2, RFC 4868 for SHA-2). MD5 (1) and
/// Tiger (3) are not offered nor accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub const ALL: [HashAlg; 4] = [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512];

    /// The Hash Algorithm attribute value (IANA "IPSEC Hash Algorithm").
    pub fn attribute(self) -> u16 {
        match self {
            Self::Sha1 => 2,
            Self::Sha256 => 4,
            Self::Sha384 => 5,
            Self::Sha512 => 6,
        }
    }

    pub fn from_attribute(value: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.attribute() == value)
    }

    /// The PRF of phase 1: HMAC with this hash (no PRF attribute is negotiated).
    pub fn prf(self) -> Prf {
        match self {
            Self::Sha1 => Prf::HmacSha1,
            Self::Sha256 => Prf::HmacSha256,
            Self::Sha384 => Prf::HmacSha384,
            Self::Sha512 => Prf::HmacSha512,
        }
    }

    pub fn output_len(self) -> usize {
        self.prf().output_len()
    }

    /// `hash(parts[0] | parts[1] | ...)`.
    pub fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Self::Sha1 => run::<sha1::Sha1>(parts),
            Self::Sha256 => run::<sha2::Sha256>(parts),
            Self::Sha384 => run::<sha2::Sha384>(parts),
            Self::Sha512 => run::<sha2::Sha512>(parts),
        }
    }
}

impl core::fmt::Display for HashAlg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA2-256",
            Self::Sha384 => "SHA2-384",
            Self::Sha512 => "SHA2-512",
        })
    }
}

/// What SKEYID is computed from (RFC 2409 §5): the authentication method decides.
#[derive(Debug, Clone, Copy)]
pub enum SkeyidInput<'a> {
    /// `SKEYID = prf(pre-shared-key, Ni_b | Nr_b)`.
    PreSharedKey(&'a [u8]),
    /// `SKEYID = prf(Ni_b | Nr_b, g^xy)`.
    Signature,
}

/// The keys of an ISAKMP SA. Every field is wiped on drop.
#[derive(Debug)]
pub struct Phase1Keys {
    pub hash: HashAlg,
    pub skeyid: SecretBytes,
    /// Keys phase 2 (KEYMAT, RFC 2409 §5.5).
    pub skeyid_d: SecretBytes,
    /// Authenticates the messages protected by the ISAKMP SA (HASH(1), HASH(2)...).
    pub skeyid_a: SecretBytes,
    pub skeyid_e: SecretBytes,
    /// The cipher key: SKEYID_e truncated, or expanded (Appendix B) when shorter.
    pub enc_key: SecretBytes,
}

/// The SKEYID family and the cipher key for one exchange (RFC 2409 §5, Appendix B).
#[allow(clippy::too_many_arguments)]
pub fn derive(
    hash: HashAlg,
    input: SkeyidInput<'_>,
    ni_b: &[u8],
    nr_b: &[u8],
    g_xy: &[u8],
    cky_i: u64,
    cky_r: u64,
    enc_key_len: usize,
) -> Phase1Keys {
    let prf = hash.prf();
    let skeyid = match input {
        SkeyidInput::PreSharedKey(psk) => prf.compute(psk, &[ni_b, nr_b]),
        SkeyidInput::Signature => {
            // The key of this PRF is Ni_b | Nr_b itself.
            let mut key = SecretBytes::zeroed(ni_b.len() + nr_b.len());
            key.expose_mut()[..ni_b.len()].copy_from_slice(ni_b);
            key.expose_mut()[ni_b.len()..].copy_from_slice(nr_b);
            prf.compute(key.expose(), &[g_xy])
        }
    };
    let (ci, cr) = (cky_i.to_be_bytes(), cky_r.to_be_bytes());
    let skeyid_d = prf.compute(skeyid.expose(), &[g_xy, &ci, &cr, &[0]]);
    let skeyid_a = prf.compute(skeyid.expose(), &[skeyid_d.expose(), g_xy, &ci, &cr, &[1]]);
    let skeyid_e = prf.compute(skeyid.expose(), &[skeyid_a.expose(), g_xy, &ci, &cr, &[2]]);
    let enc_key = expand_enc_key(prf, &skeyid_e, enc_key_len);
    Phase1Keys { hash, skeyid, skeyid_d, skeyid_a, skeyid_e, enc_key }
}

/// Appendix B: a cipher needing more than SKEYID_e gives is keyed with
/// `Ka = K1 | K2 | ...`, `K1 = prf(SKEYID_e, 0)`, `Kn = prf(SKEYID_e, Kn-1)`, truncated;
/// otherwise the first bytes of SKEYID_e are the key.
fn expand_enc_key(prf: Prf, skeyid_e: &SecretBytes, len: usize) -> SecretBytes {
    let mut key = SecretBytes::zeroed(len);
    if skeyid_e.len() >= len {
        key.expose_mut().copy_from_slice(&skeyid_e.expose()[..len]);
        return key;
    }
    let mut filled = 0;
    let mut previous = prf.compute(skeyid_e.expose(), &[&[0]]);
    loop {
        let take = previous.len().min(len - filled);
        key.expose_mut()[filled..filled + take].copy_from_slice(&previous.expose()[..take]);
        filled += take;
        if filled == len {
            return key;
        }
        previous = prf.compute(skeyid_e.expose(), &[previous.expose()]);
    }
}

/// The first IV of phase 1: `hash(g^xi | g^xr)` cut to the cipher's block (Appendix B).
pub fn phase1_iv(hash: HashAlg, g_xi: &[u8], g_xr: &[u8], block_len: usize) -> Vec<u8> {
    truncated(hash.digest(&[g_xi, g_xr]), block_len)
}

/// The first IV of an informational, transaction or quick mode exchange:
/// `hash(last phase-1 CBC block | M-ID)` cut to the block (Appendix B).
pub fn exchange_iv(hash: HashAlg, phase1_last_block: &[u8], message_id: u32) -> Vec<u8> {
    let block_len = phase1_last_block.len();
    truncated(hash.digest(&[phase1_last_block, &message_id.to_be_bytes()]), block_len)
}

fn truncated(mut digest: Vec<u8>, len: usize) -> Vec<u8> {
    // Every hash here is at least 20 bytes and every block at most 16.
    digest.truncate(len);
    digest
}

/// Who computes a phase 1 HASH: the initiator's (`HASH_I`) or the responder's (`HASH_R`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashOf {
    Initiator,
    Responder,
}

/// The public values and cookies both HASH_I and HASH_R cover, kept by the exchange.
#[derive(Debug, Clone, Copy)]
pub struct HashInputs<'a> {
    pub g_xi: &'a [u8],
    pub g_xr: &'a [u8],
    pub cky_i: u64,
    pub cky_r: u64,
    /// The initiator's SA payload body, generic header excluded (`SAi_b`).
    pub sa_i_b: &'a [u8],
}

/// `HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)` and
/// `HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)` (RFC 2409 §5); `id_b`
/// is the ID payload body of the side that computes it. With signatures this is what is
/// signed; with a PSK it is sent as it is.
pub fn phase1_hash(
    prf: Prf,
    skeyid: &SecretBytes,
    of: HashOf,
    inputs: HashInputs<'_>,
    id_b: &[u8],
) -> SecretBytes {
    let (ci, cr) = (inputs.cky_i.to_be_bytes(), inputs.cky_r.to_be_bytes());
    match of {
        HashOf::Initiator => {
            prf.compute(skeyid.expose(), &[inputs.g_xi, inputs.g_xr, &ci, &cr, inputs.sa_i_b, id_b])
        }
        HashOf::Responder => {
            prf.compute(skeyid.expose(), &[inputs.g_xr, inputs.g_xi, &cr, &ci, inputs.sa_i_b, id_b])
        }
    }
}

#[cfg(test)]
mod tests {
    //! Known answers from an independent Python computation (`hmac`/`hashlib` of the
    //! standard library, written from RFC 2409 §5 and Appendix B, not from this code), over
    //! the inputs below.

    use super::*;

    const CKY_I: u64 = 0x0102_0304_0506_0708;
    const CKY_R: u64 = 0xa1a2_a3a4_a5a6_a7a8;

    fn ni() -> Vec<u8> {
        (1..=16).collect()
    }
    fn nr() -> Vec<u8> {
        (0x40..0x58).collect()
    }
    fn g_xy() -> Vec<u8> {
        (0..256u32).map(|i| (i * 7) as u8).collect()
    }
    fn hex(s: &SecretBytes) -> String {
        hex::encode(s.expose())
    }

    fn hash_inputs<'a>(sa: &'a [u8]) -> HashInputs<'a> {
        HashInputs { g_xi: &[0x11; 32], g_xr: &[0x22; 32], cky_i: CKY_I, cky_r: CKY_R, sa_i_b: sa }
    }

    #[test]
    fn psk_sha1_with_3des_expands_skeyid_e_per_appendix_b() {
        let k = derive(
            HashAlg::Sha1,
            SkeyidInput::PreSharedKey(b"group secret"),
            &ni(),
            &nr(),
            &g_xy(),
            CKY_I,
            CKY_R,
            24,
        );
        assert_eq!(hex(&k.skeyid), "9e94d41b95353d76c8d79919043c4960440edd17");
        assert_eq!(hex(&k.skeyid_d), "214d0d5c3b65189e8838d6f2993f8f3bb883989c");
        assert_eq!(hex(&k.skeyid_a), "7c915ef1e116c78e83059efde5dfdd5aac750e33");
        assert_eq!(hex(&k.skeyid_e), "7119ce65d6a7a8b41fb355528e247111298bab94");
        // 20 bytes of SKEYID_e are too few for 3DES: K1 | K2 cut to 24.
        assert_eq!(hex(&k.enc_key), "24df503cc5b069e61f1ad5d6bdd186f8fbc7d03f42fe5f0c");
        let id = b"\x0b\x00\x00\x00group";
        let hi =
            phase1_hash(Prf::HmacSha1, &k.skeyid, HashOf::Initiator, hash_inputs(b"SA body"), id);
        let hr =
            phase1_hash(Prf::HmacSha1, &k.skeyid, HashOf::Responder, hash_inputs(b"SA body"), id);
        assert_eq!(hex(&hi), "b71dfbb452f7a786018489e0bd54a326bc963c45");
        assert_eq!(hex(&hr), "cf258f33b70bd47e2f925f6fb3c2f9fb28f06c62");
    }

    #[test]
    fn psk_sha256_with_aes256_takes_skeyid_e_as_the_key() {
        let k = derive(
            HashAlg::Sha256,
            SkeyidInput::PreSharedKey(b"group secret"),
            &ni(),
            &nr(),
            &g_xy(),
            CKY_I,
            CKY_R,
            32,
        );
        assert_eq!(
            hex(&k.skeyid),
            "95069824e009bac3edc27e8ca9822acf5a90b03fc881083a74a2ae2cd435dca9"
        );
        assert_eq!(
            hex(&k.skeyid_d),
            "f073978ed7e17c0eecea689b3f958990c5f4ba9fb44cae58f84876ddacaba8cb"
        );
        assert_eq!(
            hex(&k.skeyid_a),
            "9659200df5d6016469ba7149a397426b3101123c83ff3c19677b6588d863c823"
        );
        assert_eq!(
            hex(&k.enc_key),
            "e9b9536c877ab871fa0da034bf0ca9a68efcac12bf9f256f27f3f7f330c3bf61"
        );
        assert_eq!(k.enc_key.expose(), k.skeyid_e.expose());
        let id = b"\x0b\x00\x00\x00group";
        let hi =
            phase1_hash(Prf::HmacSha256, &k.skeyid, HashOf::Initiator, hash_inputs(b"SA body"), id);
        assert_eq!(hex(&hi), "75775ec8ab9b03d956544953ab955aad65fef54df9cf63f08689b077ebad5ee2");
        assert_eq!(
            hex::encode(phase1_iv(HashAlg::Sha256, &[0x11; 32], &[0x22; 32], 16)),
            "5189c77d29fe5d546a045ec469868527"
        );
        assert_eq!(
            hex::encode(exchange_iv(HashAlg::Sha256, &[0x33; 16], 0xdead_beef)),
            "618086993cb4e6f5d1e9d0c1f81ed6a8"
        );
    }

    #[test]
    fn signature_skeyid_is_keyed_by_the_nonces_and_covers_g_xy() {
        let k =
            derive(HashAlg::Sha1, SkeyidInput::Signature, &ni(), &nr(), &g_xy(), CKY_I, CKY_R, 32);
        assert_eq!(hex(&k.skeyid), "7eb19dfcbdd68f0a6bf004132475c3c0e572b155");
        assert_eq!(hex(&k.skeyid_e), "158ca363c7149fb6b7e7b674020e72e8a26e77df");
        assert_eq!(
            hex(&k.enc_key),
            "46649d77a43ec25474ca85b29977ae2da0b7715ece2ddcbbc6a712675d20a044"
        );
        let id = b"\x0b\x00\x00\x00group";
        let hr =
            phase1_hash(Prf::HmacSha1, &k.skeyid, HashOf::Responder, hash_inputs(b"SA body"), id);
        assert_eq!(hex(&hr), "8893d55c96cfb55236fa8ee658a2a1fdaa272d3f");
        assert_eq!(
            hex::encode(phase1_iv(HashAlg::Sha1, &[0x11; 32], &[0x22; 32], 8)),
            "9e16538e7b8a384e"
        );
        assert_eq!(
            hex::encode(exchange_iv(HashAlg::Sha1, &[0x33; 16], 0xdead_beef)),
            "51c034d611c7249c44f5412c231ac45a"
        );
    }

    #[test]
    fn hash_attribute_values_follow_the_iana_registry() {
        assert_eq!(HashAlg::from_attribute(2), Some(HashAlg::Sha1));
        assert_eq!(HashAlg::from_attribute(4), Some(HashAlg::Sha256));
        assert_eq!(HashAlg::from_attribute(5), Some(HashAlg::Sha384));
        assert_eq!(HashAlg::from_attribute(6), Some(HashAlg::Sha512));
        assert_eq!(HashAlg::from_attribute(1), None, "MD5 is refused");
        assert_eq!(HashAlg::from_attribute(3), None, "Tiger is refused");
    }
}
