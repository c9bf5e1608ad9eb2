//! `ikeway config ...` and `ikeway profile ...`: saved VPN configurations, through the manager
//! facade. Each named configuration is one application identity (`ikeway-cli/NAME`), so
//! enabling one disables the others, as with Apple's per-app configurations; configurations
//! from imported profiles are managed and read-only here.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use ikeway_crypto::SecretBytes;
use ikeway_manager::{
    AuthenticationMethod, CertificateType, DeadPeerDetectionRate, DiffieHellmanGroup, EapMethod,
    EncryptionAlgorithm, IdentityData, Ikev2Protocol, IntegrityAlgorithm, MAX_USERNAME,
    PpkConfiguration, PreferencesStore, SaParameters, Summary, TlsVersion, VpnConfiguration,
    VpnManager, anchors_from, check_certificate_type, crl_from, export_profile, import_profile,
    load_identity, read_certificate_file, set_identity, summary_json,
};
use serde_json::json;
use zeroize::Zeroizing;

pub(crate) use ikeway_service::names::APP_PREFIX;

mod ipsec;

#[derive(Subcommand, Debug)]
pub(crate) enum ConfigCmd {
    /// List saved configurations (personal and managed).
    #[command(
        after_help = "Examples:\n  ikeway config list\n  ikeway config list --json | jq '.[].name'"
    )]
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one configuration, grouped as on Apple's VPN settings screen: server,
    /// identities, authentication, SA parameters, routing, DNS, on demand. Secrets are never
    /// shown. `--json` prints every field for scripts.
    #[command(
        after_help = "Examples:\n  ikeway config show office\n  ikeway config show office --json | jq .protocol.server_address"
    )]
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Add a configuration. The first save of a configuration asks for consent (or `--yes`).
    #[command(
        after_help = "Examples:\n  ikeway config add office --server vpn.example.org --remote-id vpn.example.org \\\n    --local-id alice@example.org --psk-file ~/office.psk --enable --yes\n  ikeway config add roam --server vpn.example.org --ca office-ca.pem --extended-auth \\\n    --username alice --password-prompt --yes   # EAP-MSCHAPv2, asked without echo\n  ikeway config add branch --type ipsec --server gw.example.org --group sales \\\n    --psk-file ~/sales.psk --extended-auth --username alice --password-prompt --yes\n                                              # IKEv1 \"Cisco IPSec\": group PSK + XAUTH\n  ikeway config add hq --type ipsec --server 203.0.113.7 --remote-id vpn.example.org \\\n    --identity-key me.key --identity-cert me.crt --ca hq-ca.pem --yes\n                                              # IKEv1 Main Mode with certificates"
    )]
    Add {
        name: String,
        #[command(flatten)]
        fields: Fields,
        /// Consent to saving without asking (needed when there is no terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Change fields of a personal configuration.
    #[command(
        after_help = "Examples:\n  ikeway config edit office --dpd high --mtu 1400\n  ikeway config edit office --ike-encryption aes256gcm --ike-dh-group 31 --enable"
    )]
    Edit {
        name: String,
        #[command(flatten)]
        fields: Fields,
    },
    /// Remove a personal configuration (and its secrets).
    #[command(after_help = "Example:\n  ikeway config remove office")]
    Remove { name: String },
}

#[derive(Subcommand, Debug)]
pub(crate) enum ProfileCmd {
    /// Import an Apple configuration profile (.mobileconfig, com.apple.vpn.managed, IKEv2 or
    /// IPSec).
    #[command(
        after_help = "Examples:\n  ikeway profile import office.mobileconfig\n  ikeway profile import office.mobileconfig --yes   # no question, for scripts"
    )]
    Import {
        file: PathBuf,
        /// Consent to installing the profile without asking.
        #[arg(long)]
        yes: bool,
        /// Enable the profile's VPN (which disables the other ones): its On Demand rules, if
        /// it has them, then run in `ikeway daemon` without a `connect`.
        #[arg(long)]
        enable: bool,
    },
    /// Export a configuration as a .mobileconfig profile (to stdout, or --output FILE).
    #[command(
        after_help = "Examples:\n  ikeway profile export office > office.mobileconfig\n  ikeway profile export office --include-secrets --output office-with-psk.mobileconfig"
    )]
    Export {
        name: String,
        #[arg(long)]
        output: Option<PathBuf>,
        /// Include the shared secret in the profile; with --output, FILE must not exist and is
        /// created 0600.
        #[arg(long)]
        include_secrets: bool,
    },
}

