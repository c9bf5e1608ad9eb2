//! Our parsers and validator on certificates another implementation made: the set the
//! namespace interop tests use (`ikw_pki_testset` in `testbeds/lib/pki.sh`, made with
//! strongSwan's `pki` and, for PKCS#12, openssl). Every defect in it must be refused with its
//! own failure, every good chain accepted with the right key, every key format `pki` writes
//! (PKCS#1 RSA, SEC1 EC, PKCS#8 Ed25519) and openssl's default PKCS#12 must load and sign an
//! AUTH that the certificate's key verifies, and our CERTREQ hashes must be what openssl
//! computes. Needs `pki` and `openssl` (no root); without them the test says so loudly.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use ikeway_codec::{AuthMethod, IdRepr, IdValue};
use ikeway_pki::{
    CertFailure, Certificate, Crl, Identity, KeyKind, Purpose, Revocation,
    SUPPORTED_SIGNATURE_HASHES, UnixTime, Validator, certificates_from_pem_or_der,
};

/// The test set, removed when the last test holding it is done.
struct TestSet(PathBuf);

/// One set for the tests that run together (making it takes seconds of RSA key generation).
fn test_set() -> Option<Arc<TestSet>> {
    static SHARED: Mutex<Weak<TestSet>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(set) = shared.upgrade() {
        return Some(set);
    }
    let set = Arc::new(TestSet::make()?);
    *shared = Arc::downgrade(&set);
    Some(set)
}

