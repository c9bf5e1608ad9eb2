//! What a session is built from: plain values, no command-line or manager types.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ikeway_sa::{AddressPool, Config, DefaultKex, KeyExchangeProvider, KeyExport};

use crate::datapath::TunOptions;

/// Receives an IKE SA's keys (see [`SessionOptions::keylog`]); an error ends the session.
pub type KeyLogger = Box<dyn FnMut(&KeyExport<'_>) -> std::io::Result<()> + Send>;

/// Receives each IKEv1 ISAKMP SA's cookies and encryption key as it comes up (see
/// [`SessionOptions::ikev1_keylog`]); an error ends the session.
pub type Ikev1KeyLogger =
    Box<dyn FnMut(&ikeway_ikev1::KeyExport<'_>) -> std::io::Result<()> + Send>;

/// Sees every IKE datagram a session sends (local address, remote address, bytes), just
/// before it goes out: for tracing, as `ikeway demo` prints each exchange.
pub type DatagramTrace = Box<dyn FnMut(SocketAddr, SocketAddr, &[u8]) + Send>;

/// IKE's UDP ports (RFC 7296 §2.23, RFC 3948).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// Where IKE starts: 500.
    pub ike: u16,
    /// Where IKE and ESP move when a NAT is detected: 4500.
    pub natt: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Self { ike: 500, natt: 4500 }
    }
}

impl Ports {
    /// Two ephemeral ports: for tests without root (no NAT can be crossed this way, since the
    /// negotiation floats to port 4500 itself).
    pub fn ephemeral() -> Self {
        Self { ike: 0, natt: 0 }
    }
}

/// Which end of IKE the session is.
#[derive(Debug, Clone)]
pub enum Role {
    /// One IKE SA with this responder (address and IKE port).
    Initiator {
        /// The responder.
        remote: SocketAddr,
    },
    /// One IKEv1 ISAKMP SA ("Cisco IPSec") with this responder, negotiated with `config`
    /// (the IKEv2 [`SessionOptions::config`] is then used only for the key log and datapath
    /// settings it shares).
    Ikev1Initiator {
        /// The responder.
        remote: SocketAddr,
        /// Phase 1 and 2, XAUTH and mode config settings.
        config: Arc<ikeway_ikev1::Config>,
    },
    /// An endpoint answering any number of initiators.
    Responder {
        /// Addresses, DNS and networks to hand out (CFG_REPLY); none: no configuration.
        pool: Option<AddressPool>,
    },
}

/// The datapath a session runs child SAs in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatapathOptions {
    /// ESP over a TUN device (`ikeway-pump`; needs `CAP_NET_ADMIN`). The datapath then owns
    /// the NAT-T port and passes IKE datagrams up.
    Tun(TunOptions),
    /// ESP between a userspace TCP/IP stack ([`crate::netstack::Netstack`]) and the link's own
    /// UDP socket: no root, no TUN device. The session puts its child SAs into the link's
    /// table ([`crate::netstack::EspLink::sas`]); the application polls the stack.
    Netstack(crate::netstack::NetstackSas),
}

/// Everything a [`crate::Session`] is built from.
pub struct SessionOptions {
    /// Our address; the IKE ports are bound on it.
    pub local: IpAddr,
    /// The UDP ports to bind.
    pub ports: Ports,
    /// Initiator or responder.
    pub role: Role,
    /// Identities, PSK, proposals, selectors, lifetimes, DPD interval.
    pub config: Config,
    /// Key exchange implementation.
    pub kex: Arc<dyn KeyExchangeProvider>,
    /// Seed of every random choice; `None`: from the operating system. A fixed seed makes
    /// every key predictable: tests only.
    pub seed: Option<[u8; 32]>,
    /// Where child SAs carry traffic; `None`: keys are reported as events only.
    pub datapath: Option<DatapathOptions>,
    /// Receives each IKE SA's keys when it comes up or is rekeyed, and an initiator's
    /// IKE_SA_INIT keys before its IKE_INTERMEDIATE exchanges (RFC 9370). Secrets: for
    /// debugging with tshark only (the binary's `--keylog` writes Wireshark's table with it).
    pub keylog: Option<KeyLogger>,
    /// An IKEv1 initiator's key log: each ISAKMP SA's initiator cookie and encryption key
    /// when it comes up (a renewal's too), for Wireshark's `ikev1_decryption_table`. Secrets:
    /// for debugging with tshark only.
    pub ikev1_keylog: Option<Ikev1KeyLogger>,
    /// About how many datagrams may wait for the loop: each IKE socket's kernel receive queue
    /// (`SO_RCVBUF` of 2 KiB per datagram, capped by `net.core.rmem_max`) and the queue of the
    /// pump's IKE datagrams. More are dropped and counted (`dropped_queue_full`).
    pub queue_depth: usize,
    /// Events waiting for the reader, at most (more are dropped and counted).
    pub event_depth: usize,
    /// How long a first child SA may take before the session gives up (an initiator).
    pub connect_timeout: Option<Duration>,
    /// Sees each IKE datagram the session sends.
    pub trace: Option<DatagramTrace>,
    /// A responder's loops, one per core it should use (default 1). More than one: each
    /// worker has its own sockets in one SO_REUSEPORT group steered by SPI (`steering.rs`),
    /// its own SAs and timers; no datapath then (its ESP port would be one worker's).
    pub workers: usize,
}

