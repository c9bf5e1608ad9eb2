//! `ikeway connect`, `ikeway status`, `ikeway disconnect`: the daemon's clients. The
//! connection itself runs in `ikeway_service` (a `ConnectionOwner` in the daemon's loop):
//! `connect` asks the running daemon, starting `ikeway daemon` detached when none runs;
//! `connect --foreground` runs the same loop in this process. This module parses, asks and
//! prints.

use std::fs::File;
use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use ikeway_crypto::SecretBytes;
use ikeway_manager::{KeyLogSink, MAX_PASSWORD, PreferencesStore, VpnConfiguration};
use ikeway_service::control::{ConnectRequest, Reply, Request};
use ikeway_service::{Daemon, DaemonOptions, Input, Mode, Phase};
use ikeway_tunnel::host::killswitch::KillSwitch;
use ikeway_tunnel::host::{LinuxHost, StateFile};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::control::{self, TimedOut};
use super::runtime_dir::{self, Dir};
use crate::progress::Phases;

#[derive(Args, Debug)]
pub(crate) struct ConnectArgs {
    /// The configuration to connect (see `ikeway config list`).
    name: String,
    /// Run the connection in this process, without the daemon, until disconnected or
    /// interrupted (SIGINT/SIGTERM disconnect cleanly).
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
    /// The EAP password on standard input (first line), for scripts that hold it in a pipe.
    #[arg(long, conflicts_with = "password_file")]
    password_stdin: bool,
    /// Write each IKE SA's keys to FILE as rows of Wireshark's decryption tables (IKEv2:
    /// `ikev2_decryption_table`; IKEv1: `ikev1_decryption_table`, cookie and key), for
    /// debugging with tshark. Secrets: FILE must not exist and is created mode 0600. Only with
    /// --foreground (the daemon writes no secrets for the users it serves).
    #[arg(long, value_name = "FILE", requires = "foreground")]
    keylog: Option<PathBuf>,
    /// Tests: IKEv1 timers in seconds, PHASE1,PHASE2,DPD (ISAKMP SA lifetime, ESP SA
    /// lifetime, DPD idle interval; DPD then resends every second, twice), in place of the
    /// configuration's, so that a renewal, a rekey or DPD happen within a test; a fourth
    /// number offers an ESP SA lifetime in kilobytes too.
    #[arg(long, value_name = "P1,P2,DPD[,KB]", requires = "foreground", hide = true)]
    ikev1_test_timers: Option<String>,
}

/// `--ikev1-test-timers P1,P2,DPD[,KB]`.
fn ikev1_timers(arg: &str) -> Result<ikeway_manager::Ikev1Timers> {
    let secs: Vec<u64> = arg.split(',').map(str::parse).collect::<Result<_, _>>()?;
    let (p1, p2, dpd, kb) = match secs[..] {
        [p1, p2, dpd] => (p1, p2, dpd, None),
        [p1, p2, dpd, kb] => (p1, p2, dpd, Some(u32::try_from(kb)?)),
        _ => bail!(
            "--ikev1-test-timers: expected three numbers of seconds, PHASE1,PHASE2,DPD, and \
             optionally kilobytes"
        ),
    };
    Ok(ikeway_manager::Ikev1Timers {
        phase1_lifetime: Duration::from_secs(p1),
        phase2_lifetime: Duration::from_secs(p2),
        dpd: ikeway_ikev1::informational::DpdConfig {
            interval: Duration::from_secs(dpd),
            retransmit: Duration::from_secs(1),
            retries: 2,
        },
        phase2_kilobytes: kb,
    })
}

#[derive(Args, Debug)]
pub(crate) struct StatusArgs {
    #[arg(long)]
    json: bool,
    /// Print again whenever something changes (the daemon pushes each change), until
    /// interrupted or the daemon ends.
    #[arg(long)]
    watch: bool,
}

#[allow(clippy::print_stdout)]
pub(crate) fn say(s: &str) {
    println!("{s}");
}

