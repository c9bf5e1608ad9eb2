//! What IKEv2 and IKEv1 (ISAKMP) share on the wire, written once.
//!
//! The two protocols frame a message the same way: the 28-octet header
//! ([`crate::header::View`]), a chain of payloads each behind a 4-octet
//! generic header (Next Payload, one octet of flags, a 16-bit length), and,
//! inside an SA payload, proposals and transforms chained the same way. They
//! differ in every registry and in what their failures are called. So the
//! pieces here are generic over a [`Protocol`] that names those:
//! [`Ikev2`](crate::Ikev2) in this crate, `Ikev1` in `ikeway-isakmp`.
//!
//! * [`DecodeError`]: what, where, in which payload, and which notification
//!   to answer with;
//! * [`Reader`]: a bounds-checked big-endian cursor whose every failed read
//!   is a `DecodeError` at the absolute offset of the field, with the walk
//!   over a generic payload header ([`Reader::payload_header`]) and over a
//!   proposal or transform header ([`Reader::substructure`]);
//! * [`Writer`] and [`check_room`], [`len_u8`], [`len_u16`]: the emitting
//!   side, whose failures are [`EmitError`];
//! * [`Body`] and [`payload_body_api!`](crate::payload_body_api): a payload
//!   body's codec and the public `parse`/`emit` made from it.

use core::fmt;

use crate::error::EmitError;

/// Length of the generic payload header (RFC 7296 §3.2, RFC 2408 §3.2), and
/// of a proposal's or transform's header, which has the same layout.
pub const GENERIC_HEADER_LEN: usize = 4;

/// Offset of the 16-bit length inside a generic payload header.
pub const LENGTH_OFFSET: usize = 2;

/// The parameters in which IKEv2 and IKEv1 differ, for the generic pieces.
pub trait Protocol: Copy + Eq + fmt::Debug + 'static {
    /// The protocol's kinds of decode failure.
    type Kind: Copy + Eq + fmt::Debug + fmt::Display;
    /// Its payload type registry.
    type PayloadType: Copy + Eq + fmt::Debug + fmt::Display + From<u8> + Into<u8>;
    /// Its exchange type registry.
    type ExchangeType: Copy + Eq + fmt::Debug + From<u8> + Into<u8>;
    /// Its header flags.
    type Flags: HeaderFlags;
    /// How it holds the two 8-octet header fields: IKEv2 SPIs as numbers,
    /// IKEv1 cookies as octets.
    type Spi: HeaderSpi;
    /// Its notification registry.
    type Notify;

    /// The major version it speaks (2 or 1).
    const MAJOR_VERSION: u8;
    /// "The input ended before a field it must contain."
    const TRUNCATED: Self::Kind;
    /// "Bytes were left over after a structure that must fill its container."
    const TRAILING_DATA: Self::Kind;
    /// "A length field is smaller than the fixed part it must cover."
    const LENGTH_TOO_SMALL: Self::Kind;
    /// "A length field claims more bytes than the enclosing structure holds."
    const LENGTH_PAST_END: Self::Kind;

    /// The failure of a header with major version `major`.
    fn invalid_major_version(major: u8) -> Self::Kind;

    /// The notification a responder answers `error` with.
    fn notify(error: &DecodeError<Self>) -> Self::Notify;
}

/// A header's flags octet as the protocol's flags type.
pub trait HeaderFlags: Copy {
    /// Decode the octet, ignoring reserved bits.
    fn from_octet(bits: u8) -> Self;
    /// The octet, reserved bits clear.
    fn to_octet(self) -> u8;
}

/// One of the header's two 8-octet fields (SPI or cookie).
pub trait HeaderSpi: Copy {
    /// From the eight octets as sent.
    fn from_octets(octets: [u8; 8]) -> Self;
    /// The eight octets to send.
    fn to_octets(self) -> [u8; 8];
}

impl HeaderSpi for u64 {
    fn from_octets(octets: [u8; 8]) -> Self {
        u64::from_be_bytes(octets)
    }

    fn to_octets(self) -> [u8; 8] {
        self.to_be_bytes()
    }
}

impl HeaderSpi for [u8; 8] {
    fn from_octets(octets: [u8; 8]) -> Self {
        octets
    }

    fn to_octets(self) -> [u8; 8] {
        self
    }
}

