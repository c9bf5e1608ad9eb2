//! IKEv1 (ISAKMP) messages: decoded with `ikeway-isakmp`, and their encrypted bodies
//! opened the way Wireshark does, from its `ikev1_decryption_table` (initiator cookie and
//! encryption key) plus what the capture itself shows: the cipher and hash of the phase 1 SA
//! and both public values, from which RFC 2409 Appendix B derives every IV.
//!
//! IV chain (RFC 2409 Appendix B): the first encrypted phase 1 message uses
//! `hash(g^xi | g^xr)`, each later phase 1 message the last ciphertext block of the one
//! before; an exchange with message ID M starts from `hash(last phase 1 block | M)` and then
//! chains within M. All IVs are truncated to the cipher's block size.

mod json;

use std::collections::HashMap;

use ikeway_crypto::BlockCipher;
use ikeway_isakmp::{
    Body, EncryptionAlgorithm, FragmentLimits, FragmentStats, HashAlgorithm, MessageRepr,
    OakleyAttribute, Payload, ProtocolId, Reassembly, Taken, parse_chain,
};
use serde_json::{Map, Value, json};

use crate::KeyTable;

/// What the capture has shown so far about one ISAKMP SA.
#[derive(Debug, Default)]
struct SaState {
    /// Encryption algorithm and key length (bits) of the phase 1 SA, from the last
    /// single-transform SA payload seen (the responder's choice).
    cipher: Option<(EncryptionAlgorithm, Option<u64>)>,
    hash: Option<HashAlgorithm>,
    /// The public values, initiator's first (it always sends its KE first in phase 1).
    ke: Vec<Vec<u8>>,
    /// The IV of the next phase 1 (message ID 0) message.
    phase1_iv: Option<Vec<u8>>,
    /// The IV of the next message of each later exchange.
    exchange_iv: HashMap<u32, Vec<u8>>,
    /// Plaintexts of the ciphertexts opened so far: a retransmission repeats its message
    /// octet for octet, was encrypted under the IV of the first sending, and must not move
    /// the chain again. Bounded by the capture's size.
    opened: HashMap<Vec<u8>, Vec<u8>>,
}

/// Per-capture IKEv1 state, by initiator cookie.
#[derive(Debug, Default)]
pub(crate) struct Ikev1 {
    sas: HashMap<[u8; 8], SaState>,
    /// Fragments (payload 132) being joined, by both cookies: one message at a time per SA,
    /// as the peers send them.
    fragments: HashMap<[u8; 16], Reassembly>,
    fragment_stats: FragmentStats,
}

impl Ikev1 {
    /// Renders one IKEv1 message into `object`; encrypted bodies are opened when `keys` has
    /// the SA. Returns the decode error of a malformed message.
    ///
    /// A Fragment payload alone in its message is joined with the others of its message; the
    /// last one's entry gets the joined message as `reassembled` (decoded, and decrypted, like
    /// any other: phase 1's IV chain runs through it), as tshark shows it.
    pub(crate) fn message(
        &mut self,
        bytes: &[u8],
        keys: Option<&KeyTable>,
        object: &mut Map<String, Value>,
    ) -> Result<(), ikeway_isakmp::DecodeError> {
        self.message_or_joined(bytes, keys, object, false)
    }

