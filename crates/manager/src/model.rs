//! The configuration model: Apple's `NEVPNManager` / `NEVPNProtocolIKEv2` properties, with
//! Apple's names (in snake case), enum raw values and defaults.
//!
//! Everything Apple stores is stored here, including what the protocol crates do not
//! implement; [`crate::Ikev2Protocol::to_sa_config`] reports those fields instead of ignoring
//! them.

use serde::{Deserialize, Serialize};

use crate::ipsec::IpsecProtocol;
use crate::ondemand::OnDemandRule;
use crate::secrets::PersistentRef;

/// Declares a field-less enum with Apple's `NSInteger` raw values and lookups both ways.
macro_rules! raw_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $raw:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name { $( $(#[$vmeta])* $variant = $raw, )* }

        impl $name {
            /// Every value, in raw-value order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// Apple's raw value.
            pub const fn raw(self) -> i64 {
                self as i64
            }

            /// The value with this raw value, if Apple defines one.
            pub fn from_raw(raw: i64) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.raw() == raw)
            }
        }
    };
}
pub(crate) use raw_enum;

/// The longest user name (EAP identity) kept: the NAI limit of RFC 7542 §2.2.
pub const MAX_USERNAME: usize = 253;

/// The longest EAP password kept: MSCHAPv2 hashes at most 256 characters (RFC 2759 §8.3
/// `NtPasswordHash`), at most 1024 bytes of UTF-8.
pub const MAX_PASSWORD: usize = 1024;

raw_enum! {
    /// `NEVPNIKEAuthenticationMethod`.
    pub enum AuthenticationMethod {
        /// No IKE authentication of our own; with extended authentication this is EAP-only.
        None = 0,
        Certificate = 1,
        SharedSecret = 2,
    }
}

raw_enum! {
    /// `NEVPNIKEv2EncryptionAlgorithm`.
    pub enum EncryptionAlgorithm {
        Des = 1,
        TripleDes = 2,
        Aes128 = 3,
        Aes256 = 4,
        Aes128Gcm = 5,
        Aes256Gcm = 6,
        ChaCha20Poly1305 = 7,
    }
}

raw_enum! {
    /// `NEVPNIKEv2IntegrityAlgorithm`; the PRF is inferred from it.
    pub enum IntegrityAlgorithm {
        Sha96 = 1,
        Sha160 = 2,
        Sha256 = 3,
        Sha384 = 4,
        Sha512 = 5,
    }
}

raw_enum! {
    /// `NEVPNIKEv2DiffieHellmanGroup`: raw values are the IANA group numbers.
    pub enum DiffieHellmanGroup {
        Invalid = 0,
        Group1 = 1,
        Group2 = 2,
        Group5 = 5,
        Group14 = 14,
        Group15 = 15,
        Group16 = 16,
        Group17 = 17,
        Group18 = 18,
        Group19 = 19,
        Group20 = 20,
        Group21 = 21,
        Group31 = 31,
        Group32 = 32,
    }
}

raw_enum! {
    /// `NEVPNIKEv2DeadPeerDetectionRate`.
    pub enum DeadPeerDetectionRate {
        /// No liveness checks.
        None = 0,
        /// Every 30 minutes.
        Low = 1,
        /// Every 10 minutes (the default).
        Medium = 2,
        /// Every minute.
        High = 3,
    }
}

raw_enum! {
    /// `NEVPNIKEv2CertificateType`.
    pub enum CertificateType {
        Rsa = 1,
        Ecdsa256 = 2,
        Ecdsa384 = 3,
        Ecdsa521 = 4,
        Ed25519 = 5,
        RsaPss = 6,
    }
}

raw_enum! {
    /// `NEVPNIKEv2TLSVersion` (EAP-TLS).
    pub enum TlsVersion {
        Default = 0,
        Tls1_0 = 1,
        Tls1_1 = 2,
        Tls1_2 = 3,
    }
}

/// An EAP method a configuration accepts (`eap_methods`, ikeway's extension): the EAP crate's
/// [`ikeway_eap::Method`], kept in the preferences by its lowercase name (`mschapv2`, `md5`,
/// `tls`). Apple's configuration has no such list (the device runs what the server asks for
/// among the methods it has); ours restricts it, e.g. to refuse EAP-MD5, which proves nothing
/// about the server.
pub use ikeway_eap::Method as EapMethod;

