//! tshark decrypts everything our client and gateway say after phase 1 (XAUTH, mode config,
//! quick mode, DPD, Deletes) with the key line the client logs
//! (`export_keys_for_debugging`, Wireshark's `ikev1_decryption_table`), with no malformed
//! packet and no expert warning, and shows the values we sent. Needs `tshark` (a loud skip
//! otherwise, a failure under CI=true).

mod quick_pair;

use std::process::Command;
use std::time::Duration;

use ikeway_isakmp::{Body, MessageRepr};
use quick_pair::*;

#[test]
fn tshark_decrypts_our_xauth_mode_config_quick_mode_dpd_and_deletes() {
    let test = "tshark_decrypts_our_xauth_mode_config_quick_mode_dpd_and_deletes";
    if !ikeway_testkit::have("tshark") {
        ikeway_testkit::skip(test, "tshark is needed");
        return;
    }
    let mut c = client();
    c.informational.dpd = Some(ikeway_ikev1::informational::DpdConfig {
        interval: Duration::from_secs(30),
        retransmit: Duration::from_secs(5),
        retries: 2,
    });
    let mut p = Pair::connected(c, |a| {
        let mut g = gateway(a);
        g.informational.dpd = None;
        g
    });
    p.advance(Duration::from_secs(30));
    let line = p.client.export_keys_for_debugging().unwrap().wireshark_line();
    let now = p.now;
    p.client.delete_ike(now);
    p.run();
    let encrypted = p
        .wire
        .iter()
        .filter(|s| {
            MessageRepr::parse(&s.bytes).is_ok_and(|m| matches!(m.body, Body::Encrypted(_)))
        })
        .count();
    // Aggressive 3, INITIAL-CONTACT, XAUTH 4, mode config 2, quick mode 3, DPD 2, Deletes 2.
    assert_eq!(encrypted, 1 + 1 + 4 + 2 + 3 + 2 + 2);

    let dir = std::env::temp_dir().join(format!("ikev1-quick-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ikev1.pcap");
    std::fs::write(&file, pcap(&p.wire)).unwrap();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&file)
        .arg("-o")
        .arg(format!("uat:ikev1_decryption_table:{line}"))
        .args(["-V", "-z", "expert,warn"])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(text.matches("Encrypted Data (").count(), encrypted, "{text}");
    for shown in [
        "Type: XAUTH_USER_NAME (16521)",
        "Type: XAUTH_STATUS (16527)",
        "Type: ISAKMP_CFG_REPLY (2)",
        "INTERNAL IP4 ADDRESS: 10.9.0.10",
        "INTERNAL IP4 DNS: 10.9.0.1",
        "UNITY DEF DOMAIN: corp.example",
        "Notify Message Type: R-U-THERE (36136)",
        "Notify Message Type: R-U-THERE-ACK (36137)",
        "Notify Message Type: INITIAL-CONTACT (24578)",
    ] {
        assert!(text.contains(shown), "{shown} missing in\n{text}");
    }
    assert_eq!(text.matches("Payload: Attributes (14)").count(), 6, "{text}");
    assert_eq!(text.matches("Payload: Delete (12)").count(), 2, "{text}");
    // Quick mode: SA, Nonce and the two client IDs in each of messages 1 and 2.
    assert_eq!(text.matches("Payload: Nonce (10)").count(), 2 + 2, "{text}");
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("Expert Info (Warning"), "{text}");
    assert!(!text.contains("Warns"), "{text}");
}
