//! IKEv2 payloads: the generic header, one owned `*Repr` per payload type,
//! and the payload chain (RFC 7296 §3.2 - §3.16, RFC 7383 §2.5).
//!
//! Each body type offers `parse(body) -> Result<Self, DecodeError>`,
//! `buffer_len()` and `emit(buf) -> Result<usize, EmitError>` over the
//! payload *body*, i.e. without the 4-octet generic header. [`Payload`]
//! adds the header's critical bit, and [`parse_chain`] / [`emit_chain`]
//! walk a whole chain linked by Next Payload fields.

mod auth;
mod cert;
mod cp;
mod delete;
mod eap;
mod encrypted;
pub mod generic;
mod id;
mod ke;
pub mod mobike;
mod nonce;
mod notify;
mod redirect;
mod sa;
mod ts;
mod vendor;

pub use auth::{AuthData, AuthRepr};
pub use cert::{CA_HASH_LEN, CertRepr};
pub use cp::{ConfigAttribute, ConfigAttributes, ConfigRepr, ConfigValue};
pub use delete::DeleteRepr;
pub use eap::{EapCode, EapRepr};
pub(crate) use encrypted::emit_fragment_fields;
pub use encrypted::{EncryptedFragmentRepr, EncryptedRepr};
pub use generic::{GENERIC_HEADER_LEN, Packet};
pub use id::{IdData, IdRepr, IdValue};
pub use ke::{KeData, KeRepr};
pub use nonce::{NonceData, NonceRepr};
pub use notify::{NotifyData, NotifyRepr};
pub use redirect::{Gateway, RedirectRepr, gw_ident_type};
pub use sa::{
    ProposalRepr, SaRepr, Spi, TransformAttribute, TransformAttributes, TransformRepr, Transforms,
};
pub use ts::{AddrRange, Selectors, TrafficSelector, TsRepr};
pub use vendor::VendorIdRepr;

use crate::error::{DecodeError, DecodeErrorKind, EmitError, check_room};
use crate::reader::{Reader, Writer};
use crate::registry::PayloadType;
pub(crate) use crate::wire::Body;

/// Gives an IKEv2 [`Body`] its public `parse` / `buffer_len` / `emit` /
/// `to_vec` ([`crate::payload_body_api!`]).
macro_rules! body_api {
    ($ty:ty) => {
        $crate::payload_body_api!($ty, $crate::Ikev2);
    };
}
pub(crate) use body_api;

/// One payload: its body and the header's critical bit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// The critical bit (RFC 7296 §2.5). Receivers of a payload type they
    /// do not know must reject the message if it is set.
    pub critical: bool,
    /// The decoded body.
    pub body: PayloadRepr,
}

impl Payload {
    /// A non-critical payload (the usual case: RFC 7296 payloads are
    /// understood by every implementation, so senders leave C clear).
    pub fn new(body: PayloadRepr) -> Self {
        Self { critical: false, body }
    }

    /// The payload type.
    pub fn kind(&self) -> PayloadType {
        self.body.kind()
    }

    /// Encoded length including the generic header.
    pub fn buffer_len(&self) -> usize {
        GENERIC_HEADER_LEN + self.body.body_len()
    }
}

impl From<PayloadRepr> for Payload {
    fn from(body: PayloadRepr) -> Self {
        Self::new(body)
    }
}

/// The body of a payload, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadRepr {
    /// Security Association (33).
    Sa(SaRepr),
    /// Key Exchange (34).
    Ke(KeRepr),
    /// Identification - Initiator (35).
    IdI(IdRepr),
    /// Identification - Responder (36).
    IdR(IdRepr),
    /// Certificate (37).
    Cert(CertRepr),
    /// Certificate Request (38).
    CertReq(CertRepr),
    /// Authentication (39).
    Auth(AuthRepr),
    /// Nonce (40).
    Nonce(NonceRepr),
    /// Notify (41).
    Notify(NotifyRepr),
    /// Delete (42).
    Delete(DeleteRepr),
    /// Vendor ID (43).
    VendorId(VendorIdRepr),
    /// Traffic Selector - Initiator (44).
    TsI(TsRepr),
    /// Traffic Selector - Responder (45).
    TsR(TsRepr),
    /// Encrypted and Authenticated (46).
    Encrypted(EncryptedRepr),
    /// Configuration (47).
    Config(ConfigRepr),
    /// Extensible Authentication (48).
    Eap(EapRepr),
    /// Encrypted and Authenticated Fragment (53, RFC 7383).
    EncryptedFragment(EncryptedFragmentRepr),
    /// A payload type this crate does not decode, kept verbatim so it can
    /// be skipped or re-emitted (RFC 7296 §2.5).
    Unknown {
        /// Its payload type.
        kind: PayloadType,
        /// Its body.
        data: Vec<u8>,
    },
}

