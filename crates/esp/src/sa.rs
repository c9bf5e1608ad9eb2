//! Security associations: one [`OutboundSa`] or [`InboundSa`] per direction and SPI, and the
//! per-packet work, in place in the caller's buffer.
//!
//! Packet layout (RFC 4303 §2), with the offsets this module writes and reads:
//!
//! ```text
//! | SPI 4 | Seq 4 | IV | inner packet | TFC pad | Padding 0-255 | PadLen 1 | NH 1 | ICV |
//! |<---- headroom --->|<------------------- encrypted body ------------------->|
//! ```
//!
//! An SA is owned by one worker and used through `&mut self`, so its sequence number, replay
//! window and counters are plain integers: no atomics and no lock on the per-packet path. A
//! runtime that wants to read counters from another thread copies them out.

use ikeway_crypto::{
    AeadBackend, AeadKeying, CipherKey, Encryption, IntegrityKey, SaltedAead, SecretBytes, Suite,
};

use crate::replay::{ReplayError, ReplayWindow};
use crate::{DropReason, EspError};

/// SPI and sequence number (RFC 4303 §2.1, §2.2).
pub const ESP_HEADER_LEN: usize = 8;
/// Pad Length and Next Header (RFC 4303 §2.5, §2.6).
pub const TRAILER_LEN: usize = 2;
/// The Pad Length and Next Header fields end on a 4-byte boundary (RFC 4303 §2.4).
const MIN_ALIGN: usize = 4;
/// The largest CBC block (AES); 3DES's is 8.
const MAX_CBC_BLOCK: usize = 16;

/// The IP protocol number carried in the ESP trailer's Next Header field (IANA "Assigned
/// Internet Protocol Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NextHeader(pub u8);

impl NextHeader {
    pub const ICMP: Self = Self(1);
    /// Tunnel mode, inner IPv4 (RFC 4303 §2.6).
    pub const IPV4: Self = Self(4);
    pub const TCP: Self = Self(6);
    pub const UDP: Self = Self(17);
    /// Tunnel mode, inner IPv6.
    pub const IPV6: Self = Self(41);
    /// A dummy packet (RFC 4303 §2.6): the receiver discards it.
    pub const NO_NEXT_HEADER: Self = Self(59);

    /// The tunnel-mode next header for an inner IP packet, from its version nibble.
    pub fn of_ip_packet(packet: &[u8]) -> Option<Self> {
        match packet.first()? >> 4 {
            4 => Some(Self::IPV4),
            6 => Some(Self::IPV6),
            _ => None,
        }
    }
}

/// What the ESP payload is (RFC 4303 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A whole inner IP packet; next header 4 or 41. TFC padding is allowed.
    #[default]
    Tunnel,
    /// The upper-layer payload of the outer packet; any next header.
    Transport,
}

/// Soft and hard lifetimes in bytes of inner payload and in packets (RFC 7296 §2.8,
/// RFC 4301 §4.4.2.1). A soft limit raises [`SaEvent::RekeyNeeded`] once; a hard limit stops
/// the SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifetime {
    pub soft_bytes: Option<u64>,
    pub hard_bytes: Option<u64>,
    pub soft_packets: Option<u64>,
    pub hard_packets: Option<u64>,
}

/// The most bytes one key of a 64-bit block cipher (3DES) protects in one direction: 64 MiB,
/// 2^23 blocks, where a block collision (which leaks the XOR of two plaintext blocks, the
/// "Sweet32" attack) has a probability of about 2^-18. An SA is capped there whatever was
/// negotiated; the soft limit, a tenth earlier, asks for the rekey.
pub const SMALL_BLOCK_HARD_BYTES: u64 = 64 * 1024 * 1024;

impl Lifetime {
    /// A byte limit of `hard` in one direction, with the soft limit that asks for the rekey
    /// a tenth earlier.
    pub fn bytes(hard: u64) -> Self {
        Self { soft_bytes: Some(hard - hard / 10), hard_bytes: Some(hard), ..Self::default() }
    }

