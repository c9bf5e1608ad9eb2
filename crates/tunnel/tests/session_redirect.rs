//! RFC 5685 redirect between [`Session`]s over loopback (no root): responder A on 127.0.0.1
//! sends the client to responder B on 127.0.0.2 (same ephemeral port) in IKE_SA_INIT and on
//! an established SA; the client follows with a new IKE SA that names A in REDIRECTED_FROM; two
//! responders that redirect to each other are a loop the client stops at.

#[allow(dead_code)]
mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{LOOPBACK, until};
use ikeway_codec::{Gateway, IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{AddressPool, CloseReason, Config, RedirectPhase, RedirectPolicy};
use ikeway_tunnel::{
    EventKind, Ports, RedirectFailure, Role, Session, SessionEvent, SessionOptions, Status,
};

const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

fn fqdn(name: &str) -> IdRepr {
    IdRepr::from_value(IdValue::Fqdn(name))
}

fn psk() -> SecretBytes {
    SecretBytes::from_slice(b"session redirect test, not a secret")
}

fn server(redirect_to: Option<IpAddr>) -> Config {
    let mut c = Config::new(fqdn("server.redirect.test"), psk());
    c.dpd_interval = None;
    c.redirect = redirect_to.map(|to| RedirectPolicy {
        gateway: Gateway::from(to),
        above: 0,
        phase: RedirectPhase::Init,
    });
    c
}

fn pool(third: u8) -> AddressPool {
    AddressPool { v4: Some((Ipv4Addr::new(10, 88, third, 10), 10)), ..AddressPool::default() }
}

fn start_server(at: IpAddr, ports: Ports, config: Config, third: u8) -> Session {
    Session::start(SessionOptions::responder(at, config, Some(pool(third))).with_ports(ports))
        .expect("responder starts")
}

/// A on 127.0.0.1 (ephemeral port P), B on 127.0.0.2:P.
fn servers(a: Config, b: Config) -> (Session, Session) {
    let a = start_server(LOOPBACK, Ports::ephemeral(), a, 1);
    let b = start_server(B, Ports { ike: a.local_addr().port(), natt: 0 }, b, 2);
    (a, b)
}

fn client_to(server: &Session) -> Session {
    let mut c = Config::new(fqdn("client.redirect.test"), psk());
    c.dpd_interval = None;
    c.redirect_supported = true;
    c.config_request = vec![ikeway_codec::ConfigAttributeType::INTERNAL_IP4_ADDRESS];
    let mut options =
        SessionOptions::initiator(LOOPBACK, LOOPBACK, c).with_ports(Ports::ephemeral());
    options.role = Role::Initiator { remote: server.local_addr() };
    Session::start(options).expect("initiator starts")
}

fn address(seen: &[EventKind]) -> Option<String> {
    seen.iter().find_map(|e| match e {
        EventKind::ConfigReceived { addresses, .. } => Some(addresses[0].to_string()),
        _ => None,
    })
}

fn shut(server: Session) -> Vec<SessionEvent> {
    server.handle().shutdown().expect("alive");
    server.events().iter().collect()
}

#[test]
fn init_redirect_moves_the_client_to_b_which_serves_it() {
    let (a, b) = servers(server(Some(B)), server(None));
    let client = client_to(&a);
    let seen = until(client.events(), |e| *e == EventKind::Status { status: Status::Connected });
    let redirect = seen.iter().position(|e| *e == EventKind::Redirect { gateway: B.to_string() });
    let redirect = redirect.unwrap_or_else(|| panic!("{seen:#?}"));
    assert_eq!(
        seen[redirect + 1..redirect + 3],
        [
            EventKind::IkeSaClosed { reason: CloseReason::Redirected },
            EventKind::Redirected { from: LOOPBACK, to: B },
        ]
    );
    // B's pool, not A's: the client was served by B.
    assert_eq!(address(&seen).as_deref(), Some("10.88.2.10/32"));
    drop(client);
    let a_events = shut(a);
    assert!(
        !a_events.iter().any(|e| matches!(e.kind, EventKind::IkeSaUp { .. })),
        "A kept no SA: {a_events:#?}"
    );
    let stats = a_events.iter().find_map(|e| match &e.kind {
        EventKind::Stats(s) => s.endpoint.clone(),
        _ => None,
    });
    assert!(stats.unwrap().contains("redirected_at_init: 1"));
    let b_events = shut(b);
    assert!(b_events.iter().any(|e| matches!(e.kind, EventKind::IkeSaUp { .. })));
}

#[test]
fn established_redirect_moves_a_connected_client_and_a_leaves_it() {
    let (a, b) = servers(server(None), server(None));
    let client = client_to(&a);
    let seen = until(client.events(), |e| *e == EventKind::Status { status: Status::Connected });
    assert_eq!(address(&seen).as_deref(), Some("10.88.1.10/32"));
    let up = until(a.events(), |e| matches!(e, EventKind::IkeSaUp { .. }));
    drop(up);
    let sa = loop {
        let e = a.events().recv_timeout(common::HANG).expect("A reports the client's child");
        if let (EventKind::ChildSaInstalled { .. }, Some(sa)) = (&e.kind, e.sa) {
            break sa;
        }
    };
    a.handle().redirect(sa, Gateway::from(B)).expect("A alive");
    let seen =
        until(client.events(), |e| matches!(e, EventKind::ChildSaInstalled { replaces: None, .. }));
    let redirect = seen.iter().position(|e| *e == EventKind::Redirect { gateway: B.to_string() });
    let redirect = redirect.unwrap_or_else(|| panic!("{seen:#?}"));
    assert!(matches!(seen[redirect + 1], EventKind::ChildSaRemoved { .. }), "{seen:#?}");
    assert_eq!(
        seen[redirect + 2..redirect + 4],
        [
            EventKind::IkeSaClosed { reason: CloseReason::Redirected },
            EventKind::Redirected { from: LOOPBACK, to: B },
        ]
    );
    assert_eq!(address(&seen).as_deref(), Some("10.88.2.10/32"));
    let closed = until(a.events(), |e| matches!(e, EventKind::IkeSaClosed { .. }));
    assert_eq!(closed.last(), Some(&EventKind::IkeSaClosed { reason: CloseReason::DeletedByPeer }));
    drop(client);
    drop(b);
}

#[test]
fn a_redirect_to_a_client_without_support_is_refused_at_the_responder() {
    let (a, _b) = servers(server(None), server(None));
    let mut c = Config::new(fqdn("client.redirect.test"), psk());
    c.dpd_interval = None;
    c.config_request = vec![ikeway_codec::ConfigAttributeType::INTERNAL_IP4_ADDRESS];
    let mut options =
        SessionOptions::initiator(LOOPBACK, LOOPBACK, c).with_ports(Ports::ephemeral());
    options.role = Role::Initiator { remote: a.local_addr() };
    let client = Session::start(options).expect("initiator starts");
    until(client.events(), |e| *e == EventKind::Status { status: Status::Connected });
    let sa = loop {
        let e = a.events().recv_timeout(common::HANG).expect("A reports the client");
        if let (EventKind::IkeSaUp { .. }, Some(sa)) = (&e.kind, e.sa) {
            break sa;
        }
    };
    a.handle().redirect(sa, Gateway::from(B)).expect("A alive");
    let seen = until(a.events(), |e| matches!(e, EventKind::RedirectFailed { .. }));
    assert_eq!(
        seen.last(),
        Some(&EventKind::RedirectFailed {
            gateway: B.to_string(),
            failure: RedirectFailure::PeerUnsupported
        })
    );
}

#[test]
fn servers_that_redirect_to_each_other_are_a_loop_the_client_stops_at() {
    let (a, _b) = servers(server(Some(B)), server(Some(LOOPBACK)));
    let client = client_to(&a);
    let seen = until(client.events(), |e| *e == EventKind::Status { status: Status::Disconnected });
    assert!(seen.contains(&EventKind::Redirected { from: LOOPBACK, to: B }), "{seen:#?}");
    assert!(
        seen.contains(&EventKind::RedirectFailed {
            gateway: LOOPBACK.to_string(),
            failure: RedirectFailure::Loop
        }),
        "{seen:#?}"
    );
    let closes: Vec<_> =
        seen.iter().filter(|e| matches!(e, EventKind::IkeSaClosed { .. })).collect();
    assert_eq!(closes.len(), 2, "one per IKE SA, both redirected: {seen:#?}");
    client.wait().expect("a redirect not followed ends the session cleanly");
}