/// Fields of an IKEv2 or IPSec (IKEv1) configuration, with Apple's names and defaults.
#[derive(Args, Debug, Default)]
pub(crate) struct Fields {
    /// The protocol of a new configuration: ikev2 (the default) or ipsec (IKEv1, Apple's
    /// "Cisco IPSec": --local-id is the group name, --psk-file the group's shared secret,
    /// --extended-auth is XAUTH with --username and --password-file/--password-prompt).
    #[arg(long = "type", value_name = "TYPE")]
    vpn_type: Option<String>,
    /// Server address (name or IP).
    #[arg(long)]
    server: Option<String>,
    /// Remote identifier (the server's IKE ID).
    #[arg(long)]
    remote_id: Option<String>,
    /// Local identifier (our IKE ID; for IPSec the group name, sent as a KEY_ID).
    #[arg(long, visible_alias = "group")]
    local_id: Option<String>,
    /// File holding the shared secret (first line); stored in the 0600 secret store.
    #[arg(long, value_name = "FILE")]
    psk_file: Option<PathBuf>,
    /// File holding a post-quantum preshared key (RFC 8784; first line); stored in the 0600
    /// secret store, never shown. Needs --ppk-id (or one saved before).
    #[arg(long, value_name = "FILE")]
    ppk_file: Option<PathBuf>,
    /// The PPK's identifier (PPK_ID), as the server knows it.
    #[arg(long, value_name = "ID")]
    ppk_id: Option<String>,
    /// Connect without the PPK when the server does not use it (default: the PPK is
    /// mandatory, as Apple's isMandatory).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    ppk_optional: Option<bool>,
    /// How we authenticate in IKE: shared-secret, certificate, or none (EAP alone, with
    /// --extended-auth; default: what --psk-file or an --identity-* option gives).
    #[arg(long, value_name = "METHOD")]
    auth: Option<String>,
    /// Extended authentication (Apple's useExtendedAuthentication): EAP. With --auth none,
    /// EAP is the client's only proof (the server still proves itself with its certificate,
    /// checked against --ca); after a shared secret or certificate, EAP is a second round
    /// (RFC 4739) and needs --username.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    extended_auth: Option<bool>,
    /// The EAP user name (Apple's username; at most 253 bytes).
    #[arg(long, value_name = "NAME")]
    username: Option<String>,
    /// File holding the EAP password (first line); stored in the 0600 secret store.
    #[arg(long, value_name = "FILE", conflicts_with = "password_prompt")]
    password_file: Option<PathBuf>,
    /// Ask for the EAP password on the terminal (never echoed); stored in the 0600 secret
    /// store.
    #[arg(long)]
    password_prompt: bool,
    /// EAP methods to accept, in order of preference: mschapv2, md5, tls (default: all).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    eap_methods: Vec<String>,
    /// The lowest TLS version for EAP-TLS: 1.0, 1.1, 1.2 (Apple's values) or default. Only
    /// 1.2 and 1.3 are spoken; a lower minimum means 1.2.
    #[arg(long, value_name = "VERSION")]
    tls_min: Option<String>,
    /// The highest TLS version for EAP-TLS: 1.2, or 1.3 / default (the highest spoken).
    #[arg(long, value_name = "VERSION")]
    tls_max: Option<String>,
    /// Our identity as PKCS#12 (.p12/.pfx); stored in the 0600 secret store.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["identity_key", "identity_cert"])]
    identity_p12: Option<PathBuf>,
    /// File holding the PKCS#12 password (first line; default: no password).
    #[arg(long, value_name = "FILE", requires = "identity_p12")]
    identity_password_file: Option<PathBuf>,
    /// Our private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC), with --identity-cert.
    #[arg(long, value_name = "FILE", requires = "identity_cert")]
    identity_key: Option<PathBuf>,
    /// Our certificate and its chain (PEM, end entity first), with --identity-key.
    #[arg(long, value_name = "FILE", requires = "identity_key")]
    identity_cert: Option<PathBuf>,
    /// Apple's certificateType, which must match our key: rsa, ecdsa256, ecdsa384, ecdsa521,
    /// ed25519, rsapss (default: the identity's key).
    #[arg(long, value_name = "TYPE")]
    certificate_type: Option<String>,
    /// A trust anchor for the server's certificate (PEM or DER; repeat for more). Replaces the
    /// anchors saved before.
    #[arg(long = "ca", value_name = "FILE")]
    ca: Vec<PathBuf>,
    /// Also trust the system's certificate store (/etc/ssl/certs).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    system_ca: Option<bool>,
    /// The server certificate's common name must be this (serverCertificateCommonName).
    #[arg(long, value_name = "NAME")]
    server_cert_cn: Option<String>,
    /// The server certificate's issuer common name must be this
    /// (serverCertificateIssuerCommonName).
    #[arg(long, value_name = "NAME")]
    server_cert_issuer_cn: Option<String>,
    /// A certificate revocation list (PEM or DER; repeat for more). Replaces the CRLs saved
    /// before.
    #[arg(long = "crl", value_name = "FILE")]
    crl: Vec<PathBuf>,
    /// Check revocation: the CRLs given, else fetched from the certificates' distribution
    /// points (enableRevocationCheck).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    revocation_check: Option<bool>,
    /// A certificate whose revocation status cannot be learned is refused
    /// (strictRevocationCheck).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    strict_revocation_check: Option<bool>,
    /// IKE SA encryption: aes128, aes256, aes128gcm, aes256gcm, chacha20poly1305.
    #[arg(long)]
    ike_encryption: Option<String>,
    /// IKE SA integrity: sha256, sha384, sha512.
    #[arg(long)]
    ike_integrity: Option<String>,
    /// IKE SA Diffie-Hellman group: 14, 15, 16, 19, 20, 31.
    #[arg(long)]
    ike_dh_group: Option<i64>,
    /// IKE SA lifetime in minutes (10-1440).
    #[arg(long)]
    ike_lifetime: Option<u32>,
    /// Child SA encryption.
    #[arg(long)]
    child_encryption: Option<String>,
    /// Child SA integrity.
    #[arg(long)]
    child_integrity: Option<String>,
    /// Child SA Diffie-Hellman group (used for PFS).
    #[arg(long)]
    child_dh_group: Option<i64>,
    /// Child SA lifetime in minutes (10-1440).
    #[arg(long)]
    child_lifetime: Option<u32>,
    /// Dead peer detection rate: none, low (30 min), medium (10 min), high (1 min).
    #[arg(long)]
    dpd: Option<String>,
    /// Perfect forward secrecy for child SAs.
    #[arg(long)]
    enable_pfs: Option<bool>,
    #[arg(long)]
    disable_mobike: Option<bool>,
    #[arg(long)]
    disable_redirect: Option<bool>,
    /// Post-quantum additional key exchanges of the IKE SA (RFC 9370), in order:
    /// `mlkem768`, `mlkem1024`; `none` clears them.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pq_kex: Option<Vec<String>>,
    /// Accept a server without the post-quantum exchanges (`--pq-fallback false` to require).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pq_fallback: Option<bool>,
    #[arg(long)]
    mtu: Option<u32>,
    /// Enable this configuration (disables the other ones).
    #[arg(long)]
    enable: bool,
    /// Disable this configuration.
    #[arg(long, conflicts_with = "enable")]
    disable: bool,
}

