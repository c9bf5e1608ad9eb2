//! Property tests: every representation survives emit -> parse unchanged,
//! and no input, however mangled, makes the decoder panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ikeway_codec::{
    AddrRange, AttributeType, AuthMethod, AuthRepr, CertEncoding, CertRepr, ConfigAttribute,
    ConfigAttributeType, ConfigRepr, ConfigType, DeleteRepr, DhGroup, EapCode, EapRepr,
    EncryptedFragmentRepr, EncryptedRepr, ExchangeType, Flags, HeaderRepr, IdRepr, IdType, KeRepr,
    MessageRepr, NonceRepr, NotifyRepr, NotifyType, Payload, PayloadRepr, PayloadType,
    ProposalRepr, ProtocolId, SaRepr, TrafficSelector, TransformAttribute, TransformRepr,
    TransformType, TsRepr, TsType, VendorIdRepr, chain_to_vec, parse_chain,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn attribute() -> impl Strategy<Value = TransformAttribute> {
    prop_oneof![
        (0u16..0x8000, any::<u16>())
            .prop_map(|(k, value)| TransformAttribute::Tv { kind: AttributeType(k), value }),
        (0u16..0x8000, bytes(12))
            .prop_map(|(k, value)| TransformAttribute::Tlv { kind: AttributeType(k), value }),
    ]
}

fn transform() -> impl Strategy<Value = TransformRepr> {
    (any::<u8>(), any::<u16>(), vec(attribute(), 0..3)).prop_map(|(k, id, attributes)| {
        TransformRepr { kind: TransformType(k), id, attributes: attributes.into() }
    })
}

fn proposal() -> impl Strategy<Value = ProposalRepr> {
    let proto_spi = prop_oneof![
        Just((ProtocolId::IKE, 0usize)),
        Just((ProtocolId::IKE, 8)),
        Just((ProtocolId::ESP, 4)),
        Just((ProtocolId::AH, 4)),
        // Past the 8 octets an SPI holds inline, to cover the spill.
        (4u8..=255, 0usize..12).prop_map(|(p, n)| (ProtocolId(p), n)),
    ];
    (any::<u8>(), proto_spi, vec(transform(), 0..6)).prop_flat_map(
        |(number, (protocol, spi_len), transforms)| {
            vec(any::<u8>(), spi_len).prop_map(move |spi| ProposalRepr {
                number,
                protocol,
                spi: spi.into(),
                transforms: transforms.clone().into(),
            })
        },
    )
}

fn sa() -> impl Strategy<Value = SaRepr> {
    vec(proposal(), 0..4).prop_map(|proposals| SaRepr { proposals })
}

fn id() -> impl Strategy<Value = IdRepr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| IdRepr { id_type: IdType::ID_IPV4_ADDR, data: a[..].into() }),
        any::<[u8; 16]>()
            .prop_map(|a| IdRepr { id_type: IdType::ID_IPV6_ADDR, data: a[..].into() }),
        // Past the 32 octets IdData holds inline, to cover the spill.
        (any::<u8>(), bytes(48))
            .prop_filter("address types have fixed lengths", |(t, _)| *t != 1 && *t != 5)
            .prop_map(|(t, data)| IdRepr { id_type: IdType(t), data: data.into() }),
    ]
}

fn selector() -> impl Strategy<Value = TrafficSelector> {
    let v4 = (any::<u8>(), any::<u16>(), any::<u16>(), any::<[u8; 4]>(), any::<[u8; 4]>())
        .prop_map(|(ip_protocol, start_port, end_port, a, b)| {
            TrafficSelector::Range(AddrRange {
                ip_protocol,
                start_port,
                end_port,
                start: IpAddr::V4(Ipv4Addr::from(a)),
                end: IpAddr::V4(Ipv4Addr::from(b)),
            })
        });
    let v6 = (any::<u8>(), any::<u16>(), any::<u16>(), any::<[u8; 16]>(), any::<[u8; 16]>())
        .prop_map(|(ip_protocol, start_port, end_port, a, b)| {
            TrafficSelector::Range(AddrRange {
                ip_protocol,
                start_port,
                end_port,
                start: IpAddr::V6(Ipv6Addr::from(a)),
                end: IpAddr::V6(Ipv6Addr::from(b)),
            })
        });
    let other = (any::<u8>(), any::<u8>(), bytes(20))
        .prop_filter("not an address range type", |(t, _, _)| *t != 7 && *t != 8)
        .prop_map(|(t, ip_protocol, data)| TrafficSelector::Other {
            ts_type: TsType(t),
            ip_protocol,
            data,
        });
    prop_oneof![v4, v6, other]
}

