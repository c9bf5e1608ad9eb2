//! Opening and sealing the Encrypted and Authenticated payload (SK, RFC 7296 §3.14) and its
//! fragments (SKF, RFC 7383), given the keys of one direction as an
//! [`ikeway_crypto::Protector`].
//!
//! Layout of a protected message:
//!
//! ```text
//! IKE header | cleartext payloads | SK header (4) [| Frag# Total# (4)] | IV | ciphertext | ICV
//! \_____________________ authenticated as AAD, or covered by the MAC ______/
//! ```
//!
//! The ciphertext holds the inner payloads, then padding, then one Pad Length byte. Everything
//! before the IV is authenticated (§3.14; RFC 7383 §2.5 for the fragment header), so the
//! header and the cleartext payloads cannot be altered either.

use core::fmt;
use std::time::{Duration, Instant};

use ikeway_crypto::{CryptoError, Protector};

use crate::error::{DecodeError, DecodeErrorKind, EmitError};
use crate::header::{HEADER_LEN, HeaderRepr, Packet};
use crate::payload::{
    GENERIC_HEADER_LEN, Payload, chain_len, chain_to_vec, emit_chain_before, emit_chain_exact,
    emit_fragment_fields, first_type, parse_chain,
};
use crate::reader::Writer;
use crate::registry::PayloadType;

/// SKF carries Fragment Number and Total Fragments after its generic header (RFC 7383 §2.5).
const FRAGMENT_FIELDS_LEN: usize = 4;

/// Why an Encrypted payload could not be opened, sealed or reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkError {
    /// The message's payload chain or header is malformed.
    Decode(DecodeError),
    /// The message has no SK or SKF payload.
    NotEncrypted,
    /// The SK/SKF body is shorter than IV + one Pad Length byte + ICV, or its ciphertext is
    /// not a whole number of cipher blocks. `offset` is where the body starts.
    BadLength {
        offset: usize,
        len: usize,
    },
    /// The ICV did not verify: the message was forged, damaged, or keyed differently.
    Authentication,
    /// The Pad Length byte points before the start of the plaintext.
    BadPadding {
        pad_length: u8,
        plaintext_len: usize,
    },
    /// A key, IV or ICV did not fit the negotiated transforms.
    Crypto(CryptoError),
    /// The message could not be encoded.
    Emit(EmitError),
    /// The requested maximum message size leaves no room for any fragment content.
    MtuTooSmall {
        max_message_len: usize,
        overhead: usize,
    },
    /// Reassembly would exceed the configured bounds.
    TooManyFragments {
        total: u16,
        limit: u16,
    },
    ReassembledTooLong {
        len: usize,
        limit: usize,
    },
}

impl fmt::Display for SkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(e) => write!(f, "{e}"),
            Self::NotEncrypted => f.write_str("message has no Encrypted (SK/SKF) payload"),
            Self::BadLength { offset, len } => {
                write!(
                    f,
                    "encrypted body of {len} bytes at offset {offset} does not fit the cipher"
                )
            }
            Self::Authentication => f.write_str("integrity check of the encrypted payload failed"),
            Self::BadPadding { pad_length, plaintext_len } => write!(
                f,
                "pad length {pad_length} exceeds the {plaintext_len} decrypted bytes before it"
            ),
            Self::Crypto(e) => write!(f, "{e}"),
            Self::Emit(e) => write!(f, "{e}"),
            Self::MtuTooSmall { max_message_len, overhead } => write!(
                f,
                "a {max_message_len}-byte message cannot hold a fragment ({overhead} bytes of overhead)"
            ),
            Self::TooManyFragments { total, limit } => {
                write!(f, "{total} fragments announced, at most {limit} accepted")
            }
            Self::ReassembledTooLong { len, limit } => {
                write!(f, "reassembled message would be {len} bytes, at most {limit} accepted")
            }
        }
    }
}

impl std::error::Error for SkError {}

impl From<DecodeError> for SkError {
    fn from(e: DecodeError) -> Self {
        Self::Decode(e)
    }
}

impl From<EmitError> for SkError {
    fn from(e: EmitError) -> Self {
        Self::Emit(e)
    }
}

impl From<CryptoError> for SkError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::Authentication => Self::Authentication,
            other => Self::Crypto(other),
        }
    }
}

/// Fragment position announced by an SKF payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentInfo {
    pub number: u16,
    pub total: u16,
}

