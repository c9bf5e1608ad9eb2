//! Arbitrary datagrams into the ISAKMP (IKEv1) parser: never panics; whatever parses
//! re-encodes to the same length and parses back to the same message; an encrypted body is
//! also walked as if it were decrypted plaintext (the path the negotiation takes after
//! decrypting), and what that chain used re-encodes to the same length and payloads; the typed views (split
//! networks, RESPONDER-LIFETIME attributes, DPD sequence numbers) rebuild what they read.
#![no_main]

use ikeway_isakmp::{
    Body, Chain, ConfigAttribute, MessageRepr, NotificationRepr, NotifyType, Payload, PayloadType,
    chain_to_vec, parse_chain,
};
use libfuzzer_sys::fuzz_target;

fn check_views(payloads: &[Payload]) {
    for p in payloads {
        match p {
            Payload::Attribute(a) => {
                for attr in &a.attributes {
                    if let Some(Ok(nets)) = attr.split_networks() {
                        let rebuilt = ConfigAttribute::split_include(&nets);
                        assert_eq!(rebuilt.value.as_bytes(), attr.value.as_bytes(), "split list");
                    }
                }
            }
            Payload::Notification(n) => {
                if let Some(Ok(attrs)) = n.responder_lifetime() {
                    let rebuilt =
                        NotificationRepr::responder_lifetime_of(n.protocol, n.spi.clone(), &attrs)
                            .expect("attributes that parsed re-encode");
                    assert_eq!(rebuilt.data, n.data, "RESPONDER-LIFETIME data");
                }
                if let (Some(seq), Ok(cookies)) =
                    (n.dpd_sequence(), <[u8; 16]>::try_from(n.spi.as_slice()))
                {
                    let ack = n.kind == NotifyType::R_U_THERE_ACK;
                    let rebuilt = NotificationRepr::dpd(ack, cookies, seq);
                    assert_eq!(rebuilt.data, n.data, "DPD sequence");
                }
            }
            _ => {}
        }
    }
}

/// A decoded chain re-encodes to as many octets as it used (reserved octets come back as
/// zero, so not always to the same octets) and decodes back to the same payloads.
fn stable(first: PayloadType, chain: &Chain) {
    let encoded = chain_to_vec(&chain.payloads).expect("a parsed chain re-encodes");
    assert_eq!(encoded.len(), chain.used, "re-encoding changed the chain's length");
    let again = parse_chain(first, &encoded).expect("our own encoding parses");
    assert_eq!(again.payloads, chain.payloads, "parse(emit(chain)) != chain");
    assert_eq!(again.used, encoded.len());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = MessageRepr::parse(data) {
        let encoded = message.to_vec().expect("a parsed message always re-encodes");
        assert_eq!(encoded.len(), data.len(), "re-encoding changed the length");
        let again = MessageRepr::parse(&encoded).expect("our own encoding parses");
        assert_eq!(again, message, "parse(emit(m)) != m");
        assert_eq!(again.to_vec().unwrap(), encoded, "encoding is not deterministic");
        check_views(message.payloads());
        if let Body::Encrypted(ct) = &message.body {
            if let Ok(chain) = parse_chain(message.header.next_payload, ct) {
                stable(message.header.next_payload, &chain);
                check_views(&chain.payloads);
            }
        }
    }
    // The same bytes as a bare (decrypted) chain, starting with each common first payload.
    for first in [1u8, 5, 8, 11, 12, 14] {
        if let Ok(chain) = parse_chain(PayloadType(first), data) {
            stable(PayloadType(first), &chain);
            assert_eq!(chain.spans.len(), chain.payloads.len());
        }
    }
});