fn ts() -> impl Strategy<Value = TsRepr> {
    vec(selector(), 0..5).prop_map(|selectors| TsRepr { selectors: selectors.into() })
}

fn notify() -> impl Strategy<Value = NotifyRepr> {
    (any::<u8>(), bytes(12), any::<u16>(), bytes(40)).prop_map(|(p, spi, k, data)| NotifyRepr {
        protocol: ProtocolId(p),
        spi: spi.into(),
        kind: NotifyType(k),
        // Past the 24 octets held inline, to cover the spill.
        data: data.into(),
    })
}

fn delete() -> impl Strategy<Value = DeleteRepr> {
    prop_oneof![
        Just(DeleteRepr::ike()),
        vec(any::<u32>(), 0..6).prop_map(DeleteRepr::esp),
        vec(any::<u32>(), 0..6)
            .prop_map(|s| DeleteRepr { protocol: ProtocolId::AH, ..DeleteRepr::esp(s) }),
    ]
}

fn config() -> impl Strategy<Value = ConfigRepr> {
    // Values past the 20 octets and lists past the 2 attributes held inline: the spill.
    let attr = (0u16..0x8000, bytes(30))
        .prop_map(|(k, value)| ConfigAttribute::new(ConfigAttributeType(k), value));
    (1u8..=4, vec(attr, 0..5)).prop_map(|(k, attributes)| ConfigRepr {
        kind: ConfigType(k),
        attributes: attributes.into(),
    })
}

fn eap() -> impl Strategy<Value = EapRepr> {
    (any::<u8>(), any::<u8>(), any::<u8>(), bytes(30)).prop_map(|(code, identifier, t, data)| {
        let code = EapCode(code);
        EapRepr { code, identifier, eap_type: code.has_type().then_some(t), data }
    })
}

/// Any payload that may appear before the end of a chain.
fn plain_payload() -> impl Strategy<Value = PayloadRepr> {
    prop_oneof![
        sa().prop_map(PayloadRepr::Sa),
        // KE, AUTH and Nonce data past what they hold inline (64, 64, 32), to cover the spill.
        (any::<u16>(), bytes(100))
            .prop_map(|(g, data)| PayloadRepr::Ke(KeRepr { group: DhGroup(g), data: data.into() })),
        id().prop_map(PayloadRepr::IdI),
        id().prop_map(PayloadRepr::IdR),
        (any::<u8>(), bytes(40))
            .prop_map(|(e, data)| PayloadRepr::Cert(CertRepr { encoding: CertEncoding(e), data })),
        (any::<u8>(), bytes(40)).prop_map(|(e, data)| PayloadRepr::CertReq(CertRepr {
            encoding: CertEncoding(e),
            data
        })),
        (any::<u8>(), bytes(100)).prop_map(|(m, data)| PayloadRepr::Auth(AuthRepr {
            method: AuthMethod(m),
            data: data.into()
        })),
        bytes(64).prop_map(|data| PayloadRepr::Nonce(NonceRepr { data: data.into() })),
        notify().prop_map(PayloadRepr::Notify),
        delete().prop_map(PayloadRepr::Delete),
        bytes(32).prop_map(|data| PayloadRepr::VendorId(VendorIdRepr { data })),
        ts().prop_map(PayloadRepr::TsI),
        ts().prop_map(PayloadRepr::TsR),
        config().prop_map(PayloadRepr::Config),
        eap().prop_map(PayloadRepr::Eap),
        (any::<u8>(), bytes(32))
            .prop_filter("unknown types only", |(k, _)| !matches!(k, 0 | 33..=48 | 53))
            .prop_map(|(k, data)| PayloadRepr::Unknown { kind: PayloadType(k), data }),
    ]
}