impl fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionOptions")
            .field("local", &self.local)
            .field("ports", &self.ports)
            .field("role", &self.role)
            .field("seed", &self.seed.map(|_| "<set>"))
            .field("datapath", &self.datapath)
            .field("keylog", &self.keylog.as_ref().map(|_| "<set>"))
            .field("ikev1_keylog", &self.ikev1_keylog.as_ref().map(|_| "<set>"))
            .field("queue_depth", &self.queue_depth)
            .field("event_depth", &self.event_depth)
            .field("connect_timeout", &self.connect_timeout)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

/// Datagrams the loop's queue holds (see `queue.rs`).
pub const DEFAULT_QUEUE_DEPTH: usize = crate::queue::DEPTH;
/// Events the stream holds for a slow reader.
pub const DEFAULT_EVENT_DEPTH: usize = 4096;

impl SessionOptions {
    fn new(local: IpAddr, role: Role, config: Config) -> Self {
        Self {
            local,
            ports: Ports::default(),
            role,
            config,
            kex: Arc::new(DefaultKex::default()),
            seed: None,
            datapath: None,
            keylog: None,
            ikev1_keylog: None,
            queue_depth: DEFAULT_QUEUE_DEPTH,
            event_depth: DEFAULT_EVENT_DEPTH,
            connect_timeout: None,
            trace: None,
            workers: 1,
        }
    }

    /// An initiator from `local` to the responder at `remote` (UDP 500).
    pub fn initiator(local: IpAddr, remote: IpAddr, config: Config) -> Self {
        Self::new(local, Role::Initiator { remote: SocketAddr::new(remote, 500) }, config)
    }

    /// An IKEv1 initiator from `local` to the responder at `remote` (its IKE port).
    /// [`Self::config`] is IKEv2's and not negotiated with: it stays a placeholder (no
    /// MOBIKE, nothing to authenticate with).
    pub fn ikev1_initiator(
        local: IpAddr,
        remote: SocketAddr,
        config: ikeway_ikev1::Config,
    ) -> Self {
        let mut unused = Config::new(
            ikeway_codec::IdRepr::from_value(ikeway_codec::IdValue::Fqdn("ikev1")),
            ikeway_crypto::SecretBytes::from_slice(b""),
        );
        unused.mobike = false;
        Self::new(local, Role::Ikev1Initiator { remote, config: Arc::new(config) }, unused)
    }

    /// A responder on `local`, handing out `pool`.
    pub fn responder(local: IpAddr, config: Config, pool: Option<AddressPool>) -> Self {
        Self::new(local, Role::Responder { pool }, config)
    }

    /// Other UDP ports than 500/4500.
    pub fn with_ports(mut self, ports: Ports) -> Self {
        self.ports = ports;
        self
    }

    /// Child SAs into an application's userspace stack (see [`DatapathOptions::Netstack`]).
    pub fn with_netstack(mut self, sas: crate::netstack::NetstackSas) -> Self {
        self.datapath = Some(DatapathOptions::Netstack(sas));
        self
    }

    /// Child SAs into ESP on this TUN device.
    pub fn with_tun(mut self, tun: TunOptions) -> Self {
        self.datapath = Some(DatapathOptions::Tun(tun));
        self
    }

    /// A fixed seed (tests only: every key becomes predictable).
    pub fn with_seed(mut self, seed: [u8; 32]) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Hands every IKE SA's keys to `log` (secrets: debugging only).
    pub fn with_keylog(mut self, log: KeyLogger) -> Self {
        self.keylog = Some(log);
        self
    }

    /// Hands every IKEv1 ISAKMP SA's keys to `log` (secrets: debugging only).
    pub fn with_ikev1_keylog(mut self, log: Ikev1KeyLogger) -> Self {
        self.ikev1_keylog = Some(log);
        self
    }

    /// Shows each IKE datagram the session sends to `trace`.
    pub fn with_trace(mut self, trace: DatagramTrace) -> Self {
        self.trace = Some(trace);
        self
    }

    /// A responder on `workers` cores (see [`SessionOptions::workers`]).
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Gives up when no child SA is up after `timeout`.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }
}