/// A malformed message.
///
/// Small and `Copy`, so it can be returned up the stack and logged freely
/// (it never holds message bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecodeError<P: Protocol> {
    /// What went wrong.
    pub kind: P::Kind,
    /// Byte offset of the offending field, counted from the base the caller
    /// parsed against (the start of the message for a whole message).
    pub offset: usize,
    /// The payload being decoded, if the error lies inside one.
    pub payload: Option<P::PayloadType>,
}

impl<P: Protocol> DecodeError<P> {
    /// An error of `kind` at `offset`, outside any payload.
    pub const fn new(kind: P::Kind, offset: usize) -> Self {
        Self { kind, offset, payload: None }
    }

    /// The same error, attributed to payload `ty` unless a payload is
    /// already named (the innermost payload wins).
    pub const fn in_payload(mut self, ty: P::PayloadType) -> Self {
        if self.payload.is_none() {
            self.payload = Some(ty);
        }
        self
    }

    /// The notification to send back for this error.
    pub fn notify(&self) -> P::Notify {
        P::notify(self)
    }
}

impl<P: Protocol> fmt::Display for DecodeError<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.kind, self.offset)?;
        if let Some(ty) = self.payload {
            write!(f, " in payload {ty}")?;
        }
        Ok(())
    }
}

impl<P: Protocol> std::error::Error for DecodeError<P> {}

/// A big-endian cursor over a borrowed byte slice, its offsets counted from
/// a base, so errors inside decrypted content still name a place in the
/// enclosing message.
#[derive(Debug, Clone)]
pub struct Reader<'a, P: Protocol> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    protocol: core::marker::PhantomData<P>,
}

/// A generic payload header as read by [`Reader::payload_header`].
#[derive(Debug)]
pub struct GenericHeader<'a, P: Protocol> {
    /// Offset of the header.
    pub start: usize,
    /// The Next Payload field.
    pub next: P::PayloadType,
    /// The octet after it (IKEv2's critical bit and reserved bits, IKEv1's
    /// RESERVED).
    pub flags: u8,
    /// A reader over exactly the body.
    pub body: Reader<'a, P>,
}

/// A generic payload header's offset, Next Payload, flags octet and body, as
/// [`Reader::payload_header_fields`] reads them.
pub(crate) type HeaderFields<'a, P> = (usize, <P as Protocol>::PayloadType, u8, &'a [u8]);

