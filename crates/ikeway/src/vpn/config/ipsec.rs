//! `ikeway config add --type ipsec` / `config edit` of an IPSec (IKEv1, Apple's "Cisco IPSec")
//! configuration: the options IKEv2 shares with it, read as Apple's `NEVPNProtocolIPSec`
//! reads them (the local ID is the group name, the shared secret the group's, extended
//! authentication is XAUTH; an identity, `--ca` and `--crl` are Main Mode with certificates);
//! the IKEv2-only options are refused by name.

use anyhow::{Result, bail};
use ikeway_manager::{
    AuthenticationMethod, HYBRID_SUFFIX, IdentityData, IpsecProtocol, MAX_GROUP_NAME,
    MAX_SHARED_SECRET, MAX_USERNAME, MAX_XAUTH_PASSWORD, PreferencesStore, VpnConfiguration,
    anchors_from, crl_from, parse_identity, read_certificate_file, store_identity,
};

use super::{Fields, IdentityFiles};

impl Fields {
    /// The first IKEv2-only option given, by its flag.
    fn ikev2_only_option(&self) -> Option<&'static str> {
        [
            (self.ppk_file.is_some(), "--ppk-file"),
            (self.ppk_id.is_some(), "--ppk-id"),
            (self.ppk_optional.is_some(), "--ppk-optional"),
            (!self.eap_methods.is_empty(), "--eap-methods"),
            (self.tls_min.is_some(), "--tls-min"),
            (self.tls_max.is_some(), "--tls-max"),
            (self.certificate_type.is_some(), "--certificate-type"),
            (self.server_cert_cn.is_some(), "--server-cert-cn"),
            (self.server_cert_issuer_cn.is_some(), "--server-cert-issuer-cn"),
            (self.revocation_check.is_some(), "--revocation-check"),
            (self.strict_revocation_check.is_some(), "--strict-revocation-check"),
            (self.ike_encryption.is_some(), "--ike-encryption"),
            (self.ike_integrity.is_some(), "--ike-integrity"),
            (self.ike_dh_group.is_some(), "--ike-dh-group"),
            (self.ike_lifetime.is_some(), "--ike-lifetime"),
            (self.child_encryption.is_some(), "--child-encryption"),
            (self.child_integrity.is_some(), "--child-integrity"),
            (self.child_dh_group.is_some(), "--child-dh-group"),
            (self.child_lifetime.is_some(), "--child-lifetime"),
            (self.dpd.is_some(), "--dpd"),
            (self.enable_pfs.is_some(), "--enable-pfs"),
            (self.disable_mobike.is_some(), "--disable-mobike"),
            (self.disable_redirect.is_some(), "--disable-redirect"),
            (self.pq_kex.is_some(), "--pq-kex"),
            (self.pq_fallback.is_some(), "--pq-fallback"),
            (self.mtu.is_some(), "--mtu"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }

    /// Applies the options to an IPSec configuration (made when `config` has none). Every
    /// file is read and checked before anything is stored.
    pub(super) fn apply_ipsec(
        &self,
        config: &mut VpnConfiguration,
        store: &PreferencesStore,
    ) -> Result<()> {
        if let Some(flag) = self.ikev2_only_option() {
            bail!("{flag} applies to IKEv2 configurations only (this one is IPSec, IKEv1)");
        }
        let protocol = match &mut config.ipsec {
            Some(p) => p,
            None => {
                let Some(server) = self.server.clone() else {
                    bail!("--server is required for a new configuration")
                };
                config.ipsec.insert(IpsecProtocol::new(server))
            }
        };
        if let Some(s) = &self.server {
            protocol.server_address = s.clone();
        }
        if let Some(r) = &self.remote_id {
            protocol.remote_identifier = Some(r.clone());
        }
        if let Some(group) = &self.local_id {
            let name = group.strip_suffix(HYBRID_SUFFIX).unwrap_or(group);
            if name.is_empty() || name.len() > MAX_GROUP_NAME {
                bail!("--local-id: a group name of 1 to {MAX_GROUP_NAME} bytes");
            }
            protocol.local_identifier = Some(group.clone());
        }
        if let Some(user) = &self.username {
            if user.is_empty() || user.len() > MAX_USERNAME {
                bail!("--username: a user name of 1 to {MAX_USERNAME} bytes");
            }
            protocol.username = Some(user.clone());
        }
        if let Some(v) = self.extended_auth {
            protocol.use_extended_authentication = v;
        }
        let method = match self.auth.as_deref() {
            None => None,
            Some("shared-secret") => Some(AuthenticationMethod::SharedSecret),
            Some("certificate") => Some(AuthenticationMethod::Certificate),
            Some(other) => {
                bail!("unknown --auth {other:?} for IPSec; one of shared-secret, certificate")
            }
        };
        // Read and check before anything is stored.
        let psk = self.psk_file.as_deref().map(ikeway_manager::read_secret_file).transpose()?;
        if psk.as_ref().is_some_and(|s| s.is_empty() || s.len() > MAX_SHARED_SECRET) {
            bail!("--psk-file: a shared secret of 1 to {MAX_SHARED_SECRET} bytes");
        }
        let password = self.password_for(protocol.username.as_deref())?;
        if password.as_ref().is_some_and(|p| p.len() > MAX_XAUTH_PASSWORD) {
            bail!("the XAUTH password is longer than {MAX_XAUTH_PASSWORD} bytes");
        }
        let mut anchors = Vec::new();
        for path in &self.ca {
            anchors.extend(anchors_from(path.display(), &read_certificate_file(path)?)?);
        }
        let crls = self
            .crl
            .iter()
            .map(|path| crl_from(path.display(), &read_certificate_file(path)?))
            .collect::<Result<Vec<_>, _>>()?;
        let identity = self.identity_files()?;
        let identity_data = identity.as_ref().map(|(what, files)| {
            let data = match files {
                IdentityFiles::Pkcs12(data, password) => IdentityData::Pkcs12 { data, password },
                IdentityFiles::Pem(key, chain) => IdentityData::Pem { key, chain },
            };
            (what.as_str(), data)
        });
        if let Some((what, data)) = identity_data {
            parse_identity(what, data)?;
        }

        if let Some((_, data)) = identity_data {
            let refs =
                (&mut protocol.identity_reference, &mut protocol.identity_data_password_reference);
            store_identity(store.secrets(), data, refs)?;
            protocol.authentication_method = AuthenticationMethod::Certificate;
            protocol.use_system_trust_store = true;
        }
        if let Some(secret) = psk {
            let reference = store.secrets().add(&secret)?;
            if let Some(old) = protocol.shared_secret_reference.replace(reference) {
                store.secrets().remove(&old)?;
            }
            if identity_data.is_none() {
                protocol.authentication_method = AuthenticationMethod::SharedSecret;
            }
        }
        if let Some(password) = password {
            let reference = store.secrets().add(&password)?;
            if let Some(old) = protocol.password_reference.replace(reference) {
                store.secrets().remove(&old)?;
            }
        }
        if let Some(m) = method {
            protocol.authentication_method = m;
        }
        if !self.ca.is_empty() {
            protocol.trust_anchors = anchors;
        }
        if !self.crl.is_empty() {
            protocol.certificate_revocation_lists = crls;
        }
        if let Some(v) = self.system_ca {
            protocol.use_system_trust_store = v;
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
