//! [`Session`]: one IKE initiator or responder with its sockets, timers and datapath, running
//! on its own thread; [`SessionHandle`]: the commands that reach it.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ikeway_ikev1::Ikev1Sa;
use ikeway_pump::Pump;
use ikeway_sa::{IkeSa, Responder};

use crate::doorbell::{Doorbell, forward_wakes};
use crate::driver::{Command, Driver};
use crate::event::{DatapathStats, SessionEvent, Spi64};
use crate::ikev1::Ikev1Initiator;
use crate::options::{DatapathOptions, Role, SessionOptions};
use crate::redirect::Follower;
use crate::sockets::Sockets;

/// Why a session could not start, or why it ended early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A UDP port could not be bound.
    #[error("binding UDP {addr}: {source}")]
    Bind {
        /// The address and port.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The TUN datapath could not start.
    #[error("starting the datapath on {tun}: {source}")]
    Datapath {
        /// The TUN device.
        tun: String,
        /// Why.
        source: std::io::Error,
    },
    /// A thread could not be started, or a socket not set up.
    #[error("starting the session's threads: {0}")]
    Spawn(std::io::Error),
    /// The operating system's random source failed.
    #[error("OS random source: {0}")]
    Random(String),
    /// The negotiation could not start (e.g. no usable key exchange group).
    #[error("starting the negotiation: {0}")]
    Negotiation(ikeway_sa::Error),
    /// The IKEv1 negotiation could not start.
    #[error("starting the IKEv1 negotiation: {0}")]
    Ikev1(ikeway_ikev1::Error),
    /// The datapath could not take a child SA of the initiator's one IKE SA.
    #[error("{0}")]
    DatapathApply(String),
    /// The IKEv1 gateway asked for the XAUTH password and this start has none (neither
    /// stored nor given with the start).
    #[error(
        "the server asks for the XAUTH password of {user:?} and none was given to start \
         (store one, or give it with the start: --password-file, startVPNTunnel(options:))"
    )]
    XauthPasswordMissing {
        /// The user name the server asked about (empty when it named none).
        user: String,
    },
    /// Writing the key log failed.
    #[error("writing the key log: {0}")]
    Keylog(std::io::Error),
    /// Every socket reader ended.
    #[error("all sockets closed")]
    SocketsClosed,
    /// No child SA came up within the connect timeout.
    #[error("timed out")]
    TimedOut,
    /// The session's thread panicked (a bug).
    #[error("the session thread panicked")]
    Panicked,
    /// Options that do not go together (e.g. several workers and a datapath).
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Something to do to an IKE SA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Rekey the IKE SA (RFC 7296 §1.3.2).
    RekeyIke,
    /// Rekey the child SA with this inbound SPI, or the first one (§1.3.3).
    RekeyChild(Option<u32>),
    /// Negotiate another child SA with the configured selectors.
    CreateChild,
    /// Delete the child SA with this inbound SPI, or the first one.
    DeleteChild(Option<u32>),
    /// A liveness check now (an empty INFORMATIONAL, §1.4.1).
    Dpd,
    /// Delete the IKE SA and its child SAs.
    DeleteIke,
}

/// The session went away: its loop has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session has ended")]
pub struct SessionGone;

/// Sends commands to a running [`Session`]. Each wakes the session's loop at once: it waits
/// on its datagrams and its commands together, with the next timer as the only deadline, so
/// there is no polling interval. Cheap to clone; usable from any thread.
#[derive(Clone)]
pub struct SessionHandle {
    /// One per worker (one for an initiator): commands about an IKE SA go to the worker its
    /// SPI names, the others to all.
    tx: Vec<Mailbox>,
    /// Weak: a handle kept after the end must not keep the TUN device open.
    pump: Weak<Pump>,
}

impl std::fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle").finish_non_exhaustive()
    }
}

/// A loop's commands: each one sent rings the loop's doorbell, which wakes it.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    tx: Sender<Command>,
    bell: Arc<Doorbell>,
}

impl Mailbox {
    pub(crate) fn new(tx: Sender<Command>, bell: Arc<Doorbell>) -> Self {
        Self { tx, bell }
    }

    pub(crate) fn send(&self, c: Command) -> Result<(), SessionGone> {
        self.tx.send(c).map_err(|_| SessionGone)?;
        self.bell.ring();
        Ok(())
    }
}

impl SessionHandle {
    /// The datapath's counters now, read without waking the loop; `None` without a datapath
    /// or once the session has ended.
    pub fn datapath_stats(&self) -> Option<DatapathStats> {
        self.pump.upgrade().map(|p| crate::datapath::stats(&p))
    }