impl PayloadRepr {
    /// The payload type.
    pub fn kind(&self) -> PayloadType {
        match self {
            Self::Sa(_) => PayloadType::SA,
            Self::Ke(_) => PayloadType::KE,
            Self::IdI(_) => PayloadType::IDI,
            Self::IdR(_) => PayloadType::IDR,
            Self::Cert(_) => PayloadType::CERT,
            Self::CertReq(_) => PayloadType::CERTREQ,
            Self::Auth(_) => PayloadType::AUTH,
            Self::Nonce(_) => PayloadType::NONCE,
            Self::Notify(_) => PayloadType::NOTIFY,
            Self::Delete(_) => PayloadType::DELETE,
            Self::VendorId(_) => PayloadType::VENDOR_ID,
            Self::TsI(_) => PayloadType::TSI,
            Self::TsR(_) => PayloadType::TSR,
            Self::Encrypted(_) => PayloadType::SK,
            Self::Config(_) => PayloadType::CP,
            Self::Eap(_) => PayloadType::EAP,
            Self::EncryptedFragment(_) => PayloadType::SKF,
            Self::Unknown { kind, .. } => *kind,
        }
    }

    /// Whether `kind` is a payload type this crate decodes. Unknown types
    /// with the critical bit set are rejected (RFC 7296 §2.5).
    pub fn is_supported(kind: PayloadType) -> bool {
        matches!(kind.0, 33..=48 | 53)
    }

    /// For SK and SKF payloads, the Next Payload value they carry: the type
    /// of the first inner payload (RFC 7296 §3.14, RFC 7383 §2.5).
    pub fn first_inner(&self) -> Option<PayloadType> {
        match self {
            Self::Encrypted(sk) => Some(sk.first_inner),
            Self::EncryptedFragment(skf) => Some(skf.first_inner),
            _ => None,
        }
    }

    /// Decode a body of type `kind` into `slot`. `next` is the Next Payload
    /// field of this payload's header, which SK and SKF keep as their first
    /// inner type.
    fn parse_into(
        kind: PayloadType,
        next: PayloadType,
        r: &mut Reader<'_>,
        slot: &mut Self,
    ) -> Result<(), DecodeError> {
        match kind {
            PayloadType::SA => *slot = Self::Sa(SaRepr::parse_body(r)?),
            PayloadType::KE => *slot = Self::Ke(KeRepr::parse_body(r)?),
            PayloadType::IDI => *slot = Self::IdI(IdRepr::parse_body(r)?),
            PayloadType::IDR => *slot = Self::IdR(IdRepr::parse_body(r)?),
            PayloadType::CERT => *slot = Self::Cert(CertRepr::parse_body(r)?),
            PayloadType::CERTREQ => *slot = Self::CertReq(CertRepr::parse_body(r)?),
            PayloadType::AUTH => *slot = Self::Auth(AuthRepr::parse_body(r)?),
            PayloadType::NONCE => *slot = Self::Nonce(NonceRepr::parse_body(r)?),
            PayloadType::NOTIFY => *slot = Self::Notify(NotifyRepr::parse_body(r)?),
            PayloadType::DELETE => *slot = Self::Delete(DeleteRepr::parse_body(r)?),
            PayloadType::VENDOR_ID => *slot = Self::VendorId(VendorIdRepr::parse_body(r)?),
            PayloadType::TSI => *slot = Self::TsI(TsRepr::parse_body(r)?),
            PayloadType::TSR => *slot = Self::TsR(TsRepr::parse_body(r)?),
            PayloadType::SK => *slot = Self::Encrypted(EncryptedRepr::parse_with_next(next, r)?),
            PayloadType::CP => *slot = Self::Config(ConfigRepr::parse_body(r)?),
            PayloadType::EAP => *slot = Self::Eap(EapRepr::parse_body(r)?),
            PayloadType::SKF => {
                *slot = Self::EncryptedFragment(EncryptedFragmentRepr::parse_with_next(next, r)?)
            }
            _ => *slot = Self::Unknown { kind, data: r.rest().to_vec() },
        };
        r.expect_empty()
    }

    fn body_len(&self) -> usize {
        match self {
            Self::Sa(p) => p.body_len(),
            Self::Ke(p) => p.body_len(),
            Self::IdI(p) | Self::IdR(p) => p.body_len(),
            Self::Cert(p) | Self::CertReq(p) => p.body_len(),
            Self::Auth(p) => p.body_len(),
            Self::Nonce(p) => p.body_len(),
            Self::Notify(p) => p.body_len(),
            Self::Delete(p) => p.body_len(),
            Self::VendorId(p) => p.body_len(),
            Self::TsI(p) | Self::TsR(p) => p.body_len(),
            Self::Encrypted(p) => p.body_len(),
            Self::Config(p) => p.body_len(),
            Self::Eap(p) => p.body_len(),
            Self::EncryptedFragment(p) => p.body_len(),
            Self::Unknown { data, .. } => data.len(),
        }
    }

