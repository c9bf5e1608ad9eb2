//! Configurations and connections: `IkewayStore` (the per-user preferences file and secret
//! store in a directory) and `IkewayManager` (Apple's `NEVPNManager` for one application
//! identity: load, save, remove, start, stop, status, a status-change callback).
// `#[unsafe(no_mangle)]` on the exports is the only unsafe code here; pointers go through
// `raw`.
#![allow(unsafe_code)]

use std::ffi::{c_char, c_void};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{Sender, select};
use ikeway_crypto::SecretBytes;
use ikeway_manager::{
    MAX_PASSWORD, ManagerError, PreferencesStore, ProviderOptions, SessionProvider, StartError,
    StartOptions, Summary, TunnelStatus, VpnConfiguration, VpnManager, VpnStatus, import_profile,
    summary_json,
};
use ikeway_tunnel::Ports;

use crate::error::{Failure, IkewayResult, guard};
use crate::handles::Registry;
use crate::raw::{Context, bytes_in, out_ok, str_in, string_out, write_out};

/// A preferences store: configurations, managed configurations from profiles, and secrets.
#[derive(Debug)]
pub struct IkewayStore {
    _opaque: [u8; 0],
}

/// The VPN manager of one application identity in a store (`NEVPNManager`).
#[derive(Debug)]
pub struct IkewayManager {
    _opaque: [u8; 0],
}

/// `NEVPNStatus`: where a connection is.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IkewayStatus {
    /// No configuration is saved.
    Invalid = 0,
    /// Not connected.
    Disconnected = 1,
    /// Coming up.
    Connecting = 2,
    /// Up.
    Connected = 3,
    /// Up, but the server stopped answering; trying to recover.
    Reasserting = 4,
    /// Going down.
    Disconnecting = 5,
}

impl From<VpnStatus> for IkewayStatus {
    fn from(s: VpnStatus) -> Self {
        match s {
            VpnStatus::Invalid => Self::Invalid,
            VpnStatus::Disconnected => Self::Disconnected,
            VpnStatus::Connecting => Self::Connecting,
            VpnStatus::Connected => Self::Connected,
            VpnStatus::Reasserting => Self::Reasserting,
            VpnStatus::Disconnecting => Self::Disconnecting,
        }
    }
}

/// Called on a library thread after each status change, with the `ctx` given when it was
/// set; `error` is the `NEVPNConnectionError` code that ended a connection, or 0.
pub type IkewayStatusCallback =
    Option<extern "C" fn(ctx: *mut c_void, from: IkewayStatus, to: IkewayStatus, error: i32)>;

static STORES: Registry<PreferencesStore> = Registry::new();
static MANAGERS: Registry<ManagerState> = Registry::new();

struct ManagerState {
    manager: VpnManager,
    watcher: Option<Watcher>,
    /// What the installed provider knows about the running tunnel.
    tunnel: Arc<Mutex<TunnelStatus>>,
}

impl ManagerState {
    /// Runs tunnels with `options` from now on.
    fn install_provider(&mut self, options: ProviderOptions) {
        let provider = SessionProvider::new(options);
        self.tunnel = provider.status();
        self.manager.set_tunnel_provider(Box::new(provider));
    }
}

impl std::fmt::Debug for ManagerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerState").field("manager", &self.manager).finish_non_exhaustive()
    }
}

/// The thread that calls a status callback.
struct Watcher {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Watcher {
    fn start(
        manager: &VpnManager,
        callback: extern "C" fn(*mut c_void, IkewayStatus, IkewayStatus, i32),
        ctx: Context,
    ) -> Self {
        let changes = manager.connection().subscribe();
        let (stop, stopped) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::spawn(move || {
            let ctx = ctx;
            loop {
                select! {
                    recv(changes) -> change => match change {
                        Ok(c) => callback(
                            ctx.0,
                            c.from.into(),
                            c.to.into(),
                            c.error.map_or(0, |e| i32::try_from(e.raw()).unwrap_or(i32::MAX)),
                        ),
                        Err(_) => return,
                    },
                    recv(stopped) -> _ => return,
                }
            }
        });
        Self { stop, thread }
    }

