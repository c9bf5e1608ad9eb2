//! The other direction: messages this crate builds, written to a pcap and dissected by tshark
//! 4.0.17 (Wireshark's ISAKMP dissector). Every payload type we emit, in forms the strongSwan
//! captures do not have (NAT-OA, draft NAT-D, CR with a name, several Delete SPIs, IPv6 and
//! range client IDs, TLV lifetimes, the Unity attributes): nothing malformed, no expert
//! warning, and every field tshark shows is the value we built.

use std::net::{Ipv4Addr, Ipv6Addr};

use ikeway_isakmp::{
    AttributeRepr, CertRepr, ConfigAttribute, ConfigAttributeType as T, ConfigType, DeleteRepr,
    EncapsulationMode, EncryptionAlgorithm, EspTransformId, ExchangeType, GroupDescription,
    HashAlgorithm, HashRepr, HeaderRepr, IdRepr, IpsecAttribute, IpsecAuthAlgorithm,
    IsakmpTransformId, KeRepr, KnownVendorId, LifeType, MessageRepr, NatDRepr, NatOaRepr,
    NonceRepr, NotificationRepr, NotifyType, OakleyAttribute, Payload, ProposalRepr, ProtocolId,
    SaRepr, SigRepr, SplitNetwork, TransformRepr, VendorIdRepr, XauthType,
};
use ikeway_testkit::pcap::tshark;

