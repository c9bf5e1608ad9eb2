//! Loading: identities from PKCS#12 and PEM, certificates from PEM or DER, CRLs, and the
//! fields read from a certificate (names, validity, CERTREQ key hash).

use ikeway_pki::{
    CertFailure, Certificate, Crl, Identity, KeyKind, PkiError, SUPPORTED_SIGNATURE_HASHES,
    UnixTime, certificates_from_pem_or_der,
};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(core::time::Duration::from_secs(secs))
}

/// The identity signs, and its certificate's key verifies the signature.
fn assert_signs(id: &Identity) {
    let octets = b"signed octets";
    let (method, auth) = id.sign_auth(octets, Some(&SUPPORTED_SIGNATURE_HASHES)).unwrap();
    assert_eq!(id.chain()[0].public_key().unwrap().verify_auth(method, &auth, octets), Ok(()));
}

/// Files made by `openssl pkcs12 -export` (commands in data/SOURCES.md): the legacy one with
/// RC2-40 and 3DES under a SHA-1 MAC, the default one with AES-256-CBC and PBKDF2 under a
/// SHA-256 MAC.
#[test]
fn loads_openssl_pkcs12_legacy_and_default() {
    let legacy = Identity::from_pkcs12(&data("rsa2048-legacy.p12"), "ikeway-legacy").unwrap();
    assert_eq!(legacy.kind(), KeyKind::Rsa);
    assert_eq!(legacy.chain().len(), 1);
    assert_eq!(legacy.chain()[0].subject_common_name(), Some("rsa.example.com"));
    assert_signs(&legacy);

    let aes = Identity::from_pkcs12(&data("p384-aes.p12"), "ikeway-aes").unwrap();
    assert_eq!(aes.kind(), KeyKind::EcdsaP384);
    assert_eq!(aes.chain()[0].subject_common_name(), Some("ec.example.com"));
    assert_signs(&aes);
}

#[test]
fn rejects_pkcs12_with_wrong_password_or_damage() {
    assert!(matches!(
        Identity::from_pkcs12(&data("rsa2048-legacy.p12"), "wrong"),
        Err(PkiError::Pkcs12(_))
    ));
    assert!(matches!(Identity::from_pkcs12(&data("p384-aes.p12"), ""), Err(PkiError::Pkcs12(_))));
    let mut damaged = data("p384-aes.p12");
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0xff;
    assert!(Identity::from_pkcs12(&damaged, "ikeway-aes").is_err());
    assert!(matches!(Identity::from_pkcs12(b"", "x"), Err(PkiError::Pkcs12(_))));
}

/// A PKCS#12 written here (p12-keystore, its default AES-256 and SHA-256 MAC) with a key, its
/// certificate and the issuing CA: the identity's chain is end entity first, then the CA.
#[test]
fn loads_pkcs12_with_a_chain_made_in_the_test() {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    let leaf = CertificateParams::new(vec!["client.example.com".to_owned()])
        .unwrap()
        .signed_by(&key, &Issuer::new(ca_params, ca_key))
        .unwrap();

    let p12_key = p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap();
    // The CA first: the loader puts the key's certificate in front whatever the file's order.
    let certs =
        [ca_cert.der(), leaf.der()].map(|der| p12_keystore::Certificate::from_der(der).unwrap());
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry(
        "client",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
            b"client".as_slice(),
            p12_key,
            certs,
        )),
    );
    let p12 = store.writer("made-in-test").write().unwrap();

    let id = Identity::from_pkcs12(&p12, "made-in-test").unwrap();
    assert_eq!(id.kind(), KeyKind::Ed25519);
    let ders: Vec<&[u8]> = id.chain().iter().map(Certificate::der).collect();
    assert_eq!(ders, vec![leaf.der().as_ref(), ca_cert.der().as_ref()]);
    assert_signs(&id);

    // Two keys: which one is ours is not for the loader to guess.
    let second = KeyPair::generate().unwrap();
    store.add_entry(
        "second",
        p12_keystore::KeyStoreEntry::PrivateKeyChain(p12_keystore::PrivateKeyChain::new(
            b"second".as_slice(),
            p12_keystore::PrivateKey::from_der(&second.serialize_der()).unwrap(),
            [p12_keystore::Certificate::from_der(leaf.der()).unwrap()],
        )),
    );
    let two = store.writer("made-in-test").write().unwrap();
    assert_eq!(
        Identity::from_pkcs12(&two, "made-in-test").unwrap_err(),
        PkiError::Pkcs12("more than one private key in the file".to_owned())
    );
}

