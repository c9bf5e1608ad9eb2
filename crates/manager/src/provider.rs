//! [`SessionProvider`]: the [`TunnelProvider`] that brings a tunnel up with an
//! [`ikeway_tunnel::Session`]: it resolves the server, starts the session (with its TUN
//! datapath, sized to the profile's MTU), follows the session's events to report `Up`,
//! `Unresponsive` and `Closed` to the connection, and keeps a [`TunnelStatus`] for status
//! displays. With a host ([`ProviderOptions::host`]) it also carries out the tunnel's
//! `TunnelPlan` (through `SessionHost`) when the first child SA is up (addresses, MTU, routes, DNS: computed from the
//! configuration's routing settings, the server's configuration reply and the child's
//! selectors) and undoes it when the session ends, on every way out. A stop is a [`ikeway_tunnel::SessionHandle::disconnect`]: DELETE, then at most
//! [`DELETE_GRACE`] for the server's answer.
//!
//! The connection's pure parts (its status table, the on-demand rules, the conversion of a
//! configuration) never see this module: they reach the tunnel only through the trait.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use ikeway_sa::ConfigReceived;
use ikeway_tunnel::host::{DEFAULT_MTU, HostError, HostNetwork, SessionHost};
use ikeway_tunnel::{
    EventKind, Ports, Role, Session, SessionEvent, SessionHandle, SessionOptions, Spi32, Spi64,
    Status, TunOptions,
};
use serde::Serialize;

use crate::connection::{ProviderError, TunnelEvents, TunnelProvider, TunnelRequest};
use crate::status::{CloseCause, DisconnectError, TunnelEvent};

/// How long a stop waits for the server to answer DELETE: a server that is gone must not hold
/// the host's routes and DNS.
pub const DELETE_GRACE: Duration = Duration::from_secs(3);

/// Makes the host's network changes of one connection (e.g. `LinuxHost` over the caller's
/// state record); called once per start.
pub type HostFactory = Box<dyn FnMut() -> Result<Box<dyn HostNetwork + Send>, HostError> + Send>;

/// Where a key log goes (`connect --foreground --keylog`): each IKE SA's keys as it comes up,
/// as rows of Wireshark's decryption tables. Secrets: for debugging with tshark only; the
/// sink is the caller's file, created by the caller (mode 0600, never an existing path).
pub trait KeyLogSink: Send + Sync + std::fmt::Debug {
    /// An IKEv2 SA's keys (`ikev2_decryption_table`).
    fn ikev2(&self, keys: &ikeway_sa::KeyExport<'_>) -> std::io::Result<()>;
    /// An IKEv1 ISAKMP SA's initiator cookie and encryption key (`ikev1_decryption_table`).
    fn ikev1(&self, keys: &ikeway_ikev1::KeyExport<'_>) -> std::io::Result<()>;
}

/// IKEv1 timers shorter than a profile can ask for (Apple's `IPSec` dictionary has no
/// lifetimes and no DPD settings): for tests that watch a rekey, a renewal or DPD happen
/// within seconds (`connect --foreground --ikev1-test-timers`). The engine's own floors
/// still hold (lifetimes of at least a minute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ikev1Timers {
    /// The ISAKMP SA's lifetime (its successor is negotiated before the end).
    pub phase1_lifetime: Duration,
    /// The ESP SAs' lifetime (quick mode rekeys before the end).
    pub phase2_lifetime: Duration,
    /// DPD: idle interval, resend interval and resends before the server is declared dead.
    pub dpd: ikeway_ikev1::informational::DpdConfig,
    /// The ESP SAs' lifetime in kilobytes offered in quick mode (SA Life Type 2), if any:
    /// the datapath asks for the rekey once 90% of it crossed.
    pub phase2_kilobytes: Option<u32>,
}

impl Ikev1Timers {
    fn apply(&self, config: &mut ikeway_ikev1::Config) {
        config.lifetime = self.phase1_lifetime;
        config.quick.lifetime = self.phase2_lifetime;
        config.quick.rekey_margin = config.quick.rekey_margin.min(self.phase2_lifetime / 2);
        config.informational.dpd = Some(self.dpd);
        if self.phase2_kilobytes.is_some() {
            config.quick.lifetime_kilobytes = self.phase2_kilobytes;
        }
    }
}

/// How a [`SessionProvider`] runs its sessions.
#[derive(Default)]
pub struct ProviderOptions {
    /// The TUN device child SAs go into; `None`: no datapath (the negotiation only).
    pub tun: Option<String>,
    /// Our address for IKE; `None`: the source address this host uses toward the server.
    pub local: Option<IpAddr>,
    /// Our UDP ports (500/4500 unless given).
    pub ports: Option<Ports>,
    /// The server's IKE port (500 unless given).
    pub server_port: Option<u16>,
    /// The server's address, resolved by the caller once (the kill switch lets IKE out to
    /// it alone, and blocks the DNS a new resolution would need); `None`: resolved at each
    /// start. [`SessionProvider::pinned_server`] changes it later.
    pub server: Option<IpAddr>,
    /// The host changes of each connection; `None`: none (the embedder routes itself).
    pub host: Option<HostFactory>,
    /// Every session's keys go here; `None`: no key log.
    pub keylog: Option<Arc<dyn KeyLogSink>>,
    /// Tests: IKEv1 timers in place of the configuration's.
    pub ikev1_timers: Option<Ikev1Timers>,
}

impl std::fmt::Debug for ProviderOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderOptions")
            .field("tun", &self.tun)
            .field("local", &self.local)
            .field("ports", &self.ports)
            .field("server_port", &self.server_port)
            .field("server", &self.server)
            .field("host", &self.host.as_ref().map(|_| "<factory>"))
            .field("keylog", &self.keylog.as_ref().map(|_| "<set>"))
            .field("ikev1_timers", &self.ikev1_timers)
            .finish()
    }
}

