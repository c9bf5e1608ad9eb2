//! Known-answer tests for the IKEv2 key-exchange groups, run on every backend.
//!
//! Vectors are copies in `tests/data/` (see `SOURCES.md`).

use ikeway_crypto::{CryptoError, KexBackend, KexGroup, KeyExchange};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("test vector files are valid JSON")
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex field is a string")).expect("hex field decodes")
}

/// The field of `v` whose name starts with `prefix` (the KAT file annotates names, e.g.
/// `pub_i (KE data = x||y)`).
fn field<'a>(v: &'a Value, prefix: &str) -> &'a Value {
    v.as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v))
        .unwrap_or_else(|| panic!("vector {} has no field {prefix}", v["id"]))
}

#[test]
fn ike_key_exchange_kats() {
    let file = json(include_str!("data/ike_key_exchange_kat.json"));
    let mut run = 0;
    for v in file["vectors"].as_array().unwrap() {
        let id = v["ike_group"].as_u64().unwrap() as u16;
        let Some(group) = KexGroup::from_iana_id(id) else {
            // Groups 1, 2, 5, 17, 18, 21, 25, 26 are in the file but not implemented.
            assert!(matches!(id, 1 | 2 | 5 | 17 | 18 | 21 | 25 | 26), "unexpected group {id}");
            continue;
        };
        let (priv_i, priv_r) = if group.modp_prime().is_some() {
            (unhex(field(v, "x_i")), unhex(field(v, "x_r")))
        } else {
            (unhex(field(v, "priv_i")), unhex(field(v, "priv_r")))
        };
        let pub_i = unhex(field(v, "pub_i"));
        let pub_r = unhex(field(v, "pub_r"));
        let shared = unhex(field(v, "shared"));
        assert_eq!(pub_i.len(), group.public_len(), "{}", v["id"]);
        assert_eq!(shared.len(), group.shared_secret_len(), "{}", v["id"]);
        for backend in KexBackend::ALL {
            let i = KeyExchange::from_private_bytes(group, backend, &priv_i).unwrap();
            let r = KeyExchange::from_private_bytes(group, backend, &priv_r).unwrap();
            assert_eq!(i.public_value(), &pub_i[..], "{} {backend:?} pub_i", v["id"]);
            assert_eq!(r.public_value(), &pub_r[..], "{} {backend:?} pub_r", v["id"]);
            assert_eq!(
                i.shared_secret(&pub_r).unwrap().expose(),
                &shared[..],
                "{} {backend:?}",
                v["id"]
            );
            assert_eq!(
                r.shared_secret(&pub_i).unwrap().expose(),
                &shared[..],
                "{} {backend:?}",
                v["id"]
            );
            run += 1;
        }
    }
    // Groups 31 (two vectors), 19, 20, 14, 15, 16, on two backends.
    assert_eq!(run, 7 * 2);
}

#[test]
fn modp_primes_match_rfc3526() {
    let file = json(include_str!("data/modp_groups_rfc2409_rfc3526.json"));
    let mut checked = 0;
    for v in file["vectors"].as_array().unwrap() {
        let id = v["ike_group"].as_u64().unwrap() as u16;
        // IKEv1's lookup: the IKEv2 groups and the legacy MODP-1024 (group 2).
        let Some(group) = KexGroup::from_ikev1_id(id) else { continue };
        assert_eq!(v["generator"].as_u64(), Some(2));
        let prime = unhex(&v["prime_hex"]);
        assert_eq!(group.modp_prime().unwrap(), prime, "group {id}");
        assert_eq!(group.public_len() * 8, v["bits"].as_u64().unwrap() as usize);
        checked += 1;
    }
    assert_eq!(checked, 4);
}

