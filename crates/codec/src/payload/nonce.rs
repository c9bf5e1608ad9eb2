//! Nonce payload (RFC 7296 §3.9).

use super::{Body, body_api};
use crate::error::{DecodeError, EmitError};
use crate::reader::{Reader, Writer};

/// A Nonce payload body.
///
/// §3.9 requires 16..=256 octets; that is a protocol rule checked by the
/// exchange logic, not by the codec, so any length round-trips here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NonceRepr {
    /// The nonce.
    pub data: Vec<u8>,
}

impl Body<crate::Ikev2> for NonceRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self { data: r.rest().to_vec() })
    }

    fn body_len(&self) -> usize {
        self.data.len()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        w.put(&self.data)
    }
}

body_api!(NonceRepr);