fn parse_by_name<T: Copy + std::fmt::Debug>(all: &[T], what: &str, s: &str) -> Result<T> {
    let want = s.to_ascii_lowercase().replace(['-', '_'], "");
    all.iter().copied().find(|v| format!("{v:?}").to_ascii_lowercase() == want).with_context(|| {
        let names: Vec<String> =
            all.iter().map(|v| format!("{v:?}").to_ascii_lowercase()).collect();
        format!("unknown {what} {s:?}; one of {}", names.join(", "))
    })
}

/// `--pq-kex` names as `postQuantumKeyExchangeMethods` numbers (RFC 9370 transform IDs).
fn pq_methods(names: &[String]) -> Result<Vec<u16>> {
    if names.iter().any(|n| n == "none") {
        return Ok(Vec::new());
    }
    names
        .iter()
        .map(|n| match n.as_str() {
            "mlkem768" => Ok(36),
            "mlkem1024" => Ok(37),
            other => {
                bail!("unknown post-quantum key exchange {other:?}; mlkem768, mlkem1024 or none")
            }
        })
        .collect()
}

fn dh_group(raw: i64) -> Result<DiffieHellmanGroup> {
    DiffieHellmanGroup::from_raw(raw).with_context(|| format!("no Diffie-Hellman group {raw}"))
}

