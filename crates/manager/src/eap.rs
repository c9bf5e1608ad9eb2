//! Extended authentication (EAP) from Apple's fields: which round runs EAP, and with which
//! methods.
//!
//! Apple stores EAP as `useExtendedAuthentication` next to `authenticationMethod`; the two
//! together say where EAP goes (RFC 7296 §2.16, RFC 4739):
//!
//! | `authentication_method` | extended | runs |
//! |---|---|---|
//! | `None` | on | EAP instead of our AUTH in the first round: EAP-TLS when an identity is set, the password methods when a username is |
//! | `SharedSecret` / `Certificate` | on, with `username` | that round, then a second round of EAP with the password methods (RFC 4739) |
//! | any | off | no EAP |
//!
//! The methods are those of `eap_methods` (default: every one) we have credentials for:
//! EAP-TLS needs `identity_reference`, EAP-MSCHAPv2 and EAP-MD5 a `username` (and a password
//! at connect time: stored, a start option, or asked). When EAP is our only proof the server
//! proves itself with its certificate in IKE, checked against the trust anchors; only when
//! every method left is mutual (EAP-TLS) may it prove itself inside EAP instead (EAP-only,
//! RFC 5998). After a shared secret, the server may prove itself with the secret too.
//!
//! [`Ikev2Protocol::to_sa_config`] builds the sa `Config` from the plan with
//! `eap_peer_config` below: our EAP identity, password and methods, and EAP-TLS's settings.

use std::sync::Arc;

use ikeway_codec::IdRepr;
use ikeway_crypto::SecretBytes;
use ikeway_eap::TlsVersion as EapTlsVersion;
use ikeway_eap::{PeerConfig, TlsPeerConfig};
use ikeway_pki::{Identity, PeerVerifier};
use ikeway_tunnel::verifier::RuntimeVerifier;

use crate::convert::ConfigError;
use crate::model::{
    AuthenticationMethod, EapMethod, Ikev2Protocol, MAX_PASSWORD, MAX_USERNAME, TlsVersion,
    eap_method_name,
};
use crate::secrets::SecretSource;

/// Where EAP runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EapRound {
    /// Instead of our AUTH in IKE_AUTH (`authentication_method` None).
    First,
    /// After our shared-secret or certificate AUTH (RFC 4739 multiple authentication).
    Second,
}

/// What a configuration's EAP is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EapPlan {
    pub round: EapRound,
    /// The methods we accept, in order of preference, each one we have credentials for.
    pub methods: Vec<EapMethod>,
}

impl EapPlan {
    /// Whether a password method may run (so a password must be at hand).
    pub fn uses_password(&self) -> bool {
        self.methods.iter().any(|m| m.uses_password())
    }

    /// RFC 5998: EAP alone may stand for the server's AUTH only when every method is mutual.
    pub fn eap_only(&self) -> bool {
        self.round == EapRound::First && self.methods.iter().all(|m| m.is_mutual())
    }
}

impl Ikev2Protocol {
    /// EAP-TLS's lowest and highest version from Apple's bounds: a minimum below 1.2 is 1.2
    /// (reported by [`Self::unsupported`]), `Default` as the maximum is 1.3; a maximum below
    /// 1.2 leaves nothing we speak.
    pub fn tls_versions(&self) -> Result<(EapTlsVersion, EapTlsVersion), ConfigError> {
        let max = match self.maximum_tls_version {
            TlsVersion::Default => EapTlsVersion::V1_3,
            TlsVersion::Tls1_2 => EapTlsVersion::V1_2,
            TlsVersion::Tls1_0 | TlsVersion::Tls1_1 => {
                return Err(ConfigError::Unsupported {
                    field: "maximum_tls_version",
                    value: tls_name(self.maximum_tls_version).into(),
                    reason: "EAP-TLS speaks TLS 1.2 and 1.3 only (TLS 1.0 and 1.1 are \
                             deprecated, RFC 8996)",
                });
            }
        };
        Ok((EapTlsVersion::V1_2, max))
    }

