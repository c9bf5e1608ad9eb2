//! tshark decrypts our phase 1 with the key line `export_keys_for_debugging` gives (the
//! Wireshark `ikev1_decryption_table` UAT): main mode messages 5 and 6 show their ID and HASH
//! payloads, with no malformed packet and no expert warning. Needs `tshark` (a loud skip
//! otherwise, a failure under CI=true).

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use ikeway_crypto::SecretBytes;
use ikeway_ikev1::{Config, DefaultKex, Identity, Ikev1Responder, Ikev1Sa, Phase1Mode};

/// A pcap (link type raw IPv4) of the datagrams, alternating 10.0.0.1 -> 10.0.0.2 and back
/// on UDP 500, as the exchange ran: Wireshark tells the initiator's KE from the responder's
/// by direction, which it needs for the first IV.
fn pcap_bytes(datagrams: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes());
    for (i, d) in datagrams.iter().enumerate() {
        let (src, dst) = if i % 2 == 0 {
            ([10, 0, 0, 1], [10, 0, 0, 2])
        } else {
            ([10, 0, 0, 2], [10, 0, 0, 1])
        };
        let udp_len = 8 + d.len();
        let ip_len = 20 + udp_len;
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        let sum = ip.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum::<u32>();
        let folded = (sum & 0xffff) + (sum >> 16);
        let check = !(((folded & 0xffff) + (folded >> 16)) as u16);
        ip[10..12].copy_from_slice(&check.to_be_bytes());
        ip.extend_from_slice(&500u16.to_be_bytes());
        ip.extend_from_slice(&500u16.to_be_bytes());
        ip.extend_from_slice(&(udp_len as u16).to_be_bytes());
        // A zero UDP checksum is "none" over IPv4.
        ip.extend_from_slice(&[0, 0]);
        ip.extend_from_slice(d);
        out.extend_from_slice(&(i as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        out.extend_from_slice(&ip);
    }
    out
}

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
    // Phase 1 alone: no quick mode or DPD after it (tests/quick*.rs and dpd.rs run those).
    client.quick.first_child = false;
    client.informational.dpd = None;
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
    std::fs::write(&pcap, pcap_bytes(&datagrams)).unwrap();
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&pcap)
        .arg("-o")
        .arg(format!("uat:ikev1_decryption_table:{line}"))
        .args(["-V", "-z", "expert,warn"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Messages 5 and 6 are encrypted; tshark shows what is inside.
    assert_eq!(text.matches("Encrypted Data (").count(), 2, "{text}");
    assert!(text.contains("ID_FQDN: client.ikeway.test"), "{text}");
    assert!(text.contains("ID_FQDN: vpn.ikeway.test"), "{text}");
    assert_eq!(text.matches("Payload: Hash (8)").count(), 2, "{text}");
    assert!(!text.contains("Malformed"), "{text}");
    assert!(!text.contains("Expert Info (Warning"), "{text}");
    assert!(!text.contains("Warns"), "{text}");
}
