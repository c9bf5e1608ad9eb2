//! VPN On Demand (`NEOnDemandRule`): rules and a pure evaluator.
//!
//! Apple's semantics, as implemented by [`evaluate`]:
//! - rules are tried in order and the first rule that matches decides;
//! - a rule matches when *all* of its criteria match; an empty criterion does not care;
//! - `interface_type` `Any` matches every interface;
//! - `ssid_match` matches when the current Wi-Fi SSID is one of the list (never off Wi-Fi);
//! - `dns_search_domain_match` matches when any current search domain matches any entry; an
//!   entry `*.example.com` matches every domain under `example.com`;
//! - `dns_server_address_match` matches when any current DNS server matches any entry; an
//!   entry may end in a single `*` wildcard, as in `17.*` for 17.0.0.0/8;
//! - `probe_url` matches when fetching it returns HTTP 200 (the caller's `probe`), and is only
//!   tried once the other criteria matched;
//! - an EvaluateConnection rule yields a [`ConnectionEvaluator`] deciding per destination.
//!
//! When no rule matches the result is [`OnDemandDecision::NoMatch`]; the caller keeps the
//! current state. [`evaluate_known`] is the same evaluation for a caller that runs probes off
//! its own thread, and [`command_for`] turns a decision into what to do with the connection
//! (Connect / Disconnect / nothing), honouring the user's own disconnect unless
//! `OnDemandUserOverrideDisabled`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::model::raw_enum;

raw_enum! {
    /// `NEOnDemandRuleAction`.
    pub enum OnDemandAction {
        Connect = 1,
        Disconnect = 2,
        EvaluateConnection = 3,
        Ignore = 4,
    }
}

raw_enum! {
    /// `NEOnDemandRuleInterfaceType`.
    pub enum InterfaceType {
        Any = 0,
        Ethernet = 1,
        WiFi = 2,
        Cellular = 3,
    }
}

raw_enum! {
    /// `NEEvaluateConnectionRuleAction`.
    pub enum ConnectionRuleAction {
        ConnectIfNeeded = 1,
        NeverConnect = 2,
    }
}

/// `NEEvaluateConnectionRule`: what to do for destinations in `match_domains`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvaluateConnectionRule {
    /// Domains this rule applies to; each also covers its subdomains.
    pub match_domains: Vec<String>,
    pub action: ConnectionRuleAction,
    /// `useDNSServers` / `RequiredDNSServers`: if resolving the destination through these
    /// servers fails, the VPN starts.
    #[serde(default)]
    pub use_dns_servers: Vec<String>,
    /// `probeURL` / `RequiredURLStringProbe`: if this does not return HTTP 200, the VPN starts.
    #[serde(default)]
    pub probe_url: Option<String>,
}

/// `NEOnDemandRule`: an action and the network conditions it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OnDemandRule {
    pub action: OnDemandAction,
    pub interface_type_match: InterfaceType,
    pub ssid_match: Vec<String>,
    pub dns_search_domain_match: Vec<String>,
    pub dns_server_address_match: Vec<String>,
    pub probe_url: Option<String>,
    /// Only for [`OnDemandAction::EvaluateConnection`].
    pub connection_rules: Vec<EvaluateConnectionRule>,
}

impl Default for OnDemandRule {
    fn default() -> Self {
        Self::new(OnDemandAction::Connect)
    }
}

impl OnDemandRule {
    /// A rule with this action that matches every network.
    pub fn new(action: OnDemandAction) -> Self {
        Self {
            action,
            interface_type_match: InterfaceType::Any,
            ssid_match: Vec::new(),
            dns_search_domain_match: Vec::new(),
            dns_server_address_match: Vec::new(),
            probe_url: None,
            connection_rules: Vec::new(),
        }
    }
}

/// The current primary network, as the caller observes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkState {
    /// `None`: no network at all (then only rules that don't care about anything match).
    pub interface_type: Option<InterfaceType>,
    /// The Wi-Fi SSID, if on Wi-Fi.
    pub ssid: Option<String>,
    pub dns_search_domains: Vec<String>,
    pub dns_servers: Vec<IpAddr>,
}

