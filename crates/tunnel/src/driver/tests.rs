use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use ikeway_sa::{Engine, Transmit};

use super::*;
use crate::datapath::ChildOwner;
use crate::faults::Fault;

/// An engine that only has datagrams to send.
struct Sender(VecDeque<(Transmit, Vec<u8>)>);

impl ChildOwner for Sender {
    fn rekey_child(&mut self, _: Instant, _: u32) -> bool {
        false
    }
}

impl Engine for Sender {
    fn poll_event(&mut self) -> Option<EngineEvent> {
        None
    }
    fn sa_mut(&mut self, _: SaId) -> Option<&mut IkeSa> {
        None
    }
    fn handle_datagram(&mut self, _: Instant, _: SocketAddr, _: SocketAddr, _: &[u8]) {}
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn poll_transmit(&mut self, buf: &mut [u8]) -> Option<Result<Transmit, usize>> {
        let (t, bytes) = self.0.front()?;
        if bytes.len() > buf.len() {
            return Some(Err(bytes.len()));
        }
        buf[..bytes.len()].copy_from_slice(bytes);
        let t = *t;
        self.0.pop_front();
        Some(Ok(t))
    }
}

impl Role for Sender {
    fn own_sa(&mut self) -> Option<&mut IkeSa> {
        None
    }
    fn delete_all(&mut self, _: Instant) {}
    fn all_closed(&self) -> bool {
        false
    }
    fn serves_many(&self) -> bool {
        true
    }
    fn stats_text(&self) -> (Option<String>, Option<String>, Option<String>) {
        (None, None, None)
    }
    fn retransmits(&self) -> u64 {
        0
    }
}

/// Issue 9 finding 9: a `sendto` that failed for one peer ended `serve` for every client.
/// Now the failure is counted and reported, the next peer still gets its datagram, and the
/// loop runs on until it is told to stop.
#[test]
fn a_failing_send_to_one_peer_does_not_stop_the_loop() {
    let loopback: IpAddr = "127.0.0.1".parse().expect("literal");
    let sockets = Sockets::bind(loopback, &[0], None, 16).expect("bind an ephemeral port");
    let local = sockets.local_addrs()[0];
    let peer = UdpSocket::bind((loopback, 0)).expect("bind the peer");
    peer.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    // An IPv6 destination from an IPv4 socket: sendto fails (EAFNOSUPPORT/EINVAL).
    let unreachable: SocketAddr = "[::1]:500".parse().expect("literal");
    let good = peer.local_addr().expect("bound");
    let engine = Sender(VecDeque::from([
        (Transmit { local, remote: unreachable, len: 3 }, b"bad".to_vec()),
        (Transmit { local, remote: good, len: 4 }, b"good".to_vec()),
    ]));
    let (commands_tx, commands) = crossbeam_channel::unbounded();
    let (events_tx, events) = crossbeam_channel::unbounded();
    let wakeups = Arc::new(AtomicU64::new(0));
    let parts = Parts {
        sockets,
        pump: None,
        netstack: None,
        trace: None,
        commands,
        events: events_tx,
        keylog: None,
        wakeups: Arc::clone(&wakeups),
        deadline: None,
        path_wake: None,
        redirects: None,
        mobility: None,
        crew: None,
    };
    // The loop sends both datagrams before it first waits; then the shutdown ends it.
    commands_tx.send(Command::Shutdown).expect("loop's receiver alive");
    let result = Driver::new(engine, parts, Instant::now()).run();
    assert!(result.is_ok(), "the loop ran on: {result:?}");
    let mut buf = [0u8; 16];
    let (n, from) = peer.recv_from(&mut buf).expect("the second peer got its datagram");
    assert_eq!((&buf[..n], from), (&b"good"[..], local));
    let events: Vec<EventKind> = events.try_iter().map(|e| e.kind).collect();
    let faults: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            EventKind::Fault { cause, count, .. } => Some((*cause, *count)),
            _ => None,
        })
        .collect();
    assert_eq!(faults, [(Fault::Send, 1)]);
    let stats = events.iter().find_map(|e| match e {
        EventKind::Stats(s) => Some(s.clone()),
        _ => None,
    });
    let stats = stats.expect("a stats event at the end");
    assert_eq!((stats.faults.send_failed, stats.faults.datapath_failed), (1, 0));
    assert_eq!(stats.wakeups, 0, "the shutdown was already waiting: taken without a sleep");
    assert_eq!(events.last(), Some(&EventKind::Status { status: Status::Disconnected }));
}
