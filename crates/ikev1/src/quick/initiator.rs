//! Our side of a quick mode we start: message 1 out (resent until answered), message 2 in,
//! message 3 out and the SA installed.

use std::time::{Duration, Instant};

use ikeway_crypto::Suite;
use ikeway_isakmp::{ExchangeType, IdRepr, KeRepr, NonceRepr, NotifyType, Payload};
use ikeway_sa::{ChildSaInfo, CloseReason, EspSuite, Event, MAX_ADDITIONAL_KES, Random};

use super::config::Subnet;
use super::hash::hash_matches;
use super::keymat::{KeymatInput, direction_keys};
use super::offer::{self, MIN_ESP_SPI};
use super::suite::{Encapsulation, Transform};
use super::{Child, Finished, Initiating, QueuedStart, rekey_after};
use crate::engine::Ikev1Sa;
use crate::informational::protected::Received;

/// Nonce length we send (RFC 2409 §5: 8 to 256 octets).
pub(crate) const NONCE_LEN: usize = 32;

/// How long a finished quick mode's message 3 is kept for a repeated message 2. RFC 2409
/// has no acknowledgement of message 3: a responder that did not get it resends message 2
/// until its tries run out, strongSwan for about 90 s (5 resends from 4 s, factor 1.8, then
/// 75 s of waiting), libreswan for 60 s, ours until 31 s; a message 2 repeated after this
/// is no longer answered and that responder's SA never comes up.
const FINISHED_KEPT: Duration = Duration::from_secs(180);

/// Everything message 2 must hold, read from its payloads.
#[derive(Debug, Default)]
pub(super) struct Parts<'a> {
    pub sa: Option<&'a ikeway_isakmp::SaRepr>,
    pub nonce: Option<&'a [u8]>,
    pub ke: Option<&'a [u8]>,
    pub ids: Vec<&'a IdRepr>,
    pub notifications: Vec<&'a ikeway_isakmp::NotificationRepr>,
    /// Any payload quick mode does not carry, or one given twice.
    pub unexpected: bool,
}

impl<'a> Parts<'a> {
    pub(super) fn read(payloads: &'a [Payload]) -> Self {
        let mut parts = Parts::default();
        for p in payloads {
            match p {
                Payload::Sa(sa) if parts.sa.is_none() => parts.sa = Some(sa),
                Payload::Nonce(n) if parts.nonce.is_none() => parts.nonce = Some(&n.data),
                Payload::Ke(ke) if parts.ke.is_none() => parts.ke = Some(&ke.data),
                Payload::Id(id) if parts.ids.len() < 2 => parts.ids.push(id),
                Payload::Notification(n) if parts.notifications.len() < 8 => {
                    parts.notifications.push(n)
                }
                // NAT-OA is for transport mode only (RFC 3947 §5.2); a vendor ID says nothing.
                Payload::NatOa(_) | Payload::NatOaDraft(_) | Payload::VendorId(_) => {}
                _ => parts.unexpected = true,
            }
        }
        parts
    }

    /// The nonce, if its length is one RFC 2409 §5 allows.
    pub(super) fn nonce(&self) -> Option<&'a [u8]> {
        self.nonce.filter(|n| (8..=256).contains(&n.len()))
    }

    /// The two client IDs, or none; one alone is malformed (`Err`).
    pub(super) fn client_ids(&self) -> Result<Option<(&'a IdRepr, &'a IdRepr)>, ()> {
        match self.ids.as_slice() {
            [] => Ok(None),
            [ci, cr] => Ok(Some((ci, cr))),
            _ => Err(()),
        }
    }
}

