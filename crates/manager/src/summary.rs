//! A configuration as a person reads it: grouped like Apple's VPN settings screen (server,
//! identities, authentication, SA parameters, routing, DNS, on demand), with Apple's names
//! for algorithms, and the set fields that have no effect here listed at the end. Secrets are
//! never shown, only whether one is stored.
//!
//! [`Summary`] is the text (its `Display`); [`summary_json`] is the same configuration for
//! scripts. Both are pure, so the binary, the C ABI and tests share them.

use std::fmt::{self, Display, Formatter};

use serde_json::{Value, json};

use crate::eap::{EapRound, tls_version_name};
use crate::ipsec::IpsecProtocol;
use crate::model::{
    AuthenticationMethod, DeadPeerDetectionRate, EapMethod, Ikev2Protocol, SaParameters,
    VpnConfiguration,
};
use crate::ondemand::{EvaluateConnectionRule, InterfaceType, OnDemandRule};
use crate::profile::{ACTIONS, DOMAIN_ACTIONS, ENCRYPTIONS, INTEGRITIES, name_of};

/// Width of the label column.
const LABEL: usize = 26;

/// The readable rendering of one saved configuration.
///
/// ```
/// use ikeway_manager::{Ikev2Protocol, Summary, VpnConfiguration};
///
/// let config = VpnConfiguration {
///     localized_description: "Office".into(),
///     protocol: Some(Ikev2Protocol::new("vpn.example.org")),
///     ..Default::default()
/// };
/// let text = Summary { name: "office", configuration: &config, managed: false }.to_string();
/// assert!(text.contains("  Server address            vpn.example.org\n"));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Summary<'a> {
    /// The name the user knows the configuration by.
    pub name: &'a str,
    pub configuration: &'a VpnConfiguration,
    /// Installed from a profile: read-only.
    pub managed: bool,
}

/// One `label value` line, the label padded to [`LABEL`].
fn row(f: &mut Formatter<'_>, label: &str, value: impl Display) -> fmt::Result {
    writeln!(f, "  {label:<LABEL$}{value}")
}

fn on_off(v: bool) -> &'static str {
    if v { "on" } else { "off" }
}

fn or_none(v: Option<&str>) -> &str {
    v.filter(|s| !s.is_empty()).unwrap_or("(not set)")
}

/// `AES-256, SHA2-256, group 14, 60 min`, in Apple's names.
fn sa_line(p: &SaParameters) -> String {
    let mut s = format!(
        "{}, {}, group {}, {} min",
        name_of(ENCRYPTIONS, p.encryption_algorithm),
        name_of(INTEGRITIES, p.integrity_algorithm),
        p.diffie_hellman_group.raw(),
        p.lifetime_minutes
    );
    if !p.post_quantum_key_exchange_methods.is_empty() {
        let methods: Vec<String> =
            p.post_quantum_key_exchange_methods.iter().map(|m| post_quantum_name(*m)).collect();
        s.push_str(&format!(", post-quantum {}", methods.join(" + ")));
    }
    s
}

/// ML-KEM by name (RFC 9370 transform IDs 36/37), anything else by number.
fn post_quantum_name(method: u16) -> String {
    match method {
        36 => "ML-KEM-768".into(),
        37 => "ML-KEM-1024".into(),
        other => other.to_string(),
    }
}

/// The IKE SA's additional key exchanges and whether a server without them is accepted;
/// `None` (no row) without them.
fn post_quantum(p: &Ikev2Protocol) -> Option<String> {
    if p.ike_sa_parameters.post_quantum_key_exchange_methods.is_empty() {
        return None;
    }
    let fallback = if p.allow_post_quantum_key_exchange_fallback {
        "classical fallback allowed"
    } else {
        "required"
    };
    Some(format!("IKE_INTERMEDIATE (RFC 9370), {fallback}"))
}

