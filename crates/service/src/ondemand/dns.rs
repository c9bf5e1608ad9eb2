//! The resolver hook of EvaluateConnection rules: a DNS stub on a local address that forwards
//! each query to the network's resolver and, when the name is one a ConnectIfNeeded rule
//! covers (and no NeverConnect rule) and it did not resolve without the tunnel, asks its owner
//! for the connection before answering; the query then goes to the tunnel's DNS servers.
//!
//! ```text
//!  client --UDP query--> stub (127.0.0.x:port) --raw query--> network's resolver
//!                          |  answer (NOERROR = resolved; NXDOMAIN, SERVFAIL, none = not)
//!                          +--StubRequest{name, resolved}--> owner: OnDemandDriver::on_dns_name
//!                          |     Connect: start the tunnel, reply with its DNS once connected
//!                          |     else:    reply None at once
//!                          +--raw query--> tunnel's DNS (if replied) --answer--> client
//! ```
//!
//! Queries are untrusted (any local process): at most [`MAX_QUERY`] bytes, parsed by
//! `hickory-proto`, only standard queries with one question are handled (FORMERR otherwise),
//! at most `max_pending` in flight (SERVFAIL beyond), each bounded in time. Answers are
//! relayed byte for byte once they parse as the response to that query (same ID); the stub
//! never builds records of its own.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Sender;
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};

/// A DNS message over UDP without EDNS is 512 bytes; with it, resolvers send up to about 4 KiB.
pub const MAX_QUERY: usize = 4096;
/// The largest answer relayed (EDNS payloads above this are not asked for by stub clients).
pub const MAX_ANSWER: usize = 65_535;

/// How the stub runs.
#[derive(Debug, Clone)]
pub struct StubConfig {
    /// Where it listens: a loopback address (127.0.0.x), port 53 when run as root.
    pub listen: SocketAddr,
    /// Queries in flight at once; more are answered SERVFAIL at once.
    pub max_pending: usize,
    /// How long one upstream server has to answer.
    pub upstream_timeout: Duration,
    /// How long a query waits for the owner (and the tunnel it starts).
    pub connect_timeout: Duration,
    /// The port resolvers are asked on (53; tests use another).
    pub dns_port: u16,
}

impl StubConfig {
    /// Defaults for `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            max_pending: 64,
            upstream_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(20),
            dns_port: 53,
        }
    }
}

/// A name the stub asks its owner about.
#[derive(Debug)]
pub struct StubRequest {
    /// The question's name, lower case, without the trailing dot.
    pub name: String,
    /// Whether it resolved through the network's resolver (NOERROR).
    pub resolved: bool,
    /// The owner's answer: the tunnel's DNS servers to ask instead (the tunnel is up), or
    /// `None` to relay the network's answer.
    pub reply: Sender<Option<Vec<IpAddr>>>,
}

