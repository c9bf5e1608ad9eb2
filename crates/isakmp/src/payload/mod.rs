//! ISAKMP payloads: the generic header, one owned `*Repr` per payload type,
//! and the payload chain with the byte span of every payload
//! (RFC 2408 §3.2 - §3.15, RFC 2407 §4.6, RFC 3947, draft-dukes-ike-mode-cfg).
//!
//! Each body type has `parse(body)`, `buffer_len()`, `emit(buf)` and
//! `to_vec()` over the payload *body* (without the 4-octet generic
//! header). [`Payload`] is the sum of them; [`parse_chain`] and
//! [`emit_chain`] walk a chain linked by Next Payload fields.
//!
//! ```text
//! ! Next Payload  !   RESERVED    !         Payload Length        !
//! ```

mod cert;
mod config;
mod delete;
mod fragment;
mod id;
mod nat;
mod notification;
mod opaque;
mod sa;

pub use cert::CertRepr;
pub use config::{AttributeRepr, ConfigAttribute, SplitNetwork};
pub use delete::DeleteRepr;
pub use fragment::{FRAGMENT_OVERHEAD, FragmentRepr, LAST_FRAGMENT, split_message};
pub use id::{IdRepr, IdValue};
pub use nat::NatOaRepr;
pub use notification::NotificationRepr;
pub use opaque::{HashRepr, KeRepr, NatDRepr, NonceRepr, SigRepr, VendorIdRepr};
pub use sa::{ProposalRepr, SIT_IDENTITY_ONLY, SaAttribute, SaRepr, TransformRepr};

use core::ops::Range;

use crate::error::{DecodeError, EmitError, check_room};
use crate::reader::{Reader, Writer};
use crate::registry::PayloadType;

/// Length of the generic payload header.
pub use ikeway_codec::wire::GENERIC_HEADER_LEN;

pub(crate) use ikeway_codec::wire::Body;

/// Gives an IKEv1 [`Body`] its public `parse` / `buffer_len` / `emit` /
/// `to_vec` (`ikeway_codec::payload_body_api!`); `to_vec` is the octets a
/// HASH or PRF covers when RFC 2409 names a payload "body" (SAi_b, IDii_b).
macro_rules! body_api {
    ($ty:ty) => {
        ikeway_codec::payload_body_api!($ty, $crate::error::Ikev1);
    };
}
pub(crate) use body_api;

/// One payload, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Payload {
    /// Security Association (1).
    Sa(SaRepr),
    /// Key Exchange (4).
    Ke(KeRepr),
    /// Identification (5).
    Id(IdRepr),
    /// Certificate (6).
    Cert(CertRepr),
    /// Certificate Request (7).
    CertReq(CertRepr),
    /// Hash (8).
    Hash(HashRepr),
    /// Signature (9).
    Sig(SigRepr),
    /// Nonce (10).
    Nonce(NonceRepr),
    /// Notification (11).
    Notification(NotificationRepr),
    /// Delete (12).
    Delete(DeleteRepr),
    /// Vendor ID (13).
    VendorId(VendorIdRepr),
    /// Attribute (14): Mode Config and XAUTH.
    Attribute(AttributeRepr),
    /// NAT Discovery (20, RFC 3947).
    NatD(NatDRepr),
    /// NAT Original Address (21, RFC 3947).
    NatOa(NatOaRepr),
    /// NAT Discovery under the draft number (130).
    NatDDraft(NatDRepr),
    /// NAT Original Address under the draft number (131).
    NatOaDraft(NatOaRepr),
    /// IKE Fragment (132, the vendor-ID-negotiated IKEv1 fragmentation).
    Fragment(FragmentRepr),
    /// Any other type (GDOI, a bare Proposal ...), kept verbatim
    /// so it can be reported or re-emitted; whether to answer
    /// INVALID-PAYLOAD-TYPE is the negotiation's decision (RFC 2408 §5.2).
    Unknown {
        /// Its payload type.
        kind: PayloadType,
        /// Its body.
        data: Vec<u8>,
    },
}

