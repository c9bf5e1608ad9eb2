//! The manager's connection over the real tunnel: a [`SessionProvider`] brings a saved
//! configuration up against an `ikeway_tunnel::Session` responder over loopback UDP (no root,
//! no TUN), reports the status changes, keeps the tunnel's status, and stops with DELETE.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Receiver;
use ikeway_codec::{AddrRange, IdRepr, IdValue, TrafficSelector};
use ikeway_crypto::{BlockCipher, Encryption, Integrity, SecretBytes};
use ikeway_manager::{
    AuthenticationMethod, DisconnectError, HostFactory, Ikev2Protocol, PreferencesStore,
    ProviderOptions, SessionProvider, StatusChange, VpnConfiguration, VpnConnection, VpnStatus,
};
use ikeway_sa::{AddressPool, Config};
use ikeway_tunnel::host::{HostError, HostNetwork, TunnelPlan};
use ikeway_tunnel::{Ports, Session, SessionOptions};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PSK: &[u8] = b"session provider test, not a secret";

/// A responder that accepts what the configuration proposes (Apple's default proposals), or,
/// with `refuse_child`, accepts its IKE SA but none of its ESP proposals.
fn server(client: &Config, refuse_child: bool) -> Session {
    let mut config = Config::new(
        IdRepr::from_value(IdValue::Fqdn("vpn.example.com")),
        SecretBytes::from_slice(PSK),
    );
    let net = |last| IpAddr::V4(Ipv4Addr::new(10, 77, 0, last));
    config.local_ts = vec![TrafficSelector::Range(AddrRange::any(net(0), net(255)))];
    config.ike_proposals = client.ike_proposals.clone();
    config.esp_proposals = client.esp_proposals.clone();
    if refuse_child {
        // AES-CTR is not among Apple's child proposals.
        for p in &mut config.esp_proposals {
            p.encryption = Encryption::Cipher(BlockCipher::AesCtr { key_bits: 192 });
            p.integrity = Some(Integrity::HmacSha512_256);
        }
    }
    let pool = AddressPool {
        v4: Some((Ipv4Addr::new(10, 88, 0, 10), 10)),
        dns: vec![net(53)],
        ..AddressPool::default()
    };
    Session::start(
        SessionOptions::responder(LOOPBACK, config, Some(pool)).with_ports(Ports::ephemeral()),
    )
    .expect("the responder starts")
}

/// The next status change; the wait only guards against a hang.
fn next(changes: &Receiver<StatusChange>) -> StatusChange {
    changes.recv_timeout(Duration::from_secs(30)).expect("a status change")
}

/// What a fake host was asked to do.
type HostLog = Arc<Mutex<Vec<String>>>;

/// A host that records the plans it is given instead of changing anything; `fail` makes
/// `apply` fail after recording.
#[derive(Debug)]
struct FakeHost {
    log: HostLog,
    fail: bool,
}

impl HostNetwork for FakeHost {
    fn apply(&mut self, plan: &TunnelPlan) -> Result<Vec<String>, HostError> {
        let list = |r: &[ikeway_tunnel::host::record::Route]| {
            r.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
        };
        self.log.lock().expect("not poisoned").push(format!(
            "apply addresses {} routes {} dns {:?} mtu {}",
            list(plan.addresses()),
            list(plan.routes()),
            plan.dns().servers,
            plan.mtu()
        ));
        if self.fail {
            return Err(HostError::Dns("the resolver refused".into()));
        }
        Ok(vec!["domain \"bad name\"".into()])
    }

    fn undo(&mut self) -> Result<(), HostError> {
        self.log.lock().expect("not poisoned").push("undo".into());
        Ok(())
    }
}

fn fake_host(log: &HostLog, fail: bool) -> HostFactory {
    let log = Arc::clone(log);
    Box::new(move || {
        Ok(Box::new(FakeHost { log: Arc::clone(&log), fail }) as Box<dyn HostNetwork + Send>)
    })
}

/// A saved configuration (MTU 1300) for a loopback server, with its provider and the
/// server accepting what it proposes.
fn setup(
    dir: &std::path::Path,
    host: Option<HostFactory>,
) -> (Session, VpnConnection, Arc<Mutex<ikeway_manager::TunnelStatus>>, Receiver<StatusChange>) {
    setup_against(dir, host, false)
}

fn setup_against(
    dir: &std::path::Path,
    host: Option<HostFactory>,
    refuse_child: bool,
) -> (Session, VpnConnection, Arc<Mutex<ikeway_manager::TunnelStatus>>, Receiver<StatusChange>) {
    let store = PreferencesStore::in_dir(dir);
    let psk = store.secrets().add(&SecretBytes::from_slice(PSK)).expect("secret saved");
    let configuration = VpnConfiguration {
        localized_description: "Loopback".into(),
        enabled: true,
        protocol: Some(Ikev2Protocol {
            authentication_method: AuthenticationMethod::SharedSecret,
            shared_secret_reference: Some(psk),
            local_identifier: Some("client.example.com".into()),
            remote_identifier: Some("vpn.example.com".into()),
            mtu: Some(1300),
            ..Ikev2Protocol::new("127.0.0.1")
        }),
        ..VpnConfiguration::default()
    };
    let protocol = configuration.protocol.as_ref().expect("set above");
    let (client, _) = protocol.to_sa_config(store.secrets()).expect("a valid configuration");
    let server = server(&client, refuse_child);
    let provider = SessionProvider::new(ProviderOptions {
        tun: None,
        local: Some(LOOPBACK),
        ports: Some(Ports::ephemeral()),
        server_port: Some(server.local_addr().port()),
        server: None,
        host,
        keylog: None,
        ikev1_timers: None,
    });
    let status = provider.status();
    let mut connection = VpnConnection::new(Box::new(provider), Box::new(store.secrets().clone()));
    connection.set_configuration(Some(configuration));
    let changes = connection.subscribe();
    (server, connection, status, changes)
}

