//! Malformed input: each case must fail with the exact error kind, offset
//! and payload, and map to the right Notify (RFC 7296 §2.21.1).

use ikeway_codec::smallvec::smallvec;
use ikeway_codec::{
    DecodeError, DecodeErrorKind as K, EmitError, EncryptedRepr, HeaderRepr, MessageRepr,
    NonceRepr, NotifyRepr, NotifyType, Payload, PayloadRepr, PayloadType, emit_chain, parse_chain,
    parse_chain_at,
};

/// Payload bodies start here in a message with one payload.
const BODY: usize = 32;

/// An IKE_SA_INIT request header followed by `rest`, with a correct length.
fn message(first: u8, rest: &[u8]) -> Vec<u8> {
    let mut m =
        vec![1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, first, 0x20, 34, 0x08, 0, 0, 0, 0];
    let len = u32::try_from(28 + rest.len()).unwrap();
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(rest);
    m
}

/// A payload with generic header (`next`, flags 0) and `body`.
fn payload(next: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![next, 0];
    p.extend_from_slice(&u16::try_from(body.len() + 4).unwrap().to_be_bytes());
    p.extend_from_slice(body);
    p
}

fn err(bytes: &[u8]) -> DecodeError {
    MessageRepr::parse(bytes).expect_err("must be rejected")
}

fn assert_err(e: DecodeError, kind: K, offset: usize, payload: Option<PayloadType>) {
    assert_eq!((e.kind, e.offset, e.payload), (kind, offset, payload), "{e}");
}

/// An SA payload body with one IKE proposal holding `transforms`.
fn ike_proposal(count: u8, transforms: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + transforms.len()).unwrap();
    let mut p = vec![0, 0];
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&[1, 1, 0, count]);
    p.extend_from_slice(transforms);
    p
}

const T_ENCR: [u8; 12] = [3, 0, 0, 12, 1, 0, 0, 12, 0x80, 14, 0, 128];
const T_PRF: [u8; 8] = [3, 0, 0, 8, 2, 0, 0, 2];
const T_DH_LAST: [u8; 8] = [0, 0, 0, 8, 4, 0, 0, 14];

fn three_transforms() -> Vec<u8> {
    [&T_ENCR[..], &T_PRF, &T_DH_LAST].concat()
}

#[test]
fn valid_baseline_parses() {
    let m = message(33, &payload(0, &ike_proposal(3, &three_transforms())));
    let msg = MessageRepr::parse(&m).unwrap();
    assert_eq!(msg.to_vec().unwrap(), m);
}

#[test]
fn rejects_truncated_header() {
    let m = message(0, &[]);
    assert_err(err(&m[..20]), K::Truncated, 20, None);
    assert_err(err(&[]), K::Truncated, 0, None);
}

#[test]
fn rejects_bad_major_version() {
    for (v, major) in [(0x10u8, 1u8), (0x30, 3), (0x00, 0)] {
        let mut m = message(0, &[]);
        m[17] = v;
        let e = err(&m);
        assert_err(e, K::InvalidMajorVersion(major), 17, None);
        assert_eq!(e.notify(), NotifyType::INVALID_MAJOR_VERSION);
        assert_eq!(e.notify_data(), None);
    }
    // A higher minor version is ignored (RFC 7296 §2.5).
    let mut m = message(0, &[]);
    m[17] = 0x21;
    assert_eq!(MessageRepr::parse(&m).unwrap().header.version, 0x21);
}

#[test]
fn rejects_length_field_longer_than_datagram() {
    let mut m = message(41, &payload(0, &[0, 0, 0x40, 0]));
    m[27] += 4;
    let e = err(&m);
    assert_err(e, K::Truncated, 36, None);
    assert_eq!(e.notify(), NotifyType::INVALID_SYNTAX);
}

#[test]
fn rejects_length_field_shorter_than_datagram() {
    let mut m = message(41, &payload(0, &[0, 0, 0x40, 0]));
    m.extend_from_slice(&[0xde, 0xad]);
    assert_err(err(&m), K::TrailingData, 36, None);
}

#[test]
fn rejects_length_field_below_header() {
    let mut m = message(0, &[]);
    m[27] = 27;
    assert_err(err(&m), K::LengthTooSmall, 24, None);
}

#[test]
fn rejects_truncated_payload_header() {
    let m = message(41, &[0, 0]);
    assert_err(err(&m), K::Truncated, 28, Some(PayloadType::NOTIFY));
}

#[test]
fn rejects_payload_length_below_4() {
    let m = message(41, &[0, 0, 0, 3, 0, 0, 0, 0]);
    assert_err(err(&m), K::LengthTooSmall, 30, Some(PayloadType::NOTIFY));
}

