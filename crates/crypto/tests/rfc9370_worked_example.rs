//! The RFC 9370 key updates and RFC 8784 PPK mixing of `ikeway_crypto::keys` against a worked
//! example computed independently.
//!
//! `data/rfc9370_worked_example.json` is the output of `data/rfc9370_worked_example.py`, a
//! short Python script that uses only the standard library's `hmac` and `hashlib` and shares
//! no code with ikeway (it writes its own prf+ and key split from RFC 7296 §2.13/§2.14). From
//! fixed inputs it computes SKEYSEED(0) and the SK_* after IKE_SA_INIT, two IKE_INTERMEDIATE
//! key updates (RFC 9370 §2.2.2), the PPK-mixed SK_d/SK_pi/SK_pr (RFC 8784 §3), and for a
//! CREATE_CHILD_SA with two IKE_FOLLOWUP_KE exchanges the child KEYMAT and the rekeyed IKE
//! SA's SKEYSEED and keys (RFC 9370 §2.2.4). Each step here starts from our own previous
//! output, so a wrong step fails every later comparison too.

use ikeway_crypto::keys::{self, IkeKeyLengths, IkeSaKeys};
use ikeway_crypto::{Prf, SecretBytes};
use serde_json::Value;

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex field is a string")).expect("hex field decodes")
}

fn spi(v: &Value) -> u64 {
    u64::from_be_bytes(unhex(v).try_into().unwrap())
}

fn assert_keys(ours: &IkeSaKeys, expected: &Value, step: &str) {
    let pairs: [(&str, &SecretBytes); 7] = [
        ("sk_d", &ours.sk_d),
        ("sk_ai", &ours.sk_ai),
        ("sk_ar", &ours.sk_ar),
        ("sk_ei", &ours.sk_ei),
        ("sk_er", &ours.sk_er),
        ("sk_pi", &ours.sk_pi),
        ("sk_pr", &ours.sk_pr),
    ];
    for (name, key) in pairs {
        assert_eq!(key.expose(), &unhex(&expected[name])[..], "{step} {name}");
    }
}