fn apply_sa(
    p: &mut SaParameters,
    enc: &Option<String>,
    integ: &Option<String>,
    group: Option<i64>,
    life: Option<u32>,
) -> Result<()> {
    if let Some(e) = enc {
        p.encryption_algorithm = parse_by_name(EncryptionAlgorithm::ALL, "encryption", e)?;
    }
    if let Some(i) = integ {
        p.integrity_algorithm = parse_by_name(IntegrityAlgorithm::ALL, "integrity", i)?;
    }
    if let Some(g) = group {
        p.diffie_hellman_group = dh_group(g)?;
    }
    if let Some(l) = life {
        if !(10..=1440).contains(&l) {
            bail!("lifetime {l} minutes is outside 10-1440");
        }
        p.lifetime_minutes = l;
    }
    Ok(())
}

impl Fields {
    fn apply(&self, config: &mut VpnConfiguration, store: &PreferencesStore) -> Result<()> {
        let ipsec = match self.vpn_type.as_deref() {
            None => config.ipsec.is_some(),
            Some("ikev2") if config.ipsec.is_some() => {
                bail!("this is an IPSec configuration; --type cannot change its protocol")
            }
            Some("ikev2") => false,
            Some("ipsec") if config.protocol.is_some() => {
                bail!("this is an IKEv2 configuration; --type cannot change its protocol")
            }
            Some("ipsec") => true,
            Some(other) => bail!("unknown --type {other:?}; one of ikev2, ipsec"),
        };
        if ipsec {
            return self.apply_ipsec(config, store);
        }
        let protocol = match &mut config.protocol {
            Some(p) => p,
            None => {
                let server =
                    self.server.clone().context("--server is required for a new configuration")?;
                config.protocol.insert(Ikev2Protocol::new(server))
            }
        };
        if let Some(s) = &self.server {
            protocol.server_address = s.clone();
        }
        if let Some(r) = &self.remote_id {
            protocol.remote_identifier = Some(r.clone());
        }
        if let Some(l) = &self.local_id {
            protocol.local_identifier = Some(l.clone());
        }
        // Read before anything is stored: a bad file leaves the secret store as it was.
        let psk = self.psk_file.as_deref().map(ikeway_manager::read_secret_file).transpose()?;
        let ppk = self.ppk_file.as_deref().map(ikeway_manager::read_secret_file).transpose()?;
        self.check_ppk(protocol)?;
        self.apply_eap(protocol)?;
        let password = self.password(protocol)?;
        self.apply_certificates(protocol, store)?;
        if let Some(password) = password {
            let reference = store.secrets().add(&password)?;
            if let Some(old) = protocol.password_reference.replace(reference) {
                store.secrets().remove(&old)?;
            }
        }
        if let Some(secret) = psk {
            let reference = store.secrets().add(&secret)?;
            if let Some(old) = protocol.shared_secret_reference.replace(reference) {
                store.secrets().remove(&old)?;
            }
            if self.identity_p12.is_none() && self.identity_key.is_none() && self.auth.is_none() {
                protocol.authentication_method = AuthenticationMethod::SharedSecret;
            }
        }
        self.apply_ppk(protocol, ppk, store)?;
        if let Some(v) = self.system_ca {
            protocol.use_system_trust_store = v;
        }
        if let Some(cn) = &self.server_cert_cn {
            protocol.server_certificate_common_name = Some(cn.clone());
        }
        if let Some(cn) = &self.server_cert_issuer_cn {
            protocol.server_certificate_issuer_common_name = Some(cn.clone());
        }
        if let Some(v) = self.revocation_check {
            protocol.enable_revocation_check = v;
        }
        if let Some(v) = self.strict_revocation_check {
            protocol.strict_revocation_check = v;
        }
        apply_sa(
            &mut protocol.ike_sa_parameters,
            &self.ike_encryption,
            &self.ike_integrity,
            self.ike_dh_group,
            self.ike_lifetime,
        )?;
        apply_sa(
            &mut protocol.child_sa_parameters,
            &self.child_encryption,
            &self.child_integrity,
            self.child_dh_group,
            self.child_lifetime,
        )?;
        if let Some(d) = &self.dpd {
            protocol.dead_peer_detection_rate =
                parse_by_name(DeadPeerDetectionRate::ALL, "DPD rate", d)?;
        }
        if let Some(v) = self.enable_pfs {
            protocol.enable_pfs = v;
        }
        if let Some(v) = self.disable_mobike {
            protocol.disable_mobike = v;
        }
        if let Some(v) = self.disable_redirect {
            protocol.disable_redirect = v;
        }
        if let Some(methods) = &self.pq_kex {
            protocol.ike_sa_parameters.post_quantum_key_exchange_methods = pq_methods(methods)?;
        }
        if let Some(v) = self.pq_fallback {
            protocol.allow_post_quantum_key_exchange_fallback = v;
        }
        if let Some(v) = self.mtu {
            protocol.mtu = Some(v);
        }
        if self.enable {
            config.enabled = true;
        }
        if self.disable {
            config.enabled = false;
        }
        Ok(())
    }
}

