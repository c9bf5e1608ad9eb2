//! The generator's key pairs, made once: a client's X25519 key generation is the one part of
//! its handshake whose result the responder cannot tell from a fresh one if it is drawn from a
//! large enough pool, so the generator spends its CPU on what the responder's work depends on.
//!
//! What the responder still gets per handshake: a new SPI, a new nonce, its own new key pair
//! and a new shared secret (its own private key is fresh every time, so no shared secret
//! repeats and the generator completes every Diffie-Hellman itself), new keys, a new AUTH.
//! What it could notice: the same KEi comes back once every [`KeyPool::len`] handshakes. That
//! saves it nothing: its own private key is new for every IKE SA (ikeway's and charon's alike),
//! so the shared secret must be computed afresh whatever KEi it got.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ikeway_codec::DhGroup;
use ikeway_crypto::SecretBytes;
use ikeway_sa::{ActiveKeyExchange, KexError, KeyExchangeProvider, Random};

/// Hands out `start`s from a fixed set of key pairs in turn; everything else (the groups it
/// has no pool for, `complete`, `respond`) is `inner`'s.
#[derive(Debug)]
pub struct KeyPool {
    inner: Arc<dyn KeyExchangeProvider>,
    group: DhGroup,
    pairs: Vec<Pooled>,
    next: AtomicUsize,
}

impl KeyPool {
    /// `size` key pairs of `group` from `inner`, with randomness from `rng`.
    pub fn new(
        inner: Arc<dyn KeyExchangeProvider>,
        group: DhGroup,
        size: usize,
        rng: &mut dyn Random,
    ) -> Result<Self, KexError> {
        let pairs = (0..size.max(1))
            .map(|_| {
                let pair = inner.start(group, rng)?;
                let public = Arc::from(pair.public_value());
                Ok(Pooled { pair: Arc::new(Mutex::new(pair)), public })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { inner, group, pairs, next: AtomicUsize::new(0) })
    }

    /// How many handshakes apart the same public value comes back.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl KeyExchangeProvider for KeyPool {
    fn supports(&self, group: DhGroup) -> bool {
        self.inner.supports(group)
    }

    fn start(
        &self,
        group: DhGroup,
        rng: &mut dyn Random,
    ) -> Result<Box<dyn ActiveKeyExchange>, KexError> {
        if group != self.group {
            return self.inner.start(group, rng);
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.pairs.len();
        Ok(Box::new(self.pairs[i].clone()))
    }

    fn respond(
        &self,
        group: DhGroup,
        peer_public: &[u8],
        rng: &mut dyn Random,
    ) -> Result<(Vec<u8>, SecretBytes), KexError> {
        self.inner.respond(group, peer_public, rng)
    }
}

/// One key pair of the pool, lent to one handshake at a time or several (a key exchange is
/// only `Send`: the lock makes the shared pair `Sync`; the generator's one thread never waits
/// on it).
#[derive(Debug, Clone)]
struct Pooled {
    pair: Arc<Mutex<Box<dyn ActiveKeyExchange>>>,
    public: Arc<[u8]>,
}

impl Pooled {
    fn pair(&self) -> std::sync::MutexGuard<'_, Box<dyn ActiveKeyExchange>> {
        self.pair.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ActiveKeyExchange for Pooled {
    fn group(&self) -> DhGroup {
        self.pair().group()
    }

    fn public_value(&self) -> &[u8] {
        &self.public
    }

    fn complete(&self, peer_public: &[u8]) -> Result<SecretBytes, KexError> {
        self.pair().complete(peer_public)
    }
}

#[cfg(test)]
mod tests {
    use ikeway_sa::DefaultKex;
    use rand_chacha::ChaCha20Rng;
    use rand_chacha::rand_core::SeedableRng;

    use super::*;

    #[test]
    fn lends_each_pair_in_turn_and_completes_like_a_fresh_one() {
        let kex: Arc<dyn KeyExchangeProvider> = Arc::new(DefaultKex::default());
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let pool = KeyPool::new(kex.clone(), DhGroup::CURVE25519, 3, &mut rng).unwrap();
        assert_eq!(pool.len(), 3);
        let lent: Vec<_> =
            (0..4).map(|_| pool.start(DhGroup::CURVE25519, &mut rng).unwrap()).collect();
        let publics: Vec<&[u8]> = lent.iter().map(|k| k.public_value()).collect();
        assert_ne!(publics[0], publics[1]);
        assert_ne!(publics[1], publics[2]);
        assert_ne!(publics[0], publics[2]);
        assert_eq!(publics[3], publics[0], "the fourth comes round to the first");
        // The responder's side is a fresh key pair every time: both ends agree.
        let (answer, theirs) = kex.respond(DhGroup::CURVE25519, publics[1], &mut rng).unwrap();
        assert_eq!(lent[1].complete(&answer).unwrap().expose(), theirs.expose());
        // A group without a pool is the inner provider's.
        let other = pool.start(DhGroup::ECP_256, &mut rng).unwrap();
        assert_eq!(other.group(), DhGroup::ECP_256);
        assert_eq!(pool.len(), 3);
    }
}
