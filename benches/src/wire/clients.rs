//! Many IKE SAs as initiator, multiplexed over a few UDP sockets in one thread: the load a
//! gateway sees from many remote-access clients. Each client is a sans-IO [`IkeSa`] with its
//! own identity, a PSK, X25519, AES-GCM-16-256, a CFG_REQUEST for an IPv4 address and one
//! child SA; datagrams are routed to it by our (the initiator's) SPI, timers come from one heap.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_codec::{ConfigAttributeType, DhGroup, ExchangeType, IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{Config, DefaultKex, Event, IkeSa, KeyExchangeProvider};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use rustix::buffer::spare_capacity;
use rustix::event::{Timespec, epoll};
use rustix::fd::OwnedFd;

use super::key_pool::KeyPool;

/// IKE's ports on each client address: 500, and 4500 for NAT traversal (strongSwan with
/// kernel-libipsec fakes a NAT, so its clients float there from IKE_AUTH on, RFC 7296 §2.23).
const PORTS: [u16; 2] = [500, 4500];
const NAT_T_PORT: u16 = 4500;
/// The non-ESP marker before IKE on port 4500 (RFC 3948 §2.2).
const MARKER: [u8; 4] = [0; 4];
/// IKE header offsets (RFC 7296 §3.1) and the first byte of the SK payload after it (§3.14).
const EXCHANGE: usize = 18;
const FLAGS: usize = 19;
const FLAG_RESPONSE: u8 = 0x20;
const SK_INNER_NEXT: usize = 28;
/// Socket receive buffer: a burst of answers to many concurrent handshakes must not overflow
/// the default 208 KiB and turn into retransmissions that measure the generator, not the peer.
const RECV_BUFFER: usize = 8 << 20;

/// Where the clients connect and from where.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The responder, port 500.
    pub server: SocketAddr,
    /// Client addresses (already on an interface); clients are spread over them in turn, so
    /// per-source limits of the responder (half-open SAs per address) see a few hosts.
    pub sources: Vec<IpAddr>,
    pub psk: Vec<u8>,
    /// Seeds every client's randomness (each mixes in its own number).
    pub seed: [u8; 32],
    /// Clients draw their X25519 key pairs from a pool of this many, made up front
    /// ([`KeyPool`]); 0: each makes its own.
    pub key_pool: usize,
}

/// Something that finished, reported by [`Clients::step`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// IKE_SA_INIT sent to first child SA installed.
    Handshake(Duration),
    HandshakeFailed,
    /// A liveness check answered.
    Dpd(Duration),
    /// A child SA rekeyed (CREATE_CHILD_SA request to the new child installed).
    Rekey(Duration),
    /// An established IKE SA closed: deleted by the peer, or it stopped answering.
    Lost,
}

/// A client's place in its life.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connecting,
    Up,
    /// Retired by the churn ([`Clients::churn`]): its DELETE is under way, it no longer
    /// counts as established, and its closing is no loss.
    Deleting,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Dpd,
    Rekey,
}

#[derive(Debug)]
struct Client {
    sa: IkeSa,
    /// When the handshake, or the probe in flight, started.
    since: Instant,
    phase: Phase,
    probe: Option<Probe>,
    /// The deadline this client has in the timer heap; other entries for it are stale.
    armed: Option<Instant>,
}

/// A batch of handshakes, [`Clients::connect`].
#[derive(Debug, Default)]
pub struct Batch {
    pub failed: usize,
    pub elapsed: Duration,
    /// One per completed handshake.
    pub latencies: Vec<Duration>,
}