pub(crate) fn connect(args: ConnectArgs) -> Result<()> {
    if !ikeway_tunnel::host::record::is_our_link(&args.tun) {
        bail!("--tun {:?}: the TUN device must be named ikeway followed by 1-9 digits", args.tun);
    }
    // An unknown name is said at once, before anything is set up or started.
    let store = super::config::store()?;
    let (configuration, _) = super::config::find(&store, &args.name)?;
    // Asked before anything starts, so a missing password fails at once.
    let password = start_password(&args, &configuration, &store)?;
    let request = ConnectRequest {
        configuration: args.name.clone(),
        password,
        tun: Some(args.tun.clone()),
        local: args.local,
        starter: control::starting_uid(),
    };
    if args.foreground {
        let timers = args.ikev1_test_timers.as_deref().map(ikev1_timers).transpose()?;
        let keylog = args.keylog.as_deref().map(FileKeyLog::create).transpose()?;
        return connect_in_foreground(request, store, &Dir::for_connection()?, keylog, timers);
    }
    connect_through_daemon(&args, request)
}

/// `connect --foreground`: the daemon's loop in this process, for this one connection.
fn connect_in_foreground(
    request: ConnectRequest,
    store: PreferencesStore,
    dir: &Dir,
    keylog: Option<FileKeyLog>,
    ikev1_timers: Option<ikeway_manager::Ikev1Timers>,
) -> Result<()> {
    let options = DaemonOptions {
        store,
        dir: Arc::new(dir.files().try_clone()?),
        tun: request.tun.clone().unwrap_or_default(),
        local: request.local,
        mode: Mode::Foreground,
        log: Box::new(log_line),
        logged_to: None,
        keylog: keylog.map(|k| Arc::new(k) as Arc<dyn KeyLogSink>),
        ikev1_timers,
    };
    let mut daemon = Daemon::bind(options)?;
    let signals = daemon.sender();
    // Ctrl-C, SIGTERM: the loop stops the tunnel cleanly, then returns.
    ctrlc::set_handler(move || {
        let _ = signals.send(Input::Terminate);
    })
    .context("installing the signal handler")?;
    let name = request.configuration.clone();
    let unsupported = daemon.connect(request)?;
    // The routing flags are the tunnel plan's to carry out, and it reports what it cannot
    // (`TunnelPlan::not_applied`) once the server's configuration is in.
    for u in unsupported
        .iter()
        .filter(|u| !matches!(u.field, "include_all_networks" | "exclude_local_networks"))
    {
        say(&format!("unsupported, not applied: {} ({})", u.field, u.reason));
    }
    say(&format!("{name}: connecting"));
    match daemon.run().described() {
        Some(e) => bail!("disconnected: {e}"),
        None => Ok(()),
    }
}

/// `connect --keylog`: the rows of both Wireshark tables, appended to one new 0600 file.
#[derive(Debug)]
struct FileKeyLog(Mutex<File>);

impl FileKeyLog {
    fn create(path: &Path) -> Result<Self> {
        Ok(Self(Mutex::new(crate::secret_file::create(path)?)))
    }

    fn file(&self) -> std::sync::MutexGuard<'_, File> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl KeyLogSink for FileKeyLog {
    fn ikev2(&self, keys: &ikeway_sa::KeyExport<'_>) -> std::io::Result<()> {
        crate::ike::write_keylog(&mut self.file(), keys)
    }

    fn ikev1(&self, keys: &ikeway_ikev1::KeyExport<'_>) -> std::io::Result<()> {
        writeln!(self.file(), "{}", keys.wireshark_line())
    }
}

/// A line of what the connection does: errors (`ikeway: ...`) on stderr, the rest on stdout.
pub(crate) fn log_line(line: &str) {
    #[allow(clippy::print_stderr)]
    if line.starts_with("ikeway: ") {
        eprintln!("{line}");
    } else {
        say(line);
    }
}

/// The EAP (or IPSec's XAUTH) password for this start: `--password-file`, standard input
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
    if let Some(p) = &configuration.ipsec {
        // XAUTH: asked when Apple's profile says so (Prompt) or none is stored.
        let stored = p.password_reference.is_some() && !p.xauth_password_prompt;
        if !p.use_extended_authentication || stored {
            return Ok(None);
        }
        let user = p.username.as_deref().unwrap_or_default();
        return crate::password::prompt_for("XAUTH", user, "--password-file").map(Some);
    }
    let Some(p) = &configuration.protocol else { return Ok(None) };
    // A configuration whose EAP cannot run fails when started, with Apple's error code.
    if !p.needs_password(store.secrets()).unwrap_or(false) {
        return Ok(None);
    }
    let user = p.username.as_deref().unwrap_or_default();
    crate::password::prompt(user, "--password-file").map(Some)
}

