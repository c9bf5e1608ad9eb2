//! `ikeway daemon`: the service that owns the host's VPN connection (see `ikeway_service`).
//! This module parses its flags, opens the checked runtime directory, and starts it detached
//! for `connect` when none runs.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use ikeway_manager::PreferencesStore;
use ikeway_service::{Daemon, DaemonOptions, Input, Mode};

use super::control::{self, Socket};
use super::runtime_dir::Dir;

#[derive(Args, Debug)]
pub(crate) struct DaemonArgs {
    /// TUN device of connections that do not name one: `ikeway` and 1-9 digits.
    #[arg(long, default_value = "ikeway0")]
    tun: String,
    /// Our address for IKE (default: the source address the host uses toward the server).
    #[arg(long)]
    local: Option<IpAddr>,
    /// Where this daemon's output goes, as `status` should name it (set by `connect` when it
    /// starts the daemon with its output in the runtime directory).
    #[arg(long, hide = true, value_name = "FILE")]
    logged_to: Option<PathBuf>,
}

pub(crate) fn daemon(args: DaemonArgs) -> Result<()> {
    if !ikeway_tunnel::host::record::is_our_link(&args.tun) {
        bail!("--tun {:?}: the TUN device must be named ikeway followed by 1-9 digits", args.tun);
    }
    let dir = Dir::for_connection()?;
    let options = DaemonOptions {
        store: PreferencesStore::open_default()?,
        dir: Arc::new(dir.files().try_clone()?),
        tun: args.tun,
        local: args.local,
        mode: Mode::Service,
        log: Box::new(super::connect::log_line),
        logged_to: args.logged_to,
        keylog: None,
        ikev1_timers: None,
    };
    let daemon = Daemon::bind(options)?;
    let signals = daemon.sender();
    ctrlc::set_handler(move || {
        let _ = signals.send(Input::Terminate);
    })
    .context("installing the signal handler")?;
    super::connect::say(&format!("ikeway daemon: listening in {}", dir.path().display()));
    daemon.run();
    Ok(())
}

/// How long a daemon `connect` started may take to answer on its socket.
const STARTUP: Duration = Duration::from_secs(10);

/// Starts `ikeway daemon` as a detached process (its own process group, so the terminal's
/// Ctrl-C does not reach it) with its output in the runtime directory, and waits until its
/// control socket answers.
pub(crate) fn start_detached(dir: &Dir) -> Result<Socket> {
    let log = dir.path().join("connection.log");
    let out = dir.create_new("connection.log", 0o600)?;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("daemon").arg("--logged-to").arg(&log);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .context("starting ikeway daemon")?;
    let deadline = Instant::now() + STARTUP;
    while Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            let text = dir.read("connection.log", 1 << 20)?.unwrap_or_default();
            let why = failure(&String::from_utf8_lossy(&text));
            bail!("the daemon did not start: {why} (log: {})", log.display());
        }
        if let Some(socket) = control::open()? {
            return Ok(socket);
        }
        // The daemon has no way to tell us it listens but listening: look again shortly.
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("the daemon did not answer within {} s (log: {})", STARTUP.as_secs(), log.display())
}

/// Why a daemon ended at once, from its log: its own error lines without the `ikeway: `
/// prefix, else the log's last line.
fn failure(log: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::failure;

    #[test]
    fn a_daemon_that_did_not_start_says_why_in_its_own_words() {
        let log = "ikeway daemon: listening\nikeway: undoing what a crashed connection left \
                   behind: the record is not valid\n";
        assert_eq!(
            failure(log),
            "undoing what a crashed connection left behind: the record is not valid"
        );
        assert_eq!(failure("something odd\n\n"), "something odd");
        assert_eq!(failure(""), "it stopped without a message");
    }
}
