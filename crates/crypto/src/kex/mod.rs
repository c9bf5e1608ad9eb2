//! Diffie-Hellman key exchange for the IKEv2 KE payload (RFC 7296 §1.2, §3.4).
//!
//! Groups: Curve25519 (31, RFC 8031), NIST P-256 and P-384 (19, 20, RFC 5903) and MODP
//! 2048/3072/4096 (14, 15, 16, RFC 3526); for IKEv1 gateways that know nothing stronger, the
//! legacy MODP-1024 (2, RFC 2409 §6.2), kept out of [`KexGroup::ALL`] and of
//! [`KexGroup::from_iana_id`] so that IKEv2 never offers or accepts it. Randomness is an
//! input: a key is made from bytes the caller supplies, directly
//! ([`KeyExchange::from_private_bytes`]) or through a fill closure
//! ([`KeyExchange::generate`]), so a seeded run is reproducible byte for byte.
//!
//! The elliptic-curve groups run on a [`KexBackend`]: aws-lc-rs (the default, measured fastest
//! here, see `docs/PERFORMANCE.md`) or pure Rust (x25519-dalek, `p256`, `p384`). Both give the
//! same bytes for the same input. MODP groups always use `crypto-bigint` (constant time, see `modp`).
//!
//! Peer values are checked as RFC 6989 asks: exact length; 1 < y < p - 1 for MODP; the point on
//! the curve for ECP; no all-zero X25519 result (RFC 8031 §2.1, RFC 7748 §6.1).
//!
//! ```
//! use ikeway_crypto::{KexBackend, KexGroup, KeyExchange};
//!
//! // A deterministic "random" source; real callers pass an OS or DRBG fill function.
//! fn seeded(seed: u8) -> impl FnMut(&mut [u8]) {
//!     let mut counter = seed;
//!     move |buf: &mut [u8]| {
//!         for b in buf {
//!             counter = counter.wrapping_mul(31).wrapping_add(7);
//!             *b = counter;
//!         }
//!     }
//! }
//!
//! let group = KexGroup::from_iana_id(31).unwrap();
//! let initiator = KeyExchange::generate(group, KexBackend::default(), &mut seeded(1)).unwrap();
//! let responder = KeyExchange::generate(group, KexBackend::default(), &mut seeded(2)).unwrap();
//! assert_eq!(initiator.public_value().len(), group.public_len());
//!
//! // Each side sends its public value in the KE payload and combines the peer's with its own key.
//! let g_ir_i = initiator.shared_secret(responder.public_value()).unwrap();
//! let g_ir_r = responder.shared_secret(initiator.public_value()).unwrap();
//! assert_eq!(g_ir_i.expose(), g_ir_r.expose());
//!
//! // A bad peer value is an error, never a panic.
//! assert!(initiator.shared_secret(&[0; 31]).is_err());
//! ```

mod aws;
mod modp;
mod rustcrypto;

use core::fmt;

use subtle::ConstantTimeEq;

use self::aws::AwsKey;
use self::modp::{MODP_1024, MODP_2048, MODP_3072, MODP_4096, ModpGroup, ModpKey};
use self::rustcrypto::RustCryptoKey;
use crate::error::CryptoError;
use crate::secret::SecretBytes;

/// How many times [`KeyExchange::generate`] draws a new ECP scalar when the bytes fall outside
/// `[1, n - 1]`. For P-256 one draw fails with probability about 2^-32, so running out means the
/// random source is broken (for example stuck at all-ones).
const GENERATE_ATTEMPTS: usize = 8;