    fn message_or_joined(
        &mut self,
        bytes: &[u8],
        keys: Option<&KeyTable>,
        object: &mut Map<String, Value>,
        joined: bool,
    ) -> Result<(), ikeway_isakmp::DecodeError> {
        let message = MessageRepr::parse(bytes)?;
        let h = &message.header;
        object.extend(json::header(h));
        if let (Body::Plain(p), false) = (&message.body, joined)
            && let [Payload::Fragment(f)] = p.as_slice()
        {
            let mut entry = json::payload(&p[0], false);
            if let Some(whole) = self.join(h, f) {
                let mut inner = Map::new();
                let decoded = self.message_or_joined(&whole, keys, &mut inner, true);
                if let (Err(e), Value::Object(m)) = (decoded, &mut entry) {
                    m.extend(crate::error_fields_v1(&e, "reassembled message"));
                }
                if let Value::Object(m) = &mut entry {
                    m.insert("reassembled".into(), Value::Object(inner));
                }
            }
            object.insert("payloads".into(), json!([entry]));
            return Ok(());
        }
        let sa = self.sas.entry(h.cookie_i).or_default();
        let payloads = match &message.body {
            Body::Plain(p) => {
                if h.message_id == 0 {
                    sa.learn(p);
                }
                p.iter().map(|p| json::payload(p, false)).collect()
            }
            Body::Encrypted(ct) => {
                let mut entry = Map::new();
                entry.insert("type".into(), json!("encrypted"));
                entry.insert("next_payload".into(), json::named(h.next_payload, h.next_payload.0));
                entry.insert("encrypted_length".into(), json!(ct.len()));
                let mut out = Vec::new();
                match keys.and_then(|k| k.ikev1(&h.cookie_i)) {
                    None => {
                        entry.insert("decrypted".into(), json!(false));
                        entry.insert(
                            "note".into(),
                            json!("no key for this ISAKMP SA in the key table"),
                        );
                    }
                    Some(key) => match sa.decrypt(key.expose(), h.message_id, ct) {
                        Err(e) => {
                            entry.insert("decrypted".into(), json!(false));
                            entry.insert("error".into(), json!(e));
                        }
                        Ok(plain) => {
                            entry.insert("decrypted".into(), json!(true));
                            match parse_chain(h.next_payload, &plain) {
                                Ok(chain) => {
                                    entry.insert(
                                        "inner_payloads".into(),
                                        json!(chain.payloads.len()),
                                    );
                                    entry.insert(
                                        "padding_length".into(),
                                        json!(plain.len() - chain.used),
                                    );
                                    if h.message_id == 0 {
                                        sa.learn(&chain.payloads);
                                    }
                                    out = chain
                                        .payloads
                                        .iter()
                                        .map(|p| json::payload(p, true))
                                        .collect();
                                }
                                Err(e) => {
                                    entry.extend(crate::error_fields_v1(&e, "decrypted content"));
                                }
                            }
                        }
                    },
                }
                let mut all = vec![Value::Object(entry)];
                all.extend(out);
                all
            }
        };
        object.insert("payloads".into(), Value::Array(payloads));
        Ok(())
    }
}

impl Ikev1 {
    /// Takes one fragment; the whole message once its last piece is in.
    fn join(
        &mut self,
        h: &ikeway_isakmp::HeaderRepr,
        f: &ikeway_isakmp::FragmentRepr,
    ) -> Option<Vec<u8>> {
        let mut cookies = [0u8; 16];
        cookies[..8].copy_from_slice(&h.cookie_i);
        cookies[8..].copy_from_slice(&h.cookie_r);
        let r = self.fragments.entry(cookies).or_default();
        // Decoding a capture takes far less than the reassembly timeout: nothing expires here.
        let now = std::time::Instant::now();
        match r.take(now, f, &FragmentLimits::default(), &mut self.fragment_stats) {
            Taken::Complete(whole) => Some(whole),
            Taken::Incomplete | Taken::Dropped => None,
        }
    }
}

impl SaState {
    /// Takes the phase 1 algorithms and public values from plaintext payloads.
    fn learn(&mut self, payloads: &[Payload]) {
        for p in payloads {
            match p {
                Payload::Sa(sa) => {
                    let chosen = match sa.proposals.as_slice() {
                        [one]
                            if one.protocol == ProtocolId::ISAKMP && one.transforms.len() == 1 =>
                        {
                            &one.transforms[0]
                        }
                        _ => continue,
                    };
                    let encr = chosen.oakley(OakleyAttribute::ENCRYPTION_ALGORITHM);
                    let bits = chosen.oakley(OakleyAttribute::KEY_LENGTH);
                    if let Some(e) = encr.and_then(|e| u16::try_from(e).ok()) {
                        self.cipher = Some((EncryptionAlgorithm(e), bits));
                    }
                    let hash = chosen.oakley(OakleyAttribute::HASH_ALGORITHM);
                    self.hash = hash.and_then(|h| u16::try_from(h).ok()).map(HashAlgorithm);
                }
                // A retransmission repeats a value already seen.
                Payload::Ke(ke) if self.ke.len() < 2 && !self.ke.contains(&ke.data) => {
                    self.ke.push(ke.data.clone());
                }
                _ => {}
            }
        }
    }

