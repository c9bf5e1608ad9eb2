//! The one stream a session reports on: status changes, IKE and child SA life, the server's
//! configuration, datapath changes, counters and faults. Each event has one text rendering
//! (`Display`, for people) and one JSON rendering (`serde`, one object per line for scripts
//! and tests); every command of the `ikeway` binary prints these two and nothing else.
//!
//! The JSON names (`"event": "child_sa_installed"`, `spi_in`, ...) are an interface: the interop
//! tests and the testbeds parse them.

use std::fmt::{self, Display, Formatter};
use std::net::{IpAddr, SocketAddr};

use ikeway_codec::{DhGroup, EncrAlg, TrafficSelector};
use ikeway_sa::{ChildSaInfo, CloseReason, ConfigReceived, Event, IkeSuite};
use serde::{Serialize, Serializer};

use crate::faults::{Fault, FaultCounts};

/// A 64-bit IKE SPI; rendered as 16 hex digits in text and JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spi64(pub u64);

/// A 32-bit ESP SPI; rendered as 8 hex digits in text and JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spi32(pub u32);

macro_rules! hex_spi {
    ($t:ty, $width:literal) => {
        impl Display for $t {
            fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
                write!(f, "{:0w$x}", self.0, w = $width)
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
                Display::fmt(self, f)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}
hex_spi!(Spi64, 16);
hex_spi!(Spi32, 8);

/// An address with its prefix length; rendered `10.88.0.10/32`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address (or network).
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl Display for Cidr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What an IKEv1 gateway's mode config said that the client reports but never applies
/// (`ikeway_ikev1::transaction::ModeConfigNotes`, checked and bounded there).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModeConfigNotes {
    /// INTERNAL_IP4_NBNS: NetBIOS (WINS) name servers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nbns: Vec<IpAddr>,
    /// INTERNAL_ADDRESS_EXPIRY, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_expiry_s: Option<u32>,
    /// APPLICATION_VERSION: the gateway's software.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_version: Option<String>,
    /// Cisco UNITY: whether the client may store the XAUTH password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_password: Option<bool>,
    /// Cisco UNITY: whether the gateway wants PFS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pfs: Option<bool>,
    /// Cisco UNITY backup servers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backup_servers: Vec<String>,
    /// Cisco UNITY local LAN: networks the gateway leaves outside the tunnel.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub local_lan: Vec<Cidr>,
}

impl From<ikeway_ikev1::transaction::ModeConfigNotes> for ModeConfigNotes {
    fn from(n: ikeway_ikev1::transaction::ModeConfigNotes) -> Self {
        Self {
            nbns: n.nbns,
            address_expiry_s: n.address_expiry_s,
            application_version: n.application_version,
            save_password: n.save_password,
            pfs: n.pfs,
            backup_servers: n.backup_servers,
            local_lan: n.local_lan.into_iter().map(|(addr, len)| Cidr { addr, len }).collect(),
        }
    }
}

/// A traffic selector as events carry it: its address range (`10.0.0.0-10.0.0.255`), or the
/// type number of a selector type this implementation does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector {
    /// Addresses from `start` to `end`, inclusive.
    Range {
        /// First address.
        start: IpAddr,
        /// Last address.
        end: IpAddr,
    },
    /// An unknown selector type.
    Other(u8),
}

impl Display for Selector {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Range { start, end } => write!(f, "{start}-{end}"),
            Self::Other(t) => write!(f, "type {t}"),
        }
    }
}

impl Serialize for Selector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn cidrs(list: &[(IpAddr, u8)]) -> Vec<Cidr> {
    list.iter().map(|&(addr, len)| Cidr { addr, len }).collect()
}

/// Where a session stands, in the order it moves through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Negotiating the IKE SA and the first child SA.
    Connecting,
    /// The first child SA is installed (an initiator), or the endpoint serves (a responder).
    Connected,
    /// No path to the server is left (an initiator): the IKE SA and the TUN device stay, and
    /// the session is `Connected` again once a path works (MOBIKE, RFC 4555).
    Reasserting,
    /// DELETE sent; waiting for the answer within the grace period.
    Disconnecting,
    /// The loop has ended; nothing of the session is left.
    Disconnected,
}

impl Display for Status {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::Reasserting => "reasserting",
            Self::Disconnecting => "disconnecting",
            Self::Disconnected => "disconnected",
        })
    }
}

/// One event of a session: what happened, and for a responder which IKE SA it concerns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionEvent {
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// The IKE SA (by responder SPI) the event concerns, on a responder's events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sa: Option<Spi64>,
}

impl SessionEvent {
    /// An event that concerns the session as a whole (or an initiator's one IKE SA).
    pub fn new(kind: EventKind) -> Self {
        Self { kind, sa: None }
    }

