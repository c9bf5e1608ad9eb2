//! The Encrypted payload against messages other stacks encrypted (Wireshark's test captures,
//! decrypted by tshark), and our own seal / fragment / reassemble round trips.

use ikeway_codec::smallvec::smallvec;
use std::time::{Duration, Instant};

use ikeway_codec::sk::{
    self, Direction, FragmentInfo, Reassembler, Reassembly, ReassemblyLimits, SkError,
};
use ikeway_codec::{
    ExchangeType, Flags, HeaderRepr, NotifyRepr, NotifyType, Payload, PayloadRepr, PayloadType,
    ProtocolId, VendorIdRepr,
};
use ikeway_crypto::{
    AeadAlgorithm, AeadBackend, BlockCipher, Encryption, Integrity, Protector, Suite,
};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/sk/wireshark_sk_vectors.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

fn suite_named(encr: &str, integ: &str) -> Suite {
    let encryption = match encr {
        "3DES [RFC2451]" => Encryption::Cipher(BlockCipher::TripleDesCbc),
        "AES-CTR-192 [RFC5930]" => Encryption::Cipher(BlockCipher::AesCtr { key_bits: 192 }),
        "AES-CBC-256 [RFC3602]" => Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
        "AES-GCM-256 with 16 octet ICV [RFC5282]" => Encryption::Aead(AeadAlgorithm::AES256_GCM16),
        other => panic!("{other}"),
    };
    let integrity = match integ {
        "NONE [RFC4306]" => None,
        "HMAC_SHA1_160 [RFC4595]" => Some(Integrity::HmacSha1_160),
        "HMAC_SHA2_512_256 [RFC4868]" => Some(Integrity::HmacSha512_256),
        "HMAC_SHA2_256_128 [RFC4868]" => Some(Integrity::HmacSha256_128),
        other => panic!("{other}"),
    };
    Suite::new(encryption, integrity).unwrap()
}

fn protector_for(v: &Value) -> Protector {
    let suite = suite_named(v["encr"].as_str().unwrap(), v["integ"].as_str().unwrap());
    let e = hex::decode(v["sk_e"].as_str().unwrap()).unwrap();
    let a = hex::decode(v["sk_a"].as_str().unwrap()).unwrap();
    suite.key(AeadBackend::RustCrypto, &e, &a).unwrap()
}

fn hex_of(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap()).unwrap()
}

#[test]
fn opens_every_encrypted_message_of_wiresharks_captures() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 14);
    for v in &vectors {
        let what = format!("{} frame {}", v["capture"], v["frame"]);
        let opened = sk::open(&hex_of(v, "message"), &protector_for(v)).expect(&what);
        // tshark shows the decrypted bytes with padding and the Pad Length byte.
        let tshark = hex_of(v, "plaintext");
        let pad = v["pad_length"].as_u64().unwrap() as usize;
        assert_eq!(opened.plaintext, tshark[..tshark.len() - pad - 1], "{what}");
        let chain: Vec<u8> = opened.payloads().expect(&what).iter().map(|p| p.kind().0).collect();
        let expected: Vec<u8> = v["inner_chain"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap() as u8)
            .filter(|t| ![2, 3].contains(t)) // tshark also lists proposals and transforms
            .collect();
        assert_eq!(chain, expected, "{what}");
        assert_eq!(opened.fragment, None);
    }
}

#[test]
fn rejects_any_flipped_bit_in_a_captured_message() {
    for v in vectors().iter().filter(|v| v["frame"] == 3) {
        let message = hex_of(v, "message");
        let protector = protector_for(v);
        // Header, SK payload header, IV, ciphertext and ICV are all covered.
        for at in [0, 17, 24, 28, 33, message.len() / 2, message.len() - 1] {
            let mut forged = message.clone();
            forged[at] ^= 0x01;
            let result = sk::open(&forged, &protector);
            assert!(result.is_err(), "{} byte {at} accepted", v["capture"]);
            if at >= 32 {
                assert_eq!(
                    result.unwrap_err(),
                    SkError::Authentication,
                    "{} byte {at}",
                    v["capture"]
                );
            }
        }
    }
}

fn header() -> HeaderRepr {
    HeaderRepr {
        spi_i: 0x1122334455667788,
        spi_r: 0x99aabbccddeeff00,
        next_payload: PayloadType::NONE,
        version: 0x20,
        exchange: ExchangeType::IKE_AUTH,
        flags: Flags::from_bits(Flags::INITIATOR),
        message_id: 1,
        length: 0,
    }
}