/// What [`evaluate`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnDemandDecision {
    /// Start the VPN (rule index given).
    Connect { rule: usize },
    /// Stop the VPN and do not start it.
    Disconnect { rule: usize },
    /// Leave the VPN as it is.
    Ignore { rule: usize },
    /// Decide per destination.
    EvaluateConnection { rule: usize, evaluator: ConnectionEvaluator },
    /// No rule matched.
    NoMatch,
}

/// Evaluates `rules` against `network`. `probe(url)` says whether `url` returned HTTP 200.
pub fn evaluate(
    rules: &[OnDemandRule],
    network: &NetworkState,
    probe: &dyn Fn(&str) -> bool,
) -> OnDemandDecision {
    match evaluate_known(rules, network, &|url| Some(probe(url))) {
        Ok(d) => d,
        // `known` always answers, so nothing can be left to probe.
        Err(_) => OnDemandDecision::NoMatch,
    }
}

/// A rule whose other criteria all match waits for its probe URL: the caller fetches it (off
/// its own thread, the network is slow) and evaluates again with the result known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeNeeded {
    pub rule: usize,
    pub url: String,
}

/// [`evaluate`] for a caller that cannot wait on the network: `known(url)` is the probe's
/// result when it has one. A rule needing a probe nobody ran yet stops the evaluation there
/// (a later rule must not decide in its place): [`ProbeNeeded`].
pub fn evaluate_known(
    rules: &[OnDemandRule],
    network: &NetworkState,
    known: &dyn Fn(&str) -> Option<bool>,
) -> Result<OnDemandDecision, ProbeNeeded> {
    for (i, rule) in rules.iter().enumerate() {
        if !matches_without_probe(rule, network) {
            continue;
        }
        // The probe goes out on the network: only when everything else already matched.
        if let Some(url) = rule.probe_url.as_deref() {
            match known(url) {
                Some(true) => {}
                Some(false) => continue,
                None => return Err(ProbeNeeded { rule: i, url: url.to_owned() }),
            }
        }
        return Ok(match rule.action {
            OnDemandAction::Connect => OnDemandDecision::Connect { rule: i },
            OnDemandAction::Disconnect => OnDemandDecision::Disconnect { rule: i },
            OnDemandAction::Ignore => OnDemandDecision::Ignore { rule: i },
            OnDemandAction::EvaluateConnection => OnDemandDecision::EvaluateConnection {
                rule: i,
                evaluator: ConnectionEvaluator { rules: rule.connection_rules.clone() },
            },
        });
    }
    Ok(OnDemandDecision::NoMatch)
}

fn matches_without_probe(rule: &OnDemandRule, net: &NetworkState) -> bool {
    let interface_ok = match rule.interface_type_match {
        InterfaceType::Any => true,
        wanted => net.interface_type == Some(wanted),
    };
    let ssid_ok = rule.ssid_match.is_empty()
        || (net.interface_type == Some(InterfaceType::WiFi)
            && net.ssid.as_ref().is_some_and(|s| rule.ssid_match.contains(s)));
    let domain_ok = rule.dns_search_domain_match.is_empty()
        || net
            .dns_search_domains
            .iter()
            .any(|d| rule.dns_search_domain_match.iter().any(|p| domain_pattern_matches(p, d)));
    let server_ok = rule.dns_server_address_match.is_empty()
        || net
            .dns_servers
            .iter()
            .any(|a| rule.dns_server_address_match.iter().any(|p| address_pattern_matches(p, *a)));
    interface_ok && ssid_ok && domain_ok && server_ok
}

/// What On Demand asks of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDemandCommand {
    /// Start it (the user wants it from now on, as if `connect` was asked).
    Connect,
    /// Stop it (as if `disconnect` was asked, but not the user's own choice).
    Disconnect,
}

/// What the caller knows besides the rules' decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnDemandContext {
    /// The connection is up or on its way (any status but Disconnected / Invalid).
    pub running: bool,
    /// The user stopped the connection themselves since they last started it.
    pub user_stopped: bool,
    /// `OnDemandUserOverrideDisabled`: the user cannot switch On Demand off, so their
    /// disconnect does not hold while a Connect rule matches.
    pub user_override_disabled: bool,
}

