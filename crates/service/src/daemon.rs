//! The daemon: one thread, one loop, one [`Input`] at a time. The loop owns the connection
//! ([`ConnectionOwner`]), answers the control socket, pushes changes to watchers, and carries
//! out what On Demand decides. It waits on a `crossbeam_channel::Select` over its inputs and
//! the next deadline: it never polls.
//!
//! `ikeway connect --foreground` runs this same loop ([`Mode::Foreground`]): it ends once the
//! connection is down and nothing will bring it back.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, Select, Sender};
use ikeway_manager::{
    DisconnectError, NetworkState, OnDemandCommand, OnDemandDecision, PreferencesStore, StartError,
    StartOptions, StatusChange, Unsupported, VpnConfiguration, VpnStatus,
};
use ikeway_tunnel::host::dirfd::DirFd;
use ikeway_tunnel::host::killswitch::{KillSwitch, KillSwitchError};
use ikeway_tunnel::host::{LinuxHost, StateFile};
use serde_json::json;

use crate::control::{Call, ConnectRequest, ControlServer, Reply, Request, Watcher};
use crate::names::Named;
use crate::ondemand::{self, OnDemand};
use crate::owner::{ConnectionOwner, Placement, described};
use crate::persist::{self, Persisted};
use crate::sleep::{Bus, SleepWatch};
use crate::{ConfigurationEvent, Input};

/// How the loop runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `ikeway daemon`: runs until told to terminate (SIGTERM, SIGINT).
    Service,
    /// `ikeway connect --foreground`: runs one connection, ends when it is down for good.
    Foreground,
}

/// Where the daemon lives and what it runs.
pub struct DaemonOptions {
    /// The preferences store configurations are looked up in.
    pub store: PreferencesStore,
    /// The checked runtime directory: control socket, host-change record, state file.
    pub dir: Arc<DirFd>,
    /// The TUN device and IKE address of connections that do not name their own.
    pub tun: String,
    pub local: Option<IpAddr>,
    pub mode: Mode,
    /// Where each line of what happens goes (the binary prints it: a terminal, the journal or
    /// the daemon's log file).
    pub log: Box<dyn FnMut(&str) + Send>,
    /// Where `log`'s lines end up, when in a file: the status names it.
    pub logged_to: Option<std::path::PathBuf>,
    /// Where the sessions' keys go: `connect --foreground --keylog` only (a daemon serving
    /// other users writes no secrets for them).
    pub keylog: Option<Arc<dyn ikeway_manager::KeyLogSink>>,
    /// Tests (`connect --foreground --ikev1-test-timers`): IKEv1 timers in place of the
    /// configuration's.
    pub ikev1_timers: Option<ikeway_manager::Ikev1Timers>,
}