    /// The EAP this configuration runs, if any; an error when it asks for EAP it cannot run.
    pub fn eap_plan(&self) -> Result<Option<EapPlan>, ConfigError> {
        if !self.use_extended_authentication {
            return Ok(None);
        }
        if let Some(user) = &self.username
            && (user.is_empty() || user.len() > MAX_USERNAME)
        {
            return Err(ConfigError::Invalid {
                field: "username",
                value: user.chars().take(40).collect(),
                reason: "a user name is 1 to 253 bytes",
            });
        }
        let round = match self.authentication_method {
            AuthenticationMethod::None => EapRound::First,
            AuthenticationMethod::SharedSecret | AuthenticationMethod::Certificate => {
                if self.username.is_none() {
                    return Err(ConfigError::Invalid {
                        field: "username",
                        value: String::new(),
                        reason: "extended authentication after a shared secret or certificate \
                                 is a second round of EAP (RFC 4739), which needs a username",
                    });
                }
                EapRound::Second
            }
        };
        let identity = round == EapRound::First && self.identity_reference.is_some();
        let methods: Vec<EapMethod> = self
            .eap_methods
            .iter()
            .copied()
            .filter(|m| if m.uses_password() { self.username.is_some() } else { identity })
            .collect();
        if methods.is_empty() {
            return Err(ConfigError::Invalid {
                field: "eap_methods",
                value: self
                    .eap_methods
                    .iter()
                    .map(|m| eap_method_name(*m))
                    .collect::<Vec<_>>()
                    .join(","),
                reason: if self.eap_methods.is_empty() {
                    "no EAP method is allowed"
                } else if round == EapRound::Second {
                    "after a shared secret or certificate only the password methods \
                     (mschapv2, md5) run"
                } else {
                    "no allowed method has its credentials: mschapv2 and md5 need a username, \
                     tls an identity (identity_reference)"
                },
            });
        }
        Ok(Some(EapPlan { round, methods }))
    }

    /// Whether starting needs a password the secret store does not have: what `ikeway
    /// connect` asks for on the terminal (or takes from `--password-file`).
    pub fn needs_password(&self, secrets: &dyn SecretSource) -> Result<bool, ConfigError> {
        if !self.eap_plan()?.is_some_and(|p| p.uses_password()) {
            return Ok(false);
        }
        let Some(reference) = &self.password_reference else { return Ok(true) };
        let stored = secrets
            .secret(reference)
            .map_err(|source| ConfigError::Secret { field: "password_reference", source })?;
        Ok(stored.is_none_or(|p| p.is_empty()))
    }
}

impl Ikev2Protocol {
    /// Our side of EAP: the identity we send (the username, else for EAP-TLS the local
    /// identifier or the certificate's common name), the password (the start option's, else
    /// the stored one), the methods, and EAP-TLS's certificate, server check and versions.
    pub(crate) fn eap_peer_config(
        &self,
        plan: &EapPlan,
        secrets: &dyn SecretSource,
        given_password: Option<&SecretBytes>,
        certificate: Option<&Arc<Identity>>,
        verifier: Option<&Arc<RuntimeVerifier>>,
        server_id: &IdRepr,
    ) -> Result<PeerConfig, ConfigError> {
        let password = match given_password {
            Some(p) => Some(p.clone()),
            None => self.stored_password(secrets)?,
        };
        let only_passwords = plan.methods.iter().all(|m| m.uses_password());
        if password.is_none() && only_passwords {
            return Err(ConfigError::NoPassword {
                user: self.username.clone().unwrap_or_default(),
            });
        }
        if password.as_ref().is_some_and(|p| p.len() > MAX_PASSWORD) {
            return Err(ConfigError::Invalid {
                field: "password_reference",
                value: String::new(),
                reason: "an EAP password is at most 1024 bytes",
            });
        }
        let tls = match (plan.methods.contains(&EapMethod::Tls), certificate, verifier) {
            (true, Some(identity), Some(verifier)) => {
                let (min_version, max_version) = self.tls_versions()?;
                let mut tls = TlsPeerConfig::new(
                    Arc::clone(identity),
                    Arc::clone(verifier) as Arc<dyn PeerVerifier>,
                    server_id.clone(),
                );
                (tls.min_version, tls.max_version) = (min_version, max_version);
                // Inside IKE the final AUTH is keyed by the MSK, which only the TLS server
                // that finished the handshake knows: a draft-era server (strongSwan 5.9.2 to
                // 5.9.9) is safe to accept without RFC 9190's success indication.
                tls.draft_tls13_compat = true;
                Some(tls)
            }
            _ => None,
        };
        let identity = self
            .username
            .clone()
            .or_else(|| self.local_identifier.clone().filter(|s| !s.is_empty()))
            .or_else(|| {
                certificate.and_then(|c| c.chain()[0].subject_common_name().map(str::to_owned))
            })
            .ok_or(ConfigError::Missing { field: "username" })?;
        Ok(PeerConfig { identity, password, tls, methods: plan.methods.clone() })
    }

