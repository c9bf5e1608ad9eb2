//! VPN On Demand for a connection owner (the daemon, and `connect --foreground`): the rules of
//! the enabled configuration evaluated on every change of the host's network, probe URLs
//! fetched off the owner's thread, and the owner told what to do.
//!
//! ```text
//!  NetworkMonitor --Observation--> network_state() --> on_network ----+
//!  probe threads ---ProbeResult-------------------------> on_probe --+--> evaluate_known
//!  the connection --StatusChange------------------------> on_status -+      -> command_for
//!  the deadline (retry after a drop) ------------------> on_deadline +      -> Option<Command>
//!  the user's connect / disconnect --> on_user_connect / on_user_disconnect
//! ```
//!
//! The driver does no I/O itself but start probe threads; the owner carries its
//! [`OnDemandCommand`]s out with the same calls its `connect` / `disconnect` use, and selects
//! on [`OnDemandDriver::probe_results`] and [`OnDemandDriver::next_deadline`] beside its
//! other inputs.
//!
//! ```
//! use ikeway_manager::{InterfaceType, NetworkState, OnDemandAction, OnDemandCommand, OnDemandRule, VpnStatus};
//! use ikeway_service::ondemand::OnDemandDriver;
//!
//! let mut wired = OnDemandRule::new(OnDemandAction::Connect);
//! wired.interface_type_match = InterfaceType::Ethernet;
//! let mut driver = OnDemandDriver::new(vec![wired], false);
//! let network = NetworkState { interface_type: Some(InterfaceType::Ethernet), ..Default::default() };
//! assert_eq!(driver.on_network(&network, VpnStatus::Disconnected), Some(OnDemandCommand::Connect));
//! ```

mod dns;
mod session;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ikeway_manager::{
    ConnectionEvaluator, InterfaceType, NetworkState, OnDemandCommand, OnDemandContext,
    OnDemandDecision, OnDemandRule, StatusChange, VpnStatus, command_for, evaluate_known,
};
use ikeway_tunnel::host::observe::{InterfaceKind, Observation};
use ikeway_tunnel::host::probe::{PROBE_TIMEOUT, http_probe};

pub use dns::{DnsStub, MAX_ANSWER, MAX_QUERY, StubConfig, StubError, StubRequest};
pub use session::{OnDemand, STUB_ADDRESS, rules_of};

/// The first wait before On Demand brings back a connection that ended on its own.
pub const RETRY_FIRST: Duration = Duration::from_secs(2);
/// The longest wait between attempts while a Connect rule keeps matching and the server
/// keeps failing.
pub const RETRY_MAX: Duration = Duration::from_secs(64);

/// The host's observation as On Demand rules see it.
pub fn network_state(o: &Observation) -> NetworkState {
    NetworkState {
        interface_type: o.interface.as_ref().map(|i| match i.kind {
            InterfaceKind::Ethernet => InterfaceType::Ethernet,
            InterfaceKind::WiFi => InterfaceType::WiFi,
            InterfaceKind::Cellular => InterfaceType::Cellular,
        }),
        ssid: o.ssid.clone(),
        dns_search_domains: o.dns_search_domains.clone(),
        dns_servers: o.dns_servers.clone(),
    }
}

/// A probe's result, for the network it was started on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    generation: u64,
    url: String,
    ok: bool,
}

/// How a probe URL is fetched: [`http_probe`] in the service, a stand-in in tests.
pub type Prober = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// On Demand's state for one configuration.
pub struct OnDemandDriver {
    rules: Vec<OnDemandRule>,
    user_override_disabled: bool,
    network: Option<NetworkState>,
    /// Bumped on each network change: a probe of an older network is stale.
    generation: u64,
    probed: HashMap<String, bool>,
    probing: HashSet<String>,
    prober: Prober,
    results_tx: Sender<ProbeResult>,
    results: Receiver<ProbeResult>,
    decision: OnDemandDecision,
    /// The user stopped the connection themselves (their override of On Demand).
    user_stopped: bool,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// The tunnel's own DNS while it is up: not the network's.
    tunnel_dns: Option<(Vec<std::net::IpAddr>, Vec<String>)>,
}

impl std::fmt::Debug for OnDemandDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDemandDriver")
            .field("rules", &self.rules.len())
            .field("decision", &self.decision)
            .field("user_stopped", &self.user_stopped)
            .field("retry_at", &self.retry_at)
            .finish_non_exhaustive()
    }
}