impl Fields {
    /// The PPK options make sense before anything is stored: an identifier for a new PPK, no
    /// identifier or flag without a PPK.
    fn check_ppk(&self, protocol: &Ikev2Protocol) -> Result<()> {
        let saved = protocol.ppk_configuration.is_some();
        if self.ppk_file.is_some() && self.ppk_id.is_none() && !saved {
            bail!("--ppk-file needs --ppk-id: the identifier the server knows the PPK by");
        }
        if self.ppk_id.as_deref() == Some("") {
            bail!("--ppk-id must not be empty");
        }
        if (self.ppk_id.is_some() || self.ppk_optional.is_some())
            && self.ppk_file.is_none()
            && !saved
        {
            bail!("--ppk-id and --ppk-optional need --ppk-file (no PPK is saved yet)");
        }
        Ok(())
    }

    /// Stores the PPK (the old one is removed from the secret store) and its settings.
    fn apply_ppk(
        &self,
        protocol: &mut Ikev2Protocol,
        ppk: Option<SecretBytes>,
        store: &PreferencesStore,
    ) -> Result<()> {
        if let Some(key) = ppk {
            let reference = store.secrets().add(&key)?;
            let ppk = protocol.ppk_configuration.get_or_insert_with(|| PpkConfiguration {
                identifier: String::new(),
                keychain_reference: reference.clone(),
                is_mandatory: true,
            });
            let old = std::mem::replace(&mut ppk.keychain_reference, reference.clone());
            if old != reference {
                store.secrets().remove(&old)?;
            }
        }
        if let Some(ppk) = protocol.ppk_configuration.as_mut() {
            if let Some(id) = &self.ppk_id {
                ppk.identifier = id.clone();
            }
            if let Some(optional) = self.ppk_optional {
                ppk.is_mandatory = !optional;
            }
        }
        Ok(())
    }

    /// The EAP options that are not secrets; checked before anything is stored.
    fn apply_eap(&self, protocol: &mut Ikev2Protocol) -> Result<()> {
        if let Some(user) = &self.username {
            if user.is_empty() || user.len() > MAX_USERNAME {
                bail!("--username: a user name of 1 to {MAX_USERNAME} bytes");
            }
            protocol.username = Some(user.clone());
        }
        if let Some(v) = self.extended_auth {
            protocol.use_extended_authentication = v;
        }
        if !self.eap_methods.is_empty() {
            protocol.eap_methods = self
                .eap_methods
                .iter()
                .map(|m| {
                    EapMethod::from_name(m).with_context(|| {
                        format!("unknown EAP method {m:?}; one of mschapv2, md5, tls")
                    })
                })
                .collect::<Result<_>>()?;
        }
        if let Some(v) = &self.tls_min {
            protocol.minimum_tls_version = tls_version(v, false)?;
        }
        if let Some(v) = &self.tls_max {
            protocol.maximum_tls_version = tls_version(v, true)?;
        }
        Ok(())
    }