    fn emit_body(&self, w: &mut Writer<'_>) -> Result<(), EmitError> {
        match self {
            Self::Sa(p) => p.emit_body(w),
            Self::Ke(p) => p.emit_body(w),
            Self::IdI(p) | Self::IdR(p) => p.emit_body(w),
            Self::Cert(p) | Self::CertReq(p) => p.emit_body(w),
            Self::Auth(p) => p.emit_body(w),
            Self::Nonce(p) => p.emit_body(w),
            Self::Notify(p) => p.emit_body(w),
            Self::Delete(p) => p.emit_body(w),
            Self::VendorId(p) => p.emit_body(w),
            Self::TsI(p) | Self::TsR(p) => p.emit_body(w),
            Self::Encrypted(p) => p.emit_body(w),
            Self::Config(p) => p.emit_body(w),
            Self::Eap(p) => p.emit_body(w),
            Self::EncryptedFragment(p) => p.emit_body(w),
            Self::Unknown { data, .. } => w.put(data),
        }
    }
}

/// Decode a payload chain starting with type `first`; offsets in errors
/// count from the start of `bytes`.
pub fn parse_chain(first: PayloadType, bytes: &[u8]) -> Result<Vec<Payload>, DecodeError> {
    parse_chain_at(first, bytes, 0)
}

/// Decode a payload chain starting with type `first`, reporting error
/// offsets as `base + position in bytes`.
///
/// The chain must fill `bytes` exactly. An SK or SKF payload ends the chain
/// and must be the last payload (RFC 7296 §3.14, RFC 7383 §2.5); its Next
/// Payload field is kept as its `first_inner`. An unknown payload type with
/// the critical bit set is rejected with
/// [`DecodeErrorKind::UnsupportedCriticalPayload`]; without it, the payload
/// is kept as [`PayloadRepr::Unknown`] (RFC 7296 §2.5).
pub fn parse_chain_at(
    first: PayloadType,
    bytes: &[u8],
    base: usize,
) -> Result<Vec<Payload>, DecodeError> {
    let mut r = Reader::with_base(bytes, base);
    let mut out = Vec::with_capacity(count_chain(first, bytes));
    let mut kind = first;
    while kind != PayloadType::NONE {
        let at = |e: DecodeError| e.in_payload(kind);
        let (start, next, flags, body) = r.payload_header_fields(kind)?;
        let mut body_reader = Reader::with_base(body, start + GENERIC_HEADER_LEN);
        // §3.2: the seven reserved bits are ignored on receipt.
        let critical = flags & 0x80 != 0;
        if critical && !PayloadRepr::is_supported(kind) {
            return Err(at(DecodeError::new(DecodeErrorKind::UnsupportedCriticalPayload, start)));
        }
        // Pushed first and its body parsed into place: parsed into a `Result` on the stack, a
        // payload was moved into the `Vec` twice, the second with wide loads over the narrow
        // stores that made it (a store-forwarding stall).
        out.push(Payload { critical, body: PayloadRepr::Unknown { kind, data: Vec::new() } });
        // Just pushed: the index is in bounds.
        let last = out.len() - 1;
        let body = &mut out[last].body;
        PayloadRepr::parse_into(kind, next, &mut body_reader, body).map_err(at)?;
        let encrypted = body.first_inner().is_some();
        if encrypted {
            // What follows an SK/SKF payload's header is the type of the
            // first *inner* payload; nothing may follow it in the clear.
            if !r.is_empty() {
                return Err(at(r.error(DecodeErrorKind::EncryptedNotLast)));
            }
            break;
        }
        kind = next;
    }
    r.expect_empty()?;
    Ok(out)
}

/// How many payloads the chain in `bytes` that starts with `first` holds, counted along its
/// generic headers as far as they are well formed (the parse reports what is not): the
/// capacity [`parse_chain_at`] reserves, so that a chain costs one allocation and no copies of
/// its payloads as the `Vec` grows (a handshake parses six chains of up to ten). Each counted
/// payload takes at least a generic header of `bytes`, so the count is bounded by them.
fn count_chain(first: PayloadType, bytes: &[u8]) -> usize {
    // An SK or SKF payload runs to the end, so the walk ends with it.
    let more = |next: u8| PayloadType(next) != PayloadType::NONE;
    crate::wire::count_headed(bytes, GENERIC_HEADER_LEN, first != PayloadType::NONE, more)
}

