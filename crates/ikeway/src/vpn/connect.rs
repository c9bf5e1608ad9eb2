//! `ikeway connect`, `ikeway status`, `ikeway disconnect`: a saved configuration brought up
//! through the manager's `VpnConnection` and its `SessionProvider` (an `ikeway_tunnel::Session`
//! with the ESP datapath on a TUN device), the host's addresses, routes and DNS carried out by
//! `LinuxHost` with its record in this binary's runtime directory and undone on disconnect.
//! This module parses, prints and serves the control socket.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Args;
use ikeway_crypto::SecretBytes;
use ikeway_manager::{
    MAX_PASSWORD, PreferencesStore, ProviderOptions, SessionProvider, StartOptions, TunnelStatus,
    VpnConfiguration, VpnConnection, VpnStatus,
};
use ikeway_tunnel::host::{HostNetwork, LinuxHost, StateFile};
use ikeway_tunnel::{EventKind, SessionEvent};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::control::{self, Request};
use super::runtime_dir::{self, Dir};
use crate::progress::{Facts, Phase, Phases};

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
    /// Seconds to wait for the connection when not in the foreground; a connection not up by
    /// then is stopped and the command fails.
    #[arg(long, default_value_t = 30)]
    wait: u64,
    /// File holding the EAP password (first line), for this connection only: it takes the
    /// place of a stored one. Without either, the password is asked on the terminal.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// The EAP password on standard input: how `connect` hands a password it asked for to
    /// the background connection it starts (never on the command line, where `ps` shows it).
    #[arg(long, hide = true, conflicts_with = "password_file")]
    password_stdin: bool,
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

/// The connection's side of the status snapshot, as the main thread last saw it.
#[derive(Debug, Clone)]
struct ConnectionView {
    status: VpnStatus,
    connected_since: Option<SystemTime>,
    last_error: Option<ikeway_manager::DisconnectError>,
    last_reason: Option<String>,
}

impl ConnectionView {
    fn of(connection: &VpnConnection) -> Self {
        Self {
            status: connection.status(),
            connected_since: connection.connected_date(),
            last_error: connection.last_disconnect_error(),
            last_reason: connection.last_disconnect_reason(),
        }
    }
}

/// What `status` shows: the connection as last seen, the tunnel (SAs, datapath counters) as
/// it is when asked.
fn snapshot(connection: &ConnectionView, tunnel: &Mutex<TunnelStatus>, name: &str) -> Value {
    let t = tunnel.lock().unwrap_or_else(PoisonError::into_inner);
    json!({
        "configuration": name,
        "status": format!("{:?}", connection.status).to_lowercase(),
        "connected_since": connection.connected_since.map(unix_seconds),
        "last_disconnect_error": connection.last_error.map(|e| format!("{e:?}")),
        "last_disconnect_reason": connection.last_reason,
        "server": t.server.map(|s| s.to_string()),
        "local": t.local.map(|l| l.to_string()),
        "path_updates": t.path_updates,
        "ppk_id": t.ppk_id,
        "internal_addresses": t.addresses,
        "dns": t.dns,
        "domains": t.domains,
        "ike_sa": t.ike,
        "phase": Phase::of(Facts {
            connected: connection.status == VpnStatus::Connected,
            started: t.server.is_some(),
            keyed: t.keyed,
            authenticated: t.ike.is_some(),
        })
        .name(),
        "child_sas": t.children,
        "datapath": t.session.as_ref().and_then(|s| s.datapath_stats()).map(|d| {
            serde_json::to_value(SessionEvent::new(EventKind::DatapathStats(d))).unwrap_or_default()
        }),
    })
}

