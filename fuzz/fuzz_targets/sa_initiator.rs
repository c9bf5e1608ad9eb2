//! Arbitrary datagrams into an initiator that has sent its IKE_SA_INIT request: the parsing of
//! IKE_SA_INIT responses (proposals, KE, nonces, NAT detection, COOKIE and INVALID_KE_PAYLOAD
//! retries) and of anything else an off-path attacker can send it. What lies behind the ICV is
//! fuzzed by `sa_sealed`.
//!
//! Input: records `[flags][len:2][datagram]`; `flags` bit 0 picks port 4500 over 500, bits 1-7
//! advance the clock by that many 100 ms steps.
//!
//! Checks: nothing panics; an initiator that never saw a real response never claims to be
//! established.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ikeway_codec::{IdRepr, IdValue};
use ikeway_crypto::SecretBytes;
use ikeway_fuzz::Input;
use ikeway_sa::{CLIENT_CONFIG_REQUEST, Config, IkeSa, InsecureKexForFuzzing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut config = Config::new(
        IdRepr::from_value(IdValue::Fqdn("client.example")),
        SecretBytes::from_slice(b"fuzz psk"),
    );
    config.config_request = CLIENT_CONFIG_REQUEST.to_vec();
    let mut now = Instant::now();
    let (local, remote) = ("192.0.2.1:500".parse().unwrap(), "192.0.2.2:500".parse().unwrap());
    let mut sa = IkeSa::initiate(
        Arc::new(config),
        Arc::new(InsecureKexForFuzzing),
        [3; 32],
        now,
        local,
        remote,
    )
    .expect("valid configuration");
    let mut buf = vec![0u8; 65536];
    while sa.poll_transmit(&mut buf).is_some() {}
    let mut input = Input(data);
    while !input.is_empty() {
        let flags = input.byte();
        let datagram = input.bytes();
        let port = if flags & 1 == 1 { 4500 } else { 500 };
        now += Duration::from_millis(100 * u64::from(flags >> 1));
        let from = format!("192.0.2.2:{port}").parse().unwrap();
        let to = format!("192.0.2.1:{port}").parse().unwrap();
        sa.handle_datagram(now, from, to, datagram);
        sa.handle_timeout(now);
        while sa.poll_transmit(&mut buf).is_some() {}
        while sa.poll_event().is_some() {}
        // The PSK is not the fuzzer's to know: AUTH can never verify.
        assert!(!sa.is_established(), "established without the peer's AUTH");
    }
});