/// Encoded length of a chain, generic headers included.
pub fn chain_len(payloads: &[Payload]) -> usize {
    payloads.iter().map(Payload::buffer_len).sum()
}

/// The type to put in the Next Payload field that precedes `payloads`
/// (the IKE header's, or an SK payload's): the first payload's type, or
/// NONE for an empty chain.
pub fn first_type(payloads: &[Payload]) -> PayloadType {
    payloads.first().map_or(PayloadType::NONE, Payload::kind)
}

/// Encode a chain, filling each Next Payload field from the following
/// payload (an SK/SKF payload's from its `first_inner`). Returns the bytes
/// written.
///
/// Fails if an SK or SKF payload is not last, if a payload body exceeds the
/// 16-bit length field, or if `buf` is shorter than [`chain_len`].
pub fn emit_chain(payloads: &[Payload], buf: &mut [u8]) -> Result<usize, EmitError> {
    let needed = chain_len(payloads);
    check_room(buf, needed)?;
    emit_chain_exact(payloads, &mut buf[..needed])
}

/// [`emit_chain`] into a `buf` of exactly [`chain_len`] bytes, which the caller has computed
/// already: each length is a walk over every payload, proposal and transform, and a message
/// needs its chain's length to size and head itself.
pub(crate) fn emit_chain_exact(payloads: &[Payload], buf: &mut [u8]) -> Result<usize, EmitError> {
    emit_chain_before(payloads, PayloadType::NONE, buf)
}

/// [`emit_chain_exact`] for a chain that a payload of type `then` follows in the same message
/// (NONE: nothing does): the last payload's Next Payload names `then`. A message's cleartext
/// payloads are emitted so, with the SK or SKF payload after them written in place
/// ([`crate::sk::seal`]); an SK or SKF payload among `payloads` is then refused, as it would
/// not be last.
pub(crate) fn emit_chain_before(
    payloads: &[Payload],
    then: PayloadType,
    buf: &mut [u8],
) -> Result<usize, EmitError> {
    let mut w = Writer::new(buf);
    for (i, p) in payloads.iter().enumerate() {
        let is_last = i + 1 == payloads.len() && then == PayloadType::NONE;
        let next = match p.body.first_inner() {
            Some(_) if !is_last => {
                return Err(EmitError::Inconsistent(
                    "an SK or SKF payload must be the last payload",
                ));
            }
            Some(inner) => inner,
            None => payloads.get(i + 1).map_or(then, Payload::kind),
        };
        let flags = if p.critical { 0x80 } else { 0 };
        w.headed(next.0, flags, "payload length", |w| p.body.emit_body(w))?;
    }
    Ok(w.position())
}

/// Encode a chain into a new vector.
pub fn chain_to_vec(payloads: &[Payload]) -> Result<Vec<u8>, EmitError> {
    let mut buf = vec![0u8; chain_len(payloads)];
    let n = emit_chain_exact(payloads, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notify(data: &[u8]) -> Payload {
        Payload::new(PayloadRepr::Notify(NotifyRepr::new(
            crate::registry::NotifyType::COOKIE,
            data.to_vec(),
        )))
    }

    /// A chain is parsed into a `Vec` reserved for exactly its payloads: no regrowth.
    #[test]
    fn parsed_chain_is_reserved_once() {
        let chain: Vec<Payload> = (0..9u8).map(|i| notify(&[i; 5])).collect();
        let bytes = chain_to_vec(&chain).unwrap();
        assert_eq!(count_chain(first_type(&chain), &bytes), 9);
        let parsed = parse_chain_at(first_type(&chain), &bytes, 0).unwrap();
        assert_eq!(parsed, chain);
        assert_eq!(parsed.capacity(), 9);
    }

    /// The count stops where the headers stop making sense and never reads past the bytes;
    /// the parse then reports the error as it always did.
    #[test]
    fn count_stops_at_malformed_headers() {
        let chain: Vec<Payload> = (0..3u8).map(|i| notify(&[i; 5])).collect();
        let mut bytes = chain_to_vec(&chain).unwrap();
        let first = first_type(&chain);
        assert_eq!(count_chain(first, &bytes[..bytes.len() - 1]), 2, "last one truncated");
        assert_eq!(count_chain(first, &bytes[..2]), 0, "header cut short");
        assert_eq!(count_chain(first, &[]), 0);
        assert_eq!(count_chain(PayloadType::NONE, &bytes), 0);
        // The second payload's length below a header's, then past the end.
        let second = chain[0].buffer_len();
        bytes[second + 2..second + 4].copy_from_slice(&3u16.to_be_bytes());
        assert_eq!(count_chain(first, &bytes), 1);
        bytes[second + 2..second + 4].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(count_chain(first, &bytes), 1);
        assert!(parse_chain_at(first, &bytes, 0).is_err());
    }
}
