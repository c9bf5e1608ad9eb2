//! EAP-TLS framing (RFC 5216 §3.1, RFC 9190 §2.1.5): the Flags octet, the optional TLS
//! Message Length, fragmentation of what we send and bounded reassembly of what we receive.
//!
//! ```text
//! |     Flags     |      TLS Message Length (4 octets, only with L)
//! |     TLS Data...
//!   Flags: L (0x80) length included, M (0x40) more fragments, S (0x20) start
//! ```
//!
//! Pure byte handling, no TLS: the fuzz target `eap_tls` drives it directly.

use crate::EapFailure;

/// Length included (RFC 5216 §3.1).
pub(crate) const FLAG_L: u8 = 0x80;
/// More fragments follow.
pub(crate) const FLAG_M: u8 = 0x40;
/// EAP-TLS start (only in the server's first request).
pub(crate) const FLAG_S: u8 = 0x20;

/// Size of the TLS Message Length field.
const LENGTH_LEN: usize = 4;

/// The most TLS bytes one reassembled message may hold: a handshake flight with a long
/// certificate chain fits several times over, and a peer cannot make us buffer more.
pub const MAX_TLS_MESSAGE: usize = 64 * 1024;

/// The TLS bytes we put in one EAP message unless the configuration says otherwise: with the
/// EAP (5), EAP-TLS (5) and IKE headers the IKE message stays well under a 1280-byte IPv6
/// path MTU only with IKE fragmentation; strongSwan's default is 1024 as well.
pub const DEFAULT_FRAGMENT_SIZE: usize = 1024;

/// The bounds a configured fragment size is clamped to: below the lower one a handshake takes
/// hundreds of rounds; above the upper one an EAP message no longer fits an IKE payload
/// comfortably (16-bit lengths, RFC 7296 §3.2).
pub const MIN_FRAGMENT_SIZE: usize = 64;
/// See [`MIN_FRAGMENT_SIZE`].
pub const MAX_FRAGMENT_SIZE: usize = 16 * 1024;

/// One EAP-TLS Type-Data, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    pub(crate) flags: u8,
    /// The TLS Message Length when L is set.
    pub(crate) length: Option<u32>,
    pub(crate) data: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Parses the Type-Data of an EAP-TLS Request or Response. Reserved flag bits are ignored
    /// (RFC 5216 §3.1 leaves them to future use).
    pub(crate) fn parse(type_data: &'a [u8]) -> Result<Self, EapFailure> {
        let (&flags, rest) = type_data.split_first().ok_or(EapFailure::Malformed)?;
        if flags & FLAG_L == 0 {
            return Ok(Self { flags, length: None, data: rest });
        }
        let (len, data) = rest.split_at_checked(LENGTH_LEN).ok_or(EapFailure::Malformed)?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| EapFailure::Malformed)?);
        Ok(Self { flags, length: Some(len), data })
    }

    pub(crate) fn more(&self) -> bool {
        self.flags & FLAG_M != 0
    }

    pub(crate) fn start(&self) -> bool {
        self.flags & FLAG_S != 0
    }

    /// An acknowledgement (or "nothing to say"): no data, no fragment pending (RFC 5216
    /// §2.1.5: "an EAP-Request/Response with no data").
    pub(crate) fn is_ack(&self) -> bool {
        self.data.is_empty() && !self.more() && self.length.is_none()
    }
}

/// The Type-Data of an empty EAP-TLS message: an acknowledgement of a fragment, or the
/// peer's reply when it has nothing to send.
pub(crate) fn ack() -> Vec<u8> {
    vec![0]
}

/// The Type-Data of the server's EAP-TLS/Start.
pub(crate) fn start() -> Vec<u8> {
    vec![FLAG_S]
}

/// What we still have to send of one TLS message (or flight), one fragment per EAP message.
#[derive(Debug)]
pub(crate) struct Outgoing {
    data: Vec<u8>,
    sent: usize,
    fragment: usize,
}

impl Outgoing {
    /// `fragment` is clamped to [`MIN_FRAGMENT_SIZE`, `MAX_FRAGMENT_SIZE`].
    pub(crate) fn new(data: Vec<u8>, fragment: usize) -> Self {
        Self { data, sent: 0, fragment: fragment.clamp(MIN_FRAGMENT_SIZE, MAX_FRAGMENT_SIZE) }
    }

