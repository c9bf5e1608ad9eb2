//! Security Association payload: proposals, transforms and transform
//! attributes (RFC 7296 §3.3).
//!
//! ```text
//! proposal:
//! | Last Substruc |   RESERVED    |         Proposal Length       |
//! | Proposal Num  |  Protocol ID  |    SPI Size   |Num  Transforms|
//! ~                        SPI (variable)                         ~
//! ~                        <Transforms>                           ~
//!
//! transform:
//! | Last Substruc |   RESERVED    |        Transform Length       |
//! |Transform Type |   RESERVED    |          Transform ID         |
//! ~                      Transform Attributes                     ~
//!
//! attribute:
//! |A|       Attribute Type        |    AF=0  Attribute Length     |
//! |                               |    AF=1  Attribute Value      |
//! ~                    AF=0  Attribute Value                      ~
//! ```

use smallvec::SmallVec;

use super::{Body, body_api};
use crate::error::{DecodeError, DecodeErrorKind, EmitError, len_u8, len_u16};
use crate::reader::{Reader, Writer};
use crate::registry::{
    AttributeType, DhGroup, EncrAlg, EsnMode, IntegAlg, PrfAlg, ProtocolId, TransformType,
};

/// "Last Substruc" value of a proposal followed by another (§3.3.1).
const MORE_PROPOSALS: u8 = 2;
/// "Last Substruc" value of a transform followed by another (§3.3.2).
const MORE_TRANSFORMS: u8 = 3;
/// "Last Substruc" value of the last proposal or transform.
const LAST: u8 = 0;

/// The Attribute Format bit: set for TV (2-octet value inline).
const AF_TV: u16 = 0x8000;

/// An SPI as a proposal or a notification carries it: empty, 4 octets (AH, ESP) or 8 (IKE)
/// in practice, held inline up to 8; a longer one (any protocol, up to the 255 its size
/// field allows) spills to the heap.
pub type Spi = SmallVec<[u8; 8]>;

/// `octets` as an [`Spi`], the sizes RFC 7296 uses (0, 4, 8) made in registers: through
/// `from_slice` each took a call to `memcpy` and came back through memory, its 16-byte move
/// stalling on the narrower stores that made it.
pub(crate) fn spi_from(octets: &[u8]) -> Spi {
    match *octets {
        [] => Spi::new(),
        [a, b, c, d] => Spi::from_buf_and_len([a, b, c, d, 0, 0, 0, 0], 4),
        [a, b, c, d, e, f, g, h] => Spi::from_buf([a, b, c, d, e, f, g, h]),
        _ => Spi::from_slice(octets),
    }
}

/// A proposal's transforms, inline up to 8: an IKE proposal with four key exchange methods
/// (`ikeway_sa::Config::new`'s six or seven transforms), an AEAD proposal with one, or an ESP
/// proposal with its ESN choices: parsing or building one costs no allocation of its own.
/// Longer lists spill to the heap, so any count the message holds is accepted.
pub type Transforms = SmallVec<[TransformRepr; 8]>;

/// An SA payload body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SaRepr {
    /// Proposals, in order of preference.
    pub proposals: Vec<ProposalRepr>,
}

/// One proposal (§3.3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProposalRepr {
    /// Proposal number: 1 for the first, then one more per proposal
    /// (§3.3.1); kept as sent.
    pub number: u8,
    /// IKE, AH or ESP.
    pub protocol: ProtocolId,
    /// The sender's SPI: empty in an initial IKE SA negotiation, 8 octets
    /// for an IKE rekey, 4 for AH and ESP.
    pub spi: Spi,
    /// The transforms.
    pub transforms: Transforms,
}

/// One transform (§3.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransformRepr {
    /// Transform type.
    pub kind: TransformType,
    /// Transform ID, interpreted by `kind` (see the `*_id` accessors).
    pub id: u16,
    /// Attributes (in practice only Key Length).
    pub attributes: TransformAttributes,
}

/// A transform attribute (§3.3.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransformAttribute {
    /// Type/Value format: a 2-octet value.
    Tv {
        /// Attribute type (15 bits).
        kind: AttributeType,
        /// Value.
        value: u16,
    },
    /// Type/Length/Value format.
    Tlv {
        /// Attribute type (15 bits).
        kind: AttributeType,
        /// Value.
        value: Vec<u8>,
    },
}

