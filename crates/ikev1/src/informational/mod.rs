//! Informational exchanges (5, RFC 2408 §4.8, RFC 2409 §5.7): Delete, notifications and dead
//! peer detection (RFC 3706), each one message protected by a HASH; and the entry points the
//! engine calls for everything after phase 1.

mod dpd;
pub(crate) mod protected;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Instant;

use ikeway_isakmp::{
    DeleteRepr, Doi, ExchangeType, HeaderRepr, NotificationRepr, NotifyType, Payload, ProtocolId,
};
use ikeway_sa::CloseReason;

pub use dpd::{Dpd, DpdAction, DpdConfig};

use crate::engine::Ikev1Sa;
use crate::quick::hash::{HashKey, hash_matches};
use protected::Received;

/// Informational and DPD settings of a [`crate::Config`].
#[derive(Debug, Clone)]
pub struct InformationalConfig {
    /// Dead peer detection: `None` sends no R-U-THERE of ours (the peer's are answered
    /// whatever this says).
    pub dpd: Option<DpdConfig>,
    /// Initiator: send INITIAL-CONTACT (RFC 2407 §4.6.3.3) once the first phase 1 of a
    /// connection is done, so that a gateway drops the SAs a previous run of ours left
    /// behind (a client that crashed or lost power never deleted them). Never sent by a
    /// renewal ([`Ikev1Sa::renew`]): the SAs it replaces are still ours.
    pub initial_contact: bool,
}

impl Default for InformationalConfig {
    /// DPD on with [`DpdConfig::default`] and INITIAL-CONTACT sent, as Apple's IPSec client
    /// (racoon) has it.
    fn default() -> Self {
        Self { dpd: Some(DpdConfig::default()), initial_contact: true }
    }
}

/// Informational messages remembered to drop a replay of one (IKEv1 has no sequence
/// numbers: an old Delete replayed must not delete a new SA).
const SEEN_MESSAGE_IDS: usize = 64;

/// The informational state of an ISAKMP SA.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Created when phase 1 completes.
    dpd: Option<Dpd>,
    /// The message IDs of the peer's recent informational messages.
    seen: VecDeque<u32>,
    /// The peer sent INITIAL-CONTACT under this SA.
    initial_contact_received: bool,
    /// Gateway: the older SAs of the same client were dropped for it.
    initial_contact_acted: bool,
}

impl State {
    /// An authenticated message from the peer: it is alive.
    pub(crate) fn dpd_heard(&mut self, now: Instant) {
        if let Some(dpd) = self.dpd.as_mut() {
            dpd.heard(now);
        }
    }
}

/// Commands and the engine's entry points.
impl Ikev1Sa {
    /// A message of a quick mode, transaction or informational exchange, encrypted under
    /// this ISAKMP SA (the E flag set, phase 1 complete). Bad input is dropped and counted.
    pub(crate) fn handle_protected(
        &mut self,
        now: Instant,
        header: &HeaderRepr,
        ciphertext: &[u8],
    ) {
        let repeat = self
            .quick
            .answer_to_repeat(header.message_id, ciphertext)
            .or_else(|| self.transaction.answer_to_repeat(header.message_id, ciphertext));
        if let Some(answer) = repeat {
            self.stats.replayed_responses += 1;
            self.send(answer);
            return;
        }
        let received = match self.open_protected(header, ciphertext) {
            Ok(r) => r,
            Err(_) => {
                self.stats.dropped_malformed += 1;
                return;
            }
        };
        match received.exchange {
            ExchangeType::QUICK => self.handle_quick(now, received),
            ExchangeType::TRANSACTION => self.handle_transaction(now, received),
            ExchangeType::INFORMATIONAL => self.handle_informational(now, received),
            _ => self.stats.dropped_unexpected += 1,
        }
    }

    /// Phase 1 is complete (either role): XAUTH, mode config and quick mode follow, and
    /// dead peer detection starts.
    pub(crate) fn start_phase2(&mut self, now: Instant) {
        use rand_core::RngCore;
        let first_seq = self.rng.next_u32();
        self.informational.dpd = Some(Dpd::new(self.config.informational.dpd, now, first_seq));
        let first_of_connection = self.side == ikeway_sa::Side::Initiator && !self.quick.renewing;
        if first_of_connection && self.config.informational.initial_contact {
            self.send_initial_contact();
        }
        self.start_transactions(now);
    }

    /// INITIAL-CONTACT in an informational exchange under the new ISAKMP SA (RFC 2407
    /// §4.6.3.3: protocol ISAKMP, the cookies as SPI), as racoon (Apple's IPSec client) sends
    /// it right after phase 1. Sent before XAUTH, it reaches the gateway while its SA is not
    /// established yet: strongSwan 5.9.8 acts on it when that SA comes up (its
    /// `check_uniqueness` with INITIAL_CONTACT seen), and ignores it on an SA already up.
    fn send_initial_contact(&mut self) {
        let cookies = self.cookies_spi();
        let notify = NotificationRepr::isakmp(NotifyType::INITIAL_CONTACT, cookies, Vec::new());
        self.send_informational(vec![Payload::Notification(notify)]);
    }