impl Batch {
    /// Completed handshakes per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Handshakes in flight, carried from one [`Clients::churn`] window to the next.
#[derive(Debug)]
pub struct Flight {
    pub concurrency: usize,
    /// Under churn: the established SAs to hold.
    pub keep: Option<usize>,
    in_flight: usize,
}

impl Flight {
    /// `concurrency` handshakes at a time while `keep` SAs stay established.
    pub fn churn(concurrency: usize, keep: usize) -> Self {
        Self { concurrency, keep: Some(keep), in_flight: 0 }
    }
}

/// Liveness checks and child rekeys of established clients, [`Clients::probe`].
#[derive(Debug, Default)]
pub struct Probes {
    pub dpd_sent: usize,
    pub dpd: Vec<Duration>,
    pub rekey_sent: usize,
    pub rekey: Vec<Duration>,
}

/// The sockets the last wait found readable (capacity: one per socket, kept from turn to
/// turn); rustix's events have no `Debug`.
struct Ready(Vec<epoll::Event>);

impl std::fmt::Debug for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ready", self.0.len())
    }
}

/// The clients and their sockets.
#[derive(Debug)]
pub struct Clients {
    setup: Setup,
    kex: Arc<dyn KeyExchangeProvider>,
    sockets: Vec<(SocketAddr, UdpSocket)>,
    /// Every socket, registered with its index (level-triggered): one wait tells which of
    /// them hold datagrams, instead of poll(2) building and scanning all of them each turn.
    epoll: OwnedFd,
    ready: Ready,
    /// Every client started, by number; `None` once it closed and said everything (a run
    /// under churn starts millions, and a closed SA's memory is of no use).
    clients: Vec<Option<Box<Client>>>,
    /// Established clients, oldest first (some may have closed since: skipped when met).
    up_order: VecDeque<usize>,
    by_spi: HashMap<u64, usize>,
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    buf: Vec<u8>,
    done: Vec<Done>,
    /// [`Clients::fly`]'s empty second buffer for `done`, swapped in so that no turn allocates.
    done_spare: Vec<Done>,
    established: usize,
    /// Established SAs that closed since the start, not deleted by us.
    pub lost: usize,
    /// Established SAs we deleted to hold a population under churn.
    pub retired: usize,
    /// Datagrams the kernel refused to send (full buffers).
    pub send_errors: u64,
}

/// One client's configuration: its own identity (a peer seeing INITIAL_CONTACT from an
/// identity it already holds an SA for may replace that SA, as strongSwan does), the first
/// default IKE and ESP proposals (AES-GCM-16-256, PRF-HMAC-SHA2-256) with X25519 only, IPv4
/// selectors, and a CFG_REQUEST for an address and DNS.
pub fn client_config(psk: &[u8], n: usize) -> Config {
    let id = format!("c{n}.bench.ikeway.test");
    let mut c = Config::new(IdRepr::from_value(IdValue::Fqdn(&id)), SecretBytes::from_slice(psk));
    c.ike_proposals.truncate(1);
    for p in &mut c.ike_proposals {
        p.groups = vec![DhGroup::CURVE25519];
    }
    c.esp_proposals.truncate(1);
    c.local_ts.truncate(1);
    c.remote_ts.truncate(1);
    c.config_request =
        vec![ConfigAttributeType::INTERNAL_IP4_ADDRESS, ConfigAttributeType::INTERNAL_IP4_DNS];
    c
}

