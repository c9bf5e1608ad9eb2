//! IKEv2 redirect (RFC 5685), both sides.
//!
//! Initiator: announces REDIRECT_SUPPORTED (or REDIRECTED_FROM, on the initiation that
//! follows a redirect) in IKE_SA_INIT and follows a REDIRECT
//! - in the IKE_SA_INIT response only when it echoes our Ni (§4: the nonce is all that ties
//!   the unprotected message to our request),
//! - in the IKE_AUTH response only once the responder proved who it is (§6),
//! - in an INFORMATIONAL request on the established SA (§5): answered, then the SA deleted.
//!
//! Each reports [`Event::Redirected`] and closes with [`CloseReason::Redirected`]; the runtime
//! starts the next IKE SA. A REDIRECT we did not ask for, or one that fails these checks, is
//! counted in [`Stats::ignored_redirects`](crate::Stats) and changes nothing.
//!
//! Responder: a [`RedirectPolicy`] the endpoint applies to new clients that announced support,
//! in IKE_SA_INIT (a stateless reply: nothing is kept) or IKE_AUTH (after the client's AUTH
//! verified, instead of its child SA); and [`IkeSa::redirect`] for an established SA.

use std::time::Duration;

use ikeway_codec::{Gateway, RedirectRepr};

use super::*;

/// How long a responder keeps an IKE SA it redirected in IKE_AUTH, for the client's DELETE
/// (§6: the client deletes it); then it expires on its own.
const REDIRECTED_SA_GRACE: Duration = Duration::from_secs(30);

/// Where a responder sends new clients, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectPolicy {
    /// The gateway named in REDIRECT.
    pub gateway: Gateway,
    /// Redirect a new client while this responder already holds at least this many
    /// established IKE SAs: 0 redirects every client that announces support.
    pub above: usize,
    pub phase: RedirectPhase,
}

/// In which exchange a responder redirects (RFC 5685 §4, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectPhase {
    /// In the IKE_SA_INIT response: costs one stateless reply, authenticates nothing (the
    /// client checks only that its nonce is echoed).
    Init,
    /// In the last IKE_AUTH response, once the client authenticated (so the decision may
    /// depend on who it is) and the client has verified our AUTH.
    Auth,
}

/// What an IKE SA remembers about redirect.
#[derive(Debug, Default)]
pub(super) struct RedirectState {
    /// Responder: the client announced REDIRECT_SUPPORTED or REDIRECTED_FROM.
    peer_supports: bool,
    /// Responder: send the client here in IKE_AUTH instead of creating its child SA.
    at_auth: Option<Gateway>,
    /// Responder: an established-SA redirect waiting for the request window.
    pending: Option<Gateway>,
}

/// The endpoint's verdict on one IKE_SA_INIT request.
#[derive(Debug, Default)]
pub(crate) struct InitDecision {
    /// A REDIRECT to send instead of answering (nothing is kept).
    pub(crate) stateless_reply: Option<Vec<u8>>,
    peer_supports: bool,
    at_auth: Option<Gateway>,
}

/// Whether an IKE_SA_INIT request says its sender follows redirects (§3, §5).
fn announced(payloads: &[Payload]) -> bool {
    find_notify(payloads, NotifyType::REDIRECT_SUPPORTED).is_some()
        || find_notify(payloads, NotifyType::REDIRECTED_FROM).is_some()
}

