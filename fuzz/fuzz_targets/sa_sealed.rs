//! The fuzzer's bytes as the plaintext of authenticated IKE messages, so IKE_AUTH,
//! CREATE_CHILD_SA and INFORMATIONAL handling (requests and responses, in both roles) and the
//! reassembly of SKF fragments are reached: the target completes a real handshake in process
//! (fixed seeds, the insecure key exchange), then seals each message with the IKE SA's keys.
//! Besides plaintext made up whole, the fuzzer edits messages the real peer sent (its IKE_AUTH,
//! CREATE_CHILD_SA and INFORMATIONAL requests and responses), so changes to well-formed
//! exchanges get past AUTH and into child SA, traffic selector and configuration handling.
//!
//! Input: one setup byte (bit 0: the messages go to the responder endpoint, else to the
//! initiator; bit 1: stop after IKE_SA_INIT, so IKE_AUTH itself is fuzzed; bit 2: AES-CBC with
//! HMAC instead of AES-GCM; bit 3: MOBIKE on both ends, so UPDATE_SA_ADDRESSES, COOKIE2 and the
//! address notifies of RFC 4555 are handled inside a valid SK envelope; bit 4: an ML-KEM-768
//! additional key exchange (RFC 9370) on both ends, so with bit 1 the first exchange is
//! IKE_INTERMEDIATE (exchange byte 43), its real request or response the first template, and
//! child SAs with PFS, so a child's or an IKE rekey's CREATE_CHILD_SA is followed by
//! IKE_FOLLOWUP_KE (exchange byte 44) with its N(ADDITIONAL_KEY_EXCHANGE) link), then
//! operations (first byte modulo 11) until the input ends:
//! - `0..=2` request `[exchange][mid][first payload][len:2][plaintext]`
//! - `3..=4` response to the target's outstanding request, same fields
//! - `5` fragments `[exchange][flags][mid][first payload][count]` then per fragment
//!   `[number][total][len:2][plaintext]`
//! - `6` command to the target `[which]`: create, rekey or delete a child, rekey or delete
//!   the IKE SA, DPD, move to 10.0.5.`which` (MOBIKE `update_path`), announce additional
//!   addresses (its request waits for an answer from the fuzzer, or from op 9)
//! - `7` time `[seconds]`, then the two ends talk until quiet
//! - `8` command to the real peer `[which]`, as 6: its request becomes a template
//! - `9` the real peer answers what the target sent: its responses become templates
//! - `10` edit a template and send it to the target: `[index][first payload xor][cut:2]
//!   [count]` then per edit `[offset:2][xor]`; `cut` shortens the plaintext to that length
//!
//! `exchange` 0..=3 picks IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL, IKE_SA_INIT; other values
//! are used as they are. `mid` 0..=251 means the expected message ID; 252..=255 are off by
//! -1, +1, +2 and zero.
//!
//! Checks: nothing panics (the library asserts its own invariants).
//!
//! Issue 9 finding 15: one of the targets that reach what the first release left unfuzzed.
#![no_main]

use std::time::{Duration, Instant};

use ikeway_codec::sk::FragmentInfo;
use ikeway_codec::{ExchangeType, PayloadType};
use ikeway_fuzz::Input;
use ikeway_fuzz::ike::{End, Pair, configs, header_of, hybrid_configs};
use ikeway_sa::IkeSa;
use libfuzzer_sys::fuzz_target;

/// Message IDs as the target expects them, learnt from what it sends.
struct Ids {
    /// The next request the target will accept from its peer.
    next_request: u32,
    /// The target's own outstanding request.
    outstanding: Option<(u32, ExchangeType)>,
}

impl Ids {
    /// A response from the target means it took request `mid`, so the next one is `mid + 1`;
    /// a request is its own outstanding one.
    fn learn(&mut self, sent: &[Vec<u8>]) {
        for d in sent {
            let Some(h) = header_of(d) else { continue };
            if h.flags.response {
                self.next_request = h.message_id.wrapping_add(1);
            } else {
                self.outstanding = Some((h.message_id, h.exchange));
            }
        }
    }
}

fn exchange(b: u8) -> ExchangeType {
    match b {
        0 => ExchangeType::IKE_AUTH,
        1 => ExchangeType::CREATE_CHILD_SA,
        2 => ExchangeType::INFORMATIONAL,
        3 => ExchangeType::IKE_SA_INIT,
        other => ExchangeType(other),
    }
}

fn message_id(b: u8, expected: u32) -> u32 {
    match b {
        252 => expected.wrapping_sub(1),
        253 => expected.wrapping_add(1),
        254 => expected.wrapping_add(2),
        255 => 0,
        _ => expected,
    }
}

fn other(end: End) -> End {
    match end {
        End::Initiator => End::Responder,
        End::Responder => End::Initiator,
    }
}

