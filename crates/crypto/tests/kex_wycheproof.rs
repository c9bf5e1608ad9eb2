//! Wycheproof X25519 and ECDH (ecpoint encoding) vectors, every case on every backend.
//!
//! - `valid`: both backends must compute `shared`.
//! - `invalid`: must be rejected.
//! - `acceptable`: our choice, asserted here:
//!   - X25519 cases flagged `ZeroSharedSecret` (low-order public values) are rejected with
//!     `InvalidPublicValue`, as RFC 8031 §2.1 requires for IKEv2;
//!   - other X25519 `acceptable` cases (twist points, non-canonical u >= p) are accepted and
//!     must give `shared`: RFC 7748 §5 masks the top bit and reduces u mod p;
//!   - ECDH compressed points are rejected: the IKEv2 KE data for groups 19/20 is x || y
//!     (RFC 5903 §7), so a 33- or 49-byte value fails the length check.

use ikeway_crypto::{CryptoError, KexBackend, KexGroup, KeyExchange};
use serde_json::Value;

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex field is a string")).expect("hex field decodes")
}

#[derive(Debug, Default)]
struct Tally {
    valid: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
    invalid: usize,
}

fn flagged(t: &Value, flag: &str) -> bool {
    t["flags"].as_array().is_some_and(|f| f.iter().any(|x| x == flag))
}

#[test]
fn wycheproof_x25519() {
    let file: Value =
        serde_json::from_str(include_str!("data/wycheproof_x25519_test.json")).unwrap();
    let mut tally = Tally::default();
    for g in file["testGroups"].as_array().unwrap() {
        for t in g["tests"].as_array().unwrap() {
            let id = &t["tcId"];
            let private = unhex(&t["private"]);
            let public = unhex(&t["public"]);
            let shared = unhex(&t["shared"]);
            let result = t["result"].as_str().unwrap();
            let reject = result == "invalid" || flagged(t, "ZeroSharedSecret");
            for backend in KexBackend::ALL {
                let k = KeyExchange::from_private_bytes(KexGroup::Curve25519, backend, &private)
                    .unwrap();
                let got = k.shared_secret(&public);
                if reject {
                    assert_eq!(
                        got.unwrap_err(),
                        CryptoError::InvalidPublicValue,
                        "tc {id} {backend:?}"
                    );
                } else {
                    assert_eq!(got.unwrap().expose(), &shared[..], "tc {id} {backend:?} {result}");
                }
            }
            match (result, reject) {
                ("valid", false) => tally.valid += 1,
                ("acceptable", false) => tally.acceptable_accepted += 1,
                ("acceptable", true) => tally.acceptable_rejected += 1,
                ("invalid", true) => tally.invalid += 1,
                other => panic!("tc {id}: unexpected {other:?}"),
            }
        }
    }
    assert_eq!(
        tally.valid + tally.acceptable_accepted + tally.acceptable_rejected + tally.invalid,
        518,
        "{tally:?}"
    );
    // 264 valid; of the 254 acceptable, the 31 low-order (ZeroSharedSecret) ones are rejected.
    assert_eq!(
        (tally.valid, tally.acceptable_accepted, tally.acceptable_rejected),
        (264, 223, 31),
        "{tally:?}"
    );
}

/// The IKE form x || y of a Wycheproof SEC1 public key, or the bytes unchanged when they are
/// not an uncompressed point (those fail our length check, as they would on the wire).
fn ike_public(sec1: &[u8], group: KexGroup) -> Vec<u8> {
    if sec1.len() == group.public_len() + 1 && sec1[0] == 0x04 {
        sec1[1..].to_vec()
    } else {
        sec1.to_vec()
    }
}

/// Wycheproof private keys are minimal big-endian integers (sometimes with a 0x00 sign byte);
/// the API takes exactly `private_len` bytes.
fn fixed_private(raw: &[u8], len: usize) -> Vec<u8> {
    let trimmed: Vec<u8> = raw.iter().copied().skip_while(|&b| b == 0).collect();
    assert!(trimmed.len() <= len);
    let mut out = vec![0; len - trimmed.len()];
    out.extend_from_slice(&trimmed);
    out
}

fn run_ecdh(text: &str, group: KexGroup, total: usize) -> Tally {
    let file: Value = serde_json::from_str(text).unwrap();
    let mut tally = Tally::default();
    for g in file["testGroups"].as_array().unwrap() {
        for t in g["tests"].as_array().unwrap() {
            let id = &t["tcId"];
            let private = fixed_private(&unhex(&t["private"]), group.private_len());
            let public = ike_public(&unhex(&t["public"]), group);
            let shared = unhex(&t["shared"]);
            let result = t["result"].as_str().unwrap();
            let mut outcomes = Vec::new();
            for backend in KexBackend::ALL {
                let k = KeyExchange::from_private_bytes(group, backend, &private).unwrap();
                let got = k.shared_secret(&public);
                match result {
                    "valid" => assert_eq!(
                        got.as_ref().unwrap().expose(),
                        &shared[..],
                        "tc {id} {backend:?}"
                    ),
                    _ => {
                        let err = got.as_ref().unwrap_err();
                        // Uncompressed points off the curve fail validation; everything else
                        // (compressed, empty) fails the length check.
                        let expected = if public.len() == group.public_len() {
                            CryptoError::InvalidPublicValue
                        } else {
                            CryptoError::PublicValueLength {
                                expected: group.public_len(),
                                got: public.len(),
                            }
                        };
                        assert_eq!(*err, expected, "tc {id} {backend:?} {result}");
                    }
                }
                outcomes.push(got.map(|s| s.expose().to_vec()));
            }
            assert_eq!(outcomes[0], outcomes[1], "tc {id}: backends disagree");
            match result {
                "valid" => tally.valid += 1,
                "acceptable" => tally.acceptable_rejected += 1,
                _ => tally.invalid += 1,
            }
        }
    }
    assert_eq!(tally.valid + tally.acceptable_rejected + tally.invalid, total, "{tally:?}");
    tally
}

#[test]
fn wycheproof_ecdh_p256() {
    let tally = run_ecdh(
        include_str!("data/wycheproof_ecdh_secp256r1_ecpoint_test.json"),
        KexGroup::Ecp256,
        355,
    );
    assert_eq!((tally.valid, tally.acceptable_rejected, tally.invalid), (330, 1, 24), "{tally:?}");
}

#[test]
fn wycheproof_ecdh_p384() {
    let tally = run_ecdh(
        include_str!("data/wycheproof_ecdh_secp384r1_ecpoint_test.json"),
        KexGroup::Ecp384,
        790,
    );
    assert_eq!((tally.valid, tally.acceptable_rejected, tally.invalid), (771, 1, 18), "{tally:?}");
}