impl<'a, P: Protocol> Reader<'a, P> {
    /// A reader whose offsets count from the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::with_base(buf, 0)
    }

    /// A reader whose offsets count from `base`: `buf[0]` is reported as
    /// offset `base`.
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base, protocol: core::marker::PhantomData }
    }

    /// Absolute offset of the next unread byte.
    #[inline]
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Number of unread bytes.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte has been read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error of `kind` at the current offset.
    pub fn error(&self, kind: P::Kind) -> DecodeError<P> {
        DecodeError::new(kind, self.offset())
    }

    /// The next `n` bytes.
    #[inline(always)]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError<P>> {
        if n > self.remaining() {
            return Err(self.error(P::TRUNCATED));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// A reader over the next `n` bytes, keeping absolute offsets.
    #[inline(always)]
    pub fn sub(&mut self, n: usize) -> Result<Self, DecodeError<P>> {
        let base = self.offset();
        let buf = self.take(n)?;
        Ok(Self::with_base(buf, base))
    }

    /// All unread bytes.
    #[inline]
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// The unread bytes, without consuming them.
    pub fn peek_rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Skip `n` bytes (reserved fields).
    #[inline]
    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError<P>> {
        self.take(n).map(|_| ())
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError<P>> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, DecodeError<P>> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian `u16`.
    #[inline]
    pub fn u16(&mut self) -> Result<u16, DecodeError<P>> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError<P>> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError<P>> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Fail with "trailing data" unless every byte was read.
    pub fn expect_empty(&self) -> Result<(), DecodeError<P>> {
        if self.is_empty() { Ok(()) } else { Err(self.error(P::TRAILING_DATA)) }
    }

    /// Read the generic header of a payload of type `kind` and bound its
    /// body by the Payload Length. Every failure is attributed to `kind`:
    /// "truncated" where fewer than four octets are left, "length too small"
    /// or "past the end" at the length field.
    #[inline]
    pub fn payload_header(
        &mut self,
        kind: P::PayloadType,
    ) -> Result<GenericHeader<'a, P>, DecodeError<P>> {
        let (start, next, flags, body) = self.payload_header_fields(kind)?;
        let body = Self::with_base(body, start + GENERIC_HEADER_LEN);
        Ok(GenericHeader { start, next, flags, body })
    }

    /// [`payload_header`](Self::payload_header)'s fields, the body as its octets (at offset
    /// `start + GENERIC_HEADER_LEN`): a caller that makes its body reader itself keeps the
    /// reader out of a `Result`, whose move LLVM made with wide loads over narrow stores (a
    /// store-forwarding stall per payload).
    #[inline(always)]
    pub(crate) fn payload_header_fields(
        &mut self,
        kind: P::PayloadType,
    ) -> Result<HeaderFields<'a, P>, DecodeError<P>> {
        let start = self.offset();
        let inside = |e: DecodeError<P>| e.in_payload(kind);
        if self.remaining() < GENERIC_HEADER_LEN {
            return Err(inside(self.error(P::TRUNCATED)));
        }
        let next = P::PayloadType::from(self.u8()?);
        let flags = self.u8()?;
        let length = usize::from(self.u16()?);
        let length_at = start + LENGTH_OFFSET;
        if length < GENERIC_HEADER_LEN {
            return Err(inside(DecodeError::new(P::LENGTH_TOO_SMALL, length_at)));
        }
        if length - GENERIC_HEADER_LEN > self.remaining() {
            return Err(inside(DecodeError::new(P::LENGTH_PAST_END, length_at)));
        }
        let body = self.take(length - GENERIC_HEADER_LEN)?;
        Ok((start, next, flags, body))
    }

    /// Read one proposal or transform header (marker, RESERVED, length)
    /// and return a reader over the rest of it. `min_len` is its smallest
    /// length, header included; `more` the marker that announces a sibling
    /// (0 announces none). A marker of neither value, or one that disagrees
    /// with whether a sibling follows, is `bad_marker` at the marker.
    #[inline(always)]
    pub fn substructure(
        &mut self,
        min_len: usize,
        more: u8,
        bad_marker: P::Kind,
    ) -> Result<Self, DecodeError<P>> {
        const LAST: u8 = 0;
        let marker_at = self.offset();
        let marker = self.u8()?;
        self.skip(1)?;
        let len_at = self.offset();
        let len = usize::from(self.u16()?);
        if marker != LAST && marker != more {
            return Err(DecodeError::new(bad_marker, marker_at));
        }
        if len < min_len {
            return Err(DecodeError::new(P::LENGTH_TOO_SMALL, len_at));
        }
        if len - GENERIC_HEADER_LEN > self.remaining() {
            return Err(DecodeError::new(P::LENGTH_PAST_END, len_at));
        }
        let inner = self.sub(len - GENERIC_HEADER_LEN)?;
        // "more" needs a successor, "last" must not have one.
        if (marker == LAST) != self.is_empty() {
            return Err(DecodeError::new(bad_marker, marker_at));
        }
        Ok(inner)
    }
}

