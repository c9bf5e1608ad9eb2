//! The C ABI from Rust: every error is an exact code and message, never a crash.
// This file plays the C side: it reads the strings the library hands out, as C would.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_void};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

use ikeway_ffi::*;

const PROFILE: &[u8] = include_bytes!("../../manager/tests/profiles/ikev2-psk.mobileconfig");

/// This thread's last error message.
fn message() -> String {
    let p = ikeway_last_error_message();
    assert!(!p.is_null(), "a failed call leaves a message");
    // SAFETY: a non-NULL result is a NUL-terminated string the library allocated.
    let text = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
    assert_eq!(ikeway_string_free(p), IkewayResult::Ok);
    text
}

/// Takes an owned string from the library.
fn take(p: *mut c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: as above.
    let text = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
    assert_eq!(ikeway_string_free(p), IkewayResult::Ok);
    text
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: *mut IkewayStore,
    manager: *mut IkewayManager,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = CString::new(dir.path().to_str().unwrap()).unwrap();
        let mut store = std::ptr::null_mut();
        assert_eq!(ikeway_store_open(path.as_ptr(), &mut store), IkewayResult::Ok);
        let mut manager = std::ptr::null_mut();
        assert_eq!(
            ikeway_manager_new(store, c"com.example.vpn".as_ptr(), &mut manager),
            IkewayResult::Ok
        );
        assert_eq!(ikeway_manager_load(manager), IkewayResult::Ok);
        Self { _dir: dir, store, manager }
    }

    fn status(&self) -> IkewayStatus {
        let mut s = IkewayStatus::Connected;
        assert_eq!(ikeway_manager_status(self.manager, &mut s), IkewayResult::Ok);
        s
    }

    /// A PSK configuration with its secret in the store, saved.
    fn save_psk(&self, enabled: bool) {
        let mut reference = std::ptr::null_mut();
        let psk = b"correct horse battery staple";
        assert_eq!(
            ikeway_store_add_secret(self.store, psk.as_ptr(), psk.len(), &mut reference),
            IkewayResult::Ok
        );
        let reference = take(reference);
        let mut json = std::ptr::null_mut();
        assert_eq!(ikeway_manager_configuration_json(self.manager, &mut json), IkewayResult::Ok);
        let mut config: serde_json::Value = serde_json::from_str(&take(json)).unwrap();
        config["localized_description"] = "Example".into();
        config["enabled"] = enabled.into();
        config["protocol"] = serde_json::json!({
            "server_address": "vpn.example.com",
            "authentication_method": "SharedSecret",
            "shared_secret_reference": reference,
            "local_identifier": "client.example.com",
            "remote_identifier": "vpn.example.com",
        });
        let text = CString::new(config.to_string()).unwrap();
        assert_eq!(
            ikeway_manager_set_configuration_json(self.manager, text.as_ptr()),
            IkewayResult::Ok,
            "{}",
            message()
        );
        assert_eq!(ikeway_manager_save(self.manager), IkewayResult::Ok, "{}", message());
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        assert_eq!(ikeway_manager_free(self.manager), IkewayResult::Ok);
        assert_eq!(ikeway_store_free(self.store), IkewayResult::Ok);
    }
}

#[test]
fn null_pointers_are_named() {
    let mut store = std::ptr::null_mut();
    assert_eq!(ikeway_store_open(std::ptr::null(), &mut store), IkewayResult::NullPointer);
    assert_eq!(message(), "dir is NULL");
    assert_eq!(
        ikeway_store_open(c"/tmp".as_ptr(), std::ptr::null_mut()),
        IkewayResult::NullPointer
    );
    assert_eq!(message(), "out_store is NULL");
    assert_eq!(ikeway_manager_load(std::ptr::null_mut()), IkewayResult::NullPointer);
    assert_eq!(message(), "manager is NULL");
    let f = Fixture::new();
    assert_eq!(ikeway_manager_status(f.manager, std::ptr::null_mut()), IkewayResult::NullPointer);
    assert_eq!(message(), "out_status is NULL");
    assert_eq!(
        ikeway_store_add_secret(f.store, std::ptr::null(), 4, &mut std::ptr::null_mut()),
        IkewayResult::NullPointer
    );
    assert_eq!(message(), "secret is NULL");
    // NULL is the one pointer every free accepts as "nothing".
    assert_eq!(ikeway_string_free(std::ptr::null_mut()), IkewayResult::Ok);
}

