//! The `IPSec` dictionary of a `com.apple.vpn.managed` payload (`VPNType` `IPSec`: Apple's
//! IKEv1 "Cisco IPSec" client) to and from [`IpsecProtocol`].
//!
//! A profile is untrusted input: every string and secret is bounded, every enumerated value
//! must be one Apple defines, and an error names the key path. Secrets are held until the
//! whole profile has been read, as for IKEv2.

use ikeway_crypto::SecretBytes;
use plist::{Dictionary, Value};

use super::{
    Ctx, IdentityOut, ImportedVpn, Out, Pending, Pkcs12Payload, ProfileError, ProfileWarning, R,
    Slot, boolean, export_secret, invalid, named, on_demand_rule, secret, string,
};
use crate::ipsec::{
    HYBRID_SUFFIX, IpsecProtocol, MAX_GROUP_NAME, MAX_SHARED_SECRET, MAX_XAUTH_PASSWORD,
};
use crate::model::{AuthenticationMethod, MAX_USERNAME, VpnConfiguration};
use crate::secrets::{SecretSource, SecretStore};

const KEYS: &[&str] = &[
    "RemoteAddress",
    "AuthenticationMethod",
    "XAuthEnabled",
    "XAuthName",
    "XAuthPassword",
    "XAuthPasswordEncryption",
    "LocalIdentifier",
    "LocalIdentifierType",
    "SharedSecret",
    "PayloadCertificateUUID",
    "PromptForVPNPIN",
    "OnDemandEnabled",
    "OnDemandRules",
    "OnDemandUserOverrideDisabled",
];

/// Apple's IPSec payload knows these two (no `None`: a Cisco IPSec client always proves
/// itself in phase 1, or with `[hybrid]` through XAUTH).
const METHODS: &[(&str, AuthenticationMethod)] = &[
    ("SharedSecret", AuthenticationMethod::SharedSecret),
    ("Certificate", AuthenticationMethod::Certificate),
];

/// The one `LocalIdentifierType` Apple defines: the group name goes out as an ID_KEY_ID.
const KEY_ID: &str = "KeyID";
/// The one `XAuthPasswordEncryption` Apple defines: ask for the password at each connection.
const PROMPT: &str = "Prompt";

/// Reads one VPN payload whose `VPNType` is `IPSec`.
pub(super) fn payload(
    ctx: &mut Ctx,
    d: &Dictionary,
    path: &str,
    name: String,
) -> R<(ImportedVpn, Pending)> {
    let ipsec_path = format!("{path}.IPSec");
    let ipsec = match d.get("IPSec") {
        Some(Value::Dictionary(x)) => x,
        Some(_) => return invalid(ipsec_path, "a dictionary"),
        None => return Err(ProfileError::Missing { key: ipsec_path }),
    };
    let (protocol, pending, on_demand_enabled, on_demand_rules) = read(ctx, ipsec, &ipsec_path)?;
    let configuration = VpnConfiguration {
        localized_description: name,
        enabled: false,
        on_demand_enabled,
        on_demand_rules,
        protocol: None,
        ipsec: Some(protocol),
    };
    let vpn = ImportedVpn {
        payload_identifier: string(d, path, "PayloadIdentifier")?.unwrap_or_default(),
        payload_uuid: string(d, path, "PayloadUUID")?.unwrap_or_default(),
        configuration,
    };
    Ok((vpn, pending))
}

type Read = (IpsecProtocol, Pending, bool, Vec<crate::ondemand::OnDemandRule>);