#[test]
fn rejects_payload_length_past_end() {
    let m = message(40, &[0, 0, 0, 100, 1, 2, 3, 4]);
    assert_err(err(&m), K::LengthPastEnd, 30, Some(PayloadType::NONCE));
}

#[test]
fn rejects_trailing_bytes_after_last_payload() {
    let mut rest = payload(0, &[9; 16]);
    rest.extend_from_slice(&[0, 0, 0]);
    assert_err(err(&message(40, &rest)), K::TrailingData, 48, None);
}

#[test]
fn rejects_truncated_sa() {
    // Three bytes cannot hold a proposal header.
    let m = message(33, &payload(0, &[0, 0, 0]));
    assert_err(err(&m), K::Truncated, BODY + 2, Some(PayloadType::SA));
}

#[test]
fn rejects_truncated_proposal() {
    let mut body = ike_proposal(3, &three_transforms());
    body[3] += 4; // proposal claims 4 more bytes than the SA holds
    let m = message(33, &payload(0, &body));
    assert_err(err(&m), K::LengthPastEnd, BODY + 2, Some(PayloadType::SA));
}

#[test]
fn rejects_proposal_length_below_fixed_part() {
    let mut body = ike_proposal(3, &three_transforms());
    body[3] = 7;
    let m = message(33, &payload(0, &body));
    assert_err(err(&m), K::LengthTooSmall, BODY + 2, Some(PayloadType::SA));
}

#[test]
fn rejects_truncated_transform() {
    let mut t = three_transforms();
    t[T_ENCR.len() + T_PRF.len() + 3] = 12; // DH transform claims 12 of 8 bytes
    let m = message(33, &payload(0, &ike_proposal(3, &t)));
    let dh_len_at = BODY + 8 + T_ENCR.len() + T_PRF.len() + 2;
    assert_err(err(&m), K::LengthPastEnd, dh_len_at, Some(PayloadType::SA));
}

#[test]
fn rejects_truncated_transform_attribute() {
    // ENCR transform of length 10: the TV attribute is cut in half.
    let t = [&[0u8, 0, 0, 10, 1, 0, 0, 12, 0x80, 14][..]].concat();
    let m = message(33, &payload(0, &ike_proposal(1, &t)));
    assert_err(err(&m), K::Truncated, BODY + 8 + 10, Some(PayloadType::SA));
}

#[test]
fn rejects_wrong_transform_count() {
    for count in [2u8, 4] {
        let m = message(33, &payload(0, &ike_proposal(count, &three_transforms())));
        assert_err(err(&m), K::CountMismatch, BODY + 7, Some(PayloadType::SA));
    }
}

#[test]
fn rejects_bad_last_marker() {
    // Proposal marker that is neither 0 nor 2.
    let mut body = ike_proposal(3, &three_transforms());
    body[0] = 3;
    assert_err(
        err(&message(33, &payload(0, &body))),
        K::BadLastMarker,
        BODY,
        Some(PayloadType::SA),
    );
    // Proposal says "more" but is the last one.
    body[0] = 2;
    assert_err(
        err(&message(33, &payload(0, &body))),
        K::BadLastMarker,
        BODY,
        Some(PayloadType::SA),
    );
    // Last transform says "more".
    let mut t = three_transforms();
    let dh = T_ENCR.len() + T_PRF.len();
    t[dh] = 3;
    assert_err(
        err(&message(33, &payload(0, &ike_proposal(3, &t)))),
        K::BadLastMarker,
        BODY + 8 + dh,
        Some(PayloadType::SA),
    );
    // A transform in the middle says "last".
    let mut t = three_transforms();
    t[0] = 0;
    assert_err(
        err(&message(33, &payload(0, &ike_proposal(3, &t)))),
        K::BadLastMarker,
        BODY + 8,
        Some(PayloadType::SA),
    );
}

#[test]
fn rejects_spi_size_mismatch() {
    // ESP proposal with an 8-octet SPI (must be 4, RFC 7296 §3.3.1).
    let mut body = vec![0, 0, 0, 16, 1, 3, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0];
    body.extend_from_slice(&[0, 0, 0, 8, 1, 0, 0, 12]);
    body[3] = 24;
    let m = message(33, &payload(0, &body));
    assert_err(err(&m), K::SpiSize, BODY + 6, Some(PayloadType::SA));
    // IKE proposal with a 4-octet SPI.
    let body = [0, 0, 0, 20, 1, 1, 4, 1, 0, 0, 0, 1, 0, 0, 0, 8, 1, 0, 0, 12];
    let m = message(33, &payload(0, &body));
    assert_err(err(&m), K::SpiSize, BODY + 6, Some(PayloadType::SA));
}

