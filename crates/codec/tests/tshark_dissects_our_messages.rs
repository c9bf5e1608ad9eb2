//! The other direction: messages that ikeway-codec builds, written to a pcap and dissected by
//! tshark (Wireshark's IKEv2 dissector) with our keys. No malformed-packet or expert warnings,
//! the encrypted payload's ICV checks out, and every field tshark shows is what we built.

use ikeway_codec::smallvec::smallvec;
use std::net::Ipv4Addr;
use std::path::Path;

use ikeway_codec::sk;
use ikeway_codec::{
    AddrRange, AuthMethod, AuthRepr, ConfigAttribute, ConfigAttributeType, ConfigRepr, ConfigType,
    DhGroup, EncrAlg, EsnMode, ExchangeType, Flags, HeaderRepr, IdRepr, IdValue, KeRepr,
    MessageRepr, NonceRepr, NotifyRepr, NotifyType, Payload, PayloadRepr, PayloadType, PrfAlg,
    ProposalRepr, ProtocolId, SaRepr, TrafficSelector, TransformRepr, TsRepr,
};
use ikeway_crypto::{AeadAlgorithm, AeadBackend, Encryption, Suite};

const SPI_I: u64 = 0x0123456789abcdef;
const SPI_R: u64 = 0xfedcba9876543210;
const SK_EI: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fa0a1a2a3";

fn p(body: PayloadRepr) -> Payload {
    Payload::new(body)
}

fn notify(kind: NotifyType, data: Vec<u8>) -> Payload {
    p(PayloadRepr::Notify(NotifyRepr::new(kind, data)))
}

fn ike_sa_init() -> Vec<u8> {
    let proposal = ProposalRepr {
        number: 1,
        protocol: ProtocolId::IKE,
        spi: smallvec![],
        transforms: smallvec![
            TransformRepr::encr(EncrAlg::ENCR_AES_GCM_16, Some(256)),
            TransformRepr::prf(PrfAlg::PRF_HMAC_SHA2_256),
            TransformRepr::dh(DhGroup::ECP_256),
        ],
    };
    let message = MessageRepr {
        header: header(ExchangeType::IKE_SA_INIT, 0, 0),
        payloads: vec![
            p(PayloadRepr::Sa(SaRepr { proposals: vec![proposal] })),
            p(PayloadRepr::Ke(KeRepr { group: DhGroup::ECP_256, data: vec![0x42; 64].into() })),
            p(PayloadRepr::Nonce(NonceRepr { data: vec![0x17; 32].into() })),
            notify(NotifyType::NAT_DETECTION_SOURCE_IP, vec![1; 20]),
            notify(NotifyType::NAT_DETECTION_DESTINATION_IP, vec![2; 20]),
            notify(NotifyType::IKEV2_FRAGMENTATION_SUPPORTED, vec![]),
            notify(NotifyType::SIGNATURE_HASH_ALGORITHMS, vec![0, 2, 0, 3, 0, 4]),
        ],
    };
    message.to_vec().unwrap()
}

fn header(exchange: ExchangeType, spi_r: u64, message_id: u32) -> HeaderRepr {
    HeaderRepr {
        spi_i: SPI_I,
        spi_r,
        next_payload: PayloadType::NONE,
        version: 0x20,
        exchange,
        flags: Flags::from_bits(Flags::INITIATOR),
        message_id,
        length: 0,
    }
}

fn ike_auth() -> Vec<u8> {
    let esp = ProposalRepr {
        number: 1,
        protocol: ProtocolId::ESP,
        spi: smallvec![0xc0, 0xff, 0xee, 0x01],
        transforms: smallvec![
            TransformRepr::encr(EncrAlg::ENCR_AES_GCM_16, Some(128)),
            TransformRepr::esn(EsnMode::NO_ESN),
        ],
    };
    let ts = |a: [u8; 4], b: [u8; 4]| TsRepr {
        selectors: smallvec![TrafficSelector::Range(AddrRange::any(
            Ipv4Addr::from(a).into(),
            Ipv4Addr::from(b).into(),
        ))],
    };
    let inner = vec![
        p(PayloadRepr::IdI(IdRepr::from_value(IdValue::Fqdn("client.example.org")))),
        notify(NotifyType::INITIAL_CONTACT, vec![]),
        p(PayloadRepr::IdR(IdRepr::from_value(IdValue::Ipv4(Ipv4Addr::new(192, 0, 2, 1))))),
        p(PayloadRepr::Auth(AuthRepr {
            method: AuthMethod::SHARED_KEY_MIC,
            data: vec![0x5a; 32].into(),
        })),
        p(PayloadRepr::Config(ConfigRepr {
            kind: ConfigType::CFG_REQUEST,
            attributes: smallvec![
                ConfigAttribute::request(ConfigAttributeType::INTERNAL_IP4_ADDRESS),
                ConfigAttribute::request(ConfigAttributeType::INTERNAL_IP4_DNS),
                ConfigAttribute::request(ConfigAttributeType::INTERNAL_IP6_ADDRESS),
                ConfigAttribute::request(ConfigAttributeType::INTERNAL_DNS_DOMAIN),
            ],
        })),
        p(PayloadRepr::Sa(SaRepr { proposals: vec![esp] })),
        p(PayloadRepr::TsI(ts([0, 0, 0, 0], [255, 255, 255, 255]))),
        p(PayloadRepr::TsR(ts([10, 1, 0, 0], [10, 1, 255, 255]))),
    ];
    let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES256_GCM16), None).unwrap();
    let protector = suite.key(AeadBackend::RustCrypto, &hex::decode(SK_EI).unwrap(), &[]).unwrap();
    sk::seal(&header(ExchangeType::IKE_AUTH, SPI_R, 1), &[], &inner, &protector, &[9; 8]).unwrap()
}

