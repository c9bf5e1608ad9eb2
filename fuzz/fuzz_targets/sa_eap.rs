//! The fuzzer's bytes as the EAP (and AUTH) payloads of IKE_AUTH, inside correctly encrypted
//! messages to either side (issue 12): the real handshake runs in process (the insecure key
//! exchange, the server's P-256 certificate, EAP-MD5 or EAP-MSCHAPv2), and every IKE_AUTH
//! message toward the target is opened, rewritten as the input says and sealed again, while
//! the other direction goes as sent. So every byte chosen reaches the EAP state machines, the
//! IKE_AUTH rounds around them and the MSK-keyed AUTH checks.
//!
//! Input: a setup byte (bit 0: the client (initiator) is the target and the fuzzer speaks for
//! the server, else the responder is the target; bit 1: EAP-MD5, else EAP-MSCHAPv2), then per
//! message toward the target `[op]`:
//! - `op % 4 == 0`: unchanged
//! - `op % 4 == 1`: the EAP message (code, identifier, type, data) with `[count]` edits
//!   `[offset:2][xor]`
//! - `op % 4 == 2`: the EAP message replaced by `[code][identifier][type][len:2][data]`
//! - `op % 4 == 3`: an AUTH payload `[method][len:2][data]` in place of (or added to) the AUTH
//!
//! Checks: nothing panics; once the timers ran out, the responder either established the SA
//! or kept nothing of it (no SA, nothing half-open, no lease), and the initiator is
//! established or closed; and a run that changed nothing (the seeds `seed-unchanged*`) comes
//! up on both sides, so the harness really reaches a successful EAP authentication.
#![no_main]

use std::time::Duration;

use ikeway_codec::payload::{chain_to_vec, first_type, parse_chain};
use ikeway_codec::{AuthMethod, AuthRepr, EapCode, EapRepr, Payload, PayloadRepr};
use ikeway_eap::Method;
use ikeway_fuzz::Input;
use ikeway_fuzz::eap::configs;
use ikeway_fuzz::ike::{End, Pair};
use libfuzzer_sys::fuzz_target;

/// IKE_AUTH round trips the run takes at most: MSCHAPv2 needs five.
const ROUNDS: usize = 12;

/// The EAP message as its wire fields, edited, read back.
fn edit_eap(input: &mut Input<'_>, e: &EapRepr) -> EapRepr {
    let mut wire = vec![e.code.0, e.identifier];
    wire.extend(e.eap_type);
    wire.extend_from_slice(&e.data);
    for _ in 0..input.byte() % 8 {
        let (offset, xor) = (usize::from(input.u16()), input.byte());
        let last = wire.len() - 1;
        wire[offset.min(last)] ^= xor;
    }
    let code = EapCode(wire[0]);
    let (eap_type, data) = match (code.has_type(), wire.get(2)) {
        (true, Some(t)) => (Some(*t), wire[3..].to_vec()),
        (true, None) => (Some(0), Vec::new()),
        (false, _) => (None, wire.get(2..).unwrap_or_default().to_vec()),
    };
    EapRepr { code, identifier: wire[1], eap_type, data }
}

fn raw_eap(input: &mut Input<'_>) -> EapRepr {
    let code = EapCode(input.byte());
    let identifier = input.byte();
    let t = input.byte();
    let eap_type = code.has_type().then_some(t);
    EapRepr { code, identifier, eap_type, data: input.bytes().to_vec() }
}

/// The payloads rewritten as the input says.
fn rewrite(input: &mut Input<'_>, mut payloads: Vec<Payload>) -> Vec<Payload> {
    let op = input.byte() % 4;
    let eap_at = payloads.iter().position(|p| matches!(p.body, PayloadRepr::Eap(_)));
    match op {
        1 => {
            if let Some(i) = eap_at
                && let PayloadRepr::Eap(e) = &payloads[i].body
            {
                let edited = edit_eap(input, e);
                payloads[i] = Payload::new(PayloadRepr::Eap(edited));
            }
        }
        2 => {
            let eap = Payload::new(PayloadRepr::Eap(raw_eap(input)));
            match eap_at {
                Some(i) => payloads[i] = eap,
                None => payloads.push(eap),
            }
        }
        3 => {
            let auth = AuthRepr { method: AuthMethod(input.byte()), data: input.bytes().into() };
            let auth = Payload::new(PayloadRepr::Auth(auth));
            match payloads.iter().position(|p| matches!(p.body, PayloadRepr::Auth(_))) {
                Some(i) => payloads[i] = auth,
                None => payloads.push(auth),
            }
        }
        _ => {}
    }
    payloads
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let setup = input.byte();
    let target = if setup & 1 == 1 { End::Initiator } else { End::Responder };
    let method = if setup & 2 == 2 { Method::Md5 } else { Method::MsChapV2 };
    let (client, server) = configs(method);
    let mut pair = Pair::after_sa_init_with(client, server);
    // The first IKE_AUTH (IDi, SA, TS, no AUTH) is the client's own: EAP starts in its answer.
    pair.deliver(End::Responder);
    let other = match target {
        End::Initiator => End::Responder,
        End::Responder => End::Initiator,
    };
    let mut unchanged = true;
    for _ in 0..ROUNDS {
        pair.deliver(other);
        let queue = match target {
            End::Initiator => std::mem::take(&mut pair.to_initiator),
            End::Responder => std::mem::take(&mut pair.to_responder),
        };
        if queue.is_empty() {
            break;
        }
        for message in queue {
            let resealed = pair.reseal(target, &message, |first, plaintext| {
                let Ok(payloads) = parse_chain(*first, plaintext) else { return };
                let rewritten = rewrite(&mut input, payloads.clone());
                if rewritten != payloads
                    && let Ok(bytes) = chain_to_vec(&rewritten)
                {
                    unchanged = false;
                    *first = first_type(&rewritten);
                    *plaintext = bytes;
                }
            });
            pair.feed(target, resealed.as_deref().unwrap_or(&message));
        }
    }
    if unchanged {
        assert!(pair.initiator.is_established(), "the real EAP exchange did not complete");
        assert!(pair.responder.sas().all(|sa| sa.is_established()));
        assert_eq!(pair.responder.len(), 1);
    }
    // Retransmissions run out and the half-open SA times out; nothing more is delivered.
    for _ in 0..10 {
        pair.advance(Duration::from_secs(30));
    }
    assert!(
        pair.initiator.is_established() || pair.initiator.is_closed(),
        "the client neither came up nor gave up"
    );
    let established = pair.responder.sas().all(|sa| sa.is_established() || sa.is_closed());
    assert!(established, "a half-open SA outlived the half-open timeout");
    assert_eq!(pair.responder.half_open(), 0);
    if pair.responder.is_empty() {
        assert_eq!(pair.responder.leased(), 0);
    }
});
