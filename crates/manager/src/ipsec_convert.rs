//! An [`IpsecProtocol`] as the IKEv1 engine's [`ikeway_ikev1::Config`], the way Apple's Cisco
//! IPSec client negotiates: with a shared secret, Aggressive Mode with the group name as an
//! ID_KEY_ID and the group secret; with a certificate, Main Mode with signatures (RSA, or ECDSA
//! P-256/384/521) and the server's certificate checked as for IKEv2 (anchors, system store,
//! CRLs). Then XAUTH with the user name and password when extended authentication is on, Cisco
//! Unity announced, Mode Config pulled, NAT-T on.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ikeway_ikev1::transaction::{ModeConfigClient, XauthCredentials};
use ikeway_ikev1::{Authentication, Config, Identity, Phase1Mode};
use ikeway_pki::{KeyKind, PeerVerifier, Revocation, UnixTime};

use crate::connection::StartOptions;
use crate::convert::{ConfigError, ServerTrust, Unsupported, server_verifier};
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
        // A clock before 1970 is a broken clock: our certificate is then not valid yet.
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.to_ikev1_config_at(secrets, options, UnixTime::since_unix_epoch(since_epoch))
    }

    /// As [`Self::to_ikev1_config`], with our certificate checked against `now`.
    pub fn to_ikev1_config_at(
        &self,
        secrets: &dyn SecretSource,
        options: &StartOptions,
        now: UnixTime,
    ) -> Result<(Config, Vec<Unsupported>), ConfigError> {
        if self.server_address.trim().is_empty() {
            return Err(ConfigError::Missing { field: "server_address" });
        }
        let mut config = match self.authentication_method {
            _ if self.hybrid() => self.hybrid_client()?,
            AuthenticationMethod::SharedSecret => {
                let mut c = self.group_psk(secrets)?;
                c.remote_id = self.remote_identifier.as_deref().map(identity);
                c
            }
            AuthenticationMethod::Certificate => self.certificates(secrets, now)?,
            AuthenticationMethod::None => {
                return Err(ConfigError::Missing { field: "authentication_method" });
            }
        };
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

    /// Hybrid authentication (`localIdentifier` ending in `[hybrid]`): Aggressive Mode with the
    /// group name as an ID_KEY_ID as with a group secret, but only the gateway signs (its
    /// certificate checked as in [`Self::certificates`], `remoteIdentifier` else its address);
    /// we prove ourselves with XAUTH, which must be on. Neither a group secret nor an identity
    /// is needed.
    fn hybrid_client(&self) -> Result<Config, ConfigError> {
        let group = self.group_name().ok_or(ConfigError::Missing { field: "local_identifier" })?;
        if !self.use_extended_authentication {
            return Err(ConfigError::Invalid {
                field: "use_extended_authentication",
                value: "false".into(),
                reason: "hybrid authentication ([hybrid]) proves us with XAUTH only: turn it on",
            });
        }
        let mut config =
            Config::psk(Identity::KeyId(group.as_bytes().to_vec()), Default::default());
        config.auth = Authentication::HybridClient { verifier: self.gateway_verifier()? };
        config.remote_id = Some(self.gateway_identity());
        Ok(config)
    }

    /// What checks the gateway's certificate: the IKEv2 [`server_verifier`] with this
    /// configuration's anchors; Apple has no revocation switches for IPSec, so CRLs given are
    /// checked (a certificate they list is refused) and none given is no check.
    fn gateway_verifier(&self) -> Result<Arc<dyn PeerVerifier>, ConfigError> {
        let revocation = if self.certificate_revocation_lists.is_empty() {
            Revocation::Off
        } else {
            Revocation::BestEffort
        };
        let verifier = server_verifier(ServerTrust {
            anchors: &self.trust_anchors,
            use_system_trust_store: self.use_system_trust_store,
            crls: &self.certificate_revocation_lists,
            revocation,
            common_name: None,
            issuer_common_name: None,
        })?;
        Ok(Arc::new(verifier))
    }

    /// The identity the gateway must name: `remoteIdentifier`, else its address.
    fn gateway_identity(&self) -> Identity {
        let remote = self
            .remote_identifier
            .as_deref()
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.server_address);
        identity(remote)
    }

    /// Main Mode with signatures (what Apple runs with a certificate): our identity from the
    /// secret store (PKCS#12 or PEM, as for IKEv2), valid at `now`; we name ourselves by
    /// `localIdentifier` when set, else by the certificate's subject (ID_DER_ASN1_DN); the
    /// server must name itself `remoteIdentifier`, else its address (as Apple and our IKEv2
    /// do), and its certificate must chain to the configured anchors for that name.
    fn certificates(
        &self,
        secrets: &dyn SecretSource,
        now: UnixTime,
    ) -> Result<Config, ConfigError> {
        let refs =
            (self.identity_reference.as_ref(), self.identity_data_password_reference.as_ref());
        let own = crate::certs::load_identity_from(refs, secrets)?;
        let kind = own.kind();
        if matches!(kind, KeyKind::Ed25519 | KeyKind::RsaPss) {
            return Err(ConfigError::Unsupported {
                field: "identity_reference",
                value: crate::certs::certificate_type_name(crate::certs::certificate_type_of(kind))
                    .into(),
                reason: "IKEv1 signs with RSA (PKCS#1 v1.5) or ECDSA P-256/P-384/P-521 keys",
            });
        }
        own.check_validity(now).map_err(ConfigError::ClientCertificate)?;
        let local_id = match self.group_name() {
            Some(id) => identity(id),
            None => Identity::DerAsn1Dn(own.chain()[0].subject_der().to_vec()),
        };
        let verifier = self.gateway_verifier()?;
        let mut config = Config::psk(local_id, Default::default());
        config.mode = Phase1Mode::Main;
        config.auth = Authentication::Certificates { own: Arc::new(own), verifier };
        config.remote_id = Some(self.gateway_identity());
        Ok(config)
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

/// A configured identity, typed as Apple types it (and our IKEv2 does): an address as
/// ID_IPV4/IPV6_ADDR, `@name` as a name, `user@domain` as ID_USER_FQDN, anything else as a name
/// (FQDN).
fn identity(s: &str) -> Identity {
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => Identity::Ipv4(a),
        Ok(IpAddr::V6(a)) => Identity::Ipv6(a),
        Err(_) => match s.strip_prefix('@') {
            Some(name) => Identity::Fqdn(name.to_owned()),
            None if s.contains('@') => Identity::UserFqdn(s.to_owned()),
            None => Identity::Fqdn(s.to_owned()),
        },
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

    mod certificates {
        use super::*;
        use crate::model::Der;
        use crate::status::DisconnectError;
        use ikeway_pki::Certificate;
        use ikeway_testkit::certs::{
            PKCS_ECDSA_P256_SHA256, PKCS_ED25519, PKCS_RSA_SHA256, TestCa, TestCert, Validity,
        };

        type Store = std::collections::BTreeMap<PersistentRef, SecretBytes>;

        /// 2030-01-01, inside the test certificates' 2020-2100.
        fn now() -> UnixTime {
            UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_893_456_000))
        }

        /// A certificate configuration whose identity (PEM key + chain) is `client`, trusting
        /// `ca`, to the gateway 192.0.2.1.
        fn cert_ipsec(ca: &TestCa, client: &TestCert) -> (IpsecProtocol, Store) {
            let p = IpsecProtocol {
                authentication_method: AuthenticationMethod::Certificate,
                identity_reference: Some(PersistentRef::from("id")),
                trust_anchors: vec![Der(ca.cert_der.clone())],
                ..IpsecProtocol::new("192.0.2.1")
            };
            let pem = format!("{}{}", client.key_pem, client.cert_pem);
            (p, secrets_from([("id", pem.as_bytes())]))
        }

        fn convert(p: &IpsecProtocol, s: &Store) -> Result<Config, ConfigError> {
            p.to_ikev1_config_at(s, &StartOptions::default(), now()).map(|(c, _)| c)
        }

        #[test]
        fn a_certificate_configuration_is_main_mode_signing_with_the_identity() {
            let ca = TestCa::new("Office CA");
            let client = ca.issue("alice", "client.example.org", &PKCS_ECDSA_P256_SHA256);
            let (p, secrets) = cert_ipsec(&ca, &client);
            let (c, unsupported) =
                p.to_ikev1_config_at(&secrets, &StartOptions::default(), now()).unwrap();
            assert!(unsupported.is_empty(), "{unsupported:?}");
            assert_eq!(c.mode, ikeway_ikev1::Phase1Mode::Main);
            let Authentication::Certificates { own, verifier } = &c.auth else {
                panic!("{:?}", c.auth)
            };
            assert_eq!(own.chain()[0].der(), client.cert_der.as_slice());
            assert_eq!(own.kind(), KeyKind::EcdsaP256);
            let anchor = Certificate::from_der(ca.cert_der.clone()).unwrap();
            assert_eq!(verifier.ca_key_hashes(), [anchor.spki_sha1()]);
            // No local identifier: the certificate's subject; the server by its address.
            assert_eq!(c.local_id, Identity::DerAsn1Dn(own.chain()[0].subject_der().to_vec()));
            assert_eq!(c.remote_id, Some(Identity::Ipv4("192.0.2.1".parse().unwrap())));
            assert!(!c.xauth && c.transaction.xauth_client.is_none());
            assert!(c.cisco_unity && c.nat_traversal);
            assert_eq!(c.transaction.mode_config, Some(ModeConfigClient::Pull));
        }

        #[test]
        fn identifiers_xauth_and_an_rsa_pkcs12_identity() {
            let ca = TestCa::new("Office CA");
            let client = ca.issue("alice", "client.example.org", &PKCS_RSA_SHA256);
            let p = IpsecProtocol {
                authentication_method: AuthenticationMethod::Certificate,
                identity_reference: Some(PersistentRef::from("p12")),
                identity_data_password_reference: Some(PersistentRef::from("p12pw")),
                trust_anchors: vec![Der(ca.cert_der.clone())],
                local_identifier: Some("client.example.org".into()),
                remote_identifier: Some("@vpn.example.org".into()),
                use_extended_authentication: true,
                username: Some("alice".into()),
                password_reference: Some(PersistentRef::from("pw")),
                ..IpsecProtocol::new("192.0.2.1")
            };
            let p12 = client.pkcs12(&ca, "p12 password");
            let secrets = secrets_from([
                ("p12", &p12[..]),
                ("p12pw", &b"p12 password"[..]),
                ("pw", &b"alice pw"[..]),
            ]);
            let c = convert(&p, &secrets).unwrap();
            let Authentication::Certificates { own, .. } = &c.auth else { panic!("{:?}", c.auth) };
            assert_eq!(own.kind(), KeyKind::Rsa);
            assert_eq!(c.local_id, Identity::Fqdn("client.example.org".into()));
            assert_eq!(c.remote_id, Some(Identity::Fqdn("vpn.example.org".into())));
            assert!(c.xauth);
            assert_eq!(c.transaction.xauth_client.unwrap().username, "alice");
            let mail = IpsecProtocol { local_identifier: Some("alice@example.org".into()), ..p };
            let c = convert(&mail, &secrets).unwrap();
            assert_eq!(c.local_id, Identity::UserFqdn("alice@example.org".into()));
        }

        #[test]
        fn what_cannot_start_with_a_certificate_is_refused_naming_the_field() {
            let ca = TestCa::new("Office CA");
            let client = ca.issue("alice", "client.example.org", &PKCS_ECDSA_P256_SHA256);
            let (p, secrets) = cert_ipsec(&ca, &client);
            let error = |p: &IpsecProtocol, s: &Store| {
                let e = convert(p, s).unwrap_err();
                (e.to_string(), e.disconnect_error())
            };
            let invalid = DisconnectError::ClientCertificateInvalid;
            let failed = DisconnectError::ConfigurationFailed;

            let none = IpsecProtocol { identity_reference: None, ..p.clone() };
            assert_eq!(
                error(&none, &secrets),
                ("no identity is configured (identity_reference)".into(), invalid)
            );
            assert_eq!(
                error(&p, &secrets_from([])),
                ("identity_reference: the secret store has no secret id".into(), invalid)
            );
            let junk = secrets_from([("id", &b"-----BEGIN PRIVATE KEY-----\nAAAA\n"[..])]);
            assert_eq!(
                error(&p, &junk),
                (
                    "identity_reference: not a usable private key (PKCS#8, PKCS#1 RSA or SEC1 EC)"
                        .into(),
                    invalid
                )
            );
            let p12 = client.pkcs12(&ca, "right");
            let wrong_pw = IpsecProtocol {
                identity_data_password_reference: Some(PersistentRef::from("pw")),
                ..p.clone()
            };
            let store = secrets_from([("id", &p12[..]), ("pw", &b"wrong"[..])]);
            let (text, code) = error(&wrong_pw, &store);
            assert!(text.starts_with("identity_reference: PKCS#12: "), "{text}");
            assert_eq!(code, invalid);

            let ed = ca.issue("alice", "client.example.org", &PKCS_ED25519);
            let (ed_p, ed_s) = cert_ipsec(&ca, &ed);
            assert_eq!(
                error(&ed_p, &ed_s).0,
                "identity_reference = Ed25519 is not supported: IKEv1 signs with RSA (PKCS#1 \
                 v1.5) or ECDSA P-256/P-384/P-521 keys"
            );
            let old = ca.issue_valid(
                "alice",
                "client.example.org",
                &PKCS_ECDSA_P256_SHA256,
                Validity::Expired,
            );
            let (old_p, old_s) = cert_ipsec(&ca, &old);
            assert_eq!(
                error(&old_p, &old_s),
                (
                    "our certificate (identity_reference) has expired".into(),
                    DisconnectError::ClientCertificateExpired
                )
            );

            let no_anchor = IpsecProtocol { trust_anchors: Vec::new(), ..p.clone() };
            assert_eq!(
                error(&no_anchor, &secrets),
                (
                    "the server's certificate cannot be checked: there are no trust_anchors and \
                     use_system_trust_store is off"
                        .into(),
                    failed
                )
            );
            let bad_anchor =
                IpsecProtocol { trust_anchors: vec![Der(vec![0x30, 0x00])], ..p.clone() };
            assert_eq!(
                error(&bad_anchor, &secrets),
                ("trust_anchors: not an X.509 certificate".into(), failed)
            );
            let bad_crl = IpsecProtocol {
                certificate_revocation_lists: vec![Der(vec![0x30, 0x00])],
                ..p.clone()
            };
            assert_eq!(
                error(&bad_crl, &secrets),
                ("certificate_revocation_lists: not an X.509 CRL".into(), failed)
            );
            let no_server = IpsecProtocol { server_address: " ".into(), ..p.clone() };
            assert_eq!(error(&no_server, &secrets), ("server_address is required".into(), failed));
            // XAUTH on top still needs its user name.
            let xauth = IpsecProtocol { use_extended_authentication: true, ..p };
            assert_eq!(error(&xauth, &secrets), ("username is required".into(), failed));
        }

        /// `sales[hybrid]` with XAUTH, trusting `ca`, no secret and no identity stored.
        fn hybrid(ca: &TestCa) -> IpsecProtocol {
            IpsecProtocol {
                authentication_method: AuthenticationMethod::SharedSecret,
                local_identifier: Some("sales[hybrid]".into()),
                use_extended_authentication: true,
                username: Some("alice".into()),
                password_reference: Some(PersistentRef::from("pw")),
                trust_anchors: vec![Der(ca.cert_der.clone())],
                remote_identifier: Some("vpn.example.org".into()),
                ..IpsecProtocol::new("192.0.2.1")
            }
        }

        #[test]
        fn hybrid_is_aggressive_mode_with_the_group_name_the_gateway_signing_and_xauth() {
            let ca = TestCa::new("Office CA");
            let store = secrets_from([("pw", &b"alice pw"[..])]);
            let (c, unsupported) =
                hybrid(&ca).to_ikev1_config_at(&store, &StartOptions::default(), now()).unwrap();
            assert!(unsupported.is_empty(), "{unsupported:?}");
            assert_eq!(c.mode, ikeway_ikev1::Phase1Mode::Aggressive);
            assert_eq!(c.local_id, Identity::KeyId(b"sales".to_vec()));
            assert_eq!(c.remote_id, Some(Identity::Fqdn("vpn.example.org".into())));
            let Authentication::HybridClient { verifier } = &c.auth else { panic!("{:?}", c.auth) };
            let anchor = Certificate::from_der(ca.cert_der.clone()).unwrap();
            assert_eq!(verifier.ca_key_hashes(), [anchor.spki_sha1()]);
            assert!(c.xauth);
            assert_eq!(c.transaction.xauth_client.unwrap().username, "alice");
            // With Certificate as the method it is the same: no identity is needed.
            let cert = IpsecProtocol {
                authentication_method: AuthenticationMethod::Certificate,
                ..hybrid(&ca)
            };
            let c = convert(&cert, &store).unwrap();
            assert!(matches!(c.auth, Authentication::HybridClient { .. }), "{:?}", c.auth);
        }

        #[test]
        fn hybrid_without_xauth_a_group_or_anchors_is_refused_naming_the_field() {
            let ca = TestCa::new("Office CA");
            let store = secrets_from([("pw", &b"alice pw"[..])]);
            let error = |p: &IpsecProtocol| convert(p, &store).unwrap_err().to_string();
            let no_xauth = IpsecProtocol { use_extended_authentication: false, ..hybrid(&ca) };
            assert_eq!(
                error(&no_xauth),
                "use_extended_authentication = \"false\": hybrid authentication ([hybrid]) \
                 proves us with XAUTH only: turn it on"
            );
            let no_group =
                IpsecProtocol { local_identifier: Some("[hybrid]".into()), ..hybrid(&ca) };
            assert_eq!(error(&no_group), "local_identifier is required");
            let no_anchor = IpsecProtocol { trust_anchors: Vec::new(), ..hybrid(&ca) };
            assert_eq!(
                error(&no_anchor),
                "the server's certificate cannot be checked: there are no trust_anchors and \
                 use_system_trust_store is off"
            );
            let no_password = IpsecProtocol { password_reference: None, ..hybrid(&ca) };
            assert_eq!(
                error(&no_password),
                "no XAUTH password for \"alice\": none is stored (password_reference) and none \
                 was given to start"
            );
        }
    }
}
