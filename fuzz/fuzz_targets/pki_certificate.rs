//! ikeway-pki on arbitrary bytes: what a peer controls in CERT and AUTH payloads and what a
//! CRL download returns.
//!
//! The same input goes to `Certificate::from_der`, `Crl::from_pem_or_der`,
//! `PublicKey::verify_auth` (fixed keys, each AUTH method; the first byte picks the method)
//! and `Validator::verify` against a fixed anchor (the input cut into consecutive DER
//! SEQUENCEs, as a chain of CERT payloads).
//!
//! Checks: nothing panics; a certificate that parses keeps its DER and parses again to the
//! same certificate; arbitrary AUTH data never verifies.
#![no_main]

use std::sync::LazyLock;

use ikeway_codec::{AuthMethod, IdRepr, IdValue};
use ikeway_pki::{
    Certificate, Crl, PublicKey, Purpose, Revocation, UnixTime, Validator,
    certificates_from_pem_or_der,
};
use libfuzzer_sys::fuzz_target;

const OCTETS: &[u8] = b"the signed octets of RFC 7296 section 2.15";

/// An RSA and an ECDSA P-384 key, and the P-384 self-signed CA as the anchor (the test files
/// of ikeway-pki).
static RSA: LazyLock<PublicKey> =
    LazyLock::new(|| key(include_bytes!("../../crates/pki/tests/data/rsa2048.crt.pem")));
static EC: LazyLock<PublicKey> =
    LazyLock::new(|| key(include_bytes!("../../crates/pki/tests/data/p384.crt.pem")));
static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    let anchors =
        certificates_from_pem_or_der(include_bytes!("../../crates/pki/tests/data/p384.crt.pem"))
            .expect("the test file is a certificate");
    Validator::new(anchors, Purpose::Server).with_revocation(Revocation::BestEffort)
});

fn key(pem: &[u8]) -> PublicKey {
    certificates_from_pem_or_der(pem).expect("the test file is a certificate")[0]
        .public_key()
        .expect("the test file has a supported key")
}

/// Consecutive DER SEQUENCEs (short or long definite lengths), at most eight.
fn split_chain(mut data: &[u8]) -> Vec<Certificate> {
    let mut chain = Vec::new();
    while chain.len() < 8 && data.len() >= 2 && data[0] == 0x30 {
        let (len, header) = match data[1] {
            n if n < 0x80 => (usize::from(n), 2),
            0x81 if data.len() >= 3 => (usize::from(data[2]), 3),
            0x82 if data.len() >= 4 => (usize::from(u16::from_be_bytes([data[2], data[3]])), 4),
            _ => break,
        };
        let Some(item) = data.get(..header + len) else { break };
        if let Ok(cert) = Certificate::from_der(item.to_vec()) {
            chain.push(cert);
        }
        data = &data[header + len..];
    }
    chain
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::from_der(data.to_vec()) {
        assert_eq!(cert.der(), data);
        let again =
            Certificate::from_der(cert.der().to_vec()).expect("a parsed certificate parses again");
        assert_eq!(again, cert);
        let _ = (
            cert.subject_common_name(),
            cert.issuer_common_name(),
            cert.not_before(),
            cert.not_after(),
        );
        let _ = (cert.public_key(), cert.spki_sha1(), cert.crl_urls());
    }

    let crl = Crl::from_pem_or_der(data).ok();

    if let Some((&selector, auth)) = data.split_first() {
        let method = match selector % 5 {
            0 => AuthMethod::RSA_SIG,
            1 => AuthMethod::ECDSA_SHA256_P256,
            2 => AuthMethod::ECDSA_SHA384_P384,
            3 => AuthMethod::ECDSA_SHA512_P521,
            _ => AuthMethod::DIGITAL_SIGNATURE,
        };
        for key in [&*RSA, &*EC] {
            assert!(key.verify_auth(method, auth, OCTETS).is_err(), "arbitrary AUTH data verified");
        }
    }

    let chain = split_chain(data);
    let now = UnixTime::since_unix_epoch(core::time::Duration::from_secs(1_767_225_600));
    let id = IdRepr::from_value(IdValue::Fqdn("ec.example.com"));
    let _ = VALIDATOR.verify(&chain, &id, now, crl.as_slice());
});