    /// The event as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| {
            // Only a map with non-string keys fails, and these types have none.
            format!("{{\"event\":\"error\",\"error\":\"unrenderable event: {e}\"}}")
        })
    }
}

impl Display for SessionEvent {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if let Some(sa) = self.sa {
            write!(f, "[IKE SA {sa}] ")?;
        }
        Display::fmt(&self.kind, f)
    }
}

/// The counters of a session, reported when it ends and on request ([`crate::SessionHandle::request_stats`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionStats {
    /// The initiator's IKE SA counters (the negotiation crate's `Stats`, as text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ike: Option<String>,
    /// A responder's endpoint counters (drops before any IKE SA, cookies), as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// What a responder's IKE SAs hold (leases, SPIs, selectors), as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// Failures that did not end the session.
    pub faults: FaultCounts,
    /// Datagrams dropped because the loop fell behind: its sockets' full kernel receive
    /// queues (`SO_RXQ_OVFL`, as counted up to the last datagram read) and the pump's IKE queue.
    pub dropped_queue_full: u64,
    /// Events dropped because nobody read the event stream.
    pub events_dropped: u64,
    /// Times the loop slept and woke up (a datagram, a command or a timer); of every worker
    /// together.
    pub wakeups: u64,
    /// The worker these counters are of (a responder on several; each reports its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<usize>,
}

/// The datapath's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatapathStats {
    /// Which I/O backend the datapath runs on.
    pub backend: String,
    /// All counters, as one line of text.
    pub counters: String,
    /// Per child SA.
    pub sas: Vec<SaCounters>,
}

/// One child SA's packet counters in the datapath.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SaCounters {
    /// The child SA's inbound SPI.
    pub spi_in: Spi32,
    /// Packets received and accepted.
    pub in_packets: u64,
    /// Inbound packets dropped (replay, ICV, policy).
    pub in_drops: u64,
    /// Packets sent, when the SA has an outbound half.
    pub out_packets: Option<u64>,
}

