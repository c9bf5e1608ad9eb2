//! `VPNType IPSec` profiles (Apple's IKEv1 "Cisco IPSec" client): every documented key of the
//! `IPSec` dictionary imported, hostile values refused with the key path and nothing stored,
//! and an export that imports back to the same configuration.

use ikeway_manager::{
    AuthenticationMethod, IpsecProtocol, OnDemandAction, ProfileError, ProfileWarning,
    SecretSource, SecretStore, VpnConfiguration, export_profile, import_profile,
};

mod common;

use common::{store, wrap};

const XAUTH_PROFILE: &[u8] = include_bytes!("profiles/ipsec-xauth.mobileconfig");

/// A profile with one IPSec VPN payload whose dictionary holds `ipsec` (plist XML text).
fn ipsec_profile(ipsec: &str) -> Vec<u8> {
    wrap(&format!("<key>VPNType</key><string>IPSec</string>\n<key>IPSec</key><dict>{ipsec}</dict>"))
}

const GW: &str = "<key>RemoteAddress</key><string>gw.example.com</string>";

fn secret_of(store: &SecretStore, r: Option<&ikeway_manager::PersistentRef>) -> Vec<u8> {
    store.secret(r.expect("a reference")).unwrap().expect("stored").expose().to_vec()
}

#[test]
fn imports_every_documented_key_of_a_group_psk_xauth_profile() {
    let (_d, secrets) = store();
    let imported = import_profile(XAUTH_PROFILE, &secrets).unwrap();
    assert_eq!(imported.warnings, [], "every key is imported");
    assert_eq!(imported.display_name, "Example Cisco VPN");
    assert_eq!(imported.vpns.len(), 1);
    let c = &imported.vpns[0].configuration;
    assert_eq!(c.localized_description, "Branch Office");
    assert!(c.protocol.is_none(), "an IPSec payload is no IKEv2 configuration");
    assert!(c.on_demand_enabled);
    let actions: Vec<OnDemandAction> = c.on_demand_rules.iter().map(|r| r.action).collect();
    assert_eq!(actions, [OnDemandAction::Disconnect, OnDemandAction::Connect]);
    assert_eq!(c.on_demand_rules[0].ssid_match, ["Office WiFi"]);
    let p = c.ipsec.as_ref().unwrap();
    assert_eq!(p.server_address, "gw.example.com");
    assert_eq!(p.authentication_method, AuthenticationMethod::SharedSecret);
    assert_eq!(p.local_identifier.as_deref(), Some("sales"));
    assert_eq!(p.group_name(), Some("sales"));
    assert!(!p.hybrid());
    assert!(p.use_extended_authentication);
    assert_eq!(p.username.as_deref(), Some("alice"));
    assert!(!p.xauth_password_prompt && !p.prompt_for_vpn_pin);
    // SharedSecret is <data> in Apple's profiles.
    assert_eq!(secret_of(&secrets, p.shared_secret_reference.as_ref()), b"sales group secret");
    assert_eq!(secret_of(&secrets, p.password_reference.as_ref()), b"alice xauth pw");
    assert_eq!(secrets.references().unwrap().len(), 2);
    assert!(!p.use_system_trust_store, "a shared secret configuration checks no certificate");
    assert!(p.unsupported().is_empty(), "{:?}", p.unsupported());
    // The secrets are in the store, never in the configuration's stored form.
    let json = serde_json::to_string(c).unwrap();
    assert!(!json.contains("sales group secret") && !json.contains("alice xauth pw"), "{json}");
}

