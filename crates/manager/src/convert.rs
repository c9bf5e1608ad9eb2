//! From Apple's model to what the protocol crates run: [`Ikev2Protocol::to_sa_config`].
//!
//! Two kinds of gaps are reported, never ignored:
//! - a setting without which the tunnel cannot work as configured (EAP without a password or
//!   a method it can run, an identity that does not open, nothing to check the server's certificate against, a DH
//!   group we do not implement, a lifetime Apple would reject) is a
//!   [`ConfigError`];
//! - a setting that changes behaviour we do not implement but whose absence still leaves a
//!   working tunnel (MOBIKE, routing policy, PPK...) is an [`Unsupported`] entry the
//!   caller shows to the user.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ikeway_codec::{ConfigAttributeType, DhGroup, IdRepr, IdValue};
use ikeway_crypto::{AeadAlgorithm, BlockCipher, Encryption, Integrity, Prf, SecretBytes};
use ikeway_pki::{CertFailure, Certificate, PeerVerifier, PkiError, Purpose, Revocation, UnixTime};
use ikeway_sa::{Config, EsnPolicy, EspProposal, IkeProposal, LocalAuth, PeerAuth, PresharedKey};
use ikeway_tunnel::verifier::{RuntimeVerifier, TrustSettings};

use crate::certs::{CertError, IdentityError};
use crate::connection::StartOptions;
use crate::eap::{EapPlan, EapRound};
use crate::model::{
    AuthenticationMethod, Der, DiffieHellmanGroup, EapMethod, EncryptionAlgorithm, Ikev2Protocol,
    IntegrityAlgorithm, SaParameters, TlsVersion,
};
use crate::profile::{ENCRYPTIONS, name_of};
use crate::secrets::{PersistentRef, SecretError, SecretSource};
use crate::status::DisconnectError;

/// A field that is set but whose behaviour the protocol crates do not implement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The field, as named in [`Ikev2Protocol`].
    pub field: &'static str,
    /// What is not done.
    pub reason: &'static str,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Why a configuration cannot be turned into an IKE configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("{field} is required")]
    Missing { field: &'static str },
    #[error("{field} = {value} is not supported: {reason}")]
    Unsupported { field: &'static str, value: String, reason: &'static str },
    #[error("{field} = {value} is out of range {range}")]
    OutOfRange { field: &'static str, value: u64, range: &'static str },
    #[error("{field}: the secret store has no secret {reference}")]
    MissingSecret { field: &'static str, reference: PersistentRef },
    /// EAP runs a password method and no password is stored or was given to start.
    #[error(
        "no EAP password for {user:?}: none is stored (password_reference) and none was given \
         to start"
    )]
    NoPassword { user: String },
    /// XAUTH is on and no password is stored or was given to start.
    #[error(
        "no XAUTH password for {user:?}: none is stored (password_reference) and none was \
         given to start"
    )]
    NoXauthPassword { user: String },
    #[error("{field}: {source}")]
    Secret { field: &'static str, source: SecretError },
    #[error("{field} = {value:?}: {reason}")]
    Invalid { field: &'static str, value: String, reason: &'static str },
    /// Our identity is missing, does not open, or is not in the secret store.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// `certificate_type` is not our key's.
    #[error(transparent)]
    CertificateType(CertError),
    /// Our certificate is not valid now (or is otherwise unusable).
    #[error("{}", own_certificate(*.0))]
    ClientCertificate(CertFailure),
    #[error(
        "the server's certificate cannot be checked: there are no trust_anchors and \
         use_system_trust_store is off"
    )]
    NoTrustAnchors,
    #[error("{field}: {source}")]
    Trust { field: &'static str, source: PkiError },
    #[error(transparent)]
    SystemTrustStore(CertError),
}

/// Our own certificate's failure, in words about us (`CertFailure` speaks of the peer).
fn own_certificate(failure: CertFailure) -> String {
    match failure {
        CertFailure::NotYetValid => "our certificate (identity_reference) is not valid yet".into(),
        CertFailure::Expired => "our certificate (identity_reference) has expired".into(),
        other => format!("our certificate (identity_reference) cannot be used: {other}"),
    }
}

impl ConfigError {
    /// The disconnect error a start that failed with this reports: our certificate's
    /// problems are ClientCertificateInvalid / NotYetValid / Expired (9-11), the rest
    /// ConfigurationFailed.
    pub fn disconnect_error(&self) -> DisconnectError {
        match self {
            Self::Identity(_) | Self::CertificateType(_) => {
                DisconnectError::ClientCertificateInvalid
            }
            Self::ClientCertificate(CertFailure::NotYetValid) => {
                DisconnectError::ClientCertificateNotYetValid
            }
            Self::ClientCertificate(CertFailure::Expired) => {
                DisconnectError::ClientCertificateExpired
            }
            Self::ClientCertificate(_) => DisconnectError::ClientCertificateInvalid,
            _ => DisconnectError::ConfigurationFailed,
        }
    }
}

/// DH groups the crypto crate implements (ikeway_crypto::KexGroup).
const SUPPORTED_GROUPS: [u16; 6] = [14, 15, 16, 19, 20, 31];

/// Apple's accepted SA lifetime range, in minutes.
const LIFETIME_RANGE: std::ops::RangeInclusive<u32> = 10..=1440;

/// Bytes of an IKE datagram that are not the IKE message: IPv6 header (40), UDP (8) and the
/// non-ESP marker on port 4500 (RFC 3948 §2.2), counted for the worst case.
const IKE_OVERHEAD: u32 = 40 + 8 + 4;

/// The smallest MTU we accept: IPv6's minimum link MTU (RFC 8200 §5).
const MIN_MTU: u32 = 1280;

impl Ikev2Protocol {
    /// The IKE configuration for this protocol, and the set fields we do not implement.
    ///
    /// `secrets` resolves `shared_secret_reference`, `identity_reference` (and its password)
    /// and `ppk_configuration`. Our certificate is checked against the wall clock.
    pub fn to_sa_config(
        &self,
        secrets: &dyn SecretSource,
    ) -> Result<(Config, Vec<Unsupported>), ConfigError> {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.to_sa_config_at(secrets, UnixTime::since_unix_epoch(since_epoch))
    }

