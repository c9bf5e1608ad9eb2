//! Arbitrary datagrams into a responder endpoint (with the cheap insecure key exchange, so the
//! fuzzer spends its time in parsing and state handling): never panics, and the state it keeps
//! stays within the configured half-open bound.
//!
//! Input: a sequence of `[flags][len_hi][len_lo][datagram...]` records. `flags` bit 0 picks
//! port 4500 over 500, bits 1-7 advance the clock by that many 100 ms steps.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_codec::{IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_sa::{AddressPool, Config, InsecureKexForFuzzing, Responder};
use libfuzzer_sys::fuzz_target;

const HALF_OPEN_LIMIT: usize = 8;

fuzz_target!(|data: &[u8]| {
    let mut config =
        Config::new(IdRepr::from_value(IdValue::Fqdn("vpn")), SecretBytes::from_slice(b"fuzz psk"));
    config.half_open_limit = HALF_OPEN_LIMIT;
    config.cookie_threshold = 4;
    let pool = AddressPool { v4: Some(("10.0.0.1".parse().unwrap(), 4)), ..AddressPool::default() };
    let mut responder =
        Responder::new(Arc::new(config), Arc::new(InsecureKexForFuzzing), Some(pool), [7; 32]);
    let mut now = Instant::now();
    let mut rest = data;
    let mut buf = vec![0u8; 65536];
    while let [flags, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (datagram, next) = tail.split_at(len);
        rest = next;
        let port = if flags & 1 == 1 { 4500 } else { 500 };
        now += Duration::from_millis(100 * u64::from(flags >> 1));
        let remote = format!("192.0.2.1:{port}").parse().unwrap();
        let local = format!("192.0.2.2:{port}").parse().unwrap();
        responder.handle_datagram(now, remote, local, datagram);
        responder.handle_timeout(now);
        while responder.poll_transmit(&mut buf).is_some() {}
        while responder.poll_event().is_some() {}
        assert!(responder.half_open() <= HALF_OPEN_LIMIT, "half-open bound exceeded");
    }
});
