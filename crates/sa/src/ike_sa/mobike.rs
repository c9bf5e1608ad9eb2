//! MOBIKE (RFC 4555), both roles, and NAT rebinding without it (RFC 7296 §2.23).
//!
//! Negotiation: MOBIKE_SUPPORTED both ways in IKE_AUTH (§3.2). Then only the original
//! initiator moves the SA: [`IkeSa::update_path`] sends, from the new path,
//!
//! ```text
//! INFORMATIONAL { N(UPDATE_SA_ADDRESSES), N(NAT_DETECTION_SOURCE_IP),
//!                 N(NAT_DETECTION_DESTINATION_IP), N(COOKIE2),
//!                 N(NO_ADDITIONAL_ADDRESSES) | N(ADDITIONAL_IP4/6_ADDRESS)... }
//! ```
//!
//! and the responder, for an authenticated request with the next message ID (a replay is
//! answered from the response cache and moves nothing), moves the IKE SA to the address pair
//! the request came from, answers with its NAT detection and the COOKIE2 echo, then checks
//! the new address's return routability with an INFORMATIONAL { N(COOKIE2) } of its own
//! (§3.7) before it reports [`Event::PathUpdated`], which moves ESP. The initiator reports
//! `PathUpdated` once the echo of its COOKIE2 came back, with the NAT detection of the new
//! path (floating to port 4500 first, and confirming that with a second update, when a NAT
//! appeared, §3.8).
//!
//! Requests, retransmissions and responses always go from the newest path asked for (§3.5:
//! the old path may be gone); an update asked for while another request is outstanding
//! follows once the window opens, and one asked for while an update is outstanding follows
//! its response.

use std::net::IpAddr;

use ikeway_codec::payload::mobike::{self as wire, COOKIE2_LEN, NoNatsAllowed};

use super::*;

/// A local and a remote address: where an IKE SA's datagrams go from and to.
pub(super) type Path = (SocketAddr, SocketAddr);

/// Additional addresses kept per side: a host has a handful; beyond this a peer's list is cut
/// short, so it cannot make us hold or repeat more (RFC 4555 §3.4 sets no limit).
pub(crate) const MAX_ADDITIONAL_ADDRESSES: usize = 16;
/// COOKIE2 we send: 16 random octets (§4.2.7 allows 8 to 64).
const COOKIE2_SEND_LEN: usize = 16;

/// The MOBIKE state of an IKE SA.
#[derive(Debug, Default)]
pub(super) struct Mobility {
    /// The peer announced MOBIKE_SUPPORTED in IKE_AUTH.
    pub(super) peer_supported: bool,
    /// Both sides announced it and the SA is up: what `mobike_negotiated` says.
    pub(super) negotiated: bool,
    /// Initiator: the newest path `update_path` asked for and not yet confirmed. Everything we
    /// send goes from it.
    pub(super) wanted: Option<Path>,
    /// Our additional addresses, announced in IKE_AUTH and updates.
    pub(super) own_additional: Vec<IpAddr>,
    /// The peer's, from its last announcement.
    pub(super) peer_additional: Vec<IpAddr>,
    /// Responder: a move whose return routability check (§3.7) is under way; `PathUpdated`
    /// waits for it.
    pub(super) unchecked: Option<Event>,
}

impl IkeSa {
    /// Whether both sides announced MOBIKE (RFC 4555 §3.2) and the SA is established: only
    /// then can it move with [`IkeSa::update_path`].
    pub fn mobike_negotiated(&self) -> bool {
        self.mobility.negotiated
    }

