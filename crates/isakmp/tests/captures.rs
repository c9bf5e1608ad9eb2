//! Real IKEv1 messages (strongSwan 5.9.8 against strongSwan 5.9.8, see
//! tests/data/SOURCES.md): every message parses; plaintext ones re-encode
//! byte for byte; every encrypted one's plaintext (as tshark decrypted it)
//! parses as a chain whose re-encoding is the plaintext up to the padding;
//! and the values tshark shows are the values we read.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ikeway_isakmp::{
    AuthMethod, Body, ConfigAttributeType as T, ConfigType, EncapsulationMode, EncryptionAlgorithm,
    EspTransformId, ExchangeType, GroupDescription, HashAlgorithm, IdType, IdValue, IpsecAttribute,
    IpsecAuthAlgorithm, KnownVendorId, MessageRepr, NotifyType, OakleyAttribute, Payload,
    PayloadType, ProtocolId, SplitNetwork, chain_to_vec, parse_chain,
};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/strongswan-ikev1")
}

fn hex_file(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hex::decode(text.trim()).expect("hex")
}

/// One captured message with its decrypted payloads, if it was encrypted.
struct Captured {
    name: String,
    message: MessageRepr,
    payloads: Vec<Payload>,
}

fn case(name: &str) -> Vec<Captured> {
    let dir = data_dir().join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("case folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.to_string_lossy().ends_with(".hex") && !p.to_string_lossy().ends_with(".plain.hex")
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|path| {
            let bytes = hex_file(path);
            let name = path.file_stem().expect("name").to_string_lossy().into_owned();
            let message = MessageRepr::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(message.to_vec().expect("encodes"), bytes, "{name} does not round-trip");
            let payloads = match &message.body {
                Body::Plain(p) => p.clone(),
                Body::Encrypted(ct) => {
                    let plain_path = path.with_extension("plain.hex");
                    if !plain_path.exists() {
                        return Captured { name, message, payloads: Vec::new() };
                    }
                    let plain = hex_file(&plain_path);
                    assert_eq!(plain.len(), ct.len(), "{name}: CBC keeps the length");
                    let chain = parse_chain(message.header.next_payload, &plain)
                        .unwrap_or_else(|e| panic!("{name} plaintext: {e}"));
                    assert!(
                        plain.len() - chain.used < 32,
                        "{name}: {} octets of padding",
                        plain.len() - chain.used
                    );
                    assert_eq!(
                        chain_to_vec(&chain.payloads).expect("encodes"),
                        plain[..chain.used],
                        "{name}: decrypted chain does not round-trip"
                    );
                    chain.payloads
                }
            };
            Captured { name, message, payloads }
        })
        .collect()
}

fn types(c: &Captured) -> Vec<PayloadType> {
    c.payloads.iter().map(Payload::kind).collect()
}

fn find<'a>(msgs: &'a [Captured], name: &str) -> &'a Captured {
    msgs.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no message {name}"))
}