#[test]
fn invalid_utf8_is_refused_with_its_offset() {
    let f = Fixture::new();
    let bad = b"com.\xffexample\0";
    let mut m = std::ptr::null_mut();
    assert_eq!(ikeway_manager_new(f.store, bad.as_ptr().cast(), &mut m), IkewayResult::InvalidUtf8);
    assert_eq!(message(), "app_id is not UTF-8 (invalid byte at offset 4)");
    assert!(m.is_null(), "nothing is written on failure");
}

#[test]
fn unknown_names_and_codes() {
    let f = Fixture::new();
    assert_eq!(
        ikeway_store_remove_managed(f.store, c"com.example.none".as_ptr()),
        IkewayResult::NotFound
    );
    assert_eq!(message(), "no managed configuration \"com.example.none\"");
    // SAFETY: `ikeway_result_name` returns a static NUL-terminated string.
    let name = |code| unsafe { CStr::from_ptr(ikeway_result_name(code)) }.to_str().unwrap();
    assert_eq!(name(5), "IKEWAY_RESULT_NOT_FOUND");
    assert_eq!(name(14), "IKEWAY_RESULT_PANIC");
    assert_eq!(name(99), "IKEWAY_RESULT_UNKNOWN");
    assert_eq!(name(-1), "IKEWAY_RESULT_UNKNOWN");
}

#[test]
fn double_free_and_forged_handles_are_codes() {
    let f = Fixture::new();
    let mut second = std::ptr::null_mut();
    assert_eq!(
        ikeway_manager_new(f.store, c"com.example.other".as_ptr(), &mut second),
        IkewayResult::Ok
    );
    assert_eq!(ikeway_manager_free(second), IkewayResult::Ok);
    assert_eq!(ikeway_manager_free(second), IkewayResult::InvalidHandle);
    assert_eq!(message(), "manager is not a live handle (never created, or already freed)");
    assert_eq!(ikeway_manager_load(second), IkewayResult::InvalidHandle, "use after free");
    let forged: *mut IkewayManager = std::ptr::without_provenance_mut(0xdead_beef);
    assert_eq!(ikeway_manager_start(forged), IkewayResult::InvalidHandle);
    // A store handle is not a manager handle.
    assert_eq!(ikeway_manager_load(f.store.cast()), IkewayResult::InvalidHandle);

    let p = ikeway_last_error_message();
    assert_eq!(ikeway_string_free(p), IkewayResult::Ok);
    assert_eq!(ikeway_string_free(p), IkewayResult::InvalidHandle);
    assert_eq!(message(), "ikeway_string_free: not a string from this library, or already freed");
    let mine = CString::new("not yours").unwrap();
    assert_eq!(ikeway_string_free(mine.as_ptr().cast_mut()), IkewayResult::InvalidHandle);
}

#[test]
fn success_clears_the_message() {
    let f = Fixture::new();
    assert_eq!(ikeway_manager_load(std::ptr::null_mut()), IkewayResult::NullPointer);
    assert_eq!(f.status(), IkewayStatus::Invalid);
    assert!(ikeway_last_error_message().is_null());
}