const CKY_I: [u8; 8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
const CKY_R: [u8; 8] = [0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01];

fn vid(k: KnownVendorId) -> Payload {
    Payload::VendorId(VendorIdRepr::from_known(k))
}

fn main_mode_1() -> MessageRepr {
    use OakleyAttribute as A;
    let t = |n: u8, encr: EncryptionAlgorithm, bits: Option<u16>, group: GroupDescription| {
        let mut t = TransformRepr::new(n, IsakmpTransformId::KEY_IKE.0)
            .with_basic(A::ENCRYPTION_ALGORITHM, encr.0);
        if let Some(bits) = bits {
            t = t.with_basic(A::KEY_LENGTH, bits);
        }
        t.with_basic(A::HASH_ALGORITHM, HashAlgorithm::SHA2_256.0)
            .with_basic(A::AUTHENTICATION_METHOD, 65001)
            .with_basic(A::GROUP_DESCRIPTION, group.0)
            .with_basic(A::LIFE_TYPE, LifeType::SECONDS.0)
            .with_integer(A::LIFE_DURATION, 86_400)
    };
    let sa = SaRepr::new(vec![ProposalRepr {
        number: 1,
        protocol: ProtocolId::ISAKMP,
        spi: vec![],
        transforms: vec![
            t(1, EncryptionAlgorithm::AES_CBC, Some(256), GroupDescription::MODP_2048),
            t(2, EncryptionAlgorithm::TRIPLE_DES_CBC, None, GroupDescription::ECP_256),
        ],
    }]);
    MessageRepr::plain(
        HeaderRepr::new(CKY_I, [0; 8], ExchangeType::MAIN, 0),
        vec![
            Payload::Sa(sa),
            vid(KnownVendorId::NatTRfc3947),
            vid(KnownVendorId::NatTDraft02N),
            vid(KnownVendorId::Xauth),
            vid(KnownVendorId::Dpd),
            vid(KnownVendorId::CiscoUnity),
            vid(KnownVendorId::Fragmentation),
        ],
    )
}

fn aggressive_2() -> MessageRepr {
    let ca = ikeway_testkit::certs::TestCa::new("ikeway test CA");
    let cert = ca.issue(
        "vpn.example.org",
        "vpn.example.org",
        &ikeway_testkit::certs::PKCS_ECDSA_P256_SHA256,
    );
    MessageRepr::plain(
        HeaderRepr::new(CKY_I, CKY_R, ExchangeType::AGGRESSIVE, 0),
        vec![
            Payload::Ke(KeRepr::new(vec![0x42; 64])),
            Payload::Nonce(NonceRepr::new(vec![0x17; 32])),
            Payload::Id(IdRepr::fqdn("vpn.example.org").with_port(17, 500)),
            Payload::Cert(CertRepr::x509(cert.cert_der)),
            Payload::CertReq(CertRepr::x509(vec![0x30, 0x00])),
            Payload::Sig(SigRepr::new(vec![0x5a; 64])),
            Payload::NatDDraft(NatDRepr::new(vec![0xd1; 32])),
            Payload::NatDDraft(NatDRepr::new(vec![0xd2; 32])),
        ],
    )
}

fn informational() -> MessageRepr {
    let cookies = HeaderRepr::new(CKY_I, CKY_R, ExchangeType::INFORMATIONAL, 0).cookies();
    MessageRepr::plain(
        HeaderRepr::new(CKY_I, CKY_R, ExchangeType::INFORMATIONAL, 0x0102_0304),
        vec![
            Payload::Hash(HashRepr::new(vec![0xab; 32])),
            Payload::Notification(NotificationRepr::dpd(false, cookies, 0x2a)),
            Payload::Notification(NotificationRepr::isakmp(
                NotifyType::INITIAL_CONTACT,
                cookies,
                vec![],
            )),
            Payload::Delete(DeleteRepr::esp(&[0xc0ff_ee01, 0xc0ff_ee02])),
            Payload::Delete(DeleteRepr::isakmp(cookies)),
        ],
    )
}

fn quick_mode_1() -> MessageRepr {
    use IpsecAttribute as A;
    let sa = SaRepr::new(vec![ProposalRepr {
        number: 1,
        protocol: ProtocolId::ESP,
        spi: vec![0xca, 0xfe, 0xba, 0xbe],
        transforms: vec![
            TransformRepr::new(1, EspTransformId::AES_CBC.0)
                .with_basic(A::SA_LIFE_TYPE, LifeType::SECONDS.0)
                .with_integer(A::SA_LIFE_DURATION, 3600)
                .with_basic(A::SA_LIFE_TYPE, LifeType::KILOBYTES.0)
                .with_integer(A::SA_LIFE_DURATION, 4_608_000)
                .with_basic(A::ENCAPSULATION_MODE, EncapsulationMode::UDP_TUNNEL_DRAFT.0)
                .with_basic(A::AUTHENTICATION_ALGORITHM, IpsecAuthAlgorithm::HMAC_SHA2_256.0)
                .with_basic(A::KEY_LENGTH, 128)
                .with_basic(A::GROUP_DESCRIPTION, GroupDescription::MODP_2048.0),
        ],
    }]);
    MessageRepr::plain(
        HeaderRepr::new(CKY_I, CKY_R, ExchangeType::QUICK, 0xdead_beef),
        vec![
            Payload::Hash(HashRepr::new(vec![0x01; 32])),
            Payload::Sa(sa),
            Payload::Nonce(NonceRepr::new(vec![0x02; 16])),
            Payload::Ke(KeRepr::new(vec![0x03; 256])),
            Payload::Id(IdRepr::subnet4(Ipv4Addr::new(10, 3, 0, 0), 16)),
            Payload::Id(
                IdRepr::range("2001:db8::1".parse().unwrap(), "2001:db8::ff".parse().unwrap())
                    .expect("one family"),
            ),
            Payload::NatOa(NatOaRepr { address: Ipv4Addr::new(192, 0, 2, 7).into() }),
            Payload::NatOa(NatOaRepr {
                address: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7).into(),
            }),
        ],
    )
}

