//! `ikeway connect`, `ikeway status`, `ikeway disconnect`: a saved configuration brought up
//! through the manager's `VpnConnection`, with the tunnel provider implemented here: the IKE
//! engine over UDP, the ESP datapath over a TUN device, and the host's addresses, routes and
//! DNS set from the server's configuration through `ikeway_tunnel::host` (a `TunnelPlan`
//! carried out by `LinuxHost`) and undone on disconnect.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use ikeway_manager::{
    CloseCause, DisconnectError, PreferencesStore, ProviderError, TunnelEvent, TunnelEvents,
    TunnelProvider, TunnelRequest, VpnConnection, VpnStatus,
};
use ikeway_tunnel::host::{DEFAULT_MTU, LinuxHost, SessionHost, StateFile};
use ikeway_tunnel::{EventKind, Session, SessionEvent, SessionHandle, SessionOptions, TunOptions};
use serde_json::{Value, json};

use super::control::{self, Request};
use super::runtime_dir::{self, Dir};
use crate::progress::{Phase, Phases};

#[derive(Args, Debug)]
pub(crate) struct ConnectArgs {
    /// The configuration to connect (see `ikeway config list`).
    name: String,
    /// Stay attached until disconnected or interrupted (SIGINT/SIGTERM disconnect cleanly).
    #[arg(long)]
    foreground: bool,
    /// TUN device for the tunnel: `ikeway` and 1-9 digits (only such links are ever undone).
    #[arg(long, default_value = "ikeway0")]
    tun: String,
    /// Our address for IKE (default: the source address the host uses toward the server).
    #[arg(long)]
    local: Option<IpAddr>,
    /// Seconds to wait for the connection when not in the foreground.
    #[arg(long, default_value_t = 30)]
    wait: u64,
}

#[derive(Args, Debug)]
pub(crate) struct StatusArgs {
    #[arg(long)]
    json: bool,
    /// Print again whenever something changes (every second), until interrupted.
    #[arg(long)]
    watch: bool,
}

#[allow(clippy::print_stdout)]
fn say(s: &str) {
    println!("{s}");
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// What the running tunnel knows, for `status`.
#[derive(Debug, Default)]
struct Live {
    server: Option<SocketAddr>,
    addresses: Vec<String>,
    dns: Vec<String>,
    domains: Vec<String>,
    ike: Option<Value>,
    children: Vec<Value>,
    /// The running session, for its datapath counters.
    session: Option<SessionHandle>,
}

/// How long a disconnect waits for the server's answer to DELETE: a server that is gone must
/// not hold the host's routes and DNS.
const DELETE_GRACE: Duration = Duration::from_secs(3);

/// The tunnel: runs on its own thread from `start` until the IKE SA closes.
struct UdpTunnel {
    tun: String,
    local: Option<IpAddr>,
    dir: Arc<Dir>,
    live: Arc<Mutex<Live>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TunnelProvider for UdpTunnel {
    fn start(&mut self, request: TunnelRequest, events: TunnelEvents) -> Result<(), ProviderError> {
        let fail = |error, message: String| ProviderError { error, message };
        let server_ip = (request.server_address.as_str(), 500)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip())
            .ok_or_else(|| {
                fail(
                    DisconnectError::ServerAddressResolutionFailed,
                    format!("{} does not resolve", request.server_address),
                )
            })?;
        let local = match self.local {
            Some(l) => l,
            None => UdpSocket::bind(if server_ip.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })
                .and_then(|s| s.connect((server_ip, 500)).map(|()| s))
                .and_then(|s| s.local_addr())
                .map(|a| a.ip())
                .map_err(|e| {
                    fail(
                        DisconnectError::NoNetworkAvailable,
                        format!("no route to {server_ip}: {e}"),
                    )
                })?,
        };
        self.stop.store(false, Ordering::SeqCst);
        let (tun, dir, live, stop) = (
            self.tun.clone(),
            Arc::clone(&self.dir),
            Arc::clone(&self.live),
            Arc::clone(&self.stop),
        );
        let thread = std::thread::Builder::new()
            .name("tunnel".into())
            .spawn(move || {
                let cause = match run_tunnel(
                    request, &tun, &dir, local, server_ip, &live, &stop, &events,
                ) {
                    Ok(cause) => cause,
                    Err(e) => {
                        report_error(&e);
                        CloseCause::NegotiationFailed
                    }
                };
                events.report(TunnelEvent::Closed(cause));
            })
            .map_err(|e| fail(DisconnectError::PluginFailed, e.to_string()))?;
        self.thread = Some(thread);
        Ok(())
    }

    fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // A session that starts after this sees `stop` itself.
        if let Some(handle) = self.live.lock().ok().and_then(|l| l.session.clone()) {
            let _ = handle.disconnect(DELETE_GRACE);
        }
    }
}