fn dpd(rate: DeadPeerDetectionRate) -> String {
    let name = match rate {
        DeadPeerDetectionRate::None => return "off".into(),
        DeadPeerDetectionRate::Low => "low",
        DeadPeerDetectionRate::Medium => "medium",
        DeadPeerDetectionRate::High => "high",
    };
    let minutes = rate.interval().map_or(0, |d| d.as_secs() / 60);
    let every = if minutes == 1 { "every minute".into() } else { format!("every {minutes} min") };
    format!("{name} ({every})")
}

fn authentication(p: &Ikev2Protocol) -> String {
    match p.authentication_method {
        AuthenticationMethod::SharedSecret if p.shared_secret_reference.is_some() => {
            "shared secret (stored, never shown)".into()
        }
        AuthenticationMethod::SharedSecret => "shared secret (none stored)".into(),
        AuthenticationMethod::Certificate => "certificate".into(),
        AuthenticationMethod::None if p.use_extended_authentication => "EAP only".into(),
        AuthenticationMethod::None => "none".into(),
    }
}

/// Where EAP runs and with which methods, or why it cannot.
fn eap(f: &mut Formatter<'_>, p: &Ikev2Protocol) -> fmt::Result {
    let plan = match p.eap_plan() {
        Ok(Some(plan)) => plan,
        Ok(None) => return Ok(()),
        Err(e) => return row(f, "EAP", format!("cannot run: {e}")),
    };
    let methods: Vec<&str> = plan.methods.iter().map(|m| m.name()).collect();
    let round = match plan.round {
        EapRound::First if plan.eap_only() => "instead of our AUTH (EAP-only allowed, RFC 5998)",
        EapRound::First => "instead of our AUTH",
        EapRound::Second => "after our AUTH (RFC 4739)",
    };
    row(f, "EAP", format!("{}, {round}", methods.join(", ")))?;
    if plan.methods.contains(&EapMethod::Tls) {
        match p.tls_versions() {
            Ok((min, max)) if min == max => row(f, "EAP-TLS version", tls_version_name(min)),
            Ok((min, max)) => row(
                f,
                "EAP-TLS versions",
                format!("{} to {}", tls_version_name(min), tls_version_name(max)),
            ),
            Err(e) => row(f, "EAP-TLS versions", format!("none: {e}")),
        }?;
    }
    Ok(())
}

/// The trust anchors by their names, and the system store.
fn trust(p: &Ikev2Protocol) -> String {
    trust_from(&p.trust_anchors, p.use_system_trust_store)
}

fn trust_from(anchors: &[crate::model::Der], system: bool) -> String {
    let mut from: Vec<String> = anchors
        .iter()
        .map(|a| {
            ikeway_pki::Certificate::from_der(a.0.clone())
                .ok()
                .and_then(|c| c.subject_common_name().map(str::to_owned))
                .unwrap_or_else(|| "(unnamed CA)".to_owned())
        })
        .collect();
    if system {
        from.push("the system store".to_owned());
    }
    if from.is_empty() { "(no trust anchor)".to_owned() } else { from.join(", ") }
}

fn revocation(p: &Ikev2Protocol) -> String {
    let crls = match p.certificate_revocation_lists.len() {
        0 => String::new(),
        1 => ", 1 CRL given".to_owned(),
        n => format!(", {n} CRLs given"),
    };
    let mode = if p.strict_revocation_check {
        "strict (an unknown status fails)"
    } else if p.enable_revocation_check {
        "on (an unknown status passes)"
    } else {
        "off"
    };
    format!("{mode}{crls}")
}

fn interface(t: InterfaceType) -> &'static str {
    match t {
        InterfaceType::Any => "any",
        InterfaceType::Ethernet => "Ethernet",
        InterfaceType::WiFi => "Wi-Fi",
        InterfaceType::Cellular => "cellular",
    }
}

