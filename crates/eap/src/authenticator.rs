//! The authenticator (server) side of an EAP conversation (RFC 3748 §2, the authenticator state
//! machine of RFC 4137 §5 without its timers: IKE carries the messages reliably).

use core::fmt;
use std::sync::Arc;

use ikeway_codec::{EapCode, EapRepr};
use ikeway_crypto::SecretBytes;
use rand_core::CryptoRng;

use crate::config::AuthenticatorConfig;
use crate::limits::{MAX_IDENTITY_LEN, MAX_MESSAGE_LEN, MAX_ROUNDS};
use crate::message::{nak_types, typed, verdict};
use crate::method::{ServerMethod, ServerStep, server_method};
use crate::{EapFailure, EapType, Method};

/// What the authenticator sends next.
#[derive(Debug)]
pub enum AuthStep {
    /// Send this Request.
    Request(EapRepr),
    /// Send this EAP-Success; the peer proved `identity`.
    Success {
        /// The EAP-Success message.
        message: EapRepr,
        /// The EAP-Identity the peer gave and proved.
        identity: String,
        /// The Master Session Key, 64 bytes, when the method makes one.
        msk: Option<SecretBytes>,
    },
    /// Send this EAP-Failure; `reason` says why (for logs and the close reason).
    Failure {
        /// The EAP-Failure message.
        message: EapRepr,
        /// Why.
        reason: EapFailure,
    },
}

enum State {
    /// `start` not called yet.
    Idle,
    /// Waiting for the Identity Response.
    Identity,
    /// A method runs; `first` while its first Request is unanswered (the only time a Nak may
    /// come, RFC 3748 §5.3).
    Method { method: Method, state: Box<dyn ServerMethod>, first: bool },
    /// Success or Failure was sent.
    Over,
}

/// The server side of one EAP conversation.
pub struct EapAuthenticator {
    config: Arc<AuthenticatorConfig>,
    state: State,
    /// The Request awaiting its Response, resent when a Response does not match it.
    pending: Option<EapRepr>,
    identity: Option<String>,
    /// Methods proposed so far, so a Nak never brings one back.
    proposed: Vec<Method>,
    rounds: u32,
}

impl fmt::Debug for EapAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EapAuthenticator")
            .field("method", &self.method())
            .field("rounds", &self.rounds)
            .finish_non_exhaustive()
    }
}

impl EapAuthenticator {
    /// An authenticator that has sent nothing yet.
    pub fn new(config: Arc<AuthenticatorConfig>) -> Self {
        Self {
            config,
            state: State::Idle,
            pending: None,
            identity: None,
            proposed: Vec::new(),
            rounds: 0,
        }
    }

    /// The first request: EAP-Request/Identity, with an unpredictable identifier (RFC 3748
    /// §4: it only has to be unique, but guessing it should not help an attacker either).
    pub fn start(&mut self, rng: &mut dyn CryptoRng) -> EapRepr {
        let mut id = [0u8; 1];
        rng.fill_bytes(&mut id);
        let request = typed(EapCode::REQUEST, id[0], EapType::IDENTITY, Vec::new());
        self.state = State::Identity;
        self.pending = Some(request.clone());
        request
    }

    /// The method running (once one was proposed).
    pub fn method(&self) -> Option<Method> {
        match &self.state {
            State::Method { method, .. } => Some(*method),
            _ => self.proposed.last().copied(),
        }
    }

    /// One Response from the peer, one step.
    pub fn handle(&mut self, response: &EapRepr, rng: &mut dyn CryptoRng) -> AuthStep {
        let step = self.step(response, rng);
        match &step {
            AuthStep::Request(request) => self.pending = Some(request.clone()),
            AuthStep::Success { .. } | AuthStep::Failure { .. } => {
                self.state = State::Over;
                self.pending = None;
            }
        }
        step
    }