/// The name the CLI, the preferences and `config show --json` use for a method.
pub fn eap_method_name(m: EapMethod) -> &'static str {
    match m {
        EapMethod::MsChapV2 => "mschapv2",
        EapMethod::Md5 => "md5",
        EapMethod::Tls => "tls",
    }
}

/// `eap_methods` in the preferences: the methods by [`eap_method_name`].
mod eap_method_names {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{EapMethod, eap_method_name};

    pub(super) fn serialize<S: Serializer>(v: &[EapMethod], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|m| eap_method_name(*m)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EapMethod>, D::Error> {
        Vec::<std::borrow::Cow<'de, str>>::deserialize(d)?
            .iter()
            .map(|n| {
                EapMethod::from_name(n)
                    .ok_or_else(|| D::Error::custom(format!("unknown EAP method {n:?}")))
            })
            .collect()
    }
}

impl DeadPeerDetectionRate {
    /// The interval between liveness checks, or `None` for no checks.
    pub fn interval(self) -> Option<std::time::Duration> {
        let minutes = match self {
            Self::None => return None,
            Self::Low => 30,
            Self::Medium => 10,
            Self::High => 1,
        };
        Some(std::time::Duration::from_secs(minutes * 60))
    }
}

/// `NEVPNIKEv2SecurityAssociationParameters`, for the IKE SA or the child SAs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SaParameters {
    pub encryption_algorithm: EncryptionAlgorithm,
    pub integrity_algorithm: IntegrityAlgorithm,
    pub diffie_hellman_group: DiffieHellmanGroup,
    /// Apple accepts 10 to 1440.
    pub lifetime_minutes: u32,
    /// `postQuantumKeyExchangeMethods` (RFC 9370 ADDKE1-7): raw method numbers.
    pub post_quantum_key_exchange_methods: Vec<u16>,
}

impl SaParameters {
    /// Apple's API defaults for the IKE SA: AES-256, SHA-256, group 14, 60 minutes.
    pub fn ike_default() -> Self {
        Self { lifetime_minutes: 60, ..Self::default() }
    }

    /// Apple's API defaults for child SAs: AES-256, SHA-256, group 14, 30 minutes.
    pub fn child_default() -> Self {
        Self { lifetime_minutes: 30, ..Self::default() }
    }
}

impl Default for SaParameters {
    fn default() -> Self {
        Self {
            encryption_algorithm: EncryptionAlgorithm::Aes256,
            integrity_algorithm: IntegrityAlgorithm::Sha256,
            diffie_hellman_group: DiffieHellmanGroup::Group14,
            lifetime_minutes: 60,
            post_quantum_key_exchange_methods: Vec::new(),
        }
    }
}

/// `NEVPNIKEv2PPKConfiguration` (RFC 8784 post-quantum preshared key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PpkConfiguration {
    pub identifier: String,
    /// The PPK itself, in the secret store.
    pub keychain_reference: PersistentRef,
    /// Default `true`.
    pub is_mandatory: bool,
}

