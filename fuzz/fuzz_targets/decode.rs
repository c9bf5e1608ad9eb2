//! `ikeway decode` on arbitrary input (pcap, pcapng or hex lines), with the key table of the
//! test captures loaded so the decryption and reassembly paths run on whatever decrypts.
//!
//! Checks: nothing panics; every message gives exactly one JSON line.
//!
//! Issue 9 finding 15: one of the targets that reach what the first release left unfuzzed.
#![no_main]

use std::sync::LazyLock;

use ikeway_decode::{KeyTable, run};
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<KeyTable> = LazyLock::new(|| {
    KeyTable::parse(include_str!("../../crates/ikeway/tests/data/captures/ikev2_decryption_table"))
        .expect("the committed key table parses")
});

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    if let Ok(summary) = run(data, Some(&KEYS), &mut out) {
        let lines = out.iter().filter(|&&b| b == b'\n').count();
        assert_eq!(lines, summary.messages, "one JSON object per message");
    }
});
