//! An [`IpsecProtocol`] as the IKEv1 engine's [`ikeway_ikev1::Config`], the way Apple's Cisco
//! IPSec client negotiates: Aggressive Mode with the group name as an ID_KEY_ID and the group
//! secret, XAUTH with the user name and password when extended authentication is on, Cisco
//! Unity announced, Mode Config pulled, NAT-T on.

use std::net::IpAddr;

use ikeway_ikev1::transaction::{ModeConfigClient, XauthCredentials};
use ikeway_ikev1::{Config, Identity};

use crate::connection::StartOptions;
use crate::convert::{ConfigError, Unsupported};
use crate::ipsec::IpsecProtocol;
use crate::model::AuthenticationMethod;
use crate::secrets::SecretSource;

impl IpsecProtocol {
    /// The engine configuration to start with, and the set fields that have no effect. The
    /// XAUTH user name and password of `options` (`startVPNTunnel(options:)`) come before the
    /// stored ones.
    pub fn to_ikev1_config(
        &self,
        secrets: &dyn SecretSource,
        options: &StartOptions,
    ) -> Result<(Config, Vec<Unsupported>), ConfigError> {
        let mut config = match self.authentication_method {
            AuthenticationMethod::SharedSecret => self.group_psk(secrets)?,
            AuthenticationMethod::Certificate => {
                return Err(ConfigError::Unsupported {
                    field: "authentication_method",
                    value: "Certificate".into(),
                    reason: "IPSec with certificates (Main Mode) is not wired to the runtime yet",
                });
            }
            AuthenticationMethod::None => {
                return Err(ConfigError::Missing { field: "authentication_method" });
            }
        };
        config.remote_id = self.remote_identifier.as_deref().map(identity);
        config.cisco_unity = true;
        config.nat_traversal = true;
        config.transaction.mode_config = Some(ModeConfigClient::Pull);
        if self.use_extended_authentication {
            config.xauth = true;
            config.transaction.xauth_client = Some(self.xauth(secrets, options)?);
        }
        Ok((config, self.unsupported()))
    }

    /// Aggressive Mode with the group name (ID_KEY_ID) and the group's shared secret.
    fn group_psk(&self, secrets: &dyn SecretSource) -> Result<Config, ConfigError> {
        let group = self.group_name().ok_or(ConfigError::Missing { field: "local_identifier" })?;
        let reference = self
            .shared_secret_reference
            .as_ref()
            .ok_or(ConfigError::Missing { field: "shared_secret_reference" })?;
        let psk = secrets
            .secret(reference)
            .map_err(|source| ConfigError::Secret { field: "shared_secret_reference", source })?
            .ok_or_else(|| ConfigError::MissingSecret {
                field: "shared_secret_reference",
                reference: reference.clone(),
            })?;
        Ok(Config::psk(Identity::KeyId(group.as_bytes().to_vec()), psk))
    }

    /// The XAUTH credentials: the start's user name and password first, then the stored ones;
    /// a password the server asks for and nobody gave is a `NoXauthPassword` error before anything
    /// is sent (the engine could only fail later).
    fn xauth(
        &self,
        secrets: &dyn SecretSource,
        options: &StartOptions,
    ) -> Result<XauthCredentials, ConfigError> {
        let username = options
            .username
            .clone()
            .or_else(|| self.username.clone())
            .ok_or(ConfigError::Missing { field: "username" })?;
        let stored = match (&self.password_reference, self.xauth_password_prompt) {
            (Some(r), false) => Some(
                secrets
                    .secret(r)
                    .map_err(|source| ConfigError::Secret { field: "password_reference", source })?
                    .ok_or_else(|| ConfigError::MissingSecret {
                        field: "password_reference",
                        reference: r.clone(),
                    })?,
            ),
            _ => None,
        };
        let password = options.password.clone().or(stored);
        if password.is_none() {
            return Err(ConfigError::NoXauthPassword { user: username });
        }
        Ok(XauthCredentials { username, password })
    }
}

