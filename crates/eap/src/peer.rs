//! The peer (client) side of an EAP conversation (RFC 3748 §2, the peer state machine of
//! RFC 4137 §4 without its timers: IKE carries the messages reliably).

use core::fmt;
use std::sync::Arc;

use ikeway_codec::{EapCode, EapRepr};
use ikeway_crypto::SecretBytes;
use rand_core::CryptoRng;

use crate::config::PeerConfig;
use crate::limits::{MAX_MESSAGE_LEN, MAX_ROUNDS};
use crate::message::{expanded_nak, legacy_nak, typed};
use crate::method::{PeerMethod, peer_method};
use crate::{EapFailure, EapType, Method};

/// What the peer does with a message from the server.
#[derive(Debug)]
pub enum PeerStep {
    /// Send this Response.
    Respond(EapRepr),
    /// EAP-Success after the method completed (and, for MSCHAPv2 and TLS, after we verified the
    /// server). `msk` is `None` for MD5 (then AUTH uses SK_p, RFC 7296 §2.16).
    Success {
        /// The Master Session Key, 64 bytes, when the method makes one.
        msk: Option<SecretBytes>,
    },
}

/// The client side of one EAP conversation: feed it every EAP message the server sends.
///
/// It ends with `Ok(PeerStep::Success { .. })` or an `Err`; after either, every further
/// message gets the same `Err` (or [`EapFailure::Malformed`] after success).
pub struct EapPeer {
    config: Arc<PeerConfig>,
    method: Option<(Method, Box<dyn PeerMethod>)>,
    /// The Request we answered last and our Response, resent when the server repeats that
    /// Request (RFC 3748 §4.1).
    last: Option<(EapRepr, EapRepr)>,
    /// The method type we refused last, reported if the server then gives up.
    refused: Option<u8>,
    rounds: u32,
    /// Set once the conversation is over.
    over: Option<EapFailure>,
}

impl fmt::Debug for EapPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EapPeer")
            .field("method", &self.method.as_ref().map(|(m, _)| *m))
            .field("rounds", &self.rounds)
            .field("over", &self.over)
            .finish_non_exhaustive()
    }
}

impl EapPeer {
    /// A peer that has received nothing yet.
    pub fn new(config: Arc<PeerConfig>) -> Self {
        Self { config, method: None, last: None, refused: None, rounds: 0, over: None }
    }

    /// The method that ran (once the server chose one we accept), for logs and for RFC 5998
    /// checks.
    pub fn method(&self) -> Option<Method> {
        self.method.as_ref().map(|(m, _)| *m)
    }

    /// One EAP message from the server (Request, Success or Failure), one step.
    pub fn handle(
        &mut self,
        message: &EapRepr,
        rng: &mut dyn CryptoRng,
    ) -> Result<PeerStep, EapFailure> {
        if let Some(failure) = self.over {
            return Err(failure);
        }
        let step = self.step(message, rng);
        match &step {
            Ok(PeerStep::Respond(response)) => {
                self.last = Some((message.clone(), response.clone()));
            }
            // After success, nothing more is expected: anything else is malformed.
            Ok(PeerStep::Success { .. }) => self.over = Some(EapFailure::Malformed),
            Err(failure) => self.over = Some(*failure),
        }
        step
    }

    fn step(&mut self, message: &EapRepr, rng: &mut dyn CryptoRng) -> Result<PeerStep, EapFailure> {
        if message.buffer_len() > MAX_MESSAGE_LEN {
            return Err(EapFailure::Malformed);
        }
        match message.code {
            EapCode::REQUEST => self.request(message, rng),
            EapCode::SUCCESS => self.success(message),
            EapCode::FAILURE => Err(self.failure()),
            _ => Err(EapFailure::Malformed),
        }
    }

