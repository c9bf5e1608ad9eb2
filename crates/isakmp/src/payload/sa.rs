//! Security Association payload with its proposals and transforms
//! (RFC 2408 §3.4 - §3.6, RFC 2407 §4.6.1).
//!
//! ```text
//! SA:        !              Domain of Interpretation  (DOI)                  !
//!            !                           Situation                           !
//!            ~                      Proposal payloads                        ~
//! Proposal:  ! Next (2 or 0) !   RESERVED    !         Payload Length        !
//!            !  Proposal #   !  Protocol-Id  !    SPI Size   !# of Transforms!
//!            ~                        SPI (variable)                         ~
//!            ~                      Transform payloads                       ~
//! Transform: ! Next (3 or 0) !   RESERVED    !         Payload Length        !
//!            !  Transform #  !  Transform-Id !           RESERVED2           !
//!            ~                        SA Attributes                          ~
//! ```
//!
//! Proposals that share a number are one offer of several protocols (e.g.
//! AH and ESP together, RFC 2408 §4.2); they are kept as a flat list in
//! wire order, numbers as sent.

use super::{Body, GENERIC_HEADER_LEN, body_api};
use crate::attribute::{self, AttributeValue, DataAttribute};
use crate::error::{DecodeError, DecodeErrorKind, EmitError, len_u8};
use crate::reader::{Reader, Writer};
use crate::registry::{Doi, IpsecAttribute, OakleyAttribute, PayloadType, ProtocolId};

/// Situation bit of the IPsec DOI that everyone uses (RFC 2407 §4.2.1).
pub const SIT_IDENTITY_ONLY: u32 = 0x01;
/// Situation bits that add labelled-domain fields (RFC 2407 §4.2.2/3).
const SIT_LABELLED: u32 = 0x02 | 0x04;

/// A transform attribute. Its class is a raw `u16`: [`OakleyAttribute`] in
/// an ISAKMP proposal, [`IpsecAttribute`] in an AH/ESP one.
pub type SaAttribute = DataAttribute<u16>;

/// An SA payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SaRepr {
    /// Domain of Interpretation: always IPsec (1) here.
    pub doi: Doi,
    /// The IPsec DOI situation, in practice [`SIT_IDENTITY_ONLY`].
    pub situation: u32,
    /// The proposals in wire order.
    pub proposals: Vec<ProposalRepr>,
}

/// One Proposal substructure.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProposalRepr {
    /// Proposal number, as sent.
    pub number: u8,
    /// The protocol: ISAKMP in phase 1, ESP or AH in quick mode.
    pub protocol: ProtocolId,
    /// The sender's SPI: empty in phase 1, 4 octets (its inbound SPI) for
    /// ESP and AH.
    pub spi: Vec<u8>,
    /// The transforms, in order of preference.
    pub transforms: Vec<TransformRepr>,
}

/// One Transform substructure.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransformRepr {
    /// Transform number, as sent.
    pub number: u8,
    /// Transform ID: KEY_IKE in phase 1, an ESP/AH transform in quick mode.
    pub id: u8,
    /// The SA attributes, in wire order.
    pub attributes: Vec<SaAttribute>,
}

impl SaRepr {
    /// An IPsec-DOI, identity-only SA with `proposals`.
    pub fn new(proposals: Vec<ProposalRepr>) -> Self {
        Self { doi: Doi::IPSEC, situation: SIT_IDENTITY_ONLY, proposals }
    }
}

impl ProposalRepr {
    fn encoded_len(&self) -> usize {
        GENERIC_HEADER_LEN
            + 4
            + self.spi.len()
            + self.transforms.iter().map(TransformRepr::encoded_len).sum::<usize>()
    }

    fn emit(&self, o: &mut Writer<'_>, last: bool) -> Result<(), EmitError> {
        let more = if last { PayloadType::NONE } else { PayloadType::PROPOSAL };
        o.generic_header(more.0, 0, "proposal length", self.encoded_len())?;
        o.u8(self.number)?;
        o.u8(self.protocol.0)?;
        o.u8(len_u8("proposal SPI", self.spi.len())?)?;
        o.u8(len_u8("number of transforms", self.transforms.len())?)?;
        o.put(&self.spi)?;
        let n = self.transforms.len();
        self.transforms.iter().enumerate().try_for_each(|(i, t)| t.emit(o, i + 1 == n))
    }
}

