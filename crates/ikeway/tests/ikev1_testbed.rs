//! The IKEv1 testbed checked against itself (`testbeds/selftest-strongswan-ikev1.sh`): strongSwan
//! against strongSwan in every IKEv1 case our client will meet (Aggressive Mode with a group
//! PSK + XAUTH + Mode Config, the wrong group secret, the wrong XAUTH password, Main Mode with
//! certificates), each exchange decrypted by tshark with the keys charon printed. Proves the
//! harness the IKEv1 interop suites stand on, not ikeway. Root, namespaces, strongSwan and
//! tshark; skipped loudly otherwise (a failure under CI=true).

mod testbed;

use std::process::Command;

use serde_json::Value;

/// The number of checks the selftest makes; all must pass.
const CHECKS: usize = 49;

#[test]
fn strongswan_ikev1_testbed_passes_its_own_checks_and_its_keys_decrypt_the_captures() {
    let what = "strongswan_ikev1_testbed_passes_its_own_checks";
    if let Some(why) = testbed::unavailable(&["charon-systemd", "swanctl", "pki", "tshark"]) {
        ikeway_testkit::skip(what, &why);
        return;
    }
    let out = std::env::temp_dir().join(format!("ikeway-ikev1-selftest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new("bash")
        .arg(testbed::root().join("testbeds/selftest-strongswan-ikev1.sh"))
        .arg(&out)
        .env("IKW_PREFIX", format!("v1t{}", std::process::id() % 10000))
        .output()
        .expect("run the selftest");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "selftest failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert_eq!(summary, format!("{CHECKS} passed, 0 failed"), "{stdout}");

    // Every case that got through phase 1 left one keyed IKE SA whose cookies are those of its
    // capture, and a decryption table line made of them.
    for (case, key_len) in [("v1-aggr", 32), ("v1-aggr-badpw", 32), ("v1-main-cert", 16)] {
        let keys = testbed::read(&out, &format!("{case}.keys.json"));
        let sas: Vec<Value> = keys.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(sas.len(), 1, "{case}: {keys}");
        let sa = &sas[0];
        let enc_key = sa["enc_key"].as_str().unwrap();
        assert_eq!(enc_key.len(), 2 * key_len, "{case}: Ka {enc_key}");
        let icookie = sa["icookie"].as_str().unwrap();
        let table = testbed::read(&out, &format!("{case}.ikev1_decryption_table"));
        assert_eq!(table, format!("{icookie},{enc_key}\n"), "{case}");
        let dissected = testbed::read(&out, &format!("{case}.tshark.txt"));
        assert!(dissected.contains(&format!("Initiator SPI: {icookie}")), "{case}: cookie");
        assert!(!dissected.contains("Malformed"), "{case}: tshark found a malformed message");
    }
    let _ = std::fs::remove_dir_all(&out);
}
