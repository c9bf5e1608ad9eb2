//! A whole IKE message: header plus payload chain (RFC 7296 §3).

use crate::error::{DecodeError, EmitError, check_room};
use crate::header::{HEADER_LEN, HeaderRepr};
use crate::payload::{
    self, EncryptedFragmentRepr, EncryptedRepr, NotifyRepr, Payload, PayloadRepr,
};
use crate::registry::{NotifyType, PayloadType};

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
        let len = self.buffer_len();
        check_room(buf, len)?;
        let length =
            u32::try_from(len).map_err(|_| EmitError::TooLong { field: "message length", len })?;
        let header =
            HeaderRepr { next_payload: payload::first_type(&self.payloads), length, ..self.header };
        header.emit(buf)?;
        let n = payload::emit_chain(&self.payloads, &mut buf[HEADER_LEN..len])?;
        Ok(HEADER_LEN + n)
    }

    /// Encode into a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, EmitError> {
        let mut buf = vec![0u8; self.buffer_len()];
        let n = self.emit(&mut buf)?;
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