impl Clients {
    /// Binds ports 500 and 4500 on every source address.
    pub fn bind(setup: Setup) -> io::Result<Self> {
        if setup.sources.is_empty() {
            return Err(io::Error::other("no source address"));
        }
        let mut sockets = Vec::new();
        for &ip in &setup.sources {
            for port in PORTS {
                let addr = SocketAddr::new(ip, port);
                let socket = UdpSocket::bind(addr)
                    .map_err(|e| io::Error::new(e.kind(), format!("binding {addr}: {e}")))?;
                socket.set_nonblocking(true)?;
                rustix::net::sockopt::set_socket_recv_buffer_size(&socket, RECV_BUFFER)?;
                sockets.push((addr, socket));
            }
        }
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        for (i, (_, socket)) in sockets.iter().enumerate() {
            epoll::add(&epoll, socket, epoll::EventData::new_u64(i as u64), epoll::EventFlags::IN)?;
        }
        let ready = Ready(Vec::with_capacity(sockets.len()));
        let fresh: Arc<dyn KeyExchangeProvider> = Arc::new(DefaultKex::default());
        let kex: Arc<dyn KeyExchangeProvider> = if setup.key_pool == 0 {
            fresh
        } else {
            let mut rng = ChaCha20Rng::from_seed(setup.seed);
            Arc::new(
                KeyPool::new(fresh, DhGroup::CURVE25519, setup.key_pool, &mut rng)
                    .map_err(|e| io::Error::other(format!("key pool: {e}")))?,
            )
        };
        Ok(Self {
            setup,
            kex,
            sockets,
            epoll,
            ready,
            clients: Vec::new(),
            up_order: VecDeque::new(),
            by_spi: HashMap::new(),
            timers: BinaryHeap::new(),
            buf: vec![0; 65536],
            done: Vec::new(),
            done_spare: Vec::new(),
            established: 0,
            lost: 0,
            retired: 0,
            send_errors: 0,
        })
    }

    /// Established IKE SAs with their child, now.
    pub fn established(&self) -> usize {
        self.established
    }

    /// The indices of up to `n` established clients, spread over the whole population.
    pub fn some_established(&self, n: usize) -> Vec<usize> {
        let up: Vec<usize> = (0..self.clients.len())
            .filter(|&i| self.client(i).is_some_and(|c| c.phase == Phase::Up))
            .collect();
        let step = (up.len() / n.max(1)).max(1);
        up.into_iter().step_by(step).take(n).collect()
    }

    /// A client's IKE_SA_INIT request as it goes on the wire (UDP payload, port 500): what
    /// the flood sends with other SPIs from other addresses.
    pub fn init_request(&self) -> io::Result<Vec<u8>> {
        let mut sa = IkeSa::initiate(
            Arc::new(client_config(&self.setup.psk, usize::MAX)),
            self.kex.clone(),
            [0x5a; 32],
            Instant::now(),
            SocketAddr::new(self.setup.sources[0], PORTS[0]),
            self.setup.server,
        )
        .map_err(|e| io::Error::other(format!("initiate: {e:?}")))?;
        let mut buf = vec![0; 65536];
        match sa.poll_transmit(&mut buf) {
            Some(Ok(t)) => Ok(buf[..t.len].to_vec()),
            _ => Err(io::Error::other("no IKE_SA_INIT request")),
        }
    }

    /// Starts one more client.
    fn start(&mut self) -> io::Result<()> {
        let n = self.clients.len();
        let source = self.setup.sources[n % self.setup.sources.len()];
        let mut seed = self.setup.seed;
        for (s, b) in seed.iter_mut().zip((n as u64).to_le_bytes()) {
            *s ^= b;
        }
        let now = Instant::now();
        let sa = IkeSa::initiate(
            Arc::new(client_config(&self.setup.psk, n)),
            self.kex.clone(),
            seed,
            now,
            SocketAddr::new(source, PORTS[0]),
            self.setup.server,
        )
        .map_err(|e| io::Error::other(format!("initiate: {e:?}")))?;
        self.by_spi.insert(sa.spis().0, n);
        self.clients.push(Some(Box::new(Client {
            sa,
            since: now,
            phase: Phase::Connecting,
            probe: None,
            armed: None,
        })));
        self.flush(n);
        Ok(())
    }

    fn client(&self, i: usize) -> Option<&Client> {
        self.clients.get(i)?.as_deref()
    }

    fn client_mut(&mut self, i: usize) -> Option<&mut Client> {
        self.clients.get_mut(i)?.as_deref_mut()
    }