/// The decrypted content of an SK payload or of one SKF fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// Type of the first inner payload (zero in fragments after the first).
    pub first_inner: PayloadType,
    /// The inner payloads' bytes, padding and Pad Length removed.
    pub plaintext: Vec<u8>,
    /// Set when this came from an SKF payload.
    pub fragment: Option<FragmentInfo>,
}

impl Opened {
    /// Decodes the inner payload chain. Error offsets count from the start of the plaintext.
    pub fn payloads(&self) -> Result<Vec<Payload>, DecodeError> {
        parse_chain(self.first_inner, &self.plaintext)
    }
}

/// Where the SK/SKF payload sits in a message.
struct Located {
    kind: PayloadType,
    first_inner: PayloadType,
    /// Offset of the generic payload header.
    start: usize,
}

/// Walks the generic payload headers (not the bodies) to the SK or SKF payload, which must be
/// the last one and end exactly at the end of the message.
fn locate(message: &[u8]) -> Result<Located, SkError> {
    let header = HeaderRepr::parse(message)?;
    let packet = Packet::new_checked(message)?;
    let mut kind = packet.next_payload();
    let mut at = HEADER_LEN;
    while kind != PayloadType::NONE {
        let Ok(generic) =
            crate::payload::Packet::new_checked(message.get(at..).unwrap_or_default())
        else {
            return Err(parse_chain_error(message, header.next_payload));
        };
        let len = usize::from(generic.length());
        let end = at + len;
        if len < GENERIC_HEADER_LEN || end > message.len() {
            return Err(parse_chain_error(message, header.next_payload));
        }
        if kind == PayloadType::SK || kind == PayloadType::SKF {
            if end != message.len() {
                return Err(parse_chain_error(message, header.next_payload));
            }
            return Ok(Located { kind, first_inner: generic.next_payload(), start: at });
        }
        kind = generic.next_payload();
        at = end;
    }
    Err(SkError::NotEncrypted)
}

/// Lets the full chain parser name the exact fault, so that errors read the same everywhere.
fn parse_chain_error(message: &[u8], first: PayloadType) -> SkError {
    let body = message.get(HEADER_LEN..).unwrap_or_default();
    match crate::payload::parse_chain_at(first, body, HEADER_LEN) {
        Err(e) => SkError::Decode(e),
        Ok(_) => SkError::NotEncrypted,
    }
}

/// The header of `message` when its payload chain is one SK payload that runs to the end of
/// the message, the message as long as its header says: what [`MessageRepr::parse`] accepts
/// of such a message (an SK body is any octets), checked by the decoder's own framing. Every
/// message after IKE_SA_INIT that is not fragmented has this shape; a receiver can route it on
/// the header and [`open`] it from the datagram without decoding the SK body into a copy.
/// `None` for any other message, which [`MessageRepr::parse`] then decodes whole.
///
/// [`MessageRepr::parse`]: crate::MessageRepr::parse
pub fn sealed_header(message: &[u8]) -> Option<HeaderRepr> {
    let header = HeaderRepr::parse(message).ok()?;
    if header.next_payload != PayloadType::SK {
        return None;
    }
    Packet::new_unchecked(message).check_message_length().ok()?;
    let mut chain =
        crate::wire::Reader::<crate::Ikev2>::with_base(message.get(HEADER_LEN..)?, HEADER_LEN);
    chain.payload_header(PayloadType::SK).ok()?;
    chain.is_empty().then_some(header)
}

/// Verifies and decrypts the SK or SKF payload of `message` (a whole IKE message, no non-ESP
/// marker). Nothing is decrypted unless the ICV verifies.
pub fn open(message: &[u8], protector: &Protector) -> Result<Opened, SkError> {
    let located = locate(message)?;
    let mut body_start = located.start + GENERIC_HEADER_LEN;
    let mut fragment = None;
    if located.kind == PayloadType::SKF {
        let fields = message
            .get(body_start..body_start + FRAGMENT_FIELDS_LEN)
            .ok_or(SkError::BadLength { offset: body_start, len: message.len() - body_start })?;
        let number = u16::from_be_bytes([fields[0], fields[1]]);
        let total = u16::from_be_bytes([fields[2], fields[3]]);
        // RFC 7383 §2.5: numbering starts at 1 and never exceeds the total.
        if number == 0 || number > total {
            return Err(DecodeError::new(DecodeErrorKind::FragmentNumber, body_start).into());
        }
        fragment = Some(FragmentInfo { number, total });
        body_start += FRAGMENT_FIELDS_LEN;
    }
    let (aad, body) = message.split_at(body_start);
    let (iv_len, icv_len, block) = (protector.iv_len(), protector.icv_len(), protector.block_len());
    let bad_length = SkError::BadLength { offset: body_start, len: body.len() };
    let ciphertext_len = body.len().checked_sub(iv_len + icv_len).ok_or(bad_length)?;
    if ciphertext_len == 0 || !ciphertext_len.is_multiple_of(block) {
        return Err(bad_length);
    }
    let (iv, rest) = body.split_at(iv_len);
    let (ciphertext, icv) = rest.split_at(ciphertext_len);
    let mut plaintext = ciphertext.to_vec();
    protector.open(aad, iv, &mut plaintext, icv)?;
    let pad_length = plaintext[ciphertext_len - 1];
    let content_len = (ciphertext_len - 1)
        .checked_sub(usize::from(pad_length))
        .ok_or(SkError::BadPadding { pad_length, plaintext_len: ciphertext_len - 1 })?;
    plaintext.truncate(content_len);
    Ok(Opened { first_inner: located.first_inner, plaintext, fragment })
}

