//! Wycheproof ML-KEM-768 and ML-KEM-1024 vectors (a subset, `data/SOURCES.md`), on both
//! backends wherever the backend takes the inputs:
//!
//! - key generation from the seed d || z and encapsulation from m are deterministic only on
//!   RustCrypto `ml-kem`, so those known answers run there;
//! - aws-lc-rs cannot be seeded, so it decapsulates from the expanded key dk (the vector's,
//!   or the one FIPS 203 key generation expands the seed to, which the key-generation vectors
//!   pin) and must give the vector's K, implicit rejection included; its own encapsulations to
//!   the vectors' keys must decapsulate to the same secret;
//! - every `invalid` case is rejected with the error the module documents.

use ikeway_crypto::kem::{self, KemAlgorithm, KemDecapsulator};
use ikeway_crypto::{CryptoError, KexBackend};
use serde_json::Value;

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex field is a string")).expect("hex field decodes")
}

fn tests(file: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(file).unwrap();
    v["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["tests"].as_array().unwrap().clone())
        .collect()
}

fn comment(t: &Value) -> &str {
    t["comment"].as_str().unwrap_or("")
}

/// FIPS 203 `ML-KEM.KeyGen_internal` expanded to dk, by `ml-kem` (its own code, not ours):
/// the form aws-lc-rs loads. [`keygen_from_seed`] checks it against the vectors' dk.
#[allow(deprecated)]
fn expanded_dk(alg: KemAlgorithm, seed: &[u8]) -> Vec<u8> {
    use ml_kem::{ExpandedKeyEncoding, MlKem768, MlKem1024};
    let seed = ml_kem::Seed::try_from(seed).unwrap();
    match alg {
        KemAlgorithm::MlKem768 => {
            ml_kem::DecapsulationKey::<MlKem768>::from_seed(seed).to_expanded_bytes().to_vec()
        }
        _ => ml_kem::DecapsulationKey::<MlKem1024>::from_seed(seed).to_expanded_bytes().to_vec(),
    }
}

struct Files {
    alg: KemAlgorithm,
    decaps: &'static str,
    encaps: &'static str,
    keygen: &'static str,
    expanded: &'static str,
}

const FILES: [Files; 2] = [
    Files {
        alg: KemAlgorithm::MlKem768,
        decaps: include_str!("data/wycheproof_mlkem_768_test.json"),
        encaps: include_str!("data/wycheproof_mlkem_768_encaps_test.json"),
        keygen: include_str!("data/wycheproof_mlkem_768_keygen_seed_test.json"),
        expanded: include_str!("data/wycheproof_mlkem_768_semi_expanded_decaps_test.json"),
    },
    Files {
        alg: KemAlgorithm::MlKem1024,
        decaps: include_str!("data/wycheproof_mlkem_1024_test.json"),
        encaps: include_str!("data/wycheproof_mlkem_1024_encaps_test.json"),
        keygen: include_str!("data/wycheproof_mlkem_1024_keygen_seed_test.json"),
        expanded: include_str!("data/wycheproof_mlkem_1024_semi_expanded_decaps_test.json"),
    },
];

#[test]
fn keygen_from_seed() {
    for f in FILES {
        let cases = tests(f.keygen);
        assert_eq!(cases.len(), 2);
        for t in &cases {
            let id = &t["tcId"];
            let (seed, ek, dk) = (unhex(&t["seed"]), unhex(&t["ek"]), unhex(&t["dk"]));
            let ours = KemDecapsulator::from_seed(f.alg, &seed).unwrap();
            assert_eq!(ours.encapsulation_key(), &ek[..], "{} tc {id}", f.alg);
            assert_eq!(expanded_dk(f.alg, &seed), dk, "{} tc {id}", f.alg);
            // The vector's dk loads on both backends and carries the same ek.
            for backend in KexBackend::ALL {
                let loaded = KemDecapsulator::from_expanded(f.alg, backend, &dk).unwrap();
                assert_eq!(loaded.encapsulation_key(), &ek[..], "{} tc {id} {backend:?}", f.alg);
                // Either backend encapsulates to it; the seeded key decapsulates that.
                let answer = kem::encapsulate(f.alg, backend, &ek, &mut |b| b.fill(9)).unwrap();
                assert_eq!(
                    ours.decapsulate(&answer.ciphertext).unwrap().expose(),
                    answer.shared_secret.expose(),
                    "{} tc {id} {backend:?}",
                    f.alg
                );
            }
        }
    }
}

#[test]
fn decapsulation_including_implicit_rejection() {
    for f in FILES {
        let (mut valid, mut rejected_implicitly, mut invalid) = (0, 0, 0);
        for t in tests(f.decaps) {
            let id = &t["tcId"];
            let seed = unhex(&t["seed"]);
            let c = unhex(&t["c"]);
            match t["result"].as_str().unwrap() {
                "valid" => {
                    let k = unhex(&t["K"]);
                    let ours = KemDecapsulator::from_seed(f.alg, &seed).unwrap();
                    assert_eq!(ours.encapsulation_key(), &unhex(&t["ek"])[..], "tc {id}");
                    assert_eq!(ours.decapsulate(&c).unwrap().expose(), &k[..], "tc {id}");
                    let dk = expanded_dk(f.alg, &seed);
                    let aws =
                        KemDecapsulator::from_expanded(f.alg, KexBackend::AwsLc, &dk).unwrap();
                    assert_eq!(aws.decapsulate(&c).unwrap().expose(), &k[..], "tc {id} aws-lc");
                    valid += 1;
                    let c = comment(&t);
                    if c.starts_with("Random ciphertext") || c.starts_with("Bit flipped") {
                        rejected_implicitly += 1;
                    }
                }
                "invalid" if comment(&t).starts_with("Private key") => {
                    // The seed d || z has the wrong length.
                    assert_eq!(
                        KemDecapsulator::from_seed(f.alg, &seed).unwrap_err(),
                        CryptoError::InvalidPrivateKey,
                        "tc {id}"
                    );
                    invalid += 1;
                }
                "invalid" => {
                    let dk = expanded_dk(f.alg, &seed);
                    for backend in KexBackend::ALL {
                        let key = KemDecapsulator::from_expanded(f.alg, backend, &dk).unwrap();
                        assert_eq!(
                            key.decapsulate(&c).unwrap_err(),
                            CryptoError::PublicValueLength {
                                expected: f.alg.ciphertext_len(),
                                got: c.len()
                            },
                            "tc {id} {backend:?}"
                        );
                    }
                    invalid += 1;
                }
                other => panic!("tc {id}: unexpected result {other}"),
            }
        }
        assert_eq!((valid, rejected_implicitly, invalid), (8, 4, 4), "{}", f.alg);
    }
}

#[test]
fn encapsulation_and_the_modulus_check() {
    for f in FILES {
        let keygen = tests(f.keygen);
        let (mut valid, mut cross_checked, mut modulus, mut length) = (0, 0, 0, 0);
        for t in tests(f.encaps) {
            let id = &t["tcId"];
            let ek = unhex(&t["ek"]);
            let m: [u8; 32] = unhex(&t["m"]).try_into().unwrap();
            if t["result"] == "valid" {
                let answer = kem::encapsulate_deterministic(f.alg, &ek, &m).unwrap();
                assert_eq!(answer.ciphertext, unhex(&t["c"]), "tc {id}");
                assert_eq!(answer.shared_secret.expose(), &unhex(&t["K"])[..], "tc {id}");
                valid += 1;
                // Where the key's seed is known, aws-lc-rs's own encapsulation must agree.
                if let Some(k) = keygen.iter().find(|k| unhex(&k["ek"]) == ek) {
                    let ours = KemDecapsulator::from_seed(f.alg, &unhex(&k["seed"])).unwrap();
                    let aws = kem::encapsulate(f.alg, KexBackend::AwsLc, &ek, &mut |_| {}).unwrap();
                    assert_eq!(
                        ours.decapsulate(&aws.ciphertext).unwrap().expose(),
                        aws.shared_secret.expose(),
                        "tc {id}"
                    );
                    cross_checked += 1;
                }
                continue;
            }
            let expected = if ek.len() == f.alg.encapsulation_key_len() {
                modulus += 1;
                CryptoError::InvalidPublicValue
            } else {
                length += 1;
                CryptoError::PublicValueLength {
                    expected: f.alg.encapsulation_key_len(),
                    got: ek.len(),
                }
            };
            assert_eq!(f.alg.check_encapsulation_key(&ek).unwrap_err(), expected, "tc {id}");
            assert_eq!(
                kem::encapsulate_deterministic(f.alg, &ek, &m).unwrap_err(),
                expected,
                "tc {id}"
            );
            for backend in KexBackend::ALL {
                assert_eq!(
                    kem::encapsulate(f.alg, backend, &ek, &mut |b| b.fill(1)).unwrap_err(),
                    expected,
                    "tc {id} {backend:?}"
                );
            }
        }
        assert_eq!((valid, cross_checked, modulus, length), (5, 2, 5, 2), "{}", f.alg);
    }
}

#[test]
fn expanded_decapsulation_keys() {
    for f in FILES {
        let mut seen = 0;
        for t in tests(f.expanded) {
            let id = &t["tcId"];
            let dk = unhex(&t["dk"]);
            let c = unhex(&t["c"]);
            let what = comment(&t);
            for backend in KexBackend::ALL {
                let loaded = KemDecapsulator::from_expanded(f.alg, backend, &dk);
                if what.contains("corrupted") {
                    // FIPS 203 §7.3 hash check: H(ek) inside dk must match ek.
                    assert_eq!(
                        loaded.unwrap_err(),
                        CryptoError::InvalidPrivateKey,
                        "tc {id} {backend:?}"
                    );
                    continue;
                }
                let key = loaded.unwrap();
                assert_eq!(key.encapsulation_key(), &unhex(&t["ek"])[..], "tc {id} {backend:?}");
                if what.starts_with("Ciphertext too short") {
                    assert!(
                        matches!(
                            key.decapsulate(&c).unwrap_err(),
                            CryptoError::PublicValueLength { .. }
                        ),
                        "tc {id} {backend:?}"
                    );
                } else {
                    assert_eq!(t["result"], "valid", "tc {id}");
                    assert_eq!(
                        key.decapsulate(&c).unwrap().expose(),
                        &unhex(&t["K"])[..],
                        "tc {id} {backend:?}"
                    );
                }
            }
            seen += 1;
        }
        assert_eq!(seen, 5, "{}", f.alg);
    }
}
