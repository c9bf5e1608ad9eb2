//! An IKEv1 initiator ([`Ikev1Sa`], "Cisco IPSec") as a session drives it: the same sans-IO
//! loop as IKEv2's (`handle_datagram`, `poll_transmit`, `poll_event`, timers), the events that
//! mean the same for both (`ikev1::Event::Ike`), the same datapath for its ESP SAs.
//!
//! IKEv1 has no rekey of an ISAKMP SA (RFC 2409): when the engine reports
//! [`ikeway_ikev1::Event::RenewalDue`] (or the `RekeyIke` command asks), a successor is
//! negotiated in full beside the current SA, and once it is up the ESP SAs are handed over to
//! it ([`Ikev1Sa::hand_over`]) and the old SA is deleted. The datapath keeps its SAs, the
//! session stays connected; the successor's `IkeSaUp` and `IkeSaRekeyed` report the change.
//! Datagrams go to the SA whose cookie they carry.
//!
//! A gateway may renew the ISAKMP SA itself (strongSwan at its IKE `rekey_time`, libreswan at
//! its replace time): a phase 1 message 1 with a cookie none of our SAs has is offered to the
//! engine ([`Ikev1Sa::answer_gateway`], which takes it only from the gateway's address, in
//! our mode, while the SA is up, and counts what it refuses), and the SA that answers it is
//! the successor, handed the ESP SAs once up exactly like our own.
//!
//! Commands (rekey a child, DPD, delete) go to the engine in IKEv1 terms ([`Role::act`]).
//! What only IKEv2 has is absent here rather than faked: no IKEv2 SA ([`Role::own_sa`] is
//! `None`, so no MOBIKE), no redirect.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_ikev1::{Event as V1Event, Ikev1Sa, KeyExchangeProvider};
use ikeway_sa::{Engine, EngineEvent, Event, IkeSa, SaId, Transmit};

use crate::datapath::ChildOwner;
use crate::engine::Role;
use crate::event::EventKind;
use crate::options::Ikev1KeyLogger;
use crate::session::{Action, SessionError};

/// How long a replaced ISAKMP SA's Delete is held back after the hand-over. strongSwan moves
/// the ESP SAs (and the virtual IP) to the client's new ISAKMP SA by itself once that SA's
/// XAUTH is done (its `adopt_children` job) and drops the old SA without a word; a Delete of
/// the old SA that overtakes that job deletes the ESP SAs with it. Seen live: the Delete sent
/// with the hand-over reached strongSwan in the same millisecond as our XAUTH acknowledgement
/// and took the ESP SAs down. A gateway that waits for the Delete instead (ours) only hears
/// it this much later.
const OLD_SA_DELETE_DELAY: Duration = Duration::from_secs(2);

/// The session's engine for an IKEv1 initiator: the current ISAKMP SA, the successor that
/// renews it while one is being negotiated, and replaced SAs until their last datagrams
/// (the Delete) are out.
pub(crate) struct Ikev1Initiator {
    sa: Ikev1Sa,
    successor: Option<Ikev1Sa>,
    /// The successor answers a phase 1 the gateway started (not our own renewal).
    successor_from_gateway: bool,
    /// Replaced SAs and when their last datagrams (the Delete) may go.
    retired: Vec<(Ikev1Sa, Instant)>,
    kex: Arc<dyn KeyExchangeProvider>,
    /// A fixed seed (tests): successors' seeds derive from it, so runs stay reproducible.
    fixed_seed: Option<[u8; 32]>,
    renewals: u32,
    /// Where the first SA started (our IKE port, the server's): successors start there too.
    start_path: (SocketAddr, SocketAddr),
    /// Session events of IKEv1's own (the banner, a failed renewal), for the loop.
    notes: VecDeque<EventKind>,
    /// What ends the session (a prompt nobody can answer, a key log that failed).
    failure: Option<SessionError>,
    keylog: Option<Ikev1KeyLogger>,
}

