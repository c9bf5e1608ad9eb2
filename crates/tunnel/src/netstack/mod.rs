//! The userspace-netstack datapath: a smoltcp TCP/IP stack whose packets go through the
//! tunnel's ESP SAs, so an application tunnels TCP without root, without a TUN device and
//! without touching the host's routes.
//!
//! [`EspLink`] holds the child SAs and the ESP socket; [`Netstack`] puts a TCP/IP interface
//! with one address (the one the server assigned) over it. The stack is poll-driven like
//! smoltcp itself: call [`Netstack::poll`] whenever a socket was used or
//! [`Netstack::poll_delay`] has passed; [`demo`] runs both ends of a tunnel this way.
//!
//! ```no_run
//! use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
//! use ikeway_tunnel::netstack::{EspLink, Netstack, NetstackConfig};
//!
//! # fn child() -> ikeway_sa::ChildSaInfo { unimplemented!() }
//! let link = EspLink::new(UdpSocket::bind("0.0.0.0:0")?, None)?;
//! link.install(&child())?; // from the negotiation's `Event::ChildSaInstalled`
//! let mut stack = Netstack::new(link, &NetstackConfig::new(Ipv4Addr::new(10, 88, 0, 10).into()))?;
//! let conn = stack.connect(SocketAddr::from((Ipv4Addr::new(10, 77, 0, 1), 80)))?;
//! while !stack.is_established(conn)? {
//!     stack.poll();
//! }
//! stack.send(conn, b"GET / HTTP/1.0\r\n\r\n")?;
//! # Ok::<(), ikeway_tunnel::netstack::NetstackError>(())
//! ```

pub mod demo;
mod link;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr};

pub use link::{EspLink, INNER_MTU, NetstackSas, Traffic};

/// Why a netstack call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetstackError {
    /// The ESP socket failed.
    #[error("ESP socket: {0}")]
    Io(#[from] io::Error),
    /// A child SA could not be installed in the link's table.
    #[error("installing the child SA: {0}")]
    Install(#[from] ikeway_esp::EspError),
    /// The address or prefix length cannot be an interface address.
    #[error("{0}/{1} is not a usable interface address")]
    Address(IpAddr, u8),
    /// The handle is not (or no longer) a socket of this stack.
    #[error("no such TCP socket in this netstack")]
    UnknownHandle,
    /// The socket cannot listen (already open, or port 0).
    #[error("listen: {0}")]
    Listen(tcp::ListenError),
    /// The socket cannot connect (no route, bad address, no free local port).
    #[error("connect: {0}")]
    Connect(tcp::ConnectError),
    /// The connection is not in a state to send.
    #[error("send: {0}")]
    Send(tcp::SendError),
    /// The connection is not in a state to receive.
    #[error("receive: {0}")]
    Recv(tcp::RecvError),
}

/// How the stack's interface is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetstackConfig {
    /// The interface's address: the internal address the server assigned (CFG_REPLY), or on
    /// the server side an address of its protected network.
    pub address: IpAddr,
    /// Prefix length of `address`; everything outside the prefix is routed into the tunnel
    /// too, and the child SA's selectors decide what may pass.
    pub prefix_len: u8,
    /// Send and receive buffer of each TCP socket, in bytes.
    pub buffer_size: usize,
}

impl NetstackConfig {
    /// A host address (/32 or /128) with 128 KiB socket buffers: a receive window below a
    /// loopback UDP socket's default receive buffer (about 200 KiB), so a burst cannot
    /// overflow it while one thread drives both ends.
    pub fn new(address: IpAddr) -> Self {
        let prefix_len = if address.is_ipv4() { 32 } else { 128 };
        Self { address, prefix_len, buffer_size: 128 << 10 }
    }
}

/// One TCP socket of a [`Netstack`]; valid until [`Netstack::remove`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpHandle(SocketHandle);

/// First local port for outgoing connections (RFC 6335 §6 dynamic range).
const EPHEMERAL_START: u16 = 49152;

/// A userspace TCP/IP stack over an [`EspLink`].
pub struct Netstack {
    link: EspLink,
    iface: Interface,
    sockets: SocketSet<'static>,
    /// Handles given out and not removed: smoltcp panics on a stale handle, we return
    /// [`NetstackError::UnknownHandle`].
    live: Vec<SocketHandle>,
    buffer_size: usize,
    next_port: u16,
}

impl std::fmt::Debug for Netstack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netstack")
            .field("link", &self.link)
            .field("sockets", &self.live.len())
            .finish_non_exhaustive()
    }
}

impl Netstack {
    /// An interface with `config.address` over `link`, with a default route into the tunnel.
    pub fn new(mut link: EspLink, config: &NetstackConfig) -> Result<Self, NetstackError> {
        let bad = || NetstackError::Address(config.address, config.prefix_len);
        let max = if config.address.is_ipv4() { 32 } else { 128 };
        if config.prefix_len > max || config.address.is_unspecified() {
            return Err(bad());
        }
        let address = IpAddress::from(config.address);
        let mut iface = Interface::new(
            IfaceConfig::new(HardwareAddress::Ip),
            &mut link.queues,
            SmolInstant::now(),
        );
        let mut pushed = Ok(());
        iface.update_ip_addrs(|a| pushed = a.push(IpCidr::new(address, config.prefix_len)));
        pushed.map_err(|_| bad())?;
        // A point-to-point IP device needs no next hop: the default route names our own
        // address only to say "out of this interface".
        let routed = match address {
            IpAddress::Ipv4(v4) => iface.routes_mut().add_default_ipv4_route(v4).map(|_| ()),
            IpAddress::Ipv6(v6) => iface.routes_mut().add_default_ipv6_route(v6).map(|_| ()),
        };
        routed.map_err(|_| bad())?;
        Ok(Self {
            link,
            iface,
            sockets: SocketSet::new(vec![]),
            live: Vec::new(),
            buffer_size: config.buffer_size,
            next_port: EPHEMERAL_START,
        })
    }

