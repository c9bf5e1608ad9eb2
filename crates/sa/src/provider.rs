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

/// Creates key exchanges for the groups it supports.
pub trait KeyExchangeProvider: Send + Sync + fmt::Debug {
    fn supports(&self, group: DhGroup) -> bool;
    fn start(
        &self,
        group: DhGroup,
        rng: &mut dyn Random,
    ) -> Result<Box<dyn ActiveKeyExchange>, KexError>;
}

/// One side of a key exchange in progress: our public value is known, the private value is
/// held (and wiped on drop) until the peer's value arrives.
pub trait ActiveKeyExchange: Send + fmt::Debug {
    fn group(&self) -> DhGroup;
    fn public_value(&self) -> &[u8];
    /// Computes g^ir from the peer's public value.
    fn complete(&self, peer_public: &[u8]) -> Result<SecretBytes, KexError>;
}

/// The real key exchange: the groups of [`ikeway_crypto::KexGroup`] (31, 19, 20, 14, 15, 16)
/// with the measured-fastest backend by default.
#[derive(Debug, Default, Clone, Copy)]
pub struct DefaultKex {
    pub backend: ikeway_crypto::KexBackend,
}

#[derive(Debug)]
struct DefaultActive {
    group: DhGroup,
    kex: ikeway_crypto::KeyExchange,
}

impl KeyExchangeProvider for DefaultKex {
    fn supports(&self, group: DhGroup) -> bool {
        ikeway_crypto::KexGroup::from_iana_id(group.0).is_some()
    }

    fn start(
        &self,
        group: DhGroup,
        rng: &mut dyn Random,
    ) -> Result<Box<dyn ActiveKeyExchange>, KexError> {
        let g = ikeway_crypto::KexGroup::from_iana_id(group.0)
            .ok_or(KexError::UnsupportedGroup(group))?;
        let kex = ikeway_crypto::KeyExchange::generate(g, self.backend, &mut |buf| rng.fill(buf))
            .map_err(|_| KexError::UnsupportedGroup(group))?;
        Ok(Box::new(DefaultActive { group, kex }))
    }
}

impl ActiveKeyExchange for DefaultActive {
    fn group(&self) -> DhGroup {
        self.group
    }

    fn public_value(&self) -> &[u8] {
        self.kex.public_value()
    }

    fn complete(&self, peer_public: &[u8]) -> Result<SecretBytes, KexError> {
        self.kex.shared_secret(peer_public).map_err(|_| KexError::InvalidPublicValue)
    }
}

/// A key exchange with no security at all, for fuzzing and for tests that measure everything
/// but the key exchange: the "public value" is random, and the shared secret is a hash of both
/// public values, so anyone who sees the exchange knows it.
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
        let mut public = vec![0u8; 32];
        rng.fill(&mut public);
        Ok(Box::new(InsecureActive { group, public }))
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
