//! Importing and exporting Apple configuration profiles written from Apple's documented keys.

use ikeway_manager::{
    AuthenticationMethod, ConnectionRuleAction, DeadPeerDetectionRate, DiffieHellmanGroup,
    EncryptionAlgorithm, ImportedProfile, IntegrityAlgorithm, InterfaceType, OnDemandAction,
    ProfileError, SecretSource, SecretStore, VpnConfiguration, export_profile, import_profile,
};

mod common;

use common::{store, wrap};

const PSK_PROFILE: &[u8] = include_bytes!("profiles/ikev2-psk.mobileconfig");

#[test]
fn imports_every_documented_field_of_a_psk_profile() {
    let (_d, secrets) = store();
    let ImportedProfile { identifier, display_name, vpns, warnings } =
        import_profile(PSK_PROFILE, &secrets).unwrap();
    assert_eq!((identifier.as_str(), display_name.as_str()), ("com.example.corp", "Example Corp"));
    assert_eq!(vpns.len(), 1);
    let vpn = &vpns[0];
    assert_eq!(vpn.payload_identifier, "com.example.corp.vpn");
    let c = &vpn.configuration;
    assert_eq!(c.localized_description, "Corp VPN");
    assert!(c.on_demand_enabled);
    let p = c.protocol.as_ref().unwrap();
    assert_eq!(p.server_address, "vpn.example.com");
    assert_eq!(p.local_identifier.as_deref(), Some("alice@example.com"));
    assert_eq!(p.authentication_method, AuthenticationMethod::SharedSecret);
    let r = p.shared_secret_reference.as_ref().unwrap();
    assert_eq!(secrets.secret(r).unwrap().unwrap().expose(), b"s3cret-psk");
    assert_eq!(p.dead_peer_detection_rate, DeadPeerDetectionRate::High);
    assert!(p.disable_mobike && p.disable_redirect && p.enable_pfs);
    assert!(p.use_configuration_attribute_internal_ip_subnet);
    assert_eq!((p.mtu, p.nat_keep_alive_interval), (Some(1400), Some(30)));
    assert_eq!(p.ike_sa_parameters.encryption_algorithm, EncryptionAlgorithm::Aes256Gcm);
    assert_eq!(p.ike_sa_parameters.integrity_algorithm, IntegrityAlgorithm::Sha384);
    assert_eq!(p.ike_sa_parameters.diffie_hellman_group, DiffieHellmanGroup::Group20);
    assert_eq!(p.ike_sa_parameters.lifetime_minutes, 480);
    assert_eq!(p.child_sa_parameters.encryption_algorithm, EncryptionAlgorithm::ChaCha20Poly1305);
    assert_eq!(p.child_sa_parameters.integrity_algorithm, IntegrityAlgorithm::Sha256);
    // The profile default lifetime is 1440 minutes, not the API's 30.
    assert_eq!(p.child_sa_parameters.lifetime_minutes, 1440);

    let rules = &c.on_demand_rules;
    assert_eq!(rules.len(), 3);
    assert_eq!(rules[0].action, OnDemandAction::Disconnect);
    assert_eq!(rules[0].interface_type_match, InterfaceType::WiFi);
    assert_eq!(rules[0].ssid_match, ["CorpWiFi"]);
    assert_eq!(rules[1].action, OnDemandAction::EvaluateConnection);
    assert_eq!(rules[1].dns_search_domain_match, ["*.example.net"]);
    assert_eq!(rules[1].dns_server_address_match, ["17.*"]);
    assert_eq!(rules[1].connection_rules.len(), 2);
    assert_eq!(rules[1].connection_rules[0].action, ConnectionRuleAction::ConnectIfNeeded);
    assert_eq!(rules[1].connection_rules[0].use_dns_servers, ["10.0.0.53"]);
    assert_eq!(rules[1].connection_rules[1].action, ConnectionRuleAction::NeverConnect);
    assert_eq!(rules[2].probe_url.as_deref(), Some("http://probe.example.com/"));

    // Unknown keys and the not-imported dictionaries are reported, not dropped silently.
    let keys: Vec<_> = warnings.iter().map(|w| w.key.as_str()).collect();
    assert!(keys.contains(&"PayloadContent[0].DNS"), "{keys:?}");
    assert!(keys.contains(&"PayloadContent[0].VendorThing"), "{keys:?}");
    assert!(keys.contains(&"PayloadContent[0].IKEv2.FutureAppleKey"), "{keys:?}");
    assert!(keys.contains(&"PayloadContent[1]"), "{keys:?}");
    assert_eq!(warnings.len(), 4, "{warnings:?}");

    // The imported configuration is usable as is.
    let (config, unsupported) = p.to_sa_config(&secrets).unwrap();
    assert_eq!(config.local_auth.psk().unwrap().expose(), b"s3cret-psk");
    assert_eq!(config.peer_auth.psk().unwrap().expose(), b"s3cret-psk");
    assert!(unsupported.is_empty(), "{unsupported:?}");
}

