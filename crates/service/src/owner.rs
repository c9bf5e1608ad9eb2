//! The connection owner: one configuration's [`VpnConnection`] over a [`SessionProvider`],
//! and whether the user wants it up. The daemon and `ikeway connect --foreground` both run
//! the connection through this, so On Demand and the kill switch behave the same in either.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::Receiver;
use ikeway_manager::{
    DisconnectError, ProviderOptions, SecretStore, SessionProvider, StartError, StartOptions,
    StatusChange, TunnelStatus, Unsupported, VpnConfiguration, VpnConnection, VpnStatus,
};
use ikeway_tunnel::host::dirfd::DirFd;
use ikeway_tunnel::host::{HostNetwork, LinuxHost, StateFile};
use ikeway_tunnel::{EventKind, SessionEvent};
use serde_json::{Value, json};

use crate::phase::{Facts, Phase};

/// Where a connection's tunnel runs on this host.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The runtime directory: the host-change record goes there.
    pub dir: Arc<DirFd>,
    /// The TUN device (`ikeway` and 1-9 digits: only such links are ever undone).
    pub tun: String,
    /// Our address for IKE; `None`: the source address toward the server.
    pub local: Option<IpAddr>,
}

/// The session provider of a connection: a session on `tun`, with the host changes recorded
/// in the runtime directory (so a crashed connection is undone by the next start).
fn provider(placement: &Placement) -> SessionProvider {
    let (dir, tun) = (Arc::clone(&placement.dir), placement.tun.clone());
    SessionProvider::new(ProviderOptions {
        tun: Some(placement.tun.clone()),
        local: placement.local,
        host: Some(Box::new(move || {
            let store = Box::new(StateFile::new(dir.try_clone()?));
            Ok(Box::new(LinuxHost::new(&tun, store)?) as Box<dyn HostNetwork + Send>)
        })),
        ..ProviderOptions::default()
    })
}

/// One configuration's connection and the user's wish for it.
#[derive(Debug)]
pub struct ConnectionOwner {
    name: String,
    connection: VpnConnection,
    tunnel: Arc<Mutex<TunnelStatus>>,
    changes: Receiver<StatusChange>,
    /// "The user wants this VPN up": set by `connect` (or On Demand connecting it), cleared
    /// by `disconnect` (or a Disconnect rule). The kill switch follows it, not the tunnel.
    wanted: bool,
    /// What the last start was given (the password of this start included), for On Demand
    /// to start again with.
    options: StartOptions,
    /// Users besides root who may read the status: the configuration's owner and whoever
    /// asked for the connection through sudo.
    readers: Vec<u32>,
}

impl ConnectionOwner {
    /// The connection of `configuration` (saved as `name`), not started.
    pub fn new(
        name: &str,
        configuration: VpnConfiguration,
        secrets: SecretStore,
        placement: &Placement,
    ) -> Self {
        let provider = provider(placement);
        let tunnel = provider.status();
        let mut connection = VpnConnection::new(Box::new(provider), Box::new(secrets));
        connection.set_configuration(Some(configuration));
        let changes = connection.subscribe();
        Self {
            name: name.to_owned(),
            connection,
            tunnel,
            changes,
            wanted: false,
            options: StartOptions::default(),
            readers: Vec::new(),
        }
    }

