//! Vendor ID payload (RFC 7296 §3.12).

use super::{Body, body_api};
use crate::error::{DecodeError, EmitError};
use crate::reader::{Reader, Writer};

/// A Vendor ID payload body: an opaque identifier, usually a hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VendorIdRepr {
    /// The vendor identifier.
    pub data: Vec<u8>,
}

impl Body<crate::Ikev2> for VendorIdRepr {
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

body_api!(VendorIdRepr);