/// Apple's actions on a decision:
/// - Connect starts a stopped connection, except after the user stopped it themselves (that
///   is their override of On Demand, as switching "Connect On Demand" off), unless
///   `OnDemandUserOverrideDisabled` takes that choice away;
/// - Disconnect stops a running connection (and keeps a stopped one down);
/// - Ignore leaves it as it is, and so does no match;
/// - EvaluateConnection starts nothing for the network itself: it decides per destination,
///   when a name is resolved ([`ConnectionEvaluator`]); a running connection stays.
pub fn command_for(decision: &OnDemandDecision, cx: OnDemandContext) -> Option<OnDemandCommand> {
    match decision {
        OnDemandDecision::Connect { .. }
            if !cx.running && (!cx.user_stopped || cx.user_override_disabled) =>
        {
            Some(OnDemandCommand::Connect)
        }
        OnDemandDecision::Disconnect { .. } if cx.running => Some(OnDemandCommand::Disconnect),
        _ => None,
    }
}

fn normalize(d: &str) -> String {
    d.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `DNSDomainMatch`: an exact domain, or `*.example.com` for any domain below example.com.
pub fn domain_pattern_matches(pattern: &str, domain: &str) -> bool {
    let (pattern, domain) = (normalize(pattern), normalize(domain));
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            domain.len() > suffix.len() + 1
                && domain.ends_with(suffix)
                && domain.as_bytes()[domain.len() - suffix.len() - 1] == b'.'
        }
        None => pattern == domain,
    }
}

/// `DNSServerAddressMatch`: an address, or a prefix of whole components followed by one `*`
/// (`17.*` is 17.0.0.0/8, `2001:db8:*` any address whose text starts with `2001:db8:`).
pub fn address_pattern_matches(pattern: &str, address: IpAddr) -> bool {
    let pattern = pattern.trim();
    match pattern.strip_suffix('*') {
        Some(prefix) => {
            let text = match address {
                IpAddr::V4(a) => a.to_string(),
                // Full form, so that a textual prefix means an address prefix.
                IpAddr::V6(a) => {
                    a.segments().iter().map(|s| format!("{s:x}")).collect::<Vec<_>>().join(":")
                }
            };
            let separator_ok = prefix.is_empty() || prefix.ends_with('.') || prefix.ends_with(':');
            separator_ok && text.starts_with(&prefix.to_ascii_lowercase())
        }
        None => pattern.parse::<IpAddr>().is_ok_and(|p| p == address),
    }
}

/// Whether `host` is `domain` or below it.
fn in_domain(host: &str, domain: &str) -> bool {
    let (host, domain) = (normalize(host), normalize(domain));
    let domain = domain.strip_prefix("*.").unwrap_or(&domain);
    host == domain
        || (host.ends_with(domain)
            && host.len() > domain.len()
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// What an EvaluateConnection rule decides for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainDecision {
    /// Connect if the destination cannot be reached without the VPN: resolving it through
    /// `use_dns_servers` (the network's own servers when empty) fails, or `probe_url` is not
    /// HTTP 200.
    ConnectIfNeeded { rule: usize },
    /// Never start the VPN for this destination.
    NeverConnect { rule: usize },
    /// No connection rule covers the destination: the VPN is not started for it.
    NoMatch,
}

/// The per-destination table of an EvaluateConnection rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionEvaluator {
    rules: Vec<EvaluateConnectionRule>,
}

impl ConnectionEvaluator {
    /// The first connection rule whose `match_domains` covers `host`.
    pub fn decide_for_domain(&self, host: &str) -> DomainDecision {
        for (i, r) in self.rules.iter().enumerate() {
            if r.match_domains.iter().any(|d| in_domain(host, d)) {
                return match r.action {
                    ConnectionRuleAction::ConnectIfNeeded => {
                        DomainDecision::ConnectIfNeeded { rule: i }
                    }
                    ConnectionRuleAction::NeverConnect => DomainDecision::NeverConnect { rule: i },
                };
            }
        }
        DomainDecision::NoMatch
    }

