//! On Demand for one configuration as a connection owner runs it: the driver, the network
//! monitor feeding it, and the DNS stub when an EvaluateConnection rule needs one. The owner
//! (the daemon's loop) selects on [`OnDemand::network`], [`OnDemand::probes`] and
//! [`OnDemand::dns`], hands what arrives to the matching call, and carries out the
//! [`OnDemandCommand`] it gets back.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use ikeway_manager::{
    NetworkState, OnDemandAction, OnDemandCommand, OnDemandRule, StatusChange, VpnConfiguration,
    VpnStatus,
};
use ikeway_tunnel::host::observe::{NetworkMonitor, Observation};

use super::{DnsStub, OnDemandDriver, ProbeResult, StubConfig, StubRequest};

/// Where the DNS stub listens: a loopback address of its own (systemd-resolved has 127.0.0.53
/// and 127.0.0.54), port 53 (the daemon runs as root).
pub const STUB_ADDRESS: SocketAddr =
    SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 153)), 53);

/// On Demand's state for the configuration it runs for.
pub struct OnDemand {
    name: String,
    rules: Vec<OnDemandRule>,
    user_override_disabled: bool,
    driver: OnDemandDriver,
    _monitor: NetworkMonitor,
    network: Receiver<Observation>,
    stub: Option<DnsStub>,
    dns: Option<Receiver<StubRequest>>,
    /// Queries waiting for the tunnel a name asked for.
    waiting: Vec<Sender<Option<Vec<IpAddr>>>>,
    /// What the stub could not do, said once by the owner.
    notes: Vec<String>,
}

impl std::fmt::Debug for OnDemand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnDemand")
            .field("name", &self.name)
            .field("driver", &self.driver)
            .field("stub", &self.stub.as_ref().map(DnsStub::local_addr))
            .finish_non_exhaustive()
    }
}

/// The rules of `c` when On Demand is on for it.
pub fn rules_of(c: &VpnConfiguration) -> Option<(&[OnDemandRule], bool)> {
    let overridable = c.protocol.as_ref().is_some_and(|p| p.on_demand_user_override_disabled);
    (c.on_demand_enabled && !c.on_demand_rules.is_empty())
        .then_some((c.on_demand_rules.as_slice(), overridable))
}

impl OnDemand {
    /// On Demand for the configuration saved as `name`; `None` when it has no rules or On
    /// Demand is off. Starts watching the network (the first state arrives on
    /// [`Self::network`] at once) and, for EvaluateConnection rules, the DNS stub on
    /// [`STUB_ADDRESS`]; a stub that cannot bind is noted, not fatal.
    pub fn start(name: &str, c: &VpnConfiguration) -> Option<io::Result<Self>> {
        let (rules, user_override_disabled) = rules_of(c)?;
        Some(Self::start_with(name, rules.to_vec(), user_override_disabled, STUB_ADDRESS))
    }

    fn start_with(
        name: &str,
        rules: Vec<OnDemandRule>,
        user_override_disabled: bool,
        stub_at: SocketAddr,
    ) -> io::Result<Self> {
        let (monitor, network) = NetworkMonitor::start()?;
        let mut notes = Vec::new();
        let (stub, dns) = if rules.iter().any(|r| r.action == OnDemandAction::EvaluateConnection) {
            let (tx, rx) = crossbeam_channel::unbounded();
            match DnsStub::start(StubConfig::new(stub_at), tx) {
                Ok(stub) => {
                    notes.push(format!(
                        "{name}: on demand: DNS stub on {}; EvaluateConnection acts on names \
                             resolved through it",
                        stub.local_addr()
                    ));
                    (Some(stub), Some(rx))
                }
                Err(e) => {
                    notes.push(format!(
                        "{name}: on demand: {e}; EvaluateConnection rules will not act"
                    ));
                    (None, None)
                }
            }
        } else {
            (None, None)
        };
        let driver = OnDemandDriver::new(rules.clone(), user_override_disabled);
        Ok(Self {
            name: name.to_owned(),
            rules,
            user_override_disabled,
            driver,
            _monitor: monitor,
            network,
            stub,
            dns,
            waiting: Vec::new(),
            notes,
        })
    }

