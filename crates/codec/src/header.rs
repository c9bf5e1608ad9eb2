//! The fixed 28-octet IKE header (RFC 7296 §3.1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IKE SA Initiator's SPI                  |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       IKE SA Responder's SPI                  |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Next Payload | MjVer | MnVer | Exchange Type |     Flags     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                          Message ID                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                            Length                             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

//!
//! IKEv1 (RFC 2408 §3.1) has the same layout with cookies for SPIs, so the
//! view, [`View`], is generic over the [`Protocol`]; [`Packet`] is IKEv2's.

use crate::error::{DecodeError, EmitError, Ikev2, check_room};
use crate::registry::{ExchangeType, PayloadType};
use crate::wire::{self, HeaderFlags, HeaderSpi, Protocol};

mod field {
    use core::ops::Range;

    pub(super) const SPI_I: Range<usize> = 0..8;
    pub(super) const SPI_R: Range<usize> = 8..16;
    pub(super) const NEXT_PAYLOAD: usize = 16;
    pub(super) const VERSION: usize = 17;
    pub(super) const EXCHANGE: usize = 18;
    pub(super) const FLAGS: usize = 19;
    pub(super) const MESSAGE_ID: Range<usize> = 20..24;
    pub(super) const LENGTH: Range<usize> = 24..28;
}

/// Length of the header, IKEv2's and IKEv1's alike.
pub const HEADER_LEN: usize = 28;

/// Offset of the version octet, which tells IKEv2 (0x20) from IKEv1 (0x10).
pub const VERSION_OFFSET: usize = field::VERSION;

/// The only major version this crate speaks (RFC 7296 §2.5).
pub const MAJOR_VERSION: u8 = 2;

/// The version octet this crate sends: major 2, minor 0.
pub const VERSION_2_0: u8 = 0x20;

/// A zero-copy view of an IKE header at the start of a buffer.
pub type Packet<T> = View<T, Ikev2>;

/// A zero-copy view of a header of protocol `P` at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View<T: AsRef<[u8]>, P: Protocol> {
    buffer: T,
    protocol: core::marker::PhantomData<P>,
}