    /// Initiator: moves the IKE SA and its child SAs to `local` -> `remote` (RFC 4555 §3.5):
    /// an UPDATE_SA_ADDRESSES request from the new path, at once or when the request in
    /// flight was answered. `local()`/`remote()` change, and [`Event::PathUpdated`] is
    /// reported, once the responder confirmed. Until then everything this SA sends, including
    /// the retransmissions of a request in flight, goes from the new path.
    ///
    /// Pass the addresses of the socket IKE uses now: port 4500 once NAT traversal floated
    /// there (`remote().port() == 4500`).
    pub fn update_path(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Result<(), crate::Error> {
        if self.side != Side::Initiator {
            return Err(crate::Error::MobikeNotInitiator);
        }
        if !self.mobility.negotiated || !self.is_established() {
            return Err(crate::Error::MobikeNotNegotiated);
        }
        self.mobility.wanted = Some((local, remote));
        match &self.outstanding {
            // Its response starts the next update if this path is not the one it carried.
            Some(Outstanding { kind: Request::UpdateAddresses { .. }, datagrams, .. }) => {
                let datagrams = datagrams.clone();
                self.stats.retransmits += 1;
                self.transmit_all(&datagrams);
            }
            // The window is one request (RFC 7296 §2.3): resend what is in flight from the
            // new path now, update after it.
            Some(out) => {
                let datagrams = out.datagrams.clone();
                self.stats.retransmits += 1;
                self.transmit_all(&datagrams);
                self.queue(Command::UpdatePath);
            }
            None => self.command(now, Command::UpdatePath),
        }
        Ok(())
    }

    /// Sets our additional addresses (RFC 4555 §3.4): announced in IKE_AUTH, in every
    /// UPDATE_SA_ADDRESSES, and, once MOBIKE is up, at once in an INFORMATIONAL (§3.6).
    /// Duplicates are dropped and the list is cut at 16.
    pub fn set_additional_addresses(&mut self, now: Instant, addrs: Vec<IpAddr>) {
        let mut list: Vec<IpAddr> = Vec::new();
        for a in addrs {
            if !list.contains(&a) && list.len() < MAX_ADDITIONAL_ADDRESSES {
                list.push(a);
            }
        }
        self.mobility.own_additional = list;
        if self.mobility.negotiated && !self.is_closed() {
            self.command(now, Command::AnnounceAddresses);
        }
    }

    /// The peer's additional addresses from its last announcement (at most 16).
    pub fn peer_additional_addresses(&self) -> &[IpAddr] {
        &self.mobility.peer_additional
    }

    /// Where what we send goes: the newest path asked for, else the SA's.
    pub(super) fn send_path(&self) -> Path {
        self.mobility.wanted.unwrap_or((self.local, self.remote))
    }

    /// Notifies for our IKE_AUTH message (§3.2, §3.4), either role, when configured.
    pub(super) fn mobike_auth_notifies(&self) -> Vec<Payload> {
        if !self.config.mobike {
            return Vec::new();
        }
        let mut out = vec![notify(NotifyType::MOBIKE_SUPPORTED, Vec::new())];
        out.extend(self.mobility.own_additional.iter().map(|a| address_notify(*a)));
        out
    }

    /// Notes MOBIKE_SUPPORTED and the addresses in the peer's IKE_AUTH message.
    pub(super) fn note_peer_mobike(&mut self, payloads: &[Payload]) {
        if find_notify(payloads, NotifyType::MOBIKE_SUPPORTED).is_some() {
            self.mobility.peer_supported = true;
            if self.config.mobike {
                self.take_peer_addresses(payloads);
            }
        }
    }

    /// At establishment: MOBIKE is on when both announced it.
    pub(super) fn settle_mobike(&mut self) {
        self.mobility.negotiated = self.config.mobike && self.mobility.peer_supported;
    }

    /// Replaces the peer's additional addresses when the message lists them (§3.6); bad
    /// entries are skipped, the list is cut at [`MAX_ADDITIONAL_ADDRESSES`].
    fn take_peer_addresses(&mut self, payloads: &[Payload]) {
        let mut listed = false;
        let mut list = Vec::new();
        for p in payloads {
            let PayloadRepr::Notify(n) = &p.body else { continue };
            if n.kind == NotifyType::NO_ADDITIONAL_ADDRESSES {
                listed = true;
                continue;
            }
            match wire::additional_address(n) {
                Ok(Some(a)) => {
                    listed = true;
                    if !list.contains(&a) && list.len() < MAX_ADDITIONAL_ADDRESSES {
                        list.push(a);
                    }
                }
                Ok(None) => {}
                Err(_) => {
                    listed = true;
                    self.stats.dropped_malformed += 1;
                }
            }
        }
        if listed {
            self.mobility.peer_additional = list;
        }
    }

    fn address_list(&self) -> Vec<Payload> {
        if self.mobility.own_additional.is_empty() {
            return vec![notify(NotifyType::NO_ADDITIONAL_ADDRESSES, Vec::new())];
        }
        self.mobility.own_additional.iter().map(|a| address_notify(*a)).collect()
    }

    fn nat_detection(&self, path: Path) -> [Payload; 2] {
        let (local, remote) = path;
        [
            notify(NotifyType::NAT_DETECTION_SOURCE_IP, &self.source_hash(self.spi_r, local)[..]),
            notify(
                NotifyType::NAT_DETECTION_DESTINATION_IP,
                &nat::hash(self.spi_i, self.spi_r, remote)[..],
            ),
        ]
    }

    /// (local behind a NAT, remote behind a NAT) from the peer's NAT detection notifies for a
    /// message that travelled `path`; `None` when it sent none.
    fn nat_seen(&self, payloads: &[Payload], path: Path) -> Option<(bool, bool)> {
        let source = find_notify(payloads, NotifyType::NAT_DETECTION_SOURCE_IP)?;
        let destination = find_notify(payloads, NotifyType::NAT_DETECTION_DESTINATION_IP)?;
        let (local, remote) = path;
        Some((
            destination.data[..] != nat::hash(self.spi_i, self.spi_r, local),
            source.data[..] != nat::hash(self.spi_i, self.spi_r, remote),
        ))
    }

    // ----- initiator -----

    /// Sends UPDATE_SA_ADDRESSES for the newest path (§3.5).
    pub(super) fn start_update(&mut self, now: Instant) -> Result<(), crate::Error> {
        let path = self.send_path();
        let cookie2 = self.random_bytes(COOKIE2_SEND_LEN);
        let mut inner = vec![notify(NotifyType::UPDATE_SA_ADDRESSES, Vec::new())];
        inner.extend(self.nat_detection(path));
        inner.push(notify(NotifyType::COOKIE2, cookie2.clone()));
        inner.extend(self.address_list());
        self.send_encrypted_request(
            now,
            ExchangeType::INFORMATIONAL,
            &inner,
            Request::UpdateAddresses { cookie2, path },
        )
    }

    /// Announces our additional addresses (§3.6).
    pub(super) fn start_announce(&mut self, now: Instant) -> Result<(), crate::Error> {
        let inner = self.address_list();
        self.send_encrypted_request(
            now,
            ExchangeType::INFORMATIONAL,
            &inner,
            Request::AnnounceAddresses,
        )
    }

    /// Whether a response may end `kind`: requests that carried COOKIE2 need it echoed
    /// unchanged (§3.7). A response that fails is dropped and counted; the request stays
    /// outstanding.
    pub(super) fn cookie2_echoed(&mut self, kind: &Request, payloads: &[Payload]) -> bool {
        let sent = match kind {
            Request::UpdateAddresses { cookie2, .. } | Request::CheckPath { cookie2, .. } => {
                cookie2
            }
            _ => return true,
        };
        let ok = find_notify(payloads, NotifyType::COOKIE2).is_some_and(|n| n.data[..] == sent[..]);
        if !ok {
            self.stats.cookie2_mismatches += 1;
        }
        ok
    }

    /// The responder answered our UPDATE_SA_ADDRESSES for `sent`.
    pub(super) fn finish_update(&mut self, now: Instant, payloads: &[Payload], sent: Path) {
        if let Some(error) = first_error(payloads) {
            self.stats.path_updates_refused += 1;
            self.events.push_back(Event::PathUpdateRefused {
                local: sent.0,
                remote: sent.1,
                notify: error,
            });
            self.after_update(sent);
            if self.mobility.wanted.is_none() {
                return;
            }
            // A newer path is wanted: try that one.
            self.queue(Command::UpdatePath);
            return;
        }
        // The responder moved to where the request it answered came from: the newest path we
        // send from (a newer one than `sent` if it answered a retransmission from there). That,
        // not the address a runtime with wildcard sockets hands the response in with, is what
        // its NAT detection describes.
        let arrived = self.send_path();
        let (local_nat, remote_nat) = self
            .nat_seen(payloads, arrived)
            .unwrap_or((self.local_behind_nat, self.remote_behind_nat));
        if (local_nat || remote_nat) && !self.nat_t {
            // §3.8 with RFC 7296 §2.23: behind a NAT now, IKE and ESP go over 4500; the
            // responder learns the mapping of that port from one more update.
            let (mut local, mut remote) = arrived;
            local.set_port(NAT_T_PORT);
            remote.set_port(NAT_T_PORT);
            self.nat_t = true;
            self.local_behind_nat = local_nat;
            self.remote_behind_nat = remote_nat;
            self.mobility.wanted = Some((local, remote));
            self.queue(Command::UpdatePath);
            return;
        }
        self.move_to(now, arrived, local_nat, remote_nat);
        self.after_update(sent);
        if self.mobility.wanted.is_some() {
            self.queue(Command::UpdatePath);
        }
    }

    /// Forgets the wanted path once an update for it was answered; a newer one stays.
    fn after_update(&mut self, sent: Path) {
        if self.mobility.wanted == Some(sent) {
            self.mobility.wanted = None;
        }
    }

    /// The SA now runs on `path`: reported when anything changed, keepalives as the NAT says.
    fn move_to(&mut self, now: Instant, path: Path, local_nat: bool, remote_nat: bool) {
        let changed = (self.local, self.remote) != path
            || self.local_behind_nat != local_nat
            || self.remote_behind_nat != remote_nat;
        (self.local, self.remote) = path;
        self.local_behind_nat = local_nat;
        self.remote_behind_nat = remote_nat;
        if local_nat {
            if self.timers.get(Timer::Keepalive).is_none() {
                self.timers.set(Timer::Keepalive, now + self.config.nat_keepalive);
            }
        } else {
            self.timers.stop(Timer::Keepalive);
        }
        self.stats.path_updates += 1;
        if changed {
            let event = self.path_event();
            if self.side == Side::Responder && self.mobility.negotiated {
                // §3.7: ESP moves once the new address answered our COOKIE2.
                self.mobility.unchecked = Some(event);
                self.queue(Command::CheckPath);
            } else {
                self.events.push_back(event);
            }
        }
    }

    fn path_event(&self) -> Event {
        Event::PathUpdated {
            local: self.local,
            remote: self.remote,
            local_behind_nat: self.local_behind_nat,
            remote_behind_nat: self.remote_behind_nat,
            udp_encapsulation: self.nat_t,
        }
    }

    // ----- responder -----

    /// Sends the return routability check of the path we just moved to (§3.7).
    pub(super) fn start_check(&mut self, now: Instant) -> Result<(), crate::Error> {
        if self.mobility.unchecked.is_none() {
            return Ok(());
        }
        let cookie2 = self.random_bytes(COOKIE2_SEND_LEN);
        let inner = [notify(NotifyType::COOKIE2, cookie2.clone())];
        let path = (self.local, self.remote);
        self.send_encrypted_request(
            now,
            ExchangeType::INFORMATIONAL,
            &inner,
            Request::CheckPath { cookie2, path },
        )
    }

    /// The peer echoed our COOKIE2 on `path`: report the move, unless the SA moved on since
    /// (the check of the newer path is queued and reports it).
    pub(super) fn finish_check(&mut self, path: Path) {
        if (self.local, self.remote) == path {
            if let Some(event) = self.mobility.unchecked.take() {
                self.events.push_back(event);
            }
        } else {
            self.queue(Command::CheckPath);
        }
    }

    /// An established SA's INFORMATIONAL request: the MOBIKE notifies first, then the rest
    /// as without MOBIKE.
    pub(super) fn handle_established_informational(
        &mut self,
        now: Instant,
        mid: u32,
        rx: Path,
        payloads: &[Payload],
    ) -> Result<(), crate::Error> {
        if !self.mobility.negotiated {
            return self.handle_informational_request(mid, payloads);
        }
        let reply = self.mobike_reply(now, rx, payloads);
        // RFC 7296 §2.11: the response goes where the request came from (also when we
        // refused to move there).
        self.answer_informational(mid, payloads, reply, Some(rx))
    }

    /// What we answer to the MOBIKE notifies of an authenticated request that came on `rx`.
    fn mobike_reply(&mut self, now: Instant, rx: Path, payloads: &[Payload]) -> Vec<Payload> {
        let cookie2 = find_notify(payloads, NotifyType::COOKIE2).map(|n| n.data.clone());
        if cookie2.as_ref().is_some_and(|c| !COOKIE2_LEN.contains(&c.len())) {
            self.stats.dropped_malformed += 1;
            return vec![notify(NotifyType::INVALID_SYNTAX, Vec::new())];
        }
        self.take_peer_addresses(payloads);
        let mut reply = Vec::new();
        if find_notify(payloads, NotifyType::UPDATE_SA_ADDRESSES).is_some() {
            if self.side != Side::Responder {
                // Only the original initiator moves the SA (§3.5): ignored, counted.
                self.stats.path_updates_refused += 1;
            } else {
                match self.accept_update(rx, payloads) {
                    Ok((local_nat, remote_nat)) => {
                        self.nat_t = on_nat_t_port(rx.0, rx.1);
                        self.move_to(now, rx, local_nat, remote_nat);
                    }
                    Err(refusal) => {
                        self.stats.path_updates_refused += 1;
                        reply.push(notify(refusal, Vec::new()));
                    }
                }
            }
        }
        // §3.8: NAT detection is answered whenever asked, so the initiator sees mappings
        // change without moving.
        if find_notify(payloads, NotifyType::NAT_DETECTION_SOURCE_IP).is_some() {
            reply.extend(self.nat_detection(rx));
        }
        if let Some(c) = cookie2 {
            reply.push(notify(NotifyType::COOKIE2, c));
        }
        reply
    }

    /// Whether we move to `rx` for this UPDATE_SA_ADDRESSES: the NAT detection results, or the
    /// notify that refuses.
    fn accept_update(&self, rx: Path, payloads: &[Payload]) -> Result<(bool, bool), NotifyType> {
        if !usable(rx.1) {
            return Err(NotifyType::UNACCEPTABLE_ADDRESSES);
        }
        if let Some(n) = find_notify(payloads, NotifyType::NO_NATS_ALLOWED) {
            // §3.9: the addresses the initiator sent from and to must be the ones we see.
            let seen = NoNatsAllowed { source: rx.1, destination: rx.0 };
            match NoNatsAllowed::parse(&n.data) {
                Ok(said) if said == seen => {}
                Ok(_) => return Err(NotifyType::UNEXPECTED_NAT_DETECTED),
                Err(_) => return Err(NotifyType::INVALID_SYNTAX),
            }
        }
        Ok(self.nat_seen(payloads, rx).unwrap_or((self.local_behind_nat, self.remote_behind_nat)))
    }

    /// Responder, RFC 7296 §2.23: an authenticated request with a new message ID came from
    /// `remote` to `local`. During the handshake that is the initiator floating to 4500;
    /// later, without MOBIKE, a NAT in front of the peer that rebound it. With MOBIKE only
    /// UPDATE_SA_ADDRESSES moves the SA (RFC 4555 §3.8).
    pub(super) fn follow_peer(&mut self, now: Instant, remote: SocketAddr, local: SocketAddr) {
        if self.side != Side::Responder || (self.local, self.remote) == (local, remote) {
            return;
        }
        let on_nat_t = on_nat_t_port(local, remote);
        if !self.is_established() {
            if on_nat_t {
                self.remote = remote;
                self.local = local;
                self.nat_t = true;
            }
            return;
        }
        if self.mobility.negotiated || !self.remote_behind_nat {
            return;
        }
        self.nat_t |= on_nat_t;
        self.move_to(now, (local, remote), self.local_behind_nat, true);
    }
}

fn address_notify(addr: IpAddr) -> Payload {
    Payload::new(PayloadRepr::Notify(wire::additional_address_notify(addr)))
}

/// An address a peer can be at: not unspecified, multicast or broadcast, and a real port.
fn usable(addr: SocketAddr) -> bool {
    let ip_ok = match addr.ip() {
        IpAddr::V4(v4) => !(v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    };
    ip_ok && addr.port() != 0
}