    /// The password in the secret store, if one is referred to; a reference to nothing is an
    /// error naming it.
    fn stored_password(
        &self,
        secrets: &dyn SecretSource,
    ) -> Result<Option<SecretBytes>, ConfigError> {
        let Some(reference) = &self.password_reference else { return Ok(None) };
        let password = secrets
            .secret(reference)
            .map_err(|source| ConfigError::Secret { field: "password_reference", source })?
            .ok_or_else(|| ConfigError::MissingSecret {
                field: "password_reference",
                reference: reference.clone(),
            })?;
        Ok((!password.is_empty()).then_some(password))
    }
}

/// A TLS version as people write it.
pub(crate) fn tls_version_name(v: EapTlsVersion) -> &'static str {
    match v {
        EapTlsVersion::V1_2 => "1.2",
        EapTlsVersion::V1_3 => "1.3",
    }
}

/// Apple's name of a TLS version (profiles' `TLSMinimumVersion` values).
pub(crate) fn tls_name(v: TlsVersion) -> &'static str {
    match v {
        TlsVersion::Default => "default",
        TlsVersion::Tls1_0 => "1.0",
        TlsVersion::Tls1_1 => "1.1",
        TlsVersion::Tls1_2 => "1.2",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::secrets_from;

    fn eap(auth: AuthenticationMethod, user: Option<&str>, identity: bool) -> Ikev2Protocol {
        Ikev2Protocol {
            authentication_method: auth,
            use_extended_authentication: true,
            username: user.map(str::to_owned),
            identity_reference: identity.then(|| "id".into()),
            ..Ikev2Protocol::new("vpn.example.org")
        }
    }

    fn plan(p: &Ikev2Protocol) -> (EapRound, Vec<&'static str>, bool) {
        let plan = p.eap_plan().unwrap().unwrap();
        (plan.round, plan.methods.iter().map(|m| eap_method_name(*m)).collect(), plan.eap_only())
    }

    #[test]
    fn apples_fields_choose_the_round_and_the_methods() {
        use AuthenticationMethod as A;
        use EapRound::{First, Second};
        // Username and password: the password methods in the first round.
        assert_eq!(
            plan(&eap(A::None, Some("alice"), false)),
            (First, vec!["mschapv2", "md5"], false)
        );
        // An identity and no username: EAP-TLS alone, which may be EAP-only (RFC 5998).
        assert_eq!(plan(&eap(A::None, None, true)), (First, vec!["tls"], true));
        // Both: whatever the server picks of the three.
        assert_eq!(
            plan(&eap(A::None, Some("alice"), true)),
            (First, vec!["mschapv2", "tls", "md5"], false)
        );
        // After a certificate or shared secret: RFC 4739, the password methods.
        assert_eq!(
            plan(&eap(A::Certificate, Some("alice"), true)),
            (Second, vec!["mschapv2", "md5"], false)
        );
        assert_eq!(
            plan(&eap(A::SharedSecret, Some("alice"), false)),
            (Second, vec!["mschapv2", "md5"], false)
        );
        let mut p = eap(A::None, Some("alice"), false);
        p.eap_methods = vec![EapMethod::Md5, EapMethod::MsChapV2];
        assert_eq!(plan(&p), (First, vec!["md5", "mschapv2"], false));
        p.use_extended_authentication = false;
        assert_eq!(p.eap_plan().unwrap(), None);
    }

    #[test]
    fn eap_that_cannot_run_is_an_error_naming_the_field() {
        use AuthenticationMethod as A;
        let msg = |p: &Ikev2Protocol| p.eap_plan().unwrap_err().to_string();
        assert_eq!(
            msg(&eap(A::None, None, false)),
            "eap_methods = \"mschapv2,tls,md5\": no allowed method has its credentials: \
             mschapv2 and md5 need a username, tls an identity (identity_reference)"
        );
        assert_eq!(
            msg(&eap(A::Certificate, None, true)),
            "username = \"\": extended authentication after a shared secret or certificate is \
             a second round of EAP (RFC 4739), which needs a username"
        );
        let mut p = eap(A::None, Some("alice"), false);
        p.eap_methods = vec![EapMethod::Tls];
        assert!(msg(&p).starts_with("eap_methods = \"tls\": no allowed method"), "{}", msg(&p));
        p.eap_methods.clear();
        assert_eq!(msg(&p), "eap_methods = \"\": no EAP method is allowed");
        let mut p = eap(A::None, Some(&"a".repeat(254)), false);
        assert!(msg(&p).ends_with(": a user name is 1 to 253 bytes"), "{}", msg(&p));
        p.username = Some("a".repeat(253));
        assert!(p.eap_plan().is_ok());
    }

    #[test]
    fn tls_bounds_map_to_what_rustls_speaks() {
        let mut p = Ikev2Protocol::new("a");
        assert_eq!(p.tls_versions().unwrap(), (EapTlsVersion::V1_2, EapTlsVersion::V1_3));
        for min in [TlsVersion::Tls1_0, TlsVersion::Tls1_1, TlsVersion::Tls1_2] {
            p.minimum_tls_version = min;
            assert_eq!(p.tls_versions().unwrap(), (EapTlsVersion::V1_2, EapTlsVersion::V1_3));
        }
        p.maximum_tls_version = TlsVersion::Tls1_2;
        assert_eq!(p.tls_versions().unwrap(), (EapTlsVersion::V1_2, EapTlsVersion::V1_2));
        p.maximum_tls_version = TlsVersion::Tls1_1;
        assert_eq!(
            p.tls_versions().unwrap_err().to_string(),
            "maximum_tls_version = 1.1 is not supported: EAP-TLS speaks TLS 1.2 and 1.3 only \
             (TLS 1.0 and 1.1 are deprecated, RFC 8996)"
        );
    }

    #[test]
    fn a_password_is_needed_only_for_password_methods_without_a_stored_one() {
        use AuthenticationMethod as A;
        let stored = secrets_from([("pw", &b"s3cret"[..])]);
        let mut p = eap(A::None, Some("alice"), false);
        assert!(p.needs_password(&stored).unwrap());
        p.password_reference = Some("pw".into());
        assert!(!p.needs_password(&stored).unwrap());
        p.password_reference = Some("gone".into());
        assert!(p.needs_password(&stored).unwrap(), "a reference to nothing is no password");
        assert!(!eap(A::None, None, true).needs_password(&stored).unwrap(), "EAP-TLS");
        let mut psk = eap(A::SharedSecret, None, false);
        psk.use_extended_authentication = false;
        assert!(!psk.needs_password(&stored).unwrap());
    }
}

