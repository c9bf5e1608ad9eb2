//! `ikeway decode` on IKEv1 input it can decrypt: the first two messages of the v1-aggr
//! capture (its SA and both KE payloads), then the fuzzer's bytes as a third message, with the
//! capture's `ikev1_decryption_table`; a message carrying that SA's cookie and the E flag is
//! decrypted with the IVs RFC 2409 Appendix B derives from what the capture showed, and its
//! plaintext rendered. Checks: nothing panics, one JSON object per message.
#![no_main]

use std::sync::LazyLock;

use ikeway_decode::{KeyTable, run};
use libfuzzer_sys::fuzz_target;

/// The v1-aggr capture's key table and its phase 1 messages 1 and 2 (SA and both KE payloads).
static V1: LazyLock<(KeyTable, String)> = LazyLock::new(|| {
    let keys = KeyTable::parse(include_str!(
        "../../crates/isakmp/tests/data/strongswan-ikev1/v1-aggr/ikev1_decryption_table"
    ))
    .expect("the committed table parses");
    let prefix = [
        include_str!("../../crates/isakmp/tests/data/strongswan-ikev1/v1-aggr/01-AGGRESSIVE-i.hex"),
        include_str!("../../crates/isakmp/tests/data/strongswan-ikev1/v1-aggr/02-AGGRESSIVE-r.hex"),
    ]
    .concat();
    (keys, prefix)
});

fuzz_target!(|data: &[u8]| {
    let (keys, prefix) = &*V1;
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    let input = format!("{prefix}{hex}\n");
    let mut out = Vec::new();
    let summary = run(input.as_bytes(), Some(keys), &mut out).expect("hex lines always read");
    let lines = out.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(lines, summary.messages, "one JSON object per message");
});