#[test]
fn configuration_round_trip_save_load_remove() {
    let f = Fixture::new();
    assert_eq!(f.status(), IkewayStatus::Invalid);
    assert_eq!(ikeway_manager_save(f.manager), IkewayResult::ConfigurationInvalid);
    assert_eq!(message(), "the VPN configuration is invalid: the configuration has no protocol");
    assert_eq!(
        ikeway_manager_set_configuration_json(f.manager, c"{\"enabled\": 3}".as_ptr()),
        IkewayResult::InvalidArgument
    );
    assert!(
        message().starts_with("configuration JSON: invalid type: integer `3`, expected a boolean")
    );

    f.save_psk(true);
    assert_eq!(f.status(), IkewayStatus::Disconnected);
    // Another manager of the same application reads what was saved.
    let mut again = std::ptr::null_mut();
    assert_eq!(
        ikeway_manager_new(f.store, c"com.example.vpn".as_ptr(), &mut again),
        IkewayResult::Ok
    );
    assert_eq!(ikeway_manager_load(again), IkewayResult::Ok);
    let mut json = std::ptr::null_mut();
    assert_eq!(ikeway_manager_configuration_json(again, &mut json), IkewayResult::Ok);
    let saved: serde_json::Value = serde_json::from_str(&take(json)).unwrap();
    assert_eq!(saved["protocol"]["server_address"], "vpn.example.com");
    assert_eq!(saved["localized_description"], "Example");
    let mut text = std::ptr::null_mut();
    assert_eq!(ikeway_manager_summary(again, 0, &mut text), IkewayResult::Ok);
    let text = take(text);
    assert!(text.contains("  Server address            vpn.example.com\n"), "{text}");
    let mut json = std::ptr::null_mut();
    assert_eq!(ikeway_manager_summary(again, 1, &mut json), IkewayResult::Ok);
    let summary: serde_json::Value = serde_json::from_str(&take(json)).unwrap();
    assert_eq!(summary["name"], "com.example.vpn", "{summary}");
    assert_eq!(ikeway_manager_free(again), IkewayResult::Ok);

    assert_eq!(ikeway_manager_remove(f.manager), IkewayResult::Ok);
    assert_eq!(f.status(), IkewayStatus::Invalid);
}

#[test]
fn start_reports_why_it_cannot() {
    let f = Fixture::new();
    assert_eq!(ikeway_manager_start(f.manager), IkewayResult::ConfigurationInvalid);
    assert_eq!(message(), "the VPN configuration is invalid: no configuration is saved");
    f.save_psk(false);
    assert_eq!(ikeway_manager_start(f.manager), IkewayResult::ConfigurationDisabled);
    assert_eq!(message(), "the VPN configuration is not enabled");
    assert_eq!(ikeway_manager_stop(f.manager), IkewayResult::Ok);
}

/// A certificate configuration without an identity fails to start with
/// ClientCertificateInvalid (9), and the tunnel status says so with the reason.
#[test]
fn a_failed_start_leaves_its_error_and_reason_in_the_tunnel_status() {
    let f = Fixture::new();
    let mut json = std::ptr::null_mut();
    assert_eq!(ikeway_manager_tunnel_status_json(f.manager, &mut json), IkewayResult::Ok);
    let tunnel: serde_json::Value = serde_json::from_str(&take(json)).unwrap();
    assert_eq!(tunnel["last_disconnect_error"], serde_json::Value::Null);
    let config = serde_json::json!({
        "localized_description": "Example",
        "enabled": true,
        "protocol": {
            "server_address": "vpn.example.com",
            "authentication_method": "Certificate",
            "local_identifier": "client.example.com",
        },
    });
    let text = CString::new(config.to_string()).unwrap();
    assert_eq!(ikeway_manager_set_configuration_json(f.manager, text.as_ptr()), IkewayResult::Ok);
    assert_eq!(ikeway_manager_save(f.manager), IkewayResult::Ok, "{}", message());
    assert_eq!(ikeway_manager_start(f.manager), IkewayResult::ConfigurationInvalid);
    assert_eq!(
        message(),
        "the VPN configuration cannot be used: no identity is configured (identity_reference)"
    );
    let mut json = std::ptr::null_mut();
    assert_eq!(ikeway_manager_tunnel_status_json(f.manager, &mut json), IkewayResult::Ok);
    let tunnel: serde_json::Value = serde_json::from_str(&take(json)).unwrap();
    assert_eq!(tunnel["last_disconnect_error"], 9, "ClientCertificateInvalid: {tunnel}");
    assert_eq!(tunnel["last_disconnect_reason"], "no identity is configured (identity_reference)");
}