fn encrypted_payload() -> impl Strategy<Value = PayloadRepr> {
    prop_oneof![
        (any::<u8>(), bytes(64)).prop_map(|(k, body)| PayloadRepr::Encrypted(EncryptedRepr {
            first_inner: PayloadType(k),
            body
        })),
        (any::<u8>(), 1u16..=u16::MAX, bytes(64)).prop_flat_map(|(k, total, body)| {
            (1..=total).prop_map(move |number| {
                PayloadRepr::EncryptedFragment(EncryptedFragmentRepr {
                    first_inner: PayloadType(k),
                    number,
                    total,
                    body: body.clone(),
                })
            })
        }),
    ]
}

fn payload_of(body: impl Strategy<Value = PayloadRepr>) -> impl Strategy<Value = Payload> {
    (any::<bool>(), body).prop_map(|(critical, body)| {
        // Unknown payloads marked critical would (rightly) be rejected.
        let critical = critical && !matches!(body, PayloadRepr::Unknown { .. });
        Payload { critical, body }
    })
}

fn chain() -> impl Strategy<Value = Vec<Payload>> {
    (vec(payload_of(plain_payload()), 0..6), proptest::option::of(payload_of(encrypted_payload())))
        .prop_map(|(mut v, last)| {
            v.extend(last);
            v
        })
}

fn header() -> impl Strategy<Value = HeaderRepr> {
    (any::<u64>(), any::<u64>(), 0u8..16, any::<u8>(), any::<u8>(), any::<u32>()).prop_map(
        |(spi_i, spi_r, minor, exchange, flags, message_id)| HeaderRepr {
            spi_i,
            spi_r,
            next_payload: PayloadType::NONE,
            version: 0x20 | minor,
            exchange: ExchangeType(exchange),
            flags: Flags::from_bits(flags),
            message_id,
            length: 0,
        },
    )
}

/// Emit, parse, compare; and check the body API agrees with the chain API.
macro_rules! body_round_trip {
    ($name:ident, $strategy:expr, $ty:ty) => {
        proptest! {
            #[test]
            fn $name(repr in $strategy) {
                let mut buf = vec![0u8; repr.buffer_len()];
                prop_assert_eq!(repr.emit(&mut buf), Ok(buf.len()));
                prop_assert_eq!(<$ty>::parse(&buf), Ok(repr.clone()));
                if !buf.is_empty() {
                    let mut short = vec![0u8; buf.len() - 1];
                    prop_assert!(repr.emit(&mut short).is_err());
                }
            }
        }
    };
}

body_round_trip!(sa_round_trips, sa(), SaRepr);
body_round_trip!(id_round_trips, id(), IdRepr);
body_round_trip!(ts_round_trips, ts(), TsRepr);
body_round_trip!(notify_round_trips, notify(), NotifyRepr);
body_round_trip!(delete_round_trips, delete(), DeleteRepr);
body_round_trip!(config_round_trips, config(), ConfigRepr);
body_round_trip!(eap_round_trips, eap(), EapRepr);
body_round_trip!(
    ke_round_trips,
    (any::<u16>(), bytes(300))
        .prop_map(|(g, data)| KeRepr { group: DhGroup(g), data: data.into() }),
    KeRepr
);
body_round_trip!(
    cert_round_trips,
    (any::<u8>(), bytes(100)).prop_map(|(e, data)| CertRepr { encoding: CertEncoding(e), data }),
    CertRepr
);
body_round_trip!(
    auth_round_trips,
    (any::<u8>(), bytes(100))
        .prop_map(|(m, data)| AuthRepr { method: AuthMethod(m), data: data.into() }),
    AuthRepr
);
body_round_trip!(
    nonce_round_trips,
    bytes(300).prop_map(|data| NonceRepr { data: data.into() }),
    NonceRepr
);
body_round_trip!(
    vendor_round_trips,
    bytes(64).prop_map(|data| VendorIdRepr { data }),
    VendorIdRepr
);

