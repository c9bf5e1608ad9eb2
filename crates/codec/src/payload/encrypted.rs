//! Encrypted and Authenticated payloads: SK (RFC 7296 §3.14) and SKF
//! (RFC 7383 §2.5).
//!
//! This module only frames the bytes: the body is IV | ciphertext | ICV,
//! kept opaque. Encryption, padding and fragmentation live elsewhere.

use super::Body;
use crate::error::{DecodeError, DecodeErrorKind, EmitError};
use crate::reader::{Reader, Writer};
use crate::registry::PayloadType;

/// An SK payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EncryptedRepr {
    /// Type of the first payload inside the ciphertext; carried in the SK
    /// payload's own Next Payload field (§3.14).
    pub first_inner: PayloadType,
    /// Initialization Vector, encrypted payloads and padding, and the
    /// Integrity Checksum Data, as sent.
    pub body: Vec<u8>,
}

impl EncryptedRepr {
    pub(crate) fn parse_with_next(
        next: PayloadType,
        r: &mut Reader<'_>,
    ) -> Result<Self, DecodeError> {
        Ok(Self { first_inner: next, body: r.rest().to_vec() })
    }

    /// Decode an SK body whose generic header carried `first_inner`.
    pub fn parse(first_inner: PayloadType, body: &[u8]) -> Result<Self, DecodeError> {
        Self::parse_with_next(first_inner, &mut Reader::new(body))
    }

    /// Length of the body (without the generic header).
    pub fn buffer_len(&self) -> usize {
        self.body_len()
    }

    /// Write the body (without the generic header).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        crate::error::check_room(buf, self.body.len())?;
        buf[..self.body.len()].copy_from_slice(&self.body);
        Ok(self.body.len())
    }
}

impl Body<crate::Ikev2> for EncryptedRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::parse_with_next(PayloadType::NONE, r)
    }

    fn body_len(&self) -> usize {
        self.body.len()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        w.put(&self.body)
    }
}

/// An SKF payload: one fragment of an encrypted message (RFC 7383 §2.5).
///
/// ```text
/// |        Fragment Number        |        Total Fragments        |
/// ~                   Initialization Vector                       ~
/// ~                      Encrypted content                        ~
/// ~                    Integrity Checksum Data                    ~
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EncryptedFragmentRepr {
    /// The first inner payload's type in fragment 1; zero in the others.
    pub first_inner: PayloadType,
    /// Fragment number, starting at 1.
    pub number: u16,
    /// Total number of fragments.
    pub total: u16,
    /// IV | ciphertext | ICV.
    pub body: Vec<u8>,
}

impl EncryptedFragmentRepr {
    pub(crate) fn parse_with_next(
        next: PayloadType,
        r: &mut Reader<'_>,
    ) -> Result<Self, DecodeError> {
        let number_at = r.offset();
        let number = r.u16()?;
        let total = r.u16()?;
        // §2.5: numbering starts at 1, and a fragment number greater than
        // the total is invalid.
        if number == 0 || number > total {
            return Err(DecodeError::new(DecodeErrorKind::FragmentNumber, number_at));
        }
        Ok(Self { first_inner: next, number, total, body: r.rest().to_vec() })
    }

    /// Decode an SKF body whose generic header carried `first_inner`.
    pub fn parse(first_inner: PayloadType, body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        Self::parse_with_next(first_inner, &mut r)
    }

    /// Length of the body (without the generic header).
    pub fn buffer_len(&self) -> usize {
        self.body_len()
    }

    /// Write the body (without the generic header).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let n = self.body_len();
        crate::error::check_room(buf, n)?;
        let mut w = Writer::new(&mut buf[..n]);
        self.emit_body(&mut w)?;
        Ok(n)
    }
}

impl Body<crate::Ikev2> for EncryptedFragmentRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::parse_with_next(PayloadType::NONE, r)
    }

    fn body_len(&self) -> usize {
        4 + self.body.len()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        emit_fragment_fields(w, self.number, self.total)?;
        w.put(&self.body)
    }
}

/// Fragment Number and Total Fragments as SKF carries them, refused unless the number is in
/// `1..=total` (RFC 7383 §2.5), which is what a receiver checks: what we emit, we could open.
pub(crate) fn emit_fragment_fields(
    w: &mut Writer<'_>,
    number: u16,
    total: u16,
) -> Result<(), EmitError> {
    if number == 0 || number > total {
        return Err(EmitError::Inconsistent("fragment number must be in 1..=total"));
    }
    w.u16(number)?;
    w.u16(total)
}
