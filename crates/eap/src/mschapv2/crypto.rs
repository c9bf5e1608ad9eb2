//! The MSCHAPv2 computations (RFC 2759 §8) and the MPPE master keys (RFC 3079 §3.4) that make
//! the EAP-MSCHAPv2 MSK.
//!
//! Every intermediate that the password determines (NT hash, its hash, the master keys) is wiped
//! on drop.

use des::Des;
use des::cipher::{Block, BlockCipherEncrypt, KeyInit};
use ikeway_crypto::SecretBytes;
use md4::Md4;
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

/// RFC 2759 §8.7, the first constant of GenerateAuthenticatorResponse.
const AUTH_MAGIC1: &[u8; 39] = b"Magic server to client signing constant";
/// RFC 2759 §8.7, the second.
const AUTH_MAGIC2: &[u8; 41] = b"Pad to make it do more than one iteration";
/// RFC 3079 §3.4, GetMasterKey.
const MASTER_MAGIC: &[u8; 27] = b"This is the MPPE Master Key";
/// RFC 3079 §3.4, GetAsymmetricStartKey: the client's send key, the server's receive key.
const CLIENT_SEND_MAGIC: &[u8; 84] =
    b"On the client side, this is the send key; on the server side, it is the receive key.";
/// The client's receive key, the server's send key.
const CLIENT_RECEIVE_MAGIC: &[u8; 84] =
    b"On the client side, this is the receive key; on the server side, it is the send key.";
/// RFC 3079 §3.4, SHSpad1 and SHSpad2.
const SHS_PAD1: [u8; 40] = [0x00; 40];
const SHS_PAD2: [u8; 40] = [0xf2; 40];

/// The length of the EAP-MSCHAPv2 MSK (RFC 3748 §7.10 asks for at least 64 octets).
pub(crate) const MSK_LEN: usize = 64;

/// An NT password hash or its hash: 16 bytes, wiped on drop.
pub(crate) type Hash16 = Zeroizing<[u8; 16]>;

/// NtPasswordHash (RFC 2759 §8.3): MD4 of the password in UTF-16LE. The password is UTF-8;
/// `None` when it is not.
pub(crate) fn nt_password_hash(password: &[u8]) -> Option<Hash16> {
    let text = core::str::from_utf8(password).ok()?;
    let mut utf16: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::with_capacity(2 * text.len()));
    for unit in text.encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    Some(md4(&utf16))
}

/// HashNtPasswordHash (RFC 2759 §8.4).
pub(crate) fn hash_nt_password_hash(hash: &[u8; 16]) -> Hash16 {
    md4(hash)
}

/// MD4 into a buffer that is wiped (the hasher wipes its own state: the `zeroize` feature).
fn md4(data: &[u8]) -> Hash16 {
    let mut out = Zeroizing::new([0u8; 16]);
    let mut h = Md4::new();
    h.update(data);
    h.finalize_into(out.as_mut_slice().try_into().expect("MD4 makes 16 bytes"));
    out
}