#[test]
fn a_prompted_xauth_password_is_not_stored_and_the_profile_says_so() {
    let (_d, secrets) = store();
    let body = format!(
        "{GW}<key>LocalIdentifier</key><string>sales</string>\
         <key>SharedSecret</key><data>c2VjcmV0</data>\
         <key>XAuthEnabled</key><true/><key>XAuthName</key><string>bob</string>\
         <key>XAuthPassword</key><string>ignored</string>\
         <key>XAuthPasswordEncryption</key><string>Prompt</string>"
    );
    let imported = import_profile(&ipsec_profile(&body), &secrets).unwrap();
    let p = imported.vpns[0].configuration.ipsec.as_ref().unwrap();
    assert!(p.xauth_password_prompt);
    assert_eq!(p.password_reference, None);
    assert_eq!(
        imported.warnings,
        [ProfileWarning {
            key: "PayloadContent[0].IPSec.XAuthPassword".into(),
            message: "XAuthPasswordEncryption is Prompt: the password is asked, this one not \
                      stored"
                .into(),
        }]
    );
    assert_eq!(secrets.references().unwrap().len(), 1, "only the shared secret");
}

#[test]
fn missing_keys_take_apples_defaults_and_unknown_keys_are_warned_about() {
    let (_d, secrets) = store();
    let body = format!("{GW}<key>DisconnectOnIdle</key><integer>1</integer>");
    let imported = import_profile(&ipsec_profile(&body), &secrets).unwrap();
    let c = &imported.vpns[0].configuration;
    assert_eq!(c.localized_description, "Profile Name");
    let p = c.ipsec.as_ref().unwrap();
    let mut want = IpsecProtocol::new("gw.example.com");
    // Apple's IPSec payload defaults to a shared secret.
    want.authentication_method = AuthenticationMethod::SharedSecret;
    assert_eq!(*p, want);
    assert_eq!(
        imported.warnings,
        [ProfileWarning {
            key: "PayloadContent[0].IPSec.DisconnectOnIdle".into(),
            message: "unknown key, not imported".into(),
        }]
    );
}

/// Each hostile `IPSec` dictionary and the exact error it gives; none stores a secret.
#[test]
fn hostile_ipsec_dictionaries_are_refused_with_the_key_and_store_nothing() {
    let long = |n: usize| "g".repeat(n);
    let key = |k: &str| format!("PayloadContent[0].IPSec.{k}");
    let cases: Vec<(String, ProfileError)> = vec![
        (String::new(), ProfileError::Missing { key: key("RemoteAddress") }),
        (
            "<key>RemoteAddress</key><string> </string>".into(),
            ProfileError::Missing { key: key("RemoteAddress") },
        ),
        (
            "<key>RemoteAddress</key><integer>1</integer>".into(),
            ProfileError::InvalidValue { key: key("RemoteAddress"), expected: "a string" },
        ),
        (
            format!("<key>RemoteAddress</key><string>{}</string>", long(254)),
            ProfileError::InvalidValue {
                key: key("RemoteAddress"),
                expected: "a host name or address (at most 253 bytes)",
            },
        ),
        (
            format!("{GW}<key>AuthenticationMethod</key><string>None</string>"),
            ProfileError::InvalidValue {
                key: key("AuthenticationMethod"),
                expected: "SharedSecret or Certificate",
            },
        ),
        (
            format!("{GW}<key>LocalIdentifierType</key><string>FQDN</string>"),
            ProfileError::InvalidValue { key: key("LocalIdentifierType"), expected: "KeyID" },
        ),
        (
            format!("{GW}<key>LocalIdentifier</key><string>{}</string>", long(264)),
            ProfileError::InvalidValue {
                key: key("LocalIdentifier"),
                expected: "a group name of at most 255 bytes",
            },
        ),
        (
            format!("{GW}<key>SharedSecret</key><data></data>"),
            ProfileError::InvalidValue {
                key: key("SharedSecret"),
                expected: "a shared secret of 1 to 1024 bytes",
            },
        ),
        (
            format!("{GW}<key>SharedSecret</key><string>{}</string>", long(1025)),
            ProfileError::InvalidValue {
                key: key("SharedSecret"),
                expected: "a shared secret of 1 to 1024 bytes",
            },
        ),
        (
            format!("{GW}<key>SharedSecret</key><true/>"),
            ProfileError::InvalidValue { key: key("SharedSecret"), expected: "a string or data" },
        ),
        (
            format!("{GW}<key>XAuthName</key><string>{}</string>", long(254)),
            ProfileError::InvalidValue {
                key: key("XAuthName"),
                expected: "a user name of at most 253 bytes",
            },
        ),
        (
            format!("{GW}<key>XAuthPassword</key><string>{}</string>", long(1025)),
            ProfileError::InvalidValue {
                key: key("XAuthPassword"),
                expected: "a password of at most 1024 bytes",
            },
        ),
        (
            format!("{GW}<key>XAuthPasswordEncryption</key><string>Keychain</string>"),
            ProfileError::InvalidValue { key: key("XAuthPasswordEncryption"), expected: "Prompt" },
        ),
        (
            format!("{GW}<key>XAuthEnabled</key><integer>2</integer>"),
            ProfileError::InvalidValue { key: key("XAuthEnabled"), expected: "a boolean or 0/1" },
        ),
        (
            format!("{GW}<key>OnDemandRules</key><string>x</string>"),
            ProfileError::InvalidValue { key: key("OnDemandRules"), expected: "an array of rules" },
        ),
    ];
    for (body, want) in cases {
        let (_d, secrets) = store();
        // A valid secret before the bad key: the failure must not leave it behind.
        let body = format!("<key>XAuthPassword</key><string>pw</string>{body}");
        let err = import_profile(&ipsec_profile(&body), &secrets).unwrap_err();
        assert_eq!(err.to_string(), want.to_string(), "{body}");
        assert!(secrets.references().unwrap().is_empty(), "{body}: a secret was stored");
    }
}