/// What a rule matches, or `any network` when it does not care.
fn conditions(r: &OnDemandRule) -> String {
    let mut c = Vec::new();
    if r.interface_type_match != InterfaceType::Any {
        c.push(format!("interface {}", interface(r.interface_type_match)));
    }
    if !r.ssid_match.is_empty() {
        c.push(format!("SSID {}", r.ssid_match.join(", ")));
    }
    if !r.dns_search_domain_match.is_empty() {
        c.push(format!("DNS domain {}", r.dns_search_domain_match.join(", ")));
    }
    if !r.dns_server_address_match.is_empty() {
        c.push(format!("DNS server {}", r.dns_server_address_match.join(", ")));
    }
    if let Some(url) = &r.probe_url {
        c.push(format!("probe {url} answers 200"));
    }
    if c.is_empty() { "any network".into() } else { c.join("; ") }
}

fn connection_rule(r: &EvaluateConnectionRule) -> String {
    let mut s = format!("{} for {}", name_of(DOMAIN_ACTIONS, r.action), r.match_domains.join(", "));
    if !r.use_dns_servers.is_empty() {
        s.push_str(&format!(" (unless resolved through {})", r.use_dns_servers.join(", ")));
    }
    if let Some(url) = &r.probe_url {
        s.push_str(&format!(" (unless {url} answers 200)"));
    }
    s
}

/// What the tunnel carries: everything, or what the server announces.
fn included_routes(p: &Ikev2Protocol) -> String {
    if p.include_all_networks {
        return "all traffic (0.0.0.0/0, ::/0)".into();
    }
    let mut s = String::from("the server's traffic selectors");
    if p.use_configuration_attribute_internal_ip_subnet {
        s.push_str(" and INTERNAL_IP4/6_SUBNET networks");
    }
    s
}

/// What stays outside the tunnel by Apple's switches.
fn excluded_routes(p: &Ikev2Protocol) -> String {
    let mut e = Vec::new();
    if p.exclude_local_networks && (p.include_all_networks || p.enforce_routes) {
        e.push("local networks");
    }
    if p.exclude_cellular_services {
        e.push("cellular services");
    }
    if p.exclude_apns {
        e.push("APNs");
    }
    if p.exclude_device_communication {
        e.push("device communication");
    }
    if e.is_empty() { "none".into() } else { e.join(", ") }
}

