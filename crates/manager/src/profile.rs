//! Apple configuration profiles (`.mobileconfig`): import the `com.apple.vpn.managed` IKEv2
//! and IPSec (IKEv1, [`ipsec`]) payloads, export configurations back.
//!
//! Every key of the `IKEv2` dictionary that Apple documents is read into [`Ikev2Protocol`];
//! `SharedSecret`, `AuthPassword` and `PPK` go to the [`SecretStore`]. Keys we do not know, and
//! dictionaries we recognise but do not import (`IPv4`, `DNS`, `Proxies`), come back as
//! [`ProfileWarning`]s rather than vanishing. Signed (CMS) and encrypted profiles are refused
//! with an error saying so, as are VPN types other than IKEv2 and IPSec.

use std::io::Cursor;

use ikeway_crypto::SecretBytes;
use plist::{Dictionary, Value};

use crate::certs::{self, CertError, IdentityData};
use crate::model::Der;
use crate::model::{
    AuthenticationMethod, CertificateType, DeadPeerDetectionRate, DiffieHellmanGroup, EapMethod,
    EncryptionAlgorithm, Ikev2Protocol, IntegrityAlgorithm, MAX_PASSWORD, MAX_USERNAME,
    PpkConfiguration, SaParameters, TlsVersion, VpnConfiguration,
};
use crate::ondemand::{
    ConnectionRuleAction, EvaluateConnectionRule, InterfaceType, OnDemandAction, OnDemandRule,
};
use crate::secrets::{PersistentRef, SecretError, SecretSource, SecretStore};

mod ipsec;

const VPN_PAYLOAD: &str = "com.apple.vpn.managed";
/// Certificate payloads (Apple's Certificates payload types): a trusted root, a PEM
/// certificate, a DER certificate, an identity.
const ROOT_PAYLOAD: &str = "com.apple.security.root";
const PEM_PAYLOAD: &str = "com.apple.security.pem";
const PKCS1_PAYLOAD: &str = "com.apple.security.pkcs1";
const PKCS12_PAYLOAD: &str = "com.apple.security.pkcs12";

/// Why a profile cannot be imported or exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    #[error(
        "the profile is signed (CMS/PKCS#7); signed profiles are not supported: \
         export it unsigned or remove the signature (openssl smime -verify -noverify)"
    )]
    Signed,
    #[error(
        "the profile is encrypted (EncryptedPayloadContent); encrypted profiles are not supported"
    )]
    Encrypted,
    #[error("not a property list: {0}")]
    NotPlist(String),
    #[error("VPN payload {payload}: VPNType {vpn_type} is not supported; only IKEv2 and IPSec are")]
    UnsupportedVpnType { payload: String, vpn_type: String },
    #[error("{key}: expected {expected}")]
    InvalidValue { key: String, expected: &'static str },
    #[error("{key} is required")]
    Missing { key: String },
    #[error("the profile has no {VPN_PAYLOAD} payload")]
    NoVpnPayload,
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{field}: the secret store has no secret {reference}")]
    MissingSecret { field: &'static str, reference: PersistentRef },
    /// A certificate or identity payload that does not parse (the error names its key).
    #[error(transparent)]
    CertificateData(CertError),
    #[error("{key}: {source}")]
    Certificate { key: String, source: CertError },
    #[error("writing the profile: {0}")]
    Write(String),
}

/// Something in a profile that was not imported (or a field that cannot be exported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileWarning {
    /// Where, as a key path: `PayloadContent[0].IKEv2.Foo`.
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ProfileWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// One imported VPN payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedVpn {
    pub payload_identifier: String,
    pub payload_uuid: String,
    pub configuration: VpnConfiguration,
}

/// The result of [`import_profile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedProfile {
    pub identifier: String,
    pub display_name: String,
    pub vpns: Vec<ImportedVpn>,
    pub warnings: Vec<ProfileWarning>,
}

type R<T> = Result<T, ProfileError>;

/// Which secret of a configuration a pending secret belongs to.
#[derive(Debug, Clone, Copy)]
enum Slot {
    SharedSecret,
    Password,
    Ppk,
}

struct Ctx {
    warnings: Vec<ProfileWarning>,
}

impl Ctx {
    fn warn(&mut self, key: String, message: impl Into<String>) {
        self.warnings.push(ProfileWarning { key, message: message.into() });
    }

    /// Warns about every key of `d` not in `known`.
    fn unknown_keys(&mut self, d: &Dictionary, path: &str, known: &[&str]) {
        for k in d.keys() {
            if !known.contains(&k.as_str()) {
                self.warn(format!("{path}.{k}"), "unknown key, not imported");
            }
        }
    }
}

fn invalid<T>(key: String, expected: &'static str) -> R<T> {
    Err(ProfileError::InvalidValue { key, expected })
}

fn string(d: &Dictionary, path: &str, key: &str) -> R<Option<String>> {
    match d.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => invalid(format!("{path}.{key}"), "a string"),
    }
}

/// Apple writes booleans as `<true/>` or as integers 0/1.
fn boolean(d: &Dictionary, path: &str, key: &str) -> R<Option<bool>> {
    match d.get(key) {
        None => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(*b)),
        Some(v) => match v.as_signed_integer() {
            Some(0) => Ok(Some(false)),
            Some(1) => Ok(Some(true)),
            _ => invalid(format!("{path}.{key}"), "a boolean or 0/1"),
        },
    }
}

fn integer(d: &Dictionary, path: &str, key: &str) -> R<Option<i64>> {
    match d.get(key) {
        None => Ok(None),
        Some(v) => match v.as_signed_integer() {
            Some(i) => Ok(Some(i)),
            None => invalid(format!("{path}.{key}"), "an integer"),
        },
    }
}

fn u32_value(d: &Dictionary, path: &str, key: &str) -> R<Option<u32>> {
    match integer(d, path, key)? {
        None => Ok(None),
        Some(i) => u32::try_from(i)
            .map(Some)
            .or_else(|_| invalid(format!("{path}.{key}"), "a non-negative integer")),
    }
}

fn strings(d: &Dictionary, path: &str, key: &str) -> R<Vec<String>> {
    match d.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_string().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .map_or_else(|| invalid(format!("{path}.{key}"), "an array of strings"), Ok),
        Some(_) => invalid(format!("{path}.{key}"), "an array of strings"),
    }
}