/// The first line of standard input, bounded.
fn password_from_stdin() -> Result<SecretBytes> {
    let mut buf = Zeroizing::new(Vec::with_capacity(MAX_PASSWORD + 2));
    std::io::stdin().lock().take(MAX_PASSWORD as u64 + 2).read_to_end(&mut buf)?;
    let line = buf.split(|&b| b == b'\n').next().unwrap_or_default();
    if line.is_empty() || line.len() > MAX_PASSWORD {
        bail!("--password-stdin: expected a password of 1 to {MAX_PASSWORD} bytes");
    }
    Ok(SecretBytes::from_slice(line))
}

/// `connect`: asks the daemon (started detached when none runs) and follows the connection
/// until it is up, has failed, or `--wait` ran out (then it is stopped).
fn connect_through_daemon(args: &ConnectArgs, request: ConnectRequest) -> Result<()> {
    let name = request.configuration.clone();
    // The runtime directory is made only when a daemon has to be started: a user who may
    // not connect hears it from the running daemon.
    let socket = match control::open()? {
        Some(s) => s,
        None => super::daemon::start_detached(&Dir::for_connection()?)?,
    };
    let log = |s: &Value| s["log"].as_str().map(|l| format!(" (log: {l})")).unwrap_or_default();
    let first = socket.ask(&Request::Status)?;
    let at = log(&first);
    drop(socket);
    let Some(socket) = control::open()? else { bail!("the daemon ended before it answered") };
    if let Err(e) = socket.ask(&Request::Connect(request)) {
        let why = refusal_text(&e);
        // A refusal (who asks) is said as `status` says it; a failure names the configuration.
        if why.starts_with("refused: ") {
            return Err(e);
        }
        bail!("{name}: {why}{at}");
    }
    let Some(socket) = control::open()? else { bail!("the daemon ended{at}") };
    let mut watch = socket.watch()?;
    let deadline = Instant::now() + Duration::from_secs(args.wait);
    let mut phases = Phases::new(&name, crate::progress::wanted(false));
    phases.set(Phase::Resolving);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let reply = match watch.next(Some(left)) {
            Ok(r) => r,
            Err(e) if e.is::<TimedOut>() => break,
            Err(e) => return Err(e),
        };
        let Some(reply) = reply else {
            drop(phases);
            bail!("{name}: the daemon ended before the connection was up{at}");
        };
        let Reply::Snapshot(s) = reply else { continue };
        match s["status"].as_str() {
            Some("connecting" | "reasserting") => phases.set(Phase::of_snapshot(Some(&s))),
            Some("connected") => {
                drop(phases);
                say(&format!("{name}: connected{at}"));
                return Ok(());
            }
            _ => {
                drop(phases);
                match s["last_disconnect_error"].as_str() {
                    Some(_) => bail!("{name}: disconnected: {}{at}", last_error(&s)),
                    None => bail!("{name}: stopped before it was up{at}"),
                }
            }
        }
    }
    let reached = phases.current().unwrap_or(Phase::Resolving);
    drop(phases);
    // A connect that fails leaves nothing running behind it: the connection is stopped the
    // way `disconnect` stops it (DELETE if anything is up, host changes undone).
    let stopped = stop_and_wait(Duration::from_secs(10))? != Some(false);
    let see = first["log"].as_str().map_or_else(|| "the daemon's log".to_owned(), str::to_owned);
    bail!(
        "not connected after {} s (last: {reached}); {}; see {see}",
        args.wait,
        if stopped { "stopped it" } else { "it did not stop within 10 s" },
    )
}

/// The daemon's refusal as it worded it (without our "the running connection (...)" lead).
fn refusal_text(e: &anyhow::Error) -> String {
    let text = e.to_string();
    match text.split_once(") ") {
        Some((lead, why)) if lead.starts_with("the running connection (") => why.to_owned(),
        _ => text,
    }
}

/// Apple's error of a snapshot with its sentence and reason: `AuthenticationFailed:
/// authentication failed (NEVPNConnectionError 8): ...`.
fn last_error(s: &Value) -> String {
    let name = s["last_disconnect_error"].as_str().unwrap_or_default();
    let error = ikeway_manager::DisconnectError::ALL.iter().find(|e| format!("{e:?}") == name);
    match error {
        Some(e) => ikeway_service::described(*e, s["last_disconnect_reason"].as_str()),
        None => name.to_owned(),
    }
}

