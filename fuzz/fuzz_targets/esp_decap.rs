//! Arbitrary datagrams against fixed inbound SAs (AEAD with ESN, CBC + HMAC): nothing panics,
//! nothing unauthenticated is accepted, and the replay window moves only on acceptance.
//!
//! Input: the first byte picks the SA, the rest is the ESP packet. The SAs' keys are fixed and
//! the fuzzer never sees an encapsulation under them, so any acceptance is a forgery.

#![no_main]

use std::sync::Mutex;

use ikeway_crypto::{
    AeadAlgorithm, AeadBackend, BlockCipher, Encryption, Integrity, SecretBytes, Suite,
};
use ikeway_esp::{InboundSa, SaConfig};
use libfuzzer_sys::fuzz_target;

fn sa(suite: Suite, esn: bool) -> InboundSa {
    let enc = SecretBytes::new(vec![0x11; suite.encryption_key_len()]);
    let int = SecretBytes::new(vec![0x22; suite.integrity_key_len()]);
    let mut config = SaConfig::new(0x0000_1001, suite, enc, int);
    config.esn = esn;
    config.replay_window = 128;
    config.backend = AeadBackend::RustCrypto;
    let mut sa = InboundSa::new(&config).expect("valid config");
    // Start near a 2^32 boundary so ESN inference takes both branches.
    sa.restore_window((1 << 32) - 64);
    sa
}

static SAS: Mutex<Vec<InboundSa>> = Mutex::new(Vec::new());

fuzz_target!(|data: &[u8]| {
    let Some((&pick, packet)) = data.split_first() else { return };
    let mut sas = SAS.lock().expect("not poisoned");
    if sas.is_empty() {
        let gcm = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap();
        let chacha = Suite::new(Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305), None).unwrap();
        let cbc = Suite::new(
            Encryption::Cipher(BlockCipher::AesCbc { key_bits: 128 }),
            Some(Integrity::HmacSha256_128),
        )
        .unwrap();
        *sas = vec![sa(gcm, true), sa(chacha, false), sa(cbc, true)];
    }
    let n = sas.len();
    let sa = &mut sas[usize::from(pick) % n];
    let top = sa.window().top();
    let dropped = sa.counters().total_drops();
    let mut buf = packet.to_vec();
    let result = sa.decapsulate(&mut buf);
    assert!(result.is_err(), "a packet the fuzzer made up authenticated: {packet:02x?}");
    assert_eq!(sa.window().top(), top, "the window moved without an authenticated packet");
    assert_eq!(sa.counters().total_drops(), dropped + 1, "every drop is counted");
});
