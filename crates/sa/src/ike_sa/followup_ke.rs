//! Additional key exchanges in CREATE_CHILD_SA (RFC 9370 §2.2.4), both roles: for a child SA
//! with PFS and for an IKE SA rekey, once the IKE SA itself negotiated additional key
//! exchanges. The CREATE_CHILD_SA carries the first key exchange and the ADDKE choices; each
//! additional method then runs in one IKE_FOLLOWUP_KE exchange, in order, tied to the
//! CREATE_CHILD_SA by an opaque link the responder chooses. The SA exists only after the last.
//!
//! ```text
//! HDR(CREATE_CHILD_SA), SK {SA, Ni, KEi, [TSi, TSr]}  -->
//!                <--  HDR(CREATE_CHILD_SA), SK {SA, Nr, KEr, [TSi, TSr], N(ADDITIONAL_KEY_EXCHANGE)(link1)}
//! HDR(IKE_FOLLOWUP_KE), SK {KEi(1), N(ADDITIONAL_KEY_EXCHANGE)(link1)}  -->
//!                <--  HDR(IKE_FOLLOWUP_KE), SK {KEr(1), N(ADDITIONAL_KEY_EXCHANGE)(link2)}
//! ...                 (the last response carries no link)
//! KEYMAT = prf+(SK_d, g^ir | SK(1) | ... | SK(n) | Ni | Nr)
//! SKEYSEED = prf(SK_d (old), g^ir | SK(1) | ... | SK(n) | Ni | Nr)   (IKE SA rekey)
//! ```
//!
//! Outcomes of a broken chain: the initiator of a child refuses it (`ChildSaRefused`, the IKE
//! SA stays); the initiator of an IKE rekey retries later when the peer answered an error, and
//! deletes the IKE SA when the peer broke the protocol (`AdditionalKeyExchange`). A responder
//! answers a request it cannot tie to its chain STATE_NOT_FOUND, a bad KE INVALID_SYNTAX (and
//! forgets the chain), and forgets a chain whose next request does not come in time.

use std::collections::VecDeque;

use super::child::NewChild;
use super::*;
use crate::proposal::IkeSuite;

/// Length of the links we hand out: random, so a request cannot name a chain it was not given.
const LINK_LEN: usize = 16;
/// The longest link of a peer's we echo; RFC 9370 leaves it opaque, this bounds what we copy.
const MAX_LINK_LEN: usize = 64;
/// How long a responder keeps a chain for the peer's next IKE_FOLLOWUP_KE request.
const FOLLOWUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What a chain makes once its last key exchange is done.
#[derive(Debug)]
pub(super) enum Target {
    Child(NewChild<'static>),
    /// The rekeyed IKE SA: its suite, the CREATE_CHILD_SA nonces and its SPIs.
    Ike {
        suite: IkeSuite,
        ni: Vec<u8>,
        nr: Vec<u8>,
        spi_i: u64,
        spi_r: u64,
    },
}

/// The key exchanges of one CREATE_CHILD_SA with additional key exchanges.
#[derive(Debug)]
pub(super) struct Chain {
    target: Target,
    /// g^ir of the CREATE_CHILD_SA, then SK(1), SK(2)... as they are done.
    secrets: Vec<SecretBytes>,
    /// Methods still to run, in order; the first is the one under way.
    pending: VecDeque<DhGroup>,
}

impl Chain {
    pub(super) fn new(target: Target, secrets: Vec<SecretBytes>) -> Self {
        let pending = match &target {
            Target::Child(c) => c.suite.additional_methods().collect(),
            Target::Ike { suite, .. } => suite.additional_methods().collect(),
        };
        Self { target, secrets, pending }
    }
}

/// Responder: a chain waiting for the peer's next IKE_FOLLOWUP_KE, and the link it must carry.
#[derive(Debug)]
pub(super) struct Awaiting {
    chain: Chain,
    link: Vec<u8>,
}

/// Why an initiator gives up a chain.
#[derive(Debug, Clone, Copy)]
enum Abort {
    /// The peer answered with this error notify (STATE_NOT_FOUND, TEMPORARY_FAILURE...).
    Peer(NotifyType),
    /// The peer's answer broke the exchange.
    Ours(AddKeFailure),
}

/// The link of an N(ADDITIONAL_KEY_EXCHANGE) in `payloads`, if it carries a usable one.
pub(super) fn link(payloads: &[Payload]) -> Option<Vec<u8>> {
    find_notify(payloads, NotifyType::ADDITIONAL_KEY_EXCHANGE)
        .map(|n| n.data.to_vec())
        .filter(|l| (1..=MAX_LINK_LEN).contains(&l.len()))
}

impl IkeSa {
    /// The additional key exchanges a child with PFS carries on this IKE SA (slot `i` is
    /// ADDKE`i+1`): the methods the IKE SA negotiated, each also optional where our IKE
    /// proposals allow NONE in that slot. Empty on a classical IKE SA.
    pub(super) fn child_additional(&self) -> Vec<Vec<DhGroup>> {
        let Some(crypto) = self.crypto.as_ref() else { return Vec::new() };
        let chosen = &crypto.suite.additional_kes;
        let Some(last) = chosen.iter().rposition(|g| *g != DhGroup::NONE) else {
            return Vec::new();
        };
        let optional = |slot: usize| {
            self.config
                .ike_proposals
                .iter()
                .any(|p| p.additional_kes.get(slot).is_some_and(|s| s.contains(&DhGroup::NONE)))
        };
        (0..=last)
            .map(|slot| match chosen[slot] {
                DhGroup::NONE => vec![DhGroup::NONE],
                g if optional(slot) => vec![g, DhGroup::NONE],
                g => vec![g],
            })
            .collect()
    }