    fn send(&self, c: Command) -> Result<(), SessionGone> {
        let one = |w: usize, c| {
            // An SPI naming no worker names no SA of ours: the first worker says so.
            let tx = self.tx.get(w).or(self.tx.first()).ok_or(SessionGone)?;
            tx.send(c)
        };
        match c {
            Command::Act { sa: Some(spi), .. } | Command::Redirect { sa: spi, .. } => {
                one(ikeway_sa::worker_of_ike_spi(spi), c)
            }
            Command::Act { sa: None, .. } => one(0, c),
            Command::Disconnect(grace) => self.all(|| Command::Disconnect(grace)),
            Command::Shutdown => self.all(|| Command::Shutdown),
            Command::Stats => self.all(|| Command::Stats),
        }
    }

    /// Sends to every worker; gone only when all are.
    fn all(&self, c: impl Fn() -> Command) -> Result<(), SessionGone> {
        let reached = self.tx.iter().filter(|tx| tx.send(c()).is_ok()).count();
        if reached == 0 { Err(SessionGone) } else { Ok(()) }
    }

    /// Acts on the initiator's IKE SA.
    pub fn act(&self, action: Action) -> Result<(), SessionGone> {
        self.send(Command::Act { sa: None, action })
    }

    /// Acts on one of a responder's IKE SAs, named as its events name it.
    pub fn act_on(&self, sa: Spi64, action: Action) -> Result<(), SessionGone> {
        self.send(Command::Act { sa: Some(sa.0), action })
    }

    /// A responder: sends the client of IKE SA `sa` to `gateway` (RFC 5685 §5, what
    /// `swanctl --redirect` does). A client that did not announce redirect support is left
    /// alone, reported as [`crate::EventKind::RedirectFailed`].
    pub fn redirect(&self, sa: Spi64, gateway: ikeway_codec::Gateway) -> Result<(), SessionGone> {
        self.send(Command::Redirect { sa: sa.0, gateway })
    }

    /// Rekeys the initiator's IKE SA.
    pub fn rekey_ike(&self) -> Result<(), SessionGone> {
        self.act(Action::RekeyIke)
    }

    /// Rekeys the initiator's first child SA.
    pub fn rekey_child(&self) -> Result<(), SessionGone> {
        self.act(Action::RekeyChild(None))
    }

    /// Checks now that the peer is alive.
    pub fn dpd(&self) -> Result<(), SessionGone> {
        self.act(Action::Dpd)
    }

    /// Reports the counters now ([`crate::EventKind::Stats`]).
    pub fn request_stats(&self) -> Result<(), SessionGone> {
        self.send(Command::Stats)
    }

    /// Deletes every IKE SA and ends the session once the peer answers, or after `grace`
    /// (a server that is gone cannot hold us).
    pub fn disconnect(&self, grace: Duration) -> Result<(), SessionGone> {
        self.send(Command::Disconnect(grace))
    }

    /// Ends the session now, without telling the peer.
    pub fn shutdown(&self) -> Result<(), SessionGone> {
        self.send(Command::Shutdown)
    }
}

/// A running IKE initiator or responder: UDP sockets (IKE port and NAT-T port, moving to the
/// latter when a NAT is detected), the negotiation's timers, and optionally a datapath that
/// the child SAs go into; on its own thread from [`Session::start`] until the IKE SA closes
/// (an initiator), a disconnect or a shutdown.
///
/// Dropping a session shuts it down and waits for its thread, so its ports and TUN device are
/// free again when the drop returns.
#[derive(Debug)]
pub struct Session {
    handle: SessionHandle,
    events: Receiver<SessionEvent>,
    local: SocketAddr,
    wakeups: Arc<AtomicU64>,
    /// One loop per worker (one for an initiator).
    threads: Vec<JoinHandle<Result<(), SessionError>>>,
}

/// 32 bytes from the operating system: the seed of a negotiation's randomness.
pub fn random_seed() -> Result<[u8; 32], SessionError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| SessionError::Random(e.to_string()))?;
    Ok(seed)
}