    fn stop(self) {
        // The channel is bounded(1) and only this sends: it never blocks.
        let _ = self.stop.send(());
        // A callback that frees its own manager runs on this thread: it cannot wait for
        // itself, and the thread ends when the callback returns.
        if self.thread.thread().id() != std::thread::current().id() {
            let _ = self.thread.join();
        }
    }
}

impl Drop for ManagerState {
    fn drop(&mut self) {
        if let Some(w) = self.watcher.take() {
            w.stop();
        }
    }
}

fn manager_error(e: ManagerError) -> Failure {
    let code = match &e {
        ManagerError::ConfigurationInvalid(_) => IkewayResult::ConfigurationInvalid,
        ManagerError::Stale { .. } => IkewayResult::Stale,
        ManagerError::PermissionDenied { .. } | ManagerError::ReadOnly { .. } => {
            IkewayResult::PermissionDenied
        }
        _ => IkewayResult::Preferences,
    };
    Failure::new(code, e.to_string())
}

fn start_error(e: StartError) -> Failure {
    let code = match &e {
        StartError::ConfigurationDisabled => IkewayResult::ConfigurationDisabled,
        StartError::ConnectionFailed(_) => IkewayResult::ConnectionFailed,
        _ => IkewayResult::ConfigurationInvalid,
    };
    Failure::new(code, e.to_string())
}

fn non_empty<'a>(s: &'a str, what: &str) -> Result<&'a str, Failure> {
    if s.trim().is_empty() {
        return Err(Failure::new(IkewayResult::InvalidArgument, format!("{what} is empty")));
    }
    Ok(s)
}

/// Opens the store in directory `dir` (created on the first save: `preferences.json` and a
/// 0600 `secrets.json`). On success `*out_store` is a handle to free with `ikeway_store_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_store_open(
    dir: *const c_char,
    out_store: *mut *mut IkewayStore,
) -> IkewayResult {
    guard(|| {
        let dir = non_empty(str_in(dir, "dir")?, "dir")?;
        out_ok(out_store, "out_store")?;
        let handle = STORES.insert(PreferencesStore::in_dir(dir));
        write_out(out_store, handle, "out_store")
    })
}

/// Frees a store handle. Managers made from it keep working.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_store_free(store: *mut IkewayStore) -> IkewayResult {
    guard(|| STORES.remove(store, "store").map(drop))
}

/// Adds a secret (a shared secret or a password, `len` bytes) to the store's secret file. On
/// success `*out_reference` is its persistent reference, for the configuration's
/// `shared_secret_reference`; free it with `ikeway_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_store_add_secret(
    store: *mut IkewayStore,
    secret: *const u8,
    len: usize,
    out_reference: *mut *mut c_char,
) -> IkewayResult {
    guard(|| {
        let bytes = bytes_in(secret, len, "secret")?;
        out_ok(out_reference, "out_reference")?;
        let reference = STORES.with(store, "store", |s| {
            s.secrets()
                .add(&SecretBytes::from_slice(bytes))
                .map_err(|e| Failure::new(IkewayResult::Preferences, e.to_string()))
        })?;
        write_out(out_reference, string_out(reference.as_str()), "out_reference")
    })
}

/// Imports a `.mobileconfig` profile (`len` bytes, XML or binary plist; unsigned) and installs
/// each of its IKEv2 configurations as a managed configuration. On success
/// `*out_identifiers_json` is a JSON array of the installed payload identifiers; free it with
/// `ikeway_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_store_import_profile(
    store: *mut IkewayStore,
    profile: *const u8,
    len: usize,
    out_identifiers_json: *mut *mut c_char,
) -> IkewayResult {
    guard(|| {
        let bytes = bytes_in(profile, len, "profile")?;
        out_ok(out_identifiers_json, "out_identifiers_json")?;
        let installed = STORES.with(store, "store", |s| {
            let imported = import_profile(bytes, s.secrets())
                .map_err(|e| Failure::new(IkewayResult::Profile, e.to_string()))?;
            let mut installed = Vec::new();
            for vpn in imported.vpns {
                s.install_managed(
                    &vpn.payload_identifier,
                    &imported.display_name,
                    vpn.configuration,
                )
                .map_err(manager_error)?;
                installed.push(vpn.payload_identifier);
            }
            Ok(installed)
        })?;
        let json = serde_json::Value::from(installed).to_string();
        write_out(out_identifiers_json, string_out(&json), "out_identifiers_json")
    })
}