static CHANGES: Mutex<Option<mpsc::Sender<(IkewayStatus, IkewayStatus, i32)>>> = Mutex::new(None);

extern "C" fn on_status(_ctx: *mut c_void, from: IkewayStatus, to: IkewayStatus, error: i32) {
    if let Some(tx) = CHANGES.lock().unwrap().as_ref() {
        let _ = tx.send((from, to, error));
    }
}

#[test]
fn status_changes_reach_the_callback() {
    let (tx, rx) = mpsc::channel();
    *CHANGES.lock().unwrap() = Some(tx);
    let f = Fixture::new();
    assert_eq!(
        ikeway_manager_set_status_callback(f.manager, Some(on_status), std::ptr::null_mut()),
        IkewayResult::Ok
    );
    f.save_psk(true);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        (IkewayStatus::Invalid, IkewayStatus::Disconnected, 0)
    );
    assert_eq!(ikeway_manager_remove(f.manager), IkewayResult::Ok);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        (IkewayStatus::Disconnected, IkewayStatus::Invalid, 0)
    );
    // Removed: no more calls.
    assert_eq!(
        ikeway_manager_set_status_callback(f.manager, None, std::ptr::null_mut()),
        IkewayResult::Ok
    );
    f.save_psk(true);
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
}

#[test]
fn imports_a_profile_and_removes_it_by_identifier() {
    let f = Fixture::new();
    let mut ids = std::ptr::null_mut();
    assert_eq!(
        ikeway_store_import_profile(f.store, PROFILE.as_ptr(), PROFILE.len(), &mut ids),
        IkewayResult::Ok,
        "{}",
        message()
    );
    let ids: Vec<String> = serde_json::from_str(&take(ids)).unwrap();
    assert_eq!(ids.len(), 1);
    let id = CString::new(ids[0].clone()).unwrap();
    assert_eq!(ikeway_store_remove_managed(f.store, id.as_ptr()), IkewayResult::Ok);
    assert_eq!(ikeway_store_remove_managed(f.store, id.as_ptr()), IkewayResult::NotFound);

    let garbage = b"not a profile";
    let mut out = std::ptr::null_mut();
    assert_eq!(
        ikeway_store_import_profile(f.store, garbage.as_ptr(), garbage.len(), &mut out),
        IkewayResult::Profile
    );
    assert!(message().starts_with("not a property list"));
    assert!(out.is_null());
}

extern "C" fn count_lines(ctx: *mut c_void, kind: IkewayDemoEventKind, line: *const c_char) {
    // SAFETY: `ctx` is the `Vec` the test passed, used only on this thread during the call.
    let lines = unsafe { &mut *ctx.cast::<Vec<(IkewayDemoEventKind, String)>>() };
    // SAFETY: `line` is a NUL-terminated string valid for this call.
    let text = unsafe { CStr::from_ptr(line) }.to_str().unwrap().to_owned();
    if kind != IkewayDemoEventKind::Progress {
        lines.push((kind, text));
    }
}

#[test]
fn the_demo_runs_through_the_abi() {
    let mut result = IkewayDemoResult::default();
    assert_eq!(
        ikeway_demo_run(0, None, std::ptr::null_mut(), &mut result),
        IkewayResult::InvalidArgument
    );
    assert_eq!(message(), "bytes must be at least 1");

    let mut lines: Vec<(IkewayDemoEventKind, String)> = Vec::new();
    let ctx = (&raw mut lines).cast::<c_void>();
    assert_eq!(ikeway_demo_run(100_000, Some(count_lines), ctx, &mut result), IkewayResult::Ok);
    assert_eq!(result.transferred, 100_000);
    assert_eq!(result.drops, 0);
    assert!(result.sent_packets > 70, "{result:?}");
    let kinds: Vec<_> = lines.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds.first(), Some(&IkewayDemoEventKind::Phase));
    assert_eq!(kinds.last(), Some(&IkewayDemoEventKind::Closed));
    assert_eq!(lines.last().unwrap().1, "  IKE SA closed: deleted by us");
    assert!(lines.iter().any(|(k, l)| *k == IkewayDemoEventKind::Transferred
        && l.starts_with("  100000 bytes received intact")));
}