/// Why the stub could not start.
#[derive(Debug, thiserror::Error)]
pub enum StubError {
    /// Its address is not a loopback one: the stub serves this host only.
    #[error("{0}: the DNS stub listens on loopback addresses only")]
    NotLoopback(SocketAddr),
    /// Binding or starting its thread failed.
    #[error("DNS stub on {addr}: {source}")]
    Io {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
}

/// A running stub; dropping it stops it (queries in flight finish on their own).
#[derive(Debug)]
pub struct DnsStub {
    local: SocketAddr,
    dns_port: u16,
    upstream: Arc<Mutex<Vec<SocketAddr>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often the receiving thread looks whether it was dropped.
const STOP_CHECK: Duration = Duration::from_millis(200);

impl DnsStub {
    /// Binds `config.listen` and serves; names go to `requests`.
    pub fn start(config: StubConfig, requests: Sender<StubRequest>) -> Result<Self, StubError> {
        if !config.listen.ip().is_loopback() {
            return Err(StubError::NotLoopback(config.listen));
        }
        let listen = config.listen;
        let io = |source| StubError::Io { addr: listen, source };
        let socket = UdpSocket::bind(config.listen).map_err(io)?;
        socket.set_read_timeout(Some(STOP_CHECK)).map_err(io)?;
        let local = socket.local_addr().map_err(io)?;
        let upstream = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let dns_port = config.dns_port;
        let serving = Serving {
            socket: Arc::new(socket),
            config,
            requests,
            upstream: Arc::clone(&upstream),
            pending: Arc::new(AtomicUsize::new(0)),
        };
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ikeway-dns-stub".into())
            .spawn(move || serving.run(&stopping))
            .map_err(io)?;
        Ok(Self { local, dns_port, upstream, stop, thread: Some(thread) })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The network's resolvers, the stub's own address left out so that a resolv.conf
    /// naming the stub does not make it ask itself.
    pub fn set_upstream(&self, servers: &[IpAddr]) {
        let servers = servers
            .iter()
            .map(|ip| SocketAddr::new(*ip, self.dns_port))
            .filter(|s| *s != self.local)
            .collect();
        *self.upstream.lock().unwrap_or_else(PoisonError::into_inner) = servers;
    }
}

impl Drop for DnsStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Clone)]
struct Serving {
    socket: Arc<UdpSocket>,
    config: StubConfig,
    requests: Sender<StubRequest>,
    upstream: Arc<Mutex<Vec<SocketAddr>>>,
    pending: Arc<AtomicUsize>,
}

/// Gives a query's slot back however its thread ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Serving {
    fn run(self, stop: &AtomicBool) {
        let mut buf = vec![0u8; MAX_QUERY + 1];
        while !stop.load(Ordering::SeqCst) {
            let (n, client) = match self.socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(_) => return,
            };
            if n > MAX_QUERY {
                continue;
            }
            let query = buf[..n].to_vec();
            if self.pending.fetch_add(1, Ordering::SeqCst) >= self.config.max_pending {
                let _slot = Slot(Arc::clone(&self.pending));
                if let Some(refusal) = error_answer(&query, ResponseCode::ServFail) {
                    let _ = self.socket.send_to(&refusal, client);
                }
                continue;
            }
            let slot = Slot(Arc::clone(&self.pending));
            let worker = self.clone();
            let spawned =
                std::thread::Builder::new().name("ikeway-dns-query".into()).spawn(move || {
                    let _slot = slot;
                    if let Some(answer) = worker.answer(&query) {
                        let _ = worker.socket.send_to(&answer, client);
                    }
                });
            // No thread: the query goes unanswered and the client asks again.
            drop(spawned);
        }
    }

    /// The bytes to send back for `query`; `None`: nothing (not a DNS message at all).
    fn answer(&self, query: &[u8]) -> Option<Vec<u8>> {
        let name = match question(query) {
            Ok(name) => name,
            Err(code) => return error_answer(query, code),
        };
        let servers = self.upstream.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let first = ask(&servers, query, self.config.upstream_timeout);
        let resolved = first.as_ref().is_some_and(|a| a.1 == ResponseCode::NoError);
        let (tx, rx) = crossbeam_channel::bounded(1);
        let tunnel = match self.requests.send(StubRequest { name, resolved, reply: tx }) {
            Ok(()) => rx.recv_timeout(self.config.connect_timeout).ok().flatten(),
            Err(_) => None,
        };
        if let Some(tunnel) = tunnel.filter(|t| !t.is_empty()) {
            let servers: Vec<SocketAddr> =
                tunnel.iter().map(|ip| SocketAddr::new(*ip, self.config.dns_port)).collect();
            if let Some((answer, _)) = ask(&servers, query, self.config.upstream_timeout) {
                return Some(answer);
            }
        }
        match first {
            Some((answer, _)) => Some(answer),
            None => error_answer(query, ResponseCode::ServFail),
        }
    }
}

/// The name of a standard query's single question; the response code to refuse it with.
fn question(query: &[u8]) -> Result<String, ResponseCode> {
    let m = Message::from_vec(query).map_err(|_| ResponseCode::FormErr)?;
    if m.metadata.message_type != MessageType::Query
        || m.metadata.op_code != OpCode::Query
        || m.queries.len() != 1
    {
        return Err(ResponseCode::FormErr);
    }
    let name = m.queries[0].name().to_ascii();
    Ok(name.trim_end_matches('.').to_ascii_lowercase())
}

/// An error response to `query` (its ID and opcode; its question when it has one), when the
/// query is at least a DNS header.
fn error_answer(query: &[u8], code: ResponseCode) -> Option<Vec<u8>> {
    let id = u16::from_be_bytes([*query.first()?, *query.get(1)?]);
    let mut answer = Message::error_msg(id, OpCode::Query, code);
    if let Ok(m) = Message::from_vec(query) {
        answer.metadata.op_code = m.metadata.op_code;
        answer.metadata.recursion_desired = m.metadata.recursion_desired;
        answer.add_queries(m.queries.into_iter().take(1));
    }
    answer.to_vec().ok()
}

/// Sends `query` to each server in turn until one answers it; the answer's bytes and code.
fn ask(servers: &[SocketAddr], query: &[u8], timeout: Duration) -> Option<(Vec<u8>, ResponseCode)> {
    let id = u16::from_be_bytes([*query.first()?, *query.get(1)?]);
    servers.iter().find_map(|server| ask_one(*server, query, id, timeout).ok().flatten())
}