    /// As [`Self::to_sa_config`] for `startVPNTunnel(options:)`: the options' username and
    /// password take the place of the configured `username` and stored password (EAP).
    pub fn to_sa_config_for_start(
        &self,
        secrets: &dyn SecretSource,
        options: &StartOptions,
    ) -> Result<(Config, Vec<Unsupported>), ConfigError> {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.to_sa_config_with(secrets, options, UnixTime::since_unix_epoch(since_epoch))
    }

    /// As [`Self::to_sa_config`], with our certificate checked against `now`.
    pub fn to_sa_config_at(
        &self,
        secrets: &dyn SecretSource,
        now: UnixTime,
    ) -> Result<(Config, Vec<Unsupported>), ConfigError> {
        self.to_sa_config_with(secrets, &StartOptions::default(), now)
    }

    /// As [`Self::to_sa_config_for_start`], with our certificate checked against `now`.
    pub fn to_sa_config_with(
        &self,
        secrets: &dyn SecretSource,
        options: &StartOptions,
        now: UnixTime,
    ) -> Result<(Config, Vec<Unsupported>), ConfigError> {
        let mut started;
        let this = match &options.username {
            Some(user) => {
                started = self.clone();
                started.username = Some(user.clone());
                &started
            }
            None => self,
        };
        let (config, mut unsupported) = this.build(secrets, options.password.as_ref(), now)?;
        let runs_eap =
            config.local_auth2.is_some() || matches!(config.local_auth, LocalAuth::Eap(_));
        if options.password.is_some() && !runs_eap {
            unsupported.push(Unsupported {
                field: "password",
                reason: "the configuration runs no EAP password method; the start option's \
                         password is not used",
            });
        }
        Ok((config, unsupported))
    }

    fn build(
        &self,
        secrets: &dyn SecretSource,
        given_password: Option<&SecretBytes>,
        now: UnixTime,
    ) -> Result<(Config, Vec<Unsupported>), ConfigError> {
        if self.server_address.trim().is_empty() {
            return Err(ConfigError::Missing { field: "server_address" });
        }
        let psk = match self.shared_secret_reference.as_ref() {
            Some(reference) if self.authentication_method == AuthenticationMethod::SharedSecret => {
                // One key for both roles, so its keyed PRFs are made once.
                Some(PresharedKey::new(stored_secret(
                    secrets,
                    "shared_secret_reference",
                    reference,
                )?))
            }
            _ => None,
        };
        let eap = self.eap_plan()?;
        if self.authentication_method == AuthenticationMethod::None && eap.is_none() {
            return Err(ConfigError::Invalid {
                field: "authentication_method",
                value: "None".into(),
                reason: "nothing proves who we are: turn on use_extended_authentication (EAP) \
                         or use SharedSecret or Certificate",
            });
        }
        // Our certificate: to sign with, or to run EAP-TLS with.
        let eap_tls = eap.as_ref().is_some_and(|p| p.methods.contains(&EapMethod::Tls));
        let certificate =
            if self.authentication_method == AuthenticationMethod::Certificate || eap_tls {
                let identity = crate::certs::load_identity(self, secrets)?;
                crate::certs::check_certificate_type(self.certificate_type, identity.kind())
                    .map_err(ConfigError::CertificateType)?;
                identity.check_validity(now).map_err(ConfigError::ClientCertificate)?;
                Some(Arc::new(identity))
            } else {
                None
            };
        // No local identifier: the certificate's subject, as strongSwan and Apple default to
        // (RFC 7296 §3.5 ID_DER_ASN1_DN), else the EAP user name.
        let subject = certificate.as_ref().map(|c| c.chain()[0].subject_der().to_vec());
        let default_local_id = match (&subject, &self.username) {
            (Some(dn), _) => Some(IdRepr::from_value(IdValue::DerAsn1Dn(dn))),
            (None, Some(user)) if eap.is_some() => Some(identity(user)),
            _ => None,
        };
        // Apple authenticates the server as its address when no remote identifier is set.
        let remote_id = identity(
            self.remote_identifier
                .as_deref()
                .filter(|s| !s.is_empty())
                .unwrap_or(&self.server_address),
        );
        // The server proves itself with a certificate when we do, when EAP is our only proof
        // (RFC 7296 §2.16: EAP proves the client, the server signs), or when we were given
        // something to check one against; otherwise with the shared secret.
        let verifier = if self.authentication_method == AuthenticationMethod::Certificate
            || eap.as_ref().is_some_and(|p| p.round == EapRound::First)
            || !self.trust_anchors.is_empty()
            || self.use_system_trust_store
        {
            Some(Arc::new(self.server_verifier()?))
        } else {
            None
        };
        let peer_auth = match &verifier {
            Some(v) => PeerAuth::Certificate(Arc::clone(v) as Arc<dyn PeerVerifier>),
            None => PeerAuth::Psk(
                psk.clone().ok_or(ConfigError::Missing { field: "shared_secret_reference" })?,
            ),
        };
        let eap_peer = match &eap {
            Some(plan) => Some(Arc::new(self.eap_peer_config(
                plan,
                secrets,
                given_password,
                certificate.as_ref(),
                verifier.as_ref(),
                &remote_id,
            )?)),
            None => None,
        };
        let local_auth = match self.authentication_method {
            AuthenticationMethod::SharedSecret => LocalAuth::Psk(
                psk.clone().ok_or(ConfigError::Missing { field: "shared_secret_reference" })?,
            ),
            AuthenticationMethod::Certificate => LocalAuth::Certificate(
                certificate.clone().ok_or(ConfigError::Identity(IdentityError::Missing))?,
            ),
            AuthenticationMethod::None => {
                LocalAuth::Eap(eap_peer.clone().ok_or(ConfigError::Missing { field: "username" })?)
            }
        };
        let local_auth2 =
            if self.authentication_method == AuthenticationMethod::None { None } else { eap_peer };

        let local_id = match self.local_identifier.as_deref().filter(|s| !s.is_empty()) {
            Some(id) => identity(id),
            None => default_local_id.ok_or(ConfigError::Missing { field: "local_identifier" })?,
        };

        if self.enforce_strict_algorithm_selection {
            check_strict(self)?;
        }
        let ike = &self.ike_sa_parameters;
        let child = &self.child_sa_parameters;
        let ike_group = group("ike_sa_parameters.diffie_hellman_group", ike.diffie_hellman_group)?;
        let child_group =
            group("child_sa_parameters.diffie_hellman_group", child.diffie_hellman_group)?;
        let (ike_enc, ike_integ, prf) = algorithms("ike_sa_parameters", ike)?;
        let (esp_enc, esp_integ, _) = algorithms("child_sa_parameters", child)?;
        let ike_lifetime = lifetime("ike_sa_parameters.lifetime_minutes", ike)?;
        let child_lifetime = lifetime("child_sa_parameters.lifetime_minutes", child)?;

        let mut config = Config::new(local_id, SecretBytes::from_slice(b""));
        config.local_auth = local_auth;
        config.peer_auth = peer_auth;
        config.local_auth2 = local_auth2;
        config.eap_only = eap.as_ref().is_some_and(EapPlan::eap_only);
        // RFC 5685: announce REDIRECT_SUPPORTED and follow the server's redirects, as Apple's
        // client does unless `disableRedirect`.
        config.redirect_supported = !self.disable_redirect;
        // Apple's disableMOBIKE: MOBIKE (RFC 4555) unless disabled; the runtime follows the
        // host's address changes when the server agrees.
        config.mobike = !self.disable_mobike;
        config.remote_id = Some(remote_id);
        config.ike_proposals = vec![IkeProposal {
            encryption: ike_enc,
            integrity: ike_integ,
            prf,
            groups: vec![ike_group],
            additional_kes: additional_kes(
                &ike.post_quantum_key_exchange_methods,
                self.allow_post_quantum_key_exchange_fallback,
            )?,
        }];
        // Apple uses the child SA parameters' group for PFS on CREATE_CHILD_SA.
        let pfs_groups = if self.enable_pfs { vec![child_group] } else { Vec::new() };
        config.esp_proposals = vec![EspProposal {
            encryption: esp_enc,
            integrity: esp_integ,
            esn: EsnPolicy::Either,
            pfs_groups,
        }];
        config.lifetimes.ike = ike_lifetime;
        config.lifetimes.child = child_lifetime;
        // Rekey well before the shorter lifetime ends, even at Apple's 10-minute minimum.
        let shortest = ike_lifetime.min(child_lifetime);
        config.lifetimes.rekey_margin = config.lifetimes.rekey_margin.min(shortest / 4);
        config.lifetimes.jitter = config.lifetimes.jitter.min(config.lifetimes.rekey_margin / 4);
        config.dpd_interval = self.dead_peer_detection_rate.interval();
        if config.dpd_interval.is_some() {
            // Apple's liveness check gives up after 5 retries at 1 s (APPLE-API.md §1.5), so
            // a dead server is noticed within the DPD interval plus about 6 s.
            config.retransmit =
                ikeway_sa::Retransmit { initial: Duration::from_secs(1), factor: 1, tries: 6 };
        }

        config.config_request = ikeway_sa::CLIENT_CONFIG_REQUEST.to_vec();
        config.ppk = self.ppk_config(secrets, eap.is_some())?;
        if self.use_configuration_attribute_internal_ip_subnet {
            config.config_request.push(ConfigAttributeType::INTERNAL_IP4_SUBNET);
            config.config_request.push(ConfigAttributeType::INTERNAL_IP6_SUBNET);
        }

        if let Some(mtu) = self.mtu {
            if mtu < MIN_MTU {
                return Err(ConfigError::OutOfRange {
                    field: "mtu",
                    value: mtu.into(),
                    range: "1280..",
                });
            }
            config.max_message_len = (mtu - IKE_OVERHEAD) as usize;
        }
        if let Some(secs) = self.nat_keep_alive_interval {
            // Apple's minimum is 20 s (com.apple.vpn.managed NATKeepAliveInterval).
            if secs < 20 {
                return Err(ConfigError::OutOfRange {
                    field: "nat_keep_alive_interval",
                    value: secs.into(),
                    range: "20..",
                });
            }
            config.nat_keepalive = Duration::from_secs(secs.into());
        }

        Ok((config, self.unsupported()))
    }