/// Bytes of ciphertext needed for `content` bytes: content, padding, Pad Length, rounded up to
/// the block.
fn ciphertext_len(content: usize, block: usize) -> usize {
    (content + 1).next_multiple_of(block)
}

/// Builds a protected message: `header` (its next-payload and length are filled in),
/// the `cleartext` payloads, then an SK payload holding `inner`, sealed with `protector`.
///
/// `iv` is the IV to send; the caller supplies it because randomness is an input here. It must
/// be unpredictable for CBC and never repeat under one key for the counter-based ciphers.
pub fn seal(
    header: &HeaderRepr,
    cleartext: &[Payload],
    inner: &[Payload],
    protector: &Protector,
    iv: &[u8],
) -> Result<Vec<u8>, SkError> {
    let envelope = Envelope { header, cleartext, first_inner: first_type(inner), fragment: None };
    envelope
        .seal(chain_len(inner), protector, iv, |content| emit_chain_exact(inner, content).map(drop))
}

/// Seals `content` (already encoded inner payloads, or a slice of them for a fragment) into one
/// message; `fragment` makes it an SKF payload. The content is not checked, so fuzz targets
/// and tests can put arbitrary plaintext inside a valid envelope.
pub fn seal_content(
    header: &HeaderRepr,
    cleartext: &[Payload],
    first_inner: PayloadType,
    fragment: Option<FragmentInfo>,
    content: &[u8],
    protector: &Protector,
    iv: &[u8],
) -> Result<Vec<u8>, SkError> {
    let envelope = Envelope { header, cleartext, first_inner, fragment };
    envelope.seal(content.len(), protector, iv, |out| {
        out.copy_from_slice(content);
        Ok(())
    })
}

/// What surrounds the sealed content of one message.
struct Envelope<'a> {
    header: &'a HeaderRepr,
    cleartext: &'a [Payload],
    first_inner: PayloadType,
    /// Set for an SKF payload.
    fragment: Option<FragmentInfo>,
}

impl Envelope<'_> {
    /// Builds the message in one buffer: the header, the cleartext payloads, the SK or SKF
    /// header and the IV, then `write_content` fills the `content_len` bytes of plaintext
    /// where they will be encrypted, and the padding and ICV follow, all in place: no
    /// intermediate copy of the inner payloads or of the cleartext chain.
    fn seal(
        &self,
        content_len: usize,
        protector: &Protector,
        iv: &[u8],
        write_content: impl FnOnce(&mut [u8]) -> Result<(), EmitError>,
    ) -> Result<Vec<u8>, SkError> {
        if iv.len() != protector.iv_len() {
            return Err(SkError::Crypto(CryptoError::IvLength {
                expected: protector.iv_len(),
                got: iv.len(),
            }));
        }
        let ct_len = ciphertext_len(content_len, protector.block_len());
        let body_len = iv.len() + ct_len + protector.icv_len();
        let (kind, fields_len) = match self.fragment {
            None => (PayloadType::SK, 0),
            Some(_) => (PayloadType::SKF, FRAGMENT_FIELDS_LEN),
        };
        let sk_len = GENERIC_HEADER_LEN + fields_len + body_len;
        let total_len = HEADER_LEN + chain_len(self.cleartext) + sk_len;
        let mut header = *self.header;
        header.next_payload = self.cleartext.first().map_or(kind, Payload::kind);
        header.length = u32::try_from(total_len)
            .map_err(|_| EmitError::TooLong { field: "IKE message length", len: total_len })?;
        let mut message = vec![0u8; total_len];
        header.emit(&mut message)?;
        let sk_start = total_len - sk_len;
        emit_chain_before(self.cleartext, kind, &mut message[HEADER_LEN..sk_start])?;
        // The generic header and fragment fields as EncryptedRepr / EncryptedFragmentRepr
        // emit them; the lengths in the headers are part of what is authenticated.
        let mut w = Writer::new(&mut message[sk_start..]);
        w.generic_header(self.first_inner.0, 0, "payload length", sk_len)?;
        if let Some(FragmentInfo { number, total }) = self.fragment {
            emit_fragment_fields(&mut w, number, total)?;
        }

        let body_start = total_len - body_len;
        let (aad, body) = message.split_at_mut(body_start);
        let (iv_out, rest) = body.split_at_mut(iv.len());
        iv_out.copy_from_slice(iv);
        let (ciphertext, icv) = rest.split_at_mut(ct_len);
        write_content(&mut ciphertext[..content_len])?;
        // Padding bytes may hold any value (§3.14); zeros (the buffer's) keep the output
        // deterministic.
        let pad_length = ct_len - content_len - 1;
        ciphertext[ct_len - 1] =
            u8::try_from(pad_length).expect("padding is shorter than one block");
        protector.seal(aad, iv, ciphertext, icv)?;
        Ok(message)
    }
}