/// A configured identity: an address as ID_IPV4/IPV6_ADDR, anything else as a name (FQDN).
fn identity(s: &str) -> Identity {
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => Identity::Ipv4(a),
        Ok(IpAddr::V6(a)) => Identity::Ipv6(a),
        Err(_) => Identity::Fqdn(s.strip_prefix('@').unwrap_or(s).to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::secrets_from;
    use crate::secrets::PersistentRef;
    use ikeway_crypto::SecretBytes;

    fn group_xauth() -> IpsecProtocol {
        IpsecProtocol {
            authentication_method: AuthenticationMethod::SharedSecret,
            local_identifier: Some("sales".into()),
            shared_secret_reference: Some(PersistentRef::from("psk")),
            use_extended_authentication: true,
            username: Some("alice".into()),
            password_reference: Some(PersistentRef::from("pw")),
            ..IpsecProtocol::new("gw.example.com")
        }
    }

    fn store() -> std::collections::BTreeMap<PersistentRef, SecretBytes> {
        secrets_from([("psk", &b"group secret"[..]), ("pw", &b"alice pw"[..])])
    }

    #[test]
    fn a_group_psk_xauth_configuration_is_apples_aggressive_mode_with_xauth() {
        let (c, unsupported) =
            group_xauth().to_ikev1_config(&store(), &StartOptions::default()).unwrap();
        assert!(unsupported.is_empty());
        assert_eq!(c.mode, ikeway_ikev1::Phase1Mode::Aggressive);
        assert_eq!(c.local_id, Identity::KeyId(b"sales".to_vec()));
        assert_eq!(c.remote_id, None);
        let ikeway_ikev1::Authentication::Psk(psk) = &c.auth else { panic!("{:?}", c.auth) };
        assert_eq!(psk.expose(), b"group secret");
        assert!(c.xauth && c.cisco_unity && c.nat_traversal);
        assert_eq!(c.transaction.mode_config, Some(ModeConfigClient::Pull));
        let x = c.transaction.xauth_client.as_ref().unwrap();
        assert_eq!(x.username, "alice");
        assert_eq!(x.password.as_ref().unwrap().expose(), b"alice pw");
    }

    #[test]
    fn the_start_options_come_first_and_a_missing_password_is_said_before_starting() {
        let options = StartOptions {
            username: Some("bob".into()),
            password: Some(SecretBytes::from_slice(b"bob pw")),
        };
        let (c, _) = group_xauth().to_ikev1_config(&store(), &options).unwrap();
        let x = c.transaction.xauth_client.unwrap();
        assert_eq!((x.username.as_str(), x.password.unwrap().expose()), ("bob", &b"bob pw"[..]));

        let mut prompt = group_xauth();
        prompt.xauth_password_prompt = true;
        let err = prompt.to_ikev1_config(&store(), &StartOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no XAUTH password for \"alice\": none is stored (password_reference) and none was \
             given to start"
        );
    }

    #[test]
    fn what_cannot_start_is_refused_naming_the_field() {
        let no_group = IpsecProtocol { local_identifier: None, ..group_xauth() };
        let err = no_group.to_ikev1_config(&store(), &StartOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "local_identifier is required");
        let no_secret = IpsecProtocol { shared_secret_reference: None, ..group_xauth() };
        let err = no_secret.to_ikev1_config(&store(), &StartOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "shared_secret_reference is required");
        let gone = IpsecProtocol {
            shared_secret_reference: Some(PersistentRef::from("gone")),
            ..group_xauth()
        };
        let err = gone.to_ikev1_config(&store(), &StartOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "shared_secret_reference: the secret store has no secret gone");
        let none =
            IpsecProtocol { authentication_method: AuthenticationMethod::None, ..group_xauth() };
        let err = none.to_ikev1_config(&store(), &StartOptions::default()).unwrap_err();
        assert_eq!(err.to_string(), "authentication_method is required");
        let remote = IpsecProtocol { remote_identifier: Some("10.0.0.1".into()), ..group_xauth() };
        let (c, _) = remote.to_ikev1_config(&store(), &StartOptions::default()).unwrap();
        assert_eq!(c.remote_id, Some(Identity::Ipv4("10.0.0.1".parse().unwrap())));
    }
}