impl OnDemandDriver {
    /// A driver for `rules` (an enabled configuration's, with `onDemandEnabled`), its probes
    /// fetched by [`http_probe`].
    pub fn new(rules: Vec<OnDemandRule>, user_override_disabled: bool) -> Self {
        Self::with_prober(
            rules,
            user_override_disabled,
            Arc::new(|url: &str| http_probe(url, PROBE_TIMEOUT)),
        )
    }

    /// [`Self::new`] with probes fetched by `prober` (on threads of their own).
    pub fn with_prober(
        rules: Vec<OnDemandRule>,
        user_override_disabled: bool,
        prober: Prober,
    ) -> Self {
        // One result per URL per network: the rules bound how many can be in flight.
        let (results_tx, results) = crossbeam_channel::unbounded();
        Self {
            rules,
            user_override_disabled,
            network: None,
            generation: 0,
            probed: HashMap::new(),
            probing: HashSet::new(),
            prober,
            results_tx,
            results,
            decision: OnDemandDecision::NoMatch,
            user_stopped: false,
            retry_at: None,
            backoff: RETRY_FIRST,
            tunnel_dns: None,
        }
    }

    /// Probe results arrive here; hand each to [`Self::on_probe`].
    pub fn probe_results(&self) -> &Receiver<ProbeResult> {
        &self.results
    }

    /// The decision of the rules for the current network, as far as known.
    pub fn decision(&self) -> &OnDemandDecision {
        &self.decision
    }

    /// The per-destination table when an EvaluateConnection rule decides.
    pub fn connection_evaluator(&self) -> Option<&ConnectionEvaluator> {
        match &self.decision {
            OnDemandDecision::EvaluateConnection { evaluator, .. } => Some(evaluator),
            _ => None,
        }
    }

    /// The host's network changed (or is known for the first time).
    pub fn on_network(
        &mut self,
        network: &NetworkState,
        status: VpnStatus,
    ) -> Option<OnDemandCommand> {
        self.generation += 1;
        self.probed.clear();
        self.probing.clear();
        self.network = Some(self.without_tunnel_dns(network));
        // A new network is reason enough to try at once: no backoff carried over.
        self.backoff = RETRY_FIRST;
        self.retry_at = None;
        self.evaluate(status)
    }

    /// A probe finished; stale ones (of an earlier network) are dropped.
    pub fn on_probe(&mut self, result: ProbeResult, status: VpnStatus) -> Option<OnDemandCommand> {
        if result.generation != self.generation {
            return None;
        }
        self.probing.remove(&result.url);
        self.probed.insert(result.url, result.ok);
        self.evaluate(status)
    }

    /// The connection's status changed. A connection that ended without the user asking is
    /// brought back after a wait (doubling up to [`RETRY_MAX`]) if the rules still say so.
    pub fn on_status(&mut self, now: Instant, change: &StatusChange) -> Option<OnDemandCommand> {
        match change.to {
            VpnStatus::Connected => self.backoff = RETRY_FIRST,
            VpnStatus::Disconnected if !self.user_stopped => {
                if matches!(self.decision, OnDemandDecision::Connect { .. }) {
                    self.retry_at = Some(now + self.backoff);
                    self.backoff = (self.backoff * 2).min(RETRY_MAX);
                }
            }
            _ => {}
        }
        None
    }

    /// The tunnel's DNS servers and domains while it is up (`None` once it is down): the
    /// rules look at the network's resolver, so these are left out of what the host reports;
    /// when nothing else is left (resolv.conf was replaced by the tunnel's), the network's
    /// resolver is what it was before.
    pub fn set_tunnel_dns(&mut self, dns: Option<(Vec<std::net::IpAddr>, Vec<String>)>) {
        self.tunnel_dns = dns;
    }

    fn without_tunnel_dns(&self, network: &NetworkState) -> NetworkState {
        let mut n = network.clone();
        let Some((servers, domains)) = &self.tunnel_dns else { return n };
        n.dns_servers.retain(|s| !servers.contains(s));
        n.dns_search_domains.retain(|d| !domains.iter().any(|t| t.eq_ignore_ascii_case(d)));
        if n.dns_servers.is_empty()
            && n.dns_search_domains.is_empty()
            && let Some(before) = &self.network
        {
            n.dns_servers.clone_from(&before.dns_servers);
            n.dns_search_domains.clone_from(&before.dns_search_domains);
        }
        n
    }

