//! The host watcher: a thread that sleeps on a `NETLINK_ROUTE` socket subscribed to the
//! address, route and link groups of both families (and, for On Demand, on inotify watches of
//! the resolver's files) and wakes its owner whenever the kernel says something changed. It
//! never polls the host's state: what changed is read by the owner, once per wake-up (the
//! MOBIKE session with one `ip route get` toward the server, `super::NetworkMonitor` with a
//! fresh [`super::Observation`]).

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::fs::inotify;

/// `rtnetlink.h` multicast groups (the legacy bit masks `bind` takes): links going up or
/// down, addresses and routes of IPv4 and IPv6.
const RTMGRP_LINK: u32 = 0x1;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
const RTMGRP_IPV6_ROUTE: u32 = 0x400;
const GROUPS: u32 =
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE;

/// How often the thread looks whether its owner is gone, should no change come. Only the
/// watcher waits on this; the owner is woken by changes alone.
const STOP_CHECK: Duration = Duration::from_millis(200);

/// A running watcher; dropping it stops and joins the thread.
#[derive(Debug)]
pub(crate) struct Watcher {
    wake: Receiver<()>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Subscribes to rtnetlink (in the caller's network namespace) and starts the thread.
    /// The socket is subscribed before this returns, so no change after it is missed.
    pub(crate) fn start() -> io::Result<Self> {
        Self::start_with_files(&[])
    }

    /// [`Self::start`], and also wakes when one of `files` is written, replaced, created or
    /// removed (a symlink's target counts: `/etc/resolv.conf` is often one). A file that does
    /// not exist yet is watched through its directory.
    pub(crate) fn start_with_files(files: &[PathBuf]) -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&SocketAddr::new(0, GROUPS))?;
        socket.set_non_blocking(true)?;
        // Without inotify (its per-user limits reached) the files' changes are seen at the
        // next kernel change: late, but the rules still run.
        let files = if files.is_empty() { None } else { FileWatch::new(files).ok() };
        // A burst of changes is one wake-up: the owner reads the state once per wake.
        let (tx, wake) = crossbeam_channel::bounded(1);
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ikeway-netlink".into())
            .spawn(move || watch(&socket, files, &tx, &stopping))?;
        Ok(Self { wake, stop, thread: Some(thread) })
    }

    /// Ready whenever the host's addresses, routes or links (or the watched files) changed
    /// since the last take.
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

/// inotify watches on files and their directories.
#[derive(Debug)]
struct FileWatch {
    fd: OwnedFd,
    files: Vec<PathBuf>,
}

/// What a file's own watch reports: written, replaced or gone.
const FILE_EVENTS: inotify::WatchFlags = inotify::WatchFlags::MODIFY
    .union(inotify::WatchFlags::CLOSE_WRITE)
    .union(inotify::WatchFlags::DELETE_SELF)
    .union(inotify::WatchFlags::MOVE_SELF)
    .union(inotify::WatchFlags::ATTRIB);
/// What a directory's watch reports about its entries.
const DIR_EVENTS: inotify::WatchFlags = inotify::WatchFlags::CREATE
    .union(inotify::WatchFlags::DELETE)
    .union(inotify::WatchFlags::MOVED_TO)
    .union(inotify::WatchFlags::MOVED_FROM)
    .union(inotify::WatchFlags::CLOSE_WRITE);

impl FileWatch {
    fn new(files: &[PathBuf]) -> io::Result<Self> {
        let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
        let this = Self { fd, files: files.to_vec() };
        for f in files {
            if let Some(dir) = f.parent() {
                // A directory that does not exist (no systemd-resolved) has nothing to say.
                let _ = inotify::add_watch(&this.fd, dir, DIR_EVENTS);
            }
        }
        this.rewatch_files();
        Ok(this)
    }

    /// (Re-)adds the watch of each file: after a replacement the path names a new inode.
    fn rewatch_files(&self) {
        for f in &self.files {
            let _ = inotify::add_watch(&self.fd, f, FILE_EVENTS);
        }
    }

