//! The seam between the EAP conversation (peer.rs, authenticator.rs) and the methods.
//!
//! A method sees only the Type-Data of the messages of its own type: the conversation handles
//! codes, identifiers, Identity, Notification, Nak, the round bound and Success/Failure. Each
//! method implements [`PeerMethod`] and [`ServerMethod`]; [`peer_method`] and [`server_method`]
//! are the only places that name the implementations.

use core::fmt;

use ikeway_crypto::SecretBytes;
use rand_core::CryptoRng;

use crate::config::{AuthenticatorConfig, PeerConfig};
use crate::{EapFailure, Method, md5_challenge as md5, mschapv2, tls};

/// A method as the peer runs it.
pub(crate) trait PeerMethod: fmt::Debug + Send + Sync {
    /// One Request of this method (its EAP identifier and Type-Data): the Type-Data of our
    /// Response, or why we stop.
    fn handle(
        &mut self,
        identifier: u8,
        data: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, EapFailure>;

    /// `Some` once the method has finished on our side and, when it authenticates the server,
    /// has verified it: EAP-Success is acceptable from then on. Takes the MSK (`None` for a
    /// method that makes none).
    fn finish(&mut self) -> Option<Finished>;

    /// What an EAP-Failure from the server means after this method ran.
    fn failure(&self) -> EapFailure {
        EapFailure::Rejected
    }

    /// Why the method stopped on our side while it still answers the server (EAP-TLS sends
    /// its alert and waits for EAP-Failure): reported instead of `PrematureSuccess` should
    /// the server send EAP-Success.
    fn gave_up(&self) -> Option<EapFailure> {
        None
    }

    /// The conversation's round bound while this method runs.
    fn max_rounds(&self) -> u32 {
        crate::limits::MAX_ROUNDS
    }
}

/// A finished peer method.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) msk: Option<SecretBytes>,
}

/// A method as the authenticator runs it.
pub(crate) trait ServerMethod: fmt::Debug + Send + Sync {
    /// The Type-Data of the method's first Request, sent with EAP identifier `identifier`.
    fn start(&mut self, identifier: u8, rng: &mut dyn CryptoRng) -> Vec<u8>;

    /// One Response of this method (Type-Data); the Request it answers had identifier
    /// `identifier`, the next Request will have `identifier + 1`.
    fn handle(&mut self, identifier: u8, data: &[u8], rng: &mut dyn CryptoRng) -> ServerStep;

    /// The conversation's round bound while this method runs.
    fn max_rounds(&self) -> u32 {
        crate::limits::MAX_ROUNDS
    }
}

/// What a server method does next.
#[derive(Debug)]
pub(crate) enum ServerStep {
    /// Send a Request of this method with this Type-Data.
    Request(Vec<u8>),
    /// The peer proved itself: send EAP-Success.
    Success { msk: Option<SecretBytes> },
    /// Send EAP-Failure.
    Failure(EapFailure),
}

/// The peer side of `method`, or `None` when this configuration cannot run it (no password,
/// no TLS settings, not built).
pub(crate) fn peer_method(method: Method, config: &PeerConfig) -> Option<Box<dyn PeerMethod>> {
    match method {
        Method::Md5 => {
            let password = config.password.as_ref()?;
            Some(Box::new(md5::Md5Peer::new(password.clone())))
        }
        Method::MsChapV2 => {
            let password = config.password.as_ref()?;
            Some(Box::new(mschapv2::MsChapV2Peer::new(&config.identity, password)?))
        }
        Method::Tls => Some(Box::new(tls::TlsPeer::new(config.tls.as_ref()?).ok()?)),
    }
}

/// The server side of `method` for the peer that gave `identity`, or `None` when this
/// configuration cannot run it.
pub(crate) fn server_method(
    method: Method,
    identity: &str,
    config: &AuthenticatorConfig,
) -> Option<Box<dyn ServerMethod>> {
    match method {
        // An unknown user still gets a challenge: the answer is refused like a wrong password.
        Method::Md5 => Some(Box::new(md5::Md5Server::new(config.users.password(identity)))),
        Method::MsChapV2 => {
            Some(Box::new(mschapv2::MsChapV2Server::new(config.users.password(identity))))
        }
        // The client's certificate must name `identity`.
        Method::Tls => Some(Box::new(tls::TlsServer::new(config.tls.as_ref()?, identity).ok()?)),
    }
}