    /// The password given by --password-file or --password-prompt, read but not stored yet.
    fn password(&self, protocol: &Ikev2Protocol) -> Result<Option<SecretBytes>> {
        self.password_for(protocol.username.as_deref())
    }

    /// The password given by --password-file or --password-prompt (asked for `user`).
    fn password_for(&self, user: Option<&str>) -> Result<Option<SecretBytes>> {
        if let Some(path) = &self.password_file {
            return crate::password::from_file(path).map(Some);
        }
        if !self.password_prompt {
            return Ok(None);
        }
        let user =
            user.context("--password-prompt: the password is for --username, which is not set")?;
        crate::password::prompt(user, "--password-file").map(Some)
    }

    /// The certificate options: every file is read and parsed before anything is stored, so
    /// a bad file leaves the configuration and the secret store as they were.
    fn apply_certificates(
        &self,
        protocol: &mut Ikev2Protocol,
        store: &PreferencesStore,
    ) -> Result<()> {
        let certificate_type = self
            .certificate_type
            .as_deref()
            .map(|t| parse_by_name(CertificateType::ALL, "certificate type", t))
            .transpose()?;
        let mut anchors = Vec::new();
        for path in &self.ca {
            let bytes = read_certificate_file(path)?;
            anchors.extend(anchors_from(path.display(), &bytes)?);
        }
        let crls = self
            .crl
            .iter()
            .map(|path| crl_from(path.display(), &read_certificate_file(path)?))
            .collect::<Result<Vec<_>, _>>()?;
        let identity = self.identity_files()?;
        if !self.ca.is_empty() {
            protocol.trust_anchors = anchors;
        }
        if !self.crl.is_empty() {
            protocol.certificate_revocation_lists = crls;
        }
        match identity {
            Some((what, IdentityFiles::Pkcs12(data, password))) => {
                let data = IdentityData::Pkcs12 { data: &data, password: &password };
                set_identity(protocol, store.secrets(), &what, data, certificate_type)?;
            }
            Some((what, IdentityFiles::Pem(key, chain))) => {
                let data = IdentityData::Pem { key: &key, chain: &chain };
                set_identity(protocol, store.secrets(), &what, data, certificate_type)?;
            }
            None => {
                if let Some(t) = certificate_type {
                    // A new type for the identity already stored must still be its key's.
                    if protocol.identity_reference.is_some() {
                        let identity = load_identity(protocol, store.secrets())?;
                        check_certificate_type(t, identity.kind())?;
                    }
                    protocol.certificate_type = t;
                }
            }
        }
        if let Some(a) = &self.auth {
            protocol.authentication_method = match a.as_str() {
                "certificate" => AuthenticationMethod::Certificate,
                "shared-secret" => AuthenticationMethod::SharedSecret,
                "none" => AuthenticationMethod::None,
                other => {
                    bail!("unknown --auth {other:?}; one of certificate, shared-secret, none")
                }
            };
        }
        Ok(())
    }

    /// The identity files given, read (not parsed yet), and how to name them in messages.
    fn identity_files(&self) -> Result<Option<(String, IdentityFiles)>> {
        if let Some(path) = &self.identity_p12 {
            let data = Zeroizing::new(read_certificate_file(path)?);
            let password = match &self.identity_password_file {
                Some(p) => ikeway_manager::read_secret_file(p)?,
                None => SecretBytes::from_slice(b""),
            };
            return Ok(Some((path.display().to_string(), IdentityFiles::Pkcs12(data, password))));
        }
        if let (Some(key), Some(cert)) = (&self.identity_key, &self.identity_cert) {
            let what = format!("{} and {}", key.display(), cert.display());
            let key = Zeroizing::new(read_certificate_file(key)?);
            let chain = read_certificate_file(cert)?;
            return Ok(Some((what, IdentityFiles::Pem(key, chain))));
        }
        Ok(None)
    }
}