    /// Whether the peer sent INITIAL-CONTACT under this ISAKMP SA (a gateway may then drop
    /// what older SAs of the same client left).
    pub fn initial_contact_received(&self) -> bool {
        self.informational.initial_contact_received
    }

    /// Gateway: `true` once, when the client sent INITIAL-CONTACT and is now fully
    /// authenticated (phase 1, and XAUTH if configured, whose user says which client it is):
    /// the time to drop the SAs an earlier run of that client left (RFC 2407 §4.6.3.3).
    pub(crate) fn take_initial_contact(&mut self) -> bool {
        let due = self.side == ikeway_sa::Side::Responder
            && self.informational.initial_contact_received
            && !self.informational.initial_contact_acted
            && self.is_established()
            && self.transaction.allows_quick_from_peer();
        if due {
            self.informational.initial_contact_acted = true;
        }
        due
    }

    /// Gateway: who the client is, to tell its other SAs: its address, phase 1 identity and
    /// XAUTH user (with a group secret every client has the same identity).
    pub(crate) fn client_identity(&self) -> (IpAddr, Option<ikeway_isakmp::IdRepr>, Option<&str>) {
        (self.remote.ip(), self.peer_id.clone(), self.transaction.xauth_user())
    }

    /// The earliest deadline of everything after phase 1.
    pub(crate) fn phase2_deadline(&self) -> Option<Instant> {
        let dpd = self.informational.dpd.as_ref().and_then(Dpd::deadline);
        [self.quick.deadline(), self.transaction.deadline(), dpd, self.renew_deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Acts on the deadlines of [`Ikev1Sa::phase2_deadline`] that are due.
    pub(crate) fn handle_phase2_timeout(&mut self, now: Instant) {
        self.handle_transaction_timeout(now);
        if !self.is_established() {
            return;
        }
        self.handle_quick_timeout(now);
        if !self.is_established() {
            return;
        }
        self.handle_renew_timeout(now);
        let action = self.informational.dpd.as_mut().and_then(|d| d.handle_timeout(now));
        self.dpd_act(now, action);
    }

    fn dpd_act(&mut self, now: Instant, action: Option<DpdAction>) {
        match action {
            Some(DpdAction::Send(seq)) => {
                let spi = self.cookies_spi();
                let check = NotificationRepr::dpd(false, spi, seq);
                self.send_informational(vec![Payload::Notification(check)]);
            }
            Some(DpdAction::PeerDead) => self.shut_down(now, CloseReason::PeerUnreachable),
            None => {}
        }
    }

    /// Deletes the ISAKMP SA and its ESP SAs: Deletes for every ESP SA (our inbound SPIs)
    /// and for the ISAKMP SA go to the peer, then `ChildSaRemoved` for each and `IkeSaClosed`
    /// with [`CloseReason::Deleted`].
    pub fn delete_ike(&mut self, now: Instant) {
        if !self.is_established() {
            return;
        }
        let spis: Vec<u32> = self.quick.children.iter().map(|c| c.spi_in).collect();
        if !spis.is_empty() {
            self.send_delete_esp(now, &spis);
        }
        let cookies = self.cookies_spi();
        self.send_delete_isakmp(cookies);
        self.shut_down(now, CloseReason::Deleted);
    }

    /// The datapath received ESP from the peer: it is alive, so no R-U-THERE is due until
    /// the peer has been quiet for the interval again (RFC 3706 §5.3: checks only when idle).
    pub fn peer_traffic_seen(&mut self, now: Instant) {
        self.informational.dpd_heard(now);
    }

    /// Sends an R-U-THERE now (RFC 3706), whatever the idle timer says (with DPD
    /// configured, and none under way).
    pub fn dpd(&mut self, now: Instant) {
        let action = self.informational.dpd.as_mut().and_then(|d| d.check_now(now));
        self.dpd_act(now, action);
    }

    /// The ISAKMP SA ends with `reason` (`IkeSaClosed`, after [`Ikev1Sa::end_phase2`]).
    pub(crate) fn shut_down(&mut self, _now: Instant, reason: CloseReason) {
        self.close(reason);
    }

    /// What goes when the ISAKMP SA closes, whatever the reason: every ESP SA is reported
    /// removed, the exchanges in flight are dropped, and a leased address goes back to the
    /// pool.
    pub(crate) fn end_phase2(&mut self) {
        let spis: Vec<u32> = self.quick.children.iter().map(|c| c.spi_in).collect();
        for spi in spis {
            self.remove_child(spi);
        }
        let orphans = self.take_orphans();
        self.quick = Default::default();
        if let Some(o) = orphans {
            self.keep_orphans(o);
        }
        self.transaction.release_lease();
        self.transaction = Default::default();
        self.informational = Default::default();
    }

    /// Tells the peer the ISAKMP SA with these cookies is gone (RFC 2408 §3.15).
    pub(crate) fn send_delete_isakmp(&mut self, cookies: [u8; 16]) {
        self.send_informational(vec![Payload::Delete(DeleteRepr::isakmp(cookies))]);
    }

    /// Tells the peer ESP SAs are gone: their SPIs are ours (inbound), as the peer knows them
    /// for its outbound SAs (RFC 2408 §3.15).
    pub(crate) fn send_delete_esp(&mut self, _now: Instant, spis: &[u32]) {
        self.send_informational(vec![Payload::Delete(DeleteRepr::esp(spis))]);
    }

    /// An error or status notify in an informational exchange of its own.
    pub(crate) fn send_notify(
        &mut self,
        _now: Instant,
        protocol: ProtocolId,
        spi: Option<Vec<u8>>,
        kind: NotifyType,
    ) {
        let n = NotificationRepr {
            doi: Doi::IPSEC,
            protocol,
            spi: spi.unwrap_or_default(),
            kind,
            data: Vec::new(),
        };
        self.send_informational(vec![Payload::Notification(n)]);
    }

    /// One informational message with `payloads` behind its HASH, in a new exchange.
    fn send_informational(&mut self, payloads: Vec<Payload>) {
        let message_id = self.new_message_id();
        let datagram =
            self.seal_protected(ExchangeType::INFORMATIONAL, message_id, payloads, |k, rest| {
                k.message(message_id, rest)
            });
        self.forget_chain(message_id);
        if let Some(d) = datagram {
            self.send(d);
        }
    }

    fn handle_informational(&mut self, now: Instant, r: Received) {
        let Some((prf, skeyid_a)) = self.hash_key() else { return };
        let key = HashKey { prf, skeyid_a: skeyid_a.expose() };
        if !hash_matches(&key.message(r.message_id, &r.rest), &r.hash) {
            self.stats.dropped_unauthenticated += 1;
            return;
        }
        if self.informational.seen.contains(&r.message_id) {
            self.stats.dropped_unexpected += 1;
            return;
        }
        if self.informational.seen.len() == SEEN_MESSAGE_IDS {
            self.informational.seen.pop_front();
        }
        self.informational.seen.push_back(r.message_id);
        self.accept(&r, now);
        self.forget_chain(r.message_id);
        for payload in &r.payloads {
            if !self.is_established() {
                break;
            }
            match payload {
                Payload::Notification(n) => self.handle_notification(now, n),
                Payload::Delete(d) => self.handle_delete(now, d),
                _ => {}
            }
        }
    }

    fn handle_notification(&mut self, now: Instant, n: &NotificationRepr) {
        let ours = n.protocol == ProtocolId::ISAKMP && n.spi.as_slice() == self.cookies_spi();
        match n.kind {
            NotifyType::R_U_THERE if ours => {
                let Some(seq) = n.dpd_sequence() else { return };
                let answer = self.informational.dpd.as_mut().is_some_and(|d| d.handle_request(seq));
                if answer {
                    let spi = self.cookies_spi();
                    self.send_informational(vec![Payload::Notification(NotificationRepr::dpd(
                        true, spi, seq,
                    ))]);
                }
            }
            NotifyType::R_U_THERE_ACK if ours => {
                if let (Some(seq), Some(dpd)) = (n.dpd_sequence(), self.informational.dpd.as_mut())
                {
                    dpd.handle_ack(seq, now);
                }
            }
            kind if kind.is_error() && n.protocol == ProtocolId::ESP => {
                let spi = <[u8; 4]>::try_from(n.spi.as_slice()).ok().map(u32::from_be_bytes);
                self.quick_refused(now, spi, kind);
            }
            kind if kind.is_error() => self.transaction_refused(now, kind),
            NotifyType::INITIAL_CONTACT if ours => {
                self.informational.initial_contact_received = true;
            }
            // The rest are status reports with nothing for us to do.
            _ => {}
        }
    }

    fn handle_delete(&mut self, now: Instant, d: &DeleteRepr) {
        match d.protocol {
            ProtocolId::ISAKMP if d.spis.iter().any(|s| s.as_slice() == self.cookies_spi()) => {
                if self.role == crate::engine::Role::Gateway {
                    // A client renewing its ISAKMP SA deletes the old one: its ESP SAs wait
                    // for the new one (see `quick::handover`).
                    self.orphan_children();
                }
                self.shut_down(now, CloseReason::DeletedByPeer);
            }
            ProtocolId::ESP => {
                match d.spis_u32() {
                    Some(spis) => {
                        spis.into_iter().for_each(|spi| self.esp_deleted_by_peer(now, spi))
                    }
                    // No ESP SA has an SPI of another size.
                    None => self.stats.ignored_deletes += d.spis.len() as u64,
                }
            }
            _ => {}
        }
    }
}