    /// The next Type-Data: the first fragment of a split message carries L and the total
    /// length (RFC 5216 §2.1.5), every fragment but the last carries M. An unsplit message
    /// goes without L, as strongSwan and FreeRADIUS send it.
    pub(crate) fn next_fragment(&mut self) -> Vec<u8> {
        let total = self.data.len();
        let end = total.min(self.sent + self.fragment);
        let first = self.sent == 0;
        let more = end < total;
        let mut flags = 0;
        if more {
            flags |= FLAG_M;
        }
        let with_length = first && more;
        if with_length {
            flags |= FLAG_L;
        }
        let mut out = Vec::with_capacity(1 + LENGTH_LEN + (end - self.sent));
        out.push(flags);
        if with_length {
            // `total` is at most MAX_TLS_MESSAGE-ish (what rustls wrote for one flight), far
            // below u32::MAX; saturate rather than wrap if that ever changes.
            out.extend_from_slice(&u32::try_from(total).unwrap_or(u32::MAX).to_be_bytes());
        }
        out.extend_from_slice(&self.data[self.sent..end]);
        self.sent = end;
        out
    }

    /// Whether fragments remain after the ones handed out.
    pub(crate) fn pending(&self) -> bool {
        self.sent < self.data.len()
    }
}

/// Incoming fragments of one TLS message, bounded by [`MAX_TLS_MESSAGE`].
#[derive(Debug, Default)]
pub(crate) struct Reassembly {
    buf: Vec<u8>,
    /// The TLS Message Length of the first fragment, when it had one.
    declared: Option<u32>,
    /// Whether a fragment with M set was received and its message is not complete yet.
    open: bool,
}

impl Reassembly {
    /// Adds one frame. `Ok(Some(message))` when it completes a message (its bytes), `Ok(None)`
    /// when more fragments are due (acknowledge it). A length over the bound, bytes beyond the
    /// declared length, a final length different from the declared one, a fragment with M and
    /// no data (no progress) or a changed length: `Malformed`.
    pub(crate) fn push(&mut self, frame: &Frame<'_>) -> Result<Option<Vec<u8>>, EapFailure> {
        if let Some(len) = frame.length {
            let len_usize = usize::try_from(len).map_err(|_| EapFailure::Malformed)?;
            if len_usize > MAX_TLS_MESSAGE {
                return Err(EapFailure::Malformed);
            }
            match self.declared {
                // A repeated L on a later fragment must say the same.
                Some(d) if d != len => return Err(EapFailure::Malformed),
                None if self.open => return Err(EapFailure::Malformed),
                _ => self.declared = Some(len),
            }
        }
        if frame.more() && frame.data.is_empty() {
            return Err(EapFailure::Malformed);
        }
        let limit = self.declared.map_or(MAX_TLS_MESSAGE, |d| d as usize);
        if self.buf.len() + frame.data.len() > limit {
            return Err(EapFailure::Malformed);
        }
        self.buf.extend_from_slice(frame.data);
        if frame.more() {
            self.open = true;
            return Ok(None);
        }
        if self.declared.is_some_and(|d| d as usize != self.buf.len()) {
            return Err(EapFailure::Malformed);
        }
        self.open = false;
        self.declared = None;
        Ok(Some(core::mem::take(&mut self.buf)))
    }

    /// Whether a fragmented message is half received.
    pub(crate) fn open(&self) -> bool {
        self.open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(bytes: &[u8]) -> Frame<'_> {
        Frame::parse(bytes).expect("well formed")
    }

    #[test]
    fn parses_flags_and_length() {
        let f = frame(&[FLAG_L | FLAG_M, 0, 0, 1, 0, 0xaa, 0xbb]);
        assert_eq!(f, Frame { flags: FLAG_L | FLAG_M, length: Some(256), data: &[0xaa, 0xbb] });
        assert!(f.more() && !f.start() && !f.is_ack());
        let s = frame(&[FLAG_S]);
        assert!(s.start() && s.is_ack());
        assert!(frame(&[0]).is_ack());
    }

    #[test]
    fn rejects_empty_type_data_and_truncated_length() {
        assert_eq!(Frame::parse(&[]), Err(EapFailure::Malformed));
        assert_eq!(Frame::parse(&[FLAG_L, 0, 0, 1]), Err(EapFailure::Malformed));
    }

