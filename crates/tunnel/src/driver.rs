//! The session's loop: after any input it sends what the engine queued, turns the engine's
//! events into session events (installing child SAs in the datapath on the way), takes the
//! datapath's rekey requests, then waits for the next datagram, command or timer, whichever
//! comes first. It reads its UDP sockets itself and sleeps in `poll(2)` on them and its
//! doorbell (`crate::doorbell`), with the next timer as the deadline: commands and path changes
//! come through channels whose senders ring the bell, the datapath rings it for a rekey, so each
//! wakes the loop at once, and nothing wakes it otherwise.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError};
use ikeway_pump::Pump;
use ikeway_sa::{CloseReason, EngineEvent, Event, IkeSa, SaId};

use crate::event::{EventKind, SessionEvent, SessionStats, Spi64, Status};
use crate::faults::Fault;
use crate::mobility::Mobility;
use crate::netstack::NetstackSas;
use crate::options::{DatagramTrace, KeyLogger};
use crate::redirect::Follower;
use crate::session::{Action, Parts, SessionError};
use crate::sockets::Sockets;
use crate::{datapath, engine::Role};

/// What a [`crate::SessionHandle`] sends.
#[derive(Debug)]
pub(crate) enum Command {
    Act {
        sa: Option<u64>,
        action: Action,
    },
    /// A responder sends the client of this IKE SA elsewhere (RFC 5685 §5).
    Redirect {
        sa: u64,
        gateway: ikeway_codec::Gateway,
    },
    Disconnect(Duration),
    Shutdown,
    Stats,
}

/// Datagrams handled in a row before the loop sends what they caused and looks at its timers
/// and commands: a flood on the sockets cannot hold those back for long.
const DATAGRAM_BATCH: usize = 32;

pub(crate) struct Driver<E> {
    engine: E,
    sockets: Sockets,
    pump: Option<Arc<Pump>>,
    /// The userspace-netstack datapath's SA table, when that is the datapath.
    netstack: Option<NetstackSas>,
    trace: Option<DatagramTrace>,
    commands: Receiver<Command>,
    commands_open: bool,
    /// The host's addresses or routes changed (a MOBIKE initiator's `Mobility` watch).
    path_wake: Option<Receiver<()>>,
    events: Sender<SessionEvent>,
    events_dropped: u64,
    keylog: Option<KeyLogger>,
    wakeups: Arc<AtomicU64>,
    /// What the engine sends is written here.
    buf: Vec<u8>,
    /// What the sockets receive is read here: the largest UDP payload fits.
    rx_buf: Vec<u8>,
    started: Instant,
    /// Until the first child SA: an initiator gives up then.
    connect_deadline: Option<Instant>,
    child_up: bool,
    closed: Option<CloseReason>,
    /// Disconnecting: the end of the grace period.
    grace_until: Option<Instant>,
    stop: bool,
    retransmits: u64,
    /// The datapath's inbound ESP packets when last looked at ([`Self::note_peer_traffic`]).
    inbound_packets: u64,
    redirects: Option<Follower>,
    /// A MOBIKE initiator's path watch (`crate::mobility`).
    mobility: Option<Mobility>,
    /// One worker of several: only the first reports the status, the last the end.
    crew: Option<crate::crew::Member>,
}

impl<E: Role> Driver<E> {
    pub(crate) fn new(engine: E, parts: Parts, started: Instant) -> Self {
        Self {
            engine,
            sockets: parts.sockets,
            pump: parts.pump,
            netstack: parts.netstack,
            trace: parts.trace,
            commands: parts.commands,
            commands_open: true,
            path_wake: parts.path_wake,
            events: parts.events,
            events_dropped: 0,
            keylog: parts.keylog,
            wakeups: parts.wakeups,
            buf: vec![0; 65536],
            rx_buf: vec![0; 65536],
            started,
            connect_deadline: parts.deadline,
            child_up: false,
            closed: None,
            grace_until: None,
            stop: false,
            retransmits: 0,
            inbound_packets: 0,
            redirects: parts.redirects,
            mobility: parts.mobility,
            crew: parts.crew,
        }
    }