/// A secret given as a string or as data.
fn secret(d: &Dictionary, path: &str, key: &str) -> R<Option<SecretBytes>> {
    match d.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(SecretBytes::from_slice(s.as_bytes()))),
        Some(Value::Data(b)) => Ok(Some(SecretBytes::from_slice(b))),
        Some(_) => invalid(format!("{path}.{key}"), "a string or data"),
    }
}

/// A string that must be one of `names`, mapped to its value.
fn named<T: Copy>(
    d: &Dictionary,
    path: &str,
    key: &str,
    names: &[(&str, T)],
    expected: &'static str,
) -> R<Option<T>> {
    match string(d, path, key)? {
        None => Ok(None),
        Some(s) => match names.iter().find(|(n, _)| *n == s) {
            Some((_, v)) => Ok(Some(*v)),
            None => invalid(format!("{path}.{key}"), expected),
        },
    }
}

const AUTH_METHODS: &[(&str, AuthenticationMethod)] = &[
    ("None", AuthenticationMethod::None),
    ("SharedSecret", AuthenticationMethod::SharedSecret),
    ("Certificate", AuthenticationMethod::Certificate),
];
const DPD_RATES: &[(&str, DeadPeerDetectionRate)] = &[
    ("None", DeadPeerDetectionRate::None),
    ("Low", DeadPeerDetectionRate::Low),
    ("Medium", DeadPeerDetectionRate::Medium),
    ("High", DeadPeerDetectionRate::High),
];
pub(crate) const CERT_TYPES: &[(&str, CertificateType)] = &[
    ("RSA", CertificateType::Rsa),
    ("ECDSA256", CertificateType::Ecdsa256),
    ("ECDSA384", CertificateType::Ecdsa384),
    ("ECDSA521", CertificateType::Ecdsa521),
    ("Ed25519", CertificateType::Ed25519),
    ("RSA-PSS", CertificateType::RsaPss),
];
const TLS_VERSIONS: &[(&str, TlsVersion)] =
    &[("1.0", TlsVersion::Tls1_0), ("1.1", TlsVersion::Tls1_1), ("1.2", TlsVersion::Tls1_2)];
pub(crate) const ENCRYPTIONS: &[(&str, EncryptionAlgorithm)] = &[
    ("DES", EncryptionAlgorithm::Des),
    ("3DES", EncryptionAlgorithm::TripleDes),
    ("AES-128", EncryptionAlgorithm::Aes128),
    ("AES-256", EncryptionAlgorithm::Aes256),
    ("AES-128-GCM", EncryptionAlgorithm::Aes128Gcm),
    ("AES-256-GCM", EncryptionAlgorithm::Aes256Gcm),
    ("ChaCha20Poly1305", EncryptionAlgorithm::ChaCha20Poly1305),
];
pub(crate) const INTEGRITIES: &[(&str, IntegrityAlgorithm)] = &[
    ("SHA1-96", IntegrityAlgorithm::Sha96),
    ("SHA1-160", IntegrityAlgorithm::Sha160),
    ("SHA2-256", IntegrityAlgorithm::Sha256),
    ("SHA2-384", IntegrityAlgorithm::Sha384),
    ("SHA2-512", IntegrityAlgorithm::Sha512),
];
pub(crate) const ACTIONS: &[(&str, OnDemandAction)] = &[
    ("Connect", OnDemandAction::Connect),
    ("Disconnect", OnDemandAction::Disconnect),
    ("EvaluateConnection", OnDemandAction::EvaluateConnection),
    ("Ignore", OnDemandAction::Ignore),
    // Deprecated synonym of Connect.
    ("Allow", OnDemandAction::Connect),
];
const INTERFACES: &[(&str, InterfaceType)] = &[
    ("Ethernet", InterfaceType::Ethernet),
    ("WiFi", InterfaceType::WiFi),
    ("Cellular", InterfaceType::Cellular),
];
pub(crate) const DOMAIN_ACTIONS: &[(&str, ConnectionRuleAction)] = &[
    ("ConnectIfNeeded", ConnectionRuleAction::ConnectIfNeeded),
    ("NeverConnect", ConnectionRuleAction::NeverConnect),
];

const VPN_PAYLOAD_KEYS: &[&str] = &[
    "PayloadType",
    "PayloadVersion",
    "PayloadIdentifier",
    "PayloadUUID",
    "PayloadDisplayName",
    "PayloadDescription",
    "PayloadOrganization",
    "UserDefinedName",
    "VPNType",
    "VPNSubType",
    "IKEv2",
    "IPSec",
];
/// Dictionaries of the VPN payload we recognise but do not import.
const NOT_IMPORTED: &[&str] = &["IPv4", "DNS", "Proxies"];

const IKEV2_KEYS: &[&str] = &[
    "RemoteAddress",
    "RemoteIdentifier",
    "LocalIdentifier",
    "AuthenticationMethod",
    "ExtendedAuthEnabled",
    "AuthName",
    "AuthPassword",
    "SharedSecret",
    "PayloadCertificateUUID",
    "CertificateType",
    "ServerCertificateIssuerCommonName",
    "ServerCertificateCommonName",
    "EnableCertificateRevocationCheck",
    "TLSMinimumVersion",
    "TLSMaximumVersion",
    "DeadPeerDetectionRate",
    "NATKeepAliveOffloadEnable",
    "NATKeepAliveInterval",
    "DisconnectOnIdle",
    "DisconnectOnIdleTimer",
    "DisableMOBIKE",
    "DisableRedirect",
    "EnablePFS",
    "UseConfigurationAttributeInternalIPSubnet",
    "EnableFallback",
    "MTU",
    "IncludeAllNetworks",
    "EnforceRoutes",
    "ExcludeLocalNetworks",
    "ExcludeCellularServices",
    "ExcludeAPNs",
    "ExcludeDeviceCommunication",
    "OnDemandEnabled",
    "OnDemandRules",
    "OnDemandUserOverrideDisabled",
    "PPK",
    "PPKIdentifier",
    "PPKMandatory",
    "AllowPostQuantumKeyExchangeFallback",
    "EnforceStrictAlgorithmSelection",
    "ProviderBundleIdentifier",
    "ProviderDesignatedRequirement",
    "ProviderType",
    "IKESecurityAssociationParameters",
    "ChildSecurityAssociationParameters",
];
const SA_KEYS: &[&str] = &[
    "EncryptionAlgorithm",
    "IntegrityAlgorithm",
    "DiffieHellmanGroup",
    "LifeTimeInMinutes",
    "PostQuantumKeyExchangeMethods",
];
const RULE_KEYS: &[&str] = &[
    "Action",
    "ActionParameters",
    "DNSDomainMatch",
    "DNSServerAddressMatch",
    "InterfaceTypeMatch",
    "SSIDMatch",
    "URLStringProbe",
];
const PARAMETER_KEYS: &[&str] =
    &["Domains", "DomainAction", "RequiredDNSServers", "RequiredURLStringProbe"];
