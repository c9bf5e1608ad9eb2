//! Property tests: every representation survives emit -> parse unchanged
//! (messages byte for byte), spans point at what was emitted, and no input,
//! however mangled, makes the decoder panic.

use std::net::IpAddr;

use ikeway_isakmp::{
    AttributeRepr, AttributeValue, Body, CertEncoding, CertRepr, ConfigAttribute,
    ConfigAttributeType, ConfigType, DataAttribute, DeleteRepr, Doi, ExchangeType, Flags,
    FragmentRepr, HashRepr, HeaderRepr, IdRepr, IdType, KeRepr, MessageRepr, NatDRepr, NatOaRepr,
    NonceRepr, NotificationRepr, NotifyType, Payload, PayloadType, ProposalRepr, ProtocolId,
    SaAttribute, SaRepr, SigRepr, TransformRepr, VendorIdRepr, chain_to_vec, parse_chain,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn value() -> impl Strategy<Value = AttributeValue> {
    prop_oneof![
        any::<u16>().prop_map(AttributeValue::Basic),
        bytes(12).prop_map(AttributeValue::Variable)
    ]
}

fn sa_attribute() -> impl Strategy<Value = SaAttribute> {
    (0u16..0x8000, value()).prop_map(|(kind, value)| DataAttribute { kind, value })
}

fn transform() -> impl Strategy<Value = TransformRepr> {
    (any::<u8>(), any::<u8>(), vec(sa_attribute(), 0..5))
        .prop_map(|(number, id, attributes)| TransformRepr { number, id, attributes })
}

fn proposal() -> impl Strategy<Value = ProposalRepr> {
    let proto_spi = prop_oneof![
        (Just(ProtocolId::ISAKMP), 0usize..=16),
        Just((ProtocolId::ESP, 4)),
        Just((ProtocolId::AH, 4)),
        Just((ProtocolId::IPCOMP, 2)),
        (5u8..=255, 0usize..6).prop_map(|(p, n)| (ProtocolId(p), n)),
    ];
    (any::<u8>(), proto_spi, vec(transform(), 0..4)).prop_flat_map(
        |(number, (protocol, n), transforms)| {
            vec(any::<u8>(), n).prop_map(move |spi| ProposalRepr {
                number,
                protocol,
                spi,
                transforms: transforms.clone(),
            })
        },
    )
}

fn sa() -> impl Strategy<Value = SaRepr> {
    (prop_oneof![Just(1u32), Just(0), Just(0x10)], vec(proposal(), 0..4))
        .prop_map(|(situation, proposals)| SaRepr { doi: Doi::IPSEC, situation, proposals })
}

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![any::<[u8; 4]>().prop_map(IpAddr::from), any::<[u8; 16]>().prop_map(IpAddr::from)]
}

fn id() -> impl Strategy<Value = IdRepr> {
    let data = prop_oneof![
        (Just(IdType::IPV4_ADDR), vec(any::<u8>(), 4)),
        (Just(IdType::IPV4_ADDR_SUBNET), vec(any::<u8>(), 8)),
        (Just(IdType::IPV4_ADDR_RANGE), vec(any::<u8>(), 8)),
        (Just(IdType::IPV6_ADDR), vec(any::<u8>(), 16)),
        (Just(IdType::IPV6_ADDR_SUBNET), vec(any::<u8>(), 32)),
        (Just(IdType::IPV6_ADDR_RANGE), vec(any::<u8>(), 32)),
        (
            prop_oneof![Just(2u8), Just(3), Just(9), Just(10), Just(11), 12u8..=255]
                .prop_map(IdType),
            bytes(40)
        ),
    ];
    (data, any::<u8>(), any::<u16>()).prop_map(|((id_type, data), protocol, port)| IdRepr {
        id_type,
        protocol,
        port,
        data,
    })
}

fn config_attribute() -> impl Strategy<Value = ConfigAttribute> {
    (0u16..0x8000, value())
        .prop_map(|(k, value)| DataAttribute { kind: ConfigAttributeType(k), value })
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        sa().prop_map(Payload::Sa),
        bytes(64).prop_map(|d| Payload::Ke(KeRepr::new(d))),
        id().prop_map(Payload::Id),
        (any::<u8>(), bytes(40))
            .prop_map(|(e, data)| Payload::Cert(CertRepr { encoding: CertEncoding(e), data })),
        (any::<u8>(), bytes(40))
            .prop_map(|(e, data)| Payload::CertReq(CertRepr { encoding: CertEncoding(e), data })),
        bytes(48).prop_map(|d| Payload::Hash(HashRepr::new(d))),
        bytes(48).prop_map(|d| Payload::Sig(SigRepr::new(d))),
        bytes(48).prop_map(|d| Payload::Nonce(NonceRepr::new(d))),
        (any::<u32>(), any::<u8>(), bytes(17), any::<u16>(), bytes(20)).prop_map(
            |(doi, p, spi, k, data)| {
                Payload::Notification(NotificationRepr {
                    doi: Doi(doi),
                    protocol: ProtocolId(p),
                    spi,
                    kind: NotifyType(k),
                    data,
                })
            }
        ),
        (any::<u32>(), any::<u8>(), 0u8..17, 0usize..4)
            .prop_map(|(doi, p, size, n)| {
                // Zero-octet SPIs come only as an empty list.
                (doi, p, size, if size == 0 { 0 } else { n })
            })
            .prop_flat_map(|(doi, p, size, n)| {
                vec(vec(any::<u8>(), usize::from(size)), n).prop_map(move |spis| {
                    Payload::Delete(DeleteRepr {
                        doi: Doi(doi),
                        protocol: ProtocolId(p),
                        spi_size: size,
                        spis,
                    })
                })
            }),
        bytes(24).prop_map(|d| Payload::VendorId(VendorIdRepr::new(d))),
        // With libreswan's zero padding after the last attribute (0 to 3 octets).
        (any::<u8>(), any::<u16>(), vec(config_attribute(), 0..6), 0..=3u8).prop_map(
            |(k, identifier, attributes, padding)| {
                Payload::Attribute(AttributeRepr {
                    padding,
                    ..AttributeRepr::new(ConfigType(k), identifier, attributes)
                })
            }
        ),
        bytes(32).prop_map(|d| Payload::NatD(NatDRepr::new(d))),
        bytes(32).prop_map(|d| Payload::NatDDraft(NatDRepr::new(d))),
        addr().prop_map(|address| Payload::NatOa(NatOaRepr { address })),
        addr().prop_map(|address| Payload::NatOaDraft(NatOaRepr { address })),
        (any::<u16>(), 1u8..=255, any::<u8>(), bytes(64)).prop_map(|(id, number, flags, data)| {
            Payload::Fragment(FragmentRepr { id, number, flags, data })
        }),
        (prop_oneof![Just(2u8), Just(3), 15u8..20, 22u8..130, 133u8..=255], bytes(24))
            .prop_map(|(k, data)| Payload::Unknown { kind: PayloadType(k), data }),
    ]
}