/// The IKE SA of the running tunnel, as status displays show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IkeSaStatus {
    /// Encryption, e.g. `AES-GCM-16-256`.
    pub encryption: String,
    /// PRF, e.g. `PRF-HMAC-SHA2-256`.
    pub prf: String,
    /// Key exchange group.
    pub group: String,
    /// Initiator's SPI.
    pub spi_i: Spi64,
    /// Responder's SPI.
    pub spi_r: Spi64,
    /// Hard lifetime, seconds.
    pub lifetime_s: u64,
}

/// A child SA of the running tunnel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildSaStatus {
    /// SPI the server puts on packets to us.
    pub spi_in: Spi32,
    /// SPI we put on packets to the server.
    pub spi_out: Spi32,
    /// Encryption, e.g. `AES-GCM-16-128`.
    pub encryption: String,
    /// Extended sequence numbers.
    pub esn: bool,
    /// Hard lifetime, seconds.
    pub lifetime_s: u64,
    /// ESP in UDP (a NAT was detected, or the datapath forces it).
    pub udp_encapsulation: bool,
}

/// What the running tunnel knows, for status displays.
#[derive(Debug, Clone, Default)]
pub struct TunnelStatus {
    /// The server's IKE address.
    pub server: Option<SocketAddr>,
    /// Our address the IKE SA runs from now: the session's at the start, then wherever MOBIKE
    /// moved it (RFC 4555).
    pub local: Option<IpAddr>,
    /// Times MOBIKE moved the IKE SA and its child SAs to a new path.
    pub path_updates: u64,
    /// The PPK_ID of the post-quantum preshared key mixed into the IKE SA's keys (RFC 8784),
    /// when the server used it.
    pub ppk_id: Option<String>,
    /// Internal addresses the server assigned.
    pub addresses: Vec<String>,
    /// DNS servers the server handed out.
    pub dns: Vec<String>,
    /// DNS search domains the server handed out.
    pub domains: Vec<String>,
    /// IKEv1 (Cisco Unity): the gateway's banner for the user, from mode config.
    pub banner: Option<String>,
    /// IKEv1: what mode config said that is reported, never applied (NBNS servers, address
    /// expiry, Cisco UNITY save-password, PFS, backup servers, local LAN).
    pub mode_config_notes: Option<ikeway_tunnel::ModeConfigNotes>,
    /// IKE_SA_INIT completed (the session's `authenticating` event): keyed, the server not
    /// authenticated yet. What a progress display tells apart from waiting for the server.
    /// IKEv1: phase 1 done, XAUTH under way.
    pub keyed: bool,
    /// IKEv1 ("Cisco IPSec"): the phase 1 exchange the session runs; `None` for IKEv2. A
    /// progress display names IKEv1's own exchanges by it.
    pub ikev1: Option<crate::Phase1Mode>,
    /// The server's configuration (CFG_REPLY, IKEv1 mode config) arrived.
    pub configured: bool,
    /// The IKE SA, once up.
    pub ike: Option<IkeSaStatus>,
    /// The child SAs installed now.
    pub children: Vec<ChildSaStatus>,
    /// The running session, for its datapath counters.
    pub session: Option<SessionHandle>,
    /// What the host changes left out (settings not applied, server configuration not
    /// used), one line each, for the log.
    pub notes: Vec<String>,
    /// Why the last tunnel failed on this host (a host change that could not be made or
    /// undone).
    pub host_error: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A [`TunnelProvider`] over [`Session`]: one session per start, on a thread of its own.
#[derive(Debug)]
pub struct SessionProvider {
    options: ProviderOptions,
    server: Arc<Mutex<Option<IpAddr>>>,
    status: Arc<Mutex<TunnelStatus>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SessionProvider {
    /// A provider running sessions with `options`.
    pub fn new(options: ProviderOptions) -> Self {
        let server = Arc::new(Mutex::new(options.server));
        Self { options, server, status: Arc::default(), stop: Arc::default(), thread: None }
    }

    /// The server address the next starts use instead of resolving the configuration's
    /// ([`ProviderOptions::server`]), shared: the kill switch's owner sets it when it engages
    /// and clears it when it lifts, after the provider went to a [`crate::VpnConnection`].
    pub fn pinned_server(&self) -> Arc<Mutex<Option<IpAddr>>> {
        Arc::clone(&self.server)
    }

    /// The running tunnel's status, shared: it stays readable after the provider is handed
    /// to a [`crate::VpnConnection`].
    pub fn status(&self) -> Arc<Mutex<TunnelStatus>> {
        Arc::clone(&self.status)
    }
}

fn fail(error: DisconnectError, message: String) -> ProviderError {
    ProviderError { error, message }
}

/// The first address `server` resolves to.
fn resolve(server: &str) -> Result<IpAddr, ProviderError> {
    (server, 500).to_socket_addrs().ok().and_then(|mut a| a.next()).map(|a| a.ip()).ok_or_else(
        || {
            fail(
                DisconnectError::ServerAddressResolutionFailed,
                format!("{server} does not resolve"),
            )
        },
    )
}

/// The source address this host uses toward `server` (no packet is sent).
fn source_toward(server: IpAddr) -> Result<IpAddr, ProviderError> {
    UdpSocket::bind(if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })
        .and_then(|s| s.connect((server, 500)).map(|()| s))
        .and_then(|s| s.local_addr())
        .map(|a| a.ip())
        .map_err(|e| {
            fail(DisconnectError::NoNetworkAvailable, format!("no route to {server}: {e}"))
        })
}

impl TunnelProvider for SessionProvider {
    fn start(&mut self, request: TunnelRequest, events: TunnelEvents) -> Result<(), ProviderError> {
        let pinned = *lock(&self.server);
        let server = match pinned {
            Some(s) => s,
            None => resolve(&request.server_address)?,
        };
        let local = match self.options.local {
            Some(l) => l,
            None => source_toward(server)?,
        };
        // The previous session (if any) has reported Closed; its thread is ending.
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.stop.store(false, Ordering::SeqCst);
        *lock(&self.status) = TunnelStatus::default();
        let server_port = self.options.server_port.unwrap_or(500);
        let remote = SocketAddr::new(server, server_port);
        let (mut options, ike_lifetime) = match &request.ikev1 {
            Some(v1) => {
                let mut v1 = v1.clone();
                if let Some(timers) = &self.options.ikev1_timers {
                    timers.apply(&mut v1);
                }
                let lifetime = v1.lifetime.as_secs();
                (SessionOptions::ikev1_initiator(local, remote, v1), lifetime)
            }
            None => {
                let mut options = SessionOptions::initiator(local, server, request.config.clone());
                options.role = Role::Initiator { remote };
                (options, request.config.lifetimes.ike.as_secs())
            }
        };
        if let Some(ports) = self.options.ports {
            options = options.with_ports(ports);
        }
        if let Some(sink) = &self.options.keylog {
            let (v2, v1) = (Arc::clone(sink), Arc::clone(sink));
            options = options
                .with_keylog(Box::new(move |k| v2.ikev2(k)))
                .with_ikev1_keylog(Box::new(move |k| v1.ikev1(k)));
        }
        let settings = crate::routing::routing_settings(&request.configuration);
        if let Some(tun) = &self.options.tun {
            let mut tun = TunOptions::new(tun.clone());
            // The profile's MTU is the TUN device's (the plan sets it on the link; the datapath
            // sizes its buffers by it): the largest inner packet the tunnel carries.
            tun.mtu = settings.mtu.unwrap_or(DEFAULT_MTU) as usize;
            options = options.with_tun(tun);
        }
        let host = match self.options.host.as_mut() {
            Some(make) => {
                let mut settings = settings;
                // excludeLocalNetworks = NO: the local networks as they are at this start.
                if (settings.include_all_networks || settings.enforce_routes)
                    && !settings.exclude_local_networks
                    && let Some(tun) = &self.options.tun
                {
                    settings.local_networks = ikeway_tunnel::host::killswitch::local_networks(tun)
                        .map_err(|e| fail(DisconnectError::PluginFailed, e.to_string()))?;
                }
                let host =
                    make().map_err(|e| fail(DisconnectError::PluginFailed, e.to_string()))?;
                Some(SessionHost::new(host, settings, server))
            }
            None => None,
        };
        let session = Session::start(options)
            .map_err(|e| fail(DisconnectError::PluginFailed, e.to_string()))?;
        {
            let mut status = lock(&self.status);
            status.server = Some(SocketAddr::new(server, server_port));
            status.local = Some(session.local_addr().ip());
            status.session = Some(session.handle());
            status.ikev1 = request.ikev1.as_ref().map(|c| c.mode);
        }
        let follow = Follow {
            status: Arc::clone(&self.status),
            events,
            host,
            ike_lifetime,
            config: None,
            up: false,
            reasserting: false,
            child_refused: None,
            closed: None,
        };
        let stop = Arc::clone(&self.stop);
        let thread = std::thread::Builder::new()
            .name("ikeway-tunnel".into())
            .spawn(move || follow.run(session, &stop))
            .map_err(|e| fail(DisconnectError::PluginFailed, e.to_string()))?;
        self.thread = Some(thread);
        Ok(())
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = lock(&self.status).session.clone() {
            let _ = handle.disconnect(DELETE_GRACE);
        }
    }
}

/// Follows one session's events for the connection and the status.
struct Follow {
    status: Arc<Mutex<TunnelStatus>>,
    events: TunnelEvents,
    host: Option<SessionHost<Box<dyn HostNetwork + Send>>>,
    ike_lifetime: u64,
    config: Option<ConfigReceived>,
    up: bool,
    /// The session said it has no path to the server (MOBIKE) and has not recovered yet.
    reasserting: bool,
    /// The server refused the first child SA: the IKE SA alone carries nothing.
    child_refused: Option<String>,
    closed: Option<CloseCause>,
}

impl Follow {
    fn run(mut self, session: Session, stop: &AtomicBool) {
        // A stop that came before the handle was published.
        if stop.load(Ordering::SeqCst) {
            let _ = session.handle().disconnect(DELETE_GRACE);
        }
        let mut failed = None;
        for e in session.events() {
            if let Err(why) = self.on(&e) {
                // Dropping nothing yet: the session ends, then the host is undone below.
                failed.get_or_insert(why);
                let _ = session.handle().shutdown();
            }
        }
        let ended = session.wait();
        if let Some(mut host) = self.host.take()
            && let Err(e) = host.undo()
        {
            failed.get_or_insert(format!("undoing the host changes: {e}"));
        }
        let mut status = lock(&self.status);
        status.session = None;
        status.host_error = failed.clone();
        drop(status);
        let cause = match (failed, ended) {
            (Some(_), _) | (None, Err(_)) => CloseCause::ProviderFailed,
            _ if stop.load(Ordering::SeqCst) => CloseCause::LocalStop,
            _ => self.closed.unwrap_or(CloseCause::LocalStop),
        };
        // The refused child's notify is what a person needs to see (which proposal, which
        // selectors): the reason of the NegotiationFailed it ends with.
        match (cause, self.child_refused.take()) {
            (CloseCause::NegotiationFailed, Some(why)) => self.events.report_closed(cause, why),
            _ => self.events.report(TunnelEvent::Closed(cause)),
        }
    }