/// Removes the managed configuration with payload identifier `identifier`;
/// `IKEWAY_RESULT_NOT_FOUND` if there is none.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_store_remove_managed(
    store: *mut IkewayStore,
    identifier: *const c_char,
) -> IkewayResult {
    guard(|| {
        let identifier = str_in(identifier, "identifier")?;
        STORES.with(store, "store", |s| match s.remove_managed(identifier) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Failure::new(
                IkewayResult::NotFound,
                format!("no managed configuration {identifier:?}"),
            )),
            Err(e) => Err(manager_error(e)),
        })
    })
}

/// The manager of application identity `app_id` (e.g. `com.example.vpn`) in `store`, with an
/// empty configuration until `ikeway_manager_load`. Free it with `ikeway_manager_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_new(
    store: *mut IkewayStore,
    app_id: *const c_char,
    out_manager: *mut *mut IkewayManager,
) -> IkewayResult {
    guard(|| {
        let app_id = non_empty(str_in(app_id, "app_id")?, "app_id")?;
        out_ok(out_manager, "out_manager")?;
        let store = STORES.with(store, "store", |s| Ok(s.clone()))?;
        let mut state = ManagerState {
            manager: VpnManager::shared(app_id, store),
            watcher: None,
            tunnel: Arc::default(),
        };
        state.install_provider(ProviderOptions::default());
        let handle = MANAGERS.insert(state);
        write_out(out_manager, handle, "out_manager")
    })
}

/// Frees a manager handle (stopping its status callback). Freeing it twice is
/// `IKEWAY_RESULT_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_free(manager: *mut IkewayManager) -> IkewayResult {
    guard(|| MANAGERS.remove(manager, "manager").map(drop))
}

/// `loadFromPreferences`: reads this application's configuration (empty when none is saved).
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_load(manager: *mut IkewayManager) -> IkewayResult {
    guard(|| {
        MANAGERS
            .with(manager, "manager", |m| m.manager.load_from_preferences().map_err(manager_error))
    })
}

/// `saveToPreferences`: writes this application's configuration. Calling it is the user's
/// consent to add a VPN configuration: ask them before the first save.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_save(manager: *mut IkewayManager) -> IkewayResult {
    guard(|| {
        MANAGERS.with(manager, "manager", |m| {
            m.manager
                .save_to_preferences(&mut |_: &str, _: &VpnConfiguration| true)
                .map_err(manager_error)
        })
    })
}

/// `removeFromPreferences`: deletes this application's configuration.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_remove(manager: *mut IkewayManager) -> IkewayResult {
    guard(|| {
        MANAGERS.with(manager, "manager", |m| {
            m.manager.remove_from_preferences().map_err(manager_error)
        })
    })
}

/// The configuration as loaded and changed in memory, as JSON (the preferences file's form of
/// `VpnConfiguration`). Free `*out_json` with `ikeway_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_configuration_json(
    manager: *mut IkewayManager,
    out_json: *mut *mut c_char,
) -> IkewayResult {
    guard(|| {
        out_ok(out_json, "out_json")?;
        let json = MANAGERS.with(manager, "manager", |m| {
            serde_json::to_string(m.manager.configuration())
                .map_err(|e| Failure::new(IkewayResult::InvalidArgument, e.to_string()))
        })?;
        write_out(out_json, string_out(&json), "out_json")
    })
}

/// The configuration as a person reads it, grouped like Apple's settings screen (server,
/// identities, authentication, SA parameters, routing, on-demand), as `ikeway config show`
/// prints it; with `json` non-zero, the same as JSON for scripts. Free `*out_text` with
/// `ikeway_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_summary(
    manager: *mut IkewayManager,
    json: i32,
    out_text: *mut *mut c_char,
) -> IkewayResult {
    guard(|| {
        out_ok(out_text, "out_text")?;
        let text = MANAGERS.with(manager, "manager", |m| {
            let (name, configuration) = (m.manager.app_id(), m.manager.configuration());
            Ok(if json != 0 {
                summary_json(name, configuration, false).to_string()
            } else {
                Summary { name, configuration, managed: false }.to_string()
            })
        })?;
        write_out(out_text, string_out(&text), "out_text")
    })
}

