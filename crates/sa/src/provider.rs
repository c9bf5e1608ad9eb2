//! The inputs a negotiation takes from outside: randomness and key exchange.
//!
//! Both are traits so that a seeded run is reproducible byte for byte, and so that fuzzing can
//! swap the key exchange for a cheap, deterministic, insecure one (as rustls does with its
//! fuzzing provider).

use core::fmt;

use ikeway_codec::DhGroup;
use ikeway_crypto::SecretBytes;

/// A source of random bytes. Any [`rand_core::RngCore`] is one.
pub trait Random {
    fn fill(&mut self, buf: &mut [u8]);
}

impl<R: rand_core::RngCore + ?Sized> Random for R {
    fn fill(&mut self, buf: &mut [u8]) {
        self.fill_bytes(buf);
    }
}

/// Why a key exchange could not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KexError {
    /// The group is not implemented by this provider.
    UnsupportedGroup(DhGroup),
    /// The peer's public value is malformed or fails the checks of RFC 6989.
    InvalidPublicValue,
}

impl fmt::Display for KexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedGroup(g) => write!(f, "key exchange group {g} not supported"),
            Self::InvalidPublicValue => f.write_str("peer's key exchange value is invalid"),
        }
    }
}

impl std::error::Error for KexError {}

/// Creates key exchanges for the groups it supports: Diffie-Hellman groups and KEMs alike.
///
/// A Diffie-Hellman exchange is symmetric: both sides `start`, send their public value and
/// `complete` with the peer's. A KEM (ML-KEM, RFC 9370 additional key exchanges) is not: the
/// side that speaks first `start`s and sends an encapsulation key; the side that answers
/// [`respond`](Self::respond)s with a ciphertext and has the secret at once; the first side then
/// `complete`s by decapsulating. The sa always calls `start` on the speaking side and `respond`
/// on the answering side, so the same code drives both kinds.
pub trait KeyExchangeProvider: Send + Sync + fmt::Debug {
    fn supports(&self, group: DhGroup) -> bool;

    /// The side that speaks first (initiator, or whoever starts a CREATE_CHILD_SA): a DH
    /// public value, or a KEM encapsulation key.
    fn start(
        &self,
        group: DhGroup,
        rng: &mut dyn Random,
    ) -> Result<Box<dyn ActiveKeyExchange>, KexError>;

    /// The side that answers: our KE data (DH public value, or KEM ciphertext) and the shared
    /// secret, from the peer's KE data. The default does `start` then `complete`, which is
    /// right for Diffie-Hellman; a provider of KEMs overrides it to encapsulate.
    fn respond(
        &self,
        group: DhGroup,
        peer_public: &[u8],
        rng: &mut dyn Random,
    ) -> Result<(Vec<u8>, SecretBytes), KexError> {
        start_then_complete(self, group, peer_public, rng)
    }
}

/// The answer of a Diffie-Hellman group: our own `start`, completed with the peer's value.
/// The trait's default `respond`, and what a provider that overrides it for KEMs does for DH.
fn start_then_complete<P: KeyExchangeProvider + ?Sized>(
    provider: &P,
    group: DhGroup,
    peer_public: &[u8],
    rng: &mut dyn Random,
) -> Result<(Vec<u8>, SecretBytes), KexError> {
    let ours = provider.start(group, rng)?;
    let shared = ours.complete(peer_public)?;
    Ok((ours.public_value().to_vec(), shared))
}

/// The first speaker's side of a key exchange in progress: our KE data is known, the private
/// value (DH private key or KEM decapsulation key) is held, and wiped on drop, until the
/// peer's KE data arrives.
pub trait ActiveKeyExchange: Send + fmt::Debug {
    fn group(&self) -> DhGroup;
    /// Our KE data: a DH public value or a KEM encapsulation key.
    fn public_value(&self) -> &[u8];
    /// The shared secret from the peer's KE data: g^ir for DH; for a KEM, the decapsulated
    /// ciphertext. A KEM ciphertext of the right length never fails here, even a tampered one
    /// (FIPS 203 implicit rejection): the keys then differ and the AUTH check fails.
    fn complete(&self, peer_public: &[u8]) -> Result<SecretBytes, KexError>;
}

