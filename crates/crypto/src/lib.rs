//! Cryptographic building blocks for IKEv2 and ESP.
//!
//! - [`Prf`]: the PRFs and prf+ of RFC 7296 §2.13;
//! - [`keys`]: SKEYSEED, the seven IKE SA keys and child SA key material (§2.14, §2.17, §2.18);
//! - [`Integrity`], [`BlockCipher`], [`AeadAlgorithm`]: the transforms, keyed once and then used
//!   per message;
//! - [`Suite`] / [`Protector`]: "encrypt and authenticate" as one call, whether the suite is an
//!   AEAD or a cipher plus a MAC. Both the IKE Encrypted payload and ESP use it;
//! - [`AeadBackend`]: the seam that chooses which library implements the AEADs, and
//!   [`AeadBackend::fastest`] the one measured faster for a use ([`AeadKeying`]);
//! - [`KeyExchange`] / [`KexGroup`] / [`KexBackend`]: the IKEv2 Diffie-Hellman groups (KE
//!   payload), keyed from caller-supplied random bytes;
//! - [`kem`]: ML-KEM-768/1024 (FIPS 203), the post-quantum key exchange methods of RFC 9370
//!   additional key exchanges, on the same [`KexBackend`] seam.
//!
//! No I/O and no clock. Secrets are held in [`SecretBytes`], which is wiped on drop and prints
//! as `SecretBytes(N bytes, redacted)`.
//!
//! ```
//! use ikeway_crypto::{keys, AeadAlgorithm, AeadBackend, Encryption, Prf, Suite};
//!
//! // Derive IKE SA keys for AES-GCM-16-256 with PRF_HMAC_SHA2_256...
//! let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES256_GCM16), None).unwrap();
//! let seed = keys::skeyseed(Prf::HmacSha256, b"initiator nonce!", b"responder nonce!", b"g^ir");
//! let lengths = keys::IkeKeyLengths { integrity: suite.integrity_key_len(), encryption: suite.encryption_key_len() };
//! let ike = keys::derive_ike_keys(Prf::HmacSha256, seed.expose(), b"initiator nonce!", b"responder nonce!", 1, 2, lengths).unwrap();
//!
//! // ...and protect a message with SK_ei.
//! let sealer = suite.key(AeadBackend::default(), ike.sk_ei.expose(), ike.sk_ai.expose()).unwrap();
//! let mut body = *b"inner payloads";
//! let mut icv = [0u8; 16];
//! sealer.seal(b"IKE header", &[0; 8], &mut body, &mut icv).unwrap();
//! sealer.open(b"IKE header", &[0; 8], &mut body, &icv).unwrap();
//! assert_eq!(&body, b"inner payloads");
//! ```

mod aead;
mod cipher;
mod error;
mod integrity;
pub mod kem;
pub mod kex;
mod keyed_hmac;
pub mod keys;
mod prf;
mod protector;
mod secret;

pub use aead::{Aead, AeadAlgorithm, AeadBackend, AeadKeying, SaltedAead};
pub use cipher::{BlockCipher, CipherKey};
pub use error::CryptoError;
pub use integrity::{Integrity, IntegrityKey};
pub use kem::{KemAlgorithm, KemDecapsulator, KemEncapsulation};
pub use kex::{KexBackend, KexGroup, KeyExchange};
pub use prf::{KeyedPrf, Prf, PrfOutput};
pub use protector::{Encryption, Protector, Suite};
pub use secret::SecretBytes;
