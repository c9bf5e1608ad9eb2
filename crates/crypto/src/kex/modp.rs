//! Finite-field Diffie-Hellman over the RFC 3526 MODP groups, in constant time.
//!
//! The exponentiation is `crypto-bigint`'s Montgomery-form `pow_bounded_exp`: a fixed 4-bit
//! window, every table entry read by a constant-time select, and a sequence of squarings and
//! multiplications that depends only on the exponent's length in bytes (public: the configured
//! exponent length), never on its value. It replaced `num-bigint`'s `modpow`, whose time
//! depended on the exponent's bits (issue 9 finding 14); the cost is in `docs/PERFORMANCE.md`.
//! Our copies of the exponent are wiped: the bytes (`SecretBytes`), the padded buffer and the
//! `Uint` made from them. `crypto-bigint` copies the exponent into its own stack frame during
//! the exponentiation and does not wipe that copy.

use std::sync::OnceLock;

use crypto_bigint::modular::runtime_mod::{DynResidue, DynResidueParams};
use crypto_bigint::{U1024, U2048, U3072, U4096, Uint, Word};
use zeroize::{Zeroize, Zeroizing};

use crate::error::CryptoError;
use crate::secret::SecretBytes;

/// Generator of every RFC 3526 group (RFC 3526 §2-§5: "The generator is: 2.").
const GENERATOR: u64 = 2;

/// The 1024-bit MODP prime of the Second Oakley Group, RFC 2409 §6.2 (IKEv1 group 2, legacy):
/// `2^1024 - 2^960 - 1 + 2^64 * { [2^894 pi] + 129093 }`.
const MODP_1024_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
);

/// The 2048-bit MODP prime, RFC 3526 §3: `2^2048 - 2^1984 - 1 + 2^64 * { [2^1918 pi] + 124476 }`.
const MODP_2048_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
);

/// The 3072-bit MODP prime, RFC 3526 §4: `2^3072 - 2^3008 - 1 + 2^64 * { [2^2942 pi] + 1690314 }`.
const MODP_3072_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);

/// The 4096-bit MODP prime, RFC 3526 §5: `2^4096 - 2^4032 - 1 + 2^64 * { [2^3966 pi] + 240904 }`.
const MODP_4096_HEX: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A92108011A723C12A787E6D7",
    "88719A10BDBA5B2699C327186AF4E23C1A946834B6150BDA2583E9CA2AD44CE8",
    "DBBBC2DB04DE8EF92E8EFC141FBECAA6287C59474E6BC05D99B2964FA090C3A2",
    "233BA186515BE7ED1F612970CEE2D7AFB81BDD762170481CD0069127D5B05AA9",
    "93B4EA988D8FDDC186FFB7DC90A6C08F4DF435C934063199FFFFFFFFFFFFFFFF",
);

/// One MODP group: its prime and the private exponent length used when generating keys.
#[derive(Debug)]
pub(crate) struct ModpGroup {
    hex: &'static str,
    /// Bytes of the prime, which is also the length of the public value and of g^ir
    /// (RFC 7296 §3.4, §2.14).
    pub(crate) prime_len: usize,
    /// Private exponent length in bytes for generated keys.
    ///
    /// RFC 3526 §8 asks for an exponent of at least twice the group's strength, and NIST
    /// SP 800-57 Part 1 Table 2 puts 2048-bit groups at 112 bits and 3072-bit at 128. We use
    /// 256 bits for 2048-bit, 384 for 3072-bit and 512 for 4096-bit: inside or above the RFC 3526
    /// §8 ranges (220-320, 260-420, 300-480 bits) and far cheaper than a full-length exponent
    /// (the exponentiation's time grows with the exponent's length, `docs/PERFORMANCE.md`).
    pub(crate) exponent_len: usize,
}

impl ModpGroup {
    const fn new(hex: &'static str, bits: usize, exponent_bits: usize) -> Self {
        Self { hex, prime_len: bits / 8, exponent_len: exponent_bits / 8 }
    }

    /// The prime, big-endian, `prime_len` bytes.
    pub(crate) fn prime(&self) -> Vec<u8> {
        let digit = |c: u8| match c {
            b'0'..=b'9' => c - b'0',
            b'A'..=b'F' => c - b'A' + 10,
            _ => unreachable!("the prime constants are upper-case hexadecimal, checked by a test"),
        };
        self.hex.as_bytes().chunks(2).map(|d| digit(d[0]) << 4 | digit(d[1])).collect()
    }

    /// `base^exponent mod p` for big-endian `base` (at most `prime_len` bytes) and `exponent`
    /// (1 to `prime_len` bytes), big-endian and `prime_len` bytes long. Constant time in the
    /// values of both; the time depends on `exponent.len()` only.
    fn pow(&self, base: &[u8], exponent: &[u8]) -> Vec<u8> {
        // Montgomery parameters (R mod p, R^2 mod p), computed once per group.
        static P1024: OnceLock<DynResidueParams<{ U1024::LIMBS }>> = OnceLock::new();
        static P2048: OnceLock<DynResidueParams<{ U2048::LIMBS }>> = OnceLock::new();
        static P3072: OnceLock<DynResidueParams<{ U3072::LIMBS }>> = OnceLock::new();
        static P4096: OnceLock<DynResidueParams<{ U4096::LIMBS }>> = OnceLock::new();
        match self.prime_len * 8 {
            1024 => pow(P1024.get_or_init(|| self.params()), base, exponent),
            2048 => pow(P2048.get_or_init(|| self.params()), base, exponent),
            3072 => pow(P3072.get_or_init(|| self.params()), base, exponent),
            4096 => pow(P4096.get_or_init(|| self.params()), base, exponent),
            bits => unreachable!("no {bits}-bit MODP group is defined"),
        }
    }