#[allow(clippy::print_stderr)]
fn report_error(e: &anyhow::Error) {
    eprintln!("ikeway: tunnel: {e:#}");
}

/// The tunnel's life: negotiate, install, route; returns why it ended. Host changes are
/// undone on every way out.
#[allow(clippy::too_many_arguments)]
fn run_tunnel(
    request: TunnelRequest,
    tun: &str,
    dir: &Dir,
    local: IpAddr,
    server_ip: IpAddr,
    live: &Mutex<Live>,
    stop: &AtomicBool,
    events: &TunnelEvents,
) -> Result<CloseCause> {
    let settings = ikeway_manager::routing_settings(&request.configuration);
    let linux = LinuxHost::new(tun, state_store(dir)?)?;
    let mut host = SessionHost::new(linux, settings, server_ip);
    let result = negotiate(request, &mut host, tun, local, server_ip, live, stop, events);
    if let Ok(mut l) = live.lock() {
        l.session = None;
    }
    host.undo()?;
    result
}

/// What the tunnel does with the session's events: the status snapshot, the host's routes
/// and DNS, and the connection's status.
struct Follow<'a> {
    host: &'a mut SessionHost<LinuxHost>,
    live: &'a Mutex<Live>,
    events: &'a TunnelEvents,
    ike_lifetime: u64,
    config: Option<ikeway_sa::ConfigReceived>,
    up: bool,
    closed: Option<CloseCause>,
}