    /// Runs until the end, reports the counters and the last status, and lets go of the
    /// ports and the TUN device.
    pub(crate) fn run(mut self) -> Result<(), SessionError> {
        let first = if self.engine.serves_many() { Status::Connected } else { Status::Connecting };
        if self.leads() {
            self.emit(None, EventKind::Status { status: first });
        }
        let result = self.turns();
        if let Err(e) = &result {
            self.emit(None, EventKind::Error { error: e.to_string() });
        }
        self.emit_stats();
        // The TUN device and the ports go first: whoever hears `Disconnected` (a `disconnect`
        // waiting for it, a test reading the links) must find them gone, and the pump's
        // workers take up to their poll timeout to notice a stop.
        let Self { sockets, pump, events, crew, .. } = self;
        drop(sockets);
        if let Some(pump) = pump.and_then(|p| Arc::try_unwrap(p).ok()) {
            pump.stop();
        }
        if crew.is_some_and(|c| !c.last_to_end()) {
            return result;
        }
        // Nothing counts a drop any more; a reader that misses this sees the channel end.
        let _ = events.try_send(SessionEvent {
            kind: EventKind::Status { status: Status::Disconnected },
            sa: None,
        });
        result
    }

    fn turns(&mut self) -> Result<(), SessionError> {
        loop {
            let now = Instant::now();
            self.drain_events(now)?;
            self.datapath_rekeys(now);
            self.flush();
            if self.finished(now)? {
                return Ok(());
            }
            self.wait()?;
        }
    }

    /// Whether this loop reports the session's status: a lone loop, or the first worker.
    fn leads(&self) -> bool {
        self.crew.as_ref().is_none_or(crate::crew::Member::leads)
    }

    fn finished(&self, now: Instant) -> Result<bool, SessionError> {
        if self.stop || self.closed.is_some() {
            return Ok(true);
        }
        if let Some(until) = self.grace_until {
            return Ok(now >= until || self.engine.all_closed());
        }
        match self.connect_deadline {
            Some(d) if !self.child_up && now >= d => Err(SessionError::TimedOut),
            _ => Ok(false),
        }
    }

    /// Handles what is waiting; with nothing waiting, sleeps until a datagram, a ring of the
    /// bell (a command, the datapath's rekey request, a path change, the pump's IKE datagram)
    /// or the next timer, and handles what woke it. Then runs the timers that are due.
    fn wait(&mut self) -> Result<(), SessionError> {
        if !self.take_waiting() {
            let deadline = [
                self.engine.poll_timeout(),
                self.grace_until,
                self.connect_deadline.filter(|_| !self.child_up),
            ]
            .into_iter()
            .flatten()
            .min();
            self.sockets.wait(deadline);
            self.wakeups.fetch_add(1, Ordering::Relaxed);
            self.take_waiting();
        }
        let now = Instant::now();
        if self.engine.poll_timeout().is_some_and(|t| t <= now) {
            self.note_peer_traffic(now);
            self.engine.handle_timeout(now);
        }
        Ok(())
    }

