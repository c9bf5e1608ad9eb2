//! The preferences store and the per-application manager (`NEVPNManager`).
//!
//! One file per user (`$XDG_CONFIG_HOME/ikeway/preferences.json`) holds:
//! - personal configurations, one per application identity, saved by that application's
//!   [`VpnManager`] after the user consented once ([`Authorizer`]);
//! - managed configurations, installed from configuration profiles, which applications cannot
//!   change and which take the default route before any personal one.
//!
//! Secrets are never in this file: configurations hold [`crate::PersistentRef`]s into the
//! [`SecretStore`] beside it. Writes replace the file atomically; a file that does not parse
//! is reported with its path and line and left alone.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::atomic::{self, FailAt};
use crate::connection::{NoProvider, TunnelProvider, VpnConnection};
use crate::model::VpnConfiguration;
use crate::secrets::{SecretError, SecretStore};

const FORMAT_VERSION: u32 = 1;
const PREFERENCES_FILE: &str = "preferences.json";
const SECRETS_FILE: &str = "secrets.json";

/// Errors reading or writing the preferences file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreferencesError {
    #[error(
        "preferences file {path} is corrupt at line {line}, column {column}: {message}; \
         it was left unchanged: fix or move it away"
    )]
    Corrupt { path: PathBuf, line: usize, column: usize, message: String },
    #[error(
        "preferences file {path} has format version {found}; this ikeway reads version {FORMAT_VERSION}"
    )]
    UnknownVersion { path: PathBuf, found: u32 },
    #[error("preferences file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cannot find the configuration directory: neither XDG_CONFIG_HOME nor HOME is set")]
    NoConfigDir,
}

