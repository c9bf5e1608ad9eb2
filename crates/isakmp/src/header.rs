//! The fixed 28-octet ISAKMP header (RFC 2408 §3.1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                          Initiator                            !
//! !                            Cookie                             !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                          Responder                            !
//! !                            Cookie                             !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !  Next Payload ! MjVer ! MnVer ! Exchange Type !     Flags     !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                          Message ID                           !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! !                            Length                             !
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! IKEv1 and IKEv2 share this layout (the cookies became SPIs), so the
//! version octet is what tells them apart: 0x10 here, 0x20 for IKEv2.

//! The view and the length are `ikeway-codec`'s ([`ikeway_codec::header`]),
//! read with this crate's registries and errors.

use ikeway_codec::wire::{HeaderFlags, check_room};

use crate::error::{DecodeError, EmitError, Ikev1};
use crate::registry::{ExchangeType, PayloadType};

pub use ikeway_codec::header::{HEADER_LEN, VERSION_OFFSET};

/// The only major version ISAKMP has (RFC 2408 §3.1).
pub const MAJOR_VERSION: u8 = 1;

/// The version octet IKEv1 implementations send: major 1, minor 0.
pub const VERSION_1_0: u8 = 0x10;

/// A zero-copy view of an ISAKMP header at the start of a buffer: its
/// `spi_i`/`spi_r` are the two cookies.
pub type Packet<T> = ikeway_codec::header::View<T, Ikev1>;

/// The ISAKMP header flags (RFC 2408 §3.1). Only the three defined bits
/// are kept; the reserved ones are ignored on receipt and sent as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags {
    /// E: everything after the header is encrypted.
    pub encryption: bool,
    /// C: commit, the sender wants a CONNECTED notification before using
    /// the SA (RFC 2408 §3.1, RFC 2409 §5.5).
    pub commit: bool,
    /// A: authentication only (RFC 2408 §3.1); unused by RFC 2409.
    pub authentication_only: bool,
}

impl Flags {
    /// Bit of the encryption flag.
    pub const ENCRYPTION: u8 = 0x01;
    /// Bit of the commit flag.
    pub const COMMIT: u8 = 0x02;
    /// Bit of the authentication-only flag.
    pub const AUTHENTICATION_ONLY: u8 = 0x04;

    /// Decode the flags octet, ignoring reserved bits.
    pub const fn from_bits(bits: u8) -> Self {
        Self {
            encryption: bits & Self::ENCRYPTION != 0,
            commit: bits & Self::COMMIT != 0,
            authentication_only: bits & Self::AUTHENTICATION_ONLY != 0,
        }
    }

    /// The flags octet with reserved bits clear.
    pub const fn bits(&self) -> u8 {
        (if self.encryption { Self::ENCRYPTION } else { 0 })
            | (if self.commit { Self::COMMIT } else { 0 })
            | (if self.authentication_only { Self::AUTHENTICATION_ONLY } else { 0 })
    }
}

impl HeaderFlags for Flags {
    fn from_octet(bits: u8) -> Self {
        Self::from_bits(bits)
    }

    fn to_octet(self) -> u8 {
        self.bits()
    }
}

/// The ISAKMP header as owned values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderRepr {
    /// The initiator's cookie.
    pub cookie_i: [u8; 8],
    /// The responder's cookie.
    pub cookie_r: [u8; 8],
    /// Type of the first payload (the first *plaintext* payload when the
    /// body is encrypted).
    pub next_payload: PayloadType,
    /// The version octet: major 1 in the high nibble, minor in the low.
    pub version: u8,
    /// The exchange type.
    pub exchange: ExchangeType,
    /// The flags.
    pub flags: Flags,
    /// The message ID.
    pub message_id: u32,
    /// Total message length, header included.
    pub length: u32,
}

impl HeaderRepr {
    /// A header for a new message with version 1.0; `next_payload`,
    /// `length` and the E flag are filled in by
    /// [`MessageRepr::emit`](crate::MessageRepr::emit).
    pub const fn new(
        cookie_i: [u8; 8],
        cookie_r: [u8; 8],
        exchange: ExchangeType,
        message_id: u32,
    ) -> Self {
        Self {
            cookie_i,
            cookie_r,
            next_payload: PayloadType::NONE,
            version: VERSION_1_0,
            exchange,
            flags: Flags { encryption: false, commit: false, authentication_only: false },
            message_id,
            length: 0,
        }
    }

