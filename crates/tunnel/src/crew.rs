//! A responder session on several cores: one loop (`Driver<Responder>`) per worker, each with
//! its own sockets in the steered SO_REUSEPORT groups (`crate::steering`), its own SAs and
//! timers, and its own command channel; the address pool and the remote selector claims are
//! shared (`ikeway_sa::Workers`), and so is the one event stream. The session looks like one:
//! the first worker says `Connected` (and `Disconnecting`), the last to end `Disconnected`;
//! each worker reports its own counters.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::Receiver;
use ikeway_sa::{Config, KeyExchangeProvider, Workers};

use crate::driver::{Command, Driver};
use crate::event::SessionEvent;
use crate::options::{DatagramTrace, KeyLogger, Ports};
use crate::session::{Mailbox, Parts, SessionError, SessionHandle, random_seed, spawn};
use crate::sockets::Sockets;

/// What a worker's loop knows of the others.
#[derive(Debug)]
pub(crate) struct Member {
    index: usize,
    /// Loops still running; the one that takes it to zero reports the end.
    running: Arc<AtomicUsize>,
}

impl Member {
    pub(crate) fn index(&self) -> usize {
        self.index
    }

    /// The first worker speaks for the session about its status.
    pub(crate) fn leads(&self) -> bool {
        self.index == 0
    }

    /// Called once, as the loop ends: whether it was the last one.
    pub(crate) fn last_to_end(&self) -> bool {
        self.running.fetch_sub(1, Ordering::AcqRel) == 1
    }
}

/// The parts of `SessionOptions` a crew is started from.
pub(crate) struct Crew {
    pub(crate) local: IpAddr,
    pub(crate) ports: Ports,
    pub(crate) workers: usize,
    pub(crate) queue_depth: usize,
    pub(crate) event_depth: usize,
}

type Started = (
    SessionHandle,
    Receiver<SessionEvent>,
    SocketAddr,
    Arc<AtomicU64>,
    Vec<JoinHandle<Result<(), SessionError>>>,
);

/// One closure shared by every worker, called under a lock (debug aids only: a key log, a
/// trace).
fn share_keylog(log: KeyLogger) -> impl Fn() -> KeyLogger {
    let log = Arc::new(Mutex::new(log));
    move || {
        let log = Arc::clone(&log);
        Box::new(move |k: &ikeway_sa::KeyExport<'_>| {
            (log.lock().unwrap_or_else(PoisonError::into_inner))(k)
        })
    }
}

fn share_trace(trace: DatagramTrace) -> impl Fn() -> DatagramTrace {
    let trace = Arc::new(Mutex::new(trace));
    move || {
        let trace = Arc::clone(&trace);
        Box::new(move |l, r, b: &[u8]| {
            (trace.lock().unwrap_or_else(PoisonError::into_inner))(l, r, b)
        })
    }
}

impl Crew {
    /// Binds every worker's sockets (all before any loop runs, so each group is complete
    /// and steered when the first datagram is read), then starts the loops.
    pub(crate) fn start(
        self,
        pool: Option<ikeway_sa::AddressPool>,
        config: Config,
        kex: Arc<dyn KeyExchangeProvider>,
        seed: Option<[u8; 32]>,
        keylog: Option<KeyLogger>,
        trace: Option<DatagramTrace>,
    ) -> Result<Started, SessionError> {
        let n = self.workers.clamp(1, ikeway_sa::MAX_WORKERS);
        let mut groups = Vec::new();
        for (port, natt) in [(self.ports.ike, false), (self.ports.natt, true)] {
            let addr = SocketAddr::new(self.local, port);
            let group = crate::steering::bind_group(self.local, port, natt, n)
                .map_err(|source| SessionError::Bind { addr, source })?;
            groups.push(group.into_iter());
        }
        let mut sockets = Vec::with_capacity(n);
        for _ in 0..n {
            let mine: Vec<_> = groups.iter_mut().filter_map(Iterator::next).collect();
            sockets.push(Sockets::start(mine, None, self.queue_depth)?);
        }
        let local = sockets[0]
            .local_addrs()
            .first()
            .copied()
            .ok_or(SessionError::Spawn(std::io::ErrorKind::AddrNotAvailable.into()))?;
        let shared = Workers::new(pool, n);
        let config = Arc::new(config);
        let (events_tx, events) = crossbeam_channel::bounded(self.event_depth.max(1));
        let wakeups = Arc::new(AtomicU64::new(0));
        let running = Arc::new(AtomicUsize::new(n));
        let keylog = keylog.map(share_keylog);
        let trace = trace.map(share_trace);
        let now = Instant::now();
        let mut senders = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for (index, sockets) in sockets.into_iter().enumerate() {
            let seed = match seed {
                // Tests: a fixed seed, a different stream per worker.
                Some(mut s) => {
                    s[0] ^= index as u8;
                    s[1] ^= 0x80;
                    s
                }
                None => random_seed()?,
            };
            let (tx, commands) = crossbeam_channel::unbounded();
            senders.push(Mailbox::new(tx, Arc::clone(sockets.bell())));
            let responder = shared.responder(index, Arc::clone(&config), Arc::clone(&kex), seed);
            let parts = Parts {
                sockets,
                pump: None,
                netstack: None,
                trace: trace.as_ref().map(|t| t()),
                commands,
                events: events_tx.clone(),
                keylog: keylog.as_ref().map(|k| k()),
                wakeups: Arc::clone(&wakeups),
                deadline: None,
                path_wake: None,
                redirects: None,
                mobility: None,
                crew: Some(Member { index, running: Arc::clone(&running) }),
            };
            match spawn(Driver::new(responder, parts, now)) {
                Ok(t) => threads.push(t),
                Err(e) => {
                    // The loops already running would serve on with nobody to stop them.
                    for tx in &senders {
                        let _ = tx.send(Command::Shutdown);
                    }
                    return Err(e);
                }
            }
        }
        Ok((SessionHandle::of_workers(senders), events, local, wakeups, threads))
    }
}