/// The plan from the configuration (MTU), the server's reply (address, DNS) and the child's
/// selectors (the server's network) goes to the host when the child SA is up, what the host
/// left out is kept for the log, and the host is undone when the tunnel ends.
#[test]
fn the_host_carries_out_the_plan_when_up_and_undoes_it_at_the_end() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = HostLog::default();
    let (_server, mut connection, status, changes) =
        setup(dir.path(), Some(fake_host(&log, false)));
    connection.start_tunnel().expect("starts");
    assert_eq!(next(&changes).to, VpnStatus::Connecting);
    assert_eq!(next(&changes).to, VpnStatus::Connected);
    assert_eq!(
        *log.lock().expect("not poisoned"),
        ["apply addresses 10.88.0.10/32 routes 10.77.0.0/24 dns [10.77.0.53] mtu 1300"]
    );
    assert_eq!(
        status.lock().expect("not poisoned").notes,
        ["not used from the server's configuration: domain \"bad name\""]
    );
    connection.stop_tunnel();
    assert_eq!(next(&changes).to, VpnStatus::Disconnecting);
    assert_eq!(next(&changes).to, VpnStatus::Disconnected);
    assert_eq!(log.lock().expect("not poisoned").last().map(String::as_str), Some("undo"));
    assert_eq!(log.lock().expect("not poisoned").len(), 2);
}

/// A server that accepts the IKE SA but refuses its first child SA: the connection ends at
/// once with NegotiationFailed and the server's reason, nothing is applied to the host (there
/// is no child to route into), instead of sitting in "connecting" until the caller gives up.
#[test]
fn a_refused_first_child_sa_fails_the_connection_with_negotiation_failed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = HostLog::default();
    let (_server, mut connection, status, changes) =
        setup_against(dir.path(), Some(fake_host(&log, false)), true);
    connection.start_tunnel().expect("starts");
    assert_eq!(next(&changes).to, VpnStatus::Connecting);
    let change = next(&changes);
    assert_eq!(
        (change.to, change.error),
        (VpnStatus::Disconnected, Some(DisconnectError::NegotiationFailed))
    );
    // Issue 14: the notify is the error's reason, kept with it (and so by the daemon).
    assert_eq!(
        change.reason.as_deref(),
        Some("the server refused the child SA: NO_PROPOSAL_CHOSEN")
    );
    assert_eq!(
        connection.last_disconnect_reason().as_deref(),
        Some("the server refused the child SA: NO_PROPOSAL_CHOSEN")
    );
    assert_eq!(
        status.lock().expect("not poisoned").notes,
        ["the server refused the child SA: NO_PROPOSAL_CHOSEN"]
    );
    assert_eq!(*log.lock().expect("not poisoned"), ["undo"], "nothing applied, undo is a no-op");
}

/// A host change that fails ends the tunnel (it would carry nothing) with the provider's
/// error, and what was done is undone.
#[test]
fn a_host_change_that_fails_ends_the_tunnel_and_is_undone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = HostLog::default();
    let (_server, mut connection, status, changes) = setup(dir.path(), Some(fake_host(&log, true)));
    connection.start_tunnel().expect("starts");
    assert_eq!(next(&changes).to, VpnStatus::Connecting);
    let change = next(&changes);
    assert_eq!(
        (change.to, change.error),
        (VpnStatus::Disconnected, Some(DisconnectError::PluginFailed))
    );
    let log = log.lock().expect("not poisoned");
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[1], "undo");
    assert_eq!(
        status.lock().expect("not poisoned").host_error.as_deref(),
        Some("the resolver refused")
    );
}

#[test]
fn a_saved_configuration_connects_reports_its_status_and_stops_with_delete() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, mut connection, status, changes) = setup(dir.path(), None);
    connection.start_tunnel().expect("starts");
    let change = next(&changes);
    assert_eq!((change.from, change.to), (VpnStatus::Disconnected, VpnStatus::Connecting));
    let change = next(&changes);
    assert_eq!((change.from, change.to), (VpnStatus::Connecting, VpnStatus::Connected));
    {
        let s = status.lock().expect("not poisoned");
        assert_eq!(s.server, Some(server.local_addr()));
        assert_eq!(s.addresses, ["10.88.0.10/32"]);
        assert_eq!(s.dns, ["10.77.0.53"]);
        assert!(s.ike.is_some());
        assert!(s.keyed, "IKE_SA_INIT completed before IKE_AUTH");
        assert_eq!(s.children.len(), 1);
        assert!(s.session.is_some());
    }

    connection.stop_tunnel();
    let change = next(&changes);
    assert_eq!((change.from, change.to), (VpnStatus::Connected, VpnStatus::Disconnecting));
    let change = next(&changes);
    assert_eq!(
        (change.from, change.to, change.error),
        (VpnStatus::Disconnecting, VpnStatus::Disconnected, None)
    );
    assert_eq!(connection.last_disconnect_error(), None);
    // The server saw our DELETE: its IKE SA closed, deleted by the peer.
    server.handle().shutdown().expect("server alive");
    let closed = server.events().iter().any(|e| {
        e.kind
            == (ikeway_tunnel::EventKind::IkeSaClosed {
                reason: ikeway_sa::CloseReason::DeletedByPeer,
            })
    });
    assert!(closed, "the server did not see the DELETE");
    assert!(status.lock().expect("not poisoned").session.is_none(), "the session is gone");
}