impl TransformRepr {
    /// A transform without attributes.
    pub fn new(number: u8, id: u8) -> Self {
        Self { number, id, attributes: Vec::new() }
    }

    /// The same transform with a TV attribute appended.
    pub fn with_basic(mut self, kind: impl Into<u16>, value: u16) -> Self {
        self.attributes.push(DataAttribute::basic(kind.into(), value));
        self
    }

    /// The same transform with an integer attribute appended, TV when it
    /// fits and TLV otherwise (long lifetimes).
    pub fn with_integer(mut self, kind: impl Into<u16>, value: u64) -> Self {
        self.attributes.push(DataAttribute::integer(kind.into(), value));
        self
    }

    /// The first attribute of class `kind`.
    pub fn attribute(&self, kind: impl Into<u16>) -> Option<&AttributeValue> {
        let kind = kind.into();
        self.attributes.iter().find(|a| a.kind == kind).map(|a| &a.value)
    }

    /// A phase 1 attribute as an integer (TV, or TLV of up to 8 octets).
    pub fn oakley(&self, kind: OakleyAttribute) -> Option<u64> {
        self.attribute(kind).and_then(AttributeValue::as_u64)
    }

    /// A phase 2 attribute as an integer.
    pub fn ipsec(&self, kind: IpsecAttribute) -> Option<u64> {
        self.attribute(kind).and_then(AttributeValue::as_u64)
    }

    fn encoded_len(&self) -> usize {
        GENERIC_HEADER_LEN + 4 + attribute::list_len(&self.attributes)
    }

    fn emit(&self, o: &mut Writer<'_>, last: bool) -> Result<(), EmitError> {
        let more = if last { PayloadType::NONE } else { PayloadType::TRANSFORM };
        o.generic_header(more.0, 0, "transform length", self.encoded_len())?;
        o.u8(self.number)?;
        o.u8(self.id)?;
        o.u16(0)?;
        attribute::emit_list(&self.attributes, o)
    }
}

fn read_transform(c: &mut Reader<'_>) -> Result<TransformRepr, DecodeError> {
    let number = c.u8()?;
    let id = c.u8()?;
    c.u16()?;
    let attributes = attribute::parse_list(c)?;
    Ok(TransformRepr { number, id, attributes })
}

fn read_proposal(c: &mut Reader<'_>) -> Result<ProposalRepr, DecodeError> {
    let number = c.u8()?;
    let protocol = ProtocolId(c.u8()?);
    let spi_size_at = c.offset();
    let spi_size = c.u8()?;
    let count_at = c.offset();
    let count = usize::from(c.u8()?);
    let size_ok = match protocol {
        ProtocolId::ISAKMP => spi_size <= 16,
        ProtocolId::AH | ProtocolId::ESP => spi_size == 4,
        ProtocolId::IPCOMP => spi_size == 2 || spi_size == 4,
        _ => true,
    };
    if !size_ok {
        return Err(DecodeError::new(DecodeErrorKind::SpiSize, spi_size_at));
    }
    let spi = c.take(usize::from(spi_size))?.to_vec();
    let mut transforms = Vec::new();
    while !c.is_empty() {
        let mut t =
            c.substructure(8, PayloadType::TRANSFORM.0, DecodeErrorKind::BadProposalSyntax)?;
        transforms.push(read_transform(&mut t)?);
    }
    if transforms.len() != count {
        return Err(DecodeError::new(DecodeErrorKind::CountMismatch, count_at));
    }
    Ok(ProposalRepr { number, protocol, spi, transforms })
}