    /// Datagrams already on the sockets (at most [`DATAGRAM_BATCH`], so the loop sends its
    /// answers and runs its timers between batches), then commands and wake-ups. Whether
    /// there was anything.
    fn take_waiting(&mut self) -> bool {
        let mut any = false;
        for _ in 0..DATAGRAM_BATCH {
            let Some(r) = self.sockets.receive(&mut self.rx_buf) else { break };
            any = true;
            let local = match (&self.mobility, self.engine.own_sa()) {
                (Some(m), Some(sa)) => m.datagram_local(sa, r.local),
                _ => r.local,
            };
            self.engine.handle_datagram(Instant::now(), r.remote, local, &self.rx_buf[..r.len]);
        }
        while self.commands_open {
            match self.commands.try_recv() {
                Ok(c) => {
                    any = true;
                    self.command(c);
                }
                Err(TryRecvError::Empty) => break,
                // Every handle is gone: nobody can command us any more; run on.
                Err(TryRecvError::Disconnected) => self.commands_open = false,
            }
        }
        match self.path_wake.as_ref().map(Receiver::try_recv) {
            Some(Ok(())) => {
                any = true;
                self.path_changed(true);
            }
            Some(Err(TryRecvError::Disconnected)) => {
                any = true;
                self.path_wake = None;
                self.path_changed(false);
            }
            Some(Err(TryRecvError::Empty)) | None => {}
        }
        any
    }

    /// Tells the engine whether ESP from the peer arrived since the last look (the
    /// datapath's inbound packet counts moved), just before its timers run: a DPD check
    /// then only goes out when the tunnel was idle. Looked at only when a timer is due, so an
    /// idle session still does not wake.
    fn note_peer_traffic(&mut self, now: Instant) {
        let table = match (&self.pump, &self.netstack) {
            (Some(pump), _) => pump.table(),
            (None, Some(sas)) => sas.table(),
            (None, None) => return,
        };
        let inbound: u64 = table.stats().iter().map(|s| s.inbound.packets).sum();
        if inbound != self.inbound_packets {
            self.inbound_packets = inbound;
            self.engine.peer_traffic_seen(now);
        }
    }

    fn command(&mut self, c: Command) {
        let now = Instant::now();
        match c {
            Command::Act { sa, action } => {
                self.engine.act(now, sa.map(SaId::from_spi), action);
            }
            Command::Redirect { sa, gateway } => {
                let Some(ike) = self.engine.sa_mut(SaId::from_spi(sa)) else { return };
                if ike.redirect(now, gateway.clone()).is_err() {
                    let failure = crate::RedirectFailure::PeerUnsupported;
                    let kind = EventKind::RedirectFailed { gateway: gateway.to_string(), failure };
                    self.emit(Some(Spi64(sa)), kind);
                }
            }
            Command::Disconnect(grace) => {
                if self.grace_until.is_none() {
                    self.grace_until = Some(now + grace);
                    self.engine.delete_all(now);
                    if self.leads() {
                        self.emit(None, EventKind::Status { status: Status::Disconnecting });
                    }
                }
            }
            Command::Shutdown => self.stop = true,
            Command::Stats => self.emit_stats(),
        }
    }

    /// Sends everything the engine queued. A datagram larger than `buf` grows it (the engine
    /// keeps the datagram queued until taken, so skipping it would spin).
    fn flush(&mut self) {
        while let Some(t) = self.engine.poll_transmit(&mut self.buf) {
            match t {
                Ok(t) => {
                    if let Some(trace) = self.trace.as_mut() {
                        trace(t.local, t.remote, &self.buf[..t.len]);
                    }
                    if let Some(fault) = self.sockets.send_or_count(t, &self.buf[..t.len]) {
                        self.emit(None, fault);
                    }
                }
                Err(needed) => self.buf.resize(needed, 0),
            }
        }
    }

