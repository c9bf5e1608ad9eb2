//! AEAD transforms behind one trait, so that IKE (RFC 5282) and ESP (RFC 4106, RFC 7634) share
//! them and the implementation behind them can be swapped and measured.
//!
//! Every AEAD used by IPsec has a 12-byte nonce made of a 4-byte salt from the key schedule and
//! an 8-byte IV carried in the packet; [`SaltedAead`] does that split once.

use core::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit, array::Array, consts};

use zeroize::Zeroizing;

use crate::CryptoError;

/// An AEAD algorithm with its key and ICV sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AeadAlgorithm {
    /// ENCR_AES_GCM_8 / _12 / _16 (18, 19, 20): AES-GCM with an 8, 12 or 16-byte ICV.
    AesGcm { key_bits: u16, icv_len: u8 },
    /// ENCR_CHACHA20_POLY1305 (28), RFC 7634.
    ChaCha20Poly1305,
}

impl AeadAlgorithm {
    pub const AES128_GCM16: Self = Self::AesGcm { key_bits: 128, icv_len: 16 };
    pub const AES256_GCM16: Self = Self::AesGcm { key_bits: 256, icv_len: 16 };

    /// Builds from an IANA encryption ID and its Key Length attribute (bits).
    pub fn from_iana(id: u16, key_bits: Option<u16>) -> Option<Self> {
        let icv_len = match id {
            18 => 8,
            19 => 12,
            20 => 16,
            // RFC 7634 §2: no Key Length attribute, or 256.
            28 if key_bits.is_none() || key_bits == Some(256) => {
                return Some(Self::ChaCha20Poly1305);
            }
            _ => return None,
        };
        match key_bits {
            Some(key_bits @ (128 | 192 | 256)) => Some(Self::AesGcm { key_bits, icv_len }),
            _ => None,
        }
    }

    pub fn iana_id(self) -> u16 {
        match self {
            Self::AesGcm { icv_len: 8, .. } => 18,
            Self::AesGcm { icv_len: 12, .. } => 19,
            Self::AesGcm { .. } => 20,
            Self::ChaCha20Poly1305 => 28,
        }
    }

    /// Key Length attribute value in bits for the SA payload (none for ChaCha20-Poly1305).
    pub fn key_bits_attribute(self) -> Option<u16> {
        match self {
            Self::AesGcm { key_bits, .. } => Some(key_bits),
            Self::ChaCha20Poly1305 => None,
        }
    }

    /// Length of the cipher key alone.
    pub fn key_len(self) -> usize {
        match self {
            Self::AesGcm { key_bits, .. } => usize::from(key_bits) / 8,
            Self::ChaCha20Poly1305 => 32,
        }
    }

    /// Keying material taken from the key schedule: the key and a 4-byte salt
    /// (RFC 4106 §8.1, RFC 5282 §7.1, RFC 7634 §2).
    pub fn keymat_len(self) -> usize {
        self.key_len() + SALT_LEN
    }

    pub fn icv_len(self) -> usize {
        match self {
            Self::AesGcm { icv_len, .. } => usize::from(icv_len),
            Self::ChaCha20Poly1305 => 16,
        }
    }

    /// Every IPsec AEAD carries an 8-byte explicit IV.
    pub const fn iv_len(self) -> usize {
        8
    }
}

/// A keyed AEAD. Implementations must be usable from several threads at once (`&self`).
pub trait Aead: Send + Sync + fmt::Debug {
    fn algorithm(&self) -> AeadAlgorithm;

    /// Encrypts `data` in place and writes the tag (`icv_len` bytes) into `tag`.
    fn seal(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError>;

    /// Verifies `tag` and decrypts `data` in place. On failure `data` is left unspecified and
    /// must not be used.
    fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError>;
}

/// Which implementation backs [`Aead`]: the seam that lets the fast path pick by measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AeadBackend {
    /// RustCrypto's `aes-gcm` and `chacha20poly1305`: pure Rust with runtime CPU detection.
    /// Covers every key size and ICV length.
    #[default]
    RustCrypto,
    /// ring 0.17 (BoringSSL-derived assembly: stitched AES-GCM with VAES/AVX2 where the CPU has
    /// it). Only 16-byte tags and 128/256-bit AES keys: anything else is
    /// [`CryptoError::Unsupported`]. Measured faster for AES-GCM and ChaCha20-Poly1305 on
    /// x86-64 ([`AeadBackend::fastest`]). ring does not wipe its keys; ours are overwritten
    /// when dropped (`RingAead`'s `Drop`).
    Ring,
    /// aws-lc-rs (AWS-LC's assembly, the library that already does our X25519 and ECDH):
    /// AES-GCM with 128, 192 and 256-bit keys and ChaCha20-Poly1305, 16-byte tags only
    /// (anything else is [`CryptoError::Unsupported`]). Its keyed context is allocated by
    /// AWS-LC and cleansed when freed (`OPENSSL_free`). Measured fastest for a message keyed
    /// for itself ([`AeadKeying::PerMessage`]).
    AwsLc,
}