#[test]
fn name_falls_back_to_payload_display_name() {
    let (_d, secrets) = store();
    let body = r#"<key>PayloadDisplayName</key><string>Payload Name</string>
<key>VPNType</key><string>IKEv2</string>
<key>IKEv2</key><dict><key>RemoteAddress</key><string>192.0.2.1</string></dict>"#;
    let p = import_profile(&wrap(body), &secrets).unwrap();
    assert_eq!(p.vpns[0].configuration.localized_description, "Payload Name");
    let proto = p.vpns[0].configuration.protocol.as_ref().unwrap();
    // Keys left out take Apple's defaults.
    assert_eq!(proto.dead_peer_detection_rate, DeadPeerDetectionRate::Medium);
    assert_eq!(proto.authentication_method, AuthenticationMethod::None);
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn rejects_l2tp_and_unknown_types_naming_the_type() {
    let (_d, secrets) = store();
    // IPSec (IKEv1) is imported since issue 15: tests/profile_ipsec.rs.
    for ty in ["L2TP", "IKEv3"] {
        let body = format!("<key>VPNType</key><string>{ty}</string>");
        let err = import_profile(&wrap(&body), &secrets).unwrap_err();
        assert!(matches!(err, ProfileError::UnsupportedVpnType { .. }));
        let msg = err.to_string();
        assert!(msg.contains(ty) && msg.contains("only IKEv2 and IPSec"), "{msg}");
    }
    assert!(secrets.references().unwrap().is_empty());
}

#[test]
fn rejects_signed_profiles() {
    let (_d, secrets) = store();
    // The start of a CMS SignedData: SEQUENCE (indefinite length), OID 1.2.840.113549.1.7.2.
    let signed =
        [0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80];
    let err = import_profile(&signed, &secrets).unwrap_err();
    assert!(matches!(err, ProfileError::Signed), "{err}");
    assert!(err.to_string().contains("signed"));
}

#[test]
fn rejects_encrypted_profiles() {
    let (_d, secrets) = store();
    let profile = br#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string>
<key>EncryptedPayloadContent</key><data>MIAGCSqGSIb3DQEHA6CAMIACAQA=</data>
</dict></plist>"#;
    let err = import_profile(profile, &secrets).unwrap_err();
    assert!(matches!(err, ProfileError::Encrypted), "{err}");
    assert!(err.to_string().contains("encrypted"));
}

#[test]
fn bad_values_name_the_key_and_store_no_secret() {
    let (_d, secrets) = store();
    let cases = [
        ("<key>DeadPeerDetectionRate</key><string>Often</string>", "IKEv2.DeadPeerDetectionRate"),
        (
            "<key>IKESecurityAssociationParameters</key><dict><key>DiffieHellmanGroup</key><integer>3</integer></dict>",
            "IKESecurityAssociationParameters.DiffieHellmanGroup",
        ),
        (
            "<key>ChildSecurityAssociationParameters</key><dict><key>LifeTimeInMinutes</key><integer>5</integer></dict>",
            "LifeTimeInMinutes",
        ),
        ("<key>MTU</key><string>big</string>", "IKEv2.MTU"),
        (
            "<key>OnDemandRules</key><array><dict><key>Action</key><string>Maybe</string></dict></array>",
            "OnDemandRules[0].Action",
        ),
    ];
    for (extra, key) in cases {
        let body = format!(
            "<key>VPNType</key><string>IKEv2</string><key>IKEv2</key><dict>\
             <key>RemoteAddress</key><string>a</string>\
             <key>SharedSecret</key><string>x</string>{extra}</dict>"
        );
        let msg = import_profile(&wrap(&body), &secrets).unwrap_err().to_string();
        assert!(msg.contains(key), "{msg} should name {key}");
    }
    let missing = "<key>VPNType</key><string>IKEv2</string><key>IKEv2</key><dict></dict>";
    assert!(
        import_profile(&wrap(missing), &secrets).unwrap_err().to_string().contains("RemoteAddress")
    );
    assert!(secrets.references().unwrap().is_empty(), "a failed import left secrets behind");
}

#[test]
fn no_vpn_payload_is_an_error() {
    let (_d, secrets) = store();
    let p = br#"<?xml version="1.0"?><plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string><key>PayloadContent</key><array/></dict></plist>"#;
    assert!(matches!(import_profile(p, &secrets), Err(ProfileError::NoVpnPayload)));
    assert!(matches!(import_profile(b"not a plist", &secrets), Err(ProfileError::NotPlist(_))));
}

/// Replaces secret references by the secrets they point to, so that two imports compare equal.
fn resolved(c: &VpnConfiguration, s: &SecretStore) -> (VpnConfiguration, Vec<Vec<u8>>) {
    let mut c = c.clone();
    let p = c.protocol.as_mut().unwrap();
    let mut values = Vec::new();
    for r in [
        p.shared_secret_reference.take(),
        p.password_reference.take(),
        p.identity_reference.take(),
        p.identity_data_password_reference.take(),
    ]
    .into_iter()
    .flatten()
    {
        values.push(s.secret(&r).unwrap().unwrap().expose().to_vec());
    }
    if let Some(ppk) = p.ppk_configuration.as_mut() {
        values.push(s.secret(&ppk.keychain_reference).unwrap().unwrap().expose().to_vec());
        ppk.keychain_reference = "".into();
    }
    (c, values)
}

#[test]
fn export_then_import_round_trips() {
    let (_d, secrets) = store();
    let first = import_profile(PSK_PROFILE, &secrets).unwrap();
    let mut original = first.vpns[0].configuration.clone();
    {
        // Exercise the fields the fixture leaves at defaults.
        let p = original.protocol.as_mut().unwrap();
        p.username = Some("alice".into());
        p.password_reference =
            Some(secrets.add(&ikeway_crypto::SecretBytes::from_slice(b"pw")).unwrap());
        p.ppk_configuration = Some(ikeway_manager::PpkConfiguration {
            identifier: "ppk-1".into(),
            keychain_reference: secrets
                .add(&ikeway_crypto::SecretBytes::from_slice(&[0xff, 0, 1]))
                .unwrap(),
            is_mandatory: false,
        });
        p.minimum_tls_version = ikeway_manager::TlsVersion::Tls1_2;
        p.ike_sa_parameters.post_quantum_key_exchange_methods = vec![36];
        p.disconnect_on_idle_timer = Some(300);
        p.provider_type = Some("packet-tunnel".into());
    }
    let (bytes, warnings) =
        export_profile("com.example.export", "Export", &[&original], Some(&secrets)).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.contains("<string>com.apple.vpn.managed</string>")
            && text.contains("<string>IKEv2</string>")
    );
    let again = import_profile(&bytes, &secrets).unwrap();
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    assert_eq!(again.display_name, "Export");
    assert_eq!(resolved(&again.vpns[0].configuration, &secrets), resolved(&original, &secrets));

    // Without a secret source, no secret is written.
    let (bare, _) = export_profile("x", "x", &[&original], None).unwrap();
    let bare = String::from_utf8(bare).unwrap();
    assert!(!bare.contains("s3cret-psk") && !bare.contains("<key>SharedSecret</key>"));
}

