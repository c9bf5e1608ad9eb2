//! Decode and emit errors.
//!
//! A [`DecodeError`] says what was wrong, where (a byte offset into the
//! message, or into whatever buffer the caller named as the base), and, when
//! the fault sits inside a payload, which payload type. It also knows which
//! Notify an IKE responder should answer with (RFC 7296 §2.21.1, §3.10.1).

use core::fmt;

use crate::header::Flags;
use crate::registry::{ExchangeType, NotifyType, PayloadType};
use crate::wire::{self, Protocol};

/// What was wrong with the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended before a field or structure it must contain.
    Truncated,
    /// Bytes were left over after a structure that must fill its container.
    TrailingData,
    /// The IKE header carries a major version other than 2 (RFC 7296 §2.5).
    InvalidMajorVersion(u8),
    /// A length field is smaller than the fixed part it must cover.
    LengthTooSmall,
    /// A length field claims more bytes than the enclosing structure holds.
    LengthPastEnd,
    /// A count field (transforms, SPIs, selectors) disagrees with the
    /// elements actually present.
    CountMismatch,
    /// A proposal or transform "last substructure" octet is not 0/2 (resp.
    /// 0/3), or says "last" before the end, or "more" at the end
    /// (RFC 7296 §3.3.1, §3.3.2).
    BadLastMarker,
    /// An SPI size not allowed for the protocol (RFC 7296 §3.3.1, §3.11).
    SpiSize,
    /// A traffic selector whose length does not match its type
    /// (RFC 7296 §3.13.1).
    SelectorLength,
    /// An identification payload whose data length does not fit its ID type
    /// (RFC 7296 §3.5).
    IdLength,
    /// The EAP message length disagrees with the payload (RFC 7296 §3.16).
    EapLength,
    /// An SK or SKF payload that is not the last payload of the message
    /// (RFC 7296 §3.14, RFC 7383 §2.5).
    EncryptedNotLast,
    /// An SKF fragment number of 0 or greater than the total
    /// (RFC 7383 §2.5).
    FragmentNumber,
    /// A payload type this implementation does not know, with the critical
    /// bit set (RFC 7296 §2.5).
    UnsupportedCriticalPayload,
    /// A redirect gateway identity of an unknown type, or whose length does not fit its type
    /// (RFC 5685 §8.2).
    GatewayIdentity,
    /// Nonce data outside 16 to 256 octets (RFC 7296 §3.9), here in a REDIRECT (RFC 5685 §8.2).
    NonceLength,
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
            Self::BadLastMarker => f.write_str("bad last-substructure marker"),
            Self::SpiSize => f.write_str("SPI size not allowed for the protocol"),
            Self::SelectorLength => f.write_str("traffic selector length does not match its type"),
            Self::IdLength => f.write_str("identification data length does not match its type"),
            Self::EapLength => f.write_str("EAP length does not match the payload"),
            Self::EncryptedNotLast => f.write_str("encrypted payload is not the last payload"),
            Self::FragmentNumber => f.write_str("fragment number out of range"),
            Self::UnsupportedCriticalPayload => f.write_str("unsupported critical payload"),
            Self::GatewayIdentity => f.write_str("gateway identity does not match its type"),
            Self::NonceLength => f.write_str("nonce length outside 16 to 256 octets"),
        }
    }
}

/// IKEv2 as the parameter of [`crate::wire`]'s generic pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ikev2 {}

impl Protocol for Ikev2 {
    type Kind = DecodeErrorKind;
    type PayloadType = PayloadType;
    type ExchangeType = ExchangeType;
    type Flags = Flags;
    type Spi = u64;
    type Notify = NotifyType;

    const MAJOR_VERSION: u8 = 2;
    const TRUNCATED: DecodeErrorKind = DecodeErrorKind::Truncated;
    const TRAILING_DATA: DecodeErrorKind = DecodeErrorKind::TrailingData;
    const LENGTH_TOO_SMALL: DecodeErrorKind = DecodeErrorKind::LengthTooSmall;
    const LENGTH_PAST_END: DecodeErrorKind = DecodeErrorKind::LengthPastEnd;

    fn invalid_major_version(major: u8) -> DecodeErrorKind {
        DecodeErrorKind::InvalidMajorVersion(major)
    }

    /// RFC 7296 §2.21.1: a malformed message gets INVALID_SYNTAX, an
    /// unknown critical payload UNSUPPORTED_CRITICAL_PAYLOAD, and a major
    /// version other than 2 INVALID_MAJOR_VERSION (§2.5).
    fn notify(error: &DecodeError) -> NotifyType {
        match error.kind {
            DecodeErrorKind::UnsupportedCriticalPayload => NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD,
            DecodeErrorKind::InvalidMajorVersion(_) => NotifyType::INVALID_MAJOR_VERSION,
            _ => NotifyType::INVALID_SYNTAX,
        }
    }
}

/// A malformed IKEv2 message: what, where (a byte offset from the base the
/// caller parsed against, the start of the IKE message for
/// [`MessageRepr`](crate::MessageRepr)), in which payload, and
/// [`notify`](wire::DecodeError::notify), the Notify to answer with.
pub type DecodeError = wire::DecodeError<Ikev2>;

impl DecodeError {
    /// The Notification Data to send with [`notify`](Self::notify).
    ///
    /// For UNSUPPORTED_CRITICAL_PAYLOAD it is the one-octet payload type
    /// (RFC 7296 §3.10.1); otherwise it is empty. (For INVALID_MAJOR_VERSION
    /// the version goes in the response header, not in the data.)
    pub fn notify_data(&self) -> Option<[u8; 1]> {
        match (self.kind, self.payload) {
            (DecodeErrorKind::UnsupportedCriticalPayload, Some(ty)) => Some([ty.0]),
            _ => None,
        }
    }
}

/// A representation that cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmitError {
    /// The output buffer is shorter than the encoding.
    BufferTooShort {
        /// Bytes the encoding needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// A field is longer than its length or count field can express.
    TooLong {
        /// Which field.
        field: &'static str,
        /// Its length (or element count).
        len: usize,
    },
    /// The representation contradicts itself or the wire rules (for example
    /// an SK payload that is not last, or an SPI whose length differs from
    /// the declared SPI size).
    Inconsistent(&'static str),
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooShort { needed, available } => {
                write!(f, "buffer too short: need {needed} bytes, have {available}")
            }
            Self::TooLong { field, len } => {
                write!(f, "{field} too long for its length field ({len})")
            }
            Self::Inconsistent(what) => write!(f, "cannot encode: {what}"),
        }
    }
}

impl std::error::Error for EmitError {}

pub(crate) use crate::wire::{check_room, len_u8, len_u16};
