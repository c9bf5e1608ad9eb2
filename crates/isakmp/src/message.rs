//! A whole ISAKMP message: header plus either a plaintext payload chain or
//! the ciphertext of an encrypted one (RFC 2408 §3.1, §5; RFC 2409 §5.3).

use crate::error::{DecodeError, DecodeErrorKind, EmitError, check_room};
use crate::header::{HEADER_LEN, HeaderRepr};
use crate::payload::{self, NotificationRepr, Payload, PayloadSpan};
use crate::registry::{NotifyType, PayloadType};

/// What follows the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The payloads, in the clear.
    Plain(Vec<Payload>),
    /// With the E flag: the ciphertext, for the negotiation to decrypt
    /// with the exchange's IV (RFC 2409 Appendix B) and decode with
    /// [`parse_chain`](crate::parse_chain) from the header's Next Payload.
    Encrypted(Vec<u8>),
}

/// An ISAKMP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRepr {
    /// The header. On emit, Length and the E flag are recomputed, and Next
    /// Payload too for a plaintext body (for an encrypted one it is kept:
    /// it names the first payload inside the ciphertext).
    pub header: HeaderRepr,
    /// The body.
    pub body: Body,
}

impl MessageRepr {
    /// Decode one message filling all of `bytes` (a UDP payload, any
    /// non-ESP marker removed).
    ///
    /// The header's Length must equal `bytes.len()`: a longer claim is
    /// `Truncated` at the end of the data, a shorter one `TrailingData` at
    /// the claimed end. A plaintext chain must end exactly at the end.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::parse_with_spans(bytes).map(|(m, _)| m)
    }

    /// [`parse`](Self::parse), also returning where each plaintext payload
    /// sat in `bytes` (none for an encrypted body): main mode message 1's
    /// SA body, for instance, is what HASH_I covers (RFC 2409 §5).
    pub fn parse_with_spans(bytes: &[u8]) -> Result<(Self, Vec<PayloadSpan>), DecodeError> {
        let header = HeaderRepr::parse(bytes)?;
        crate::header::Packet::new_unchecked(bytes).check_message_length()?;
        let rest = &bytes[HEADER_LEN..];
        if header.flags.encryption {
            return Ok((Self { header, body: Body::Encrypted(rest.to_vec()) }, Vec::new()));
        }
        let chain = payload::parse_chain_at(header.next_payload, rest, HEADER_LEN)?;
        if chain.used != rest.len() {
            return Err(DecodeError::new(DecodeErrorKind::TrailingData, HEADER_LEN + chain.used));
        }
        Ok((Self { header, body: Body::Plain(chain.payloads) }, chain.spans))
    }

    /// A plaintext message.
    pub fn plain(header: HeaderRepr, payloads: Vec<Payload>) -> Self {
        Self { header, body: Body::Plain(payloads) }
    }

    /// Encoded length.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
            + match &self.body {
                Body::Plain(p) => payload::chain_len(p),
                Body::Encrypted(c) => c.len(),
            }
    }

    /// Encode into the front of `buf`; returns the octets written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let len = self.buffer_len();
        check_room(buf, len)?;
        let length =
            u32::try_from(len).map_err(|_| EmitError::TooLong { field: "message length", len })?;
        let mut header = HeaderRepr { length, ..self.header };
        header.flags.encryption = matches!(self.body, Body::Encrypted(_));
        match &self.body {
            Body::Plain(p) => {
                header.next_payload = payload::first_type(p);
                payload::emit_chain(p, &mut buf[HEADER_LEN..len])?;
            }
            Body::Encrypted(c) => buf[HEADER_LEN..len].copy_from_slice(c),
        }
        header.emit(buf)?;
        Ok(len)
    }

    /// Encode into a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, EmitError> {
        let mut buf = vec![0u8; self.buffer_len()];
        let n = self.emit(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// The plaintext payloads (none if the body is encrypted).
    pub fn payloads(&self) -> &[Payload] {
        match &self.body {
            Body::Plain(p) => p,
            Body::Encrypted(_) => &[],
        }
    }

    /// The plaintext payload types in order.
    pub fn payload_types(&self) -> Vec<PayloadType> {
        self.payloads().iter().map(Payload::kind).collect()
    }

    /// The first plaintext payload of type `kind`.
    pub fn find(&self, kind: PayloadType) -> Option<&Payload> {
        self.payloads().iter().find(|p| p.kind() == kind)
    }

    /// The plaintext Notification payloads.
    pub fn notifications(&self) -> impl Iterator<Item = &NotificationRepr> {
        self.payloads().iter().filter_map(|p| match p {
            Payload::Notification(n) => Some(n),
            _ => None,
        })
    }

    /// The first plaintext Notification of type `kind`.
    pub fn find_notification(&self, kind: NotifyType) -> Option<&NotificationRepr> {
        self.notifications().find(|n| n.kind == kind)
    }
}
