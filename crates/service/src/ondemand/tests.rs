use std::sync::Mutex;

use ikeway_manager::{
    ConnectionRuleAction, DisconnectError, EvaluateConnectionRule, OnDemandAction,
};
use ikeway_tunnel::host::observe::PrimaryInterface;

use super::*;

const WAIT: Duration = Duration::from_secs(5);

fn ethernet() -> NetworkState {
    NetworkState { interface_type: Some(InterfaceType::Ethernet), ..Default::default() }
}

fn on(kind: InterfaceType) -> OnDemandRule {
    let mut r = OnDemandRule::new(OnDemandAction::Connect);
    r.interface_type_match = kind;
    r
}

/// A prober that answers from a table and records what it was asked.
fn table(answers: &[(&str, bool)]) -> (Prober, Arc<Mutex<Vec<String>>>) {
    let answers: HashMap<String, bool> =
        answers.iter().map(|(u, ok)| ((*u).to_owned(), *ok)).collect();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&asked);
    let prober: Prober = Arc::new(move |url: &str| {
        log.lock().expect("lock").push(url.to_owned());
        answers.get(url).copied().unwrap_or(false)
    });
    (prober, asked)
}

fn no_probes() -> Prober {
    Arc::new(|url: &str| panic!("no probe expected, asked {url}"))
}

fn dropped(error: Option<DisconnectError>) -> StatusChange {
    StatusChange { from: VpnStatus::Connected, to: VpnStatus::Disconnected, error, reason: None }
}

#[test]
fn converts_the_observation() {
    let o = Observation {
        interface: Some(PrimaryInterface {
            name: "wlan0".into(),
            index: 3,
            kind: InterfaceKind::WiFi,
            addresses: vec!["192.168.1.20".parse().unwrap()],
        }),
        ssid: Some("cafe".into()),
        dns_servers: vec!["192.0.2.53".parse().unwrap()],
        dns_search_domains: vec!["corp.example".into()],
    };
    assert_eq!(
        network_state(&o),
        NetworkState {
            interface_type: Some(InterfaceType::WiFi),
            ssid: Some("cafe".into()),
            dns_search_domains: vec!["corp.example".into()],
            dns_servers: vec!["192.0.2.53".parse().unwrap()],
        }
    );
    assert_eq!(network_state(&Observation::default()).interface_type, None);
}

#[test]
fn a_connect_rule_connects_on_its_interface_only() {
    let mut d = OnDemandDriver::with_prober(vec![on(InterfaceType::Ethernet)], false, no_probes());
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Disconnected), Some(OnDemandCommand::Connect));
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Connected), None);
    assert_eq!(d.on_network(&NetworkState::default(), VpnStatus::Disconnected), None);
    let wifi = NetworkState { interface_type: Some(InterfaceType::WiFi), ..Default::default() };
    assert_eq!(d.on_network(&wifi, VpnStatus::Disconnected), None);
}

#[test]
fn a_disconnect_rule_on_a_search_domain_stops_and_keeps_down() {
    let mut corp = OnDemandRule::new(OnDemandAction::Disconnect);
    corp.dns_search_domain_match = vec!["*.corp.example".into()];
    let rules = vec![corp, on(InterfaceType::Any)];
    let mut d = OnDemandDriver::with_prober(rules, true, no_probes());
    let inside = NetworkState { dns_search_domains: vec!["lan.corp.example".into()], ..ethernet() };
    assert_eq!(d.on_network(&inside, VpnStatus::Connected), Some(OnDemandCommand::Disconnect));
    assert_eq!(d.on_network(&inside, VpnStatus::Disconnected), None);
    // Dropping while the Disconnect rule decides brings nothing back.
    let now = Instant::now();
    assert_eq!(d.on_status(now, &dropped(None)), None);
    assert_eq!(d.next_deadline(), None);
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Disconnected), Some(OnDemandCommand::Connect));
}

#[test]
fn ignore_leaves_the_connection_as_it_is() {
    let rules = vec![OnDemandRule::new(OnDemandAction::Ignore)];
    let mut d = OnDemandDriver::with_prober(rules, false, no_probes());
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Connected), None);
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Disconnected), None);
    assert_eq!(d.decision(), &OnDemandDecision::Ignore { rule: 0 });
}

#[test]
fn the_users_disconnect_holds_unless_the_override_is_disabled() {
    for locked in [false, true] {
        let mut d = OnDemandDriver::with_prober(vec![on(InterfaceType::Any)], locked, no_probes());
        assert_eq!(
            d.on_network(&ethernet(), VpnStatus::Disconnected),
            Some(OnDemandCommand::Connect)
        );
        d.on_user_disconnect();
        let now = Instant::now();
        let _ = d.on_status(now, &dropped(None));
        let again = d.on_network(&ethernet(), VpnStatus::Disconnected);
        if locked {
            assert_eq!(again, Some(OnDemandCommand::Connect), "override disabled");
        } else {
            assert_eq!(again, None, "the user's disconnect holds");
            assert_eq!(d.next_deadline(), None);
            d.on_user_connect();
            assert_eq!(
                d.on_network(&ethernet(), VpnStatus::Disconnected),
                Some(OnDemandCommand::Connect)
            );
        }
    }
}