/// Apple's profile default lifetime, which differs from the API's 60/30 minutes.
const PROFILE_DEFAULT_LIFETIME: u32 = 1440;

/// Imports every IKEv2 VPN payload of a `.mobileconfig` (XML or binary plist). Secrets are
/// added to `secrets` only once the whole profile has been read without error.
pub fn import_profile(bytes: &[u8], secrets: &SecretStore) -> R<ImportedProfile> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
    // A CMS SignedData is a DER SEQUENCE: 0x30 followed by a length (RFC 5652 §5.1).
    if bytes.get(start) == Some(&0x30) {
        return Err(ProfileError::Signed);
    }
    let root = Value::from_reader(Cursor::new(bytes))
        .map_err(|e| ProfileError::NotPlist(crate::plist_error::describe(&e, bytes.len())))?;
    let Some(root) = root.as_dictionary() else {
        return invalid("(root)".into(), "a dictionary");
    };
    if root.contains_key("EncryptedPayloadContent") {
        return Err(ProfileError::Encrypted);
    }
    let mut ctx = Ctx { warnings: Vec::new() };
    let identifier = string(root, "(root)", "PayloadIdentifier")?.unwrap_or_default();
    let display_name = string(root, "(root)", "PayloadDisplayName")?.unwrap_or_default();

    let mut parsed = Vec::new();
    let mut anchors = Vec::new();
    let mut identities = Vec::new();
    if string(root, "(root)", "PayloadType")?.as_deref() == Some(VPN_PAYLOAD) {
        // A bare VPN payload, not wrapped in a Configuration.
        parsed.push(vpn_payload(&mut ctx, root, "(root)", &display_name)?);
    } else {
        let content = match root.get("PayloadContent") {
            Some(Value::Array(a)) => a.as_slice(),
            Some(_) => return invalid("PayloadContent".into(), "an array of payloads"),
            None => &[],
        };
        for (i, p) in content.iter().enumerate() {
            let path = format!("PayloadContent[{i}]");
            let Some(d) = p.as_dictionary() else { return invalid(path, "a dictionary") };
            match string(d, &path, "PayloadType")?.as_deref() {
                Some(VPN_PAYLOAD) => parsed.push(vpn_payload(&mut ctx, d, &path, &display_name)?),
                Some(ROOT_PAYLOAD | PEM_PAYLOAD | PKCS1_PAYLOAD) => {
                    anchors.extend(certificate_payload(d, &path)?);
                }
                Some(PKCS12_PAYLOAD) => identities.push(pkcs12_payload(d, &path)?),
                Some(other) => ctx.warn(path, format!("payload type {other} is not imported")),
                None => return Err(ProfileError::Missing { key: format!("{path}.PayloadType") }),
            }
        }
    }
    if parsed.is_empty() {
        return Err(ProfileError::NoVpnPayload);
    }
    // Every identity is opened and checked before any secret is stored.
    let mut used = vec![false; identities.len()];
    let mut chosen = Vec::new();
    for (vpn, _, type_given, ike_path) in &mut parsed {
        if let Some(ipsec) = vpn.configuration.ipsec.as_mut() {
            ipsec.trust_anchors = anchors.clone();
            ipsec.use_system_trust_store =
                ipsec.authentication_method == AuthenticationMethod::Certificate;
            let at = pick_identity(
                &mut ctx,
                ipsec.payload_certificate_uuid.as_deref(),
                &identities,
                ike_path,
            )?;
            if let Some((at, _)) = at {
                used[at] = true;
            }
            chosen.push(at.map(|(at, _)| at));
            continue;
        }
        let protocol =
            vpn.configuration.protocol.as_mut().expect("vpn_payload always sets the protocol");
        protocol.trust_anchors = anchors.clone();
        // Apple checks a server certificate against the system's trust settings too, where
        // the profile's root payloads are added.
        protocol.use_system_trust_store = system_store_by_default(protocol);
        let picked = pick_identity(
            &mut ctx,
            protocol.payload_certificate_uuid.as_deref(),
            &identities,
            ike_path,
        )?;
        let Some((at, identity)) = picked else {
            chosen.push(None);
            continue;
        };
        if *type_given {
            certs::check_certificate_type(protocol.certificate_type, identity.kind()).map_err(
                |source| ProfileError::Certificate {
                    key: format!("{ike_path}.CertificateType"),
                    source,
                },
            )?;
        } else {
            protocol.certificate_type = certs::certificate_type_of(identity.kind());
        }
        used[at] = true;
        chosen.push(Some(at));
    }
    for (p12, used) in identities.iter().zip(&used) {
        if !*used {
            ctx.warn(p12.path.clone(), "no VPN payload uses this identity; not imported");
        }
    }
    let mut vpns = Vec::new();
    for ((mut vpn, pending, _, _), identity) in parsed.into_iter().zip(chosen) {
        if let Some(ipsec) = vpn.configuration.ipsec.as_mut() {
            ipsec::store_secrets(ipsec, pending, identity.map(|at| &identities[at]), secrets)?;
            vpns.push(vpn);
            continue;
        }
        let protocol =
            vpn.configuration.protocol.as_mut().expect("vpn_payload always sets the protocol");
        for (slot, value) in pending {
            let reference = secrets.add(&value)?;
            match slot {
                Slot::SharedSecret => protocol.shared_secret_reference = Some(reference),
                Slot::Password => protocol.password_reference = Some(reference),
                Slot::Ppk => {
                    if let Some(ppk) = protocol.ppk_configuration.as_mut() {
                        ppk.keychain_reference = reference;
                    }
                }
            }
        }
        if let Some(at) = identity {
            let p12 = &identities[at];
            protocol.identity_reference = Some(secrets.add(&SecretBytes::from_slice(&p12.data))?);
            protocol.identity_data_password_reference = Some(secrets.add(&p12.password)?);
        }
        vpns.push(vpn);
    }
    Ok(ImportedProfile { identifier, display_name, vpns, warnings: ctx.warnings })
}

/// Whether a configuration from a profile checks the server's certificate against the system
/// store too: when it authenticates with a certificate, as Apple evaluates the server's
/// certificate against the system's trust settings (where the profile's roots are added).
fn system_store_by_default(p: &Ikev2Protocol) -> bool {
    p.authentication_method == AuthenticationMethod::Certificate
}