/// IKE group 2 (MODP-1024, RFC 2409 §6.2), IKEv1 only: strongSwan's exchange in
/// `ike_key_exchange_kat.json` and two computed with Python's pow() from the RFC formula
/// (`modp1024_python_pow.json`, `modp1024_python_pow.py`), both directions.
#[test]
fn modp1024_legacy_ikev1_kats() {
    assert_eq!(KexGroup::from_iana_id(2), None, "IKEv2 never gets MODP-1024");
    let group = KexGroup::from_ikev1_id(2).expect("IKEv1 group 2");
    assert_eq!(
        (group.public_len(), group.shared_secret_len(), group.private_len()),
        (128, 128, 32)
    );
    let py = json(include_str!("data/modp1024_python_pow.json"));
    assert_eq!(group.modp_prime().unwrap(), unhex(&py["prime_hex"]));
    let sw = json(include_str!("data/ike_key_exchange_kat.json"));
    let vectors: Vec<&Value> = sw["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["ike_group"].as_u64() == Some(2))
        .chain(py["vectors"].as_array().unwrap())
        .collect();
    assert_eq!(vectors.len(), 3);
    for v in vectors {
        let i =
            KeyExchange::from_private_bytes(group, KexBackend::default(), &unhex(field(v, "x_i")))
                .unwrap();
        let r =
            KeyExchange::from_private_bytes(group, KexBackend::default(), &unhex(field(v, "x_r")))
                .unwrap();
        let (pub_i, pub_r) = (unhex(field(v, "pub_i")), unhex(field(v, "pub_r")));
        assert_eq!(i.public_value(), &pub_i[..], "{} pub_i", v["id"]);
        assert_eq!(r.public_value(), &pub_r[..], "{} pub_r", v["id"]);
        let shared = unhex(field(v, "shared"));
        assert_eq!(i.shared_secret(&pub_r).unwrap().expose(), &shared[..], "{}", v["id"]);
        assert_eq!(r.shared_secret(&pub_i).unwrap().expose(), &shared[..], "{}", v["id"]);
    }
    // RFC 6989's range check holds for this group too: 1 and p - 1 are refused.
    let k = KeyExchange::from_private_bytes(group, KexBackend::default(), &[7; 32]).unwrap();
    let mut one = vec![0u8; 128];
    one[127] = 1;
    assert_eq!(k.shared_secret(&one).unwrap_err(), CryptoError::InvalidPublicValue);
    let mut p_minus_one = group.modp_prime().unwrap();
    p_minus_one[127] -= 1;
    assert_eq!(k.shared_secret(&p_minus_one).unwrap_err(), CryptoError::InvalidPublicValue);
}

#[test]
fn x25519_rfc7748_single_step() {
    let file = json(include_str!("data/x25519_rfc7748.json"));
    let mut run = 0;
    for v in file["vectors"].as_array().unwrap() {
        if v.get("scalar").is_none() {
            continue;
        }
        for backend in KexBackend::ALL {
            let k = KeyExchange::from_private_bytes(
                KexGroup::Curve25519,
                backend,
                &unhex(&v["scalar"]),
            )
            .unwrap();
            let out = k.shared_secret(&unhex(&v["u"])).unwrap();
            assert_eq!(out.expose(), &unhex(&v["expected"])[..], "{} {backend:?}", v["id"]);
            run += 1;
        }
    }
    assert_eq!(run, 2 * 2);
}

/// RFC 7748 §5.2: k = u = 9; repeat k, u = X25519(k, u), k.
#[test]
fn x25519_rfc7748_iterated() {
    let file = json(include_str!("data/x25519_rfc7748.json"));
    for v in file["vectors"].as_array().unwrap() {
        let Some(iterations) = v.get("iterations").and_then(Value::as_u64) else { continue };
        for backend in KexBackend::ALL {
            let mut k = [0u8; 32];
            k[0] = 9;
            let mut u = k;
            for _ in 0..iterations {
                let key =
                    KeyExchange::from_private_bytes(KexGroup::Curve25519, backend, &k).unwrap();
                let out = key.shared_secret(&u).unwrap();
                u = k;
                k.copy_from_slice(out.expose());
            }
            assert_eq!(&k[..], &unhex(&v["expected"])[..], "{} {backend:?}", v["id"]);
        }
    }
}

fn counter_rng(seed: u64) -> impl FnMut(&mut [u8]) {
    // SplitMix64: enough to show that equal seeds give equal keys.
    let mut state = seed;
    move |buf: &mut [u8]| {
        for chunk in buf.chunks_mut(8) {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

#[test]
fn seeded_generation_is_reproducible_and_backends_agree() {
    for group in KexGroup::ALL {
        let a = KeyExchange::generate(group, KexBackend::AwsLc, &mut counter_rng(7)).unwrap();
        let b = KeyExchange::generate(group, KexBackend::RustCrypto, &mut counter_rng(7)).unwrap();
        let again = KeyExchange::generate(group, KexBackend::AwsLc, &mut counter_rng(7)).unwrap();
        assert_eq!(a.public_value(), b.public_value(), "{group}");
        assert_eq!(a.public_value(), again.public_value(), "{group}");
        assert_eq!(a.public_value().len(), group.public_len(), "{group}");
        let other =
            KeyExchange::generate(group, KexBackend::default(), &mut counter_rng(8)).unwrap();
        assert_ne!(a.public_value(), other.public_value(), "{group}");
    }
}

#[test]
fn both_sides_agree_across_backends() {
    for group in KexGroup::ALL {
        let i = KeyExchange::generate(group, KexBackend::AwsLc, &mut counter_rng(1)).unwrap();
        let r = KeyExchange::generate(group, KexBackend::RustCrypto, &mut counter_rng(2)).unwrap();
        let si = i.shared_secret(r.public_value()).unwrap();
        let sr = r.shared_secret(i.public_value()).unwrap();
        assert_eq!(si.expose(), sr.expose(), "{group}");
        assert_eq!(si.len(), group.shared_secret_len(), "{group}");
    }
}

#[test]
fn generate_draws_again_when_scalar_out_of_range() {
    // First draw all-ones (above the P-256 order), then a valid scalar.
    for backend in KexBackend::ALL {
        let mut draws = 0;
        let mut rng = |buf: &mut [u8]| {
            draws += 1;
            buf.fill(if draws == 1 { 0xff } else { 0x11 });
        };
        let k = KeyExchange::generate(KexGroup::Ecp256, backend, &mut rng).unwrap();
        let direct =
            KeyExchange::from_private_bytes(KexGroup::Ecp256, backend, &[0x11; 32]).unwrap();
        assert_eq!(k.public_value(), direct.public_value());
    }
}

#[test]
fn rejects_stuck_random_source() {
    for backend in KexBackend::ALL {
        let err =
            KeyExchange::generate(KexGroup::Ecp256, backend, &mut |b: &mut [u8]| b.fill(0xff))
                .unwrap_err();
        assert_eq!(err, CryptoError::InvalidPrivateKey);
        let err = KeyExchange::generate(KexGroup::Ecp384, backend, &mut |b: &mut [u8]| b.fill(0))
            .unwrap_err();
        assert_eq!(err, CryptoError::InvalidPrivateKey);
        let err = KeyExchange::generate(KexGroup::Modp2048, backend, &mut |b: &mut [u8]| b.fill(0))
            .unwrap_err();
        assert_eq!(err, CryptoError::InvalidPrivateKey);
    }
}