#[test]
fn export_warns_about_fields_without_profile_keys() {
    let mut c = VpnConfiguration {
        protocol: Some(ikeway_manager::Ikev2Protocol::new("a")),
        ..Default::default()
    };
    c.protocol.as_mut().unwrap().disconnect_on_sleep = true;
    let (_, warnings) = export_profile("x", "x", &[&c], None).unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].key.ends_with("disconnect_on_sleep"));
    // ikeway's own EAP method list has no profile key either.
    c.protocol.as_mut().unwrap().eap_methods = vec![ikeway_manager::EapMethod::MsChapV2];
    let (_, warnings) = export_profile("x", "x", &[&c], None).unwrap();
    assert_eq!(
        warnings[1].to_string(),
        "configuration 0.eap_methods: has no key in com.apple.vpn.managed; not exported"
    );
}

mod certificates {
    use super::*;
    use ikeway_manager::{CertificateType, Der};
    use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, TestCa};
    use plist::{Dictionary, Value};

    const UUID: &str = "6E1F5C1A-3C8E-4B43-9F4D-1D2E3F405162";

    fn data(b: &[u8]) -> Value {
        Value::Data(b.to_vec())
    }

    fn payload(kind: &str, uuid: &str, content: Option<Value>, extra: &[(&str, Value)]) -> Value {
        let mut d = Dictionary::new();
        d.insert("PayloadType".into(), Value::String(kind.into()));
        d.insert("PayloadIdentifier".into(), Value::String(format!("t.{kind}")));
        d.insert("PayloadUUID".into(), Value::String(uuid.into()));
        if let Some(content) = content {
            d.insert("PayloadContent".into(), content);
        }
        for (k, v) in extra {
            d.insert((*k).into(), v.clone());
        }
        Value::Dictionary(d)
    }

    /// A profile with a root payload, a PEM payload, a PKCS#12 identity and a VPN payload
    /// whose IKEv2 dictionary gets `ikev2` on top of a certificate configuration.
    fn profile(
        root_der: &[u8],
        pem: &TestCa,
        p12: &[u8],
        password: &str,
        ikev2: &[(&str, Value)],
    ) -> Vec<u8> {
        let mut ike = Dictionary::new();
        for (k, v) in [
            ("RemoteAddress", Value::String("vpn.example.org".into())),
            ("RemoteIdentifier", Value::String("vpn.example.org".into())),
            ("AuthenticationMethod", Value::String("Certificate".into())),
            ("PayloadCertificateUUID", Value::String(UUID.into())),
            ("ServerCertificateCommonName", Value::String("vpn.example.org".into())),
            ("ServerCertificateIssuerCommonName", Value::String("Root CA".into())),
            ("EnableCertificateRevocationCheck", Value::Integer(1.into())),
        ]
        .into_iter()
        .chain(ikev2.iter().cloned())
        {
            ike.insert(k.into(), v);
        }
        let vpn = payload(
            "com.apple.vpn.managed",
            "00000000-0000-4000-8000-000000000001",
            None,
            &[("VPNType", Value::String("IKEv2".into())), ("IKEv2", Value::Dictionary(ike))],
        );
        let mut root_dict = Dictionary::new();
        root_dict.insert("PayloadType".into(), Value::String("Configuration".into()));
        root_dict.insert("PayloadIdentifier".into(), Value::String("t".into()));
        root_dict.insert("PayloadDisplayName".into(), Value::String("Certs".into()));
        root_dict.insert(
            "PayloadContent".into(),
            Value::Array(vec![
                payload(
                    "com.apple.security.root",
                    "00000000-0000-4000-8000-000000000002",
                    Some(data(root_der)),
                    &[],
                ),
                payload(
                    "com.apple.security.pem",
                    "00000000-0000-4000-8000-000000000003",
                    Some(data(pem.cert_pem.as_bytes())),
                    &[],
                ),
                payload(
                    "com.apple.security.pkcs12",
                    UUID,
                    Some(data(p12)),
                    &[("Password", Value::String(password.into()))],
                ),
                vpn,
            ]),
        );
        let mut out = Vec::new();
        Value::Dictionary(root_dict).to_writer_xml(&mut out).unwrap();
        out
    }

    struct Fixture {
        root: TestCa,
        other: TestCa,
        p12: Vec<u8>,
    }

    fn fixture() -> Fixture {
        let root = TestCa::new("Root CA");
        let other = TestCa::new("Other CA");
        let client = root.issue("alice", "client.example.org", &PKCS_ECDSA_P256_SHA256);
        let p12 = client.pkcs12(&root, "p12 password");
        Fixture { root, other, p12 }
    }

    #[test]
    fn imports_anchors_and_the_pkcs12_identity_into_the_secret_store() {
        let (_d, secrets) = store();
        let f = fixture();
        let bytes = profile(&f.root.cert_der, &f.other, &f.p12, "p12 password", &[]);
        let imported = import_profile(&bytes, &secrets).unwrap();
        assert_eq!(imported.warnings, [], "every payload is imported");
        let p = imported.vpns[0].configuration.protocol.as_ref().unwrap();
        assert_eq!(p.authentication_method, AuthenticationMethod::Certificate);
        assert_eq!(
            p.trust_anchors,
            [Der(f.root.cert_der.clone()), Der(f.other.cert_der.clone())],
            "the root payload's DER and the PEM payload's certificate, in profile order"
        );
        assert!(p.use_system_trust_store, "Apple checks against the system trust settings too");
        assert_eq!(p.payload_certificate_uuid.as_deref(), Some(UUID));
        // No CertificateType key: the identity's key decides.
        assert_eq!(p.certificate_type, CertificateType::Ecdsa256);
        assert_eq!(p.server_certificate_common_name.as_deref(), Some("vpn.example.org"));
        assert_eq!(p.server_certificate_issuer_common_name.as_deref(), Some("Root CA"));
        assert!(p.enable_revocation_check);
        let identity = secrets.secret(p.identity_reference.as_ref().unwrap()).unwrap().unwrap();
        assert_eq!(identity.expose(), f.p12.as_slice());
        let password = p.identity_data_password_reference.as_ref().unwrap();
        assert_eq!(secrets.secret(password).unwrap().unwrap().expose(), b"p12 password");
        // The identity opens from the store, and nothing of it is in the preferences' form.
        let loaded = ikeway_manager::load_identity(p, &secrets).unwrap();
        assert_eq!(loaded.chain().len(), 2);
        let json = serde_json::to_string(&imported.vpns[0].configuration).unwrap();
        assert!(!json.contains(&hex::encode(&f.p12[..32])) && !json.contains("p12 password"));
    }

    #[test]
    fn a_wrong_pkcs12_password_is_refused_and_stores_nothing() {
        let (_d, secrets) = store();
        let f = fixture();
        let bytes = profile(&f.root.cert_der, &f.other, &f.p12, "not the password", &[]);
        let err = import_profile(&bytes, &secrets).unwrap_err().to_string();
        // p12-keystore's words for a wrong password: the MAC over the contents does not match.
        assert_eq!(err, "PayloadContent[2]: PKCS#12: MAC tag mismatch");
        assert!(secrets.references().unwrap().is_empty(), "a failed import left secrets behind");
    }

    #[test]
    fn a_certificate_type_that_is_not_the_identitys_key_is_refused() {
        let (_d, secrets) = store();
        let f = fixture();
        let rsa = [("CertificateType", Value::String("RSA".into()))];
        let bytes = profile(&f.root.cert_der, &f.other, &f.p12, "p12 password", &rsa);
        assert_eq!(
            import_profile(&bytes, &secrets).unwrap_err().to_string(),
            "PayloadContent[3].IKEv2.CertificateType: certificate_type is RSA but the \
             identity's key is ECDSA256; set certificate_type to ECDSA256"
        );
        assert!(secrets.references().unwrap().is_empty());
    }

    #[test]
    fn a_root_payload_that_is_not_a_certificate_is_refused_by_key() {
        let (_d, secrets) = store();
        let f = fixture();
        let broken = &f.root.cert_der[..40];
        let bytes = profile(broken, &f.other, &f.p12, "p12 password", &[]);
        assert_eq!(
            import_profile(&bytes, &secrets).unwrap_err().to_string(),
            "PayloadContent[0].PayloadContent: not an X.509 certificate"
        );
    }

    #[test]
    fn export_then_import_round_trips_anchors_and_identity() {
        let (_d, secrets) = store();
        let f = fixture();
        let bytes = profile(&f.root.cert_der, &f.other, &f.p12, "p12 password", &[]);
        let first = import_profile(&bytes, &secrets).unwrap();
        let original = first.vpns[0].configuration.clone();
        let (out, warnings) =
            export_profile("com.example.export", "Export", &[&original], Some(&secrets)).unwrap();
        assert_eq!(warnings, []);
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(text.matches("<string>com.apple.security.root</string>").count(), 2);
        assert_eq!(text.matches("<string>com.apple.security.pkcs12</string>").count(), 1);
        let again = import_profile(&out, &secrets).unwrap();
        assert_eq!(again.warnings, []);
        assert_eq!(resolved(&again.vpns[0].configuration, &secrets), resolved(&original, &secrets));

        // Without secrets the identity stays out; the anchors (public) still go.
        let (bare, _) = export_profile("x", "x", &[&original], None).unwrap();
        let bare = String::from_utf8(bare).unwrap();
        assert!(!bare.contains("com.apple.security.pkcs12") && !bare.contains("p12 password"));
        assert_eq!(bare.matches("<string>com.apple.security.root</string>").count(), 2);
        let without = import_profile(bare.as_bytes(), &secrets).unwrap();
        assert_eq!(
            without.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [format!(
                "PayloadContent[2].IKEv2.PayloadCertificateUUID: {UUID} names no \
                 com.apple.security.pkcs12 payload of this profile"
            )]
        );
        let p = without.vpns[0].configuration.protocol.as_ref().unwrap();
        assert_eq!(p.identity_reference, None);
    }
}
