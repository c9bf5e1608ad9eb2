//! The queue from the socket reader threads to the engine (issue 9 finding 10): bounded, so a
//! flood cannot grow memory while the engine is busy, and recycling its buffers, so a datagram
//! is received straight into the buffer the engine reads: no copy, and no allocation once the
//! buffers exist. When the engine falls behind, readers drop what does not fit and count it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

/// Datagrams waiting for the engine, at most: a burst of this many IKE messages is kept
/// whole, and at 64 KiB per buffer the queue never holds more than 16 MiB.
pub(crate) const DEPTH: usize = 256;
/// A UDP payload can be this long; a shorter buffer would truncate an unfragmented IKE message.
pub(crate) const MAX_DATAGRAM: usize = 65536;

/// One received datagram, in a buffer that goes back to the readers once handled.
#[derive(Debug)]
pub(crate) struct Datagram {
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    buf: Vec<u8>,
    len: usize,
}

impl Datagram {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The engine went away: readers stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// The readers' end; cloned into each reader thread.
#[derive(Debug, Clone)]
pub(crate) struct Producer {
    queue: Sender<Datagram>,
    free: Receiver<Vec<u8>>,
    dropped: Arc<AtomicU64>,
}

/// The engine's end.
#[derive(Debug)]
pub(crate) struct Consumer {
    queue: Receiver<Datagram>,
    free: Sender<Vec<u8>>,
    dropped: Arc<AtomicU64>,
}

pub(crate) fn queue(depth: usize) -> (Producer, Consumer) {
    let (tx, rx) = bounded(depth);
    let (free_tx, free_rx) = bounded(depth);
    let dropped = Arc::new(AtomicU64::new(0));
    (
        Producer { queue: tx, free: free_rx, dropped: Arc::clone(&dropped) },
        Consumer { queue: rx, free: free_tx, dropped },
    )
}

impl Producer {
    /// A buffer to receive into: one the engine gave back if any, else a new one. At most
    /// about twice `depth` buffers ever exist (queued, and given back).
    pub(crate) fn buffer(&self) -> Vec<u8> {
        self.free.try_recv().unwrap_or_else(|_| vec![0; MAX_DATAGRAM])
    }

    /// Queues the first `len` bytes of `buf`, received from `remote` on `local`. When the
    /// queue is full the datagram is dropped and counted, and the buffer comes back for the
    /// next receive.
    pub(crate) fn push(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
        buf: Vec<u8>,
        len: usize,
    ) -> Result<Option<Vec<u8>>, Closed> {
        match self.queue.try_send(Datagram { local, remote, buf, len }) {
            Ok(()) => Ok(None),
            Err(TrySendError::Full(d)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Ok(Some(d.buf))
            }
            Err(TrySendError::Disconnected(_)) => Err(Closed),
        }
    }
}

impl Consumer {
    /// The channel itself, for the session loop to wait on together with its commands.
    pub(crate) fn receiver(&self) -> &Receiver<Datagram> {
        &self.queue
    }

    #[cfg(test)]
    pub(crate) fn recv_timeout(
        &self,
        wait: std::time::Duration,
    ) -> Result<Datagram, crossbeam_channel::RecvTimeoutError> {
        self.queue.recv_timeout(wait)
    }

    /// Gives a handled datagram's buffer back to the readers (only full-size ones: a reader
    /// must be able to receive any datagram into it).
    pub(crate) fn recycle(&self, d: Datagram) {
        if d.buf.len() == MAX_DATAGRAM {
            let _ = self.free.try_send(d.buf);
        }
    }

    /// Datagrams dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("literal")
    }

    /// Issue 9 finding 10: the queue to the engine was unbounded and every datagram a fresh
    /// copy. Now a full queue drops and counts, and handled buffers are received into again.
    #[test]
    fn a_full_queue_drops_and_counts_and_buffers_are_reused() {
        let (producer, consumer) = queue(2);
        let (local, remote) = (addr("127.0.0.1:500"), addr("127.0.0.2:500"));
        for n in 0..5u8 {
            let mut buf = producer.buffer();
            buf[0] = n;
            let back = producer.push(local, remote, buf, 1).expect("engine alive");
            assert_eq!(back.is_some(), n >= 2, "datagram {n}");
        }
        assert_eq!(consumer.dropped(), 3);
        let first = consumer.recv_timeout(Duration::ZERO).expect("queued");
        assert_eq!((first.bytes(), first.remote), (&[0u8][..], remote));
        let reused = first.buf.as_ptr();
        consumer.recycle(first);
        let again = producer.buffer();
        assert_eq!(again.as_ptr(), reused, "the handled buffer came back");
        let second = consumer.recv_timeout(Duration::ZERO).expect("queued");
        assert_eq!(second.bytes(), [1]);
        assert!(consumer.recv_timeout(Duration::ZERO).is_err(), "only two were kept");
        drop(consumer);
        assert_eq!(producer.push(local, remote, vec![0; MAX_DATAGRAM], 1), Err(Closed));
    }
}