impl Display for Summary<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let c = self.configuration;
        writeln!(f, "{}", self.name)?;
        if !c.localized_description.is_empty() && c.localized_description != self.name {
            row(f, "Description", &c.localized_description)?;
        }
        row(f, "Enabled", if c.enabled { "yes" } else { "no" })?;
        row(f, "Source", if self.managed { "profile (read-only)" } else { "personal" })?;
        if let (None, Some(p)) = (&c.protocol, &c.ipsec) {
            return ipsec(f, c, p);
        }
        let Some(p) = &c.protocol else {
            writeln!(f)?;
            return writeln!(f, "No IKEv2 settings (add them with `ikeway config edit`).");
        };

        writeln!(f, "\nServer")?;
        row(f, "Server address", or_none(Some(&p.server_address)))?;
        row(f, "Remote ID", or_none(p.remote_identifier.as_deref()))?;
        row(f, "Local ID", or_none(p.local_identifier.as_deref()))?;

        writeln!(f, "\nAuthentication")?;
        row(f, "Method", authentication(p))?;
        row(f, "Extended authentication", on_off(p.use_extended_authentication))?;
        if let Some(user) = &p.username {
            row(f, "Username", user)?;
        }
        if p.password_reference.is_some() {
            row(f, "Password", "stored, never shown")?;
        }
        if p.use_extended_authentication {
            eap(f, p)?;
        }
        if p.authentication_method == AuthenticationMethod::Certificate {
            row(f, "Certificate type", crate::certs::certificate_type_name(p.certificate_type))?;
            row(
                f,
                "Identity",
                if p.identity_reference.is_some() { "stored, never shown" } else { "(not set)" },
            )?;
        }
        if let Some(ppk) = &p.ppk_configuration {
            let need = if ppk.is_mandatory { "required" } else { "optional" };
            row(
                f,
                "Post-quantum PPK",
                format!("{} ({need}), key stored, never shown", or_none(Some(&ppk.identifier))),
            )?;
        }
        if p.authentication_method == AuthenticationMethod::Certificate
            || !p.trust_anchors.is_empty()
            || p.use_system_trust_store
        {
            row(f, "Server certificate from", trust(p))?;
            row(
                f,
                "Server certificate name",
                or_none(p.server_certificate_common_name.as_deref()),
            )?;
            row(f, "Issuer name", or_none(p.server_certificate_issuer_common_name.as_deref()))?;
            row(f, "Revocation check", revocation(p))?;
        }

        writeln!(f, "\nSA parameters")?;
        row(f, "IKE SA", sa_line(&p.ike_sa_parameters))?;
        row(f, "Child SA", sa_line(&p.child_sa_parameters))?;
        if let Some(pq) = post_quantum(p) {
            row(f, "Post-quantum exchange", pq)?;
        }
        row(f, "Perfect forward secrecy", on_off(p.enable_pfs))?;
        row(f, "Dead peer detection", dpd(p.dead_peer_detection_rate))?;
        row(f, "MOBIKE", on_off(!p.disable_mobike))?;
        row(f, "Redirect", on_off(!p.disable_redirect))?;
        match p.mtu {
            Some(mtu) => row(f, "MTU", mtu)?,
            None => row(f, "MTU", "system default")?,
        }
        match p.nat_keep_alive_interval {
            Some(s) => row(f, "NAT keepalive", format!("every {s} s"))?,
            None => row(f, "NAT keepalive", "every 20 s (default)")?,
        }

        writeln!(f, "\nRouting")?;
        row(f, "Include all networks", on_off(p.include_all_networks))?;
        row(f, "Exclude local networks", on_off(p.exclude_local_networks))?;
        row(f, "Enforce routes", on_off(p.enforce_routes))?;
        row(f, "Included routes", included_routes(p))?;
        row(f, "Excluded routes", excluded_routes(p))?;

        writeln!(f, "\nDNS")?;
        row(f, "Servers and domains", "from the server (configuration reply)")?;

        on_demand(f, c, p.on_demand_user_override_disabled)?;
        without_effect(f, &p.unsupported())
    }
}

fn on_demand(f: &mut Formatter<'_>, c: &VpnConfiguration, override_disabled: bool) -> fmt::Result {
    writeln!(f, "\nOn demand")?;
    row(f, "Connect on demand", on_off(c.on_demand_enabled))?;
    if c.on_demand_rules.is_empty() {
        row(f, "Rules", "none")?;
    }
    for (i, r) in c.on_demand_rules.iter().enumerate() {
        writeln!(f, "  {}. {} on {}", i + 1, name_of(ACTIONS, r.action), conditions(r))?;
        for cr in &r.connection_rules {
            writeln!(f, "     {}", connection_rule(cr))?;
        }
    }
    if override_disabled {
        row(f, "User override", "disabled")?;
    }
    Ok(())
}

fn without_effect(
    f: &mut Formatter<'_>,
    unsupported: &[crate::convert::Unsupported],
) -> fmt::Result {
    if !unsupported.is_empty() {
        writeln!(f, "\nSet but without effect here")?;
        for u in unsupported {
            writeln!(f, "  {u}")?;
        }
    }
    Ok(())
}

