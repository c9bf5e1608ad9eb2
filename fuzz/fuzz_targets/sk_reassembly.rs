//! SKF fragments (RFC 7383) through the real path: each is sealed with known keys around the
//! fuzzer's bytes, opened by `sk::open` (which checks the numbering) and pushed into a
//! `Reassembler` with small limits, the clock moved by the fuzzer.
//!
//! Input: records `[flags][message id][number][total][first payload][seconds][len:2][bytes]`;
//! `flags` bit 0 is the Response flag (the direction), bit 1 expires old messages first.
//!
//! Checks: nothing panics; what is held never exceeds the limits; a completed message is the
//! fragments' bytes in number order; nothing is held once the timeout has passed.
//!
//! Issue 9 finding 15: one of the targets that reach what the first release left unfuzzed.
#![no_main]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ikeway_codec::sk::{self, Direction, FragmentInfo, Reassembler, Reassembly, ReassemblyLimits};
use ikeway_codec::{ExchangeType, Flags, HEADER_LEN, HeaderRepr, PayloadType};
use ikeway_crypto::{AeadAlgorithm, AeadBackend, Encryption, Suite};
use ikeway_fuzz::Input;
use libfuzzer_sys::fuzz_target;

const LIMITS: ReassemblyLimits =
    ReassemblyLimits { max_fragments: 8, max_len: 512, timeout: Duration::from_secs(30) };

struct Model {
    message_id: u32,
    total: u16,
    started: Instant,
    parts: BTreeMap<u16, Vec<u8>>,
}

fuzz_target!(|data: &[u8]| {
    let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).expect("valid");
    let protector =
        suite.key(AeadBackend::RustCrypto, &[7; 20], &[]).expect("key of the right size");
    let mut reassembler = Reassembler::new(LIMITS);
    // The model: per direction, the message being collected and the fragments taken so far.
    let mut model: [Option<Model>; 2] = [None, None];
    let mut now = Instant::now();
    let mut input = Input(data);
    let mut iv = 0u64;
    while !input.is_empty() {
        let flags = input.byte();
        let message_id = u32::from(input.byte());
        let number = u16::from(input.byte() % 10);
        let total = u16::from(input.byte() % 10);
        let first = PayloadType(input.byte());
        now += Duration::from_secs(u64::from(input.byte()));
        let content = input.bytes();
        let response = flags & 1 == 1;
        let header = HeaderRepr {
            spi_i: 1,
            spi_r: 2,
            next_payload: PayloadType::NONE,
            version: 0x20,
            exchange: ExchangeType::IKE_AUTH,
            flags: Flags { initiator: true, version: false, response },
            message_id,
            length: HEADER_LEN as u32,
        };
        iv += 1;
        let fragment = Some(FragmentInfo { number, total });
        let well_numbered = number >= 1 && number <= total;
        let sealed =
            sk::seal_content(&header, &[], first, fragment, content, &protector, &iv.to_be_bytes());
        let Ok(message) = sealed else {
            assert!(!well_numbered, "a well-numbered fragment did not seal");
            continue;
        };
        let opened = sk::open(&message, &protector).expect("what we sealed opens");
        if flags & 2 != 0 {
            reassembler.expire(now);
        }
        let slot = &mut model[usize::from(response)];
        if slot.as_ref().is_some_and(|m| now >= m.started + LIMITS.timeout) {
            *slot = None;
        }
        let direction = Direction::of_response_flag(response);
        match reassembler.push(now, direction, message_id, opened) {
            Ok(Reassembly::Complete(whole)) => {
                assert!(whole.plaintext.len() <= LIMITS.max_len);
                assert!(whole.fragment.is_none());
                if let Some(m) = slot.take()
                    && m.message_id == message_id
                    && m.total == total
                {
                    let expected: Option<Vec<u8>> = (1..=total)
                        .map(|n| {
                            if n == number {
                                Some(content)
                            } else {
                                m.parts.get(&n).map(Vec::as_slice)
                            }
                        })
                        .try_fold(Vec::new(), |mut all, part| {
                            all.extend_from_slice(part?);
                            Some(all)
                        });
                    if let Some(expected) = expected {
                        assert_eq!(whole.plaintext, expected, "reassembled out of order");
                    }
                }
            }
            Ok(Reassembly::Pending) => {
                if slot.as_ref().is_none_or(|m| m.message_id != message_id || total > m.total) {
                    *slot = Some(Model { message_id, total, started: now, parts: BTreeMap::new() });
                }
                if let Some(m) = slot {
                    m.parts.insert(number, content.to_vec());
                }
            }
            Ok(Reassembly::Ignored) => {}
            Err(_) => *slot = None,
        }
        assert!(reassembler.held_bytes() <= 2 * LIMITS.max_len, "held past the limit");
    }
    reassembler.expire(now + LIMITS.timeout);
    assert_eq!(reassembler.held_bytes(), 0, "an expired message is still held");
});