/// Splits `inner` into SKF fragments so that no message exceeds `max_message_len` bytes
/// (the IKE message, i.e. the UDP payload without any non-ESP marker), RFC 7383 §2.5.
///
/// `next_iv` fills a fresh IV for each fragment. Every fragment carries `header`'s SPIs,
/// exchange, flags and message ID.
pub fn seal_fragments(
    header: &HeaderRepr,
    inner: &[Payload],
    protector: &Protector,
    max_message_len: usize,
    next_iv: &mut dyn FnMut(&mut [u8]),
) -> Result<Vec<Vec<u8>>, SkError> {
    let plaintext = chain_to_vec(inner)?;
    let block = protector.block_len();
    let overhead = HEADER_LEN
        + GENERIC_HEADER_LEN
        + FRAGMENT_FIELDS_LEN
        + protector.iv_len()
        + protector.icv_len();
    let room = max_message_len.saturating_sub(overhead);
    // The largest content whose padded ciphertext still fits.
    let per_fragment = (room / block * block).saturating_sub(1);
    if per_fragment == 0 {
        return Err(SkError::MtuTooSmall { max_message_len, overhead });
    }
    let count = plaintext.len().div_ceil(per_fragment).max(1);
    let total = u16::try_from(count)
        .map_err(|_| SkError::TooManyFragments { total: u16::MAX, limit: u16::MAX })?;
    let mut iv = vec![0u8; protector.iv_len()];
    let mut out = Vec::with_capacity(count);
    for index in 0..count {
        let start = index * per_fragment;
        let end = (start + per_fragment).min(plaintext.len());
        // RFC 7383 §2.5: only the first fragment names the first inner payload.
        let first_inner = if index == 0 { first_type(inner) } else { PayloadType::NONE };
        let number = u16::try_from(index + 1).expect("index < total, which fits u16");
        next_iv(&mut iv);
        out.push(seal_content(
            header,
            &[],
            first_inner,
            Some(FragmentInfo { number, total }),
            &plaintext[start..end],
            protector,
            &iv,
        )?);
    }
    Ok(out)
}

/// Bounds on what one reassembly may hold, so that a peer cannot make us buffer without limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    pub max_fragments: u16,
    /// Total decrypted bytes across all fragments.
    pub max_len: usize,
    /// How long an incomplete message is kept, counted from its first fragment, so that lost
    /// fragments do not pin memory (RFC 7383 §2.6 leaves the value to us).
    pub timeout: Duration,
}

impl Default for ReassemblyLimits {
    /// 64 fragments and 64 KiB: above anything a certificate chain needs at a 576-byte MTU.
    /// 30 seconds: a peer retransmits within that, and restarts the reassembly if it must.
    fn default() -> Self {
        Self { max_fragments: 64, max_len: 64 * 1024, timeout: Duration::from_secs(30) }
    }
}

/// Which way a fragmented message travels: requests and responses may carry the same message
/// ID (each side numbers its own requests), so they are reassembled apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Request,
    Response,
}

impl Direction {
    /// The direction of a message with this header's Response flag.
    pub fn of_response_flag(response: bool) -> Self {
        if response { Self::Response } else { Self::Request }
    }