/// How long a keyed AEAD serves, which decides the faster backend ([`AeadBackend::fastest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadKeying {
    /// Keyed once for every packet of an SA (ESP): sealing speed is what counts.
    PerSa,
    /// Keyed for one message of a few hundred bytes and dropped (an IKE SA keeps its keys,
    /// not keyed contexts): keying counts as much as sealing.
    PerMessage,
}

impl AeadBackend {
    /// Whether [`AeadBackend::new_aead`] keys `algorithm` given a key of its length, found
    /// without keying it (a key schedule and an allocation).
    pub fn supports(self, algorithm: AeadAlgorithm) -> bool {
        match (self, algorithm) {
            (_, AeadAlgorithm::ChaCha20Poly1305) => true,
            (Self::RustCrypto, AeadAlgorithm::AesGcm { key_bits, icv_len }) => {
                matches!(key_bits, 128 | 192 | 256) && matches!(icv_len, 8 | 12 | 16)
            }
            (Self::Ring, algorithm) => ring_algorithm(algorithm).is_some(),
            (Self::AwsLc, algorithm) => aws_lc_algorithm(algorithm).is_some(),
        }
    }

    /// The backend that does `algorithm`'s work faster when keyed as `keying`, among those
    /// that key it. Measured on x86-64 with AES-NI, VAES and AVX-512 (docs/PERFORMANCE.md,
    /// "Backend choice"; `cargo run --release -p ikeway-benches --bin ike-keying`):
    ///
    /// - keyed once for a stream of packets ([`AeadKeying::PerSa`], ESP): ring wherever it
    ///   implements the algorithm, 2-3x faster than RustCrypto for AES-GCM and 3x for
    ///   ChaCha20-Poly1305 at 1400 bytes;
    /// - keyed for each message ([`AeadKeying::PerMessage`], an IKE SA's Encrypted payload):
    ///   aws-lc-rs wherever it implements the algorithm. For AES-GCM its keying costs less
    ///   than ring's (ring expands GHASH key powers, and its key is overwritten on drop) and
    ///   its sealing less than RustCrypto's: at a handshake's IKE_AUTH sizes (200-350 bytes) a
    ///   message sealed and opened costs some 150 ns less than with either; for
    ///   ChaCha20-Poly1305 it is level with ring and 4-7x faster than RustCrypto.
    ///
    /// RustCrypto for the rest (truncated GCM tags; AES-192 kept once per SA).
    pub fn fastest(algorithm: AeadAlgorithm, keying: AeadKeying) -> Self {
        let preferred = match keying {
            AeadKeying::PerSa => Self::Ring,
            AeadKeying::PerMessage => Self::AwsLc,
        };
        if preferred.supports(algorithm) { preferred } else { Self::RustCrypto }
    }

    /// Creates a keyed AEAD (`key` without the salt).
    pub fn new_aead(
        self,
        algorithm: AeadAlgorithm,
        key: &[u8],
    ) -> Result<Box<dyn Aead>, CryptoError> {
        check_key_len(algorithm, key)?;
        match self {
            Self::RustCrypto => rust_crypto(algorithm, key),
            Self::Ring => ring_aead(algorithm, key),
            Self::AwsLc => aws_lc_aead(algorithm, key),
        }
    }
}

/// `Aead::seal` over a `LessSafeKey` of ring or aws-lc-rs (`$lib`), whose AEAD APIs are the
/// same: both compute only full 16-byte tags.
macro_rules! seal_in_place_separate_tag {
    ($lib:ident) => {
        fn seal(
            &self,
            nonce: &[u8; 12],
            aad: &[u8],
            data: &mut [u8],
            tag: &mut [u8],
        ) -> Result<(), CryptoError> {
            full_tag(tag)?;
            let nonce = $lib::aead::Nonce::assume_unique_for_key(*nonce);
            let computed = self
                .key
                .seal_in_place_separate_tag(nonce, $lib::aead::Aad::from(aad), data)
                .map_err(|_| CryptoError::Unsupported)?;
            tag.copy_from_slice(computed.as_ref());
            Ok(())
        }
    };
}

/// The ICV length ring and aws-lc-rs compute and check: 16 bytes, no truncation.
fn full_tag(tag: &[u8]) -> Result<(), CryptoError> {
    if tag.len() == 16 {
        Ok(())
    } else {
        Err(CryptoError::IcvLength { expected: 16, got: tag.len() })
    }
}

fn ring_aead(algorithm: AeadAlgorithm, key: &[u8]) -> Result<Box<dyn Aead>, CryptoError> {
    let ring_alg = ring_algorithm(algorithm).ok_or(CryptoError::Unsupported)?;
    let unbound = ring::aead::UnboundKey::new(ring_alg, key)
        .map_err(|_| CryptoError::KeyLength { expected: algorithm.key_len(), got: key.len() })?;
    Ok(Box::new(RingAead { algorithm, key: ring::aead::LessSafeKey::new(unbound) }))
}

