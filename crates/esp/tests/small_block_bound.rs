//! A 64-bit block cipher (3DES) protects at most `SMALL_BLOCK_HARD_BYTES` under one key in
//! each direction, whatever lifetime was negotiated ("Sweet32"); 128-bit ciphers keep theirs.

mod common;

use common::*;
use ikeway_crypto::{AeadBackend, BlockCipher, Encryption, Integrity, Suite};
use ikeway_esp::{Lifetime, SMALL_BLOCK_HARD_BYTES};

fn cbc(cipher: BlockCipher) -> Suite {
    Suite::new(Encryption::Cipher(cipher), Some(Integrity::HmacSha1_96)).unwrap()
}

const CAP_SOFT: u64 = SMALL_BLOCK_HARD_BYTES - SMALL_BLOCK_HARD_BYTES / 10;

#[test]
fn triple_des_without_a_negotiated_limit_gets_the_cap_and_a_soft_limit_before_it() {
    let bounded = Lifetime::default().bounded_for(cbc(BlockCipher::TripleDesCbc));
    assert_eq!(
        bounded,
        Lifetime {
            soft_bytes: Some(CAP_SOFT),
            hard_bytes: Some(SMALL_BLOCK_HARD_BYTES),
            ..Lifetime::default()
        }
    );
    assert_eq!(SMALL_BLOCK_HARD_BYTES, 64 << 20);
}

#[test]
fn triple_des_keeps_a_smaller_negotiated_limit_and_lowers_a_larger_one() {
    let suite = cbc(BlockCipher::TripleDesCbc);
    let small = Lifetime {
        soft_bytes: Some(900 << 10),
        hard_bytes: Some(1 << 20),
        soft_packets: Some(7),
        hard_packets: Some(9),
    };
    assert_eq!(small.bounded_for(suite), small);
    let large = Lifetime { soft_bytes: Some(900 << 20), hard_bytes: Some(1 << 30), ..small };
    assert_eq!(
        large.bounded_for(suite),
        Lifetime { soft_bytes: Some(CAP_SOFT), hard_bytes: Some(SMALL_BLOCK_HARD_BYTES), ..small }
    );
}

#[test]
fn aes_and_aead_suites_keep_their_lifetime() {
    let none = Lifetime::default();
    assert_eq!(none.bounded_for(cbc(BlockCipher::AesCbc { key_bits: 128 })), none);
    assert_eq!(none.bounded_for(cbc(BlockCipher::AesCtr { key_bits: 256 })), none);
    assert_eq!(none.bounded_for(gcm128()), none);
}

#[test]
fn both_directions_of_a_triple_des_sa_are_bounded() {
    let config = config(cbc(BlockCipher::TripleDesCbc), AeadBackend::RustCrypto, false);
    assert_eq!(config.lifetime, Lifetime::default());
    let (out, inb) = pair(&config);
    assert_eq!(out.lifetime().hard_bytes, Some(SMALL_BLOCK_HARD_BYTES));
    assert_eq!(inb.lifetime().hard_bytes, Some(SMALL_BLOCK_HARD_BYTES));
    assert_eq!(out.lifetime().soft_bytes, Some(CAP_SOFT));
}
