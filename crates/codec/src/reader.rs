//! Bounds-checked cursors over byte slices.
//!
//! Every variable-length structure is read through a [`Reader`]: each read
//! checks the remaining length first and reports a [`DecodeError`] carrying
//! the absolute offset of the field that could not be read, so no input can
//! make the decoder index out of bounds. [`Writer`] is the emitting
//! counterpart; callers size the buffer with `buffer_len()` first.

use crate::error::{DecodeError, DecodeErrorKind, EmitError};

/// A big-endian cursor over a borrowed byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    /// A reader whose offsets count from the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self::with_base(buf, 0)
    }

    /// A reader whose offsets count from `base`: `buf[0]` is reported as
    /// offset `base`. Used for decrypted content, so errors still name a
    /// place in the enclosing message.
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    /// Absolute offset of the next unread byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    /// Number of unread bytes.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// An error of `kind` at the current offset.
    pub fn error(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.offset())
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(self.error(DecodeErrorKind::Truncated));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// A reader over the next `n` bytes, keeping absolute offsets.
    pub fn sub(&mut self, n: usize) -> Result<Reader<'a>, DecodeError> {
        let base = self.offset();
        let buf = self.take(n)?;
        Ok(Reader::with_base(buf, base))
    }

    /// All unread bytes.
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
    pub fn skip(&mut self, n: usize) -> Result<(), DecodeError> {
        self.take(n).map(|_| ())
    }

    /// A fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Fail with [`DecodeErrorKind::TrailingData`] unless every byte was read.
    pub fn expect_empty(&self) -> Result<(), DecodeError> {
        if self.is_empty() { Ok(()) } else { Err(self.error(DecodeErrorKind::TrailingData)) }
    }
}

/// A big-endian cursor writing into a mutable slice.
///
/// Writes past the end return [`EmitError::BufferTooShort`]; the emit code
/// checks the whole length up front, so in practice this is a second guard.
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

    /// Append `n` zero bytes (reserved fields, RFC 7296 §3.2).
    pub fn zeros(&mut self, n: usize) -> Result<(), EmitError> {
        for _ in 0..n {
            self.u8(0)?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_bounds() {
        let data = [1, 2, 3, 4, 5, 6, 7];
        let mut r = Reader::with_base(&data, 10);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16().unwrap(), 0x0203);
        let mut s = r.sub(2).unwrap();
        assert_eq!(s.offset(), 13);
        assert_eq!(s.rest(), &[4, 5]);
        assert!(s.expect_empty().is_ok());
        let e = r.u32().unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::Truncated);
        assert_eq!(e.offset, 15);
        assert_eq!(r.expect_empty().unwrap_err().kind, DecodeErrorKind::TrailingData);
    }

    #[test]
    fn writer_reports_short_buffer() {
        let mut buf = [0u8; 3];
        let mut w = Writer::new(&mut buf);
        w.u16(0x0102).unwrap();
        assert_eq!(w.u16(7), Err(EmitError::BufferTooShort { needed: 4, available: 3 }));
    }
}