fn debug_string<T: fmt::Debug, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{v:?}"))
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// The session moved to another status.
    Status {
        /// The new status.
        status: Status,
    },
    /// An initiator's IKE_SA_INIT completed and IKE_AUTH is out: keyed, not yet authenticated.
    Authenticating {
        /// Initiator's SPI.
        spi_i: Spi64,
        /// Responder's SPI.
        spi_r: Spi64,
    },
    /// A responder: the initiator proved who it is with EAP (reported before `IkeSaUp`).
    PeerAuthenticated {
        /// The IKE identity of its IKE_AUTH.
        id: String,
        /// The user name EAP authenticated.
        eap_identity: String,
    },
    /// IKE_AUTH completed: the IKE SA is authenticated.
    IkeSaUp {
        /// Initiator's SPI.
        spi_i: Spi64,
        /// Responder's SPI.
        spi_r: Spi64,
        /// Encryption transform by its IANA name (`ENCR_AES_GCM_16-256`).
        encryption: String,
        /// Integrity transform, none with an AEAD.
        integrity: Option<String>,
        /// PRF (`HmacSha256`).
        prf: String,
        /// Key exchange group.
        group: String,
        /// Encryption as people write it (`AES-GCM-16-256`).
        cipher: String,
        /// PRF as people write it (`PRF-HMAC-SHA2-256`).
        prf_name: String,
        /// Additional key exchanges done in IKE_INTERMEDIATE (RFC 9370), in order
        /// (`ML_KEM_768`); left out of the JSON when none.
        #[serde(skip_serializing_if = "Vec::is_empty", default)]
        additional_key_exchanges: Vec<String>,
    },
    /// Right after `IkeSaUp`: a post-quantum preshared key (RFC 8784) is mixed into the IKE
    /// SA's keys, both sides having used it. Not reported when the SA came up without one.
    PpkUsed {
        /// The PPK's identifier (PPK_ID), never the key.
        ppk_id: String,
    },
    /// A child SA's keys are installed (a new child SA, or a rekey's successor).
    ChildSaInstalled {
        /// SPI the peer puts on packets to us.
        spi_in: Spi32,
        /// SPI we put on packets to the peer.
        spi_out: Spi32,
        /// Encryption transform by its IANA name.
        encryption: String,
        /// Integrity transform, none with an AEAD.
        integrity: Option<String>,
        /// Extended sequence numbers.
        esn: bool,
        /// PFS group of the exchange, if any.
        pfs_group: Option<String>,
        /// Our traffic selectors.
        local_ts: Vec<Selector>,
        /// The peer's traffic selectors.
        remote_ts: Vec<Selector>,
        /// ESP in UDP (RFC 3948), because of a NAT.
        udp_encapsulation: bool,
        /// The inbound SPI of the child SA this one replaces (a rekey).
        replaces: Option<Spi32>,
        /// Encryption as people write it.
        cipher: String,
        /// Hard lifetime, seconds.
        lifetime_s: u64,
    },
    /// A child SA is gone (rekeyed and replaced, deleted or expired).
    ChildSaRemoved {
        /// Its inbound SPI.
        spi_in: Spi32,
        /// Its outbound SPI.
        spi_out: Spi32,
    },
    /// The peer refused a child SA; the IKE SA stays up.
    ChildSaRefused {
        /// The error notify it answered with.
        notify: String,
    },
    /// The server's configuration (CFG_REPLY).
    #[serde(rename = "config")]
    ConfigReceived {
        /// Internal addresses.
        addresses: Vec<Cidr>,
        /// DNS servers.
        dns: Vec<IpAddr>,
        /// DNS search domains.
        domains: Vec<String>,
        /// Protected networks behind the server.
        subnets: Vec<Cidr>,
    },
    /// NAT detection (RFC 7296 §2.23): IKE moved to port 4500, ESP goes in UDP.
    NatDetected {
        /// We are behind a NAT.
        local_behind_nat: bool,
        /// The peer is behind a NAT.
        remote_behind_nat: bool,
    },
    /// The IKE SA was rekeyed; its child SAs moved over.
    IkeSaRekeyed {
        /// (initiator, responder) SPIs before.
        old: [Spi64; 2],
        /// (initiator, responder) SPIs after.
        new: [Spi64; 2],
    },
    /// The IKE SA is gone, and with it its child SAs.
    IkeSaClosed {
        /// Why.
        #[serde(serialize_with = "debug_string")]
        reason: CloseReason,
    },
    /// RFC 5685 redirect. An initiator: the server sends us to `gateway` (its IKE SA closes
    /// next); a responder: we sent this client there.
    Redirect {
        /// The gateway as REDIRECT named it: an address or a name.
        gateway: String,
    },
    /// An initiator followed a redirect: a new IKE SA from `from` (the server that redirected
    /// us, named in REDIRECTED_FROM) to `to`.
    Redirected {
        /// The server that redirected us.
        from: IpAddr,
        /// The gateway the new IKE SA goes to.
        to: IpAddr,
    },
    /// An initiator did not follow a redirect; the session ends.
    RedirectFailed {
        /// The gateway as REDIRECT named it.
        gateway: String,
        /// Why.
        failure: crate::RedirectFailure,
    },
    /// How long the first child SA took from the first IKE_SA_INIT (an initiator).
    Timing {
        /// Milliseconds.
        initiate_to_child_ms: f64,
    },
    /// The host's path to the server changed and the IKE SA was asked to move to it
    /// (UPDATE_SA_ADDRESSES, RFC 4555 §3.5).
    PathChanging {
        /// Our new address and port.
        local: SocketAddr,
        /// The server's address and port.
        remote: SocketAddr,
    },
    /// The IKE SA and the datapath's child SAs moved to a new path (MOBIKE), without a rekey
    /// and without touching the TUN device or its routes.
    PathUpdated {
        /// Our address and port now.
        local: SocketAddr,
        /// The server's address and port now.
        remote: SocketAddr,
    },
    /// The host has no route to the server any more (or only through the tunnel itself).
    PathLost {
        /// The server.
        remote: SocketAddr,
    },
    /// A change of the host's path that the session does not follow, and why (said once when
    /// MOBIKE was not negotiated).
    PathNotFollowed {
        /// The host's new source address toward the server, when there is one.
        local: Option<IpAddr>,
        /// Why it is not followed.
        reason: String,
    },
    /// IKEv1 (Cisco Unity): the gateway's banner for the user, from mode config (control
    /// characters other than line breaks and tabs removed, at most 2048 characters).
    Banner {
        /// The text.
        text: String,
    },
    /// IKEv1: what the gateway's mode config said that is reported, never applied (NBNS
    /// servers, address expiry, Cisco UNITY save-password, PFS, backup servers, local LAN).
    ModeConfigNotes {
        /// The values.
        #[serde(flatten)]
        notes: ModeConfigNotes,
    },
    /// IKEv1: the new ISAKMP SA that was to replace the current one before its end could not
    /// be made; the current one carries on until its lifetime ends.
    RenewalFailed {
        /// Why.
        reason: String,
    },
    /// A retransmission on an established IKE SA: the peer stopped answering.
    PeerUnresponsive {
        /// Retransmissions so far.
        retransmits: u64,
    },
    /// A child SA went into the datapath.
    DatapathSaInstalled {
        /// Its inbound SPI.
        spi_in: Spi32,
        /// The TUN device.
        tun: String,
    },
    /// A child SA left the datapath.
    DatapathSaRemoved {
        /// Its inbound SPI.
        spi_in: Spi32,
        /// Whether the datapath had it.
        found: bool,
    },
    /// The datapath asked for a child SA rekey (soft lifetime, or sequence numbers running
    /// out).
    DatapathRekeyNeeded {
        /// The child SA's inbound SPI.
        spi_in: Spi32,
        /// Whether one of our IKE SAs owns it and started the rekey.
        rekey_started: bool,
    },
    /// A failure one peer caused; the session goes on. Reported for the 1st, 2nd, 4th, 8th
    /// ... of a cause.
    Fault {
        /// The cause.
        cause: Fault,
        /// Faults of this cause so far.
        count: u64,
        /// The last one.
        error: String,
    },
    /// The session's counters.
    Stats(SessionStats),
    /// The datapath's counters.
    DatapathStats(DatapathStats),
    /// The session ended on an error.
    Error {
        /// What went wrong.
        error: String,
    },
}