fn inner_payloads(vendor_len: usize) -> Vec<Payload> {
    vec![
        Payload::new(PayloadRepr::Notify(NotifyRepr {
            protocol: ProtocolId::NONE,
            spi: smallvec![],
            kind: NotifyType::INITIAL_CONTACT,
            data: smallvec![],
        })),
        Payload::new(PayloadRepr::VendorId(VendorIdRepr {
            data: (0..vendor_len).map(|i| i as u8).collect(),
        })),
    ]
}

fn suites() -> Vec<Suite> {
    vec![
        Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap(),
        Suite::new(Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305), None).unwrap(),
        Suite::new(
            Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
            Some(Integrity::HmacSha384_192),
        )
        .unwrap(),
    ]
}

fn keyed(suite: &Suite) -> Protector {
    suite
        .key(
            AeadBackend::RustCrypto,
            &vec![0x11; suite.encryption_key_len()],
            &vec![0x22; suite.integrity_key_len()],
        )
        .unwrap()
}

#[test]
fn seal_then_open_round_trips_for_each_suite() {
    for suite in suites() {
        let p = keyed(&suite);
        let inner = inner_payloads(37);
        let message = sk::seal(&header(), &[], &inner, &p, &vec![7; p.iv_len()]).unwrap();
        let parsed = ikeway_codec::MessageRepr::parse(&message).unwrap();
        assert_eq!(parsed.header.next_payload, PayloadType::SK);
        assert_eq!(parsed.header.length as usize, message.len());
        let opened = sk::open(&message, &p).unwrap();
        assert_eq!(opened.first_inner, PayloadType::NOTIFY);
        assert_eq!(opened.payloads().unwrap(), inner, "{suite:?}");
    }
}

/// The message is built in one buffer: the cleartext payloads chain into the SK payload
/// (their last Next Payload names SK), and SKF carries its fragment fields, exactly as the
/// parsed message re-emits.
#[test]
fn sealed_cleartext_and_fragment_fields_read_back() {
    let cleartext = vec![
        Payload::new(PayloadRepr::Notify(NotifyRepr::new(NotifyType::COOKIE, vec![9; 12]))),
        Payload::new(PayloadRepr::VendorId(VendorIdRepr { data: vec![1, 2, 3] })),
    ];
    for suite in suites() {
        let p = keyed(&suite);
        let inner = inner_payloads(5);
        let iv = vec![4; p.iv_len()];
        let message = sk::seal(&header(), &cleartext, &inner, &p, &iv).unwrap();
        let parsed = ikeway_codec::MessageRepr::parse(&message).unwrap();
        assert_eq!(parsed.payloads[..2], cleartext[..], "{suite:?}");
        assert_eq!(parsed.encrypted().unwrap().first_inner, PayloadType::NOTIFY);
        assert_eq!(parsed.to_vec().unwrap(), message);
        assert_eq!(sk::open(&message, &p).unwrap().payloads().unwrap(), inner);

        let fragment = Some(FragmentInfo { number: 2, total: 3 });
        let content = [0xab; 21];
        let message =
            sk::seal_content(&header(), &[], PayloadType::NONE, fragment, &content, &p, &iv)
                .unwrap();
        let parsed = ikeway_codec::MessageRepr::parse(&message).unwrap();
        let skf = parsed.encrypted_fragment().unwrap();
        assert_eq!((skf.number, skf.total), (2, 3));
        assert_eq!(parsed.header.next_payload, PayloadType::SKF);
        assert_eq!(parsed.to_vec().unwrap(), message);
        let opened = sk::open(&message, &p).unwrap();
        assert_eq!((opened.plaintext.as_slice(), opened.fragment), (&content[..], fragment));
    }
}

/// An SK payload among the cleartext ones would not be last: refused, as the chain emitter
/// refuses it.
#[test]
fn seal_refuses_an_encrypted_payload_in_the_cleartext() {
    let p = keyed(&suites()[0]);
    let sk = PayloadRepr::Encrypted(ikeway_codec::EncryptedRepr {
        first_inner: PayloadType::NONE,
        body: vec![0; 30],
    });
    assert_eq!(
        sk::seal(&header(), &[Payload::new(sk)], &inner_payloads(1), &p, &[0; 8]).unwrap_err(),
        SkError::Emit(ikeway_codec::EmitError::Inconsistent(
            "an SK or SKF payload must be the last payload"
        ))
    );
}