#[test]
fn loads_pem_identity_with_chain_in_any_order() {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["vpn.example.com".to_owned()])
        .unwrap()
        .signed_by(&key, &Issuer::new(ca_params, ca_key))
        .unwrap();
    let bundle = format!("{}{}", ca_cert.pem(), leaf.pem());
    let id = Identity::from_pem_files_content(key.serialize_pem().as_bytes(), bundle.as_bytes())
        .unwrap();
    assert_eq!(id.chain()[0].der(), leaf.der().as_ref());
    assert_eq!(id.chain()[1].der(), ca_cert.der().as_ref());
    assert_signs(&id);
    // A bundle without the key's certificate.
    assert_eq!(
        Identity::from_pem_files_content(key.serialize_pem().as_bytes(), ca_cert.pem().as_bytes())
            .unwrap_err(),
        PkiError::KeyMismatch
    );
}

/// One PEM file with the key and the certificate, given as both arguments.
#[test]
fn loads_identity_from_one_combined_pem_file() {
    let combined = [data("p384.crt.pem"), data("p384.key.pem")].concat();
    let id = Identity::from_pem_files_content(&combined, &combined).unwrap();
    assert_eq!(id.kind(), KeyKind::EcdsaP384);
    assert_eq!(id.chain().len(), 1);
    assert_signs(&id);
}

#[test]
fn certificates_from_pem_or_der_reads_both_forms() {
    let pem = [data("rsa2048.crt.pem"), data("p384.crt.pem")].concat();
    let certs = certificates_from_pem_or_der(&pem).unwrap();
    let names: Vec<_> = certs.iter().map(Certificate::subject_common_name).collect();
    assert_eq!(names, vec![Some("rsa.example.com"), Some("ec.example.com")]);
    let der = certs[1].der().to_vec();
    assert_eq!(certificates_from_pem_or_der(&der).unwrap(), vec![certs[1].clone()]);
    assert_eq!(Certificate::from_der(der.clone()).unwrap(), certs[1]);
}

#[test]
fn rejects_bytes_that_are_no_certificate() {
    assert_eq!(certificates_from_pem_or_der(b"").unwrap_err(), PkiError::NoCertificate);
    assert_eq!(certificates_from_pem_or_der(b"hello").unwrap_err(), PkiError::NoCertificate);
    assert_eq!(
        certificates_from_pem_or_der(&data("rsa2048.key.pem")).unwrap_err(),
        PkiError::NoCertificate
    );
    let der = certificates_from_pem_or_der(&data("p384.crt.pem")).unwrap()[0].der().to_vec();
    assert_eq!(
        Certificate::from_der(der[..der.len() - 1].to_vec()).unwrap_err(),
        PkiError::MalformedCertificate
    );
    let mut trailing = der;
    trailing.push(0);
    assert_eq!(Certificate::from_der(trailing).unwrap_err(), PkiError::MalformedCertificate);
    assert_eq!(
        Certificate::from_der(vec![0x30, 0x00]).unwrap_err(),
        PkiError::MalformedCertificate
    );
    let broken_pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    assert_eq!(
        certificates_from_pem_or_der(broken_pem).unwrap_err(),
        PkiError::MalformedCertificate
    );
}

/// The CERTREQ key hash, against OpenSSL (commands in data/SOURCES.md):
/// `openssl x509 -in rsa2048.crt.pem -pubkey -noout | openssl pkey -pubin -outform der | sha1sum`.
#[test]
fn spki_sha1_matches_openssl() {
    for (file, expected) in [
        ("rsa2048.crt.pem", "499af18b8fc20e3d14e97d73ec14815fbd13e773"),
        ("p384.crt.pem", "127340c4bfd0bfd9eaf5a4ca190379d854206f53"),
    ] {
        let cert = &certificates_from_pem_or_der(&data(file)).unwrap()[0];
        assert_eq!(hex::encode(cert.spki_sha1()), expected, "{file}");
    }
}

