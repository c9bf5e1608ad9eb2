//! The connection state machine driven by a scripted fake of the network: the provider plays
//! what an IKE runtime would report, the manager is the real one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use ikeway_manager::{
    AuthenticationMethod, CloseCause, DisconnectError, Ikev2Protocol, PreferencesStore,
    ProviderError, StartError, StartOptions, StatusChange, TunnelEvent, TunnelEvents,
    TunnelProvider, TunnelRequest, VpnConnection, VpnManager, VpnStatus, secrets_from,
};

/// What the fake network does when a tunnel starts.
#[derive(Clone, Copy, Debug)]
enum Script {
    /// The server answers: the tunnel comes up at once.
    Answers,
    /// The server rejects our AUTH.
    RejectsAuth,
    /// Nothing answers the IKE_SA_INIT.
    Silent,
    /// The tunnel comes up later, when the test says so.
    Manual,
    /// The provider cannot start at all (no TUN device, say).
    Refuses,
    /// The server's certificate is refused for this reason.
    BadServerCertificate(ikeway_pki::CertFailure),
}

#[derive(Default)]
struct Log {
    requests: Vec<TunnelRequest>,
    stops: usize,
    events: Option<TunnelEvents>,
}

struct FakeNetwork {
    script: Script,
    log: Arc<Mutex<Log>>,
}

impl TunnelProvider for FakeNetwork {
    fn start(&mut self, request: TunnelRequest, events: TunnelEvents) -> Result<(), ProviderError> {
        let mut log = self.log.lock().unwrap();
        log.requests.push(request);
        log.events = Some(events.clone());
        match self.script {
            Script::Answers => events.report(TunnelEvent::Up(ikeway_sa::ConfigReceived {
                addresses: vec![("10.9.0.2".parse().unwrap(), 32)],
                ..Default::default()
            })),
            Script::RejectsAuth => events.report(TunnelEvent::Closed(
                ikeway_sa::CloseReason::PeerError(ikeway_codec::NotifyType::AUTHENTICATION_FAILED)
                    .into(),
            )),
            Script::Silent => {
                events.report(TunnelEvent::Closed(ikeway_sa::CloseReason::PeerUnreachable.into()))
            }
            Script::BadServerCertificate(failure) => events.report(TunnelEvent::Closed(
                ikeway_sa::CloseReason::PeerCertificate(failure).into(),
            )),
            Script::Manual => {}
            Script::Refuses => {
                return Err(ProviderError {
                    error: DisconnectError::PluginFailed,
                    message: "cannot open /dev/net/tun".into(),
                });
            }
        }
        Ok(())
    }

    fn stop(&mut self) {
        let mut log = self.log.lock().unwrap();
        log.stops += 1;
        // The runtime sends DELETE and reports the close from its own thread.
        if let Some(events) = log.events.clone() {
            std::thread::spawn(move || events.report(TunnelEvent::Closed(CloseCause::LocalStop)))
                .join()
                .unwrap();
        }
    }
}

fn protocol() -> Ikev2Protocol {
    Ikev2Protocol {
        authentication_method: AuthenticationMethod::SharedSecret,
        shared_secret_reference: Some("psk".into()),
        local_identifier: Some("client.example".into()),
        disable_mobike: true,
        disable_redirect: true,
        ..Ikev2Protocol::new("192.0.2.1")
    }
}

fn connection(script: Script) -> (VpnConnection, Arc<Mutex<Log>>) {
    let log = Arc::new(Mutex::new(Log::default()));
    let provider = Box::new(FakeNetwork { script, log: Arc::clone(&log) });
    let secrets = Box::new(secrets_from([("psk", &b"pre-shared key"[..])]));
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut c = VpnConnection::with_clock(provider, secrets, Box::new(move || t0));
    c.set_configuration(Some(ikeway_manager::VpnConfiguration {
        localized_description: "test".into(),
        enabled: true,
        protocol: Some(protocol()),
        ..Default::default()
    }));
    (c, log)
}