    /// What checks the server's certificate: [`server_verifier`] with this configuration's
    /// anchors, CRLs, Apple's common names and revocation switches.
    fn server_verifier(&self) -> Result<RuntimeVerifier, ConfigError> {
        let revocation = if self.strict_revocation_check {
            Revocation::Strict
        } else if self.enable_revocation_check {
            Revocation::BestEffort
        } else {
            Revocation::Off
        };
        server_verifier(ServerTrust {
            anchors: &self.trust_anchors,
            use_system_trust_store: self.use_system_trust_store,
            crls: &self.certificate_revocation_lists,
            revocation,
            common_name: self.server_certificate_common_name.clone(),
            issuer_common_name: self.server_certificate_issuer_common_name.clone(),
        })
    }

    /// The fields that are set but whose behaviour the protocol crates do not implement: what
    /// [`Ikev2Protocol::to_sa_config`] reports, without needing the secrets.
    pub fn unsupported(&self) -> Vec<Unsupported> {
        let mut unsupported = Vec::new();
        let mut note = |field, reason| unsupported.push(Unsupported { field, reason });
        let ike = &self.ike_sa_parameters;
        let child = &self.child_sa_parameters;
        let eap = self.eap_plan().ok().flatten();
        if !self.use_extended_authentication
            && (self.username.is_some() || self.password_reference.is_some())
        {
            note(
                "username",
                "username and password are for EAP, and use_extended_authentication is off",
            );
        }
        if matches!(self.minimum_tls_version, TlsVersion::Tls1_0 | TlsVersion::Tls1_1) {
            note(
                "minimum_tls_version",
                "TLS 1.0 and 1.1 are not spoken (RFC 8996): EAP-TLS starts at TLS 1.2",
            );
        }
        if (self.minimum_tls_version != TlsVersion::Default
            || self.maximum_tls_version != TlsVersion::Default)
            && !eap.as_ref().is_some_and(|p| p.methods.contains(&EapMethod::Tls))
        {
            note(
                "maximum_tls_version",
                "the TLS versions are EAP-TLS's, and this configuration does not run EAP-TLS",
            );
        }
        if self.enforce_routes {
            note(
                "enforce_routes",
                "the tunnel's routes win over the local networks' (with exclude_local_networks \
                 = NO), not over the host's other more specific routes",
            );
        }
        // includeAllNetworks (routes and the kill switch) and excludeLocalNetworks work; of
        // the traffic classes Apple keeps out of an all-traffic tunnel, Linux has none to tell
        // apart: that traffic, if any, goes into the tunnel with the rest.
        if self.include_all_networks && self.exclude_cellular_services {
            note(
                "exclude_cellular_services",
                "Linux has no cellular services (IMS, Wi-Fi calling) to keep outside the tunnel",
            );
        }
        if self.include_all_networks && self.exclude_apns {
            note(
                "exclude_apns",
                "Apple Push Notification traffic is not told apart here: it goes into the tunnel",
            );
        }
        if self.include_all_networks
            && self.exclude_device_communication
            && !self.exclude_local_networks
        {
            note(
                "exclude_device_communication",
                "devices attached to this host are reached over their links' local networks, \
                 which exclude_local_networks = NO sends into the tunnel",
            );
        }
        if self.disconnect_on_sleep {
            note("disconnect_on_sleep", "sleep is not observed");
        }
        if self.disconnect_on_idle || self.disconnect_on_idle_timer.is_some() {
            note("disconnect_on_idle", "idle disconnection is not implemented");
        }
        if self.ppk_configuration.as_ref().is_some_and(|p| !p.is_mandatory) && eap.is_some() {
            note(
                "ppk_configuration",
                "post-quantum preshared keys (RFC 8784) are not used with EAP here; the tunnel \
                 comes up without one",
            );
        }
        if !child.post_quantum_key_exchange_methods.is_empty() {
            note(
                "child_sa_parameters.post_quantum_key_exchange_methods",
                "this list of its own is not used: a child SA with PFS (enable_pfs) takes the \
                 additional key exchanges the IKE SA negotiated (RFC 9370 §2.2.4), one without \
                 PFS none",
            );
        }
        if self.allow_post_quantum_key_exchange_fallback
            && ike.post_quantum_key_exchange_methods.is_empty()
        {
            note(
                "allow_post_quantum_key_exchange_fallback",
                "no post-quantum exchange to fall back from",
            );
        }
        if self.enable_fallback {
            note("enable_fallback", "Wi-Fi Assist fallback is iOS-only");
        }
        if self.nat_keep_alive_offload_enable == Some(true) {
            note(
                "nat_keep_alive_offload_enable",
                "keepalive offload is a hardware feature we lack",
            );
        }
        if self.provider_bundle_identifier.is_some()
            || self.provider_designated_requirement.is_some()
            || self.provider_type.is_some()
        {
            note("provider_bundle_identifier", "VPN provider extensions do not apply to IKEv2");
        }
        unsupported
    }
}