/// A responder that accepts Apple's default proposals, on an ephemeral loopback port.
fn responder() -> ikeway_tunnel::Session {
    let psk = ikeway_crypto::SecretBytes::from_slice(b"correct horse battery staple");
    loopback_responder(ikeway_sa::Config::new(ikeway_manager::identity("vpn.example.com"), psk))
}

/// `config` with Apple's default proposals, answering on an ephemeral loopback port.
fn loopback_responder(mut config: ikeway_sa::Config) -> ikeway_tunnel::Session {
    let psk = ikeway_crypto::SecretBytes::from_slice(b"correct horse battery staple");
    // The client's proposals are Apple's defaults: take them from the same conversion.
    let dir = tempfile::tempdir().unwrap();
    let secrets = ikeway_manager::SecretStore::open(dir.path().join("secrets.json"));
    let protocol = ikeway_manager::Ikev2Protocol {
        authentication_method: ikeway_manager::AuthenticationMethod::SharedSecret,
        shared_secret_reference: Some(secrets.add(&psk).unwrap()),
        local_identifier: Some("client.example.com".into()),
        ..ikeway_manager::Ikev2Protocol::new("127.0.0.1")
    };
    let (client, _) = protocol.to_sa_config(&secrets).unwrap();
    config.ike_proposals = client.ike_proposals;
    config.esp_proposals = client.esp_proposals;
    let pool = ikeway_sa::AddressPool {
        v4: Some((std::net::Ipv4Addr::new(10, 88, 0, 10), 10)),
        ..ikeway_sa::AddressPool::default()
    };
    ikeway_tunnel::Session::start(
        ikeway_tunnel::SessionOptions::responder(
            std::net::Ipv4Addr::LOCALHOST.into(),
            config,
            Some(pool),
        )
        .with_ports(ikeway_tunnel::Ports::ephemeral()),
    )
    .unwrap()
}

static TUNNEL_CHANGES: Mutex<Option<mpsc::Sender<(IkewayStatus, IkewayStatus, i32)>>> =
    Mutex::new(None);

extern "C" fn on_tunnel_status(
    _ctx: *mut c_void,
    from: IkewayStatus,
    to: IkewayStatus,
    error: i32,
) {
    if let Some(tx) = TUNNEL_CHANGES.lock().unwrap().as_ref() {
        let _ = tx.send((from, to, error));
    }
}