    /// This lifetime, lowered (never raised) to what `suite`'s cipher may safely protect
    /// under one key: [`SMALL_BLOCK_HARD_BYTES`] for a 64-bit block cipher, else unchanged.
    pub fn bounded_for(self, suite: Suite) -> Self {
        let Encryption::Cipher(cipher) = suite.encryption() else { return self };
        if cipher.cipher_block_bits() > 64 {
            return self;
        }
        let hard =
            self.hard_bytes.map_or(SMALL_BLOCK_HARD_BYTES, |h| h.min(SMALL_BLOCK_HARD_BYTES));
        let cap = Self::bytes(hard);
        Self {
            hard_bytes: cap.hard_bytes,
            soft_bytes: cap.soft_bytes.map(|c| self.soft_bytes.map_or(c, |s| s.min(c))),
            ..self
        }
    }
}

/// Something the owner of an SA must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SaEvent {
    /// A soft lifetime was reached, or the sequence number space is nearly used up: start a
    /// CREATE_CHILD_SA rekey now, before the hard limit stops traffic.
    RekeyNeeded,
}

/// How one SA is set up: what the negotiation emits for a child SA, one direction.
#[derive(Debug, Clone)]
pub struct SaConfig {
    pub spi: u32,
    /// AEAD, or AES-CBC/AES-CTR/3DES-CBC (RFC 2451) with an HMAC (RFC 2404, RFC 4868).
    pub suite: Suite,
    /// Cipher key followed by the salt (AEAD, RFC 4106 §8.1, RFC 7634 §2) or nonce (CTR).
    pub encryption_key: SecretBytes,
    /// Empty for AEAD suites.
    pub integrity_key: SecretBytes,
    /// 64-bit extended sequence numbers (RFC 4303 §2.2.1).
    pub esn: bool,
    pub mode: Mode,
    pub lifetime: Lifetime,
    /// Inbound replay window in packets: a multiple of 64 in 64..=4096.
    pub replay_window: u32,
    /// Pad every outbound inner packet with zeros up to this length (RFC 4303 §2.7); tunnel
    /// mode only, where the inner IP header tells the receiver where the packet ends.
    pub tfc_pad_to: Option<u16>,
    pub backend: AeadBackend,
}

impl SaConfig {
    /// A tunnel-mode SA without ESN, TFC padding or lifetimes, with a 1024-packet window and
    /// the fastest measured AEAD backend ([`default_backend`]).
    pub fn new(
        spi: u32,
        suite: Suite,
        encryption_key: SecretBytes,
        integrity_key: SecretBytes,
    ) -> Self {
        Self {
            spi,
            suite,
            encryption_key,
            integrity_key,
            esn: false,
            mode: Mode::Tunnel,
            lifetime: Lifetime::default(),
            replay_window: 1024,
            tfc_pad_to: None,
            backend: default_backend(suite),
        }
    }
}

/// The AEAD backend ESP uses unless told otherwise: the one measured faster for the suite
/// keyed once per SA ([`Suite::fastest_backend`]: ring where it implements the algorithm,
/// AES-GCM-16 with 128/256-bit keys and ChaCha20-Poly1305, 2-4x faster than the pure-Rust
/// alternative on x86-64; RustCrypto for the rest).
pub fn default_backend(suite: Suite) -> AeadBackend {
    suite.fastest_backend(AeadKeying::PerSa)
}

/// Per-SA statistics. Plain integers: the SA is used through `&mut self` by one worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets sent (outbound) or accepted (inbound).
    pub packets: u64,
    /// Inner payload bytes sent or accepted.
    pub bytes: u64,
    drops: [u64; DropReason::ALL.len()],
}

impl Counters {
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    pub(crate) fn drop(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }
}

