//! What the host's network is now, and a thread that says when it changes: the inputs of VPN
//! On Demand (the primary interface and its kind, the Wi-Fi SSID, the resolver's servers and
//! search domains).
//!
//! ```text
//!  kernel rtnetlink (links, addresses, routes; v4+v6) --+
//!  inotify: /etc/resolv.conf, resolved's upstream file --+--> watch thread --wake (1)-->
//!  monitor thread: wait for the burst to end (SETTLE), read_now(), send if it differs
//!      --> Receiver<Observation> (channel of 1, the newest state replaces an unread one)
//! ```
//!
//! The watch thread is the one MOBIKE sessions use (its `watch` module); only the files are added.
//!
//! ```no_run
//! let (monitor, changes) = ikeway_tunnel::host::observe::NetworkMonitor::start()?;
//! let first = changes.recv().expect("the monitor sends the state it starts with");
//! println!("primary interface: {:?}", first.interface);
//! drop(monitor); // stops both threads
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

mod link;
mod resolver;
pub(crate) mod watch;
mod wifi;

pub use link::{InterfaceKind, PrimaryInterface};
pub use resolver::{MAX_DOMAINS, MAX_SERVERS, ResolverState};

/// The host's network as On Demand rules see it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// The interface of the default route; `None`: no network.
    pub interface: Option<PrimaryInterface>,
    /// The SSID of the Wi-Fi network the primary interface is associated with, when it is a
    /// Wi-Fi interface and the kernel says (nl80211).
    pub ssid: Option<String>,
    /// The resolver's servers, at most [`MAX_SERVERS`].
    pub dns_servers: Vec<IpAddr>,
    /// The resolver's search domains, lower case, at most [`MAX_DOMAINS`].
    pub dns_search_domains: Vec<String>,
}

/// Reads the host's network now. What cannot be read is absent (no interface, no SSID, no
/// servers): On Demand then matches only rules that do not ask for it.
pub fn read_now() -> Observation {
    let interface = link::primary_interface().ok().flatten();
    let ssid = interface
        .as_ref()
        .filter(|i| i.kind == InterfaceKind::WiFi)
        .and_then(|i| wifi::ssid(i.index).ok().flatten());
    let resolver = resolver::read();
    Observation {
        interface,
        ssid,
        dns_servers: resolver.servers,
        dns_search_domains: resolver.search_domains,
    }
}

/// How long the host must stay quiet before a burst of changes (a link going up brings its
/// addresses and routes, a DHCP client rewrites resolv.conf) is read as one state.
const SETTLE: Duration = Duration::from_millis(150);
/// However busy the host, a state is read at least this often while changes go on.
const MAX_SETTLE: Duration = Duration::from_secs(2);
/// How often the monitor looks whether it was dropped.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// The monitor's threads; dropping it stops them.
#[derive(Debug)]
pub struct NetworkMonitor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NetworkMonitor {
    /// Starts watching (in the caller's network namespace). The first message on the
    /// receiver is the state at start; then one per change of the state, a burst of kernel
    /// messages or file writes giving one. Only the newest unread state is kept.
    pub fn start() -> io::Result<(Self, Receiver<Observation>)> {
        Self::start_reading(read_now)
    }

    fn start_reading(read: fn() -> Observation) -> io::Result<(Self, Receiver<Observation>)> {
        let watcher = watch::Watcher::start_with_files(&resolver::watched_files())?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let newest = rx.clone();
        let thread = std::thread::Builder::new()
            .name("ikeway-monitor".into())
            .spawn(move || monitor(&watcher, read, &tx, &newest, &stopping))?;
        Ok((Self { stop, thread: Some(thread) }, rx))
    }
}

impl Drop for NetworkMonitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn monitor(
    watcher: &watch::Watcher,
    read: fn() -> Observation,
    tx: &Sender<Observation>,
    newest: &Receiver<Observation>,
    stop: &AtomicBool,
) {
    let mut last = read();
    if publish(tx, newest, last.clone()).is_err() {
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        match watcher.wake().recv_timeout(STOP_CHECK) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let started = Instant::now();
        while started.elapsed() < MAX_SETTLE && watcher.wake().recv_timeout(SETTLE).is_ok() {}
        let now = read();
        if now != last {
            last = now.clone();
            if publish(tx, newest, now).is_err() {
                return;
            }
        }
    }
}

/// Sends `state`, dropping an older state the owner has not taken yet.
fn publish(
    tx: &Sender<Observation>,
    newest: &Receiver<Observation>,
    state: Observation,
) -> Result<(), ()> {
    while newest.try_recv().is_ok() {}
    tx.try_send(state).map_err(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of changes gives one state, and a state equal to the last is not sent.
    #[test]
    fn sends_the_first_state_then_only_changes() {
        let (monitor, rx) = NetworkMonitor::start_reading(Observation::default).expect("monitor");
        assert_eq!(rx.recv_timeout(Duration::from_secs(2)), Ok(Observation::default()));
        // Whatever the host does meanwhile, an unchanged state is never sent again.
        assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
        drop(monitor);
    }

    #[test]
    fn publish_keeps_only_the_newest_state() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let a = Observation { dns_search_domains: vec!["a.example".into()], ..Default::default() };
        let b = Observation { dns_search_domains: vec!["b.example".into()], ..Default::default() };
        publish(&tx, &rx, a).expect("send");
        publish(&tx, &rx, b.clone()).expect("send");
        assert_eq!(rx.try_recv(), Ok(b));
        assert!(rx.try_recv().is_err());
    }
}