fn transaction() -> MessageRepr {
    let reply = AttributeRepr {
        kind: ConfigType::REPLY,
        identifier: 0x4242,
        padding: 0,
        attributes: vec![
            ConfigAttribute::ipv4(T::INTERNAL_IP4_ADDRESS, Ipv4Addr::new(10, 88, 1, 1)),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_NETMASK, Ipv4Addr::new(255, 255, 255, 255)),
            ConfigAttribute::ipv4(T::INTERNAL_IP4_DNS, Ipv4Addr::new(10, 77, 0, 53)),
            ConfigAttribute::basic(T::XAUTH_TYPE, XauthType::GENERIC.0),
            ConfigAttribute::basic(T::XAUTH_STATUS, 1),
            ConfigAttribute::text(T::XAUTH_USER_NAME, "alice"),
            ConfigAttribute::text(T::UNITY_BANNER, "Welcome to ikeway"),
            ConfigAttribute::text(T::UNITY_DEF_DOMAIN, "corp.example"),
            ConfigAttribute::split_include(&[SplitNetwork::new(
                Ipv4Addr::new(10, 77, 0, 0),
                Ipv4Addr::new(255, 255, 255, 0),
            )]),
        ],
    };
    MessageRepr::plain(
        HeaderRepr::new(CKY_I, CKY_R, ExchangeType::TRANSACTION, 0x0a0b_0c0d),
        vec![Payload::Hash(HashRepr::new(vec![0x77; 20])), Payload::Attribute(reply)],
    )
}

const FIELDS: [&str; 24] = [
    "isakmp.ispi",
    "isakmp.rspi",
    "isakmp.exchangetype",
    "isakmp.messageid",
    "isakmp.typepayload",
    "isakmp.ike.attr.type",
    "isakmp.ike.attr.life_duration",
    "isakmp.ipsec.attr.type",
    "isakmp.ipsec.attr.life_duration",
    "isakmp.vid_bytes",
    "isakmp.id.type",
    "isakmp.id.data.fqdn",
    "isakmp.id.data.ipv6_range_start",
    "isakmp.cert.encoding",
    "isakmp.certreq.type",
    "isakmp.ike.nat_hash",
    "isakmp.ike.nat_original_address_ipv4",
    "isakmp.ike.nat_original_address_ipv6",
    "isakmp.notify.msgtype",
    "isakmp.delete.spi",
    "isakmp.cfg.attr.type",
    "isakmp.cfg.attr.internal_ip4_address",
    "isakmp.cfg.attr.unity.banner",
    "_ws.expert.message",
];

