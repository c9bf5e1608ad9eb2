//! Delete payload (RFC 2408 §3.15): one protocol, several SPIs of one
//! size (16 for an ISAKMP SA, its cookies; 4 for ESP and AH).
//!
//! ```text
//! !              Domain of Interpretation  (DOI)                  !
//! !  Protocol-Id  !   SPI Size    !           # of SPIs           !
//! ~               Security Parameter Index(es) (SPI)              ~
//! ```

use super::{Body, body_api};
use crate::error::{DecodeError, DecodeErrorKind, EmitError, len_u16};
use crate::reader::{Reader, Writer};
use crate::registry::{Doi, ProtocolId};

/// A Delete payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeleteRepr {
    /// Domain of Interpretation.
    pub doi: Doi,
    /// The protocol of the SAs deleted.
    pub protocol: ProtocolId,
    /// The size of each SPI (kept separately so an empty list still
    /// round-trips).
    pub spi_size: u8,
    /// The SPIs, each `spi_size` octets.
    pub spis: Vec<Vec<u8>>,
}

impl DeleteRepr {
    /// Delete the ISAKMP SA with these cookies.
    pub fn isakmp(cookies: [u8; 16]) -> Self {
        Self {
            doi: Doi::IPSEC,
            protocol: ProtocolId::ISAKMP,
            spi_size: 16,
            spis: vec![cookies.to_vec()],
        }
    }

    /// Delete ESP SAs by their (inbound, to the sender) SPIs.
    pub fn esp(spis: &[u32]) -> Self {
        Self {
            doi: Doi::IPSEC,
            protocol: ProtocolId::ESP,
            spi_size: 4,
            spis: spis.iter().map(|s| s.to_be_bytes().to_vec()).collect(),
        }
    }

    /// The SPIs as 32-bit numbers, when they are four octets each.
    pub fn spis_u32(&self) -> Option<Vec<u32>> {
        self.spis
            .iter()
            .map(|s| <[u8; 4]>::try_from(s.as_slice()).ok().map(u32::from_be_bytes))
            .collect()
    }
}

impl Body<crate::error::Ikev1> for DeleteRepr {
    fn parse_body(c: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let doi = Doi(c.u32()?);
        let protocol = ProtocolId(c.u8()?);
        let spi_size = c.u8()?;
        let count_at = c.offset();
        let count = usize::from(c.u16()?);
        // The SPIs must fill the body exactly, and a count of zero-octet SPIs
        // means nothing: both checked before collecting, so the list never
        // outgrows the input (65535 empty SPIs from eight octets).
        if count * usize::from(spi_size) != c.remaining() || (spi_size == 0 && count != 0) {
            return Err(DecodeError::new(DecodeErrorKind::CountMismatch, count_at));
        }
        let mut spis = Vec::with_capacity(count);
        for _ in 0..count {
            spis.push(c.take(usize::from(spi_size))?.to_vec());
        }
        Ok(Self { doi, protocol, spi_size, spis })
    }

    fn body_len(&self) -> usize {
        8 + self.spis.len() * usize::from(self.spi_size)
    }

    fn emit_body(&self, o: &mut Writer<'_>) -> Result<(), EmitError> {
        if self.spis.iter().any(|s| s.len() != usize::from(self.spi_size)) {
            return Err(EmitError::Inconsistent("a Delete SPI differs from the SPI size"));
        }
        o.u32(self.doi.0)?;
        o.u8(self.protocol.0)?;
        o.u8(self.spi_size)?;
        o.u16(len_u16("number of SPIs", self.spis.len())?)?;
        self.spis.iter().try_for_each(|s| o.put(s))
    }
}

body_api!(DeleteRepr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_and_isakmp_deletes() {
        let d = DeleteRepr::esp(&[0xc0ff_ee01, 0x0000_0002]);
        let wire = d.to_vec().unwrap();
        assert_eq!(wire, [0, 0, 0, 1, 3, 4, 0, 2, 0xc0, 0xff, 0xee, 0x01, 0, 0, 0, 2]);
        let back = DeleteRepr::parse(&wire).unwrap();
        assert_eq!(back.spis_u32(), Some(vec![0xc0ff_ee01, 2]));
        let i = DeleteRepr::isakmp([9; 16]);
        assert_eq!(DeleteRepr::parse(&i.to_vec().unwrap()).unwrap(), i);
        assert_eq!(i.spis_u32(), None);
    }

    #[test]
    fn rejects_count_that_does_not_fill_the_body() {
        let e = DeleteRepr::parse(&[0, 0, 0, 1, 3, 4, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8]).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::CountMismatch, 6));
        let e = DeleteRepr::parse(&[0, 0, 0, 1, 3, 0, 0xff, 0xff, 1]).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::CountMismatch, 6));
        // 65535 SPIs of zero octets fill an empty list exactly, and are refused.
        let e = DeleteRepr::parse(&[0, 0, 0, 1, 3, 0, 0xff, 0xff]).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::CountMismatch, 6));
        let none = DeleteRepr { spi_size: 0, spis: Vec::new(), ..DeleteRepr::esp(&[]) };
        assert_eq!(DeleteRepr::parse(&none.to_vec().unwrap()).unwrap(), none);
    }

    #[test]
    fn refuses_to_emit_spis_of_mixed_size() {
        let mut d = DeleteRepr::esp(&[1]);
        d.spis.push(vec![1, 2]);
        assert_eq!(
            d.to_vec(),
            Err(EmitError::Inconsistent("a Delete SPI differs from the SPI size"))
        );
    }
}
