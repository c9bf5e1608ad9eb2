//! Shared by the integration tests: SA pairs with fixed keys for every supported suite.

#![allow(dead_code, unreachable_pub)]

use ikeway_crypto::{
    AeadAlgorithm, AeadBackend, BlockCipher, Encryption, Integrity, SecretBytes, Suite,
};
use ikeway_esp::{InboundSa, OutboundSa, SaConfig};

pub const SPI: u32 = 0x1234_5678;

pub fn gcm128() -> Suite {
    Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap()
}

pub fn all_suites() -> Vec<(Suite, AeadBackend)> {
    let aead = |a| Suite::new(Encryption::Aead(a), None).unwrap();
    let etm = |c, i| Suite::new(Encryption::Cipher(c), Some(i)).unwrap();
    vec![
        (aead(AeadAlgorithm::AES128_GCM16), AeadBackend::Ring),
        (aead(AeadAlgorithm::AES128_GCM16), AeadBackend::RustCrypto),
        (aead(AeadAlgorithm::AES256_GCM16), AeadBackend::Ring),
        (aead(AeadAlgorithm::AES256_GCM16), AeadBackend::RustCrypto),
        (aead(AeadAlgorithm::ChaCha20Poly1305), AeadBackend::Ring),
        (aead(AeadAlgorithm::ChaCha20Poly1305), AeadBackend::RustCrypto),
        (aead(AeadAlgorithm::AesGcm { key_bits: 256, icv_len: 8 }), AeadBackend::RustCrypto),
        (
            etm(BlockCipher::AesCbc { key_bits: 128 }, Integrity::HmacSha256_128),
            AeadBackend::RustCrypto,
        ),
        (
            etm(BlockCipher::AesCbc { key_bits: 256 }, Integrity::HmacSha512_256),
            AeadBackend::RustCrypto,
        ),
        (
            etm(BlockCipher::AesCtr { key_bits: 128 }, Integrity::HmacSha256_128),
            AeadBackend::RustCrypto,
        ),
        (etm(BlockCipher::TripleDesCbc, Integrity::HmacSha1_96), AeadBackend::RustCrypto),
        (etm(BlockCipher::TripleDesCbc, Integrity::HmacSha256_128), AeadBackend::RustCrypto),
    ]
}

/// 3DES-CBC with HMAC-SHA1-96: what old IKEv1 gateways offer (RFC 2451, RFC 2404).
pub fn triple_des_sha1() -> Suite {
    Suite::new(Encryption::Cipher(BlockCipher::TripleDesCbc), Some(Integrity::HmacSha1_96)).unwrap()
}

pub fn config(suite: Suite, backend: AeadBackend, esn: bool) -> SaConfig {
    let enc = SecretBytes::new((0..suite.encryption_key_len() as u8).collect());
    let int = SecretBytes::new((100..100 + suite.integrity_key_len() as u8).collect());
    let mut c = SaConfig::new(SPI, suite, enc, int);
    c.esn = esn;
    c.backend = backend;
    c
}

pub fn pair(config: &SaConfig) -> (OutboundSa, InboundSa) {
    (OutboundSa::new(config).unwrap(), InboundSa::new(config).unwrap())
}

/// A minimal IPv4/UDP packet of `len` bytes (len >= 28).
pub fn ipv4_packet(len: usize, fill: u8) -> Vec<u8> {
    let mut p = vec![fill; len];
    p[..20]
        .copy_from_slice(&[0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p
}

/// Encapsulates `inner` into a fresh buffer and returns the ESP packet bytes.
pub fn seal(out: &mut OutboundSa, inner: &[u8], nh: ikeway_esp::NextHeader) -> Vec<u8> {
    let mut buf = vec![0u8; out.buffer_len(inner.len())];
    let at = out.headroom();
    buf[at..at + inner.len()].copy_from_slice(inner);
    out.encapsulate(&mut buf, inner.len(), nh).unwrap().to_vec()
}