#[test]
fn tshark_dissects_every_payload_we_emit() {
    if !ikeway_testkit::have("tshark") {
        ikeway_testkit::skip("tshark_dissects_every_payload_we_emit", "tshark not installed");
        return;
    }
    let messages: Vec<Vec<u8>> =
        [main_mode_1(), aggressive_2(), informational(), quick_mode_1(), transaction()]
            .iter()
            .map(|m| m.to_vec().expect("encodes"))
            .collect();
    let path =
        std::env::temp_dir().join(format!("ikeway-isakmp-emitted-{}.pcap", std::process::id()));
    std::fs::write(&path, ikeway_testkit::pcap::ike_exchange(&messages)).expect("write pcap");

    let mut args = vec!["-T", "fields", "-E", "occurrence=a", "-E", "separator=|"];
    for f in FIELDS {
        args.extend(["-e", f]);
    }
    let text = tshark(&path, &args);
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(lines.len(), 5, "{text}");
    let vids = KnownVendorId::ALL
        .iter()
        .filter(|k| {
            ![KnownVendorId::NatTDraft02, KnownVendorId::NatTDraft03, KnownVendorId::StrongSwan]
                .contains(k)
        })
        .map(|k| hex::encode(k.bytes()))
        .collect::<Vec<_>>()
        .join(",");
    let expected: [Vec<String>; 5] = [
        [
            "1122334455667788",
            "0000000000000000",
            "2",
            "0x00000000",
            "1,2,3,3,13,13,13,13,13,13",
            "1,14,2,3,4,11,12,1,2,3,4,11,12",
            "86400,86400",
            "",
            "",
            &vids,
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .map(String::from)
        .to_vec(),
        [
            "1122334455667788",
            "99aabbccddeeff01",
            "4",
            "0x00000000",
            "4,10,5,6,7,9,130,130",
            "",
            "",
            "",
            "",
            "",
            "2",
            "vpn.example.org",
            "",
            "4",
            "4",
            &format!("{},{}", "d1".repeat(32), "d2".repeat(32)),
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .map(String::from)
        .to_vec(),
        [
            "1122334455667788",
            "99aabbccddeeff01",
            "5",
            "0x01020304",
            "8,11,11,12,12",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "36136,24578",
            "c0ffee01,c0ffee02,112233445566778899aabbccddeeff01",
            "",
            "",
            "",
            "",
        ]
        .map(String::from)
        .to_vec(),
        [
            "1122334455667788",
            "99aabbccddeeff01",
            "32",
            "0xdeadbeef",
            "8,1,2,3,10,4,5,5,21,21",
            "",
            "",
            "1,2,1,2,4,5,6,3",
            "3600,4608000",
            "",
            // The NAT-OA payloads' ID types (IPV4_ADDR, IPV6_ADDR) are listed here too.
            "4,8,1,5",
            "",
            "2001:db8::1",
            "",
            "",
            "",
            "192.0.2.7",
            "2001:db8::7",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .map(String::from)
        .to_vec(),
        [
            "1122334455667788",
            "99aabbccddeeff01",
            "6",
            "0x0a0b0c0d",
            "8,14",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
            "1,2,3,16520,16527,16521,28672,28674,28676",
            "10.88.1.1",
            "Welcome to ikeway",
            "",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (i, (got, want)) in lines.iter().zip(&expected).enumerate() {
        for ((name, g), w) in FIELDS.iter().zip(got).zip(want) {
            assert_eq!(g, w, "message {} field {name}", i + 1);
        }
    }
    let verbose = tshark(&path, &["-V"]);
    assert!(!verbose.contains("Malformed"), "{verbose}");
    std::fs::remove_file(path).ok();
}

/// IKEv1 fragmentation (payload 132): the fragments `split_message` makes of a Main Mode
/// message 5 (ID, CERT, SIG; encrypted as sent), as tshark sees them: each fragment with its
/// ID, number and last flag, the message joined again in the last frame, no expert message.
#[test]
fn tshark_joins_the_fragments_we_split_a_message_into() {
    if !ikeway_testkit::have("tshark") {
        ikeway_testkit::skip(
            "tshark_joins_the_fragments_we_split_a_message_into",
            "tshark not installed",
        );
        return;
    }
    let mut header = HeaderRepr::new(CKY_I, CKY_R, ExchangeType::MAIN, 0);
    header.next_payload = ikeway_isakmp::PayloadType::ID;
    let whole = MessageRepr { header, body: ikeway_isakmp::Body::Encrypted(vec![0x5a; 1200]) }
        .to_vec()
        .expect("encodes");
    let pieces = ikeway_isakmp::split_message(&whole, ExchangeType::MAIN, 1, 500).expect("splits");
    assert_eq!(pieces.len(), 3);
    // All from the initiator (`ike_exchange` would alternate directions).
    let path =
        std::env::temp_dir().join(format!("ikeway-isakmp-fragments-{}.pcap", std::process::id()));
    let packets: Vec<Vec<u8>> = pieces
        .iter()
        .map(|m| ikeway_testkit::pcap::ipv4_udp([10, 0, 0, 1], [10, 0, 0, 2], 500, m))
        .collect();
    std::fs::write(&path, ikeway_testkit::pcap::raw_ip(&packets)).expect("write pcap");
    let fields = [
        "isakmp.frag.packetid",
        "isakmp.frag.seq",
        "isakmp.frag.last",
        "isakmp.fragment.count",
        "isakmp.length",
        "isakmp.exchangetype",
        "isakmp.flag_e",
        "_ws.expert.message",
        "_ws.malformed",
    ];
    let mut args = vec!["-T", "fields", "-E", "occurrence=a", "-E", "separator=|"];
    for f in fields {
        args.extend(["-e", f]);
    }
    let text = tshark(&path, &args);
    let _ = std::fs::remove_file(&path);
    let lines: Vec<&str> = text.lines().collect();
    // Frames 1 and 2: a fragment each; frame 3: the last fragment and the message joined from
    // the three (its own header: 1228 octets, Main Mode, encrypted).
    assert_eq!(
        lines,
        ["0x0001|1|0||500|2|0||", "0x0001|2|0||500|2|0||", "0x0001|3|1|3|336,1228|2,2|0,1||",],
        "{text}"
    );
}