impl Payload {
    /// The payload type.
    pub fn kind(&self) -> PayloadType {
        match self {
            Self::Sa(_) => PayloadType::SA,
            Self::Ke(_) => PayloadType::KE,
            Self::Id(_) => PayloadType::ID,
            Self::Cert(_) => PayloadType::CERT,
            Self::CertReq(_) => PayloadType::CR,
            Self::Hash(_) => PayloadType::HASH,
            Self::Sig(_) => PayloadType::SIG,
            Self::Nonce(_) => PayloadType::NONCE,
            Self::Notification(_) => PayloadType::NOTIFICATION,
            Self::Delete(_) => PayloadType::DELETE,
            Self::VendorId(_) => PayloadType::VENDOR_ID,
            Self::Attribute(_) => PayloadType::ATTRIBUTE,
            Self::NatD(_) => PayloadType::NAT_D,
            Self::NatOa(_) => PayloadType::NAT_OA,
            Self::NatDDraft(_) => PayloadType::NAT_D_DRAFT,
            Self::NatOaDraft(_) => PayloadType::NAT_OA_DRAFT,
            Self::Fragment(_) => PayloadType::FRAGMENT,
            Self::Unknown { kind, .. } => *kind,
        }
    }

    /// Whether this crate decodes payloads of type `kind` (the others end
    /// up as [`Payload::Unknown`]).
    pub fn is_known(kind: PayloadType) -> bool {
        matches!(kind.0, 1 | 4..=14 | 20 | 21 | 130..=132)
    }

    fn read_typed(kind: PayloadType, c: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let body = match kind {
            PayloadType::SA => Self::Sa(SaRepr::parse_body(c)?),
            PayloadType::KE => Self::Ke(KeRepr::parse_body(c)?),
            PayloadType::ID => Self::Id(IdRepr::parse_body(c)?),
            PayloadType::CERT => Self::Cert(CertRepr::parse_body(c)?),
            PayloadType::CR => Self::CertReq(CertRepr::parse_body(c)?),
            PayloadType::HASH => Self::Hash(HashRepr::parse_body(c)?),
            PayloadType::SIG => Self::Sig(SigRepr::parse_body(c)?),
            PayloadType::NONCE => Self::Nonce(NonceRepr::parse_body(c)?),
            PayloadType::NOTIFICATION => Self::Notification(NotificationRepr::parse_body(c)?),
            PayloadType::DELETE => Self::Delete(DeleteRepr::parse_body(c)?),
            PayloadType::VENDOR_ID => Self::VendorId(VendorIdRepr::parse_body(c)?),
            PayloadType::ATTRIBUTE => Self::Attribute(AttributeRepr::parse_body(c)?),
            PayloadType::NAT_D => Self::NatD(NatDRepr::parse_body(c)?),
            PayloadType::NAT_OA => Self::NatOa(NatOaRepr::parse_body(c)?),
            PayloadType::NAT_D_DRAFT => Self::NatDDraft(NatDRepr::parse_body(c)?),
            PayloadType::NAT_OA_DRAFT => Self::NatOaDraft(NatOaRepr::parse_body(c)?),
            PayloadType::FRAGMENT => Self::Fragment(FragmentRepr::parse_body(c)?),
            _ => Self::Unknown { kind, data: c.rest().to_vec() },
        };
        c.expect_empty()?;
        Ok(body)
    }

    /// Encoded body length (without the generic header).
    pub fn body_len(&self) -> usize {
        match self {
            Self::Sa(p) => p.body_len(),
            Self::Ke(p) => p.body_len(),
            Self::Id(p) => p.body_len(),
            Self::Cert(p) | Self::CertReq(p) => p.body_len(),
            Self::Hash(p) => p.body_len(),
            Self::Sig(p) => p.body_len(),
            Self::Nonce(p) => p.body_len(),
            Self::Notification(p) => p.body_len(),
            Self::Delete(p) => p.body_len(),
            Self::VendorId(p) => p.body_len(),
            Self::Attribute(p) => p.body_len(),
            Self::NatD(p) | Self::NatDDraft(p) => p.body_len(),
            Self::NatOa(p) | Self::NatOaDraft(p) => p.body_len(),
            Self::Fragment(p) => p.body_len(),
            Self::Unknown { data, .. } => data.len(),
        }
    }

    /// Encoded length, generic header included.
    pub fn buffer_len(&self) -> usize {
        GENERIC_HEADER_LEN + self.body_len()
    }

