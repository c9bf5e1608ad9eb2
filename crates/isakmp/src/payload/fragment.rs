//! IKE Fragment payload (type 132) of the proprietary IKEv1 fragmentation that Cisco, Microsoft,
//! racoon, strongSwan and libreswan speak, announced by the "FRAGMENTATION" vendor ID
//! ([`KnownVendorId::Fragmentation`](crate::KnownVendorId::Fragmentation)). No RFC describes
//! it; the layout is the one those implementations share:
//!
//! ```text
//! !         Fragment ID           !  Fragment Num !     Flags     !
//! ~                       Fragment Data                           ~
//! ```
//!
//! A large ISAKMP message, header and (encrypted) body included, is cut into pieces; each piece
//! travels as the only payload of its own plaintext ISAKMP message with the same cookies. The
//! pieces share a fragment ID, are numbered from 1, and the last one carries the
//! [`LAST_FRAGMENT`] flag. The receiver joins the data in number order and parses the result as
//! the message it is. [`split_message`] does the sending side.

use super::{Body, Payload, body_api};
use crate::error::{DecodeError, DecodeErrorKind, EmitError};
use crate::header::{HEADER_LEN, HeaderRepr};
use crate::message::MessageRepr;
use crate::reader::{Reader, Writer};
use crate::registry::ExchangeType;

/// The flag of the fragment that ends the message.
pub const LAST_FRAGMENT: u8 = 0x01;

/// Octets of a Fragment payload before its data: the generic header and the four octets of ID,
/// number and flags.
pub const FRAGMENT_OVERHEAD: usize = super::GENERIC_HEADER_LEN + 4;

/// A Fragment payload body.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FragmentRepr {
    /// Which message the fragment belongs to.
    pub id: u16,
    /// Its place in the message, from 1 (0 is refused when decoding).
    pub number: u8,
    /// Flags as received; [`LAST_FRAGMENT`] is the only one defined, others are kept so the
    /// payload re-encodes as it came.
    pub flags: u8,
    /// A piece of the whole message.
    pub data: Vec<u8>,
}

impl FragmentRepr {
    /// Whether this fragment ends its message.
    pub fn is_last(&self) -> bool {
        self.flags & LAST_FRAGMENT != 0
    }
}

impl core::fmt::Debug for FragmentRepr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The data is ciphertext or a piece of a plaintext message: its size says enough.
        f.debug_struct("FragmentRepr")
            .field("id", &self.id)
            .field("number", &self.number)
            .field("flags", &self.flags)
            .field("data_len", &self.data.len())
            .finish()
    }
}

impl Body<crate::error::Ikev1> for FragmentRepr {
    fn parse_body(c: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let id = c.u16()?;
        let number_at = c.offset();
        let number = c.u8()?;
        if number == 0 {
            return Err(DecodeError::new(DecodeErrorKind::FragmentNumberZero, number_at));
        }
        let flags = c.u8()?;
        Ok(Self { id, number, flags, data: c.rest().to_vec() })
    }

    fn body_len(&self) -> usize {
        4 + self.data.len()
    }

    fn emit_body(&self, o: &mut Writer<'_>) -> Result<(), EmitError> {
        if self.number == 0 {
            return Err(EmitError::Inconsistent("fragments are numbered from 1"));
        }
        o.u16(self.id)?;
        o.u8(self.number)?;
        o.u8(self.flags)?;
        o.put(&self.data)
    }
}

body_api!(FragmentRepr);

