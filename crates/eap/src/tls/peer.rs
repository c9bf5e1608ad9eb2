//! The peer (client) role of EAP-TLS.

use ikeway_crypto::SecretBytes;
use rand_core::CryptoRng;
use rustls::{ClientConnection, Connection, ProtocolVersion};

use super::TlsPeerConfig;
use super::config::{client_config, placeholder_server_name};
use super::frame::{self, Frame};
use super::session::{MAX_TLS_ROUNDS, Received, Session, Tls13Keys};
use crate::EapFailure;
use crate::method::{Finished, PeerMethod};

/// RFC 9190 §2.1.1: the server's protected success indication under TLS 1.3.
const SUCCESS_INDICATION: &[u8] = &[0x00];

/// One EAP-TLS authentication as the peer: fed the Type-Data of each EAP-TLS Request, it
/// answers the Type-Data of the Response; on EAP-Success the conversation asks
/// `PeerMethod::finish` (the MSK, or a refusal), on EAP-Failure `PeerMethod::failure`.
#[derive(Debug)]
pub(crate) struct TlsPeer {
    session: Session,
    /// The server's Start arrived (our ClientHello went out).
    started: bool,
    /// TLS 1.3: the 0x00 application data arrived.
    indicated: bool,
    /// `TlsPeerConfig::draft_tls13_compat`.
    draft_compat: bool,
    /// Why we gave up; kept until the server's EAP-Failure, after we sent our alert (RFC 5216
    /// §2.1.4) or acknowledged the server's (§2.1.3).
    failed: Option<EapFailure>,
}

impl TlsPeer {
    /// Our ClientHello is ready (sent on the server's Start). A configuration rustls cannot
    /// use (empty version range, a key it cannot sign with) means we cannot run the method.
    pub(crate) fn new(config: &TlsPeerConfig) -> Result<Self, EapFailure> {
        let unusable = EapFailure::MethodNotAllowed(crate::EapType::TLS.0);
        let (tls, failure) = client_config(config).map_err(|_| unusable)?;
        let conn = ClientConnection::new(tls, placeholder_server_name()).map_err(|_| unusable)?;
        Ok(Self {
            session: Session::new(Connection::Client(conn), failure, config.fragment_size),
            started: false,
            indicated: false,
            draft_compat: config.draft_tls13_compat,
            failed: None,
        })
    }

    /// One EAP-TLS Request's Type-Data; the Response's Type-Data, or why the method ends at
    /// once.
    fn step(&mut self, type_data: &[u8]) -> Result<Vec<u8>, EapFailure> {
        if let Some(failure) = self.failed {
            // The server goes on after our alert: it should have sent EAP-Failure.
            return Err(failure);
        }
        let frame = Frame::parse(type_data)?;
        if !self.started {
            // RFC 5216 §2.1.1: the conversation starts with the S flag (its data, if any,
            // means nothing).
            if !frame.start() {
                return Err(EapFailure::Malformed);
            }
            self.started = true;
            let hello = self.session.drain();
            return Ok(self.session.send(hello));
        }
        if frame.start() {
            return Err(EapFailure::Malformed);
        }
        let message = match self.session.receive(&frame)? {
            Received::NextFragment(next) => return Ok(next),
            Received::Partial => return Ok(frame::ack()),
            Received::Message(message) => message,
        };
        if let Err(failure) = self.session.feed(&message) {
            self.failed = Some(failure);
            // Our alert if rustls made one, else an empty Response; EAP-Failure follows.
            let alert = self.session.drain();
            return Ok(if alert.is_empty() { frame::ack() } else { self.session.send(alert) });
        }
        self.check_application_data()?;
        let out = self.session.drain();
        Ok(if out.is_empty() { frame::ack() } else { self.session.send(out) })
    }

    /// After the handshake the server sends no application data but, under TLS 1.3, the one
    /// 0x00 octet of RFC 9190 §2.1.1; anything else is refused.
    fn check_application_data(&mut self) -> Result<(), EapFailure> {
        let data = self.session.read_plaintext();
        if data.is_empty() {
            return Ok(());
        }
        let tls13 = self.session.version() == Some(ProtocolVersion::TLSv1_3);
        if tls13 && !self.indicated && data == SUCCESS_INDICATION {
            self.indicated = true;
            Ok(())
        } else {
            Err(EapFailure::Malformed)
        }
    }

    /// The MSK if the server proved itself and finished the method (TLS 1.2: its Finished;
    /// TLS 1.3: its Finished and the success indication, or, with `draft_compat`, its
    /// Finished alone and the draft-era MSK).
    fn msk(&self) -> Option<SecretBytes> {
        // Not handshaking: the server's Finished is verified and our Finished written; nothing
        // in flight: every fragment of it went out, the Success being the answer to the last.
        if self.failed.is_some()
            || !self.started
            || self.session.in_flight()
            || self.session.conn.is_handshaking()
        {
            return None;
        }
        let keys = match self.session.version() {
            Some(ProtocolVersion::TLSv1_3) if self.indicated => Tls13Keys::Rfc9190,
            Some(ProtocolVersion::TLSv1_3) if self.draft_compat => Tls13Keys::Draft,
            Some(ProtocolVersion::TLSv1_3) => return None,
            _ => Tls13Keys::Rfc9190,
        };
        self.session.msk(keys).ok()
    }
}

impl PeerMethod for TlsPeer {
    /// rustls draws the TLS randomness from aws-lc-rs; `rng` is not used.
    fn handle(
        &mut self,
        _identifier: u8,
        data: &[u8],
        _rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, EapFailure> {
        self.step(data)
    }

    /// `None` (so EAP-Success is refused, RFC 4137 §4.1) until the handshake is over, the
    /// server's Finished verified and, under TLS 1.3, its success indication received (or,
    /// with `draft_tls13_compat`, not: a draft-era server).
    fn finish(&mut self) -> Option<Finished> {
        self.msk().map(|msk| Finished { msk: Some(msk) })
    }

    /// Our own reason if we gave up first (our alert went out), else the server's refusal.
    fn failure(&self) -> EapFailure {
        self.failed.unwrap_or(EapFailure::Rejected)
    }

    fn gave_up(&self) -> Option<EapFailure> {
        self.failed
    }

    fn max_rounds(&self) -> u32 {
        MAX_TLS_ROUNDS
    }
}