impl EventKind {
    /// The server's configuration, when this is [`EventKind::ConfigReceived`].
    pub fn config(&self) -> Option<ConfigReceived> {
        let Self::ConfigReceived { addresses, dns, domains, subnets } = self else { return None };
        let pairs = |list: &[Cidr]| list.iter().map(|c| (c.addr, c.len)).collect();
        Some(ConfigReceived {
            addresses: pairs(addresses),
            dns: dns.clone(),
            dns_domains: domains.clone(),
            subnets: pairs(subnets),
        })
    }
}

fn selectors(ts: &[TrafficSelector]) -> Vec<Selector> {
    ts.iter()
        .map(|t| match t {
            TrafficSelector::Range(r) => Selector::Range { start: r.start, end: r.end },
            TrafficSelector::Other { ts_type, .. } => Selector::Other(ts_type.0),
        })
        .collect()
}

fn suite_name(e: ikeway_crypto::Encryption) -> String {
    let name = EncrAlg(e.iana_id()).to_string();
    match e.key_bits_attribute() {
        Some(bits) => format!("{name}-{bits}"),
        None => name,
    }
}

fn ike_up(spi_i: u64, spi_r: u64, suite: &IkeSuite) -> EventKind {
    EventKind::IkeSaUp {
        spi_i: Spi64(spi_i),
        spi_r: Spi64(spi_r),
        encryption: suite_name(suite.suite.encryption()),
        integrity: suite.suite.integrity().map(|i| format!("{i:?}")),
        prf: format!("{:?}", suite.prf),
        group: suite.group.to_string(),
        cipher: suite.suite.encryption().to_string(),
        prf_name: suite.prf.to_string(),
        additional_key_exchanges: suite.additional_methods().map(|g| g.to_string()).collect(),
    }
}

fn child_installed(c: &ChildSaInfo) -> EventKind {
    EventKind::ChildSaInstalled {
        spi_in: Spi32(c.spi_in),
        spi_out: Spi32(c.spi_out),
        encryption: suite_name(c.suite.suite.encryption()),
        integrity: c.suite.suite.integrity().map(|i| format!("{i:?}")),
        esn: c.suite.esn,
        pfs_group: c.suite.group.map(|g: DhGroup| g.to_string()),
        local_ts: selectors(&c.local_ts),
        remote_ts: selectors(&c.remote_ts),
        udp_encapsulation: c.udp_encapsulation,
        replaces: c.replaces.map(Spi32),
        cipher: c.suite.suite.encryption().to_string(),
        lifetime_s: c.lifetime.as_secs(),
    }
}

/// An IKE identity as people read it: an address, a name, or the kind and size of the rest.
fn id_text(id: &ikeway_codec::IdRepr) -> String {
    use ikeway_codec::IdValue;
    match id.value() {
        IdValue::Ipv4(a) => a.to_string(),
        IdValue::Ipv6(a) => a.to_string(),
        IdValue::Fqdn(s) | IdValue::Rfc822(s) => s.to_owned(),
        IdValue::DerAsn1Dn(dn) => format!("a distinguished name ({} bytes)", dn.len()),
        _ => format!("identity type {} ({} bytes)", id.id_type.0, id.data.len()),
    }
}

fn config(c: &ConfigReceived) -> EventKind {
    EventKind::ConfigReceived {
        addresses: cidrs(&c.addresses),
        dns: c.dns.clone(),
        domains: c.dns_domains.clone(),
        subnets: cidrs(&c.subnets),
    }
}

