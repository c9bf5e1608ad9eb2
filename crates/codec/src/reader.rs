//! Bounds-checked cursors over byte slices.
//!
//! Every variable-length structure is read through a [`Reader`]: each read
//! checks the remaining length first and reports a
//! [`DecodeError`](crate::DecodeError) carrying the absolute offset of the
//! field that could not be read, so no input can make the decoder index out
//! of bounds. [`Writer`] is the emitting counterpart; callers size the buffer
//! with `buffer_len()` first. Both are [`crate::wire`]'s, which IKEv1 uses
//! too.

use crate::error::Ikev2;

/// IKEv2's bounds-checked reader: [`crate::wire::Reader`] reporting IKEv2's
/// [`DecodeError`](crate::DecodeError).
pub type Reader<'a> = crate::wire::Reader<'a, Ikev2>;

pub use crate::wire::Writer;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{DecodeErrorKind, EmitError};

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
