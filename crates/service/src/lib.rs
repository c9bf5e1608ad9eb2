//! The ikeway service: `ikeway daemon`, the process that owns the host's VPN connection.
//!
//! - [`Daemon`]: one loop over one [`Input`] enum (control requests, the connection's status
//!   changes, network changes, configuration changes, sleep/resume, the next deadline), run
//!   by `ikeway daemon` ([`Mode::Service`]) and by `ikeway connect --foreground`
//!   ([`Mode::Foreground`]) alike;
//! - [`ConnectionOwner`]: one configuration's `VpnConnection` over a `SessionProvider`, and
//!   `wanted`: whether the user wants the VPN up (the kill switch follows it);
//! - [`control`]: the control socket's protocol (one JSON line each way), its listening side
//!   (peer credentials decide who may do what) and one client exchange.
//!
//! The daemon's main call, as `ikeway daemon` makes it (it needs root for the TUN device):
//!
//! ```no_run
//! use std::sync::Arc;
//! use ikeway_manager::PreferencesStore;
//! use ikeway_service::{Daemon, DaemonOptions, Input, Mode};
//! use ikeway_tunnel::host::dirfd::DirFd;
//!
//! let options = DaemonOptions {
//!     store: PreferencesStore::open_default()?,
//!     // The runtime directory, checked by the caller (owner, mode, not a symlink).
//!     dir: Arc::new(DirFd::open("/run/ikeway".as_ref())?),
//!     tun: "ikeway0".into(),
//!     local: None,
//!     mode: Mode::Service,
//!     log: Box::new(|line: &str| eprintln!("{line}")),
//!     logged_to: None,
//!     keylog: None,
//!     ikev1_timers: None,
//! };
//! let daemon = Daemon::bind(options)?;
//! let signals = daemon.sender();
//! // A signal handler would send this; the loop stops the tunnel, then returns.
//! signals.send(Input::Terminate)?;
//! let ended = daemon.run();
//! assert_eq!(ended.error, None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A client talks to it with one request line (see [`control::protocol`]):
//!
//! ```
//! use ikeway_service::control::{Reply, Request};
//!
//! assert_eq!(&**Request::Status.to_line(), b"{\"request\":\"status\"}\n");
//! let answer = Reply::parse(b"{\"status\":\"connected\",\"configuration\":\"office\"}\n")?;
//! assert!(matches!(answer, Reply::Snapshot(s) if s["configuration"] == "office"));
//! # Ok::<(), ikeway_service::control::ProtocolError>(())
//! ```
#![forbid(unsafe_code)]

pub mod config_watch;
pub mod control;
mod daemon;
pub mod names;
pub mod ondemand;
mod owner;
pub mod persist;
mod phase;
pub mod sleep;

pub use daemon::{ConnectError, Daemon, DaemonError, DaemonOptions, Ended, Mode};
pub use owner::{ConnectionOwner, Placement, described, status_name};
pub use phase::{Facts, Phase, Phase1};

use ikeway_manager::{NetworkState, StatusChange};

/// Everything the daemon's loop acts on: one variant per source, one match arm each.
#[derive(Debug)]
#[non_exhaustive]
pub enum Input {
    /// A request on the control socket, with who asked and the client to answer.
    Control(control::Call),
    /// The connection's status changed.
    Status(StatusChange),
    /// The network changed (links, addresses, routes, Wi-Fi, resolver).
    Network(NetworkState),
    /// An On Demand probe URL was fetched.
    Probe(ondemand::ProbeResult),
    /// The On Demand DNS stub asks about a name (EvaluateConnection).
    Dns(ondemand::StubRequest),
    /// The preferences store changed.
    Configuration(ConfigurationEvent),
    /// logind's `PrepareForSleep`: `true` before the system sleeps, `false` after it resumed.
    Sleep(bool),
    /// A deadline passed (the loop looks at what is due).
    Tick,
    /// SIGTERM or SIGINT: stop the tunnel, then end.
    Terminate,
}

/// A change of the preferences store (`NEVPNConfigurationChangeNotification`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigurationEvent {
    /// The store was written (a configuration added, edited, enabled or removed).
    Changed,
}

impl std::fmt::Display for ConfigurationEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Changed => "changed",
        })
    }
}
