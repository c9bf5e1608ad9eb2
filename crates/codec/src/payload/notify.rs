//! Notify payload (RFC 7296 §3.10).
//!
//! ```text
//! |  Protocol ID  |   SPI Size    |      Notify Message Type      |
//! ~                Security Parameter Index (SPI)                 ~
//! ~                       Notification Data                       ~
//! ```

use super::{Body, body_api};
use crate::error::{DecodeError, EmitError, len_u8};
use crate::reader::{Reader, Writer};
use crate::registry::{NotifyType, ProtocolId};

/// A Notify payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotifyRepr {
    /// The SA type the notification concerns; NONE (0) when there is no
    /// SPI (§3.10: "If the SPI field is empty, this field MUST be sent as
    /// zero and MUST be ignored on receipt").
    pub protocol: ProtocolId,
    /// The SPI, usually empty or 4 octets (ESP/AH).
    pub spi: Vec<u8>,
    /// Notify message type.
    pub kind: NotifyType,
    /// Notification data.
    pub data: Vec<u8>,
}

impl NotifyRepr {
    /// A notification with no SPI and the given data.
    pub fn new(kind: NotifyType, data: Vec<u8>) -> Self {
        Self { protocol: ProtocolId::NONE, spi: Vec::new(), kind, data }
    }
}

impl Body for NotifyRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let protocol = ProtocolId(r.u8()?);
        let spi_size = r.u8()?;
        let kind = NotifyType(r.u16()?);
        // An SPI size pointing past the body is reported as Truncated at
        // the SPI's offset.
        let spi = r.take(usize::from(spi_size))?.to_vec();
        Ok(Self { protocol, spi, kind, data: r.rest().to_vec() })
    }

    fn body_len(&self) -> usize {
        4 + self.spi.len() + self.data.len()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        w.u8(self.protocol.0)?;
        w.u8(len_u8("notify SPI", self.spi.len())?)?;
        w.u16(self.kind.0)?;
        w.put(&self.spi)?;
        w.put(&self.data)
    }
}

body_api!(NotifyRepr);