/// The PKCS#12 payload that `uuid` (a `PayloadCertificateUUID`) names, opened with its
/// password (a wrong one fails the import); a UUID naming no payload is a warning.
fn pick_identity(
    ctx: &mut Ctx,
    uuid: Option<&str>,
    identities: &[Pkcs12Payload],
    ike_path: &str,
) -> R<Option<(usize, ikeway_pki::Identity)>> {
    let Some(uuid) = uuid else { return Ok(None) };
    let Some(at) = identities.iter().position(|p| p.uuid == uuid) else {
        ctx.warn(
            format!("{ike_path}.PayloadCertificateUUID"),
            format!("{uuid} names no com.apple.security.pkcs12 payload of this profile"),
        );
        return Ok(None);
    };
    let p12 = &identities[at];
    let data = IdentityData::Pkcs12 { data: &p12.data, password: &p12.password };
    let identity = certs::parse_identity(&p12.path, data).map_err(ProfileError::CertificateData)?;
    Ok(Some((at, identity)))
}

/// A `com.apple.security.root` / `.pem` / `.pkcs1` payload: its `PayloadContent` is the
/// certificate (DER, or PEM text).
fn certificate_payload(d: &Dictionary, path: &str) -> R<Vec<Der>> {
    let key = format!("{path}.PayloadContent");
    let bytes = match d.get("PayloadContent") {
        Some(Value::Data(b)) => b.as_slice(),
        Some(Value::String(s)) => s.as_bytes(),
        Some(_) => return invalid(key, "data (the certificate)"),
        None => return Err(ProfileError::Missing { key }),
    };
    certs::anchors_from(&key, bytes).map_err(ProfileError::CertificateData)
}

/// A `com.apple.security.pkcs12` payload: the identity and its password.
struct Pkcs12Payload {
    uuid: String,
    data: Vec<u8>,
    password: SecretBytes,
    /// Its key path, for messages.
    path: String,
}

impl Drop for Pkcs12Payload {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.data);
    }
}

fn pkcs12_payload(d: &Dictionary, path: &str) -> R<Pkcs12Payload> {
    let uuid = string(d, path, "PayloadUUID")?
        .ok_or(ProfileError::Missing { key: format!("{path}.PayloadUUID") })?;
    let data = match d.get("PayloadContent") {
        Some(Value::Data(b)) => b.clone(),
        Some(_) => return invalid(format!("{path}.PayloadContent"), "data (PKCS#12)"),
        None => return Err(ProfileError::Missing { key: format!("{path}.PayloadContent") }),
    };
    let password = secret(d, path, "Password")?.unwrap_or_else(|| SecretBytes::from_slice(b""));
    Ok(Pkcs12Payload { uuid, data, password, path: path.to_owned() })
}

type Pending = Vec<(Slot, SecretBytes)>;

fn vpn_payload(
    ctx: &mut Ctx,
    d: &Dictionary,
    path: &str,
    profile_name: &str,
) -> R<(ImportedVpn, Pending, bool, String)> {
    let payload_identifier = string(d, path, "PayloadIdentifier")?.unwrap_or_default();
    let vpn_type = string(d, path, "VPNType")?
        .ok_or(ProfileError::Missing { key: format!("{path}.VPNType") })?;
    if vpn_type != "IKEv2" && vpn_type != "IPSec" {
        return Err(ProfileError::UnsupportedVpnType {
            payload: if payload_identifier.is_empty() {
                path.to_owned()
            } else {
                payload_identifier
            },
            vpn_type,
        });
    }
    if string(d, path, "VPNSubType")?.is_some_and(|s| !s.is_empty()) {
        return invalid(format!("{path}.VPNSubType"), "empty for IKEv2 and IPSec");
    }
    for k in d.keys() {
        if NOT_IMPORTED.contains(&k.as_str()) {
            ctx.warn(
                format!("{path}.{k}"),
                "recognised but not imported: the tunnel uses the server's configuration",
            );
        } else if !VPN_PAYLOAD_KEYS.contains(&k.as_str()) {
            ctx.warn(format!("{path}.{k}"), "unknown key, not imported");
        }
    }
    let name = string(d, path, "UserDefinedName")?
        .or(string(d, path, "PayloadDisplayName")?)
        .unwrap_or_else(|| profile_name.to_owned());
    if vpn_type == "IPSec" {
        let (vpn, pending) = ipsec::payload(ctx, d, path, name)?;
        return Ok((vpn, pending, false, format!("{path}.IPSec")));
    }
    let ike_path = format!("{path}.IKEv2");
    let ike = match d.get("IKEv2") {
        Some(Value::Dictionary(x)) => x,
        Some(_) => return invalid(ike_path, "a dictionary"),
        None => return Err(ProfileError::Missing { key: ike_path }),
    };
    let (protocol, pending, on_demand_enabled, on_demand_rules) = ikev2(ctx, ike, &ike_path)?;
    let type_given = ike.contains_key("CertificateType");
    let configuration = VpnConfiguration {
        localized_description: name,
        enabled: false,
        on_demand_enabled,
        on_demand_rules,
        protocol: Some(protocol),
        ipsec: None,
    };
    let vpn = ImportedVpn {
        payload_identifier: string(d, path, "PayloadIdentifier")?.unwrap_or_default(),
        payload_uuid: string(d, path, "PayloadUUID")?.unwrap_or_default(),
        configuration,
    };
    Ok((vpn, pending, type_given, ike_path))
}