/// What a server's certificate is checked against, as a configuration (IKEv2 or IPSec) gives
/// it.
pub(crate) struct ServerTrust<'a> {
    pub anchors: &'a [Der],
    pub use_system_trust_store: bool,
    pub crls: &'a [Der],
    pub revocation: Revocation,
    pub common_name: Option<String>,
    pub issuer_common_name: Option<String>,
}

/// What checks the server's certificate: the anchors (stored, and the system store when
/// asked), the CRLs, the common names and the revocation policy, at the wall clock's time with
/// CRLs fetched as needed (`ikeway_tunnel::verifier`).
pub(crate) fn server_verifier(t: ServerTrust<'_>) -> Result<RuntimeVerifier, ConfigError> {
    let mut anchors = t
        .anchors
        .iter()
        .map(|a| Certificate::from_der(a.0.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| ConfigError::Trust { field: "trust_anchors", source })?;
    if t.use_system_trust_store {
        let system = crate::certs::system_anchors(Path::new(crate::certs::SYSTEM_TRUST_STORE))
            .map_err(ConfigError::SystemTrustStore)?;
        anchors.extend(system);
    }
    if anchors.is_empty() {
        return Err(ConfigError::NoTrustAnchors);
    }
    let settings = TrustSettings {
        anchors,
        purpose: Purpose::Server,
        crls: t.crls.iter().map(|c| c.0.clone()).collect(),
        revocation: t.revocation,
        common_name: t.common_name,
        issuer_common_name: t.issuer_common_name,
    };
    RuntimeVerifier::new(&settings)
        .map_err(|source| ConfigError::Trust { field: "certificate_revocation_lists", source })
}

/// An identity by its form: IPv4 or IPv6 address, `user@domain` (RFC 822), else an FQDN
/// (RFC 7296 §3.5). This is how Apple types `localIdentifier` / `remoteIdentifier`.
pub fn identity(s: &str) -> IdRepr {
    if let Ok(a) = s.parse::<Ipv4Addr>() {
        IdRepr::from_value(IdValue::Ipv4(a))
    } else if let Ok(a) = s.parse::<Ipv6Addr>() {
        IdRepr::from_value(IdValue::Ipv6(a))
    } else if let Some(fqdn) = s.strip_prefix('@') {
        // strongSwan's notation for "a name, not an address": `@vpn.example.org`.
        IdRepr::from_value(IdValue::Fqdn(fqdn))
    } else if s.contains('@') {
        IdRepr::from_value(IdValue::Rfc822(s))
    } else {
        IdRepr::from_value(IdValue::Fqdn(s))
    }
}

/// The methods we can run as additional key exchanges: ML-KEM-768 and ML-KEM-1024.
const POST_QUANTUM_METHODS: [u16; 2] = [36, 37];

/// `postQuantumKeyExchangeMethods` as RFC 9370 slots: each method one additional key exchange
/// (ADDKE1, ADDKE2, ... in order), each also allowing NONE when
/// `allowPostQuantumKeyExchangeFallback` lets a server without them in.
fn additional_kes(methods: &[u16], fallback: bool) -> Result<Vec<Vec<DhGroup>>, ConfigError> {
    const FIELD: &str = "ike_sa_parameters.post_quantum_key_exchange_methods";
    if methods.len() > ikeway_sa::MAX_ADDITIONAL_KES {
        return Err(ConfigError::Unsupported {
            field: FIELD,
            value: methods.len().to_string(),
            reason: "at most 7 additional key exchanges (ADDKE1-7, RFC 9370)",
        });
    }
    methods
        .iter()
        .map(|m| {
            if !POST_QUANTUM_METHODS.contains(m) {
                return Err(ConfigError::Unsupported {
                    field: FIELD,
                    value: m.to_string(),
                    reason: "supported methods are 36 (ML-KEM-768) and 37 (ML-KEM-1024)",
                });
            }
            let mut slot = vec![DhGroup(*m)];
            if fallback {
                slot.push(DhGroup::NONE);
            }
            Ok(slot)
        })
        .collect()
}

fn group(field: &'static str, g: DiffieHellmanGroup) -> Result<DhGroup, ConfigError> {
    let raw = g.raw() as u16;
    if SUPPORTED_GROUPS.contains(&raw) {
        Ok(DhGroup(raw))
    } else {
        Err(ConfigError::Unsupported {
            field,
            value: raw.to_string(),
            reason: "supported groups are 14, 15, 16, 19, 20 and 31",
        })
    }
}

fn algorithms(
    field: &'static str,
    p: &SaParameters,
) -> Result<(Encryption, Option<Integrity>, Prf), ConfigError> {
    let encryption = match p.encryption_algorithm {
        EncryptionAlgorithm::Des => {
            return Err(ConfigError::Unsupported {
                field: if field == "ike_sa_parameters" {
                    "ike_sa_parameters.encryption_algorithm"
                } else {
                    "child_sa_parameters.encryption_algorithm"
                },
                value: "DES".into(),
                reason: "single DES is broken and not implemented",
            });
        }
        EncryptionAlgorithm::TripleDes => Encryption::Cipher(BlockCipher::TripleDesCbc),
        EncryptionAlgorithm::Aes128 => Encryption::Cipher(BlockCipher::AesCbc { key_bits: 128 }),
        EncryptionAlgorithm::Aes256 => Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
        EncryptionAlgorithm::Aes128Gcm => Encryption::Aead(AeadAlgorithm::AES128_GCM16),
        EncryptionAlgorithm::Aes256Gcm => Encryption::Aead(AeadAlgorithm::AES256_GCM16),
        EncryptionAlgorithm::ChaCha20Poly1305 => Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305),
    };
    let (integrity, prf) = match p.integrity_algorithm {
        IntegrityAlgorithm::Sha96 => (Integrity::HmacSha1_96, Prf::HmacSha1),
        IntegrityAlgorithm::Sha160 => (Integrity::HmacSha1_160, Prf::HmacSha1),
        IntegrityAlgorithm::Sha256 => (Integrity::HmacSha256_128, Prf::HmacSha256),
        IntegrityAlgorithm::Sha384 => (Integrity::HmacSha384_192, Prf::HmacSha384),
        IntegrityAlgorithm::Sha512 => (Integrity::HmacSha512_256, Prf::HmacSha512),
    };
    // An AEAD has no integrity transform (RFC 5282 §8); the PRF still follows the integrity
    // algorithm, as Apple infers it.
    let integrity = (!encryption.is_aead()).then_some(integrity);
    Ok((encryption, integrity, prf))
}