/// The keyed transform of one SA. The cipher-plus-MAC keys (expanded AES schedules and HMAC
/// states, ~800 bytes) are boxed so that the AEAD fast path stays small.
#[derive(Debug)]
enum Engine {
    Aead(SaltedAead),
    EncryptThenMac(Box<EncryptThenMac>),
}

#[derive(Debug)]
struct EncryptThenMac {
    cipher: CipherKey,
    integrity: IntegrityKey,
}

impl Engine {
    fn new(config: &SaConfig) -> Result<Self, EspError> {
        let suite = config.suite;
        match (suite.encryption(), suite.integrity()) {
            (Encryption::Aead(alg), None) => Ok(Self::Aead(SaltedAead::new(
                config.backend,
                alg,
                config.encryption_key.expose(),
            )?)),
            // Any cipher crypto offers (AES-CBC, AES-CTR, 3DES-CBC): block size and IV length
            // come from the cipher, so nothing here depends on which one it is.
            (Encryption::Cipher(c), Some(integrity)) => {
                Ok(Self::EncryptThenMac(Box::new(EncryptThenMac {
                    cipher: c.key(config.encryption_key.expose())?,
                    integrity: integrity.key(config.integrity_key.expose())?,
                })))
            }
            _ => Err(EspError::UnsupportedSuite),
        }
    }

    fn iv_len(&self) -> usize {
        match self {
            Self::Aead(a) => a.algorithm().iv_len(),
            Self::EncryptThenMac(etm) => etm.cipher.algorithm().iv_len(),
        }
    }

    fn icv_len(&self) -> usize {
        match self {
            Self::Aead(a) => a.algorithm().icv_len(),
            Self::EncryptThenMac(etm) => etm.integrity.icv_len(),
        }
    }

    /// The encrypted body is padded to a multiple of this (RFC 4303 §2.4).
    fn align(&self) -> usize {
        match self {
            Self::Aead(_) => MIN_ALIGN,
            Self::EncryptThenMac(etm) => etm.cipher.algorithm().block_len().max(MIN_ALIGN),
        }
    }

    /// Needs block-aligned ciphertext on receive.
    fn block_len(&self) -> usize {
        match self {
            Self::Aead(_) => 1,
            Self::EncryptThenMac(etm) => etm.cipher.algorithm().block_len(),
        }
    }
}