    /// Sends what client `i` has to send, takes its events, re-arms its timer; forgets it
    /// once it closed and has nothing left to send.
    fn flush(&mut self, i: usize) {
        let now = Instant::now();
        let Some(c) = self.clients.get_mut(i).and_then(Option::as_deref_mut) else { return };
        while let Some(Ok(t)) = c.sa.poll_transmit(&mut self.buf) {
            let sent = self
                .sockets
                .iter()
                .find(|(a, _)| *a == t.local)
                .map(|(_, s)| s.send_to(&self.buf[..t.len], t.remote));
            if !matches!(sent, Some(Ok(_))) {
                self.send_errors += 1;
            }
        }
        while let Some(e) = c.sa.poll_event() {
            match e.event {
                Event::ChildSaInstalled(info) => match c.phase {
                    Phase::Connecting => {
                        c.phase = Phase::Up;
                        self.established += 1;
                        self.up_order.push_back(i);
                        self.done.push(Done::Handshake(now - c.since));
                    }
                    Phase::Up if info.replaces.is_some() && c.probe == Some(Probe::Rekey) => {
                        c.probe = None;
                        self.done.push(Done::Rekey(now - c.since));
                    }
                    _ => {}
                },
                Event::IkeSaClosed { .. } => {
                    match c.phase {
                        Phase::Connecting => self.done.push(Done::HandshakeFailed),
                        Phase::Up => {
                            self.established -= 1;
                            self.lost += 1;
                            self.done.push(Done::Lost);
                        }
                        Phase::Deleting | Phase::Closed => {}
                    }
                    c.phase = Phase::Closed;
                    c.probe = None;
                }
                _ => {}
            }
        }
        if c.phase == Phase::Closed && !c.sa.has_output() {
            self.by_spi.remove(&c.sa.spis().0);
            self.clients[i] = None;
            return;
        }
        let next = c.sa.poll_timeout();
        if next != c.armed {
            c.armed = next;
            if let Some(t) = next {
                self.timers.push(Reverse((t, i)));
            }
        }
    }

