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
