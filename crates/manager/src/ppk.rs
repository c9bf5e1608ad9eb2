//! `ppkConfiguration` (RFC 8784 post-quantum preshared key) to [`ikeway_sa::PpkConfig`]: the
//! PPK comes from the secret store, like the shared secret.

use ikeway_sa::PpkConfig;

use crate::convert::{ConfigError, stored_secret};
use crate::model::Ikev2Protocol;
use crate::secrets::SecretSource;

impl Ikev2Protocol {
    /// The PPK to use, if one is configured. `uses_eap`: EAP proves us (first or second
    /// round), which takes no PPK here; a mandatory PPK then cannot work and is an error, an
    /// optional one is left out (and reported by [`Ikev2Protocol::unsupported`]).
    pub(crate) fn ppk_config(
        &self,
        secrets: &dyn SecretSource,
        uses_eap: bool,
    ) -> Result<Option<PpkConfig>, ConfigError> {
        let Some(ppk) = &self.ppk_configuration else { return Ok(None) };
        if uses_eap {
            if ppk.is_mandatory {
                return Err(ConfigError::Unsupported {
                    field: "ppk_configuration",
                    value: "is_mandatory = true".into(),
                    reason: "a post-quantum preshared key is not used with EAP here, so a \
                             mandatory one could never connect",
                });
            }
            return Ok(None);
        }
        if ppk.identifier.is_empty() {
            return Err(ConfigError::Missing { field: "ppk_configuration.identifier" });
        }
        let key = stored_secret(secrets, "ppk_configuration", &ppk.keychain_reference)?;
        Ok(Some(PpkConfig::single(ppk.identifier.as_bytes(), key, ppk.is_mandatory)))
    }
}

#[cfg(test)]
mod tests {
    use crate::convert::secrets_from;
    use crate::model::{AuthenticationMethod, Ikev2Protocol, PpkConfiguration};

    fn protocol(mandatory: bool) -> Ikev2Protocol {
        Ikev2Protocol {
            authentication_method: AuthenticationMethod::SharedSecret,
            shared_secret_reference: Some("s1".into()),
            local_identifier: Some("client.example.org".into()),
            ppk_configuration: Some(PpkConfiguration {
                identifier: "qkd-link-1".into(),
                keychain_reference: "ppk1".into(),
                is_mandatory: mandatory,
            }),
            ..Ikev2Protocol::new("vpn.example.org")
        }
    }

    #[test]
    fn ppk_comes_from_the_secret_store_with_its_identifier_and_mandatory_flag() {
        let secrets =
            secrets_from([("s1", &b"shared"[..]), ("ppk1", &b"the post-quantum key"[..])]);
        for mandatory in [true, false] {
            let (c, unsupported) = protocol(mandatory).to_sa_config(&secrets).unwrap();
            let ppk = c.ppk.expect("a PPK");
            assert_eq!(ppk.mandatory, mandatory);
            assert_eq!(ppk.keys.len(), 1);
            assert_eq!(ppk.keys[0].id, b"qkd-link-1");
            assert_eq!(ppk.keys[0].key.expose(), b"the post-quantum key");
            assert!(unsupported.iter().all(|u| u.field != "ppk_configuration"), "{unsupported:?}");
        }
    }

    #[test]
    fn ppk_missing_from_the_store_or_without_identifier_is_an_error() {
        let secrets = secrets_from([("s1", &b"shared"[..])]);
        let err = protocol(true).to_sa_config(&secrets).unwrap_err().to_string();
        assert_eq!(err, "ppk_configuration: the secret store has no secret ppk1");
        let secrets = secrets_from([("s1", &b"shared"[..]), ("ppk1", &b"k"[..])]);
        let mut p = protocol(false);
        p.ppk_configuration.as_mut().unwrap().identifier.clear();
        let err = p.to_sa_config(&secrets).unwrap_err().to_string();
        assert_eq!(err, "ppk_configuration.identifier is required");
    }

    #[test]
    fn ppk_with_eap_is_refused_when_mandatory_and_reported_when_optional() {
        let secrets =
            secrets_from([("s1", &b"shared"[..]), ("ppk1", &b"k"[..]), ("pw", &b"password"[..])]);
        let eap = |mandatory| {
            let mut p = protocol(mandatory);
            p.use_extended_authentication = true;
            p.username = Some("alice".into());
            p.password_reference = Some("pw".into());
            p
        };
        let err = eap(true).to_sa_config(&secrets).unwrap_err().to_string();
        assert!(
            err.starts_with("ppk_configuration = is_mandatory = true is not supported"),
            "{err}"
        );
        let (c, unsupported) = eap(false).to_sa_config(&secrets).unwrap();
        assert!(c.ppk.is_none());
        assert!(unsupported.iter().any(|u| u.field == "ppk_configuration"), "{unsupported:?}");
    }
}