    fn block_cipher(&self) -> Result<BlockCipher, String> {
        let (alg, bits) = self.cipher.ok_or("the phase 1 SA was not seen in the capture")?;
        let bits = bits.and_then(|b| u16::try_from(b).ok());
        match alg {
            EncryptionAlgorithm::AES_CBC => match bits {
                Some(key_bits @ (128 | 192 | 256)) => Ok(BlockCipher::AesCbc { key_bits }),
                // RFC 3602 §5: AES-CBC in IKEv1 without a Key-Length means 128 bits.
                None => Ok(BlockCipher::AesCbc { key_bits: 128 }),
                Some(other) => Err(format!("AES-CBC key length {other} is not supported")),
            },
            EncryptionAlgorithm::TRIPLE_DES_CBC => Ok(BlockCipher::TripleDesCbc),
            other => Err(format!("encryption algorithm {other} is not supported by ikeway decode")),
        }
    }

    fn digest(&self, data: &[u8]) -> Result<Vec<u8>, String> {
        use sha2::Digest;
        let hash = self.hash.ok_or("the phase 1 hash algorithm was not seen in the capture")?;
        Ok(match hash {
            HashAlgorithm::MD5 => md5::Md5::digest(data).to_vec(),
            HashAlgorithm::SHA => sha1::Sha1::digest(data).to_vec(),
            HashAlgorithm::SHA2_256 => sha2::Sha256::digest(data).to_vec(),
            HashAlgorithm::SHA2_384 => sha2::Sha384::digest(data).to_vec(),
            HashAlgorithm::SHA2_512 => sha2::Sha512::digest(data).to_vec(),
            other => {
                return Err(format!("hash algorithm {other} is not supported by ikeway decode"));
            }
        })
    }

    /// Opens a body with the IV its message ID calls for and advances the chain.
    fn decrypt(&mut self, key: &[u8], message_id: u32, ct: &[u8]) -> Result<Vec<u8>, String> {
        if let Some(plain) = self.opened.get(ct) {
            return Ok(plain.clone());
        }
        let cipher = self.block_cipher()?;
        let block = cipher.block_len();
        if ct.is_empty() || !ct.len().is_multiple_of(block) {
            return Err(format!(
                "{} octets is not a whole number of {block}-octet blocks",
                ct.len()
            ));
        }
        let phase1_iv = match &self.phase1_iv {
            Some(iv) => iv.clone(),
            None => {
                let [ke_i, ke_r] = self.ke.as_slice() else {
                    return Err("both phase 1 public values are needed for the IV".into());
                };
                let mut iv = self.digest(&[ke_i.as_slice(), ke_r].concat())?;
                iv.truncate(block);
                iv
            }
        };
        let iv = if message_id == 0 {
            phase1_iv
        } else if let Some(iv) = self.exchange_iv.get(&message_id) {
            iv.clone()
        } else {
            let mut iv =
                self.digest(&[phase1_iv.as_slice(), &message_id.to_be_bytes()].concat())?;
            iv.truncate(block);
            iv
        };
        if iv.len() < block {
            return Err("the hash is shorter than the cipher block".into());
        }
        let key = cipher.key(key).map_err(|e| format!("encryption key: {e}"))?;
        let mut plain = ct.to_vec();
        key.decrypt(&iv, &mut plain).map_err(|e| e.to_string())?;
        let next = ct[ct.len() - block..].to_vec();
        if message_id == 0 {
            self.phase1_iv = Some(next);
        } else {
            self.exchange_iv.insert(message_id, next);
        }
        self.opened.insert(ct.to_vec(), plain.clone());
        Ok(plain)
    }
}
