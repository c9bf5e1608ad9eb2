//! The rtnetlink watcher: a thread that sleeps on a `NETLINK_ROUTE` socket subscribed to the
//! address, route and link groups of both families and wakes the session loop whenever the
//! kernel says something changed. It never polls the host's state: what changed is read by
//! the loop, once per wake-up, with one `ip route get` toward the server (`super::Probe`).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// `rtnetlink.h` multicast groups (the legacy bit masks `bind` takes): links going up or
/// down, addresses and routes of IPv4 and IPv6.
const RTMGRP_LINK: u32 = 0x1;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
const RTMGRP_IPV6_ROUTE: u32 = 0x400;
const GROUPS: u32 =
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE;

/// How often the thread looks whether the session is gone, should no change come. Only the
/// watcher waits on this; the session loop is woken by changes alone.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// A running watcher; dropping it stops and joins the thread.
#[derive(Debug)]
pub(crate) struct Watcher {
    wake: Receiver<()>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Subscribes (in the caller's network namespace) and starts the thread. The socket is
    /// subscribed before this returns, so no change after it is missed.
    pub(crate) fn start() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(0, GROUPS))?;
        rustix::net::sockopt::set_socket_timeout(
            &socket,
            rustix::net::sockopt::Timeout::Recv,
            Some(STOP_CHECK),
        )?;
        // A burst of changes is one wake-up: the loop reads the state once per wake.
        let (tx, wake) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ikeway-netlink".into())
            .spawn(move || watch(&socket, &tx, &stopping))?;
        Ok(Self { wake, stop, thread: Some(thread) })
    }

    /// Ready whenever the host's addresses, routes or links changed since the last take.
    pub(crate) fn wake(&self) -> &Receiver<()> {
        &self.wake
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(socket: &Socket, tx: &Sender<()>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        let got = socket.recv(&mut &mut buf[..], 0);
        let changed = match got {
            Ok(_) => true,
            // The kernel dropped notifications (ENOBUFS): something changed, read it all anew.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) => true,
            Err(e)
                if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                false
            }
            Err(_) => return,
        };
        if changed {
            match tx.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The watcher stops and lets go of its thread at once when dropped (within its stop
    /// check), whether or not anything changed.
    #[test]
    fn stops_when_dropped() {
        let w = Watcher::start().expect("a NETLINK_ROUTE socket needs no privilege");
        let started = std::time::Instant::now();
        drop(w);
        assert!(started.elapsed() < STOP_CHECK * 3, "{:?}", started.elapsed());
    }
}
