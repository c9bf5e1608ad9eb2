//! `import_profile` on arbitrary bytes (XML or binary property lists, signed or encrypted
//! profiles, anything). The secrets it imports go to a store in a private temporary directory
//! that is emptied after each input, so no state carries over.
//!
//! Checks: nothing panics; what we import and export again imports again, with the same
//! configurations apart from the references to the secrets (which are stored anew), unless
//! the export warned that it left something out.
//!
//! Issue 9 finding 15: one of the targets that reach what the first release left unfuzzed.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use ikeway_manager::{SecretStore, VpnConfiguration, export_profile, import_profile};
use libfuzzer_sys::fuzz_target;

static DIR: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("ikeway-fuzz-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a private temporary directory");
    dir
});

/// A configuration with its secret references left out, for comparing two imports.
fn without_secrets(c: &VpnConfiguration) -> String {
    let mut c = c.clone();
    if let Some(p) = &mut c.protocol {
        p.password_reference = None;
        p.shared_secret_reference = None;
        p.identity_reference = None;
    }
    if let Some(p) = &mut c.ipsec {
        p.password_reference = None;
        p.shared_secret_reference = None;
        p.identity_reference = None;
    }
    format!("{c:?}")
}

fuzz_target!(|data: &[u8]| {
    let path = DIR.join("secrets.json");
    let store = SecretStore::open(&path);
    if let Ok(imported) = import_profile(data, &store) {
        let configs: Vec<&VpnConfiguration> =
            imported.vpns.iter().map(|v| &v.configuration).collect();
        if let Ok((bytes, warnings)) =
            export_profile(&imported.identifier, &imported.display_name, &configs, Some(&store))
        {
            let again = import_profile(&bytes, &store).expect("our own export imports");
            let a: Vec<String> = configs.iter().map(|c| without_secrets(c)).collect();
            let b: Vec<String> =
                again.vpns.iter().map(|v| without_secrets(&v.configuration)).collect();
            // A warning says the export left something out; otherwise nothing may change.
            if warnings.is_empty() {
                assert_eq!(a, b, "a configuration changed through export and import");
            }
        }
    }
    let _ = std::fs::remove_file(&path);
});