fn changes(rx: &crossbeam_channel::Receiver<StatusChange>) -> Vec<VpnStatus> {
    rx.try_iter().map(|c| c.to).collect()
}

#[test]
fn connects_and_disconnects() {
    let (mut c, log) = connection(Script::Answers);
    let rx = c.subscribe();
    assert_eq!(c.status(), VpnStatus::Disconnected);
    let unsupported = c.start_tunnel().unwrap();
    assert!(unsupported.is_empty(), "{unsupported:?}");
    assert_eq!(c.status(), VpnStatus::Connected);
    assert_eq!(
        c.connected_date(),
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
    );
    {
        let log = log.lock().unwrap();
        let req = &log.requests[0];
        assert_eq!(req.server_address, "192.0.2.1");
        assert_eq!(req.config.local_auth.psk().unwrap().expose(), b"pre-shared key");
        assert_eq!(req.config.peer_auth.psk().unwrap().expose(), b"pre-shared key");
    }
    c.stop_tunnel();
    assert_eq!(c.status(), VpnStatus::Disconnected);
    assert_eq!(c.connected_date(), None);
    assert_eq!(c.last_disconnect_error(), None);
    assert_eq!(log.lock().unwrap().stops, 1);
    assert_eq!(
        changes(&rx),
        [
            VpnStatus::Connecting,
            VpnStatus::Connected,
            VpnStatus::Disconnecting,
            VpnStatus::Disconnected
        ]
    );
}

#[test]
fn authentication_failure_is_reported() {
    let (mut c, _) = connection(Script::RejectsAuth);
    let rx = c.subscribe();
    c.start_tunnel().unwrap();
    assert_eq!(c.status(), VpnStatus::Disconnected);
    assert_eq!(c.last_disconnect_error(), Some(DisconnectError::AuthenticationFailed));
    let all: Vec<_> = rx.try_iter().collect();
    assert_eq!(all.last().unwrap().error, Some(DisconnectError::AuthenticationFailed));
}

/// A refused server certificate ends the connection with Apple's server-certificate error
/// for the failure, and the reason in words, in the status change and afterwards.
#[test]
fn a_refused_server_certificate_is_reported_with_its_reason() {
    use ikeway_pki::CertFailure as F;
    for (failure, error) in [
        (F::Expired, DisconnectError::ServerCertificateExpired),
        (F::NotYetValid, DisconnectError::ServerCertificateNotYetValid),
        (F::UntrustedIssuer, DisconnectError::ServerCertificateInvalid),
        (F::Revoked, DisconnectError::ServerCertificateInvalid),
    ] {
        let (mut c, _) = connection(Script::BadServerCertificate(failure));
        let rx = c.subscribe();
        c.start_tunnel().unwrap();
        assert_eq!(c.status(), VpnStatus::Disconnected);
        assert_eq!(c.last_disconnect_error(), Some(error));
        assert_eq!(c.last_disconnect_reason(), Some(failure.to_string()));
        let last = rx.try_iter().last().unwrap();
        assert_eq!((last.error, last.reason), (Some(error), Some(failure.to_string())));
    }
    let (mut c, _) = connection(Script::BadServerCertificate(F::Expired));
    c.start_tunnel().unwrap();
    assert_eq!(c.last_disconnect_reason().as_deref(), Some("the peer's certificate has expired"));
    // A failure without a certificate has no reason to add; a new start clears the old one.
    c.set_provider(Box::new(FakeNetwork {
        script: Script::Silent,
        log: Arc::new(Mutex::new(Log::default())),
    }));
    c.start_tunnel().unwrap();
    assert_eq!(c.last_disconnect_error(), Some(DisconnectError::ServerNotResponding));
    assert_eq!(c.last_disconnect_reason(), None);
}