/// A transform's attributes, in order. Key Length, the only one RFC 7296 defines (§3.3.5),
/// is a TV attribute that a transform carries alone; such a list is held inline, so that a
/// transform is 24 bytes and a proposal's transforms stay inline. Any other list (more than
/// one attribute, or a TLV one) is held on the heap.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct TransformAttributes(Attributes);

/// The forms of [`TransformAttributes`], one for each list: the derived equality and hash
/// are the lists'.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
enum Attributes {
    /// No attribute.
    #[default]
    None,
    /// Exactly one attribute, in TV format.
    Tv(AttributeType, u16),
    /// Any other list: two or more attributes, or one TLV attribute.
    #[allow(
        clippy::box_collection,
        reason = "a thin pointer keeps a transform 24 bytes; lists RFC 7296 does not define pay \
                  the second allocation"
    )]
    List(Box<Vec<TransformAttribute>>),
}

impl TransformAttributes {
    /// No attributes.
    pub const fn new() -> Self {
        Self(Attributes::None)
    }

    /// Appends `attribute`.
    #[inline]
    pub fn push(&mut self, attribute: TransformAttribute) {
        match (&mut self.0, attribute) {
            (Attributes::None, TransformAttribute::Tv { kind, value }) => {
                self.0 = Attributes::Tv(kind, value);
            }
            (Attributes::List(list), next) => list.push(next),
            (_, next) => self.push_to_list(next),
        }
    }

    /// [`push`](Self::push) where the list moves to the heap: a TLV attribute, or a second
    /// attribute.
    #[cold]
    fn push_to_list(&mut self, next: TransformAttribute) {
        let mut list = Vec::with_capacity(self.len() + 1);
        list.extend(self.iter());
        list.push(next);
        self.0 = Attributes::List(Box::new(list));
    }

    /// The number of attributes.
    pub fn len(&self) -> usize {
        match &self.0 {
            Attributes::None => 0,
            Attributes::Tv(..) => 1,
            Attributes::List(list) => list.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        matches!(self.0, Attributes::None)
    }

    /// The attributes, in order, by value (the inline one is not stored as a
    /// [`TransformAttribute`]; a TLV attribute's value is copied).
    pub fn iter(&self) -> impl Iterator<Item = TransformAttribute> + '_ {
        let (one, list): (Option<TransformAttribute>, &[TransformAttribute]) = match &self.0 {
            Attributes::None => (None, &[]),
            Attributes::Tv(kind, value) => {
                (Some(TransformAttribute::Tv { kind: *kind, value: *value }), &[])
            }
            Attributes::List(list) => (None, list),
        };
        one.into_iter().chain(list.iter().cloned())
    }

    /// The value of the first TV attribute of type `kind`.
    pub fn tv(&self, kind: AttributeType) -> Option<u16> {
        match &self.0 {
            Attributes::None => None,
            Attributes::Tv(k, value) => (*k == kind).then_some(*value),
            Attributes::List(list) => list.iter().find_map(|a| match a {
                TransformAttribute::Tv { kind: k, value } if *k == kind => Some(*value),
                _ => None,
            }),
        }
    }

    fn encoded_len(&self) -> usize {
        match &self.0 {
            Attributes::None => 0,
            Attributes::Tv(..) => 4,
            Attributes::List(list) => list.iter().map(TransformAttribute::encoded_len).sum(),
        }
    }

    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        match &self.0 {
            Attributes::None => Ok(()),
            Attributes::Tv(kind, value) => emit_tv(w, *kind, *value),
            Attributes::List(list) => list.iter().try_for_each(|a| a.emit(w)),
        }
    }
}

impl core::fmt::Debug for TransformAttributes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Extend<TransformAttribute> for TransformAttributes {
    fn extend<I: IntoIterator<Item = TransformAttribute>>(&mut self, attributes: I) {
        attributes.into_iter().for_each(|a| self.push(a));
    }
}

impl FromIterator<TransformAttribute> for TransformAttributes {
    fn from_iter<I: IntoIterator<Item = TransformAttribute>>(attributes: I) -> Self {
        let mut out = Self::new();
        out.extend(attributes);
        out
    }
}

impl From<Vec<TransformAttribute>> for TransformAttributes {
    fn from(attributes: Vec<TransformAttribute>) -> Self {
        attributes.into_iter().collect()
    }
}

/// Writes a TV attribute, whose type must fit 15 bits.
fn emit_tv(w: &mut Writer<'_>, kind: AttributeType, value: u16) -> Result<(), EmitError> {
    if kind.0 & AF_TV != 0 {
        return Err(EmitError::Inconsistent("attribute type exceeds 15 bits"));
    }
    w.u16(kind.0 | AF_TV)?;
    w.u16(value)
}

