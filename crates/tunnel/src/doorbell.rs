//! What wakes a session loop that sleeps in `poll(2)` on its own UDP sockets: an eventfd that
//! everything else it listens to rings (a command, the datapath's rekey request, the pump's IKE
//! datagrams, a host path change). The loop reads its sockets itself, so a datagram costs no
//! thread hand-over, and one that arrives while the loop is busy wakes nobody; only these rarer
//! sources pay a wake-up.
//!
//! The order that loses no wake-up: a producer queues its item and then rings; the loop looks
//! at every queue whenever it runs, and after a sleep that the bell ended it first
//! [`Doorbell::answer`]s and then looks. An item queued before the answer is seen by that
//! look; one queued after it rings again, and the next sleep returns at once.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use crossbeam_channel::{Receiver, TrySendError};
use rustix::event::{EventfdFlags, eventfd};

#[derive(Debug)]
pub(crate) struct Doorbell {
    fd: OwnedFd,
}

impl Doorbell {
    pub(crate) fn new() -> std::io::Result<Arc<Self>> {
        let fd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Arc::new(Self { fd }))
    }

    /// Wakes the loop (or makes its next sleep return at once). Never blocks: a counter near
    /// its limit already holds a wake-up the loop has not answered.
    pub(crate) fn ring(&self) {
        let _ = rustix::io::write(&self.fd, &1u64.to_ne_bytes());
    }

    /// Takes every ring so far; whether there was one.
    pub(crate) fn answer(&self) -> bool {
        let mut count = [0u8; 8];
        matches!(rustix::io::read(&self.fd, &mut count), Ok(8))
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A channel whose items also ring `bell`: a thread takes each item from `source`, passes it
/// on (one kept at most: these are wake-ups, a burst is one) and rings. When `source`'s
/// senders are gone the thread rings once more and ends, so the loop sees the channel end;
/// it also ends once the returned receiver is dropped.
pub(crate) fn forward_wakes(
    source: Receiver<()>,
    bell: Arc<Doorbell>,
) -> std::io::Result<Receiver<()>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new().name("ikeway-wake".into()).spawn(move || {
        for () in source {
            if let Err(TrySendError::Disconnected(())) = tx.try_send(()) {
                return;
            }
            bell.ring();
        }
        drop(tx);
        bell.ring();
    })?;
    Ok(rx)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rustix::event::{PollFd, PollFlags, Timespec, poll};

    use super::*;

    fn readable(bell: &Doorbell) -> bool {
        let mut fds = [PollFd::from_borrowed_fd(bell.fd(), PollFlags::IN)];
        let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
        poll(&mut fds, Some(&zero)).expect("poll") == 1
    }

    #[test]
    fn a_ring_is_seen_by_poll_until_answered_and_rings_add_up_to_one_answer() {
        let bell = Doorbell::new().expect("eventfd");
        assert!(!readable(&bell));
        assert!(!bell.answer(), "nothing rang yet");
        bell.ring();
        bell.ring();
        assert!(readable(&bell));
        assert!(bell.answer());
        assert!(!readable(&bell), "one answer takes every ring");
        assert!(!bell.answer());
    }

    #[test]
    fn forwarded_wakes_ring_and_arrive_and_the_thread_ends_with_its_source() {
        let bell = Doorbell::new().expect("eventfd");
        let (tx, rx) = crossbeam_channel::bounded(1);
        let wake = forward_wakes(rx, Arc::clone(&bell)).expect("thread");
        tx.send(()).expect("forwarder alive");
        wake.recv_timeout(Duration::from_secs(5)).expect("forwarded");
        // The ring follows the pass-on: give the thread the moment it needs.
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while !readable(&bell) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(bell.answer());
        drop(tx);
        assert!(matches!(
            wake.recv_timeout(Duration::from_secs(5)),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected)
        ));
    }
}
