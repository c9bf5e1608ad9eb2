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
//! at connect time: stored, a start option, or asked). The server always proves itself with
//! its certificate in IKE, checked against the trust anchors; only when every method left is
//! mutual (EAP-TLS) may it prove itself inside EAP instead (EAP-only, RFC 5998).

use crate::convert::ConfigError;
use ikeway_eap::TlsVersion as EapTlsVersion;

use crate::model::{
    AuthenticationMethod, EapMethod, Ikev2Protocol, MAX_USERNAME, TlsVersion, eap_method_name,
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
        self.methods.iter().any(|m| uses_password(*m))
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
            .filter(|m| if uses_password(*m) { self.username.is_some() } else { identity })
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

/// Whether a method proves the user with a password (else with a certificate).
pub(crate) fn uses_password(m: EapMethod) -> bool {
    m != EapMethod::Tls
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