#[test]
fn rejects_spi_past_proposal_end() {
    // ESP proposal with SPI size 4 but only 2 bytes left.
    let body = [0, 0, 0, 10, 1, 3, 4, 0, 0xaa, 0xbb];
    let m = message(33, &payload(0, &body));
    assert_err(err(&m), K::Truncated, BODY + 8, Some(PayloadType::SA));
}

#[test]
fn rejects_ts_selector_bad_length() {
    // One IPv4 selector claiming 20 octets (must be 16).
    let mut body = vec![1, 0, 0, 0, 7, 0, 0, 20];
    body.extend_from_slice(&[0u8; 16]);
    let m = message(44, &payload(0, &body));
    assert_err(err(&m), K::SelectorLength, BODY + 6, Some(PayloadType::TSI));
    // IPv6 selector claiming 16 octets (must be 40).
    let mut body = vec![1, 0, 0, 0, 8, 0, 0, 16];
    body.extend_from_slice(&[0u8; 12]);
    let m = message(45, &payload(0, &body));
    assert_err(err(&m), K::SelectorLength, BODY + 6, Some(PayloadType::TSR));
}

#[test]
fn rejects_ts_count_mismatch() {
    let mut body = vec![2, 0, 0, 0, 7, 0, 0, 16];
    body.extend_from_slice(&[0u8; 12]);
    let m = message(44, &payload(0, &body));
    assert_err(err(&m), K::CountMismatch, BODY, Some(PayloadType::TSI));
}

#[test]
fn rejects_ipv4_id_wrong_length() {
    let m = message(35, &payload(0, &[1, 0, 0, 0, 10, 0, 0, 1, 5]));
    assert_err(err(&m), K::IdLength, BODY + 4, Some(PayloadType::IDI));
    let m = message(36, &payload(0, &[5, 0, 0, 0, 10, 0, 0, 1]));
    assert_err(err(&m), K::IdLength, BODY + 4, Some(PayloadType::IDR));
}

#[test]
fn rejects_notify_spi_size_past_end() {
    let m = message(41, &payload(0, &[3, 4, 0x40, 0x00, 0xaa, 0xbb]));
    assert_err(err(&m), K::Truncated, BODY + 4, Some(PayloadType::NOTIFY));
}

#[test]
fn rejects_delete_count_mismatch() {
    let m = message(42, &payload(0, &[3, 4, 0, 2, 1, 2, 3, 4]));
    assert_err(err(&m), K::CountMismatch, BODY + 2, Some(PayloadType::DELETE));
    // SPI size 0 with a count: must not be read as "N empty SPIs".
    let m = message(42, &payload(0, &[9, 0, 0xff, 0xff]));
    assert_err(err(&m), K::CountMismatch, BODY + 2, Some(PayloadType::DELETE));
}

#[test]
fn rejects_delete_bad_spi_size() {
    let m = message(42, &payload(0, &[1, 8, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8]));
    assert_err(err(&m), K::SpiSize, BODY + 1, Some(PayloadType::DELETE));
}

#[test]
fn rejects_eap_length_mismatch() {
    let m = message(48, &payload(0, &[1, 7, 0, 10, 1, b'x']));
    assert_err(err(&m), K::EapLength, BODY + 2, Some(PayloadType::EAP));
}

#[test]
fn rejects_sk_not_last() {
    let mut rest = payload(41, &[0xaa; 8]);
    rest.extend(payload(0, &[0, 0, 0x40, 0]));
    let m = message(46, &rest);
    assert_err(err(&m), K::EncryptedNotLast, BODY + 8, Some(PayloadType::SK));
    // And the encoder refuses to produce it.
    let chain = [
        Payload::new(PayloadRepr::Encrypted(EncryptedRepr {
            first_inner: PayloadType::IDI,
            body: vec![0; 8],
        })),
        Payload::new(PayloadRepr::Nonce(NonceRepr { data: vec![1; 16].into() })),
    ];
    let mut buf = [0u8; 64];
    assert!(matches!(emit_chain(&chain, &mut buf), Err(EmitError::Inconsistent(_))));
}

