//! `cargo run --release -p ikeway-benches --bin ike-keying`: what keying an IKE SA's protector
//! per message costs (issue 16: the IKE SA keeps its keys, not two expanded 624-byte contexts).
//! For each suite, one IKE message's worth of work both ways (seal then open, 208 bytes, a multiple of every block: a
//! DPD or CREATE_CHILD_SA response is 80-400) with protectors keyed once, and with both keyed
//! for the message as `IkeCrypto` now does; fastest and median of 31 batches of about 3 ms.
#![allow(clippy::print_stdout)]

use std::hint::black_box;

use ikeway_benches::batches::per_call;
use ikeway_crypto::{
    AeadAlgorithm, AeadBackend, BlockCipher, Encryption, Integrity, Protector, Suite,
};

fn round_trip(seal: &Protector, open: &Protector, message: &mut [u8], icv: &mut [u8]) {
    let iv = vec![7u8; seal.iv_len()];
    seal.seal(b"IKE header and SK header", &iv, message, icv).expect("seals");
    open.open(b"IKE header and SK header", &iv, message, icv).expect("opens");
}

fn main() {
    let suites = [
        ("AES-GCM-16-256", Suite::new(Encryption::Aead(AeadAlgorithm::AES256_GCM16), None)),
        ("AES-GCM-16-128", Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None)),
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
        let key = || suite.key(AeadBackend::default(), &ek, &ak).expect("keys");
        let mut message = vec![0u8; 208];
        let mut icv = vec![0u8; key().icv_len()];
        let (kept_seal, kept_open) = (key(), key());
        let kept = per_call(|| round_trip(&kept_seal, &kept_open, &mut message, &mut icv));
        let fresh = per_call(|| round_trip(&key(), &key(), &mut message, &mut icv));
        let keying = per_call(|| {
            black_box(key());
        });
        println!(
            "ike message {name}: seal+open {} ns (median {}) keyed once, {} ns (median {}) keyed per message; keying one direction {} ns (median {})",
            kept.0, kept.1, fresh.0, fresh.1, keying.0, keying.1
        );
    }
}