/// ring's key schedule lives inside `LessSafeKey`, which ring does not wipe on drop (it has
/// no zeroize support); our `Drop` writes over it.
struct RingAead {
    algorithm: AeadAlgorithm,
    key: ring::aead::LessSafeKey,
}

/// Overwrites the key schedule before the memory is freed, as RustCrypto's AEADs do for
/// theirs: ring's `LessSafeKey` has no `Zeroize`, and code without `unsafe` cannot write
/// zeros into it, so it is overwritten by a clone of the same algorithm keyed with zeros
/// (`zero_key`). That is a copy, not a second key schedule: keyed per message for IKE, a
/// schedule would have cost as much as the keying itself. The clone writes every field of
/// the same variant ring chose for this CPU (the AES round keys and the GHASH key powers, or
/// the ChaCha20 key), so nothing of the real key is left in them; stack copies ring made
/// while keying are not reached (nor are the RustCrypto backend's).
impl Drop for RingAead {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl RingAead {
    /// Writes the zero key of our algorithm over ours (see `Drop`).
    fn wipe(&mut self) {
        if let Some(zero) = zero_key(self.algorithm) {
            self.key.clone_from(zero);
        }
        // Keeps the overwrite from being dropped as a dead store before the memory is freed.
        std::hint::black_box(&mut self.key);
    }
}

/// ring's algorithm for `algorithm`, if ring implements it: full 16-byte tags only (ring has
/// no truncation API), and no AES-192.
fn ring_algorithm(algorithm: AeadAlgorithm) -> Option<&'static ring::aead::Algorithm> {
    use ring::aead::{AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305};
    match algorithm {
        AeadAlgorithm::AesGcm { key_bits: 128, icv_len: 16 } => Some(&AES_128_GCM),
        AeadAlgorithm::AesGcm { key_bits: 256, icv_len: 16 } => Some(&AES_256_GCM),
        AeadAlgorithm::ChaCha20Poly1305 => Some(&CHACHA20_POLY1305),
        AeadAlgorithm::AesGcm { .. } => None,
    }
}

/// A ring key of `algorithm` keyed with zeros, made once per process, which a dropped
/// [`RingAead`] of that algorithm is overwritten with; `None` where ring has no such
/// algorithm (nor a key to wipe).
fn zero_key(algorithm: AeadAlgorithm) -> Option<&'static ring::aead::LessSafeKey> {
    use std::sync::OnceLock;
    static AES_128_GCM: OnceLock<Option<ring::aead::LessSafeKey>> = OnceLock::new();
    static AES_256_GCM: OnceLock<Option<ring::aead::LessSafeKey>> = OnceLock::new();
    static CHACHA20_POLY1305: OnceLock<Option<ring::aead::LessSafeKey>> = OnceLock::new();
    let cell = match algorithm {
        AeadAlgorithm::AesGcm { key_bits: 128, icv_len: 16 } => &AES_128_GCM,
        AeadAlgorithm::AesGcm { key_bits: 256, icv_len: 16 } => &AES_256_GCM,
        AeadAlgorithm::ChaCha20Poly1305 => &CHACHA20_POLY1305,
        AeadAlgorithm::AesGcm { .. } => return None,
    };
    cell.get_or_init(|| {
        let ring_alg = ring_algorithm(algorithm)?;
        let zeros = [0u8; 32];
        let unbound = ring::aead::UnboundKey::new(ring_alg, &zeros[..ring_alg.key_len()]).ok()?;
        Some(ring::aead::LessSafeKey::new(unbound))
    })
    .as_ref()
}

impl fmt::Debug for RingAead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingAead").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl Aead for RingAead {
    fn algorithm(&self) -> AeadAlgorithm {
        self.algorithm
    }

    seal_in_place_separate_tag!(ring);

    fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        let tag = ring::aead::Tag::try_from(tag)
            .map_err(|_| CryptoError::IcvLength { expected: 16, got: tag.len() })?;
        let nonce = ring::aead::Nonce::assume_unique_for_key(*nonce);
        self.key
            .open_in_place_separate_tag(nonce, ring::aead::Aad::from(aad), tag, data, 0..)
            .map(|_| ())
            .map_err(|_| CryptoError::Authentication)
    }
}

/// aws-lc-rs's algorithm for `algorithm`, if it implements it: full 16-byte tags only (its
/// API has no truncated tags).
fn aws_lc_algorithm(algorithm: AeadAlgorithm) -> Option<&'static aws_lc_rs::aead::Algorithm> {
    use aws_lc_rs::aead::{AES_128_GCM, AES_192_GCM, AES_256_GCM, CHACHA20_POLY1305};
    match algorithm {
        AeadAlgorithm::AesGcm { key_bits: 128, icv_len: 16 } => Some(&AES_128_GCM),
        AeadAlgorithm::AesGcm { key_bits: 192, icv_len: 16 } => Some(&AES_192_GCM),
        AeadAlgorithm::AesGcm { key_bits: 256, icv_len: 16 } => Some(&AES_256_GCM),
        AeadAlgorithm::ChaCha20Poly1305 => Some(&CHACHA20_POLY1305),
        AeadAlgorithm::AesGcm { .. } => None,
    }
}