impl<T: AsRef<[u8]>, P: Protocol> View<T, P> {
    /// Wrap a buffer without checking its length; getters may panic on a
    /// buffer shorter than [`HEADER_LEN`]. Use [`new_checked`](Self::new_checked)
    /// on untrusted input.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer, protocol: core::marker::PhantomData }
    }

    /// Wrap a buffer, checking that it can hold the header.
    pub fn new_checked(buffer: T) -> Result<Self, wire::DecodeError<P>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// "Truncated" (at the end of the data) unless a whole header is there.
    pub fn check_len(&self) -> Result<(), wire::DecodeError<P>> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN { Err(wire::DecodeError::new(P::TRUNCATED, len)) } else { Ok(()) }
    }

    /// The protocol's "invalid major version" at the version octet unless
    /// the major version is `P`'s (the minor version is not checked: RFC 7296
    /// §2.5 says to ignore it, and RFC 2408 §5.1 only answers a major one).
    pub fn check_version(&self) -> Result<(), wire::DecodeError<P>> {
        let major = self.major_version();
        if major == P::MAJOR_VERSION {
            Ok(())
        } else {
            Err(wire::DecodeError::new(P::invalid_major_version(major), field::VERSION))
        }
    }

    /// Check the Length field against the whole datagram in the buffer: a
    /// claim shorter than a header is "length too small" at the field, a
    /// longer claim than the data "truncated" at the end of the data, a
    /// shorter one "trailing data" at the claimed end.
    pub fn check_message_length(&self) -> Result<(), wire::DecodeError<P>> {
        let len = self.buffer.as_ref().len();
        let claimed = usize::try_from(self.length()).unwrap_or(usize::MAX);
        let (kind, at) = if claimed < HEADER_LEN {
            (P::LENGTH_TOO_SMALL, field::LENGTH.start)
        } else if claimed > len {
            (P::TRUNCATED, len)
        } else if claimed < len {
            (P::TRAILING_DATA, claimed)
        } else {
            return Ok(());
        };
        Err(wire::DecodeError::new(kind, at))
    }

    /// The wrapped buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn octets<const N: usize>(&self, at: core::ops::Range<usize>) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buffer.as_ref()[at]);
        out
    }

    /// The initiator's SPI (IKEv2) or cookie (IKEv1).
    pub fn spi_i(&self) -> P::Spi {
        P::Spi::from_octets(self.octets(field::SPI_I))
    }

    /// The responder's SPI or cookie (zero in the first message).
    pub fn spi_r(&self) -> P::Spi {
        P::Spi::from_octets(self.octets(field::SPI_R))
    }

    /// Type of the first payload.
    pub fn next_payload(&self) -> P::PayloadType {
        self.buffer.as_ref()[field::NEXT_PAYLOAD].into()
    }

    /// The version octet (major in the high nibble).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }

    /// Major version.
    pub fn major_version(&self) -> u8 {
        self.version() >> 4
    }

    /// Minor version.
    pub fn minor_version(&self) -> u8 {
        self.version() & 0x0f
    }

    /// Exchange type.
    pub fn exchange(&self) -> P::ExchangeType {
        self.buffer.as_ref()[field::EXCHANGE].into()
    }

    /// The raw flags octet, reserved bits included.
    pub fn flags_raw(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// The flags, reserved bits dropped.
    pub fn flags(&self) -> P::Flags {
        P::Flags::from_octet(self.flags_raw())
    }

    /// Message ID.
    pub fn message_id(&self) -> u32 {
        u32::from_be_bytes(self.octets(field::MESSAGE_ID))
    }

    /// Total message length, header included.
    pub fn length(&self) -> u32 {
        u32::from_be_bytes(self.octets(field::LENGTH))
    }

    /// Everything after the header (not trimmed to the length field).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>, P: Protocol> View<T, P> {
    /// Set the initiator's SPI or cookie.
    pub fn set_spi_i(&mut self, v: P::Spi) {
        self.buffer.as_mut()[field::SPI_I].copy_from_slice(&v.to_octets());
    }

    /// Set the responder's SPI or cookie.
    pub fn set_spi_r(&mut self, v: P::Spi) {
        self.buffer.as_mut()[field::SPI_R].copy_from_slice(&v.to_octets());
    }

    /// Set the first payload's type.
    pub fn set_next_payload(&mut self, v: P::PayloadType) {
        self.buffer.as_mut()[field::NEXT_PAYLOAD] = v.into();
    }

    /// Set the version octet.
    pub fn set_version(&mut self, v: u8) {
        self.buffer.as_mut()[field::VERSION] = v;
    }

    /// Set the exchange type.
    pub fn set_exchange(&mut self, v: P::ExchangeType) {
        self.buffer.as_mut()[field::EXCHANGE] = v.into();
    }

    /// Set the flags; reserved bits are written as zero (RFC 7296 §3.1,
    /// RFC 2408 §3.1).
    pub fn set_flags(&mut self, v: P::Flags) {
        self.buffer.as_mut()[field::FLAGS] = v.to_octet();
    }

    /// Set the message ID.
    pub fn set_message_id(&mut self, v: u32) {
        self.buffer.as_mut()[field::MESSAGE_ID].copy_from_slice(&v.to_be_bytes());
    }

    /// Set the length field.
    pub fn set_length(&mut self, v: u32) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&v.to_be_bytes());
    }

    /// Everything after the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// The IKE header flags (RFC 7296 §3.1).
///
/// Only the three defined bits are kept: the reserved bits "MUST be cleared
/// when sending and MUST be ignored on receipt".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags {
    /// I: set by the original initiator of the IKE SA.
    pub initiator: bool,
    /// V: the sender can speak a higher major version. Always clear in
    /// IKEv2 implementations (RFC 7296 §3.1).
    pub version: bool,
    /// R: this message is a response.
    pub response: bool,
}

impl Flags {
    /// Bit of the initiator flag.
    pub const INITIATOR: u8 = 0x08;
    /// Bit of the version flag.
    pub const VERSION: u8 = 0x10;
    /// Bit of the response flag.
    pub const RESPONSE: u8 = 0x20;

    /// Decode from the flags octet, ignoring reserved bits.
    pub const fn from_bits(bits: u8) -> Self {
        Self {
            initiator: bits & Self::INITIATOR != 0,
            version: bits & Self::VERSION != 0,
            response: bits & Self::RESPONSE != 0,
        }
    }