    /// The IKE proposals of a rekey: with our additional key exchanges only when this IKE SA
    /// has some, since only then is the peer known to do IKE_FOLLOWUP_KE.
    pub(super) fn rekey_proposals(&self) -> Vec<crate::config::IkeProposal> {
        let has_addke =
            self.crypto.as_ref().is_some_and(|c| c.suite.additional_methods().next().is_some());
        if has_addke {
            self.config.ike_proposals.clone()
        } else {
            proposal::classical(&self.config.ike_proposals)
        }
    }

    /// Whether a chain of ours is in its IKE_FOLLOWUP_KE exchanges.
    pub(super) fn followup_outstanding(&self) -> bool {
        matches!(self.outstanding.as_ref().map(|o| &o.kind), Some(Request::FollowupKe { .. }))
    }

    // ----- initiator -----

    /// Initiator: the IKE_FOLLOWUP_KE request for the next method of `chain`, quoting `link`,
    /// the one the peer's last response carried (`None`: it carried none, or a bad one).
    pub(super) fn continue_followup(&mut self, now: Instant, chain: Chain, link: Option<Vec<u8>>) {
        let Some(link) = link else {
            return self.abandon_followup(now, chain, Abort::Ours(AddKeFailure::MissingLink));
        };
        let Some(group) = chain.pending.front().copied() else {
            return self.complete_followup(now, chain);
        };
        let kex = match self.kex_provider.start(group, &mut self.rng) {
            Ok(kex) => kex,
            Err(_) => {
                return self.abandon_followup(
                    now,
                    chain,
                    Abort::Ours(AddKeFailure::InvalidKeyExchange),
                );
            }
        };
        let inner = [
            Payload::new(PayloadRepr::Ke(KeRepr { group, data: kex.public_value().into() })),
            notify(NotifyType::ADDITIONAL_KEY_EXCHANGE, link),
        ];
        let kind = Request::FollowupKe { chain: Box::new(chain), kex };
        if self.send_encrypted_request(now, ExchangeType::IKE_FOLLOWUP_KE, &inner, kind).is_err() {
            self.stats.dropped_malformed += 1;
        }
    }

