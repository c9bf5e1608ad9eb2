//! Known-answer tests: RFC 2759 §9.2 and RFC 3079 §3.5.3 (tests/vectors/mschapv2.txt, see
//! tests/vectors/SOURCES.md).

use super::crypto::*;

const VECTORS: &str = include_str!("../../tests/vectors/mschapv2.txt");

fn value(name: &str) -> &'static str {
    VECTORS
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("vector {name} missing"))
}

fn bytes<const N: usize>(name: &str) -> [u8; N] {
    let v: Vec<u8> =
        value(name).split(' ').map(|b| u8::from_str_radix(b, 16).expect("hex octet")).collect();
    v.try_into().unwrap_or_else(|v: Vec<u8>| panic!("{name}: {} octets, not {N}", v.len()))
}

/// The password of the example, as the UTF-8 our configuration holds.
fn password() -> String {
    let utf16: Vec<u16> = bytes::<20>("password_utf16le")
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&utf16).expect("the RFC's password is valid UTF-16")
}

#[test]
fn rfc2759_nt_password_hash() {
    assert_eq!(password(), "clientPass");
    let hash = nt_password_hash(password().as_bytes()).expect("UTF-8");
    assert_eq!(*hash, bytes::<16>("password_hash"));
    assert_eq!(*hash_nt_password_hash(&hash), bytes::<16>("password_hash_hash"));
}

#[test]
fn rfc2759_challenge_hash() {
    let got = challenge_hash(
        &bytes("peer_challenge"),
        &bytes("authenticator_challenge"),
        &bytes::<4>("user_name"),
    );
    assert_eq!(got, bytes::<8>("challenge"));
}

#[test]
fn rfc2759_nt_response() {
    assert_eq!(
        challenge_response(&bytes("challenge"), &bytes("password_hash")),
        bytes::<24>("nt_response")
    );
    assert_eq!(
        nt_response(
            &bytes("authenticator_challenge"),
            &bytes("peer_challenge"),
            &bytes::<4>("user_name"),
            &bytes("password_hash"),
        ),
        bytes::<24>("nt_response")
    );
}

#[test]
fn rfc2759_authenticator_response() {
    let auth = authenticator_response(
        &bytes("password_hash"),
        &bytes("nt_response"),
        &bytes("peer_challenge"),
        &bytes("authenticator_challenge"),
        &bytes::<4>("user_name"),
    );
    assert_eq!(format!("S={}", super::hex_upper(&auth)), value("authenticator_response"));
    assert_eq!(
        super::parse_auth_string(&value("authenticator_response").as_bytes()[2..]),
        Some(auth)
    );
}

#[test]
fn rfc3079_master_and_128_bit_start_keys() {
    let master = master_key(&bytes("password_hash_hash"), &bytes("nt_response"));
    assert_eq!(*master, bytes::<16>("master_key"));
    // RFC 3079 §3.5.3 prints the server's send key (GetAsymmetricStartKey with IsSend and
    // IsServer): the magic "on the server side, it is the send key".
    assert_eq!(*server_send_key(&master), bytes::<16>("send_start_key_128"));
    // The other direction has no printed value: it must differ, and it is the MSK's first half.
    assert_ne!(*server_receive_key(&master), *server_send_key(&master));
}

#[test]
fn msk_is_receive_key_then_send_key_then_zeros() {
    let msk = msk(&bytes("password_hash"), &bytes("nt_response"));
    let master = master_key(&bytes("password_hash_hash"), &bytes("nt_response"));
    let k = msk.expose();
    assert_eq!(k.len(), 64);
    assert_eq!(k[..16], *server_receive_key(&master));
    assert_eq!(k[16..32], bytes::<16>("send_start_key_128"));
    assert_eq!(k[32..], [0u8; 32]);
}

#[test]
fn the_domain_is_not_hashed() {
    assert_eq!(challenge_user_name(b"BIGCO\\johndoe"), b"johndoe");
    assert_eq!(challenge_user_name(b"johndoe"), b"johndoe");
    assert_eq!(challenge_user_name(b"a\\b\\c"), b"b\\c");
}

#[test]
fn passwords_are_hashed_in_utf16le() {
    // A character outside ASCII and one outside the BMP (a surrogate pair in UTF-16).
    let hash = nt_password_hash("pä😀".as_bytes()).expect("UTF-8");
    let mut utf16 = Vec::new();
    for u in "pä😀".encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    assert_eq!(utf16, [0x70, 0x00, 0xe4, 0x00, 0x3d, 0xd8, 0x00, 0xde]);
    use md4::Digest as _;
    assert_eq!(hash.as_slice(), md4::Md4::digest(&utf16).as_slice());
    assert!(nt_password_hash(&[0xff, 0xfe]).is_none());
}