    fn drain_events(&mut self, now: Instant) -> Result<(), SessionError> {
        let many = self.engine.serves_many();
        while let Some(EngineEvent { sa: id, event: e }) = self.engine.poll_event() {
            let sa = many.then_some(Spi64(id.spi()));
            match &e {
                Event::IkeSaUp { .. } | Event::IkeSaRekeyed { .. } => self.write_keylog(id)?,
                Event::Authenticating { .. } => self.write_intermediate_keylog(id)?,
                Event::ChildSaInstalled(_) if !self.child_up && !many => {
                    self.emit(
                        None,
                        EventKind::Timing {
                            initiate_to_child_ms: (now - self.started).as_secs_f64() * 1000.0,
                        },
                    );
                }
                Event::IkeSaClosed { reason } if !many => self.closed = Some(*reason),
                _ => {}
            }
            self.emit(sa, EventKind::from(&e));
            if matches!(e, Event::IkeSaUp { .. })
                && let Some(ppk_id) = self.engine.sa_mut(id).and_then(|s| s.ppk_id())
            {
                let ppk_id = String::from_utf8_lossy(ppk_id).into_owned();
                self.emit(sa, EventKind::PpkUsed { ppk_id });
            }
            self.apply_to_datapath(sa, &e)?;
            self.follow_redirect(now, &e);
            self.path_event(id, &e);
            if matches!(e, Event::ChildSaInstalled(_)) && !self.child_up {
                self.child_up = true;
                if !many {
                    self.emit(None, EventKind::Status { status: Status::Connected });
                }
            }
        }
        if let (Some(m), Some(sa)) = (self.mobility.as_mut(), self.engine.own_sa()) {
            for kind in m.after_turn(sa) {
                self.emit(None, kind);
            }
        }
        while let Some(kind) = self.engine.poll_note() {
            self.emit(None, kind);
        }
        if let Some(failure) = self.engine.take_failure() {
            return Err(failure);
        }
        let retransmits = self.engine.retransmits();
        if self.child_up && retransmits > self.retransmits {
            self.emit(None, EventKind::PeerUnresponsive { retransmits });
        }
        self.retransmits = retransmits;
        Ok(())
    }

    /// A child SA the datapath cannot take ends an initiator's session (its one tunnel does
    /// not work) but concerns one client of a responder: counted, and the service goes on.
    fn apply_to_datapath(&mut self, sa: Option<Spi64>, e: &Event) -> Result<(), SessionError> {
        let applied = match (&self.pump, &self.netstack) {
            (Some(pump), _) => datapath::on_event(pump, e),
            (None, Some(sas)) => sas.on_event(e),
            (None, None) => return Ok(()),
        };
        match applied {
            Ok(Some(kind)) => self.emit(sa, kind),
            Ok(None) => {}
            Err(err) if self.engine.serves_many() => {
                if let Some(kind) = self.sockets.faults().record(Fault::Datapath, &err) {
                    self.emit(sa, kind);
                }
            }
            Err(err) => return Err(SessionError::DatapathApply(err.to_string())),
        }
        Ok(())
    }

    /// RFC 5685: an initiator's IKE SA that closed on a redirect is replaced by one to the
    /// next gateway (`crate::redirect`); a redirect not followed leaves the session to end.
    fn follow_redirect(&mut self, now: Instant, e: &Event) {
        let Some(follower) = self.redirects.as_mut() else { return };
        match e {
            Event::Redirected { gateway } => follower.redirected(gateway.clone()),
            Event::IkeSaClosed { reason: CloseReason::Redirected } => {
                match follower.follow(now, crate::redirect::resolve_system) {
                    Ok(hop) => {
                        // The old SA's last words (the answer to the redirect, its DELETE).
                        self.flush();
                        if let Some(sa) = self.engine.own_sa() {
                            *sa = hop.sa;
                            self.closed = None;
                        }
                        self.emit(None, EventKind::Redirected { from: hop.from, to: hop.to });
                    }
                    Err((gateway, failure)) => {
                        let gateway = gateway.map(|g| g.to_string()).unwrap_or_default();
                        self.emit(None, EventKind::RedirectFailed { gateway, failure });
                    }
                }
            }
            _ => {}
        }
    }

    /// The host's paths changed (or, `alive` false, the watcher ended): MOBIKE's part.
    fn path_changed(&mut self, alive: bool) {
        let (Some(m), Some(sa)) = (self.mobility.as_mut(), self.engine.own_sa()) else { return };
        let events = if alive { m.on_change(Instant::now(), sa) } else { m.watch_ended() };
        for kind in events {
            self.emit(None, kind);
        }
    }

