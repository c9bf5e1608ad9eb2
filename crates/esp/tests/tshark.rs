//! Wireshark decrypts what we send: packets we encapsulate go into a pcap (written here, raw
//! IPv4 link type), and tshark, given the SA, must show the inner ICMP echo with no malformed
//! packet or expert warning. Skipped loudly when tshark is not installed (CI installs it).

mod common;

use common::*;
use ikeway_crypto::{AeadAlgorithm, AeadBackend, BlockCipher, Encryption, Integrity, Suite};
use ikeway_esp::{Mode, NextHeader, OutboundSa, SaConfig};
use ikeway_testkit::pcap::{ipv4, raw_ip};

fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 =
        bytes.chunks(2).map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0))).sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn icmp_echo(seq: u16) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x42, 0x42];
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend(b"ikeway esp tshark check ".iter().copied().cycle().take(48));
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    ipv4([10, 1, 0, 1], [10, 2, 0, 2], 1, &icmp)
}

/// Whether tshark can judge `test`; says so loudly (a failure in CI) when it cannot.
fn tshark_available(test: &str) -> bool {
    let found = ikeway_testkit::have("tshark");
    if !found {
        ikeway_testkit::skip(test, "tshark not installed (apt-get install tshark); CI installs it");
    }
    found
}

/// Encapsulates three ICMP echoes, writes them to a pcap and returns tshark's verbose output.
fn dissect(config: &SaConfig, name: &str, encr: &str, auth: &str) -> String {
    let mut out = OutboundSa::new(config).unwrap();
    let packets: Vec<Vec<u8>> = (1..=3)
        .map(|i| {
            let esp = seal(&mut out, &icmp_echo(i), NextHeader::IPV4);
            ipv4([192, 0, 2, 1], [198, 51, 100, 2], 50, &esp)
        })
        .collect();
    let path = std::env::temp_dir().join(format!("ikeway-esp-{name}-{}.pcap", std::process::id()));
    std::fs::write(&path, raw_ip(&packets)).unwrap();
    let keymat = hex::encode(config.encryption_key.expose());
    let auth_key = hex::encode(config.integrity_key.expose());
    let auth_key = if auth_key.is_empty() { String::new() } else { format!("0x{auth_key}") };
    // Columns as in Wireshark's esp_sa UAT (test/config/esp_sa.tmpl).
    let sa = format!(
        "uat:esp_sa:\"IPv4\",\"192.0.2.1\",\"198.51.100.2\",\"0x{:08x}\",\"{encr}\",\"0x{keymat}\",\"{auth}\",\"{auth_key}\"",
        config.spi
    );
    let text = ikeway_testkit::pcap::tshark(
        &path,
        &["-n", "-o", "esp.enable_encryption_decode:TRUE", "-o", &sa, "-V"],
    );
    std::fs::remove_file(&path).ok();
    text
}

fn assert_clean(text: &str, what: &str) {
    for bad in ["Malformed", "Expert Info", "[incorrect", "Bad checksum", "Unknown"] {
        assert!(!text.contains(bad), "{what}: tshark says {bad:?}:\n{text}");
    }
    assert_eq!(
        text.matches("Echo (ping) request").count(),
        3,
        "{what}: inner ICMP not shown:\n{text}"
    );
    assert_eq!(
        text.matches("ikeway esp tshark check").count(),
        0,
        "sanity: -V prints no payload text"
    );
}

#[test]
fn tshark_decrypts_aes_gcm_128() {
    if !tshark_available("tshark_decrypts_aes_gcm_128") {
        return;
    }
    let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap();
    for backend in [AeadBackend::Ring, AeadBackend::RustCrypto] {
        let mut config = config(suite, backend, false);
        config.mode = Mode::Tunnel;
        let text = dissect(&config, "gcm", "AES-GCM with 16 octet ICV [RFC4106]", "NULL");
        assert_clean(&text, "AES-GCM-128");
    }
}

#[test]
fn tshark_decrypts_aes_cbc_hmac_sha256() {
    if !tshark_available("tshark_decrypts_aes_cbc_hmac_sha256") {
        return;
    }
    let suite = Suite::new(
        Encryption::Cipher(BlockCipher::AesCbc { key_bits: 128 }),
        Some(Integrity::HmacSha256_128),
    )
    .unwrap();
    let config = config(suite, AeadBackend::RustCrypto, false);
    let text = dissect(&config, "cbc", "AES-CBC [RFC3602]", "HMAC-SHA-256-128 [RFC4868]");
    assert_clean(&text, "AES-CBC + HMAC-SHA-256-128");
    assert_eq!(text.matches("[correct]").count(), 3, "tshark verified our ICVs:\n{text}");
}

#[test]
fn tshark_decrypts_3des_cbc_hmac_sha1_96() {
    if !tshark_available("tshark_decrypts_3des_cbc_hmac_sha1_96") {
        return;
    }
    let suite =
        Suite::new(Encryption::Cipher(BlockCipher::TripleDesCbc), Some(Integrity::HmacSha1_96))
            .unwrap();
    let config = config(suite, AeadBackend::RustCrypto, false);
    let text = dissect(&config, "3des", "TripleDES-CBC [RFC2451]", "HMAC-SHA-1-96 [RFC2404]");
    assert_clean(&text, "3DES-CBC + HMAC-SHA-1-96");
    assert_eq!(text.matches("[correct]").count(), 3, "tshark verified our ICVs:\n{text}");
}