/// A TLS version bound by Apple's name. Apple's enum stops at 1.2; the highest we speak,
/// 1.3, is its `Default` maximum.
fn tls_version(s: &str, maximum: bool) -> Result<TlsVersion> {
    Ok(match s {
        "default" => TlsVersion::Default,
        "1.0" => TlsVersion::Tls1_0,
        "1.1" => TlsVersion::Tls1_1,
        "1.2" => TlsVersion::Tls1_2,
        "1.3" if maximum => TlsVersion::Default,
        "1.3" => bail!(
            "--tls-min 1.3: Apple's minimumTLSVersion stops at 1.2; TLS 1.3 is used whenever \
             the server speaks it"
        ),
        other if maximum => bail!("unknown --tls-max {other:?}; one of 1.0, 1.1, 1.2, 1.3"),
        other => bail!("unknown --tls-min {other:?}; one of 1.0, 1.1, 1.2"),
    })
}

/// An identity's files as read.
enum IdentityFiles {
    Pkcs12(Zeroizing<Vec<u8>>, SecretBytes),
    Pem(Zeroizing<Vec<u8>>, Vec<u8>),
}

/// The preferences store; what it creates is recorded as this user's (`SUDO_UID` when root
/// was reached through sudo), who may then read its connection's status from the daemon.
pub(crate) fn store() -> Result<PreferencesStore> {
    let creator = super::control::starting_uid().unwrap_or(0);
    Ok(PreferencesStore::open_default().context("opening the preferences")?.with_creator(creator))
}

#[allow(clippy::print_stdout)]
fn say(s: &str) {
    println!("{s}");
}

/// Asks for consent on a terminal; without one, only `--yes` consents.
pub(crate) fn consent(question: &str, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("{question}: consent is needed and there is no terminal to ask; re-run with --yes");
    }
    let mut err = std::io::stderr();
    write!(err, "{question} [y/N] ")?;
    err.flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

fn summary(name: &str, c: &VpnConfiguration, managed: bool) -> serde_json::Value {
    json!({
        "name": name,
        "description": c.localized_description,
        "type": c.protocol_kind().map(|k| k.vpn_type()),
        "server": c.server_address(),
        "enabled": c.enabled,
        "managed": managed,
        "on_demand": c.on_demand_enabled,
    })
}

/// Every configuration by display name: personal ones by their CLI name, managed ones by
/// their profile's name for them.
pub(crate) fn all(store: &PreferencesStore) -> Result<Vec<(String, VpnConfiguration, bool)>> {
    Ok(ikeway_service::names::configurations(store)?
        .into_iter()
        .map(|n| (n.name, n.configuration, n.managed))
        .collect())
}

pub(crate) fn find(store: &PreferencesStore, name: &str) -> Result<(VpnConfiguration, bool)> {
    all(store)?
        .into_iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, c, m)| (c, m))
        .with_context(|| format!("no configuration named {name:?} (see `ikeway config list`)"))
}

