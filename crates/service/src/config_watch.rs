//! Configuration-change events (`NEVPNConfigurationChangeNotification`): an inotify watch on
//! the preferences directory, so that every writer is seen — `ikeway config`, `ikeway
//! profile`, an application saving through `VpnManager` or the C ABI, a hand edit — without a
//! protocol message each of them would have to remember to send. The store replaces its file
//! atomically (a temporary file renamed over it), so one save is one `IN_MOVED_TO` of
//! `preferences.json`; the daemon re-reads the store on it.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crossbeam_channel::Sender;
use rustix::fs::inotify;

use crate::{ConfigurationEvent, Input};

/// What changes a file of the directory: written in place, renamed into place, removed.
const EVENTS: inotify::WatchFlags = inotify::WatchFlags::CLOSE_WRITE
    .union(inotify::WatchFlags::MOVED_TO)
    .union(inotify::WatchFlags::DELETE);

/// Watches `file` (its name in its directory, created if missing, as the first save would)
/// from a thread of its own; each change sends one [`Input::Configuration`].
pub fn watch(file: &Path, inputs: Sender<Input>) -> io::Result<()> {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return Err(io::Error::other(format!("{} names no file in a directory", file.display())));
    };
    std::fs::create_dir_all(dir)?;
    // Blocking reads: the thread sleeps in the kernel until something changes.
    let fd = inotify::init(inotify::CreateFlags::CLOEXEC)?;
    inotify::add_watch(&fd, dir, EVENTS)?;
    let name = name.to_owned();
    std::thread::Builder::new().name("config-watch".into()).spawn(move || {
        while let Ok(changed) = next_change(&fd, &name) {
            if !changed {
                continue;
            }
            // One save is a rename and the close of the renamed file, sometimes in two
            // batches: what follows within SETTLE is the same change.
            while settling(&fd) {
                if next_change(&fd, &name).is_err() {
                    return;
                }
            }
            if inputs.send(Input::Configuration(ConfigurationEvent::Changed)).is_err() {
                return;
            }
        }
    })?;
    Ok(())
}

/// How long after a change more events still belong to it.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(50);

/// Whether more events arrive within [`SETTLE`].
fn settling(fd: &OwnedFd) -> bool {
    let timeout = rustix::event::Timespec { tv_sec: 0, tv_nsec: SETTLE.as_nanos() as i64 };
    let mut fds = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
    matches!(rustix::event::poll(&mut fds, Some(&timeout)), Ok(n) if n > 0)
}

/// Waits for the next batch of events; whether one of them concerns `name`.
fn next_change(fd: &OwnedFd, name: &OsStr) -> io::Result<bool> {
    let mut buf = [std::mem::MaybeUninit::uninit(); 4096];
    let mut reader = inotify::Reader::new(fd, &mut buf);
    let mut changed = false;
    // The first read blocks; the rest of the batch is in the buffer already.
    loop {
        match reader.next() {
            Ok(event) => {
                changed |=
                    event.file_name().is_some_and(|n| OsStr::from_bytes(n.to_bytes()) == name);
                if reader.is_buffer_empty() {
                    return Ok(changed);
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use ikeway_manager::{Ikev2Protocol, PreferencesStore, VpnConfiguration, VpnManager};

    use super::*;

    /// A save through the store is one event; a write of another file in the directory is
    /// none; removing the file is one.
    #[test]
    fn a_save_is_one_event_and_other_files_are_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = PreferencesStore::in_dir(dir.path().join("ikeway"));
        let (tx, rx) = crossbeam_channel::unbounded();
        watch(store.path(), tx).unwrap();
        let mut m = VpnManager::shared("app", store.clone());
        m.load_from_preferences().unwrap();
        m.configuration_mut().protocol = Some(Ikev2Protocol::new("vpn.example"));
        m.save_to_preferences(&mut |_: &str, _: &VpnConfiguration| true).unwrap();
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("an event for the save");
        assert!(matches!(got, Input::Configuration(ConfigurationEvent::Changed)), "{got:?}");
        std::fs::write(dir.path().join("ikeway/unrelated"), "x").unwrap();
        std::fs::remove_file(store.path()).unwrap();
        let got = rx.recv_timeout(Duration::from_secs(5)).expect("an event for the removal");
        assert!(matches!(got, Input::Configuration(ConfigurationEvent::Changed)), "{got:?}");
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "one event each");
    }
}