/// AAD for ESP AEADs: SPI | seq, or SPI | seq_hi | seq_lo with ESN (RFC 4106 §5,
/// RFC 7634 §3).
fn aead_aad(spi: u32, seq: u64, esn: bool, out: &mut [u8; 12]) -> &[u8] {
    out[..4].copy_from_slice(&spi.to_be_bytes());
    if esn {
        out[4..].copy_from_slice(&seq.to_be_bytes());
        &out[..]
    } else {
        out[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        &out[..8]
    }
}

/// The ESN high half appended to the MAC input only, never sent (RFC 4303 §3.3.2.1).
fn esn_mac_suffix(seq: u64, esn: bool, out: &mut [u8; 4]) -> &[u8] {
    *out = ((seq >> 32) as u32).to_be_bytes();
    if esn { &out[..] } else { &[] }
}

/// The sending half of a child SA.
#[derive(Debug)]
pub struct OutboundSa {
    spi: u32,
    engine: Engine,
    esn: bool,
    lifetime: Lifetime,
    tfc_pad_to: usize,
    /// The next sequence number to send; 1 first (RFC 4303 §3.3.3).
    next_seq: u64,
    exhausted: bool,
    rekey_raised: bool,
    event: Option<SaEvent>,
    counters: Counters,
}

/// Where an encapsulation puts things.
struct Layout {
    body: usize,
    pad: usize,
    tfc: usize,
    total: usize,
}

impl OutboundSa {
    pub fn new(config: &SaConfig) -> Result<Self, EspError> {
        if config.spi < 256 {
            return Err(EspError::ReservedSpi(config.spi));
        }
        Ok(Self {
            spi: config.spi,
            engine: Engine::new(config)?,
            esn: config.esn,
            lifetime: config.lifetime.bounded_for(config.suite),
            tfc_pad_to: match config.mode {
                Mode::Tunnel => config.tfc_pad_to.map_or(0, usize::from),
                Mode::Transport => 0,
            },
            next_seq: 1,
            exhausted: false,
            rekey_raised: false,
            event: None,
            counters: Counters::default(),
        })
    }

    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// The limits in force: the configured ones, bounded for the cipher
    /// ([`Lifetime::bounded_for`]).
    pub fn lifetime(&self) -> Lifetime {
        self.lifetime
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The sequence number the next packet will carry (64 bits, also without ESN).
    pub fn next_sequence(&self) -> u64 {
        self.next_seq
    }

    /// Bytes the caller reserves before the inner packet: SPI, sequence number and IV.
    pub fn headroom(&self) -> usize {
        ESP_HEADER_LEN + self.engine.iv_len()
    }

    /// The whole buffer an inner packet of `inner_len` bytes needs, headroom included.
    pub fn buffer_len(&self, inner_len: usize) -> usize {
        self.layout(inner_len).total
    }

    /// The most bytes ESP adds to any inner packet (headroom, padding, trailer, ICV; TFC
    /// padding not included).
    pub fn max_overhead(&self) -> usize {
        self.headroom() + self.engine.align() - 1 + TRAILER_LEN + self.engine.icv_len()
    }

    /// Whether a rekey is due (a soft limit was reached), whether or not the event was taken.
    pub fn rekey_needed(&self) -> bool {
        self.rekey_raised
    }

    /// The next event for the SA's owner, if any. Drain after each batch of packets.
    pub fn poll_event(&mut self) -> Option<SaEvent> {
        self.event.take()
    }

    /// Moves the sequence number forward, e.g. to continue an SA whose state was saved.
    /// Refuses to go back: a sequence number is the AEAD IV and must never repeat.
    pub fn skip_to(&mut self, next_seq: u64) -> Result<(), EspError> {
        if next_seq < self.next_seq || next_seq == 0 || next_seq > self.seq_max() {
            return Err(EspError::SequenceBackwards { next: self.next_seq, requested: next_seq });
        }
        self.next_seq = next_seq;
        Ok(())
    }

    fn seq_max(&self) -> u64 {
        if self.esn { u64::MAX } else { u64::from(u32::MAX) }
    }

    fn layout(&self, inner_len: usize) -> Layout {
        let tfc = self.tfc_pad_to.saturating_sub(inner_len);
        let align = self.engine.align();
        let unpadded = inner_len + tfc + TRAILER_LEN;
        let body = unpadded.next_multiple_of(align);
        let total = self.headroom() + body + self.engine.icv_len();
        Layout { body, pad: body - unpadded, tfc, total }
    }

    /// Encapsulates the inner packet that the caller put at `buf[self.headroom()..]`, of
    /// `inner_len` bytes, in place, and returns the ESP packet (SPI to ICV), which starts at
    /// `buf[0]`. `buf` must be at least [`Self::buffer_len`] long; a shorter one is
    /// [`EspError::BufferTooSmall`] and consumes nothing.
    ///
    /// The IV is the 64-bit sequence number for AEADs and CTR (unique per SA, RFC 4106 §3.1,
    /// RFC 7634 §2), and for CBC the sequence number encrypted under the SA key, which is
    /// unpredictable to anyone without the key (NIST SP 800-38A Appendix C).
    pub fn encapsulate<'a>(
        &mut self,
        buf: &'a mut [u8],
        inner_len: usize,
        next_header: NextHeader,
    ) -> Result<&'a mut [u8], EspError> {
        self.seal(buf, inner_len, next_header, None)
    }

    /// [`Self::encapsulate`] with an IV chosen by the caller. **For known-answer tests only**:
    /// it reproduces other implementations' packets byte for byte. Repeating an IV under one
    /// key destroys AES-GCM and ChaCha20-Poly1305; production code uses `encapsulate`.
    pub fn encapsulate_with_iv<'a>(
        &mut self,
        buf: &'a mut [u8],
        inner_len: usize,
        next_header: NextHeader,
        iv: &[u8],
    ) -> Result<&'a mut [u8], EspError> {
        let iv_len = self.engine.iv_len();
        if iv.len() != iv_len {
            return Err(
                ikeway_crypto::CryptoError::IvLength { expected: iv_len, got: iv.len() }.into()
            );
        }
        self.seal(buf, inner_len, next_header, Some(iv))
    }

    fn seal<'a>(
        &mut self,
        buf: &'a mut [u8],
        inner_len: usize,
        next_header: NextHeader,
        iv_override: Option<&[u8]>,
    ) -> Result<&'a mut [u8], EspError> {
        let layout = self.layout(inner_len);
        if buf.len() < layout.total {
            return Err(EspError::BufferTooSmall { needed: layout.total, got: buf.len() });
        }
        if self.exhausted {
            return Err(EspError::SequenceExhausted);
        }
        let bytes = self.counters.bytes.saturating_add(inner_len as u64);
        if self.lifetime.hard_packets.is_some_and(|hard| self.counters.packets >= hard)
            || self.lifetime.hard_bytes.is_some_and(|hard| bytes > hard)
        {
            return Err(EspError::LifetimeExpired);
        }

        // Consume the sequence number before any crypto: even if sealing failed, it must not be
        // used again.
        let seq = self.next_seq;
        if seq == self.seq_max() {
            self.exhausted = true;
        } else {
            self.next_seq = seq + 1;
        }

        let (header, rest) = buf[..layout.total].split_at_mut(self.headroom());
        let (body, icv) = rest.split_at_mut(layout.body);
        header[..4].copy_from_slice(&self.spi.to_be_bytes());
        header[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        let (_, iv) = header.split_at_mut(ESP_HEADER_LEN);
        match (iv_override, &self.engine) {
            (Some(chosen), _) => iv.copy_from_slice(chosen),
            // A block length above 1 is CBC (AES or 3DES), whose IV is one cipher block.
            (None, Engine::EncryptThenMac(etm)) if etm.cipher.algorithm().block_len() > 1 => {
                // E_K(seq): one CBC block under a zero IV is the raw block cipher. The IV is at
                // least 8 bytes (3DES), so the 64-bit sequence number fits right-aligned.
                iv.fill(0);
                let seq_at = iv.len() - 8;
                iv[seq_at..].copy_from_slice(&seq.to_be_bytes());
                let zero_iv = [0; MAX_CBC_BLOCK];
                etm.cipher.encrypt(&zero_iv[..iv.len()], iv)?;
            }
            (None, _) => iv.copy_from_slice(&seq.to_be_bytes()),
        }

        let (payload, trailer) = body.split_at_mut(inner_len + layout.tfc);
        payload[inner_len..].fill(0);
        let (padding, pad_len_nh) = trailer.split_at_mut(layout.pad);
        for (byte, value) in padding.iter_mut().zip(1u8..) {
            *byte = value;
        }
        // `pad` < align <= 16, so it fits a byte.
        pad_len_nh[0] = layout.pad as u8;
        pad_len_nh[1] = next_header.0;

        let iv = &header[ESP_HEADER_LEN..];
        match &self.engine {
            Engine::Aead(aead) => {
                let mut aad = [0; 12];
                aead.seal(iv, aead_aad(self.spi, seq, self.esn, &mut aad), body, icv)?;
            }
            Engine::EncryptThenMac(etm) => {
                etm.cipher.encrypt(iv, body)?;
                let mut hi = [0; 4];
                etm.integrity
                    .compute(&[&*header, &*body, esn_mac_suffix(seq, self.esn, &mut hi)], icv)?;
            }
        }

        self.counters.packets += 1;
        self.counters.bytes = bytes;
        let seq_soft = self.seq_max() - self.seq_max() / 16;
        if !self.rekey_raised
            && (seq >= seq_soft
                || self.lifetime.soft_packets.is_some_and(|s| self.counters.packets >= s)
                || self.lifetime.soft_bytes.is_some_and(|s| self.counters.bytes >= s))
        {
            self.rekey_raised = true;
            self.event = Some(SaEvent::RekeyNeeded);
        }
        Ok(&mut buf[..layout.total])
    }
}