    /// Whether a connection to `host` should start the VPN. `resolves(host, servers)` says
    /// whether `host` resolves through `servers` (the network's own when empty) without the
    /// VPN; `probe(url)` whether `url` returns HTTP 200.
    pub fn should_connect_for_domain(
        &self,
        host: &str,
        resolves: &dyn Fn(&str, &[String]) -> bool,
        probe: &dyn Fn(&str) -> bool,
    ) -> bool {
        let DomainDecision::ConnectIfNeeded { rule } = self.decide_for_domain(host) else {
            return false;
        };
        let r = &self.rules[rule];
        if let Some(url) = &r.probe_url
            && !probe(url)
        {
            return true;
        }
        !resolves(host, &r.use_dns_servers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wifi(ssid: &str) -> NetworkState {
        NetworkState {
            interface_type: Some(InterfaceType::WiFi),
            ssid: Some(ssid.into()),
            dns_search_domains: vec!["corp.example.com".into()],
            dns_servers: vec!["17.1.2.3".parse().unwrap()],
        }
    }

    fn cellular() -> NetworkState {
        NetworkState {
            interface_type: Some(InterfaceType::Cellular),
            ssid: None,
            dns_search_domains: vec![],
            dns_servers: vec!["10.0.0.1".parse().unwrap()],
        }
    }

    fn rule(action: OnDemandAction) -> OnDemandRule {
        OnDemandRule::new(action)
    }

    const NO_PROBE: &dyn Fn(&str) -> bool = &|_| panic!("no probe expected");

    #[test]
    fn empty_rules_match_nothing() {
        assert_eq!(evaluate(&[], &wifi("home"), NO_PROBE), OnDemandDecision::NoMatch);
    }

    #[test]
    fn rule_without_criteria_matches_everything() {
        let rules = [rule(OnDemandAction::Connect)];
        assert_eq!(evaluate(&rules, &cellular(), NO_PROBE), OnDemandDecision::Connect { rule: 0 });
    }

    #[test]
    fn first_match_wins() {
        let mut home = rule(OnDemandAction::Disconnect);
        home.ssid_match = vec!["home".into()];
        let rules = [home, rule(OnDemandAction::Connect), rule(OnDemandAction::Ignore)];
        assert_eq!(
            evaluate(&rules, &wifi("home"), NO_PROBE),
            OnDemandDecision::Disconnect { rule: 0 }
        );
        assert_eq!(
            evaluate(&rules, &wifi("cafe"), NO_PROBE),
            OnDemandDecision::Connect { rule: 1 }
        );
    }

    #[test]
    fn interface_type() {
        let mut r = rule(OnDemandAction::Connect);
        r.interface_type_match = InterfaceType::Cellular;
        let rules = [r];
        assert_eq!(evaluate(&rules, &cellular(), NO_PROBE), OnDemandDecision::Connect { rule: 0 });
        assert_eq!(evaluate(&rules, &wifi("x"), NO_PROBE), OnDemandDecision::NoMatch);
        let none = NetworkState { interface_type: None, ..cellular() };
        assert_eq!(evaluate(&rules, &none, NO_PROBE), OnDemandDecision::NoMatch);
    }

    #[test]
    fn ssid_needs_wifi() {
        let mut r = rule(OnDemandAction::Connect);
        r.ssid_match = vec!["cafe".into(), "airport".into()];
        let rules = [r];
        assert_eq!(
            evaluate(&rules, &wifi("airport"), NO_PROBE),
            OnDemandDecision::Connect { rule: 0 }
        );
        assert_eq!(evaluate(&rules, &wifi("Airport"), NO_PROBE), OnDemandDecision::NoMatch);
        // An SSID reported on a non-Wi-Fi interface does not count.
        let odd = NetworkState { ssid: Some("cafe".into()), ..cellular() };
        assert_eq!(evaluate(&rules, &odd, NO_PROBE), OnDemandDecision::NoMatch);
    }

    #[test]
    fn all_criteria_must_match() {
        let mut r = rule(OnDemandAction::Connect);
        r.interface_type_match = InterfaceType::WiFi;
        r.ssid_match = vec!["cafe".into()];
        r.dns_server_address_match = vec!["8.8.8.8".into()];
        assert_eq!(evaluate(&[r.clone()], &wifi("cafe"), NO_PROBE), OnDemandDecision::NoMatch);
        r.dns_server_address_match = vec!["17.*".into()];
        assert_eq!(evaluate(&[r], &wifi("cafe"), NO_PROBE), OnDemandDecision::Connect { rule: 0 });
    }

    #[test]
    fn dns_domain_patterns() {
        assert!(domain_pattern_matches("corp.example.com", "corp.example.com"));
        assert!(domain_pattern_matches("corp.example.com", "CORP.example.com."));
        assert!(!domain_pattern_matches("example.com", "corp.example.com"));
        assert!(domain_pattern_matches("*.example.com", "corp.example.com"));
        assert!(domain_pattern_matches("*.example.com", "a.b.example.com"));
        assert!(!domain_pattern_matches("*.example.com", "example.com"));
        assert!(!domain_pattern_matches("*.example.com", "badexample.com"));
        let mut r = rule(OnDemandAction::Disconnect);
        r.dns_search_domain_match = vec!["*.example.com".into()];
        assert_eq!(
            evaluate(&[r.clone()], &wifi("x"), NO_PROBE),
            OnDemandDecision::Disconnect { rule: 0 }
        );
        assert_eq!(evaluate(&[r], &cellular(), NO_PROBE), OnDemandDecision::NoMatch);
    }

    #[test]
    fn dns_server_patterns() {
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(address_pattern_matches("17.*", a("17.1.2.3")));
        assert!(!address_pattern_matches("17.*", a("171.1.2.3")));
        assert!(address_pattern_matches("17.1.*", a("17.1.200.3")));
        assert!(!address_pattern_matches("17*", a("17.1.2.3")));
        assert!(address_pattern_matches("10.0.0.1", a("10.0.0.1")));
        assert!(!address_pattern_matches("10.0.0.1", a("10.0.0.2")));
        assert!(address_pattern_matches("2001:db8:*", a("2001:db8::53")));
        assert!(!address_pattern_matches("2001:db8:*", a("2001:db9::53")));
        assert!(address_pattern_matches("2001:db8::53", a("2001:DB8:0::53")));
    }

    #[test]
    fn probe_decides_last_and_only_when_needed() {
        let mut r = rule(OnDemandAction::Connect);
        r.interface_type_match = InterfaceType::WiFi;
        r.probe_url = Some("http://probe.example.com/".into());
        let rules = [r];
        // Not Wi-Fi: the probe must not be sent.
        assert_eq!(evaluate(&rules, &cellular(), NO_PROBE), OnDemandDecision::NoMatch);
        let ok = |u: &str| u == "http://probe.example.com/";
        assert_eq!(evaluate(&rules, &wifi("x"), &ok), OnDemandDecision::Connect { rule: 0 });
        assert_eq!(evaluate(&rules, &wifi("x"), &|_| false), OnDemandDecision::NoMatch);
    }

    fn evaluate_rule() -> OnDemandRule {
        let mut r = rule(OnDemandAction::EvaluateConnection);
        r.connection_rules = vec![
            EvaluateConnectionRule {
                match_domains: vec!["public.corp.example".into()],
                action: ConnectionRuleAction::NeverConnect,
                use_dns_servers: vec![],
                probe_url: None,
            },
            EvaluateConnectionRule {
                match_domains: vec!["corp.example".into()],
                action: ConnectionRuleAction::ConnectIfNeeded,
                use_dns_servers: vec!["10.1.1.1".into()],
                probe_url: None,
            },
            EvaluateConnectionRule {
                match_domains: vec!["intranet.example".into()],
                action: ConnectionRuleAction::ConnectIfNeeded,
                use_dns_servers: vec![],
                probe_url: Some("https://intranet.example/ok".into()),
            },
        ];
        r
    }

    #[test]
    fn evaluate_connection_table() {
        let OnDemandDecision::EvaluateConnection { rule: 0, evaluator } =
            evaluate(&[evaluate_rule()], &wifi("x"), NO_PROBE)
        else {
            panic!("expected EvaluateConnection")
        };
        assert_eq!(
            evaluator.decide_for_domain("www.public.corp.example"),
            DomainDecision::NeverConnect { rule: 0 }
        );
        assert_eq!(
            evaluator.decide_for_domain("git.corp.example"),
            DomainDecision::ConnectIfNeeded { rule: 1 }
        );
        assert_eq!(
            evaluator.decide_for_domain("corp.example"),
            DomainDecision::ConnectIfNeeded { rule: 1 }
        );
        assert_eq!(evaluator.decide_for_domain("notcorp.example"), DomainDecision::NoMatch);
        assert_eq!(evaluator.decide_for_domain("example.org"), DomainDecision::NoMatch);

        let resolves_via = |ok: bool| {
            move |_: &str, servers: &[String]| {
                assert_eq!(servers, ["10.1.1.1"]);
                ok
            }
        };
        // Resolving through the required server fails: outside the corporate network.
        assert!(evaluator.should_connect_for_domain(
            "git.corp.example",
            &resolves_via(false),
            NO_PROBE
        ));
        assert!(!evaluator.should_connect_for_domain(
            "git.corp.example",
            &resolves_via(true),
            NO_PROBE
        ));
        let never = |_: &str, _: &[String]| panic!("no resolution expected");
        assert!(!evaluator.should_connect_for_domain("www.public.corp.example", &never, NO_PROBE));
        assert!(!evaluator.should_connect_for_domain("example.org", &never, NO_PROBE));
        // A non-200 probe starts the VPN.
        let resolves = |_: &str, s: &[String]| s.is_empty();
        assert!(evaluator.should_connect_for_domain("intranet.example", &resolves, &|_| false));
        assert!(!evaluator.should_connect_for_domain("intranet.example", &resolves, &|_| true));
    }

    fn cx(running: bool, user_stopped: bool, user_override_disabled: bool) -> OnDemandContext {
        OnDemandContext { running, user_stopped, user_override_disabled }
    }

    #[test]
    fn connect_starts_a_stopped_connection_only() {
        let d = OnDemandDecision::Connect { rule: 0 };
        assert_eq!(command_for(&d, cx(false, false, false)), Some(OnDemandCommand::Connect));
        assert_eq!(command_for(&d, cx(true, false, false)), None);
    }

    #[test]
    fn a_users_disconnect_holds_against_connect_unless_the_override_is_disabled() {
        let d = OnDemandDecision::Connect { rule: 0 };
        assert_eq!(command_for(&d, cx(false, true, false)), None);
        assert_eq!(command_for(&d, cx(false, true, true)), Some(OnDemandCommand::Connect));
    }

    #[test]
    fn disconnect_stops_a_running_connection_even_one_the_user_started() {
        let d = OnDemandDecision::Disconnect { rule: 1 };
        assert_eq!(command_for(&d, cx(true, false, false)), Some(OnDemandCommand::Disconnect));
        assert_eq!(command_for(&d, cx(true, false, true)), Some(OnDemandCommand::Disconnect));
        assert_eq!(command_for(&d, cx(false, false, false)), None);
        assert_eq!(command_for(&d, cx(false, true, false)), None);
    }

    #[test]
    fn ignore_no_match_and_evaluate_connection_leave_the_connection_as_it_is() {
        let evaluate = OnDemandDecision::EvaluateConnection {
            rule: 0,
            evaluator: ConnectionEvaluator { rules: vec![] },
        };
        for d in [OnDemandDecision::Ignore { rule: 0 }, OnDemandDecision::NoMatch, evaluate] {
            for running in [false, true] {
                for stopped in [false, true] {
                    for locked in [false, true] {
                        assert_eq!(command_for(&d, cx(running, stopped, locked)), None, "{d:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_unknown_probe_stops_the_evaluation_at_its_rule() {
        let mut probed = rule(OnDemandAction::Disconnect);
        probed.probe_url = Some("http://10.0.0.1/ok".into());
        let rules = [probed, rule(OnDemandAction::Connect)];
        assert_eq!(
            evaluate_known(&rules, &cellular(), &|_| None),
            Err(ProbeNeeded { rule: 0, url: "http://10.0.0.1/ok".into() })
        );
        assert_eq!(
            evaluate_known(&rules, &cellular(), &|_| Some(true)),
            Ok(OnDemandDecision::Disconnect { rule: 0 })
        );
        assert_eq!(
            evaluate_known(&rules, &cellular(), &|_| Some(false)),
            Ok(OnDemandDecision::Connect { rule: 1 })
        );
        // A rule whose other criteria fail never asks for its probe.
        let mut wifi_only = rules[0].clone();
        wifi_only.interface_type_match = InterfaceType::WiFi;
        let rules = [wifi_only, rule(OnDemandAction::Ignore)];
        assert_eq!(
            evaluate_known(&rules, &cellular(), &|_| panic!("no probe expected")),
            Ok(OnDemandDecision::Ignore { rule: 1 })
        );
    }

    #[test]
    fn raw_values() {
        assert_eq!(OnDemandAction::EvaluateConnection.raw(), 3);
        assert_eq!(OnDemandAction::Ignore.raw(), 4);
        assert_eq!(InterfaceType::Cellular.raw(), 3);
        assert_eq!(ConnectionRuleAction::NeverConnect.raw(), 2);
    }
}
