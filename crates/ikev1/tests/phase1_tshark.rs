//! tshark decrypts our phase 1 with the key line `export_keys_for_debugging` gives (the
//! Wireshark `ikev1_decryption_table` UAT): main mode messages 5 and 6 show their ID and HASH
//! payloads, with no malformed packet and no expert warning. Needs `tshark` (a loud skip
//! otherwise, a failure under CI=true).

use std::sync::Arc;
use std::time::Instant;

use ikeway_crypto::SecretBytes;
use ikeway_ikev1::{Config, DefaultKex, Identity, Ikev1Responder, Ikev1Sa, Phase1Mode};
use ikeway_testkit::pcap::{ike_exchange, tshark};

#[test]
fn tshark_decrypts_our_main_mode_with_the_logged_key() {
    let test = "tshark_decrypts_our_main_mode_with_the_logged_key";
    if !ikeway_testkit::have("tshark") {
        ikeway_testkit::skip(test, "tshark is needed");
        return;
    }
    let now = Instant::now();
    let psk = SecretBytes::from_slice(b"ikeway group secret 42");
    let mut client = Config::psk(Identity::Fqdn("client.ikeway.test".into()), psk.clone());
    client.mode = Phase1Mode::Main;
    // Phase 1 alone: no quick mode, DPD or INITIAL-CONTACT after it (tests/quick*.rs, dpd.rs
    // and initial_contact.rs run those).
    client.quick.first_child = false;
    client.informational.dpd = None;
    client.informational.initial_contact = false;
    let mut server = Config::psk(Identity::Fqdn("vpn.ikeway.test".into()), psk);
    server.mode = Phase1Mode::Main;
    let kex = Arc::new(DefaultKex::default());
    let mut init = Ikev1Sa::initiate(
        Arc::new(client),
        kex.clone(),
        [5; 32],
        now,
        "10.0.0.1:500".parse().unwrap(),
        "10.0.0.2:500".parse().unwrap(),
    )
    .unwrap();
    let mut resp = Ikev1Responder::new(Arc::new(server), kex, [6; 32]);
    let mut buf = vec![0u8; 65536];
    let mut datagrams = Vec::new();
    loop {
        let mut moved = false;
        while let Some(Ok(t)) = init.poll_transmit(&mut buf) {
            datagrams.push(buf[..t.len].to_vec());
            resp.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
            moved = true;
        }
        while let Some(Ok(t)) = resp.poll_transmit(&mut buf) {
            datagrams.push(buf[..t.len].to_vec());
            init.handle_datagram(now, t.local, t.remote, &buf[..t.len]);
            moved = true;
        }
        if !moved {
            break;
        }
    }
    assert!(init.is_established());
    assert_eq!(datagrams.len(), 6);
    let line = init.export_keys_for_debugging().unwrap().wireshark_line();

    let dir = std::env::temp_dir().join(format!("ikev1-tshark-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("ikev1.pcap");
    // Alternating directions: Wireshark tells the initiator's KE from the responder's by
    // direction, which it needs for the first IV.
    std::fs::write(&pcap, ike_exchange(&datagrams)).unwrap();
    let table = format!("uat:ikev1_decryption_table:{line}");
    let text = tshark(&pcap, &["-o", &table, "-V", "-z", "expert,warn"]);
    std::fs::remove_dir_all(&dir).ok();
    // Messages 5 and 6 are encrypted; tshark shows what is inside.
    assert_eq!(text.matches("Encrypted Data (").count(), 2, "{text}");
    assert!(text.contains("ID_FQDN: client.ikeway.test"), "{text}");
    assert!(text.contains("ID_FQDN: vpn.ikeway.test"), "{text}");
    assert_eq!(text.matches("Payload: Hash (8)").count(), 2, "{text}");
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("Expert Info (Warning"), "{text}");
    assert!(!text.contains("Warns"), "{text}");
}