    fn write_body(&self, o: &mut Writer<'_>) -> Result<(), EmitError> {
        match self {
            Self::Sa(p) => p.emit_body(o),
            Self::Ke(p) => p.emit_body(o),
            Self::Id(p) => p.emit_body(o),
            Self::Cert(p) | Self::CertReq(p) => p.emit_body(o),
            Self::Hash(p) => p.emit_body(o),
            Self::Sig(p) => p.emit_body(o),
            Self::Nonce(p) => p.emit_body(o),
            Self::Notification(p) => p.emit_body(o),
            Self::Delete(p) => p.emit_body(o),
            Self::VendorId(p) => p.emit_body(o),
            Self::Attribute(p) => p.emit_body(o),
            Self::NatD(p) | Self::NatDDraft(p) => p.emit_body(o),
            Self::NatOa(p) | Self::NatOaDraft(p) => p.emit_body(o),
            Self::Fragment(p) => p.emit_body(o),
            Self::Unknown { data, .. } => o.put(data),
        }
    }

    /// The encoded body, without the generic header: what RFC 2409 hashes
    /// as a payload's "body" (SAi_b in HASH_I, IDii_b, ...). Identical to
    /// the body octets this payload has inside [`emit_chain`]'s output.
    pub fn emit_body(&self) -> Result<Vec<u8>, EmitError> {
        let mut buf = vec![0u8; self.body_len()];
        let mut o = Writer::new(&mut buf);
        self.write_body(&mut o)?;
        Ok(buf)
    }
}

/// Where one payload of a decoded chain sat in the input.
///
/// Offsets count from the base the chain was parsed against (the start of
/// the ISAKMP message for [`MessageRepr::parse_with_spans`], the start of
/// the plaintext for [`parse_chain`]). RFC 2409 hashes raw octets as they
/// were received: HASH_I covers the SA and ID *bodies* (§5), quick mode
/// HASH(1) "the entire message after the HASH payload" (§5.5); these ranges
/// let the negotiation hash exactly that.
///
/// [`MessageRepr::parse_with_spans`]: crate::MessageRepr::parse_with_spans
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadSpan {
    /// The payload type.
    pub kind: PayloadType,
    /// Offset of the generic header.
    pub start: usize,
    /// Offset one past the payload's last octet.
    pub end: usize,
}

impl PayloadSpan {
    /// The whole payload, generic header included.
    pub fn whole(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The body, without the generic header.
    pub fn body(&self) -> Range<usize> {
        self.start + GENERIC_HEADER_LEN..self.end
    }
}

/// A decoded payload chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The payloads in order.
    pub payloads: Vec<Payload>,
    /// Where each of `payloads` was, index for index.
    pub spans: Vec<PayloadSpan>,
    /// Octets the chain occupied from the start of its input; anything
    /// after it is encryption padding (RFC 2409 §5.3).
    pub used: usize,
}

/// Decode the payload chain of a decrypted body, starting with type
/// `first` (the header's Next Payload); offsets in errors and spans count
/// from the start of `bytes`.
///
/// The walk stops at a Next Payload of NONE; whatever follows is padding
/// and is reported through [`Chain::used`], not decoded (RFC 2409 §5.3
/// pads the plaintext to the cipher's block size, and implementations
/// differ in what they pad with).
pub fn parse_chain(first: PayloadType, bytes: &[u8]) -> Result<Chain, DecodeError> {
    walk(first, &mut Reader::with_base(bytes, 0))
}

/// Like [`parse_chain`], with offsets counted from `base` (e.g. the
/// header length, for a plaintext body inside a message).
pub fn parse_chain_at(first: PayloadType, bytes: &[u8], base: usize) -> Result<Chain, DecodeError> {
    walk(first, &mut Reader::with_base(bytes, base))
}

fn walk(first: PayloadType, c: &mut Reader<'_>) -> Result<Chain, DecodeError> {
    let origin = c.offset();
    let mut chain = Chain { payloads: Vec::new(), spans: Vec::new(), used: 0 };
    let mut kind = first;
    while kind != PayloadType::NONE {
        // RFC 2408 §3.2: RESERVED "MUST be set to 0"; ignored on receipt
        // like IKEv2's reserved bits, so a sloppy peer is still understood.
        let header = c.payload_header(kind)?;
        let (start, next, mut body) = (header.start, header.next, header.body);
        let inside = |e: DecodeError| e.in_payload(kind);
        chain.payloads.push(Payload::read_typed(kind, &mut body).map_err(inside)?);
        chain.spans.push(PayloadSpan { kind, start, end: c.offset() });
        kind = next;
    }
    chain.used = c.offset() - origin;
    Ok(chain)
}

/// Encoded length of a chain, generic headers included.
pub fn chain_len(payloads: &[Payload]) -> usize {
    payloads.iter().map(Payload::buffer_len).sum()
}