impl Body<crate::error::Ikev1> for SaRepr {
    fn parse_body(c: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let doi_at = c.offset();
        let doi = Doi(c.u32()?);
        if doi != Doi::IPSEC {
            return Err(DecodeError::new(DecodeErrorKind::DoiNotSupported(doi.0), doi_at));
        }
        let situation_at = c.offset();
        let situation = c.u32()?;
        if situation & SIT_LABELLED != 0 {
            return Err(DecodeError::new(
                DecodeErrorKind::SituationNotSupported(situation),
                situation_at,
            ));
        }
        let mut proposals = Vec::new();
        while !c.is_empty() {
            let mut p =
                c.substructure(8, PayloadType::PROPOSAL.0, DecodeErrorKind::BadProposalSyntax)?;
            proposals.push(read_proposal(&mut p)?);
        }
        Ok(Self { doi, situation, proposals })
    }

    fn body_len(&self) -> usize {
        8 + self.proposals.iter().map(ProposalRepr::encoded_len).sum::<usize>()
    }

    fn emit_body(&self, o: &mut Writer<'_>) -> Result<(), EmitError> {
        o.u32(self.doi.0)?;
        o.u32(self.situation)?;
        let n = self.proposals.len();
        self.proposals.iter().enumerate().try_for_each(|(i, p)| p.emit(o, i + 1 == n))
    }
}

