//! The fuzzer's bytes as the CERT and AUTH payloads of an IKE_AUTH, inside a correctly
//! encrypted message to the side that verifies certificates (issue 11): the real handshake
//! runs in process (the insecure key exchange, P-256 chains made once by rcgen), then the
//! prover's real IKE_AUTH (the client's request, or the server's response) is opened, its CERT
//! and AUTH payloads replaced, and the rest (ID, SA, TS, CP) kept, so every byte chosen
//! reaches the CERT bounds, X.509 parsing, path validation and the signature check.
//!
//! Input: a setup byte (bit 0: the server proves itself and the client (initiator) is the
//! target, else the client proves itself to the responder), a CERT count (next byte modulo
//! 10), then per CERT `[kind]`:
//! - `kind % 3 == 0`: the real certificate `kind / 3` (end entity or intermediate), with
//!   `[count]` edits `[offset:2][xor]`
//! - `kind % 3 == 1`: `[encoding][len:2][data]` as it comes
//! - `kind % 3 == 2`: the real certificate `kind / 3` cut to `[len:2]` bytes
//!
//! then `[auth]`: even keeps the real AUTH with `[count]` edits `[offset:2][xor]`, odd is
//! `[method][len:2][data]`.
//!
//! Checks: nothing panics; a target responder either established the SA or kept nothing of
//! it (no SA, nothing half-open, no lease), a target initiator is established or closed; and
//! a rewrite that changed nothing (the seeds `seed-unchanged*`) is accepted, so the harness
//! really reaches a successful check.
#![no_main]

use ikeway_codec::payload::{chain_to_vec, first_type, parse_chain};
use ikeway_codec::{AuthMethod, AuthRepr, CertEncoding, CertRepr, Payload, PayloadRepr};
use ikeway_fuzz::Input;
use ikeway_fuzz::certs::configs;
use ikeway_fuzz::ike::{End, Pair};
use libfuzzer_sys::fuzz_target;

fn edit(input: &mut Input<'_>, data: &mut [u8]) {
    for _ in 0..input.byte() % 8 {
        let (offset, xor) = (usize::from(input.u16()), input.byte());
        if let Some(last) = data.len().checked_sub(1) {
            data[offset.min(last)] ^= xor;
        }
    }
}

/// The payloads with CERT and AUTH replaced as the input says.
fn rewrite(input: &mut Input<'_>, payloads: Vec<Payload>) -> Vec<Payload> {
    let real_certs: Vec<Vec<u8>> = payloads
        .iter()
        .filter_map(|p| match &p.body {
            PayloadRepr::Cert(c) => Some(c.data.clone()),
            _ => None,
        })
        .collect();
    let mut certs = Vec::new();
    for _ in 0..input.byte() % 10 {
        let kind = input.byte();
        let real = real_certs[usize::from(kind / 3) % real_certs.len()].clone();
        let cert = match kind % 3 {
            0 => {
                let mut data = real;
                edit(input, &mut data);
                CertRepr::x509(data)
            }
            1 => CertRepr { encoding: CertEncoding(input.byte()), data: input.bytes().to_vec() },
            _ => {
                let mut data = real;
                data.truncate(usize::from(input.u16()));
                CertRepr::x509(data)
            }
        };
        certs.push(Payload::new(PayloadRepr::Cert(cert)));
    }
    let mut out = Vec::new();
    for p in payloads {
        match p.body {
            PayloadRepr::Cert(_) => {}
            PayloadRepr::IdI(_) | PayloadRepr::IdR(_) => {
                out.push(p);
                out.append(&mut certs);
            }
            PayloadRepr::Auth(mut auth) => {
                if input.byte() % 2 == 0 {
                    edit(input, &mut auth.data);
                } else {
                    auth =
                        AuthRepr { method: AuthMethod(input.byte()), data: input.bytes().into() };
                }
                out.push(Payload::new(PayloadRepr::Auth(auth)));
            }
            _ => out.push(p),
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let server_proves = input.byte() & 1 == 1;
    let (client, server) = configs(server_proves);
    let mut pair = Pair::after_sa_init_with(client, server);
    let target = if server_proves {
        // The server answers the real IKE_AUTH request; its response is what is rewritten.
        pair.deliver(End::Responder);
        End::Initiator
    } else {
        End::Responder
    };
    let queue = match target {
        End::Initiator => std::mem::take(&mut pair.to_initiator),
        End::Responder => std::mem::take(&mut pair.to_responder),
    };
    let [message] = &queue[..] else {
        panic!("IKE_AUTH goes whole");
    };
    pair.clear();
    let mut unchanged = false;
    let resealed = pair.reseal(target, message, |first, plaintext| {
        let payloads = parse_chain(*first, plaintext).expect("our own IKE_AUTH parses");
        let rewritten = rewrite(&mut input, payloads.clone());
        unchanged = rewritten == payloads;
        if let Ok(bytes) = chain_to_vec(&rewritten) {
            *first = first_type(&rewritten);
            *plaintext = bytes;
        }
    });
    let Some(message) = resealed else { return };
    pair.feed(target, &message);
    match target {
        End::Initiator => {
            let done = pair.initiator.is_established() || pair.initiator.is_closed();
            assert!(done, "the client neither accepted nor refused the server");
            if unchanged {
                assert!(pair.initiator.is_established(), "the server's own IKE_AUTH was refused");
            }
        }
        End::Responder => {
            let established = pair.responder.sas().all(|sa| sa.is_established());
            assert!(
                established || pair.responder.is_empty(),
                "a refused client left {} SAs",
                pair.responder.len()
            );
            if unchanged {
                assert!(!pair.responder.is_empty(), "the client's own IKE_AUTH was refused");
            }
            if pair.responder.is_empty() {
                assert_eq!(pair.responder.half_open(), 0);
                assert_eq!(pair.responder.leased(), 0);
            }
        }
    }
});