impl Follow<'_> {
    fn on(&mut self, e: &SessionEvent) -> Result<()> {
        // The first child SA: addresses, MTU, DNS and routes from the server's configuration
        // and the child's selectors, recorded and undone on every way out.
        if let Some(applied) = self.host.on_event(e)? {
            for n in applied.not_applied {
                say(&format!("unsupported, not applied: {n}"));
            }
            for dropped in applied.dropped {
                say(&format!("not used from the server's configuration: {dropped}"));
            }
        }
        match &e.kind {
            EventKind::IkeSaUp { cipher, prf_name, group, spi_i, spi_r, .. } => {
                if let Ok(mut l) = self.live.lock() {
                    l.ike = Some(json!({
                        "encryption": cipher,
                        "prf": prf_name,
                        "group": group,
                        "spi_i": spi_i,
                        "spi_r": spi_r,
                        "lifetime_s": self.ike_lifetime,
                    }));
                }
            }
            kind @ EventKind::ConfigReceived { .. } => {
                let Some(c) = kind.config() else { return Ok(()) };
                if let Ok(mut l) = self.live.lock() {
                    l.addresses = c.addresses.iter().map(|(a, n)| format!("{a}/{n}")).collect();
                    l.dns = c.dns.iter().map(ToString::to_string).collect();
                    l.domains = c.dns_domains.clone();
                }
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
                if let Ok(mut l) = self.live.lock() {
                    l.children.retain(|c| c["spi_in"] != json!(spi_in));
                    l.children.push(json!({
                        "spi_in": spi_in,
                        "spi_out": spi_out,
                        "encryption": cipher,
                        "esn": esn,
                        "lifetime_s": lifetime_s,
                        "udp_encapsulation": udp_encapsulation,
                    }));
                }
                if replaces.is_none() && !self.up {
                    self.up = true;
                    self.events.report(TunnelEvent::Up(self.config.clone().unwrap_or_default()));
                }
            }
            EventKind::ChildSaRemoved { spi_in, .. } => {
                if let Ok(mut l) = self.live.lock() {
                    l.children.retain(|c| c["spi_in"] != json!(spi_in));
                }
            }
            // A retransmission on an established SA: the server stopped answering (reasserting).
            EventKind::PeerUnresponsive { .. } => self.events.report(TunnelEvent::Unresponsive),
            EventKind::IkeSaClosed { reason } => self.closed = Some(CloseCause::from(*reason)),
            _ => {}
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
fn negotiate<'a>(
    request: TunnelRequest,
    host: &'a mut SessionHost<LinuxHost>,
    tun: &str,
    local: IpAddr,
    server_ip: IpAddr,
    live: &'a Mutex<Live>,
    stop: &AtomicBool,
    events: &'a TunnelEvents,
) -> Result<CloseCause> {
    let mut tun_options = TunOptions::new(tun);
    // The profile's MTU is the TUN device's (the plan sets it on the link; the datapath sizes
    // its buffers by it): the largest inner packet the tunnel carries.
    let mtu = request.configuration.protocol.as_ref().and_then(|p| p.mtu);
    tun_options.mtu = mtu.unwrap_or(DEFAULT_MTU) as usize;
    let session = Session::start(
        SessionOptions::initiator(local, server_ip, request.config.clone()).with_tun(tun_options),
    )?;
    if let Ok(mut l) = live.lock() {
        l.server = Some(SocketAddr::new(server_ip, 500));
        l.session = Some(session.handle());
    }
    // A stop that came before the handle was published.
    if stop.load(Ordering::SeqCst) {
        let _ = session.handle().disconnect(DELETE_GRACE);
    }
    let mut follow = Follow {
        host,
        live,
        events,
        ike_lifetime: request.config.lifetimes.ike.as_secs(),
        config: None,
        up: false,
        closed: None,
    };
    for e in session.events() {
        if let Err(err) = follow.on(&e) {
            // Dropping the session shuts it down and frees the ports and the TUN device.
            drop(session);
            return Err(err);
        }
    }
    session.wait()?;
    Ok(if stop.load(Ordering::SeqCst) {
        CloseCause::LocalStop
    } else {
        follow.closed.unwrap_or(CloseCause::LocalStop)
    })
}

fn snapshot(connection: &VpnConnection, live: &Mutex<Live>, name: &str) -> Value {
    let l = live.lock();
    let l = l.as_deref();
    json!({
        "configuration": name,
        "status": format!("{:?}", connection.status()).to_lowercase(),
        "connected_since": connection.connected_date().map(unix_seconds),
        "last_disconnect_error": connection.last_disconnect_error().map(|e| format!("{e:?}")),
        "server": l.ok().and_then(|l| l.server).map(|s| s.to_string()),
        "internal_addresses": l.ok().map(|l| l.addresses.clone()),
        "dns": l.ok().map(|l| l.dns.clone()),
        "domains": l.ok().map(|l| l.domains.clone()),
        "ike_sa": l.ok().and_then(|l| l.ike.clone()),
        "child_sas": l.ok().map(|l| l.children.clone()),
        "datapath": l.ok().and_then(|l| l.session.as_ref()?.datapath_stats()).map(|d| {
            serde_json::to_value(SessionEvent::new(EventKind::DatapathStats(d))).unwrap_or_default()
        }),
    })
}

/// The on-demand rules, when on-demand is enabled for the configuration.
fn on_demand_rules(connection: &VpnConnection) -> Option<Vec<ikeway_manager::OnDemandRule>> {
    let c = connection.configuration()?;
    (c.on_demand_enabled && !c.on_demand_rules.is_empty()).then(|| c.on_demand_rules.clone())
}

/// What on-demand rules match on, read from this host: a wired interface (Linux hosts are
/// matched as Ethernet), and the resolver's servers and search domains.
fn network_state() -> ikeway_manager::NetworkState {
    let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut state = ikeway_manager::NetworkState {
        interface_type: Some(ikeway_manager::InterfaceType::Ethernet),
        ssid: None,
        dns_search_domains: Vec::new(),
        dns_servers: Vec::new(),
    };
    for line in resolv.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                state.dns_servers.extend(words.next().and_then(|a| a.parse::<IpAddr>().ok()))
            }
            Some("search" | "domain") => state.dns_search_domains.extend(words.map(str::to_owned)),
            _ => {}
        }
    }
    state
}

/// The host-state record in the runtime directory.
fn state_store(dir: &Dir) -> Result<Box<StateFile>> {
    Ok(Box::new(StateFile::new(dir.files().try_clone()?)))
}

