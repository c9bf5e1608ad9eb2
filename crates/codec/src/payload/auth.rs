//! Authentication payload (RFC 7296 §3.8).
//!
//! ```text
//! | Auth Method   |                RESERVED                       |
//! ~                      Authentication Data                      ~
//! ```

use super::{Body, body_api};
use crate::error::{DecodeError, EmitError};
use crate::reader::{Reader, Writer};
use crate::registry::AuthMethod;

/// An AUTH payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthRepr {
    /// Authentication method.
    pub method: AuthMethod,
    /// Authentication data (signature or MAC; for DIGITAL_SIGNATURE it
    /// starts with the RFC 7427 AlgorithmIdentifier).
    pub data: Vec<u8>,
}

impl Body<crate::Ikev2> for AuthRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let method = AuthMethod(r.u8()?);
        r.skip(3)?;
        Ok(Self { method, data: r.rest().to_vec() })
    }

    fn body_len(&self) -> usize {
        4 + self.data.len()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        w.u8(self.method.0)?;
        w.zeros(3)?;
        w.put(&self.data)
    }
}

body_api!(AuthRepr);
