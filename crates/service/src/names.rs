//! How configurations are named: the CLI saves its own under the application identity
//! `ikeway-cli/NAME`; a managed one (from a profile) goes by its description, else its
//! payload identifier. The CLI and the daemon look names up the same way, here.

use ikeway_manager::{
    ManagerError, Owner, PreferencesError, PreferencesStore, VpnConfiguration, VpnManager,
};

/// The application identity prefix of the CLI's configurations.
pub const APP_PREFIX: &str = "ikeway-cli/";

/// A configuration of the store under its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    pub configuration: VpnConfiguration,
    /// Installed from a profile (managed) rather than made by `config add`.
    pub managed: bool,
    /// The user who created or imported it (`SUDO_UID` when that was root through sudo),
    /// when recorded: that user may read its connection's status.
    pub owner_uid: Option<u32>,
}

/// Every configuration of the store: the CLI's, then the managed ones.
pub fn configurations(store: &PreferencesStore) -> Result<Vec<Named>, PreferencesError> {
    let mut out = Vec::new();
    for (app, configuration) in store.personal_configurations()? {
        if let Some(name) = app.strip_prefix(APP_PREFIX) {
            let owner_uid = store.owner_uid(&Owner::App(app.clone()))?;
            out.push(Named { name: name.to_owned(), configuration, managed: false, owner_uid });
        }
    }
    for m in store.managed_configurations()? {
        let name = if m.configuration.localized_description.is_empty() {
            m.identifier.clone()
        } else {
            m.configuration.localized_description.clone()
        };
        let owner_uid = store.owner_uid(&Owner::Managed(m.identifier.clone()))?;
        out.push(Named { name, configuration: m.configuration, managed: true, owner_uid });
    }
    Ok(out)
}

/// The configuration named `name`, if there is one.
pub fn find(store: &PreferencesStore, name: &str) -> Result<Option<Named>, PreferencesError> {
    Ok(configurations(store)?.into_iter().find(|n| n.name == name))
}

/// Enables the configuration `name` (connecting is the user's switch, which disables the
/// others); `false` when there is none by that name.
pub fn enable(store: &PreferencesStore, name: &str) -> Result<bool, ManagerError> {
    if let Some(m) = store
        .managed_configurations()?
        .into_iter()
        .find(|m| m.configuration.localized_description == name || m.identifier == name)
    {
        store.set_managed_enabled(&m.identifier, true)?;
        return Ok(true);
    }
    let mut manager = VpnManager::shared(format!("{APP_PREFIX}{name}"), store.clone());
    manager.load_from_preferences()?;
    if manager.configuration().is_empty() {
        return Ok(false);
    }
    manager.configuration_mut().enabled = true;
    manager.save_to_preferences(&mut |_: &str, _: &VpnConfiguration| true)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ikeway_manager::Ikev2Protocol;

    #[test]
    fn finds_and_enables_by_the_clis_names_with_their_owner() {
        let dir = tempfile::tempdir().unwrap();
        let store = PreferencesStore::in_dir(dir.path()).with_creator(4242);
        for name in ["office", "home"] {
            let mut m = VpnManager::shared(format!("{APP_PREFIX}{name}"), store.clone());
            m.load_from_preferences().unwrap();
            m.configuration_mut().protocol = Some(Ikev2Protocol::new("vpn.example"));
            m.save_to_preferences(&mut |_: &str, _: &VpnConfiguration| true).unwrap();
        }
        // Another application's configuration has no CLI name.
        let mut other = VpnManager::shared("com.example.app", store.clone());
        other.load_from_preferences().unwrap();
        other.configuration_mut().protocol = Some(Ikev2Protocol::new("vpn.example"));
        other.save_to_preferences(&mut |_: &str, _: &VpnConfiguration| true).unwrap();
        let names: Vec<String> =
            configurations(&store).unwrap().into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["home", "office"]);
        let office = find(&store, "office").unwrap().unwrap();
        assert_eq!(
            (office.owner_uid, office.managed, office.configuration.enabled),
            (Some(4242), false, false)
        );
        assert!(find(&store, "com.example.app").unwrap().is_none());
        assert!(enable(&store, "office").unwrap());
        assert!(find(&store, "office").unwrap().unwrap().configuration.enabled);
        assert!(enable(&store, "home").unwrap());
        assert!(!find(&store, "office").unwrap().unwrap().configuration.enabled, "one enabled");
        assert!(!enable(&store, "missing").unwrap());
    }
}