fn check_key_len(algorithm: AeadAlgorithm, key: &[u8]) -> Result<(), CryptoError> {
    if key.len() == algorithm.key_len() {
        Ok(())
    } else {
        Err(CryptoError::KeyLength { expected: algorithm.key_len(), got: key.len() })
    }
}

fn aws_lc_aead(algorithm: AeadAlgorithm, key: &[u8]) -> Result<Box<dyn Aead>, CryptoError> {
    Ok(Box::new(aws_lc_keyed(algorithm, key)?))
}

fn aws_lc_keyed(algorithm: AeadAlgorithm, key: &[u8]) -> Result<AwsLcAead, CryptoError> {
    let aws_alg = aws_lc_algorithm(algorithm).ok_or(CryptoError::Unsupported)?;
    let unbound = aws_lc_rs::aead::UnboundKey::new(aws_alg, key)
        .map_err(|_| CryptoError::KeyLength { expected: algorithm.key_len(), got: key.len() })?;
    Ok(AwsLcAead { algorithm, key: aws_lc_rs::aead::LessSafeKey::new(unbound) })
}

/// An AWS-LC AEAD context (`EVP_AEAD_CTX`, which holds the key schedule inline): allocated
/// with `OPENSSL_malloc` and freed with `EVP_AEAD_CTX_free`, whose `OPENSSL_free` cleanses
/// the allocation before freeing it, so the key is wiped on drop as with RustCrypto.
struct AwsLcAead {
    algorithm: AeadAlgorithm,
    key: aws_lc_rs::aead::LessSafeKey,
}

impl fmt::Debug for AwsLcAead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsLcAead").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl Aead for AwsLcAead {
    fn algorithm(&self) -> AeadAlgorithm {
        self.algorithm
    }

    seal_in_place_separate_tag!(aws_lc_rs);

    fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        full_tag(tag)?;
        let nonce = aws_lc_rs::aead::Nonce::assume_unique_for_key(*nonce);
        self.key
            .open_in_place_separate_tag(nonce, aws_lc_rs::aead::Aad::from(aad), tag, data)
            .map(|_| ())
            .map_err(|_| CryptoError::Authentication)
    }
}

/// AES-GCM over the encryption-only AES types (`aes::Aes*Enc`): GCM never runs the block
/// cipher backwards, so keying skips the decryption round keys and the context is some 240
/// bytes smaller (an IKE SA keys one per message). The box is allocated first and the keyed
/// context written into it, which saves a copy of the context from the stack.
fn rust_crypto(algorithm: AeadAlgorithm, key: &[u8]) -> Result<Box<dyn Aead>, CryptoError> {
    use aes_gcm::AesGcm;
    use consts::{U8, U12, U16};
    type Gcm<A, T> = AesGcm<A, U12, T>;
    fn boxed<A>(algorithm: AeadAlgorithm, key: &[u8]) -> Result<Box<dyn Aead>, CryptoError>
    where
        A: AeadInOut<NonceSize = U12> + KeyInit + Send + Sync + 'static,
    {
        let slot = Box::<RustCryptoAead<A>>::new_uninit();
        let inner = A::new_from_slice(key).map_err(|_| CryptoError::KeyLength {
            expected: algorithm.key_len(),
            got: key.len(),
        })?;
        let keyed: Box<RustCryptoAead<A>> = Box::write(slot, RustCryptoAead { algorithm, inner });
        Ok(keyed)
    }
    match algorithm {
        AeadAlgorithm::AesGcm { key_bits, icv_len } => match (key_bits, icv_len) {
            (128, 8) => boxed::<Gcm<aes::Aes128Enc, U8>>(algorithm, key),
            (128, 12) => boxed::<Gcm<aes::Aes128Enc, U12>>(algorithm, key),
            (128, 16) => boxed::<Gcm<aes::Aes128Enc, U16>>(algorithm, key),
            (192, 8) => boxed::<Gcm<aes::Aes192Enc, U8>>(algorithm, key),
            (192, 12) => boxed::<Gcm<aes::Aes192Enc, U12>>(algorithm, key),
            (192, 16) => boxed::<Gcm<aes::Aes192Enc, U16>>(algorithm, key),
            (256, 8) => boxed::<Gcm<aes::Aes256Enc, U8>>(algorithm, key),
            (256, 12) => boxed::<Gcm<aes::Aes256Enc, U12>>(algorithm, key),
            (256, 16) => boxed::<Gcm<aes::Aes256Enc, U16>>(algorithm, key),
            _ => Err(CryptoError::Unsupported),
        },
        AeadAlgorithm::ChaCha20Poly1305 => {
            boxed::<chacha20poly1305::ChaCha20Poly1305>(algorithm, key)
        }
    }
}