#[test]
fn a_dropped_connection_comes_back_after_a_growing_wait() {
    let mut d = OnDemandDriver::with_prober(vec![on(InterfaceType::Any)], false, no_probes());
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Disconnected), Some(OnDemandCommand::Connect));
    let t0 = Instant::now();
    assert_eq!(d.on_status(t0, &dropped(Some(DisconnectError::ServerNotResponding))), None);
    assert_eq!(d.next_deadline(), Some(t0 + RETRY_FIRST));
    assert_eq!(d.on_deadline(t0 + RETRY_FIRST / 2, VpnStatus::Disconnected), None, "too early");
    assert_eq!(
        d.on_deadline(t0 + RETRY_FIRST, VpnStatus::Disconnected),
        Some(OnDemandCommand::Connect)
    );
    assert_eq!(d.next_deadline(), None);
    let t1 = t0 + RETRY_FIRST;
    let _ = d.on_status(t1, &dropped(Some(DisconnectError::ServerNotResponding)));
    assert_eq!(d.next_deadline(), Some(t1 + RETRY_FIRST * 2), "doubled");
    for _ in 0..10 {
        let _ = d.on_status(t1, &dropped(None));
    }
    assert_eq!(d.next_deadline(), Some(t1 + RETRY_MAX), "capped");
    // Connected resets the wait.
    let up = StatusChange {
        from: VpnStatus::Connecting,
        to: VpnStatus::Connected,
        error: None,
        reason: None,
    };
    let _ = d.on_status(t1, &up);
    let _ = d.on_status(t1, &dropped(None));
    assert_eq!(d.next_deadline(), Some(t1 + RETRY_FIRST));
}

#[test]
fn probes_run_off_the_thread_and_decide_when_back() {
    let mut probed = on(InterfaceType::Any);
    probed.probe_url = Some("http://10.0.0.1/inside".into());
    probed.action = OnDemandAction::Disconnect;
    let rules = vec![probed, on(InterfaceType::Any)];
    let (prober, asked) = table(&[("http://10.0.0.1/inside", true)]);
    let mut d = OnDemandDriver::with_prober(rules, false, prober);
    // The probe's rule comes first: nothing is decided until it is back.
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Connected), None);
    let result = d.probe_results().recv_timeout(WAIT).expect("the probe's result");
    assert_eq!(asked.lock().expect("lock").as_slice(), ["http://10.0.0.1/inside"]);
    assert_eq!(d.on_probe(result, VpnStatus::Connected), Some(OnDemandCommand::Disconnect));

    // Off the inside network, the probe fails and the Connect rule decides.
    let (prober, _) = table(&[]);
    let mut d = OnDemandDriver::with_prober(d.rules.clone(), false, prober);
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Disconnected), None);
    let result = d.probe_results().recv_timeout(WAIT).expect("the probe's result");
    assert_eq!(d.on_probe(result, VpnStatus::Disconnected), Some(OnDemandCommand::Connect));
}

#[test]
fn a_probe_of_an_earlier_network_is_dropped() {
    let mut probed = on(InterfaceType::Any);
    probed.probe_url = Some("http://10.0.0.1/inside".into());
    let (prober, _) = table(&[("http://10.0.0.1/inside", true)]);
    let mut d = OnDemandDriver::with_prober(vec![probed], false, prober);
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Disconnected), None);
    let stale = d.probe_results().recv_timeout(WAIT).expect("result");
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Disconnected), None);
    assert_eq!(d.on_probe(stale, VpnStatus::Disconnected), None, "stale");
    let fresh = d.probe_results().recv_timeout(WAIT).expect("result");
    assert_eq!(d.on_probe(fresh, VpnStatus::Disconnected), Some(OnDemandCommand::Connect));
}

fn evaluate_connection() -> OnDemandRule {
    let mut r = OnDemandRule::new(OnDemandAction::EvaluateConnection);
    r.connection_rules = vec![
        EvaluateConnectionRule {
            match_domains: vec!["www.corp.example".into()],
            action: ConnectionRuleAction::NeverConnect,
            use_dns_servers: vec![],
            probe_url: None,
        },
        EvaluateConnectionRule {
            match_domains: vec!["corp.example".into()],
            action: ConnectionRuleAction::ConnectIfNeeded,
            use_dns_servers: vec![],
            probe_url: None,
        },
    ];
    r
}

