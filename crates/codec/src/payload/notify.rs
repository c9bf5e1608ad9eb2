//! Notify payload (RFC 7296 §3.10).
//!
//! ```text
//! |  Protocol ID  |   SPI Size    |      Notify Message Type      |
//! ~                Security Parameter Index (SPI)                 ~
//! ~                       Notification Data                       ~
//! ```

use smallvec::SmallVec;

use super::{Body, Spi, body_api};
use crate::error::{DecodeError, DecodeErrorKind, EmitError, len_u8};
use crate::reader::{Reader, Writer};
use crate::registry::{HashAlgorithm, NotifyType, ProtocolId};

/// Notification data, inline up to 24 octets: what a handshake carries fits (NAT detection
/// hashes are 20, SIGNATURE_HASH_ALGORITHMS a few 16-bit values, the status notifies none), so
/// parsing or building them allocates nothing. Longer data (a COOKIE, a REDIRECT) spills to the
/// heap, up to the payload's length as before.
pub type NotifyData = SmallVec<[u8; 24]>;

/// A Notify payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotifyRepr {
    /// The SA type the notification concerns; NONE (0) when there is no
    /// SPI (§3.10: "If the SPI field is empty, this field MUST be sent as
    /// zero and MUST be ignored on receipt").
    pub protocol: ProtocolId,
    /// The SPI, usually empty or 4 octets (ESP/AH).
    pub spi: Spi,
    /// Notify message type.
    pub kind: NotifyType,
    /// Notification data.
    pub data: NotifyData,
}

impl NotifyRepr {
    /// A notification with no SPI and the given data (a `Vec<u8>`, a slice, ...).
    pub fn new(kind: NotifyType, data: impl Into<NotifyData>) -> Self {
        Self { protocol: ProtocolId::NONE, spi: Spi::new(), kind, data: data.into() }
    }

    /// SIGNATURE_HASH_ALGORITHMS listing `hashes` in order (RFC 7427 §4).
    pub fn signature_hash_algorithms(hashes: &[HashAlgorithm]) -> Self {
        let data: NotifyData = hashes.iter().flat_map(|h| h.0.to_be_bytes()).collect();
        Self::new(NotifyType::SIGNATURE_HASH_ALGORITHMS, data)
    }

    /// The hash algorithms of a SIGNATURE_HASH_ALGORITHMS notify's data, in the
    /// peer's order, unknown values kept (RFC 7427 §4: a list of 16-bit
    /// identifiers). An odd number of octets is `Truncated` at the last one;
    /// offsets count from the start of the data. An iterator over the data, so that reading
    /// the list allocates nothing.
    pub fn hash_algorithms(
        &self,
    ) -> Result<impl ExactSizeIterator<Item = HashAlgorithm> + '_, DecodeError> {
        if self.data.len() % 2 == 1 {
            // Where a 16-bit read of the last, lone octet stops.
            let last = self.data.len() - 1;
            return Err(DecodeError::new(DecodeErrorKind::Truncated, last));
        }
        Ok(self.data.chunks_exact(2).map(|c| HashAlgorithm(u16::from_be_bytes([c[0], c[1]]))))
    }
}

impl Body<crate::Ikev2> for NotifyRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let protocol = ProtocolId(r.u8()?);
        let spi_size = r.u8()?;
        let kind = NotifyType(r.u16()?);
        // An SPI size pointing past the body is reported as Truncated at
        // the SPI's offset.
        let spi = super::sa::spi_from(r.take(usize::from(spi_size))?);
        Ok(Self { protocol, spi, kind, data: NotifyData::from_slice(r.rest()) })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;

    /// A SIGNATURE_HASH_ALGORITHMS body (no SPI, type 16431) as strongSwan sends it
    /// (RFC 7427 §4): SHA2-256, SHA2-384, SHA2-512, Identity.
    const STRONGSWAN_HASHES: [u8; 12] =
        [0x00, 0x00, 0x40, 0x2f, 0x00, 0x02, 0x00, 0x03, 0x00, 0x04, 0x00, 0x05];

    #[test]
    fn signature_hash_algorithms_encode_as_big_endian_u16s() {
        let n = NotifyRepr::signature_hash_algorithms(&[
            HashAlgorithm::SHA2_256,
            HashAlgorithm::SHA2_384,
            HashAlgorithm::SHA2_512,
            HashAlgorithm::IDENTITY,
        ]);
        let mut buf = [0u8; 12];
        assert_eq!(n.emit(&mut buf), Ok(12));
        assert_eq!(buf, STRONGSWAN_HASHES);
    }

    #[test]
    fn signature_hash_algorithms_parse_in_order_keeping_unknown_values() {
        let mut body = STRONGSWAN_HASHES.to_vec();
        body.extend_from_slice(&[0x12, 0x34]);
        let n = NotifyRepr::parse(&body).expect("valid notify");
        assert_eq!(n.kind, NotifyType::SIGNATURE_HASH_ALGORITHMS);
        assert_eq!(
            n.hash_algorithms().map(Iterator::collect::<Vec<_>>),
            Ok(vec![
                HashAlgorithm::SHA2_256,
                HashAlgorithm::SHA2_384,
                HashAlgorithm::SHA2_512,
                HashAlgorithm::IDENTITY,
                HashAlgorithm(0x1234),
            ])
        );
    }

    #[test]
    fn empty_signature_hash_algorithms_is_an_empty_list() {
        let n = NotifyRepr::new(NotifyType::SIGNATURE_HASH_ALGORITHMS, Vec::new());
        assert_eq!(n.hash_algorithms().map(|h| h.len()), Ok(0));
    }

    #[test]
    fn rejects_odd_length_signature_hash_algorithms() {
        let n = NotifyRepr::new(NotifyType::SIGNATURE_HASH_ALGORITHMS, vec![0x00, 0x02, 0x00]);
        let Err(e) = n.hash_algorithms() else { panic!("three octets are not a list of u16") };
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::Truncated, 2));
    }
}