/// The smaller of two optional limits; a limit given by one side only holds.
pub(super) fn min_some(a: Option<u32>, b: Option<u32>) -> Option<u32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Ikev1Sa {
    /// How ESP travels: in UDP when phase 1 found a NAT (RFC 3947 §4), with the
    /// encapsulation mode number of the NAT-T variant phase 1 agreed on (3, or 61443 with the
    /// drafts).
    pub(crate) fn esp_encapsulation(&self) -> Encapsulation {
        match self.nat {
            Some(n) if n.nat_detected() => {
                Encapsulation::UdpTunnel { draft: n.variant == crate::phase1::NatTVariant::Draft }
            }
            _ => Encapsulation::Tunnel,
        }
    }

    /// A random SPI at least [`MIN_ESP_SPI`] that no SA of ours uses inbound.
    pub(super) fn new_spi(&mut self) -> u32 {
        use rand_core::RngCore;
        loop {
            let spi = self.rng.next_u32();
            let used = self.quick.children.iter().any(|c| c.spi_in == spi)
                || self.quick.initiating.iter().any(|i| i.spi_in == spi)
                || self.quick.responding.iter().any(|r| r.info.spi_in == spi);
            if spi >= MIN_ESP_SPI && !used {
                return spi;
            }
        }
    }

    pub(super) fn nonce(&mut self) -> Vec<u8> {
        let mut n = vec![0u8; NONCE_LEN];
        self.rng.fill(&mut n);
        n
    }

    /// The client IDs of our first quick modes: one per split network mode config gave
    /// (Cisco clients do so: a gateway such as libreswan 4.10 refuses a quick mode for
    /// everything when it routes only some networks), else [`Self::client_ids`] alone.
    /// Configured IDs come first.
    pub(crate) fn first_client_ids(&self) -> Vec<Option<(Subnet, Subnet)>> {
        let q = &self.config.quick;
        let split = self.transaction.split_networks();
        let local = q.local.or(self.transaction.leased_address().map(Subnet::host));
        match local {
            Some(local) if self.role == crate::engine::Role::Client && q.remote.is_none() => {
                let nets =
                    split.iter().map(|&(addr, prefix)| Some((local, Subnet { addr, prefix })));
                let nets: Vec<_> = nets.collect();
                if nets.is_empty() { vec![self.client_ids()] } else { nets }
            }
            _ => vec![self.client_ids()],
        }
    }

    /// Our client IDs for a new quick mode: configured ones, else the mode config address
    /// and everything behind the gateway, else none (host to host).
    fn client_ids(&self) -> Option<(Subnet, Subnet)> {
        let q = &self.config.quick;
        let lease = self.transaction.leased_address().map(Subnet::host);
        if self.role == crate::engine::Role::Gateway {
            // A gateway speaks for its networks to the client's leased address.
            let remote = q.remote.or(lease)?;
            let local = q.local.unwrap_or_else(|| Subnet::any_like(remote.addr));
            return Some((local, remote));
        }
        let local = q.local.or(lease)?;
        let remote = q.remote.unwrap_or_else(|| Subnet::any_like(local.addr));
        Some((local, remote))
    }

    /// Starts a quick mode (a rekey of `replaces` if given), or queues it until the ISAKMP
    /// SA is up and its transaction exchanges are done.
    pub(crate) fn start_quick(&mut self, now: Instant, replaces: Option<u32>) {
        let busy = self.quick.initiating.len() >= super::OWN_AT_ONCE;
        if !self.is_established() || !self.transaction.allows_quick() || busy {
            self.quick.queued.push(QueuedStart { replaces, ids: None });
            return;
        }
        let ids = match replaces {
            Some(spi) => match self.quick.children.iter().find(|c| c.spi_in == spi) {
                Some(c) => c.ids,
                None => return,
            },
            None => self.client_ids(),
        };
        self.start_quick_with(now, ids, replaces);
    }

    /// Starts a quick mode for the client IDs `ids`.
    pub(crate) fn start_quick_with(
        &mut self,
        now: Instant,
        ids: Option<(Subnet, Subnet)>,
        replaces: Option<u32>,
    ) {
        let busy = self.quick.initiating.len() >= super::OWN_AT_ONCE;
        if !self.is_established() || !self.transaction.allows_quick() || busy {
            self.quick.queued.push(QueuedStart { replaces, ids: Some(ids) });
            return;
        }
        let group = self.config.quick.pfs;
        let kex = match group {
            Some(g) => match self.kex.start(g, &mut self.rng) {
                Ok(k) => Some(k),
                Err(_) => {
                    self.emit(Event::ChildSaRefused {
                        notify: ikeway_codec::NotifyType(NotifyType::NO_PROPOSAL_CHOSEN.0),
                    });
                    return;
                }
            },
            None => None,
        };
        let spi_in = self.new_spi();
        let ni = self.nonce();
        let offered = offer::our_transforms(&self.config.quick, self.esp_encapsulation(), group);
        let mut rest = vec![
            Payload::Sa(offer::offer(&offered, spi_in)),
            Payload::Nonce(NonceRepr { data: ni.clone() }),
        ];
        if let Some(k) = &kex {
            rest.push(Payload::Ke(KeRepr { data: k.public_value().to_vec() }));
        }
        if let Some((local, remote)) = ids {
            rest.extend([Payload::Id(local.to_id()), Payload::Id(remote.to_id())]);
        }
        let message_id = self.new_message_id();
        let Some(datagram) =
            self.seal_protected(ExchangeType::QUICK, message_id, rest, |k, rest| {
                k.message(message_id, rest)
            })
        else {
            return;
        };
        self.send(datagram.clone());
        let resend_at = now + self.config.retransmit.timeout(0);
        self.quick.initiating.push(Initiating {
            message_id,
            spi_in,
            ni,
            kex,
            offered,
            ids,
            replaces,
            datagram,
            sends: 1,
            resend_at,
        });
    }

    /// Message 2 of our quick mode `at` (an index into `initiating`).
    pub(super) fn handle_quick2(&mut self, now: Instant, at: usize, r: Received) {
        let Some((prf, skeyid_a)) = self.hash_key() else { return };
        let key = super::hash::HashKey { prf, skeyid_a: skeyid_a.expose() };
        let pending = &self.quick.initiating[at];
        if !hash_matches(&key.quick2(r.message_id, &pending.ni, &r.rest), &r.hash) {
            self.stats.dropped_unauthenticated += 1;
            return;
        }
        self.accept(&r, now);
        let pending = self.quick.initiating.remove(at);
        match self.complete_quick(now, &pending, &r) {
            Some(()) => {}
            None => {
                self.forget_chain(pending.message_id);
                self.emit(Event::ChildSaRefused {
                    notify: ikeway_codec::NotifyType(NotifyType::NO_PROPOSAL_CHOSEN.0),
                });
            }
        }
        self.start_queued_quick(now);
    }

    /// Checks the responder's answer, sends message 3 and installs the SA.
    fn complete_quick(&mut self, now: Instant, pending: &Initiating, r: &Received) -> Option<()> {
        let parts = Parts::read(&r.payloads);
        let (chosen, spi_out) = offer::check_answer(parts.sa?, &pending.offered)?;
        let nr = parts.nonce()?.to_vec();
        // The responder echoes our client IDs (RFC 2409 §5.5), or sends none if we sent
        // none. Our own side must come back as sent; the other side may come back narrowed
        // to a network within the one we asked for, and the SA then carries that one:
        // strongSwan 5.9.8 does so when it started the ISAKMP SA itself (its unity plugin
        // widens the echo to our 0.0.0.0/0 only for SAs the client started; seen live after
        // its own phase 1: 10.77.0.0/24 for our 0.0.0.0/0).
        let echoed = parts.client_ids().ok()?;
        let ids = match (pending.ids, echoed) {
            (None, None) => None,
            (Some((local, remote)), Some((ci, cr))) => {
                let narrowed = Subnet::from_id(cr)?;
                if *ci != local.to_id() || !remote.contains(narrowed) {
                    return None;
                }
                Some((local, narrowed))
            }
            _ => return None,
        };
        let secret = match (&pending.kex, parts.ke) {
            (Some(k), Some(ke)) => Some(k.complete(ke).ok()?),
            (None, None) => None,
            _ => return None,
        };
        let offered_life = self.config.quick.lifetime;
        let mut lifetime = chosen.lifetime.unwrap_or(offer::DEFAULT_LIFETIME).min(offered_life);
        // Kilobytes: the least of ours, the answer's and a RESPONDER-LIFETIME's, if any.
        let mut kilobytes =
            min_some(self.config.quick.lifetime_kilobytes, chosen.lifetime_kilobytes);
        for n in &parts.notifications {
            if let Some(Ok(attrs)) = n.responder_lifetime() {
                let (secs, kb) = offer::read_lifetimes(&attrs);
                if let Some(secs) = secs {
                    lifetime = lifetime.min(secs);
                }
                kilobytes = min_some(kilobytes, kb);
            }
        }
        if lifetime < offer::MIN_LIFETIME || kilobytes.is_some_and(|kb| kb < offer::MIN_KILOBYTES) {
            return None;
        }
        let qm3 = self.seal_protected(ExchangeType::QUICK, r.message_id, Vec::new(), |k, _| {
            k.quick3(r.message_id, &pending.ni, &nr)
        })?;
        self.send(qm3.clone());
        self.quick.finished.push(Finished {
            message_id: r.message_id,
            received: r.ciphertext.clone(),
            datagram: qm3,
            until: now + FINISHED_KEPT,
        });
        let transform =
            Transform { lifetime: Some(lifetime), lifetime_kilobytes: kilobytes, ..chosen };
        let info = self.child_info(
            &transform,
            (pending.spi_in, spi_out),
            secret.as_ref().map(|s| s.expose()),
            (&pending.ni, &nr),
            ids,
            pending.replaces,
        )?;
        let margin = self.config.quick.rekey_margin;
        self.install_child(
            info,
            Child {
                spi_in: pending.spi_in,
                spi_out,
                ids,
                rekey_at: Some(now + rekey_after(lifetime, margin)),
                expire_at: now + lifetime,
                superseded: false,
            },
            now,
        );
        Some(())
    }

    /// The keys and selectors of a new SA. `spis` is (ours, the peer's), `nonces` (Ni_b,
    /// Nr_b) in that order whichever side we are.
    pub(super) fn child_info(
        &self,
        transform: &Transform,
        spis: (u32, u32),
        pfs_secret: Option<&[u8]>,
        nonces: (&[u8], &[u8]),
        ids: Option<(Subnet, Subnet)>,
        replaces: Option<u32>,
    ) -> Option<Box<ChildSaInfo>> {
        let keys = self.keys.as_ref()?;
        let suite = Suite::new(transform.proposal.encryption, transform.proposal.integrity).ok()?;
        let input = KeymatInput {
            prf: keys.hash.prf(),
            skeyid_d: keys.skeyid_d.expose(),
            pfs_secret,
            ni_b: nonces.0,
            nr_b: nonces.1,
        };
        let inbound = direction_keys(&input, &suite, spis.0)?;
        let outbound = direction_keys(&input, &suite, spis.1)?;
        let (local, remote) = match ids {
            Some((l, r)) => (l, r),
            None => (Subnet::host(self.local.ip()), Subnet::host(self.remote.ip())),
        };
        Some(Box::new(ChildSaInfo {
            spi_in: spis.0,
            spi_out: spis.1,
            suite: EspSuite {
                suite,
                esn: transform.esn,
                group: transform.group,
                additional_kes: [ikeway_codec::DhGroup::NONE; MAX_ADDITIONAL_KES],
            },
            inbound,
            outbound,
            local_ts: vec![local.to_ts()],
            remote_ts: vec![remote.to_ts()],
            lifetime: transform.lifetime.unwrap_or(offer::DEFAULT_LIFETIME),
            lifetime_bytes: transform.lifetime_kilobytes.map(|kb| u64::from(kb) * 1024),
            replaces,
            remote: self.remote,
            udp_encapsulation: transform.encapsulation.is_udp(),
        }))
    }

    /// Reports a new SA to the datapath and keeps it; the SA it replaces (a rekey of ours)
    /// is deleted now that the new one carries the traffic.
    pub(super) fn install_child(&mut self, info: Box<ChildSaInfo>, child: Child, now: Instant) {
        let replaces = info.replaces;
        self.emit(Event::ChildSaInstalled(info));
        self.quick.children.push(child);
        if let Some(old) = replaces
            && self.quick.children.iter().any(|c| c.spi_in == old)
        {
            self.send_delete_esp(now, &[old]);
            self.remove_child(old);
        }
    }

    /// Resends overdue messages 1 and 2; a quick mode of ours that ran out of tries means
    /// the peer is gone (RFC 2408 §5.1 leaves it to us), one of the peer's is dropped.
    pub(super) fn resend_quick(&mut self, now: Instant) {
        let retransmit = self.config.retransmit;
        let mut gone = false;
        let mut resend = Vec::new();
        for i in &mut self.quick.initiating {
            if now < i.resend_at {
                continue;
            }
            if i.sends >= retransmit.tries {
                gone = true;
                break;
            }
            resend.push(i.datagram.clone());
            i.resend_at = now + retransmit.timeout(i.sends);
            i.sends += 1;
        }
        if gone {
            self.shut_down(now, CloseReason::PeerUnreachable);
            return;
        }
        let mut expired = Vec::new();
        for r in &mut self.quick.responding {
            if now < r.resend_at {
                continue;
            }
            if r.sends >= retransmit.tries {
                expired.push(r.message_id);
                continue;
            }
            resend.push(r.datagram.clone());
            r.resend_at = now + retransmit.timeout(r.sends);
            r.sends += 1;
        }
        self.quick.responding.retain(|r| !expired.contains(&r.message_id));
        for id in expired {
            self.forget_chain(id);
        }
        for datagram in resend {
            self.stats.retransmits += 1;
            self.send(datagram);
        }
    }

    /// The peer refused our quick mode whose SPI is `spi` (an informational notify of
    /// NO-PROPOSAL-CHOSEN, INVALID-ID-INFORMATION ...): it is over, and our next waiting
    /// quick mode starts.
    pub(crate) fn quick_refused(&mut self, now: Instant, spi: Option<u32>, notify: NotifyType) {
        let at = match spi {
            Some(spi) => self.quick.initiating.iter().position(|i| i.spi_in == spi),
            // Some peers send no SPI: with a single quick mode of ours it is that one.
            None if self.quick.initiating.len() == 1 => Some(0),
            None => None,
        };
        if let Some(at) = at {
            let pending = self.quick.initiating.remove(at);
            self.forget_chain(pending.message_id);
            // An SA this was to rekey stays until it ends; a client then makes it again.
            self.emit(Event::ChildSaRefused { notify: ikeway_codec::NotifyType(notify.0) });
            self.start_queued_quick(now);
        }
    }
}
