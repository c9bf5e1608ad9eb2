//! Both ends of an IKEv2/IPsec tunnel in one process, no root and no server needed: what
//! `ikeway demo` and the C ABI's demo run.
//!
//! Two [`Session`]s, an initiator and a responder, negotiate over loopback UDP (IKE_SA_INIT,
//! IKE_AUTH with a pre-shared key and a configuration request, the first child SA), each with
//! the userspace-netstack datapath ([`DatapathOptions::Netstack`](crate::DatapathOptions)).
//! Two [`Netstack`]s then talk through that child SA: every packet is ESP-encrypted, carried in
//! UDP over loopback, and decrypted on the other side. A TCP transfer measures it, and a DELETE
//! ends it. Everything that happens is reported as a [`DemoEvent`], whose `Display` is the line
//! to print.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ikeway_codec::{
    ConfigAttributeType, HeaderRepr, IdRepr, IdValue, MessageRepr, TrafficSelector,
};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{AddressPool, CloseReason, Config};

use super::{EspLink, Netstack, NetstackConfig, NetstackError, TcpHandle, Traffic};
use crate::{EventKind, Ports, Role, Selector, Session, SessionError, SessionOptions, Status};

/// The address of the demo server inside its protected network (10.77.0.0/24).
pub const SERVER_INNER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
/// The TCP port the demo server listens on.
pub const PORT: u16 = 5001;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The negotiation must finish within this.
const NEGOTIATION_LIMIT: Duration = Duration::from_secs(10);
/// The transfer fails when it has not finished within this.
const TRANSFER_LIMIT: Duration = Duration::from_secs(120);
/// The DELETE exchange must finish within this.
const DELETE_LIMIT: Duration = Duration::from_secs(5);

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoOptions {
    /// Bytes to send through the tunnel from the client to the server.
    pub bytes: u64,
}

/// Which end of the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The initiator.
    Client,
    /// The responder.
    Server,
}

/// A step of the demo, announced before its events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// IKE_SA_INIT and IKE_AUTH.
    Negotiation,
    /// The TCP transfer from the client's assigned address to the server.
    Traffic {
        /// The client's internal address (from the server's CFG_REPLY).
        client: Ipv4Addr,
    },
    /// The status table.
    Status,
    /// INFORMATIONAL with DELETE.
    Disconnect,
}

/// The status table printed after the transfer.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoStatus {
    /// The server's IKE address.
    pub server: SocketAddr,
    /// The client's internal address.
    pub client_address: Ipv4Addr,
    /// The IKE SA's SPIs (initiator, responder).
    pub ike_spis: (u64, u64),
    /// The child SA's ESP transform, e.g. `AES-GCM-16-256`.
    pub esp: String,
    /// Whether the child SA uses extended sequence numbers.
    pub esn: bool,
    /// The child SA's SPIs at the client (inbound, outbound).
    pub child_spis: (u32, u32),
    /// The child SA's hard lifetime.
    pub child_lifetime: Duration,
    /// What went through the client's link.
    pub traffic: Traffic,
    /// From the first IKE_SA_INIT to the child SA at the client.
    pub handshake: Duration,
    /// Bytes received intact by the server.
    pub transferred: u64,
    /// How long the transfer took.
    pub transfer_time: Duration,
}

impl DemoStatus {
    /// Throughput of the transfer in Mbit/s.
    pub fn mbit_per_s(&self) -> f64 {
        self.transferred as f64 * 8.0 / self.transfer_time.as_secs_f64() / 1e6
    }
}

/// Something the demo did; `Display` is the line (or lines) `ikeway demo` prints.
#[derive(Debug)]
#[non_exhaustive]
pub enum DemoEvent {
    /// A new phase starts.
    Phase(Phase),
    /// An IKE datagram crossed loopback.
    Datagram {
        /// The end that sent it.
        from: End,
        /// Exchange, request or response, message ID, payloads and size.
        description: String,
    },
    /// The client's session reported this (IKE SA up, configuration, child SA).
    Client(EventKind),
    /// Both ends have the child SA.
    Handshake {
        /// From the first IKE_SA_INIT to the child SA at the client.
        elapsed: Duration,
    },
    /// The server has received this much of the transfer, intact.
    Progress {
        /// Bytes received so far.
        received: u64,
        /// Bytes the transfer sends.
        total: u64,
    },
    /// The transfer completed.
    Transferred {
        /// Bytes received intact.
        bytes: u64,
        /// How long it took.
        elapsed: Duration,
    },
    /// The status table.
    Status(Box<DemoStatus>),
    /// The client's IKE SA closed.
    Closed(CloseReason),
}