    fn index(self) -> usize {
        match self {
            Self::Request => 0,
            Self::Response => 1,
        }
    }
}

/// Collects the authenticated fragments of at most one message per [`Direction`]
/// (RFC 7383 §2.6).
#[derive(Debug)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    /// Boxed: every IKE SA has a reassembler and almost never a message in it, and two
    /// inline `Partial`s were 112 of its 144 bytes.
    partial: [Option<Box<Partial>>; 2],
}

/// One message being reassembled.
#[derive(Debug)]
struct Partial {
    message_id: u32,
    total: u16,
    first_inner: PayloadType,
    parts: Vec<Option<Vec<u8>>>,
    received_len: usize,
    expires_at: Instant,
}

/// What [`Reassembler::push`] did with a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reassembly {
    /// Stored; more fragments are needed.
    Pending,
    /// A copy of a fragment already held, or from an older fragmentation of the message;
    /// ignored (§2.6.1).
    Ignored,
    /// All fragments arrived; this is the whole message's content.
    Complete(Opened),
}

impl Reassembler {
    pub fn new(limits: ReassemblyLimits) -> Self {
        Self { limits, partial: [None, None] }
    }

    pub fn limits(&self) -> ReassemblyLimits {
        self.limits
    }

    /// Changes the bounds for fragments pushed from now on (a half-open IKE SA gets a smaller
    /// budget than an authenticated one).
    pub fn set_limits(&mut self, limits: ReassemblyLimits) {
        self.limits = limits;
    }

    /// Decrypted bytes held in incomplete messages.
    pub fn held_bytes(&self) -> usize {
        self.partial.iter().flatten().map(|p| p.received_len).sum()
    }

    /// When the oldest incomplete message expires, if any is held.
    pub fn deadline(&self) -> Option<Instant> {
        self.partial.iter().flatten().map(|p| p.expires_at).min()
    }

    /// Drops the incomplete messages whose time ran out; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        for slot in &mut self.partial {
            if slot.as_ref().is_some_and(|p| now >= p.expires_at) {
                *slot = None;
                dropped += 1;
            }
        }
        dropped
    }

    /// Adds an opened (so already authenticated) fragment of the message `message_id` that
    /// travels in `direction`, received at `now`.
    ///
    /// A fragment of another message ID, or one announcing more fragments than held so far,
    /// starts over (the peer re-fragmented for a smaller MTU, §2.6.1); one announcing fewer is
    /// ignored. An incomplete message older than the timeout is dropped first.
    pub fn push(
        &mut self,
        now: Instant,
        direction: Direction,
        message_id: u32,
        opened: Opened,
    ) -> Result<Reassembly, SkError> {
        let Some(FragmentInfo { number, total }) = opened.fragment else {
            return Ok(Reassembly::Complete(opened));
        };
        if total > self.limits.max_fragments {
            return Err(SkError::TooManyFragments { total, limit: self.limits.max_fragments });
        }
        self.expire(now);
        let limits = self.limits;
        let slot = &mut self.partial[direction.index()];
        let restart = match slot {
            Some(p) if p.message_id == message_id && total < p.total => {
                return Ok(Reassembly::Ignored);
            }
            Some(p) => p.message_id != message_id || total > p.total,
            None => true,
        };
        if restart {
            *slot = None;
        }
        let partial = slot.get_or_insert_with(|| {
            Box::new(Partial {
                message_id,
                total,
                first_inner: PayloadType::NONE,
                parts: vec![None; usize::from(total)],
                received_len: 0,
                expires_at: now + limits.timeout,
            })
        });
        let index = usize::from(number - 1);
        if partial.parts[index].is_some() {
            return Ok(Reassembly::Ignored);
        }
        let len = partial.received_len + opened.plaintext.len();
        if len > limits.max_len {
            *slot = None;
            return Err(SkError::ReassembledTooLong { len, limit: limits.max_len });
        }
        if number == 1 {
            partial.first_inner = opened.first_inner;
        }
        partial.received_len = len;
        partial.parts[index] = Some(opened.plaintext);
        if partial.parts.iter().any(Option::is_none) {
            return Ok(Reassembly::Pending);
        }
        let Some(done) = slot.take() else { return Ok(Reassembly::Pending) };
        let plaintext: Vec<u8> = done.parts.into_iter().flatten().flatten().collect();
        Ok(Reassembly::Complete(Opened {
            first_inner: done.first_inner,
            plaintext,
            fragment: None,
        }))
    }
}
