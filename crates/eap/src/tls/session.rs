//! What both roles share: a rustls connection fed from and drained into memory, the
//! fragments in flight each way, the round bound, and the MSK.

use std::io::Read as _;

use ikeway_crypto::SecretBytes;
use rustls::{AlertDescription, CertificateError, Connection, ProtocolVersion};
use zeroize::Zeroizing;

use super::config::{FailureSlot, take_failure};
use super::frame::{Frame, Outgoing, Reassembly};
use crate::EapFailure;

/// The round bound of a conversation running EAP-TLS, instead of
/// [`crate::limits::MAX_ROUNDS`]: a full handshake with 1 KiB fragments takes under 20
/// rounds, but a flight of a few kilobytes in [`super::MIN_FRAGMENT_SIZE`] pieces takes
/// about a hundred; a side feeding us one byte at a time is still stopped.
pub const MAX_TLS_ROUNDS: u32 = 256;

/// RFC 5216 §2.3 (TLS 1.2): PRF label; the seed is client.random || server.random.
const LABEL_TLS12: &[u8] = b"client EAP encryption";
/// RFC 9190 §2.3 (TLS 1.3): exporter label, context = the EAP-TLS Type-Code.
const LABEL_TLS13: &[u8] = b"EXPORTER_EAP_TLS_Key_Material";
const CONTEXT_TLS13: &[u8] = &[13];
/// Draft-era EAP-TLS 1.3 (strongSwan 5.9.2 to 5.9.9, which says FreeRADIUS 3.0.x does the
/// same): TLS 1.3's exporter with RFC 5216's label and an empty context, 128 octets.
const LABEL_TLS13_DRAFT: &[u8] = b"client EAP encryption";
/// Key_Material is 128 octets (MSK || EMSK); the TLS 1.3 exporter mixes the length in, so the
/// MSK must be cut from a 128-octet export, not exported at 64.
const KEY_MATERIAL_LEN: usize = 128;
const MSK_LEN: usize = 64;

/// Which key derivation a TLS 1.3 run follows (TLS 1.2 has only RFC 5216's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tls13Keys {
    /// RFC 9190 §2.3.
    Rfc9190,
    /// Draft-era EAP-TLS 1.3 (strongSwan 5.9.2 to 5.9.9): [`LABEL_TLS13_DRAFT`], empty
    /// context.
    Draft,
}

/// What one incoming EAP-TLS message amounts to.
#[derive(Debug)]
pub(super) enum Received {
    /// The other side acknowledged our fragment: send this next one.
    NextFragment(Vec<u8>),
    /// A fragment of theirs: acknowledge it.
    Partial,
    /// A whole TLS message (possibly empty: an acknowledgement or "nothing to say").
    Message(Vec<u8>),
}

#[derive(Debug)]
pub(super) struct Session {
    pub(super) conn: Connection,
    /// Where our verifier leaves the exact reason of a refused certificate.
    failure: FailureSlot,
    incoming: Reassembly,
    outgoing: Option<Outgoing>,
    fragment_size: usize,
}

impl Session {
    pub(super) fn new(conn: Connection, failure: FailureSlot, fragment_size: usize) -> Self {
        Self { conn, failure, incoming: Reassembly::default(), outgoing: None, fragment_size }
    }

    /// Sorts one frame: an acknowledgement while we are sending fragments, a fragment of
    /// theirs, or a complete message. While we still have fragments to send, anything but an
    /// acknowledgement is refused (RFC 5216 §2.1.5: each fragment is acknowledged, and the
    /// other side cannot speak before our message is complete).
    pub(super) fn receive(&mut self, frame: &Frame<'_>) -> Result<Received, EapFailure> {
        if let Some(out) = self.outgoing.as_mut().filter(|o| o.pending()) {
            return if frame.is_ack() {
                Ok(Received::NextFragment(out.next_fragment()))
            } else {
                Err(EapFailure::Malformed)
            };
        }
        self.outgoing = None;
        Ok(match self.incoming.push(frame)? {
            Some(message) => Received::Message(message),
            None => Received::Partial,
        })
    }

    /// Starts sending `data`; returns the first fragment's Type-Data.
    pub(super) fn send(&mut self, data: Vec<u8>) -> Vec<u8> {
        let mut out = Outgoing::new(data, self.fragment_size);
        let first = out.next_fragment();
        self.outgoing = Some(out);
        first
    }

    /// Whether a message is half sent or half received.
    pub(super) fn in_flight(&self) -> bool {
        self.outgoing.as_ref().is_some_and(Outgoing::pending) || self.incoming.open()
    }