/// Sends `disconnect` and waits (pushed, not polled) until the connection is down: `None`
/// when nothing was up, else whether it was down within `limit`.
fn stop_and_wait(limit: Duration) -> Result<Option<bool>> {
    let Some(now) = control::ask(&Request::Disconnect)? else { return Ok(None) };
    // A connection that was up is `disconnecting` once asked; one already down stays so.
    if down(&Some(Reply::Snapshot(now))) {
        return Ok(None);
    }
    let Some(socket) = control::open()? else { return Ok(Some(true)) };
    let mut watch = socket.watch()?;
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match watch.next(Some(left)) {
            Ok(r) if down(&r) => return Ok(Some(true)),
            Ok(_) => {}
            Err(e) if e.is::<TimedOut>() => return Ok(Some(false)),
            Err(e) => return Err(e),
        }
    }
}

/// Whether an answer says the connection is down (or the daemon ended).
fn down(reply: &Option<Reply>) -> bool {
    match reply {
        None => true,
        Some(Reply::Snapshot(s)) => {
            matches!(s["status"].as_str(), Some("disconnected" | "invalid"))
        }
        Some(_) => false,
    }
}

pub(crate) fn status(args: StatusArgs) -> Result<()> {
    let Some(socket) = control::open()? else {
        say(&shown(&json!({"status": "disconnected"}), args.json)?);
        return Ok(());
    };
    if !args.watch {
        return say_snapshot(&socket.ask(&Request::Status)?, args.json);
    }
    let mut watch = socket.watch()?;
    let mut last = String::new();
    // Each change arrives as the daemon makes it; nothing here wakes on a timer.
    while let Some(reply) = watch.next(None)? {
        // JSON: one compact object per line, for scripts reading the stream.
        let text = match reply {
            Reply::Snapshot(s) if args.json => s.to_string(),
            Reply::Snapshot(s) => shown(&s, false)?,
            Reply::Event(e) => e.to_string(),
            _ => continue,
        };
        if text != last {
            say(&text);
            last = text;
        }
    }
    Ok(())
}

fn say_snapshot(s: &Value, json: bool) -> Result<()> {
    say(&shown(s, json)?);
    Ok(())
}

/// A snapshot as `status` prints it: JSON as is, or a table; a connection that is down with
/// nothing to tell is just `disconnected`.
fn shown(s: &Value, json: bool) -> Result<String> {
    if json {
        return Ok(serde_json::to_string_pretty(s)?);
    }
    if s["status"] == "disconnected" && s["last_disconnect_error"].is_null() {
        return Ok("disconnected".to_owned());
    }
    Ok(table(s))
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
    if s["nbns"].as_array().is_some_and(|l| !l.is_empty()) {
        rows.push(("NBNS (not used)", field(&s["nbns"])));
    }
    if let Some(banner) = s["banner"].as_str() {
        // The server's words, one row per line, so no line of theirs looks like one of ours.
        rows.extend(banner.lines().map(|l| ("banner", format!("| {l}"))));
    }
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
        rows.push(("last error", last_error(s)));
    }
    rows.iter().map(|(k, v)| format!("{k:<18} {v}")).collect::<Vec<_>>().join("\n")
}

pub(crate) fn disconnect() -> Result<()> {
    if control::open()?.is_none() {
        // Nothing runs; a crashed connection may still have left host changes behind.
        let cleaned = match runtime_dir::home_existing() {
            Ok(Some(dir)) => {
                let host =
                    LinuxHost::recover(Box::new(StateFile::new(dir.files().try_clone()?)), None)?;
                let store = StateFile::kill_switch(dir.files().try_clone()?);
                KillSwitch::recover(Box::new(store))? || host
            }
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
    match stop_and_wait(Duration::from_secs(10))? {
        None => say("not connected"),
        Some(true) => say("disconnected"),
        Some(false) => bail!("the connection did not end within 10 s"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_shows_the_last_error_with_apples_words_after_the_end() {
        let s = json!({
            "configuration": "vpn",
            "status": "disconnected",
            "last_disconnect_error": "AuthenticationFailed",
            "last_disconnect_reason": null,
        });
        let text = shown(&s, false).unwrap();
        assert!(
            text.ends_with(
                "last error         AuthenticationFailed: authentication failed \
                 (NEVPNConnectionError 8)"
            ),
            "{text}"
        );
        assert_eq!(shown(&json!({"status": "disconnected"}), false).unwrap(), "disconnected");
        let unknown = json!({"status": "disconnected", "last_disconnect_error": "Gremlins"});
        assert!(shown(&unknown, false).unwrap().ends_with("last error         Gremlins"));
    }
}