/// Applies `config.redirect` to an IKE_SA_INIT request while `established` IKE SAs are up.
pub(crate) fn decide(
    config: &Config,
    established: usize,
    local: SocketAddr,
    remote: SocketAddr,
    message: &MessageRepr,
) -> InitDecision {
    let peer_supports = announced(&message.payloads);
    let mut decision = InitDecision { peer_supports, ..InitDecision::default() };
    let Some(policy) = config.redirect.as_ref().filter(|p| established >= p.above) else {
        return decision;
    };
    // §3: a client that did not announce support is served here.
    if !peer_supports {
        return decision;
    }
    match policy.phase {
        RedirectPhase::Auth => decision.at_auth = Some(policy.gateway.clone()),
        RedirectPhase::Init => {
            // A request without a usable nonce gets its INVALID_SYNTAX from `respond_init`.
            let Some(ni) = find_payload!(message.payloads, Nonce)
                .map(|n| n.data.to_vec())
                .filter(|n| NONCE_RANGE.contains(&n.len()))
            else {
                return decision;
            };
            let repr = RedirectRepr { gateway: policy.gateway.clone(), nonce: Some(ni) };
            let Ok(data) = repr.to_vec() else { return decision };
            decision.stateless_reply =
                stateless_reply(local, remote, message.header.spi_i, NotifyType::REDIRECT, &data)
                    .ok();
        }
    }
    decision
}

impl IkeSa {
    /// Responder: sends the client of this established SA to `gateway` (RFC 5685 §5, what
    /// `swanctl --redirect` does): an INFORMATIONAL request with REDIRECT, once the window
    /// is free. The client answers, then deletes this SA.
    ///
    /// Fails with [`crate::Error::PeerCannotBeRedirected`] on an initiator, or when the client
    /// did not announce redirect support in IKE_SA_INIT.
    pub fn redirect(&mut self, now: Instant, gateway: Gateway) -> Result<(), crate::Error> {
        if self.side != Side::Responder || !self.redirect.peer_supports {
            return Err(crate::Error::PeerCannotBeRedirected);
        }
        // Checked now rather than when the request goes out, where an error would be lost.
        RedirectRepr { gateway: gateway.clone(), nonce: None }.to_vec()?;
        self.redirect.pending = Some(gateway);
        self.command(now, Command::Redirect);
        Ok(())
    }

    /// Responder: what the endpoint decided for this SA's IKE_SA_INIT.
    pub(crate) fn apply_redirect_decision(&mut self, decision: InitDecision) {
        self.redirect.peer_supports = decision.peer_supports;
        self.redirect.at_auth = decision.at_auth;
    }

    /// The established-SA redirect queued by [`IkeSa::redirect`].
    pub(super) fn start_redirect(&mut self, now: Instant) -> Result<(), crate::Error> {
        let Some(gateway) = self.redirect.pending.take() else { return Ok(()) };
        let data = RedirectRepr { gateway: gateway.clone(), nonce: None }.to_vec()?;
        let inner = [notify(NotifyType::REDIRECT, data)];
        // The answer carries nothing we need, as a liveness check's does not.
        self.send_encrypted_request(now, ExchangeType::INFORMATIONAL, &inner, Request::Dpd)?;
        self.events.push_back(Event::Redirected { gateway });
        Ok(())
    }

    /// Our IKE_SA_INIT notify saying we follow redirects, if configured.
    pub(super) fn redirect_announcement(&self) -> Option<Payload> {
        if let Some(from) = self.config.redirected_from {
            let data = Gateway::from(from).to_vec().expect("an address identity always encodes");
            return Some(notify(NotifyType::REDIRECTED_FROM, data));
        }
        self.config.redirect_supported.then(|| notify(NotifyType::REDIRECT_SUPPORTED, Vec::new()))
    }

    fn follows_redirects(&self) -> bool {
        self.side == Side::Initiator
            && (self.config.redirect_supported || self.config.redirected_from.is_some())
    }

    /// The gateway of a REDIRECT in `payloads` we may follow, or `None` (and counted) when
    /// there is none, we did not ask for it, it is malformed, or its nonce is not `nonce`
    /// (`None`: not checked).
    fn redirect_target(&mut self, payloads: &[Payload], nonce: Option<&[u8]>) -> Option<Gateway> {
        let data = &find_notify(payloads, NotifyType::REDIRECT)?.data;
        let parsed = RedirectRepr::parse(data).ok().filter(|r| {
            nonce.is_none_or(|ni| r.nonce.as_deref() == Some(ni)) && self.follows_redirects()
        });
        if parsed.is_none() {
            self.stats.ignored_redirects += 1;
        }
        parsed.map(|r| r.gateway)
    }