fn ikev2(
    ctx: &mut Ctx,
    d: &Dictionary,
    path: &str,
) -> R<(Ikev2Protocol, Pending, bool, Vec<OnDemandRule>)> {
    ctx.unknown_keys(d, path, IKEV2_KEYS);
    let mut p = Ikev2Protocol::default();
    let mut pending = Vec::new();
    let b = |key: &str, default: bool| boolean(d, path, key).map(|v| v.unwrap_or(default));
    p.server_address = string(d, path, "RemoteAddress")?
        .ok_or(ProfileError::Missing { key: format!("{path}.RemoteAddress") })?;
    p.remote_identifier = string(d, path, "RemoteIdentifier")?;
    p.local_identifier = string(d, path, "LocalIdentifier")?;
    p.authentication_method =
        named(d, path, "AuthenticationMethod", AUTH_METHODS, "None, SharedSecret or Certificate")?
            .unwrap_or(AuthenticationMethod::None);
    p.use_extended_authentication = b("ExtendedAuthEnabled", false)?;
    p.username = string(d, path, "AuthName")?.filter(|s| !s.is_empty());
    if p.username.as_ref().is_some_and(|u| u.len() > MAX_USERNAME) {
        return invalid(format!("{path}.AuthName"), "a user name of at most 253 bytes");
    }
    if let Some(s) = secret(d, path, "AuthPassword")? {
        if s.len() > MAX_PASSWORD {
            return invalid(format!("{path}.AuthPassword"), "a password of at most 1024 bytes");
        }
        pending.push((Slot::Password, s));
    }
    if let Some(s) = secret(d, path, "SharedSecret")? {
        pending.push((Slot::SharedSecret, s));
    }
    p.payload_certificate_uuid = string(d, path, "PayloadCertificateUUID")?;
    p.certificate_type = named(
        d,
        path,
        "CertificateType",
        CERT_TYPES,
        "RSA, ECDSA256, ECDSA384, ECDSA521, Ed25519 or RSA-PSS",
    )?
    .unwrap_or(CertificateType::Rsa);
    p.server_certificate_issuer_common_name = string(d, path, "ServerCertificateIssuerCommonName")?;
    p.server_certificate_common_name = string(d, path, "ServerCertificateCommonName")?;
    p.enable_revocation_check = b("EnableCertificateRevocationCheck", false)?;
    p.minimum_tls_version = named(d, path, "TLSMinimumVersion", TLS_VERSIONS, "1.0, 1.1 or 1.2")?
        .unwrap_or(TlsVersion::Default);
    p.maximum_tls_version = named(d, path, "TLSMaximumVersion", TLS_VERSIONS, "1.0, 1.1 or 1.2")?
        .unwrap_or(TlsVersion::Default);
    p.dead_peer_detection_rate =
        named(d, path, "DeadPeerDetectionRate", DPD_RATES, "None, Low, Medium or High")?
            .unwrap_or(DeadPeerDetectionRate::Medium);
    p.nat_keep_alive_offload_enable = boolean(d, path, "NATKeepAliveOffloadEnable")?;
    p.nat_keep_alive_interval = u32_value(d, path, "NATKeepAliveInterval")?;
    p.disconnect_on_idle = b("DisconnectOnIdle", false)?;
    p.disconnect_on_idle_timer = u32_value(d, path, "DisconnectOnIdleTimer")?;
    p.disable_mobike = b("DisableMOBIKE", false)?;
    p.disable_redirect = b("DisableRedirect", false)?;
    p.enable_pfs = b("EnablePFS", false)?;
    p.use_configuration_attribute_internal_ip_subnet =
        b("UseConfigurationAttributeInternalIPSubnet", false)?;
    p.enable_fallback = b("EnableFallback", false)?;
    p.mtu = u32_value(d, path, "MTU")?;
    p.include_all_networks = b("IncludeAllNetworks", false)?;
    p.enforce_routes = b("EnforceRoutes", false)?;
    p.exclude_local_networks = b("ExcludeLocalNetworks", false)?;
    p.exclude_cellular_services = b("ExcludeCellularServices", true)?;
    p.exclude_apns = b("ExcludeAPNs", true)?;
    p.exclude_device_communication = b("ExcludeDeviceCommunication", true)?;
    p.on_demand_user_override_disabled = b("OnDemandUserOverrideDisabled", false)?;
    let ppk = secret(d, path, "PPK")?;
    let ppk_identifier = string(d, path, "PPKIdentifier")?;
    let ppk_mandatory = b("PPKMandatory", true)?;
    if let Some(ppk) = ppk {
        pending.push((Slot::Ppk, ppk));
        p.ppk_configuration = Some(PpkConfiguration {
            identifier: ppk_identifier.unwrap_or_default(),
            keychain_reference: PersistentRef::from(""),
            is_mandatory: ppk_mandatory,
        });
    } else if ppk_identifier.is_some() {
        ctx.warn(format!("{path}.PPKIdentifier"), "PPKIdentifier without PPK, not imported");
    }
    p.allow_post_quantum_key_exchange_fallback = b("AllowPostQuantumKeyExchangeFallback", false)?;
    p.enforce_strict_algorithm_selection = b("EnforceStrictAlgorithmSelection", false)?;
    p.provider_bundle_identifier = string(d, path, "ProviderBundleIdentifier")?;
    p.provider_designated_requirement = string(d, path, "ProviderDesignatedRequirement")?;
    p.provider_type = string(d, path, "ProviderType")?;
    p.ike_sa_parameters = sa_parameters(ctx, d, path, "IKESecurityAssociationParameters")?;
    p.child_sa_parameters = sa_parameters(ctx, d, path, "ChildSecurityAssociationParameters")?;
    let on_demand_enabled = b("OnDemandEnabled", false)?;
    let rules = match d.get("OnDemandRules") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, r)| on_demand_rule(ctx, r, &format!("{path}.OnDemandRules[{i}]")))
            .collect::<R<Vec<_>>>()?,
        Some(_) => return invalid(format!("{path}.OnDemandRules"), "an array of rules"),
    };
    Ok((p, pending, on_demand_enabled, rules))
}