fn ask_one(
    server: SocketAddr,
    query: &[u8],
    id: u16,
    timeout: Duration,
) -> io::Result<Option<(Vec<u8>, ResponseCode)>> {
    let any: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(any)?;
    // Connected: the kernel drops datagrams from anyone but the server.
    socket.connect(server)?;
    socket.set_read_timeout(Some(timeout))?;
    socket.send(query)?;
    let mut buf = vec![0u8; MAX_ANSWER];
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        let n = socket.recv(&mut buf)?;
        let Ok(m) = Message::from_vec(&buf[..n]) else { continue };
        if m.metadata.id == id && m.metadata.message_type == MessageType::Response {
            buf.truncate(n);
            return Ok(Some((buf, m.metadata.response_code)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::op::Query;
    use hickory_proto::rr::{Name, RecordType};

    use super::*;

    fn query(name: &str, id: u16) -> Vec<u8> {
        let mut m = Message::new(id, MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).expect("name"), RecordType::A));
        m.to_vec().expect("encode")
    }

    /// A resolver on `ip:port` answering every query with `code`, `authoritative` marking
    /// which one answered; a stray answer with another ID comes first (it must be ignored).
    fn resolver(ip: Ipv4Addr, port: u16, code: ResponseCode, authoritative: bool) -> u16 {
        let socket = UdpSocket::bind((ip, port)).expect("bind resolver");
        let port = socket.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok((n, from)) = socket.recv_from(&mut buf) {
                let Ok(q) = Message::from_vec(&buf[..n]) else { continue };
                let stray =
                    Message::error_msg(q.metadata.id ^ 1, OpCode::Query, ResponseCode::NoError);
                let _ = socket.send_to(&stray.to_vec().expect("encode"), from);
                let mut a = Message::error_msg(q.metadata.id, OpCode::Query, code);
                a.metadata.authoritative = authoritative;
                a.add_queries(q.queries);
                let _ = socket.send_to(&a.to_vec().expect("encode"), from);
            }
        });
        port
    }

    fn client(stub: SocketAddr, bytes: &[u8]) -> Option<Message> {
        let c = UdpSocket::bind("127.0.0.1:0").expect("bind client");
        c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        c.send_to(bytes, stub).expect("send");
        let mut buf = [0u8; 4096];
        let (n, _) = c.recv_from(&mut buf).ok()?;
        Some(Message::from_vec(&buf[..n]).expect("the stub answers DNS"))
    }

    type Seen = Arc<Mutex<Vec<(String, bool)>>>;

    /// A stub asking 127.0.0.1:`port` upstream (and the tunnel's servers on `port`), whose
    /// owner answers each request with `owner(request)`.
    fn stub(
        port: u16,
        owner: impl Fn(&StubRequest) -> Option<Vec<IpAddr>> + Send + 'static,
    ) -> (DnsStub, Seen) {
        let mut config = StubConfig::new("127.0.0.1:0".parse().expect("addr"));
        config.upstream_timeout = Duration::from_millis(500);
        config.connect_timeout = Duration::from_secs(2);
        config.dns_port = port;
        let (tx, rx) = crossbeam_channel::unbounded::<StubRequest>();
        let stub = DnsStub::start(config, tx).expect("stub");
        stub.set_upstream(&[IpAddr::from([127, 0, 0, 1])]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for r in rx {
                log.lock().expect("lock").push((r.name.clone(), r.resolved));
                let _ = r.reply.send(owner(&r));
            }
        });
        (stub, seen)
    }

    #[test]
    fn a_name_that_resolves_is_relayed_and_reported_resolved() {
        let up = resolver(Ipv4Addr::LOCALHOST, 0, ResponseCode::NoError, false);
        let (stub, seen) = stub(up, |_| None);
        let a = client(stub.local_addr(), &query("www.example.org.", 0x1234)).expect("answer");
        assert_eq!((a.metadata.id, a.metadata.response_code), (0x1234, ResponseCode::NoError));
        assert!(!a.metadata.authoritative, "the network's answer");
        assert_eq!(seen.lock().expect("lock").as_slice(), [("www.example.org".into(), true)]);
    }

    #[test]
    fn a_name_that_needs_the_tunnel_is_asked_of_the_tunnels_dns() {
        let port = resolver(Ipv4Addr::LOCALHOST, 0, ResponseCode::NXDomain, false);
        resolver(Ipv4Addr::new(127, 0, 0, 2), port, ResponseCode::NoError, true);
        let (stub, seen) = stub(port, |r| {
            (r.name == "git.corp.example").then(|| vec![IpAddr::from([127, 0, 0, 2])])
        });
        let a = client(stub.local_addr(), &query("Git.Corp.Example.", 7)).expect("answer");
        assert_eq!((a.metadata.id, a.metadata.response_code), (7, ResponseCode::NoError));
        assert!(a.metadata.authoritative, "the tunnel's DNS answered");
        assert_eq!(seen.lock().expect("lock").as_slice(), [("git.corp.example".into(), false)]);
        // The owner says no: the network's NXDOMAIN is relayed.
        let a = client(stub.local_addr(), &query("other.corp.example.", 8)).expect("answer");
        assert_eq!(a.metadata.response_code, ResponseCode::NXDomain);
    }

    #[test]
    fn no_upstream_answer_is_servfail_and_not_resolved() {
        // Nobody listens upstream.
        let port = UdpSocket::bind("127.0.0.1:0").expect("bind").local_addr().expect("a").port();
        let (stub, seen) = stub(port, |_| None);
        let a = client(stub.local_addr(), &query("x.example.", 9)).expect("answer");
        assert_eq!(a.metadata.response_code, ResponseCode::ServFail);
        assert_eq!(seen.lock().expect("lock").as_slice(), [("x.example".into(), false)]);
    }

    #[test]
    fn malformed_queries_get_formerr_or_nothing_and_never_reach_the_owner() {
        let up = resolver(Ipv4Addr::LOCALHOST, 0, ResponseCode::NoError, false);
        let (stub, seen) = stub(up, |_| panic!("no request expected"));
        let mut two = Message::new(3, MessageType::Query, OpCode::Query);
        two.add_query(Query::query(Name::from_ascii("a.example.").expect("n"), RecordType::A));
        two.add_query(Query::query(Name::from_ascii("b.example.").expect("n"), RecordType::A));
        let a = client(stub.local_addr(), &two.to_vec().expect("encode")).expect("answer");
        assert_eq!((a.metadata.id, a.metadata.response_code), (3, ResponseCode::FormErr));
        // A response sent as a query.
        let mut resp = Message::from_vec(&query("a.example.", 4)).expect("parse");
        resp.metadata.message_type = MessageType::Response;
        let a = client(stub.local_addr(), &resp.to_vec().expect("encode")).expect("answer");
        assert_eq!(a.metadata.response_code, ResponseCode::FormErr);
        // A truncated query: FORMERR with its ID.
        let q = query("a.example.", 5);
        let a = client(stub.local_addr(), &q[..q.len() - 3]).expect("answer");
        assert_eq!((a.metadata.id, a.metadata.response_code), (5, ResponseCode::FormErr));
        // One byte, or more than MAX_QUERY: no answer at all.
        assert!(client(stub.local_addr(), &[0]).is_none());
        assert!(client(stub.local_addr(), &vec![0u8; MAX_QUERY + 1]).is_none());
        assert!(seen.lock().expect("lock").is_empty());
    }

    #[test]
    fn beyond_max_pending_queries_are_answered_servfail_at_once() {
        let up = resolver(Ipv4Addr::LOCALHOST, 0, ResponseCode::NXDomain, false);
        let mut config = StubConfig::new("127.0.0.1:0".parse().expect("addr"));
        config.max_pending = 1;
        config.connect_timeout = Duration::from_secs(3);
        config.dns_port = up;
        // An owner that never answers: the first query holds the only slot.
        let (tx, _held) = crossbeam_channel::unbounded::<StubRequest>();
        let stub = DnsStub::start(config, tx).expect("stub");
        stub.set_upstream(&[IpAddr::from([127, 0, 0, 1])]);
        let first = UdpSocket::bind("127.0.0.1:0").expect("bind");
        first.send_to(&query("slow.example.", 1), stub.local_addr()).expect("send");
        std::thread::sleep(Duration::from_millis(300));
        let started = std::time::Instant::now();
        let a = client(stub.local_addr(), &query("b.example.", 2)).expect("answer");
        assert_eq!((a.metadata.id, a.metadata.response_code), (2, ResponseCode::ServFail));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn listens_on_loopback_only_and_never_asks_itself() {
        let (tx, _rx) = crossbeam_channel::unbounded();
        let outside = StubConfig::new("192.0.2.1:53".parse().expect("addr"));
        assert!(matches!(DnsStub::start(outside, tx.clone()), Err(StubError::NotLoopback(_))));
        // Bound first to learn a free port, then the stub's resolvers are on that port too.
        let port = UdpSocket::bind("127.0.0.1:0").expect("bind").local_addr().expect("a").port();
        let mut config = StubConfig::new(SocketAddr::from(([127, 0, 0, 1], port)));
        config.dns_port = port;
        let stub = DnsStub::start(config, tx).expect("stub");
        stub.set_upstream(&[IpAddr::from([127, 0, 0, 1]), IpAddr::from([192, 0, 2, 53])]);
        assert_eq!(
            *stub.upstream.lock().expect("lock"),
            [SocketAddr::from(([192, 0, 2, 53], port))]
        );
    }
}