#[test]
fn an_ipsec_payload_without_its_dictionary_or_with_another_type_is_refused() {
    let (_d, secrets) = store();
    let profile = |rest: &str| {
        format!(
            r#"<plist version="1.0"><dict><key>PayloadType</key><string>Configuration</string>
<key>PayloadContent</key><array><dict>
<key>PayloadType</key><string>com.apple.vpn.managed</string>
<key>VPNType</key><string>IPSec</string>{rest}</dict></array></dict></plist>"#
        )
        .into_bytes()
    };
    let err = import_profile(&profile(""), &secrets).unwrap_err();
    assert_eq!(err.to_string(), "PayloadContent[0].IPSec is required");
    let err = import_profile(&profile("<key>IPSec</key><string>x</string>"), &secrets).unwrap_err();
    assert_eq!(err.to_string(), "PayloadContent[0].IPSec: expected a dictionary");
    let err = import_profile(
        &profile("<key>VPNSubType</key><string>x</string><key>IPSec</key><dict/>"),
        &secrets,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "PayloadContent[0].VPNSubType: expected empty for IKEv2 and IPSec");
}

#[test]
fn l2tp_is_still_refused_naming_what_is_supported() {
    let (_d, secrets) = store();
    let body = r#"<plist version="1.0"><dict><key>PayloadType</key><string>com.apple.vpn.managed</string>
<key>PayloadIdentifier</key><string>corp.l2tp</string>
<key>VPNType</key><string>L2TP</string></dict></plist>"#;
    let err = import_profile(body.as_bytes(), &secrets).unwrap_err();
    assert!(matches!(err, ProfileError::UnsupportedVpnType { .. }));
    assert_eq!(
        err.to_string(),
        "VPN payload corp.l2tp: VPNType L2TP is not supported; only IKEv2 and IPSec are"
    );
}

/// The configuration with its secret references left out, for comparing two imports.
fn without_references(c: &VpnConfiguration) -> VpnConfiguration {
    let mut c = c.clone();
    let p = c.ipsec.as_mut().unwrap();
    p.shared_secret_reference = None;
    p.password_reference = None;
    c
}