    fn params<const L: usize>(&self) -> DynResidueParams<L> {
        DynResidueParams::new(&Uint::from_be_slice(&self.prime()))
    }

    /// Whether `1 < y < p - 1`, for `y` big-endian and `prime_len` bytes long.
    fn between_one_and_p_minus_one(&self, y: &[u8]) -> bool {
        let mut p_minus_one = self.prime();
        // p ends in 0xFF (RFC 3526): subtracting one touches only the last byte.
        p_minus_one[self.prime_len - 1] -= 1;
        let mut one = vec![0u8; self.prime_len];
        one[self.prime_len - 1] = 1;
        // Equal-length big-endian byte strings compare like the numbers they hold.
        y > one.as_slice() && y < p_minus_one.as_slice()
    }
}

/// `Uint<L>` from a big-endian number of at most `L` limbs' bytes, left-padded with zeros in a
/// buffer that is wiped.
fn uint<const L: usize>(bytes: &[u8]) -> Uint<L> {
    let mut padded = Zeroizing::new(vec![0u8; L * Word::BITS as usize / 8]);
    let at = padded.len() - bytes.len();
    padded[at..].copy_from_slice(bytes);
    Uint::from_be_slice(&padded)
}

fn pow<const L: usize>(params: &DynResidueParams<L>, base: &[u8], exponent: &[u8]) -> Vec<u8> {
    let mut x = uint::<L>(exponent);
    let mut z = DynResidue::new(&uint::<L>(base), *params).pow_bounded_exp(&x, exponent.len() * 8);
    x.zeroize();
    let mut value = z.retrieve();
    let out = value.as_words().iter().rev().flat_map(|w| w.to_be_bytes()).collect();
    value.zeroize();
    z.zeroize();
    out
}

/// MODP group 2 (RFC 2409 §6.2; IKEv1 only, legacy). A 256-bit exponent, as for group 14 and
/// as strongSwan uses for this group: over twice the group's ~80-bit strength (RFC 3526 §8).
pub(crate) static MODP_1024: ModpGroup = ModpGroup::new(MODP_1024_HEX, 1024, 256);
/// MODP group 14 (RFC 3526 §3).
pub(crate) static MODP_2048: ModpGroup = ModpGroup::new(MODP_2048_HEX, 2048, 256);
/// MODP group 15 (RFC 3526 §4).
pub(crate) static MODP_3072: ModpGroup = ModpGroup::new(MODP_3072_HEX, 3072, 384);
/// MODP group 16 (RFC 3526 §5).
pub(crate) static MODP_4096: ModpGroup = ModpGroup::new(MODP_4096_HEX, 4096, 512);

/// A MODP private exponent and its public value g^x mod p.
pub(crate) struct ModpKey {
    group: &'static ModpGroup,
    /// The exponent, big-endian, wiped on drop.
    exponent: SecretBytes,
    public: Vec<u8>,
}

impl ModpKey {
    /// Takes a big-endian exponent of 1 to `prime_len` bytes; it must lie in `[2, p - 2]`.
    pub(crate) fn from_exponent(
        group: &'static ModpGroup,
        exponent: &[u8],
    ) -> Result<Self, CryptoError> {
        if exponent.is_empty() || exponent.len() > group.prime_len {
            return Err(CryptoError::InvalidPrivateKey);
        }
        let mut padded = Zeroizing::new(vec![0u8; group.prime_len]);
        let at = group.prime_len - exponent.len();
        padded[at..].copy_from_slice(exponent);
        // 2 <= x <= p - 2, i.e. 1 < x < p - 1. A refused exponent is never used, so the
        // comparison may take longer for some values than for others.
        if !group.between_one_and_p_minus_one(&padded) {
            return Err(CryptoError::InvalidPrivateKey);
        }
        let public = group.pow(&GENERATOR.to_be_bytes(), exponent);
        Ok(Self { group, exponent: SecretBytes::from_slice(exponent), public })
    }

    pub(crate) fn public(&self) -> &[u8] {
        &self.public
    }

    /// g^ir as a fixed-length big-endian number the length of the prime (RFC 7296 §2.14).
    pub(crate) fn shared_secret(&self, peer: &[u8]) -> Result<SecretBytes, CryptoError> {
        validate_public(self.group, peer)?;
        Ok(SecretBytes::new(self.group.pow(peer, self.exponent.expose())))
    }
}

/// RFC 6989 §2.1: the peer's value must be exactly the prime's length (RFC 7296 §3.4) and
/// satisfy 1 < y < p - 1, which rejects 0, 1, p - 1 and anything at or above p.
///
/// RFC 6989 §2.2's subgroup check (y^q = 1) is not needed: the RFC 3526 primes are safe primes,
/// so once 1 and p - 1 are excluded every remaining y has order q or 2q.
pub(crate) fn validate_public(group: &ModpGroup, peer: &[u8]) -> Result<(), CryptoError> {
    if peer.len() != group.prime_len {
        return Err(CryptoError::PublicValueLength { expected: group.prime_len, got: peer.len() });
    }
    if !group.between_one_and_p_minus_one(peer) {
        return Err(CryptoError::InvalidPublicValue);
    }
    Ok(())
}