/// The tunnel provider of `connect`: a session on `tun`, with the host changes recorded in
/// the runtime directory (so a crashed connection is undone by the next one).
fn provider(args: &ConnectArgs, dir: &Arc<Dir>) -> SessionProvider {
    let (dir, tun) = (Arc::clone(dir), args.tun.clone());
    SessionProvider::new(ProviderOptions {
        tun: Some(args.tun.clone()),
        local: args.local,
        host: Some(Box::new(move || {
            let store = Box::new(StateFile::new(dir.files().try_clone()?));
            Ok(Box::new(LinuxHost::new(&tun, store)?) as Box<dyn HostNetwork + Send>)
        })),
        ..ProviderOptions::default()
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
    // An unknown name is said at once, before anything is set up or started.
    let store = PreferencesStore::open_default()?;
    let (mut configuration, _) = super::config::find(&store, &args.name)?;
    // Asked before anything starts, so a missing password fails at once.
    let password = start_password(&args, &configuration, &store)?;
    let dir = Arc::new(Dir::for_connection()?);
    if !args.foreground {
        return connect_in_background(&args, &dir, password);
    }
    cleanup_stale(&dir)?;
    if !configuration.enabled {
        // Connecting is the user's switch: enable it, which disables the other ones.
        super::config::enable(&store, &args.name)?;
        configuration.enabled = true;
        say(&format!("{}: enabled", args.name));
    }
    let provider = provider(&args, &dir);
    let tunnel = provider.status();
    let mut connection = VpnConnection::new(Box::new(provider), Box::new(store.secrets().clone()));
    connection.set_configuration(Some(configuration));
    let changes = connection.subscribe();
    let view = Arc::new(Mutex::new(ConnectionView::of(&connection)));
    // Ctrl-C, SIGTERM and `ikeway disconnect` all ask here; one pending request is enough.
    let (stop_tx, stop_requests) = crossbeam_channel::bounded::<()>(1);
    let _listening = {
        let (view, tunnel, name) = (Arc::clone(&view), Arc::clone(&tunnel), args.name.clone());
        let answer = move || {
            let v = view.lock().unwrap_or_else(PoisonError::into_inner).clone();
            snapshot(&v, &tunnel, &name)
        };
        let s = stop_tx.clone();
        let listening = control::serve(&dir, control::starting_uid(), answer, move || {
            let _ = s.try_send(());
        })?;
        ctrlc::set_handler(move || {
            let _ = stop_tx.try_send(());
        })
        .context("installing the signal handler")?;
        listening
    };
    let on_demand = on_demand_rules(&connection);
    let options = StartOptions { username: None, password };
    let unsupported = match connection.start_tunnel_with_options(options.clone()) {
        Ok(u) => u,
        Err(e) => {
            // Apple's name for it, then what went wrong (e.g. our certificate has expired).
            let code = connection.last_disconnect_error().map(|c| format!("{c:?}: "));
            bail!("starting the tunnel: {}{e}", code.unwrap_or_default());
        }
    };
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
    // Wakes for a status change, a stop request or an on-demand retry, nothing else.
    loop {
        *view.lock().unwrap_or_else(PoisonError::into_inner) = ConnectionView::of(&connection);
        if connection.status() == VpnStatus::Disconnected {
            // VPN On Demand: a connection the user did not stop comes back when the rules
            // for the current network say Connect.
            if stopping || on_demand.is_none() {
                break;
            }
            retry_at.get_or_insert_with(|| Instant::now() + ON_DEMAND_RETRY);
        }
        let mut select = crossbeam_channel::Select::new();
        let change_index = select.recv(&changes);
        let stop_index = select.recv(&stop_requests);
        let op = match retry_at {
            Some(at) => select.select_deadline(at).ok(),
            None => Some(select.select()),
        };
        match op {
            Some(op) if op.index() == change_index => {
                if let Ok(change) = op.recv(&changes) {
                    report(&args.name, &change, &tunnel);
                }
            }
            Some(op) if op.index() == stop_index => {
                let _ = op.recv(&stop_requests);
                if !stopping {
                    stopping = true;
                    connection.stop_tunnel();
                }
            }
            Some(_) => {}
            None => {
                retry_at = None;
                let rules = on_demand.as_deref().unwrap_or_default();
                if matches!(
                    ikeway_manager::evaluate(rules, &network_state(), &|_: &str| false),
                    ikeway_manager::OnDemandDecision::Connect { .. }
                ) {
                    say(&format!("{}: on demand: reconnecting", args.name));
                    if let Err(e) = connection.start_tunnel_with_options(options.clone()) {
                        say(&format!("{}: on demand: {e}", args.name));
                    }
                }
            }
        }
    }
    match connection.last_disconnect_error() {
        Some(e) if !stopping => {
            bail!("disconnected: {}", described(e, connection.last_disconnect_reason().as_deref()))
        }
        _ => Ok(()),
    }
}

/// The EAP password for this start: `--password-file`, the parent's pipe
/// (`--password-stdin`), or asked on the terminal when the configuration runs a password
/// method and the secret store has no password for it. `None`: the stored one, or none needed.
fn start_password(
    args: &ConnectArgs,
    configuration: &VpnConfiguration,
    store: &PreferencesStore,
) -> Result<Option<SecretBytes>> {
    if let Some(path) = &args.password_file {
        return crate::password::from_file(path).map(Some);
    }
    if args.password_stdin {
        return password_from_stdin().map(Some);
    }
    let Some(p) = &configuration.protocol else { return Ok(None) };
    // A configuration whose EAP cannot run fails when started, with Apple's error code.
    if !p.needs_password(store.secrets()).unwrap_or(false) {
        return Ok(None);
    }
    let user = p.username.as_deref().unwrap_or_default();
    crate::password::prompt(user, "--password-file").map(Some)
}

/// The first line of standard input, bounded: what the parent `connect` wrote.
fn password_from_stdin() -> Result<SecretBytes> {
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_PASSWORD + 2));
    std::io::stdin().lock().take(MAX_PASSWORD as u64 + 2).read_to_end(&mut buf)?;
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    if line.is_empty() || line.len() > MAX_PASSWORD {
        bail!("--password-stdin: expected a password of 1 to {MAX_PASSWORD} bytes");
    }
    Ok(SecretBytes::from_slice(line))
}

