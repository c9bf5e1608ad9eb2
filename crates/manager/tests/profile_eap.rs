//! Apple profiles with extended authentication (EAP): `ExtendedAuthEnabled`, `AuthName`,
//! `AuthPassword` (into the secret store), `TLSMinimumVersion`, `TLSMaximumVersion`, imported,
//! exported and imported again; hostile values refused with the key and what was expected,
//! leaving no secret behind; and configurations connecting over loopback (no root) through
//! the manager and the tunnel: an imported profile against a responder that proves itself
//! with its certificate and requires EAP-MSCHAPv2, and an identity with EAP-TLS alone
//! (EAP-only, RFC 5998).

use ikeway_manager::{
    AuthenticationMethod, EapRound, ProfileError, SecretSource, SecretStore, TlsVersion,
    VpnConfiguration, export_profile, import_profile,
};
use ikeway_testkit::certs::TestCa;

mod common;

use common::store;

/// A profile as Apple's Configurator writes one for a server certificate plus EAP-MSCHAPv2:
/// the CA as a root payload, then the VPN payload whose `IKEv2` dictionary ends with `extra`.
fn eap_profile(ca_der: &[u8], extra: &str) -> Vec<u8> {
    // The certificate as `<data>` (base64), written by the plist crate.
    let mut xml = Vec::new();
    plist::Value::Data(ca_der.to_vec()).to_writer_xml(&mut xml).unwrap();
    let xml = String::from_utf8(xml).unwrap();
    let b64 = &xml[xml.find("<data>").unwrap()..xml.find("</data>").unwrap() + "</data>".len()];
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadIdentifier</key><string>org.example.eap</string>
<key>PayloadDisplayName</key><string>EAP</string>
<key>PayloadContent</key><array>
<dict><key>PayloadType</key><string>com.apple.security.root</string>
<key>PayloadIdentifier</key><string>org.example.eap.ca</string>
<key>PayloadContent</key>{b64}</dict>
<dict><key>PayloadType</key><string>com.apple.vpn.managed</string>
<key>PayloadIdentifier</key><string>org.example.eap.vpn</string>
<key>UserDefinedName</key><string>Office EAP</string>
<key>VPNType</key><string>IKEv2</string>
<key>IKEv2</key><dict>
<key>RemoteAddress</key><string>vpn.example.org</string>
<key>RemoteIdentifier</key><string>vpn.example.org</string>
<key>LocalIdentifier</key><string>alice@example.org</string>
<key>ServerCertificateCommonName</key><string>vpn.example.org</string>
<key>AuthenticationMethod</key><string>None</string>
{extra}
</dict></dict></array></dict></plist>
"#
    )
    .into_bytes()
}

const EAP_KEYS: &str = "<key>ExtendedAuthEnabled</key><integer>1</integer>\
<key>AuthName</key><string>alice</string>\
<key>AuthPassword</key><string>pässwörd 1</string>\
<key>TLSMinimumVersion</key><string>1.2</string>\
<key>TLSMaximumVersion</key><string>1.2</string>";

fn only(imported: &ikeway_manager::ImportedProfile) -> &ikeway_manager::Ikev2Protocol {
    assert_eq!(imported.vpns.len(), 1);
    imported.vpns[0].configuration.protocol.as_ref().unwrap()
}

