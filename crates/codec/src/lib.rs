//! IKEv2 wire format (RFC 7296): parse and build IKE messages.
//!
//! This crate turns the bytes of an IKE message into owned values and back,
//! with no cryptography and no protocol state. It provides
//!
//! * zero-copy views of the two fixed headers, [`header::Packet`] (the
//!   28-octet IKE header) and [`payload::Packet`] (the 4-octet generic
//!   payload header);
//! * an owned `*Repr` for every payload type of RFC 7296 plus SKF
//!   (RFC 7383), unknown payload types kept verbatim;
//! * [`MessageRepr`] for a whole message and [`parse_chain`] /
//!   [`emit_chain`] for a bare payload chain (such as decrypted SK
//!   content);
//! * the IANA registries as open newtypes ([`NotifyType`], [`EncrAlg`], ...);
//! * [`DecodeError`], which says what, where and in which payload, and
//!   which Notify to answer with;
//! * [`wire`], what IKEv1 shares with IKEv2 (the header view, the error
//!   type, the cursors, the payload and proposal walks), generic over the
//!   protocol, which `ikeway-isakmp` uses with its own registries.
//!
//! Decoding checks every length and count and never panics; encoding is
//! deterministic, writes reserved fields as zero, and reproduces any valid
//! input byte for byte.
//!
//! # Example
//!
//! ```
//! use ikeway_codec::{ExchangeType, MessageRepr, NotifyType, PayloadType};
//!
//! // An INFORMATIONAL response carrying one status notify.
//! let bytes: [u8; 36] = [
//!     0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // initiator SPI
//!     0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, // responder SPI
//!     0x29, 0x20, 0x25, 0x20, // next N, version 2.0, INFORMATIONAL, flags R
//!     0x00, 0x00, 0x00, 0x05, // message ID
//!     0x00, 0x00, 0x00, 0x24, // length 36
//!     0x00, 0x00, 0x00, 0x08, // N: last payload, length 8
//!     0x00, 0x00, 0x40, 0x00, // no SPI, INITIAL_CONTACT (16384)
//! ];
//! let msg = MessageRepr::parse(&bytes)?;
//! assert_eq!(msg.header.exchange, ExchangeType::INFORMATIONAL);
//! assert!(msg.header.flags.response);
//! assert_eq!(msg.payload_types(), [PayloadType::NOTIFY]);
//! assert!(msg.find_notify(NotifyType::INITIAL_CONTACT).is_some());
//!
//! assert_eq!(msg.to_vec()?, bytes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod error;
pub mod header;
pub mod message;
pub mod payload;
pub mod reader;
pub mod registry;
pub mod sk;
pub mod wire;

/// The inline vector behind [`Spi`], [`Transforms`], [`TransformAttributes`],
/// [`NotifyData`], [`NonceData`], [`KeData`], [`AuthData`], [`IdData`], [`Selectors`],
/// [`ConfigAttributes`] and [`ConfigValue`], for
/// building them (`smallvec!`, `SmallVec::from_slice`).
pub use smallvec;

pub use error::{DecodeError, DecodeErrorKind, EmitError, Ikev2};
pub use header::{Flags, HEADER_LEN, HeaderRepr};
pub use message::MessageRepr;
pub use payload::{
    AddrRange, AuthData, AuthRepr, CA_HASH_LEN, CertRepr, ConfigAttribute, ConfigAttributes,
    ConfigRepr, ConfigValue, DeleteRepr, EapCode, EapRepr, EncryptedFragmentRepr, EncryptedRepr,
    Gateway, IdData, IdRepr, IdValue, KeData, KeRepr, NonceData, NonceRepr, NotifyData, NotifyRepr,
    Payload, PayloadRepr, ProposalRepr, RedirectRepr, SaRepr, Selectors, Spi, TrafficSelector,
    TransformAttribute, TransformAttributes, TransformRepr, Transforms, TsRepr, VendorIdRepr,
    chain_len, chain_to_vec, emit_chain, first_type, parse_chain, parse_chain_at,
};
pub use registry::{
    AttributeType, AuthMethod, CertEncoding, ConfigAttributeType, ConfigType, DhGroup, EncrAlg,
    EsnMode, ExchangeType, HashAlgorithm, IdType, IntegAlg, NotifyType, PayloadType, PrfAlg,
    ProtocolId, TransformType, TsType,
};