impl Session {
    /// Binds the sockets, starts the datapath and the negotiation, and runs them on a new
    /// thread. Errors here are about this host (ports, TUN device); what happens with the
    /// peer comes out as events.
    pub fn start(options: SessionOptions) -> Result<Self, SessionError> {
        let SessionOptions {
            local,
            ports,
            role,
            config,
            kex,
            seed,
            datapath,
            keylog,
            ikev1_keylog,
            queue_depth,
            event_depth,
            connect_timeout,
            trace,
            workers,
        } = options;
        if let Role::Responder { pool } = &role
            && workers > 1
        {
            if datapath.is_some() {
                return Err(SessionError::Unsupported(
                    "a responder on several workers runs no datapath (its ESP port would be \
                     one worker's)",
                ));
            }
            let crew = crate::crew::Crew { local, ports, workers, queue_depth, event_depth };
            let (handle, events, local, wakeups, threads) =
                crew.start(pool.clone(), config, kex, seed, keylog, trace)?;
            return Ok(Self { handle, events, local, wakeups, threads });
        }
        let fixed_seed = seed;
        let seed = match seed {
            Some(s) => s,
            None => random_seed()?,
        };
        // A MOBIKE initiator's sockets follow the kernel's choice of source (`mobility`).
        let mut mobike = matches!(role, Role::Initiator { .. }) && config.mobike;
        let tun_name = match &datapath {
            Some(DatapathOptions::Tun(tun)) => Some(tun.name.clone()),
            _ => None,
        };
        let pump_datapath = matches!(datapath, Some(DatapathOptions::Tun(_)));
        let tun = match &datapath {
            Some(DatapathOptions::Tun(tun)) => Some(tun),
            Some(DatapathOptions::Netstack(_)) | None => None,
        };
        let bind_all = |ip: IpAddr| -> Result<_, SessionError> {
            let pump = match tun {
                Some(tun) => {
                    Some(Arc::new(crate::datapath::start(tun, SocketAddr::new(ip, ports.natt))?))
                }
                None => None,
            };
            let sockets = Sockets::bind(ip, &[ports.ike, ports.natt], pump.clone(), queue_depth)?;
            Ok((pump, sockets))
        };
        let mut bound_note = None;
        if let (true, Role::Initiator { remote }) = (mobike, &role) {
            bound_note = crate::mobility::kernel_source_differs(local, remote.ip());
            mobike = bound_note.is_none();
        }
        let (pump, sockets) = match bind_all(crate::mobility::bind_ip(local, mobike)) {
            // Another daemon holds IKE's ports on one address (the wildcard cannot be had
            // beside it): bound to ours as without MOBIKE, and address changes not followed.
            Err(e) if mobike && crate::mobility::port_taken(&e) => {
                mobike = false;
                bound_note = Some(crate::mobility::not_followed_bound(local, &e));
                bind_all(local)?
            }
            other => other?,
        };
        let netstack = match datapath {
            Some(DatapathOptions::Netstack(sas)) => Some(sas),
            _ => None,
        };
        // On a wildcard socket the SA still speaks from `local` (NAT detection hashes it).
        let ike_local = sockets
            .local_addrs()
            .into_iter()
            .next()
            .map(|a| SocketAddr::new(local, a.port()))
            .ok_or(SessionError::Spawn(std::io::ErrorKind::AddrNotAvailable.into()))?;
        let mobility = if mobike {
            Some(crate::mobility::Mobility::start(tun_name).map_err(SessionError::Spawn)?)
        } else {
            None
        };
        let (tx, commands) = crossbeam_channel::unbounded();
        let (events_tx, events) = crossbeam_channel::bounded(event_depth.max(1));
        if let Some(note) = bound_note {
            let _ = events_tx.try_send(SessionEvent::new(note));
        }
        let wakeups = Arc::new(AtomicU64::new(0));
        let mut config = config;
        // The pump carries ESP only in UDP on the NAT-T port (no raw IP protocol 50 socket):
        // a child without UDP encapsulation would send ESP to the peer's IKE port, where
        // nothing reads it. Both roles make the path look NATed (RFC 3948) so ESP is usable.
        config.force_udp_encapsulation |= pump_datapath;
        let config = Arc::new(config);
        let now = Instant::now();
        let bell = Arc::clone(sockets.bell());
        let handle = SessionHandle {
            tx: vec![Mailbox::new(tx, Arc::clone(&bell))],
            pump: pump.as_ref().map_or_else(Weak::new, Arc::downgrade),
        };
        let table = pump.as_ref().map(|p| p.table()).or(netstack.as_ref().map(|n| n.table()));
        if let Some(t) = table {
            // RFC 7296 §2.23 until MOBIKE is known to be negotiated (RFC 4555 then rules).
            t.set_follow_peer(!config.mobike);
            // A ring is enough: the loop takes every queued rekey each time it runs.
            let bell = Arc::clone(&bell);
            t.set_rekey_waker(move || bell.ring());
        }
        let path_wake = mobility
            .as_ref()
            .and_then(crate::mobility::Mobility::wake)
            .map(|w| forward_wakes(w.clone(), Arc::clone(&bell)))
            .transpose()
            .map_err(SessionError::Spawn)?;
        let parts = Parts {
            sockets,
            pump,
            netstack,
            trace,
            commands,
            events: events_tx,
            keylog,
            wakeups: Arc::clone(&wakeups),
            deadline: connect_timeout.map(|t| now + t),
            path_wake,
            redirects: None,
            mobility,
            crew: None,
        };
        let thread = match role {
            Role::Initiator { remote } => {
                let follower = Follower::new(
                    Arc::clone(&config),
                    Arc::clone(&kex),
                    fixed_seed,
                    ike_local,
                    remote,
                );
                let sa = IkeSa::initiate(config, kex, seed, now, ike_local, remote)
                    .map_err(SessionError::Negotiation)?;
                spawn(Driver::new(sa, Parts { redirects: Some(follower), ..parts }, now))?
            }
            Role::Ikev1Initiator { remote, config } => {
                let sa = Ikev1Sa::initiate(config, Arc::clone(&kex), seed, now, ike_local, remote)
                    .map_err(SessionError::Ikev1)?;
                let engine = Ikev1Initiator::new(sa, kex, fixed_seed, ikev1_keylog);
                spawn(Driver::new(engine, parts, now))?
            }
            Role::Responder { pool } => {
                spawn(Driver::new(Responder::new(config, kex, pool, seed), parts, now))?
            }
        };
        Ok(Self { handle, events, local: ike_local, wakeups, threads: vec![thread] })
    }

