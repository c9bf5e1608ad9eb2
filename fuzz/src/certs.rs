//! A client that authenticates with a certificate (an ECDSA P-256 end entity under an
//! intermediate, made once per process by rcgen) to a server that verifies it at a fixed time,
//! so fuzz targets reach certificate parsing, path validation and signature checks inside a
//! correctly encrypted IKE_AUTH.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ikeway_codec::{IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_pki::{Certificate, FixedTime, Identity, PrivateKey, Purpose, UnixTime, Validator};
use ikeway_sa::{CLIENT_CONFIG_REQUEST, Config, LocalAuth, PeerAuth};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// The client's identity; its certificate's DNS name.
pub const CLIENT_ID: &str = "client.example";

struct Material {
    identity: Arc<Identity>,
    anchor: Certificate,
}

static MATERIAL: LazyLock<Material> = LazyLock::new(|| {
    let ca = |cn: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("no names");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, cn);
        p
    };
    let root_key = KeyPair::generate().expect("P-256 key");
    let root_params = ca("Fuzz Root");
    let root = root_params.self_signed(&root_key).expect("root");
    let root_issuer = Issuer::new(root_params, root_key);
    let mid_key = KeyPair::generate().expect("P-256 key");
    let mid_params = ca("Fuzz Intermediate");
    let mid = mid_params.signed_by(&mid_key, &root_issuer).expect("intermediate");
    let mid_issuer = Issuer::new(mid_params, mid_key);
    let ee_key = KeyPair::generate().expect("P-256 key");
    let ee = CertificateParams::new(vec![CLIENT_ID.to_owned()])
        .expect("a DNS name")
        .signed_by(&ee_key, &mid_issuer)
        .expect("end entity");
    let der = |c: &rcgen::Certificate| Certificate::from_der(c.der().to_vec()).expect("DER");
    let key = PrivateKey::from_der(&ee_key.serialize_der()).expect("PKCS#8");
    let identity = Identity::new(key, vec![der(&ee), der(&mid)]).expect("key matches");
    Material { identity: Arc::new(identity), anchor: der(&root) }
});

/// The client (certificate, expects the server's PSK) and the server (PSK, verifies the
/// client's certificate at 2030-01-01; rcgen's certificates run 1975 to 4096). Both send
/// IKE_AUTH whole, so its payloads can be replaced in one message.
pub fn configs() -> (Config, Config) {
    let psk = SecretBytes::from_slice(b"fuzzing pre-shared key");
    let m = &*MATERIAL;
    let mut client = Config::new(IdRepr::from_value(IdValue::Fqdn(CLIENT_ID)), psk.clone());
    client.config_request = CLIENT_CONFIG_REQUEST.to_vec();
    client.local_auth = LocalAuth::Certificate(Arc::clone(&m.identity));
    client.max_message_len = 60_000;
    let mut server = Config::new(IdRepr::from_value(IdValue::Fqdn("vpn.example")), psk);
    let validator = Validator::new(vec![m.anchor.clone()], Purpose::Client);
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000));
    server.peer_auth = PeerAuth::Certificate(Arc::new(FixedTime { validator, now }));
    server.max_message_len = 60_000;
    (client, server)
}