/// A payload body of protocol `P`: decoded from a reader over exactly its
/// octets (which it must consume), encoded into exactly `body_len()` octets.
/// [`payload_body_api!`](crate::payload_body_api) gives a type its public
/// `parse`, `buffer_len`, `emit` and `to_vec` from these.
pub trait Body<P: Protocol>: Sized {
    /// Decode the body from `r`.
    fn parse_body(r: &mut Reader<'_, P>) -> Result<Self, DecodeError<P>>;
    /// The encoded body's length.
    fn body_len(&self) -> usize;
    /// Encode the body into `w`.
    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError>;
}

/// Gives a [`Body`] of protocol `$proto` its public `parse` / `buffer_len` /
/// `emit` / `to_vec`, which work on the payload *body* (without the 4-octet
/// generic header).
#[macro_export]
macro_rules! payload_body_api {
    ($ty:ty, $proto:ty) => {
        impl $ty {
            /// Decode a payload body (without the generic header); error
            /// offsets count from the start of `body`.
            pub fn parse(body: &[u8]) -> Result<Self, $crate::wire::DecodeError<$proto>> {
                let mut r = $crate::wire::Reader::<$proto>::new(body);
                let v = <Self as $crate::wire::Body<$proto>>::parse_body(&mut r)?;
                r.expect_empty()?;
                Ok(v)
            }

            /// Encoded body length (without the generic header).
            pub fn buffer_len(&self) -> usize {
                <Self as $crate::wire::Body<$proto>>::body_len(self)
            }

            /// Encode the body (without the generic header) into the front of
            /// `buf`; returns the octets written.
            pub fn emit(&self, buf: &mut [u8]) -> Result<usize, $crate::EmitError> {
                let n = self.buffer_len();
                $crate::wire::check_room(buf, n)?;
                let mut w = $crate::wire::Writer::new(&mut buf[..n]);
                <Self as $crate::wire::Body<$proto>>::emit_body(self, &mut w)?;
                Ok(w.position())
            }

            /// The encoded body (what IKEv1 hashes as a payload's "body",
            /// e.g. SAi_b, IDii_b).
            pub fn to_vec(&self) -> Result<Vec<u8>, $crate::EmitError> {
                let mut buf = vec![0u8; self.buffer_len()];
                let n = self.emit(&mut buf)?;
                buf.truncate(n);
                Ok(buf)
            }
        }
    };
}

/// A big-endian cursor writing into a mutable slice.
///
/// Writes past the end return [`EmitError::BufferTooShort`]; the emit code
/// sizes buffers with `buffer_len()` first, so this is a second guard.
#[derive(Debug)]
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes written so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Append `bytes`.
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        let end = self.pos + bytes.len();
        let available = self.buf.len();
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(EmitError::BufferTooShort { needed: end, available })?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Append one byte.
    pub fn u8(&mut self, v: u8) -> Result<(), EmitError> {
        self.put(&[v])
    }

    /// Append a big-endian `u16`.
    pub fn u16(&mut self, v: u16) -> Result<(), EmitError> {
        self.put(&v.to_be_bytes())
    }

    /// Append a big-endian `u32`.
    pub fn u32(&mut self, v: u32) -> Result<(), EmitError> {
        self.put(&v.to_be_bytes())
    }

    /// Append a big-endian `u64`.
    pub fn u64(&mut self, v: u64) -> Result<(), EmitError> {
        self.put(&v.to_be_bytes())
    }

    /// Append `n` zero bytes (reserved fields, which both protocols send as
    /// zero).
    pub fn zeros(&mut self, n: usize) -> Result<(), EmitError> {
        (0..n).try_for_each(|_| self.u8(0))
    }

    /// Append a generic payload header, or a proposal's or transform's:
    /// `next` (or the "more"/"last" marker), the flags octet, and
    /// `len`, the whole structure's length, which must fit 16 bits (else
    /// [`EmitError::TooLong`] naming `field`).
    pub fn generic_header(
        &mut self,
        next: u8,
        flags: u8,
        field: &'static str,
        len: usize,
    ) -> Result<(), EmitError> {
        self.u8(next)?;
        self.u8(flags)?;
        self.u16(len_u16(field, len)?)
    }