impl From<&Event> for EventKind {
    /// The negotiation's event without its secrets: child SA keys stay in the runtime.
    fn from(e: &Event) -> Self {
        match e {
            Event::Authenticating { spi_i, spi_r } => {
                Self::Authenticating { spi_i: Spi64(*spi_i), spi_r: Spi64(*spi_r) }
            }
            Event::IkeSaUp { spi_i, spi_r, suite } => ike_up(*spi_i, *spi_r, suite),
            Event::PeerAuthenticated { id, eap_identity } => {
                Self::PeerAuthenticated { id: id_text(id), eap_identity: eap_identity.clone() }
            }
            Event::ChildSaInstalled(c) => child_installed(c),
            Event::ChildSaRemoved { spi_in, spi_out } => {
                Self::ChildSaRemoved { spi_in: Spi32(*spi_in), spi_out: Spi32(*spi_out) }
            }
            Event::ChildSaRefused { notify } => Self::ChildSaRefused { notify: notify.to_string() },
            Event::ConfigReceived(c) => config(c),
            Event::NatDetected { local_behind_nat, remote_behind_nat } => Self::NatDetected {
                local_behind_nat: *local_behind_nat,
                remote_behind_nat: *remote_behind_nat,
            },
            Event::IkeSaRekeyed { old_spis, new_spis } => Self::IkeSaRekeyed {
                old: [Spi64(old_spis.0), Spi64(old_spis.1)],
                new: [Spi64(new_spis.0), Spi64(new_spis.1)],
            },
            Event::IkeSaClosed { reason } => Self::IkeSaClosed { reason: *reason },
            Event::Redirected { gateway } => Self::Redirect { gateway: gateway.to_string() },
            Event::PathUpdated { local, remote, .. } => {
                Self::PathUpdated { local: *local, remote: *remote }
            }
            Event::PathUpdateRefused { local, notify, .. } => Self::PathNotFollowed {
                local: Some(local.ip()),
                reason: format!("the server refused the move: {notify}"),
            },
            // `Event` is non-exhaustive: a new kind shows up by name until it gets a variant.
            other => Self::Error { error: format!("unrendered negotiation event {other:?}") },
        }
    }
}