/// `NEVPNProtocolIKEv2` with the properties it inherits from `NEVPNProtocolIPSec` and
/// `NEVPNProtocol`, plus the keys only a profile can set. Defaults are Apple's (`new()`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ikev2Protocol {
    // NEVPNProtocol
    pub server_address: String,
    pub username: Option<String>,
    pub password_reference: Option<PersistentRef>,
    /// Our certificate identity (Apple's `identityData`, or its keychain `identityReference`):
    /// the PKCS#12 data, or a PEM private key followed by its certificate chain, in the secret
    /// store, never in the preferences.
    pub identity_reference: Option<PersistentRef>,
    /// `identityDataPassword`: the PKCS#12 password, in the secret store.
    pub identity_data_password_reference: Option<PersistentRef>,
    pub disconnect_on_sleep: bool,
    pub include_all_networks: bool,
    /// Default `false` (Apple's macOS default; iOS defaults to `true`).
    pub exclude_local_networks: bool,
    pub exclude_cellular_services: bool,
    pub exclude_apns: bool,
    pub exclude_device_communication: bool,
    pub enforce_routes: bool,

    // NEVPNProtocolIPSec
    pub authentication_method: AuthenticationMethod,
    /// EAP for IKEv2.
    pub use_extended_authentication: bool,
    pub shared_secret_reference: Option<PersistentRef>,
    pub local_identifier: Option<String>,
    pub remote_identifier: Option<String>,

    // NEVPNProtocolIKEv2
    pub ike_sa_parameters: SaParameters,
    pub child_sa_parameters: SaParameters,
    pub dead_peer_detection_rate: DeadPeerDetectionRate,
    pub server_certificate_issuer_common_name: Option<String>,
    pub server_certificate_common_name: Option<String>,
    pub certificate_type: CertificateType,
    pub use_configuration_attribute_internal_ip_subnet: bool,
    pub disable_mobike: bool,
    pub disable_redirect: bool,
    pub enable_pfs: bool,
    pub enable_revocation_check: bool,
    pub strict_revocation_check: bool,
    /// EAP-TLS's lowest version. rustls speaks 1.2 and 1.3: `Default`, 1.0, 1.1 and 1.2 all
    /// mean 1.2 (1.0 and 1.1 are reported unsupported).
    pub minimum_tls_version: TlsVersion,
    /// EAP-TLS's highest version: `Default` is 1.3 (Apple's enum has no 1.3), 1.2 is 1.2; 1.0
    /// and 1.1 leave no version we speak and are refused when EAP-TLS runs.
    pub maximum_tls_version: TlsVersion,
    pub enable_fallback: bool,
    /// `None`: the system's choice (1280 in profiles).
    pub mtu: Option<u32>,
    pub ppk_configuration: Option<PpkConfiguration>,
    pub allow_post_quantum_key_exchange_fallback: bool,

    // Where the server's certificate chains to. Apple keeps these in the keychain and its trust
    // settings; a configuration here carries them itself.
    /// Trust anchors (DER certificates): the files given to `config add --ca`, or a profile's
    /// `com.apple.security.root` / `.pem` / `.pkcs1` payloads. Certificates are public, and a
    /// configuration that holds their bytes stays valid when the files move or change.
    pub trust_anchors: Vec<Der>,
    /// Also trust the system's store (`/etc/ssl/certs`), read when connecting.
    pub use_system_trust_store: bool,
    /// Certificate revocation lists (DER) given with the configuration; more are fetched from
    /// the certificates' distribution points when `enable_revocation_check` is set.
    pub certificate_revocation_lists: Vec<Der>,

    // Keys only a configuration profile sets (com.apple.vpn.managed IKEv2 dictionary).
    /// `PayloadCertificateUUID`: the client certificate payload.
    pub payload_certificate_uuid: Option<String>,
    pub nat_keep_alive_offload_enable: Option<bool>,
    /// Seconds; Apple's minimum and default is 20.
    pub nat_keep_alive_interval: Option<u32>,
    pub disconnect_on_idle: bool,
    /// Seconds.
    pub disconnect_on_idle_timer: Option<u32>,
    pub on_demand_user_override_disabled: bool,
    /// No DES/3DES nor groups below 14; the IKE cipher at least as strong as the child's.
    pub enforce_strict_algorithm_selection: bool,
    pub provider_bundle_identifier: Option<String>,
    pub provider_designated_requirement: Option<String>,
    pub provider_type: Option<String>,

    // ikeway's extensions.
    /// The EAP methods accepted, in order of preference (default: all of [`EapMethod::ALL`]).
    /// Which of them run depends on the credentials: EAP-TLS needs an identity, the others a
    /// username and password.
    #[serde(with = "eap_method_names")]
    pub eap_methods: Vec<EapMethod>,
}

impl Ikev2Protocol {
    /// Apple's defaults, with this server address.
    pub fn new(server_address: impl Into<String>) -> Self {
        Self { server_address: server_address.into(), ..Self::default() }
    }
}

impl Default for Ikev2Protocol {
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
            ike_sa_parameters: SaParameters::ike_default(),
            child_sa_parameters: SaParameters::child_default(),
            dead_peer_detection_rate: DeadPeerDetectionRate::Medium,
            server_certificate_issuer_common_name: None,
            server_certificate_common_name: None,
            certificate_type: CertificateType::Rsa,
            use_configuration_attribute_internal_ip_subnet: false,
            disable_mobike: false,
            disable_redirect: false,
            enable_pfs: false,
            enable_revocation_check: false,
            strict_revocation_check: false,
            minimum_tls_version: TlsVersion::Default,
            maximum_tls_version: TlsVersion::Default,
            enable_fallback: false,
            mtu: None,
            ppk_configuration: None,
            allow_post_quantum_key_exchange_fallback: false,
            trust_anchors: Vec::new(),
            use_system_trust_store: false,
            certificate_revocation_lists: Vec::new(),
            payload_certificate_uuid: None,
            nat_keep_alive_offload_enable: None,
            nat_keep_alive_interval: None,
            disconnect_on_idle: false,
            disconnect_on_idle_timer: None,
            on_demand_user_override_disabled: false,
            enforce_strict_algorithm_selection: false,
            provider_bundle_identifier: None,
            provider_designated_requirement: None,
            provider_type: None,
            eap_methods: EapMethod::ALL.to_vec(),
        }
    }
}