impl TransformAttribute {
    /// A Key Length attribute (always TV, §3.3.5).
    pub fn key_length(bits: u16) -> Self {
        Self::Tv { kind: AttributeType::KEY_LENGTH, value: bits }
    }

    /// The attribute type.
    pub fn kind(&self) -> AttributeType {
        match self {
            Self::Tv { kind, .. } | Self::Tlv { kind, .. } => *kind,
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Self::Tv { .. } => 4,
            Self::Tlv { value, .. } => 4 + value.len(),
        }
    }

    fn parse(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let word = r.u16()?;
        let kind = AttributeType(word & !AF_TV);
        if word & AF_TV != 0 {
            Ok(Self::Tv { kind, value: r.u16()? })
        } else {
            let len = usize::from(r.u16()?);
            Ok(Self::Tlv { kind, value: r.take(len)?.to_vec() })
        }
    }

    fn emit(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        match self {
            Self::Tv { kind, value } => emit_tv(w, *kind, *value),
            Self::Tlv { kind, value } => {
                if kind.0 & AF_TV != 0 {
                    return Err(EmitError::Inconsistent("attribute type exceeds 15 bits"));
                }
                w.u16(kind.0)?;
                w.u16(len_u16("transform attribute", value.len())?)?;
                w.put(value)
            }
        }
    }
}

impl TransformRepr {
    /// A transform without attributes.
    pub fn new(kind: TransformType, id: u16) -> Self {
        Self { kind, id, attributes: TransformAttributes::new() }
    }

    /// An encryption transform, with a Key Length for variable-key ciphers.
    pub fn encr(alg: EncrAlg, key_bits: Option<u16>) -> Self {
        let mut t = Self::new(TransformType::ENCR, alg.0);
        t.attributes.extend(key_bits.map(TransformAttribute::key_length));
        t
    }

    /// A PRF transform.
    pub fn prf(alg: PrfAlg) -> Self {
        Self::new(TransformType::PRF, alg.0)
    }

    /// An integrity transform.
    pub fn integ(alg: IntegAlg) -> Self {
        Self::new(TransformType::INTEG, alg.0)
    }

    /// A key exchange (DH group) transform.
    pub fn dh(group: DhGroup) -> Self {
        Self::new(TransformType::DH, group.0)
    }

    /// An ESN transform.
    pub fn esn(mode: EsnMode) -> Self {
        Self::new(TransformType::ESN, mode.0)
    }

    /// The Key Length attribute in bits, if present.
    pub fn key_length(&self) -> Option<u16> {
        self.attributes.tv(AttributeType::KEY_LENGTH)
    }

    /// The ID as an encryption algorithm, if this is an ENCR transform.
    pub fn encr_id(&self) -> Option<EncrAlg> {
        (self.kind == TransformType::ENCR).then_some(EncrAlg(self.id))
    }

    /// The ID as a PRF, if this is a PRF transform.
    pub fn prf_id(&self) -> Option<PrfAlg> {
        (self.kind == TransformType::PRF).then_some(PrfAlg(self.id))
    }

    /// The ID as an integrity algorithm, if this is an INTEG transform.
    pub fn integ_id(&self) -> Option<IntegAlg> {
        (self.kind == TransformType::INTEG).then_some(IntegAlg(self.id))
    }

    /// The ID as a key exchange method, for DH and ADDKE1..7 transforms.
    pub fn dh_id(&self) -> Option<DhGroup> {
        matches!(self.kind.0, 4 | 6..=12).then_some(DhGroup(self.id))
    }

    /// The ID as an ESN mode, if this is an ESN transform.
    pub fn esn_id(&self) -> Option<EsnMode> {
        (self.kind == TransformType::ESN).then_some(EsnMode(self.id))
    }

    fn encoded_len(&self) -> usize {
        8 + self.attributes.encoded_len()
    }

    fn emit(&self, w: &mut Writer<'_>, last: bool) -> Result<(), EmitError> {
        let marker = if last { LAST } else { MORE_TRANSFORMS };
        if let Ok(len) = u16::try_from(self.encoded_len()) {
            // Header and fixed part in one write: byte by byte, each of the eight stored the
            // writer's position anew, most of an SA payload's emit.
            let ([l0, l1], [i0, i1]) = (len.to_be_bytes(), self.id.to_be_bytes());
            w.put(&[marker, 0, l0, l1, self.kind.0, 0, i0, i1])?;
            return self.attributes.emit(w);
        }
        // Too long for its length field: written as before, to fail on the first field that
        // does not fit.
        w.headed(marker, 0, "transform length", |w| {
            w.u8(self.kind.0)?;
            w.u8(0)?;
            w.u16(self.id)?;
            self.attributes.emit(w)
        })
    }
}

