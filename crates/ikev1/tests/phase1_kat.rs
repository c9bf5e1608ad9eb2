//! Known answers from strongSwan: the first three messages of an aggressive mode exchange
//! captured between two strongSwan 5.9.8 peers, and the keys charon logged for it (see
//! `tests/data/SOURCES.md`). Our key schedule, HASH_R/HASH_I over the raw payload bodies, the
//! first IV and the decryption of message 3 must give exactly what strongSwan computed and sent.

use ikeway_crypto::{BlockCipher, Prf};
use ikeway_ikev1::Crypt;
use ikeway_ikev1::keys::{self, HashAlg, HashInputs, HashOf, SkeyidInput};
use ikeway_isakmp::{Body, MessageRepr, Payload, PayloadType, parse_chain};

struct Kat {
    v: serde_json::Value,
}

impl Kat {
    fn load() -> Self {
        let text = include_str!("data/strongswan-aggr-psk.json");
        Self { v: serde_json::from_str(text).unwrap() }
    }
    fn hex(&self, key: &str) -> Vec<u8> {
        hex::decode(self.v[key].as_str().unwrap()).unwrap()
    }
    fn message(&self, i: usize) -> Vec<u8> {
        hex::decode(self.v["messages"][i].as_str().unwrap()).unwrap()
    }
    fn cookie(&self, key: &str) -> u64 {
        u64::from_be_bytes(self.hex(key).try_into().unwrap())
    }
}

fn body(bytes: &[u8], kind: PayloadType) -> Vec<u8> {
    let (_, spans) = MessageRepr::parse_with_spans(bytes).unwrap();
    let span = spans.iter().find(|s| s.kind == kind).unwrap();
    bytes[span.body()].to_vec()
}

#[test]
fn strongswan_aggressive_mode_psk_keys_hashes_and_ivs_match_ours() {
    let kat = Kat::load();
    let (m1, m2, m3) = (kat.message(0), kat.message(1), kat.message(2));
    let (cky_i, cky_r) = (kat.cookie("icookie"), kat.cookie("rcookie"));
    let ni = body(&m1, PayloadType::NONCE);
    let nr = body(&m2, PayloadType::NONCE);
    let g_xi = body(&m1, PayloadType::KE);
    let g_xr = body(&m2, PayloadType::KE);
    let g_xy = kat.hex("dh_secret");
    let psk = kat.v["psk"].as_str().unwrap().as_bytes();

    let k = keys::derive(
        HashAlg::Sha256,
        SkeyidInput::PreSharedKey(psk),
        &ni,
        &nr,
        &g_xy,
        cky_i,
        cky_r,
        32,
    );
    assert_eq!(k.skeyid.expose(), kat.hex("skeyid"));
    assert_eq!(k.skeyid_d.expose(), kat.hex("skeyid_d"));
    assert_eq!(k.skeyid_a.expose(), kat.hex("skeyid_a"));
    assert_eq!(k.skeyid_e.expose(), kat.hex("skeyid_e"));
    assert_eq!(k.enc_key.expose(), kat.hex("enc_key"));
    assert_eq!(keys::phase1_iv(HashAlg::Sha256, &g_xi, &g_xr, 16), kat.hex("initial_iv"));

    // HASH_R over SAi_b (message 1) and IDir_b (message 2), as sent in message 2.
    let sa_i_b = body(&m1, PayloadType::SA);
    let inputs = HashInputs { g_xi: &g_xi, g_xr: &g_xr, cky_i, cky_r, sa_i_b: &sa_i_b };
    let hash_r = keys::phase1_hash(
        Prf::HmacSha256,
        &k.skeyid,
        HashOf::Responder,
        inputs,
        &body(&m2, PayloadType::ID),
    );
    assert_eq!(hash_r.expose(), kat.hex("hash_r"));
    assert_eq!(hash_r.expose(), body(&m2, PayloadType::HASH));

    // Message 3 decrypts under the first IV to HASH_I over IDii_b of message 1, and its
    // last ciphertext block is the IV strongSwan derives phase 2 IVs from.
    let hash_i = keys::phase1_hash(
        Prf::HmacSha256,
        &k.skeyid,
        HashOf::Initiator,
        inputs,
        &body(&m1, PayloadType::ID),
    );
    assert_eq!(hash_i.expose(), kat.hex("hash_i"));
    let msg3 = MessageRepr::parse(&m3).unwrap();
    let Body::Encrypted(ciphertext) = &msg3.body else { panic!("message 3 is encrypted") };
    let cipher = BlockCipher::AesCbc { key_bits: 256 };
    let mut crypt = Crypt::new(cipher, k.enc_key.expose(), HashAlg::Sha256, &g_xi, &g_xr).unwrap();
    let (plain, next) = crypt.open(0, ciphertext).unwrap();
    let chain = parse_chain(msg3.header.next_payload, &plain).unwrap();
    let Payload::Hash(h) = &chain.payloads[0] else { panic!("HASH_I first") };
    assert_eq!(h.data, hash_i.expose());
    assert_eq!(next, ciphertext[ciphertext.len() - 16..].to_vec());
    let after = &kat.v["iv_after_phase1"];
    assert_eq!(after[0].as_u64(), Some(0));
    assert_eq!(next, hex::decode(after[1].as_str().unwrap()).unwrap());
}

