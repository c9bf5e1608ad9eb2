//! AUTH signatures through the public API: every key kind signs and verifies, the method and
//! AlgorithmIdentifier follow the key and the peer's hashes, and every defect is refused with
//! its own error.

use ikeway_codec::AuthMethod;
use ikeway_pki::{
    Certificate, Identity, KeyKind, PkiError, PrivateKey, SUPPORTED_SIGNATURE_HASHES,
    SignatureHash, certificates_from_pem_or_der,
};
use rcgen::{CertificateParams, KeyPair, SignatureAlgorithm};

const OCTETS: &[u8] = b"RealMessage1 | Nr | prf(SK_pi, IDi')";

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A self-signed identity with a fresh key of `alg`.
fn identity(alg: &'static SignatureAlgorithm) -> Identity {
    let key = if alg == &rcgen::PKCS_RSA_SHA256 {
        KeyPair::generate_rsa_for(alg, rcgen::RsaKeySize::_2048).unwrap()
    } else {
        KeyPair::generate_for(alg).unwrap()
    };
    let cert = CertificateParams::new(vec!["peer.example.com".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Identity::from_pem_files_content(key.serialize_pem().as_bytes(), cert.pem().as_bytes()).unwrap()
}

fn all_kinds() -> Vec<(KeyKind, Identity)> {
    vec![
        (KeyKind::Rsa, identity(&rcgen::PKCS_RSA_SHA256)),
        (KeyKind::EcdsaP256, identity(&rcgen::PKCS_ECDSA_P256_SHA256)),
        (KeyKind::EcdsaP384, identity(&rcgen::PKCS_ECDSA_P384_SHA384)),
        (KeyKind::EcdsaP521, identity(&rcgen::PKCS_ECDSA_P521_SHA512)),
        (KeyKind::Ed25519, identity(&rcgen::PKCS_ED25519)),
    ]
}

fn public(id: &Identity) -> ikeway_pki::PublicKey {
    id.chain()[0].public_key().unwrap()
}

/// The AlgorithmIdentifier of a method-14 AUTH payload.
fn algorithm_identifier(auth: &[u8]) -> &[u8] {
    &auth[1..1 + usize::from(auth[0])]
}

#[test]
fn every_key_kind_signs_method_14_and_verifies() {
    let expected_alg: [(KeyKind, &str); 5] = [
        (KeyKind::Rsa, "300d06092a864886f70d01010d0500"),
        (KeyKind::EcdsaP256, "300a06082a8648ce3d040302"),
        (KeyKind::EcdsaP384, "300a06082a8648ce3d040303"),
        (KeyKind::EcdsaP521, "300a06082a8648ce3d040304"),
        (KeyKind::Ed25519, "300506032b6570"),
    ];
    for ((kind, id), (k, alg)) in all_kinds().into_iter().zip(expected_alg) {
        assert_eq!((id.kind(), kind), (k, k));
        let (method, auth) = id.sign_auth(OCTETS, Some(&SUPPORTED_SIGNATURE_HASHES)).unwrap();
        assert_eq!(method, AuthMethod::DIGITAL_SIGNATURE, "{kind:?}");
        assert_eq!(hex::encode(algorithm_identifier(&auth)), alg, "{kind:?}");
        assert_eq!(public(&id).verify_auth(method, &auth, OCTETS), Ok(()), "{kind:?}");
    }
}

#[test]
fn rsa_uses_the_strongest_announced_sha2() {
    let id = identity(&rcgen::PKCS_RSA_SHA256);
    for (hashes, alg) in [
        (vec![SignatureHash::Sha256], "300d06092a864886f70d01010b0500"),
        (vec![SignatureHash::Sha256, SignatureHash::Sha384], "300d06092a864886f70d01010c0500"),
        (vec![SignatureHash::Sha1, SignatureHash::Sha512], "300d06092a864886f70d01010d0500"),
    ] {
        let (method, auth) = id.sign_auth(OCTETS, Some(&hashes)).unwrap();
        assert_eq!(hex::encode(algorithm_identifier(&auth)), alg);
        assert_eq!(public(&id).verify_auth(method, &auth, OCTETS), Ok(()));
    }
}

#[test]
fn ecdsa_signs_classic_methods_without_rfc7427() {
    for (alg, method, len) in [
        (&rcgen::PKCS_ECDSA_P256_SHA256, AuthMethod::ECDSA_SHA256_P256, 64),
        (&rcgen::PKCS_ECDSA_P384_SHA384, AuthMethod::ECDSA_SHA384_P384, 96),
        (&rcgen::PKCS_ECDSA_P521_SHA512, AuthMethod::ECDSA_SHA512_P521, 132),
    ] {
        let id = identity(alg);
        let (m, auth) = id.sign_auth(OCTETS, None).unwrap();
        assert_eq!((m, auth.len()), (method, len));
        assert_eq!(public(&id).verify_auth(m, &auth, OCTETS), Ok(()));
        // RFC 4754 §7: r||s of exactly the group size; one octet less is malformed.
        assert_eq!(public(&id).verify_auth(m, &auth[1..], OCTETS), Err(PkiError::MalformedAuth));
    }
}

#[test]
fn ecdsa_falls_back_to_its_classic_method_when_no_hash_fits() {
    let id = identity(&rcgen::PKCS_ECDSA_P256_SHA256);
    let (method, auth) = id.sign_auth(OCTETS, Some(&[SignatureHash::Sha384])).unwrap();
    assert_eq!((method, auth.len()), (AuthMethod::ECDSA_SHA256_P256, 64));
    assert_eq!(public(&id).verify_auth(method, &auth, OCTETS), Ok(()));
}

#[test]
fn refuses_to_sign_without_a_usable_method() {
    let rsa = identity(&rcgen::PKCS_RSA_SHA256);
    assert!(matches!(rsa.sign_auth(OCTETS, None), Err(PkiError::Unsupported(_))));
    assert_eq!(rsa.sign_auth(OCTETS, Some(&[SignatureHash::Sha1])), Err(PkiError::NoCommonHash));
    let ed = identity(&rcgen::PKCS_ED25519);
    assert!(matches!(ed.sign_auth(OCTETS, None), Err(PkiError::Unsupported(_))));
    assert_eq!(ed.sign_auth(OCTETS, Some(&[SignatureHash::Sha256])), Err(PkiError::NoCommonHash));
}

#[test]
fn rejects_tampered_signature_and_octets() {
    for (kind, id) in all_kinds() {
        let key = public(&id);
        let (method, auth) = id.sign_auth(OCTETS, Some(&SUPPORTED_SIGNATURE_HASHES)).unwrap();
        let mut sig_flipped = auth.clone();
        *sig_flipped.last_mut().unwrap() ^= 0x01;
        assert_eq!(
            key.verify_auth(method, &sig_flipped, OCTETS),
            Err(PkiError::BadSignature),
            "{kind:?}"
        );
        let mut octets = OCTETS.to_vec();
        octets[0] ^= 0x80;
        assert_eq!(
            key.verify_auth(method, &auth, &octets),
            Err(PkiError::BadSignature),
            "{kind:?}"
        );
    }
}

#[test]
fn rejects_signature_by_another_key() {
    for (alg, kind) in [
        (&rcgen::PKCS_RSA_SHA256, KeyKind::Rsa),
        (&rcgen::PKCS_ECDSA_P384_SHA384, KeyKind::EcdsaP384),
        (&rcgen::PKCS_ED25519, KeyKind::Ed25519),
    ] {
        let (signer, other) = (identity(alg), identity(alg));
        let (method, auth) = signer.sign_auth(OCTETS, Some(&SUPPORTED_SIGNATURE_HASHES)).unwrap();
        assert_eq!(
            public(&other).verify_auth(method, &auth, OCTETS),
            Err(PkiError::BadSignature),
            "{kind:?}"
        );
    }
}

#[test]
fn rejects_algorithm_of_another_key_kind() {
    let rsa = identity(&rcgen::PKCS_RSA_SHA256);
    let ec = identity(&rcgen::PKCS_ECDSA_P256_SHA256);
    let (method, auth) = rsa.sign_auth(OCTETS, Some(&SUPPORTED_SIGNATURE_HASHES)).unwrap();
    assert_eq!(public(&ec).verify_auth(method, &auth, OCTETS), Err(PkiError::AlgorithmMismatch));
    let (method, auth) = ec.sign_auth(OCTETS, Some(&SUPPORTED_SIGNATURE_HASHES)).unwrap();
    assert_eq!(public(&rsa).verify_auth(method, &auth, OCTETS), Err(PkiError::AlgorithmMismatch));
    // A classic method of another curve, and methods that are not signatures.
    let p384 = identity(&rcgen::PKCS_ECDSA_P384_SHA384);
    let (method, auth) = ec.sign_auth(OCTETS, None).unwrap();
    assert_eq!(public(&p384).verify_auth(method, &auth, OCTETS), Err(PkiError::MethodMismatch(9)));
    assert_eq!(
        public(&ec).verify_auth(AuthMethod::SHARED_KEY_MIC, &auth, OCTETS),
        Err(PkiError::MethodMismatch(2))
    );
    assert_eq!(
        public(&ec).verify_auth(AuthMethod::RSA_SIG, &auth, OCTETS),
        Err(PkiError::MethodMismatch(1))
    );
}

#[test]
fn rejects_sha1_in_method_14() {
    // A genuine SHA-1 PKCS#1 v1.5 signature (see method_1_rsa_sha1_verifies) under the
    // sha1WithRSAEncryption AlgorithmIdentifier (RFC 7427 A.1.1): refused for the hash, before
    // any signature check.
    let cert = &certificates_from_pem_or_der(&data("rsa2048.crt.pem")).unwrap()[0];
    let sig = hex::decode(String::from_utf8(data("rsa2048-method1-sha1.sig.hex")).unwrap().trim())
        .unwrap();
    let alg = hex::decode("300d06092a864886f70d0101050500").unwrap();
    let mut auth = vec![u8::try_from(alg.len()).unwrap()];
    auth.extend_from_slice(&alg);
    auth.extend_from_slice(&sig);
    assert_eq!(
        cert.public_key().unwrap().verify_auth(
            AuthMethod::DIGITAL_SIGNATURE,
            &auth,
            METHOD1_OCTETS
        ),
        Err(PkiError::HashNotAllowed)
    );
}

/// What `rsa2048-method1-sha1.sig.hex` signs; made with (OpenSSL 3.0):
/// `printf 'ikeway method 1 test octets (RFC 7296 2.15)' > m1.txt;
///  openssl dgst -sha1 -sign rsa2048.key.pem m1.txt | xxd -p | tr -d '\n'`
const METHOD1_OCTETS: &[u8] = b"ikeway method 1 test octets (RFC 7296 2.15)";

/// Method 1 (RSA Digital Signature, SHA-1 by convention) is verified; aws-lc-rs cannot make
/// such a signature, so it comes from OpenSSL.
#[test]
fn method_1_rsa_sha1_verifies() {
    let cert = &certificates_from_pem_or_der(&data("rsa2048.crt.pem")).unwrap()[0];
    let key = cert.public_key().unwrap();
    let sig = hex::decode(String::from_utf8(data("rsa2048-method1-sha1.sig.hex")).unwrap().trim())
        .unwrap();
    assert_eq!(key.verify_auth(AuthMethod::RSA_SIG, &sig, METHOD1_OCTETS), Ok(()));
    assert_eq!(
        key.verify_auth(AuthMethod::RSA_SIG, &sig, b"other octets"),
        Err(PkiError::BadSignature)
    );
}

#[test]
fn rejects_malformed_method_14_data() {
    let id = identity(&rcgen::PKCS_ECDSA_P256_SHA256);
    let key = public(&id);
    let (method, auth) = id.sign_auth(OCTETS, Some(&[SignatureHash::Sha256])).unwrap();
    // No data, a zero length, a length past the end, and an AlgorithmIdentifier with no
    // signature after it.
    for bad in [vec![], vec![0u8, 0x30], vec![0xff; 20], auth[..=usize::from(auth[0])].to_vec()] {
        assert_eq!(
            key.verify_auth(method, &bad, OCTETS),
            Err(PkiError::MalformedAuth),
            "{bad:02x?}"
        );
    }
}

#[test]
fn loads_pkcs8_pkcs1_and_sec1_keys() {
    let pkcs8 = PrivateKey::from_pem(&data("rsa2048.key.pem")).unwrap();
    let pkcs1 = PrivateKey::from_pem(&data("rsa2048.pkcs1.pem")).unwrap();
    assert_eq!((pkcs8.kind(), pkcs1.kind()), (KeyKind::Rsa, KeyKind::Rsa));
    assert_eq!(pkcs8.public_key(), pkcs1.public_key());
    let ec8 = PrivateKey::from_pem(&data("p384.key.pem")).unwrap();
    let sec1 = PrivateKey::from_pem(&data("p384.sec1.pem")).unwrap();
    assert_eq!((ec8.kind(), sec1.kind()), (KeyKind::EcdsaP384, KeyKind::EcdsaP384));
    assert_eq!(ec8.public_key(), sec1.public_key());
    // The same keys as DER.
    let der = |pem: &[u8]| {
        let text = String::from_utf8(pem.to_vec()).unwrap();
        let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
        base64_decode(&b64)
    };
    for (pem, kind) in [
        ("rsa2048.key.pem", KeyKind::Rsa),
        ("rsa2048.pkcs1.pem", KeyKind::Rsa),
        ("p384.key.pem", KeyKind::EcdsaP384),
        ("p384.sec1.pem", KeyKind::EcdsaP384),
    ] {
        assert_eq!(PrivateKey::from_der(&der(&data(pem))).unwrap().kind(), kind, "{pem}");
    }
    // Each key signs with its certificate (SEC1 ECDSA keys included).
    let ec_id =
        Identity::new(sec1, certificates_from_pem_or_der(&data("p384.crt.pem")).unwrap()).unwrap();
    let (method, auth) = ec_id.sign_auth(OCTETS, Some(&SUPPORTED_SIGNATURE_HASHES)).unwrap();
    assert_eq!(public(&ec_id).verify_auth(method, &auth, OCTETS), Ok(()));
    let rsa_id =
        Identity::new(pkcs1, certificates_from_pem_or_der(&data("rsa2048.crt.pem")).unwrap())
            .unwrap();
    let (method, auth) = rsa_id.sign_auth(OCTETS, Some(&SUPPORTED_SIGNATURE_HASHES)).unwrap();
    assert_eq!(public(&rsa_id).verify_auth(method, &auth, OCTETS), Ok(()));
}

#[test]
fn rejects_keys_that_are_not_keys() {
    assert_eq!(PrivateKey::from_pem(b"not pem").unwrap_err(), PkiError::MalformedKey);
    assert_eq!(
        PrivateKey::from_der(&[0x30, 0x03, 0x02, 0x01, 0x00]).unwrap_err(),
        PkiError::MalformedKey
    );
    assert_eq!(PrivateKey::from_der(&[]).unwrap_err(), PkiError::MalformedKey);
    // A certificate is no key.
    assert_eq!(PrivateKey::from_pem(&data("rsa2048.crt.pem")).unwrap_err(), PkiError::MalformedKey);
    // An encrypted key is named as such (made with `openssl pkey -aes256`, data/SOURCES.md).
    assert_eq!(
        PrivateKey::from_pem(&data("p384.encrypted.pem")).unwrap_err(),
        PkiError::Unsupported(
            "encrypted PEM private keys: decrypt it (openssl pkey) or use PKCS#12"
        )
    );
}

#[test]
fn identity_key_must_match_the_certificate() {
    let rsa_cert = certificates_from_pem_or_der(&data("rsa2048.crt.pem")).unwrap();
    let ec_key = PrivateKey::from_pem(&data("p384.key.pem")).unwrap();
    assert_eq!(Identity::new(ec_key, rsa_cert.clone()).unwrap_err(), PkiError::KeyMismatch);
    // Another RSA key than the certificate's.
    let other =
        KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048).unwrap();
    let other = PrivateKey::from_pem(other.serialize_pem().as_bytes()).unwrap();
    assert_eq!(Identity::new(other, rsa_cert).unwrap_err(), PkiError::KeyMismatch);
    let key = PrivateKey::from_pem(&data("rsa2048.key.pem")).unwrap();
    assert_eq!(Identity::new(key, Vec::<Certificate>::new()).unwrap_err(), PkiError::NoCertificate);
}

#[test]
fn debug_prints_no_key_material() {
    let key = PrivateKey::from_pem(&data("p384.key.pem")).unwrap();
    let text = format!("{key:?}");
    assert_eq!(text, "PrivateKey { kind: EcdsaP384, .. }");
    let id =
        Identity::new(key, certificates_from_pem_or_der(&data("p384.crt.pem")).unwrap()).unwrap();
    let text = format!("{id:?}");
    assert!(text.contains("PrivateKey { kind: EcdsaP384, .. }"), "{text}");
}

/// Standard base64 (the test files' PEM bodies), so the DER forms need no extra crate.
fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The `hash HEX sig HEX` lines of `rsa2048-ikev1.kat` (OpenSSL's signatures, SOURCES.md).
fn ikev1_rsa_vectors() -> Vec<(Vec<u8>, Vec<u8>)> {
    let text = String::from_utf8(data("rsa2048-ikev1.kat")).unwrap();
    let vectors: Vec<_> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            ["hash", h, "sig", s] => (hex::decode(h).unwrap(), hex::decode(s).unwrap()),
            _ => panic!("bad line {l:?}"),
        })
        .collect();
    assert_eq!(vectors.iter().map(|(h, _)| h.len()).collect::<Vec<_>>(), [20, 32]);
    vectors
}