#[test]
fn evaluate_connection_connects_for_a_name_only_when_needed() {
    let mut d = OnDemandDriver::with_prober(vec![evaluate_connection()], false, no_probes());
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Disconnected), None);
    assert!(d.connection_evaluator().is_some());
    let down = VpnStatus::Disconnected;
    assert_eq!(d.on_dns_name("git.corp.example", false, down), Some(OnDemandCommand::Connect));
    assert_eq!(d.on_dns_name("git.corp.example", true, down), None, "reachable without");
    assert_eq!(d.on_dns_name("www.corp.example", false, down), None, "NeverConnect");
    assert_eq!(d.on_dns_name("example.org", false, down), None, "no rule");
    assert_eq!(d.on_dns_name("git.corp.example", false, VpnStatus::Connected), None);
    d.on_user_disconnect();
    assert_eq!(d.on_dns_name("git.corp.example", false, down), None, "the user's choice holds");
}

#[test]
fn evaluate_connection_probes_are_fetched_with_the_network() {
    let mut r = evaluate_connection();
    r.connection_rules[1].probe_url = Some("http://10.0.0.1/inside".into());
    let (prober, asked) = table(&[]);
    let mut d = OnDemandDriver::with_prober(vec![r], false, prober);
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Disconnected), None);
    let result = d.probe_results().recv_timeout(WAIT).expect("fetched with the network");
    assert_eq!(asked.lock().expect("lock").as_slice(), ["http://10.0.0.1/inside"]);
    assert_eq!(d.on_probe(result, VpnStatus::Disconnected), None);
    // The probe failed: outside, so the name asks for the tunnel even though it resolves.
    assert_eq!(
        d.on_dns_name("git.corp.example", true, VpnStatus::Disconnected),
        Some(OnDemandCommand::Connect)
    );
}

#[test]
fn the_tunnels_own_dns_is_not_the_networks() {
    let mut corp = OnDemandRule::new(OnDemandAction::Disconnect);
    corp.dns_search_domain_match = vec!["corp.example".into()];
    let rules = vec![corp, on(InterfaceType::Any)];
    let mut d = OnDemandDriver::with_prober(rules, false, no_probes());
    let cafe = NetworkState { dns_servers: vec!["192.0.2.53".parse().unwrap()], ..ethernet() };
    assert_eq!(d.on_network(&cafe, VpnStatus::Disconnected), Some(OnDemandCommand::Connect));
    // Up: the tunnel's resolv.conf names its server and corp.example; that is not the café's
    // network, so the Disconnect rule must not stop the tunnel it just brought up.
    d.set_tunnel_dns(Some((vec!["10.77.0.53".parse().unwrap()], vec!["corp.example".into()])));
    let replaced = NetworkState {
        dns_servers: vec!["10.77.0.53".parse().unwrap()],
        dns_search_domains: vec!["corp.example".into()],
        ..ethernet()
    };
    assert_eq!(d.on_network(&replaced, VpnStatus::Connected), None);
    assert_eq!(d.decision(), &OnDemandDecision::Connect { rule: 1 });
    // Beside the network's own (resolved's union of links): those stay.
    let union = NetworkState {
        dns_servers: vec!["10.77.0.53".parse().unwrap(), "192.0.2.53".parse().unwrap()],
        dns_search_domains: vec!["corp.example".into(), "cafe.example".into()],
        ..ethernet()
    };
    assert_eq!(d.on_network(&union, VpnStatus::Connected), None);
    // Really on the corporate network (after the tunnel is down): Disconnect decides.
    d.set_tunnel_dns(None);
    assert_eq!(d.on_network(&replaced, VpnStatus::Connected), Some(OnDemandCommand::Disconnect));
}

#[test]
fn a_name_needs_the_tunnel_whatever_its_status_but_only_a_down_one_is_started() {
    let mut d = OnDemandDriver::with_prober(vec![evaluate_connection()], false, no_probes());
    assert_eq!(d.on_network(&ethernet(), VpnStatus::Disconnected), None);
    assert!(d.wants_tunnel_for("git.corp.example", false));
    assert!(!d.wants_tunnel_for("git.corp.example", true));
    assert!(!d.wants_tunnel_for("www.corp.example", false), "NeverConnect");
    for up in [VpnStatus::Connecting, VpnStatus::Connected, VpnStatus::Reasserting] {
        assert_eq!(
            d.on_dns_name("git.corp.example", false, up),
            None,
            "{up:?}: already on its way"
        );
    }
    assert_eq!(d.tunnel_dns_servers(), None);
    d.set_tunnel_dns(Some((vec!["10.77.0.53".parse().unwrap()], vec![])));
    assert_eq!(d.tunnel_dns_servers(), Some(&["10.77.0.53".parse().unwrap()][..]));
}