#[test]
fn start_and_stop_a_real_tunnel_through_the_abi() {
    let server = responder();
    let (tx, rx) = mpsc::channel();
    *TUNNEL_CHANGES.lock().unwrap() = Some(tx);
    let f = Fixture::new();
    f.save_psk(true);
    // The configuration names vpn.example.com; point the session at the loopback responder.
    let mut json = std::ptr::null_mut();
    assert_eq!(ikeway_manager_configuration_json(f.manager, &mut json), IkewayResult::Ok);
    let mut config: serde_json::Value = serde_json::from_str(&take(json)).unwrap();
    config["protocol"]["server_address"] = "127.0.0.1".into();
    let text = CString::new(config.to_string()).unwrap();
    assert_eq!(ikeway_manager_set_configuration_json(f.manager, text.as_ptr()), IkewayResult::Ok);
    assert_eq!(ikeway_manager_save(f.manager), IkewayResult::Ok, "{}", message());

    assert_eq!(
        ikeway_manager_set_tunnel_options(
            f.manager,
            std::ptr::null(),
            c"127.0.0.1".as_ptr(),
            0,
            0,
            server.local_addr().port()
        ),
        IkewayResult::Ok
    );
    assert_eq!(
        ikeway_manager_set_tunnel_options(
            f.manager,
            std::ptr::null(),
            c"localhost".as_ptr(),
            0,
            0,
            0
        ),
        IkewayResult::InvalidArgument
    );
    assert_eq!(message(), "local: \"localhost\" is not an IP address");
    assert_eq!(
        ikeway_manager_set_status_callback(f.manager, Some(on_tunnel_status), std::ptr::null_mut()),
        IkewayResult::Ok
    );

    assert_eq!(ikeway_manager_start(f.manager), IkewayResult::Ok, "{}", message());
    let wait = || rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(wait(), (IkewayStatus::Disconnected, IkewayStatus::Connecting, 0));
    assert_eq!(wait(), (IkewayStatus::Connecting, IkewayStatus::Connected, 0));
    assert_eq!(f.status(), IkewayStatus::Connected);
    let mut json = std::ptr::null_mut();
    assert_eq!(ikeway_manager_tunnel_status_json(f.manager, &mut json), IkewayResult::Ok);
    let tunnel: serde_json::Value = serde_json::from_str(&take(json)).unwrap();
    assert_eq!(tunnel["addresses"], serde_json::json!(["10.88.0.10/32"]), "{tunnel}");
    assert_eq!(tunnel["server"], server.local_addr().to_string(), "{tunnel}");
    assert_eq!(ikeway_manager_stop(f.manager), IkewayResult::Ok);
    assert_eq!(wait(), (IkewayStatus::Connected, IkewayStatus::Disconnecting, 0));
    assert_eq!(wait(), (IkewayStatus::Disconnecting, IkewayStatus::Disconnected, 0));
    assert_eq!(f.status(), IkewayStatus::Disconnected);
}

static EAP_CHANGES: Mutex<Option<mpsc::Sender<(IkewayStatus, IkewayStatus, i32)>>> =
    Mutex::new(None);

extern "C" fn on_eap_status(_ctx: *mut c_void, from: IkewayStatus, to: IkewayStatus, error: i32) {
    if let Some(tx) = EAP_CHANGES.lock().unwrap().as_ref() {
        let _ = tx.send((from, to, error));
    }
}