fn rsa2048_identity() -> Identity {
    Identity::from_pem_files_content(&data("rsa2048.key.pem"), &data("rsa2048.crt.pem")).unwrap()
}

/// IKEv1 RSA signatures (RFC 2409 §5.1): PKCS#1 v1.5 over the bare hash. OpenSSL's signatures
/// verify, and ours are the same bytes (PKCS#1 v1.5 is deterministic).
#[test]
fn ikev1_rsa_signatures_match_openssl_byte_for_byte() {
    let id = rsa2048_identity();
    let key = public(&id);
    for (hash, sig) in ikev1_rsa_vectors() {
        assert_eq!(key.verify_ikev1(&hash, &sig), Ok(()));
        assert_eq!(id.sign_ikev1(&hash).unwrap(), sig, "hash {}", hex::encode(&hash));
        let mut forged = hash.clone();
        forged[0] ^= 1;
        assert_eq!(key.verify_ikev1(&forged, &sig), Err(PkiError::BadSignature));
        let mut bad = sig.clone();
        bad[100] ^= 1;
        assert_eq!(key.verify_ikev1(&hash, &bad), Err(PkiError::BadSignature));
        assert_eq!(key.verify_ikev1(&hash, &sig[1..]), Err(PkiError::BadSignature));
    }
}

