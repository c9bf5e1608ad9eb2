//! The host's network changes a tunnel needs, behind one trait: addresses, MTU and link state
//! of the TUN link, routes into the tunnel, the server's own route kept outside it, and DNS.
//!
//! A [`TunnelPlan`] says what to change; it is a pure value computed from plain
//! [`RoutingSettings`] and the server's configuration reply, so every routing decision is
//! tested without root. A [`HostNetwork`] carries a plan out and undoes it: [`LinuxHost`] does
//! it over rtnetlink (no `ip` processes), records every change in a [`StateStore`] before it
//! makes it, undoes newest first, and after a crash undoes a record only once [`record::parse`]
//! has validated all of it.
//!
//! ```
//! use ikeway_sa::ConfigReceived;
//! use ikeway_tunnel::host::{RoutingSettings, TunnelPlan};
//!
//! let settings = RoutingSettings { include_all_networks: true, ..RoutingSettings::default() };
//! let reply = ConfigReceived {
//!     addresses: vec![("10.88.0.2".parse().unwrap(), 32)],
//!     dns: vec!["10.88.0.1".parse().unwrap()],
//!     ..ConfigReceived::default()
//! };
//! let server = "192.0.2.1".parse().unwrap();
//! let plan = TunnelPlan::new(&settings, &reply, &[], server).unwrap();
//! let routes: Vec<String> = plan.routes().iter().map(ToString::to_string).collect();
//! assert_eq!(routes, ["0.0.0.0/1", "128.0.0.0/1", "::/1", "8000::/1"]);
//! assert_eq!(plan.server_route(), Some(server));
//! ```

use std::io;
use std::path::Path;
use std::process::Command;

pub mod dirfd;
pub mod dns;
mod follow;
pub mod killswitch;
mod linux;
pub(crate) mod netlink;
pub mod observe;
mod plan;
pub mod probe;
pub mod record;

pub use follow::{Applied, SessionHost};
pub use linux::{LinuxHost, configure_link, replace_link_addresses};
pub use plan::{
    DEFAULT_MTU, MAX_MTU, MIN_MTU_V4, MIN_MTU_V6, PlanError, RoutingSettings, TunnelPlan,
    range_to_cidrs,
};
pub use record::{StateFile, StateStore};

/// Why a host change failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// A system call or netlink request failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// A kernel request failed; `what` says which change.
    #[error("{what}: {source}")]
    Netlink {
        /// The change, as `ip` would spell it.
        what: String,
        /// The kernel's error.
        source: io::Error,
    },
    /// A stored record that is not one we wrote; nothing of it was undone.
    #[error("refusing to undo {place}: {source}; check it and remove it by hand")]
    Record {
        /// Where the record is.
        place: String,
        /// What is wrong with it.
        source: record::HostStateError,
    },
    /// The resolver could not be changed or restored.
    #[error("{0}")]
    Dns(String),
    /// The record and the plan name different TUN links, or the link is not one of ours.
    #[error(transparent)]
    Link(record::HostStateError),
    /// No plan could be made from the settings and the server's configuration.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// Carries a [`TunnelPlan`] out on the host, and takes it back.
///
/// `apply` may be called once per connection; `undo` removes everything `apply` did (also
/// after `apply` failed half way), newest first, and forgets the record.
pub trait HostNetwork {
    /// Makes the plan's changes; returns what the DNS part left out (invalid or surplus
    /// servers and domains), one line each, for the log.
    fn apply(&mut self, plan: &TunnelPlan) -> Result<Vec<String>, HostError>;
    /// Undoes every change made so far, newest first. Changes whose object is already gone
    /// (the TUN link took its routes with it) are not errors.
    fn undo(&mut self) -> Result<(), HostError>;
}

impl<H: HostNetwork + ?Sized> HostNetwork for Box<H> {
    fn apply(&mut self, plan: &TunnelPlan) -> Result<Vec<String>, HostError> {
        (**self).apply(plan)
    }

    fn undo(&mut self) -> Result<(), HostError> {
        (**self).undo()
    }
}

/// A system tool (`nft`, `resolvectl`) by absolute path, with a fixed environment and working
/// directory: `connect` runs as root, and the caller's `PATH` and locale are not to be trusted.
pub(crate) fn system_tool(path: &Path) -> Command {
    let mut cmd = Command::new(path);
    cmd.env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .current_dir("/");
    cmd
}
