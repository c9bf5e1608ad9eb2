//! Everything strongSwan 5.9.8 sent after phase 1 in helper D's `v1-aggr` capture (XAUTH,
//! mode config, two quick modes, DPD, Deletes; `tests/data/strongswan-aggr-phase2.json`),
//! checked with our code: each message decrypts under our IV chain, its HASH is the one we
//! compute, our responder would have chosen the transform strongSwan's did, our KEYMAT equals
//! the keys charon logged, and our readers make of the attributes what was configured.

use ikeway_crypto::{BlockCipher, Encryption, Integrity, Prf, Suite};
use ikeway_isakmp::{ExchangeType, HeaderRepr, Payload, PayloadType, parse_chain};

use super::config::EspProposal;
use super::hash::{HashKey, hash_matches};
use super::keymat::{KeymatInput, direction_keys};
use super::offer::{self, Policy};
use super::suite::{Encapsulation, Transform};
use crate::crypt::Crypt;
use crate::keys::HashAlg;

pub(crate) struct Message {
    pub header: HeaderRepr,
    pub payloads: Vec<Payload>,
    pub hash: Vec<u8>,
    pub rest: Vec<u8>,
}

pub(crate) fn hex(s: &serde_json::Value) -> Vec<u8> {
    hex::decode(s.as_str().expect("a hex string")).expect("hex")
}

/// The capture's messages after phase 1, decrypted with our IV chain from charon's last
/// phase 1 block.
pub(crate) fn capture() -> (serde_json::Value, Vec<Message>) {
    let data: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/data/strongswan-aggr-phase2.json"))
            .expect("the fixture is JSON");
    let aes256 = BlockCipher::AesCbc { key_bits: 256 };
    let mut crypt = Crypt::new(aes256, &hex(&data["enc_key"]), HashAlg::Sha256, b"", b"")
        .expect("AES-256 takes a 32-octet key");
    crypt.commit(0, hex(&data["iv_after_phase1"]));
    crypt.finish_phase1();
    let mut out = Vec::new();
    for m in data["messages"].as_array().expect("messages") {
        let bytes = hex(&m["message"]);
        let header = HeaderRepr::parse(&bytes).expect("an ISAKMP header");
        assert!(header.flags.encryption);
        let (plain, next) = crypt.open(header.message_id, &bytes[28..]).expect("whole blocks");
        crypt.commit(header.message_id, next);
        assert_eq!(header.next_payload, PayloadType::HASH);
        let chain = parse_chain(PayloadType::HASH, &plain).expect("decrypts to payloads");
        let Some(Payload::Hash(h)) = chain.payloads.first() else { panic!("HASH first") };
        let rest = plain[chain.spans[0].end..chain.used].to_vec();
        out.push(Message {
            header,
            hash: h.data.clone(),
            payloads: chain.payloads[1..].to_vec(),
            rest,
        });
    }
    (data, out)
}

fn key(data: &serde_json::Value) -> (Prf, Vec<u8>) {
    (Prf::HmacSha256, hex(&data["skeyid_a"]))
}

fn nonce(m: &Message) -> Vec<u8> {
    m.payloads
        .iter()
        .find_map(|p| match p {
            Payload::Nonce(n) => Some(n.data.clone()),
            _ => None,
        })
        .expect("a nonce")
}

fn sa(m: &Message) -> &ikeway_isakmp::SaRepr {
    m.payloads
        .iter()
        .find_map(|p| match p {
            Payload::Sa(sa) => Some(sa),
            _ => None,
        })
        .expect("an SA payload")
}

fn spi_of(m: &Message) -> u32 {
    let p = &sa(m).proposals[0];
    u32::from_be_bytes(p.spi.as_slice().try_into().expect("a 4-octet SPI"))
}