impl ProposalRepr {
    /// The transforms of one type, in order.
    pub fn transforms_of(&self, kind: TransformType) -> impl Iterator<Item = &TransformRepr> {
        self.transforms.iter().filter(move |t| t.kind == kind)
    }

    fn encoded_len(&self) -> usize {
        8 + self.spi.len() + self.transforms.iter().map(TransformRepr::encoded_len).sum::<usize>()
    }

    fn emit(&self, w: &mut Writer<'_>, last: bool) -> Result<(), EmitError> {
        let marker = if last { LAST } else { MORE_PROPOSALS };
        w.headed(marker, 0, "proposal length", |w| {
            w.u8(self.number)?;
            w.u8(self.protocol.0)?;
            w.u8(len_u8("proposal SPI", self.spi.len())?)?;
            w.u8(len_u8("number of transforms", self.transforms.len())?)?;
            w.put(&self.spi)?;
            let n = self.transforms.len();
            self.transforms.iter().enumerate().try_for_each(|(i, t)| t.emit(w, i + 1 == n))
        })
    }
}

/// Parses one transform onto the end of `transforms`, its attributes read straight into it:
/// built on the stack and pushed, it was stored piecewise and read back whole, a
/// store-forwarding stall per transform that was most of an SA payload's parse.
fn parse_transform(r: &mut Reader<'_>, transforms: &mut Transforms) -> Result<(), DecodeError> {
    let kind = TransformType(r.u8()?);
    r.skip(1)?;
    let id = r.u16()?;
    transforms.push(TransformRepr::new(kind, id));
    // Just pushed: the index is in bounds.
    let last = transforms.len() - 1;
    let attributes = &mut transforms[last].attributes;
    while !r.is_empty() {
        attributes.push(TransformAttribute::parse(r)?);
    }
    Ok(())
}

/// Parses one proposal onto the end of `proposals`, its transforms read straight into it: a
/// proposal with its inline transforms is some 230 bytes, which returning it by value would
/// copy once more.
fn parse_proposal(
    r: &mut Reader<'_>,
    proposals: &mut Vec<ProposalRepr>,
) -> Result<(), DecodeError> {
    let number = r.u8()?;
    let protocol = ProtocolId(r.u8()?);
    let spi_size_at = r.offset();
    let spi_size = r.u8()?;
    let count_at = r.offset();
    let count = usize::from(r.u8()?);
    // §3.3.1: zero for an initial IKE SA negotiation, otherwise 8 for IKE
    // and 4 for AH and ESP.
    let size_ok = match protocol {
        ProtocolId::IKE => spi_size == 0 || spi_size == 8,
        ProtocolId::AH | ProtocolId::ESP => spi_size == 4,
        _ => true,
    };
    if !size_ok {
        return Err(DecodeError::new(DecodeErrorKind::SpiSize, spi_size_at));
    }
    let spi = spi_from(r.take(usize::from(spi_size))?);
    // Empty and inline: reserved once in place below, as a `with_capacity` made on the stack
    // would be one more copy of the transforms' 200 inline bytes into the `Vec`.
    proposals.push(ProposalRepr { number, protocol, spi, transforms: Transforms::new() });
    // Just pushed: the index is in bounds.
    let last = proposals.len() - 1;
    let transforms = &mut proposals[last].transforms;
    // The announced count, bounded by what the bytes can hold (a transform is at least 8
    // octets), so that a forged count reserves no more than the message's size; up to the
    // inline four this reserves nothing.
    transforms.reserve_exact(count.min(r.remaining() / 8));
    while !r.is_empty() {
        let mut t = r.substructure(8, MORE_TRANSFORMS, DecodeErrorKind::BadLastMarker)?;
        parse_transform(&mut t, transforms)?;
    }
    if transforms.len() != count {
        return Err(DecodeError::new(DecodeErrorKind::CountMismatch, count_at));
    }
    Ok(())
}