fn sa_parameters(
    ctx: &mut Ctx,
    parent: &Dictionary,
    parent_path: &str,
    key: &str,
) -> R<SaParameters> {
    let path = format!("{parent_path}.{key}");
    let d = match parent.get(key) {
        None => {
            return Ok(SaParameters {
                lifetime_minutes: PROFILE_DEFAULT_LIFETIME,
                ..SaParameters::default()
            });
        }
        Some(Value::Dictionary(d)) => d,
        Some(_) => return invalid(path, "a dictionary"),
    };
    ctx.unknown_keys(d, &path, SA_KEYS);
    let mut p =
        SaParameters { lifetime_minutes: PROFILE_DEFAULT_LIFETIME, ..SaParameters::default() };
    if let Some(e) = named(
        d,
        &path,
        "EncryptionAlgorithm",
        ENCRYPTIONS,
        "DES, 3DES, AES-128, AES-256, AES-128-GCM, AES-256-GCM or ChaCha20Poly1305",
    )? {
        p.encryption_algorithm = e;
    }
    if let Some(i) = named(
        d,
        &path,
        "IntegrityAlgorithm",
        INTEGRITIES,
        "SHA1-96, SHA1-160, SHA2-256, SHA2-384 or SHA2-512",
    )? {
        p.integrity_algorithm = i;
    }
    if let Some(g) = integer(d, &path, "DiffieHellmanGroup")? {
        p.diffie_hellman_group = DiffieHellmanGroup::from_raw(g)
            .filter(|g| *g != DiffieHellmanGroup::Invalid)
            .map_or_else(
                || invalid(format!("{path}.DiffieHellmanGroup"), "1, 2, 5, 14-21, 31 or 32"),
                Ok,
            )?;
    }
    if let Some(m) = u32_value(d, &path, "LifeTimeInMinutes")? {
        if !(10..=1440).contains(&m) {
            return invalid(format!("{path}.LifeTimeInMinutes"), "10 to 1440");
        }
        p.lifetime_minutes = m;
    }
    if let Some(v) = d.get("PostQuantumKeyExchangeMethods") {
        let methods = v.as_array().and_then(|a| {
            a.iter()
                .map(|m| m.as_signed_integer().and_then(|i| u16::try_from(i).ok()))
                .collect::<Option<Vec<_>>>()
        });
        match methods {
            // 0 means "none" in Apple's enum.
            Some(m) => {
                p.post_quantum_key_exchange_methods = m.into_iter().filter(|m| *m != 0).collect()
            }
            None => {
                return invalid(
                    format!("{path}.PostQuantumKeyExchangeMethods"),
                    "an array of 0, 36 or 37",
                );
            }
        }
    }
    Ok(p)
}

fn on_demand_rule(ctx: &mut Ctx, v: &Value, path: &str) -> R<OnDemandRule> {
    let Some(d) = v.as_dictionary() else { return invalid(path.to_owned(), "a dictionary") };
    ctx.unknown_keys(d, path, RULE_KEYS);
    if string(d, path, "Action")?.as_deref() == Some("Allow") {
        ctx.warn(format!("{path}.Action"), "Allow is deprecated; imported as Connect");
    }
    let action =
        named(d, path, "Action", ACTIONS, "Connect, Disconnect, EvaluateConnection or Ignore")?
            .ok_or(ProfileError::Missing { key: format!("{path}.Action") })?;
    let mut rule = OnDemandRule::new(action);
    rule.interface_type_match =
        named(d, path, "InterfaceTypeMatch", INTERFACES, "Ethernet, WiFi or Cellular")?
            .unwrap_or(InterfaceType::Any);
    rule.ssid_match = strings(d, path, "SSIDMatch")?;
    rule.dns_search_domain_match = strings(d, path, "DNSDomainMatch")?;
    rule.dns_server_address_match = strings(d, path, "DNSServerAddressMatch")?;
    rule.probe_url = string(d, path, "URLStringProbe")?;
    match d.get("ActionParameters") {
        None => {}
        Some(Value::Array(a)) => {
            for (i, p) in a.iter().enumerate() {
                let ppath = format!("{path}.ActionParameters[{i}]");
                let Some(pd) = p.as_dictionary() else { return invalid(ppath, "a dictionary") };
                ctx.unknown_keys(pd, &ppath, PARAMETER_KEYS);
                rule.connection_rules.push(EvaluateConnectionRule {
                    match_domains: strings(pd, &ppath, "Domains")?,
                    action: named(
                        pd,
                        &ppath,
                        "DomainAction",
                        DOMAIN_ACTIONS,
                        "ConnectIfNeeded or NeverConnect",
                    )?
                    .ok_or(ProfileError::Missing { key: format!("{ppath}.DomainAction") })?,
                    use_dns_servers: strings(pd, &ppath, "RequiredDNSServers")?,
                    probe_url: string(pd, &ppath, "RequiredURLStringProbe")?,
                });
            }
        }
        Some(_) => return invalid(format!("{path}.ActionParameters"), "an array of dictionaries"),
    }
    if action != OnDemandAction::EvaluateConnection && !rule.connection_rules.is_empty() {
        ctx.warn(format!("{path}.ActionParameters"), "only used with EvaluateConnection");
    }
    Ok(rule)
}

// ---------------------------------------------------------------------------------------------
// Export