/// Apple's name of the error, its sentence and code, and the reason when there is one:
/// `ServerCertificateExpired: the server certificate has expired (NEVPNConnectionError 19):
/// the peer's certificate has expired`.
fn described(e: ikeway_manager::DisconnectError, reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!("{e:?}: {e}: {r}"),
        None => format!("{e:?}: {e}"),
    }
}

/// How long a connection that ended on its own waits before on-demand rules may bring it back.
const ON_DEMAND_RETRY: Duration = Duration::from_secs(2);

/// Prints a status change, with what the host changes left out once connected and why the
/// tunnel failed on this host when it did.
fn report(name: &str, change: &ikeway_manager::StatusChange, tunnel: &Mutex<TunnelStatus>) {
    match change.error {
        Some(e) => say(&format!(
            "{name}: {:?} -> {:?} ({})",
            change.from,
            change.to,
            described(e, change.reason.as_deref())
        )),
        None => say(&format!("{name}: {:?} -> {:?}", change.from, change.to)),
    }
    let t = tunnel.lock().unwrap_or_else(PoisonError::into_inner);
    if change.to == VpnStatus::Connected {
        t.notes.iter().for_each(|n| say(n));
    }
    if let (VpnStatus::Disconnected, Some(e)) = (change.to, &t.host_error) {
        report_error(e);
    }
}

#[allow(clippy::print_stderr)]
fn report_error(e: &str) {
    eprintln!("ikeway: tunnel: {e}");
}

