//! ISAKMP / IKEv1 wire format (RFC 2408, RFC 2409, the IPsec DOI of
//! RFC 2407, NAT-T of RFC 3947, Mode Config and XAUTH drafts): parse and
//! build IKEv1 messages, with no cryptography and no protocol state.
//!
//! It provides
//!
//! * a zero-copy view of the 28-octet header, [`header::Packet`], and its
//!   owned form [`HeaderRepr`];
//! * an owned `*Repr` for every IKEv1 payload (SA with proposals,
//!   transforms and TV/TLV attributes, KE, ID, CERT, CR, HASH, SIG, Nonce,
//!   Notification, Delete, Vendor ID, NAT-D, NAT-OA, the Mode Config /
//!   XAUTH Attribute payload with the Cisco Unity attributes, the IKE
//!   Fragment payload of vendor-ID-negotiated fragmentation, with
//!   [`split_message`] to cut a message into fragments and [`Reassembly`]
//!   to join them within bounds); other payload types are kept verbatim;
//! * [`MessageRepr`], whose body is a plaintext chain or, with the E flag,
//!   the ciphertext ([`Body::Encrypted`]), and [`parse_chain`] for a
//!   decrypted body, which stops at the last payload and reports how much
//!   of the (padded) plaintext it used;
//! * the byte span of every decoded payload ([`PayloadSpan`]) and
//!   [`Payload::emit_body`], because IKEv1 hashes raw payload octets
//!   (HASH_I over the SA and ID bodies, quick mode's HASH(1) over what
//!   follows the HASH payload);
//! * the registries as open newtypes ([`ExchangeType`], [`NotifyType`],
//!   [`OakleyAttribute`], ...) and the known Vendor IDs ([`KnownVendorId`]);
//! * [`DecodeError`], which says what, where, in which payload, and which
//!   notification to answer with.
//!
//! Decoding checks every length and count, never panics, and allocates no
//! more than the input's size; encoding is deterministic, writes reserved
//! fields as zero, and reproduces any valid input byte for byte.
//!
//! IKEv1 and IKEv2 share the framing (header layout, generic payload
//! header, proposal and transform chaining) but no payload after it, so this
//! crate stands beside `ikeway-codec` rather than inside it, and takes the
//! shared framing from there: `ikeway_codec::wire` and
//! `ikeway_codec::header::View` with [`Ikev1`] as their protocol parameter,
//! and `ikeway_codec::open_registry!` for the registries (see
//! docs/ARCHITECTURE.md).
//!
//! # Example
//!
//! ```
//! use ikeway_isakmp::{
//!     ExchangeType, HeaderRepr, KnownVendorId, MessageRepr, NotifyType, Payload,
//!     NotificationRepr, PayloadType, VendorIdRepr,
//! };
//!
//! // An informational message: a DPD R-U-THERE and the DPD vendor ID.
//! let header = HeaderRepr::new([1; 8], [2; 8], ExchangeType::INFORMATIONAL, 0x0a0b_0c0d);
//! let cookies = header.cookies();
//! let msg = MessageRepr::plain(
//!     header,
//!     vec![
//!         Payload::Notification(NotificationRepr::dpd(false, cookies, 42)),
//!         Payload::VendorId(VendorIdRepr::from_known(KnownVendorId::Dpd)),
//!     ],
//! );
//! let bytes = msg.to_vec()?;
//! assert_eq!(bytes.len(), 28 + 32 + 20);
//!
//! let back = MessageRepr::parse(&bytes)?;
//! assert_eq!(back.payload_types(), [PayloadType::NOTIFICATION, PayloadType::VENDOR_ID]);
//! let dpd = back.find_notification(NotifyType::R_U_THERE).expect("present");
//! assert_eq!(dpd.dpd_sequence(), Some(42));
//! assert_eq!(back.to_vec()?, bytes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod attribute;
pub mod error;
pub mod header;
pub mod message;
pub mod payload;
pub mod reassembly;
/// IKEv1's cursors: `ikeway-codec`'s, reporting this crate's errors.
mod reader {
    pub(crate) type Reader<'a> = ikeway_codec::wire::Reader<'a, crate::error::Ikev1>;
    pub(crate) use ikeway_codec::wire::Writer;
}
pub mod registry;
pub mod vendor;

pub use attribute::{AttributeKind, AttributeValue, DataAttribute};
pub use error::{DecodeError, DecodeErrorKind, EmitError, Ikev1};
pub use header::{Flags, HEADER_LEN, HeaderRepr, VERSION_1_0};
pub use message::{Body, MessageRepr};
pub use payload::{
    AttributeRepr, CertRepr, Chain, ConfigAttribute, DeleteRepr, FRAGMENT_OVERHEAD, FragmentRepr,
    HashRepr, IdRepr, IdValue, KeRepr, LAST_FRAGMENT, NatDRepr, NatOaRepr, NonceRepr,
    NotificationRepr, Payload, PayloadSpan, ProposalRepr, SaAttribute, SaRepr, SigRepr,
    SplitNetwork, TransformRepr, VendorIdRepr, chain_len, chain_to_vec, emit_chain, first_type,
    parse_chain, parse_chain_at, split_message,
};
pub use reassembly::{FragmentLimits, FragmentStats, Reassembly, Taken};
pub use registry::{
    AhTransformId, AuthMethod, CertEncoding, ConfigAttributeType, ConfigType, Doi,
    EncapsulationMode, EncryptionAlgorithm, EspTransformId, ExchangeType, GroupDescription,
    HashAlgorithm, IdType, IpsecAttribute, IpsecAuthAlgorithm, IsakmpTransformId, LifeType,
    NotifyType, OakleyAttribute, PayloadType, ProtocolId, XauthType,
};
pub use vendor::KnownVendorId;