/// Errors of [`VpnManager`] and [`PreferencesStore`] operations (`NEVPNErrorDomain`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManagerError {
    /// `NEVPNErrorConfigurationInvalid` (1).
    #[error("the VPN configuration is invalid: {0}")]
    ConfigurationInvalid(&'static str),
    /// `NEVPNErrorConfigurationStale` (4): changed elsewhere since it was loaded.
    #[error("the VPN configuration of {app_id} changed since it was loaded; load it again")]
    Stale { app_id: String },
    /// `NEVPNErrorConfigurationReadWriteFailed` (5): the user refused.
    #[error("permission denied: the user did not allow {app_id} to add a VPN configuration")]
    PermissionDenied { app_id: String },
    /// `NEVPNErrorConfigurationReadWriteFailed` (5): a managed configuration is read-only.
    #[error("{identifier} is a managed configuration and cannot be changed by applications")]
    ReadOnly { identifier: String },
    /// `NEVPNErrorConfigurationReadWriteFailed` (5).
    #[error(transparent)]
    Preferences(#[from] PreferencesError),
    /// `NEVPNErrorConfigurationReadWriteFailed` (5).
    #[error(transparent)]
    Secret(#[from] SecretError),
}

impl ManagerError {
    /// The `NEVPNErrorDomain` code.
    pub fn code(&self) -> i64 {
        match self {
            Self::ConfigurationInvalid(_) => 1,
            Self::Stale { .. } => 4,
            _ => 5,
        }
    }
}

/// Asks the user whether an application may add a VPN configuration (Apple's "“App” Would
/// Like to Add VPN Configurations" prompt). Asked once per application, on its first save.
pub trait Authorizer {
    fn authorize(&mut self, app_id: &str, configuration: &VpnConfiguration) -> bool;
}

impl<F: FnMut(&str, &VpnConfiguration) -> bool> Authorizer for F {
    fn authorize(&mut self, app_id: &str, configuration: &VpnConfiguration) -> bool {
        self(app_id, configuration)
    }
}

/// Who owns a configuration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// A personal configuration of this application identity.
    App(String),
    /// A managed configuration installed from a profile with this payload identifier.
    Managed(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    /// Incremented on every save; a manager saving over a revision it did not load is stale.
    revision: u64,
    configuration: VpnConfiguration,
    /// The user who created it (see [`PreferencesStore::with_creator`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_uid: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredManaged {
    /// The profile's display name, for listings.
    profile_name: String,
    configuration: VpnConfiguration,
    /// The user who installed it (see [`PreferencesStore::with_creator`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_uid: Option<u32>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct PreferencesFile {
    version: u32,
    authorized_apps: BTreeSet<String>,
    personal: BTreeMap<String, Stored>,
    managed: BTreeMap<String, StoredManaged>,
}

/// The per-user preferences file and the secret store beside it.
#[derive(Debug, Clone)]
pub struct PreferencesStore {
    path: PathBuf,
    secrets: SecretStore,
    fail_at: FailAt,
    /// Recorded as the owner of configurations this handle creates.
    creator: Option<u32>,
}

/// A managed configuration and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedConfiguration {
    pub identifier: String,
    pub profile_name: String,
    pub configuration: VpnConfiguration,
}

impl PreferencesStore {
    /// `$XDG_CONFIG_HOME/ikeway/` (or `~/.config/ikeway/`).
    pub fn default_dir() -> Result<PathBuf, PreferencesError> {
        let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(x) => PathBuf::from(x),
            None => PathBuf::from(
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .ok_or(PreferencesError::NoConfigDir)?,
            )
            .join(".config"),
        };
        Ok(base.join("ikeway"))
    }

    /// The store in [`Self::default_dir`].
    pub fn open_default() -> Result<Self, PreferencesError> {
        Ok(Self::in_dir(Self::default_dir()?))
    }

    /// `preferences.json` and `secrets.json` in `dir` (created on first save).
    pub fn in_dir(dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        Self::new(dir.join(PREFERENCES_FILE), SecretStore::open(dir.join(SECRETS_FILE)))
    }

    pub fn new(path: impl Into<PathBuf>, secrets: SecretStore) -> Self {
        Self { path: path.into(), secrets, fail_at: None, creator: None }
    }

    /// This handle records `uid` as the owner of every configuration it creates (a personal
    /// one saved for the first time, a managed one installed); one that exists keeps its
    /// owner. A service running as root lets the owner read the connection's status.
    pub fn with_creator(mut self, uid: u32) -> Self {
        self.creator = Some(uid);
        self
    }

    /// The uid recorded as the owner of `configuration`, if any.
    pub fn owner_uid(&self, configuration: &Owner) -> Result<Option<u32>, PreferencesError> {
        let file = self.load()?;
        Ok(match configuration {
            Owner::App(id) => file.personal.get(id).and_then(|s| s.owner_uid),
            Owner::Managed(id) => file.managed.get(id).and_then(|m| m.owner_uid),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    #[cfg(test)]
    pub(crate) fn fail_at(&mut self, step: FailAt) {
        self.fail_at = step;
    }

    fn io(&self, source: io::Error) -> PreferencesError {
        PreferencesError::Io { path: self.path.clone(), source }
    }

    fn load(&self) -> Result<PreferencesFile, PreferencesError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(PreferencesFile { version: FORMAT_VERSION, ..Default::default() });
            }
            Err(e) => return Err(self.io(e)),
        };
        let file: PreferencesFile =
            serde_json::from_str(&text).map_err(|e| PreferencesError::Corrupt {
                path: self.path.clone(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        if file.version != FORMAT_VERSION {
            return Err(PreferencesError::UnknownVersion {
                path: self.path.clone(),
                found: file.version,
            });
        }
        Ok(file)
    }

    fn store(&self, file: &PreferencesFile) -> Result<(), PreferencesError> {
        let mut text =
            serde_json::to_string_pretty(file).map_err(|e| self.io(io::Error::other(e)))?;
        text.push('\n');
        atomic::write_atomic(&self.path, text.as_bytes(), 0o644, self.fail_at)
            .map_err(|e| self.io(e))
    }

    /// Reads, changes and writes the file; nothing is written if `f` fails.
    fn update<T>(
        &self,
        f: impl FnOnce(&mut PreferencesFile) -> Result<T, ManagerError>,
    ) -> Result<T, ManagerError> {
        let mut file = self.load()?;
        let out = f(&mut file)?;
        file.version = FORMAT_VERSION;
        self.store(&file)?;
        Ok(out)
    }

    /// Every application's personal configuration.
    pub fn personal_configurations(
        &self,
    ) -> Result<Vec<(String, VpnConfiguration)>, PreferencesError> {
        Ok(self.load()?.personal.into_iter().map(|(k, v)| (k, v.configuration)).collect())
    }

    /// Every managed configuration.
    pub fn managed_configurations(&self) -> Result<Vec<ManagedConfiguration>, PreferencesError> {
        Ok(self
            .load()?
            .managed
            .into_iter()
            .map(|(identifier, m)| ManagedConfiguration {
                identifier,
                profile_name: m.profile_name,
                configuration: m.configuration,
            })
            .collect())
    }

    /// Installs (or replaces) a managed configuration from a profile. This is the user's or
    /// administrator's act, so no application authorization applies.
    pub fn install_managed(
        &self,
        identifier: &str,
        profile_name: &str,
        configuration: VpnConfiguration,
    ) -> Result<(), ManagerError> {
        if configuration.protocol.is_none() && configuration.ipsec.is_none() {
            return Err(ManagerError::ConfigurationInvalid(
                "a managed configuration needs a protocol",
            ));
        }
        check_protocol(&configuration)?;
        self.update(|f| {
            let owner_uid = f.managed.get(identifier).map_or(self.creator, |m| m.owner_uid);
            f.managed.insert(
                identifier.to_owned(),
                StoredManaged { profile_name: profile_name.to_owned(), configuration, owner_uid },
            );
            Ok(())
        })
    }

    /// Removes a managed configuration; `false` if there was none.
    pub fn remove_managed(&self, identifier: &str) -> Result<bool, ManagerError> {
        if !self.load()?.managed.contains_key(identifier) {
            return Ok(false);
        }
        self.update(|f| Ok(f.managed.remove(identifier).is_some()))
    }

    /// Enables or disables a managed configuration (the user's switch in settings).
    pub fn set_managed_enabled(&self, identifier: &str, enabled: bool) -> Result<(), ManagerError> {
        self.update(|f| {
            let m = f.managed.get_mut(identifier).ok_or(ManagerError::ConfigurationInvalid(
                "no managed configuration with this identifier",
            ))?;
            m.configuration.enabled = enabled;
            Ok(())
        })
    }

    /// Whose enabled configuration gets the default route: an enabled managed configuration
    /// before any personal one (then the first by identifier), else the enabled personal one.
    pub fn default_route_owner(&self) -> Result<Option<Owner>, PreferencesError> {
        let file = self.load()?;
        if let Some((id, _)) = file.managed.iter().find(|(_, m)| m.configuration.enabled) {
            return Ok(Some(Owner::Managed(id.clone())));
        }
        Ok(file
            .personal
            .iter()
            .find(|(_, s)| s.configuration.enabled)
            .map(|(id, _)| Owner::App(id.clone())))
    }

    /// Whether `app_id` was authorized to add configurations.
    pub fn is_authorized(&self, app_id: &str) -> Result<bool, PreferencesError> {
        Ok(self.load()?.authorized_apps.contains(app_id))
    }
}

/// `NEVPNManager`: the VPN configuration of one application identity.
///
/// Obtain it with [`VpnManager::shared`]; [`Self::load_from_preferences`] before changing and
/// [`Self::save_to_preferences`] after, as with Apple's API.
#[derive(Debug)]
pub struct VpnManager {
    app_id: String,
    store: PreferencesStore,
    configuration: VpnConfiguration,
    /// The revision loaded or saved last; `None` if nothing was saved when we loaded.
    revision: Option<u64>,
    loaded: bool,
    connection: VpnConnection,
}

impl VpnManager {
    /// The manager of `app_id` in `store`, holding an empty configuration until loaded.
    pub fn shared(app_id: impl Into<String>, store: PreferencesStore) -> Self {
        let secrets = Box::new(store.secrets().clone());
        Self {
            app_id: app_id.into(),
            store,
            configuration: VpnConfiguration::default(),
            revision: None,
            loaded: false,
            connection: VpnConnection::new(Box::new(NoProvider), secrets),
        }
    }

    /// Installs the tunnel provider that [`VpnConnection::start_tunnel`] uses.
    pub fn set_tunnel_provider(&mut self, provider: Box<dyn TunnelProvider>) {
        self.connection.set_provider(provider);
    }

    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    pub fn store(&self) -> &PreferencesStore {
        &self.store
    }

    /// The configuration as loaded and changed in memory.
    pub fn configuration(&self) -> &VpnConfiguration {
        &self.configuration
    }

    /// Changes take effect on [`Self::save_to_preferences`].
    pub fn configuration_mut(&mut self) -> &mut VpnConfiguration {
        &mut self.configuration
    }

    pub fn connection(&self) -> &VpnConnection {
        &self.connection
    }

    pub fn connection_mut(&mut self) -> &mut VpnConnection {
        &mut self.connection
    }

    /// `loadFromPreferences`: reads this application's configuration; with nothing saved the
    /// configuration is empty, as with Apple's API.
    pub fn load_from_preferences(&mut self) -> Result<(), ManagerError> {
        let file = self.store.load()?;
        match file.personal.get(&self.app_id) {
            Some(s) => {
                self.configuration = s.configuration.clone();
                self.revision = Some(s.revision);
                self.connection.set_configuration(Some(s.configuration.clone()));
            }
            None => {
                self.configuration = VpnConfiguration::default();
                self.revision = None;
                self.connection.set_configuration(None);
            }
        }
        self.loaded = true;
        Ok(())
    }

    /// `saveToPreferences`: writes this application's configuration. The first save of an
    /// application asks `authorizer`; a refusal writes nothing. Enabling this configuration
    /// disables the other applications' ones.
    pub fn save_to_preferences(
        &mut self,
        authorizer: &mut dyn Authorizer,
    ) -> Result<(), ManagerError> {
        check_protocol(&self.configuration)?;
        let app_id = self.app_id.clone();
        let loaded = (self.loaded, self.revision);
        let configuration = self.configuration.clone();
        let creator = self.store.creator;
        let revision = self.store.update(|f| {
            let current = f.personal.get(&app_id).map(|s| s.revision);
            // A save that did not start from what is stored would overwrite someone's change.
            if current.is_some() && (!loaded.0 || current != loaded.1) {
                return Err(ManagerError::Stale { app_id: app_id.clone() });
            }
            if !f.authorized_apps.contains(&app_id) {
                if !authorizer.authorize(&app_id, &configuration) {
                    return Err(ManagerError::PermissionDenied { app_id: app_id.clone() });
                }
                f.authorized_apps.insert(app_id.clone());
            }
            if configuration.enabled {
                for (other, s) in f.personal.iter_mut() {
                    if *other != app_id && s.configuration.enabled {
                        s.configuration.enabled = false;
                        s.revision += 1;
                    }
                }
            }
            let revision = current.map_or(1, |r| r + 1);
            let owner_uid = f.personal.get(&app_id).map_or(creator, |s| s.owner_uid);
            let stored = Stored { revision, configuration: configuration.clone(), owner_uid };
            f.personal.insert(app_id.clone(), stored);
            Ok(revision)
        })?;
        self.revision = Some(revision);
        self.loaded = true;
        self.connection.set_configuration(Some(self.configuration.clone()));
        Ok(())
    }

    /// `removeFromPreferences`: deletes this application's configuration and its
    /// authorization (the next save asks again). Secrets it referenced stay in the secret
    /// store; the application removes them if it wants.
    pub fn remove_from_preferences(&mut self) -> Result<(), ManagerError> {
        let app_id = self.app_id.clone();
        let file = self.store.load()?;
        if file.personal.contains_key(&app_id) || file.authorized_apps.contains(&app_id) {
            self.store.update(|f| {
                f.personal.remove(&app_id);
                f.authorized_apps.remove(&app_id);
                Ok(())
            })?;
        }
        self.configuration = VpnConfiguration::default();
        self.revision = None;
        self.connection.set_configuration(None);
        Ok(())
    }
}

/// A configuration can be saved with exactly one protocol (Apple's single
/// `protocolConfiguration`) and a server address.
fn check_protocol(configuration: &VpnConfiguration) -> Result<(), ManagerError> {
    if configuration.protocol.is_some() && configuration.ipsec.is_some() {
        return Err(ManagerError::ConfigurationInvalid(
            "the configuration has both an IKEv2 and an IPSec protocol; one is allowed",
        ));
    }
    match configuration.server_address() {
        None => Err(ManagerError::ConfigurationInvalid("the configuration has no protocol")),
        Some(s) if s.trim().is_empty() => {
            Err(ManagerError::ConfigurationInvalid("the server address is empty"))
        }
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomic::Step;
    use crate::model::{AuthenticationMethod, Ikev2Protocol};
    use ikeway_crypto::SecretBytes;

    fn allow() -> impl FnMut(&str, &VpnConfiguration) -> bool {
        |_: &str, _: &VpnConfiguration| true
    }

    fn configured(m: &mut VpnManager, server: &str, enabled: bool) {
        let c = m.configuration_mut();
        c.localized_description = format!("VPN to {server}");
        c.enabled = enabled;
        c.protocol = Some(Ikev2Protocol::new(server));
    }

    #[test]
    fn nothing_saved_loads_empty() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = VpnManager::shared("app", PreferencesStore::in_dir(dir.path()));
        m.load_from_preferences().unwrap();
        assert!(m.configuration().is_empty());
        assert_eq!(m.connection().status(), crate::VpnStatus::Invalid);
        assert!(!dir.path().join(PREFERENCES_FILE).exists());
    }

    /// Issue 14: the creator is recorded once, when a configuration is created, and kept by
    /// later saves through other handles; a file written before the field existed loads.
    #[test]
    fn the_creator_owns_what_it_creates_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let by_4242 = PreferencesStore::in_dir(dir.path()).with_creator(4242);
        let mut m = VpnManager::shared("app", by_4242.clone());
        m.load_from_preferences().unwrap();
        configured(&mut m, "vpn.example.com", true);
        m.save_to_preferences(&mut allow()).unwrap();
        let app = Owner::App("app".into());
        assert_eq!(by_4242.owner_uid(&app).unwrap(), Some(4242));
        // Root edits it later: the owner stays.
        let by_root = PreferencesStore::in_dir(dir.path()).with_creator(0);
        let mut again = VpnManager::shared("app", by_root.clone());
        again.load_from_preferences().unwrap();
        again.configuration_mut().localized_description = "edited".into();
        again.save_to_preferences(&mut allow()).unwrap();
        assert_eq!(by_root.owner_uid(&app).unwrap(), Some(4242));
        // A handle without a creator records none.
        let plain = PreferencesStore::in_dir(dir.path());
        let mut other = VpnManager::shared("other", plain.clone());
        other.load_from_preferences().unwrap();
        configured(&mut other, "vpn2.example.com", false);
        other.save_to_preferences(&mut allow()).unwrap();
        assert_eq!(plain.owner_uid(&Owner::App("other".into())).unwrap(), None);
        // Managed: recorded on install, kept on reinstall by someone else.
        let managed = VpnConfiguration {
            protocol: Some(Ikev2Protocol::new("corp.example")),
            ..VpnConfiguration::default()
        };
        by_4242.install_managed("corp", "Corp", managed.clone()).unwrap();
        by_root.install_managed("corp", "Corp", managed).unwrap();
        assert_eq!(plain.owner_uid(&Owner::Managed("corp".into())).unwrap(), Some(4242));
        // The file says so; one without the field loads with no owner.
        let text = std::fs::read_to_string(plain.path()).unwrap();
        assert_eq!(text.matches("\"owner_uid\": 4242").count(), 2, "{text}");
        std::fs::write(plain.path(), text.replace("\"owner_uid\": 4242", "\"unused\": 0")).unwrap();
        assert_eq!(plain.owner_uid(&app).unwrap(), None);
    }

    #[test]
    fn save_load_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = PreferencesStore::in_dir(dir.path());
        let mut m = VpnManager::shared("app", store.clone());
        m.load_from_preferences().unwrap();
        configured(&mut m, "vpn.example.com", true);
        m.save_to_preferences(&mut allow()).unwrap();
        assert_eq!(m.connection().status(), crate::VpnStatus::Disconnected);

        let mut again = VpnManager::shared("app", store.clone());
        again.load_from_preferences().unwrap();
        assert_eq!(again.configuration(), m.configuration());
        again.remove_from_preferences().unwrap();
        assert!(again.configuration().is_empty());
        assert_eq!(again.connection().status(), crate::VpnStatus::Invalid);
        let mut third = VpnManager::shared("app", store.clone());
        third.load_from_preferences().unwrap();
        assert!(third.configuration().is_empty());
        assert!(!store.is_authorized("app").unwrap());
    }

    #[test]
    fn first_save_needs_consent_and_refusal_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = PreferencesStore::in_dir(dir.path());
        let mut m = VpnManager::shared("com.example.app", store.clone());
        m.load_from_preferences().unwrap();
        configured(&mut m, "vpn.example.com", false);
        let mut asked = Vec::new();
        let mut deny = |app: &str, c: &VpnConfiguration| {
            asked.push((app.to_owned(), c.localized_description.clone()));
            false
        };
        let err = m.save_to_preferences(&mut deny).unwrap_err();
        assert!(matches!(err, ManagerError::PermissionDenied { .. }), "{err}");
        assert_eq!(err.code(), 5);
        assert_eq!(asked, [("com.example.app".to_owned(), "VPN to vpn.example.com".to_owned())]);
        assert!(!store.path().exists());

        m.save_to_preferences(&mut allow()).unwrap();
        // Consent is remembered: later saves do not ask.
        m.configuration_mut().enabled = true;
        m.save_to_preferences(&mut |_: &str, _: &VpnConfiguration| panic!("asked twice")).unwrap();
        assert!(store.is_authorized("com.example.app").unwrap());
    }

    #[test]
    fn save_without_protocol_is_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = VpnManager::shared("app", PreferencesStore::in_dir(dir.path()));
        m.load_from_preferences().unwrap();
        let err = m.save_to_preferences(&mut allow()).unwrap_err();
        assert_eq!(err.code(), 1);
    }

    #[test]
    fn enabling_one_disables_the_other_apps() {
        let dir = tempfile::tempdir().unwrap();
        let store = PreferencesStore::in_dir(dir.path());
        let mut a = VpnManager::shared("a", store.clone());
        let mut b = VpnManager::shared("b", store.clone());
        a.load_from_preferences().unwrap();
        b.load_from_preferences().unwrap();
        configured(&mut a, "a.example", true);
        a.save_to_preferences(&mut allow()).unwrap();
        assert_eq!(store.default_route_owner().unwrap(), Some(Owner::App("a".into())));
        configured(&mut b, "b.example", true);
        b.save_to_preferences(&mut allow()).unwrap();
        let all = store.personal_configurations().unwrap();
        assert_eq!(
            all.iter().map(|(k, c)| (k.as_str(), c.enabled)).collect::<Vec<_>>(),
            [("a", false), ("b", true)]
        );
        assert_eq!(store.default_route_owner().unwrap(), Some(Owner::App("b".into())));
        // a's in-memory copy is now stale: saving it must not silently re-enable it.
        let err = a.save_to_preferences(&mut allow()).unwrap_err();
        assert!(matches!(err, ManagerError::Stale { .. }), "{err}");
        assert_eq!(err.code(), 4);
        a.load_from_preferences().unwrap();
        assert!(!a.configuration().enabled);
    }

    #[test]
    fn save_before_load_over_a_stored_configuration_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        let store = PreferencesStore::in_dir(dir.path());
        let mut a = VpnManager::shared("a", store.clone());
        configured(&mut a, "a.example", false);
        a.save_to_preferences(&mut allow()).unwrap();
        let mut a2 = VpnManager::shared("a", store);
        configured(&mut a2, "other.example", false);
        assert!(matches!(a2.save_to_preferences(&mut allow()), Err(ManagerError::Stale { .. })));
    }

    #[test]
    fn managed_configurations_take_the_default_route() {
        let dir = tempfile::tempdir().unwrap();
        let store = PreferencesStore::in_dir(dir.path());
        let mut a = VpnManager::shared("a", store.clone());
        a.load_from_preferences().unwrap();
        configured(&mut a, "a.example", true);
        a.save_to_preferences(&mut allow()).unwrap();
        let managed = VpnConfiguration {
            localized_description: "Corp".into(),
            enabled: true,
            protocol: Some(Ikev2Protocol::new("corp.example")),
            ..Default::default()
        };
        store.install_managed("com.example.corp.vpn", "Corp profile", managed.clone()).unwrap();
        assert_eq!(
            store.default_route_owner().unwrap(),
            Some(Owner::Managed("com.example.corp.vpn".into()))
        );
        // The personal one stays enabled: managed ones do not belong to an application.
        a.load_from_preferences().unwrap();
        assert!(a.configuration().enabled);
        // An application's manager never sees or changes the managed configuration.
        let mut m = VpnManager::shared("com.example.corp.vpn", store.clone());
        m.load_from_preferences().unwrap();
        assert!(m.configuration().is_empty());
        assert_eq!(store.managed_configurations().unwrap()[0].configuration, managed);
        store.set_managed_enabled("com.example.corp.vpn", false).unwrap();
        assert_eq!(store.default_route_owner().unwrap(), Some(Owner::App("a".into())));
        assert!(store.remove_managed("com.example.corp.vpn").unwrap());
        assert!(!store.remove_managed("com.example.corp.vpn").unwrap());
    }

    #[test]
    fn corrupt_file_names_file_and_line_and_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = PreferencesStore::in_dir(dir.path());
        let corrupt = "{\n  \"version\": 1,\n  \"personal\": {\n    \"a\": nope\n  }\n}\n";
        fs::write(store.path(), corrupt).unwrap();
        let mut m = VpnManager::shared("a", store.clone());
        let err = m.load_from_preferences().unwrap_err().to_string();
        assert!(err.contains("preferences.json") && err.contains("line 4"), "{err}");
        configured(&mut m, "x.example", true);
        let err = m.save_to_preferences(&mut allow()).unwrap_err().to_string();
        assert!(err.contains("line 4"), "{err}");
        assert!(m.remove_from_preferences().is_err());
        assert!(store.install_managed("x", "x", m.configuration().clone()).is_err());
        assert_eq!(fs::read_to_string(store.path()).unwrap(), corrupt);
    }

    #[test]
    fn newer_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = PreferencesStore::in_dir(dir.path());
        fs::write(store.path(), "{\"version\": 7}").unwrap();
        let err = store.personal_configurations().unwrap_err().to_string();
        assert!(err.contains("version 7"), "{err}");
    }

    #[test]
    fn failed_save_at_any_step_keeps_the_previous_file() {
        for step in Step::ALL {
            let dir = tempfile::tempdir().unwrap();
            let mut store = PreferencesStore::in_dir(dir.path());
            let mut m = VpnManager::shared("a", store.clone());
            m.load_from_preferences().unwrap();
            configured(&mut m, "old.example", true);
            m.save_to_preferences(&mut allow()).unwrap();
            let before = fs::read(store.path()).unwrap();

            store.fail_at(Some(step));
            let mut failing = VpnManager::shared("a", store.clone());
            failing.load_from_preferences().unwrap();
            configured(&mut failing, "new.example", true);
            let result = failing.save_to_preferences(&mut allow());
            let mut reader = VpnManager::shared("a", PreferencesStore::in_dir(dir.path()));
            reader.load_from_preferences().unwrap();
            let server = &reader.configuration().protocol.as_ref().unwrap().server_address;
            assert!(result.is_err(), "{step:?}");
            if step == Step::SyncDir {
                // Renamed but not known durable: either whole file is acceptable.
                assert!(server == "new.example" || server == "old.example");
            } else {
                assert_eq!(fs::read(store.path()).unwrap(), before, "{step:?}");
                assert_eq!(server, "old.example", "{step:?}");
            }
            let names: Vec<_> =
                fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert_eq!(names, [PREFERENCES_FILE], "{step:?}: leftover files");
        }
    }

    #[test]
    fn preferences_never_contain_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let store = PreferencesStore::in_dir(dir.path());
        let secret = SecretBytes::from_slice(b"correct-horse-battery-staple");
        let reference = store.secrets().add(&secret).unwrap();
        let mut m = VpnManager::shared("a", store.clone());
        m.load_from_preferences().unwrap();
        configured(&mut m, "vpn.example", true);
        let p = m.configuration_mut().protocol.as_mut().unwrap();
        p.authentication_method = AuthenticationMethod::SharedSecret;
        p.shared_secret_reference = Some(reference.clone());
        m.save_to_preferences(&mut allow()).unwrap();
        let text = fs::read_to_string(store.path()).unwrap();
        assert!(text.contains(reference.as_str()));
        assert!(!text.contains("correct-horse"));
        assert!(!text.contains(&hex::encode(secret.expose())));
        let debug = format!("{m:?}");
        assert!(!debug.contains("correct-horse") && !debug.contains(&hex::encode(secret.expose())));
    }

    #[test]
    fn default_dir_follows_xdg() {
        // Read-only check of the rule without touching the process environment.
        let dir = PreferencesStore::default_dir();
        if let Ok(d) = dir {
            assert!(d.ends_with("ikeway"));
        }
    }
}