    /// The ESP link (child SAs, counters).
    pub fn link(&self) -> &EspLink {
        &self.link
    }

    /// Listens for one TCP connection on `port` (a smoltcp socket serves one connection: call
    /// again for the next).
    pub fn listen(&mut self, port: u16) -> Result<TcpHandle, NetstackError> {
        let mut socket = self.new_socket();
        socket.listen(port).map_err(NetstackError::Listen)?;
        Ok(self.add(socket))
    }

    /// Opens a TCP connection to `remote` through the tunnel; poll until
    /// [`Netstack::is_established`].
    pub fn connect(&mut self, remote: SocketAddr) -> Result<TcpHandle, NetstackError> {
        let mut socket = self.new_socket();
        let port = self.next_port;
        self.next_port = self.next_port.checked_add(1).unwrap_or(EPHEMERAL_START);
        socket
            .connect(self.iface.context(), (IpAddress::from(remote.ip()), remote.port()), port)
            .map_err(NetstackError::Connect)?;
        Ok(self.add(socket))
    }

    /// Queues as much of `data` as the send buffer takes; returns how much that was (0 when
    /// it is full: poll and try again).
    pub fn send(&mut self, h: TcpHandle, data: &[u8]) -> Result<usize, NetstackError> {
        self.socket(h)?.send_slice(data).map_err(NetstackError::Send)
    }

    /// Reads what has arrived into `buf`; returns 0 when nothing is there yet (also while
    /// the connection is being set up), and [`tcp::RecvError::Finished`] once the peer closed
    /// and everything it sent was read.
    pub fn recv(&mut self, h: TcpHandle, buf: &mut [u8]) -> Result<usize, NetstackError> {
        let socket = self.socket(h)?;
        if matches!(
            socket.state(),
            tcp::State::Listen | tcp::State::SynSent | tcp::State::SynReceived
        ) {
            return Ok(0);
        }
        socket.recv_slice(buf).map_err(NetstackError::Recv)
    }

    /// Whether the connection is open both ways.
    pub fn is_established(&mut self, h: TcpHandle) -> Result<bool, NetstackError> {
        Ok(self.socket(h)?.state() == tcp::State::Established)
    }

    /// Whether the send buffer has room.
    pub fn can_send(&mut self, h: TcpHandle) -> Result<bool, NetstackError> {
        Ok(self.socket(h)?.can_send())
    }

    /// Whether data is waiting to be read.
    pub fn can_recv(&mut self, h: TcpHandle) -> Result<bool, NetstackError> {
        Ok(self.socket(h)?.can_recv())
    }

    /// Whether the peer has closed its side and everything it sent was read.
    pub fn is_finished(&mut self, h: TcpHandle) -> Result<bool, NetstackError> {
        let socket = self.socket(h)?;
        Ok(!socket.may_recv() && !socket.can_recv())
    }

    /// Closes our side once the send buffer is flushed (FIN).
    pub fn close(&mut self, h: TcpHandle) -> Result<(), NetstackError> {
        self.socket(h)?.close();
        Ok(())
    }

    /// Forgets the socket (aborting the connection if still open); the handle becomes invalid.
    pub fn remove(&mut self, h: TcpHandle) -> Result<(), NetstackError> {
        self.socket(h)?.abort();
        self.live.retain(|&l| l != h.0);
        self.sockets.remove(h.0);
        Ok(())
    }

    /// Moves packets: what arrived over ESP into the stack, the stack's timers and sockets,
    /// and what the stack wrote out over ESP. Returns whether anything moved.
    pub fn poll(&mut self) -> bool {
        let mut moved = self.link.pump() > 0;
        let now = SmolInstant::now();
        moved |= self.iface.poll(now, &mut self.link.queues, &mut self.sockets)
            != smoltcp::iface::PollResult::None;
        moved |= self.link.pump() > 0;
        moved
    }

    /// How long until the stack's next timer (retransmission, delayed ACK), if it has one;
    /// packets arriving on the ESP socket also need a [`Netstack::poll`].
    pub fn poll_delay(&mut self) -> Option<Duration> {
        self.iface
            .poll_delay(SmolInstant::now(), &self.sockets)
            .map(|d| Duration::from_micros(d.total_micros()))
    }

    fn new_socket(&self) -> tcp::Socket<'static> {
        let buffer = || tcp::SocketBuffer::new(vec![0u8; self.buffer_size]);
        tcp::Socket::new(buffer(), buffer())
    }

    fn add(&mut self, socket: tcp::Socket<'static>) -> TcpHandle {
        let h = self.sockets.add(socket);
        self.live.push(h);
        TcpHandle(h)
    }

    fn socket(&mut self, h: TcpHandle) -> Result<&mut tcp::Socket<'static>, NetstackError> {
        if !self.live.contains(&h.0) {
            return Err(NetstackError::UnknownHandle);
        }
        Ok(self.sockets.get_mut::<tcp::Socket<'static>>(h.0))
    }
}