fn lifetime(field: &'static str, p: &SaParameters) -> Result<Duration, ConfigError> {
    if !LIFETIME_RANGE.contains(&p.lifetime_minutes) {
        return Err(ConfigError::OutOfRange {
            field,
            value: p.lifetime_minutes.into(),
            range: "10..=1440 minutes",
        });
    }
    Ok(Duration::from_secs(u64::from(p.lifetime_minutes) * 60))
}

/// `EnforceStrictAlgorithmSelection`: no DES/3DES, no group below 14, and the IKE SA cipher at
/// least as strong as the child SA's.
fn check_strict(p: &Ikev2Protocol) -> Result<(), ConfigError> {
    let strength = |e: EncryptionAlgorithm| match e {
        EncryptionAlgorithm::Des | EncryptionAlgorithm::TripleDes => 0,
        EncryptionAlgorithm::Aes128 | EncryptionAlgorithm::Aes128Gcm => 128,
        EncryptionAlgorithm::Aes256
        | EncryptionAlgorithm::Aes256Gcm
        | EncryptionAlgorithm::ChaCha20Poly1305 => 256,
    };
    for (field, sa) in [
        ("ike_sa_parameters", &p.ike_sa_parameters),
        ("child_sa_parameters", &p.child_sa_parameters),
    ] {
        if strength(sa.encryption_algorithm) == 0 {
            return Err(ConfigError::Invalid {
                field,
                value: name_of(ENCRYPTIONS, sa.encryption_algorithm).to_owned(),
                reason: "enforce_strict_algorithm_selection forbids DES and 3DES",
            });
        }
        if sa.diffie_hellman_group.raw() < 14 {
            return Err(ConfigError::Invalid {
                field,
                value: sa.diffie_hellman_group.raw().to_string(),
                reason: "enforce_strict_algorithm_selection forbids groups below 14",
            });
        }
    }
    if strength(p.ike_sa_parameters.encryption_algorithm)
        < strength(p.child_sa_parameters.encryption_algorithm)
    {
        return Err(ConfigError::Invalid {
            field: "ike_sa_parameters.encryption_algorithm",
            value: name_of(ENCRYPTIONS, p.ike_sa_parameters.encryption_algorithm).to_owned(),
            reason: "enforce_strict_algorithm_selection: the IKE SA cipher must be at least as strong as the child SA's",
        });
    }
    Ok(())
}

/// The secret `reference` names, for `field`: it must be there and not empty.
pub(crate) fn stored_secret(
    secrets: &dyn SecretSource,
    field: &'static str,
    reference: &PersistentRef,
) -> Result<SecretBytes, ConfigError> {
    let secret = secrets
        .secret(reference)
        .map_err(|source| ConfigError::Secret { field, source })?
        .ok_or_else(|| ConfigError::MissingSecret { field, reference: reference.clone() })?;
    if secret.is_empty() {
        return Err(ConfigError::Invalid {
            field,
            value: reference.to_string(),
            reason: "the secret is empty",
        });
    }
    Ok(secret)
}