    /// When [`Self::on_deadline`] wants to be called.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.retry_at
    }

    /// The deadline passed: the rules are evaluated again.
    pub fn on_deadline(&mut self, now: Instant, status: VpnStatus) -> Option<OnDemandCommand> {
        match self.retry_at {
            Some(at) if at <= now => {
                self.retry_at = None;
                self.evaluate(status)
            }
            _ => None,
        }
    }

    /// The user asked to connect: their earlier disconnect no longer holds.
    pub fn on_user_connect(&mut self) {
        self.user_stopped = false;
    }

    /// The user asked to disconnect: Connect rules leave the connection down until the user
    /// connects again, unless `OnDemandUserOverrideDisabled`.
    pub fn on_user_disconnect(&mut self) {
        self.user_stopped = true;
        self.retry_at = None;
    }

    /// A name was asked of the DNS stub while EvaluateConnection decides: whether it asks for
    /// the connection. `resolved` says whether the name resolved without the tunnel (through
    /// the rule's servers, else the network's own).
    pub fn on_dns_name(
        &self,
        name: &str,
        resolved: bool,
        status: VpnStatus,
    ) -> Option<OnDemandCommand> {
        (!is_running(status) && self.wants_tunnel_for(name, resolved))
            .then_some(OnDemandCommand::Connect)
    }

    /// Whether a connection to `name` needs the tunnel (whatever its status now): an
    /// EvaluateConnection rule decides, its ConnectIfNeeded rule covers the name, the name did
    /// not resolve outside or the rule's probe failed, and the user's own disconnect does not
    /// hold.
    pub fn wants_tunnel_for(&self, name: &str, resolved: bool) -> bool {
        let Some(evaluator) = self.connection_evaluator() else { return false };
        if self.user_stopped && !self.user_override_disabled {
            return false;
        }
        // Its probe, if it has one, was run with the network's others (see `evaluate`).
        let probed = |url: &str| self.probed.get(url).copied().unwrap_or(true);
        evaluator.should_connect_for_domain(name, &|_, _| resolved, &probed)
    }

    /// The tunnel's DNS servers while it is up.
    pub fn tunnel_dns_servers(&self) -> Option<&[std::net::IpAddr]> {
        self.tunnel_dns.as_ref().map(|(servers, _)| servers.as_slice())
    }

    fn evaluate(&mut self, status: VpnStatus) -> Option<OnDemandCommand> {
        let network = self.network.as_ref()?;
        let probed = &self.probed;
        match evaluate_known(&self.rules, network, &|url| probed.get(url).copied()) {
            Err(needed) => {
                self.start_probe(needed.url);
                None
            }
            Ok(decision) => {
                self.decision = decision;
                self.start_connection_probes();
                let cx = OnDemandContext {
                    running: is_running(status),
                    user_stopped: self.user_stopped,
                    user_override_disabled: self.user_override_disabled,
                };
                let command = command_for(&self.decision, cx);
                if command.is_some() {
                    self.retry_at = None;
                }
                command
            }
        }
    }

    /// An EvaluateConnection rule's `RequiredURLStringProbe`s, fetched once per network so
    /// that a DNS query never waits on one.
    fn start_connection_probes(&mut self) {
        let urls: Vec<String> = match &self.decision {
            OnDemandDecision::EvaluateConnection { rule, .. } => self.rules[*rule]
                .connection_rules
                .iter()
                .filter_map(|r| r.probe_url.clone())
                .collect(),
            _ => return,
        };
        for url in urls {
            if !self.probed.contains_key(&url) {
                self.start_probe(url);
            }
        }
    }

    fn start_probe(&mut self, url: String) {
        if !self.probing.insert(url.clone()) {
            return;
        }
        let (tx, prober, generation) =
            (self.results_tx.clone(), Arc::clone(&self.prober), self.generation);
        let fetching = url.clone();
        let spawned = std::thread::Builder::new().name("ikeway-probe".into()).spawn(move || {
            let ok = prober(&fetching);
            let _ = tx.send(ProbeResult { generation, url: fetching, ok });
        });
        if spawned.is_err() {
            // No thread: the probe failed, as on a network that does not answer.
            let _ = self.results_tx.send(ProbeResult { generation, url, ok: false });
        }
    }
}

fn is_running(status: VpnStatus) -> bool {
    !matches!(status, VpnStatus::Disconnected | VpnStatus::Invalid)
}