fn header() -> impl Strategy<Value = HeaderRepr> {
    (
        any::<[u8; 8]>(),
        any::<[u8; 8]>(),
        any::<u8>(),
        0u8..16,
        any::<u32>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(ci, cr, ex, minor, mid, commit, auth)| {
            let mut h = HeaderRepr::new(ci, cr, ExchangeType(ex), mid);
            h.version = 0x10 | minor;
            h.flags = Flags { encryption: false, commit, authentication_only: auth };
            h
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn plaintext_messages_round_trip_byte_for_byte(h in header(), payloads in vec(payload(), 0..6)) {
        let msg = MessageRepr::plain(h, payloads.clone());
        let bytes = msg.to_vec().expect("encodes");
        let (back, spans) = MessageRepr::parse_with_spans(&bytes).expect("decodes");
        prop_assert_eq!(back.payloads(), payloads.as_slice());
        prop_assert_eq!(back.to_vec().expect("re-encodes"), bytes.clone());
        // Every span holds exactly the payload's own encoding.
        for (p, s) in payloads.iter().zip(&spans) {
            let body = p.emit_body().expect("encodes");
            prop_assert_eq!(&bytes[s.body()], body.as_slice());
            prop_assert_eq!(s.kind, p.kind());
        }
        if let Some(first) = spans.first() {
            let tail = chain_to_vec(&payloads[1..]).expect("encodes");
            prop_assert_eq!(&bytes[first.end..], tail.as_slice());
        }
    }

    #[test]
    fn encrypted_messages_round_trip(h in header(), next in any::<u8>(), ct in bytes(80)) {
        let mut h = h;
        h.next_payload = PayloadType(next);
        let msg = MessageRepr { header: h, body: Body::Encrypted(ct.clone()) };
        let bytes = msg.to_vec().expect("encodes");
        let back = MessageRepr::parse(&bytes).expect("decodes");
        prop_assert_eq!(back.header.next_payload, PayloadType(next));
        prop_assert!(back.header.flags.encryption);
        prop_assert_eq!(back.body, Body::Encrypted(ct));
    }

    #[test]
    fn padded_plaintext_reports_the_chain_length(payloads in vec(payload(), 1..5), pad in bytes(16)) {
        let mut plain = chain_to_vec(&payloads).expect("encodes");
        let used = plain.len();
        plain.extend_from_slice(&pad);
        let chain = parse_chain(payloads[0].kind(), &plain).expect("decodes");
        prop_assert_eq!(chain.used, used);
        prop_assert_eq!(chain.payloads, payloads);
    }

    #[test]
    fn arbitrary_input_never_panics(data in bytes(400)) {
        if let Ok(m) = MessageRepr::parse(&data) {
            // Whatever parses re-encodes to something that parses the same.
            let again = MessageRepr::parse(&m.to_vec().expect("encodes")).expect("re-decodes");
            prop_assert_eq!(again, m);
        }
        for first in [1u8, 5, 8, 11, 14] {
            let _ = parse_chain(PayloadType(first), &data);
        }
    }

    #[test]
    fn mangled_valid_messages_never_panic(h in header(), payloads in vec(payload(), 1..5), flips in vec((any::<usize>(), any::<u8>()), 1..6)) {
        let mut bytes = MessageRepr::plain(h, payloads).to_vec().expect("encodes");
        for (at, x) in flips {
            let i = at % bytes.len();
            bytes[i] ^= x;
        }
        if let Ok(m) = MessageRepr::parse(&bytes) {
            let again = MessageRepr::parse(&m.to_vec().expect("encodes")).expect("re-decodes");
            prop_assert_eq!(again, m);
        }
    }
}

#[test]
fn responder_lifetime_attributes_round_trip_through_a_notification() {
    let attrs = vec![DataAttribute::basic(1u16, 1), DataAttribute::integer(2u16, 86_400)];
    let n = NotificationRepr::responder_lifetime_of(ProtocolId::ESP, vec![1, 2, 3, 4], &attrs)
        .expect("encodes");
    assert_eq!(n.responder_lifetime(), Some(Ok(attrs)));
}