/// Why the demo failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A loopback socket could not be opened or used.
    #[error("loopback socket: {0}")]
    Io(#[from] std::io::Error),
    /// A session could not start.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The client's session ended before the tunnel was up, or reported an error.
    #[error("the client's session failed: {0}")]
    Failed(String),
    /// A step did not finish in time.
    #[error("{0}")]
    Timeout(&'static str),
    /// The server did not assign an IPv4 address inside the tunnel.
    #[error("the demo runs IPv4 inside the tunnel, and the server assigned no IPv4 address")]
    NoAddress,
    /// The userspace stack failed.
    #[error(transparent)]
    Netstack(#[from] NetstackError),
    /// The transfer stopped making progress.
    #[error("transfer stalled at {received} of {total} bytes")]
    Stalled {
        /// Bytes received intact before the limit.
        received: u64,
        /// Bytes the transfer sends.
        total: u64,
    },
    /// A byte arrived out of order or changed.
    #[error("data corrupted at byte {0}")]
    Corrupted(u64),
}

/// The demo's two configurations (client, server) and the server's address pool: the server
/// assigns 10.88.0.10 and DNS 10.77.0.53, and protects 10.77.0.0/24. The pre-shared key is
/// public: this is a demo.
pub fn configs() -> (Config, Config, AddressPool) {
    let psk = SecretBytes::from_slice(b"ikeway demo pre-shared key, not a secret");
    let mut client =
        Config::new(IdRepr::from_value(IdValue::Fqdn("client.demo.ikeway")), psk.clone());
    client.remote_id = Some(IdRepr::from_value(IdValue::Fqdn("vpn.demo.ikeway")));
    client.config_request = vec![
        ConfigAttributeType::INTERNAL_IP4_ADDRESS,
        ConfigAttributeType::INTERNAL_IP4_DNS,
        ConfigAttributeType::INTERNAL_DNS_DOMAIN,
    ];
    let mut server = Config::new(IdRepr::from_value(IdValue::Fqdn("vpn.demo.ikeway")), psk);
    server.local_ts = vec![TrafficSelector::Range(ikeway_codec::AddrRange::any(
        IpAddr::V4(Ipv4Addr::new(10, 77, 0, 0)),
        IpAddr::V4(Ipv4Addr::new(10, 77, 0, 255)),
    ))];
    let pool = AddressPool {
        v4: Some((Ipv4Addr::new(10, 88, 0, 10), 100)),
        dns: vec![IpAddr::V4(Ipv4Addr::new(10, 77, 0, 53))],
        dns_domains: vec!["demo.ikeway".into()],
        subnets: vec![(IpAddr::V4(Ipv4Addr::new(10, 77, 0, 0)), 24)],
        ..AddressPool::default()
    };
    (client, server, pool)
}

/// Runs the whole demo, reporting each step to `on_event`; returns the status table.
pub fn run(
    options: DemoOptions,
    on_event: &mut dyn FnMut(&DemoEvent),
) -> Result<DemoStatus, DemoError> {
    run_with(configs(), options, on_event)
}

/// As [`run`], with other configurations than [`configs`] (the client's, the server's, and
/// the server's pool): `ikeway demo --auth cert` authenticates both ends with certificates.
pub fn run_with(
    configs: (Config, Config, AddressPool),
    options: DemoOptions,
    on_event: &mut dyn FnMut(&DemoEvent),
) -> Result<DemoStatus, DemoError> {
    let mut tunnel = DemoTunnel::establish_with(configs, on_event)?;
    on_event(&DemoEvent::Phase(Phase::Traffic { client: tunnel.client_address }));
    let (transferred, transfer_time) =
        transfer(&mut tunnel.client, &mut tunnel.server, options.bytes, on_event)?;
    on_event(&DemoEvent::Transferred { bytes: transferred, elapsed: transfer_time });

    on_event(&DemoEvent::Phase(Phase::Status));
    let up = &tunnel.up;
    let status = DemoStatus {
        server: tunnel.responder.local_addr(),
        client_address: tunnel.client_address,
        ike_spis: up.ike_spis,
        esp: up.esp.clone(),
        esn: up.esn,
        child_spis: up.child_spis,
        child_lifetime: up.child_lifetime,
        traffic: tunnel.client.link().traffic(),
        handshake: up.handshake,
        transferred,
        transfer_time,
    };
    on_event(&DemoEvent::Status(Box::new(status.clone())));

    on_event(&DemoEvent::Phase(Phase::Disconnect));
    let reason = tunnel.close(on_event)?;
    on_event(&DemoEvent::Closed(reason));
    Ok(status)
}

/// What the client's session said about the tunnel it brought up.
#[derive(Debug, Clone, Default)]
struct Up {
    ike_spis: (u64, u64),
    esp: String,
    esn: bool,
    child_spis: (u32, u32),
    child_lifetime: Duration,
    handshake: Duration,
    address: Option<Ipv4Addr>,
}

/// A negotiated tunnel between two [`Session`]s in this process, with a [`Netstack`] at each
/// end: the client's has the address the server assigned, the server's has [`SERVER_INNER`].
/// Drive it by polling both stacks; [`DemoTunnel::close`] deletes the IKE SA.
#[derive(Debug)]
pub struct DemoTunnel {
    initiator: Session,
    responder: Session,
    /// Each IKE datagram either session sent, in order.
    sent: Receiver<(End, String)>,
    up: Up,
    client_address: Ipv4Addr,
    /// The client's stack.
    pub client: Netstack,
    /// The server's stack.
    pub server: Netstack,
}

/// A trace that reports each datagram `end` sends.
fn trace(end: End, to: Sender<(End, String)>) -> crate::DatagramTrace {
    Box::new(move |_, _, bytes| {
        // The demo's reader outlives both sessions; a send fails only once it has gone.
        let _ = to.send((end, describe(bytes)));
    })
}

impl DemoTunnel {
    /// Starts the two sessions and negotiates over loopback UDP (reporting the
    /// [`Phase::Negotiation`] events and the [`DemoEvent::Handshake`]), then puts a stack on
    /// each end of the child SA.
    pub fn establish(on_event: &mut dyn FnMut(&DemoEvent)) -> Result<Self, DemoError> {
        Self::establish_with(configs(), on_event)
    }

    /// As [`Self::establish`], with these configurations (client, server, pool).
    pub fn establish_with(
        (client_cfg, server_cfg, pool): (Config, Config, AddressPool),
        on_event: &mut dyn FnMut(&DemoEvent),
    ) -> Result<Self, DemoError> {
        let (esp_client, esp_server) = (loopback()?, loopback()?);
        let (client_esp, server_esp) = (esp_client.local_addr()?, esp_server.local_addr()?);
        // ESP between the links' own sockets; IKE on the sessions' sockets.
        let client_link = EspLink::new(esp_client, Some(server_esp))?;
        let server_link = EspLink::new(esp_server, Some(client_esp))?;
        let (to, sent) = crossbeam_channel::unbounded();

        on_event(&DemoEvent::Phase(Phase::Negotiation));
        let responder = Session::start(
            SessionOptions::responder(LOOPBACK, server_cfg, Some(pool))
                .with_ports(Ports::ephemeral())
                .with_netstack(server_link.sas())
                .with_trace(trace(End::Server, to.clone())),
        )?;
        let mut options = SessionOptions::initiator(LOOPBACK, LOOPBACK, client_cfg)
            .with_ports(Ports::ephemeral())
            .with_netstack(client_link.sas())
            .with_trace(trace(End::Client, to))
            .with_connect_timeout(NEGOTIATION_LIMIT);
        options.role = Role::Initiator { remote: responder.local_addr() };
        let initiator = Session::start(options)?;

        let (up, said) = follow_until_connected(&initiator)?;
        // The server's child SA is in its stack's table once the server says so.
        wait_for(&responder, NEGOTIATION_LIMIT, |e| {
            matches!(e, EventKind::DatapathSaInstalled { .. })
        })?;
        // Every datagram of the exchange was traced before the client could act on the last.
        for (from, description) in sent.try_iter() {
            on_event(&DemoEvent::Datagram { from, description });
        }
        for kind in said {
            on_event(&DemoEvent::Client(kind));
        }
        on_event(&DemoEvent::Handshake { elapsed: up.handshake });

        let client_address = up.address.ok_or(DemoError::NoAddress)?;
        // Everything in 10/8 is "on the link": the child SA's selectors decide what passes.
        let on_link = |address: Ipv4Addr| NetstackConfig {
            prefix_len: 8,
            ..NetstackConfig::new(IpAddr::V4(address))
        };
        let client = Netstack::new(client_link, &on_link(client_address))?;
        let server = Netstack::new(server_link, &on_link(SERVER_INNER))?;
        Ok(Self { initiator, responder, sent, up, client_address, client, server })
    }

    /// The client's internal address (from the server's CFG_REPLY).
    pub fn client_address(&self) -> Ipv4Addr {
        self.client_address
    }

    /// Polls both stacks once; returns whether anything moved.
    pub fn poll(&mut self) -> bool {
        let client = self.client.poll();
        self.server.poll() | client
    }

    /// Deletes the client's IKE SA (INFORMATIONAL with DELETE, each datagram reported) and
    /// returns why it closed.
    pub fn close(self, on_event: &mut dyn FnMut(&DemoEvent)) -> Result<CloseReason, DemoError> {
        let gone = |_| DemoError::Failed("the client's session ended early".into());
        self.initiator.handle().disconnect(DELETE_LIMIT).map_err(gone)?;
        let mut reason = None;
        // The server's answer was traced before the client could close on it.
        wait_for(&self.initiator, DELETE_LIMIT * 2, |e| match e {
            EventKind::IkeSaClosed { reason: r } => {
                reason = Some(*r);
                true
            }
            _ => false,
        })?;
        for (from, description) in self.sent.try_iter() {
            on_event(&DemoEvent::Datagram { from, description });
        }
        reason.ok_or(DemoError::Timeout("the IKE SA did not close in 5 s"))
    }
}

/// Follows the client's events until it is connected; returns what it said about the tunnel
/// and the events to show (IKE SA up, configuration, child SA).
fn follow_until_connected(initiator: &Session) -> Result<(Up, Vec<EventKind>), DemoError> {
    let mut up = Up::default();
    let mut said = Vec::new();
    wait_for(initiator, NEGOTIATION_LIMIT * 2, |e| {
        match e {
            EventKind::IkeSaUp { spi_i, spi_r, .. } => {
                up.ike_spis = (spi_i.0, spi_r.0);
                said.push(e.clone());
            }
            EventKind::ConfigReceived { addresses, .. } => {
                up.address = addresses.iter().find_map(|c| match c.addr {
                    IpAddr::V4(v4) => Some(v4),
                    IpAddr::V6(_) => None,
                });
                said.push(e.clone());
            }
            EventKind::ChildSaInstalled { spi_in, spi_out, cipher, esn, lifetime_s, .. } => {
                up.esp = cipher.clone();
                up.esn = *esn;
                up.child_spis = (spi_in.0, spi_out.0);
                up.child_lifetime = Duration::from_secs(*lifetime_s);
                said.push(e.clone());
            }
            EventKind::Timing { initiate_to_child_ms } => {
                up.handshake = Duration::from_secs_f64(initiate_to_child_ms / 1e3);
            }
            _ => {}
        }
        *e == EventKind::Status { status: Status::Connected }
    })?;
    Ok((up, said))
}

/// Reads `session`'s events until `done` accepts one; an error, a closed IKE SA or the end of
/// the stream first is a failure, unless `done` was waiting for it.
fn wait_for(
    session: &Session,
    limit: Duration,
    mut done: impl FnMut(&EventKind) -> bool,
) -> Result<(), DemoError> {
    let deadline = Instant::now() + limit;
    loop {
        let event = session.events().recv_deadline(deadline).map_err(|e| match e {
            crossbeam_channel::RecvTimeoutError::Timeout => {
                DemoError::Timeout("the sessions did not get there in time")
            }
            crossbeam_channel::RecvTimeoutError::Disconnected => {
                DemoError::Failed("the session ended".into())
            }
        })?;
        if done(&event.kind) {
            return Ok(());
        }
        match event.kind {
            EventKind::Error { error } => return Err(DemoError::Failed(error)),
            EventKind::IkeSaClosed { reason } => return Err(DemoError::Failed(reason.to_string())),
            _ => {}
        }
    }
}

/// Sends `total` bytes over TCP from the client stack to the server stack and checks they all
/// arrive in order; returns the bytes received and the time taken.
fn transfer(
    client: &mut Netstack,
    server: &mut Netstack,
    total: u64,
    on_event: &mut dyn FnMut(&DemoEvent),
) -> Result<(u64, Duration), DemoError> {
    let listener = server.listen(PORT)?;
    let conn = client.connect(SocketAddr::from((SERVER_INNER, PORT)))?;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut expect = vec![0u8; 64 * 1024];
    let (mut sent, mut received) = (0u64, 0u64);
    let start = Instant::now();
    while received < total {
        if start.elapsed() > TRANSFER_LIMIT {
            return Err(DemoError::Stalled { received, total });
        }
        client.poll();
        server.poll();
        sent += send_pattern(client, conn, sent, total, &mut chunk)?;
        let before = received;
        received += recv_checked(server, listener, received, &mut chunk, &mut expect)?;
        if received != before {
            on_event(&DemoEvent::Progress { received, total });
        }
    }
    Ok((received, start.elapsed()))
}

/// The byte at `offset` of the transfer: a counter pattern, so the receiver can check that
/// every byte arrived in order.
fn pattern(offset: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = ((offset + i as u64) % 251) as u8;
    }
}

/// Writes the pattern from `sent` on while the connection takes it; returns the bytes written.
fn send_pattern(
    stack: &mut Netstack,
    conn: TcpHandle,
    mut sent: u64,
    total: u64,
    chunk: &mut [u8],
) -> Result<u64, DemoError> {
    let from = sent;
    while sent < total && stack.can_send(conn)? {
        let n = chunk.len().min((total - sent) as usize);
        pattern(sent, &mut chunk[..n]);
        let written = stack.send(conn, &chunk[..n])?;
        if written == 0 {
            break;
        }
        sent += written as u64;
    }
    Ok(sent - from)
}

/// Reads what arrived and checks it against the pattern from `received` on; returns the bytes
/// read.
fn recv_checked(
    stack: &mut Netstack,
    conn: TcpHandle,
    mut received: u64,
    chunk: &mut [u8],
    expect: &mut [u8],
) -> Result<u64, DemoError> {
    let from = received;
    while stack.can_recv(conn)? {
        let n = stack.recv(conn, chunk)?;
        if n == 0 {
            break;
        }
        pattern(received, &mut expect[..n]);
        if chunk[..n] != expect[..n] {
            return Err(DemoError::Corrupted(received));
        }
        received += n as u64;
    }
    Ok(received - from)
}

/// One line about an IKE datagram: exchange, request or response, message ID, payloads, size.
pub fn describe(bytes: &[u8]) -> String {
    let Ok(h) = HeaderRepr::parse(bytes) else { return format!("{} bytes (not IKE)", bytes.len()) };
    let kind = if h.flags.response { "response" } else { "request" };
    let payloads = match MessageRepr::parse(bytes) {
        Ok(m) => m.payload_types().iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        Err(e) => format!("malformed: {e}"),
    };
    format!("{} {kind} #{} [{payloads}] {} bytes", h.exchange, h.message_id, bytes.len())
}

fn loopback() -> Result<UdpSocket, DemoError> {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    s.set_nonblocking(true)?;
    Ok(s)
}

fn ts_text(ts: &[Selector]) -> String {
    ts.iter()
        .map(|t| match t {
            Selector::Range { start, end } if start == end => start.to_string(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn esn_text(esn: bool) -> &'static str {
    if esn { " with ESN" } else { "" }
}

fn joined<T: fmt::Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Negotiation => write!(
                f,
                "1. Negotiation (RFC 7296): IKE_SA_INIT, IKE_AUTH with a pre-shared key and CP"
            ),
            Self::Traffic { client } => write!(
                f,
                "2. Traffic: TCP from {client} to {SERVER_INNER}:{PORT} through the child SA (two smoltcp stacks)"
            ),
            Self::Status => write!(f, "\n3. Status"),
            Self::Disconnect => write!(f, "\n4. Disconnect: INFORMATIONAL with DELETE"),
        }
    }
}

impl fmt::Display for DemoStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = &self.traffic;
        let rows = [
            ("status", "connected".to_owned()),
            ("server", format!("{} (vpn.demo.ikeway)", self.server)),
            ("internal address", format!("{}/32", self.client_address)),
            ("IKE SA SPIs", format!("{:016x} {:016x}", self.ike_spis.0, self.ike_spis.1)),
            (
                "child SA",
                format!(
                    "ESP {}{}, SPIs in {:08x} out {:08x}",
                    self.esp,
                    esn_text(self.esn),
                    self.child_spis.0,
                    self.child_spis.1
                ),
            ),
            ("child SA lifetime", format!("{} min", self.child_lifetime.as_secs() / 60)),
            ("sent", format!("{} bytes in {} ESP packets", t.sent_bytes, t.sent_packets)),
            (
                "received",
                format!("{} bytes in {} ESP packets", t.received_bytes, t.received_packets),
            ),
            ("drops", t.drops.to_string()),
            ("handshake time", format!("{:.2} ms", self.handshake.as_secs_f64() * 1e3)),
            (
                "throughput",
                format!(
                    "{:.0} Mbit/s ({} MiB in {:.2} s, TCP over ESP over loopback UDP)",
                    self.mbit_per_s(),
                    self.transferred >> 20,
                    self.transfer_time.as_secs_f64()
                ),
            ),
        ];
        for (i, (k, v)) in rows.iter().enumerate() {
            let sep = if i == 0 { "" } else { "\n" };
            write!(f, "{sep}  {k:<18} {v}")?;
        }
        Ok(())
    }
}