impl Ikev1Initiator {
    pub(crate) fn new(
        sa: Ikev1Sa,
        kex: Arc<dyn KeyExchangeProvider>,
        fixed_seed: Option<[u8; 32]>,
        keylog: Option<Ikev1KeyLogger>,
    ) -> Self {
        let start_path = sa.path();
        Self {
            sa,
            successor: None,
            successor_from_gateway: false,
            retired: Vec::new(),
            kex,
            fixed_seed,
            renewals: 0,
            start_path,
            notes: VecDeque::new(),
            failure: None,
            keylog,
        }
    }

    /// Starts the successor of the current ISAKMP SA, unless one is under way or the SA is
    /// not up (or no longer).
    fn start_renewal(&mut self, now: Instant) {
        if self.successor.is_some() || !self.sa.is_established() {
            return;
        }
        let seed = match self.successor_seed() {
            Ok(s) => s,
            Err(e) => return self.renewal_failed(e),
        };
        let (local, remote) = self.start_path;
        match self.sa.renew_on(Arc::clone(&self.kex), seed, now, local, remote) {
            Ok(next) => {
                self.successor = Some(next);
                self.successor_from_gateway = false;
            }
            Err(e) => self.renewal_failed(e.to_string()),
        }
    }

    /// The seed of the next successor: derived from a fixed seed (tests), else random.
    fn successor_seed(&mut self) -> Result<[u8; 32], String> {
        self.renewals += 1;
        let Some(seed) = self.fixed_seed else {
            return crate::session::random_seed().map_err(|e| e.to_string());
        };
        let derived = ikeway_ikev1::HashAlg::Sha256.digest(&[
            &seed,
            b"renewal",
            &self.renewals.to_be_bytes(),
        ]);
        let mut s = [0u8; 32];
        s.copy_from_slice(&derived[..32]);
        Ok(s)
    }

    /// A datagram with a cookie none of our SAs has: the gateway's phase 1 message 1 when it
    /// renews the ISAKMP SA itself. The engine judges it (and counts what it refuses); the SA
    /// that answers it becomes the successor. Only one successor at a time: while ours or an
    /// earlier one of the gateway's is under way, the current SA drops it as unexpected.
    fn answer_gateway(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) {
        if self.successor.is_some() {
            self.sa.handle_datagram(now, remote, local, datagram);
            return;
        }
        let seed = match self.successor_seed() {
            Ok(s) => s,
            Err(e) => return self.renewal_failed(e),
        };
        let kex = Arc::clone(&self.kex);
        if let Some(next) = self.sa.answer_gateway(kex, seed, now, remote, local, datagram) {
            self.successor = Some(next);
            self.successor_from_gateway = true;
        }
    }

    /// The current SA goes on until its end (where it closes as expired).
    fn renewal_failed(&mut self, why: String) {
        self.notes.push_back(EventKind::RenewalFailed { reason: why });
    }

    /// The successor is up: the ESP SAs move to it and it becomes the current SA.
    fn try_hand_over(&mut self, now: Instant) {
        let Some(next) = self.successor.as_mut() else { return };
        if !self.sa.hand_over(next, now) {
            return;
        }
        if let Some(next) = self.successor.take() {
            let old = std::mem::replace(&mut self.sa, next);
            self.retired.push((old, now + OLD_SA_DELETE_DELAY));
        }
    }

    fn write_keylog(&mut self, which: Which) {
        let Some(log) = self.keylog.as_mut() else { return };
        let sa = match which {
            Which::Current => Some(&self.sa),
            Which::Successor => self.successor.as_ref(),
        };
        let Some(keys) = sa.and_then(Ikev1Sa::export_keys_for_debugging) else { return };
        if let Err(e) = log(&keys) {
            self.failure.get_or_insert(SessionError::Keylog(e));
        }
    }

    /// An IKEv1-only event: what the session shows or ends on.
    fn own_event(&mut self, event: V1Event, which: Which) {
        match event {
            V1Event::RenewalDue if matches!(which, Which::Current) => {
                self.start_renewal(Instant::now());
            }
            V1Event::Banner(text) => self.notes.push_back(EventKind::Banner { text }),
            V1Event::ModeConfigNotes(notes) => {
                self.notes.push_back(EventKind::ModeConfigNotes { notes: notes.into() })
            }
            // The configuration carries the password of this start (stored, or given with
            // the start: `--password-file`, `startVPNTunnel(options:)`); without one there is
            // nobody to ask here, and the session ends saying so.
            V1Event::XauthPasswordRequired { username, .. } => {
                self.failure.get_or_insert(SessionError::XauthPasswordMissing {
                    user: username.unwrap_or_default(),
                });
            }
            _ => {}
        }
    }