/// The sa `Config` that EAP configurations convert to (`Ikev2Protocol::to_sa_config`).
#[cfg(test)]
mod config_tests {
    use crate::convert::secrets_from;
    use crate::*;
    use ikeway_codec::IdValue;
    use ikeway_crypto::SecretBytes;
    use ikeway_sa::{LocalAuth, PeerAuth};

    use crate::model::{CertificateType, Der};
    use ikeway_eap::TlsVersion as Tls;
    use ikeway_testkit::certs::{PKCS_ECDSA_P256_SHA256, TestCa};

    type Secrets = std::collections::BTreeMap<PersistentRef, SecretBytes>;

    /// Apple's usual EAP setup: authentication None, extended authentication, a user name
    /// and a stored password, the server checked against `ca`.
    fn mschap(ca: &TestCa) -> (Ikev2Protocol, Secrets) {
        let p = Ikev2Protocol {
            use_extended_authentication: true,
            username: Some("alice".into()),
            password_reference: Some("pw".into()),
            trust_anchors: vec![Der(ca.cert_der.clone())],
            remote_identifier: Some("vpn.example.com".into()),
            disable_mobike: true,
            disable_redirect: true,
            ..Ikev2Protocol::new("192.0.2.1")
        };
        (p, secrets_from([("pw", &b"correct horse"[..]), ("s1", &b"shared secret"[..])]))
    }

