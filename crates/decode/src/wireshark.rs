//! Wireshark's names for IKEv2 algorithms in its `ikev2_decryption_table` (v4.0), both ways:
//! `decode --keys` reads them, `--keylog` writes them.

use ikeway_crypto::{AeadAlgorithm, BlockCipher, Encryption, Integrity};

use crate::keys::Row;

/// Wireshark's encryption names (its `ikev2_encr_algs` table, v4.0).
pub(crate) fn encryption_named(name: &str) -> Row<Encryption> {
    let cbc = |key_bits| Encryption::Cipher(BlockCipher::AesCbc { key_bits });
    let ctr = |key_bits| Encryption::Cipher(BlockCipher::AesCtr { key_bits });
    let known = match name {
        "3DES [RFC2451]" => Encryption::Cipher(BlockCipher::TripleDesCbc),
        "AES-CBC-128 [RFC3602]" => cbc(128),
        "AES-CBC-192 [RFC3602]" => cbc(192),
        "AES-CBC-256 [RFC3602]" => cbc(256),
        "AES-CTR-128 [RFC5930]" => ctr(128),
        "AES-CTR-192 [RFC5930]" => ctr(192),
        "AES-CTR-256 [RFC5930]" => ctr(256),
        _ => {
            // "AES-GCM-256 with 16 octet ICV [RFC5282]"
            let gcm = name
                .strip_prefix("AES-GCM-")
                .and_then(|rest| rest.strip_suffix(" octet ICV [RFC5282]"))
                .and_then(|rest| rest.split_once(" with "))
                .and_then(|(bits, icv)| Some((bits.parse().ok()?, icv.parse().ok()?)));
            match gcm {
                Some((key_bits, icv_len)) => {
                    Encryption::Aead(AeadAlgorithm::AesGcm { key_bits, icv_len })
                }
                None => {
                    return Err(format!(
                        "encryption algorithm {name:?} is not supported by ikeway decode"
                    ));
                }
            }
        }
    };
    Ok(known)
}

/// Wireshark's integrity names (its `ikev2_auth_algs` table, v4.0).
pub(crate) fn integrity_named(name: &str) -> Row<Option<Integrity>> {
    Ok(Some(match name {
        "NONE [RFC4306]" | "" => return Ok(None),
        "HMAC_SHA1_96 [RFC2404]" => Integrity::HmacSha1_96,
        "HMAC_SHA1_160 [RFC4595]" => Integrity::HmacSha1_160,
        "HMAC_SHA2_256_128 [RFC4868]" => Integrity::HmacSha256_128,
        "HMAC_SHA2_384_192 [RFC4868]" => Integrity::HmacSha384_192,
        "HMAC_SHA2_512_256 [RFC4868]" => Integrity::HmacSha512_256,
        other => {
            return Err(format!("integrity algorithm {other:?} is not supported by ikeway decode"));
        }
    }))
}

/// The name Wireshark expects for `e`, if its table has one.
pub fn encryption_name(e: Encryption) -> Option<String> {
    Some(match e {
        Encryption::Cipher(BlockCipher::TripleDesCbc) => "3DES [RFC2451]".into(),
        Encryption::Cipher(BlockCipher::AesCbc { key_bits }) => {
            format!("AES-CBC-{key_bits} [RFC3602]")
        }
        Encryption::Cipher(BlockCipher::AesCtr { key_bits }) => {
            format!("AES-CTR-{key_bits} [RFC5930]")
        }
        Encryption::Aead(AeadAlgorithm::AesGcm { key_bits, icv_len }) => {
            format!("AES-GCM-{key_bits} with {icv_len} octet ICV [RFC5282]")
        }
        // Wireshark 4.0 cannot decrypt ChaCha20-Poly1305 IKE messages.
        Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305) => return None,
    })
}

/// The name Wireshark expects for `i` (`None`: an AEAD, no separate integrity).
pub fn integrity_name(i: Option<Integrity>) -> &'static str {
    match i {
        None => "NONE [RFC4306]",
        Some(Integrity::HmacSha1_96) => "HMAC_SHA1_96 [RFC2404]",
        Some(Integrity::HmacSha1_160) => "HMAC_SHA1_160 [RFC4595]",
        Some(Integrity::HmacSha256_128) => "HMAC_SHA2_256_128 [RFC4868]",
        Some(Integrity::HmacSha384_192) => "HMAC_SHA2_384_192 [RFC4868]",
        Some(Integrity::HmacSha512_256) => "HMAC_SHA2_512_256 [RFC4868]",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in [
            Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
            Encryption::Cipher(BlockCipher::AesCtr { key_bits: 128 }),
            Encryption::Aead(AeadAlgorithm::AES128_GCM16),
            Encryption::Aead(AeadAlgorithm::AesGcm { key_bits: 256, icv_len: 8 }),
        ] {
            assert_eq!(encryption_named(&encryption_name(e).unwrap()), Ok(e));
        }
        for i in Integrity::ALL {
            assert_eq!(integrity_named(integrity_name(Some(i))), Ok(Some(i)));
        }
    }
}