struct RustCryptoAead<A> {
    algorithm: AeadAlgorithm,
    inner: A,
}

impl<A> fmt::Debug for RustCryptoAead<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RustCryptoAead").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl<A> Aead for RustCryptoAead<A>
where
    A: AeadInOut<NonceSize = consts::U12> + Send + Sync,
{
    fn algorithm(&self) -> AeadAlgorithm {
        self.algorithm
    }

    fn seal(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        if tag.len() != self.algorithm.icv_len() {
            return Err(CryptoError::IcvLength {
                expected: self.algorithm.icv_len(),
                got: tag.len(),
            });
        }
        let computed = self
            .inner
            .encrypt_inout_detached(&Array::from(*nonce), aad, data.into())
            .map_err(|_| CryptoError::Unsupported)?;
        tag.copy_from_slice(&computed);
        Ok(())
    }

    fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        let tag = Array::try_from(tag).map_err(|_| CryptoError::IcvLength {
            expected: self.algorithm.icv_len(),
            got: tag.len(),
        })?;
        self.inner
            .decrypt_inout_detached(&Array::from(*nonce), aad, data.into(), &tag)
            .map_err(|_| CryptoError::Authentication)
    }
}

/// An AEAD with its 4-byte salt: the form IKE and ESP use, where the nonce is
/// `salt | IV` and the 8-byte IV travels in each packet.
pub struct SaltedAead {
    aead: Keyed,
    /// Inline: an IKE SA keys one of these per message it seals or opens, and a heap copy of
    /// four bytes was one allocation of each (wiped on drop all the same).
    salt: Zeroizing<[u8; SALT_LEN]>,
}

/// A keyed AEAD as [`SaltedAead`] holds it. aws-lc-rs's key is a pointer to the context
/// AWS-LC allocated, so it is held inline: boxing it as well was a second allocation per
/// keying, and an IKE SA keys per message ([`AeadKeying::PerMessage`]). The other backends'
/// contexts are several hundred bytes, which a move would copy: they stay boxed.
enum Keyed {
    Boxed(Box<dyn Aead>),
    AwsLc(AwsLcAead),
}

impl Keyed {
    fn new(
        backend: AeadBackend,
        algorithm: AeadAlgorithm,
        key: &[u8],
    ) -> Result<Self, CryptoError> {
        match backend {
            AeadBackend::AwsLc => {
                check_key_len(algorithm, key)?;
                aws_lc_keyed(algorithm, key).map(Self::AwsLc)
            }
            _ => backend.new_aead(algorithm, key).map(Self::Boxed),
        }
    }

    fn get(&self) -> &dyn Aead {
        match self {
            Self::Boxed(aead) => aead.as_ref(),
            Self::AwsLc(aead) => aead,
        }
    }
}

/// The salt's length: every AEAD IPsec uses takes 4 bytes of salt from the key schedule
/// (RFC 4106 §8.1, RFC 7634 §2).
const SALT_LEN: usize = 4;

impl fmt::Debug for SaltedAead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaltedAead").field("aead", self.aead.get()).finish_non_exhaustive()
    }
}

impl SaltedAead {
    /// Splits `keymat` (key then salt) and keys the AEAD with `backend`.
    pub fn new(
        backend: AeadBackend,
        algorithm: AeadAlgorithm,
        keymat: &[u8],
    ) -> Result<Self, CryptoError> {
        if keymat.len() != algorithm.keymat_len() {
            return Err(CryptoError::KeyLength {
                expected: algorithm.keymat_len(),
                got: keymat.len(),
            });
        }
        let (key, salt) = keymat.split_at(algorithm.key_len());
        let salt = Zeroizing::new(<[u8; SALT_LEN]>::try_from(salt).map_err(|_| {
            CryptoError::KeyLength { expected: algorithm.key_len() + SALT_LEN, got: keymat.len() }
        })?);
        Ok(Self { aead: Keyed::new(backend, algorithm, key)?, salt })
    }

    pub fn algorithm(&self) -> AeadAlgorithm {
        self.aead.get().algorithm()
    }

    fn nonce(&self, iv: &[u8]) -> Result<[u8; 12], CryptoError> {
        if iv.len() != 8 {
            return Err(CryptoError::IvLength { expected: 8, got: iv.len() });
        }
        let mut nonce = [0u8; 12];
        nonce[..SALT_LEN].copy_from_slice(&*self.salt);
        nonce[4..].copy_from_slice(iv);
        Ok(nonce)
    }

