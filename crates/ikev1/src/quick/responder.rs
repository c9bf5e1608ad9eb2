//! The peer's quick mode: message 1 in, message 2 out (resent until message 3), message 3
//! in and the SA installed; and the dispatch of every quick mode message.

use std::time::Instant;

use ikeway_isakmp::{
    ExchangeType, KeRepr, NonceRepr, NotificationRepr, NotifyType, Payload, ProtocolId,
};

use super::config::Subnet;
use super::hash::{HashKey, hash_matches};
use super::initiator::Parts;
use super::offer::{self, Policy};
use super::suite::Transform;
use super::{Child, Responding};
use crate::engine::Ikev1Sa;
use crate::informational::protected::Received;

/// Why a peer's quick mode is refused, and the notify that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refuse {
    NoProposal,
    Ids,
    Malformed,
}

impl Refuse {
    fn notify(self) -> NotifyType {
        match self {
            Self::NoProposal => NotifyType::NO_PROPOSAL_CHOSEN,
            Self::Ids => NotifyType::INVALID_ID_INFORMATION,
            Self::Malformed => NotifyType::PAYLOAD_MALFORMED,
        }
    }
}

impl Ikev1Sa {
    /// A decrypted quick mode message: message 2 of ours, message 3 of the peer's, or the
    /// peer's message 1.
    pub(crate) fn handle_quick(&mut self, now: Instant, r: Received) {
        if let Some(at) = self.quick.initiating.iter().position(|i| i.message_id == r.message_id) {
            return self.handle_quick2(now, at, r);
        }
        if let Some(at) = self.quick.responding.iter().position(|p| p.message_id == r.message_id) {
            return self.handle_quick3(now, at, r);
        }
        if self.quick.finished.iter().any(|f| f.message_id == r.message_id) {
            // Not the message 2 we answered (that was resent before decryption): stale.
            self.stats.dropped_unexpected += 1;
            return;
        }
        self.handle_quick1(now, r);
    }

    fn handle_quick1(&mut self, now: Instant, r: Received) {
        let Some((prf, skeyid_a)) = self.hash_key() else { return };
        let key = HashKey { prf, skeyid_a: skeyid_a.expose() };
        if !hash_matches(&key.message(r.message_id, &r.rest), &r.hash) {
            self.stats.dropped_unauthenticated += 1;
            return;
        }
        if !self.is_established() || !self.transaction.allows_quick_from_peer() {
            // Before XAUTH succeeded a client gets no SA (draft-beaulieu-ike-xauth-02 §4).
            self.stats.dropped_unexpected += 1;
            return;
        }
        if self.quick.responding.len() >= self.config.quick.max_in_flight {
            self.stats.dropped_unexpected += 1;
            return;
        }
        self.accept(&r, now);
        let parts = Parts::read(&r.payloads);
        let peer_spi = parts.sa.and_then(|sa| {
            sa.proposals.first().and_then(|p| <[u8; 4]>::try_from(p.spi.as_slice()).ok())
        });
        if let Err(why) = self.answer_quick1(now, &r, &parts) {
            self.forget_chain(r.message_id);
            self.stats.dropped_unexpected += 1;
            self.send_notify(now, ProtocolId::ESP, peer_spi.map(|s| s.to_vec()), why.notify());
        }
    }

