//! Arbitrary datagrams into the IKE message parser: never panics, and whatever parses
//! re-encodes to bytes that parse back to the same message and re-encode identically.
#![no_main]

use ikeway_codec::MessageRepr;
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
});
