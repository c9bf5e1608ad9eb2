//! The Encrypted payload with fixed keys.
//!
//! Mode 0: arbitrary bytes opened as a protected message must never panic and never
//! authenticate (with real keys a forgery means verification was skipped).
//! Mode 1: arbitrary content sealed by us must open to the same content, and the same message
//! with one byte flipped must not open.
#![no_main]

use ikeway_codec::sk;
use ikeway_codec::{ExchangeType, Flags, HeaderRepr, PayloadType};
use ikeway_crypto::{
    AeadAlgorithm, AeadBackend, BlockCipher, Encryption, Integrity, Protector, Suite,
};
use libfuzzer_sys::fuzz_target;

fn protector(choice: u8) -> Protector {
    let suite = match choice % 3 {
        0 => Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None),
        1 => Suite::new(Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305), None),
        _ => Suite::new(
            Encryption::Cipher(BlockCipher::AesCbc { key_bits: 128 }),
            Some(Integrity::HmacSha256_128),
        ),
    }
    .expect("valid suite");
    let e = vec![0x3c; suite.encryption_key_len()];
    let a = vec![0xa5; suite.integrity_key_len()];
    suite.key(AeadBackend::RustCrypto, &e, &a).expect("key lengths from the suite")
}

fuzz_target!(|data: &[u8]| {
    let [mode, suite, rest @ ..] = data else {
        return;
    };
    let p = protector(*suite);
    if mode % 2 == 0 {
        if let Ok(opened) = sk::open(rest, &p) {
            panic!("forged message accepted: {opened:?}");
        }
        return;
    }
    // Seal `rest` as raw inner content by wrapping it in an Unknown payload chain is not
    // possible for arbitrary bytes, so go through the fragment path, which seals raw content.
    let header = HeaderRepr {
        spi_i: 1,
        spi_r: 2,
        next_payload: PayloadType::NONE,
        version: 0x20,
        exchange: ExchangeType::INFORMATIONAL,
        flags: Flags::from_bits(Flags::INITIATOR),
        message_id: 7,
        length: 0,
    };
    let inner = vec![ikeway_codec::Payload::new(ikeway_codec::PayloadRepr::VendorId(
        ikeway_codec::VendorIdRepr { data: rest.to_vec() },
    ))];
    let Ok(message) = sk::seal(&header, &[], &inner, &p, &vec![0x11; p.iv_len()]) else {
        return; // too long for a 16-bit payload length
    };
    let opened = sk::open(&message, &p).expect("our own message opens");
    assert_eq!(opened.payloads().expect("our own content parses"), inner);
    let flip = usize::from(*suite) % message.len();
    let mut forged = message;
    forged[flip] ^= 0x80;
    assert!(sk::open(&forged, &p).is_err(), "flipped byte {flip} accepted");
});