/// What the running tunnel knows, as JSON: the server, the internal addresses and DNS from the
/// server, the IKE SA and child SAs (empty fields when no tunnel has come up), and why the last
/// connection ended: `last_disconnect_error` (the `NEVPNConnectionError` code, e.g. 19 for an
/// expired server certificate) and `last_disconnect_reason` (in words, e.g. which certificate
/// check failed), both null when it did not fail. Free `*out_json` with `ikeway_string_free`.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_tunnel_status_json(
    manager: *mut IkewayManager,
    out_json: *mut *mut c_char,
) -> IkewayResult {
    guard(|| {
        out_ok(out_json, "out_json")?;
        let json = MANAGERS.with(manager, "manager", |m| {
            let connection = m.manager.connection();
            let t = m.tunnel.lock().unwrap_or_else(|e| e.into_inner());
            let json = serde_json::json!({
                "last_disconnect_error": connection.last_disconnect_error().map(|e| e.raw()),
                "last_disconnect_reason": connection.last_disconnect_reason(),
                "server": t.server.map(|a| a.to_string()),
                "addresses": t.addresses,
                "dns": t.dns,
                "domains": t.domains,
                "banner": t.banner,
                "ike": t.ike,
                "children": t.children,
                "notes": t.notes,
                "host_error": t.host_error,
            });
            Ok(json.to_string())
        })?;
        write_out(out_json, string_out(&json), "out_json")
    })
}

/// Replaces the configuration in memory with `json` (the form
/// `ikeway_manager_configuration_json` gives); `ikeway_manager_save` writes it.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_set_configuration_json(
    manager: *mut IkewayManager,
    json: *const c_char,
) -> IkewayResult {
    guard(|| {
        let json = str_in(json, "json")?;
        let configuration: VpnConfiguration = serde_json::from_str(json).map_err(|e| {
            Failure::new(IkewayResult::InvalidArgument, format!("configuration JSON: {e}"))
        })?;
        MANAGERS.with(manager, "manager", |m| {
            *m.manager.configuration_mut() = configuration;
            Ok(())
        })
    })
}

/// How `ikeway_manager_start` runs the tunnel (an `ikeway_tunnel::Session`): child SAs into
/// the TUN device `tun` (created if missing; needs `CAP_NET_ADMIN`), or NULL for the
/// negotiation only; IKE from address `local`, or NULL for the address this host uses toward
/// the server; our UDP ports `ike_port` and `natt_port` (both 0: the standard 500 and 4500;
/// one of them 0 beside a set one: an ephemeral port for it); the server's IKE port
/// `server_port` (0: 500). Without this call: no
/// TUN, the automatic address, 500/4500 to the server's 500. A running tunnel is stopped first.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_set_tunnel_options(
    manager: *mut IkewayManager,
    tun: *const c_char,
    local: *const c_char,
    ike_port: u16,
    natt_port: u16,
    server_port: u16,
) -> IkewayResult {
    guard(|| {
        let tun = if tun.is_null() {
            None
        } else {
            Some(non_empty(str_in(tun, "tun")?, "tun")?.to_owned())
        };
        let local = if local.is_null() {
            None
        } else {
            let text = str_in(local, "local")?;
            Some(text.parse().map_err(|_| {
                Failure::new(
                    IkewayResult::InvalidArgument,
                    format!("local: {text:?} is not an IP address"),
                )
            })?)
        };
        let ports =
            (ike_port != 0 || natt_port != 0).then_some(Ports { ike: ike_port, natt: natt_port });
        let options = ProviderOptions {
            tun,
            local,
            ports,
            server_port: (server_port != 0).then_some(server_port),
            server: None,
            host: None,
            keylog: None,
            ikev1_timers: None,
        };
        MANAGERS.with(manager, "manager", |m| {
            m.install_provider(options);
            Ok(())
        })
    })
}

/// `startVPNTunnel`: starts connecting the saved configuration; status changes follow.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_start(manager: *mut IkewayManager) -> IkewayResult {
    guard(|| {
        MANAGERS.with(manager, "manager", |m| {
            m.manager.connection_mut().start_tunnel().map(drop).map_err(start_error)
        })
    })
}