fn list<T: Display>(items: &[T]) -> String {
    if items.is_empty() {
        return "-".to_owned();
    }
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl Display for EventKind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status { status } => write!(f, "status: {status}"),
            Self::PeerAuthenticated { id, eap_identity } => {
                write!(f, "peer {id} authenticated by EAP as {eap_identity:?}")
            }
            Self::IkeSaUp { spi_i, spi_r, cipher, prf_name, group, .. } => {
                write!(f, "IKE SA up: {spi_i}/{spi_r}, {cipher}, {prf_name}, {group}")
            }
            Self::PpkUsed { ppk_id } => {
                write!(f, "post-quantum preshared key {ppk_id:?} mixed into the keys (RFC 8784)")
            }
            Self::ChildSaInstalled {
                spi_in,
                spi_out,
                cipher,
                local_ts,
                remote_ts,
                udp_encapsulation,
                replaces,
                ..
            } => {
                write!(
                    f,
                    "child SA installed: SPIs in {spi_in} out {spi_out}, ESP {cipher}{}, {} <=> {}",
                    if *udp_encapsulation { " in UDP" } else { "" },
                    list(local_ts),
                    list(remote_ts)
                )?;
                match replaces {
                    Some(old) => write!(f, ", replaces {old}"),
                    None => Ok(()),
                }
            }
            Self::ChildSaRemoved { spi_in, spi_out } => {
                write!(f, "child SA removed: SPIs in {spi_in} out {spi_out}")
            }
            Self::ChildSaRefused { notify } => write!(f, "child SA refused: {notify}"),
            Self::Authenticating { spi_i, spi_r } => {
                write!(f, "IKE_SA_INIT done (SPIs {spi_i} {spi_r}); authenticating with IKE_AUTH")
            }
            Self::ConfigReceived { addresses, dns, domains, subnets } => write!(
                f,
                "configuration: address {}, DNS {} (search {}), networks {}",
                list(addresses),
                list(dns),
                list(domains),
                list(subnets)
            ),
            Self::NatDetected { local_behind_nat, remote_behind_nat } => write!(
                f,
                "NAT detected: {}{}; IKE and ESP move to UDP 4500",
                if *local_behind_nat { "we are behind a NAT" } else { "we are not behind a NAT" },
                if *remote_behind_nat { ", the peer is behind a NAT" } else { "" }
            ),
            Self::IkeSaRekeyed { old, new } => {
                write!(f, "IKE SA rekeyed: {}/{} -> {}/{}", old[0], old[1], new[0], new[1])
            }
            Self::IkeSaClosed { reason } => write!(f, "IKE SA closed: {reason}"),
            Self::Redirect { gateway } => write!(f, "redirect to gateway {gateway}"),
            Self::Redirected { from, to } => {
                write!(f, "redirected from {from} to {to}: new IKE SA")
            }
            Self::RedirectFailed { gateway, failure } => {
                write!(f, "redirect to {gateway} not followed: {failure}")
            }
            Self::Timing { initiate_to_child_ms } => {
                write!(f, "child SA up {initiate_to_child_ms:.1} ms after the first message")
            }
            Self::PathChanging { local, remote } => {
                write!(f, "path changed: moving the IKE SA to {local} -> {remote} (MOBIKE)")
            }
            Self::PathUpdated { local, remote } => {
                write!(f, "path updated: {local} -> {remote}; child SAs moved without a rekey")
            }
            Self::PathLost { remote } => write!(f, "no path to the server {remote}: reasserting"),
            Self::PathNotFollowed { local, reason } => match local {
                Some(l) => write!(f, "path change to {l} not followed: {reason}"),
                None => write!(f, "path change not followed: {reason}"),
            },
            Self::Banner { text } => write!(f, "banner from the server: {text:?}"),
            Self::ModeConfigNotes { notes } => {
                // The JSON form: every value the gateway gave, none applied.
                let json = serde_json::to_string(notes).map_err(|_| fmt::Error)?;
                write!(f, "mode config values not applied: {json}")
            }
            Self::RenewalFailed { reason } => write!(
                f,
                "renewing the ISAKMP SA failed ({reason}); the current one lasts until its end"
            ),
            Self::PeerUnresponsive { retransmits } => {
                write!(f, "the peer does not answer ({retransmits} retransmissions)")
            }
            Self::DatapathSaInstalled { spi_in, tun } => {
                write!(f, "datapath: child SA {spi_in} installed on {tun}")
            }
            Self::DatapathSaRemoved { spi_in, found } => write!(
                f,
                "datapath: child SA {spi_in} removed{}",
                if *found { "" } else { " (it was not installed)" }
            ),
            Self::DatapathRekeyNeeded { spi_in, rekey_started } => write!(
                f,
                "datapath: child SA {spi_in} needs a rekey{}",
                if *rekey_started { ", started" } else { ", but no IKE SA owns it" }
            ),
            Self::Fault { cause, count, error } => write!(f, "fault {cause} #{count}: {error}"),
            Self::Stats(s) => {
                write!(
                    f,
                    "stats: {} datagrams dropped (queue full), {} events dropped, {} send \
                     failures, {} datapath failures, {} wake-ups",
                    s.dropped_queue_full,
                    s.events_dropped,
                    s.faults.send_failed,
                    s.faults.datapath_failed,
                    s.wakeups
                )?;
                if let Some(w) = s.worker {
                    write!(f, "; worker {w}")?;
                }
                for (name, v) in [("IKE SA", &s.ike), ("endpoint", &s.endpoint), ("held", &s.held)]
                {
                    if let Some(v) = v {
                        write!(f, "; {name}: {v}")?;
                    }
                }
                Ok(())
            }
            Self::DatapathStats(d) => {
                write!(f, "datapath ({}): {}", d.backend, d.counters)?;
                for sa in &d.sas {
                    write!(
                        f,
                        "; SA {} in {} packets ({} dropped)",
                        sa.spi_in, sa.in_packets, sa.in_drops
                    )?;
                    if let Some(out) = sa.out_packets {
                        write!(f, ", out {out}")?;
                    }
                }
                Ok(())
            }
            Self::Error { error } => write!(f, "error: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("literal")
    }

    fn json(e: SessionEvent) -> serde_json::Value {
        serde_json::from_str(&e.to_json()).expect("valid JSON")
    }

    #[test]
    fn mode_config_notes_read_as_json_with_only_what_the_gateway_said() {
        let notes = ikeway_ikev1::transaction::ModeConfigNotes {
            nbns: vec!["10.9.0.4".parse().unwrap()],
            save_password: Some(false),
            local_lan: vec![("192.168.1.0".parse().unwrap(), 24)],
            ..Default::default()
        };
        let kind = EventKind::ModeConfigNotes { notes: notes.into() };
        assert_eq!(
            json(SessionEvent::new(kind.clone())),
            json!({"event": "mode_config_notes", "nbns": ["10.9.0.4"], "save_password": false,
                   "local_lan": ["192.168.1.0/24"]})
        );
        assert_eq!(
            kind.to_string(),
            "mode config values not applied: {\"nbns\":[\"10.9.0.4\"],\"save_password\":false,\
             \"local_lan\":[\"192.168.1.0/24\"]}"
        );
    }

    /// RFC 5685 redirect events, as the redirect interop test parses them.
    #[test]
    fn redirect_events_in_text_and_json() {
        let gw = ikeway_codec::Gateway::Fqdn("vpn2.example".into());
        let e = SessionEvent::new(EventKind::from(&Event::Redirected { gateway: gw }));
        assert_eq!(e.to_string(), "redirect to gateway vpn2.example");
        assert_eq!(json(e), json!({"event": "redirect", "gateway": "vpn2.example"}));
        let e =
            SessionEvent::new(EventKind::Redirected { from: ip("10.0.0.2"), to: ip("10.0.1.2") });
        assert_eq!(e.to_string(), "redirected from 10.0.0.2 to 10.0.1.2: new IKE SA");
        assert_eq!(json(e), json!({"event": "redirected", "from": "10.0.0.2", "to": "10.0.1.2"}));
        let e = SessionEvent::new(EventKind::RedirectFailed {
            gateway: "10.0.0.2".into(),
            failure: crate::RedirectFailure::Loop,
        });
        assert_eq!(
            e.to_string(),
            "redirect to 10.0.0.2 not followed: the servers redirected us in a loop"
        );
        assert_eq!(
            json(e),
            json!({"event": "redirect_failed", "gateway": "10.0.0.2", "failure": "loop"})
        );
        let e = SessionEvent::new(EventKind::IkeSaClosed { reason: CloseReason::Redirected });
        assert_eq!(json(e), json!({"event": "ike_sa_closed", "reason": "Redirected"}));
    }

    /// `ike_sa_up` names the additional key exchanges (RFC 9370) when there were any, and
    /// is unchanged without them.
    #[test]
    fn ppk_used_names_the_ppk_id() {
        let e = SessionEvent::new(EventKind::PpkUsed { ppk_id: "qkd-link-1".into() });
        assert_eq!(json(e.clone()), json!({"event": "ppk_used", "ppk_id": "qkd-link-1"}));
        assert_eq!(
            e.to_string(),
            "post-quantum preshared key \"qkd-link-1\" mixed into the keys (RFC 8784)"
        );
    }

    #[test]
    fn ike_sa_up_names_additional_key_exchanges() {
        use ikeway_crypto::{AeadAlgorithm, Encryption, Prf, Suite};
        let mut suite = IkeSuite {
            suite: Suite::new(Encryption::Aead(AeadAlgorithm::AES256_GCM16), None).unwrap(),
            prf: Prf::HmacSha256,
            group: ikeway_codec::DhGroup::CURVE25519,
            additional_kes: [ikeway_codec::DhGroup::NONE; 7],
        };
        let up = |s: &IkeSuite| json(SessionEvent::new(ike_up(1, 2, s)));
        assert!(up(&suite).get("additional_key_exchanges").is_none(), "{}", up(&suite));
        suite.additional_kes[0] = ikeway_codec::DhGroup::ML_KEM_768;
        suite.additional_kes[2] = ikeway_codec::DhGroup::ML_KEM_1024;
        assert_eq!(up(&suite)["additional_key_exchanges"], json!(["ML_KEM_768", "ML_KEM_1024"]));
    }

    /// The names the interop tests and testbeds parse: event names, field names, SPIs as hex
    /// strings, the responder's `sa`, the close reason's name.
    #[test]
    fn json_names_are_the_ones_scripts_parse() {
        let child = EventKind::ChildSaInstalled {
            spi_in: Spi32(0xc1),
            spi_out: Spi32(0xabcdef01),
            encryption: "ENCR_AES_GCM_16-128".into(),
            integrity: None,
            esn: false,
            pfs_group: None,
            local_ts: vec![Selector::Range { start: ip("10.88.0.10"), end: ip("10.88.0.10") }],
            remote_ts: vec![Selector::Range { start: ip("0.0.0.0"), end: ip("255.255.255.255") }],
            udp_encapsulation: true,
            replaces: Some(Spi32(0xb0)),
            cipher: "AES-GCM-16-128".into(),
            lifetime_s: 86400,
        };
        assert_eq!(
            json(SessionEvent { kind: child, sa: Some(Spi64(0x1234)) }),
            json!({
                "event": "child_sa_installed", "spi_in": "000000c1", "spi_out": "abcdef01",
                "encryption": "ENCR_AES_GCM_16-128", "integrity": null, "esn": false,
                "pfs_group": null, "local_ts": ["10.88.0.10-10.88.0.10"],
                "remote_ts": ["0.0.0.0-255.255.255.255"], "udp_encapsulation": true,
                "replaces": "000000b0", "cipher": "AES-GCM-16-128", "lifetime_s": 86400,
                "sa": "0000000000001234",
            })
        );
        let config = EventKind::ConfigReceived {
            addresses: vec![Cidr { addr: ip("10.88.0.10"), len: 32 }],
            dns: vec![ip("10.77.0.53")],
            domains: vec!["corp.example".into()],
            subnets: vec![],
        };
        assert_eq!(
            json(SessionEvent::new(config)),
            json!({"event": "config", "addresses": ["10.88.0.10/32"], "dns": ["10.77.0.53"],
                   "domains": ["corp.example"], "subnets": []})
        );
        assert_eq!(
            json(SessionEvent::new(EventKind::IkeSaClosed { reason: CloseReason::DeletedByPeer })),
            json!({"event": "ike_sa_closed", "reason": "DeletedByPeer"})
        );
        assert_eq!(
            json(SessionEvent::new(EventKind::IkeSaRekeyed {
                old: [Spi64(1), Spi64(2)],
                new: [Spi64(3), Spi64(0xffff_ffff_ffff_ffff)],
            })),
            json!({"event": "ike_sa_rekeyed", "old": ["0000000000000001", "0000000000000002"],
                   "new": ["0000000000000003", "ffffffffffffffff"]})
        );
        assert_eq!(
            json(SessionEvent::new(EventKind::Authenticating {
                spi_i: Spi64(0x11),
                spi_r: Spi64(0x22)
            })),
            json!({"event": "authenticating", "spi_i": "0000000000000011",
                   "spi_r": "0000000000000022"})
        );
        assert_eq!(
            json(SessionEvent::new(EventKind::Status { status: Status::Connected })),
            json!({"event": "status", "status": "connected"})
        );
        let stats = SessionStats {
            ike: Some("Stats { retransmits: 0 }".into()),
            endpoint: None,
            held: None,
            faults: FaultCounts { send_failed: 2, datapath_failed: 0 },
            dropped_queue_full: 3,
            events_dropped: 0,
            wakeups: 7,
            worker: None,
        };
        assert_eq!(
            json(SessionEvent::new(EventKind::Stats(stats))),
            json!({"event": "stats", "ike": "Stats { retransmits: 0 }",
                   "faults": {"send_failed": 2, "datapath_failed": 0},
                   "dropped_queue_full": 3, "events_dropped": 0, "wakeups": 7})
        );
        assert_eq!(
            json(SessionEvent::new(EventKind::Fault {
                cause: Fault::Send,
                count: 4,
                error: "boom".into()
            })),
            json!({"event": "fault", "cause": "send_failed", "count": 4, "error": "boom"})
        );
    }

    #[test]
    fn text_names_the_sa_and_the_change() {
        let e = SessionEvent {
            kind: EventKind::ChildSaRemoved { spi_in: Spi32(0xc1), spi_out: Spi32(0xd2) },
            sa: Some(Spi64(0xab)),
        };
        assert_eq!(
            e.to_string(),
            "[IKE SA 00000000000000ab] child SA removed: SPIs in 000000c1 out 000000d2"
        );
        let e = SessionEvent::new(EventKind::Status { status: Status::Disconnecting });
        assert_eq!(e.to_string(), "status: disconnecting");
        // The reason in words for people; JSON keeps its name for scripts.
        let e = SessionEvent::new(EventKind::IkeSaClosed { reason: CloseReason::PeerUnreachable });
        assert_eq!(e.to_string(), "IKE SA closed: the peer stopped answering");
        let e = SessionEvent::new(EventKind::Authenticating { spi_i: Spi64(1), spi_r: Spi64(2) });
        assert_eq!(
            e.to_string(),
            "IKE_SA_INIT done (SPIs 0000000000000001 0000000000000002); authenticating with IKE_AUTH"
        );
    }
}