proptest! {
    #[test]
    fn encrypted_bodies_round_trip(p in encrypted_payload()) {
        match p {
            PayloadRepr::Encrypted(sk) => {
                let mut buf = vec![0u8; sk.buffer_len()];
                sk.emit(&mut buf).unwrap();
                prop_assert_eq!(EncryptedRepr::parse(sk.first_inner, &buf), Ok(sk));
            }
            PayloadRepr::EncryptedFragment(skf) => {
                let mut buf = vec![0u8; skf.buffer_len()];
                skf.emit(&mut buf).unwrap();
                prop_assert_eq!(EncryptedFragmentRepr::parse(skf.first_inner, &buf), Ok(skf));
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn chains_round_trip(payloads in chain()) {
        let bytes = chain_to_vec(&payloads).unwrap();
        let first = ikeway_codec::first_type(&payloads);
        prop_assert_eq!(parse_chain(first, &bytes), Ok(payloads));
    }

    #[test]
    fn messages_round_trip(header in header(), payloads in chain()) {
        let msg = MessageRepr { header, payloads };
        let bytes = msg.to_vec().unwrap();
        let back = MessageRepr::parse(&bytes).unwrap();
        prop_assert_eq!(back.header.length as usize, bytes.len());
        prop_assert_eq!(back.header.next_payload, ikeway_codec::first_type(&msg.payloads));
        prop_assert_eq!(&back.payloads, &msg.payloads);
        // Decode -> encode is the identity on valid encodings.
        prop_assert_eq!(back.to_vec().unwrap(), bytes);
    }

    #[test]
    fn garbage_never_panics(data in vec(any::<u8>(), 0..600)) {
        if let Ok(msg) = MessageRepr::parse(&data) {
            let again = MessageRepr::parse(&msg.to_vec().unwrap()).unwrap();
            prop_assert_eq!(again, msg);
        }
    }

    #[test]
    fn garbage_behind_a_valid_header_never_panics(
        first in prop_oneof![33u8..=55, any::<u8>()],
        body in vec(any::<u8>(), 0..800),
    ) {
        let mut data = vec![0u8; 28];
        data[16] = first;
        data[17] = 0x20;
        data[24..28].copy_from_slice(&u32::try_from(28 + body.len()).unwrap().to_be_bytes());
        data.extend_from_slice(&body);
        if let Ok(msg) = MessageRepr::parse(&data) {
            let again = MessageRepr::parse(&msg.to_vec().unwrap()).unwrap();
            prop_assert_eq!(again, msg);
        }
    }

    #[test]
    fn mutated_valid_messages_never_panic(
        header in header(),
        payloads in chain(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = MessageRepr { header, payloads }.to_vec().unwrap();
        for (i, v) in &flips {
            let at = i.index(bytes.len());
            bytes[at] ^= *v;
        }
        let _ = MessageRepr::parse(&bytes);
        let _ = parse_chain(PayloadType::SA, &bytes[28..]);
        let _ = MessageRepr::parse(&bytes[..cut.index(bytes.len() + 1)]);
    }

    #[test]
    fn every_body_parser_survives_garbage(kind in 0u8..=60, data in vec(any::<u8>(), 0..300)) {
        // A single payload of `kind` with a random body, as a chain.
        let mut chain = vec![0u8, 0];
        chain.extend_from_slice(&u16::try_from(data.len() + 4).unwrap().to_be_bytes());
        chain.extend_from_slice(&data);
        if let Ok(p) = parse_chain(PayloadType(kind), &chain) {
            prop_assert_eq!(parse_chain(PayloadType(kind), &chain_to_vec(&p).unwrap()), Ok(p));
        }
    }
}
