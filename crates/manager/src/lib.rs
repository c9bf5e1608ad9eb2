//! A Personal VPN facade in the shape of Apple's NetworkExtension `NEVPNManager`, for products
//! that embed ikeway.
//!
//! - [`VpnManager`]: one configuration per application identity, loaded from and saved to a
//!   per-user [`PreferencesStore`] (atomic writes; consent on an application's first save;
//!   enabling one configuration disables the other applications' ones);
//! - [`VpnConfiguration`] / [`Ikev2Protocol`]: Apple's properties, raw values and defaults;
//!   [`IpsecProtocol`]: `NEVPNProtocolIPSec` ("Cisco IPSec", IKEv1: a group name and shared
//!   secret in Aggressive Mode, or a certificate in Main Mode, then XAUTH);
//!   [`Ikev2Protocol::to_sa_config`] turns one into an [`ikeway_sa::Config`] and lists the set
//!   fields the protocol crates do not implement ([`Unsupported`]);
//! - EAP (`useExtendedAuthentication`): [`Ikev2Protocol::eap_plan`] reads Apple's fields as
//!   "EAP instead of our AUTH" (authentication method None: EAP-TLS with an identity,
//!   EAP-MSCHAPv2 / EAP-MD5 with a username) or "a second round after it" (a shared secret or
//!   certificate plus a username, RFC 4739), restricted by ikeway's `eap_methods`;
//!   [`Ikev2Protocol::to_sa_config_for_start`] takes `startVPNTunnel(options:)`'s username and
//!   password before the stored ones; an EAP failure ends as `AuthenticationFailed` with the
//!   reason in words ([`CloseCause::Eap`]);
//! - [`SecretStore`]: shared secrets and passwords in a 0600 file, referred to by
//!   [`PersistentRef`]; never in the preferences file, never printed;
//! - [`import_profile`] / [`export_profile`]: `.mobileconfig` profiles (`com.apple.vpn.managed`);
//! - [`evaluate`]: VPN On Demand rules against the current network;
//! - [`Summary`] / [`summary_json`]: a configuration as a person reads it (grouped like
//!   Apple's settings screen, secrets never shown) and as a script reads it;
//! - [`routing_settings`]: a configuration's routing flags and MTU as the
//!   [`ikeway_tunnel::host::RoutingSettings`] a tunnel plan is computed from;
//! - [`VpnConnection`]: start/stop and [`VpnStatus`], driven by a [`TunnelProvider`] through
//!   the pure table [`status::next`]; [`SessionProvider`] is the provider that runs the tunnel
//!   on an `ikeway_tunnel::Session` (the only module here that reaches the network).
//!
//! ```
//! use ikeway_crypto::SecretBytes;
//! use ikeway_manager::{AuthenticationMethod, Ikev2Protocol, PreferencesStore, VpnConfiguration, VpnManager};
//!
//! let dir = tempfile::tempdir()?;
//! let store = PreferencesStore::in_dir(dir.path());
//! let psk = store.secrets().add(&SecretBytes::from_slice(b"correct horse battery staple"))?;
//!
//! let mut manager = VpnManager::shared("com.example.app", store.clone());
//! manager.load_from_preferences()?; // nothing saved yet: an empty configuration
//! assert!(manager.configuration().is_empty());
//! *manager.configuration_mut() = VpnConfiguration {
//!     localized_description: "Example VPN".into(),
//!     enabled: true,
//!     protocol: Some(Ikev2Protocol {
//!         authentication_method: AuthenticationMethod::SharedSecret,
//!         shared_secret_reference: Some(psk),
//!         local_identifier: Some("client.example.com".into()),
//!         remote_identifier: Some("vpn.example.com".into()),
//!         ..Ikev2Protocol::new("vpn.example.com")
//!     }),
//!     ..Default::default()
//! };
//! // The first save asks the user once.
//! manager.save_to_preferences(&mut |app: &str, _: &VpnConfiguration| app == "com.example.app")?;
//!
//! let mut again = VpnManager::shared("com.example.app", store.clone());
//! again.load_from_preferences()?;
//! assert_eq!(again.configuration(), manager.configuration());
//! let protocol = again.configuration().protocol.as_ref().unwrap();
//! let (config, unsupported) = protocol.to_sa_config(store.secrets())?;
//! assert_eq!(config.local_auth.psk().unwrap().expose(), b"correct horse battery staple");
//! assert_eq!(config.peer_auth.psk().unwrap().expose(), b"correct horse battery staple");
//! // Redirect is on by Apple's defaults, and followed (RFC 5685).
//! assert!(config.redirect_supported);
//! // MOBIKE too, and followed when the host's address changes (RFC 4555).
//! assert!(config.mobike);
//! assert!(unsupported.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
mod atomic;
mod certs;
mod connection;
mod convert;
mod eap;
mod ipsec;
mod ipsec_convert;
mod kill_switch;
mod model;
mod ondemand;
mod plist_error;
mod ppk;
mod preferences;
mod profile;
mod provider;
mod routing;
mod secrets;
pub mod status;
mod summary;

pub use certs::{
    CertError, IdentityData, IdentityError, MAX_CERTIFICATE_FILE, SYSTEM_TRUST_STORE, anchors_from,
    certificate_type_of, check_certificate_type, crl_from, load_identity, load_identity_from,
    parse_identity, read_certificate_file, set_identity, store_identity, system_anchors,
};
pub use connection::{
    NoProvider, ProviderError, StartError, StartOptions, StatusChange, TunnelEvents,
    TunnelProvider, TunnelRequest, VpnConnection,
};
pub use convert::{ConfigError, Unsupported, identity, secrets_from};
pub use eap::{EapPlan, EapRound};
/// The IKEv1 phase 1 exchange, as [`TunnelStatus::ikev1`] names it.
pub use ikeway_ikev1::Phase1Mode;
pub use ipsec::{
    HYBRID_SUFFIX, IpsecProtocol, MAX_GROUP_NAME, MAX_SHARED_SECRET, MAX_XAUTH_PASSWORD,
};
pub use kill_switch::plan_kill_switch;
pub use model::*;
pub use ondemand::*;
pub use preferences::{
    Authorizer, ManagedConfiguration, ManagerError, Owner, PreferencesError, PreferencesStore,
    VpnManager,
};
pub use profile::{
    ImportedProfile, ImportedVpn, ProfileError, ProfileWarning, export_profile, import_profile,
};
pub use provider::{
    ChildSaStatus, DELETE_GRACE, HostFactory, IkeSaStatus, Ikev1Timers, KeyLogSink,
    ProviderOptions, SessionProvider, TunnelStatus,
};
pub use routing::{kill_switch_plan, routing_settings, wants_kill_switch};
pub use secrets::{PersistentRef, SecretError, SecretSource, SecretStore, read_secret_file};
pub use status::{CloseCause, DisconnectError, TunnelEvent, VpnStatus};
pub use summary::{Summary, summary_json};