/// How many proposals `body` (an SA payload's) holds, counted along their headers as far as
/// they are well formed (the parse reports what is not): the capacity the parse reserves, so
/// that an SA payload's one proposal (some 230 bytes with its inline transforms) costs an
/// allocation of its size rather than the four a first push reserves. Each counted proposal
/// takes at least a header of `body`, so the count is bounded by its length.
fn count_proposals(body: &[u8]) -> usize {
    crate::wire::count_headed(body, 8, true, |marker| marker == MORE_PROPOSALS)
}

impl Body<crate::Ikev2> for SaRepr {
    fn parse_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut proposals = Vec::with_capacity(count_proposals(r.peek_rest()));
        while !r.is_empty() {
            let mut p = r.substructure(8, MORE_PROPOSALS, DecodeErrorKind::BadLastMarker)?;
            parse_proposal(&mut p, &mut proposals)?;
        }
        Ok(Self { proposals })
    }

    fn body_len(&self) -> usize {
        self.proposals.iter().map(ProposalRepr::encoded_len).sum()
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        let n = self.proposals.len();
        for (i, p) in self.proposals.iter().enumerate() {
            p.emit(w, i + 1 == n)?;
        }
        Ok(())
    }
}

body_api!(SaRepr);

#[cfg(test)]
mod tests {
    use super::*;

    fn ike_proposal() -> SaRepr {
        SaRepr {
            proposals: vec![ProposalRepr {
                number: 1,
                protocol: ProtocolId::IKE,
                spi: Spi::new(),
                transforms: smallvec::smallvec![
                    TransformRepr::encr(EncrAlg::ENCR_AES_GCM_16, Some(256)),
                    TransformRepr::prf(PrfAlg::PRF_HMAC_SHA2_256),
                    TransformRepr::dh(DhGroup::ECP_256),
                ],
            }],
        }
    }

    /// The parse reserves one slot per proposal; the count stops where the headers stop
    /// making sense, never reads past the body, and the parse still reports the fault.
    #[test]
    fn proposals_are_counted_ahead() {
        let mut sa = ike_proposal();
        let one = sa.proposals[0].clone();
        for number in 2..=3 {
            sa.proposals.push(ProposalRepr { number, ..one.clone() });
        }
        let mut body = vec![0u8; sa.buffer_len()];
        sa.emit(&mut body).unwrap();
        assert_eq!(count_proposals(&body), 3);
        let parsed = SaRepr::parse(&body).unwrap();
        assert_eq!(parsed, sa);
        assert_eq!(parsed.proposals.capacity(), 3);
        let single = ike_proposal().to_vec().unwrap();
        assert_eq!(SaRepr::parse(&single).unwrap().proposals.capacity(), 1);
        assert_eq!(count_proposals(&body[..body.len() - 1]), 2, "last one truncated");
        assert_eq!(count_proposals(&body[..3]), 0, "header cut short");
        assert_eq!(count_proposals(&[]), 0);
        let second = sa.proposals[0].encoded_len();
        body[second + 2..second + 4].copy_from_slice(&7u16.to_be_bytes());
        assert_eq!(count_proposals(&body), 1, "length below a proposal header");
        assert!(SaRepr::parse(&body).is_err());
        body[second + 2..second + 4].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(count_proposals(&body), 1, "length past the end");
        assert!(SaRepr::parse(&body).is_err());
    }

    #[test]
    fn encodes_like_the_wireshark_capture() {
        // The SA body of ikev2-decrypt-aes256gcm16 frame 1.
        let want = [
            0x00, 0x00, 0x00, 0x24, 0x01, 0x01, 0x00, 0x03, 0x03, 0x00, 0x00, 0x0c, 0x01, 0x00,
            0x00, 0x14, 0x80, 0x0e, 0x01, 0x00, 0x03, 0x00, 0x00, 0x08, 0x02, 0x00, 0x00, 0x05,
            0x00, 0x00, 0x00, 0x08, 0x04, 0x00, 0x00, 0x13,
        ];
        let sa = ike_proposal();
        let mut buf = vec![0u8; sa.buffer_len()];
        sa.emit(&mut buf).unwrap();
        assert_eq!(buf, want);
        let back = SaRepr::parse(&want).unwrap();
        assert_eq!(back, sa);
        assert_eq!(back.proposals[0].transforms[0].key_length(), Some(256));
        assert_eq!(back.proposals[0].transforms[0].encr_id(), Some(EncrAlg::ENCR_AES_GCM_16));
    }

