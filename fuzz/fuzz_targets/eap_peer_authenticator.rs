//! The EAP state machines alone (`ikeway-eap`, issue 12): a real peer and a real authenticator
//! talk, and the fuzzer stands between them on one side, delivering the real message, an
//! edited copy, one with another identifier, or bytes of its own, each parsed by the codec's
//! `EapRepr::parse` as the IKE layer would.
//!
//! Input: a setup byte, then one operation per message delivered to the target.
//! - setup bit 0: the target is the authenticator (else the peer); bits 1-2: the peer's
//!   credentials (0 right password, 1 wrong password, 2 unknown user, 3 no password); bits 3-4:
//!   the peer's methods, bits 5-6 the server's (0 MSCHAPv2, 1 MD5, 2 MSCHAPv2 then MD5, 3 MD5
//!   then MSCHAPv2).
//! - operation `op % 4`: 0 the real message; 1 the real message with `[count]` edits
//!   `[offset:2][xor]`; 2 `[code][identifier][type][len:2][data]` of its own; 3 the real
//!   message with its identifier xored with `[byte]`.
//!
//! Checks: nothing panics; every message either side makes re-parses to itself and stays
//! within `MAX_MESSAGE_LEN`; an ended side stays ended; the conversation ends within the round
//! bound; the authenticator reports success only to a peer holding alice's right password, and
//! only for "alice"; a peer limited to MSCHAPv2 reports success only when the server knows its
//! password (the fuzzer cannot forge `S=`), and never before a method ran; and when every
//! operation delivered the real message (the seeds), the conversation ends as it must: success
//! with the right password, a refusal otherwise.
#![no_main]

use std::sync::Arc;

use ikeway_crypto::SecretBytes;
use ikeway_eap::limits::{MAX_MESSAGE_LEN, MAX_ROUNDS};
use ikeway_eap::{
    AuthStep, AuthenticatorConfig, EapAuthenticator, EapPeer, EapRepr, Method, PeerConfig,
    PeerStep, Users,
};
use ikeway_fuzz::Input;
use libfuzzer_sys::fuzz_target;
use rand_core::SeedableRng;

const USERS: &str = "alice : EAP \"correct horse\"\nbob : EAP \"battery staple\"\n";

fn methods(bits: u8) -> Vec<Method> {
    match bits & 3 {
        0 => vec![Method::MsChapV2],
        1 => vec![Method::Md5],
        2 => vec![Method::MsChapV2, Method::Md5],
        _ => vec![Method::Md5, Method::MsChapV2],
    }
}

fn emit(m: &EapRepr) -> Vec<u8> {
    let mut buf = vec![0; m.buffer_len()];
    let n = m.emit(&mut buf).expect("our own messages emit");
    buf.truncate(n);
    buf
}

/// What either side made: well-formed, bounded, and stable through the codec.
fn check_made(m: &EapRepr) {
    let bytes = emit(m);
    assert!(bytes.len() <= MAX_MESSAGE_LEN, "made a {}-byte message", bytes.len());
    assert_eq!(&EapRepr::parse(&bytes).expect("our own messages parse"), m);
}