/// An IPSec (IKEv1) configuration: the group, XAUTH and what Apple's client does with them.
fn ipsec(f: &mut Formatter<'_>, c: &VpnConfiguration, p: &IpsecProtocol) -> fmt::Result {
    writeln!(f, "\nServer (IPSec, IKEv1)")?;
    row(f, "Server address", or_none(Some(&p.server_address)))?;
    row(f, "Remote ID", or_none(p.remote_identifier.as_deref()))?;
    row(f, "Group name", or_none(p.group_name()))?;

    writeln!(f, "\nAuthentication")?;
    let (method, mode) = match p.authentication_method {
        AuthenticationMethod::SharedSecret if p.shared_secret_reference.is_some() => {
            ("shared secret (stored, never shown)", "Aggressive Mode, group name as KEY_ID")
        }
        AuthenticationMethod::SharedSecret => {
            ("shared secret (none stored)", "Aggressive Mode, group name as KEY_ID")
        }
        AuthenticationMethod::Certificate => ("certificate", "Main Mode"),
        AuthenticationMethod::None => ("none", "(cannot connect: no phase 1 authentication)"),
    };
    row(f, "Method", method)?;
    row(f, "Phase 1", mode)?;
    if p.hybrid() {
        row(f, "Hybrid", "the gateway signs, XAUTH proves us ([hybrid])")?;
    }
    row(f, "XAUTH", on_off(p.use_extended_authentication))?;
    if let Some(user) = &p.username {
        row(f, "Username", user)?;
    }
    if p.xauth_password_prompt {
        row(f, "Password", "asked at each connection")?;
    } else if p.password_reference.is_some() {
        row(f, "Password", "stored, never shown")?;
    }
    if p.authentication_method == AuthenticationMethod::Certificate {
        row(
            f,
            "Identity",
            if p.identity_reference.is_some() { "stored, never shown" } else { "(not set)" },
        )?;
        row(f, "Server certificate from", trust_from(&p.trust_anchors, p.use_system_trust_store))?;
        let revocation = match p.certificate_revocation_lists.len() {
            0 => "off".to_owned(),
            1 => "the 1 CRL given".to_owned(),
            n => format!("the {n} CRLs given"),
        };
        row(f, "Revocation check", &revocation)?;
    }

    writeln!(f, "\nDNS and routes")?;
    row(f, "From the server", "Mode Config (address, DNS, Cisco Unity split networks, banner)")?;
    row(f, "Include all networks", on_off(p.include_all_networks))?;

    on_demand(f, c, p.on_demand_user_override_disabled)?;
    without_effect(f, &p.unsupported())
}