/// A secret map for tests and examples.
pub fn secrets_from<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> std::collections::BTreeMap<PersistentRef, SecretBytes> {
    entries.into_iter().map(|(r, s)| (PersistentRef::from(r), SecretBytes::from_slice(s))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DeadPeerDetectionRate;

    fn psk_protocol() -> Ikev2Protocol {
        Ikev2Protocol {
            authentication_method: AuthenticationMethod::SharedSecret,
            shared_secret_reference: Some("s1".into()),
            local_identifier: Some("client.example.com".into()),
            remote_identifier: Some("vpn.example.com".into()),
            disable_mobike: true,
            disable_redirect: true,
            ..Ikev2Protocol::new("192.0.2.1")
        }
    }

    fn secrets() -> std::collections::BTreeMap<PersistentRef, SecretBytes> {
        secrets_from([("s1", &b"shared secret"[..])])
    }

    #[test]
    fn defaults_map_to_aes256_cbc_sha256_group14() {
        let (c, unsupported) = psk_protocol().to_sa_config(&secrets()).unwrap();
        assert!(unsupported.is_empty(), "{unsupported:?}");
        assert_eq!(c.local_auth.psk().unwrap().expose(), b"shared secret");
        assert_eq!(c.peer_auth.psk().unwrap().expose(), b"shared secret");
        assert_eq!(c.local_id.value(), IdValue::Fqdn("client.example.com"));
        assert_eq!(c.remote_id.as_ref().unwrap().value(), IdValue::Fqdn("vpn.example.com"));
        assert_eq!(
            c.ike_proposals,
            vec![IkeProposal {
                encryption: Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
                integrity: Some(Integrity::HmacSha256_128),
                prf: Prf::HmacSha256,
                groups: vec![DhGroup::MODP_2048],
                additional_kes: Vec::new(),
            }]
        );
        assert_eq!(c.esp_proposals.len(), 1);
        assert!(c.esp_proposals[0].pfs_groups.is_empty());
        assert_eq!(c.lifetimes.ike, Duration::from_secs(3600));
        assert_eq!(c.lifetimes.child, Duration::from_secs(1800));
        assert!(c.lifetimes.rekey_margin < c.lifetimes.child);
        assert_eq!(c.dpd_interval, Some(Duration::from_secs(600)));
        assert!(c.config_request.contains(&ConfigAttributeType::INTERNAL_IP4_ADDRESS));
        assert!(!c.config_request.contains(&ConfigAttributeType::INTERNAL_IP4_SUBNET));
    }

    #[test]
    fn aead_choices_have_no_integrity_and_keep_the_prf() {
        let mut p = psk_protocol();
        p.ike_sa_parameters.encryption_algorithm = EncryptionAlgorithm::Aes256Gcm;
        p.ike_sa_parameters.integrity_algorithm = IntegrityAlgorithm::Sha384;
        p.ike_sa_parameters.diffie_hellman_group = DiffieHellmanGroup::Group31;
        p.child_sa_parameters.encryption_algorithm = EncryptionAlgorithm::ChaCha20Poly1305;
        p.child_sa_parameters.diffie_hellman_group = DiffieHellmanGroup::Group20;
        p.enable_pfs = true;
        let (c, _) = p.to_sa_config(&secrets()).unwrap();
        let ike = &c.ike_proposals[0];
        assert_eq!(ike.encryption, Encryption::Aead(AeadAlgorithm::AES256_GCM16));
        assert_eq!((ike.integrity, ike.prf), (None, Prf::HmacSha384));
        assert_eq!(ike.groups, vec![DhGroup::CURVE25519]);
        let esp = &c.esp_proposals[0];
        assert_eq!(esp.encryption, Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305));
        assert_eq!(esp.integrity, None);
        assert_eq!(esp.pfs_groups, vec![DhGroup::ECP_384]);
    }

    #[test]
    fn every_encryption_and_integrity_maps_or_errors() {
        for &e in EncryptionAlgorithm::ALL {
            for &i in IntegrityAlgorithm::ALL {
                let mut p = psk_protocol();
                p.child_sa_parameters.encryption_algorithm = e;
                p.child_sa_parameters.integrity_algorithm = i;
                let r = p.to_sa_config(&secrets());
                if e == EncryptionAlgorithm::Des {
                    let msg = r.unwrap_err().to_string();
                    assert!(msg.contains("child_sa_parameters.encryption_algorithm"), "{msg}");
                } else {
                    assert!(r.is_ok(), "{e:?} {i:?}");
                }
            }
        }
    }

    #[test]
    fn unsupported_groups_name_the_field() {
        for &g in DiffieHellmanGroup::ALL {
            let mut p = psk_protocol();
            p.child_sa_parameters.diffie_hellman_group = g;
            let r = p.to_sa_config(&secrets());
            if SUPPORTED_GROUPS.contains(&(g.raw() as u16)) {
                assert!(r.is_ok(), "{g:?}");
            } else {
                let msg = r.unwrap_err().to_string();
                assert!(msg.contains("child_sa_parameters.diffie_hellman_group"), "{msg}");
                assert!(msg.contains(&g.raw().to_string()), "{msg}");
            }
        }
    }

    #[test]
    fn lifetimes_outside_apples_range_are_rejected() {
        for (minutes, ok) in [(9, false), (10, true), (1440, true), (1441, false)] {
            let mut p = psk_protocol();
            p.ike_sa_parameters.lifetime_minutes = minutes;
            let r = p.to_sa_config(&secrets());
            assert_eq!(r.is_ok(), ok, "{minutes}");
            if let Ok((c, _)) = r {
                assert!(c.lifetimes.rekey_margin < c.lifetimes.ike);
                assert!(c.lifetimes.jitter < c.lifetimes.rekey_margin);
            }
        }
    }

    #[test]
    fn dpd_mtu_subnet_and_keepalive() {
        let mut p = psk_protocol();
        p.dead_peer_detection_rate = DeadPeerDetectionRate::None;
        p.mtu = Some(1400);
        p.use_configuration_attribute_internal_ip_subnet = true;
        p.nat_keep_alive_interval = Some(110);
        let (c, _) = p.to_sa_config(&secrets()).unwrap();
        assert_eq!(c.dpd_interval, None);
        assert_eq!(c.max_message_len, 1400 - 52);
        assert!(c.config_request.contains(&ConfigAttributeType::INTERNAL_IP6_SUBNET));
        assert_eq!(c.nat_keepalive, Duration::from_secs(110));
        p.mtu = Some(1000);
        assert!(p.to_sa_config(&secrets()).unwrap_err().to_string().contains("mtu"));
    }

    #[test]
    fn identities_by_form() {
        assert_eq!(identity("192.0.2.7").value(), IdValue::Ipv4("192.0.2.7".parse().unwrap()));
        assert_eq!(identity("2001:db8::1").value(), IdValue::Ipv6("2001:db8::1".parse().unwrap()));
        assert_eq!(identity("alice@example.com").value(), IdValue::Rfc822("alice@example.com"));
        assert_eq!(identity("vpn.example.com").value(), IdValue::Fqdn("vpn.example.com"));
        // No remote identifier: the server address, typed by its form.
        let mut p = psk_protocol();
        p.remote_identifier = None;
        let (c, _) = p.to_sa_config(&secrets()).unwrap();
        assert_eq!(c.remote_id.unwrap().value(), IdValue::Ipv4("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn authentication_errors() {
        let mut p = psk_protocol();
        p.authentication_method = AuthenticationMethod::Certificate;
        let err = p.to_sa_config(&secrets()).unwrap_err();
        assert_eq!(err.to_string(), "no identity is configured (identity_reference)");
        assert_eq!(err.disconnect_error(), DisconnectError::ClientCertificateInvalid);
        p.authentication_method = AuthenticationMethod::None;
        assert_eq!(
            p.to_sa_config(&secrets()).unwrap_err().to_string(),
            "authentication_method = \"None\": nothing proves who we are: turn on \
             use_extended_authentication (EAP) or use SharedSecret or Certificate"
        );
        let p = psk_protocol();
        let empty = secrets_from([]);
        let msg = p.to_sa_config(&empty).unwrap_err().to_string();
        assert!(msg.contains("shared_secret_reference") && msg.contains("s1"), "{msg}");
        let mut p = psk_protocol();
        p.local_identifier = None;
        assert!(p.to_sa_config(&secrets()).unwrap_err().to_string().contains("local_identifier"));
    }

    #[test]
    fn set_but_unimplemented_fields_are_reported() {
        let mut p = psk_protocol();
        p.disable_mobike = false;
        p.disable_redirect = false;
        p.username = Some("alice".into());
        p.include_all_networks = true;
        p.exclude_local_networks = true;
        p.ppk_configuration = Some(crate::model::PpkConfiguration {
            identifier: "ppk".into(),
            keychain_reference: "p".into(),
            is_mandatory: true,
        });
        let secrets = secrets_from([("s1", &b"shared secret"[..]), ("p", &b"a ppk"[..])]);
        let (_, u) = p.to_sa_config(&secrets).unwrap();
        let fields: Vec<_> = u.iter().map(|u| u.field).collect();
        assert!(!fields.contains(&"disable_redirect"), "redirect works: {fields:?}");
        assert!(!fields.contains(&"disable_mobike"), "MOBIKE works: {fields:?}");
        assert!(!fields.contains(&"ppk_configuration"), "PPK works: {fields:?}");
        for f in ["username", "exclude_cellular_services", "exclude_apns"] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        // Carried out by the tunnel plan and the kill switch now.
        for f in ["include_all_networks", "exclude_local_networks", "exclude_device_communication"]
        {
            assert!(!fields.contains(&f), "{f} is applied: {fields:?}");
        }
        p.exclude_local_networks = false;
        p.exclude_cellular_services = false;
        p.exclude_apns = false;
        let fields: Vec<_> = p.unsupported().iter().map(|u| u.field).collect();
        assert!(fields.contains(&"exclude_device_communication"), "{fields:?}");
        assert!(
            !fields.contains(&"exclude_apns") && !fields.contains(&"exclude_cellular_services")
        );
        p.include_all_networks = false;
        let fields: Vec<_> = p.unsupported().iter().map(|u| u.field).collect();
        assert!(!fields.contains(&"exclude_device_communication"), "only with includeAllNetworks");
    }

    /// `disableMOBIKE` decides whether the client announces MOBIKE and follows address changes.
    #[test]
    fn disable_mobike_maps_to_mobike() {
        let mut p = psk_protocol();
        assert!(!p.to_sa_config(&secrets()).unwrap().0.mobike);
        p.disable_mobike = false;
        assert!(p.to_sa_config(&secrets()).unwrap().0.mobike);
    }

    /// `disableRedirect` decides whether the client announces and follows redirects.
    #[test]
    fn disable_redirect_maps_to_redirect_supported() {
        let mut p = psk_protocol();
        assert!(!p.to_sa_config(&secrets()).unwrap().0.redirect_supported);
        p.disable_redirect = false;
        let (c, _) = p.to_sa_config(&secrets()).unwrap();
        assert!(c.redirect_supported);
        assert_eq!(c.redirected_from, None);
    }

    #[test]
    fn strict_algorithm_selection() {
        let mut p = psk_protocol();
        p.enforce_strict_algorithm_selection = true;
        assert!(p.to_sa_config(&secrets()).is_ok());
        p.ike_sa_parameters.encryption_algorithm = EncryptionAlgorithm::Aes128;
        assert_eq!(
            p.to_sa_config(&secrets()).unwrap_err().to_string(),
            "ike_sa_parameters.encryption_algorithm = \"AES-128\": enforce_strict_algorithm_selection: \
             the IKE SA cipher must be at least as strong as the child SA's"
        );
        p.ike_sa_parameters.encryption_algorithm = EncryptionAlgorithm::TripleDes;
        assert_eq!(
            p.to_sa_config(&secrets()).unwrap_err().to_string(),
            "ike_sa_parameters = \"3DES\": enforce_strict_algorithm_selection forbids DES and 3DES"
        );
    }

    mod certificates {
        use super::*;
        use crate::model::CertificateType;
        use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, TestCa, TestCert, Validity};

        /// A certificate configuration whose identity (PEM) is `client`, trusting `ca`.
        fn cert_protocol(ca: &TestCa, client: &TestCert) -> (Ikev2Protocol, BTreeMap) {
            let p = Ikev2Protocol {
                authentication_method: AuthenticationMethod::Certificate,
                identity_reference: Some("id".into()),
                certificate_type: CertificateType::Ecdsa256,
                trust_anchors: vec![Der(ca.cert_der.clone())],
                remote_identifier: Some("vpn.example.com".into()),
                ..Ikev2Protocol::new("192.0.2.1")
            };
            let pem = format!("{}{}", client.key_pem, client.cert_pem);
            (p, secrets_from([("id", pem.as_bytes())]))
        }

        type BTreeMap = std::collections::BTreeMap<PersistentRef, SecretBytes>;

        #[test]
        fn a_certificate_configuration_signs_with_the_identity_and_verifies_the_server() {
            let ca = TestCa::new("Office CA");
            let client = ca.issue("alice", "client.example.org", &PKCS_ECDSA_P256_SHA256);
            let (p, secrets) = cert_protocol(&ca, &client);
            let (c, unsupported) = p.to_sa_config(&secrets).unwrap();
            let LocalAuth::Certificate(identity) = &c.local_auth else {
                panic!("not a certificate")
            };
            assert_eq!(identity.chain()[0].der(), client.cert_der.as_slice());
            let PeerAuth::Certificate(verifier) = &c.peer_auth else { panic!("not a certificate") };
            let anchor = Certificate::from_der(ca.cert_der.clone()).unwrap();
            assert_eq!(verifier.ca_key_hashes(), [anchor.spki_sha1()], "our CERTREQ names the CA");
            // No local identifier: the certificate's subject DN.
            assert_eq!(c.local_id.id_type, ikeway_codec::IdType::ID_DER_ASN1_DN);
            assert_eq!(*c.local_id.data, *identity.chain()[0].subject_der());
            let fields: Vec<_> = unsupported.iter().map(|u| u.field).collect();
            assert!(fields.is_empty(), "certificates are supported: {fields:?}");
        }

        #[test]
        fn a_shared_secret_with_anchors_checks_the_servers_certificate() {
            let ca = TestCa::new("Office CA");
            let mut p = psk_protocol();
            p.trust_anchors = vec![Der(ca.cert_der.clone())];
            let (c, _) = p.to_sa_config(&secrets()).unwrap();
            assert_eq!(c.local_auth.psk().unwrap().expose(), b"shared secret");
            assert!(matches!(c.peer_auth, PeerAuth::Certificate(_)));
            // Without anchors, the server proves itself with the secret too.
            let (c, _) = psk_protocol().to_sa_config(&secrets()).unwrap();
            assert_eq!(c.peer_auth.psk().unwrap().expose(), b"shared secret");
        }

        #[test]
        fn our_certificates_problems_are_the_client_certificate_errors() {
            let ca = TestCa::new("Office CA");
            for (validity, error, text) in [
                (
                    Validity::Expired,
                    DisconnectError::ClientCertificateExpired,
                    "our certificate (identity_reference) has expired",
                ),
                (
                    Validity::NotYet,
                    DisconnectError::ClientCertificateNotYetValid,
                    "our certificate (identity_reference) is not valid yet",
                ),
            ] {
                let client = ca.issue_valid(
                    "alice",
                    "client.example.org",
                    &PKCS_ECDSA_P256_SHA256,
                    validity,
                );
                let (p, secrets) = cert_protocol(&ca, &client);
                let err = p.to_sa_config(&secrets).unwrap_err();
                assert_eq!((err.to_string().as_str(), err.disconnect_error()), (text, error));
            }
            let client = ca.issue("alice", "client.example.org", &PKCS_ECDSA_P256_SHA256);
            let (mut p, secrets) = cert_protocol(&ca, &client);
            p.certificate_type = CertificateType::Ed25519;
            let err = p.to_sa_config(&secrets).unwrap_err();
            assert_eq!(
                err.to_string(),
                "certificate_type is Ed25519 but the identity's key is ECDSA256; \
                 set certificate_type to ECDSA256"
            );
            assert_eq!(err.disconnect_error(), DisconnectError::ClientCertificateInvalid);
            p.certificate_type = CertificateType::Ecdsa256;
            p.trust_anchors.clear();
            let err = p.to_sa_config(&secrets).unwrap_err();
            assert_eq!(
                err.to_string(),
                "the server's certificate cannot be checked: there are no trust_anchors and \
                 use_system_trust_store is off"
            );
            assert_eq!(err.disconnect_error(), DisconnectError::ConfigurationFailed);
            let empty = secrets_from([]);
            p.trust_anchors = vec![Der(ca.cert_der.clone())];
            assert_eq!(
                p.to_sa_config(&empty).unwrap_err().to_string(),
                "identity_reference: the secret store has no secret id"
            );
        }
    }

    #[test]
    fn post_quantum_methods_become_additional_key_exchange_slots() {
        let mut p = psk_protocol();
        p.ike_sa_parameters.post_quantum_key_exchange_methods = vec![36, 37];
        let (c, unsupported) = p.to_sa_config(&secrets()).unwrap();
        assert!(unsupported.is_empty(), "{unsupported:?}");
        assert_eq!(
            c.ike_proposals[0].additional_kes,
            vec![vec![DhGroup::ML_KEM_768], vec![DhGroup::ML_KEM_1024]]
        );
        // The fallback makes each slot optional; nothing is left "without effect".
        p.allow_post_quantum_key_exchange_fallback = true;
        let (c, unsupported) = p.to_sa_config(&secrets()).unwrap();
        assert!(unsupported.is_empty(), "{unsupported:?}");
        assert_eq!(
            c.ike_proposals[0].additional_kes,
            vec![
                vec![DhGroup::ML_KEM_768, DhGroup::NONE],
                vec![DhGroup::ML_KEM_1024, DhGroup::NONE]
            ]
        );
        // A fallback with nothing to fall back from, and child SA methods, are still reported.
        let mut q = psk_protocol();
        q.allow_post_quantum_key_exchange_fallback = true;
        q.child_sa_parameters.post_quantum_key_exchange_methods = vec![36];
        let fields: Vec<&str> =
            q.to_sa_config(&secrets()).unwrap().1.iter().map(|u| u.field).collect();
        assert_eq!(
            fields,
            [
                "child_sa_parameters.post_quantum_key_exchange_methods",
                "allow_post_quantum_key_exchange_fallback"
            ]
        );
        // Methods we cannot run, or more than seven, are refused.
        p.ike_sa_parameters.post_quantum_key_exchange_methods = vec![35];
        assert!(matches!(
            p.to_sa_config(&secrets()),
            Err(ConfigError::Unsupported { value, .. }) if value == "35"
        ));
        p.ike_sa_parameters.post_quantum_key_exchange_methods = vec![36; 8];
        assert!(matches!(
            p.to_sa_config(&secrets()),
            Err(ConfigError::Unsupported { value, .. }) if value == "8"
        ));
    }
}