    /// Encode to the flags octet with reserved bits clear.
    pub const fn bits(&self) -> u8 {
        (if self.initiator { Self::INITIATOR } else { 0 })
            | (if self.version { Self::VERSION } else { 0 })
            | (if self.response { Self::RESPONSE } else { 0 })
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

/// The IKE header as owned values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderRepr {
    /// IKE SA Initiator's SPI.
    pub spi_i: u64,
    /// IKE SA Responder's SPI (zero in the first IKE_SA_INIT request).
    pub spi_r: u64,
    /// Type of the first payload.
    pub next_payload: PayloadType,
    /// Version octet: major in the high nibble, minor in the low.
    pub version: u8,
    /// Exchange type.
    pub exchange: ExchangeType,
    /// Flags.
    pub flags: Flags,
    /// Message ID.
    pub message_id: u32,
    /// Total message length, header included.
    pub length: u32,
}

impl HeaderRepr {
    /// Decode a header from the start of `bytes`.
    ///
    /// Rejects a major version other than 2 (RFC 7296 §2.5); the minor
    /// version is kept but not checked, as §2.5 says it should be ignored.
    /// The length field is returned as is; [`MessageRepr`](crate::MessageRepr)
    /// checks it against the datagram.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let packet = Packet::new_checked(bytes)?;
        Self::parse_packet(&packet)
    }

    /// Decode from a checked view.
    pub fn parse_packet<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self, DecodeError> {
        packet.check_len()?;
        packet.check_version()?;
        Ok(Self {
            spi_i: packet.spi_i(),
            spi_r: packet.spi_r(),
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
        let mut packet = Packet::new_unchecked(&mut buf[..HEADER_LEN]);
        packet.set_spi_i(self.spi_i);
        packet.set_spi_r(self.spi_r);
        packet.set_next_payload(self.next_payload);
        packet.set_version(self.version);
        packet.set_exchange(self.exchange);
        packet.set_flags(self.flags);
        packet.set_message_id(self.message_id);
        packet.set_length(self.length);
        Ok(HEADER_LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DecodeErrorKind;

    const HDR: [u8; 28] = [
        1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 9, 33, 0x20, 34, 0x08, 0, 0, 0, 1, 0, 0, 0, 28,
    ];

    #[test]
    fn view_getters_and_setters() {
        let p = Packet::new_checked(&HDR[..]).unwrap();
        assert_eq!(p.spi_i(), 0x0102030405060708);
        assert_eq!(p.spi_r(), 9);
        assert_eq!(p.next_payload(), PayloadType::SA);
        assert_eq!(p.major_version(), 2);
        assert_eq!(p.exchange(), ExchangeType::IKE_SA_INIT);
        assert!(p.flags().initiator);
        assert_eq!(p.message_id(), 1);
        assert_eq!(p.length(), 28);

        let mut buf = [0u8; 28];
        let mut q = Packet::new_unchecked(&mut buf[..]);
        q.set_spi_i(0x0102030405060708);
        q.set_spi_r(9);
        q.set_next_payload(PayloadType::SA);
        q.set_version(0x20);
        q.set_exchange(ExchangeType::IKE_SA_INIT);
        q.set_flags(Flags::from_bits(0x08));
        q.set_message_id(1);
        q.set_length(28);
        assert_eq!(buf, HDR);
    }

    #[test]
    fn reserved_flag_bits_ignored_and_cleared() {
        let mut raw = HDR;
        raw[field::FLAGS] = 0xc7 | Flags::RESPONSE;
        let h = HeaderRepr::parse(&raw).unwrap();
        assert_eq!(h.flags, Flags { initiator: false, version: false, response: true });
        let mut out = [0u8; 28];
        h.emit(&mut out).unwrap();
        assert_eq!(out[field::FLAGS], Flags::RESPONSE);
    }

    #[test]
    fn short_buffer_is_an_error() {
        let h = HeaderRepr::parse(&HDR).unwrap();
        assert_eq!(
            h.emit(&mut [0u8; 27]),
            Err(EmitError::BufferTooShort { needed: 28, available: 27 })
        );
        assert_eq!(
            Packet::new_checked(&HDR[..27]).unwrap_err(),
            DecodeError::new(DecodeErrorKind::Truncated, 27)
        );
    }
}