/// Starts `connect --foreground` as a detached process with its output in the runtime
/// directory, and waits until it is connected or has failed.
/// Why the background connection ended, from its log: its own error lines without the
/// `ikeway: ` prefix (the log also holds status lines), else the log's last line.
fn child_failure(log: &str) -> String {
    let errors: Vec<&str> = log.lines().filter_map(|l| l.strip_prefix("ikeway: ")).collect();
    if !errors.is_empty() {
        return errors.join("; ");
    }
    log.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("it stopped without a message")
        .to_owned()
}

fn connect_in_background(
    args: &ConnectArgs,
    dir: &Dir,
    password: Option<SecretBytes>,
) -> Result<()> {
    let log = dir.path().join("connection.log");
    let out = dir.create_new("connection.log", 0o600)?;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["connect", &args.name, "--foreground", "--tun", &args.tun]);
    if let Some(l) = args.local {
        cmd.args(["--local", &l.to_string()]);
    }
    // The password reaches the child through a pipe, never its command line.
    let stdin = if password.is_some() {
        cmd.arg("--password-stdin");
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    };
    let mut child = cmd.stdin(stdin).stdout(out.try_clone()?).stderr(out).spawn()?;
    if let (Some(password), Some(mut pipe)) = (password, child.stdin.take()) {
        pipe.write_all(password.expose())?;
        pipe.write_all(b"\n")?;
    }
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let mut phases = Phases::new(&args.name, crate::progress::wanted(false));
    phases.set(Phase::Resolving);
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            drop(phases);
            let text = dir.read("connection.log", 1 << 20)?.unwrap_or_default();
            let why = child_failure(&String::from_utf8_lossy(&text));
            bail!("{}: {why} (log: {})", args.name, log.display());
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
    // A connect that fails leaves nothing running behind it: the connection is stopped the
    // way Ctrl-C stops it in the foreground (DELETE if anything is up, host changes undone).
    let stopped = stop_child(&mut child)?;
    bail!(
        "not connected after {} s (last: {reached}); {}; see {}",
        args.wait,
        if stopped { "stopped it" } else { "it did not stop within 10 s" },
        log.display()
    )
}

/// SIGTERM to the background connection, then up to 10 s for it to finish cleaning up.
fn stop_child(child: &mut std::process::Child) -> Result<bool> {
    let pid = rustix::process::Pid::from_child(child);
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(false)
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
        let mut last = field(&s["last_disconnect_error"]);
        if let Some(reason) = s["last_disconnect_reason"].as_str() {
            last = format!("{last}: {reason}");
        }
        rows.push(("last error", last));
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
        match control::ask(Request::Status) {
            Ok(None) => {
                say("disconnected");
                return Ok(());
            }
            Err(e) if !e.is::<control::Ending>() => return Err(e),
            Ok(Some(_)) | Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    bail!("the connection did not end within 10 s")
}

#[cfg(test)]
mod tests {
    use super::{child_failure, described};
    use ikeway_manager::DisconnectError;

    /// Issue 11: a failed connection names Apple's error and the certificate's reason.
    #[test]
    fn a_disconnect_names_apples_error_and_the_reason() {
        assert_eq!(
            described(
                DisconnectError::ServerCertificateExpired,
                Some("the peer's certificate has expired")
            ),
            "ServerCertificateExpired: the server certificate has expired \
             (NEVPNConnectionError 19): the peer's certificate has expired"
        );
        assert_eq!(
            described(DisconnectError::ServerNotResponding, None),
            "ServerNotResponding: the server did not answer (NEVPNConnectionError 6)"
        );
    }

    #[test]
    fn a_failed_background_connection_says_why_in_its_own_words() {
        let log = "office: enabled\nunsupported, not applied: disable_mobike (...)\n\
                   ikeway: starting the tunnel: the VPN connection failed: vpn.example does not resolve\n";
        assert_eq!(
            child_failure(log),
            "starting the tunnel: the VPN connection failed: vpn.example does not resolve"
        );
        assert_eq!(child_failure("office: enabled\nsomething odd\n\n"), "something odd");
        assert_eq!(child_failure(""), "it stopped without a message");
    }
}
