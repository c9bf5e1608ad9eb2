//! The queue from the pump's IKE channel to the session loop (issue 9 finding 10): bounded, so
//! a flood cannot grow memory while the loop is busy; what does not fit is dropped and counted.
//! (The loop's own sockets need none: their kernel receive queue is bounded and counts its
//! drops, see `sockets.rs`.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

/// Datagrams waiting for the loop, at most: a burst of this many IKE messages is kept whole.
pub(crate) const DEPTH: usize = 256;

/// One received datagram.
#[derive(Debug)]
pub(crate) struct Datagram {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    bytes: Vec<u8>,
}

impl Datagram {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// The loop went away: the producer stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// The producer's end.
#[derive(Debug, Clone)]
pub(crate) struct Producer {
    queue: Sender<Datagram>,
    dropped: Arc<AtomicU64>,
}

/// The loop's end.
#[derive(Debug)]
pub(crate) struct Consumer {
    queue: Receiver<Datagram>,
    dropped: Arc<AtomicU64>,
}

pub(crate) fn queue(depth: usize) -> (Producer, Consumer) {
    let (tx, rx) = bounded(depth.max(1));
    let dropped = Arc::new(AtomicU64::new(0));
    (Producer { queue: tx, dropped: Arc::clone(&dropped) }, Consumer { queue: rx, dropped })
}

impl Producer {
    /// Queues `bytes`, received from `remote` on `local`; when the queue is full the datagram
    /// is dropped and counted. Whether it was queued.
    pub(crate) fn push(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: Vec<u8>,
    ) -> Result<bool, Closed> {
        match self.queue.try_send(Datagram { local, remote, bytes }) {
            Ok(()) => Ok(true),
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Ok(false)
            }
            Err(TrySendError::Disconnected(_)) => Err(Closed),
        }
    }
}

impl Consumer {
    /// The next datagram, if one is waiting.
    pub(crate) fn try_recv(&self) -> Option<Datagram> {
        self.queue.try_recv().ok()
    }

    /// Datagrams dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("literal")
    }

    /// Issue 9 finding 10: the queue to the engine was unbounded. Now a full queue drops and
    /// counts, keeps the first ones in order, and a gone loop stops the producer.
    #[test]
    fn a_full_queue_drops_and_counts_and_keeps_the_first_in_order() {
        let (producer, consumer) = queue(2);
        let (local, remote) = (addr("127.0.0.1:4500"), addr("127.0.0.2:4500"));
        for n in 0..5u8 {
            let queued = producer.push(local, remote, vec![n]).expect("loop alive");
            assert_eq!(queued, n < 2, "datagram {n}");
        }
        assert_eq!(consumer.dropped(), 3);
        let first = consumer.try_recv().expect("queued");
        assert_eq!((first.bytes(), first.local, first.remote), (&[0u8][..], local, remote));
        assert_eq!(consumer.try_recv().expect("queued").bytes(), [1]);
        assert!(consumer.try_recv().is_none(), "only two were kept");
        drop(consumer);
        assert_eq!(producer.push(local, remote, vec![0]), Err(Closed));
    }
}
