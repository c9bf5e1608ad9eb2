//! How configurations are named: the CLI saves its own under the application identity
//! `ikeway-cli/NAME`; a managed one (from a profile) goes by its description, else its
//! payload identifier. The CLI and the daemon look names up the same way, here.

use ikeway_manager::{PreferencesError, PreferencesStore, VpnConfiguration};

/// The application identity prefix of the CLI's configurations.
pub const APP_PREFIX: &str = "ikeway-cli/";

/// A configuration of the store under its name.
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    pub name: String,
    pub configuration: VpnConfiguration,
    /// Installed from a profile (managed) rather than made by `config add`.
    pub managed: bool,
}

/// Every configuration of the store: the CLI's, then the managed ones.
pub fn configurations(store: &PreferencesStore) -> Result<Vec<Named>, PreferencesError> {
    let mut out = Vec::new();
    for (app, configuration) in store.personal_configurations()? {
        if let Some(name) = app.strip_prefix(APP_PREFIX) {
            out.push(Named { name: name.to_owned(), configuration, managed: false });
        }
    }
    for m in store.managed_configurations()? {
        let name = if m.configuration.localized_description.is_empty() {
            m.identifier
        } else {
            m.configuration.localized_description.clone()
        };
        out.push(Named { name, configuration: m.configuration, managed: true });
    }
    Ok(out)
}

/// The configuration named `name`, if there is one.
pub fn find(store: &PreferencesStore, name: &str) -> Result<Option<Named>, PreferencesError> {
    Ok(configurations(store)?.into_iter().find(|n| n.name == name))
}