/// DER bytes (a certificate or a CRL), stored as hex so the preferences stay text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Der(pub Vec<u8>);

impl std::fmt::Debug for Der {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Der({} bytes)", self.0.len())
    }
}

impl Serialize for Der {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Der {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hex::decode(text.as_ref()).map(Der).map_err(serde::de::Error::custom)
    }
}

/// What an `NEVPNManager` holds: one VPN configuration of one application.
///
/// A manager that loaded nothing holds `VpnConfiguration::default()`: no description, not
/// enabled, no protocol (Apple's `protocolConfiguration == nil`).
///
/// Apple's `protocolConfiguration` is one property whose class says the protocol; here it is
/// `protocol` when that class is `NEVPNProtocolIKEv2` and `ipsec` when it is
/// `NEVPNProtocolIPSec` itself (IKEv1). At most one is set ([`Self::protocol_kind`] says
/// which; saving a configuration with both is refused).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct VpnConfiguration {
    pub localized_description: String,
    pub enabled: bool,
    pub on_demand_enabled: bool,
    pub on_demand_rules: Vec<OnDemandRule>,
    pub protocol: Option<Ikev2Protocol>,
    /// Left out of the preferences when unset, so IKEv2 configurations read the same as before
    /// the field existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipsec: Option<IpsecProtocol>,
}

/// Which protocol a configuration holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolKind {
    /// `NEVPNProtocolIKEv2`.
    Ikev2,
    /// `NEVPNProtocolIPSec` (IKEv1, "Cisco IPSec").
    IpSec,
}

impl ProtocolKind {
    /// Apple's `VPNType` for it.
    pub fn vpn_type(self) -> &'static str {
        match self {
            Self::Ikev2 => "IKEv2",
            Self::IpSec => "IPSec",
        }
    }
}

impl VpnConfiguration {
    /// Whether nothing was ever set (what loading an unsaved manager gives).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The protocol this configuration holds: `None` without one, or with both (invalid).
    pub fn protocol_kind(&self) -> Option<ProtocolKind> {
        match (&self.protocol, &self.ipsec) {
            (Some(_), None) => Some(ProtocolKind::Ikev2),
            (None, Some(_)) => Some(ProtocolKind::IpSec),
            _ => None,
        }
    }