    pub fn seal(
        &self,
        iv: &[u8],
        aad: &[u8],
        data: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError> {
        let nonce = self.nonce(iv)?;
        self.aead.get().seal(&nonce, aad, data, tag)
    }

    pub fn open(
        &self,
        iv: &[u8],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError> {
        let nonce = self.nonce(iv)?;
        self.aead.get().open(&nonce, aad, data, tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_round_trips_and_detects_forgery() {
        let algs = [
            AeadAlgorithm::AesGcm { key_bits: 128, icv_len: 8 },
            AeadAlgorithm::AesGcm { key_bits: 192, icv_len: 12 },
            AeadAlgorithm::AES256_GCM16,
            AeadAlgorithm::ChaCha20Poly1305,
        ];
        for alg in algs {
            let aead =
                SaltedAead::new(AeadBackend::RustCrypto, alg, &vec![3; alg.keymat_len()]).unwrap();
            let mut data = b"attack at dawn".to_vec();
            let mut tag = vec![0; alg.icv_len()];
            aead.seal(&[1; 8], b"hdr", &mut data, &mut tag).unwrap();
            let sealed = data.clone();
            aead.open(&[1; 8], b"hdr", &mut data, &tag).unwrap();
            assert_eq!(data, b"attack at dawn");
            let mut data = sealed.clone();
            assert_eq!(
                aead.open(&[1; 8], b"hdX", &mut data, &tag),
                Err(CryptoError::Authentication),
                "{alg:?}"
            );
            let mut data = sealed;
            tag[0] ^= 0x80;
            assert_eq!(
                aead.open(&[1; 8], b"hdr", &mut data, &tag),
                Err(CryptoError::Authentication),
                "{alg:?}"
            );
        }
    }

    /// ring and aws-lc-rs give RustCrypto's ciphertext and tag for the same key, nonce and
    /// AAD at every length, open what they seal, and refuse a forged tag.
    #[test]
    fn ring_and_aws_lc_match_rust_crypto_and_detect_forgery() {
        let algs = [
            AeadAlgorithm::AES128_GCM16,
            AeadAlgorithm::AesGcm { key_bits: 192, icv_len: 16 },
            AeadAlgorithm::AES256_GCM16,
            AeadAlgorithm::ChaCha20Poly1305,
        ];
        for backend in [AeadBackend::Ring, AeadBackend::AwsLc] {
            for alg in algs.into_iter().filter(|&a| backend.supports(a)) {
                let keymat: Vec<u8> = (0..alg.keymat_len() as u8).collect();
                let ours = SaltedAead::new(backend, alg, &keymat).unwrap();
                let theirs = SaltedAead::new(AeadBackend::RustCrypto, alg, &keymat).unwrap();
                for len in [0usize, 1, 15, 16, 17, 255, 1400] {
                    let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
                    let (mut a, mut b) = (plain.clone(), plain.clone());
                    let (mut ta, mut tb) = ([0u8; 16], [0u8; 16]);
                    ours.seal(&[9; 8], b"spi|seq", &mut a, &mut ta).unwrap();
                    theirs.seal(&[9; 8], b"spi|seq", &mut b, &mut tb).unwrap();
                    assert_eq!((&a, ta), (&b, tb), "{backend:?} {alg:?} {len}");
                    let mut forged = a.clone();
                    tb[15] ^= 1;
                    assert_eq!(
                        ours.open(&[9; 8], b"spi|seq", &mut forged, &tb),
                        Err(CryptoError::Authentication),
                        "{backend:?} {alg:?} {len}"
                    );
                    ours.open(&[9; 8], b"spi|seq", &mut a, &ta).unwrap();
                    assert_eq!(a, plain, "{backend:?} {alg:?} {len}");
                }
            }
        }
    }

    /// A tag of another length is refused by the backends that only do 16 bytes, on both
    /// sides, before anything is sealed or opened.
    #[test]
    fn full_tag_backends_refuse_other_tag_lengths() {
        for backend in [AeadBackend::Ring, AeadBackend::AwsLc] {
            let aead = backend.new_aead(AeadAlgorithm::AES256_GCM16, &[1; 32]).unwrap();
            let mut data = *b"plain";
            let mut short = [0u8; 12];
            assert_eq!(
                aead.seal(&[0; 12], b"", &mut data, &mut short),
                Err(CryptoError::IcvLength { expected: 16, got: 12 }),
                "{backend:?}"
            );
            assert_eq!(data, *b"plain", "{backend:?}");
            assert_eq!(
                aead.open(&[0; 12], b"", &mut data, &short),
                Err(CryptoError::IcvLength { expected: 16, got: 12 }),
                "{backend:?}"
            );
        }
    }

    /// Every key ring makes can be overwritten when dropped: there is a zero key for each
    /// algorithm ring keys, of that algorithm (a clone of another algorithm's key would not
    /// cover the same fields), and none for what ring does not key.
    #[test]
    fn ring_keys_have_a_zero_key_to_be_wiped_with() {
        let mut algs = vec![AeadAlgorithm::ChaCha20Poly1305];
        for key_bits in [128, 192, 256] {
            for icv_len in [8, 12, 16] {
                algs.push(AeadAlgorithm::AesGcm { key_bits, icv_len });
            }
        }
        for alg in algs {
            let zero = zero_key(alg);
            assert_eq!(zero.is_some(), AeadBackend::Ring.supports(alg), "{alg:?}");
            if let Some(zero) = zero {
                assert_eq!(Some(zero.algorithm()), ring_algorithm(alg), "{alg:?}");
                // The zero key is a working key of that algorithm: what it seals, a
                // RustCrypto AEAD under the same all-zero key opens.
                let mut data = *b"overwritten";
                let tag = zero
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key([1; 12]),
                        ring::aead::Aad::from(b"aad"),
                        &mut data,
                    )
                    .unwrap();
                let reference =
                    AeadBackend::RustCrypto.new_aead(alg, &vec![0; alg.key_len()]).unwrap();
                reference.open(&[1; 12], b"aad", &mut data, tag.as_ref()).unwrap();
                assert_eq!(&data, b"overwritten", "{alg:?}");
            }
        }
    }

    /// A dropped ring key is overwritten, not left keyed: the same `RingAead`, after what its
    /// `Drop` runs (`wipe`), seals as the all-zero key does.
    #[test]
    fn dropping_a_ring_key_overwrites_it_with_the_zero_key() {
        for alg in [
            AeadAlgorithm::AES128_GCM16,
            AeadAlgorithm::AES256_GCM16,
            AeadAlgorithm::ChaCha20Poly1305,
        ] {
            let key: Vec<u8> = (1..=alg.key_len() as u8).collect();
            let unbound = ring::aead::UnboundKey::new(ring_algorithm(alg).unwrap(), &key).unwrap();
            let mut ours = RingAead { algorithm: alg, key: ring::aead::LessSafeKey::new(unbound) };
            let seal = |aead: &RingAead| {
                let mut data = *b"sixteen octets!!";
                let mut tag = [0u8; 16];
                aead.seal(&[4; 12], b"", &mut data, &mut tag).unwrap();
                (data, tag)
            };
            let before = seal(&ours);
            ours.wipe();
            let zero = AeadBackend::RustCrypto.new_aead(alg, &vec![0; alg.key_len()]).unwrap();
            let mut data = *b"sixteen octets!!";
            let mut tag = [0u8; 16];
            zero.seal(&[4; 12], b"", &mut data, &mut tag).unwrap();
            assert_ne!(before, (data, tag), "{alg:?}");
            assert_eq!(seal(&ours), (data, tag), "{alg:?}: the key schedule was not overwritten");
        }
    }

    /// `fastest` names a backend that keys the algorithm: per SA ring wherever it can, per
    /// message aws-lc-rs wherever it can, RustCrypto otherwise.
    #[test]
    fn fastest_is_a_backend_that_keys_the_algorithm() {
        let mut algs = vec![AeadAlgorithm::ChaCha20Poly1305];
        for key_bits in [128, 192, 256] {
            for icv_len in [8, 12, 16] {
                algs.push(AeadAlgorithm::AesGcm { key_bits, icv_len });
            }
        }
        for alg in algs {
            for (keying, preferred) in [
                (AeadKeying::PerSa, AeadBackend::Ring),
                (AeadKeying::PerMessage, AeadBackend::AwsLc),
            ] {
                let fastest = AeadBackend::fastest(alg, keying);
                assert!(fastest.supports(alg), "{alg:?} {keying:?}");
                let expected =
                    if preferred.supports(alg) { preferred } else { AeadBackend::RustCrypto };
                assert_eq!(fastest, expected, "{alg:?} {keying:?}");
            }
        }
        // Every IKE AES-GCM-16 and ChaCha20-Poly1305 SA gets aws-lc-rs; truncated tags cannot.
        let per_message = |alg| AeadBackend::fastest(alg, AeadKeying::PerMessage);
        assert_eq!(per_message(AeadAlgorithm::AES256_GCM16), AeadBackend::AwsLc);
        assert_eq!(per_message(AeadAlgorithm::ChaCha20Poly1305), AeadBackend::AwsLc);
        let short = AeadAlgorithm::AesGcm { key_bits: 256, icv_len: 8 };
        assert_eq!(per_message(short), AeadBackend::RustCrypto);
    }

    /// `SaltedAead` keys aws-lc-rs inline, not through `new_aead`: the same checks, the
    /// same errors, and a key that seals as `new_aead`'s does.
    #[test]
    fn salted_aws_lc_keys_as_new_aead_does() {
        let short_tag = AeadAlgorithm::AesGcm { key_bits: 256, icv_len: 8 };
        let key_len_error = |expected, got| Err(CryptoError::KeyLength { expected, got });
        let salted = |alg, len| {
            SaltedAead::new(AeadBackend::AwsLc, alg, &vec![5; len]).map(|a| a.algorithm())
        };
        assert_eq!(salted(AeadAlgorithm::AES256_GCM16, 35), key_len_error(36, 35));
        assert_eq!(salted(AeadAlgorithm::ChaCha20Poly1305, 37), key_len_error(36, 37));
        assert_eq!(salted(short_tag, 36), Err(CryptoError::Unsupported));
        assert_eq!(
            AeadBackend::AwsLc.new_aead(short_tag, &[5; 32]).map(|a| a.algorithm()),
            Err(CryptoError::Unsupported)
        );
        for alg in [AeadAlgorithm::AES256_GCM16, AeadAlgorithm::ChaCha20Poly1305] {
            let inline = SaltedAead::new(AeadBackend::AwsLc, alg, &[5; 36]).unwrap();
            let boxed = AeadBackend::AwsLc.new_aead(alg, &[5; 32]).unwrap();
            let (mut a, mut b) = (*b"same bytes", *b"same bytes");
            let (mut ta, mut tb) = ([0u8; 16], [0u8; 16]);
            inline.seal(&[3; 8], b"aad", &mut a, &mut ta).unwrap();
            let mut nonce = [5u8; 12];
            nonce[4..].copy_from_slice(&[3; 8]);
            boxed.seal(&nonce, b"aad", &mut b, &mut tb).unwrap();
            assert_eq!((a, ta), (b, tb), "{alg:?}");
        }
    }

    #[test]
    fn ring_and_aws_lc_refuse_what_they_cannot_do() {
        let short = AeadAlgorithm::AesGcm { key_bits: 128, icv_len: 8 };
        let aes192 = AeadAlgorithm::AesGcm { key_bits: 192, icv_len: 16 };
        for alg in [short, aes192] {
            let err = AeadBackend::Ring.new_aead(alg, &vec![0; alg.key_len()]).unwrap_err();
            assert_eq!(err, CryptoError::Unsupported, "{alg:?}");
        }
        for icv_len in [8, 12] {
            let alg = AeadAlgorithm::AesGcm { key_bits: 256, icv_len };
            let err = AeadBackend::AwsLc.new_aead(alg, &[0; 32]).unwrap_err();
            assert_eq!(err, CryptoError::Unsupported, "{alg:?}");
        }
    }

    /// `supports` says what `new_aead` does, for every backend, over valid and invalid
    /// parameters alike.
    #[test]
    fn supports_agrees_with_keying() {
        let mut algs = vec![AeadAlgorithm::ChaCha20Poly1305];
        for key_bits in [0, 64, 100, 128, 129, 192, 256, 257] {
            for icv_len in [0, 4, 8, 12, 16, 32] {
                algs.push(AeadAlgorithm::AesGcm { key_bits, icv_len });
            }
        }
        for backend in [AeadBackend::RustCrypto, AeadBackend::Ring, AeadBackend::AwsLc] {
            for &alg in &algs {
                let keyed = backend.new_aead(alg, &vec![7; alg.key_len()]).is_ok();
                assert_eq!(backend.supports(alg), keyed, "{backend:?} {alg:?}");
            }
        }
    }

    #[test]
    fn truncated_gcm_tag_is_prefix_of_full_tag() {
        // RFC 5282 §7 / NIST SP 800-38D: a t-byte tag is the leftmost t bytes of the full tag.
        let keymat = [5u8; 20];
        let full =
            SaltedAead::new(AeadBackend::RustCrypto, AeadAlgorithm::AES128_GCM16, &keymat).unwrap();
        let short = AeadAlgorithm::AesGcm { key_bits: 128, icv_len: 8 };
        let short = SaltedAead::new(AeadBackend::RustCrypto, short, &keymat).unwrap();
        let (mut a, mut b) = (vec![7u8; 33], vec![7u8; 33]);
        let (mut ta, mut tb) = ([0u8; 16], [0u8; 8]);
        full.seal(&[2; 8], b"aad", &mut a, &mut ta).unwrap();
        short.seal(&[2; 8], b"aad", &mut b, &mut tb).unwrap();
        assert_eq!(a, b);
        assert_eq!(&ta[..8], &tb);
    }

    #[test]
    fn from_iana_maps_icv_lengths() {
        assert_eq!(AeadAlgorithm::from_iana(20, Some(256)), Some(AeadAlgorithm::AES256_GCM16));
        assert_eq!(
            AeadAlgorithm::from_iana(18, Some(128)),
            Some(AeadAlgorithm::AesGcm { key_bits: 128, icv_len: 8 })
        );
        assert_eq!(AeadAlgorithm::from_iana(20, None), None);
        assert_eq!(AeadAlgorithm::from_iana(28, None), Some(AeadAlgorithm::ChaCha20Poly1305));
        for alg in [AeadAlgorithm::AES128_GCM16, AeadAlgorithm::ChaCha20Poly1305] {
            assert_eq!(
                AeadAlgorithm::from_iana(alg.iana_id(), alg.key_bits_attribute()),
                Some(alg)
            );
        }
    }
}