/// `startVPNTunnelWithOptions` through the ABI, against a loopback responder that proves
/// itself with its certificate and requires EAP-MSCHAPv2 from alice: without a password the
/// start fails at once; a wrong one is authenticationFailed (8) with the server's answer as
/// the reason; the right one connects.
#[test]
fn start_options_carry_the_eap_password() {
    use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, TestCa};
    use std::sync::Arc;
    let ca = TestCa::new("Office CA");
    let cert = ca.issue("vpn.example.com", "vpn.example.com", &PKCS_ECDSA_P256_SHA256);
    let identity = ikeway_pki::Identity::from_pem_files_content(
        cert.key_pem.as_bytes(),
        cert.cert_pem.as_bytes(),
    )
    .unwrap();
    let mut config = ikeway_sa::Config::new(
        ikeway_manager::identity("vpn.example.com"),
        ikeway_crypto::SecretBytes::from_slice(b""),
    );
    config.local_auth = ikeway_sa::LocalAuth::Certificate(Arc::new(identity));
    config.peer_auth = ikeway_sa::PeerAuth::Eap(Arc::new(ikeway_eap::AuthenticatorConfig {
        methods: vec![ikeway_eap::Method::MsChapV2],
        users: Arc::new(ikeway_eap::Users::parse("alice : EAP \"correct horse\"\n").unwrap()),
        tls: None,
    }));
    let server = loopback_responder(config);
    let (tx, rx) = mpsc::channel();
    *EAP_CHANGES.lock().unwrap() = Some(tx);
    let f = Fixture::new();
    let anchor: String = ca.cert_der.iter().map(|b| format!("{b:02x}")).collect();
    let config = serde_json::json!({
        "localized_description": "Example",
        "enabled": true,
        "protocol": {
            "server_address": "127.0.0.1",
            "remote_identifier": "vpn.example.com",
            "use_extended_authentication": true,
            "username": "alice",
            "trust_anchors": [anchor],
        },
    });
    let text = CString::new(config.to_string()).unwrap();
    assert_eq!(ikeway_manager_set_configuration_json(f.manager, text.as_ptr()), IkewayResult::Ok);
    assert_eq!(ikeway_manager_save(f.manager), IkewayResult::Ok, "{}", message());
    let port = server.local_addr().port();
    // Not 127.0.0.1 and not port 500: the other real-tunnel test's client binds UDP 500 at
    // the same time, on the wildcard address when it follows address changes (MOBIKE).
    let loopback = c"127.0.0.2".as_ptr();
    let ike_port = std::net::UdpSocket::bind("127.0.0.2:0").unwrap().local_addr().unwrap().port();
    assert_eq!(
        ikeway_manager_set_tunnel_options(f.manager, std::ptr::null(), loopback, ike_port, 0, port),
        IkewayResult::Ok
    );
    assert_eq!(
        ikeway_manager_set_status_callback(f.manager, Some(on_eap_status), std::ptr::null_mut()),
        IkewayResult::Ok
    );
    let wait = || rx.recv_timeout(Duration::from_secs(30)).unwrap();
    let reason = || {
        let mut json = std::ptr::null_mut();
        assert_eq!(ikeway_manager_tunnel_status_json(f.manager, &mut json), IkewayResult::Ok);
        let tunnel: serde_json::Value = serde_json::from_str(&take(json)).unwrap();
        (tunnel["last_disconnect_error"].clone(), tunnel["last_disconnect_reason"].clone())
    };

    assert_eq!(ikeway_manager_start(f.manager), IkewayResult::ConfigurationInvalid);
    assert_eq!(
        message(),
        "the VPN configuration cannot be used: no EAP password for \"alice\": none is stored \
         (password_reference) and none was given to start"
    );
    assert_eq!(wait(), (IkewayStatus::Disconnected, IkewayStatus::Connecting, 0));
    assert_eq!(wait(), (IkewayStatus::Connecting, IkewayStatus::Disconnected, 4));

    let start = |password: &[u8]| {
        ikeway_manager_start_with_options(
            f.manager,
            std::ptr::null(),
            password.as_ptr(),
            password.len(),
        )
    };
    assert_eq!(start(b"incorrect horse"), IkewayResult::Ok, "{}", message());
    assert_eq!(wait(), (IkewayStatus::Disconnected, IkewayStatus::Connecting, 0));
    assert_eq!(wait(), (IkewayStatus::Connecting, IkewayStatus::Disconnected, 8));
    assert_eq!(
        reason(),
        (
            8.into(),
            "the server rejected the EAP-MSCHAPv2 authentication (error 691: wrong user name or \
             password)"
                .into()
        )
    );

    assert_eq!(start(b"correct horse"), IkewayResult::Ok, "{}", message());
    assert_eq!(wait(), (IkewayStatus::Disconnected, IkewayStatus::Connecting, 0));
    assert_eq!(wait(), (IkewayStatus::Connecting, IkewayStatus::Connected, 0));
    assert_eq!(ikeway_manager_stop(f.manager), IkewayResult::Ok);
    assert_eq!(wait(), (IkewayStatus::Connected, IkewayStatus::Disconnecting, 0));
    assert_eq!(wait(), (IkewayStatus::Disconnecting, IkewayStatus::Disconnected, 0));

    // Bad options are refused before anything starts.
    assert_eq!(
        ikeway_manager_start_with_options(f.manager, c"".as_ptr(), std::ptr::null(), 0),
        IkewayResult::InvalidArgument
    );
    assert_eq!(message(), "username is empty");
    let long = vec![b'x'; 1025];
    assert_eq!(start(&long), IkewayResult::InvalidArgument);
    assert_eq!(message(), "password: at most 1024 bytes");
}
