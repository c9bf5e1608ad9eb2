//! Arbitrary datagrams into the IKE message parser: never panics, and whatever parses
//! re-encodes to bytes that parse back to the same message and re-encode identically; the
//! typed views of SIGNATURE_HASH_ALGORITHMS and of CERTREQ CA lists rebuild what they read.
#![no_main]

use ikeway_codec::{CertEncoding, CertRepr, MessageRepr, NotifyRepr, PayloadRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = MessageRepr::parse(data) else {
        return;
    };
    let encoded = message.to_vec().expect("a parsed message always re-encodes");
    assert_eq!(encoded.len(), data.len(), "re-encoding changed the length");
    let again = MessageRepr::parse(&encoded).expect("our own encoding parses");
    assert_eq!(again, message, "parse(emit(m)) != m");
    assert_eq!(again.to_vec().unwrap(), encoded, "encoding is not deterministic");
    // Also exercise every inner chain path that decryption would take.
    let _ = ikeway_codec::payload::parse_chain(message.header.next_payload, &data[28..]);
    for p in &message.payloads {
        match &p.body {
            PayloadRepr::Notify(n) => {
                if let Ok(hashes) = n.hash_algorithms() {
                    let hashes: Vec<_> = hashes.collect();
                    let rebuilt = NotifyRepr::signature_hash_algorithms(&hashes);
                    assert_eq!(rebuilt.data, n.data, "hash list does not rebuild");
                }
            }
            PayloadRepr::CertReq(c) if c.encoding == CertEncoding::X509_CERT_SIG => {
                if let Some(hashes) = c.ca_hashes() {
                    assert_eq!(CertRepr::x509_request(hashes), *c, "CA list does not rebuild");
                }
            }
            _ => {}
        }
    }
});