    /// Initiator, an IKE_SA_INIT response: follows a REDIRECT that echoes our Ni. `true` when
    /// the message was a REDIRECT (followed, or ignored while we keep waiting for the real
    /// answer, which our retransmissions still ask for).
    pub(super) fn redirect_in_init_response(&mut self, message: &MessageRepr) -> bool {
        if find_notify(&message.payloads, NotifyType::REDIRECT).is_none() {
            return false;
        }
        let ni = match &self.state {
            State::InitSent { ni, .. } => ni.clone(),
            _ => return false,
        };
        if let Some(gateway) = self.redirect_target(&message.payloads, Some(&ni)) {
            self.events.push_back(Event::Redirected { gateway });
            self.close(CloseReason::Redirected);
        }
        true
    }

    /// Initiator, the last IKE_AUTH response, the responder authenticated: follows a REDIRECT
    /// (no child SA comes with it) by deleting this SA. `true` when followed.
    pub(super) fn redirect_in_auth_response(&mut self, payloads: &[Payload]) -> bool {
        let Some(gateway) = self.redirect_target(payloads, None) else { return false };
        self.leave_for(gateway);
        true
    }

    /// Initiator, an INFORMATIONAL request on the established SA: answers a REDIRECT, then
    /// deletes this SA. `true` when followed.
    pub(super) fn redirect_in_informational(
        &mut self,
        message_id: u32,
        payloads: &[Payload],
    ) -> Result<bool, crate::Error> {
        if self.side != Side::Initiator {
            return Ok(false);
        }
        let Some(gateway) = self.redirect_target(payloads, None) else { return Ok(false) };
        self.send_response(message_id, ExchangeType::INFORMATIONAL, &[])?;
        self.leave_for(gateway);
        Ok(true)
    }

    /// Deletes this SA (§5, §6: the client SHOULD), once and unanswered since the next
    /// gateway is waiting, then reports where to go.
    fn leave_for(&mut self, gateway: Gateway) {
        let inner = [Payload::new(PayloadRepr::Delete(DeleteRepr::ike()))];
        let header = self.header(ExchangeType::INFORMATIONAL, false, self.send_mid);
        if let Ok(datagrams) = self.seal(&header, &inner) {
            self.transmit_all(&datagrams);
        }
        self.events.push_back(Event::Redirected { gateway });
        self.close(CloseReason::Redirected);
    }

    /// Responder, the last IKE_AUTH response to an authenticated client we redirect: our
    /// proof (`reply`) and REDIRECT instead of CP and the child (§6). The SA stays, without
    /// children, to answer the client's DELETE, and expires soon if none comes.
    pub(super) fn redirect_at_auth(
        &mut self,
        now: Instant,
        message_id: u32,
        mut reply: Vec<Payload>,
    ) -> Result<(), crate::Error> {
        let Some(gateway) = self.redirect.at_auth.take() else { return Ok(()) };
        let data = RedirectRepr { gateway: gateway.clone(), nonce: None }.to_vec()?;
        reply.push(notify(NotifyType::REDIRECT, data));
        self.timers.stop(Timer::HalfOpen);
        self.state = State::Established;
        self.timers.set(Timer::IkeExpire, now + REDIRECTED_SA_GRACE);
        self.reassembler.set_limits(ReassemblyLimits::default());
        self.send_response(message_id, ExchangeType::IKE_AUTH, &reply)?;
        self.events.push_back(Event::Redirected { gateway });
        Ok(())
    }

    /// Responder: whether this client is to be redirected in IKE_AUTH.
    pub(super) fn redirects_at_auth(&self) -> bool {
        self.redirect.at_auth.is_some()
    }
}
