//! Nonce payload (RFC 7296 §3.9).

use smallvec::SmallVec;

use super::{Body, body_api};
use crate::error::{DecodeError, EmitError};
use crate::reader::{Reader, Writer};

/// Nonce data, inline up to 32 octets: the length we send and strongSwan sends, so a
/// handshake's nonces are parsed and built without an allocation of their own. Longer nonces
/// (up to the 256 octets §3.9 allows, or whatever a payload holds) spill to the heap.
pub type NonceData = SmallVec<[u8; 32]>;

/// A Nonce payload body.
///
/// §3.9 requires 16..=256 octets; that is a protocol rule checked by the
/// exchange logic, not by the codec, so any length round-trips here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NonceRepr {
    /// The nonce.
    pub data: NonceData,
}

impl Body<crate::Ikev2> for NonceRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self { data: NonceData::from_slice(r.rest()) })
    }

    fn body_len(&self) -> usize {
        self.data.len()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        w.put(&self.data)
    }
}

body_api!(NonceRepr);