/// The message the fuzzer lets through (`None`: the codec refuses the bytes, as IKE would).
fn deliver(input: &mut Input<'_>, real: &EapRepr, all_real: &mut bool) -> Option<EapRepr> {
    let op = input.byte() % 4;
    if op != 0 {
        *all_real = false;
    }
    let bytes = match op {
        0 => return Some(real.clone()),
        1 => {
            let mut b = emit(real);
            for _ in 0..input.byte() % 8 {
                let (offset, xor) = (usize::from(input.u16()), input.byte());
                let last = b.len() - 1;
                b[offset.min(last)] ^= xor;
            }
            b
        }
        2 => {
            let (code, id, t) = (input.byte(), input.byte(), input.byte());
            let data = input.bytes();
            let mut b = vec![code, id, 0, 0];
            if matches!(code, 1 | 2) {
                b.push(t);
            }
            b.extend_from_slice(data);
            let len = u16::try_from(b.len()).unwrap_or(u16::MAX);
            b[2..4].copy_from_slice(&len.to_be_bytes());
            b
        }
        _ => {
            let mut m = real.clone();
            m.identifier ^= input.byte();
            return Some(m);
        }
    };
    EapRepr::parse(&bytes).ok()
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let setup = input.byte();
    let target_is_server = setup & 1 == 1;
    let credentials = (setup >> 1) & 3;
    let peer_methods = methods(setup >> 3);
    let server_methods = methods(setup >> 5);
    let (identity, password) = match credentials {
        0 => ("alice", Some("correct horse")),
        1 => ("alice", Some("wrong horse")),
        // A password no user has: a success could only come from guessing one.
        2 => ("mallory", Some("mallory's password")),
        _ => ("alice", None),
    };
    let peer_config = Arc::new(PeerConfig {
        identity: identity.to_owned(),
        password: password.map(|p| SecretBytes::from_slice(p.as_bytes())),
        tls: None,
        methods: peer_methods.clone(),
    });
    let server_config = Arc::new(AuthenticatorConfig {
        methods: server_methods.clone(),
        users: Arc::new(Users::parse(USERS).expect("fixed users")),
        tls: None,
    });
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(u64::from(setup));
    let mut peer = EapPeer::new(peer_config);
    let mut server = EapAuthenticator::new(server_config);
    let mut all_real = true;

    let mut request = server.start(&mut rng);
    check_made(&request);
    // Every delivery is a round for the target, so the bound ends the loop; a little slack for
    // the messages that end it.
    let mut outcome = None;
    for _ in 0..MAX_ROUNDS + 4 {
        if target_is_server {
            // The real peer answers the real request; the fuzzer stands before the server.
            let real = match peer.handle(&request, &mut rng) {
                Ok(PeerStep::Respond(r)) => r,
                // The real peer stopped; the fuzzer may still talk to the server.
                _ => EapRepr { code: ikeway_eap::EapCode::RESPONSE, ..request.clone() },
            };
            let Some(response) = deliver(&mut input, &real, &mut all_real) else {
                if input.is_empty() {
                    break;
                }
                continue;
            };
            match server.handle(&response, &mut rng) {
                AuthStep::Request(next) => {
                    check_made(&next);
                    request = next;
                }
                AuthStep::Success { message, identity, msk } => {
                    check_made(&message);
                    assert!(credentials == 0, "the server accepted credentials case {credentials}");
                    assert_eq!(identity, "alice");
                    assert_eq!(msk.is_some(), server.method() == Some(Method::MsChapV2));
                    outcome = Some(true);
                    break;
                }
                AuthStep::Failure { message, .. } => {
                    check_made(&message);
                    outcome = Some(false);
                    break;
                }
            }
        } else {
            let Some(message) = deliver(&mut input, &request, &mut all_real) else {
                if input.is_empty() {
                    break;
                }
                continue;
            };
            match peer.handle(&message, &mut rng) {
                Ok(PeerStep::Respond(response)) => {
                    check_made(&response);
                    request = match server.handle(&response, &mut rng) {
                        AuthStep::Request(next) => next,
                        AuthStep::Success { message, .. } | AuthStep::Failure { message, .. } => {
                            message
                        }
                    };
                }
                Ok(PeerStep::Success { msk }) => {
                    let method = peer.method().expect("success only after a method ran");
                    if peer_methods == [Method::MsChapV2] {
                        assert!(credentials == 0, "the peer trusted a server without its password");
                    }
                    assert_eq!(msk.map(|k| k.len()), (method == Method::MsChapV2).then_some(64));
                    outcome = Some(true);
                    break;
                }
                Err(failure) => {
                    // An ended peer stays ended.
                    assert_eq!(peer.handle(&request, &mut rng).err(), Some(failure));
                    outcome = Some(false);
                    break;
                }
            }
        }
        if input.is_empty() && !all_real {
            break;
        }
    }
    let compatible = credentials != 3 && peer_methods.iter().any(|m| server_methods.contains(m));
    if all_real {
        // Untouched messages: the exchange runs to its end, and the right one.
        assert_eq!(outcome, Some(credentials == 0 && compatible), "setup {setup:#04x}");
    }
});