/// Cuts `message` (a whole encoded ISAKMP message) into Fragment messages of at most
/// `max_message_len` octets each, the fragment ID `id`, numbered from 1, the last flagged.
///
/// Each fragment message has `message`'s cookies, message ID 0 and exchange type `exchange`
/// (the phase 1 mode's, whatever `message` is: strongSwan and Windows send fragments so, and
/// strongSwan looks for them there). A message that fits is returned as it is, alone.
/// `EmitError::Inconsistent` if `message` has no ISAKMP header, if `max_message_len` leaves
/// no room for data, or if more than 255 fragments would be needed (the number is one octet).
pub fn split_message(
    message: &[u8],
    exchange: ExchangeType,
    id: u16,
    max_message_len: usize,
) -> Result<Vec<Vec<u8>>, EmitError> {
    if message.len() <= max_message_len {
        return Ok(vec![message.to_vec()]);
    }
    let original = HeaderRepr::parse(message)
        .map_err(|_| EmitError::Inconsistent("only an ISAKMP message can be fragmented"))?;
    let room = max_message_len.saturating_sub(HEADER_LEN + FRAGMENT_OVERHEAD);
    if room == 0 {
        return Err(EmitError::Inconsistent("the message size leaves no room for a fragment"));
    }
    let count = message.len().div_ceil(room);
    if count > usize::from(u8::MAX) {
        return Err(EmitError::Inconsistent("a message needs more than 255 fragments"));
    }
    message
        .chunks(room)
        .zip(1u8..)
        .map(|(data, number)| {
            let header = HeaderRepr::new(original.cookie_i, original.cookie_r, exchange, 0);
            let flags = if usize::from(number) == count { LAST_FRAGMENT } else { 0 };
            let fragment = FragmentRepr { id, number, flags, data: data.to_vec() };
            MessageRepr::plain(header, vec![Payload::Fragment(fragment)]).to_vec()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PayloadType;

    #[test]
    fn a_fragment_round_trips_with_its_flags() {
        let f = FragmentRepr { id: 0x0102, number: 3, flags: LAST_FRAGMENT, data: vec![9; 5] };
        let wire = f.to_vec().unwrap();
        assert_eq!(wire, [1, 2, 3, 1, 9, 9, 9, 9, 9]);
        let back = FragmentRepr::parse(&wire).unwrap();
        assert_eq!(back, f);
        assert!(back.is_last());
        // An unknown flag is kept, and does not make a fragment the last.
        let odd = FragmentRepr::parse(&[0, 1, 1, 0x80]).unwrap();
        assert_eq!((odd.flags, odd.is_last(), odd.data.len()), (0x80, false, 0));
        assert_eq!(odd.to_vec().unwrap(), [0, 1, 1, 0x80]);
    }

    #[test]
    fn short_bodies_and_number_zero_are_refused() {
        for short in [&[][..], &[0], &[0, 1], &[0, 1, 1]] {
            let e = FragmentRepr::parse(short).unwrap_err();
            assert_eq!(e.kind, DecodeErrorKind::Truncated, "{short:?}");
        }
        let e = FragmentRepr::parse(&[0, 1, 0, 1, 0xaa]).unwrap_err();
        assert_eq!((e.kind, e.offset), (DecodeErrorKind::FragmentNumberZero, 2));
        let zero = FragmentRepr { id: 1, number: 0, flags: 0, data: vec![] };
        assert_eq!(zero.to_vec(), Err(EmitError::Inconsistent("fragments are numbered from 1")));
    }

    #[test]
    fn debug_shows_the_size_not_the_data() {
        let f = FragmentRepr { id: 1, number: 1, flags: 0, data: vec![0x41; 3] };
        assert_eq!(format!("{f:?}"), "FragmentRepr { id: 1, number: 1, flags: 0, data_len: 3 }");
    }

    fn big_message(body: usize) -> Vec<u8> {
        let header = HeaderRepr::new([1; 8], [2; 8], ExchangeType::MAIN, 0);
        let msg = MessageRepr { header, body: crate::Body::Encrypted(vec![0x5a; body]) };
        msg.to_vec().unwrap()
    }

    #[test]
    fn a_message_is_split_into_numbered_fragments_that_join_back() {
        let whole = big_message(1000);
        let parts = split_message(&whole, ExchangeType::MAIN, 7, 300).unwrap();
        // 300 - 28 - 8 = 264 octets of the 1028 per fragment: 4 fragments.
        assert_eq!(parts.len(), 4);
        let mut joined = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            assert!(p.len() <= 300);
            let m = MessageRepr::parse(p).unwrap();
            assert_eq!(m.header.cookie_i, [1; 8]);
            assert_eq!(m.header.cookie_r, [2; 8]);
            assert_eq!((m.header.message_id, m.header.flags.encryption), (0, false));
            assert_eq!(m.payload_types(), [PayloadType::FRAGMENT]);
            let Some(Payload::Fragment(f)) = m.payloads().first() else { panic!("fragment") };
            assert_eq!((f.id, usize::from(f.number), f.is_last()), (7, i + 1, i == 3));
            joined.extend_from_slice(&f.data);
        }
        assert_eq!(joined, whole);
    }

    #[test]
    fn what_fits_is_not_split_and_impossible_sizes_are_refused() {
        let whole = big_message(100);
        assert_eq!(
            split_message(&whole, ExchangeType::AGGRESSIVE, 1, 128).unwrap(),
            vec![whole.clone()]
        );
        assert_eq!(
            split_message(&whole, ExchangeType::AGGRESSIVE, 1, 36),
            Err(EmitError::Inconsistent("the message size leaves no room for a fragment"))
        );
        assert_eq!(
            split_message(&big_message(300), ExchangeType::AGGRESSIVE, 1, 37),
            Err(EmitError::Inconsistent("a message needs more than 255 fragments"))
        );
        assert_eq!(
            split_message(&[0; 40], ExchangeType::AGGRESSIVE, 1, 39),
            Err(EmitError::Inconsistent("only an ISAKMP message can be fragmented"))
        );
    }
}