#[test]
fn every_hash_strongswan_sent_after_phase_1_is_the_one_we_compute() {
    let (data, msgs) = capture();
    let (prf, skeyid_a) = key(&data);
    let key = HashKey { prf, skeyid_a: &skeyid_a };
    let mut quick = 0;
    let mut i = 0;
    while i < msgs.len() {
        let m = &msgs[i];
        let id = m.header.message_id;
        if m.header.exchange == ExchangeType::QUICK {
            let (m1, m2, m3) = (&msgs[i], &msgs[i + 1], &msgs[i + 2]);
            assert!(hash_matches(&key.message(id, &m1.rest), &m1.hash), "HASH(1)");
            let (ni, nr) = (nonce(m1), nonce(m2));
            assert!(hash_matches(&key.quick2(id, &ni, &m2.rest), &m2.hash), "HASH(2)");
            assert!(m3.rest.is_empty());
            assert!(hash_matches(&key.quick3(id, &ni, &nr), &m3.hash), "HASH(3)");
            quick += 1;
            i += 3;
        } else {
            assert!(hash_matches(&key.message(id, &m.rest), &m.hash), "message {i}");
            i += 1;
        }
    }
    assert_eq!(quick, 2);
}

#[test]
fn our_keymat_is_the_key_material_charon_logged_for_both_quick_modes() {
    let (data, msgs) = capture();
    let suite = Suite::new(
        Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
        Some(Integrity::HmacSha256_128),
    )
    .unwrap();
    let skeyid_d = hex(&data["skeyid_d"]);
    let quick: Vec<&Message> =
        msgs.iter().filter(|m| m.header.exchange == ExchangeType::QUICK).collect();
    let children = data["children"].as_array().unwrap();
    for (n, child) in children.iter().enumerate() {
        let (m1, m2) = (quick[3 * n], quick[3 * n + 1]);
        let (ni, nr) = (nonce(m1), nonce(m2));
        let (spi_i, spi_r) = (spi_of(m1), spi_of(m2));
        assert_eq!(hex(&child["spi_in"]), spi_i.to_be_bytes());
        assert_eq!(hex(&child["spi_out"]), spi_r.to_be_bytes());
        let input = KeymatInput {
            prf: Prf::HmacSha256,
            skeyid_d: &skeyid_d,
            pfs_secret: None,
            ni_b: &ni,
            nr_b: &nr,
        };
        // Initiator to responder: the responder's SPI keys it.
        let i_to_r = direction_keys(&input, &suite, spi_r).unwrap();
        assert_eq!(i_to_r.encryption.expose(), hex(&child["enc_i"]));
        assert_eq!(i_to_r.integrity.expose(), hex(&child["integ_i"]));
        let r_to_i = direction_keys(&input, &suite, spi_i).unwrap();
        assert_eq!(r_to_i.encryption.expose(), hex(&child["enc_r"]));
        assert_eq!(r_to_i.integrity.expose(), hex(&child["integ_r"]));
    }
}

#[test]
fn our_responder_chooses_from_strongswans_offer_what_strongswan_chose() {
    let (_, msgs) = capture();
    let quick: Vec<&Message> =
        msgs.iter().filter(|m| m.header.exchange == ExchangeType::QUICK).collect();
    let ours = EspProposal::defaults();
    let supports = |_| true;
    let policy = Policy {
        ours: &ours,
        // Both strongSwan peers floated to 4500 (kernel-libipsec fakes a NAT).
        encapsulation: Encapsulation::UdpTunnel { draft: false },
        ke_offered: false,
        required_group: None,
        supports: &supports,
    };
    let choice = offer::choose(sa(quick[0]), &policy).expect("an acceptable transform");
    let answered = &sa(quick[1]).proposals[0].transforms[0];
    assert_eq!(choice.echo.attributes, answered.attributes);
    assert_eq!(choice.echo.id, answered.id);
    let theirs: Vec<Transform> = sa(quick[0]).proposals[0]
        .transforms
        .iter()
        .filter_map(|t| {
            let attrs = t.attributes.iter().map(|a| (a.kind, a.value.as_u64().unwrap() as u32));
            Transform::read(t.id, attrs).ok()
        })
        .collect();
    // As initiator we would take strongSwan's answer to such an offer.
    let (chosen, spi) = offer::check_answer(sa(quick[1]), &theirs).expect("one of the offer");
    assert_eq!(spi, spi_of(quick[1]));
    assert_eq!(chosen.encapsulation, Encapsulation::UdpTunnel { draft: false });
    assert_eq!(chosen.proposal.integrity, Some(Integrity::HmacSha256_128));
}