    /// Decode the header at the start of `bytes`.
    ///
    /// Rejects a major version other than 1 (RFC 2408 §5.1 answers it with
    /// INVALID-MAJOR-VERSION; an IKEv2 message lands here as major 2). The
    /// minor version is kept unchecked. The length field is returned as
    /// sent; [`MessageRepr`](crate::MessageRepr) checks it.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let packet = Packet::new_checked(bytes)?;
        packet.check_version()?;
        Ok(Self {
            cookie_i: packet.spi_i(),
            cookie_r: packet.spi_r(),
            next_payload: packet.next_payload(),
            version: packet.version(),
            exchange: packet.exchange(),
            flags: packet.flags(),
            message_id: packet.message_id(),
            length: packet.length(),
        })
    }

    /// Encoded length: always [`HEADER_LEN`].
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the first 28 bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        check_room(buf, HEADER_LEN)?;
        let mut p = Packet::new_unchecked(&mut buf[..HEADER_LEN]);
        p.set_spi_i(self.cookie_i);
        p.set_spi_r(self.cookie_r);
        p.set_next_payload(self.next_payload);
        p.set_version(self.version);
        p.set_exchange(self.exchange);
        p.set_flags(self.flags);
        p.set_message_id(self.message_id);
        p.set_length(self.length);
        Ok(HEADER_LEN)
    }

    /// The two cookies as the 16-octet SPI of an ISAKMP SA (RFC 2408 §2.4,
    /// used in Delete and DPD notifications).
    pub fn cookies(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.cookie_i);
        out[8..].copy_from_slice(&self.cookie_r);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;

    /// Main Mode message 1 header of a strongSwan initiator: SA next, 1.0,
    /// Main Mode, no flags, message ID 0, 172 octets.
    const HDR: [u8; 28] = [
        0x9a, 0x6b, 0x1d, 0x0f, 0x52, 0x39, 0x42, 0x17, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x10, 0x02,
        0x00, 0, 0, 0, 0, 0, 0, 0, 0xac,
    ];

    #[test]
    fn view_getters_and_setters() {
        let p = Packet::new_checked(&HDR[..]).expect("28 octets");
        assert_eq!(p.spi_i(), [0x9a, 0x6b, 0x1d, 0x0f, 0x52, 0x39, 0x42, 0x17]);
        assert_eq!(p.spi_r(), [0; 8]);
        assert_eq!(p.next_payload(), PayloadType::SA);
        assert_eq!(p.version(), VERSION_1_0);
        assert_eq!(p.exchange(), ExchangeType::MAIN);
        assert_eq!(p.flags(), Flags::default());
        assert_eq!(p.message_id(), 0);
        assert_eq!(p.length(), 172);

        let h = HeaderRepr::parse(&HDR).expect("valid header");
        let mut out = [0xffu8; 28];
        assert_eq!(h.emit(&mut out), Ok(HEADER_LEN));
        assert_eq!(out, HDR);
    }

    #[test]
    fn flags_keep_the_three_defined_bits() {
        let mut raw = HDR;
        raw[19] = 0xf8 | Flags::ENCRYPTION | Flags::COMMIT;
        let h = HeaderRepr::parse(&raw).expect("valid header");
        assert_eq!(h.flags, Flags { encryption: true, commit: true, authentication_only: false });
        let mut out = [0u8; 28];
        h.emit(&mut out).expect("room");
        assert_eq!(out[19], 0x03);
        assert_eq!(Flags::from_bits(0x04).bits(), Flags::AUTHENTICATION_ONLY);
    }

    #[test]
    fn rejects_ikev2_and_short_input() {
        let mut raw = HDR;
        raw[VERSION_OFFSET] = 0x20;
        assert_eq!(
            HeaderRepr::parse(&raw),
            Err(DecodeError::new(DecodeErrorKind::InvalidMajorVersion(2), 17))
        );
        assert_eq!(
            HeaderRepr::parse(&HDR[..27]),
            Err(DecodeError::new(DecodeErrorKind::Truncated, 27))
        );
        let h = HeaderRepr::parse(&HDR).expect("valid");
        assert_eq!(
            h.emit(&mut [0u8; 20]),
            Err(EmitError::BufferTooShort { needed: 28, available: 20 })
        );
    }

    #[test]
    fn cookies_make_the_isakmp_spi() {
        let mut h = HeaderRepr::new([1; 8], [2; 8], ExchangeType::INFORMATIONAL, 7);
        h.flags.encryption = true;
        assert_eq!(h.cookies()[..8], [1; 8]);
        assert_eq!(h.cookies()[8..], [2; 8]);
    }
}
