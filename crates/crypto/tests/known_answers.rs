//! Known-answer tests: our PRFs, prf+, key schedule and transforms against vectors published
//! by RFCs, NIST CAVP and other IKE stacks (see `tests/data/SOURCES.md`).

use ikeway_crypto::{AeadAlgorithm, AeadBackend, BlockCipher, Integrity, Prf, SaltedAead, keys};
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).expect("vector file is JSON");
    doc["vectors"].as_array().expect("vectors array").clone()
}

fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    let s = v[key].as_str().unwrap_or_else(|| panic!("{} lacks {key}", v["id"]));
    hex::decode(s).expect("hex field")
}

fn prf_named(name: &str) -> Prf {
    match name {
        "PRF_HMAC_SHA1" => Prf::HmacSha1,
        "PRF_HMAC_SHA2_256" => Prf::HmacSha256,
        "PRF_HMAC_SHA2_384" => Prf::HmacSha384,
        "PRF_HMAC_SHA2_512" => Prf::HmacSha512,
        other => panic!("unexpected PRF {other}"),
    }
}

#[test]
fn rfc4868_prf_and_truncated_icv() {
    let vectors = load("rfc4868_hmac_sha2.json");
    let mut checked = 0;
    for v in &vectors {
        let alg = v["strongswan_alg"].as_str().unwrap();
        let (key, data, expected) =
            (hex_field(v, "key"), hex_field(v, "data"), hex_field(v, "expected"));
        if let Some(prf) = alg.strip_prefix("PRF_").map(|_| prf_named(alg)) {
            assert_eq!(prf.compute(&key, &[&data]).expose(), expected, "{}", v["id"]);
        } else {
            let integ = match alg {
                "AUTH_HMAC_SHA2_256_128" => Integrity::HmacSha256_128,
                "AUTH_HMAC_SHA2_384_192" => Integrity::HmacSha384_192,
                "AUTH_HMAC_SHA2_512_256" => Integrity::HmacSha512_256,
                other => panic!("unexpected {other}"),
            };
            let key = integ.key(&key).unwrap();
            let mut icv = vec![0; integ.icv_len()];
            key.compute(&[&data], &mut icv).unwrap();
            assert_eq!(icv, expected, "{}", v["id"]);
            key.verify(&[&data], &expected).unwrap();
        }
        checked += 1;
    }
    assert_eq!(checked, vectors.len());
    assert!(checked >= 20, "only {checked} RFC 4868 vectors");
}

#[test]
fn ikev2_skeyseed_prf_plus_and_cavp_kdf_chain() {
    let vectors = load("ikev2_prf_plus_kdf_cavp.json");
    let (mut skeyseeds, mut plus, mut chains) = (0, 0, 0);
    for v in &vectors {
        let prf = prf_named(v["prf"].as_str().unwrap());
        let function = v["function"].as_str().unwrap();
        let id = &v["id"];
        if function.starts_with("SKEYSEED") {
            // The vector gives the PRF key (Ni | Nr) already joined.
            let got =
                prf.compute(&hex_field(v, "prf_key (Ni|Nr)"), &[&hex_field(v, "prf_data (g^ir)")]);
            assert_eq!(got.expose(), hex_field(v, "expected"), "{id}");
            skeyseeds += 1;
        } else if function.starts_with("prf+") {
            let len = v["out_len"].as_u64().unwrap() as usize;
            let got = prf.prf_plus(&hex_field(v, "key"), &[&hex_field(v, "seed")], len).unwrap();
            assert_eq!(got.expose(), hex_field(v, "expected"), "{id}");
            plus += 1;
        } else {
            let e = &v["expected"];
            let want = |k: &str| hex::decode(e[k].as_str().unwrap()).unwrap();
            let (ni, nr, g_ir, g_ir_new) = (
                hex_field(v, "Ni"),
                hex_field(v, "Nr"),
                hex_field(v, "g^ir"),
                hex_field(v, "g^ir (new)"),
            );
            let spi_i = u64::from_str_radix(v["SPIi"].as_str().unwrap(), 16).unwrap();
            let spi_r = u64::from_str_radix(v["SPIr"].as_str().unwrap(), 16).unwrap();
            let seed = keys::skeyseed(prf, &ni, &nr, &g_ir);
            assert_eq!(seed.expose(), want("SKEYSEED"), "{id} SKEYSEED");

            // DKM = SK_d | SK_ai | ... ; lay the seven keys end to end and compare.
            let dkm = want("DKM");
            let prf_len = prf.output_len();
            let rest = dkm.len() - 3 * prf_len;
            let lengths =
                keys::IkeKeyLengths { integrity: rest / 4, encryption: rest / 2 - rest / 4 };
            let ike =
                keys::derive_ike_keys(prf, seed.expose(), &ni, &nr, spi_i, spi_r, lengths).unwrap();
            let joined: Vec<u8> =
                [&ike.sk_d, &ike.sk_ai, &ike.sk_ar, &ike.sk_ei, &ike.sk_er, &ike.sk_pi, &ike.sk_pr]
                    .iter()
                    .flat_map(|k| k.expose().to_vec())
                    .collect();
            assert_eq!(joined, dkm, "{id} DKM");

            let child = want("DKM(Child SA)");
            let got =
                keys::child_keymat(prf, ike.sk_d.expose(), None, &ni, &nr, child.len()).unwrap();
            assert_eq!(got.expose(), child, "{id} child");
            let child_dh = want("DKM(Child SA D-H)");
            let got = keys::child_keymat(
                prf,
                ike.sk_d.expose(),
                Some(&g_ir_new),
                &ni,
                &nr,
                child_dh.len(),
            )
            .unwrap();
            assert_eq!(got.expose(), child_dh, "{id} child with PFS");
            let rekey = keys::rekey_skeyseed(prf, ike.sk_d.expose(), &g_ir_new, &ni, &nr);
            assert_eq!(rekey.expose(), want("SKEYSEED(Rekey)"), "{id} rekey");
            chains += 1;
        }
    }
    assert!(skeyseeds > 0 && plus > 0 && chains > 0, "{skeyseeds} {plus} {chains}");
}

