//! The connection owner: one configuration's [`VpnConnection`] over a [`SessionProvider`],
//! and whether the user wants it up. The daemon and `ikeway connect --foreground` both run
//! the connection through this, so On Demand and the kill switch behave the same in either.

use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use crossbeam_channel::Receiver;
use ikeway_manager::{
    DisconnectError, Ikev1Timers, KeyLogSink, ProviderOptions, SecretStore, SessionProvider,
    StartError, StartOptions, StatusChange, TunnelStatus, Unsupported, VpnConfiguration,
    VpnConnection, VpnStatus,
};
use ikeway_tunnel::host::dirfd::DirFd;
use ikeway_tunnel::host::killswitch::{KillSwitch, KillSwitchError};
use ikeway_tunnel::host::{HostNetwork, LinuxHost, StateFile};
use ikeway_tunnel::{EventKind, SessionEvent};
use serde_json::{Value, json};

use crate::phase::{Facts, Phase, Phase1};

/// Where a connection's tunnel runs on this host.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The runtime directory: the host-change record goes there.
    pub dir: Arc<DirFd>,
    /// The TUN device (`ikeway` and 1-9 digits: only such links are ever undone).
    pub tun: String,
    /// Our address for IKE; `None`: the source address toward the server.
    pub local: Option<IpAddr>,
    /// Where the sessions' keys go (`connect --foreground --keylog`); `None`: nowhere.
    pub keylog: Option<Arc<dyn KeyLogSink>>,
    /// Tests: IKEv1 timers in place of the configuration's.
    pub ikev1_timers: Option<Ikev1Timers>,
}