    fn request(&mut self, req: &EapRepr, rng: &mut dyn CryptoRng) -> Result<PeerStep, EapFailure> {
        self.rounds += 1;
        let bound = self.method.as_ref().map_or(MAX_ROUNDS, |(_, state)| state.max_rounds());
        if self.rounds > bound {
            return Err(EapFailure::TooManyRounds);
        }
        // A repeated Request gets the same Response (RFC 3748 §4.1): the method must not run
        // twice on one challenge. RFC 4137 recognises the repeat by its identifier alone, but
        // strongSwan draws each method's first identifier at random, so one new Request in 256
        // reuses the last identifier: only the same Request, byte for byte, is a repeat.
        if let Some((last_request, last_response)) = &self.last
            && last_request == req
        {
            return Ok(PeerStep::Respond(last_response.clone()));
        }
        let id = req.identifier;
        let t = EapType(req.eap_type.ok_or(EapFailure::Malformed)?);
        let respond = |t: EapType, data: Vec<u8>| {
            Ok(PeerStep::Respond(typed(EapCode::RESPONSE, id, t, data)))
        };
        match t {
            // RFC 3748 §2.1: once a method runs, the server may not switch to another, and an
            // Identity request mid-method is such a switch.
            EapType::IDENTITY if self.method.is_none() => {
                respond(EapType::IDENTITY, self.config.identity.as_bytes().to_vec())
            }
            // §5.2: answered with an empty Notification, its text not shown (it is
            // unauthenticated, RFC 3748 §7.12).
            EapType::NOTIFICATION => respond(EapType::NOTIFICATION, Vec::new()),
            // §5.3: a Nak is only a Response.
            EapType::NAK => Err(EapFailure::Malformed),
            EapType::EXPANDED if self.method.is_none() => {
                Ok(PeerStep::Respond(expanded_nak(id, &self.runnable())))
            }
            _ => match &mut self.method {
                Some((m, state)) if m.eap_type() == t => {
                    respond(t, state.handle(id, &req.data, rng)?)
                }
                Some(_) => Err(EapFailure::Malformed),
                None => match self.start_method(t) {
                    Some((m, mut state)) => {
                        let data = state.handle(id, &req.data, rng)?;
                        self.method = Some((m, state));
                        respond(t, data)
                    }
                    None => {
                        self.refused = Some(t.0);
                        Ok(PeerStep::Respond(legacy_nak(id, &self.runnable())))
                    }
                },
            },
        }
    }

    /// The method for a request of type `t`, if we allow it and can run it.
    fn start_method(&self, t: EapType) -> Option<(Method, Box<dyn PeerMethod>)> {
        let m = Method::from_eap_type(t).filter(|m| self.config.methods.contains(m))?;
        Some((m, peer_method(m, &self.config)?))
    }

    /// The types a Nak names: the methods we allow and have credentials for, in our order.
    fn runnable(&self) -> Vec<EapType> {
        let mut types: Vec<EapType> = Vec::new();
        for m in &self.config.methods {
            if !types.contains(&m.eap_type()) && peer_method(*m, &self.config).is_some() {
                types.push(m.eap_type());
            }
        }
        types
    }

    fn success(&mut self, message: &EapRepr) -> Result<PeerStep, EapFailure> {
        let Some((_, state)) = self.method.as_mut() else {
            return Err(EapFailure::PrematureSuccess);
        };
        let Some(finished) = state.finish() else {
            return Err(state.gave_up().unwrap_or(EapFailure::PrematureSuccess));
        };
        // RFC 3748 §4.2: Success carries the identifier of the Response it answers.
        if self.last.as_ref().map(|(_, response)| response.identifier) != Some(message.identifier) {
            return Err(EapFailure::Malformed);
        }
        Ok(PeerStep::Success { msk: finished.msk })
    }

    fn failure(&self) -> EapFailure {
        match (&self.method, self.refused) {
            (Some((_, state)), _) => state.failure(),
            (None, Some(t)) => EapFailure::MethodNotAllowed(t),
            (None, None) => EapFailure::Rejected,
        }
    }
}