    /// Append a structure headed like [`generic_header`](Self::generic_header) whose length
    /// is what `body` writes after the header, filled in once it is written (it must fit 16
    /// bits, else [`EmitError::TooLong`] naming `field`): emitting a chain then walks each
    /// payload, proposal and transform once, not once more per enclosing length.
    #[inline]
    pub fn headed(
        &mut self,
        next: u8,
        flags: u8,
        field: &'static str,
        body: impl FnOnce(&mut Self) -> Result<(), EmitError>,
    ) -> Result<(), EmitError> {
        let start = self.pos;
        self.u8(next)?;
        self.u8(flags)?;
        self.u16(0)?;
        body(self)?;
        let len = len_u16(field, self.pos - start)?;
        // The four header octets at `start` were written above.
        self.buf[start + 2..start + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    /// The unwritten tail, for nested emitters; call [`advance`](Self::advance)
    /// with what they wrote.
    pub fn tail(&mut self) -> &mut [u8] {
        &mut self.buf[self.pos..]
    }

    /// Account for `n` bytes written through [`tail`](Self::tail).
    pub fn advance(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

/// How many structures `bytes` holds that start with a generic header's shape (a continuation
/// octet, one reserved, a two-octet length of at least `min_len`): payloads, proposals,
/// transforms. Walked along their lengths while `more` (at first) and then `continues(octet)`
/// of the structure just counted say another follows, and stopped where a header is cut
/// short or its length is too small or runs past `bytes` (the parse reports those). Each
/// counted structure takes at least `min_len` octets of `bytes`, so the count, which parsers
/// reserve as capacity, is bounded by the input.
pub(crate) fn count_headed(
    bytes: &[u8],
    min_len: usize,
    mut more: bool,
    continues: impl Fn(u8) -> bool,
) -> usize {
    let (mut count, mut at) = (0, 0);
    while more {
        let Some(&[octet, _, hi, lo]) = bytes.get(at..at + GENERIC_HEADER_LEN) else { break };
        let length = usize::from(u16::from_be_bytes([hi, lo]));
        if length < min_len || length > bytes.len() - at {
            break;
        }
        count += 1;
        at += length;
        more = continues(octet);
    }
    count
}

/// Check that `buf` can hold `needed` bytes.
pub fn check_room(buf: &[u8], needed: usize) -> Result<(), EmitError> {
    if buf.len() < needed {
        Err(EmitError::BufferTooShort { needed, available: buf.len() })
    } else {
        Ok(())
    }
}

/// A length as a 16-bit field, or [`EmitError::TooLong`] naming the field.
pub fn len_u16(field: &'static str, len: usize) -> Result<u16, EmitError> {
    u16::try_from(len).map_err(|_| EmitError::TooLong { field, len })
}

/// A length as an 8-bit field, or [`EmitError::TooLong`] naming the field.
pub fn len_u8(field: &'static str, len: usize) -> Result<u8, EmitError> {
    u8::try_from(len).map_err(|_| EmitError::TooLong { field, len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{DecodeErrorKind, Ikev2};

    #[test]
    fn reader_reports_absolute_offsets_and_never_overflows() {
        let data = [1, 2, 3, 4, 5, 6, 7];
        let mut r = Reader::<Ikev2>::with_base(&data, 28);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(0x0203));
        let mut s = r.sub(2).expect("two bytes left");
        assert_eq!(s.offset(), 31);
        assert_eq!(s.rest(), &[4, 5]);
        assert_eq!(s.expect_empty(), Ok(()));
        assert_eq!(r.u32(), Err(DecodeError::new(DecodeErrorKind::Truncated, 33)));
        assert_eq!(r.expect_empty(), Err(DecodeError::new(DecodeErrorKind::TrailingData, 33)));
        assert_eq!(r.take(usize::MAX).unwrap_err().kind, DecodeErrorKind::Truncated);
    }

    #[test]
    fn writer_reports_short_buffer_and_writes_zeros() {
        let mut buf = [0xffu8; 7];
        let mut w = Writer::new(&mut buf);
        w.zeros(6).expect("room for six");
        assert_eq!(w.position(), 6);
        assert_eq!(w.u16(7), Err(EmitError::BufferTooShort { needed: 8, available: 7 }));
        assert_eq!(buf, [0, 0, 0, 0, 0, 0, 0xff]);
    }

    /// The length is filled in from what the body wrote, header included; one that does not
    /// fit 16 bits is refused with the whole length, as `generic_header` refuses it.
    #[test]
    fn headed_fills_in_the_length_it_wrote() {
        let mut buf = [0u8; 9];
        let mut w = Writer::new(&mut buf);
        w.headed(3, 0x80, "payload length", |w| w.put(&[1, 2, 3, 4, 5])).unwrap();
        assert_eq!(w.position(), 9);
        assert_eq!(buf, [3, 0x80, 0, 9, 1, 2, 3, 4, 5]);
        let mut big = vec![0u8; 70_004];
        let mut w = Writer::new(&mut big);
        assert_eq!(
            w.headed(0, 0, "payload length", |w| w.zeros(70_000)),
            Err(EmitError::TooLong { field: "payload length", len: 70_004 })
        );
    }

    #[test]
    fn generic_header_names_a_length_that_does_not_fit() {
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        assert_eq!(
            w.generic_header(0, 0, "payload length", 70_000),
            Err(EmitError::TooLong { field: "payload length", len: 70_000 })
        );
    }
}