/// The real key exchange: the Diffie-Hellman groups of [`ikeway_crypto::KexGroup`] (31, 19,
/// 20, 14, 15, 16) and the KEMs of [`ikeway_crypto::KemAlgorithm`] (36 ML-KEM-768, 37
/// ML-KEM-1024), with the measured-fastest backend by default.
///
/// KEM input is checked as FIPS 203 asks: exact lengths (encapsulation key 1184 / 1568 bytes,
/// ciphertext 1088 / 1568) and the encapsulation-key modulus check on `respond`, both
/// [`KexError::InvalidPublicValue`]; a well-sized but wrong ciphertext decapsulates to the
/// implicit-rejection secret (no error).
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultKex {
    pub backend: ikeway_crypto::KexBackend,
}

#[derive(Debug)]
struct DefaultActive {
    group: DhGroup,
    kex: ikeway_crypto::KeyExchange,
}

#[derive(Debug)]
struct DefaultKemActive {
    group: DhGroup,
    kem: ikeway_crypto::KemDecapsulator,
}

impl KeyExchangeProvider for DefaultKex {
    fn supports(&self, group: DhGroup) -> bool {
        ikeway_crypto::KexGroup::from_iana_id(group.0).is_some()
            || ikeway_crypto::KemAlgorithm::from_iana_id(group.0).is_some()
    }

    fn start(
        &self,
        group: DhGroup,
        rng: &mut dyn Random,
    ) -> Result<Box<dyn ActiveKeyExchange>, KexError> {
        let mut fill = |buf: &mut [u8]| rng.fill(buf);
        if let Some(alg) = ikeway_crypto::KemAlgorithm::from_iana_id(group.0) {
            let kem = ikeway_crypto::KemDecapsulator::generate(alg, self.backend, &mut fill)
                .map_err(|_| KexError::UnsupportedGroup(group))?;
            return Ok(Box::new(DefaultKemActive { group, kem }));
        }
        let kex = self.generate_dh(group, &mut fill)?;
        Ok(Box::new(DefaultActive { group, kex }))
    }

    fn respond(
        &self,
        group: DhGroup,
        peer_public: &[u8],
        rng: &mut dyn Random,
    ) -> Result<(Vec<u8>, SecretBytes), KexError> {
        let mut fill = |buf: &mut [u8]| rng.fill(buf);
        let Some(alg) = ikeway_crypto::KemAlgorithm::from_iana_id(group.0) else {
            // `start` then `complete`, with their errors, but on the stack: the boxed exchange
            // `start` makes for the state would be dropped here.
            let kex = self.generate_dh(group, &mut fill)?;
            let shared = agree(&kex, peer_public)?;
            return Ok((kex.public_value().to_vec(), shared));
        };
        let answer = ikeway_crypto::kem::encapsulate(alg, self.backend, peer_public, &mut fill)
            .map_err(|_| KexError::InvalidPublicValue)?;
        Ok((answer.ciphertext, answer.shared_secret))
    }
}

impl DefaultKex {
    /// A Diffie-Hellman key pair of `group` (what `start` keeps and `respond` answers with);
    /// `UnsupportedGroup` for a group we do not have.
    fn generate_dh(
        &self,
        group: DhGroup,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<ikeway_crypto::KeyExchange, KexError> {
        let g = ikeway_crypto::KexGroup::from_iana_id(group.0)
            .ok_or(KexError::UnsupportedGroup(group))?;
        ikeway_crypto::KeyExchange::generate(g, self.backend, fill)
            .map_err(|_| KexError::UnsupportedGroup(group))
    }
}

/// The shared secret of `kex` with the peer's public value; `InvalidPublicValue` if the
/// value is not one of the group's.
fn agree(kex: &ikeway_crypto::KeyExchange, peer_public: &[u8]) -> Result<SecretBytes, KexError> {
    kex.shared_secret(peer_public).map_err(|_| KexError::InvalidPublicValue)
}

impl ActiveKeyExchange for DefaultActive {
    fn group(&self) -> DhGroup {
        self.group
    }