/// A Diffie-Hellman group from the IKEv2 Transform Type 4 registry (RFC 7296 §3.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KexGroup {
    /// 31: Curve25519 (RFC 8031).
    Curve25519,
    /// 19: 256-bit random ECP group, NIST P-256 (RFC 5903).
    Ecp256,
    /// 20: 384-bit random ECP group, NIST P-384 (RFC 5903).
    Ecp384,
    /// 14: 2048-bit MODP group (RFC 3526 §3).
    Modp2048,
    /// 15: 3072-bit MODP group (RFC 3526 §4).
    Modp3072,
    /// 16: 4096-bit MODP group (RFC 3526 §5).
    Modp4096,
    /// 2: 1024-bit MODP group, the Second Oakley Group (RFC 2409 §6.2). Legacy, IKEv1 only:
    /// about 80 bits of strength (NIST SP 800-57 Part 1 Table 2 no longer accepts it), kept for
    /// old IKEv1 gateways (Apple's old default group; deprecated since iOS 17). Not in
    /// [`KexGroup::ALL`]; found by [`KexGroup::from_ikev1_id`] only.
    Modp1024,
}

impl KexGroup {
    /// Every group IKEv2 negotiates, strongest-per-cost first (MODP-1024 is not one).
    pub const ALL: [KexGroup; 6] = [
        Self::Curve25519,
        Self::Ecp256,
        Self::Ecp384,
        Self::Modp2048,
        Self::Modp3072,
        Self::Modp4096,
    ];

    /// The legacy groups only IKEv1 may negotiate, when configured to.
    pub const LEGACY_IKEV1: [KexGroup; 1] = [Self::Modp1024];

    /// The Transform ID in the IANA "Transform Type 4 - Key Exchange Method" registry (the
    /// same numbers as IKEv1's Group Description, RFC 2409 Appendix A).
    pub fn iana_id(self) -> u16 {
        match self {
            Self::Modp1024 => 2,
            Self::Modp2048 => 14,
            Self::Modp3072 => 15,
            Self::Modp4096 => 16,
            Self::Ecp256 => 19,
            Self::Ecp384 => 20,
            Self::Curve25519 => 31,
        }
    }

    /// The group for a Transform ID, or `None` for one this crate does not implement or one
    /// IKEv2 must not use (MODP-1024).
    pub fn from_iana_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.iana_id() == id)
    }

    /// The group for an IKEv1 Group Description: those of [`KexGroup::from_iana_id`] and the
    /// legacy [`KexGroup::LEGACY_IKEV1`] ones.
    pub fn from_ikev1_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().chain(Self::LEGACY_IKEV1).find(|g| g.iana_id() == id)
    }

    /// Length of the Key Exchange Data in the KE payload: 32 for Curve25519 (RFC 8031 §2),
    /// x || y for ECP (RFC 5903 §7), the prime's length for MODP (RFC 7296 §3.4).
    pub fn public_len(self) -> usize {
        match self {
            Self::Curve25519 => 32,
            Self::Ecp256 => 64,
            Self::Ecp384 => 96,
            Self::Modp1024 | Self::Modp2048 | Self::Modp3072 | Self::Modp4096 => {
                self.modp().map_or(0, |g| g.prime_len)
            }
        }
    }

    /// Length of the shared secret g^ir: 32 for Curve25519, the x coordinate for ECP, the
    /// prime's length for MODP (RFC 7296 §2.14).
    pub fn shared_secret_len(self) -> usize {
        match self {
            Self::Ecp256 | Self::Ecp384 => self.public_len() / 2,
            _ => self.public_len(),
        }
    }

    /// How many random bytes [`KeyExchange::generate`] draws, and the length
    /// [`KeyExchange::from_private_bytes`] expects for the elliptic-curve groups.
    ///
    /// For MODP this is the private exponent length chosen by group strength (256, 384 and 512
    /// bits; RFC 3526 §8, NIST SP 800-57).
    pub fn private_len(self) -> usize {
        match self {
            Self::Curve25519 | Self::Ecp256 => 32,
            Self::Ecp384 => 48,
            Self::Modp1024 | Self::Modp2048 | Self::Modp3072 | Self::Modp4096 => {
                self.modp().map_or(0, |g| g.exponent_len)
            }
        }
    }

    /// The prime of a MODP group, big-endian and `public_len()` bytes long; `None` for the
    /// elliptic-curve groups.
    pub fn modp_prime(self) -> Option<Vec<u8>> {
        self.modp().map(ModpGroup::prime)
    }

    fn modp(self) -> Option<&'static ModpGroup> {
        match self {
            Self::Modp1024 => Some(&MODP_1024),
            Self::Modp2048 => Some(&MODP_2048),
            Self::Modp3072 => Some(&MODP_3072),
            Self::Modp4096 => Some(&MODP_4096),
            _ => None,
        }
    }
}