/// A decapsulated packet: the inner packet or payload, in place in the caller's buffer.
#[derive(Debug)]
pub struct Decapsulated<'a> {
    pub payload: &'a mut [u8],
    pub next_header: NextHeader,
    /// The full (ESN-inferred) sequence number.
    pub seq: u64,
}

/// The receiving half of a child SA.
#[derive(Debug)]
pub struct InboundSa {
    spi: u32,
    engine: Engine,
    esn: bool,
    mode: Mode,
    lifetime: Lifetime,
    window: ReplayWindow,
    rekey_raised: bool,
    event: Option<SaEvent>,
    counters: Counters,
}

impl InboundSa {
    pub fn new(config: &SaConfig) -> Result<Self, EspError> {
        if config.spi < 256 {
            return Err(EspError::ReservedSpi(config.spi));
        }
        Ok(Self {
            spi: config.spi,
            engine: Engine::new(config)?,
            esn: config.esn,
            mode: config.mode,
            lifetime: config.lifetime.bounded_for(config.suite),
            window: ReplayWindow::new(config.replay_window, config.esn)?,
            rekey_raised: false,
            event: None,
            counters: Counters::default(),
        })
    }

    pub fn spi(&self) -> u32 {
        self.spi
    }

    /// The limits in force: the configured ones, bounded for the cipher
    /// ([`Lifetime::bounded_for`]).
    pub fn lifetime(&self) -> Lifetime {
        self.lifetime
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn window(&self) -> &ReplayWindow {
        &self.window
    }

    /// Restores the replay window after the SA's state was saved elsewhere (see
    /// [`ReplayWindow::restore`]); also used by known-answer tests that start mid-stream.
    pub fn restore_window(&mut self, highest_received: u64) {
        self.window.restore(highest_received);
    }

    /// Offset of the inner packet in a decapsulated buffer.
    pub fn headroom(&self) -> usize {
        ESP_HEADER_LEN + self.engine.iv_len()
    }

    pub fn rekey_needed(&self) -> bool {
        self.rekey_raised
    }

    pub fn poll_event(&mut self) -> Option<SaEvent> {
        self.event.take()
    }

    /// Authenticates and decrypts the ESP packet `packet` (SPI to ICV) in place. Every failure
    /// is counted under its [`DropReason`]; the replay window moves only for packets whose ICV
    /// verified.
    pub fn decapsulate<'a>(
        &mut self,
        packet: &'a mut [u8],
    ) -> Result<Decapsulated<'a>, DropReason> {
        match self.open(packet) {
            Ok((start, len, next_header, seq)) => {
                self.counters.packets += 1;
                self.counters.bytes += len as u64;
                self.after_accept();
                Ok(Decapsulated { payload: &mut packet[start..start + len], next_header, seq })
            }
            Err(reason) => {
                self.counters.drop(reason);
                Err(reason)
            }
        }
    }

    fn after_accept(&mut self) {
        let soft = self.lifetime.soft_packets.is_some_and(|s| self.counters.packets >= s)
            || self.lifetime.soft_bytes.is_some_and(|s| self.counters.bytes >= s);
        if soft && !self.rekey_raised {
            self.rekey_raised = true;
            self.event = Some(SaEvent::RekeyNeeded);
        }
    }

    /// Returns the inner packet's offset and length, next header and sequence number.
    fn open(&mut self, packet: &mut [u8]) -> Result<(usize, usize, NextHeader, u64), DropReason> {
        let headroom = self.headroom();
        let icv_len = self.engine.icv_len();
        if packet.len() < headroom + TRAILER_LEN + icv_len {
            return Err(DropReason::Short);
        }
        let (header, rest) = packet.split_at_mut(headroom);
        let (body, icv) = rest.split_at_mut(rest.len() - icv_len);
        let spi = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        if spi != self.spi {
            return Err(DropReason::UnknownSpi);
        }
        if self.lifetime.hard_packets.is_some_and(|h| self.counters.packets >= h)
            || self.lifetime.hard_bytes.is_some_and(|h| self.counters.bytes >= h)
        {
            return Err(DropReason::Expired);
        }
        if !body.len().is_multiple_of(self.engine.block_len()) {
            return Err(DropReason::BadLength);
        }

        // 1. Check the window (cheap, before any crypto).
        let seq_lo = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let seq = self.window.check(seq_lo).map_err(|e| match e {
            ReplayError::Replay => DropReason::Replay,
            ReplayError::TooOld => DropReason::TooOld,
        })?;

        // 2. Verify the ICV (and decrypt).
        let iv = &header[ESP_HEADER_LEN..];
        let verified = match &self.engine {
            Engine::Aead(aead) => {
                let mut aad = [0; 12];
                aead.open(iv, aead_aad(self.spi, seq, self.esn, &mut aad), body, icv)
            }
            Engine::EncryptThenMac(etm) => {
                let mut hi = [0; 4];
                etm.integrity
                    .verify(&[&*header, &*body, esn_mac_suffix(seq, self.esn, &mut hi)], icv)
                    .and_then(|()| etm.cipher.decrypt(iv, body))
            }
        };
        verified.map_err(|_| DropReason::BadIcv)?;

        // 3. Only now move the window: the peer really sent this sequence number, so it is
        // consumed even if the trailer below turns out to be malformed.
        self.window.commit(seq);

        let (&next_header, rest) = body.split_last().ok_or(DropReason::Short)?;
        let (&pad_len, rest) = rest.split_last().ok_or(DropReason::Short)?;
        let pad_len = usize::from(pad_len);
        let payload_len = rest.len().checked_sub(pad_len).ok_or(DropReason::BadPadding)?;
        // RFC 4303 §2.4: the padding, if any, is 1, 2, 3, ...
        if !rest[payload_len..].iter().zip(1u8..).all(|(&b, expected)| b == expected) {
            return Err(DropReason::BadPadding);
        }
        let next_header = NextHeader(next_header);
        if next_header == NextHeader::NO_NEXT_HEADER {
            return Err(DropReason::Dummy);
        }
        let payload = &rest[..payload_len];
        let len = match self.mode {
            Mode::Tunnel => inner_ip_len(payload, next_header).ok_or(DropReason::BadNextHeader)?,
            Mode::Transport => payload_len,
        };
        Ok((headroom, len, next_header, seq))
    }
}

/// In tunnel mode the inner IP header gives the packet's length, which strips any TFC padding
/// (RFC 4303 §2.7). `None` if the next header is not IP. A length field that does not fit
/// leaves the payload as it is, for the IP layer to judge.
fn inner_ip_len(payload: &[u8], next_header: NextHeader) -> Option<usize> {
    let claimed = match next_header {
        NextHeader::IPV4 => {
            payload.get(2..4).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        }
        NextHeader::IPV6 => {
            payload.get(4..6).map(|b| 40 + usize::from(u16::from_be_bytes([b[0], b[1]])))
        }
        _ => return None,
    };
    Some(claimed.filter(|&len| len <= payload.len() && len > 0).unwrap_or(payload.len()))
}
