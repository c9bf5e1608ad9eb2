//! Decode and emit errors.
//!
//! A [`DecodeError`] says what was wrong, where (a byte offset from the base
//! the caller parsed against: the start of the ISAKMP message for
//! [`MessageRepr`](crate::MessageRepr)), and in which payload. It also names
//! the notification an ISAKMP responder would answer with (RFC 2408 §5).

use core::fmt;

use ikeway_codec::wire::Protocol;

use crate::header::{Flags, MAJOR_VERSION};
use crate::registry::{ExchangeType, NotifyType, PayloadType};

/// What was wrong with the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended before a field or structure it must contain.
    Truncated,
    /// Bytes were left over after a structure that must fill its container.
    TrailingData,
    /// The ISAKMP header carries a major version other than 1
    /// (RFC 2408 §5.1).
    InvalidMajorVersion(u8),
    /// A length field is smaller than the fixed part it must cover.
    LengthTooSmall,
    /// A length field claims more bytes than the enclosing structure holds.
    LengthPastEnd,
    /// A count field (transforms of a proposal, SPIs of a Delete) disagrees
    /// with the elements present.
    CountMismatch,
    /// Inside an SA payload, a proposal's Next Payload is not Proposal (2)
    /// or None, a transform's not Transform (3) or None, or it says "none"
    /// before the end or "more" at the end (RFC 2408 §3.5, §3.6).
    BadProposalSyntax,
    /// A Domain of Interpretation other than IPsec (1) where the payload's
    /// layout depends on it (RFC 2408 §3.4, RFC 2407 §4.2).
    DoiNotSupported(u32),
    /// An IPsec DOI situation with the secrecy or integrity bits, whose
    /// labelled-domain fields this crate does not decode (RFC 2407 §4.2).
    SituationNotSupported(u32),
    /// A proposal SPI size not allowed for its protocol (RFC 2407 §4.4.1:
    /// 0 to 16 for ISAKMP, 4 for AH and ESP, 2 or 4 for IPCOMP).
    SpiSize,
    /// An identification (or NAT-OA) address whose length does not fit
    /// its ID type (RFC 2407 §4.6.2.1, RFC 3947 §5.2).
    IdLength,
    /// A data attribute list that ends inside an attribute (RFC 2408 §3.3).
    AttributeTruncated,
    /// An IKE Fragment payload numbered 0 (fragments count from 1).
    FragmentNumberZero,
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("truncated"),
            Self::TrailingData => f.write_str("trailing data"),
            Self::InvalidMajorVersion(v) => write!(f, "unsupported major version {v}"),
            Self::LengthTooSmall => f.write_str("length field too small"),
            Self::LengthPastEnd => f.write_str("length field past the end"),
            Self::CountMismatch => f.write_str("count does not match the elements present"),
            Self::BadProposalSyntax => f.write_str("bad proposal or transform chaining"),
            Self::DoiNotSupported(d) => write!(f, "domain of interpretation {d} not supported"),
            Self::SituationNotSupported(s) => write!(f, "situation {s:#x} not supported"),
            Self::SpiSize => f.write_str("SPI size not allowed for the protocol"),
            Self::IdLength => f.write_str("identification data length does not match its type"),
            Self::AttributeTruncated => f.write_str("data attribute runs past its container"),
            Self::FragmentNumberZero => f.write_str("fragment number 0"),
        }
    }
}

/// IKEv1 as the parameter of `ikeway-codec`'s generic wire pieces (the
/// header view, the reader, the error): the same framing as IKEv2 with this
/// crate's registries and failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ikev1 {}

impl Protocol for Ikev1 {
    type Kind = DecodeErrorKind;
    type PayloadType = PayloadType;
    type ExchangeType = ExchangeType;
    type Flags = Flags;
    type Spi = [u8; 8];
    type Notify = NotifyType;

    const MAJOR_VERSION: u8 = MAJOR_VERSION;
    const TRUNCATED: DecodeErrorKind = DecodeErrorKind::Truncated;
    const TRAILING_DATA: DecodeErrorKind = DecodeErrorKind::TrailingData;
    const LENGTH_TOO_SMALL: DecodeErrorKind = DecodeErrorKind::LengthTooSmall;
    const LENGTH_PAST_END: DecodeErrorKind = DecodeErrorKind::LengthPastEnd;

    fn invalid_major_version(major: u8) -> DecodeErrorKind {
        DecodeErrorKind::InvalidMajorVersion(major)
    }

    /// RFC 2408 §5.1-§5.6: INVALID-MAJOR-VERSION, DOI-NOT-SUPPORTED,
    /// SITUATION-NOT-SUPPORTED, BAD-PROPOSAL-SYNTAX for a broken proposal
    /// structure, INVALID-SPI, INVALID-ID-INFORMATION, otherwise
    /// PAYLOAD-MALFORMED.
    fn notify(error: &DecodeError) -> NotifyType {
        match error.kind {
            DecodeErrorKind::InvalidMajorVersion(_) => NotifyType::INVALID_MAJOR_VERSION,
            DecodeErrorKind::DoiNotSupported(_) => NotifyType::DOI_NOT_SUPPORTED,
            DecodeErrorKind::SituationNotSupported(_) => NotifyType::SITUATION_NOT_SUPPORTED,
            DecodeErrorKind::BadProposalSyntax | DecodeErrorKind::CountMismatch
                if error.payload == Some(PayloadType::SA) =>
            {
                NotifyType::BAD_PROPOSAL_SYNTAX
            }
            DecodeErrorKind::SpiSize => NotifyType::INVALID_SPI,
            DecodeErrorKind::IdLength if error.payload == Some(PayloadType::ID) => {
                NotifyType::INVALID_ID_INFORMATION
            }
            _ => NotifyType::PAYLOAD_MALFORMED,
        }
    }
}

/// A malformed message: what, where (a byte offset from the base the caller
/// parsed against), in which payload, and
/// [`notify`](ikeway_codec::wire::DecodeError::notify), the notification to
/// answer with. Small and `Copy`; it never holds message bytes.
pub type DecodeError = ikeway_codec::wire::DecodeError<Ikev1>;

/// A representation that cannot be written: the same failures as IKEv2's encoder, so the same
/// type.
pub use ikeway_codec::EmitError;

pub(crate) use ikeway_codec::wire::{check_room, len_u8, len_u16};