/// The configuration for scripts: every stored field under Apple's names (as the preferences
/// hold them; secrets only as references), with `name`, `managed` and the `unsupported`
/// fields ([`Ikev2Protocol::unsupported`]) added.
pub fn summary_json(name: &str, configuration: &VpnConfiguration, managed: bool) -> Value {
    let mut v = serde_json::to_value(configuration).unwrap_or(Value::Null);
    let unsupported: Vec<Value> = configuration
        .protocol
        .iter()
        .flat_map(Ikev2Protocol::unsupported)
        .chain(configuration.ipsec.iter().flat_map(IpsecProtocol::unsupported))
        .map(|u| json!({"field": u.field, "reason": u.reason}))
        .collect();
    if let Value::Object(map) = &mut v {
        map.insert("name".into(), json!(name));
        map.insert("managed".into(), json!(managed));
        map.insert("unsupported".into(), Value::Array(unsupported));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DiffieHellmanGroup, EncryptionAlgorithm, IntegrityAlgorithm};
    use crate::ondemand::{ConnectionRuleAction, OnDemandAction};
    use crate::secrets::PersistentRef;

    fn office() -> VpnConfiguration {
        let mut p = Ikev2Protocol::new("vpn.example.org");
        p.remote_identifier = Some("vpn.example.org".into());
        p.local_identifier = Some("alice@example.org".into());
        p.authentication_method = AuthenticationMethod::SharedSecret;
        p.shared_secret_reference = Some(PersistentRef::from("ref-1234"));
        p.ike_sa_parameters.encryption_algorithm = EncryptionAlgorithm::Aes256Gcm;
        p.ike_sa_parameters.diffie_hellman_group = DiffieHellmanGroup::Group31;
        p.child_sa_parameters.integrity_algorithm = IntegrityAlgorithm::Sha384;
        p.enable_pfs = true;
        p.dead_peer_detection_rate = DeadPeerDetectionRate::High;
        p.disable_redirect = true;
        p.mtu = Some(1400);
        p.include_all_networks = true;
        p.exclude_local_networks = true;
        p.exclude_apns = false;
        let mut wifi = OnDemandRule::new(OnDemandAction::Disconnect);
        wifi.interface_type_match = InterfaceType::WiFi;
        wifi.ssid_match = vec!["Home".into()];
        let mut evaluate = OnDemandRule::new(OnDemandAction::EvaluateConnection);
        evaluate.connection_rules = vec![EvaluateConnectionRule {
            match_domains: vec!["corp.example.org".into()],
            action: ConnectionRuleAction::ConnectIfNeeded,
            use_dns_servers: vec!["10.1.1.1".into()],
            probe_url: None,
        }];
        VpnConfiguration {
            localized_description: "Office VPN".into(),
            enabled: true,
            on_demand_enabled: true,
            on_demand_rules: vec![wifi, evaluate, OnDemandRule::new(OnDemandAction::Connect)],
            protocol: Some(p),
            ipsec: None,
        }
    }

    #[test]
    fn a_representative_configuration_reads_like_the_settings_screen() {
        let config = office();
        let text = Summary { name: "office", configuration: &config, managed: false }.to_string();
        assert_eq!(
            text,
            "\
office
  Description               Office VPN
  Enabled                   yes
  Source                    personal

Server
  Server address            vpn.example.org
  Remote ID                 vpn.example.org
  Local ID                  alice@example.org

Authentication
  Method                    shared secret (stored, never shown)
  Extended authentication   off

SA parameters
  IKE SA                    AES-256-GCM, SHA2-256, group 31, 60 min
  Child SA                  AES-256, SHA2-384, group 14, 30 min
  Perfect forward secrecy   on
  Dead peer detection       high (every minute)
  MOBIKE                    on
  Redirect                  off
  MTU                       1400
  NAT keepalive             every 20 s (default)

Routing
  Include all networks      on
  Exclude local networks    on
  Enforce routes            off
  Included routes           all traffic (0.0.0.0/0, ::/0)
  Excluded routes           local networks, cellular services, device communication

DNS
  Servers and domains       from the server (configuration reply)

On demand
  Connect on demand         on
  1. Disconnect on interface Wi-Fi; SSID Home
  2. EvaluateConnection on any network
     ConnectIfNeeded for corp.example.org (unless resolved through 10.1.1.1)
  3. Connect on any network

Set but without effect here
  exclude_cellular_services: Linux has no cellular services (IMS, Wi-Fi calling) to keep outside the tunnel
"
        );
    }

    #[test]
    fn secrets_are_never_shown_only_whether_one_is_stored() {
        let mut config = office();
        let text = Summary { name: "office", configuration: &config, managed: true }.to_string();
        assert!(!text.contains("ref-1234"), "{text}");
        assert!(text.contains("  Source                    profile (read-only)\n"));
        let p = config.protocol.as_mut().expect("set above");
        p.shared_secret_reference = None;
        p.username = Some("alice".into());
        p.password_reference = Some(PersistentRef::from("ref-pw"));
        let text = Summary { name: "office", configuration: &config, managed: true }.to_string();
        assert!(text.contains("  Method                    shared secret (none stored)\n"));
        assert!(text.contains(
            "  Username                  alice\n  Password                  stored, never shown\n"
        ));
        assert!(!text.contains("ref-pw"), "{text}");
    }

    #[test]
    fn ppk_shows_its_identifier_and_whether_required_never_the_key() {
        let mut config = office();
        let p = config.protocol.as_mut().expect("set above");
        p.ppk_configuration = Some(crate::model::PpkConfiguration {
            identifier: "qkd-link-1".into(),
            keychain_reference: PersistentRef::from("ref-ppk"),
            is_mandatory: true,
        });
        let text = Summary { name: "office", configuration: &config, managed: false }.to_string();
        assert!(
            text.contains(
                "  Post-quantum PPK          qkd-link-1 (required), key stored, never shown\n"
            ),
            "{text}"
        );
        assert!(!text.contains("ref-ppk"), "{text}");
        assert!(!text.contains("ppk_configuration"), "no longer listed as without effect: {text}");
    }

    #[test]
    fn eap_shows_its_round_methods_and_tls_versions() {
        let shown = |p: Ikev2Protocol| {
            let c = VpnConfiguration { protocol: Some(p), ..VpnConfiguration::default() };
            let text = Summary { name: "eap", configuration: &c, managed: false }.to_string();
            let start = text.find("Authentication\n").expect("an authentication group");
            let end = text.find("\nSA parameters").expect("an SA group");
            text[start..end].to_owned()
        };
        let mut p = Ikev2Protocol::new("vpn.example.org");
        p.use_extended_authentication = true;
        p.username = Some("alice".into());
        p.password_reference = Some(PersistentRef::from("ref-pw"));
        assert_eq!(
            shown(p.clone()),
            "Authentication
  Method                    EAP only
  Extended authentication   on
  Username                  alice
  Password                  stored, never shown
  EAP                       EAP-MSCHAPv2, EAP-MD5, instead of our AUTH
"
        );
        let mut tls = Ikev2Protocol::new("vpn.example.org");
        tls.use_extended_authentication = true;
        tls.identity_reference = Some(PersistentRef::from("ref-id"));
        tls.maximum_tls_version = crate::model::TlsVersion::Tls1_2;
        assert!(
            shown(tls.clone()).ends_with(
                "  EAP                       EAP-TLS, instead of our AUTH (EAP-only allowed, \
                 RFC 5998)\n  EAP-TLS version           1.2\n"
            ),
            "{}",
            shown(tls)
        );
        p.authentication_method = AuthenticationMethod::SharedSecret;
        p.shared_secret_reference = Some(PersistentRef::from("ref-psk"));
        p.eap_methods = vec![EapMethod::Md5];
        assert!(
            shown(p.clone())
                .ends_with("  EAP                       EAP-MD5, after our AUTH (RFC 4739)\n")
        );
        p.username = None;
        assert!(shown(p).contains("  EAP                       cannot run: username = \"\": "),);
    }

    #[test]
    fn defaults_route_what_the_server_announces() {
        let config = VpnConfiguration {
            protocol: Some(Ikev2Protocol::new("192.0.2.1")),
            ..VpnConfiguration::default()
        };
        let text = Summary { name: "plain", configuration: &config, managed: false }.to_string();
        for line in [
            "  Enabled                   no\n",
            "  Remote ID                 (not set)\n",
            "  Method                    none\n",
            "  IKE SA                    AES-256, SHA2-256, group 14, 60 min\n",
            "  Dead peer detection       medium (every 10 min)\n",
            "  MTU                       system default\n",
            "  Included routes           the server's traffic selectors\n",
            "  Excluded routes           cellular services, APNs, device communication\n",
            "  Connect on demand         off\n  Rules                     none\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("Description"), "the name is the description: {text}");
    }

    #[test]
    fn routing_follows_apples_switches() {
        let mut p = Ikev2Protocol::new("192.0.2.1");
        p.use_configuration_attribute_internal_ip_subnet = true;
        p.exclude_cellular_services = false;
        p.exclude_apns = false;
        p.exclude_device_communication = false;
        // Local networks are excluded only with include_all_networks or enforce_routes.
        p.exclude_local_networks = true;
        let text = |p: &Ikev2Protocol| {
            let c = VpnConfiguration { protocol: Some(p.clone()), ..VpnConfiguration::default() };
            Summary { name: "r", configuration: &c, managed: false }.to_string()
        };
        let shown = text(&p);
        assert!(shown.contains(
            "  Included routes           the server's traffic selectors and INTERNAL_IP4/6_SUBNET networks\n"
        ));
        assert!(shown.contains("  Excluded routes           none\n"), "{shown}");
        p.enforce_routes = true;
        assert!(text(&p).contains("  Excluded routes           local networks\n"));
    }

    #[test]
    fn a_configuration_without_protocol_says_so() {
        let config = VpnConfiguration::default();
        let text = Summary { name: "empty", configuration: &config, managed: false }.to_string();
        assert_eq!(
            text,
            "empty\n  Enabled                   no\n  Source                    personal\n\n\
             No IKEv2 settings (add them with `ikeway config edit`).\n"
        );
    }

    #[test]
    fn json_keeps_the_stored_field_names_and_adds_name_managed_and_unsupported() {
        let config = office();
        let v = summary_json("office", &config, true);
        assert_eq!(v["name"], "office");
        assert_eq!(v["managed"], true);
        assert_eq!(v["localized_description"], "Office VPN");
        assert_eq!(v["protocol"]["server_address"], "vpn.example.org");
        assert_eq!(v["protocol"]["ike_sa_parameters"]["encryption_algorithm"], "Aes256Gcm");
        assert_eq!(v["on_demand_rules"].as_array().map(Vec::len), Some(3));
        let fields: Vec<&str> = v["unsupported"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| u["field"].as_str())
            .collect();
        assert_eq!(fields, ["exclude_cellular_services"]);
    }

    #[test]
    fn post_quantum_methods_by_name_and_fallback_said() {
        let mut p = Ikev2Protocol::new("192.0.2.1");
        let text = |p: &Ikev2Protocol| {
            let c = VpnConfiguration { protocol: Some(p.clone()), ..VpnConfiguration::default() };
            Summary { name: "pq", configuration: &c, managed: false }.to_string()
        };
        assert!(!text(&p).contains("Post-quantum"), "{}", text(&p));
        p.ike_sa_parameters.post_quantum_key_exchange_methods = vec![36, 37];
        let shown = text(&p);
        assert!(shown.contains(", post-quantum ML-KEM-768 + ML-KEM-1024\n"), "{shown}");
        assert!(
            shown.contains("  Post-quantum exchange     IKE_INTERMEDIATE (RFC 9370), required\n")
        );
        p.allow_post_quantum_key_exchange_fallback = true;
        assert!(text(&p).contains(
            "  Post-quantum exchange     IKE_INTERMEDIATE (RFC 9370), classical fallback allowed\n"
        ));
    }

    #[test]
    fn an_ipsec_configuration_reads_as_group_xauth_and_mode_config() {
        let mut p = IpsecProtocol::new("gw.example.com");
        p.authentication_method = AuthenticationMethod::SharedSecret;
        p.shared_secret_reference = Some(PersistentRef::from("ref-1"));
        p.local_identifier = Some("sales".into());
        p.use_extended_authentication = true;
        p.username = Some("alice".into());
        p.xauth_password_prompt = true;
        let config = VpnConfiguration {
            localized_description: "Branch".into(),
            ipsec: Some(p),
            ..VpnConfiguration::default()
        };
        let text = Summary { name: "branch", configuration: &config, managed: true }.to_string();
        assert_eq!(
            text,
            "\
branch
  Description               Branch
  Enabled                   no
  Source                    profile (read-only)

Server (IPSec, IKEv1)
  Server address            gw.example.com
  Remote ID                 (not set)
  Group name                sales

Authentication
  Method                    shared secret (stored, never shown)
  Phase 1                   Aggressive Mode, group name as KEY_ID
  XAUTH                     on
  Username                  alice
  Password                  asked at each connection

DNS and routes
  From the server           Mode Config (address, DNS, Cisco Unity split networks, banner)
  Include all networks      off

On demand
  Connect on demand         off
  Rules                     none
"
        );
        assert!(!text.contains("ref-1"));
        let json = summary_json("branch", &config, true);
        assert_eq!(json["ipsec"]["local_identifier"], "sales");
        assert_eq!(json["unsupported"], json!([]));
    }
}