#[test]
fn ikev1_rsa_refuses_what_is_no_phase_1_hash_and_other_keys_signatures() {
    let id = rsa2048_identity();
    let key = public(&id);
    let (hash, sig) = ikev1_rsa_vectors().remove(0);
    // A 16-byte (MD5) or 33-byte "hash" is neither signed nor checked.
    for len in [0, 16, 33, 65] {
        assert_eq!(id.sign_ikev1(&vec![7; len]), Err(PkiError::HashNotAllowed), "{len}");
        assert_eq!(key.verify_ikev1(&vec![7; len], &sig), Err(PkiError::HashNotAllowed));
    }
    // A PKCS#1 signature with a DigestInfo (what IKEv2 method 1 makes) is not an IKEv1 one.
    let other = identity(&rcgen::PKCS_RSA_SHA256);
    let theirs = other.sign_ikev1(&hash).unwrap();
    assert_eq!(key.verify_ikev1(&hash, &theirs), Err(PkiError::BadSignature));
    assert_eq!(public(&other).verify_ikev1(&hash, &theirs), Ok(()));
    // A 1024-bit key is refused before any arithmetic.
    let small = ikeway_pki::PublicKey::from_spki_der(&data("rsa1024.spki.der")).unwrap();
    assert_eq!(
        small.verify_ikev1(&hash, &sig[..128]),
        Err(PkiError::Unsupported("RSA keys outside 2048-8192 bits"))
    );
    // Ed25519 has no IKEv1 method.
    let ed = identity(&rcgen::PKCS_ED25519);
    assert_eq!(
        ed.sign_ikev1(&hash),
        Err(PkiError::Unsupported("IKEv1 signatures with Ed25519 keys"))
    );
}