/// Our own expired certificate fails the start with ClientCertificateExpired (11), saying so.
#[test]
fn an_expired_identity_fails_the_start_as_a_client_certificate_error() {
    use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, TestCa, Validity};
    let ca = TestCa::new("Office CA");
    let client =
        ca.issue_valid("alice", "client.example.org", &PKCS_ECDSA_P256_SHA256, Validity::Expired);
    let pem = format!("{}{}", client.key_pem, client.cert_pem);
    let log = Arc::new(Mutex::new(Log::default()));
    let configuration = ikeway_manager::VpnConfiguration {
        enabled: true,
        protocol: Some(Ikev2Protocol {
            authentication_method: AuthenticationMethod::Certificate,
            identity_reference: Some("id".into()),
            certificate_type: ikeway_manager::CertificateType::Ecdsa256,
            trust_anchors: vec![ikeway_manager::Der(ca.cert_der.clone())],
            ..protocol()
        }),
        ..Default::default()
    };
    let mut c = VpnConnection::new(
        Box::new(FakeNetwork { script: Script::Answers, log: Arc::clone(&log) }),
        Box::new(secrets_from([("id", pem.as_bytes())])),
    );
    c.set_configuration(Some(configuration));
    let err = c.start_tunnel().unwrap_err();
    assert_eq!(
        err.to_string(),
        "the VPN configuration cannot be used: our certificate (identity_reference) has expired"
    );
    assert_eq!(c.status(), VpnStatus::Disconnected);
    assert_eq!(c.last_disconnect_error(), Some(DisconnectError::ClientCertificateExpired));
    assert_eq!(
        c.last_disconnect_reason().as_deref(),
        Some("our certificate (identity_reference) has expired")
    );
    assert!(log.lock().unwrap().requests.is_empty(), "no tunnel was started");
}

#[test]
fn silent_server_is_not_responding() {
    let (mut c, _) = connection(Script::Silent);
    c.start_tunnel().unwrap();
    assert_eq!(c.last_disconnect_error(), Some(DisconnectError::ServerNotResponding));
    // A new start clears the previous error.
    c.start_tunnel().unwrap();
    assert_eq!(c.status(), VpnStatus::Disconnected);
}

#[test]
fn peer_unreachable_while_connected_reasserts_then_gives_up() {
    let (mut c, log) = connection(Script::Manual);
    let rx = c.subscribe();
    c.start_tunnel().unwrap();
    assert_eq!(c.status(), VpnStatus::Connecting);
    let events = log.lock().unwrap().events.clone().unwrap();
    events.report(TunnelEvent::Up(Default::default()));
    let date = c.connected_date().unwrap();
    // DPD gets no answer: the runtime retries.
    events.report(TunnelEvent::Unresponsive);
    assert_eq!(c.status(), VpnStatus::Reasserting);
    assert_eq!(c.connected_date(), Some(date));
    // The peer comes back.
    events.report(TunnelEvent::Up(Default::default()));
    assert_eq!((c.status(), c.connected_date()), (VpnStatus::Connected, Some(date)));
    // It goes away again, for good this time.
    events.report(TunnelEvent::Unresponsive);
    events.report(TunnelEvent::Closed(ikeway_sa::CloseReason::PeerUnreachable.into()));
    assert_eq!(c.status(), VpnStatus::Disconnected);
    assert_eq!(c.last_disconnect_error(), Some(DisconnectError::ServerNotResponding));
    assert_eq!(
        changes(&rx),
        [
            VpnStatus::Connecting,
            VpnStatus::Connected,
            VpnStatus::Reasserting,
            VpnStatus::Connected,
            VpnStatus::Reasserting,
            VpnStatus::Disconnected
        ]
    );
}