    /// Initiator: the response to our IKE_FOLLOWUP_KE, HDR, SK {KEr(n), [N(link)]}.
    pub(super) fn handle_followup_response(
        &mut self,
        now: Instant,
        payloads: &[Payload],
        mut chain: Chain,
        kex: Box<dyn ActiveKeyExchange>,
    ) {
        if let Some(error) = first_error(payloads) {
            return self.abandon_followup(now, chain, Abort::Peer(error));
        }
        let shared = match find_payload!(payloads, Ke) {
            Some(ke) if ke.group == kex.group() => match kex.complete(&ke.data) {
                Ok(shared) => shared,
                Err(_) => {
                    let why = Abort::Ours(AddKeFailure::InvalidKeyExchange);
                    return self.abandon_followup(now, chain, why);
                }
            },
            _ => return self.abandon_followup(now, chain, Abort::Ours(AddKeFailure::WrongMethod)),
        };
        chain.secrets.push(shared);
        chain.pending.pop_front();
        if chain.pending.is_empty() {
            self.complete_followup(now, chain);
        } else {
            self.continue_followup(now, chain, link(payloads));
        }
    }

    /// Initiator: every key exchange done, the SA is made.
    fn complete_followup(&mut self, now: Instant, chain: Chain) {
        let Chain { target, secrets, .. } = chain;
        match target {
            Target::Child(child) => {
                let (spi_in, rekey_of) = (child.spi_in, child.rekey_of);
                let nonces = (child.ni.clone(), child.nr.clone());
                if self.install_child(now, child, &secrets).is_err() {
                    self.release_child_spi(spi_in);
                    self.events.push_back(Event::ChildSaRefused {
                        notify: NotifyType::NO_PROPOSAL_CHOSEN,
                    });
                    return;
                }
                if let Some(old) = rekey_of {
                    self.settle_own_rekey(old, spi_in, &nonces.0, &nonces.1);
                }
            }
            Target::Ike { suite, ni, nr, spi_i, spi_r } => {
                if self.complete_rekey_ike(now, suite, &secrets, &ni, &nr, spi_i, spi_r).is_err() {
                    self.stats.dropped_malformed += 1;
                }
            }
        }
    }

    /// Initiator: the chain ends without an SA. A child is refused and a rekey of it tried
    /// again later; an IKE rekey is tried again after an error notify, and the IKE SA deleted
    /// when the peer broke the exchange (its next rekey would only break again).
    fn abandon_followup(&mut self, now: Instant, chain: Chain, why: Abort) {
        match chain.target {
            Target::Child(child) => {
                self.release_child_spi(child.spi_in);
                let delay = self.retry_delay();
                if let Some(old) =
                    child.rekey_of.and_then(|s| self.children.iter_mut().find(|c| c.spi_in == s))
                {
                    old.rekeying = false;
                    old.rekey_at = now + delay;
                }
                let notify = match why {
                    Abort::Peer(n) => n,
                    Abort::Ours(AddKeFailure::WrongMethod) => NotifyType::INVALID_KE_PAYLOAD,
                    Abort::Ours(_) => NotifyType::INVALID_SYNTAX,
                };
                self.events.push_back(Event::ChildSaRefused { notify });
            }
            Target::Ike { spi_i, .. } => {
                self.release_ike_spi(spi_i);
                match why {
                    Abort::Peer(_) => {
                        let retry = now + self.retry_delay();
                        self.timers.set(Timer::IkeRekey, retry);
                    }
                    Abort::Ours(failure) => {
                        self.delete_and_close(CloseReason::AdditionalKeyExchange(failure));
                    }
                }
            }
        }
    }

    /// Sends a DELETE of the IKE SA without waiting for its answer, and closes.
    fn delete_and_close(&mut self, reason: CloseReason) {
        let inner = [Payload::new(PayloadRepr::Delete(DeleteRepr::ike()))];
        let header = self.header(ExchangeType::INFORMATIONAL, false, self.send_mid);
        if let Ok(datagrams) = self.seal(&header, &inner) {
            self.transmit_all(&datagrams);
        }
        self.close(reason);
    }

    // ----- responder -----

    /// Responder: keeps `chain` for the peer's first IKE_FOLLOWUP_KE; the notify with its
    /// link goes into the CREATE_CHILD_SA response. One chain at a time: the peer's window
    /// is one request, so a new CREATE_CHILD_SA from it means it gave up the one before.
    pub(super) fn await_followup(&mut self, now: Instant, chain: Chain) -> Payload {
        self.drop_followup();
        let link = self.random_bytes(LINK_LEN);
        self.followup = Some(Box::new(Awaiting { chain, link: link.clone() }));
        self.timers.set(Timer::Followup, now + FOLLOWUP_TIMEOUT);
        notify(NotifyType::ADDITIONAL_KEY_EXCHANGE, link)
    }

