//! Shared set-up for the benches: the algorithm and backend matrix, and ESP and raw-AEAD
//! workloads over the same keys, so both sides of each ratio use the same library in the same
//! run.

pub mod batches;
pub mod cpu_time;
pub mod handshake;
#[cfg(feature = "insecure-kex")]
pub mod responder;
pub mod wire;

use ikeway_crypto::{AeadAlgorithm, AeadBackend, Encryption, SaltedAead, SecretBytes, Suite};
use ikeway_esp::{InboundSa, NextHeader, OutboundSa, SaConfig};

/// Inner packet sizes every ESP bench uses.
pub const SIZES: [usize; 4] = [64, 512, 1400, 8000];

/// One AEAD with one backend.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub label: &'static str,
    pub algorithm: AeadAlgorithm,
    pub backend: AeadBackend,
}

/// AES-GCM-128, AES-GCM-256 and ChaCha20-Poly1305, each with ring and RustCrypto.
pub fn matrix() -> Vec<Setup> {
    let mut all = Vec::new();
    for (name, algorithm) in [
        ("aes128gcm", AeadAlgorithm::AES128_GCM16),
        ("aes256gcm", AeadAlgorithm::AES256_GCM16),
        ("chacha20poly1305", AeadAlgorithm::ChaCha20Poly1305),
    ] {
        for (backend_name, backend) in
            [("ring", AeadBackend::Ring), ("rustcrypto", AeadBackend::RustCrypto)]
        {
            let label: &'static str = Box::leak(format!("{name}/{backend_name}").into_boxed_str());
            all.push(Setup { label, algorithm, backend });
        }
    }
    all
}

/// An ESP SA pair and a raw AEAD keyed alike, with buffers for one inner packet size.
#[derive(Debug)]
pub struct Workload {
    out: OutboundSa,
    inb: InboundSa,
    raw: SaltedAead,
    size: usize,
    buf: Vec<u8>,
    raw_buf: Vec<u8>,
    tag: [u8; 16],
}

impl Workload {
    pub fn new(setup: Setup, size: usize) -> Self {
        let suite = Suite::new(Encryption::Aead(setup.algorithm), None).expect("AEAD suite");
        let keymat: Vec<u8> = (0..setup.algorithm.keymat_len() as u8).collect();
        let mut config = SaConfig::new(
            0x0101_0101,
            suite,
            SecretBytes::new(keymat.clone()),
            SecretBytes::default(),
        );
        config.backend = setup.backend;
        config.esn = true;
        config.mode = ikeway_esp::Mode::Transport;
        let out = OutboundSa::new(&config).expect("valid config");
        let inb = InboundSa::new(&config).expect("valid config");
        let raw = SaltedAead::new(setup.backend, setup.algorithm, &keymat).expect("valid key");
        let buf = vec![0x5a; out.buffer_len(size)];
        Self { out, inb, raw, size, buf, raw_buf: vec![0x5a; size], tag: [0; 16] }
    }

    /// Encapsulates in place. The buffer's previous contents serve as the next inner packet.
    pub fn encap(&mut self) -> usize {
        let esp = self.out.encapsulate(&mut self.buf, self.size, NextHeader::UDP).expect("encap");
        esp.len()
    }

    /// Encapsulates, then decapsulates the result (decap alone cannot be repeated: the replay
    /// window refuses a packet seen before, so decap time is this minus [`Self::encap`]).
    pub fn encap_decap(&mut self) -> usize {
        let esp = self.out.encapsulate(&mut self.buf, self.size, NextHeader::UDP).expect("encap");
        let got = self.inb.decapsulate(esp).expect("decap");
        got.payload.len()
    }

    /// The raw AEAD seal of the same number of bytes, with an 8-byte AAD like ESP's.
    pub fn raw_seal(&mut self) {
        self.raw.seal(&[1; 8], &[2; 8], &mut self.raw_buf, &mut self.tag).expect("seal");
    }

    /// Raw seal then open of the same bytes: the baseline for [`Self::encap_decap`].
    pub fn raw_seal_open(&mut self) {
        self.raw.seal(&[1; 8], &[2; 8], &mut self.raw_buf, &mut self.tag).expect("seal");
        self.raw.open(&[1; 8], &[2; 8], &mut self.raw_buf, &self.tag).expect("open");
    }
}