/// The session provider of a connection: a session on `tun`, with the host changes recorded
/// in the runtime directory (so a crashed connection is undone by the next start).
fn provider(placement: &Placement) -> SessionProvider {
    let (dir, tun) = (Arc::clone(&placement.dir), placement.tun.clone());
    SessionProvider::new(ProviderOptions {
        tun: Some(placement.tun.clone()),
        local: placement.local,
        keylog: placement.keylog.clone(),
        ikev1_timers: placement.ikev1_timers,
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
    placement: Placement,
    /// includeAllNetworks: engaged in `want`, before the first packet; kept while `wanted`
    /// (reasserting, down between On Demand attempts); lifted in `unwant` and `give_up`.
    kill_switch: Option<KillSwitch>,
    /// The server address the kill switch lets IKE out to, which the provider must use.
    pinned_server: Arc<Mutex<Option<IpAddr>>>,
    /// What happened to the kill switch, for the log ([`Self::take_notes`]).
    notes: Vec<String>,
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
        let pinned_server = provider.pinned_server();
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
            placement: placement.clone(),
            kill_switch: None,
            pinned_server,
            notes: Vec::new(),
        }
    }

    /// Takes over a kill switch (the previous owner's, or one a crashed owner left): the
    /// next `want` replaces its table in one transaction, or lifts it when this
    /// configuration does not include all networks.
    pub fn inherit_kill_switch(&mut self, switch: Option<KillSwitch>) {
        if let Some(s) = switch {
            self.kill_switch = Some(s);
        }
    }

    /// Hands the kill switch to the next owner (see [`Self::inherit_kill_switch`]).
    pub fn take_kill_switch(&mut self) -> Option<KillSwitch> {
        self.kill_switch.take()
    }

    /// Whether the kill switch is engaged.
    pub fn kill_switch_engaged(&self) -> bool {
        self.kill_switch.is_some()
    }

    /// What happened to the kill switch since the last call, one line each.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// Engages (or replaces, in one transaction) the kill switch when the configuration
    /// includes all networks, lifts an inherited one otherwise. On an error a switch already
    /// engaged stays as it was (closed, never open).
    fn engage_kill_switch(&mut self) -> Result<(), StartError> {
        let Some(configuration) = self.connection.configuration() else { return Ok(()) };
        if !ikeway_manager::wants_kill_switch(configuration) {
            self.lift_kill_switch();
            return Ok(());
        }
        // Our own engaged switch already lets the server out: no new lookup (it would not get
        // out). An inherited switch was planned for another owner: resolve.
        let known = *self.pinned_server.lock().unwrap_or_else(PoisonError::into_inner);
        let known = known.filter(|_| self.kill_switch.is_some());
        let (plan, server) =
            ikeway_manager::plan_kill_switch(configuration, &self.placement.tun, None, known)
                .map_err(StartError::ConnectionFailed)?;
        let failed = |e: KillSwitchError| {
            Self::failed(format!("includeAllNetworks: the kill switch could not be engaged: {e}"))
        };
        match self.kill_switch.as_mut() {
            Some(switch) => switch.update(plan).map_err(failed)?,
            None => {
                let dir =
                    self.placement.dir.try_clone().map_err(|e| Self::failed(e.to_string()))?;
                let store = Box::new(StateFile::kill_switch(dir));
                self.kill_switch = Some(KillSwitch::engage(plan, store).map_err(failed)?);
                self.notes.push(format!(
                    "{}: kill switch engaged (nftables table inet ikeway): only the tunnel and \
                     IKE/ESP to {server} get out",
                    self.name
                ));
            }
        }
        *self.pinned_server.lock().unwrap_or_else(PoisonError::into_inner) = Some(server);
        Ok(())
    }

    /// The host's networks changed: an engaged kill switch is planned again, so the local
    /// networks `excludeLocalNetworks` lets out are those of now (replaced in one
    /// transaction, and only when they differ). A failure keeps the old table.
    pub fn refresh_kill_switch(&mut self) {
        if self.kill_switch.is_none() || !self.wanted {
            return;
        }
        if let Err(e) = self.engage_kill_switch() {
            self.notes.push(format!("ikeway: {}: kill switch: {e}", self.name));
        }
    }

    fn failed(message: String) -> StartError {
        StartError::ConnectionFailed(ikeway_manager::ProviderError {
            error: DisconnectError::PluginFailed,
            message,
        })
    }

    /// Lifts the kill switch, if engaged; a failure stays engaged (the host stays closed) and
    /// is said in the log: `ikeway disconnect` tries again.
    fn lift_kill_switch(&mut self) {
        let Some(switch) = self.kill_switch.as_mut() else { return };
        match switch.lift() {
            Ok(()) => {
                self.kill_switch = None;
                *self.pinned_server.lock().unwrap_or_else(PoisonError::into_inner) = None;
                self.notes.push(format!("{}: kill switch lifted", self.name));
            }
            Err(e) => self.notes.push(format!("ikeway: {}: kill switch: {e}", self.name)),
        }
    }

    /// The configuration's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The saved configuration changed (`Some`: used from the next start) or was removed
    /// (`None`: the connection stops and becomes invalid).
    pub fn reconfigure(&mut self, configuration: Option<VpnConfiguration>) {
        if configuration.is_none() {
            self.wanted = false;
        }
        self.connection.set_configuration(configuration);
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

    /// The readers besides root.
    pub fn reader_uids(&self) -> &[u32] {
        &self.readers
    }

    /// What is kept of it across its end and the daemon's restart.
    pub fn persisted(&self) -> crate::persist::Persisted {
        crate::persist::Persisted::of(
            &self.name,
            &status_name(self.status()),
            self.connected_date().map(unix_seconds),
            self.last_error(),
            &self.readers,
        )
    }

    /// The readers besides root, in words: `uid 4242, uid 1000`, or `nobody else`.
    pub fn readers(&self) -> String {
        Self::describe_readers(&self.readers)
    }

    /// `readers` in words.
    pub fn describe_readers(readers: &[u32]) -> String {
        if readers.is_empty() {
            return "nobody else".into();
        }
        readers.iter().map(|u| format!("uid {u}")).collect::<Vec<_>>().join(", ")
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
        // includeAllNetworks: before the first packet of the connection.
        if let Err(e) = self.engage_kill_switch() {
            // Not started, so not wanted: an inherited switch goes too.
            self.wanted = false;
            self.lift_kill_switch();
            return Err(e);
        }
        let started = self.connection.start_tunnel_with_options(self.options.clone());
        if started.is_err() {
            self.wanted = false;
            self.lift_kill_switch();
        }
        started
    }

    /// Starts again with the last start's options (On Demand), `wanted` untouched.
    pub fn restart(&mut self) -> Result<Vec<Unsupported>, StartError> {
        self.connection.start_tunnel_with_options(self.options.clone())
    }

    /// On Demand wants the VPN up again, with the last start's options: still wanted (a
    /// retry after the tunnel dropped), it restarts with the kill switch kept engaged; no
    /// longer wanted (a Disconnect rule or the user stopped it), it is wanted again.
    pub fn want_again(&mut self) -> Result<Vec<Unsupported>, String> {
        let started = if self.wanted { self.restart() } else { self.want(self.options.clone()) };
        started.map_err(|e| e.to_string())
    }

    /// The user no longer wants the VPN: stop it.
    pub fn unwant(&mut self) {
        self.wanted = false;
        self.connection.stop_tunnel();
        // What the tunnel still routes goes into it until its routes are undone: nothing
        // leaves outside it before then.
        self.lift_kill_switch();
    }

    /// Stops the tunnel and keeps `wanted` (and the kill switch): the system goes to sleep
    /// with On Demand to bring the VPN back on wake (`disconnectOnSleep`).
    pub fn suspend(&mut self) {
        self.connection.stop_tunnel();
    }

    /// The tunnel ended on its own and nothing will bring it back.
    pub fn give_up(&mut self) {
        self.wanted = false;
        self.lift_kill_switch();
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
            // includeAllNetworks: engaged while wanted, whatever the tunnel's status.
            "kill_switch": self.kill_switch.is_some(),
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
            "banner": t.banner,
            // NetBIOS name servers beside the DNS servers, and the rest of what an IKEv1
            // gateway's mode config said: reported, never applied.
            "nbns": t.mode_config_notes.as_ref().map(|n| n.nbns.clone()).unwrap_or_default(),
            "mode_config_notes": t.mode_config_notes,
            "ike_sa": t.ike,
            "phase": Phase::of(Facts {
                connected: status == VpnStatus::Connected,
                started: t.server.is_some(),
                keyed: t.keyed,
                authenticated: t.ike.is_some(),
                ikev1: t.ikev1.map(|m| match m {
                    ikeway_manager::Phase1Mode::Main => Phase1::Main,
                    ikeway_manager::Phase1Mode::Aggressive => Phase1::Aggressive,
                }),
                configured: t.configured,
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