/// Main mode with ECDSA certificates (strongSwan both sides): the signature SKEYID, messages 5
/// and 6 decrypted along the IV chain, and strongSwan's SIG_I / SIG_R verifying over our
/// HASH_I / HASH_R with the key of the certificate it sent (ECDSA over the hash as the
/// digest; the IKEv2 form, SHA-256 of the signed octets, does not verify them).
#[test]
fn strongswan_main_mode_ecdsa_signatures_verify_over_our_hashes() {
    let kat =
        Kat { v: serde_json::from_str(include_str!("data/strongswan-main-cert.json")).unwrap() };
    let m: Vec<Vec<u8>> = (0..6).map(|i| kat.message(i)).collect();
    let (cky_i, cky_r) = (kat.cookie("icookie"), kat.cookie("rcookie"));
    let (ni, nr) = (body(&m[2], PayloadType::NONCE), body(&m[3], PayloadType::NONCE));
    let (g_xi, g_xr) = (body(&m[2], PayloadType::KE), body(&m[3], PayloadType::KE));
    let g_xy = kat.hex("dh_secret");
    let k =
        keys::derive(HashAlg::Sha256, SkeyidInput::Signature, &ni, &nr, &g_xy, cky_i, cky_r, 16);
    assert_eq!(k.skeyid.expose(), kat.hex("skeyid"));
    assert_eq!(k.skeyid_d.expose(), kat.hex("skeyid_d"));
    assert_eq!(k.skeyid_a.expose(), kat.hex("skeyid_a"));
    assert_eq!(k.enc_key.expose(), kat.hex("enc_key"));
    let cipher = BlockCipher::AesCbc { key_bits: 128 };
    let mut crypt = Crypt::new(cipher, k.enc_key.expose(), HashAlg::Sha256, &g_xi, &g_xr).unwrap();
    assert_eq!(crypt.iv(0), kat.hex("initial_iv"));
    let sa_i_b = body(&m[0], PayloadType::SA);
    let inputs = HashInputs { g_xi: &g_xi, g_xr: &g_xr, cky_i, cky_r, sa_i_b: &sa_i_b };
    let chain_ivs = kat.v["iv_chain_phase1"].as_array().unwrap().clone();
    for (i, (of, expected)) in
        [(HashOf::Initiator, "hash_i"), (HashOf::Responder, "hash_r")].into_iter().enumerate()
    {
        let msg = MessageRepr::parse(&m[4 + i]).unwrap();
        let Body::Encrypted(ciphertext) = &msg.body else { panic!("encrypted") };
        let (plain, next) = crypt.open(0, ciphertext).unwrap();
        crypt.commit(0, next.clone());
        assert_eq!(next, hex::decode(chain_ivs[i][1].as_str().unwrap()).unwrap());
        let chain = parse_chain(msg.header.next_payload, &plain).unwrap();
        let id_span = chain.spans.iter().find(|s| s.kind == PayloadType::ID).unwrap();
        let hash =
            keys::phase1_hash(Prf::HmacSha256, &k.skeyid, of, inputs, &plain[id_span.body()]);
        assert_eq!(hash.expose(), kat.hex(expected));
        let cert = chain.payloads.iter().find_map(|p| match p {
            Payload::Cert(c) => Some(c.data.clone()),
            _ => None,
        });
        let sig = chain.payloads.iter().find_map(|p| match p {
            Payload::Sig(s) => Some(s.data.clone()),
            _ => None,
        });
        let key = ikeway_pki::Certificate::from_der(cert.unwrap()).unwrap().public_key().unwrap();
        let sig = sig.unwrap();
        key.verify_ikev1(hash.expose(), &sig).unwrap();
        let mut forged = hash.expose().to_vec();
        forged[0] ^= 1;
        assert_eq!(key.verify_ikev1(&forged, &sig), Err(ikeway_pki::PkiError::BadSignature));
        // A hash of another length than the curve's (a SHA1 phase 1 with P-256) is refused.
        assert_eq!(
            key.verify_ikev1(&hash.expose()[..20], &sig),
            Err(ikeway_pki::PkiError::HashNotAllowed)
        );
    }
}
