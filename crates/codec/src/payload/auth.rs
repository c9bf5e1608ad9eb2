//! Authentication payload (RFC 7296 §3.8).
//!
//! ```text
//! | Auth Method   |                RESERVED                       |
//! ~                      Authentication Data                      ~
//! ```

use smallvec::SmallVec;

use super::{Body, body_api};
use crate::error::{DecodeError, EmitError};
use crate::reader::{Reader, Writer};
use crate::registry::AuthMethod;

/// Authentication data, inline up to 64 octets: a shared key MIC (the PRF's output: 32 octets
/// for SHA-256, 64 for SHA-512) is parsed and built without an allocation of its own.
/// Signatures spill to the heap.
pub type AuthData = SmallVec<[u8; 64]>;

/// An AUTH payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthRepr {
    /// Authentication method.
    pub method: AuthMethod,
    /// Authentication data (signature or MAC; for DIGITAL_SIGNATURE it
    /// starts with the RFC 7427 AlgorithmIdentifier).
    pub data: AuthData,
}

impl Body<crate::Ikev2> for AuthRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let method = AuthMethod(r.u8()?);
        r.skip(3)?;
        Ok(Self { method, data: AuthData::from_slice(r.rest()) })
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