    /// Reads every pending event; whether one concerns a watched file.
    fn drain(&self) -> bool {
        let mut buf = [std::mem::MaybeUninit::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        let mut relevant = false;
        while let Ok(event) = reader.next() {
            relevant |= match event.file_name() {
                // An entry of a watched directory: only the names we watch count.
                Some(name) => {
                    let name = OsStr::from_bytes(name.to_bytes());
                    self.files.iter().any(|f| f.file_name() == Some(name))
                }
                // The file's own watch.
                None => true,
            };
        }
        if relevant {
            self.rewatch_files();
        }
        relevant
    }
}

fn watch(socket: &Socket, files: Option<FileWatch>, tx: &Sender<()>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 64 * 1024];
    let timeout = Timespec::try_from(STOP_CHECK).unwrap_or(Timespec { tv_sec: 0, tv_nsec: 0 });
    while !stop.load(Ordering::SeqCst) {
        let mut fds = vec![PollFd::new(socket, PollFlags::IN)];
        if let Some(f) = &files {
            fds.push(PollFd::new(&f.fd, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, Some(&timeout)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        }
        let (netlink_ready, file_ready) =
            (!fds[0].revents().is_empty(), fds.get(1).is_some_and(|f| !f.revents().is_empty()));
        drop(fds);
        let mut changed = false;
        if netlink_ready {
            match drain_netlink(socket, &mut buf) {
                Ok(c) => changed |= c,
                Err(()) => return,
            }
        }
        if file_ready && let Some(f) = &files {
            changed |= f.drain();
        }
        if changed {
            match tx.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => return,
            }
        }
    }
}

/// Reads every queued notification; whether there was any. `Err`: the socket is broken.
fn drain_netlink(socket: &Socket, buf: &mut [u8]) -> Result<bool, ()> {
    let mut changed = false;
    loop {
        match socket.recv(&mut &mut buf[..], 0) {
            Ok(_) => changed = true,
            // The kernel dropped notifications (ENOBUFS): something changed, read it all anew.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOBUFS.raw_os_error()) => {
                changed = true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(changed),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err(()),
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

    /// Writing a watched file wakes the owner; so does replacing it by a rename (as resolvers
    /// and our own DNS code do), and a write to the new file after that.
    #[test]
    fn a_watched_file_written_or_replaced_wakes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("resolv.conf");
        std::fs::write(&file, "nameserver 192.0.2.1\n").expect("write");
        let w = Watcher::start_with_files(std::slice::from_ref(&file)).expect("watcher");
        let woke = |what: &str| {
            w.wake().recv_timeout(Duration::from_secs(2)).unwrap_or_else(|_| panic!("{what}"));
            // Let the burst end, then forget it.
            std::thread::sleep(Duration::from_millis(300));
            while w.wake().try_recv().is_ok() {}
        };
        std::fs::write(&file, "nameserver 192.0.2.2\n").expect("write");
        woke("an in-place write");
        let other = dir.path().join("new");
        std::fs::write(&other, "nameserver 192.0.2.3\n").expect("write");
        woke_or_ignore(&w);
        std::fs::rename(&other, &file).expect("rename");
        woke("a replacement");
        std::fs::write(&file, "nameserver 192.0.2.4\n").expect("write");
        woke("a write to the replacement");
    }

    /// Only events about the watched names count: another file in the same directory does
    /// not (tested on the inotify part alone, as netlink noise from other tests may wake).
    #[test]
    fn other_files_in_the_directory_do_not_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("resolv.conf");
        let files = FileWatch::new(std::slice::from_ref(&file)).expect("inotify");
        std::fs::write(dir.path().join("resolv.conf.tmp"), "x").expect("write");
        std::fs::write(dir.path().join("hosts"), "x").expect("write");
        assert!(!files.drain());
        std::fs::write(&file, "nameserver 192.0.2.1\n").expect("write");
        assert!(files.drain(), "creating the watched file counts");
        assert!(!files.drain(), "and was read");
    }

    /// Creating a file that is not the watched one may or may not wake (netlink noise from
    /// other tests); whatever came is forgotten.
    fn woke_or_ignore(w: &Watcher) {
        std::thread::sleep(Duration::from_millis(300));
        while w.wake().try_recv().is_ok() {}
    }
}
