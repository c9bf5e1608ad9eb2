//! `cargo run --release -p ikeway-benches --bin ike-keying`: what keying an IKE SA's protector
//! per message costs (issue 16: the IKE SA keeps its keys, not two expanded 624-byte contexts),
//! and which AEAD backend does IKE's work faster.
//!
//! For each suite and backend, one IKE message's worth of work both ways (seal then open) with
//! protectors keyed once, and with both keyed for the message as `IkeCrypto` does; fastest and
//! median of 31 batches of about 3 ms. Sizes: 1 byte (an empty INFORMATIONAL, a DPD), 212
//! and 340 (what the Encrypted payload carries in the IKE_AUTH response and request of
//! `benches/src/handshake.rs`: PSK, a CP and the first child; datagrams of 268 and 395
//! bytes) and 1200 (an IKE_AUTH with a certificate, per fragment). The backends are measured in turn, `ROUNDS`
//! times each, so that the speed of a shared CPU drifting between seconds shows as spread
//! rather than as a difference between them.
#![allow(clippy::print_stdout)]

use std::hint::black_box;

use ikeway_benches::batches::per_call;
use ikeway_crypto::{
    AeadAlgorithm, AeadBackend, BlockCipher, Encryption, Integrity, Protector, Suite,
};

/// How many times each backend is measured, alternating.
const ROUNDS: usize = 3;

fn round_trip(seal: &Protector, open: &Protector, message: &mut [u8], icv: &mut [u8]) {
    // 16 bytes covers every suite's IV (8 for an AEAD, 16 for AES-CBC).
    let iv = &[7u8; 16][..seal.iv_len()];
    seal.seal(b"IKE header and SK header", iv, message, icv).expect("seals");
    open.open(b"IKE header and SK header", iv, message, icv).expect("opens");
}

fn main() {
    let suites = [
        ("AES-GCM-16-256", Suite::new(Encryption::Aead(AeadAlgorithm::AES256_GCM16), None)),
        ("AES-GCM-16-128", Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None)),
        ("CHACHA20-POLY1305", Suite::new(Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305), None)),
        (
            "AES-CBC-256/HMAC-SHA2-256-128",
            Suite::new(
                Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
                Some(Integrity::HmacSha256_128),
            ),
        ),
    ];
    for (name, suite) in suites {
        let suite = suite.expect("a valid suite");
        let ek = vec![3u8; suite.encryption_key_len()];
        let ak = vec![5u8; suite.integrity_key_len()];
        let backends: Vec<AeadBackend> =
            [AeadBackend::RustCrypto, AeadBackend::Ring, AeadBackend::AwsLc]
                .into_iter()
                .filter(|&b| suite.check(b).is_ok())
                .collect();
        // A plain cipher does not use the AEAD backend: one backend is enough.
        let backends = if suite.encryption().is_aead() { backends } else { backends[..1].to_vec() };
        for round in 0..ROUNDS {
            for &backend in &backends {
                let key = || suite.key(backend, &ek, &ak).expect("keys");
                let keying = per_call(|| {
                    black_box(key());
                });
                print!(
                    "ike message {name} {backend:?} round {round}: keying one direction {} ns (median {})",
                    keying.0, keying.1
                );
                for len in [1usize, 212, 340, 1200] {
                    // A plain cipher needs whole blocks (the SK payload pads to them).
                    let mut message = vec![0u8; len.next_multiple_of(suite.block_len())];
                    let mut icv = vec![0u8; suite.icv_len()];
                    let (kept_seal, kept_open) = (key(), key());
                    let kept =
                        per_call(|| round_trip(&kept_seal, &kept_open, &mut message, &mut icv));
                    let fresh = per_call(|| round_trip(&key(), &key(), &mut message, &mut icv));
                    print!(
                        "; {len} B seal+open {} ns (median {}) keyed once, {} ns (median {}) keyed per message",
                        kept.0, kept.1, fresh.0, fresh.1
                    );
                }
                println!();
            }
        }
    }
}
