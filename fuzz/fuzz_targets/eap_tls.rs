//! EAP-TLS (RFC 5216, RFC 9190) with the fuzzer between the two sides: a real `EapPeer` and
//! `EapAuthenticator` run a real TLS handshake in process (P-256 chains made once by rcgen,
//! verified at a fixed time), and every message towards the target side passes through the
//! fuzzer, which keeps it, edits its Type-Data, replaces its Type-Data, or replaces the whole
//! message. So the fuzzer's bytes reach EAP-TLS fragment reassembly (flags, TLS Message
//! Length, the 64 KiB bound), the acknowledgement rules, rustls's record and handshake
//! parsing, and the success rules (EAP-Success before the handshake, RFC 9190's indication).
//!
//! Input: a setup byte (bit 0: the authenticator is the target, else the peer; bits 1-2: TLS
//! 1.2 only, 1.3 only, or both; bit 3: 64-byte fragments, else 1024), then one operation per
//! message to the target, `[op]`:
//! - `op % 4 == 0`: unchanged (also what an exhausted input means)
//! - `op % 4 == 1`: `[count]` edits `[offset:2][xor]` of the Type-Data
//! - `op % 4 == 2`: the Type-Data replaced by `[len:2][data]`
//! - `op % 4 == 3`: the message replaced by `[code][type][len:2][data]` (the identifier kept)
//!
//! Checks: nothing panics and the exchange ends within its round bound; a side that ends in
//! success ends with a 64-byte MSK equal to the other side's (the authenticator's success
//! needs the honest peer to accept the same EAP-Success, the peer's success needs the
//! authenticator to have sent it); an untouched run (the `seed-unchanged*` seeds) succeeds
//! on both sides.
#![no_main]

use std::sync::Arc;

use ikeway_crypto::SecretBytes;
use ikeway_eap::{
    AuthStep, AuthenticatorConfig, Credentials, EapAuthenticator, EapCode, EapPeer, EapRepr,
    Method, PeerConfig, PeerStep, TlsVersion,
};
use ikeway_fuzz::Input;
use ikeway_fuzz::certs::{CLIENT_ID, eap_tls_configs};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

#[derive(Debug)]
struct NoUsers;

impl Credentials for NoUsers {
    fn password(&self, _: &str) -> Option<SecretBytes> {
        None
    }
}

/// Applies the next operation to `message`; whether it changed anything.
fn tamper(input: &mut Input<'_>, message: &mut EapRepr) -> bool {
    let before = message.clone();
    match input.byte() % 4 {
        1 => {
            for _ in 0..input.byte() % 8 {
                let (offset, xor) = (usize::from(input.u16()), input.byte());
                if let Some(last) = message.data.len().checked_sub(1) {
                    message.data[offset.min(last)] ^= xor;
                }
            }
        }
        2 => message.data = input.bytes().to_vec(),
        3 => {
            let code = EapCode(input.byte() % 5);
            let t = input.byte();
            message.code = code;
            message.eap_type = code.has_type().then_some(t);
            message.data = input.bytes().to_vec();
        }
        _ => {}
    }
    *message != before
}

fn msk(k: &Option<SecretBytes>) -> Vec<u8> {
    let k = k.as_ref().expect("EAP-TLS makes an MSK");
    assert_eq!(k.len(), 64);
    k.expose().to_vec()
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let setup = input.byte();
    let auth_is_target = setup & 1 == 1;
    let (min, max) = match (setup >> 1) % 3 {
        0 => (TlsVersion::V1_2, TlsVersion::V1_2),
        1 => (TlsVersion::V1_3, TlsVersion::V1_3),
        _ => (TlsVersion::V1_2, TlsVersion::V1_3),
    };
    let fragment = if setup & 8 != 0 { 64 } else { 1024 };
    let (tls_peer, tls_server) = eap_tls_configs(min, max, fragment);
    let mut peer = EapPeer::new(Arc::new(PeerConfig {
        identity: CLIENT_ID.to_owned(),
        password: None,
        tls: Some(tls_peer),
        methods: vec![Method::Tls],
    }));
    let mut auth = EapAuthenticator::new(Arc::new(AuthenticatorConfig {
        methods: vec![Method::Tls],
        users: Arc::new(NoUsers),
        tls: Some(tls_server),
    }));
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut tampered = false;
    let mut request = auth.start(&mut rng);
    // Each side bounds its own rounds (256 while EAP-TLS runs); more means a bound failed.
    for _ in 0..600 {
        if !auth_is_target {
            tampered |= tamper(&mut input, &mut request);
        }
        let mut response = match peer.handle(&request, &mut rng) {
            Ok(PeerStep::Respond(r)) => r,
            Ok(PeerStep::Success { msk: peer_msk }) => {
                // Only the authenticator's own EAP-Success (its code possibly rewritten to
                // Success by the fuzzer) comes after it finished; the MSKs must agree.
                panic!("peer success without the authenticator's verdict: {}", peer_msk.is_some())
            }
            Err(failure) => {
                assert!(tampered, "untouched run failed: {failure}");
                return;
            }
        };
        if auth_is_target {
            tampered |= tamper(&mut input, &mut response);
        }
        let (verdict, server_msk) = match auth.handle(&response, &mut rng) {
            AuthStep::Request(next) => {
                request = next;
                continue;
            }
            AuthStep::Success { message, identity, msk: m } => {
                // DNS names compare without regard to case (RFC 4343), so an identity whose
                // case the fuzzer changed still names the client's certificate.
                assert!(identity.eq_ignore_ascii_case(CLIENT_ID), "{identity}");
                (message, Some(msk(&m)))
            }
            AuthStep::Failure { message, reason } => {
                assert!(tampered, "untouched run refused: {reason}");
                (message, None)
            }
        };
        let mut verdict = verdict;
        if !auth_is_target {
            tampered |= tamper(&mut input, &mut verdict);
        }
        match (peer.handle(&verdict, &mut rng), server_msk) {
            (Ok(PeerStep::Success { msk: m }), Some(server)) => assert_eq!(msk(&m), server),
            (Ok(PeerStep::Success { .. }), None) => panic!("the peer accepted a refused exchange"),
            // The authenticator's success needs the honest peer's whole handshake, so that peer
            // takes the same EAP-Success. (An authenticator facing a tampered peer may succeed
            // alone: under TLS 1.3 it cannot know the peer got its success indication.)
            (outcome, Some(_)) if auth_is_target => {
                panic!("the authenticator succeeded, the honest peer did not: {outcome:?}")
            }
            (_, _) => assert!(tampered, "an untouched verdict was not accepted"),
        }
        return;
    }
    panic!("no end after 600 rounds");
});