#[test]
fn an_eap_profile_imports_exports_and_imports_again() {
    let (_d, secrets) = store();
    let ca = TestCa::new("Office CA");
    let imported = import_profile(&eap_profile(&ca.cert_der, EAP_KEYS), &secrets).unwrap();
    assert!(imported.warnings.is_empty(), "{:?}", imported.warnings);
    let p = only(&imported);
    assert_eq!(p.authentication_method, AuthenticationMethod::None);
    assert!(p.use_extended_authentication);
    assert_eq!(p.username.as_deref(), Some("alice"));
    let reference = p.password_reference.as_ref().unwrap();
    assert_eq!(secrets.secret(reference).unwrap().unwrap().expose(), "pässwörd 1".as_bytes());
    assert_eq!(
        (p.minimum_tls_version, p.maximum_tls_version),
        (TlsVersion::Tls1_2, TlsVersion::Tls1_2)
    );
    assert_eq!(p.trust_anchors.len(), 1);
    // What runs: the password methods instead of our AUTH, the server by its certificate.
    let plan = p.eap_plan().unwrap().unwrap();
    assert_eq!(plan.round, EapRound::First);
    assert_eq!(
        plan.methods.iter().map(|m| m.name()).collect::<Vec<_>>(),
        ["EAP-MSCHAPv2", "EAP-MD5"]
    );

    let original = imported.vpns[0].configuration.clone();
    let (bytes, warnings) =
        export_profile("org.example.again", "Again", &[&original], Some(&secrets)).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let text = String::from_utf8(bytes.clone()).unwrap();
    for line in [
        "<key>ExtendedAuthEnabled</key>\n\t\t\t\t<integer>1</integer>",
        "<key>AuthName</key>\n\t\t\t\t<string>alice</string>",
        "<key>AuthPassword</key>\n\t\t\t\t<string>pässwörd 1</string>",
        "<key>TLSMinimumVersion</key>\n\t\t\t\t<string>1.2</string>",
        "<key>TLSMaximumVersion</key>\n\t\t\t\t<string>1.2</string>",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    let again = import_profile(&bytes, &secrets).unwrap();
    assert_eq!(resolved(&again.vpns[0].configuration, &secrets), resolved(&original, &secrets));

    // Without the secret store's help, the password stays out of the file.
    let (bare, _) = export_profile("x", "x", &[&original], None).unwrap();
    let bare = String::from_utf8(bare).unwrap();
    assert!(!bare.contains("AuthPassword") && !bare.contains("pässwörd"), "{bare}");
}

/// A password that is not UTF-8 (a profile may carry it as `<data>`) is kept as bytes and
/// exported as data again.
#[test]
fn a_password_that_is_not_utf8_survives_the_round_trip_as_data() {
    let (_d, secrets) = store();
    let ca = TestCa::new("Office CA");
    let keys = "<key>ExtendedAuthEnabled</key><true/><key>AuthName</key><string>bob</string>\
                <key>AuthPassword</key><data>/+4AAWE=</data>";
    let imported = import_profile(&eap_profile(&ca.cert_der, keys), &secrets).unwrap();
    let p = only(&imported);
    let stored = secrets.secret(p.password_reference.as_ref().unwrap()).unwrap().unwrap();
    assert_eq!(stored.expose(), [0xff, 0xee, 0x00, 0x01, b'a']);
    let (bytes, _) =
        export_profile("x", "x", &[&imported.vpns[0].configuration], Some(&secrets)).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.contains("<key>AuthPassword</key>\n\t\t\t\t<data>\n\t\t\t\t/+4AAWE=\n\t\t\t\t</data>"),
        "{text}"
    );
    let again = import_profile(&bytes, &secrets).unwrap();
    let p = only(&again);
    let stored = secrets.secret(p.password_reference.as_ref().unwrap()).unwrap().unwrap();
    assert_eq!(stored.expose(), [0xff, 0xee, 0x00, 0x01, b'a']);
}