    /// However a list of attributes was made, it is the same list: equal, hashed alike, read
    /// back in order; Key Length alone is held inline and a transform stays 24 bytes.
    #[test]
    fn attributes_are_the_list_whatever_made_them() {
        let key = TransformAttribute::key_length(256);
        let tlv = TransformAttribute::Tlv { kind: AttributeType(99), value: vec![1, 2, 3] };
        let other = TransformAttribute::Tv { kind: AttributeType(7), value: 9 };
        let lists: [&[TransformAttribute]; 6] = [
            &[],
            core::slice::from_ref(&key),
            core::slice::from_ref(&tlv),
            &[key.clone(), tlv.clone()],
            &[tlv.clone(), key.clone()],
            &[other.clone(), key.clone(), other.clone()],
        ];
        for list in lists {
            let mut pushed = TransformAttributes::new();
            list.iter().cloned().for_each(|a| pushed.push(a));
            let from_vec = TransformAttributes::from(list.to_vec());
            let collected: TransformAttributes = list.iter().cloned().collect();
            assert_eq!(pushed, from_vec);
            assert_eq!(pushed, collected);
            let hash = |a: &TransformAttributes| {
                use core::hash::{BuildHasher, BuildHasherDefault};
                BuildHasherDefault::<std::hash::DefaultHasher>::default().hash_one(a)
            };
            assert_eq!(hash(&pushed), hash(&from_vec));
            assert_eq!(pushed.iter().collect::<Vec<_>>(), list);
            assert_eq!((pushed.len(), pushed.is_empty()), (list.len(), list.is_empty()));
            assert_eq!(format!("{pushed:?}"), format!("{list:?}"));
            let mut t = TransformRepr::new(TransformType::ENCR, 12);
            t.attributes = pushed;
            let want_key = list.contains(&key).then_some(256);
            assert_eq!(t.key_length(), want_key, "{list:?}");
            let mut body = [0u8; 64];
            let mut w = Writer::new(&mut body);
            t.emit(&mut w, true).unwrap();
            let n = w.position();
            assert_eq!(n, t.encoded_len());
            let mut parsed = Transforms::new();
            parse_transform(&mut Reader::new(&body[4..n]), &mut parsed).unwrap();
            assert_eq!(parsed.as_slice(), [t]);
        }
        assert_ne!(TransformAttributes::from(vec![key.clone()]), vec![other].into());
        assert_ne!(
            TransformAttributes::from(vec![key.clone(), tlv.clone()]),
            vec![tlv, key].into()
        );
        assert_eq!(core::mem::size_of::<TransformRepr>(), 24);
    }

    /// Every SPI size gives what `from_slice` gives, the inline sizes and the spilled ones.
    #[test]
    fn spi_from_is_from_slice() {
        let octets: Vec<u8> = (1..=12).collect();
        for n in 0..=octets.len() {
            let spi = spi_from(&octets[..n]);
            assert_eq!(spi, Spi::from_slice(&octets[..n]));
            assert_eq!((spi.as_slice(), spi.spilled()), (&octets[..n], n > 8));
        }
    }

    /// A transform too long for its length field fails on the first field that does not fit,
    /// as it did when every transform's length was filled in after its attributes.
    #[test]
    fn a_transform_too_long_names_the_field() {
        let tlv = |n| TransformAttribute::Tlv { kind: AttributeType(99), value: vec![0; n] };
        let emit = |attributes: Vec<TransformAttribute>| {
            let mut t = TransformRepr::new(TransformType::ENCR, 12);
            t.attributes = attributes.into();
            let mut buf = vec![0u8; t.encoded_len()];
            t.emit(&mut Writer::new(&mut buf), true)
        };
        let too_long = |field, len| Err(EmitError::TooLong { field, len });
        assert_eq!(emit(vec![tlv(70_000)]), too_long("transform attribute", 70_000));
        assert_eq!(emit(vec![tlv(40_000), tlv(40_000)]), too_long("transform length", 80_016));
        assert_eq!(emit(vec![tlv(65_523)]), Ok(()), "65,535 octets in all");
        assert_eq!(emit(vec![tlv(65_524)]), too_long("transform length", 65_536));
    }

    #[test]
    fn tlv_attribute_round_trips() {
        let mut sa = ike_proposal();
        sa.proposals[0].transforms[1]
            .attributes
            .push(TransformAttribute::Tlv { kind: AttributeType(99), value: vec![1, 2, 3] });
        let mut buf = vec![0u8; sa.buffer_len()];
        sa.emit(&mut buf).unwrap();
        assert_eq!(SaRepr::parse(&buf).unwrap(), sa);
    }
}
