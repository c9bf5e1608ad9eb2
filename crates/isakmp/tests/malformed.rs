//! Malformed messages: each is rejected with the exact error kind, offset
//! and payload, and maps to the notification RFC 2408 §5 prescribes.

use ikeway_isakmp::{
    Body, DecodeError, DecodeErrorKind as K, MessageRepr, NotifyType, PayloadType,
};

/// A Main Mode header with first payload `first`, followed by `rest`, with
/// a correct length.
fn message(first: u8, flags: u8, rest: &[u8]) -> Vec<u8> {
    let mut m =
        vec![1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, first, 0x10, 2, flags, 0, 0, 0, 0];
    let len = u32::try_from(28 + rest.len()).expect("small");
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(rest);
    m
}

/// A payload with generic header (`next`, reserved 0) and `body`.
fn payload(next: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![next, 0];
    p.extend_from_slice(&u16::try_from(body.len() + 4).expect("small").to_be_bytes());
    p.extend_from_slice(body);
    p
}

fn err(bytes: &[u8]) -> DecodeError {
    MessageRepr::parse(bytes).expect_err("must be rejected")
}

fn assert_err(e: DecodeError, kind: K, offset: usize, payload: Option<PayloadType>) {
    assert_eq!((e.kind, e.offset, e.payload), (kind, offset, payload), "{e}");
}

/// An SA body: IPsec DOI, identity only, one ISAKMP proposal with one
/// KEY_IKE transform carrying `attrs`.
fn sa_body(attrs: &[u8]) -> Vec<u8> {
    let t_len = u16::try_from(8 + attrs.len()).unwrap();
    let p_len = t_len + 8;
    let mut b = vec![0, 0, 0, 1, 0, 0, 0, 1, 0, 0];
    b.extend_from_slice(&p_len.to_be_bytes());
    b.extend_from_slice(&[1, 1, 0, 1, 0, 0]);
    b.extend_from_slice(&t_len.to_be_bytes());
    b.extend_from_slice(&[1, 1, 0, 0]);
    b.extend_from_slice(attrs);
    b
}

const AES: [u8; 4] = [0x80, 0x01, 0x00, 0x07];

#[test]
fn valid_baseline_round_trips() {
    let m = message(1, 0, &[payload(13, &sa_body(&AES)), payload(0, &[0xaa; 16])].concat());
    let msg = MessageRepr::parse(&m).expect("valid");
    assert_eq!(msg.payload_types(), [PayloadType::SA, PayloadType::VENDOR_ID]);
    assert_eq!(msg.to_vec().expect("encodes"), m);
}

#[test]
fn rejects_truncated_header_and_ikev2() {
    let m = message(0, 0, &[]);
    assert_err(err(&m[..27]), K::Truncated, 27, None);
    let mut v2 = m.clone();
    v2[17] = 0x20;
    let e = err(&v2);
    assert_err(e, K::InvalidMajorVersion(2), 17, None);
    assert_eq!(e.notify(), NotifyType::INVALID_MAJOR_VERSION);
}

#[test]
fn rejects_length_field_disagreeing_with_the_datagram() {
    let mut m = message(0, 0, &[]);
    m[27] = 29;
    assert_err(err(&m), K::Truncated, 28, None);
    let mut m = message(0, 0, &[0]);
    m[27] = 28;
    assert_err(err(&m), K::TrailingData, 28, None);
    let mut m = message(0, 0, &[]);
    m[27] = 27;
    assert_err(err(&m), K::LengthTooSmall, 24, None);
}

#[test]
fn rejects_trailing_bytes_after_a_plaintext_chain() {
    let m = message(10, 0, &[payload(0, &[1; 8]), vec![0, 0]].concat());
    assert_err(err(&m), K::TrailingData, 40, None);
}

#[test]
fn rejects_payload_lengths() {
    let m = message(10, 0, &[0, 0, 0, 3]);
    let e = err(&m);
    assert_err(e, K::LengthTooSmall, 30, Some(PayloadType::NONCE));
    assert_eq!(e.notify(), NotifyType::PAYLOAD_MALFORMED);
    let m = message(10, 0, &[0, 0, 0, 9, 1]);
    assert_err(err(&m), K::LengthPastEnd, 30, Some(PayloadType::NONCE));
    let m = message(10, 0, &[0, 0]);
    assert_err(err(&m), K::Truncated, 28, Some(PayloadType::NONCE));
}

#[test]
fn sa_errors_name_the_sa_and_map_to_bad_proposal_syntax() {
    let mut body = sa_body(&AES);
    body[15] = 2; // two transforms announced
    let e = err(&message(1, 0, &payload(0, &body)));
    assert_err(e, K::CountMismatch, 32 + 15, Some(PayloadType::SA));
    assert_eq!(e.notify(), NotifyType::BAD_PROPOSAL_SYNTAX);

    let mut body = sa_body(&AES);
    body[3] = 9;
    let e = err(&message(1, 0, &payload(0, &body)));
    assert_err(e, K::DoiNotSupported(9), 32, Some(PayloadType::SA));
    assert_eq!(e.notify(), NotifyType::DOI_NOT_SUPPORTED);

    let mut body = sa_body(&AES);
    body[7] = 2;
    let e = err(&message(1, 0, &payload(0, &body)));
    assert_eq!(e.notify(), NotifyType::SITUATION_NOT_SUPPORTED);

    let e = err(&message(1, 0, &payload(0, &sa_body(&[0x00, 0x0c, 0x00, 0x08, 0, 0]))));
    assert_err(e, K::AttributeTruncated, 32 + 24, Some(PayloadType::SA));
}

#[test]
fn id_errors_map_to_invalid_id_information() {
    let e = err(&message(5, 0, &payload(0, &[1, 17, 1, 244, 10, 0, 0])));
    assert_err(e, K::IdLength, 36, Some(PayloadType::ID));
    assert_eq!(e.notify(), NotifyType::INVALID_ID_INFORMATION);
}

#[test]
fn esp_spi_of_wrong_size_maps_to_invalid_spi() {
    let mut body = sa_body(&AES);
    body[13] = 3; // ESP
    body[14] = 0; // without an SPI
    let e = err(&message(1, 0, &payload(0, &body)));
    assert_err(e, K::SpiSize, 32 + 14, Some(PayloadType::SA));
    assert_eq!(e.notify(), NotifyType::INVALID_SPI);
}

#[test]
fn encrypted_body_is_kept_whole() {
    let m = message(8, 0x01, &[0x5a; 48]);
    let msg = MessageRepr::parse(&m).expect("valid");
    assert_eq!(msg.body, Body::Encrypted(vec![0x5a; 48]));
    assert_eq!(msg.header.next_payload, PayloadType::HASH);
    assert!(msg.payloads().is_empty());
    assert_eq!(msg.to_vec().expect("encodes"), m);
}

#[test]
fn unknown_payloads_pass_through() {
    let m = message(132, 0, &payload(0, &[0, 1, 1, 1, 0xde, 0xad]));
    let msg = MessageRepr::parse(&m).expect("valid");
    assert_eq!(msg.payload_types(), [PayloadType::FRAGMENT]);
    assert_eq!(msg.to_vec().expect("encodes"), m);
}