    fn eap_of(auth: &LocalAuth) -> &ikeway_eap::PeerConfig {
        let LocalAuth::Eap(eap) = auth else { panic!("not EAP: {auth:?}") };
        eap
    }

    #[test]
    fn username_and_password_run_the_password_methods_instead_of_our_auth() {
        let ca = TestCa::new("Office CA");
        let (p, secrets) = mschap(&ca);
        let (c, unsupported) = p.to_sa_config(&secrets).unwrap();
        assert!(unsupported.is_empty(), "{unsupported:?}");
        let eap = eap_of(&c.local_auth);
        assert_eq!(eap.identity, "alice");
        assert_eq!(eap.password.as_ref().unwrap().expose(), b"correct horse");
        assert_eq!(eap.methods, [EapMethod::MsChapV2, EapMethod::Md5]);
        assert!(eap.tls.is_none());
        assert!(matches!(c.peer_auth, PeerAuth::Certificate(_)), "the server signs");
        assert!(c.local_auth2.is_none() && !c.eap_only);
        // No local identifier: the user name, typed by its form.
        assert_eq!(c.local_id.value(), IdValue::Fqdn("alice"));
    }

    #[test]
    fn start_options_take_the_place_of_the_stored_username_and_password() {
        let ca = TestCa::new("Office CA");
        let (p, secrets) = mschap(&ca);
        let options = StartOptions {
            username: Some("bob@example.com".into()),
            password: Some(SecretBytes::from_slice(b"typed")),
        };
        let (c, _) = p.to_sa_config_for_start(&secrets, &options).unwrap();
        let eap = eap_of(&c.local_auth);
        assert_eq!(
            (eap.identity.as_str(), eap.password.as_ref().unwrap().expose()),
            ("bob@example.com", &b"typed"[..])
        );
        assert_eq!(c.local_id.value(), IdValue::Rfc822("bob@example.com"));
        // A password for a configuration without EAP is reported, not silently dropped.
        let options =
            StartOptions { username: None, password: Some(SecretBytes::from_slice(b"x")) };
        let psk = Ikev2Protocol {
            authentication_method: AuthenticationMethod::SharedSecret,
            shared_secret_reference: Some("s1".into()),
            local_identifier: Some("client.example.com".into()),
            disable_mobike: true,
            disable_redirect: true,
            ..Ikev2Protocol::new("192.0.2.1")
        };
        let (_, unsupported) = psk.to_sa_config_for_start(&secrets, &options).unwrap();
        assert_eq!(unsupported.iter().map(|u| u.field).collect::<Vec<_>>(), ["password"]);
    }