#[test]
fn events_of_an_old_tunnel_are_ignored() {
    let (mut c, log) = connection(Script::Manual);
    c.start_tunnel().unwrap();
    let old = log.lock().unwrap().events.clone().unwrap();
    old.report(TunnelEvent::Closed(CloseCause::DeletedByPeer));
    assert_eq!(c.last_disconnect_error(), Some(DisconnectError::ServerDisconnected));
    c.start_tunnel().unwrap();
    // A late report from the first tunnel must not touch the second.
    old.report(TunnelEvent::Up(Default::default()));
    assert_eq!(c.status(), VpnStatus::Connecting);
    let new = log.lock().unwrap().events.clone().unwrap();
    new.report(TunnelEvent::Up(Default::default()));
    assert_eq!(c.status(), VpnStatus::Connected);
}

#[test]
fn provider_refusal_and_bad_configuration() {
    let (mut c, _) = connection(Script::Refuses);
    let err = c.start_tunnel().unwrap_err();
    assert!(matches!(err, StartError::ConnectionFailed(_)) && err.code() == 3, "{err}");
    assert_eq!(c.status(), VpnStatus::Disconnected);
    assert_eq!(c.last_disconnect_error(), Some(DisconnectError::PluginFailed));

    let (mut c, log) = connection(Script::Answers);
    let mut cfg = ikeway_manager::VpnConfiguration {
        enabled: true,
        protocol: Some(protocol()),
        ..Default::default()
    };
    cfg.protocol.as_mut().unwrap().ike_sa_parameters.diffie_hellman_group =
        ikeway_manager::DiffieHellmanGroup::Group2;
    c.set_configuration(Some(cfg.clone()));
    let err = c.start_tunnel().unwrap_err();
    assert!(err.to_string().contains("ike_sa_parameters.diffie_hellman_group"), "{err}");
    assert_eq!(c.last_disconnect_error(), Some(DisconnectError::ConfigurationFailed));
    assert!(log.lock().unwrap().requests.is_empty());

    cfg.enabled = false;
    c.set_configuration(Some(cfg));
    assert!(matches!(c.start_tunnel(), Err(StartError::ConfigurationDisabled)));
    c.set_configuration(None);
    assert_eq!(c.status(), VpnStatus::Invalid);
    assert!(matches!(c.start_tunnel(), Err(StartError::ConfigurationInvalid(_))));
}

#[test]
fn start_options_and_unsupported_fields_reach_the_caller() {
    let (mut c, log) = connection(Script::Answers);
    let mut cfg = ikeway_manager::VpnConfiguration {
        enabled: true,
        protocol: Some(protocol()),
        ..Default::default()
    };
    cfg.protocol.as_mut().unwrap().enforce_routes = true;
    c.set_configuration(Some(cfg));
    let options = StartOptions {
        username: Some("alice".into()),
        password: Some(ikeway_crypto::SecretBytes::from_slice(b"pw")),
    };
    let unsupported = c.start_tunnel_with_options(options).unwrap();
    let fields: Vec<_> = unsupported.iter().map(|u| u.field).collect();
    // A PSK configuration runs no EAP: the options' username and password are reported unused.
    assert_eq!(fields, ["username", "enforce_routes", "password"]);
    assert_eq!(log.lock().unwrap().requests[0].options.username.as_deref(), Some("alice"));
}

#[test]
fn removing_the_configuration_stops_the_tunnel() {
    let (mut c, log) = connection(Script::Answers);
    c.start_tunnel().unwrap();
    c.set_configuration(None);
    assert_eq!(c.status(), VpnStatus::Invalid);
    assert_eq!(log.lock().unwrap().stops, 1);
}

