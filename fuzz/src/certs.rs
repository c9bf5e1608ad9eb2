//! One side that authenticates with a certificate (an ECDSA P-256 end entity under an
//! intermediate, made once per process by rcgen) to another that verifies it at a fixed time,
//! so fuzz targets reach certificate parsing, path validation and signature checks inside a
//! correctly encrypted IKE_AUTH, in either role.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ikeway_codec::{IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_pki::{Certificate, FixedTime, Identity, PrivateKey, Purpose, UnixTime, Validator};
use ikeway_sa::{CLIENT_CONFIG_REQUEST, Config, LocalAuth, PeerAuth};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

/// The client's identity.
pub const CLIENT_ID: &str = "client.example";
/// The server's identity.
pub const SERVER_ID: &str = "vpn.example";

struct Material {
    identity: Arc<Identity>,
    anchor: Certificate,
}

static CLIENT: LazyLock<Material> = LazyLock::new(|| material(CLIENT_ID));
static SERVER: LazyLock<Material> = LazyLock::new(|| material(SERVER_ID));

/// A root, an intermediate and an end entity for `name`, with the end entity's key.
fn material(name: &str) -> Material {
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
    let ee = CertificateParams::new(vec![name.to_owned()])
        .expect("a DNS name")
        .signed_by(&ee_key, &mid_issuer)
        .expect("end entity");
    let der = |c: &rcgen::Certificate| Certificate::from_der(c.der().to_vec()).expect("DER");
    let key = PrivateKey::from_der(&ee_key.serialize_der()).expect("PKCS#8");
    let identity = Identity::new(key, vec![der(&ee), der(&mid)]).expect("key matches");
    Material { identity: Arc::new(identity), anchor: der(&root) }
}

/// The configurations: when `server_proves` the server authenticates with its certificate
/// and the client verifies it (the client uses the PSK), else the client authenticates with
/// its certificate and the server verifies it (the server uses the PSK). The verifier's time
/// is 2030-01-01 (rcgen's certificates run 1975 to 4096). Both send IKE_AUTH whole, so its
/// payloads can be replaced in one message.
pub fn configs(server_proves: bool) -> (Config, Config) {
    let psk = SecretBytes::from_slice(b"fuzzing pre-shared key");
    let mut client = Config::new(IdRepr::from_value(IdValue::Fqdn(CLIENT_ID)), psk.clone());
    client.config_request = CLIENT_CONFIG_REQUEST.to_vec();
    client.max_message_len = 60_000;
    let mut server = Config::new(IdRepr::from_value(IdValue::Fqdn(SERVER_ID)), psk);
    server.max_message_len = 60_000;
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000));
    let verifier = |m: &Material, purpose| {
        let validator = Validator::new(vec![m.anchor.clone()], purpose);
        PeerAuth::Certificate(Arc::new(FixedTime { validator, now }))
    };
    if server_proves {
        server.local_auth = LocalAuth::Certificate(Arc::clone(&SERVER.identity));
        client.peer_auth = verifier(&SERVER, Purpose::Server);
    } else {
        client.local_auth = LocalAuth::Certificate(Arc::clone(&CLIENT.identity));
        server.peer_auth = verifier(&CLIENT, Purpose::Client);
    }
    (client, server)
}

/// EAP-TLS with the same material: the server proves `SERVER_ID`, the client `CLIENT_ID` (its
/// EAP identity), both checked at 2030-01-01, with TLS versions `min..=max` and fragments of
/// `fragment_size` bytes.
pub fn eap_tls_configs(
    min: ikeway_eap::TlsVersion,
    max: ikeway_eap::TlsVersion,
    fragment_size: usize,
) -> (ikeway_eap::TlsPeerConfig, ikeway_eap::TlsServerConfig) {
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_893_456_000));
    let verifier = |m: &Material, purpose| {
        Arc::new(FixedTime { validator: Validator::new(vec![m.anchor.clone()], purpose), now })
    };
    let mut peer = ikeway_eap::TlsPeerConfig::new(
        Arc::clone(&CLIENT.identity),
        verifier(&SERVER, Purpose::Server),
        IdRepr::from_value(IdValue::Fqdn(SERVER_ID)),
    );
    let mut server = ikeway_eap::TlsServerConfig::new(
        Arc::clone(&SERVER.identity),
        verifier(&CLIENT, Purpose::Client),
    );
    (peer.min_version, peer.max_version, peer.fragment_size) = (min, max, fragment_size);
    (server.min_version, server.max_version, server.fragment_size) = (min, max, fragment_size);
    (peer, server)
}
