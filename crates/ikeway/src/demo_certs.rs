//! `ikeway demo --auth cert` and `--auth eap`: the demo's two ends authenticate with
//! certificates (or the server with its certificate and the client with EAP-MSCHAPv2) instead
//! of the pre-shared key. A CA and both end entities are made in memory at each run (rcgen): no
//! private key ships in the repository where it could be taken for a usable credential, and
//! nothing expires. Each end's verifier records the certificate the other end proved itself
//! with, which the demo prints.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Result;
use ikeway_codec::IdRepr;
use ikeway_crypto::SecretBytes;
use ikeway_eap::{AuthenticatorConfig, Credentials, Method, PeerConfig, Users};
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

/// The CA made for one run, issuing each end's certificate.
struct DemoCa {
    issuer: Issuer<'static, KeyPair>,
    anchors: Vec<Certificate>,
}

impl DemoCa {
    fn new() -> Result<Self> {
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, CA_NAME);
        let ca_cert = ca.self_signed(&ca_key)?;
        let anchors = certificates_from_pem_or_der(ca_cert.der())?;
        Ok(Self { issuer: Issuer::new(ca, ca_key), anchors })
    }

    /// An end entity: its name is its IKE identity, in the certificate's SAN as RFC 4945
    /// wants.
    fn issue(&self, name: &str, alg: &'static rcgen::SignatureAlgorithm) -> Result<Identity> {
        let key = KeyPair::generate_for(alg)?;
        let mut params = CertificateParams::new(vec![name.to_owned()])?;
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Identity::from_pem_files_content(key.serialize_pem().as_bytes(), cert.pem().as_bytes())?)
    }

    /// A verifier trusting this CA that remembers what it accepted.
    fn shown(&self, purpose: Purpose) -> Result<Arc<Shown>> {
        let inner = RuntimeVerifier::new(&TrustSettings::new(self.anchors.clone(), purpose))?;
        Ok(Arc::new(Shown { inner, accepted: Mutex::new(None) }))
    }
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
    let ca = DemoCa::new()?;
    let (client_sees, server_sees) = (ca.shown(Purpose::Server)?, ca.shown(Purpose::Client)?);
    client.local_auth =
        LocalAuth::Certificate(Arc::new(ca.issue("client.demo.ikeway", &rcgen::PKCS_ED25519)?));
    client.peer_auth = PeerAuth::Certificate(client_sees.clone());
    server.local_auth = LocalAuth::Certificate(Arc::new(
        ca.issue("vpn.demo.ikeway", &rcgen::PKCS_ECDSA_P256_SHA256)?,
    ));
    server.peer_auth = PeerAuth::Certificate(server_sees.clone());
    Ok(CertDemo { configs: (client, server, pool), client_sees, server_sees })
}

/// The demo's user, and a password that is public: this is a demo.
pub(crate) const EAP_USER: &str = "alice";
const EAP_PASSWORD: &str = "ikeway demo password, not a secret";

/// The server's user file, remembering the user it was asked about.
#[derive(Debug)]
pub(crate) struct Asked {
    users: Users,
    asked: Mutex<Option<String>>,
}

impl Asked {
    /// The user the server looked up.
    pub(crate) fn user(&self) -> Option<String> {
        self.asked.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Credentials for Asked {
    fn password(&self, user: &str) -> Option<SecretBytes> {
        *self.asked.lock().unwrap_or_else(PoisonError::into_inner) = Some(user.to_owned());
        self.users.password(user)
    }
}

/// The demo's configurations with EAP: the server proves itself with its certificate, the
/// client with EAP-MSCHAPv2 as [`EAP_USER`] (RFC 7296 §2.16).
pub(crate) struct EapDemo {
    pub(crate) configs: (Config, Config, AddressPool),
    /// The client's verifier: the server's certificate.
    pub(crate) client_sees: Arc<Shown>,
    /// The server's user file.
    pub(crate) server_asked: Arc<Asked>,
}

pub(crate) fn eap_configs(
    (mut client, mut server, pool): (Config, Config, AddressPool),
) -> Result<EapDemo> {
    let ca = DemoCa::new()?;
    let client_sees = ca.shown(Purpose::Server)?;
    let users = Users::parse(&format!("{EAP_USER} : EAP \"{EAP_PASSWORD}\"\n"))?;
    let server_asked = Arc::new(Asked { users, asked: Mutex::new(None) });
    client.local_auth = LocalAuth::Eap(Arc::new(PeerConfig {
        identity: EAP_USER.to_owned(),
        password: Some(SecretBytes::from_slice(EAP_PASSWORD.as_bytes())),
        tls: None,
        methods: vec![Method::MsChapV2],
    }));
    client.peer_auth = PeerAuth::Certificate(client_sees.clone());
    server.local_auth = LocalAuth::Certificate(Arc::new(
        ca.issue("vpn.demo.ikeway", &rcgen::PKCS_ECDSA_P256_SHA256)?,
    ));
    server.peer_auth = PeerAuth::Eap(Arc::new(AuthenticatorConfig {
        methods: vec![Method::MsChapV2],
        users: server_asked.clone(),
        tls: None,
    }));
    Ok(EapDemo { configs: (client, server, pool), client_sees, server_asked })
}