    fn public_value(&self) -> &[u8] {
        self.kex.public_value()
    }

    fn complete(&self, peer_public: &[u8]) -> Result<SecretBytes, KexError> {
        agree(&self.kex, peer_public)
    }
}

impl ActiveKeyExchange for DefaultKemActive {
    fn group(&self) -> DhGroup {
        self.group
    }

    fn public_value(&self) -> &[u8] {
        self.kem.encapsulation_key()
    }

    fn complete(&self, ciphertext: &[u8]) -> Result<SecretBytes, KexError> {
        self.kem.decapsulate(ciphertext).map_err(|_| KexError::InvalidPublicValue)
    }
}

/// A key exchange with no security at all, for fuzzing and for tests that measure everything
/// but the key exchange: the "public value" is random, and the shared secret is a hash of both
/// public values, so anyone who sees the exchange knows it.
///
/// For the KEM groups (36, 37) it keeps the KEM's shape and sizes, so messages are as large as
/// real ones (and fragment alike): `start` sends 1184 / 1568 random bytes as the
/// "encapsulation key", `respond` answers 1088 / 1568 random bytes as the "ciphertext", and
/// both sides' secret is a hash of the two; lengths are checked exactly. Other groups use a
/// 32-byte value.
///
/// Never use it with a real peer: it does not interoperate, by design, and says so in its name.
/// It exists only with the `fuzzing` feature (off by default; this crate's own tests, the fuzz
/// targets and benches turn it on), so no production build can pick it by mistake.
#[cfg(feature = "fuzzing")]
#[derive(Debug, Default, Clone, Copy)]
pub struct InsecureKexForFuzzing;

#[cfg(feature = "fuzzing")]
#[derive(Debug)]
struct InsecureActive {
    group: DhGroup,
    public: Vec<u8>,
}

/// The (encapsulation key, ciphertext) lengths of a KEM group, `None` for a DH-like one.
#[cfg(feature = "fuzzing")]
fn insecure_kem_lengths(group: DhGroup) -> Option<(usize, usize)> {
    ikeway_crypto::KemAlgorithm::from_iana_id(group.0)
        .map(|alg| (alg.encapsulation_key_len(), alg.ciphertext_len()))
}

#[cfg(feature = "fuzzing")]
fn insecure_kem_secret(encapsulation_key: &[u8], ciphertext: &[u8]) -> SecretBytes {
    ikeway_crypto::Prf::HmacSha256
        .compute(b"insecure-fuzzing-kem", &[encapsulation_key, ciphertext])
}

#[cfg(feature = "fuzzing")]
impl KeyExchangeProvider for InsecureKexForFuzzing {
    fn supports(&self, _group: DhGroup) -> bool {
        true
    }

    fn start(
        &self,
        group: DhGroup,
        rng: &mut dyn Random,
    ) -> Result<Box<dyn ActiveKeyExchange>, KexError> {
        let len = insecure_kem_lengths(group).map_or(32, |(ek, _)| ek);
        let mut public = vec![0u8; len];
        rng.fill(&mut public);
        Ok(Box::new(InsecureActive { group, public }))
    }

    fn respond(
        &self,
        group: DhGroup,
        peer_public: &[u8],
        rng: &mut dyn Random,
    ) -> Result<(Vec<u8>, SecretBytes), KexError> {
        let Some((ek_len, ct_len)) = insecure_kem_lengths(group) else {
            return start_then_complete(self, group, peer_public, rng);
        };
        if peer_public.len() != ek_len {
            return Err(KexError::InvalidPublicValue);
        }
        let mut ciphertext = vec![0u8; ct_len];
        rng.fill(&mut ciphertext);
        let shared = insecure_kem_secret(peer_public, &ciphertext);
        Ok((ciphertext, shared))
    }
}

#[cfg(feature = "fuzzing")]
impl ActiveKeyExchange for InsecureActive {
    fn group(&self) -> DhGroup {
        self.group
    }

    fn public_value(&self) -> &[u8] {
        &self.public
    }