fn check_aead(v: &Value, alg: AeadAlgorithm) {
    let id = &v["id"];
    let keymat = hex_field(v, "key_material (key||salt as negotiated in IKEv2/ESP)");
    let (iv, aad, plain) = (hex_field(v, "iv"), hex_field(v, "aad"), hex_field(v, "plaintext"));
    let sealed = hex_field(v, "ciphertext_with_icv");
    let aead = SaltedAead::new(AeadBackend::RustCrypto, alg, &keymat).unwrap();
    let mut data = plain.clone();
    let mut tag = vec![0; alg.icv_len()];
    aead.seal(&iv, &aad, &mut data, &mut tag).unwrap();
    assert_eq!([data.clone(), tag.clone()].concat(), sealed, "{id} seal");
    aead.open(&iv, &aad, &mut data, &tag).unwrap();
    assert_eq!(data, plain, "{id} open");
}

#[test]
fn aes_gcm_in_ike_and_esp_key_format() {
    let vectors = load("aes_gcm_ikev2_esp_format.json");
    for v in &vectors {
        let icv_len = v["icv_len"].as_u64().unwrap() as u8;
        let key_bits = (hex_field(v, "key").len() * 8) as u16;
        check_aead(v, AeadAlgorithm::AesGcm { key_bits, icv_len });
    }
    assert!(vectors.len() >= 20);
}

#[test]
fn chacha20_poly1305_rfc7539_and_rfc7634() {
    let vectors = load("chacha20poly1305_rfc7539_rfc7634.json");
    for v in &vectors {
        check_aead(v, AeadAlgorithm::ChaCha20Poly1305);
    }
    assert_eq!(vectors.len(), 4);
}

#[test]
fn aes_cbc_aes_ctr_and_3des() {
    let vectors = load("esp_ike_block_ciphers_rfc3686_rfc3602.json");
    for v in &vectors {
        let keymat = hex_field(v, "key_material");
        let alg = match v["strongswan_alg"].as_str().unwrap() {
            "ENCR_AES_CBC" => BlockCipher::AesCbc { key_bits: (keymat.len() * 8) as u16 },
            "ENCR_AES_CTR" => BlockCipher::AesCtr { key_bits: ((keymat.len() - 4) * 8) as u16 },
            "ENCR_3DES" => BlockCipher::TripleDesCbc,
            other => panic!("unexpected {other}"),
        };
        let key = alg.key(&keymat).unwrap();
        let (iv, plain, cipher) =
            (hex_field(v, "iv"), hex_field(v, "plaintext"), hex_field(v, "ciphertext"));
        let mut data = plain.clone();
        key.encrypt(&iv, &mut data).unwrap();
        assert_eq!(data, cipher, "{} encrypt", v["id"]);
        key.decrypt(&iv, &mut data).unwrap();
        assert_eq!(data, plain, "{} decrypt", v["id"]);
    }
    assert_eq!(vectors.len(), 17);
}