#[test]
fn rejects_skf_number_zero_or_above_total() {
    let m = message(53, &payload(35, &[0, 0, 0, 2, 0xaa, 0xbb]));
    assert_err(err(&m), K::FragmentNumber, BODY, Some(PayloadType::SKF));
    let m = message(53, &payload(0, &[0, 3, 0, 2, 0xaa, 0xbb]));
    assert_err(err(&m), K::FragmentNumber, BODY, Some(PayloadType::SKF));
    let m = message(53, &payload(0, &[0, 2, 0, 2, 0xaa, 0xbb]));
    let msg = MessageRepr::parse(&m).unwrap();
    let skf = msg.encrypted_fragment().unwrap();
    assert_eq!((skf.number, skf.total, skf.first_inner), (2, 2, PayloadType::NONE));
}

#[test]
fn rejects_skf_not_last() {
    let mut rest = payload(41, &[0, 1, 0, 1, 0xaa]);
    rest.extend(payload(0, &[0, 0, 0x40, 0]));
    let m = message(53, &rest);
    assert_err(err(&m), K::EncryptedNotLast, BODY + 5, Some(PayloadType::SKF));
}

#[test]
fn rejects_unknown_critical_payload() {
    let mut rest = payload(0, &[1, 2, 3]);
    rest[1] = 0x80;
    let m = message(99, &rest);
    let e = err(&m);
    assert_err(e, K::UnsupportedCriticalPayload, 28, Some(PayloadType(99)));
    assert_eq!(e.notify(), NotifyType::UNSUPPORTED_CRITICAL_PAYLOAD);
    assert_eq!(e.notify_data(), Some([99]));
    assert!(e.to_string().contains("unsupported critical payload"));
}

#[test]
fn critical_bit_on_known_payload_is_accepted() {
    let mut rest = payload(0, &[7; 16]);
    rest[1] = 0x80;
    let msg = MessageRepr::parse(&message(40, &rest)).unwrap();
    assert!(msg.payloads[0].critical);
    assert_eq!(msg.to_vec().unwrap(), message(40, &rest));
}

#[test]
fn unknown_noncritical_payload_round_trips() {
    let mut rest = payload(41, &[0xde, 0xad, 0xbe, 0xef]);
    rest.extend(payload(0, &[0, 0, 0x40, 0x00]));
    let m = message(120, &rest);
    let msg = MessageRepr::parse(&m).unwrap();
    assert_eq!(
        msg.payloads[0].body,
        PayloadRepr::Unknown { kind: PayloadType(120), data: vec![0xde, 0xad, 0xbe, 0xef] }
    );
    assert_eq!(msg.payload_types(), [PayloadType(120), PayloadType::NOTIFY]);
    assert_eq!(msg.to_vec().unwrap(), m);
}

#[test]
fn reserved_bits_are_ignored_and_emitted_as_zero() {
    // Reserved bits in the generic header, the KE body and the flags.
    let mut rest = payload(0, &[0, 19, 0xff, 0xff, 1, 2, 3]);
    rest[1] = 0x7f;
    let mut m = message(34, &rest);
    m[19] |= 0x07;
    let msg = MessageRepr::parse(&m).unwrap();
    let clean = msg.to_vec().unwrap();
    assert_eq!(clean[19], 0x08);
    assert_eq!(clean[29], 0);
    assert_eq!(&clean[34..36], &[0, 0]);
    assert_eq!(MessageRepr::parse(&clean).unwrap(), msg);
}

#[test]
fn chain_offsets_are_relative_to_base() {
    let e = parse_chain_at(PayloadType::NONCE, &[0, 0, 0, 2], 100).unwrap_err();
    assert_err(e, K::LengthTooSmall, 102, Some(PayloadType::NONCE));
    let e = parse_chain(PayloadType::NONCE, &[0, 0, 0, 2]).unwrap_err();
    assert_eq!(e.offset, 2);
}

#[test]
fn emit_reports_short_buffer_and_overlong_fields() {
    let msg = MessageRepr::parse(&message(41, &payload(0, &[0, 0, 0x40, 0]))).unwrap();
    let mut small = [0u8; 35];
    assert_eq!(msg.emit(&mut small), Err(EmitError::BufferTooShort { needed: 36, available: 35 }));
    let huge =
        Payload::new(PayloadRepr::Notify(NotifyRepr::new(NotifyType::COOKIE, vec![0; 70_000])));
    let msg =
        MessageRepr { header: HeaderRepr::parse(&message(0, &[])).unwrap(), payloads: vec![huge] };
    assert!(matches!(msg.to_vec(), Err(EmitError::TooLong { field: "payload length", .. })));
    let spi =
        NotifyRepr { spi: smallvec![0; 300], ..NotifyRepr::new(NotifyType::REKEY_SA, vec![]) };
    let mut buf = vec![0u8; spi.buffer_len()];
    assert!(matches!(spi.emit(&mut buf), Err(EmitError::TooLong { .. })));
}