    fn complete(&self, peer_public: &[u8]) -> Result<SecretBytes, KexError> {
        if let Some((_, ct_len)) = insecure_kem_lengths(self.group) {
            if peer_public.len() != ct_len {
                return Err(KexError::InvalidPublicValue);
            }
            return Ok(insecure_kem_secret(&self.public, peer_public));
        }
        if peer_public.len() != 32 {
            return Err(KexError::InvalidPublicValue);
        }
        let (a, b) = if self.public.as_slice() <= peer_public {
            (self.public.as_slice(), peer_public)
        } else {
            (peer_public, self.public.as_slice())
        };
        let shared = ikeway_crypto::Prf::HmacSha256.compute(b"insecure-fuzzing-kex", &[a, b]);
        Ok(shared)
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    const MLKEM768: DhGroup = DhGroup(36);
    const MLKEM1024: DhGroup = DhGroup(37);

    fn providers() -> [DefaultKex; 2] {
        ikeway_crypto::KexBackend::ALL.map(|backend| DefaultKex { backend })
    }

    #[test]
    fn default_kex_supports_the_ml_kem_groups() {
        for kex in providers() {
            assert!(kex.supports(MLKEM768));
            assert!(kex.supports(MLKEM1024));
            assert!(kex.supports(DhGroup(31)));
            assert!(!kex.supports(DhGroup(35)));
            assert!(!kex.supports(DhGroup(38)));
        }
    }

    #[test]
    fn ml_kem_start_respond_complete_agree_with_exact_lengths() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for (group, ek_len, ct_len) in [(MLKEM768, 1184, 1088), (MLKEM1024, 1568, 1568)] {
            // Every pairing of backends: the two sides need not run the same library.
            for first in providers() {
                for answer in providers() {
                    let ours = first.start(group, &mut rng).unwrap();
                    assert_eq!(ours.group(), group);
                    assert_eq!(ours.public_value().len(), ek_len);
                    let (ct, theirs) =
                        answer.respond(group, ours.public_value(), &mut rng).unwrap();
                    assert_eq!(ct.len(), ct_len);
                    assert_eq!(theirs.len(), 32);
                    let mine = ours.complete(&ct).unwrap();
                    assert_eq!(mine.expose(), theirs.expose());
                }
            }
        }
    }

    #[test]
    fn ml_kem_wrong_lengths_are_invalid_public_values() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        for kex in providers() {
            let ours = kex.start(MLKEM768, &mut rng).unwrap();
            let ek = ours.public_value().to_vec();
            for bad in [&ek[..1183], &[ek.as_slice(), &[0]].concat()[..], &[][..]] {
                assert_eq!(
                    kex.respond(MLKEM768, bad, &mut rng).unwrap_err(),
                    KexError::InvalidPublicValue
                );
            }
            // A ML-KEM-768 key offered for ML-KEM-1024 is the wrong length there.
            assert_eq!(
                kex.respond(MLKEM1024, &ek, &mut rng).unwrap_err(),
                KexError::InvalidPublicValue
            );
            let (ct, _) = kex.respond(MLKEM768, &ek, &mut rng).unwrap();
            assert_eq!(ours.complete(&ct[..1087]).unwrap_err(), KexError::InvalidPublicValue);
            assert_eq!(
                ours.complete(&[ct.as_slice(), &[0]].concat()).unwrap_err(),
                KexError::InvalidPublicValue
            );
        }
    }