    #[test]
    fn eap_without_a_password_or_a_server_check_is_an_error() {
        let ca = TestCa::new("Office CA");
        let (mut p, secrets) = mschap(&ca);
        p.password_reference = None;
        let err = p.to_sa_config(&secrets).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no EAP password for \"alice\": none is stored (password_reference) and none \
                 was given to start"
        );
        assert_eq!(err.disconnect_error(), DisconnectError::ConfigurationFailed);
        p.password_reference = Some("gone".into());
        assert_eq!(
            p.to_sa_config(&secrets).unwrap_err().to_string(),
            "password_reference: the secret store has no secret gone"
        );
        let (mut p, secrets) = mschap(&ca);
        p.trust_anchors.clear();
        assert!(matches!(p.to_sa_config(&secrets), Err(ConfigError::NoTrustAnchors)));
    }

    #[test]
    fn an_identity_without_a_username_runs_eap_tls_alone_within_the_tls_bounds() {
        let ca = TestCa::new("Office CA");
        let client = ca.issue("alice", "client.example.org", &PKCS_ECDSA_P256_SHA256);
        let (mut p, _) = mschap(&ca);
        p.username = None;
        p.password_reference = None;
        p.identity_reference = Some("id".into());
        p.certificate_type = CertificateType::Ecdsa256;
        p.minimum_tls_version = TlsVersion::Tls1_0;
        let pem = format!("{}{}", client.key_pem, client.cert_pem);
        let secrets = secrets_from([("id", pem.as_bytes())]);
        let (c, unsupported) = p.to_sa_config(&secrets).unwrap();
        let eap = eap_of(&c.local_auth);
        assert_eq!(eap.methods, [EapMethod::Tls]);
        assert!(eap.password.is_none());
        let tls = eap.tls.as_ref().expect("EAP-TLS settings");
        assert_eq!(tls.identity.chain()[0].der(), client.cert_der.as_slice());
        assert_eq!((tls.min_version, tls.max_version), (Tls::V1_2, Tls::V1_3));
        assert!(tls.draft_tls13_compat, "inside IKE the MSK keys AUTH: draft-era servers pass");
        assert_eq!(tls.server_id.value(), IdValue::Fqdn("vpn.example.com"));
        assert!(c.eap_only, "only mutual methods: EAP-only may be offered (RFC 5998)");
        // No user name: the certificate's common name in EAP, its subject in IKE.
        assert_eq!(eap.identity, "alice");
        assert_eq!(c.local_id.id_type, ikeway_codec::IdType::ID_DER_ASN1_DN);
        let fields: Vec<_> = unsupported.iter().map(|u| u.field).collect();
        assert_eq!(fields, ["minimum_tls_version"]);
        p.maximum_tls_version = TlsVersion::Tls1_2;
        let (c, _) = p.to_sa_config(&secrets).unwrap();
        assert_eq!(eap_of(&c.local_auth).tls.as_ref().unwrap().max_version, Tls::V1_2);
        p.maximum_tls_version = TlsVersion::Tls1_1;
        assert_eq!(
            p.to_sa_config(&secrets).unwrap_err().to_string(),
            "maximum_tls_version = 1.1 is not supported: EAP-TLS speaks TLS 1.2 and 1.3 only \
                 (TLS 1.0 and 1.1 are deprecated, RFC 8996)"
        );
    }

    #[test]
    fn a_shared_secret_then_eap_is_a_second_round() {
        let ca = TestCa::new("Office CA");
        let (mut p, secrets) = mschap(&ca);
        p.authentication_method = AuthenticationMethod::SharedSecret;
        p.shared_secret_reference = Some("s1".into());
        p.local_identifier = Some("client.example.com".into());
        p.trust_anchors.clear();
        let (c, _) = p.to_sa_config(&secrets).unwrap();
        assert_eq!(c.local_auth.psk().unwrap().expose(), b"shared secret");
        // The server may prove itself with the secret: EAP follows our own proof.
        assert_eq!(c.peer_auth.psk().unwrap().expose(), b"shared secret");
        let eap = c.local_auth2.as_ref().expect("a second round (RFC 4739)");
        assert_eq!(eap.identity, "alice");
        assert_eq!(eap.methods, [EapMethod::MsChapV2, EapMethod::Md5]);
        assert!(!c.eap_only);
    }
}