impl TestSet {
    fn make() -> Option<Self> {
        for tool in ["pki", "openssl", "bash"] {
            if !ikeway_testkit::have(tool) {
                ikeway_testkit::skip(
                    "ikeway-pki on strongSwan pki certificates",
                    &format!("{tool} is not installed (testbeds/install-peers.sh installs it)"),
                );
                return None;
            }
        }
        static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("ikeway-pki-testset-{}-{run}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let status = Command::new("bash")
            .arg("-c")
            .arg(r#". "$1/testbeds/lib/netns.sh" && . "$1/testbeds/lib/pki.sh" && ikw_pki_testset "$2""#)
            .arg("bash")
            .arg(&root)
            .arg(&dir)
            .status()
            .expect("bash runs");
        assert!(status.success(), "ikw_pki_testset failed");
        Some(Self(dir))
    }

    fn bytes(&self, file: &str) -> Vec<u8> {
        std::fs::read(self.0.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    }

    fn cert(&self, name: &str) -> Certificate {
        let mut certs = certificates_from_pem_or_der(&self.bytes(&format!("{name}.crt"))).unwrap();
        assert_eq!(certs.len(), 1, "{name}");
        certs.remove(0)
    }

    fn chain(&self, names: &[&str]) -> Vec<Certificate> {
        names.iter().map(|n| self.cert(n)).collect()
    }

    fn crl(&self, name: &str) -> Crl {
        Crl::from_pem_or_der(&self.bytes(&format!("{name}.crl"))).unwrap()
    }
}

impl Drop for TestSet {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn now() -> UnixTime {
    UnixTime::since_unix_epoch(SystemTime::now().duration_since(UNIX_EPOCH).unwrap())
}

fn fqdn(name: &str) -> IdRepr {
    IdRepr::from_value(IdValue::Fqdn(name))
}

#[test]
fn strongswan_pki_certificates_validate_exactly_as_made() {
    let Some(set) = test_set() else { return };
    let server = Validator::new(set.chain(&["root-ec", "root-rsa"]), Purpose::Server)
        .with_crls(vec![set.crl("root-ec")])
        .with_revocation(Revocation::BestEffort);
    let srv = fqdn("srv.ikeway.test");
    let verify = |v: &Validator, chain: &[&str], id: &IdRepr| {
        v.verify(&set.chain(chain), id, now(), &[]).map(|k| k.kind())
    };
    // Good chains, each with its key.
    assert_eq!(verify(&server, &["srv-ec", "inter-ec"], &srv), Ok(KeyKind::EcdsaP256));
    assert_eq!(verify(&server, &["srv-p384"], &srv), Ok(KeyKind::EcdsaP384));
    assert_eq!(verify(&server, &["srv-rsa"], &srv), Ok(KeyKind::Rsa));
    assert_eq!(verify(&server, &["srv-ed"], &srv), Ok(KeyKind::Ed25519));
    // Each defect, its failure.
    let cases: [(&[&str], CertFailure); 9] = [
        (&["srv-expired"], CertFailure::Expired),
        (&["srv-future"], CertFailure::NotYetValid),
        (&["srv-untrusted"], CertFailure::UntrustedIssuer),
        (&["srv-forged"], CertFailure::UntrustedIssuer),
        (&["srv-trunc"], CertFailure::UntrustedIssuer),
        (&["srv-revoked"], CertFailure::Revoked),
        (&["srv-eku"], CertFailure::WrongKeyUsage),
        (&["srv-wrongsan"], CertFailure::IdentityMismatch),
        // A CA certificate is no end entity (webpki: CaUsedAsEndEntity).
        (&["inter-ec"], CertFailure::UntrustedIssuer),
    ];
    for (chain, failure) in cases {
        assert_eq!(verify(&server, chain, &srv), Err(failure), "{chain:?}");
    }
    // The subject DN is an identity too; another host name is not.
    let dn = Certificate::subject_der(&set.cert("srv-rsa")).to_vec();
    let dn_id = IdRepr::from_value(IdValue::DerAsn1Dn(&dn));
    assert_eq!(verify(&server, &["srv-rsa"], &dn_id), Ok(KeyKind::Rsa));
    assert_eq!(
        verify(&server, &["srv-rsa"], &fqdn("vpn.ikeway.test")),
        Err(CertFailure::IdentityMismatch)
    );
    // A server known by its address: an IP SAN.
    let ip = |a: &str| IdRepr::from_value(IdValue::Ipv4(a.parse().unwrap()));
    assert_eq!(verify(&server, &["srv-ip"], &ip("10.99.0.27")), Ok(KeyKind::EcdsaP256));
    assert_eq!(verify(&server, &["srv-ip"], &ip("10.99.0.28")), Err(CertFailure::IdentityMismatch));
    assert_eq!(verify(&server, &["srv-ip"], &srv), Err(CertFailure::IdentityMismatch));
    // Apple's common name checks.
    let named = |subject: &str, issuer: &str| {
        Validator::new(set.chain(&["root-ec"]), Purpose::Server)
            .with_common_names(Some(subject.into()), Some(issuer.into()))
    };
    let ec = ["srv-ec", "inter-ec"];
    assert!(verify(&named("srv.ikeway.test", "ikeway test intermediate"), &ec, &srv).is_ok());
    assert_eq!(
        verify(&named("vpn.ikeway.test", "ikeway test intermediate"), &ec, &srv),
        Err(CertFailure::CommonNameMismatch)
    );
    assert_eq!(
        verify(&named("srv.ikeway.test", "ikeway test root EC"), &ec, &srv),
        Err(CertFailure::IssuerCommonNameMismatch)
    );
    // Revocation off (the default), the revoked certificate passes even with the CRL; a CRL
    // that revokes nothing changes nothing.
    let off = Validator::new(set.chain(&["root-ec"]), Purpose::Server)
        .with_crls(vec![set.crl("root-ec")]);
    assert!(verify(&off, &["srv-revoked"], &srv).is_ok());
    let empty = Validator::new(set.chain(&["root-ec"]), Purpose::Server)
        .with_crls(vec![set.crl("root-ec-empty")])
        .with_revocation(Revocation::BestEffort);
    assert!(verify(&empty, &["srv-p384"], &srv).is_ok());
    assert!(verify(&empty, &["srv-revoked"], &srv).is_ok());

    // Clients.
    let client = Validator::new(set.chain(&["root-ec", "root-rsa"]), Purpose::Client)
        .with_crls(vec![set.crl("root-ec")])
        .with_revocation(Revocation::BestEffort);
    let cli = fqdn("cli.ikeway.test");
    assert_eq!(verify(&client, &["cli-ec"], &cli), Ok(KeyKind::EcdsaP256));
    assert_eq!(verify(&client, &["cli-rsa"], &cli), Ok(KeyKind::Rsa));
    assert_eq!(verify(&client, &["cli-ed"], &cli), Ok(KeyKind::Ed25519));
    assert_eq!(verify(&client, &["cli-untrusted"], &cli), Err(CertFailure::UntrustedIssuer));
    assert_eq!(verify(&client, &["cli-expired"], &cli), Err(CertFailure::Expired));
    assert_eq!(verify(&client, &["cli-revoked"], &cli), Err(CertFailure::Revoked));
}

#[test]
fn strongswan_pki_keys_and_openssl_pkcs12_sign_what_their_certificates_verify() {
    let Some(set) = test_set() else { return };
    let octets = b"RFC 7296 2.15 signed octets stand-in";
    let check = |identity: &Identity, kind: KeyKind, what: &str| {
        assert_eq!(identity.kind(), kind, "{what}");
        let key = identity.chain()[0].public_key().unwrap();
        // As to a peer that announced SIGNATURE_HASH_ALGORITHMS (strongSwan does): RFC 7427.
        let (method, data) = identity.sign_auth(octets, Some(&SUPPORTED_SIGNATURE_HASHES)).unwrap();
        assert_eq!(method, AuthMethod::DIGITAL_SIGNATURE, "{what}");
        key.verify_auth(method, &data, octets).unwrap_or_else(|e| panic!("{what}: {e}"));
        // The same signature over other octets fails.
        assert!(key.verify_auth(method, &data, b"other octets").is_err(), "{what}");
    };
    for (name, kind) in [
        ("cli-ec", KeyKind::EcdsaP256),
        ("srv-p384", KeyKind::EcdsaP384),
        ("srv-rsa", KeyKind::Rsa),
        ("cli-ed", KeyKind::Ed25519),
    ] {
        let identity = Identity::from_pem_files_content(
            &set.bytes(&format!("{name}.key")),
            &set.bytes(&format!("{name}.crt")),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        check(&identity, kind, name);
    }
    // srv-ec's chain file carries the intermediate after the end entity.
    let chained =
        Identity::from_pem_files_content(&set.bytes("srv-ec.key"), &set.bytes("srv-ec.chain.crt"))
            .unwrap();
    assert_eq!(chained.chain().len(), 2);
    check(&chained, KeyKind::EcdsaP256, "srv-ec chain");
    // A key that is not the certificate's is refused.
    assert!(
        Identity::from_pem_files_content(&set.bytes("cli-rsa.key"), &set.bytes("cli-ec.crt"))
            .is_err()
    );
    // openssl 3's default PKCS#12 (PBES2, AES-256-CBC, HMAC-SHA256 MAC).
    let p12 = Identity::from_pkcs12(&set.bytes("cli-ec.p12"), "ikeway-p12").unwrap();
    check(&p12, KeyKind::EcdsaP256, "cli-ec.p12");
    assert!(Identity::from_pkcs12(&set.bytes("cli-ec.p12"), "wrong").is_err());
}

/// SHA-1 of the DER SubjectPublicKeyInfo, as openssl computes it.
fn openssl_spki_sha1(set: &TestSet, name: &str) -> [u8; 20] {
    let crt = set.0.join(format!("{name}.crt"));
    let script = r#"openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha1 -r"#;
    let out = Command::new("bash").arg("-c").arg(script).arg("bash").arg(crt).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let hex = String::from_utf8(out.stdout).unwrap();
    let hex = hex.split_whitespace().next().unwrap();
    let mut hash = [0u8; 20];
    for (i, b) in hash.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    hash
}

#[test]
fn certreq_hashes_are_the_anchors_spki_sha1_as_openssl_computes_it() {
    let Some(set) = test_set() else { return };
    let validator = Validator::new(set.chain(&["root-ec", "root-rsa"]), Purpose::Server);
    let want = vec![openssl_spki_sha1(&set, "root-ec"), openssl_spki_sha1(&set, "root-rsa")];
    assert_eq!(validator.ca_key_hashes(), want);
    assert_eq!(set.cert("root-ec").spki_sha1(), want[0]);
    // srv-revoked names its CRL distribution point.
    assert_eq!(set.cert("srv-revoked").crl_urls(), vec!["http://10.99.0.2:8081/root-ec.crl"]);
    assert!(set.cert("srv-ec").crl_urls().is_empty());
}
