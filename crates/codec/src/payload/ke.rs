//! Key Exchange payload (RFC 7296 §3.4).
//!
//! ```text
//! | Diffie-Hellman Group Num      |           RESERVED            |
//! ~                       Key Exchange Data                       ~
//! ```

use smallvec::SmallVec;

use super::{Body, body_api};
use crate::error::{DecodeError, EmitError};
use crate::reader::{Reader, Writer};
use crate::registry::DhGroup;

/// Key exchange data, inline up to 64 octets: X25519 (32), X448 (56) and ECP-256 (64) public
/// values are parsed and built without an allocation of their own. MODP, larger curves and
/// ML-KEM spill to the heap.
pub type KeData = SmallVec<[u8; 64]>;

/// A KE payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeRepr {
    /// The Diffie-Hellman group / key exchange method of `data`.
    pub group: DhGroup,
    /// The public value (its length is fixed by the group, which the
    /// protocol layer checks: §3.4 leaves that to the group definition).
    pub data: KeData,
}

impl Body<crate::Ikev2> for KeRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let group = DhGroup(r.u16()?);
        r.skip(2)?; // RESERVED, ignored on receipt (§3.2).
        Ok(Self { group, data: KeData::from_slice(r.rest()) })
    }

    fn body_len(&self) -> usize {
        4 + self.data.len()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        w.u16(self.group.0)?;
        w.zeros(2)?;
        w.put(&self.data)
    }
}

body_api!(KeRepr);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;

    #[test]
    fn round_trip() {
        let raw = [0, 19, 0, 0, 1, 2, 3];
        let ke = KeRepr::parse(&raw).unwrap();
        assert_eq!(ke.group, DhGroup::ECP_256);
        assert_eq!(*ke.data, [1, 2, 3]);
        let mut out = [0u8; 7];
        assert_eq!(ke.emit(&mut out), Ok(7));
        assert_eq!(out, raw);
        assert_eq!(KeRepr::parse(&raw[..3]).unwrap_err().kind, DecodeErrorKind::Truncated);
    }
}
