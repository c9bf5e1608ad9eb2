//! The 4-octet generic payload header (RFC 7296 §3.2).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Next Payload  |C|  RESERVED   |         Payload Length        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use crate::error::{DecodeError, DecodeErrorKind};
use crate::registry::PayloadType;

mod field {
    use core::ops::Range;

    pub(super) const NEXT_PAYLOAD: usize = 0;
    pub(super) const FLAGS: usize = 1;
    pub(super) const LENGTH: Range<usize> = 2..4;
}

/// Length of the generic payload header.
pub const GENERIC_HEADER_LEN: usize = 4;

/// Offset of the Payload Length field inside the generic header.
pub(crate) const LENGTH_OFFSET: usize = field::LENGTH.start;

/// The critical bit in the flags octet.
const CRITICAL: u8 = 0x80;

/// A zero-copy view of a generic payload header and its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wrap a buffer without checks; getters may panic on a buffer shorter
    /// than 4 bytes, and [`body`](Self::body) on one shorter than the length
    /// field.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wrap a buffer, checking the header and the length field.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Check that the header fits, that the Payload Length covers the header,
    /// and that the buffer holds the whole payload. Offsets are relative to
    /// the start of the buffer.
    pub fn check_len(&self) -> Result<(), DecodeError> {
        let len = self.buffer.as_ref().len();
        if len < GENERIC_HEADER_LEN {
            return Err(DecodeError::new(DecodeErrorKind::Truncated, 0));
        }
        let plen = usize::from(self.length());
        if plen < GENERIC_HEADER_LEN {
            return Err(DecodeError::new(DecodeErrorKind::LengthTooSmall, LENGTH_OFFSET));
        }
        if plen > len {
            return Err(DecodeError::new(DecodeErrorKind::LengthPastEnd, LENGTH_OFFSET));
        }
        Ok(())
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Type of the payload that follows this one.
    pub fn next_payload(&self) -> PayloadType {
        PayloadType(self.buffer.as_ref()[field::NEXT_PAYLOAD])
    }

    /// The critical bit.
    pub fn critical(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & CRITICAL != 0
    }

    /// The seven reserved bits (ignored on receipt, RFC 7296 §3.2).
    pub fn reserved(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS] & !CRITICAL
    }

    /// Payload Length, header included.
    pub fn length(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[field::LENGTH.start], b[field::LENGTH.start + 1]])
    }

    /// The payload body, as delimited by the length field.
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[GENERIC_HEADER_LEN..usize::from(self.length())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Set the next payload type.
    pub fn set_next_payload(&mut self, v: PayloadType) {
        self.buffer.as_mut()[field::NEXT_PAYLOAD] = v.0;
    }

    /// Set the critical bit; the reserved bits are cleared (RFC 7296 §3.2).
    pub fn set_critical(&mut self, v: bool) {
        self.buffer.as_mut()[field::FLAGS] = if v { CRITICAL } else { 0 };
    }

    /// Set the Payload Length.
    pub fn set_length(&mut self, v: u16) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    /// The body, mutable (as delimited by the length field).
    pub fn body_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.length());
        &mut self.buffer.as_mut()[GENERIC_HEADER_LEN..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view() {
        let raw = [0x29u8, 0xff, 0x00, 0x06, 0xaa, 0xbb, 0xcc];
        let p = Packet::new_checked(&raw[..]).unwrap();
        assert_eq!(p.next_payload(), PayloadType::NOTIFY);
        assert!(p.critical());
        assert_eq!(p.reserved(), 0x7f);
        assert_eq!(p.body(), &[0xaa, 0xbb]);

        let mut buf = [0xffu8; 6];
        let mut q = Packet::new_unchecked(&mut buf[..]);
        q.set_next_payload(PayloadType::NONE);
        q.set_critical(false);
        q.set_length(6);
        q.body_mut().copy_from_slice(&[1, 2]);
        assert_eq!(buf, [0, 0, 0, 6, 1, 2]);
    }

    #[test]
    fn checks() {
        assert_eq!(
            Packet::new_checked(&[0u8, 0, 0, 3][..]).unwrap_err().kind,
            DecodeErrorKind::LengthTooSmall
        );
        assert_eq!(
            Packet::new_checked(&[0u8, 0, 0, 9, 1][..]).unwrap_err().kind,
            DecodeErrorKind::LengthPastEnd
        );
        assert_eq!(
            Packet::new_checked(&[0u8, 0][..]).unwrap_err().kind,
            DecodeErrorKind::Truncated
        );
    }
}