#[test]
fn an_export_with_secrets_imports_back_to_the_same_configuration() {
    let (_d, secrets) = store();
    let imported = import_profile(XAUTH_PROFILE, &secrets).unwrap();
    let c = &imported.vpns[0].configuration;
    let (bytes, warnings) = export_profile("t", "Again", &[c], Some(&secrets)).unwrap();
    assert_eq!(warnings, []);
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("<key>VPNType</key>\n\t\t\t<string>IPSec</string>"), "{text}");
    // Apple writes the shared secret as data.
    assert!(
        text.contains(
            "<key>SharedSecret</key>\n\t\t\t\t<data>\n\t\t\t\tc2FsZXMgZ3JvdXAgc2VjcmV0\n"
        ),
        "{text}"
    );
    assert!(text.contains("<key>LocalIdentifierType</key>\n\t\t\t\t<string>KeyID</string>"));
    let (_d2, other) = store();
    let again = import_profile(&bytes, &other).unwrap();
    assert_eq!(again.warnings, []);
    let c2 = &again.vpns[0].configuration;
    assert_eq!(without_references(c2), without_references(c));
    let p2 = c2.ipsec.as_ref().unwrap();
    assert_eq!(secret_of(&other, p2.shared_secret_reference.as_ref()), b"sales group secret");
    assert_eq!(secret_of(&other, p2.password_reference.as_ref()), b"alice xauth pw");

    // Without secrets, none is written.
    let (bytes, _) = export_profile("t", "Again", &[c], None).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(!text.contains("<key>SharedSecret</key>"), "{text}");
    assert!(!text.contains("<key>XAuthPassword</key>"), "{text}");
}

#[test]
fn fields_an_ipsec_dictionary_cannot_carry_are_warned_about_on_export() {
    let mut p = IpsecProtocol::new("gw.example.com");
    p.authentication_method = AuthenticationMethod::SharedSecret;
    p.remote_identifier = Some("gw.example.com".into());
    p.include_all_networks = true;
    let c = VpnConfiguration { ipsec: Some(p), ..VpnConfiguration::default() };
    let (_, warnings) = export_profile("t", "T", &[&c], None).unwrap();
    let keys: Vec<&str> = warnings.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(keys, ["configuration 0.remote_identifier", "configuration 0.include_all_networks"]);
    assert!(
        warnings.iter().all(|w| w.message == "has no key in the IPSec dictionary; not exported")
    );
}

/// An IPSec payload with `AuthenticationMethod Certificate` beside a root payload and the
/// PKCS#12 payload its `PayloadCertificateUUID` names (`uuid`).
fn certificate_profile(root_der: &[u8], p12: &[u8], uuid: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadIdentifier</key><string>t</string>
<key>PayloadDisplayName</key><string>Cert</string>
<key>PayloadContent</key><array>
<dict><key>PayloadType</key><string>com.apple.security.root</string>
<key>PayloadIdentifier</key><string>t.root</string>
<key>PayloadUUID</key><string>00000000-0000-4000-8000-0000000000aa</string>
<key>PayloadContent</key><data>{}</data></dict>
<dict><key>PayloadType</key><string>com.apple.security.pkcs12</string>
<key>PayloadIdentifier</key><string>t.p12</string>
<key>PayloadUUID</key><string>00000000-0000-4000-8000-0000000000bb</string>
<key>Password</key><string>p12 password</string>
<key>PayloadContent</key><data>{}</data></dict>
<dict><key>PayloadType</key><string>com.apple.vpn.managed</string>
<key>PayloadIdentifier</key><string>t.vpn</string>
<key>UserDefinedName</key><string>cert</string>
<key>VPNType</key><string>IPSec</string>
<key>IPSec</key><dict>
<key>RemoteAddress</key><string>192.0.2.1</string>
<key>AuthenticationMethod</key><string>Certificate</string>
<key>PayloadCertificateUUID</key><string>{uuid}</string>
<key>XAuthEnabled</key><integer>0</integer>
</dict></dict>
</array></dict></plist>"#,
        base64_data(root_der),
        base64_data(p12),
    )
    .into_bytes()
}