/// The Next Payload value that introduces `payloads`: the first one's
/// type, or NONE.
pub fn first_type(payloads: &[Payload]) -> PayloadType {
    payloads.first().map_or(PayloadType::NONE, Payload::kind)
}

/// Encode a chain, each Next Payload taken from the following payload,
/// reserved octets zero. Returns the octets written.
///
/// A chain's encoding does not depend on what precedes it, so the octets
/// of `payloads[i..]` here equal `chain_to_vec(&payloads[i..])`: quick
/// mode's HASH(1) input (everything after the HASH payload) can be computed
/// before the HASH payload is filled in.
pub fn emit_chain(payloads: &[Payload], buf: &mut [u8]) -> Result<usize, EmitError> {
    let needed = chain_len(payloads);
    check_room(buf, needed)?;
    let mut o = Writer::new(&mut buf[..needed]);
    for (i, p) in payloads.iter().enumerate() {
        let next = payloads.get(i + 1).map_or(PayloadType::NONE, Payload::kind);
        o.generic_header(next.0, 0, "payload length", p.buffer_len())?;
        p.write_body(&mut o)?;
    }
    Ok(o.position())
}

/// Encode a chain into a new vector.
pub fn chain_to_vec(payloads: &[Payload]) -> Result<Vec<u8>, EmitError> {
    let mut buf = vec![0u8; chain_len(payloads)];
    let n = emit_chain(payloads, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;

    fn hash_nonce() -> Vec<Payload> {
        vec![
            Payload::Hash(HashRepr { data: vec![0xaa; 20] }),
            Payload::Nonce(NonceRepr { data: vec![0xbb; 16] }),
        ]
    }

    #[test]
    fn chain_with_padding_reports_what_it_used() {
        let mut bytes = chain_to_vec(&hash_nonce()).expect("encodes");
        assert_eq!(bytes.len(), 44);
        assert_eq!(bytes[..4], [10, 0, 0, 24]);
        bytes.extend_from_slice(&[0, 0, 0, 3]);
        let chain = parse_chain(PayloadType::HASH, &bytes).expect("decodes");
        assert_eq!(chain.payloads, hash_nonce());
        assert_eq!(chain.used, 44);
        assert_eq!(chain.spans[0], PayloadSpan { kind: PayloadType::HASH, start: 0, end: 24 });
        assert_eq!(chain.spans[1].body(), 28..44);
        // Quick mode HASH(1): everything after the HASH payload.
        assert_eq!(
            bytes[chain.spans[0].end..chain.used],
            chain_to_vec(&hash_nonce()[1..]).unwrap()
        );
    }

    #[test]
    fn spans_count_from_the_base() {
        let bytes = chain_to_vec(&hash_nonce()).expect("encodes");
        let chain = parse_chain_at(PayloadType::HASH, &bytes, 28).expect("decodes");
        assert_eq!(chain.spans[1].whole(), 52..72);
    }

    #[test]
    fn emit_body_matches_the_chain() {
        let p = hash_nonce().remove(1);
        let chain = chain_to_vec(&hash_nonce()).expect("encodes");
        assert_eq!(p.emit_body().expect("encodes"), chain[28..]);
    }

    #[test]
    fn rejects_bad_generic_lengths() {
        let e = parse_chain(PayloadType::NONCE, &[0, 0, 0, 3]).unwrap_err();
        assert_eq!(
            (e.kind, e.offset, e.payload),
            (DecodeErrorKind::LengthTooSmall, 2, Some(PayloadType::NONCE))
        );
        let e = parse_chain(PayloadType::NONCE, &[0, 0, 0, 9, 1]).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::LengthPastEnd, 2));
        let e = parse_chain(PayloadType::NONCE, &[0, 0]).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::Truncated, 0));
    }

    #[test]
    fn unknown_payloads_are_kept_verbatim() {
        let bytes = [0, 0x12, 0, 6, 0xde, 0xad];
        let gdoi = PayloadType(15);
        let chain = parse_chain(gdoi, &bytes).expect("decodes");
        assert_eq!(chain.payloads, [Payload::Unknown { kind: gdoi, data: vec![0xde, 0xad] }]);
        // The reserved octet is not kept: it is sent as zero.
        assert_eq!(chain_to_vec(&chain.payloads).unwrap(), [0, 0, 0, 6, 0xde, 0xad]);
    }
}
