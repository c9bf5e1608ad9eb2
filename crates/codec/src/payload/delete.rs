//! Delete payload (RFC 7296 §3.11).
//!
//! ```text
//! | Protocol ID   |   SPI Size    |          Num of SPIs          |
//! ~               Security Parameter Index(es) (SPI)              ~
//! ```

use super::{Body, body_api};
use crate::error::{DecodeError, DecodeErrorKind, EmitError, len_u16};
use crate::reader::{Reader, Writer};
use crate::registry::ProtocolId;

/// A Delete payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeleteRepr {
    /// IKE, AH or ESP.
    pub protocol: ProtocolId,
    /// Length of each SPI: 0 for IKE (the SA is the one the message is
    /// sent under), 4 for AH and ESP.
    pub spi_size: u8,
    /// The SPIs, each `spi_size` octets; empty for IKE.
    pub spis: Vec<Vec<u8>>,
}

impl DeleteRepr {
    /// Delete the IKE SA this message belongs to.
    pub fn ike() -> Self {
        Self { protocol: ProtocolId::IKE, spi_size: 0, spis: Vec::new() }
    }

    /// Delete the given ESP SAs (the SPIs the sender expects in inbound
    /// packets, §1.4.1).
    pub fn esp(spis: impl IntoIterator<Item = u32>) -> Self {
        Self {
            protocol: ProtocolId::ESP,
            spi_size: 4,
            spis: spis.into_iter().map(|s| s.to_be_bytes().to_vec()).collect(),
        }
    }
}

impl Body<crate::Ikev2> for DeleteRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let protocol = ProtocolId(r.u8()?);
        let size_at = r.offset();
        let spi_size = r.u8()?;
        let count_at = r.offset();
        let count = usize::from(r.u16()?);
        // §3.11: "zero for IKE (SPI is in message header) or four for AH
        // and ESP".
        let ok_size = match protocol {
            ProtocolId::IKE => spi_size == 0,
            ProtocolId::AH | ProtocolId::ESP => spi_size == 4,
            _ => true,
        };
        if !ok_size {
            return Err(DecodeError::new(DecodeErrorKind::SpiSize, size_at));
        }
        // Count * size must be exactly the rest; this also bounds the
        // allocation below by the input length (a zero SPI size with a
        // non-zero count is a mismatch, not a licence to allocate).
        let size = usize::from(spi_size);
        let expected = if size == 0 { (count == 0).then_some(0) } else { count.checked_mul(size) };
        if expected != Some(r.remaining()) {
            return Err(DecodeError::new(DecodeErrorKind::CountMismatch, count_at));
        }
        let mut spis = Vec::with_capacity(count);
        for _ in 0..count {
            spis.push(r.take(size)?.to_vec());
        }
        Ok(Self { protocol, spi_size, spis })
    }

    fn body_len(&self) -> usize {
        4 + self.spis.iter().map(Vec::len).sum::<usize>()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        if self.spis.iter().any(|s| s.len() != usize::from(self.spi_size)) {
            return Err(EmitError::Inconsistent("delete SPI length differs from spi_size"));
        }
        if self.spi_size == 0 && !self.spis.is_empty() {
            return Err(EmitError::Inconsistent("delete with SPI size 0 must list no SPIs"));
        }
        w.u8(self.protocol.0)?;
        w.u8(self.spi_size)?;
        w.u16(len_u16("number of SPIs", self.spis.len())?)?;
        for spi in &self.spis {
            w.put(spi)?;
        }
        Ok(())
    }
}

body_api!(DeleteRepr);