body_api!(SaRepr);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{
        AuthMethod, EncapsulationMode, EncryptionAlgorithm, EspTransformId, GroupDescription,
        HashAlgorithm, IpsecAuthAlgorithm, IsakmpTransformId, LifeType,
    };

    /// A phase 1 SA with one proposal and one AES-256/SHA1/PSK/MODP-2048
    /// transform, 28800 s, as strongSwan's IKEv1 initiator sends it.
    const MAIN_MODE_SA: [u8; 52] = [
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, // DOI IPsec, identity only
        0x00, 0x00, 0x00, 0x2c, 0x01, 0x01, 0x00,
        0x01, // last proposal, #1 ISAKMP, no SPI, 1 T
        0x00, 0x00, 0x00, 0x24, 0x01, 0x01, 0x00, 0x00, // last transform, #1 KEY_IKE
        0x80, 0x01, 0x00, 0x07, 0x80, 0x0e, 0x01, 0x00, // AES-CBC, key length 256
        0x80, 0x02, 0x00, 0x02, 0x80, 0x03, 0x00, 0x01, // SHA, pre-shared key
        0x80, 0x04, 0x00, 0x0e, 0x80, 0x0b, 0x00, 0x01, // MODP 2048, life type seconds
        0x80, 0x0c, 0x70, 0x80, // life duration 28800 (TV)
    ];

    fn main_mode_sa() -> SaRepr {
        use OakleyAttribute as A;
        SaRepr::new(vec![ProposalRepr {
            number: 1,
            protocol: ProtocolId::ISAKMP,
            spi: Vec::new(),
            transforms: vec![
                TransformRepr::new(1, IsakmpTransformId::KEY_IKE.0)
                    .with_basic(A::ENCRYPTION_ALGORITHM, EncryptionAlgorithm::AES_CBC.0)
                    .with_basic(A::KEY_LENGTH, 256)
                    .with_basic(A::HASH_ALGORITHM, HashAlgorithm::SHA.0)
                    .with_basic(A::AUTHENTICATION_METHOD, AuthMethod::PRE_SHARED_KEY.0)
                    .with_basic(A::GROUP_DESCRIPTION, GroupDescription::MODP_2048.0)
                    .with_basic(A::LIFE_TYPE, LifeType::SECONDS.0)
                    .with_integer(A::LIFE_DURATION, 28800),
            ],
        }])
    }

    #[test]
    fn encodes_a_phase1_sa() {
        let sa = main_mode_sa();
        assert_eq!(sa.to_vec().expect("encodes"), MAIN_MODE_SA);
        let back = SaRepr::parse(&MAIN_MODE_SA).expect("decodes");
        assert_eq!(back, sa);
        let t = &back.proposals[0].transforms[0];
        assert_eq!(t.oakley(OakleyAttribute::LIFE_DURATION), Some(28800));
        assert_eq!(t.oakley(OakleyAttribute::PRF), None);
    }

    #[test]
    fn encodes_quick_mode_esp_proposals_with_tlv_lifetimes() {
        use IpsecAttribute as A;
        let sa = SaRepr::new(vec![ProposalRepr {
            number: 1,
            protocol: ProtocolId::ESP,
            spi: vec![0xc1, 0x2d, 0x00, 0x07],
            transforms: vec![
                TransformRepr::new(1, EspTransformId::AES_CBC.0)
                    .with_basic(A::SA_LIFE_TYPE, LifeType::SECONDS.0)
                    .with_integer(A::SA_LIFE_DURATION, 86_400)
                    .with_basic(A::ENCAPSULATION_MODE, EncapsulationMode::UDP_TUNNEL_DRAFT.0)
                    .with_basic(A::AUTHENTICATION_ALGORITHM, IpsecAuthAlgorithm::HMAC_SHA2_256.0)
                    .with_basic(A::KEY_LENGTH, 128),
                TransformRepr::new(2, EspTransformId::TRIPLE_DES.0)
                    .with_basic(A::AUTHENTICATION_ALGORITHM, IpsecAuthAlgorithm::HMAC_SHA.0),
            ],
        }]);
        let bytes = sa.to_vec().expect("encodes");
        // The first transform's Next Payload says another one follows.
        assert_eq!(bytes[20], PayloadType::TRANSFORM.0);
        let back = SaRepr::parse(&bytes).expect("decodes");
        assert_eq!(back, sa);
        assert_eq!(back.proposals[0].transforms[0].ipsec(A::SA_LIFE_DURATION), Some(86_400));
        assert_eq!(
            back.proposals[0].transforms[0].attribute(A::SA_LIFE_DURATION),
            Some(&AttributeValue::Variable(vec![0, 1, 0x51, 0x80]))
        );
    }

    fn err(bytes: &[u8]) -> (DecodeErrorKind, usize) {
        let e = SaRepr::parse(bytes).expect_err("must be rejected");
        (e.kind, e.offset)
    }

    #[test]
    fn rejects_other_dois_and_labelled_situations() {
        let mut b = MAIN_MODE_SA;
        b[3] = 2;
        assert_eq!(err(&b), (DecodeErrorKind::DoiNotSupported(2), 0));
        let mut b = MAIN_MODE_SA;
        b[7] = 3;
        assert_eq!(err(&b), (DecodeErrorKind::SituationNotSupported(3), 4));
    }

    #[test]
    fn rejects_bad_chaining_and_counts() {
        let mut b = MAIN_MODE_SA;
        b[8] = PayloadType::PROPOSAL.0; // "more" on the last proposal
        assert_eq!(err(&b), (DecodeErrorKind::BadProposalSyntax, 8));
        let mut b = MAIN_MODE_SA;
        b[16] = PayloadType::KE.0; // not a transform
        assert_eq!(err(&b), (DecodeErrorKind::BadProposalSyntax, 16));
        let mut b = MAIN_MODE_SA;
        b[15] = 2; // two transforms announced, one present
        assert_eq!(err(&b), (DecodeErrorKind::CountMismatch, 15));
        let mut b = MAIN_MODE_SA;
        b[14] = 4; // a four-octet SPI swallows the transform's header
        assert_eq!(err(&b), (DecodeErrorKind::BadProposalSyntax, 20));
    }

    #[test]
    fn rejects_bad_substructure_lengths() {
        let mut b = MAIN_MODE_SA;
        b[11] = 0x07;
        assert_eq!(err(&b), (DecodeErrorKind::LengthTooSmall, 10));
        let mut b = MAIN_MODE_SA;
        b[11] = 0x2d;
        assert_eq!(err(&b), (DecodeErrorKind::LengthPastEnd, 10));
        let mut b = MAIN_MODE_SA;
        b[19] = 0x25;
        assert_eq!(err(&b), (DecodeErrorKind::LengthPastEnd, 18));
        assert_eq!(err(&MAIN_MODE_SA[..6]), (DecodeErrorKind::Truncated, 4));
    }

    #[test]
    fn rejects_esp_spi_of_wrong_size() {
        let mut sa = main_mode_sa();
        sa.proposals[0].protocol = ProtocolId::ESP;
        sa.proposals[0].spi = vec![1, 2, 3];
        let bytes = sa.to_vec().expect("the encoder does not judge");
        assert_eq!(err(&bytes), (DecodeErrorKind::SpiSize, 14));
    }
}