    #[test]
    fn ml_kem_respond_runs_the_modulus_check() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for kex in providers() {
            let ours = kex.start(MLKEM1024, &mut rng).unwrap();
            let mut ek = ours.public_value().to_vec();
            // The first 12-bit coefficient set to 0xfff > q - 1.
            ek[0] = 0xff;
            ek[1] |= 0x0f;
            assert_eq!(
                kex.respond(MLKEM1024, &ek, &mut rng).unwrap_err(),
                KexError::InvalidPublicValue
            );
        }
    }

    #[test]
    fn tampered_ml_kem_ciphertext_gives_a_different_secret_not_an_error() {
        // FIPS 203 implicit rejection: the initiator's secret silently differs, so the IKE
        // keys differ and the exchange fails at AUTH, never at the KE payload.
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        for kex in providers() {
            let ours = kex.start(MLKEM768, &mut rng).unwrap();
            let (mut ct, theirs) = kex.respond(MLKEM768, ours.public_value(), &mut rng).unwrap();
            ct[100] ^= 0x01;
            let mine = ours.complete(&ct).unwrap();
            assert_eq!(mine.len(), 32);
            assert_ne!(mine.expose(), theirs.expose());
        }
    }

    #[test]
    fn rustcrypto_ml_kem_is_reproducible_from_the_seed() {
        let kex = DefaultKex { backend: ikeway_crypto::KexBackend::RustCrypto };
        let run = || {
            let mut rng = ChaCha20Rng::seed_from_u64(5);
            let ours = kex.start(MLKEM768, &mut rng).unwrap();
            let (ct, secret) = kex.respond(MLKEM768, ours.public_value(), &mut rng).unwrap();
            (ours.public_value().to_vec(), ct, secret)
        };
        let (ek1, ct1, k1) = run();
        let (ek2, ct2, k2) = run();
        assert_eq!(ek1, ek2);
        assert_eq!(ct1, ct2);
        assert_eq!(k1.expose(), k2.expose());
    }

    #[test]
    fn default_respond_is_start_then_complete_for_diffie_hellman() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        for kex in providers() {
            let ours = kex.start(DhGroup(31), &mut rng).unwrap();
            let (theirs_public, theirs) =
                kex.respond(DhGroup(31), ours.public_value(), &mut rng).unwrap();
            assert_eq!(theirs_public.len(), 32);
            assert_eq!(ours.complete(&theirs_public).unwrap().expose(), theirs.expose());
        }
    }

    /// `respond` for a DH group runs on the stack, not through `start`'s box: the same
    /// errors as start-then-complete, and the same agreement for an ECP group too.
    #[test]
    fn diffie_hellman_respond_keeps_its_errors_and_agrees() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for kex in providers() {
            for group in [DhGroup(31), DhGroup(19)] {
                let ours = kex.start(group, &mut rng).unwrap();
                let (public, secret) = kex.respond(group, ours.public_value(), &mut rng).unwrap();
                assert_eq!(public.len(), ours.public_value().len(), "group {}", group.0);
                assert_eq!(ours.complete(&public).unwrap().expose(), secret.expose());
                let short = &ours.public_value()[1..];
                assert_eq!(
                    kex.respond(group, short, &mut rng).map(|_| ()),
                    Err(KexError::InvalidPublicValue),
                    "group {}",
                    group.0
                );
            }
            assert_eq!(
                kex.respond(DhGroup(999), &[0; 32], &mut rng).map(|_| ()),
                Err(KexError::UnsupportedGroup(DhGroup(999)))
            );
        }
    }

    #[cfg(feature = "fuzzing")]
    #[test]
    fn insecure_kex_keeps_kem_sizes_and_agrees() {
        let kex = InsecureKexForFuzzing;
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for (group, ek_len, ct_len) in [(MLKEM768, 1184, 1088), (MLKEM1024, 1568, 1568)] {
            let ours = kex.start(group, &mut rng).unwrap();
            assert_eq!(ours.public_value().len(), ek_len);
            let (ct, theirs) = kex.respond(group, ours.public_value(), &mut rng).unwrap();
            assert_eq!(ct.len(), ct_len);
            assert_eq!(ours.complete(&ct).unwrap().expose(), theirs.expose());
            assert_eq!(ours.complete(&ct[1..]).unwrap_err(), KexError::InvalidPublicValue);
            assert_eq!(
                kex.respond(group, &ours.public_value()[1..], &mut rng).unwrap_err(),
                KexError::InvalidPublicValue
            );
        }
        // Diffie-Hellman groups keep their 32-byte values.
        let ours = kex.start(DhGroup(31), &mut rng).unwrap();
        let (public, theirs) = kex.respond(DhGroup(31), ours.public_value(), &mut rng).unwrap();
        assert_eq!(public.len(), 32);
        assert_eq!(ours.complete(&public).unwrap().expose(), theirs.expose());
    }
}