    fn step(&mut self, response: &EapRepr, rng: &mut dyn CryptoRng) -> AuthStep {
        let fail = |reason| AuthStep::Failure {
            message: verdict(EapCode::FAILURE, response.identifier),
            reason,
        };
        let Some(pending) = self.pending.clone() else {
            // Not started, or over: nothing is awaited.
            return fail(EapFailure::Malformed);
        };
        self.rounds += 1;
        let bound = match &self.state {
            State::Method { state, .. } => state.max_rounds(),
            _ => MAX_ROUNDS,
        };
        if self.rounds > bound {
            return fail(EapFailure::TooManyRounds);
        }
        if response.buffer_len() > MAX_MESSAGE_LEN || response.code != EapCode::RESPONSE {
            return fail(EapFailure::Malformed);
        }
        // RFC 3748 §4.1: a Response that does not answer the pending Request is discarded; the
        // authenticator then retransmits, which over IKE means answering with the Request again
        // (bounded by the round count).
        if response.identifier != pending.identifier {
            return AuthStep::Request(pending);
        }
        let t = EapType(response.eap_type.unwrap_or(0));
        let next_id = pending.identifier.wrapping_add(1);
        match &mut self.state {
            State::Identity => {
                if t != EapType::IDENTITY {
                    return fail(EapFailure::Malformed);
                }
                match identity(&response.data) {
                    Some(id) => self.identity = Some(id),
                    None => return fail(EapFailure::Malformed),
                }
                self.propose_next(None, next_id, rng, response.identifier)
            }
            State::Method { method, state, first } => {
                if t == EapType::NAK || t == EapType::EXPANDED {
                    if !*first {
                        return fail(EapFailure::Malformed);
                    }
                    let Some(wanted) = nak_types(response) else {
                        return fail(EapFailure::Malformed);
                    };
                    let refused = *method;
                    return self.propose_next(
                        Some((refused, wanted)),
                        next_id,
                        rng,
                        response.identifier,
                    );
                }
                if t != method.eap_type() {
                    return fail(EapFailure::Malformed);
                }
                *first = false;
                match state.handle(pending.identifier, &response.data, rng) {
                    ServerStep::Request(data) => {
                        AuthStep::Request(typed(EapCode::REQUEST, next_id, t, data))
                    }
                    ServerStep::Success { msk } => AuthStep::Success {
                        message: verdict(EapCode::SUCCESS, response.identifier),
                        // Set when the Identity Response came, before any method ran.
                        identity: self.identity.clone().unwrap_or_default(),
                        msk,
                    },
                    ServerStep::Failure(reason) => fail(reason),
                }
            }
            State::Idle | State::Over => fail(EapFailure::Malformed),
        }
    }

    /// Proposes the first method of ours not proposed yet that the peer accepts: after the
    /// Identity any we can run, after a Nak only those it names.
    fn propose_next(
        &mut self,
        nak: Option<(Method, Vec<EapType>)>,
        identifier: u8,
        rng: &mut dyn CryptoRng,
        answering: u8,
    ) -> AuthStep {
        let identity = self.identity.clone().unwrap_or_default();
        let config = Arc::clone(&self.config);
        for &m in &config.methods {
            if self.proposed.contains(&m) {
                continue;
            }
            if let Some((_, wanted)) = &nak
                && !wanted.contains(&m.eap_type())
            {
                continue;
            }
            let Some(mut state) = server_method(m, &identity, &config) else {
                continue;
            };
            self.proposed.push(m);
            let data = state.start(identifier, rng);
            self.state = State::Method { method: m, state, first: true };
            return AuthStep::Request(typed(EapCode::REQUEST, identifier, m.eap_type(), data));
        }
        AuthStep::Failure {
            message: verdict(EapCode::FAILURE, answering),
            reason: EapFailure::MethodNotAllowed(nak.map_or(0, |(m, _)| m.eap_type().0)),
        }
    }
}

/// The EAP-Identity as text: UTF-8 (the user names of `Credentials` are strings), bounded,
/// without control characters (it goes into logs).
fn identity(data: &[u8]) -> Option<String> {
    if data.len() > MAX_IDENTITY_LEN {
        return None;
    }
    let s = core::str::from_utf8(data).ok()?;
    if s.chars().any(char::is_control) {
        return None;
    }
    Some(s.to_owned())
}