#[test]
fn manager_drives_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    let store = PreferencesStore::in_dir(dir.path());
    let psk =
        store.secrets().add(&ikeway_crypto::SecretBytes::from_slice(b"from the store")).unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let mut m = VpnManager::shared("app", store);
    m.set_tunnel_provider(Box::new(FakeNetwork { script: Script::Answers, log: Arc::clone(&log) }));
    m.load_from_preferences().unwrap();
    assert_eq!(m.connection().status(), VpnStatus::Invalid);
    let c = m.configuration_mut();
    c.enabled = true;
    c.protocol = Some(Ikev2Protocol { shared_secret_reference: Some(psk), ..protocol() });
    m.save_to_preferences(&mut |_: &str, _: &ikeway_manager::VpnConfiguration| true).unwrap();
    m.connection_mut().start_tunnel().unwrap();
    assert_eq!(m.connection().status(), VpnStatus::Connected);
    {
        let log = log.lock().unwrap();
        let config = &log.requests[0].config;
        assert_eq!(config.local_auth.psk().unwrap().expose(), b"from the store");
        assert_eq!(config.peer_auth.psk().unwrap().expose(), b"from the store");
    }
    m.remove_from_preferences().unwrap();
    assert_eq!(m.connection().status(), VpnStatus::Invalid);
}

fn ipsec(xauth_password: bool) -> ikeway_manager::VpnConfiguration {
    let mut p = ikeway_manager::IpsecProtocol::new("192.0.2.7");
    p.authentication_method = AuthenticationMethod::SharedSecret;
    p.local_identifier = Some("sales".into());
    p.shared_secret_reference = Some("psk".into());
    p.use_extended_authentication = true;
    p.username = Some("alice".into());
    if xauth_password {
        // The fake store holds only "psk": the group secret doubles as the password here.
        p.password_reference = Some("psk".into());
    }
    ikeway_manager::VpnConfiguration {
        localized_description: "branch".into(),
        enabled: true,
        ipsec: Some(p),
        ..Default::default()
    }
}

#[test]
fn an_ipsec_configuration_starts_the_provider_with_its_ikev1_negotiation() {
    let (mut c, log) = connection(Script::Answers);
    c.set_configuration(Some(ipsec(true)));
    let unsupported = c.start_tunnel().unwrap();
    assert!(unsupported.is_empty(), "{unsupported:?}");
    assert_eq!(c.status(), VpnStatus::Connected);
    let log = log.lock().unwrap();
    let req = &log.requests[0];
    assert_eq!(req.server_address, "192.0.2.7");
    let v1 = req.ikev1.as_ref().expect("an IKEv1 negotiation");
    assert_eq!(v1.mode, ikeway_ikev1::Phase1Mode::Aggressive);
    assert_eq!(v1.local_id, ikeway_ikev1::Identity::KeyId(b"sales".to_vec()));
    let ikeway_ikev1::Authentication::Psk(psk) = &v1.auth else { panic!("{:?}", v1.auth) };
    assert_eq!(psk.expose(), b"pre-shared key");
    assert!(v1.xauth);
    let xauth = v1.transaction.xauth_client.as_ref().unwrap();
    assert_eq!(xauth.username, "alice");
}

#[test]
fn an_ipsec_start_without_an_xauth_password_fails_before_the_provider_starts() {
    let (mut c, log) = connection(Script::Answers);
    c.set_configuration(Some(ipsec(false)));
    let err = c.start_tunnel().unwrap_err();
    assert_eq!(
        err.to_string(),
        "the VPN configuration cannot be used: no XAUTH password for \"alice\": none is \
         stored (password_reference) and none was given to start"
    );
    assert_eq!(c.status(), VpnStatus::Disconnected);
    assert_eq!(c.last_disconnect_error(), Some(DisconnectError::ConfigurationFailed));
    assert!(log.lock().unwrap().requests.is_empty(), "no provider was started");
    // Given at start (`startVPNTunnel(options:)`), it connects.
    let options = StartOptions {
        username: None,
        password: Some(ikeway_crypto::SecretBytes::from_slice(b"typed")),
    };
    c.start_tunnel_with_options(options).unwrap();
    assert_eq!(c.status(), VpnStatus::Connected);
    let log = log.lock().unwrap();
    let xauth = log.requests[0].ikev1.as_ref().unwrap().transaction.xauth_client.clone().unwrap();
    assert_eq!(xauth.password.unwrap().expose(), b"typed");
}