/// A fragment numbered outside `1..=total` is refused when sealed, as `sk::open` refuses it
/// (RFC 7383 §2.5): what we seal, we can open (the `sk_reassembly` fuzz target found the sealer
/// writing any numbers after f49f768).
#[test]
fn seal_refuses_a_fragment_numbered_outside_one_to_total() {
    let p = keyed(&suites()[0]);
    let iv = vec![4; p.iv_len()];
    for (number, total) in [(0, 3), (4, 3), (1, 0), (0, 0)] {
        let fragment = Some(FragmentInfo { number, total });
        let sealed = sk::seal_content(&header(), &[], PayloadType::NONE, fragment, &[1], &p, &iv);
        assert_eq!(
            sealed.unwrap_err(),
            SkError::Emit(ikeway_codec::EmitError::Inconsistent(
                "fragment number must be in 1..=total"
            )),
            "{number}/{total}"
        );
    }
    let fragment = Some(FragmentInfo { number: 3, total: 3 });
    let sealed = sk::seal_content(&header(), &[], PayloadType::NONE, fragment, &[1], &p, &iv);
    assert_eq!(sk::open(&sealed.unwrap(), &p).unwrap().fragment, fragment);
}

#[test]
fn rejects_bad_padding_length() {
    // Seal a message whose last plaintext byte claims more padding than there is.
    let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap();
    let p = keyed(&suite);
    let mut content = ikeway_codec::payload::chain_to_vec(&inner_payloads(3)).unwrap();
    let claimed = 200u8;
    *content.last_mut().unwrap() = claimed;
    // Build with one raw Unknown payload of the right size, then re-seal the bytes by hand.
    let message = sk::seal(&header(), &[], &inner_payloads(3), &p, &[0; 8]).unwrap();
    let (aad_len, ct_len) = (message.len() - 8 - content.len() - 1 - 16, content.len() + 1);
    let mut forged = message.clone();
    let (aad, rest) = forged.split_at_mut(aad_len);
    let (iv, rest) = rest.split_at_mut(8);
    let (ct, icv) = rest.split_at_mut(ct_len);
    ct[..content.len()].copy_from_slice(&content);
    ct[ct_len - 1] = claimed;
    p.seal(aad, iv, ct, icv).unwrap();
    assert_eq!(
        sk::open(&forged, &p).unwrap_err(),
        SkError::BadPadding { pad_length: claimed, plaintext_len: content.len() }
    );
}

#[test]
fn rejects_body_shorter_than_iv_and_icv() {
    let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap();
    let p = keyed(&suite);
    let mut message = sk::seal(&header(), &[], &[], &p, &[0; 8]).unwrap();
    // Cut the body to 20 bytes (IV 8 + ICV 16 needs 24 plus a Pad Length byte).
    let cut = message.len() - 25 + 20;
    message.truncate(cut);
    let len = message.len() as u32;
    message[24..28].copy_from_slice(&len.to_be_bytes());
    let sk_len = (message.len() - 28) as u16;
    message[30..32].copy_from_slice(&sk_len.to_be_bytes());
    assert_eq!(sk::open(&message, &p).unwrap_err(), SkError::BadLength { offset: 32, len: 20 });
}

#[test]
fn rejects_message_without_encrypted_payload() {
    let p = keyed(&suites()[0]);
    let mut h = header();
    h.next_payload = PayloadType::NONE;
    h.length = 28;
    let mut bytes = vec![0u8; 28];
    h.emit(&mut bytes).unwrap();
    assert_eq!(sk::open(&bytes, &p).unwrap_err(), SkError::NotEncrypted);
}

#[test]
fn fragments_fit_the_limit_and_reassemble() {
    for suite in suites() {
        let p = keyed(&suite);
        let inner = inner_payloads(3000);
        let mut counter = 0u8;
        let mut next_iv = |iv: &mut [u8]| {
            counter += 1;
            iv.fill(counter);
        };
        let fragments = sk::seal_fragments(&header(), &inner, &p, 576, &mut next_iv).unwrap();
        assert!(fragments.len() >= 6, "{}", fragments.len());
        assert!(fragments.iter().all(|f| f.len() <= 576));
        let mut r = Reassembler::new(ReassemblyLimits::default());
        // Deliver out of order with a duplicate: reassembly must not care.
        let mut order: Vec<usize> = (0..fragments.len()).rev().collect();
        order.insert(1, fragments.len() - 1);
        let mut complete = None;
        for i in order {
            let opened = sk::open(&fragments[i], &p).unwrap();
            assert_eq!(
                opened.fragment,
                Some(FragmentInfo { number: i as u16 + 1, total: fragments.len() as u16 })
            );
            match r.push(Instant::now(), Direction::Request, 1, opened).unwrap() {
                Reassembly::Complete(o) => complete = Some(o),
                Reassembly::Pending | Reassembly::Ignored => {}
            }
        }
        let whole = complete.expect("all fragments delivered");
        assert_eq!(whole.payloads().unwrap(), inner, "{suite:?}");
    }
}