    /// The SA a datagram from the server belongs to, by the initiator cookie it carries.
    fn sa_for(&mut self, local: SocketAddr, remote: SocketAddr, datagram: &[u8]) -> &mut Ikev1Sa {
        let cookie = ikeway_ikev1::initiator_cookie(local, remote, datagram);
        let of = |sa: &Ikev1Sa| Some(sa.cookies().0) == cookie;
        if self.successor.as_ref().is_some_and(of) {
            return self.successor.as_mut().unwrap_or(&mut self.sa);
        }
        if let Some(i) = self.retired.iter().position(|(sa, _)| of(sa)) {
            return &mut self.retired[i].0;
        }
        &mut self.sa
    }
}

#[derive(Clone, Copy)]
enum Which {
    Current,
    Successor,
}

impl Engine for Ikev1Initiator {
    fn handle_datagram(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        local: SocketAddr,
        datagram: &[u8],
    ) {
        if let Some(cookie) = ikeway_ikev1::initiator_cookie(local, remote, datagram) {
            let of = |sa: &Ikev1Sa| sa.cookies().0 == cookie;
            let known = of(&self.sa)
                || self.successor.as_ref().is_some_and(of)
                || self.retired.iter().any(|(sa, _)| of(sa));
            if !known {
                return self.answer_gateway(now, remote, local, datagram);
            }
        }
        self.sa_for(local, remote, datagram).handle_datagram(now, remote, local, datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        let due = |sa: &Ikev1Sa| sa.poll_timeout().is_some_and(|t| t <= now);
        for sa in std::iter::once(&mut self.sa)
            .chain(self.successor.as_mut())
            .chain(self.retired.iter_mut().map(|(sa, _)| sa))
            .filter(|sa| due(sa))
        {
            sa.handle_timeout(now);
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let now_due = (!self.notes.is_empty() || self.failure.is_some()).then(Instant::now);
        let release = self.retired.iter().map(|(_, at)| *at).min();
        [
            self.sa.poll_timeout(),
            self.successor.as_ref().and_then(Ikev1Sa::poll_timeout),
            now_due,
            release,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The replaced SAs' last datagrams first once their time has come (their Delete, see
    /// [`OLD_SA_DELETE_DELAY`]), then the current SA's, then the successor's.
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>> {
        let now = Instant::now();
        while let Some(i) = self.retired.iter().position(|(_, at)| *at <= now) {
            match self.retired[i].0.poll_transmit(buf) {
                Some(t) => return Some(t),
                None => {
                    self.retired.remove(i);
                }
            }
        }
        if let Some(t) = self.sa.poll_transmit(buf) {
            return Some(t);
        }
        self.successor.as_mut()?.poll_transmit(buf)
    }

    /// The events IKEv1 shares with IKEv2, of the current SA and of its successor (which
    /// reports `IkeSaUp`, then `IkeSaRekeyed` once it has the ESP SAs); the replaced SA's
    /// close is its own business. IKEv1-only events are acted on here.
    fn poll_event(&mut self) -> Option<EngineEvent> {
        loop {
            if let Some(ikeway_ikev1::EngineEvent { sa, event }) = self.sa.poll_event() {
                match event {
                    V1Event::Ike(event) => {
                        if matches!(event, Event::IkeSaUp { .. }) {
                            self.write_keylog(Which::Current);
                        }
                        return Some(EngineEvent { sa, event });
                    }
                    other => {
                        self.own_event(other, Which::Current);
                        continue;
                    }
                }
            }
            for (old, _) in &mut self.retired {
                while old.poll_event().is_some() {}
            }
            let next = self.successor.as_mut()?;
            let Some(ikeway_ikev1::EngineEvent { sa, event }) = next.poll_event() else {
                // Up (and XAUTH done): the ESP SAs move over; its `IkeSaRekeyed` comes next.
                if next.is_established() {
                    self.try_hand_over(Instant::now());
                    if self.successor.is_none() {
                        continue;
                    }
                }
                return None;
            };
            match event {
                V1Event::Ike(Event::IkeSaClosed { reason }) => {
                    // Its last words (an error notify, a Delete) still go out.
                    if let Some(failed) = self.successor.take() {
                        self.retired.push((failed, Instant::now()));
                    }
                    let whose = if self.successor_from_gateway { "the gateway's" } else { "the" };
                    self.renewal_failed(format!("{whose} new ISAKMP SA closed: {reason:?}"));
                }
                V1Event::Ike(event) => {
                    if matches!(event, Event::IkeSaUp { .. }) {
                        self.write_keylog(Which::Successor);
                    }
                    return Some(EngineEvent { sa, event });
                }
                other => self.own_event(other, Which::Successor),
            }
        }
    }

    /// There is no IKEv2 SA to give.
    fn sa_mut(&mut self, _id: SaId) -> Option<&mut IkeSa> {
        None
    }
}

impl ChildOwner for Ikev1Initiator {
    /// A new quick mode for the ESP SA the datapath asked about (its soft limit).
    fn rekey_child(&mut self, now: Instant, spi_in: u32) -> bool {
        let ours = self.sa.child_spis().iter().any(|&(spi, _)| spi == spi_in);
        if ours {
            self.sa.rekey_child(now, spi_in);
        }
        ours
    }
}

impl Role for Ikev1Initiator {
    fn own_sa(&mut self) -> Option<&mut IkeSa> {
        None
    }

    /// Deletes the ESP SAs and the ISAKMP SA (informational exchanges with Delete payloads),
    /// and a successor in the making.
    fn delete_all(&mut self, now: Instant) {
        if let Some(next) = self.successor.as_mut()
            && next.is_established()
        {
            next.delete_ike(now);
        }
        if !self.sa.is_closed() {
            self.sa.delete_ike(now);
        }
    }

    /// The initiator's commands in IKEv1 terms. `RekeyIke` renews the ISAKMP SA now (a new
    /// one, the ESP SAs handed over), what the engine's own timer does before the end of
    /// its lifetime.
    fn act(&mut self, now: Instant, sa: Option<SaId>, action: Action) {
        if sa.is_some_and(|id| id != self.sa.id()) {
            return;
        }
        if action == Action::RekeyIke {
            self.start_renewal(now);
            return;
        }
        let sa = &mut self.sa;
        let first_child = sa.child_spis().first().map(|c| c.0);
        match action {
            Action::RekeyChild(spi) => {
                if let Some(spi) = spi.or(first_child) {
                    sa.rekey_child(now, spi);
                }
            }
            Action::RekeyIke => {}
            Action::Dpd => sa.dpd(now),
            Action::CreateChild => sa.create_child(now),
            Action::DeleteChild(spi) => {
                if let Some(spi) = spi.or(first_child) {
                    sa.delete_child(now, spi);
                }
            }
            Action::DeleteIke => sa.delete_ike(now),
        }
    }

    fn all_closed(&self) -> bool {
        self.sa.is_closed()
    }

    fn serves_many(&self) -> bool {
        false
    }

    fn stats_text(&self) -> (Option<String>, Option<String>, Option<String>) {
        (Some(format!("{:?}", self.sa.stats())), None, None)
    }

    fn retransmits(&self) -> u64 {
        self.sa.stats().retransmits
    }

    /// ESP from the server counts as hearing from it: DPD asks R-U-THERE only when idle
    /// (RFC 3706 §5.3).
    fn peer_traffic_seen(&mut self, now: Instant) {
        self.sa.peer_traffic_seen(now);
    }

    fn poll_note(&mut self) -> Option<EventKind> {
        self.notes.pop_front()
    }

    fn take_failure(&mut self) -> Option<SessionError> {
        self.failure.take()
    }
}