/// The user name that enters the challenge hash: without a Windows domain (RFC 2759 §4: "only
/// the user name is used"), i.e. what follows the first backslash, as strongSwan does.
pub(crate) fn challenge_user_name(name: &[u8]) -> &[u8] {
    match name.iter().position(|&b| b == b'\\') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// ChallengeHash (RFC 2759 §8.2).
pub(crate) fn challenge_hash(
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
) -> [u8; 8] {
    let mut h = Sha1::new();
    h.update(peer_challenge);
    h.update(authenticator_challenge);
    h.update(user_name);
    let digest = h.finalize();
    let mut out = [0; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// ChallengeResponse (RFC 2759 §8.5): the challenge under three DES keys cut from the
/// zero-padded password hash.
pub(crate) fn challenge_response(challenge: &[u8; 8], password_hash: &[u8; 16]) -> [u8; 24] {
    let mut z = Zeroizing::new([0u8; 21]);
    z[..16].copy_from_slice(password_hash);
    let mut out = [0; 24];
    for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
        let key7: &[u8; 7] =
            z[7 * i..7 * i + 7].try_into().expect("21 bytes make three 7-byte keys");
        chunk.copy_from_slice(&des_encrypt(key7, challenge));
    }
    out
}

/// DesEncrypt (RFC 2759 §8.6): a 56-bit key spread over 8 bytes, 7 bits each (the low bit is
/// DES parity, which the cipher ignores).
fn des_encrypt(key7: &[u8; 7], clear: &[u8; 8]) -> [u8; 8] {
    let bits =
        u64::from_be_bytes([0, key7[0], key7[1], key7[2], key7[3], key7[4], key7[5], key7[6]]);
    let mut key8 = Zeroizing::new([0u8; 8]);
    for (i, byte) in key8.iter_mut().enumerate() {
        *byte = (((bits >> (49 - 7 * i)) & 0x7f) as u8) << 1;
    }
    let cipher = Des::new_from_slice(key8.as_slice()).expect("a DES key is 8 bytes");
    let mut block = Block::<Des>::from(*clear);
    cipher.encrypt_block(&mut block);
    block.into()
}

/// GenerateNTResponse (RFC 2759 §8.1), from the password hash.
pub(crate) fn nt_response(
    authenticator_challenge: &[u8; 16],
    peer_challenge: &[u8; 16],
    user_name: &[u8],
    password_hash: &[u8; 16],
) -> [u8; 24] {
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    challenge_response(&challenge, password_hash)
}

/// GenerateAuthenticatorResponse (RFC 2759 §8.7), the 20 bytes the server sends as
/// `S=<40 hex digits>`.
pub(crate) fn authenticator_response(
    password_hash: &[u8; 16],
    nt_response: &[u8; 24],
    peer_challenge: &[u8; 16],
    authenticator_challenge: &[u8; 16],
    user_name: &[u8],
) -> [u8; 20] {
    let hash_hash = hash_nt_password_hash(password_hash);
    let mut h = Sha1::new();
    h.update(hash_hash.as_slice());
    h.update(nt_response);
    h.update(AUTH_MAGIC1);
    let digest = h.finalize();
    let challenge = challenge_hash(peer_challenge, authenticator_challenge, user_name);
    let mut h = Sha1::new();
    h.update(digest);
    h.update(challenge);
    h.update(AUTH_MAGIC2);
    h.finalize().into()
}

/// GetMasterKey (RFC 3079 §3.4).
pub(crate) fn master_key(password_hash_hash: &[u8; 16], nt_response: &[u8; 24]) -> Hash16 {
    let mut h = Sha1::new();
    h.update(password_hash_hash);
    h.update(nt_response);
    h.update(MASTER_MAGIC);
    first16(h)
}

/// GetAsymmetricStartKey (RFC 3079 §3.4) for a 128-bit key, with the magic that picks the
/// direction.
fn start_key(master: &[u8; 16], magic: &[u8; 84]) -> Hash16 {
    let mut h = Sha1::new();
    h.update(master);
    h.update(SHS_PAD1);
    h.update(magic);
    h.update(SHS_PAD2);
    first16(h)
}

/// The server's MasterSendKey (the client's receive key).
pub(crate) fn server_send_key(master: &[u8; 16]) -> Hash16 {
    start_key(master, CLIENT_RECEIVE_MAGIC)
}

/// The server's MasterReceiveKey (the client's send key).
pub(crate) fn server_receive_key(master: &[u8; 16]) -> Hash16 {
    start_key(master, CLIENT_SEND_MAGIC)
}

/// The EAP-MSCHAPv2 MSK, the same on both sides: MasterReceiveKey | MasterSendKey as the server
/// names them, then 32 zero octets. This is the layout of strongSwan's eap_mschapv2 plugin (and
/// of Windows, with which it interoperates); RFC 3079 itself predates EAP and names none.
pub(crate) fn msk(password_hash: &[u8; 16], nt_response: &[u8; 24]) -> SecretBytes {
    let hash_hash = hash_nt_password_hash(password_hash);
    let master = master_key(&hash_hash, nt_response);
    let mut msk = SecretBytes::zeroed(MSK_LEN);
    msk.expose_mut()[..16].copy_from_slice(server_receive_key(&master).as_slice());
    msk.expose_mut()[16..32].copy_from_slice(server_send_key(&master).as_slice());
    msk
}

/// The first 16 bytes of the digest, which is finished in a buffer that is wiped too.
fn first16(h: Sha1) -> Hash16 {
    let mut digest = Zeroizing::new([0u8; 20]);
    h.finalize_into(digest.as_mut_slice().try_into().expect("SHA-1 makes 20 bytes"));
    let mut out = Zeroizing::new([0u8; 16]);
    out.copy_from_slice(&digest[..16]);
    out
}