#[test]
fn rejects_fragment_counts_and_sizes_beyond_limits() {
    let p = keyed(&suites()[0]);
    let fragments =
        sk::seal_fragments(&header(), &inner_payloads(3000), &p, 300, &mut |iv| iv.fill(1))
            .unwrap();
    let total = fragments.len() as u16;
    let mut r = Reassembler::new(ReassemblyLimits {
        max_fragments: total - 1,
        max_len: 1 << 20,
        ..Default::default()
    });
    let first = sk::open(&fragments[0], &p).unwrap();
    assert_eq!(
        r.push(Instant::now(), Direction::Request, 1, first.clone()).unwrap_err(),
        SkError::TooManyFragments { total, limit: total - 1 }
    );
    let mut r = Reassembler::new(ReassemblyLimits {
        max_fragments: 64,
        max_len: 500,
        ..Default::default()
    });
    let mut result = Ok(Reassembly::Pending);
    for f in &fragments {
        result = r.push(Instant::now(), Direction::Request, 1, sk::open(f, &p).unwrap());
        if result.is_err() {
            break;
        }
    }
    assert!(matches!(result, Err(SkError::ReassembledTooLong { limit: 500, .. })), "{result:?}");
}

#[test]
fn rejects_mtu_too_small_for_any_fragment() {
    let p = keyed(&suites()[0]);
    let err = sk::seal_fragments(&header(), &inner_payloads(10), &p, 61, &mut |_| {}).unwrap_err();
    assert_eq!(err, SkError::MtuTooSmall { max_message_len: 61, overhead: 28 + 8 + 8 + 16 });
}

/// Issue 9 finding 11: a request and a response with the same message ID (each side numbers
/// its own requests) are reassembled apart; before, the second reset or joined the first.
#[test]
fn request_and_response_with_one_message_id_do_not_mix() {
    let p = keyed(&suites()[0]);
    let request_inner = inner_payloads(1000);
    let response_inner = inner_payloads(1400);
    let seal = |inner| sk::seal_fragments(&header(), inner, &p, 300, &mut |iv| iv.fill(3));
    let request = seal(&request_inner).unwrap();
    let response = seal(&response_inner).unwrap();
    assert!(request.len() >= 3 && response.len() >= 3);
    let now = Instant::now();
    let mut r = Reassembler::new(ReassemblyLimits::default());
    let mut done = Vec::new();
    // Interleave: request fragment, response fragment, ... all with message ID 7.
    for i in 0..request.len().max(response.len()) {
        for (dir, frags) in [(Direction::Request, &request), (Direction::Response, &response)] {
            let Some(f) = frags.get(i) else { continue };
            match r.push(now, dir, 7, sk::open(f, &p).unwrap()).unwrap() {
                Reassembly::Complete(o) => done.push((dir, o.payloads().unwrap())),
                Reassembly::Pending => {}
                Reassembly::Ignored => panic!("fragment {i} of {dir:?} ignored"),
            }
        }
    }
    done.sort_by_key(|(d, _)| *d == Direction::Response);
    assert_eq!(done.len(), 2);
    assert_eq!(done[0], (Direction::Request, request_inner));
    assert_eq!(done[1], (Direction::Response, response_inner));
    assert_eq!(r.held_bytes(), 0);
}

/// Issue 9 finding 11: an incomplete reassembly is dropped once its timeout passed, and its
/// memory released; before, it was held until another message replaced it.
#[test]
fn incomplete_reassembly_expires_and_releases_its_memory() {
    let p = keyed(&suites()[0]);
    let fragments =
        sk::seal_fragments(&header(), &inner_payloads(1000), &p, 300, &mut |iv| iv.fill(5))
            .unwrap();
    let start = Instant::now();
    let limits = ReassemblyLimits { timeout: Duration::from_secs(10), ..Default::default() };
    let mut r = Reassembler::new(limits);
    for f in &fragments[..fragments.len() - 1] {
        let pushed = r.push(start, Direction::Request, 2, sk::open(f, &p).unwrap()).unwrap();
        assert_eq!(pushed, Reassembly::Pending);
    }
    let held = r.held_bytes();
    assert!(held > 0);
    assert_eq!(r.deadline(), Some(start + Duration::from_secs(10)));
    assert_eq!(r.expire(start + Duration::from_secs(9)), 0);
    assert_eq!(r.held_bytes(), held);
    assert_eq!(r.expire(start + Duration::from_secs(10)), 1);
    assert_eq!((r.held_bytes(), r.deadline()), (0, None));
    // The last fragment alone, arriving late, starts a new reassembly instead of completing.
    let last = sk::open(fragments.last().unwrap(), &p).unwrap();
    let late = start + Duration::from_secs(11);
    assert_eq!(r.push(late, Direction::Request, 2, last).unwrap(), Reassembly::Pending);
}