#[test]
fn names_and_validity_are_read() {
    let mut params = CertificateParams::new(vec!["vpn.example.com".to_owned()]).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "vpn.example.com");
    params.not_before = time::OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(1_798_761_599).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = Certificate::from_der(params.self_signed(&key).unwrap().der().to_vec()).unwrap();
    assert_eq!(cert.subject_common_name(), Some("vpn.example.com"));
    assert_eq!(cert.issuer_common_name(), Some("vpn.example.com"));
    assert_eq!(cert.not_before(), at(1_767_225_600));
    assert_eq!(cert.not_after(), at(1_798_761_599));
    assert_eq!(cert.public_key().unwrap().kind(), KeyKind::EcdsaP256);

    let id = Identity::from_pem_files_content(
        key.serialize_pem().as_bytes(),
        params.self_signed(&key).unwrap().pem().as_bytes(),
    )
    .unwrap();
    assert_eq!(id.check_validity(at(1_767_225_600)), Ok(()));
    assert_eq!(id.check_validity(at(1_767_225_599)), Err(CertFailure::NotYetValid));
    assert_eq!(id.check_validity(at(1_798_761_599)), Ok(()));
    assert_eq!(id.check_validity(at(1_798_761_600)), Err(CertFailure::Expired));
}

#[test]
fn crl_from_pem_or_der() {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let crl = rcgen::CertificateRevocationListParams {
        this_update: time::OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap(),
        next_update: time::OffsetDateTime::from_unix_timestamp(1_798_761_600).unwrap(),
        crl_number: rcgen::SerialNumber::from(7u64),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: rcgen::KeyIdMethod::Sha256,
    }
    .signed_by(&Issuer::new(ca_params, ca_key))
    .unwrap();
    assert_eq!(Crl::from_pem_or_der(crl.der()).unwrap().next_update(), at(1_798_761_600));
    let from_pem = Crl::from_pem_or_der(crl.pem().unwrap().as_bytes()).unwrap();
    assert_eq!(from_pem.next_update(), at(1_798_761_600));
    assert_eq!(Crl::from_pem_or_der(b"").unwrap_err(), PkiError::MalformedCrl);
    assert_eq!(Crl::from_pem_or_der(&crl.der()[..20]).unwrap_err(), PkiError::MalformedCrl);
    // A certificate is no CRL.
    assert_eq!(Crl::from_pem_or_der(&data("p384.crt.pem")).unwrap_err(), PkiError::MalformedCrl);
}

/// The key as PKCS#8 (what rustls loads for EAP-TLS) is the same key for every kind: RSA from
/// PKCS#12, ECDSA P-384 from PKCS#12, P-256 and Ed25519 made by rcgen, each read back.
#[test]
fn private_key_exports_as_pkcs8_of_the_same_key() {
    use rustls_pki_types::PrivateKeyDer;
    let rsa = Identity::from_pkcs12(&data("rsa2048-legacy.p12"), "ikeway-legacy").unwrap();
    let p384 = Identity::from_pkcs12(&data("p384-aes.p12"), "ikeway-aes").unwrap();
    let ca = ikeway_testkit::certs::TestCa::new("Export CA");
    let made =
        [&ikeway_testkit::certs::PKCS_ECDSA_P256_SHA256, &ikeway_testkit::certs::PKCS_ED25519].map(
            |alg| {
                let c = ca.issue("k.example.com", "k.example.com", alg);
                Identity::from_pem_files_content(c.key_pem.as_bytes(), c.cert_pem.as_bytes())
                    .unwrap()
            },
        );
    let kinds: Vec<KeyKind> =
        [&rsa, &p384, &made[0], &made[1]].iter().map(|id| id.key().kind()).collect();
    assert_eq!(kinds, [KeyKind::Rsa, KeyKind::EcdsaP384, KeyKind::EcdsaP256, KeyKind::Ed25519]);
    for id in [&rsa, &p384, &made[0], &made[1]] {
        let der = id.key().to_pkcs8_der().unwrap();
        let PrivateKeyDer::Pkcs8(pkcs8) = &*der else { panic!("PKCS#8 expected") };
        let again = ikeway_pki::PrivateKey::from_der(pkcs8.secret_pkcs8_der()).unwrap();
        assert_eq!(again.public_key(), id.key().public_key());
        // And it still makes an identity with the same certificate.
        let rebuilt = Identity::new(again, id.chain().to_vec()).unwrap();
        assert_signs(&rebuilt);
    }
}
