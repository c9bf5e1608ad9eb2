//! A whole IKE message: header plus payload chain (RFC 7296 §3).

use crate::error::{DecodeError, EmitError, check_room};
use crate::header::{HEADER_LEN, HeaderRepr};
use crate::payload::{
    self, EncryptedFragmentRepr, EncryptedRepr, GENERIC_HEADER_LEN, NotifyRepr, Payload,
    PayloadRepr,
};
use crate::reader::Writer;
use crate::registry::{NotifyType, PayloadType, ProtocolId};

/// A Notify body's fixed part: Protocol ID, SPI Size, Notify Message Type (RFC 7296 §3.10).
const NOTIFY_FIXED_LEN: usize = 4;

/// Length of a message of one Notify payload without an SPI carrying `data_len` octets.
pub const fn notify_message_len(data_len: usize) -> usize {
    HEADER_LEN + GENERIC_HEADER_LEN + NOTIFY_FIXED_LEN + data_len
}

/// Encode a message of one Notify payload without an SPI (`kind`, `data`) into the front of
/// `buf`, the header's Next Payload and Length filled in; returns the bytes written. The bytes
/// are those [`MessageRepr::emit`] gives for that message, without building one: a responder
/// sends such stateless replies (COOKIE, INVALID_KE_PAYLOAD, RFC 7296 §2.6 and §1.2) per
/// datagram, spoofed ones included.
pub fn emit_notify_message(
    header: &HeaderRepr,
    kind: NotifyType,
    data: &[u8],
    buf: &mut [u8],
) -> Result<usize, EmitError> {
    let len = notify_message_len(data.len());
    check_room(buf, len)?;
    let length =
        u32::try_from(len).map_err(|_| EmitError::TooLong { field: "message length", len })?;
    HeaderRepr { next_payload: PayloadType::NOTIFY, length, ..*header }.emit(buf)?;
    let mut w = Writer::new(&mut buf[HEADER_LEN..len]);
    w.generic_header(PayloadType::NONE.0, 0, "payload length", len - HEADER_LEN)?;
    w.u8(ProtocolId::NONE.0)?;
    w.u8(0)?;
    w.u16(kind.0)?;
    w.put(data)?;
    Ok(len)
}

/// An IKE message with owned payloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRepr {
    /// The header. On emit, `next_payload` and `length` are recomputed
    /// from the payloads.
    pub header: HeaderRepr,
    /// The payloads in order. If the message is protected, the last one is
    /// an SK or SKF payload and the inner payloads are in its ciphertext.
    pub payloads: Vec<Payload>,
}

impl MessageRepr {
    /// Decode one IKE message occupying all of `bytes` (a UDP payload with
    /// any non-ESP marker already removed).
    ///
    /// The header's Length must equal `bytes.len()`: a longer claim is
    /// [`DecodeErrorKind::Truncated`](crate::DecodeErrorKind::Truncated) at the end of the data, a shorter one
    /// [`DecodeErrorKind::TrailingData`](crate::DecodeErrorKind::TrailingData) at the claimed end.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let header = HeaderRepr::parse(bytes)?;
        crate::header::Packet::new_unchecked(bytes).check_message_length()?;
        let payloads =
            payload::parse_chain_at(header.next_payload, &bytes[HEADER_LEN..], HEADER_LEN)?;
        Ok(Self { header, payloads })
    }

    /// Encoded length.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + payload::chain_len(&self.payloads)
    }

    /// Encode into the front of `buf`, filling in the header's Next Payload
    /// and Length; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        self.emit_sized(buf, self.buffer_len())
    }

    /// [`MessageRepr::emit`] with `len`, our [`MessageRepr::buffer_len`], already computed.
    fn emit_sized(&self, buf: &mut [u8], len: usize) -> Result<usize, EmitError> {
        check_room(buf, len)?;
        let length =
            u32::try_from(len).map_err(|_| EmitError::TooLong { field: "message length", len })?;
        let header =
            HeaderRepr { next_payload: payload::first_type(&self.payloads), length, ..self.header };
        header.emit(buf)?;
        let n = payload::emit_chain_exact(&self.payloads, &mut buf[HEADER_LEN..len])?;
        Ok(HEADER_LEN + n)
    }

    /// Encode into a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, EmitError> {
        let len = self.buffer_len();
        let mut buf = vec![0u8; len];
        let n = self.emit_sized(&mut buf, len)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// The payload types in order (what a protocol trace shows).
    pub fn payload_types(&self) -> Vec<PayloadType> {
        self.payloads.iter().map(Payload::kind).collect()
    }

    /// The first Notify payload of type `kind`.
    pub fn find_notify(&self, kind: NotifyType) -> Option<&NotifyRepr> {
        self.notifies().find(|n| n.kind == kind)
    }

    /// All Notify payloads.
    pub fn notifies(&self) -> impl Iterator<Item = &NotifyRepr> {
        self.payloads.iter().filter_map(|p| match &p.body {
            PayloadRepr::Notify(n) => Some(n),
            _ => None,
        })
    }

    /// The first payload of type `kind`.
    pub fn find(&self, kind: PayloadType) -> Option<&PayloadRepr> {
        self.payloads.iter().find(|p| p.kind() == kind).map(|p| &p.body)
    }

    /// The SK payload, if the message is protected.
    pub fn encrypted(&self) -> Option<&EncryptedRepr> {
        match self.payloads.last().map(|p| &p.body) {
            Some(PayloadRepr::Encrypted(sk)) => Some(sk),
            _ => None,
        }
    }

    /// The SKF payload, if the message is a fragment.
    pub fn encrypted_fragment(&self) -> Option<&EncryptedFragmentRepr> {
        match self.payloads.last().map(|p| &p.body) {
            Some(PayloadRepr::EncryptedFragment(skf)) => Some(skf),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::Flags;
    use crate::registry::ExchangeType;

    /// The in-place stateless reply is byte for byte the message built from payloads, and a
    /// short buffer is an error naming the size needed.
    #[test]
    fn notify_message_matches_the_built_message() {
        let header = HeaderRepr {
            spi_i: 0x0102_0304_0506_0708,
            spi_r: 0,
            next_payload: PayloadType::NONE,
            version: 0x20,
            exchange: ExchangeType::IKE_SA_INIT,
            flags: Flags { response: true, ..Flags::default() },
            message_id: 0,
            length: 0,
        };
        for (kind, data) in [
            (NotifyType::COOKIE, &[7u8; 17][..]),
            (NotifyType::INVALID_KE_PAYLOAD, &[0, 31][..]),
            (NotifyType::NO_PROPOSAL_CHOSEN, &[][..]),
        ] {
            let notify = NotifyRepr::new(kind, data.to_vec());
            let built =
                MessageRepr { header, payloads: vec![Payload::new(PayloadRepr::Notify(notify))] };
            let want = built.to_vec().unwrap();
            let mut buf = [0xffu8; 80];
            let n = emit_notify_message(&header, kind, data, &mut buf).unwrap();
            assert_eq!(&buf[..n], want.as_slice(), "{kind:?}");
            assert_eq!(n, notify_message_len(data.len()));
            let short = &mut buf[..n - 1];
            assert_eq!(
                emit_notify_message(&header, kind, data, short),
                Err(EmitError::BufferTooShort { needed: n, available: n - 1 })
            );
        }
    }
}