#[test]
fn key_schedule_matches_the_independent_worked_example() {
    let v: Value = serde_json::from_str(include_str!("data/rfc9370_worked_example.json")).unwrap();
    assert_eq!(v["prf"], "HMAC-SHA-256");
    let prf = Prf::HmacSha256;
    let input = &v["inputs"];
    let (ni, nr) = (unhex(&input["ni"]), unhex(&input["nr"]));
    let (spi_i, spi_r) = (spi(&input["spi_i"]), spi(&input["spi_r"]));
    let lengths = IkeKeyLengths {
        integrity: v["ike_integrity_key_len"].as_u64().unwrap() as usize,
        encryption: v["ike_encryption_key_len"].as_u64().unwrap() as usize,
    };

    // IKE_SA_INIT.
    let seed0 = keys::skeyseed(prf, &ni, &nr, &unhex(&input["g_ir"]));
    assert_eq!(seed0.expose(), &unhex(&v["skeyseed_0"])[..]);
    let keys0 =
        keys::derive_ike_keys(prf, seed0.expose(), &ni, &nr, spi_i, spi_r, lengths).unwrap();
    assert_keys(&keys0, &v["keys_0"], "IKE_SA_INIT");

    // Two IKE_INTERMEDIATE exchanges, ADDKE1 then ADDKE2.
    let seed1 =
        keys::intermediate_skeyseed(prf, keys0.sk_d.expose(), &unhex(&input["sk1"]), &ni, &nr);
    assert_eq!(seed1.expose(), &unhex(&v["skeyseed_1"])[..]);
    let keys1 =
        keys::derive_ike_keys(prf, seed1.expose(), &ni, &nr, spi_i, spi_r, lengths).unwrap();
    assert_keys(&keys1, &v["keys_1"], "IKE_INTERMEDIATE 1");

    let seed2 =
        keys::intermediate_skeyseed(prf, keys1.sk_d.expose(), &unhex(&input["sk2"]), &ni, &nr);
    assert_eq!(seed2.expose(), &unhex(&v["skeyseed_2"])[..]);
    let keys2 =
        keys::derive_ike_keys(prf, seed2.expose(), &ni, &nr, spi_i, spi_r, lengths).unwrap();
    assert_keys(&keys2, &v["keys_2"], "IKE_INTERMEDIATE 2");

    // RFC 8784: the final SK_d, SK_pi, SK_pr mixed with the PPK.
    let ppk = unhex(&input["ppk"]);
    let sk_d = keys::ppk_mix(prf, &ppk, keys2.sk_d.expose()).unwrap();
    let sk_pi = keys::ppk_mix(prf, &ppk, keys2.sk_pi.expose()).unwrap();
    let sk_pr = keys::ppk_mix(prf, &ppk, keys2.sk_pr.expose()).unwrap();
    assert_eq!(sk_d.expose(), &unhex(&v["ppk_mixed"]["sk_d"])[..]);
    assert_eq!(sk_pi.expose(), &unhex(&v["ppk_mixed"]["sk_pi"])[..]);
    assert_eq!(sk_pr.expose(), &unhex(&v["ppk_mixed"]["sk_pr"])[..]);

    // CREATE_CHILD_SA with a KE payload and two IKE_FOLLOWUP_KE exchanges.
    let (cni, cnr) = (unhex(&input["child_ni"]), unhex(&input["child_nr"]));
    let (g_ir, sk1, sk2) =
        (unhex(&input["child_g_ir"]), unhex(&input["child_sk1"]), unhex(&input["child_sk2"]));
    let secrets: [&[u8]; 3] = [&g_ir, &sk1, &sk2];
    let enc = v["child_encryption_key_len"].as_u64().unwrap() as usize;
    let integ = v["child_integrity_key_len"].as_u64().unwrap() as usize;
    let len = keys::ChildKeys::keymat_len(enc, integ);
    let keymat =
        keys::child_keymat_with_secrets(prf, sk_d.expose(), &secrets, &cni, &cnr, len).unwrap();
    assert_eq!(keymat.expose(), &unhex(&v["child_keymat"])[..]);
    // No key exchange at all is plain prf+(SK_d, Ni | Nr), as `child_keymat` without PFS.
    let plain = keys::child_keymat_with_secrets(prf, sk_d.expose(), &[], &cni, &cnr, len).unwrap();
    assert_eq!(plain.expose(), &unhex(&v["child_keymat_no_pfs"])[..]);
    let classic = keys::child_keymat(prf, sk_d.expose(), None, &cni, &cnr, len).unwrap();
    assert_eq!(classic.expose(), plain.expose());

    // The same exchange rekeying the IKE SA.
    let rekey_seed = keys::rekey_skeyseed_with_secrets(prf, sk_d.expose(), &secrets, &cni, &cnr);
    assert_eq!(rekey_seed.expose(), &unhex(&v["rekey_skeyseed"])[..]);
    let rekeyed = keys::derive_ike_keys(
        prf,
        rekey_seed.expose(),
        &cni,
        &cnr,
        spi(&input["rekey_spi_i"]),
        spi(&input["rekey_spi_r"]),
        lengths,
    )
    .unwrap();
    assert_keys(&rekeyed, &v["rekey_keys"], "IKE rekey");
}

#[test]
fn one_secret_forms_equal_the_rfc_7296_functions() {
    let prf = Prf::HmacSha384;
    let (sk_d, g_ir, ni, nr) = ([1u8; 48], [2u8; 56], [3u8; 16], [4u8; 24]);
    assert_eq!(
        keys::rekey_skeyseed_with_secrets(prf, &sk_d, &[&g_ir], &ni, &nr).expose(),
        prf.compute(&sk_d, &[&g_ir, &ni, &nr]).expose()
    );
    assert_eq!(
        keys::child_keymat_with_secrets(prf, &sk_d, &[&g_ir], &ni, &nr, 100).unwrap().expose(),
        keys::child_keymat(prf, &sk_d, Some(&g_ir), &ni, &nr, 100).unwrap().expose()
    );
    // The intermediate update has the same shape as a rekey with one secret, keyed by the
    // previous SK_d: the order of its inputs matters.
    assert_eq!(
        keys::intermediate_skeyseed(prf, &sk_d, &g_ir, &ni, &nr).expose(),
        keys::rekey_skeyseed(prf, &sk_d, &g_ir, &ni, &nr).expose()
    );
    assert_ne!(
        keys::intermediate_skeyseed(prf, &sk_d, &g_ir, &ni, &nr).expose(),
        keys::intermediate_skeyseed(prf, &sk_d, &g_ir, &nr, &ni).expose()
    );
}