    /// Hands a whole TLS message to rustls and lets it process every record in it.
    pub(super) fn feed(&mut self, mut bytes: &[u8]) -> Result<(), EapFailure> {
        while !bytes.is_empty() {
            // An io error here is rustls refusing to buffer more (a message too large for its
            // deframer): the message is malformed for us.
            let n = self.conn.read_tls(&mut bytes).map_err(|_| EapFailure::Malformed)?;
            if n == 0 {
                return Err(EapFailure::Malformed);
            }
            self.conn.process_new_packets().map_err(|e| self.failure_of(&e))?;
        }
        Ok(())
    }

    /// Everything rustls wants to send (a flight, an alert).
    pub(super) fn drain(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            // Writing into a Vec cannot fail; a zero write would mean nothing left.
            match self.conn.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out
    }

    /// Application data received so far (bounded by rustls's plaintext buffer limit).
    pub(super) fn read_plaintext(&mut self) -> Vec<u8> {
        let mut data = Vec::new();
        let mut buf = [0u8; 256];
        // WouldBlock (nothing buffered) and a close ends the loop alike.
        while let Ok(n @ 1..) = self.conn.reader().read(&mut buf) {
            data.extend_from_slice(&buf[..n]);
        }
        data
    }

    pub(super) fn version(&self) -> Option<ProtocolVersion> {
        self.conn.protocol_version()
    }

    /// The exact reason for a rustls error: our verifier's refusal as it said it, a received
    /// alert by its code, our own errors by the alert rustls sends for them.
    fn failure_of(&self, e: &rustls::Error) -> EapFailure {
        use ikeway_pki::CertFailure;
        use rustls::Error as E;
        let alert = |a: AlertDescription| EapFailure::Tls(u8::from(a));
        match e {
            E::InvalidCertificate(c) => match take_failure(&self.failure) {
                Some(failure) => EapFailure::TlsCertificate(failure),
                // rustls's own checks: the handshake signature made with the certificate.
                None => match c {
                    CertificateError::BadSignature => {
                        EapFailure::TlsCertificate(CertFailure::BadSignature)
                    }
                    CertificateError::UnsupportedSignatureAlgorithmContext { .. }
                    | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext {
                        ..
                    } => EapFailure::TlsCertificate(CertFailure::UnsupportedKey),
                    CertificateError::BadEncoding => {
                        EapFailure::TlsCertificate(CertFailure::Malformed)
                    }
                    other => alert(AlertDescription::from(other.clone())),
                },
            },
            E::NoCertificatesPresented => EapFailure::TlsCertificate(CertFailure::NoCertificate),
            E::AlertReceived(a) => alert(*a),
            E::PeerIncompatible(p) => {
                use rustls::PeerIncompatible as P;
                match p {
                    P::ServerDoesNotSupportTls12Or13
                    | P::ServerTlsVersionIsDisabledByOurConfig
                    | P::SupportedVersionsExtensionRequired
                    | P::Tls12NotOffered
                    | P::Tls12NotOfferedOrEnabled => alert(AlertDescription::ProtocolVersion),
                    _ => alert(AlertDescription::HandshakeFailure),
                }
            }
            E::InappropriateMessage { .. } | E::InappropriateHandshakeMessage { .. } => {
                alert(AlertDescription::UnexpectedMessage)
            }
            E::InvalidMessage(_) => alert(AlertDescription::DecodeError),
            E::DecryptError => alert(AlertDescription::BadRecordMac),
            E::PeerSentOversizedRecord => alert(AlertDescription::RecordOverflow),
            E::PeerMisbehaved(_) => alert(AlertDescription::IllegalParameter),
            _ => alert(AlertDescription::InternalError),
        }
    }

    /// The MSK of the finished handshake (module doc); `tls13` picks the derivation when
    /// TLS 1.3 ran.
    pub(super) fn msk(&self, tls13: Tls13Keys) -> Result<SecretBytes, EapFailure> {
        let (label, context) = match (self.version(), tls13) {
            (Some(ProtocolVersion::TLSv1_3), Tls13Keys::Rfc9190) => {
                (LABEL_TLS13, Some(CONTEXT_TLS13))
            }
            // RFC 8446 §7.5: no context and an empty one hash alike.
            (Some(ProtocolVersion::TLSv1_3), Tls13Keys::Draft) => (LABEL_TLS13_DRAFT, None),
            (Some(ProtocolVersion::TLSv1_2), _) => (LABEL_TLS12, None),
            _ => return Err(EapFailure::PrematureSuccess),
        };
        let mut material = Zeroizing::new([0u8; KEY_MATERIAL_LEN]);
        self.conn
            .export_keying_material(&mut material[..], label, context)
            .map_err(|_| EapFailure::PrematureSuccess)?;
        Ok(SecretBytes::from_slice(&material[..MSK_LEN]))
    }
}