    fn answer_quick1(
        &mut self,
        now: Instant,
        r: &Received,
        parts: &Parts<'_>,
    ) -> Result<(), Refuse> {
        if parts.unexpected {
            return Err(Refuse::Malformed);
        }
        let (Some(sa), Some(ni)) = (parts.sa, parts.nonce()) else {
            return Err(Refuse::Malformed);
        };
        // IDci is the initiator's network (the peer's), IDcr ours.
        let ids = match parts.client_ids().map_err(|()| Refuse::Malformed)? {
            None => None,
            Some((ci, cr)) => {
                let remote = Subnet::from_id(ci).ok_or(Refuse::Ids)?;
                let local = Subnet::from_id(cr).ok_or(Refuse::Ids)?;
                Some((local, remote))
            }
        };
        if !self.client_ids_allowed(ids) {
            return Err(Refuse::Ids);
        }
        let live = self.quick.children.len() + self.quick.responding.len();
        if live >= self.config.quick.max_children {
            return Err(Refuse::NoProposal);
        }
        let kex = self.kex.clone();
        let supports = move |g| kex.supports(g);
        let policy = Policy {
            ours: &self.config.quick.proposals,
            encapsulation: self.esp_encapsulation(),
            ke_offered: parts.ke.is_some(),
            required_group: self.config.quick.pfs,
            supports: &supports,
        };
        let choice = offer::choose(sa, &policy).ok_or(Refuse::NoProposal)?;
        let (our_ke, secret) = match (choice.transform.group, parts.ke) {
            (Some(g), Some(ke)) => {
                let (public, secret) =
                    self.kex.respond(g, ke, &mut self.rng).map_err(|_| Refuse::NoProposal)?;
                (Some(public), Some(secret))
            }
            _ => (None, None),
        };
        let ours = self.config.quick.lifetime;
        let offered = choice.transform.lifetime.unwrap_or(offer::DEFAULT_LIFETIME);
        let lifetime = offered.min(ours);
        let ours_kb = self.config.quick.lifetime_kilobytes;
        let offered_kb = choice.transform.lifetime_kilobytes;
        let kilobytes = super::initiator::min_some(offered_kb, ours_kb);
        // RFC 2407 §4.6.3.1: we hold the SA to less than offered; say so.
        let shorter = offered > ours || kilobytes != offered_kb;
        let spi_in = self.new_spi();
        let nr = self.nonce();
        let mut rest = vec![
            Payload::Sa(offer::answer(&choice, spi_in)),
            Payload::Nonce(NonceRepr { data: nr.clone() }),
        ];
        if let Some(public) = our_ke {
            rest.push(Payload::Ke(KeRepr { data: public }));
        }
        rest.extend(parts.ids.iter().map(|id| Payload::Id((*id).clone())));
        if shorter {
            let attrs = offer::lifetime_attributes(lifetime, kilobytes);
            let spi = spi_in.to_be_bytes().to_vec();
            let notify = NotificationRepr::responder_lifetime_of(ProtocolId::ESP, spi, &attrs)
                .map_err(|_| Refuse::Malformed)?;
            rest.push(Payload::Notification(notify));
        }
        let message_id = r.message_id;
        let datagram = self
            .seal_protected(ExchangeType::QUICK, message_id, rest, |k, rest| {
                k.quick2(message_id, ni, rest)
            })
            .ok_or(Refuse::Malformed)?;
        let transform = Transform {
            lifetime: Some(lifetime),
            lifetime_kilobytes: kilobytes,
            ..choice.transform
        };
        // The peer's quick mode for client IDs we already carry is its rekey of that SA; one
        // for part of an SA's networks (the peer narrowed it) too.
        let live = || self.quick.children.iter().filter(|c| !c.superseded);
        let replaces = live()
            .find(|c| c.ids == ids)
            .or_else(|| live().find(|c| covers(c.ids, ids)))
            .map(|c| c.spi_in);
        let info = self
            .child_info(
                &transform,
                (spi_in, choice.peer_spi),
                secret.as_ref().map(|s| s.expose()),
                (ni, &nr),
                ids,
                replaces,
            )
            .ok_or(Refuse::NoProposal)?;
        // The side that started a quick mode rekeys it (see `Child::rekey_at`).
        let child = Child {
            spi_in,
            spi_out: choice.peer_spi,
            ids,
            rekey_at: None,
            expire_at: now + lifetime,
            superseded: false,
        };
        self.send(datagram.clone());
        self.quick.responding.push(Responding {
            message_id,
            received: r.ciphertext.clone(),
            datagram,
            ni: ni.to_vec(),
            nr,
            info,
            child,
            sends: 1,
            resend_at: now + self.config.retransmit.timeout(0),
        });
        Ok(())
    }

    fn handle_quick3(&mut self, now: Instant, at: usize, r: Received) {
        let Some((prf, skeyid_a)) = self.hash_key() else { return };
        let key = HashKey { prf, skeyid_a: skeyid_a.expose() };
        let pending = &self.quick.responding[at];
        if !hash_matches(&key.quick3(r.message_id, &pending.ni, &pending.nr), &r.hash) {
            self.stats.dropped_unauthenticated += 1;
            return;
        }
        self.accept(&r, now);
        let pending = self.quick.responding.remove(at);
        self.forget_chain(pending.message_id);
        if let Some(old) = pending.info.replaces {
            // The peer rekeyed it and deletes it next; we no longer rekey it ourselves.
            if let Some(c) = self.quick.children.iter_mut().find(|c| c.spi_in == old) {
                c.rekey_at = None;
                c.superseded = true;
            }
        }
        self.emit(ikeway_sa::Event::ChildSaInstalled(pending.info));
        self.quick.children.push(pending.child);
    }

    /// Our check of the client IDs of the peer's quick mode. A gateway holds a client that
    /// was given an address by mode config to that address. A client takes a gateway's
    /// quick mode for its own address (or its configured network) and any network behind the
    /// gateway within the configured one: strongSwan, rekeying, names the networks it
    /// narrowed the first SA to (RFC 2409 §5.5 lets the initiator choose). Configured IDs
    /// must match exactly.
    fn client_ids_allowed(&self, ids: Option<(Subnet, Subnet)>) -> bool {
        let q = &self.config.quick;
        let lease = self.transaction.leased_address().map(Subnet::host);
        let Some((local, remote)) = ids else {
            // Host to host between the IKE addresses: only without a lease or configured IDs.
            return lease.is_none() && q.remote.is_none() && q.local.is_none();
        };
        if self.role == crate::engine::Role::Client {
            let ours = q.local.or(lease);
            return ours.is_none_or(|o| o == local) && q.remote.is_none_or(|r| r.contains(remote));
        }
        let remote_ok = match (lease, q.remote) {
            (Some(lease), _) => remote == lease,
            (None, Some(r)) => remote == r,
            (None, None) => true,
        };
        remote_ok && q.local.is_none_or(|l| l == local)
    }
}

/// Whether the client IDs `outer` carry everything `inner` does: the same local side and a
/// remote network that contains `inner`'s.
fn covers(outer: Option<(Subnet, Subnet)>, inner: Option<(Subnet, Subnet)>) -> bool {
    match (outer, inner) {
        (Some((ol, or)), Some((il, ir))) => ol == il && or.contains(ir),
        _ => false,
    }
}