    /// The configuration's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn configuration(&self) -> Option<&VpnConfiguration> {
        self.connection.configuration()
    }

    /// Adds a user who may read the status.
    pub fn add_reader(&mut self, uid: u32) {
        if uid != 0 && !self.readers.contains(&uid) {
            self.readers.push(uid);
        }
    }

    /// The readers besides root, in words: `uid 4242, uid 1000`, or `nobody else`.
    pub fn readers(&self) -> String {
        if self.readers.is_empty() {
            return "nobody else".into();
        }
        self.readers.iter().map(|u| format!("uid {u}")).collect::<Vec<_>>().join(", ")
    }

    /// Whether `uid` may read the status: root, or one of the readers.
    pub fn may_read(&self, uid: u32) -> bool {
        uid == 0 || self.readers.contains(&uid)
    }

    /// The user wants the VPN up: start it. Returns the configured features the tunnel will
    /// not honour. A start that fails leaves `wanted` unset.
    pub fn want(&mut self, options: StartOptions) -> Result<Vec<Unsupported>, StartError> {
        self.options = options;
        self.wanted = true;
        let started = self.connection.start_tunnel_with_options(self.options.clone());
        if started.is_err() {
            self.wanted = false;
        }
        started
    }

    /// Starts again with the last start's options (On Demand), `wanted` untouched.
    pub fn restart(&mut self) -> Result<Vec<Unsupported>, StartError> {
        self.connection.start_tunnel_with_options(self.options.clone())
    }

    /// The user no longer wants the VPN: stop it.
    pub fn unwant(&mut self) {
        self.wanted = false;
        self.connection.stop_tunnel();
    }

    /// The tunnel ended on its own and nothing will bring it back.
    pub fn give_up(&mut self) {
        self.wanted = false;
    }

    pub fn wanted(&self) -> bool {
        self.wanted
    }

    pub fn status(&self) -> VpnStatus {
        self.connection.status()
    }

    pub fn last_error(&self) -> Option<(DisconnectError, Option<String>)> {
        let e = self.connection.last_disconnect_error()?;
        Some((e, self.connection.last_disconnect_reason()))
    }

    pub fn connected_date(&self) -> Option<SystemTime> {
        self.connection.connected_date()
    }

    /// The connection's status changes, for the daemon's `Select`.
    pub fn changes(&self) -> &Receiver<StatusChange> {
        &self.changes
    }

    /// What `status` shows: the connection now, the tunnel (SAs, datapath counters) as it is.
    pub fn snapshot(&self) -> Value {
        let t = self.tunnel.lock().unwrap_or_else(PoisonError::into_inner);
        let status = self.connection.status();
        let last = self.last_error();
        json!({
            "configuration": self.name,
            "status": status_name(status),
            "wanted": self.wanted,
            "connected_since": self.connection.connected_date().map(unix_seconds),
            "last_disconnect_error": last.as_ref().map(|(e, _)| format!("{e:?}")),
            "last_disconnect_reason": last.and_then(|(_, r)| r),
            "server": t.server.map(|s| s.to_string()),
            "local": t.local.map(|l| l.to_string()),
            "path_updates": t.path_updates,
            "ppk_id": t.ppk_id,
            "internal_addresses": t.addresses,
            "dns": t.dns,
            "domains": t.domains,
            "ike_sa": t.ike,
            "phase": Phase::of(Facts {
                connected: status == VpnStatus::Connected,
                started: t.server.is_some(),
                keyed: t.keyed,
                authenticated: t.ike.is_some(),
            })
            .name(),
            "child_sas": t.children,
            "datapath": t.session.as_ref().and_then(|s| s.datapath_stats()).map(|d| {
                serde_json::to_value(SessionEvent::new(EventKind::DatapathStats(d)))
                    .unwrap_or_default()
            }),
        })
    }

    /// A status change in words, for the log: the change (with Apple's error and the reason
    /// when it ended on one), what the host changes left out once connected, and why the
    /// tunnel failed on this host when it did.
    pub fn describe(&self, change: &StatusChange) -> Vec<String> {
        let name = &self.name;
        let mut lines = vec![match change.error {
            Some(e) => format!(
                "{name}: {:?} -> {:?} ({})",
                change.from,
                change.to,
                described(e, change.reason.as_deref())
            ),
            None => format!("{name}: {:?} -> {:?}", change.from, change.to),
        }];
        let t = self.tunnel.lock().unwrap_or_else(PoisonError::into_inner);
        if change.to == VpnStatus::Connected {
            lines.extend(t.notes.iter().cloned());
        }
        if let (VpnStatus::Disconnected, Some(e)) = (change.to, &t.host_error) {
            lines.push(format!("ikeway: tunnel: {e}"));
        }
        lines
    }
}

/// A status as the snapshot names it: `connected`, `reasserting`...
pub fn status_name(status: VpnStatus) -> String {
    format!("{status:?}").to_lowercase()
}

pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Apple's name of the error, its sentence and code, and the reason when there is one:
/// `ServerCertificateExpired: the server certificate has expired (NEVPNConnectionError 19):
/// the peer's certificate has expired`.
pub fn described(e: DisconnectError, reason: Option<&str>) -> String {
    match reason {
        Some(r) => format!("{e:?}: {e}: {r}"),
        None => format!("{e:?}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::described;
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
}
