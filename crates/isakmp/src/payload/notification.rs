//! Notification payload (RFC 2408 §3.14), including DPD's R-U-THERE and
//! R-U-THERE-ACK (RFC 3706 §5).
//!
//! ```text
//! !              Domain of Interpretation  (DOI)                  !
//! !  Protocol-ID  !   SPI Size    !      Notify Message Type      !
//! ~                Security Parameter Index (SPI)                 ~
//! ~                       Notification Data                       ~
//! ```

use super::{Body, SaAttribute, body_api};
use crate::attribute;
use crate::error::{DecodeError, EmitError, len_u8};
use crate::reader::{Reader, Writer};
use crate::registry::{Doi, NotifyType, ProtocolId};

/// A Notification payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotificationRepr {
    /// Domain of Interpretation (IPsec, 1; some peers send 0).
    pub doi: Doi,
    /// The protocol the SPI belongs to.
    pub protocol: ProtocolId,
    /// The SPI: empty, the 16-octet cookie pair of an ISAKMP SA, or a
    /// 4-octet ESP/AH SPI.
    pub spi: Vec<u8>,
    /// The notify message type.
    pub kind: NotifyType,
    /// Notification data.
    pub data: Vec<u8>,
}

impl NotificationRepr {
    /// A notification of `kind` about the ISAKMP SA named by its cookies
    /// (RFC 2408 §3.14: the SPI of an ISAKMP SA is CKY-I | CKY-R).
    pub fn isakmp(kind: NotifyType, cookies: [u8; 16], data: Vec<u8>) -> Self {
        Self { doi: Doi::IPSEC, protocol: ProtocolId::ISAKMP, spi: cookies.to_vec(), kind, data }
    }

    /// R-U-THERE (or, with `ack`, R-U-THERE-ACK) with its sequence number
    /// (RFC 3706 §5: protocol ISAKMP, SPI the cookies, 4-octet data).
    pub fn dpd(ack: bool, cookies: [u8; 16], sequence: u32) -> Self {
        let kind = if ack { NotifyType::R_U_THERE_ACK } else { NotifyType::R_U_THERE };
        Self::isakmp(kind, cookies, sequence.to_be_bytes().to_vec())
    }

    /// The DPD sequence number, for an R-U-THERE(-ACK) whose data is
    /// exactly four octets.
    pub fn dpd_sequence(&self) -> Option<u32> {
        if !matches!(self.kind, NotifyType::R_U_THERE | NotifyType::R_U_THERE_ACK) {
            return None;
        }
        <[u8; 4]>::try_from(self.data.as_slice()).ok().map(u32::from_be_bytes)
    }

    /// A RESPONDER-LIFETIME notification for the SA `spi` of `protocol`
    /// carrying `attrs` (RFC 2407 §4.6.3.1: SA-Life-Type/Duration pairs).
    pub fn responder_lifetime_of(
        protocol: ProtocolId,
        spi: Vec<u8>,
        attrs: &[SaAttribute],
    ) -> Result<Self, EmitError> {
        let data = attribute::encode_list(attrs)?;
        Ok(Self { doi: Doi::IPSEC, protocol, spi, kind: NotifyType::RESPONDER_LIFETIME, data })
    }

    /// The lifetime attributes of a RESPONDER-LIFETIME notification
    /// (RFC 2407 §4.6.3.1: its data is a list of SA attributes).
    pub fn responder_lifetime(&self) -> Option<Result<Vec<SaAttribute>, DecodeError>> {
        (self.kind == NotifyType::RESPONDER_LIFETIME).then(|| attribute::decode_list(&self.data))
    }
}

impl Body<crate::error::Ikev1> for NotificationRepr {
    fn parse_body(c: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let doi = Doi(c.u32()?);
        let protocol = ProtocolId(c.u8()?);
        let spi_size = c.u8()?;
        let kind = NotifyType(c.u16()?);
        let spi = c.take(usize::from(spi_size))?.to_vec();
        Ok(Self { doi, protocol, spi, kind, data: c.rest().to_vec() })
    }

    fn body_len(&self) -> usize {
        8 + self.spi.len() + self.data.len()
    }

    fn emit_body(&self, o: &mut Writer<'_>) -> Result<(), EmitError> {
        o.u32(self.doi.0)?;
        o.u8(self.protocol.0)?;
        o.u8(len_u8("notification SPI", self.spi.len())?)?;
        o.u16(self.kind.0)?;
        o.put(&self.spi)?;
        o.put(&self.data)
    }
}

body_api!(NotificationRepr);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::DataAttribute;
    use crate::error::DecodeErrorKind;
    use crate::registry::{IpsecAttribute, LifeType};

    #[test]
    fn dpd_round_trip() {
        let cookies: [u8; 16] = core::array::from_fn(|i| i as u8);
        let n = NotificationRepr::dpd(false, cookies, 0x0102_0304);
        let wire = n.to_vec().unwrap();
        assert_eq!(wire[..8], [0, 0, 0, 1, 1, 16, 0x8d, 0x28]);
        assert_eq!(wire[8..24], cookies);
        assert_eq!(wire[24..], [1, 2, 3, 4]);
        let back = NotificationRepr::parse(&wire).unwrap();
        assert_eq!(back.dpd_sequence(), Some(0x0102_0304));
        let ack = NotificationRepr::dpd(true, cookies, 7);
        assert_eq!(ack.kind, NotifyType::R_U_THERE_ACK);
        assert_eq!(ack.dpd_sequence(), Some(7));
        let other = NotificationRepr::isakmp(NotifyType::INITIAL_CONTACT, cookies, vec![0; 4]);
        assert_eq!(other.dpd_sequence(), None);
    }

    #[test]
    fn responder_lifetime_carries_attributes() {
        let attrs = [0x80, 0x01, 0x00, 0x01, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x0e, 0x10];
        let n = NotificationRepr {
            doi: Doi::IPSEC,
            protocol: ProtocolId::ESP,
            spi: vec![0xca, 0xfe, 0, 1],
            kind: NotifyType::RESPONDER_LIFETIME,
            data: attrs.to_vec(),
        };
        let list = n.responder_lifetime().expect("is one").expect("well formed");
        let built =
            NotificationRepr::responder_lifetime_of(ProtocolId::ESP, vec![0xca, 0xfe, 0, 1], &list)
                .expect("encodes");
        assert_eq!(built, n);
        assert_eq!(
            list[0],
            DataAttribute::basic(IpsecAttribute::SA_LIFE_TYPE, LifeType::SECONDS.0)
        );
        assert_eq!(list[1].value.as_u64(), Some(3600));
        assert_eq!(NotificationRepr::parse(&n.to_vec().unwrap()).unwrap(), n);
    }

    #[test]
    fn rejects_spi_past_the_end() {
        let e = NotificationRepr::parse(&[0, 0, 0, 1, 1, 16, 0, 14, 1, 2]).expect_err("short SPI");
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::Truncated, 8));
    }
}