    /// Waits at most `max_wait` for datagrams, hands them to their clients, runs due timers.
    pub fn step(&mut self, max_wait: Duration) -> io::Result<()> {
        let now = Instant::now();
        let wait = self
            .timers
            .peek()
            .map_or(max_wait, |Reverse((t, _))| t.saturating_duration_since(now).min(max_wait));
        let timeout =
            Timespec { tv_sec: wait.as_secs() as i64, tv_nsec: i64::from(wait.subsec_nanos()) };
        self.ready.0.clear();
        match epoll::wait(&self.epoll, spare_capacity(&mut self.ready.0), Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        for k in 0..self.ready.0.len() {
            // A copy: the kernel's event layout is packed, its fields cannot be borrowed.
            let data = self.ready.0[k].data;
            self.receive(data.u64() as usize);
        }
        self.expire();
        Ok(())
    }

    /// Reads one datagram from socket `s`. One, not until the socket is empty: the socket
    /// mostly holds one answer, and a read to find it empty would cost a system call per
    /// datagram; what is left keeps the socket ready for the next wait, which serves every
    /// socket in turn.
    fn receive(&mut self, s: usize) {
        let (local, socket) = &self.sockets[s];
        let local = *local;
        let Ok((len, remote)) = socket.recv_from(&mut self.buf) else { return };
        let ike = if local.port() == NAT_T_PORT {
            match self.buf[..len].strip_prefix(&MARKER) {
                Some(ike) => ike,
                None => return,
            }
        } else {
            &self.buf[..len]
        };
        let Some(spi) = ike.get(..8).map(|b| u64::from_be_bytes(b.try_into().expect("8"))) else {
            return;
        };
        let Some(&i) = self.by_spi.get(&spi) else { return };
        let Some(c) = self.clients.get_mut(i).and_then(Option::as_deref_mut) else {
            return;
        };
        let dpd_answer = c.probe == Some(Probe::Dpd) && is_empty_informational_response(ike);
        c.sa.handle_datagram(Instant::now(), remote, local, &self.buf[..len]);
        if dpd_answer {
            c.probe = None;
            self.done.push(Done::Dpd(c.since.elapsed()));
        }
        self.flush(i);
    }

    /// Runs the timers that are due.
    fn expire(&mut self) {
        let now = Instant::now();
        while let Some(&Reverse((t, i))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(c) = self.client_mut(i).filter(|c| c.armed == Some(t)) else { continue };
            c.armed = None;
            c.sa.handle_timeout(now);
            self.flush(i);
        }
    }

    /// Runs `n` new handshakes, `concurrency` at a time, and times them. Stops early after
    /// `limit`, with what completed by then.
    pub fn connect(&mut self, n: usize, concurrency: usize, limit: Duration) -> io::Result<Batch> {
        let mut flight = Flight { concurrency, keep: None, in_flight: 0 };
        let mut batch = self.fly(&mut flight, Some(n), Instant::now() + limit)?;
        // What is still in flight at the limit did not complete.
        batch.failed += flight.in_flight;
        Ok(batch)
    }

    /// Handshakes under churn for `length`: `flight.concurrency` always in flight, and each one
    /// that completes while more than `flight.keep` SAs are up retires the oldest established
    /// client with a DELETE (RFC 7296 §1.4.1), so the responder holds that many established
    /// SAs the whole time (plus the handshakes and DELETEs in flight). Handshakes still in
    /// flight at the end go on in the next call.
    pub fn churn(&mut self, flight: &mut Flight, length: Duration) -> io::Result<Batch> {
        self.fly(flight, None, Instant::now() + length)
    }

    /// Lets the handshakes of `flight` finish, starting none, for at most `limit` (churn
    /// still retiring one SA per completed handshake); what is still in flight then failed.
    pub fn land(&mut self, flight: &mut Flight, limit: Duration) -> io::Result<Batch> {
        let mut batch = self.fly(flight, Some(0), Instant::now() + limit)?;
        batch.failed += std::mem::take(&mut flight.in_flight);
        Ok(batch)
    }

    /// Keeps `flight` topped up while `starts` (none: no bound) allows new handshakes, until
    /// `until` or until nothing is left in flight.
    fn fly(
        &mut self,
        flight: &mut Flight,
        mut starts: Option<usize>,
        until: Instant,
    ) -> io::Result<Batch> {
        let start = Instant::now();
        let mut batch = Batch::default();
        loop {
            let now = Instant::now();
            if now >= until || (starts == Some(0) && flight.in_flight == 0) {
                break;
            }
            while flight.in_flight < flight.concurrency.max(1) && starts != Some(0) {
                self.start()?;
                flight.in_flight += 1;
                if let Some(left) = &mut starts {
                    *left -= 1;
                }
            }
            self.step((until - now).min(Duration::from_millis(10)))?;
            // Retiring SAs below pushes more (of no interest here) onto `done`.
            let mut done = std::mem::replace(&mut self.done, std::mem::take(&mut self.done_spare));
            for d in done.drain(..) {
                match d {
                    Done::Handshake(l) => {
                        batch.latencies.push(l);
                        flight.in_flight -= 1;
                    }
                    Done::HandshakeFailed => {
                        batch.failed += 1;
                        flight.in_flight -= 1;
                    }
                    Done::Dpd(_) | Done::Rekey(_) | Done::Lost => {}
                }
                while flight.keep.is_some_and(|k| self.established > k) && self.retire_oldest() {}
            }
            self.done_spare = done;
        }
        batch.elapsed = start.elapsed();
        Ok(batch)
    }

    /// Sends a DELETE for the oldest established client; `false` if none is left.
    fn retire_oldest(&mut self) -> bool {
        while let Some(i) = self.up_order.pop_front() {
            let Some(c) = self.client_mut(i).filter(|c| c.phase == Phase::Up) else { continue };
            c.phase = Phase::Deleting;
            c.probe = None;
            c.sa.delete_ike(Instant::now());
            self.established -= 1;
            self.retired += 1;
            self.flush(i);
            return true;
        }
        false
    }

    /// For `length`, each of the `probes` (established clients) alternates a liveness check
    /// and a child SA rekey, one every `period`, staggered; then waits up to `settle` for the
    /// last answers. What is never answered counts as sent and not answered.
    pub fn probe(
        &mut self,
        probes: &[usize],
        period: Duration,
        length: Duration,
        settle: Duration,
    ) -> io::Result<Probes> {
        let start = Instant::now();
        let mut out = Probes::default();
        let mut next: Vec<Instant> = (0..probes.len())
            .map(|k| start + period.mul_f64(k as f64 / probes.len().max(1) as f64))
            .collect();
        let mut dpd_next = vec![true; probes.len()];
        let collect = |done: &mut Vec<Done>, out: &mut Probes| {
            for d in done.drain(..) {
                match d {
                    Done::Dpd(l) => out.dpd.push(l),
                    Done::Rekey(l) => out.rekey.push(l),
                    Done::Handshake(_) | Done::HandshakeFailed | Done::Lost => {}
                }
            }
        };
        while start.elapsed() < length {
            let now = Instant::now();
            for (k, &i) in probes.iter().enumerate() {
                let Some(c) = self.clients.get_mut(i).and_then(Option::as_deref_mut) else {
                    continue;
                };
                if next[k] > now || c.probe.is_some() || c.phase != Phase::Up {
                    continue;
                }
                c.since = now;
                if dpd_next[k] {
                    c.probe = Some(Probe::Dpd);
                    c.sa.dpd(now);
                    out.dpd_sent += 1;
                } else if let Some(&(spi, _)) = c.sa.child_spis().last() {
                    c.probe = Some(Probe::Rekey);
                    c.sa.rekey_child(now, spi);
                    out.rekey_sent += 1;
                }
                dpd_next[k] = !dpd_next[k];
                next[k] = now + period;
                self.flush(i);
            }
            self.step(Duration::from_millis(1))?;
            collect(&mut self.done, &mut out);
        }
        let end = Instant::now() + settle;
        while Instant::now() < end
            && probes.iter().any(|&i| self.client(i).is_some_and(|c| c.probe.is_some()))
        {
            self.step(Duration::from_millis(5))?;
            collect(&mut self.done, &mut out);
        }
        for &i in probes {
            if let Some(c) = self.client_mut(i) {
                c.probe = None;
            }
        }
        Ok(out)
    }
}

/// An INFORMATIONAL response whose encrypted body is empty: the answer to a liveness check
/// (a DELETE's answer carries a Delete payload).
fn is_empty_informational_response(ike: &[u8]) -> bool {
    ike.len() > SK_INNER_NEXT
        && ike[EXCHANGE] == ExchangeType::INFORMATIONAL.0
        && ike[FLAGS] & FLAG_RESPONSE != 0
        && ike[SK_INNER_NEXT] == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_a_liveness_answer_from_other_informational_messages() {
        let mut m = vec![0u8; 60];
        m[EXCHANGE] = ExchangeType::INFORMATIONAL.0;
        m[FLAGS] = FLAG_RESPONSE;
        assert!(is_empty_informational_response(&m));
        m[SK_INNER_NEXT] = 42; // a Delete payload
        assert!(!is_empty_informational_response(&m));
        m[SK_INNER_NEXT] = 0;
        m[FLAGS] = 0x08; // a request
        assert!(!is_empty_informational_response(&m));
        m[FLAGS] = FLAG_RESPONSE;
        m[EXCHANGE] = ExchangeType::CREATE_CHILD_SA.0;
        assert!(!is_empty_informational_response(&m));
        assert!(!is_empty_informational_response(&m[..20]));
    }
}