    #[test]
    fn fragments_then_reassembles_the_same_bytes() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut out = Outgoing::new(data.clone(), 300);
        let mut parts = Vec::new();
        while out.pending() {
            parts.push(out.next_fragment());
        }
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0][..5], [FLAG_L | FLAG_M, 0, 0, 0x03, 0xe8]);
        assert_eq!(parts[1][0], FLAG_M);
        assert_eq!(parts[3][0], 0);
        assert_eq!(parts[3].len(), 1 + 100);
        let mut r = Reassembly::default();
        for p in &parts[..3] {
            assert_eq!(r.push(&frame(p)), Ok(None));
            assert!(r.open());
        }
        assert_eq!(r.push(&frame(&parts[3])), Ok(Some(data)));
        assert!(!r.open());
    }

    #[test]
    fn unsplit_message_has_no_length() {
        let mut out = Outgoing::new(vec![1, 2, 3], 1024);
        assert_eq!(out.next_fragment(), vec![0, 1, 2, 3]);
        assert!(!out.pending());
    }

    #[test]
    fn fragment_size_is_clamped() {
        let mut out = Outgoing::new(vec![7; 100], 1);
        assert_eq!(out.next_fragment().len(), 1 + 4 + MIN_FRAGMENT_SIZE);
    }

    #[test]
    fn rejects_length_over_the_bound() {
        let too_big = u32::try_from(MAX_TLS_MESSAGE + 1).unwrap().to_be_bytes();
        let bytes = [&[FLAG_L | FLAG_M][..], &too_big, &[1]].concat();
        assert_eq!(Reassembly::default().push(&frame(&bytes)), Err(EapFailure::Malformed));
    }

    #[test]
    fn rejects_bytes_beyond_the_declared_length() {
        let mut r = Reassembly::default();
        assert_eq!(r.push(&frame(&[FLAG_L | FLAG_M, 0, 0, 0, 3, 1, 2])), Ok(None));
        assert_eq!(r.push(&frame(&[0, 3, 4])), Err(EapFailure::Malformed));
    }

    #[test]
    fn rejects_a_final_length_short_of_the_declared_one() {
        let mut r = Reassembly::default();
        assert_eq!(r.push(&frame(&[FLAG_L | FLAG_M, 0, 0, 0, 5, 1, 2])), Ok(None));
        assert_eq!(r.push(&frame(&[0, 3])), Err(EapFailure::Malformed));
        // Unfragmented with a lying L as well.
        let mut r = Reassembly::default();
        assert_eq!(r.push(&frame(&[FLAG_L, 0, 0, 0, 9, 1])), Err(EapFailure::Malformed));
    }

    #[test]
    fn rejects_a_changed_or_late_length() {
        let mut r = Reassembly::default();
        assert_eq!(r.push(&frame(&[FLAG_L | FLAG_M, 0, 0, 0, 4, 1])), Ok(None));
        assert_eq!(r.push(&frame(&[FLAG_L | FLAG_M, 0, 0, 0, 5, 2])), Err(EapFailure::Malformed));
        let mut r = Reassembly::default();
        assert_eq!(r.push(&frame(&[FLAG_M, 1])), Ok(None));
        assert_eq!(r.push(&frame(&[FLAG_L, 0, 0, 0, 2, 2])), Err(EapFailure::Malformed));
        // The same L repeated is fine.
        let mut r = Reassembly::default();
        assert_eq!(r.push(&frame(&[FLAG_L | FLAG_M, 0, 0, 0, 2, 1])), Ok(None));
        assert_eq!(r.push(&frame(&[FLAG_L, 0, 0, 0, 2, 2])), Ok(Some(vec![1, 2])));
    }

    #[test]
    fn rejects_an_empty_more_fragment() {
        assert_eq!(Reassembly::default().push(&frame(&[FLAG_M])), Err(EapFailure::Malformed));
    }

    #[test]
    fn unbounded_fragments_without_length_stop_at_the_bound() {
        let mut r = Reassembly::default();
        let chunk = [&[FLAG_M][..], &[0u8; 1000]].concat();
        let mut pushed = 0;
        let result = loop {
            match r.push(&frame(&chunk)) {
                Ok(None) => pushed += 1000,
                other => break other,
            }
        };
        assert_eq!(result, Err(EapFailure::Malformed));
        assert_eq!(pushed, MAX_TLS_MESSAGE / 1000 * 1000);
    }
}