impl std::fmt::Debug for DaemonOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonOptions")
            .field("store", &self.store)
            .field("dir", &self.dir)
            .field("tun", &self.tun)
            .field("local", &self.local)
            .field("mode", &self.mode)
            .field("logged_to", &self.logged_to)
            .field("keylog", &self.keylog.as_ref().map(|_| "<set>"))
            .field("ikev1_timers", &self.ikev1_timers)
            .finish_non_exhaustive()
    }
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    #[error(transparent)]
    Bind(#[from] crate::control::BindError),
    #[error("undoing what a crashed connection left behind: {0}")]
    Recover(#[from] ikeway_tunnel::host::HostError),
    #[error("the kill switch a crashed connection left behind: {0}")]
    KillSwitch(#[from] KillSwitchError),
    #[error("opening the runtime directory again: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a connect request was not carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    #[error("configuration {0:?} not found in {1}")]
    NotFound(String, String),
    #[error("reading the preferences: {0}")]
    Preferences(#[from] ikeway_manager::PreferencesError),
    #[error("enabling the configuration: {0}")]
    Enable(#[from] ikeway_manager::ManagerError),
    #[error("{running} is {status}; `ikeway disconnect` first")]
    Busy { running: String, status: String },
    /// The start failed: Apple's error name first when there is one, then what went wrong.
    #[error("starting the tunnel: {}{source}", code.map(|c| format!("{c:?}: ")).unwrap_or_default())]
    Start { code: Option<DisconnectError>, source: StartError },
    #[error("this is `ikeway connect --foreground` of {0}; it takes no other connection")]
    Foreground(String),
}

/// How the loop ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The error the last connection ended on, when it ended on one the user did not ask for.
    pub error: Option<(DisconnectError, Option<String>)>,
}

impl Ended {
    /// The error in words (`ServerDead: the server stopped answering ...`).
    pub fn described(&self) -> Option<String> {
        self.error.as_ref().map(|(e, r)| described(*e, r.as_deref()))
    }
}

/// The daemon's state; see the module documentation.
pub struct Daemon {
    options: DaemonOptions,
    inputs: Receiver<Input>,
    sender: Sender<Input>,
    _server: ControlServer,
    owner: Option<ConnectionOwner>,
    /// What the state file kept of the last connection, until this daemon runs one.
    kept: Option<Persisted>,
    watchers: Vec<Watcher>,
    /// VPN On Demand for the enabled configuration (the daemon) or the connected one
    /// (`connect --foreground`), when its rules are on.
    on_demand: Option<OnDemand>,
    /// SIGTERM/SIGINT: stop the tunnel, then end.
    terminating: bool,
    /// The user stopped the connection (disconnect, a signal): its end is no error.
    stopped_by_user: bool,
    /// The kill switch a crashed connection left, taken over at start: the first connection
    /// replaces it in one transaction (no gap), or lifts it.
    stale_kill_switch: Option<KillSwitch>,
    /// logind's sleep signals, when a system bus answered.
    sleep: Option<SleepWatch>,
    /// Between `PrepareForSleep(true)` and `(false)`.
    asleep: bool,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("options", &self.options)
            .field("owner", &self.owner)
            .field("watchers", &self.watchers.len())
            .field("on_demand", &self.on_demand)
            .field("terminating", &self.terminating)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    /// Undoes what a crashed connection left behind (its validated record in the runtime
    /// directory), then listens on the control socket. Fails when another connection or
    /// daemon answers there.
    pub fn bind(options: DaemonOptions) -> Result<Self, DaemonError> {
        let (sender, inputs) = crossbeam_channel::unbounded();
        let server = ControlServer::bind(Arc::clone(&options.dir), sender.clone())?;
        let mut daemon = Self {
            options,
            inputs,
            sender,
            _server: server,
            owner: None,
            kept: None,
            watchers: Vec::new(),
            on_demand: None,
            terminating: false,
            stopped_by_user: false,
            stale_kill_switch: None,
            sleep: None,
            asleep: false,
        };
        let record = Box::new(StateFile::new(daemon.options.dir.try_clone()?));
        if LinuxHost::recover(record, None)? {
            daemon.log("cleaned up after a connection that did not end cleanly");
        }
        let record = Box::new(StateFile::kill_switch(daemon.options.dir.try_clone()?));
        let stale = KillSwitch::adopt(record)?;
        // Sleep and resume (disconnectOnSleep); a host without a system bus has no logind.
        match crate::sleep::watch(&Bus::System, daemon.sender()) {
            Ok(watch) => daemon.sleep = Some(watch),
            Err(e) => daemon.log(&format!("not watching for sleep (disconnectOnSleep): {e}")),
        }
        // Configuration changes: every writer of the store is seen (see config_watch).
        if let Err(e) = crate::config_watch::watch(daemon.options.store.path(), daemon.sender()) {
            daemon.log(&format!("ikeway: not watching the preferences for changes: {e}"));
        }
        match persist::load(&daemon.options.dir) {
            Ok(kept) => daemon.kept = kept,
            Err(e) => daemon.log(&format!("ikeway: ignoring what was kept: {e}")),
        }
        if daemon.options.mode == Mode::Service {
            daemon.reload_on_demand();
        }
        if let Some(mut switch) = stale {
            // `connect --foreground` is about to start a connection, and On Demand of an
            // includeAllNetworks configuration may be: the first connection takes the table
            // over (no gap). Otherwise nothing is wanted yet: lifted.
            let on_demand = daemon.on_demand.as_ref().map(|od| od.name().to_owned());
            let wanted_by_on_demand = on_demand
                .and_then(|name| daemon.find(&name).ok())
                .is_some_and(|n| ikeway_manager::wants_kill_switch(&n.configuration));
            if daemon.options.mode == Mode::Foreground || wanted_by_on_demand {
                daemon.stale_kill_switch = Some(switch);
                daemon.log("took over the kill switch a connection that did not end cleanly left");
            } else {
                switch.lift()?;
                daemon.log("lifted the kill switch a connection that did not end cleanly left");
            }
        }
        Ok(daemon)
    }

    /// Where other threads send inputs (signals, configuration changes, sleep/resume).
    pub fn sender(&self) -> Sender<Input> {
        self.sender.clone()
    }

    fn log(&mut self, line: &str) {
        (self.options.log)(line);
    }

    /// Brings up the configuration `request` names (the user wants it): `asker` is the uid
    /// that asked (root), `request.starter` the user behind sudo. Returns the configured
    /// features the tunnel will not honour. The user's connect: their earlier disconnect no
    /// longer holds against On Demand, which runs for this configuration if it has rules.
    pub fn connect(&mut self, request: ConnectRequest) -> Result<Vec<Unsupported>, ConnectError> {
        let name = request.configuration.clone();
        let started = self.start(request);
        if started.is_ok() {
            self.on_user_connect(&name);
        }
        started
    }

    /// Brings up the configuration `request` names, for the user or for On Demand.
    fn start(&mut self, request: ConnectRequest) -> Result<Vec<Unsupported>, ConnectError> {
        if let Some(o) = &self.owner
            && matches!(
                o.status(),
                VpnStatus::Connecting | VpnStatus::Connected | VpnStatus::Reasserting
            )
        {
            if o.name() == request.configuration && o.wanted() {
                return Ok(Vec::new());
            }
            return Err(ConnectError::Busy {
                running: o.name().to_owned(),
                status: crate::owner::status_name(o.status()),
            });
        }
        if self.options.mode == Mode::Foreground
            && let Some(o) = &self.owner
        {
            return Err(ConnectError::Foreground(o.name().to_owned()));
        }
        let mut found = self.find(&request.configuration)?;
        if !found.configuration.enabled {
            // Connecting is the user's switch: enable it, which disables the other ones.
            crate::names::enable(&self.options.store, &request.configuration)?;
            found.configuration.enabled = true;
            self.log(&format!("{}: enabled", request.configuration));
        }
        let placement = Placement {
            dir: Arc::clone(&self.options.dir),
            tun: request.tun.clone().unwrap_or_else(|| self.options.tun.clone()),
            local: request.local.or(self.options.local),
            keylog: self.options.keylog.clone(),
            ikev1_timers: self.options.ikev1_timers,
        };
        let secrets = self.options.store.secrets().clone();
        let mut owner =
            ConnectionOwner::new(&request.configuration, found.configuration, secrets, &placement);
        for uid in found.owner_uid.into_iter().chain(request.starter) {
            owner.add_reader(uid);
        }
        // One kill-switch table for every connection: the new owner replaces the previous
        // one's (still engaged when it was wanted and waiting for On Demand) with no gap.
        let inherited = self.owner.as_mut().and_then(ConnectionOwner::take_kill_switch);
        owner.inherit_kill_switch(inherited.or_else(|| self.stale_kill_switch.take()));
        let options = StartOptions { username: None, password: request.password };
        self.stopped_by_user = false;
        let started = owner.want(options);
        for line in owner.take_notes() {
            self.log(&line);
        }
        let code = owner.last_error().map(|(e, _)| e);
        self.owner = Some(owner);
        self.keep();
        started.map_err(|source| ConnectError::Start { code, source })
    }

    /// The saved configuration `name` of the store.
    fn find(&self, name: &str) -> Result<Named, ConnectError> {
        let store = &self.options.store;
        let found = crate::names::find(store, name)?;
        found.ok_or_else(|| {
            ConnectError::NotFound(name.to_owned(), store.path().display().to_string())
        })
    }

    /// Runs until told to terminate ([`Mode::Service`]) or until the connection is down for
    /// good ([`Mode::Foreground`]).
    pub fn run(mut self) -> Ended {
        while !self.finished() {
            let input = self.next_input();
            self.handle(input);
        }
        self.lift_stale_kill_switch();
        let error = if self.stopped_by_user {
            None
        } else {
            self.owner.as_ref().and_then(ConnectionOwner::last_error)
        };
        Ended { error }
    }

    fn finished(&self) -> bool {
        let down = self
            .owner
            .as_ref()
            .is_none_or(|o| matches!(o.status(), VpnStatus::Disconnected | VpnStatus::Invalid));
        match self.options.mode {
            Mode::Service => self.terminating && down,
            // On Demand keeps a foreground connection's process until the user stops it.
            Mode::Foreground => down && (self.on_demand.is_none() || self.stopped_by_user),
        }
    }

    /// The next input: whichever source has one first, or `Tick` at the next deadline.
    fn next_input(&self) -> Input {
        let changes = self.owner.as_ref().map(|o| o.changes().clone());
        let mut select = Select::new();
        let inputs = select.recv(&self.inputs);
        let status = changes.as_ref().map(|c| select.recv(c));
        let od = self.on_demand.as_ref();
        let network = od.map(|o| select.recv(o.network()));
        let probes = od.map(|o| select.recv(o.probes()));
        let dns = od.and_then(OnDemand::dns).map(|d| select.recv(d));
        let op = match self.next_deadline() {
            Some(at) => match select.select_deadline(at) {
                Ok(op) => op,
                Err(_) => return Input::Tick,
            },
            None => select.select(),
        };
        let i = op.index();
        // A disconnected sender ends that source; the loop sees it as a tick and goes on.
        if i == inputs {
            op.recv(&self.inputs).unwrap_or(Input::Tick)
        } else if Some(i) == status
            && let Some(c) = &changes
        {
            op.recv(c).map_or(Input::Tick, Input::Status)
        } else if let Some(o) = od
            && Some(i) == network
        {
            op.recv(o.network())
                .map_or(Input::Tick, |n| Input::Network(ondemand::network_state(&n)))
        } else if let Some(o) = od
            && Some(i) == probes
        {
            op.recv(o.probes()).map_or(Input::Tick, Input::Probe)
        } else if let Some(d) = od.and_then(OnDemand::dns)
            && Some(i) == dns
        {
            op.recv(d).map_or(Input::Tick, Input::Dns)
        } else {
            Input::Tick
        }
    }

    /// The earliest deadline of the loop: On Demand's retry.
    fn next_deadline(&self) -> Option<Instant> {
        // Asleep: nothing is due until the wake signal.
        if self.asleep {
            return None;
        }
        self.on_demand.as_ref().and_then(|o| o.driver_ref().next_deadline())
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Control(call) => self.on_control(call),
            Input::Status(change) => self.on_status(&change),
            Input::Network(state) => self.on_network(&state),
            Input::Probe(result) => self.on_probe(result),
            Input::Dns(request) => self.on_dns(request),
            Input::Configuration(event) => self.on_configuration(&event),
            Input::Sleep(going) => self.on_sleep(going),
            Input::Tick => self.on_tick(),
            Input::Terminate => self.on_terminate(),
        }
    }

    /// Writes what is kept of the connection (its status, connected date, last error).
    fn keep(&mut self) {
        let Some(o) = &self.owner else { return };
        let kept = o.persisted();
        if let Err(e) = persist::save(&self.options.dir, &kept) {
            self.log(&format!("ikeway: keeping the connection's status: {e}"));
        }
        self.kept = Some(kept);
    }

    /// Whether `uid` may read the status: root, a reader of the connection, or of what was
    /// kept of the last one; anyone when there is neither.
    fn may_read(&self, uid: u32) -> Result<(), String> {
        let (name, readers) = match (&self.owner, &self.kept) {
            (Some(o), _) if !o.may_read(uid) => (o.name(), o.readers()),
            (None, Some(k)) if !k.may_read(uid) => {
                (k.configuration.as_str(), ConnectionOwner::describe_readers(&k.readers))
            }
            _ => return Ok(()),
        };
        Err(format!("refused: uid {uid} is neither root nor a user {name} answers to ({readers})"))
    }

    fn snapshot(&self) -> serde_json::Value {
        let mut s = match (&self.owner, &self.kept) {
            (Some(o), _) => o.snapshot(),
            (None, Some(k)) => k.snapshot(),
            (None, None) => json!({ "status": "disconnected" }),
        };
        if let Some(path) = &self.options.logged_to {
            s["log"] = json!(path.display().to_string());
        }
        s
    }

    fn on_control(&mut self, call: Call) {
        let uid = call.peer.uid;
        if call.request.needs_root() && uid != 0 {
            let why = format!("refused: {} needs root (uid {uid} asked)", call.request.name());
            call.answer(&Reply::Error(why));
            return;
        }
        if let Err(why) = self.may_read(uid) {
            call.answer(&Reply::Error(why));
            return;
        }
        let request = call.request.clone();
        match request {
            Request::Status => call.answer(&Reply::Snapshot(self.snapshot())),
            Request::Watch => {
                let first = Reply::Snapshot(self.snapshot());
                self.watchers.extend(call.into_watcher(&first));
            }
            Request::Connect(c) => {
                let name = c.configuration.clone();
                match self.connect(c) {
                    Ok(unsupported) => {
                        for u in &unsupported {
                            self.log(&format!(
                                "unsupported, not applied: {} ({})",
                                u.field, u.reason
                            ));
                        }
                        self.log(&format!("{name}: connecting"));
                        call.answer(&Reply::Snapshot(self.snapshot()));
                    }
                    Err(e) => {
                        self.log(&format!("ikeway: {name}: {e}"));
                        call.answer(&Reply::Error(e.to_string()));
                    }
                }
            }
            Request::Disconnect => {
                self.stop();
                call.answer(&Reply::Snapshot(self.snapshot()));
            }
        }
    }

    /// The user's stop: the connection is no longer wanted.
    fn stop(&mut self) {
        if let Some(od) = &mut self.on_demand {
            od.driver().on_user_disconnect();
        }
        if let Some(o) = &mut self.owner {
            self.stopped_by_user = true;
            o.unwant();
            for line in o.take_notes() {
                (self.options.log)(&line);
            }
        }
    }

    fn on_status(&mut self, change: &StatusChange) {
        let Some(owner) = &mut self.owner else { return };
        let lines = owner.describe(change);
        let on_demand = self.on_demand.as_mut().filter(|od| od.name() == owner.name());
        if change.to == VpnStatus::Disconnected && self.asleep {
            // Down for sleep: the system may go now; waking decides what comes back.
            if let Some(s) = &self.sleep {
                s.done();
            }
        } else if change.to == VpnStatus::Disconnected && owner.wanted() && on_demand.is_none() {
            owner.give_up();
        }
        let lines: Vec<String> = lines.into_iter().chain(owner.take_notes()).collect();
        // VPN On Demand: a connection the user did not stop comes back when the rules for
        // the current network say Connect (after a wait); waiting DNS queries go on.
        let command = on_demand.and_then(|od| {
            let dns = (change.to == VpnStatus::Connected).then(|| tunnel_dns(&owner.snapshot()));
            od.on_status(Instant::now(), change, dns)
        });
        for line in lines {
            self.log(&line);
        }
        self.keep();
        // Asleep, nothing comes back before the wake signal.
        if !self.asleep {
            self.carry_out(command);
        }
        self.push(&Reply::Snapshot(self.snapshot()));
    }

    /// Sends `reply` to every watcher; those gone are dropped, and so is one that may no
    /// longer read (a connection of another owner began), after one refusal line.
    fn push(&mut self, reply: &Reply) {
        let mut watchers = std::mem::take(&mut self.watchers);
        watchers.retain_mut(|w| match self.may_read(w.peer.uid) {
            Ok(()) => w.push(reply),
            Err(why) => {
                w.push(&Reply::Error(why));
                false
            }
        });
        self.watchers = watchers;
    }

    fn status(&self) -> VpnStatus {
        self.owner.as_ref().map_or(VpnStatus::Disconnected, ConnectionOwner::status)
    }

    fn on_network(&mut self, state: &NetworkState) {
        // includeAllNetworks: the local networks the kill switch lets out follow the host.
        if let Some(o) = &mut self.owner {
            o.refresh_kill_switch();
            for line in o.take_notes() {
                (self.options.log)(&line);
            }
        }
        let status = self.status();
        let command = self.on_demand.as_mut().and_then(|od| od.on_network(state, status));
        self.carry_out(command);
        // On Demand had its look at the network and started nothing: the table a crashed
        // connection left is not wanted.
        self.lift_stale_kill_switch();
    }

    fn lift_stale_kill_switch(&mut self) {
        if let Some(mut switch) = self.stale_kill_switch.take() {
            match switch.lift() {
                Ok(()) => {
                    self.log("lifted the kill switch a connection that did not end cleanly left")
                }
                Err(e) => self.log(&format!("ikeway: kill switch: {e}")),
            }
        }
    }

    fn on_probe(&mut self, result: ondemand::ProbeResult) {
        let status = self.status();
        let command = self.on_demand.as_mut().and_then(|od| od.on_probe(result, status));
        self.carry_out(command);
    }

    fn on_dns(&mut self, request: ondemand::StubRequest) {
        let status = self.status();
        let command = match &mut self.on_demand {
            Some(od) => od.on_dns(request, status),
            None => {
                let _ = request.reply.send(None);
                None
            }
        };
        self.carry_out(command);
    }

    /// The user's connect: their earlier disconnect no longer holds against On Demand, which
    /// runs for the configuration connected (connecting enables it) when it has rules.
    fn on_user_connect(&mut self, name: &str) {
        if self.on_demand.as_ref().is_none_or(|od| od.name() != name) {
            let c = self.owner.as_ref().and_then(ConnectionOwner::configuration).cloned();
            if let Some(c) = c {
                self.start_on_demand(name, &c);
            }
        }
        if let Some(od) = self.on_demand.as_mut().filter(|od| od.name() == name) {
            od.driver().on_user_connect();
        }
    }

    /// On Demand for the enabled configuration, as the store has it now: started, kept when
    /// its rules did not change, stopped when none is enabled with On Demand on.
    fn reload_on_demand(&mut self) {
        let found = crate::names::configurations(&self.options.store).map(|all| {
            all.into_iter()
                .find(|n| n.configuration.enabled && ondemand::rules_of(&n.configuration).is_some())
        });
        let named = match found {
            Ok(n) => n,
            Err(e) => {
                self.log(&format!("on demand: reading the preferences: {e}"));
                return;
            }
        };
        match named {
            Some(n)
                if self.on_demand.as_ref().is_some_and(|od| od.runs(&n.name, &n.configuration)) => {
            }
            Some(n) => self.start_on_demand(&n.name, &n.configuration),
            None => {
                if let Some(od) = self.on_demand.take() {
                    self.log(&format!("{}: on demand: off", od.name()));
                }
            }
        }
    }

    fn start_on_demand(&mut self, name: &str, c: &VpnConfiguration) {
        match OnDemand::start(name, c) {
            Some(Ok(mut od)) => {
                self.log(&format!("{name}: on demand: watching the network"));
                for note in od.take_notes() {
                    self.log(&note);
                }
                self.on_demand = Some(od);
            }
            Some(Err(e)) => {
                self.on_demand = None;
                self.log(&format!("{name}: on demand: cannot watch the network: {e}"));
            }
            None => self.on_demand = None,
        }
    }

    /// Carries out what On Demand decided, with the calls `connect` and `disconnect` use;
    /// neither is the user's own choice.
    fn carry_out(&mut self, command: Option<OnDemandCommand>) {
        let Some(command) = command else { return };
        let Some(name) = self.on_demand.as_ref().map(|od| od.name().to_owned()) else { return };
        match command {
            OnDemandCommand::Connect => {
                let started = match &mut self.owner {
                    Some(o) if o.name() == name => {
                        if !matches!(o.status(), VpnStatus::Disconnected | VpnStatus::Invalid) {
                            return;
                        }
                        o.want_again()
                    }
                    Some(o)
                        if !matches!(o.status(), VpnStatus::Disconnected | VpnStatus::Invalid) =>
                    {
                        // Another configuration is up, by the user's hand: it stays.
                        return;
                    }
                    _ => {
                        let request = ConnectRequest {
                            configuration: name.clone(),
                            password: None,
                            tun: None,
                            local: None,
                            starter: None,
                        };
                        self.start(request).map_err(|e| e.to_string())
                    }
                };
                self.log(&format!("{name}: on demand: connecting"));
                if let Err(e) = started {
                    self.log(&format!("{name}: on demand: {e}"));
                }
            }
            OnDemandCommand::Disconnect => {
                if let Some(o) = self.owner.as_mut().filter(|o| o.name() == name) {
                    o.unwant();
                    self.log(&format!("{name}: on demand: disconnecting"));
                }
            }
        }
        self.push(&Reply::Snapshot(self.snapshot()));
    }

    /// The store changed: the running connection takes its saved configuration again (used
    /// from its next start, as Apple's; removed, it stops), and watchers are told.
    fn on_configuration(&mut self, event: &ConfigurationEvent) {
        self.log(&format!("preferences {event}"));
        if let Some(name) = self.owner.as_ref().map(|o| o.name().to_owned()) {
            match crate::names::find(&self.options.store, &name) {
                Ok(found) => {
                    let removed = found.is_none();
                    if let Some(o) = &mut self.owner {
                        o.reconfigure(found.map(|n| n.configuration));
                    }
                    if removed {
                        self.log(&format!("{name}: removed from the preferences"));
                    }
                }
                Err(e) => self.log(&format!("ikeway: reading the preferences again: {e}")),
            }
        }
        if self.options.mode == Mode::Service {
            self.reload_on_demand();
        }
        let reply = Reply::Event(json!({ "event": "configuration", "change": event.to_string() }));
        self.push(&reply);
    }

    /// `PrepareForSleep`: before sleeping, a wanted connection whose configuration says
    /// `disconnectOnSleep` is stopped (still wanted when On Demand may bring it back on wake,
    /// else no longer); after waking, On Demand's rules decide whether it comes back.
    fn on_sleep(&mut self, going: bool) {
        self.asleep = going;
        let Some(owner) = &mut self.owner else {
            if let (true, Some(s)) = (going, &self.sleep) {
                s.done();
            }
            return;
        };
        let name = owner.name().to_owned();
        match sleep_action(going, owner.wanted(), owner.status(), owner.configuration()) {
            SleepAction::Suspend => {
                owner.suspend();
                self.log(&format!("{name}: disconnecting for sleep (disconnectOnSleep)"));
            }
            SleepAction::Stop => {
                self.stopped_by_user = true;
                owner.unwant();
                self.log(&format!("{name}: disconnecting for sleep (disconnectOnSleep)"));
            }
            SleepAction::Evaluate => {
                // Reconnect on wake when On Demand's rules for the network say Connect.
                let connect = self.on_demand.as_ref().is_some_and(|od| {
                    matches!(od.driver_ref().decision(), OnDemandDecision::Connect { .. })
                });
                self.log(&format!(
                    "{name}: awake: on demand says {}",
                    if connect { "connect" } else { "wait" }
                ));
                if connect {
                    self.carry_out(Some(OnDemandCommand::Connect));
                }
            }
            SleepAction::Nothing => {
                if let (true, Some(s)) = (going, &self.sleep) {
                    s.done();
                }
            }
        }
    }

    fn on_tick(&mut self) {
        if self.asleep {
            return;
        }
        let status = self.status();
        let command =
            self.on_demand.as_mut().and_then(|od| od.driver().on_deadline(Instant::now(), status));
        self.carry_out(command);
    }

    fn on_terminate(&mut self) {
        self.terminating = true;
        self.stop();
    }
}

/// What a sleep signal does to the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SleepAction {
    /// Stop the tunnel, keep it wanted: On Demand brings it back on wake.
    Suspend,
    /// Stop the tunnel and no longer want it (no On Demand to bring it back).
    Stop,
    /// Awake: let On Demand's rules decide now.
    Evaluate,
    Nothing,
}

/// The pure decision behind [`Daemon::on_sleep`].
fn sleep_action(
    going: bool,
    wanted: bool,
    status: VpnStatus,
    configuration: Option<&VpnConfiguration>,
) -> SleepAction {
    let on_sleep =
        configuration.and_then(|c| c.protocol.as_ref()).is_some_and(|p| p.disconnect_on_sleep);
    let on_demand = configuration.and_then(crate::ondemand::rules_of).is_some();
    let active =
        matches!(status, VpnStatus::Connecting | VpnStatus::Connected | VpnStatus::Reasserting);
    match (going, wanted, on_sleep, on_demand) {
        (true, true, true, true) if active => SleepAction::Suspend,
        (true, true, true, false) if active => SleepAction::Stop,
        (false, true, _, true) if status == VpnStatus::Disconnected => SleepAction::Evaluate,
        _ => SleepAction::Nothing,
    }
}

/// The tunnel's DNS servers and domains, as the status snapshot shows them.
fn tunnel_dns(snapshot: &serde_json::Value) -> (Vec<IpAddr>, Vec<String>) {
    let list = |key: &str| -> Vec<String> {
        snapshot[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let servers = list("dns").iter().filter_map(|s| s.parse().ok()).collect();
    (servers, list("domains"))
}

#[cfg(test)]
mod tests {
    use ikeway_manager::{Ikev2Protocol, OnDemandRule};

    use super::*;

    fn configuration(disconnect_on_sleep: bool, on_demand: bool) -> VpnConfiguration {
        VpnConfiguration {
            enabled: true,
            on_demand_enabled: on_demand,
            on_demand_rules: vec![OnDemandRule::default()],
            protocol: Some(Ikev2Protocol { disconnect_on_sleep, ..Ikev2Protocol::new("vpn") }),
            ..VpnConfiguration::default()
        }
    }

    /// disconnectOnSleep: before sleep a wanted, active connection stops, kept wanted when On
    /// Demand can bring it back; on wake On Demand decides; everything else is left alone.
    #[test]
    fn sleep_stops_what_says_so_and_on_demand_decides_on_wake() {
        use SleepAction as A;
        use VpnStatus as S;
        let od = configuration(true, true);
        let plain = configuration(true, false);
        let stays = configuration(false, true);
        let rows: [(bool, bool, S, &VpnConfiguration, A); 11] = [
            (true, true, S::Connected, &od, A::Suspend),
            (true, true, S::Reasserting, &od, A::Suspend),
            (true, true, S::Connecting, &plain, A::Stop),
            (true, true, S::Connected, &stays, A::Nothing),
            (true, false, S::Connected, &od, A::Nothing),
            (true, true, S::Disconnected, &od, A::Nothing),
            (true, true, S::Disconnecting, &plain, A::Nothing),
            (false, true, S::Disconnected, &od, A::Evaluate),
            (false, true, S::Disconnected, &stays, A::Evaluate),
            (false, false, S::Disconnected, &od, A::Nothing),
            (false, true, S::Disconnected, &plain, A::Nothing),
        ];
        for (i, (going, wanted, status, c, action)) in rows.into_iter().enumerate() {
            assert_eq!(sleep_action(going, wanted, status, Some(c)), action, "row {i}");
        }
        assert_eq!(sleep_action(true, true, S::Connected, None), A::Nothing);
    }
}