    fn on(&mut self, e: &SessionEvent) -> Result<(), String> {
        // The first child SA: the plan from the routing settings, the server's configuration
        // and the child's selectors, carried out (and recorded before each change) by the host.
        let applied = self.host.as_mut().map(|h| h.on_event(e)).transpose();
        if let Some(applied) = applied.map_err(|e| e.to_string())?.flatten() {
            let notes =
                applied.not_applied.iter().map(|n| format!("unsupported, not applied: {n}")).chain(
                    applied
                        .dropped
                        .iter()
                        .map(|d| format!("not used from the server's configuration: {d}")),
                );
            lock(&self.status).notes.extend(notes);
        }
        match &e.kind {
            EventKind::IkeSaUp { cipher, prf_name, group, spi_i, spi_r, .. } => {
                lock(&self.status).ike = Some(IkeSaStatus {
                    encryption: cipher.clone(),
                    prf: prf_name.clone(),
                    group: group.clone(),
                    spi_i: *spi_i,
                    spi_r: *spi_r,
                    lifetime_s: self.ike_lifetime,
                });
            }
            kind @ EventKind::ConfigReceived { .. } => {
                let Some(c) = kind.config() else { return Ok(()) };
                let mut status = lock(&self.status);
                status.addresses = c.addresses.iter().map(|(a, n)| format!("{a}/{n}")).collect();
                status.dns = c.dns.iter().map(ToString::to_string).collect();
                status.domains = c.dns_domains.clone();
                status.configured = true;
                drop(status);
                self.config = Some(c);
            }
            EventKind::ChildSaInstalled {
                spi_in,
                spi_out,
                cipher,
                esn,
                lifetime_s,
                udp_encapsulation,
                replaces,
                ..
            } => {
                {
                    let mut status = lock(&self.status);
                    status.children.retain(|c| c.spi_in != *spi_in);
                    status.children.push(ChildSaStatus {
                        spi_in: *spi_in,
                        spi_out: *spi_out,
                        encryption: cipher.clone(),
                        esn: *esn,
                        lifetime_s: *lifetime_s,
                        udp_encapsulation: *udp_encapsulation,
                    });
                }
                if replaces.is_none() && !self.up {
                    self.up = true;
                    self.events.report(TunnelEvent::Up(self.config.clone().unwrap_or_default()));
                }
            }
            EventKind::ChildSaRemoved { spi_in, .. } => {
                lock(&self.status).children.retain(|c| c.spi_in != *spi_in);
            }
            // A retransmission on an established SA: the server stopped answering.
            EventKind::PeerUnresponsive { .. } => self.events.report(TunnelEvent::Unresponsive),
            // MOBIKE: no path to the server, then a path again (the IKE SA moved to it).
            EventKind::PathUpdated { local, .. } => {
                let mut status = lock(&self.status);
                status.local = Some(local.ip());
                status.path_updates += 1;
            }
            EventKind::Status { status: Status::Reasserting } => {
                self.reasserting = true;
                self.events.report(TunnelEvent::Unresponsive);
            }
            EventKind::Status { status: Status::Connected } if self.reasserting => {
                self.reasserting = false;
                self.events.report(TunnelEvent::Up(self.config.clone().unwrap_or_default()));
            }
            EventKind::Authenticating { .. } => lock(&self.status).keyed = true,
            EventKind::Banner { text } => lock(&self.status).banner = Some(text.clone()),
            EventKind::ModeConfigNotes { notes } => {
                lock(&self.status).mode_config_notes = Some(notes.clone())
            }
            EventKind::RenewalFailed { .. } => lock(&self.status).notes.push(e.kind.to_string()),
            EventKind::PpkUsed { ppk_id } => lock(&self.status).ppk_id = Some(ppk_id.clone()),
            // Without its first child SA the tunnel would sit "connecting" with nothing to
            // carry until the caller gave up: end it, with the negotiation as the reason.
            EventKind::ChildSaRefused { notify } if !self.up => {
                let why = format!("the server refused the child SA: {notify}");
                let mut status = lock(&self.status);
                status.notes.push(why.clone());
                self.child_refused = Some(why);
                if let Some(session) = status.session.clone() {
                    let _ = session.disconnect(DELETE_GRACE);
                }
            }
            EventKind::IkeSaClosed { reason } => {
                lock(&self.status).keyed = false;
                self.closed = Some(if self.child_refused.is_some() {
                    CloseCause::NegotiationFailed
                } else {
                    CloseCause::from(*reason)
                });
            }
            // RFC 5685: the session moved to another server, which the status names now.
            EventKind::Redirected { to, .. } => {
                self.closed = None;
                let mut status = lock(&self.status);
                let port = status.server.map_or(500, |s| s.port());
                status.server = Some(SocketAddr::new(*to, port));
                status.notes.push(format!("redirected by the server to {to}"));
            }
            // Reported after the IKE SA's close: the session ends on it.
            EventKind::RedirectFailed { failure, .. } => {
                self.closed = Some(CloseCause::Redirect(*failure));
            }
            _ => {}
        }
        Ok(())
    }
}
