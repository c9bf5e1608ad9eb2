//! EAP payload (RFC 7296 §3.16): one EAP message (RFC 3748 §4).
//!
//! ```text
//! |     Code      | Identifier    |           Length              |
//! |     Type      | Type_Data...
//! ```

use core::fmt;

use super::{Body, body_api};
use crate::error::{DecodeError, DecodeErrorKind, EmitError, len_u16};
use crate::reader::{Reader, Writer};

/// The EAP Code field (RFC 3748 §4, RFC 6696).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EapCode(pub u8);

impl EapCode {
    /// Request.
    pub const REQUEST: Self = Self(1);
    /// Response.
    pub const RESPONSE: Self = Self(2);
    /// Success.
    pub const SUCCESS: Self = Self(3);
    /// Failure.
    pub const FAILURE: Self = Self(4);

    /// Request and Response carry a Type octet; the others do not.
    pub const fn has_type(&self) -> bool {
        matches!(self.0, 1 | 2)
    }
}

impl fmt::Debug for EapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("Request"),
            2 => f.write_str("Response"),
            3 => f.write_str("Success"),
            4 => f.write_str("Failure"),
            n => write!(f, "{n}"),
        }
    }
}

/// An EAP payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EapRepr {
    /// Code.
    pub code: EapCode,
    /// Identifier, matching responses to requests.
    pub identifier: u8,
    /// The method type, present exactly for Request and Response.
    pub eap_type: Option<u8>,
    /// Type-Data (or, for other codes, whatever follows the 4-octet
    /// header).
    pub data: Vec<u8>,
}

impl Body<crate::Ikev2> for EapRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let total = r.remaining();
        let code = EapCode(r.u8()?);
        let identifier = r.u8()?;
        let len_at = r.offset();
        let length = usize::from(r.u16()?);
        // §3.16: the payload carries exactly one EAP message, so its own
        // Length must equal the payload body length.
        if length != total {
            return Err(DecodeError::new(DecodeErrorKind::EapLength, len_at));
        }
        let eap_type = if code.has_type() { Some(r.u8()?) } else { None };
        Ok(Self { code, identifier, eap_type, data: r.rest().to_vec() })
    }

    fn body_len(&self) -> usize {
        4 + usize::from(self.eap_type.is_some()) + self.data.len()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        if self.code.has_type() != self.eap_type.is_some() {
            return Err(EmitError::Inconsistent(
                "EAP Type is present exactly for Request and Response",
            ));
        }
        w.u8(self.code.0)?;
        w.u8(self.identifier)?;
        w.u16(len_u16("EAP length", self.body_len())?)?;
        if let Some(t) = self.eap_type {
            w.u8(t)?;
        }
        w.put(&self.data)
    }
}

body_api!(EapRepr);
