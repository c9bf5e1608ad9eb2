//! What the profile tests share: a secret store in a temporary directory and a configuration
//! profile around one VPN payload.

// Each test binary uses only what it needs of this module.
#![allow(dead_code)]

use ikeway_manager::SecretStore;

/// A secret store in a fresh temporary directory (removed when the returned guard drops).
pub(crate) fn store() -> (tempfile::TempDir, SecretStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SecretStore::open(dir.path().join("secrets.json"));
    (dir, s)
}

/// A configuration profile named "Profile Name" whose one VPN payload (`t.vpn`) holds
/// `vpn_payload`, plist XML keys.
pub(crate) fn wrap(vpn_payload: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
<key>PayloadType</key><string>Configuration</string>
<key>PayloadIdentifier</key><string>t</string>
<key>PayloadDisplayName</key><string>Profile Name</string>
<key>PayloadContent</key><array><dict>
<key>PayloadType</key><string>com.apple.vpn.managed</string>
<key>PayloadIdentifier</key><string>t.vpn</string>
{vpn_payload}
</dict></array></dict></plist>"#
    )
    .into_bytes()
}
