//! Wycheproof signature vectors through the AUTH verification path (`PublicKey::verify_auth`).
//!
//! Each vector's signature is wrapped the way an IKEv2 peer would send it: DER ECDSA, Ed25519,
//! PKCS#1 v1.5 and PSS signatures as RFC 7427 method 14 (length octet, AlgorithmIdentifier,
//! signature); IEEE P1363 (r||s) ECDSA signatures as RFC 4754 methods 9, 10 and 11. The files
//! are trimmed copies (see `data/SOURCES.md` and `data/wycheproof/trim.py`).

use ikeway_codec::AuthMethod;
use ikeway_pki::{KeyKind, PublicKey};
use serde_json::Value;

/// AlgorithmIdentifiers of RFC 7427 Appendix A (A.1.2, A.3.2, A.4.3) and RFC 8420 §2.
const SHA256_WITH_RSA: &str = "300d06092a864886f70d01010b0500";
const ECDSA_WITH_SHA256: &str = "300a06082a8648ce3d040302";
const RSA_PSS_SHA256: &str = "3041\
    06092a864886f70d01010a\
    3034\
    a00f300d06096086480165030402010500\
    a11c301a06092a864886f70d010108300d06096086480165030402010500\
    a203020120";
const ED25519: &str = "300506032b6570";

/// How a file's signatures become an AUTH payload.
#[derive(Clone, Copy)]
enum Wrap {
    /// RFC 7427: this AlgorithmIdentifier (hex) before the signature.
    Method14(&'static str),
    /// The signature is the AUTH data of this classic method.
    Classic(AuthMethod),
}

struct Counts {
    valid: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_refused: usize,
}

/// Runs every vector of `file`; "valid" must verify, "invalid" must not. "acceptable"
/// vectors are counted and returned: the caller states what it expects of them.
fn run(file: &str, kind: KeyKind, wrap: Wrap) -> Counts {
    let path = format!("{}/tests/data/wycheproof/{file}", env!("CARGO_MANIFEST_DIR"));
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut counts = Counts { valid: 0, invalid: 0, acceptable_accepted: 0, acceptable_refused: 0 };
    for group in json["testGroups"].as_array().unwrap() {
        let spki = hex::decode(group["publicKeyDer"].as_str().unwrap()).unwrap();
        let key = PublicKey::from_spki_der(&spki).unwrap();
        assert_eq!(key.kind(), kind, "{file}: key kind");
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let msg = hex::decode(test["msg"].as_str().unwrap()).unwrap();
            let sig = hex::decode(test["sig"].as_str().unwrap()).unwrap();
            let (method, data) = match wrap {
                Wrap::Method14(alg) => {
                    let alg = hex::decode(alg).unwrap();
                    let mut data = vec![u8::try_from(alg.len()).unwrap()];
                    data.extend_from_slice(&alg);
                    data.extend_from_slice(&sig);
                    (AuthMethod::DIGITAL_SIGNATURE, data)
                }
                Wrap::Classic(method) => (method, sig),
            };
            let outcome = key.verify_auth(method, &data, &msg);
            match test["result"].as_str().unwrap() {
                "valid" => {
                    assert_eq!(
                        outcome,
                        Ok(()),
                        "{file} tcId {id} ({}) must verify",
                        test["comment"]
                    );
                    counts.valid += 1;
                }
                "invalid" => {
                    assert!(
                        outcome.is_err(),
                        "{file} tcId {id} ({}) must be refused",
                        test["comment"]
                    );
                    counts.invalid += 1;
                }
                "acceptable" if outcome.is_ok() => counts.acceptable_accepted += 1,
                "acceptable" => counts.acceptable_refused += 1,
                other => panic!("{file} tcId {id}: unknown result {other}"),
            }
        }
    }
    counts
}

/// Asserts the numbers of vectors run, so a file that lost its tests fails.
fn assert_counts(c: &Counts, valid: usize, invalid: usize) {
    assert_eq!((c.valid, c.invalid), (valid, invalid));
}

#[test]
fn ecdsa_p256_sha256_der_as_method_14() {
    let c = run(
        "ecdsa_secp256r1_sha256_test.json",
        KeyKind::EcdsaP256,
        Wrap::Method14(ECDSA_WITH_SHA256),
    );
    assert_counts(&c, 70, 66);
}

#[test]
fn ecdsa_p256_sha256_p1363_as_method_9() {
    let c = run(
        "ecdsa_secp256r1_sha256_p1363_test.json",
        KeyKind::EcdsaP256,
        Wrap::Classic(AuthMethod::ECDSA_SHA256_P256),
    );
    assert_counts(&c, 66, 65);
}

#[test]
fn ecdsa_p384_sha384_p1363_as_method_10() {
    let c = run(
        "ecdsa_secp384r1_sha384_p1363_test.json",
        KeyKind::EcdsaP384,
        Wrap::Classic(AuthMethod::ECDSA_SHA384_P384),
    );
    assert_counts(&c, 75, 66);
}

#[test]
fn ecdsa_p521_sha512_p1363_as_method_11() {
    let c = run(
        "ecdsa_secp521r1_sha512_p1363_test.json",
        KeyKind::EcdsaP521,
        Wrap::Classic(AuthMethod::ECDSA_SHA512_P521),
    );
    assert_counts(&c, 75, 66);
}

#[test]
fn ed25519_as_method_14() {
    let c = run("ed25519_test.json", KeyKind::Ed25519, Wrap::Method14(ED25519));
    assert_counts(&c, 23, 61);
}

#[test]
fn rsa_pkcs1_sha256_as_method_14() {
    let c =
        run("rsa_signature_2048_sha256_test.json", KeyKind::Rsa, Wrap::Method14(SHA256_WITH_RSA));
    assert_counts(&c, 9, 65);
    // The one "acceptable" vector (tcId 8) omits the NULL parameters of the DigestInfo hash
    // algorithm. aws-lc-rs builds the expected DigestInfo with the NULL and compares, so it
    // refuses the signature: we accept only the canonical PKCS#1 v1.5 encoding.
    assert_eq!((c.acceptable_accepted, c.acceptable_refused), (0, 1));
}

#[test]
fn rsa_pss_sha256_mgf1_32_as_method_14() {
    let c =
        run("rsa_pss_2048_sha256_mgf1_32_test.json", KeyKind::Rsa, Wrap::Method14(RSA_PSS_SHA256));
    assert_counts(&c, 63, 45);
}
