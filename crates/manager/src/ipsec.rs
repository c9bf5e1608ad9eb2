//! `NEVPNProtocolIPSec` instantiated directly: Apple's "Cisco IPSec" client, IKEv1 (RFC 2409)
//! with XAUTH and Mode Config, as Cisco ASA, Meraki, FortiGate or an IKEv1 strongSwan gateway
//! expects it.
//!
//! Apple's own defaults, kept here: with a shared secret the client runs Aggressive Mode and
//! names itself by the group name (`localIdentifier`) as an ID_KEY_ID; with a certificate it
//! runs Main Mode. `useExtendedAuthentication` means XAUTH (the user name and password of
//! `NEVPNProtocol`). A `localIdentifier` ending in `[hybrid]` asks for hybrid authentication
//! (the server signs, the client proves itself with XAUTH only; `ipsec_convert`).

use serde::{Deserialize, Serialize};

use crate::convert::Unsupported;
use crate::model::{AuthenticationMethod, Der, MAX_PASSWORD};
use crate::secrets::PersistentRef;

/// The suffix of `localIdentifier` that asks for hybrid authentication.
pub const HYBRID_SUFFIX: &str = "[hybrid]";

/// The longest group name (ID_KEY_ID) kept: Cisco's limit on a tunnel-group name is 64
/// characters; 255 bytes leave room for every gateway and bound what a profile can make us
/// store and send.
pub const MAX_GROUP_NAME: usize = 255;

/// The longest shared secret kept. Cisco ASA takes at most 128 characters; gateways differ, so
/// a generous bound, still far from what would make a PRF key unreasonable.
pub const MAX_SHARED_SECRET: usize = 1024;

/// The longest XAUTH password kept (the same bound as EAP's).
pub const MAX_XAUTH_PASSWORD: usize = MAX_PASSWORD;

/// `NEVPNProtocolIPSec` with the properties it inherits from `NEVPNProtocol`, plus the keys
/// only a profile's `IPSec` dictionary sets. Defaults are Apple's (`new()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpsecProtocol {
    // NEVPNProtocol
    pub server_address: String,
    /// The XAUTH user name.
    pub username: Option<String>,
    /// The XAUTH password, in the secret store.
    pub password_reference: Option<PersistentRef>,
    /// Our certificate identity (PKCS#12 data, or a PEM key and chain), in the secret store.
    pub identity_reference: Option<PersistentRef>,
    /// The PKCS#12 password, in the secret store.
    pub identity_data_password_reference: Option<PersistentRef>,
    pub disconnect_on_sleep: bool,
    pub include_all_networks: bool,
    pub exclude_local_networks: bool,
    pub exclude_cellular_services: bool,
    pub exclude_apns: bool,
    pub exclude_device_communication: bool,
    pub enforce_routes: bool,

    // NEVPNProtocolIPSec
    /// `SharedSecret` (Aggressive Mode, group PSK) or `Certificate` (Main Mode, signatures).
    /// `None` is Apple's default and cannot connect.
    pub authentication_method: AuthenticationMethod,
    /// XAUTH after phase 1.
    pub use_extended_authentication: bool,
    /// The group's shared secret, in the secret store.
    pub shared_secret_reference: Option<PersistentRef>,
    /// The group name (sent as ID_KEY_ID with a shared secret); a `[hybrid]` suffix asks for
    /// hybrid authentication.
    pub local_identifier: Option<String>,
    /// The identity the gateway must name (its address when unset).
    pub remote_identifier: Option<String>,

    // Where the gateway's certificate chains to (Main Mode with certificates), as for IKEv2.
    pub trust_anchors: Vec<Der>,
    pub use_system_trust_store: bool,
    pub certificate_revocation_lists: Vec<Der>,

    // Keys only a profile's IPSec dictionary sets.
    /// `XAuthPasswordEncryption` = `Prompt`: the XAUTH password is asked at each connection,
    /// never stored.
    pub xauth_password_prompt: bool,
    /// `PromptForVPNPIN`: ask for a PIN (a smart card's) at each connection.
    pub prompt_for_vpn_pin: bool,
    /// `PayloadCertificateUUID`: the client certificate payload.
    pub payload_certificate_uuid: Option<String>,
    pub on_demand_user_override_disabled: bool,
}

impl IpsecProtocol {
    /// Apple's defaults, with this server address.
    pub fn new(server_address: impl Into<String>) -> Self {
        Self { server_address: server_address.into(), ..Self::default() }
    }

    /// Whether `localIdentifier` asks for hybrid authentication.
    pub fn hybrid(&self) -> bool {
        self.local_identifier.as_deref().is_some_and(|l| l.ends_with(HYBRID_SUFFIX))
    }