/// `startVPNTunnelWithOptions`: as `ikeway_manager_start`, with
/// `NEVPNConnectionStartOptionUsername` / `...Password` for EAP, which take the place of the
/// configuration's `username` and stored password for this start only. `username` may be
/// NULL (the configured one); `password` is `password_len` bytes (NULL with 0: the stored
/// one). The password is copied into memory that is wiped when the tunnel no longer needs it.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_start_with_options(
    manager: *mut IkewayManager,
    username: *const c_char,
    password: *const u8,
    password_len: usize,
) -> IkewayResult {
    guard(|| {
        let username = if username.is_null() {
            None
        } else {
            Some(non_empty(str_in(username, "username")?, "username")?.to_owned())
        };
        let password = bytes_in(password, password_len, "password")?;
        if password.len() > MAX_PASSWORD {
            return Err(Failure::new(
                IkewayResult::InvalidArgument,
                format!("password: at most {MAX_PASSWORD} bytes"),
            ));
        }
        let options = StartOptions {
            username,
            password: (!password.is_empty()).then(|| SecretBytes::from_slice(password)),
        };
        MANAGERS.with(manager, "manager", |m| {
            m.manager
                .connection_mut()
                .start_tunnel_with_options(options)
                .map(drop)
                .map_err(start_error)
        })
    })
}

/// `stopVPNTunnel`.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_stop(manager: *mut IkewayManager) -> IkewayResult {
    guard(|| {
        MANAGERS.with(manager, "manager", |m| {
            m.manager.connection_mut().stop_tunnel();
            Ok(())
        })
    })
}

/// The connection's status.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_status(
    manager: *mut IkewayManager,
    out_status: *mut IkewayStatus,
) -> IkewayResult {
    guard(|| {
        out_ok(out_status, "out_status")?;
        let status = MANAGERS.with(manager, "manager", |m| Ok(m.manager.connection().status()))?;
        write_out(out_status, status.into(), "out_status")
    })
}

/// Calls `callback(ctx, from, to, error)` on a library thread after every status change from
/// now on, replacing any previous callback; NULL removes it. `ctx` must stay valid, and be
/// usable from that thread, until the callback is replaced or the manager freed.
#[unsafe(no_mangle)]
pub extern "C" fn ikeway_manager_set_status_callback(
    manager: *mut IkewayManager,
    callback: IkewayStatusCallback,
    ctx: *mut c_void,
) -> IkewayResult {
    guard(|| {
        let old = MANAGERS.with(manager, "manager", |m| {
            let old = m.watcher.take();
            m.watcher = callback.map(|cb| Watcher::start(&m.manager, cb, Context(ctx)));
            Ok(old)
        })?;
        // Outside the manager's lock: the old callback may be running and calling in.
        if let Some(w) = old {
            w.stop();
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, CString};

    use super::*;
    use crate::handles::PANIC_INSIDE;

    #[test]
    fn a_panic_inside_a_call_is_a_code_and_the_handle_still_works() {
        let dir = tempfile::tempdir().unwrap();
        let path = CString::new(dir.path().to_str().unwrap()).unwrap();
        let mut store = std::ptr::null_mut();
        assert_eq!(ikeway_store_open(path.as_ptr(), &mut store), IkewayResult::Ok);
        let mut manager = std::ptr::null_mut();
        assert_eq!(
            ikeway_manager_new(store, c"com.example.vpn".as_ptr(), &mut manager),
            IkewayResult::Ok
        );

        PANIC_INSIDE.with(|p| p.set(true));
        assert_eq!(ikeway_manager_load(manager), IkewayResult::Panic);
        let message = crate::ikeway_last_error_message();
        // SAFETY: a non-NULL result is a NUL-terminated string this library allocated.
        let text = unsafe { CStr::from_ptr(message) }.to_str().unwrap().to_owned();
        assert_eq!(
            text,
            "internal error (a bug in ikeway): injected while holding the manager lock"
        );
        assert_eq!(crate::ikeway_string_free(message), IkewayResult::Ok);

        // The lock the panic poisoned is taken again: the handle keeps working.
        assert_eq!(ikeway_manager_load(manager), IkewayResult::Ok);
        let mut status = IkewayStatus::Connected;
        assert_eq!(ikeway_manager_status(manager, &mut status), IkewayResult::Ok);
        assert_eq!(status, IkewayStatus::Invalid);
        assert_eq!(ikeway_manager_free(manager), IkewayResult::Ok);
        assert_eq!(ikeway_store_free(store), IkewayResult::Ok);
    }
}
