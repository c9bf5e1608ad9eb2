//! Bounds-checked big-endian cursors.
//!
//! Every field of untrusted input is read through a [`Cursor`], which checks
//! the remaining length first and reports a [`DecodeError`] at the absolute
//! offset of the field that could not be read. [`Out`] is the emitting side;
//! callers size its buffer with `buffer_len()` first, so its own check is a
//! second guard.
//!
//! (`ikeway-codec` has the same kind of cursor for IKEv2; the two are kept
//! apart because each reports its own protocol's error type.)

use crate::error::{DecodeError, DecodeErrorKind, EmitError};

/// A read position in a borrowed slice whose offsets count from `base`.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor over `data`, whose first byte is reported as offset `base`.
    pub(crate) fn new(data: &'a [u8], base: usize) -> Self {
        Self { data, pos: 0, base }
    }

    /// Absolute offset of the next unread byte.
    pub(crate) fn at(&self) -> usize {
        self.base + self.pos
    }

    /// Unread bytes.
    pub(crate) fn left(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.left() == 0
    }

    /// An error of `kind` at the current position.
    pub(crate) fn fail(&self, kind: DecodeErrorKind) -> DecodeError {
        DecodeError::new(kind, self.at())
    }

    /// The next `n` bytes, or `Truncated` at the current position.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let Some(end) = end else {
            return Err(self.fail(DecodeErrorKind::Truncated));
        };
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A cursor over the next `n` bytes, keeping absolute offsets.
    pub(crate) fn split(&mut self, n: usize) -> Result<Cursor<'a>, DecodeError> {
        let base = self.at();
        Ok(Cursor::new(self.bytes(n)?, base))
    }

    /// Everything unread.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = &self.data[self.pos..];
        self.pos = self.data.len();
        out
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_be_bytes)
    }

    /// `TrailingData` unless everything was read.
    pub(crate) fn done(&self) -> Result<(), DecodeError> {
        if self.is_empty() { Ok(()) } else { Err(self.fail(DecodeErrorKind::TrailingData)) }
    }
}

/// A write position in a caller's buffer.
#[derive(Debug)]
pub(crate) struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Out<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, len: 0 }
    }

    /// Bytes written so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        let available = self.buf.len();
        let end = self.len + bytes.len();
        let dst = self
            .buf
            .get_mut(self.len..end)
            .ok_or(EmitError::BufferTooShort { needed: end, available })?;
        dst.copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8) -> Result<(), EmitError> {
        self.put(&[v])
    }

    pub(crate) fn u16(&mut self, v: u16) -> Result<(), EmitError> {
        self.put(&v.to_be_bytes())
    }

    pub(crate) fn u32(&mut self, v: u32) -> Result<(), EmitError> {
        self.put(&v.to_be_bytes())
    }

    /// Reserved octets, always written as zero (RFC 2408 §3: "RESERVED ...
    /// MUST be set to 0").
    pub(crate) fn zeros(&mut self, n: usize) -> Result<(), EmitError> {
        (0..n).try_for_each(|_| self.u8(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_reports_absolute_offsets() {
        let data = [1, 2, 3, 4, 5, 6, 7];
        let mut c = Cursor::new(&data, 28);
        assert_eq!(c.u8(), Ok(1));
        assert_eq!(c.u16(), Ok(0x0203));
        let mut s = c.split(2).expect("two bytes left");
        assert_eq!(s.at(), 31);
        assert_eq!(s.rest(), &[4, 5]);
        assert_eq!(s.done(), Ok(()));
        assert_eq!(c.u32(), Err(DecodeError::new(DecodeErrorKind::Truncated, 33)));
        assert_eq!(c.done(), Err(DecodeError::new(DecodeErrorKind::TrailingData, 33)));
        assert_eq!(c.bytes(usize::MAX).unwrap_err().kind, DecodeErrorKind::Truncated);
    }

    #[test]
    fn out_reports_short_buffer_and_writes_zeros() {
        let mut buf = [0xffu8; 7];
        let mut o = Out::new(&mut buf);
        o.zeros(6).expect("room for six");
        assert_eq!(o.len(), 6);
        assert_eq!(o.u16(7), Err(EmitError::BufferTooShort { needed: 8, available: 7 }));
        assert_eq!(buf, [0, 0, 0, 0, 0, 0, 0xff]);
    }
}