fn tshark(pcap_path: &Path, extra: &[&str]) -> String {
    let key_row = format!(
        "uat:ikev2_decryption_table:{SPI_I:016x},{SPI_R:016x},{SK_EI},{SK_EI},\"AES-GCM-256 with 16 octet ICV [RFC5282]\",,,\"NONE [RFC4306]\""
    );
    let mut args = vec!["-o", &key_row];
    args.extend(extra);
    ikeway_testkit::pcap::tshark(pcap_path, &args)
}

#[test]
fn tshark_dissects_our_ike_sa_init_and_encrypted_ike_auth() {
    if !ikeway_testkit::have("tshark") {
        ikeway_testkit::skip(
            "tshark_dissects_our_ike_sa_init_and_encrypted_ike_auth",
            "tshark not installed",
        );
        return;
    }
    let path = std::env::temp_dir().join(format!("ikeway-emitted-{}.pcap", std::process::id()));
    std::fs::write(&path, ikeway_testkit::pcap::ike_exchange(&[ike_sa_init(), ike_auth()]))
        .unwrap();

    let fields = [
        "isakmp.exchangetype",
        "isakmp.ispi",
        "isakmp.rspi",
        "isakmp.messageid",
        "isakmp.typepayload",
        "isakmp.notify.msgtype",
        "isakmp.tf.id.encr",
        "isakmp.ike2.attr.key_length",
        "isakmp.key_exchange.dh_group",
        "isakmp.id.type",
        "isakmp.id.data.fqdn",
        "isakmp.id.data.ipv4_addr",
        "isakmp.auth.method",
        "isakmp.cfg.type",
        "isakmp.cfg.attr.type",
        "isakmp.ts.start_ipv4",
        "isakmp.ts.end_ipv4",
        "_ws.malformed",
        "_ws.expert.message",
    ];
    let mut args = vec!["-T", "fields", "-E", "occurrence=a", "-E", "separator=|"];
    for f in &fields {
        args.extend(["-e", f]);
    }
    let text = tshark(&path, &args);
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    let expected_init = [
        "34",
        "0123456789abcdef",
        "0000000000000000",
        "0x00000000",
        "33,2,3,3,3,34,40,41,41,41,41",
        "16388,16389,16430,16431",
        "20",
        "256",
        "19",
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
    ];
    assert_eq!(lines[0], expected_init, "IKE_SA_INIT as tshark sees it");
    let expected_auth = [
        "35",
        "0123456789abcdef",
        "fedcba9876543210",
        "0x00000001",
        "46,35,41,36,39,47,33,2,3,3,44,45",
        "16384",
        "20",
        "128",
        "",
        "2,1",
        "client.example.org",
        "192.0.2.1",
        "2",
        "1",
        "1,3,8,25",
        "0.0.0.0,10.1.0.0",
        "255.255.255.255,10.1.255.255",
        "",
        "",
    ];
    assert_eq!(lines[1], expected_auth, "IKE_AUTH as tshark decrypts it");

    // The ICV is verified by tshark, not just skipped.
    let verbose = tshark(&path, &["-V"]);
    let icv_lines: Vec<&str> =
        verbose.lines().filter(|l| l.contains("Integrity Checksum Data")).collect();
    assert_eq!(icv_lines.len(), 1, "{verbose}");
    assert!(icv_lines[0].ends_with("[correct]"), "{}", icv_lines[0]);
    assert!(!verbose.contains("Malformed"), "{verbose}");
    std::fs::remove_file(path).ok();
}