    /// The server address of whichever protocol is set.
    pub fn server_address(&self) -> Option<&str> {
        match (&self.protocol, &self.ipsec) {
            (Some(p), _) => Some(&p.server_address),
            (None, Some(p)) => Some(&p.server_address),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_values_match_apple() {
        assert_eq!(AuthenticationMethod::SharedSecret.raw(), 2);
        assert_eq!(EncryptionAlgorithm::Des.raw(), 1);
        assert_eq!(EncryptionAlgorithm::ChaCha20Poly1305.raw(), 7);
        assert_eq!(IntegrityAlgorithm::Sha512.raw(), 5);
        assert_eq!(DiffieHellmanGroup::Group31.raw(), 31);
        assert_eq!(DeadPeerDetectionRate::High.raw(), 3);
        assert_eq!(CertificateType::RsaPss.raw(), 6);
        assert_eq!(TlsVersion::Tls1_2.raw(), 3);
        assert_eq!(DiffieHellmanGroup::from_raw(3), None);
        assert_eq!(EncryptionAlgorithm::from_raw(6), Some(EncryptionAlgorithm::Aes256Gcm));
    }

    #[test]
    fn defaults_match_apple() {
        let p = Ikev2Protocol::new("vpn.example.com");
        assert_eq!(p.authentication_method, AuthenticationMethod::None);
        assert_eq!(p.dead_peer_detection_rate, DeadPeerDetectionRate::Medium);
        assert_eq!(p.ike_sa_parameters.encryption_algorithm, EncryptionAlgorithm::Aes256);
        assert_eq!(p.ike_sa_parameters.integrity_algorithm, IntegrityAlgorithm::Sha256);
        assert_eq!(p.ike_sa_parameters.diffie_hellman_group, DiffieHellmanGroup::Group14);
        assert_eq!(p.ike_sa_parameters.lifetime_minutes, 60);
        assert_eq!(p.child_sa_parameters.lifetime_minutes, 30);
        assert!(!p.disable_mobike && !p.disable_redirect && !p.enable_pfs);
        assert!(!p.disconnect_on_sleep && !p.use_configuration_attribute_internal_ip_subnet);
        assert!(p.exclude_cellular_services && p.exclude_apns && p.exclude_device_communication);
        assert_eq!(p.certificate_type, CertificateType::Rsa);
    }

    #[test]
    fn eap_methods_by_name_and_in_the_preferences() {
        assert_eq!(Ikev2Protocol::default().eap_methods, EapMethod::ALL);
        let mut p = Ikev2Protocol::new("a");
        p.eap_methods = vec![EapMethod::Md5, EapMethod::Tls, EapMethod::MsChapV2];
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(r#""eap_methods":["md5","tls","mschapv2"]"#), "{json}");
        assert_eq!(serde_json::from_str::<Ikev2Protocol>(&json).unwrap(), p);
        let bad = json.replace(r#""md5""#, r#""peap""#);
        let err = serde_json::from_str::<Ikev2Protocol>(&bad).unwrap_err().to_string();
        assert!(err.starts_with("unknown EAP method \"peap\""), "{err}");
        // Preferences saved before the field existed get every method.
        let old: Ikev2Protocol = serde_json::from_str(r#"{"server_address":"a"}"#).unwrap();
        assert_eq!(old.eap_methods, EapMethod::ALL);
    }

    #[test]
    fn dpd_rates() {
        let m = |r: DeadPeerDetectionRate| r.interval().map(|d| d.as_secs() / 60);
        assert_eq!(m(DeadPeerDetectionRate::None), None);
        assert_eq!(m(DeadPeerDetectionRate::Low), Some(30));
        assert_eq!(m(DeadPeerDetectionRate::Medium), Some(10));
        assert_eq!(m(DeadPeerDetectionRate::High), Some(1));
    }

    #[test]
    fn serde_round_trip_and_missing_fields_take_defaults() {
        let mut c = VpnConfiguration {
            localized_description: "Work".into(),
            protocol: Some(Ikev2Protocol::new("vpn.example.com")),
            ..Default::default()
        };
        c.protocol.as_mut().unwrap().mtu = Some(1400);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<VpnConfiguration>(&json).unwrap(), c);
        c.protocol.as_mut().unwrap().trust_anchors = vec![Der(vec![0x30, 0x82, 0xff])];
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains(r#""trust_anchors":["3082ff"]"#), "{json}");
        assert_eq!(serde_json::from_str::<VpnConfiguration>(&json).unwrap(), c);
        let bad = json.replace("3082ff", "3082f");
        assert!(serde_json::from_str::<VpnConfiguration>(&bad).is_err());
        let sparse: VpnConfiguration =
            serde_json::from_str(r#"{"protocol":{"server_address":"a"}}"#).unwrap();
        assert_eq!(sparse.protocol.unwrap(), Ikev2Protocol::new("a"));
    }

    #[test]
    fn an_ipsec_configuration_is_stored_beside_and_never_with_ikev2() {
        let ikev2 = VpnConfiguration {
            protocol: Some(Ikev2Protocol::new("a")),
            ..VpnConfiguration::default()
        };
        let json = serde_json::to_string(&ikev2).unwrap();
        assert!(!json.contains("ipsec"), "an IKEv2 configuration reads as before: {json}");
        assert_eq!(ikev2.protocol_kind(), Some(ProtocolKind::Ikev2));
        let ipsec = VpnConfiguration {
            ipsec: Some(IpsecProtocol::new("gw")),
            ..VpnConfiguration::default()
        };
        let json = serde_json::to_string(&ipsec).unwrap();
        assert!(json.contains(r#""protocol":null,"ipsec":{"server_address":"gw""#), "{json}");
        assert_eq!(serde_json::from_str::<VpnConfiguration>(&json).unwrap(), ipsec);
        assert_eq!(ipsec.protocol_kind(), Some(ProtocolKind::IpSec));
        assert_eq!(ipsec.server_address(), Some("gw"));
        let both = VpnConfiguration { protocol: ikev2.protocol.clone(), ..ipsec };
        assert_eq!(both.protocol_kind(), None);
        assert_eq!(VpnConfiguration::default().protocol_kind(), None);
    }
}