/// Standard base64 (RFC 4648 §4), for `<data>`.
fn base64_data(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

const P12_UUID: &str = "00000000-0000-4000-8000-0000000000bb";

/// Apple's Cisco IPSec with a certificate: the PKCS#12 payload named by
/// `PayloadCertificateUUID` becomes the identity, the root payload the anchor, and the
/// configuration starts as Main Mode with signatures; an export with secrets carries the
/// identity back and imports to the same configuration.
#[test]
fn a_certificate_ipsec_profile_imports_to_main_mode_and_exports_back() {
    use ikeway_testkit::certs::{PKCS_RSA_SHA256, TestCa};
    let (_d, secrets) = store();
    let ca = TestCa::new("Office CA");
    let client = ca.issue("alice", "client.example.org", &PKCS_RSA_SHA256);
    let p12 = client.pkcs12(&ca, "p12 password");
    let imported =
        import_profile(&certificate_profile(&ca.cert_der, &p12, P12_UUID), &secrets).unwrap();
    assert_eq!(imported.warnings, []);
    let c = &imported.vpns[0].configuration;
    let p = c.ipsec.as_ref().unwrap();
    assert_eq!(p.authentication_method, AuthenticationMethod::Certificate);
    assert_eq!(p.payload_certificate_uuid.as_deref(), Some(P12_UUID));
    assert_eq!(p.trust_anchors, [ikeway_manager::Der(ca.cert_der.clone())]);
    assert_eq!(secret_of(&secrets, p.identity_reference.as_ref()), p12);
    assert_eq!(secret_of(&secrets, p.identity_data_password_reference.as_ref()), b"p12 password");
    let (config, _) =
        p.to_ikev1_config(&secrets, &ikeway_manager::StartOptions::default()).unwrap();
    assert_eq!(config.mode, ikeway_ikev1::Phase1Mode::Main);
    let ikeway_ikev1::Authentication::Certificates { own, .. } = &config.auth else {
        panic!("{:?}", config.auth)
    };
    assert_eq!(own.chain()[0].der(), client.cert_der.as_slice());

    let (bytes, warnings) = export_profile("t", "Again", &[c], Some(&secrets)).unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(text.matches("<string>com.apple.security.pkcs12</string>").count(), 1, "{text}");
    assert!(text.contains("<key>PayloadCertificateUUID</key>"), "{text}");
    // The system store flag follows the method, as Apple's; nothing else to warn about.
    assert_eq!(warnings, []);
    let (_d2, other) = store();
    let again = import_profile(&bytes, &other).unwrap();
    assert_eq!(again.warnings, []);
    let p2 = again.vpns[0].configuration.ipsec.as_ref().unwrap();
    assert_eq!(p2.trust_anchors, p.trust_anchors);
    assert_eq!(secret_of(&other, p2.identity_reference.as_ref()), p12);
}

#[test]
fn a_certificate_uuid_naming_no_identity_payload_is_said_by_key() {
    use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, TestCa};
    let (_d, secrets) = store();
    let ca = TestCa::new("Office CA");
    let p12 =
        ca.issue("alice", "c.example.org", &PKCS_ECDSA_P256_SHA256).pkcs12(&ca, "p12 password");
    let other = "00000000-0000-4000-8000-0000000000cc";
    let imported =
        import_profile(&certificate_profile(&ca.cert_der, &p12, other), &secrets).unwrap();
    let warnings: Vec<String> = imported.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            format!(
                "PayloadContent[2].IPSec.PayloadCertificateUUID: {other} names no \
                 com.apple.security.pkcs12 payload of this profile"
            ),
            "PayloadContent[1]: no VPN payload uses this identity; not imported".to_owned(),
        ]
    );
    let p = imported.vpns[0].configuration.ipsec.as_ref().unwrap();
    assert_eq!(p.identity_reference, None);
    // Such a configuration cannot start, and says why.
    let err = p.to_ikev1_config(&secrets, &ikeway_manager::StartOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), "no identity is configured (identity_reference)");
}
