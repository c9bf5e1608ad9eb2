//! The authenticator (server) role of EAP-TLS.

use std::io::Write as _;

use rand_core::CryptoRng;
use rustls::{Connection, ProtocolVersion, ServerConnection};

use super::TlsServerConfig;
use super::config::server_config;
use super::frame::{self, Frame};
use super::session::{MAX_TLS_ROUNDS, Received, Session, Tls13Keys};
use crate::EapFailure;
use crate::method::{ServerMethod, ServerStep};

/// One EAP-TLS authentication as the server, for the client that gave `identity`.
#[derive(Debug)]
pub(crate) struct TlsServer {
    session: Session,
    /// Our last flight (TLS 1.2 Finished, TLS 1.3 success indication) is out: the next
    /// empty Response ends the method.
    finished: bool,
    /// Why we refused, kept while our alert goes out (RFC 5216 §2.1.3: the peer answers it
    /// with an empty Response, then EAP-Failure).
    failed: Option<EapFailure>,
    /// `TlsServerConfig::draft_tls13`.
    draft: bool,
}

impl TlsServer {
    /// A TLS server for the client that said `identity` in its EAP-Identity: its certificate
    /// must name it.
    pub(crate) fn new(config: &TlsServerConfig, identity: &str) -> Result<Self, EapFailure> {
        let unusable = EapFailure::MethodNotAllowed(crate::EapType::TLS.0);
        let (tls, failure) = server_config(config, identity).map_err(|_| unusable)?;
        let conn = ServerConnection::new(tls).map_err(|_| unusable)?;
        Ok(Self {
            session: Session::new(Connection::Server(conn), failure, config.fragment_size),
            finished: false,
            failed: None,
            draft: config.draft_tls13,
        })
    }

    /// One EAP-TLS Response's Type-Data: the next Request's, Success with the MSK once the
    /// client proved itself and acknowledged our last flight, or why we refuse.
    fn step(&mut self, type_data: &[u8]) -> Result<ServerStep, EapFailure> {
        if let Some(failure) = self.failed {
            return Err(failure);
        }
        let frame = Frame::parse(type_data)?;
        if frame.start() {
            return Err(EapFailure::Malformed);
        }
        let message = match self.session.receive(&frame)? {
            Received::NextFragment(next) => return Ok(ServerStep::Request(next)),
            Received::Partial => return Ok(ServerStep::Request(frame::ack())),
            Received::Message(message) => message,
        };
        if self.finished {
            if message.is_empty() {
                return self.success();
            }
            // An alert about our last flight, or bytes that have no place here.
            self.session.feed(&message)?;
            return Err(EapFailure::Malformed);
        }
        if let Err(failure) = self.session.feed(&message) {
            let alert = self.session.drain();
            if alert.is_empty() {
                return Err(failure);
            }
            self.failed = Some(failure);
            return Ok(ServerStep::Request(self.session.send(alert)));
        }
        if !self.session.conn.is_handshaking() {
            self.finished = true;
            if self.session.version() == Some(ProtocolVersion::TLSv1_3) {
                if self.draft {
                    // Draft-era: EAP-Success answers the client's Finished at once, unless
                    // rustls still has something to say (then its acknowledgement does).
                    let out = self.session.drain();
                    if out.is_empty() {
                        return self.success();
                    }
                    return Ok(ServerStep::Request(self.session.send(out)));
                }
                self.indicate_success()?;
            }
        }
        let out = self.session.drain();
        Ok(ServerStep::Request(if out.is_empty() { frame::ack() } else { self.session.send(out) }))
    }

    /// EAP-Success with the MSK of the finished handshake.
    fn success(&self) -> Result<ServerStep, EapFailure> {
        let keys = if self.draft { Tls13Keys::Draft } else { Tls13Keys::Rfc9190 };
        self.session.msk(keys).map(|msk| ServerStep::Success { msk: Some(msk) })
    }

    /// RFC 9190 §2.1.1: after the client's Finished is verified, one octet 0x00 of
    /// application data tells the peer no more handshake messages follow.
    fn indicate_success(&mut self) -> Result<(), EapFailure> {
        let Connection::Server(conn) = &mut self.session.conn else {
            return Err(EapFailure::Malformed);
        };
        conn.writer().write_all(&[0x00]).map_err(|_| EapFailure::Malformed)
    }
}

impl ServerMethod for TlsServer {
    /// RFC 5216 §2.1.1: EAP-TLS/Start, the S flag and no data.
    fn start(&mut self, _identifier: u8, _rng: &mut dyn CryptoRng) -> Vec<u8> {
        frame::start()
    }

    /// rustls draws the TLS randomness from aws-lc-rs; `rng` is not used.
    fn handle(&mut self, _identifier: u8, data: &[u8], _rng: &mut dyn CryptoRng) -> ServerStep {
        self.step(data).unwrap_or_else(ServerStep::Failure)
    }

    fn max_rounds(&self) -> u32 {
        MAX_TLS_ROUNDS
    }
}