    /// Responder: forgets a chain the peer will not finish, and what it reserved.
    pub(super) fn drop_followup(&mut self) {
        self.timers.stop(Timer::Followup);
        let Some(awaiting) = self.followup.take() else { return };
        match awaiting.chain.target {
            Target::Child(child) => self.release_child_spi(child.spi_in),
            Target::Ike { spi_r, .. } => self.release_ike_spi(spi_r),
        }
    }

    /// Responder: the peer never sent the next IKE_FOLLOWUP_KE.
    pub(super) fn followup_expired(&mut self) {
        if self.followup.is_some() {
            self.stats.followups_expired += 1;
        }
        self.drop_followup();
    }

    /// Responder: an IKE_FOLLOWUP_KE request, HDR, SK {KEi(n), N(link)}.
    pub(super) fn handle_followup_request(
        &mut self,
        now: Instant,
        mid: u32,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        let theirs = link(payloads);
        let ours = self.followup.as_ref().map(|a| &a.link);
        if theirs.is_none() || theirs.as_ref() != ours {
            // Not the chain we keep, or none: RFC 9370 §2.2.4 answers STATE_NOT_FOUND.
            return self.refuse_followup(mid, NotifyType::STATE_NOT_FOUND);
        }
        let Some(mut awaiting) = self.followup.take() else {
            return self.refuse_followup(mid, NotifyType::STATE_NOT_FOUND);
        };
        self.timers.stop(Timer::Followup);
        let group = awaiting.chain.pending.front().copied();
        let answer = match (find_payload!(payloads, Ke), group) {
            (Some(ke), Some(group)) if ke.group == group => {
                self.kex_provider.respond(group, &ke.data, &mut self.rng).ok()
            }
            _ => None,
        };
        let (Some(group), Some((ours, shared))) = (group, answer) else {
            // A KE of another method, or refused by the key exchange: the chain is over.
            self.followup = Some(awaiting);
            self.drop_followup();
            return self.refuse_followup(mid, NotifyType::INVALID_SYNTAX);
        };
        awaiting.chain.secrets.push(shared);
        awaiting.chain.pending.pop_front();
        let mut reply = vec![Payload::new(PayloadRepr::Ke(KeRepr { group, data: ours.into() }))];
        if !awaiting.chain.pending.is_empty() {
            let link = self.random_bytes(LINK_LEN);
            reply.push(notify(NotifyType::ADDITIONAL_KEY_EXCHANGE, link.clone()));
            awaiting.link = link;
            self.followup = Some(awaiting);
            self.timers.set(Timer::Followup, now + FOLLOWUP_TIMEOUT);
            return self.send_response(mid, ExchangeType::IKE_FOLLOWUP_KE, &reply);
        }
        // The last response still goes under the keys of the SA the exchange ran on.
        self.send_response(mid, ExchangeType::IKE_FOLLOWUP_KE, &reply)?;
        let Chain { target, secrets, .. } = awaiting.chain;
        match target {
            Target::Child(child) => {
                let (spi_in, rekey_of) = (child.spi_in, child.rekey_of);
                if let Err(e) = self.install_child(now, child, &secrets) {
                    self.release_child_spi(spi_in);
                    return Err(e);
                }
                if let Some(old) = rekey_of {
                    self.note_peer_rekey(old, spi_in);
                }
                Ok(())
            }
            Target::Ike { suite, ni, nr, spi_i, spi_r } => {
                self.rekey_started_by_us = false;
                self.switch_ike(now, suite, &secrets, &ni, &nr, spi_i, spi_r)
            }
        }
    }

    fn refuse_followup(&mut self, mid: u32, error: NotifyType) -> Result<(), crate::Error> {
        self.stats.followups_refused += 1;
        self.send_response(mid, ExchangeType::IKE_FOLLOWUP_KE, &[notify(error, Vec::new())])
    }
}