fn read(ctx: &mut Ctx, d: &Dictionary, path: &str) -> R<Read> {
    ctx.unknown_keys(d, path, KEYS);
    let mut p = IpsecProtocol::default();
    let mut pending = Vec::new();
    let b = |key: &str, default: bool| boolean(d, path, key).map(|v| v.unwrap_or(default));
    p.server_address = string(d, path, "RemoteAddress")?
        .filter(|s| !s.trim().is_empty())
        .ok_or(ProfileError::Missing { key: format!("{path}.RemoteAddress") })?;
    if p.server_address.len() > 253 {
        return invalid(
            format!("{path}.RemoteAddress"),
            "a host name or address (at most 253 bytes)",
        );
    }
    p.authentication_method =
        named(d, path, "AuthenticationMethod", METHODS, "SharedSecret or Certificate")?
            .unwrap_or(AuthenticationMethod::SharedSecret);
    p.local_identifier = string(d, path, "LocalIdentifier")?.filter(|s| !s.is_empty());
    if p.local_identifier.as_ref().is_some_and(|l| l.len() > MAX_GROUP_NAME + HYBRID_SUFFIX.len()) {
        return invalid(format!("{path}.LocalIdentifier"), "a group name of at most 255 bytes");
    }
    match string(d, path, "LocalIdentifierType")?.as_deref() {
        None | Some(KEY_ID) => {}
        Some(_) => return invalid(format!("{path}.LocalIdentifierType"), "KeyID"),
    }
    if let Some(s) = secret(d, path, "SharedSecret")? {
        if s.is_empty() || s.len() > MAX_SHARED_SECRET {
            return invalid(format!("{path}.SharedSecret"), "a shared secret of 1 to 1024 bytes");
        }
        pending.push((Slot::SharedSecret, s));
    }
    p.use_extended_authentication = b("XAuthEnabled", false)?;
    p.username = string(d, path, "XAuthName")?.filter(|s| !s.is_empty());
    if p.username.as_ref().is_some_and(|u| u.len() > MAX_USERNAME) {
        return invalid(format!("{path}.XAuthName"), "a user name of at most 253 bytes");
    }
    p.xauth_password_prompt = match string(d, path, "XAuthPasswordEncryption")?.as_deref() {
        None => false,
        Some(PROMPT) => true,
        Some(_) => return invalid(format!("{path}.XAuthPasswordEncryption"), "Prompt"),
    };
    if let Some(s) = secret(d, path, "XAuthPassword")? {
        if s.len() > MAX_XAUTH_PASSWORD {
            return invalid(format!("{path}.XAuthPassword"), "a password of at most 1024 bytes");
        }
        if p.xauth_password_prompt {
            ctx.warn(
                format!("{path}.XAuthPassword"),
                "XAuthPasswordEncryption is Prompt: the password is asked, this one not stored",
            );
        } else {
            pending.push((Slot::Password, s));
        }
    }
    p.payload_certificate_uuid = string(d, path, "PayloadCertificateUUID")?;
    p.prompt_for_vpn_pin = b("PromptForVPNPIN", false)?;
    p.on_demand_user_override_disabled = b("OnDemandUserOverrideDisabled", false)?;
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

/// Stores an imported payload's secrets and identity (called once the whole profile read
/// without error).
pub(super) fn store_secrets(
    p: &mut IpsecProtocol,
    pending: Pending,
    identity: Option<&Pkcs12Payload>,
    secrets: &SecretStore,
) -> R<()> {
    for (slot, value) in pending {
        let reference = secrets.add(&value)?;
        match slot {
            Slot::SharedSecret => p.shared_secret_reference = Some(reference),
            Slot::Password => p.password_reference = Some(reference),
            // An IPSec payload has no PPK.
            Slot::Ppk => {}
        }
    }
    if let Some(p12) = identity {
        p.identity_reference = Some(secrets.add(&SecretBytes::from_slice(&p12.data))?);
        p.identity_data_password_reference = Some(secrets.add(&p12.password)?);
    }
    Ok(())
}

/// The `IPSec` dictionary of configuration `c` (whose protocol is `p`); with `secrets`, the
/// shared secret (as `<data>`, as Apple writes it), the XAUTH password and the identity are
/// included. Fields the dictionary cannot carry come back as warnings.
pub(super) fn export(
    index: usize,
    c: &VpnConfiguration,
    p: &IpsecProtocol,
    secrets: Option<&dyn SecretSource>,
    identity: Option<IdentityOut<'_>>,
    content: &mut Vec<Value>,
    warnings: &mut Vec<ProfileWarning>,
) -> R<Dictionary> {
    let mut d = Out(Dictionary::new());
    d.s("RemoteAddress", p.server_address.clone());
    let method = match p.authentication_method {
        AuthenticationMethod::Certificate => "Certificate",
        // Apple's IPSec payload has no None; a configuration without a method was never set
        // up, and a shared secret is Apple's default.
        AuthenticationMethod::SharedSecret | AuthenticationMethod::None => "SharedSecret",
    };
    d.s("AuthenticationMethod", method);
    if let Some(l) = &p.local_identifier {
        d.s("LocalIdentifier", l.clone());
        d.s("LocalIdentifierType", KEY_ID);
    }
    d.b("XAuthEnabled", p.use_extended_authentication);
    d.opt("XAuthName", &p.username);
    if p.xauth_password_prompt {
        d.s("XAuthPasswordEncryption", PROMPT);
    }
    if let Some(secrets) = secrets {
        if let Some(r) = &p.shared_secret_reference {
            let s = secrets.secret(r)?.ok_or_else(|| ProfileError::MissingSecret {
                field: "shared_secret_reference",
                reference: r.clone(),
            })?;
            d.0.insert("SharedSecret".into(), Value::Data(s.expose().to_vec()));
        }
        if let Some(r) = &p.password_reference {
            d.0.insert("XAuthPassword".into(), export_secret(secrets, "password_reference", r)?);
        }
    }
    let mut certificate_uuid = p.payload_certificate_uuid.clone();
    if let Some(out) = identity {
        let ids = (p.identity_reference.as_ref(), p.identity_data_password_reference.as_ref());
        out.write(ids, &mut certificate_uuid, content, warnings)?;
    }
    d.opt("PayloadCertificateUUID", &certificate_uuid);
    d.b("PromptForVPNPIN", p.prompt_for_vpn_pin);
    d.b("OnDemandEnabled", c.on_demand_enabled);
    d.b("OnDemandUserOverrideDisabled", p.on_demand_user_override_disabled);
    if !c.on_demand_rules.is_empty() {
        d.0.insert(
            "OnDemandRules".into(),
            Value::Array(c.on_demand_rules.iter().map(super::rule_out).collect()),
        );
    }
    let defaults = IpsecProtocol::default();
    for (set, field) in [
        (p.remote_identifier.is_some(), "remote_identifier"),
        (p.disconnect_on_sleep, "disconnect_on_sleep"),
        (p.include_all_networks, "include_all_networks"),
        (p.exclude_local_networks, "exclude_local_networks"),
        (p.enforce_routes, "enforce_routes"),
        (
            p.exclude_cellular_services != defaults.exclude_cellular_services,
            "exclude_cellular_services",
        ),
        (p.exclude_apns != defaults.exclude_apns, "exclude_apns"),
        (
            p.exclude_device_communication != defaults.exclude_device_communication,
            "exclude_device_communication",
        ),
        (!p.certificate_revocation_lists.is_empty(), "certificate_revocation_lists"),
        (
            p.use_system_trust_store
                != (p.authentication_method == AuthenticationMethod::Certificate),
            "use_system_trust_store",
        ),
    ] {
        if set {
            warnings.push(ProfileWarning {
                key: format!("configuration {index}.{field}"),
                message: "has no key in the IPSec dictionary; not exported".into(),
            });
        }
    }
    Ok(d.0)
}