#[cfg(test)]
mod path_tests {
    use serde_json::json;

    use super::*;

    /// The path events as scripts and people read them.
    #[test]
    fn path_events_in_json_and_text() {
        let local: SocketAddr = "10.99.0.11:4500".parse().unwrap();
        let remote: SocketAddr = "10.99.0.2:4500".parse().unwrap();
        let cases = [
            (
                EventKind::PathUpdated { local, remote },
                json!({"event": "path_updated", "local": "10.99.0.11:4500",
                       "remote": "10.99.0.2:4500"}),
                "path updated: 10.99.0.11:4500 -> 10.99.0.2:4500; child SAs moved without a rekey",
            ),
            (
                EventKind::PathChanging { local, remote },
                json!({"event": "path_changing", "local": "10.99.0.11:4500",
                       "remote": "10.99.0.2:4500"}),
                "path changed: moving the IKE SA to 10.99.0.11:4500 -> 10.99.0.2:4500 (MOBIKE)",
            ),
            (
                EventKind::PathLost { remote },
                json!({"event": "path_lost", "remote": "10.99.0.2:4500"}),
                "no path to the server 10.99.0.2:4500: reasserting",
            ),
            (
                EventKind::PathNotFollowed { local: Some(local.ip()), reason: "why".into() },
                json!({"event": "path_not_followed", "local": "10.99.0.11", "reason": "why"}),
                "path change to 10.99.0.11 not followed: why",
            ),
            (
                EventKind::Status { status: Status::Reasserting },
                json!({"event": "status", "status": "reasserting"}),
                "status: reasserting",
            ),
        ];
        for (kind, want_json, want_text) in cases {
            let e = SessionEvent::new(kind);
            assert_eq!(serde_json::from_str::<serde_json::Value>(&e.to_json()).unwrap(), want_json);
            assert_eq!(e.to_string(), want_text);
        }
    }
}
