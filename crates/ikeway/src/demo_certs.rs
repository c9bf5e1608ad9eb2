//! `ikeway demo --auth cert`: the demo's two ends authenticate with certificates instead of
//! the pre-shared key. A CA and both end entities are made in memory at each run (rcgen): no
//! private key ships in the repository where it could be taken for a usable credential, and
//! nothing expires. Each end's verifier records the certificate the other end proved itself
//! with, which the demo prints.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Result;
use ikeway_codec::IdRepr;
use ikeway_pki::{
    CertFailure, Certificate, Identity, KeyKind, PeerVerifier, PublicKey, Purpose,
    certificates_from_pem_or_der,
};
use ikeway_sa::{AddressPool, Config, LocalAuth, PeerAuth};
use ikeway_tunnel::verifier::{RuntimeVerifier, TrustSettings};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

const CA_NAME: &str = "ikeway demo CA";

/// A verifier that remembers the end entity of the last chain it accepted.
#[derive(Debug)]
pub(crate) struct Shown {
    inner: RuntimeVerifier,
    accepted: Mutex<Option<String>>,
}

impl Shown {
    /// `CN (key), issued by ISSUER` of the certificate the peer proved itself with.
    pub(crate) fn accepted(&self) -> Option<String> {
        self.accepted.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl PeerVerifier for Shown {
    fn ca_key_hashes(&self) -> Vec<[u8; 20]> {
        self.inner.ca_key_hashes()
    }

    fn verify(&self, chain: &[Certificate], peer_id: &IdRepr) -> Result<PublicKey, CertFailure> {
        let key = self.inner.verify(chain, peer_id)?;
        let described = chain.first().map(|c| describe(c, key.kind()));
        *self.accepted.lock().unwrap_or_else(PoisonError::into_inner) = described;
        Ok(key)
    }
}

fn describe(c: &Certificate, kind: KeyKind) -> String {
    let key = match kind {
        KeyKind::Rsa => "RSA",
        KeyKind::RsaPss => "RSA-PSS",
        KeyKind::EcdsaP256 => "ECDSA P-256",
        KeyKind::EcdsaP384 => "ECDSA P-384",
        KeyKind::EcdsaP521 => "ECDSA P-521",
        KeyKind::Ed25519 => "Ed25519",
    };
    format!(
        "{} ({key}), issued by {}",
        c.subject_common_name().unwrap_or("(no name)"),
        c.issuer_common_name().unwrap_or("(no name)")
    )
}

/// The demo's configurations with certificates both ways, and what each end accepted.
pub(crate) struct CertDemo {
    /// The client's, the server's, and the server's pool.
    pub(crate) configs: (Config, Config, AddressPool),
    /// The client's verifier: the server's certificate.
    pub(crate) client_sees: Arc<Shown>,
    /// The server's verifier: the client's certificate.
    pub(crate) server_sees: Arc<Shown>,
}

/// The demo's PSK configurations turned into certificate ones.
pub(crate) fn configs(
    (mut client, mut server, pool): (Config, Config, AddressPool),
) -> Result<CertDemo> {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, CA_NAME);
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    // Each end's name is its IKE identity, in the certificate's SAN as RFC 4945 wants.
    let issue = |name: &str, alg: &'static rcgen::SignatureAlgorithm| -> Result<Identity> {
        let key = KeyPair::generate_for(alg)?;
        let mut params = CertificateParams::new(vec![name.to_owned()])?;
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Identity::from_pem_files_content(key.serialize_pem().as_bytes(), cert.pem().as_bytes())?)
    };
    let anchors = certificates_from_pem_or_der(ca_cert.der())?;
    let shown = |purpose| -> Result<Arc<Shown>> {
        let inner = RuntimeVerifier::new(&TrustSettings::new(anchors.clone(), purpose))?;
        Ok(Arc::new(Shown { inner, accepted: Mutex::new(None) }))
    };
    let (client_sees, server_sees) = (shown(Purpose::Server)?, shown(Purpose::Client)?);
    client.local_auth =
        LocalAuth::Certificate(Arc::new(issue("client.demo.ikeway", &rcgen::PKCS_ED25519)?));
    client.peer_auth = PeerAuth::Certificate(client_sees.clone());
    server.local_auth =
        LocalAuth::Certificate(Arc::new(issue("vpn.demo.ikeway", &rcgen::PKCS_ECDSA_P256_SHA256)?));
    server.peer_auth = PeerAuth::Certificate(server_sees.clone());
    Ok(CertDemo { configs: (client, server, pool), client_sees, server_sees })
}