fn cleanup_stale(dir: &Dir) -> Result<()> {
    if control::ask(Request::Status)?.is_some() {
        bail!("a connection is already running; `ikeway disconnect` first");
    }
    if LinuxHost::recover(state_store(dir)?, None)? {
        say("cleaned up after a connection that did not end cleanly");
    }
    Ok(())
}

pub(crate) fn connect(args: ConnectArgs) -> Result<()> {
    if !ikeway_tunnel::host::record::is_our_link(&args.tun) {
        bail!("--tun {:?}: the TUN device must be named ikeway followed by 1-9 digits", args.tun);
    }
    let dir = Arc::new(Dir::for_connection()?);
    if !args.foreground {
        return connect_in_background(&args, &dir);
    }
    cleanup_stale(&dir)?;
    let store = PreferencesStore::open_default()?;
    let (mut configuration, _) = super::config::find(&store, &args.name)?;
    if !configuration.enabled {
        // Connecting is the user's switch: enable it, which disables the other ones.
        super::config::enable(&store, &args.name)?;
        configuration.enabled = true;
        say(&format!("{}: enabled", args.name));
    }
    let live = Arc::new(Mutex::new(Live::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let provider = UdpTunnel {
        tun: args.tun.clone(),
        local: args.local,
        dir: Arc::clone(&dir),
        live: Arc::clone(&live),
        stop: Arc::clone(&stop),
        thread: None,
    };
    let mut connection = VpnConnection::new(Box::new(provider), Box::new(store.secrets().clone()));
    connection.set_configuration(Some(configuration));
    let changes = connection.subscribe();
    let snap = Arc::new(Mutex::new(snapshot(&connection, &live, &args.name)));
    let stop_request = Arc::new(AtomicBool::new(false));
    let _listening = {
        let s = Arc::clone(&stop_request);
        let listening =
            control::serve(&dir, control::starting_uid(), Arc::clone(&snap), move || {
                s.store(true, Ordering::SeqCst)
            })?;
        let s = Arc::clone(&stop_request);
        ctrlc::set_handler(move || s.store(true, Ordering::SeqCst))
            .context("installing the signal handler")?;
        listening
    };
    let on_demand = on_demand_rules(&connection);
    let unsupported = connection.start_tunnel().context("starting the tunnel")?;
    // The routing flags are the tunnel plan's to carry out, and it reports what it cannot
    // (`TunnelPlan::not_applied`) once the server's configuration is in.
    for u in unsupported
        .iter()
        .filter(|u| !matches!(u.field, "include_all_networks" | "exclude_local_networks"))
    {
        say(&format!("unsupported, not applied: {} ({})", u.field, u.reason));
    }
    say(&format!("{}: connecting", args.name));
    let mut stopping = false;
    let mut retry_at: Option<Instant> = None;
    loop {
        if stop_request.load(Ordering::SeqCst) && !stopping {
            stopping = true;
            connection.stop_tunnel();
        }
        if let Ok(change) = changes.recv_timeout(Duration::from_millis(200)) {
            match change.error {
                Some(e) => {
                    say(&format!("{}: {:?} -> {:?} ({e})", args.name, change.from, change.to))
                }
                None => say(&format!("{}: {:?} -> {:?}", args.name, change.from, change.to)),
            }
        }
        if let Ok(mut s) = snap.lock() {
            *s = snapshot(&connection, &live, &args.name);
        }
        if connection.status() == VpnStatus::Disconnected {
            // VPN On Demand: a connection the user did not stop comes back when the rules
            // for the current network say Connect.
            let Some(rules) = on_demand.as_ref().filter(|_| !stopping) else { break };
            let now = Instant::now();
            match retry_at {
                None => retry_at = Some(now + Duration::from_secs(2)),
                Some(t) if now >= t => {
                    retry_at = None;
                    if matches!(
                        ikeway_manager::evaluate(rules, &network_state(), &|_: &str| false),
                        ikeway_manager::OnDemandDecision::Connect { .. }
                    ) {
                        say(&format!("{}: on demand: reconnecting", args.name));
                        if let Err(e) = connection.start_tunnel() {
                            say(&format!("{}: on demand: {e}", args.name));
                        }
                    }
                }
                Some(_) => {}
            }
        }
    }
    match connection.last_disconnect_error() {
        Some(e) if !stopping => bail!("disconnected: {e}"),
        _ => Ok(()),
    }
}

/// Starts `connect --foreground` as a detached process with its output in the runtime
/// directory, and waits until it is connected or has failed.
fn connect_in_background(args: &ConnectArgs, dir: &Dir) -> Result<()> {
    let log = dir.path().join("connection.log");
    let out = dir.create_new("connection.log", 0o600)?;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["connect", &args.name, "--foreground", "--tun", &args.tun]);
    if let Some(l) = args.local {
        cmd.args(["--local", &l.to_string()]);
    }
    let mut child =
        cmd.stdin(std::process::Stdio::null()).stdout(out.try_clone()?).stderr(out).spawn()?;
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let mut phases = Phases::new(&args.name, crate::progress::wanted(false));
    phases.set(Phase::Resolving);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            drop(phases);
            let text = dir.read("connection.log", 1 << 20)?.unwrap_or_default();
            bail!("the connection ended ({status}): {}", String::from_utf8_lossy(&text).trim());
        }
        let snapshot = control::ask(Request::Status)?;
        phases.set(Phase::of_snapshot(snapshot.as_ref()));
        if phases.current() == Some(Phase::Connected) {
            drop(phases);
            say(&format!("{}: connected (log: {})", args.name, log.display()));
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let reached = phases.current().unwrap_or(Phase::Resolving);
    drop(phases);
    bail!("not connected after {} s (last: {reached}); see {}", args.wait, log.display())
}

pub(crate) fn status(args: StatusArgs) -> Result<()> {
    let mut last = String::new();
    loop {
        let snap = control::ask(Request::Status)?;
        let text = match (&snap, args.json) {
            (Some(s), true) => serde_json::to_string_pretty(s)?,
            (None, true) => json!({"status": "disconnected"}).to_string(),
            (Some(s), false) => table(s),
            (None, false) => "disconnected".to_owned(),
        };
        if text != last {
            say(&text);
            last = text;
        }
        if !args.watch {
            return Ok(());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn table(s: &Value) -> String {
    let field = |v: &Value| match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    let mut rows = vec![
        ("configuration", field(&s["configuration"])),
        ("status", field(&s["status"])),
        ("connected since", field(&s["connected_since"])),
        ("server", field(&s["server"])),
        ("internal address", field(&s["internal_addresses"])),
        ("DNS", format!("{} {}", field(&s["dns"]), field(&s["domains"]))),
    ];
    if let Some(ike) = s["ike_sa"].as_object() {
        rows.push((
            "IKE SA",
            format!(
                "{} / {} / {}, lifetime {} s",
                field(&ike["encryption"]),
                field(&ike["prf"]),
                field(&ike["group"]),
                field(&ike["lifetime_s"])
            ),
        ));
    }
    for c in s["child_sas"].as_array().into_iter().flatten() {
        rows.push((
            "child SA",
            format!(
                "ESP {}, SPIs in {} out {}, lifetime {} s",
                field(&c["encryption"]),
                field(&c["spi_in"]),
                field(&c["spi_out"]),
                field(&c["lifetime_s"])
            ),
        ));
    }
    if !s["datapath"].is_null() {
        rows.push(("datapath", s["datapath"].to_string()));
    }
    if !s["last_disconnect_error"].is_null() {
        rows.push(("last error", field(&s["last_disconnect_error"])));
    }
    rows.iter().map(|(k, v)| format!("{k:<18} {v}")).collect::<Vec<_>>().join("\n")
}

pub(crate) fn disconnect() -> Result<()> {
    // The connection may end before it finishes answering: a broken reply still means the
    // request arrived, so only "nobody listens" counts as not connected.
    if matches!(control::ask(Request::Disconnect), Ok(None)) {
        // Nothing runs; a crashed connection may still have left host changes behind.
        let cleaned = match runtime_dir::home_existing() {
            Ok(Some(dir)) => LinuxHost::recover(state_store(&dir)?, None)?,
            // No runtime directory of ours (a user without XDG_RUNTIME_DIR): nothing of ours
            // can be left behind.
            Ok(None) | Err(_) => false,
        };
        if cleaned {
            say("not connected; cleaned up what a crashed connection left behind");
        } else {
            say("not connected");
        }
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if control::ask(Request::Status)?.is_none() {
            say("disconnected");
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("the connection did not end within 10 s")
}