impl fmt::Display for KexGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Curve25519 => "curve25519",
            Self::Ecp256 => "ecp256",
            Self::Ecp384 => "ecp384",
            Self::Modp1024 => "modp1024",
            Self::Modp2048 => "modp2048",
            Self::Modp3072 => "modp3072",
            Self::Modp4096 => "modp4096",
        };
        f.write_str(name)
    }
}

/// Which library computes the elliptic-curve groups. MODP groups ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KexBackend {
    /// aws-lc-rs (AWS-LC, C and assembly). The default: 1.5-5x faster than the pure-Rust
    /// crates on this machine class (`docs/PERFORMANCE.md`, "Key exchange").
    #[default]
    AwsLc,
    /// x25519-dalek, `p256` and `p384`: pure Rust.
    RustCrypto,
}

impl KexBackend {
    /// Both backends, for tests and benches that compare them.
    pub const ALL: [KexBackend; 2] = [Self::AwsLc, Self::RustCrypto];
}

/// One side's ephemeral Diffie-Hellman key: the private part (wiped on drop, never printed) and
/// the public value for the KE payload.
pub struct KeyExchange {
    group: KexGroup,
    backend: KexBackend,
    key: Key,
}

enum Key {
    Aws(AwsKey),
    RustCrypto(RustCryptoKey),
    Modp(ModpKey),
}

impl KeyExchange {
    /// Makes a key from random bytes drawn through `rng`, which must fill the whole buffer.
    ///
    /// Draws [`KexGroup::private_len`] bytes; for ECP, bytes outside `[1, n - 1]` are drawn
    /// again (up to 8 times, then [`CryptoError::InvalidPrivateKey`]).
    pub fn generate(
        group: KexGroup,
        backend: KexBackend,
        rng: &mut dyn FnMut(&mut [u8]),
    ) -> Result<Self, CryptoError> {
        // Inline up to 64 bytes (every curve's scalar), wiped on drop.
        let mut random = SecretBytes::zeroed(group.private_len());
        for _ in 0..GENERATE_ATTEMPTS {
            rng(random.expose_mut());
            match Self::from_private_bytes(group, backend, random.expose()) {
                Err(CryptoError::InvalidPrivateKey) => continue,
                result => return result,
            }
        }
        Err(CryptoError::InvalidPrivateKey)
    }

    /// Makes a key from a given private value:
    /// - Curve25519: the 32-byte scalar (clamped by X25519 itself, RFC 7748 §5);
    /// - ECP: the big-endian scalar, exactly [`KexGroup::private_len`] bytes, in `[1, n - 1]`;
    /// - MODP: a big-endian exponent of 1 to `public_len()` bytes, in `[2, p - 2]`.
    ///
    /// Anything else is [`CryptoError::InvalidPrivateKey`].
    pub fn from_private_bytes(
        group: KexGroup,
        backend: KexBackend,
        private: &[u8],
    ) -> Result<Self, CryptoError> {
        let key = if let Some(modp) = group.modp() {
            Key::Modp(ModpKey::from_exponent(modp, private)?)
        } else {
            if private.len() != group.private_len() {
                return Err(CryptoError::InvalidPrivateKey);
            }
            match backend {
                KexBackend::AwsLc => Key::Aws(AwsKey::from_private(group, private)?),
                KexBackend::RustCrypto => {
                    Key::RustCrypto(RustCryptoKey::from_private(group, private)?)
                }
            }
        };
        Ok(Self { group, backend, key })
    }