#[test]
fn hostile_eap_values_name_the_key_and_leave_no_secret() {
    let (_d, secrets) = store();
    let ca = TestCa::new("Office CA");
    let key = "PayloadContent[1].IKEv2";
    let huge = "a".repeat(1 << 20);
    let cases = [
        (
            format!("<key>AuthName</key><string>{}</string>", "a".repeat(254)),
            "AuthName",
            "a user name of at most 253 bytes",
        ),
        (
            format!("<key>AuthName</key><string>{huge}</string>"),
            "AuthName",
            "a user name of at most 253 bytes",
        ),
        ("<key>AuthName</key><integer>7</integer>".into(), "AuthName", "a string"),
        ("<key>AuthName</key><data>/+4=</data>".into(), "AuthName", "a string"),
        ("<key>AuthPassword</key><array/>".into(), "AuthPassword", "a string or data"),
        (
            format!("<key>AuthPassword</key><string>{}</string>", "p".repeat(1025)),
            "AuthPassword",
            "a password of at most 1024 bytes",
        ),
        (
            "<key>ExtendedAuthEnabled</key><string>yes</string>".into(),
            "ExtendedAuthEnabled",
            "a boolean or 0/1",
        ),
        (
            "<key>ExtendedAuthEnabled</key><integer>2</integer>".into(),
            "ExtendedAuthEnabled",
            "a boolean or 0/1",
        ),
        (
            "<key>TLSMinimumVersion</key><string>1.3</string>".into(),
            "TLSMinimumVersion",
            "1.0, 1.1 or 1.2",
        ),
        (
            "<key>TLSMaximumVersion</key><integer>3</integer>".into(),
            "TLSMaximumVersion",
            "a string",
        ),
    ];
    for (extra, field, expected) in cases {
        // Each case also carries a good password, which must not be stored.
        let body = format!("<key>SharedSecret</key><string>psk</string>{extra}");
        let err = import_profile(&eap_profile(&ca.cert_der, &body), &secrets).unwrap_err();
        assert!(matches!(err, ProfileError::InvalidValue { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("{key}.{field}: expected {expected}"));
    }
    assert!(secrets.references().unwrap().is_empty(), "a failed import left secrets behind");
    // At the limit, the name is taken.
    let name = "a".repeat(253);
    let keys =
        format!("<key>ExtendedAuthEnabled</key><true/><key>AuthName</key><string>{name}</string>");
    let imported = import_profile(&eap_profile(&ca.cert_der, &keys), &secrets).unwrap();
    assert_eq!(only(&imported).username.as_deref(), Some(name.as_str()));
    // Bytes that are not UTF-8 inside the XML are no property list at all.
    let mut bytes = eap_profile(&ca.cert_der, "<key>AuthName</key><string>XX</string>");
    let at = bytes.windows(2).position(|w| w == b"XX").unwrap();
    bytes[at] = 0xff;
    bytes[at + 1] = 0xfe;
    let err = import_profile(&bytes, &secrets).unwrap_err();
    assert!(matches!(err, ProfileError::NotPlist(_)), "{err:?}");
}

/// Replaces the password reference by the password, so two imports compare equal.
fn resolved(c: &VpnConfiguration, s: &SecretStore) -> (VpnConfiguration, Vec<u8>) {
    let mut c = c.clone();
    let p = c.protocol.as_mut().unwrap();
    let r = p.password_reference.take().unwrap();
    (c, s.secret(&r).unwrap().unwrap().expose().to_vec())
}

mod connect {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Arc;
    use std::time::Duration;

    use ikeway_manager::{
        AuthenticationMethod, CertificateType, Der, DisconnectError, Ikev2Protocol,
        PreferencesStore, ProviderOptions, SessionProvider, TlsVersion, VpnConfiguration,
        VpnConnection, VpnStatus,
    };
    use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, TestCa};
    use ikeway_tunnel::verifier::{RuntimeVerifier, TrustSettings};
    use ikeway_tunnel::{Ports, Session, SessionOptions};

    use super::eap_profile;

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// How the responder wants the client to prove itself.
    enum Wants {
        /// EAP-MSCHAPv2 as alice.
        MsChapV2,
        /// EAP-TLS with a certificate of this CA, leaving out its own CERT and AUTH when the
        /// client asks for EAP-only (RFC 5998).
        Tls(String),
        /// This shared secret, then EAP-MSCHAPv2 as alice (RFC 4739).
        PskThenMsChapV2(&'static [u8]),
    }

    /// vpn.example.org with a certificate of `ca`, requiring EAP as `wants` says, with the
    /// proposals `client` makes (Apple's defaults).
    fn responder(ca: &TestCa, wants: Wants, client: &ikeway_sa::Config) -> Session {
        let cert = ca.issue("vpn.example.org", "vpn.example.org", &PKCS_ECDSA_P256_SHA256);
        let identity = Arc::new(
            ikeway_pki::Identity::from_pem_files_content(
                cert.key_pem.as_bytes(),
                cert.cert_pem.as_bytes(),
            )
            .unwrap(),
        );
        let mut config = ikeway_sa::Config::new(
            ikeway_manager::identity("vpn.example.org"),
            ikeway_crypto::SecretBytes::from_slice(b""),
        );
        config.local_auth = ikeway_sa::LocalAuth::Certificate(Arc::clone(&identity));
        let users = ikeway_eap::Users::parse("alice : EAP \"pässwörd 1\"\n").unwrap();
        // `Config::new` starts from a PSK both ways: only this case keeps one.
        let second_round = matches!(wants, Wants::PskThenMsChapV2(_));
        let (methods, tls) = match wants {
            Wants::MsChapV2 => (vec![ikeway_eap::Method::MsChapV2], None),
            Wants::PskThenMsChapV2(psk) => {
                config.peer_auth =
                    ikeway_sa::PeerAuth::Psk(ikeway_crypto::SecretBytes::from_slice(psk).into());
                (vec![ikeway_eap::Method::MsChapV2], None)
            }
            Wants::Tls(client_ca) => {
                let anchors =
                    ikeway_pki::certificates_from_pem_or_der(client_ca.as_bytes()).unwrap();
                let settings = TrustSettings::new(anchors, ikeway_pki::Purpose::Client);
                let verifier = Arc::new(RuntimeVerifier::new(&settings).unwrap());
                config.eap_only = true;
                (
                    vec![ikeway_eap::Method::Tls],
                    Some(ikeway_eap::TlsServerConfig::new(identity, verifier)),
                )
            }
        };
        let eap =
            Arc::new(ikeway_eap::AuthenticatorConfig { methods, users: Arc::new(users), tls });
        if second_round {
            config.peer_auth2 = Some(eap);
        } else {
            config.peer_auth = ikeway_sa::PeerAuth::Eap(eap);
        }
        config.ike_proposals = client.ike_proposals.clone();
        config.esp_proposals = client.esp_proposals.clone();
        let pool = ikeway_sa::AddressPool {
            v4: Some((Ipv4Addr::new(10, 88, 0, 10), 10)),
            ..ikeway_sa::AddressPool::default()
        };
        Session::start(
            SessionOptions::responder(LOOPBACK, config, Some(pool)).with_ports(Ports::ephemeral()),
        )
        .unwrap()
    }

    type Ended = (VpnStatus, Option<DisconnectError>, Option<String>);

    fn connect(ca: &TestCa, extra: &str) -> Ended {
        connect_to(ca, ca, extra)
    }

    /// Imports the profile (trusting `trusted`) with `extra` keys and starts it against a
    /// responder whose certificate `server_ca` issued.
    fn connect_to(trusted: &TestCa, server_ca: &TestCa, extra: &str) -> Ended {
        let dir = tempfile::tempdir().unwrap();
        let store = PreferencesStore::in_dir(dir.path());
        let profile = eap_profile(&trusted.cert_der, extra);
        let imported = ikeway_manager::import_profile(&profile, store.secrets()).unwrap();
        run(&store, imported.vpns[0].configuration.clone(), server_ca, Wants::MsChapV2)
    }

    /// Starts `configuration` (its secrets in `store`) against a fresh responder and returns
    /// where it ended: Connected (then stopped), or Disconnected with the error and reason.
    fn run(
        store: &PreferencesStore,
        mut configuration: VpnConfiguration,
        server_ca: &TestCa,
        wants: Wants,
    ) -> Ended {
        configuration.enabled = true;
        // The profile names vpn.example.org; the responder answers on loopback (the server is
        // still known by its remote identifier, which its certificate must name).
        configuration.protocol.as_mut().unwrap().server_address = "127.0.0.1".into();
        let protocol = configuration.protocol.as_ref().unwrap();
        let (client, _) = protocol.to_sa_config(store.secrets()).unwrap();
        let server = responder(server_ca, wants, &client);
        let provider = SessionProvider::new(ProviderOptions {
            tun: None,
            local: Some(LOOPBACK),
            ports: Some(Ports::ephemeral()),
            server_port: Some(server.local_addr().port()),
            server: None,
            host: None,
            keylog: None,
            ikev1_timers: None,
        });
        let mut connection =
            VpnConnection::new(Box::new(provider), Box::new(store.secrets().clone()));
        connection.set_configuration(Some(configuration));
        let changes = connection.subscribe();
        connection.start_tunnel().unwrap();
        let next = || changes.recv_timeout(Duration::from_secs(30)).unwrap().to;
        assert_eq!(next(), VpnStatus::Connecting);
        let ended = next();
        if ended == VpnStatus::Connected {
            connection.stop_tunnel();
            assert_eq!(next(), VpnStatus::Disconnecting);
            assert_eq!(next(), VpnStatus::Disconnected);
        }
        (ended, connection.last_disconnect_error(), connection.last_disconnect_reason())
    }

    const EAP: &str = "<key>ExtendedAuthEnabled</key><integer>1</integer>\
                       <key>AuthName</key><string>alice</string>";

    #[test]
    fn an_apple_eap_profile_connects_and_a_wrong_password_is_authentication_failed() {
        let ca = TestCa::new("Office CA");
        let right = format!("{EAP}<key>AuthPassword</key><string>pässwörd 1</string>");
        assert_eq!(connect(&ca, &right), (VpnStatus::Connected, None, None));

        let wrong = format!("{EAP}<key>AuthPassword</key><string>passwörd 1</string>");
        assert_eq!(
            connect(&ca, &wrong),
            (
                VpnStatus::Disconnected,
                Some(DisconnectError::AuthenticationFailed),
                Some(
                    "the server rejected the EAP-MSCHAPv2 authentication (error 691: wrong user \
                     name or password)"
                        .into()
                )
            )
        );

        // A server whose certificate another CA issued never hears the password.
        let other = TestCa::new("Other CA");
        let (status, error, reason) = connect_to(&other, &ca, &right);
        assert_eq!(
            (status, error, reason.as_deref()),
            (
                VpnStatus::Disconnected,
                Some(DisconnectError::ServerCertificateInvalid),
                Some("the peer's certificate does not chain to a trusted certificate authority")
            )
        );
    }

    /// EAP-TLS as the client's only proof (authentication None, extended authentication, an
    /// identity and no user name) through the manager and the tunnel, EAP-only (RFC 5998):
    /// TLS up to 1.3 and up to 1.2 connect; a server certificate of another CA, seen only
    /// inside EAP-TLS, ends as ServerCertificateInvalid with EAP-TLS's reason.
    #[test]
    fn an_identity_without_a_user_name_connects_with_eap_tls_alone() {
        let ca = TestCa::new("Office CA");
        let client = ca.issue("alice", "client.example.org", &PKCS_ECDSA_P256_SHA256);
        let tls = |trusted: &TestCa, max: TlsVersion, server_ca: &TestCa| {
            let dir = tempfile::tempdir().unwrap();
            let store = PreferencesStore::in_dir(dir.path());
            let pem = format!("{}{}", client.key_pem, client.cert_pem);
            let identity = store
                .secrets()
                .add(&ikeway_crypto::SecretBytes::from_slice(pem.as_bytes()))
                .unwrap();
            let protocol = Ikev2Protocol {
                authentication_method: AuthenticationMethod::None,
                use_extended_authentication: true,
                identity_reference: Some(identity),
                certificate_type: CertificateType::Ecdsa256,
                trust_anchors: vec![Der(trusted.cert_der.clone())],
                remote_identifier: Some("vpn.example.org".into()),
                maximum_tls_version: max,
                ..Ikev2Protocol::new("127.0.0.1")
            };
            let configuration = VpnConfiguration { protocol: Some(protocol), ..Default::default() };
            run(&store, configuration, server_ca, Wants::Tls(ca.cert_pem.clone()))
        };
        assert_eq!(tls(&ca, TlsVersion::Default, &ca), (VpnStatus::Connected, None, None));
        assert_eq!(tls(&ca, TlsVersion::Tls1_2, &ca), (VpnStatus::Connected, None, None));
        let other = TestCa::new("Other CA");
        assert_eq!(
            tls(&other, TlsVersion::Default, &ca),
            (
                VpnStatus::Disconnected,
                Some(DisconnectError::ServerCertificateInvalid),
                Some(
                    "EAP-TLS certificate refused: the peer's certificate does not chain to a \
                     trusted certificate authority"
                        .into()
                )
            )
        );
    }

    /// A shared secret, then EAP (RFC 4739): the configuration's own round, then a second
    /// round of EAP-MSCHAPv2; the wrong password in the second round is authenticationFailed.
    #[test]
    fn a_shared_secret_then_eap_connects_as_two_rounds() {
        const PSK: &[u8] = b"two rounds, not a secret";
        let ca = TestCa::new("Office CA");
        let run_with = |password: &str| {
            let dir = tempfile::tempdir().unwrap();
            let store = PreferencesStore::in_dir(dir.path());
            let add = |b: &[u8]| store.secrets().add(&ikeway_crypto::SecretBytes::from_slice(b));
            let protocol = Ikev2Protocol {
                authentication_method: AuthenticationMethod::SharedSecret,
                shared_secret_reference: Some(add(PSK).unwrap()),
                use_extended_authentication: true,
                username: Some("alice".into()),
                password_reference: Some(add(password.as_bytes()).unwrap()),
                local_identifier: Some("client.example.org".into()),
                trust_anchors: vec![Der(ca.cert_der.clone())],
                remote_identifier: Some("vpn.example.org".into()),
                ..Ikev2Protocol::new("127.0.0.1")
            };
            let configuration = VpnConfiguration { protocol: Some(protocol), ..Default::default() };
            run(&store, configuration, &ca, Wants::PskThenMsChapV2(PSK))
        };
        assert_eq!(run_with("pässwörd 1"), (VpnStatus::Connected, None, None));
        let (status, error, _) = run_with("wrong");
        assert_eq!(
            (status, error),
            (VpnStatus::Disconnected, Some(DisconnectError::AuthenticationFailed))
        );
    }
}