pub(crate) fn name_of<T: PartialEq + Copy>(names: &[(&'static str, T)], v: T) -> &'static str {
    names.iter().find(|(_, x)| *x == v).map_or("", |(n, _)| *n)
}

fn random_uuid() -> String {
    let (a, b) = (crate::atomic::random_u64(), crate::atomic::random_u64());
    // Version 4, variant 10 (RFC 9562 §5.4).
    let a = (a & !0xf000) | 0x4000;
    let b = (b & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

struct Out(Dictionary);

impl Out {
    fn s(&mut self, k: &str, v: impl Into<String>) {
        self.0.insert(k.into(), Value::String(v.into()));
    }
    fn opt(&mut self, k: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.s(k, v.clone());
        }
    }
    fn i(&mut self, k: &str, v: i64) {
        self.0.insert(k.into(), Value::Integer(v.into()));
    }
    /// Apple's profiles write booleans as 0/1.
    fn b(&mut self, k: &str, v: bool) {
        self.i(k, i64::from(v));
    }
    fn list(&mut self, k: &str, v: &[String]) {
        if !v.is_empty() {
            self.0.insert(k.into(), Value::Array(v.iter().cloned().map(Value::String).collect()));
        }
    }
}

fn export_secret(secrets: &dyn SecretSource, field: &'static str, r: &PersistentRef) -> R<Value> {
    let s = secrets
        .secret(r)?
        .ok_or_else(|| ProfileError::MissingSecret { field, reference: r.clone() })?;
    Ok(match std::str::from_utf8(s.expose()) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => Value::Data(s.expose().to_vec()),
    })
}

/// Writes `configurations` as one `.mobileconfig` (XML plist), each as a `com.apple.vpn.managed`
/// IKEv2 payload. With `secrets`, shared secrets, passwords and PPKs are included in clear
/// (as Apple's profiles carry them); without, they are left out. Fields a profile cannot carry
/// come back as warnings.
pub fn export_profile(
    identifier: &str,
    display_name: &str,
    configurations: &[&VpnConfiguration],
    secrets: Option<&dyn SecretSource>,
) -> R<(Vec<u8>, Vec<ProfileWarning>)> {
    let mut warnings = Vec::new();
    let mut content = Vec::new();
    // The certificates first, each once: the anchors of every configuration, then identities.
    let mut anchors: Vec<&Der> = Vec::new();
    let anchor_lists = configurations.iter().filter_map(|c| match (&c.protocol, &c.ipsec) {
        (Some(p), _) => Some(&p.trust_anchors),
        (None, Some(p)) => Some(&p.trust_anchors),
        (None, None) => None,
    });
    for list in anchor_lists {
        for a in list {
            if !anchors.contains(&a) {
                anchors.push(a);
            }
        }
    }
    for (n, der) in anchors.iter().enumerate() {
        let name = ikeway_pki::Certificate::from_der(der.0.clone())
            .ok()
            .and_then(|c| c.subject_common_name().map(str::to_owned))
            .unwrap_or_else(|| "Certificate".to_owned());
        let mut root = Out(Dictionary::new());
        root.s("PayloadType", ROOT_PAYLOAD);
        root.i("PayloadVersion", 1);
        root.s("PayloadIdentifier", format!("{identifier}.ca{n}"));
        root.s("PayloadUUID", random_uuid());
        root.s("PayloadDisplayName", name);
        root.0.insert("PayloadContent".into(), Value::Data(der.0.clone()));
        content.push(Value::Dictionary(root.0));
    }
    for (i, c) in configurations.iter().enumerate() {
        if let Some(p) = &c.ipsec {
            let ids = secrets.map(|secrets| IdentityOut { identifier, index: i, secrets });
            let dict = ipsec::export(i, c, p, secrets, ids, &mut content, &mut warnings)?;
            content.push(vpn_out(identifier, i, c, "IPSec", dict));
            continue;
        }
        let Some(p) = &c.protocol else {
            return Err(ProfileError::Missing { key: format!("configuration {i}: protocol") });
        };
        let mut ike = Out(Dictionary::new());
        ike.s("RemoteAddress", p.server_address.clone());
        ike.opt("RemoteIdentifier", &p.remote_identifier);
        ike.opt("LocalIdentifier", &p.local_identifier);
        ike.s("AuthenticationMethod", name_of(AUTH_METHODS, p.authentication_method));
        ike.b("ExtendedAuthEnabled", p.use_extended_authentication);
        ike.opt("AuthName", &p.username);
        if let Some(secrets) = secrets {
            if let Some(r) = &p.password_reference {
                ike.0.insert(
                    "AuthPassword".into(),
                    export_secret(secrets, "password_reference", r)?,
                );
            }
            if let Some(r) = &p.shared_secret_reference {
                ike.0.insert(
                    "SharedSecret".into(),
                    export_secret(secrets, "shared_secret_reference", r)?,
                );
            }
            if let Some(ppk) = &p.ppk_configuration {
                ike.0.insert(
                    "PPK".into(),
                    export_secret(secrets, "ppk_configuration", &ppk.keychain_reference)?,
                );
            }
        }
        if let Some(ppk) = &p.ppk_configuration {
            ike.s("PPKIdentifier", ppk.identifier.clone());
            ike.b("PPKMandatory", ppk.is_mandatory);
        }
        let mut certificate_uuid = p.payload_certificate_uuid.clone();
        if let Some(secrets) = secrets {
            let ids = (p.identity_reference.as_ref(), p.identity_data_password_reference.as_ref());
            let out = IdentityOut { identifier, index: i, secrets };
            out.write(ids, &mut certificate_uuid, &mut content, &mut warnings)?;
        }
        ike.opt("PayloadCertificateUUID", &certificate_uuid);
        ike.s("CertificateType", name_of(CERT_TYPES, p.certificate_type));
        ike.opt("ServerCertificateIssuerCommonName", &p.server_certificate_issuer_common_name);
        ike.opt("ServerCertificateCommonName", &p.server_certificate_common_name);
        ike.b("EnableCertificateRevocationCheck", p.enable_revocation_check);
        if p.minimum_tls_version != TlsVersion::Default {
            ike.s("TLSMinimumVersion", name_of(TLS_VERSIONS, p.minimum_tls_version));
        }
        if p.maximum_tls_version != TlsVersion::Default {
            ike.s("TLSMaximumVersion", name_of(TLS_VERSIONS, p.maximum_tls_version));
        }
        ike.s("DeadPeerDetectionRate", name_of(DPD_RATES, p.dead_peer_detection_rate));
        if let Some(v) = p.nat_keep_alive_offload_enable {
            ike.b("NATKeepAliveOffloadEnable", v);
        }
        if let Some(v) = p.nat_keep_alive_interval {
            ike.i("NATKeepAliveInterval", v.into());
        }
        ike.b("DisconnectOnIdle", p.disconnect_on_idle);
        if let Some(v) = p.disconnect_on_idle_timer {
            ike.i("DisconnectOnIdleTimer", v.into());
        }
        ike.b("DisableMOBIKE", p.disable_mobike);
        ike.b("DisableRedirect", p.disable_redirect);
        ike.b("EnablePFS", p.enable_pfs);
        ike.b(
            "UseConfigurationAttributeInternalIPSubnet",
            p.use_configuration_attribute_internal_ip_subnet,
        );
        ike.b("EnableFallback", p.enable_fallback);
        if let Some(mtu) = p.mtu {
            ike.i("MTU", mtu.into());
        }
        ike.b("IncludeAllNetworks", p.include_all_networks);
        ike.b("EnforceRoutes", p.enforce_routes);
        ike.b("ExcludeLocalNetworks", p.exclude_local_networks);
        ike.b("ExcludeCellularServices", p.exclude_cellular_services);
        ike.b("ExcludeAPNs", p.exclude_apns);
        ike.b("ExcludeDeviceCommunication", p.exclude_device_communication);
        ike.b("OnDemandEnabled", c.on_demand_enabled);
        ike.b("OnDemandUserOverrideDisabled", p.on_demand_user_override_disabled);
        ike.b("AllowPostQuantumKeyExchangeFallback", p.allow_post_quantum_key_exchange_fallback);
        ike.b("EnforceStrictAlgorithmSelection", p.enforce_strict_algorithm_selection);
        ike.opt("ProviderBundleIdentifier", &p.provider_bundle_identifier);
        ike.opt("ProviderDesignatedRequirement", &p.provider_designated_requirement);
        ike.opt("ProviderType", &p.provider_type);
        ike.0.insert("IKESecurityAssociationParameters".into(), sa_out(&p.ike_sa_parameters));
        ike.0.insert("ChildSecurityAssociationParameters".into(), sa_out(&p.child_sa_parameters));
        if !c.on_demand_rules.is_empty() {
            ike.0.insert(
                "OnDemandRules".into(),
                Value::Array(c.on_demand_rules.iter().map(rule_out).collect()),
            );
        }
        let path = format!("configuration {i}");
        for (set, field) in [
            (p.disconnect_on_sleep, "disconnect_on_sleep"),
            (p.strict_revocation_check, "strict_revocation_check"),
            (!p.certificate_revocation_lists.is_empty(), "certificate_revocation_lists"),
            // ikeway's extension: an import gives every method.
            (p.eap_methods != EapMethod::ALL, "eap_methods"),
            // An import derives it from the authentication method.
            (p.use_system_trust_store != system_store_by_default(p), "use_system_trust_store"),
        ] {
            if set {
                warnings.push(ProfileWarning {
                    key: format!("{path}.{field}"),
                    message: "has no key in com.apple.vpn.managed; not exported".into(),
                });
            }
        }
        content.push(vpn_out(identifier, i, c, "IKEv2", ike.0));
    }
    let mut root = Out(Dictionary::new());
    root.s("PayloadType", "Configuration");
    root.i("PayloadVersion", 1);
    root.s("PayloadIdentifier", identifier);
    root.s("PayloadUUID", random_uuid());
    root.s("PayloadDisplayName", display_name);
    root.0.insert("PayloadContent".into(), Value::Array(content));
    let mut out = Vec::new();
    Value::Dictionary(root.0)
        .to_writer_xml(&mut out)
        .map_err(|e| ProfileError::Write(e.to_string()))?;
    out.push(b'\n');
    Ok((out, warnings))
}

/// The `com.apple.vpn.managed` payload around a protocol dictionary (`IKEv2` or `IPSec`).
fn vpn_out(
    identifier: &str,
    i: usize,
    c: &VpnConfiguration,
    vpn_type: &str,
    protocol: Dictionary,
) -> Value {
    let mut vpn = Out(Dictionary::new());
    vpn.s("PayloadType", VPN_PAYLOAD);
    vpn.i("PayloadVersion", 1);
    vpn.s("PayloadIdentifier", format!("{identifier}.vpn{i}"));
    vpn.s("PayloadUUID", random_uuid());
    vpn.s("PayloadDisplayName", "VPN");
    vpn.s("UserDefinedName", c.localized_description.clone());
    vpn.s("VPNType", vpn_type);
    vpn.0.insert(vpn_type.into(), Value::Dictionary(protocol));
    Value::Dictionary(vpn.0)
}

/// Exports a configuration's certificate identity as a `com.apple.security.pkcs12` payload.
struct IdentityOut<'a> {
    identifier: &'a str,
    /// The configuration's index, for payload identifiers and warnings.
    index: usize,
    secrets: &'a dyn SecretSource,
}

impl IdentityOut<'_> {
    /// Adds the identity (and its password) to `content` when `ids.0` is set, naming the
    /// payload `certificate_uuid` (made when unset); a PEM identity has no payload and is a
    /// warning.
    fn write(
        &self,
        ids: (Option<&PersistentRef>, Option<&PersistentRef>),
        certificate_uuid: &mut Option<String>,
        content: &mut Vec<Value>,
        warnings: &mut Vec<ProfileWarning>,
    ) -> R<()> {
        let (Some(r), password_reference) = ids else { return Ok(()) };
        let (identifier, i, secrets) = (self.identifier, self.index, self.secrets);
        let identity = secrets.secret(r)?.ok_or_else(|| ProfileError::MissingSecret {
            field: "identity_reference",
            reference: r.clone(),
        })?;
        // PKCS#12 is DER (a SEQUENCE); the other form kept is PEM text.
        if identity.expose().first() == Some(&0x30) {
            let password = match password_reference {
                Some(r) => export_secret(secrets, "identity_data_password_reference", r)?,
                None => Value::String(String::new()),
            };
            let mut p12 = Out(Dictionary::new());
            p12.s("PayloadType", PKCS12_PAYLOAD);
            p12.i("PayloadVersion", 1);
            p12.s("PayloadIdentifier", format!("{identifier}.identity{i}"));
            p12.s("PayloadUUID", certificate_uuid.get_or_insert_with(random_uuid).clone());
            p12.s("PayloadDisplayName", "Identity");
            p12.0.insert("PayloadContent".into(), Value::Data(identity.expose().to_vec()));
            p12.0.insert("Password".into(), password);
            content.push(Value::Dictionary(p12.0));
        } else {
            warnings.push(ProfileWarning {
                key: format!("configuration {i}.identity_reference"),
                message: "a PEM key and certificate have no profile payload (Apple's is \
                          PKCS#12); not exported"
                    .into(),
            });
        }
        Ok(())
    }
}

fn sa_out(p: &SaParameters) -> Value {
    let mut d = Out(Dictionary::new());
    d.s("EncryptionAlgorithm", name_of(ENCRYPTIONS, p.encryption_algorithm));
    d.s("IntegrityAlgorithm", name_of(INTEGRITIES, p.integrity_algorithm));
    d.i("DiffieHellmanGroup", p.diffie_hellman_group.raw());
    d.i("LifeTimeInMinutes", p.lifetime_minutes.into());
    if !p.post_quantum_key_exchange_methods.is_empty() {
        d.0.insert(
            "PostQuantumKeyExchangeMethods".into(),
            Value::Array(
                p.post_quantum_key_exchange_methods
                    .iter()
                    .map(|m| Value::Integer(i64::from(*m).into()))
                    .collect(),
            ),
        );
    }
    Value::Dictionary(d.0)
}

fn rule_out(r: &OnDemandRule) -> Value {
    let mut d = Out(Dictionary::new());
    d.s("Action", name_of(ACTIONS, r.action));
    if r.interface_type_match != InterfaceType::Any {
        d.s("InterfaceTypeMatch", name_of(INTERFACES, r.interface_type_match));
    }
    d.list("SSIDMatch", &r.ssid_match);
    d.list("DNSDomainMatch", &r.dns_search_domain_match);
    d.list("DNSServerAddressMatch", &r.dns_server_address_match);
    d.opt("URLStringProbe", &r.probe_url);
    if !r.connection_rules.is_empty() {
        let params = r
            .connection_rules
            .iter()
            .map(|c| {
                let mut p = Out(Dictionary::new());
                p.list("Domains", &c.match_domains);
                p.s("DomainAction", name_of(DOMAIN_ACTIONS, c.action));
                p.list("RequiredDNSServers", &c.use_dns_servers);
                p.opt("RequiredURLStringProbe", &c.probe_url);
                Value::Dictionary(p.0)
            })
            .collect();
        d.0.insert("ActionParameters".into(), Value::Array(params));
    }
    Value::Dictionary(d.0)
}
