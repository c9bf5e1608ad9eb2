//! The manager's connection over the real tunnel: a [`SessionProvider`] brings a saved
//! configuration up against an `ikeway_tunnel::Session` responder over loopback UDP (no root,
//! no TUN), reports the status changes, keeps the tunnel's status, and stops with DELETE.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crossbeam_channel::Receiver;
use ikeway_codec::{AddrRange, IdRepr, IdValue, TrafficSelector};
use ikeway_crypto::SecretBytes;
use ikeway_manager::{
    AuthenticationMethod, Ikev2Protocol, PreferencesStore, ProviderOptions, SessionProvider,
    StatusChange, VpnConfiguration, VpnConnection, VpnStatus,
};
use ikeway_sa::{AddressPool, Config};
use ikeway_tunnel::{Ports, Session, SessionOptions};

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PSK: &[u8] = b"session provider test, not a secret";

/// A responder that accepts what the configuration proposes (Apple's default proposals).
fn server(client: &Config) -> Session {
    let mut config = Config::new(
        IdRepr::from_value(IdValue::Fqdn("vpn.example.com")),
        SecretBytes::from_slice(PSK),
    );
    let net = |last| IpAddr::V4(Ipv4Addr::new(10, 77, 0, last));
    config.local_ts = vec![TrafficSelector::Range(AddrRange::any(net(0), net(255)))];
    config.ike_proposals = client.ike_proposals.clone();
    config.esp_proposals = client.esp_proposals.clone();
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

#[test]
fn a_saved_configuration_connects_reports_its_status_and_stops_with_delete() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = PreferencesStore::in_dir(dir.path());
    let psk = store.secrets().add(&SecretBytes::from_slice(PSK)).expect("secret saved");
    let configuration = VpnConfiguration {
        localized_description: "Loopback".into(),
        enabled: true,
        protocol: Some(Ikev2Protocol {
            authentication_method: AuthenticationMethod::SharedSecret,
            shared_secret_reference: Some(psk),
            local_identifier: Some("client.example.com".into()),
            remote_identifier: Some("vpn.example.com".into()),
            ..Ikev2Protocol::new("127.0.0.1")
        }),
        ..VpnConfiguration::default()
    };
    let protocol = configuration.protocol.as_ref().expect("set above");
    let (client, _) = protocol.to_sa_config(store.secrets()).expect("a valid configuration");
    let server = server(&client);
    let provider = SessionProvider::new(ProviderOptions {
        tun: None,
        local: Some(LOOPBACK),
        ports: Some(Ports::ephemeral()),
        server_port: Some(server.local_addr().port()),
    });
    let status = provider.status();
    let mut connection = VpnConnection::new(Box::new(provider), Box::new(store.secrets().clone()));
    connection.set_configuration(Some(configuration));
    let changes = connection.subscribe();

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