#[test]
fn aggressive_mode_psk_xauth_mode_config_quick_mode_dpd_delete() {
    let msgs = case("v1-aggr");
    assert_eq!(msgs.len(), 20);

    let m1 = find(&msgs, "01-AGGRESSIVE-i");
    assert_eq!(m1.message.header.exchange, ExchangeType::AGGRESSIVE);
    assert_eq!(m1.message.header.cookie_r, [0; 8]);
    assert_eq!(
        &types(m1)[..4],
        [PayloadType::SA, PayloadType::KE, PayloadType::NONCE, PayloadType::ID]
    );
    let Payload::Sa(sa) = &m1.payloads[0] else { panic!("SA first") };
    let t = &sa.proposals[0].transforms[0];
    assert_eq!(sa.proposals[0].protocol, ProtocolId::ISAKMP);
    assert_eq!(
        t.oakley(OakleyAttribute::ENCRYPTION_ALGORITHM),
        Some(u64::from(EncryptionAlgorithm::AES_CBC.0))
    );
    assert_eq!(t.oakley(OakleyAttribute::KEY_LENGTH), Some(256));
    assert_eq!(
        t.oakley(OakleyAttribute::HASH_ALGORITHM),
        Some(u64::from(HashAlgorithm::SHA2_256.0))
    );
    assert_eq!(
        t.oakley(OakleyAttribute::GROUP_DESCRIPTION),
        Some(u64::from(GroupDescription::MODP_2048.0))
    );
    assert_eq!(
        t.oakley(OakleyAttribute::AUTHENTICATION_METHOD),
        Some(u64::from(AuthMethod::XAUTH_INIT_PRE_SHARED.0))
    );
    let Payload::Ke(ke) = &m1.payloads[1] else { panic!("KE second") };
    assert_eq!(ke.data.len(), 256, "MODP-2048 public value");
    let Payload::Id(id) = &m1.payloads[3] else { panic!("ID fourth") };
    assert_eq!(id.value(), IdValue::KeyId(b"ikeway-group"));
    let vids: Vec<_> = m1
        .payloads
        .iter()
        .filter_map(|p| match p {
            Payload::VendorId(v) => v.known(),
            _ => None,
        })
        .collect();
    assert!(vids.contains(&KnownVendorId::Xauth) && vids.contains(&KnownVendorId::Dpd), "{vids:?}");
    assert!(vids.contains(&KnownVendorId::NatTRfc3947), "{vids:?}");

    let m2 = find(&msgs, "02-AGGRESSIVE-r");
    assert!(types(m2).contains(&PayloadType::HASH));
    assert_eq!(types(m2).iter().filter(|&&t| t == PayloadType::NAT_D).count(), 2);
    let Some(Payload::Id(rid)) = m2.payloads.iter().find(|p| p.kind() == PayloadType::ID) else {
        panic!("IDr")
    };
    assert_eq!(rid.id_type, IdType::IPV4_ADDR);
    assert_eq!(rid.value(), IdValue::Addr("10.99.0.51".parse().unwrap()));

    let m3 = find(&msgs, "03-AGGRESSIVE-i");
    assert!(m3.message.header.flags.encryption);
    assert_eq!(types(m3)[0], PayloadType::HASH);

    // XAUTH: the gateway asks for a name and password.
    let x1 = find(&msgs, "04-TRANSACTION-r");
    assert_eq!(types(x1), [PayloadType::HASH, PayloadType::ATTRIBUTE]);
    let Payload::Attribute(req) = &x1.payloads[1] else { panic!("ATTR") };
    assert_eq!(req.kind, ConfigType::REQUEST);
    assert!(req.get(T::XAUTH_USER_NAME).expect("asks for a name").is_empty());
    assert!(req.get(T::XAUTH_USER_PASSWORD).expect("asks for a password").is_empty());
    let Payload::Attribute(reply) = &find(&msgs, "05-TRANSACTION-i").payloads[1] else {
        panic!("ATTR")
    };
    assert_eq!((reply.kind, reply.identifier), (ConfigType::REPLY, req.identifier));
    assert_eq!(reply.get(T::XAUTH_USER_NAME).and_then(|a| a.as_str()), Some("alice"));
    assert_eq!(
        reply.get(T::XAUTH_USER_PASSWORD).and_then(|a| a.as_str()),
        Some("ikeway alice XAUTH pw")
    );
    let shown = format!("{reply:?}");
    assert!(!shown.contains(&hex::encode("ikeway alice XAUTH pw")), "{shown}");
    let Payload::Attribute(set) = &find(&msgs, "06-TRANSACTION-r").payloads[1] else {
        panic!("ATTR")
    };
    assert_eq!(set.kind, ConfigType::SET);
    assert_eq!(set.get(T::XAUTH_STATUS).and_then(|a| a.value.as_basic()), Some(1));

    // Mode Config pull.
    let Payload::Attribute(cfg) = &find(&msgs, "09-TRANSACTION-r").payloads[1] else {
        panic!("ATTR")
    };
    assert_eq!(cfg.kind, ConfigType::REPLY);
    assert_eq!(
        cfg.get(T::INTERNAL_IP4_ADDRESS).and_then(|a| a.as_ipv4()),
        Some(Ipv4Addr::new(10, 88, 1, 1))
    );
    assert_eq!(
        cfg.get(T::INTERNAL_IP4_DNS).and_then(|a| a.as_ipv4()),
        Some(Ipv4Addr::new(10, 77, 0, 53))
    );
    assert!(cfg.get(T::UNITY_BANNER).and_then(|a| a.as_str()).is_some_and(|b| !b.is_empty()));
    assert!(cfg.get(T::UNITY_DEF_DOMAIN).and_then(|a| a.as_str()).is_some());
    let split = cfg
        .get(T::UNITY_SPLIT_INCLUDE)
        .and_then(|a| a.split_networks())
        .expect("split")
        .expect("well formed");
    assert_eq!(
        split,
        [SplitNetwork::new(Ipv4Addr::new(10, 77, 0, 0), Ipv4Addr::new(255, 255, 255, 0))]
    );

    // Quick Mode: HASH(1), SA with an ESP proposal, nonce, client IDs.
    let q1 = find(&msgs, "10-QUICK-i");
    assert_eq!(types(q1)[..3], [PayloadType::HASH, PayloadType::SA, PayloadType::NONCE]);
    let Payload::Sa(esp) = &q1.payloads[1] else { panic!("SA") };
    let p = &esp.proposals[0];
    assert_eq!((p.protocol, p.spi.len()), (ProtocolId::ESP, 4));
    let t = &p.transforms[0];
    assert_eq!(t.id, EspTransformId::AES_CBC.0);
    assert_eq!(t.ipsec(IpsecAttribute::KEY_LENGTH), Some(256));
    assert_eq!(
        t.ipsec(IpsecAttribute::AUTHENTICATION_ALGORITHM),
        Some(u64::from(IpsecAuthAlgorithm::HMAC_SHA2_256.0))
    );
    assert_eq!(
        t.ipsec(IpsecAttribute::ENCAPSULATION_MODE),
        Some(u64::from(EncapsulationMode::UDP_TUNNEL.0))
    );
    let ids: Vec<_> = q1
        .payloads
        .iter()
        .filter_map(|p| match p {
            Payload::Id(id) => Some(id.value()),
            _ => None,
        })
        .collect();
    assert_eq!(ids[0], IdValue::Addr("10.88.1.1".parse().unwrap()));

    // DPD and the deletes.
    let dpd = find(&msgs, "22-INFORMATIONAL-i");
    let Some(Payload::Notification(n)) = dpd.payloads.get(1) else { panic!("{:?}", types(dpd)) };
    assert_eq!(n.kind, NotifyType::R_U_THERE);
    assert_eq!(n.spi, dpd.message.header.cookies());
    let seq = n.dpd_sequence().expect("sequence");
    let Some(Payload::Notification(ack)) = find(&msgs, "23-INFORMATIONAL-r").payloads.get(1) else {
        panic!("ack")
    };
    assert_eq!((ack.kind, ack.dpd_sequence()), (NotifyType::R_U_THERE_ACK, Some(seq)));
    let deletes: Vec<_> = msgs[msgs.len() - 3..]
        .iter()
        .filter_map(|c| match c.payloads.get(1) {
            Some(Payload::Delete(d)) => Some((d.protocol, d.spis.len(), d.spi_size)),
            _ => None,
        })
        .collect();
    assert!(deletes.contains(&(ProtocolId::ESP, 1, 4)), "{deletes:?}");
    assert!(deletes.contains(&(ProtocolId::ISAKMP, 1, 16)), "{deletes:?}");
}