fn command(sa: &mut IkeSa, now: Instant, which: u8) {
    let child = sa.child_spis().first().map(|c| c.0);
    match (which % 8, child) {
        (0, _) => sa.create_child(now),
        (1, Some(spi)) => sa.rekey_child(now, spi),
        (2, _) => sa.rekey_ike(now),
        (3, Some(spi)) => sa.delete_child(now, spi),
        (4, _) => sa.delete_ike(now),
        (6, _) => {
            // Refused without MOBIKE or on the responder: that is fuzzed too.
            let local = std::net::SocketAddr::from(([10, 0, 5, which], 500));
            let _ = sa.update_path(now, local, sa.remote());
        }
        (7, _) => {
            let addrs = (0..which % 20).map(|i| std::net::IpAddr::from([10, 0, 6, i])).collect();
            sa.set_additional_addresses(now, addrs);
        }
        _ => sa.dpd(now),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let setup = input.byte();
    let target = if setup & 1 == 1 { End::Responder } else { End::Initiator };
    let peer = other(target);
    let cbc = setup & 4 != 0;
    let hybrid = setup & 0x10 != 0;
    let (mut client, mut server) = if hybrid { hybrid_configs(cbc) } else { configs(cbc) };
    client.mobike = setup & 8 != 0;
    server.mobike = client.mobike;
    let mut pair = if setup & 2 != 0 {
        Pair::after_sa_init_with(client, server)
    } else {
        Pair::established_with(client, server)
    };
    // The first request after IKE_SA_INIT (message 0) is message 1; with an additional key
    // exchange it is IKE_INTERMEDIATE and IKE_AUTH is message 2.
    let first = if hybrid { ExchangeType::IKE_INTERMEDIATE } else { ExchangeType::IKE_AUTH };
    let mut ids = match (target, pair.initiator.is_established()) {
        (End::Responder, false) => Ids { next_request: 1, outstanding: None },
        (End::Initiator, false) => Ids { next_request: 0, outstanding: Some((1, first)) },
        (End::Responder, true) => Ids { next_request: 2 + u32::from(hybrid), outstanding: None },
        (End::Initiator, true) => Ids { next_request: 0, outstanding: None },
    };
    // Messages of the real peer to edit; the first is its IKE_AUTH request or response.
    let mut templates: Vec<Vec<u8>> = Vec::new();
    if !pair.initiator.is_established() {
        if target == End::Initiator {
            // The responder answers the real IKE_AUTH request; the initiator never sees it.
            pair.deliver(End::Responder);
            templates.extend(std::mem::take(&mut pair.to_initiator));
        } else {
            templates.extend(std::mem::take(&mut pair.to_responder));
        }
    }
    pair.clear();

    let mut ops = 0;
    while !input.is_empty() && ops < 64 {
        ops += 1;
        match input.byte() % 11 {
            op @ 0..=4 => {
                let response = op >= 3;
                let exch = exchange(input.byte());
                let mid_byte = input.byte();
                let first = PayloadType(input.byte());
                let content = input.bytes();
                let (mid, exch) = match (response, ids.outstanding) {
                    (true, Some((mid, their_exchange))) => {
                        (message_id(mid_byte, mid), if exch.0 < 4 { their_exchange } else { exch })
                    }
                    (true, None) => (message_id(mid_byte, 0), exch),
                    (false, _) => (message_id(mid_byte, ids.next_request), exch),
                };
                let Some(message) =
                    pair.seal_for(target, exch, response, mid, first, None, content)
                else {
                    return;
                };
                pair.feed(target, &message);
            }
            5 => {
                let exch = exchange(input.byte());
                let response = input.byte() & 1 == 1;
                let mid_byte = input.byte();
                let first = PayloadType(input.byte());
                let count = input.byte() % 5;
                let mid = match (response, ids.outstanding) {
                    (true, Some((mid, _))) => message_id(mid_byte, mid),
                    _ => message_id(mid_byte, ids.next_request),
                };
                for i in 0..count {
                    let number = u16::from(input.byte());
                    let total = u16::from(input.byte());
                    let content = input.bytes();
                    let first = if i == 0 { first } else { PayloadType::NONE };
                    let fragment = Some(FragmentInfo { number, total });
                    let Some(message) =
                        pair.seal_for(target, exch, response, mid, first, fragment, content)
                    else {
                        return;
                    };
                    pair.feed(target, &message);
                }
            }
            6 => {
                let which = input.byte();
                let now = pair.now;
                let Some(sa) = pair.sa(target) else { return };
                command(sa, now, which);
                pair.collect();
            }
            7 => {
                let seconds = input.byte();
                ids.outstanding = None;
                pair.advance(Duration::from_secs(u64::from(seconds)));
                // Rekeys the real peer answers change the keys later messages are sealed with.
                pair.exchange_all();
            }
            8 => {
                let which = input.byte();
                let now = pair.now;
                let Some(sa) = pair.sa(peer) else { return };
                command(sa, now, which);
                pair.collect();
                templates.extend(pair.take_log(peer));
            }
            9 => {
                pair.deliver(peer);
                templates.extend(pair.take_log(peer));
            }
            _ => {
                let index = usize::from(input.byte());
                let first_xor = input.byte();
                let cut = usize::from(input.u16());
                let edits: Vec<(usize, u8)> = (0..input.byte() % 8)
                    .map(|_| (usize::from(input.u16()), input.byte()))
                    .collect();
                let Some(template) = templates.get(index % templates.len().max(1)).cloned() else {
                    continue;
                };
                let edit = |first: &mut PayloadType, plaintext: &mut Vec<u8>| {
                    first.0 ^= first_xor;
                    if cut > 0 {
                        plaintext.truncate(cut);
                    }
                    for (offset, xor) in edits {
                        if let Some(len) = plaintext.len().checked_sub(1) {
                            plaintext[offset.min(len)] ^= xor;
                        }
                    }
                };
                if let Some(message) = pair.reseal(target, &template, edit) {
                    pair.feed(target, &message);
                }
            }
        }
        ids.learn(&pair.take_log(target));
        // Only the target's own messages matter from here; the peer's were taken above.
        pair.take_log(peer);
    }
});
