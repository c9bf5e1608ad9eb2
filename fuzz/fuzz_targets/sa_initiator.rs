//! Datagrams into an initiator that has sent its IKE_SA_INIT request: the parsing of
//! IKE_SA_INIT responses (proposals, KE, nonces, NAT detection, COOKIE and INVALID_KE_PAYLOAD
//! retries) and of anything else an off-path attacker can send it. The first datagram is the
//! real responder's answer with the fuzzer's edits, so the initiator's SPI and a well-formed
//! exchange are there to start from. What lies behind the ICV is fuzzed by `sa_sealed`.
//!
//! Input: `[count]` edits `[offset:2][xor]` of the real IKE_SA_INIT response (none: it is not
//! sent), then records `[flags][len:2][datagram]`; `flags` bit 0 picks port 4500 over 500,
//! bits 1-7 advance the clock by that many 100 ms steps.
//!
//! Checks: nothing panics; the initiator never claims to be established (the fuzzer cannot
//! make the responder's AUTH).
//!
//! Issue 9 finding 15: one of the targets that reach what the first release left unfuzzed.
#![no_main]

use std::time::Duration;

use ikeway_fuzz::Input;
use ikeway_fuzz::ike::{End, Pair};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut pair = Pair::new(false);
    pair.deliver(End::Responder);
    let edits = input.byte() % 16;
    if edits > 0 {
        let mut response = pair.to_initiator.first().cloned().expect("the responder answers");
        for _ in 0..edits {
            let offset = usize::from(input.u16()) % response.len();
            response[offset] ^= input.byte();
        }
        pair.feed(End::Initiator, &response);
    }
    while !input.is_empty() {
        let flags = input.byte();
        let datagram = input.bytes();
        pair.now += Duration::from_millis(100 * u64::from(flags >> 1));
        if flags & 1 == 1 {
            let (from, to) = ("10.0.0.2:4500".parse().unwrap(), "10.0.0.1:4500".parse().unwrap());
            pair.initiator.handle_datagram(pair.now, from, to, datagram);
        } else {
            pair.feed(End::Initiator, datagram);
        }
        pair.advance(Duration::ZERO);
        assert!(!pair.initiator.is_established(), "established without the peer's AUTH");
    }
    pair.collect();
    assert!(!pair.initiator.is_established(), "established without the peer's AUTH");
});