    /// A negotiation event for MOBIKE's part: the datapath follows a moved SA.
    fn path_event(&mut self, id: SaId, e: &Event) {
        let table = match (&self.pump, &self.netstack) {
            (Some(pump), _) => Some(pump.table()),
            (None, Some(sas)) => Some(sas.table()),
            (None, None) => None,
        };
        if let (Event::PathUpdated { remote, .. }, Some(t), true) =
            (e, table, self.engine.serves_many())
        {
            // A responder (`serve`): only the client whose IKE SA moved.
            let children = self.engine.sa_mut(id).map(|sa| sa.child_spis()).unwrap_or_default();
            datapath::move_children(t, &children, *remote);
            return;
        }
        let (Some(m), Some(sa)) = (self.mobility.as_mut(), self.engine.own_sa()) else { return };
        for kind in m.on_event(e, sa, table) {
            self.emit(None, kind);
        }
    }

    fn datapath_rekeys(&mut self, now: Instant) {
        let table = match (&self.pump, &self.netstack) {
            (Some(pump), _) => pump.table().clone(),
            (None, Some(sas)) => sas.table().clone(),
            (None, None) => return,
        };
        for kind in datapath::rekey_requested(&table, now, &mut self.engine) {
            self.emit(None, kind);
        }
    }

    fn write_keylog(&mut self, id: SaId) -> Result<(), SessionError> {
        let Some(log) = self.keylog.as_mut() else { return Ok(()) };
        let Some(keys) = self.engine.sa_mut(id).and_then(|sa| sa.export_keys_for_debugging())
        else {
            return Ok(());
        };
        log(&keys).map_err(SessionError::Keylog)
    }

    /// With additional key exchanges (RFC 9370) the keys change after each IKE_INTERMEDIATE:
    /// the IKE_SA_INIT keys, which protect the first IKE_INTERMEDIATE, are logged too (a
    /// second row for the same SPIs), so that tshark can open that exchange as well.
    fn write_intermediate_keylog(&mut self, id: SaId) -> Result<(), SessionError> {
        let Some(log) = self.keylog.as_mut() else { return Ok(()) };
        let Some(keys) = self.engine.sa_mut(id).and_then(|sa| sa.export_keys_for_debugging())
        else {
            return Ok(());
        };
        if keys.suite.additional_methods().next().is_none() {
            return Ok(());
        }
        log(&keys).map_err(SessionError::Keylog)
    }

    fn emit_stats(&mut self) {
        let (ike, endpoint, held) = self.engine.stats_text();
        let stats = SessionStats {
            ike,
            endpoint,
            held,
            faults: self.sockets.faults().counts(),
            dropped_queue_full: self.sockets.dropped_queue_full(),
            events_dropped: self.events_dropped,
            wakeups: self.wakeups.load(Ordering::Relaxed),
            worker: self.crew.as_ref().map(crate::crew::Member::index),
        };
        self.emit(None, EventKind::Stats(stats));
        if let Some(pump) = &self.pump {
            let d = datapath::stats(pump);
            self.emit(None, EventKind::DatapathStats(d));
        }
    }

    /// Events never block the loop: a reader that falls behind loses events, counted.
    fn emit(&mut self, sa: Option<Spi64>, kind: EventKind) {
        match self.events.try_send(SessionEvent { kind, sa }) {
            Ok(()) | Err(TrySendError::Disconnected(_)) => {}
            Err(TrySendError::Full(_)) => self.events_dropped += 1,
        }
    }
}

pub(crate) fn apply(sa: &mut IkeSa, now: Instant, action: Action) {
    let first_child = sa.child_spis().first().map(|c| c.0);
    match action {
        Action::RekeyChild(spi) => {
            if let Some(spi) = spi.or(first_child) {
                sa.rekey_child(now, spi);
            }
        }
        Action::RekeyIke => sa.rekey_ike(now),
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

#[cfg(test)]
mod tests;