#[test]
fn wrong_xauth_password_ends_in_status_zero() {
    let msgs = case("v1-aggr-badpw");
    let Payload::Attribute(set) = &find(&msgs, "06-TRANSACTION-r").payloads[1] else {
        panic!("ATTR")
    };
    assert_eq!(set.kind, ConfigType::SET);
    assert_eq!(set.get(T::XAUTH_STATUS).and_then(|a| a.value.as_basic()), Some(0));
    let Payload::Attribute(ack) = &find(&msgs, "07-TRANSACTION-i").payloads[1] else {
        panic!("ATTR")
    };
    assert_eq!((ack.kind, ack.identifier), (ConfigType::ACK, set.identifier));
}

#[test]
fn wrong_group_secret_capture_parses() {
    let msgs = case("v1-aggr-badpsk");
    assert_eq!(msgs.len(), 3);
    let last = &msgs[2];
    assert_eq!(last.message.header.exchange, ExchangeType::INFORMATIONAL);
    assert!(matches!(last.message.body, Body::Encrypted(_)));
}

#[test]
fn main_mode_with_certificates_and_pfs() {
    let msgs = case("v1-main-cert");
    let m1 = find(&msgs, "01-MAIN-i");
    let Payload::Sa(sa) = &m1.payloads[0] else { panic!("SA") };
    let t = &sa.proposals[0].transforms[0];
    assert_eq!(
        t.oakley(OakleyAttribute::GROUP_DESCRIPTION),
        Some(u64::from(GroupDescription::ECP_256.0))
    );
    assert_eq!(
        t.oakley(OakleyAttribute::AUTHENTICATION_METHOD),
        Some(u64::from(AuthMethod::ECDSA_SHA256_P256.0))
    );
    let m3 = find(&msgs, "03-MAIN-i");
    let Some(Payload::Ke(ke)) = m3.payloads.first() else { panic!("KE first in message 3") };
    assert_eq!(ke.data.len(), 64, "ECP-256 public value");
    // Message 5: ID, CERT, (CR), SIG, all encrypted.
    let m5 = find(&msgs, "05-MAIN-i");
    let t5 = types(m5);
    assert!(t5.contains(&PayloadType::CERT) && t5.contains(&PayloadType::SIG), "{t5:?}");
    let Some(Payload::Id(id)) = m5.payloads.first() else { panic!("ID first") };
    assert_eq!(id.value(), IdValue::Fqdn("cli.ikeway.test"));
    let Some(Payload::Cert(cert)) = m5.payloads.iter().find(|p| p.kind() == PayloadType::CERT)
    else {
        panic!("CERT")
    };
    assert_eq!(cert.encoding, ikeway_isakmp::CertEncoding::X509_SIGNATURE);
    assert_eq!(cert.data[0], 0x30, "a DER certificate");
    // Quick mode with PFS carries a KE.
    assert!(types(find(&msgs, "09-QUICK-i")).contains(&PayloadType::KE));
}