    /// The configuration's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `c` has the rules this runs (a configuration edit that changes nothing of On
    /// Demand keeps it running).
    pub fn runs(&self, name: &str, c: &VpnConfiguration) -> bool {
        name == self.name
            && rules_of(c).is_some_and(|(r, o)| r == self.rules && o == self.user_override_disabled)
    }

    /// Lines for the log, once.
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
    }

    /// The network's states, for the owner's select ([`super::network_state`] makes them
    /// what the rules see).
    pub fn network(&self) -> &Receiver<Observation> {
        &self.network
    }

    /// Probe results, for the owner's select.
    pub fn probes(&self) -> &Receiver<ProbeResult> {
        self.driver.probe_results()
    }

    /// Names the stub asks about, for the owner's select.
    pub fn dns(&self) -> Option<&Receiver<StubRequest>> {
        self.dns.as_ref()
    }

    /// The driver, for what the owner tells it directly (the user's connect and disconnect,
    /// deadlines).
    pub fn driver(&mut self) -> &mut OnDemandDriver {
        &mut self.driver
    }

    /// The driver, to read.
    pub fn driver_ref(&self) -> &OnDemandDriver {
        &self.driver
    }

    /// The network changed.
    pub fn on_network(
        &mut self,
        state: &NetworkState,
        status: VpnStatus,
    ) -> Option<OnDemandCommand> {
        if let Some(stub) = &self.stub {
            stub.set_upstream(&state.dns_servers);
        }
        self.driver.on_network(state, status)
    }

    /// A probe came back.
    pub fn on_probe(&mut self, result: ProbeResult, status: VpnStatus) -> Option<OnDemandCommand> {
        self.driver.on_probe(result, status)
    }

    /// The stub asks about a name. One that needs the tunnel goes to the tunnel's DNS when
    /// it is up, waits for it while it comes up (a Connect when it is down), and any other
    /// gets the network's answer.
    pub fn on_dns(&mut self, request: StubRequest, status: VpnStatus) -> Option<OnDemandCommand> {
        if !self.driver.wants_tunnel_for(&request.name, request.resolved) {
            let _ = request.reply.send(None);
            return None;
        }
        match status {
            VpnStatus::Connected => {
                let servers = self.driver.tunnel_dns_servers().map(<[IpAddr]>::to_vec);
                let _ = request.reply.send(servers);
                None
            }
            VpnStatus::Connecting | VpnStatus::Reasserting => {
                self.waiting.push(request.reply);
                None
            }
            VpnStatus::Disconnected | VpnStatus::Invalid | VpnStatus::Disconnecting => {
                self.waiting.push(request.reply);
                self.driver.on_dns_name(&request.name, request.resolved, VpnStatus::Disconnected)
            }
        }
    }

    /// The connection's status changed; `tunnel_dns` is the tunnel's DNS (servers, domains)
    /// when it is connected. Queries waiting for it go on to its servers, or back to the
    /// network's answer when it ended.
    pub fn on_status(
        &mut self,
        now: Instant,
        change: &StatusChange,
        tunnel_dns: Option<(Vec<IpAddr>, Vec<String>)>,
    ) -> Option<OnDemandCommand> {
        match change.to {
            VpnStatus::Connected => {
                let servers = tunnel_dns.as_ref().map(|(s, _)| s.clone());
                for w in self.waiting.drain(..) {
                    let _ = w.send(servers.clone());
                }
                self.driver.set_tunnel_dns(tunnel_dns);
            }
            VpnStatus::Disconnected | VpnStatus::Invalid => {
                for w in self.waiting.drain(..) {
                    let _ = w.send(None);
                }
                self.driver.set_tunnel_dns(None);
            }
            _ => {}
        }
        self.driver.on_status(now, change)
    }
}