impl fmt::Display for DemoEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Phase(p) => p.fmt(f),
            Self::Datagram { from: End::Client, description } => {
                write!(f, "  client -> server  {description}")
            }
            Self::Datagram { from: End::Server, description } => {
                write!(f, "  server -> client  {description}")
            }
            Self::Client(EventKind::IkeSaUp { spi_i, spi_r, cipher, prf_name, group, .. }) => {
                write!(f, "  IKE SA up: {cipher} / {prf_name} / {group}, SPIs {spi_i} {spi_r}")
            }
            Self::Client(EventKind::ConfigReceived { addresses, dns, domains, .. }) => write!(
                f,
                "  configuration from the server: address {}, DNS {}, domain {}",
                joined(addresses),
                joined(dns),
                domains.join(" "),
            ),
            Self::Client(EventKind::ChildSaInstalled {
                spi_in,
                spi_out,
                cipher,
                esn,
                local_ts,
                remote_ts,
                ..
            }) => write!(
                f,
                "  CHILD_SA installed: ESP {cipher}{}, SPIs in {spi_in} out {spi_out}, {} <=> {}",
                esn_text(*esn),
                ts_text(local_ts),
                ts_text(remote_ts)
            ),
            Self::Client(other) => write!(f, "  {other}"),
            Self::Handshake { elapsed } => {
                writeln!(f, "  handshake took {:.2} ms", elapsed.as_secs_f64() * 1e3)
            }
            Self::Progress { received, total } => write!(f, "  {received}/{total} bytes"),
            Self::Transferred { bytes, elapsed } => {
                write!(f, "  {bytes} bytes received intact in {:.2} s", elapsed.as_secs_f64())
            }
            Self::Status(s) => s.fmt(f),
            Self::Closed(reason) => write!(f, "  IKE SA closed: {reason}"),
        }
    }
}