    pub fn group(&self) -> KexGroup {
        self.group
    }

    pub fn backend(&self) -> KexBackend {
        self.backend
    }

    /// The Key Exchange Data to send: [`KexGroup::public_len`] bytes.
    pub fn public_value(&self) -> &[u8] {
        match &self.key {
            Key::Aws(k) => k.public(),
            Key::RustCrypto(k) => k.public(),
            Key::Modp(k) => k.public(),
        }
    }

    /// g^ir from the peer's Key Exchange Data, [`KexGroup::shared_secret_len`] bytes.
    ///
    /// # Errors
    /// - [`CryptoError::PublicValueLength`] if `peer_public` is not `public_len()` bytes;
    /// - [`CryptoError::InvalidPublicValue`] if it fails the RFC 6989 checks (MODP value out of
    ///   range, point not on the curve) or the X25519 result is all zero.
    pub fn shared_secret(&self, peer_public: &[u8]) -> Result<SecretBytes, CryptoError> {
        let expected = self.group.public_len();
        if peer_public.len() != expected {
            return Err(CryptoError::PublicValueLength { expected, got: peer_public.len() });
        }
        let shared = match &self.key {
            Key::Aws(k) => k.shared_secret(self.group, peer_public)?,
            Key::RustCrypto(k) => k.shared_secret(peer_public)?,
            Key::Modp(k) => k.shared_secret(peer_public)?,
        };
        // RFC 8031 §2.1 / RFC 7748 §6.1: an all-zero X25519 output means the peer sent a
        // low-order point; abort. Checked here so both backends behave the same.
        if self.group == KexGroup::Curve25519 && bool::from(shared.expose().ct_eq(&[0u8; 32])) {
            return Err(CryptoError::InvalidPublicValue);
        }
        Ok(shared)
    }
}

impl fmt::Debug for KeyExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyExchange")
            .field("group", &self.group)
            .field("backend", &self.backend)
            .field("private", &"redacted")
            .finish_non_exhaustive()
    }
}

/// SEC1 uncompressed encoding 0x04 || x || y of an IKE ECP public value x || y (RFC 5903 §7).
fn ecp_sec1_uncompressed(x_y: &[u8]) -> Vec<u8> {
    let mut point = Vec::with_capacity(1 + x_y.len());
    point.push(0x04);
    point.extend_from_slice(x_y);
    point
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_ids_round_trip() {
        for g in KexGroup::ALL {
            assert_eq!(KexGroup::from_iana_id(g.iana_id()), Some(g));
        }
        assert_eq!(KexGroup::from_iana_id(2), None, "MODP-1024 is never IKEv2's");
        assert_eq!(KexGroup::from_iana_id(21), None);
        for g in KexGroup::ALL.into_iter().chain(KexGroup::LEGACY_IKEV1) {
            assert_eq!(KexGroup::from_ikev1_id(g.iana_id()), Some(g));
        }
        assert_eq!(KexGroup::from_ikev1_id(2), Some(KexGroup::Modp1024));
        assert_eq!(KexGroup::from_ikev1_id(1), None, "MODP-768 is not implemented");
        assert!(!KexGroup::ALL.contains(&KexGroup::Modp1024));
    }

    #[test]
    fn modp_primes_have_the_stated_length() {
        for (g, bits) in [
            (KexGroup::Modp1024, 1024),
            (KexGroup::Modp2048, 2048),
            (KexGroup::Modp3072, 3072),
            (KexGroup::Modp4096, 4096),
        ] {
            let p = g.modp_prime().unwrap();
            assert_eq!(p.len() * 8, bits);
            assert_eq!(g.public_len() * 8, bits);
        }
    }

    #[test]
    fn debug_hides_private_key() {
        let k =
            KeyExchange::from_private_bytes(KexGroup::Curve25519, KexBackend::AwsLc, &[0x42; 32])
                .unwrap();
        let shown = format!("{k:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains("42, 42"));
        assert!(!shown.to_lowercase().contains("4242"));
    }
}