pub(crate) fn config(cmd: ConfigCmd) -> Result<()> {
    let store = store()?;
    match cmd {
        ConfigCmd::List { json } => {
            let rows = all(&store)?;
            if json {
                let v: Vec<_> = rows.iter().map(|(n, c, m)| summary(n, c, *m)).collect();
                say(&serde_json::to_string_pretty(&v)?);
            } else if rows.is_empty() {
                say(
                    "no configurations (add one with `ikeway config add` or `ikeway profile import`)",
                );
            } else {
                for (n, c, m) in rows {
                    let server = c.server_address().unwrap_or("-").to_owned();
                    say(&format!(
                        "{n:<20} {server:<30} {}{}",
                        if c.enabled { "enabled" } else { "disabled" },
                        if m { ", managed (read-only)" } else { "" }
                    ));
                }
            }
        }
        ConfigCmd::Show { name, json } => {
            let (c, managed) = find(&store, &name)?;
            if json {
                say(&serde_json::to_string_pretty(&summary_json(&name, &c, managed))?);
            } else {
                say(Summary { name: &name, configuration: &c, managed }.to_string().trim_end());
            }
        }
        ConfigCmd::Add { name, fields, yes } => {
            let app = format!("{APP_PREFIX}{name}");
            let mut manager = VpnManager::shared(app.clone(), store.clone());
            manager.load_from_preferences()?;
            if !manager.configuration().is_empty() {
                bail!("a configuration named {name:?} exists; use `ikeway config edit {name}`");
            }
            if !store.is_authorized(&app)?
                && !consent(&format!("Allow ikeway to add the VPN configuration {name:?}?"), yes)?
            {
                bail!("not saved: consent refused");
            }
            let mut config = VpnConfiguration {
                localized_description: name.clone(),
                ..VpnConfiguration::default()
            };
            fields.apply(&mut config, &store)?;
            *manager.configuration_mut() = config;
            manager.save_to_preferences(&mut |_: &str, _: &VpnConfiguration| true)?;
            say(&format!("saved {name:?}"));
        }
        ConfigCmd::Edit { name, fields } => {
            let app = format!("{APP_PREFIX}{name}");
            let mut manager = VpnManager::shared(app, store.clone());
            manager.load_from_preferences()?;
            if manager.configuration().is_empty() {
                let managed = find(&store, &name).map(|(_, m)| m).unwrap_or(false);
                if managed {
                    bail!(
                        "{name:?} comes from a profile and is read-only; import a new profile to change it"
                    );
                }
                bail!("no personal configuration named {name:?}");
            }
            fields.apply(manager.configuration_mut(), &store)?;
            manager.save_to_preferences(&mut |_: &str, _: &VpnConfiguration| true)?;
            say(&format!("saved {name:?}"));
        }
        ConfigCmd::Remove { name } => {
            let mut manager = VpnManager::shared(format!("{APP_PREFIX}{name}"), store.clone());
            manager.load_from_preferences()?;
            if manager.configuration().is_empty() {
                bail!("no personal configuration named {name:?}");
            }
            let secrets: Vec<_> = manager
                .configuration()
                .protocol
                .iter()
                .flat_map(|p| {
                    [
                        &p.shared_secret_reference,
                        &p.password_reference,
                        &p.identity_reference,
                        &p.identity_data_password_reference,
                    ]
                    .into_iter()
                    .flatten()
                    .chain(p.ppk_configuration.as_ref().map(|k| &k.keychain_reference))
                })
                .chain(manager.configuration().ipsec.iter().flat_map(|p| {
                    [
                        &p.shared_secret_reference,
                        &p.password_reference,
                        &p.identity_reference,
                        &p.identity_data_password_reference,
                    ]
                    .into_iter()
                    .flatten()
                }))
                .cloned()
                .collect();
            manager.remove_from_preferences()?;
            for s in secrets {
                store.secrets().remove(&s)?;
            }
            say(&format!("removed {name:?}"));
        }
    }
    Ok(())
}

pub(crate) fn profile(cmd: ProfileCmd) -> Result<()> {
    let store = store()?;
    match cmd {
        ProfileCmd::Import { file, yes, enable: enabling } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            if !consent(&format!("Install the VPN profile {}?", file.display()), yes)? {
                bail!("not installed: consent refused");
            }
            let imported = import_profile(&bytes, store.secrets())
                .with_context(|| format!("importing {}", file.display()))?;
            for w in &imported.warnings {
                say(&format!("warning: {w}"));
            }
            for vpn in imported.vpns {
                let name = vpn.configuration.localized_description.clone();
                store.install_managed(
                    &vpn.payload_identifier,
                    &imported.display_name,
                    vpn.configuration,
                )?;
                say(&format!(
                    "installed {name:?} from profile {:?} (managed)",
                    imported.display_name
                ));
                if enabling {
                    store.set_managed_enabled(&vpn.payload_identifier, true)?;
                    say(&format!("{name}: enabled"));
                }
            }
        }
        ProfileCmd::Export { name, output, include_secrets } => {
            let (c, _) = find(&store, &name)?;
            let secrets: Option<&dyn ikeway_manager::SecretSource> =
                if include_secrets { Some(store.secrets()) } else { None };
            let (xml, warnings) =
                export_profile(&format!("org.ikeway.export.{name}"), &name, &[&c], secrets)?;
            for w in &warnings {
                eprint_warning(&w.to_string());
            }
            match output {
                Some(path) if include_secrets => crate::secret_file::create(&path)?
                    .write_all(&xml)
                    .with_context(|| format!("writing {}", path.display()))?,
                Some(path) => std::fs::write(&path, &xml)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => std::io::stdout().write_all(&xml)?,
            }
        }
    }
    Ok(())
}

#[allow(clippy::print_stderr)]
fn eprint_warning(w: &str) {
    eprintln!("warning: {w}");
}