    /// The group name: `localIdentifier` without the `[hybrid]` suffix; `None` when unset or
    /// empty.
    pub fn group_name(&self) -> Option<&str> {
        let l = self.local_identifier.as_deref()?;
        let name = l.strip_suffix(HYBRID_SUFFIX).unwrap_or(l);
        (!name.is_empty()).then_some(name)
    }

    /// The fields that are set but have no effect here, with the reason.
    pub fn unsupported(&self) -> Vec<Unsupported> {
        let mut unsupported = Vec::new();
        let mut note = |field, reason| unsupported.push(Unsupported { field, reason });
        if self.prompt_for_vpn_pin {
            note("prompt_for_vpn_pin", "there is no smart card support to ask a PIN for");
        }
        if !self.use_extended_authentication
            && (self.username.is_some() || self.password_reference.is_some())
        {
            note(
                "username",
                "username and password are for XAUTH, and use_extended_authentication is off",
            );
        }
        if self.enforce_routes {
            note(
                "enforce_routes",
                "the tunnel's routes win over the local networks' (with exclude_local_networks \
                 = NO), not over the host's other more specific routes",
            );
        }
        if self.on_demand_user_override_disabled {
            note("on_demand_user_override_disabled", "there is no user override to disable");
        }
        unsupported
    }
}

impl Default for IpsecProtocol {
    fn default() -> Self {
        Self {
            server_address: String::new(),
            username: None,
            password_reference: None,
            identity_reference: None,
            identity_data_password_reference: None,
            disconnect_on_sleep: false,
            include_all_networks: false,
            exclude_local_networks: false,
            exclude_cellular_services: true,
            exclude_apns: true,
            exclude_device_communication: true,
            enforce_routes: false,
            authentication_method: AuthenticationMethod::None,
            use_extended_authentication: false,
            shared_secret_reference: None,
            local_identifier: None,
            remote_identifier: None,
            trust_anchors: Vec::new(),
            use_system_trust_store: false,
            certificate_revocation_lists: Vec::new(),
            xauth_password_prompt: false,
            prompt_for_vpn_pin: false,
            payload_certificate_uuid: None,
            on_demand_user_override_disabled: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_apple() {
        let p = IpsecProtocol::new("vpn.example.com");
        assert_eq!(p.server_address, "vpn.example.com");
        assert_eq!(p.authentication_method, AuthenticationMethod::None);
        assert!(!p.use_extended_authentication && !p.xauth_password_prompt);
        assert!(p.exclude_cellular_services && p.exclude_apns && p.exclude_device_communication);
        assert!(p.unsupported().is_empty());
    }

    #[test]
    fn the_group_name_and_the_hybrid_suffix() {
        let mut p = IpsecProtocol::new("gw");
        assert_eq!(p.group_name(), None);
        p.local_identifier = Some("sales".into());
        assert_eq!((p.group_name(), p.hybrid()), (Some("sales"), false));
        p.local_identifier = Some("sales[hybrid]".into());
        assert_eq!((p.group_name(), p.hybrid()), (Some("sales"), true));
        assert!(p.unsupported().is_empty(), "hybrid is implemented");
        p.local_identifier = Some("[hybrid]".into());
        assert_eq!((p.group_name(), p.hybrid()), (None, true));
        p.local_identifier = Some(String::new());
        assert_eq!(p.group_name(), None);
    }

    #[test]
    fn serde_round_trip_and_missing_fields_take_defaults() {
        let mut p = IpsecProtocol::new("gw.example.com");
        p.authentication_method = AuthenticationMethod::SharedSecret;
        p.local_identifier = Some("group".into());
        p.shared_secret_reference = Some(PersistentRef::from("ref-1"));
        p.use_extended_authentication = true;
        p.username = Some("alice".into());
        p.xauth_password_prompt = true;
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(r#""authentication_method":"SharedSecret""#), "{json}");
        assert_eq!(serde_json::from_str::<IpsecProtocol>(&json).unwrap(), p);
        let sparse: IpsecProtocol = serde_json::from_str(r#"{"server_address":"a"}"#).unwrap();
        assert_eq!(sparse, IpsecProtocol::new("a"));
    }

    #[test]
    fn set_fields_without_effect_are_listed() {
        let mut p = IpsecProtocol::new("gw");
        p.prompt_for_vpn_pin = true;
        p.username = Some("alice".into());
        let fields: Vec<&str> = p.unsupported().iter().map(|u| u.field).collect();
        assert_eq!(fields, ["prompt_for_vpn_pin", "username"]);
        p.use_extended_authentication = true;
        let fields: Vec<&str> = p.unsupported().iter().map(|u| u.field).collect();
        assert_eq!(fields, ["prompt_for_vpn_pin"]);
    }
}