    /// A handle to send commands with.
    pub fn handle(&self) -> SessionHandle {
        self.handle.clone()
    }

    /// The event stream. It ends (the channel disconnects) after the last event,
    /// [`crate::Status::Disconnected`].
    pub fn events(&self) -> &Receiver<SessionEvent> {
        &self.events
    }

    /// The address the IKE socket is bound to (its port is the one chosen with
    /// [`crate::Ports::ephemeral`]).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// How many times the loop has slept and woken up so far: for a datagram, a command or a
    /// timer. An idle session does not wake at all, and what is already waiting when the loop
    /// looks is taken without a sleep.
    pub fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// Waits until the session has ended; its error if it ended on one.
    pub fn wait(mut self) -> Result<(), SessionError> {
        self.join()
    }

    /// Joins every loop; the first error, if any ended on one.
    fn join(&mut self) -> Result<(), SessionError> {
        let results: Vec<_> = self
            .threads
            .drain(..)
            .map(|t| t.join().unwrap_or(Err(SessionError::Panicked)))
            .collect();
        results.into_iter().find(Result::is_err).unwrap_or(Ok(()))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            let _ = self.handle.shutdown();
            let _ = self.join();
        }
    }
}

/// What the loop is given besides its engine.
pub(crate) struct Parts {
    pub(crate) sockets: Sockets,
    pub(crate) pump: Option<Arc<Pump>>,
    pub(crate) netstack: Option<crate::netstack::NetstackSas>,
    pub(crate) trace: Option<crate::options::DatagramTrace>,
    pub(crate) commands: Receiver<Command>,
    pub(crate) events: Sender<SessionEvent>,
    pub(crate) keylog: Option<crate::options::KeyLogger>,
    pub(crate) wakeups: Arc<AtomicU64>,
    pub(crate) deadline: Option<Instant>,
    /// Rung through the doorbell when the host's paths change.
    pub(crate) path_wake: Option<Receiver<()>>,
    /// An initiator follows redirects (RFC 5685) with it.
    pub(crate) redirects: Option<Follower>,
    pub(crate) mobility: Option<crate::mobility::Mobility>,
    /// One worker of several (`crate::crew`).
    pub(crate) crew: Option<crate::crew::Member>,
}

impl SessionHandle {
    pub(crate) fn of_workers(tx: Vec<Mailbox>) -> Self {
        Self { tx, pump: Weak::new() }
    }
}

pub(crate) fn spawn<E: crate::engine::Role + 'static>(
    driver: Driver<E>,
) -> Result<JoinHandle<Result<(), SessionError>>, SessionError> {
    std::thread::Builder::new()
        .name("ikeway-session".into())
        .spawn(move || driver.run())
        .map_err(SessionError::Spawn)
}
