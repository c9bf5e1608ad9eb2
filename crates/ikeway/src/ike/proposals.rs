//! strongSwan-style proposal strings, e.g. `aes256gcm16-prfsha256-x25519` for IKE and
//! `aes128gcm16-esn` or `aes256-sha256-modp2048` for ESP, so one configuration reads the same
//! on both peers of an interop test.

use anyhow::{Result, bail};
use ikeway_codec::DhGroup;
use ikeway_crypto::{AeadAlgorithm, BlockCipher, Encryption, Integrity, Prf};
use ikeway_sa::{EsnPolicy, EspProposal, IkeProposal};

enum Token {
    Encryption(Encryption),
    Integrity(Integrity),
    Prf(Prf),
    Group(DhGroup),
    Esn(bool),
}

fn token(t: &str) -> Result<Token> {
    let gcm = |key_bits, icv_len| {
        Token::Encryption(Encryption::Aead(AeadAlgorithm::AesGcm { key_bits, icv_len }))
    };
    let cbc = |key_bits| Token::Encryption(Encryption::Cipher(BlockCipher::AesCbc { key_bits }));
    let ctr = |key_bits| Token::Encryption(Encryption::Cipher(BlockCipher::AesCtr { key_bits }));
    Ok(match t {
        "aes128gcm16" | "aes128gcm128" => gcm(128, 16),
        "aes192gcm16" => gcm(192, 16),
        "aes256gcm16" | "aes256gcm128" => gcm(256, 16),
        "aes128gcm12" => gcm(128, 12),
        "aes256gcm12" => gcm(256, 12),
        "aes128gcm8" => gcm(128, 8),
        "aes256gcm8" => gcm(256, 8),
        "chacha20poly1305" => Token::Encryption(Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305)),
        "aes128" => cbc(128),
        "aes192" => cbc(192),
        "aes256" => cbc(256),
        "aes128ctr" => ctr(128),
        "aes256ctr" => ctr(256),
        "sha1" => Token::Integrity(Integrity::HmacSha1_96),
        "sha256" => Token::Integrity(Integrity::HmacSha256_128),
        "sha384" => Token::Integrity(Integrity::HmacSha384_192),
        "sha512" => Token::Integrity(Integrity::HmacSha512_256),
        "prfsha1" => Token::Prf(Prf::HmacSha1),
        "prfsha256" => Token::Prf(Prf::HmacSha256),
        "prfsha384" => Token::Prf(Prf::HmacSha384),
        "prfsha512" => Token::Prf(Prf::HmacSha512),
        "x25519" | "curve25519" => Token::Group(DhGroup::CURVE25519),
        "ecp256" => Token::Group(DhGroup::ECP_256),
        "ecp384" => Token::Group(DhGroup::ECP_384),
        "modp2048" => Token::Group(DhGroup::MODP_2048),
        "modp3072" => Token::Group(DhGroup::MODP_3072),
        "modp4096" => Token::Group(DhGroup::MODP_4096),
        "esn" => Token::Esn(true),
        "noesn" => Token::Esn(false),
        other => bail!("unknown algorithm {other:?} in proposal"),
    })
}

struct Parts {
    encryption: Option<Encryption>,
    integrity: Option<Integrity>,
    prf: Option<Prf>,
    groups: Vec<DhGroup>,
    esn: Vec<bool>,
}

fn parts(s: &str) -> Result<Parts> {
    let mut p =
        Parts { encryption: None, integrity: None, prf: None, groups: Vec::new(), esn: Vec::new() };
    for t in s.split('-') {
        match token(t)? {
            Token::Encryption(e) if p.encryption.is_none() => p.encryption = Some(e),
            Token::Integrity(i) if p.integrity.is_none() => p.integrity = Some(i),
            Token::Prf(f) if p.prf.is_none() => p.prf = Some(f),
            Token::Group(g) => p.groups.push(g),
            Token::Esn(e) => p.esn.push(e),
            _ => bail!("{s:?}: one encryption, integrity and PRF per proposal"),
        }
    }
    Ok(p)
}

/// `aes256gcm16-prfsha256-x25519-ecp256`; without a PRF, the integrity algorithm's hash.
pub(crate) fn ike(s: &str) -> Result<IkeProposal> {
    let p = parts(s)?;
    let Some(encryption) = p.encryption else { bail!("{s:?} names no encryption algorithm") };
    if p.groups.is_empty() {
        bail!("{s:?} names no key exchange group");
    }
    let prf = match (p.prf, p.integrity) {
        (Some(f), _) => f,
        (None, Some(Integrity::HmacSha384_192)) => Prf::HmacSha384,
        (None, Some(Integrity::HmacSha512_256)) => Prf::HmacSha512,
        (None, Some(Integrity::HmacSha1_96 | Integrity::HmacSha1_160)) => Prf::HmacSha1,
        (None, _) => Prf::HmacSha256,
    };
    if encryption.is_aead() == p.integrity.is_some() {
        bail!("{s:?}: an AEAD takes no integrity algorithm, a plain cipher needs one");
    }
    Ok(IkeProposal {
        encryption,
        integrity: p.integrity,
        prf,
        groups: p.groups,
        additional_kes: Vec::new(),
    })
}

/// `aes128gcm16-esn`, `aes256-sha256-modp2048-noesn`: groups are for PFS.
pub(crate) fn esp(s: &str) -> Result<EspProposal> {
    let p = parts(s)?;
    let Some(encryption) = p.encryption else { bail!("{s:?} names no encryption algorithm") };
    if encryption.is_aead() == p.integrity.is_some() {
        bail!("{s:?}: an AEAD takes no integrity algorithm, a plain cipher needs one");
    }
    let esn = match (p.esn.contains(&true), p.esn.contains(&false)) {
        (true, true) => EsnPolicy::Either,
        (true, false) => EsnPolicy::Yes,
        (false, _) => EsnPolicy::No,
    };
    Ok(EspProposal { encryption, integrity: p.integrity, esn, pfs_groups: p.groups })
}

/// `--addke`: additional key exchanges (RFC 9370), one slot per comma-separated item, each
/// the methods acceptable in it joined by `/`: `mlkem768`, `mlkem1024`, and `none`, which
/// makes the slot optional (`mlkem768/none`).
pub(crate) fn addke(slots: &[String]) -> Result<Vec<Vec<DhGroup>>> {
    if slots.len() > ikeway_sa::MAX_ADDITIONAL_KES {
        bail!("at most {} additional key exchanges (ADDKE1-7)", ikeway_sa::MAX_ADDITIONAL_KES);
    }
    slots
        .iter()
        .map(|slot| {
            slot.split('/')
                .map(|m| match m {
                    "mlkem768" => Ok(DhGroup::ML_KEM_768),
                    "mlkem1024" => Ok(DhGroup::ML_KEM_1024),
                    "none" => Ok(DhGroup::NONE),
                    other => bail!(
                        "unknown additional key exchange {other:?} (mlkem768, mlkem1024, none)"
                    ),
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_additional_key_exchange_slots() {
        let slots = ["mlkem768".to_string(), "mlkem1024/none".to_string()];
        assert_eq!(
            addke(&slots).unwrap(),
            vec![vec![DhGroup::ML_KEM_768], vec![DhGroup::ML_KEM_1024, DhGroup::NONE]]
        );
        assert_eq!(
            addke(&["x25519".to_string()]).unwrap_err().to_string(),
            "unknown additional key exchange \"x25519\" (mlkem768, mlkem1024, none)"
        );
        assert!(addke(&vec!["mlkem768".to_string(); 8]).is_err());
    }

    #[test]
    fn parses_strongswan_style_proposals() {
        let p = ike("aes256gcm16-prfsha384-x25519-ecp256").unwrap();
        assert_eq!(p.prf, Prf::HmacSha384);
        assert_eq!(p.groups, vec![DhGroup::CURVE25519, DhGroup::ECP_256]);
        let p = ike("aes256-sha512-modp2048").unwrap();
        assert_eq!((p.integrity, p.prf), (Some(Integrity::HmacSha512_256), Prf::HmacSha512));
        let e = esp("aes128gcm16-esn-noesn").unwrap();
        assert_eq!(e.esn, EsnPolicy::Either);
        assert!(e.pfs_groups.is_empty());
    }

    #[test]
    fn rejects_incomplete_or_unknown() {
        assert!(ike("aes256gcm16-prfsha256").is_err());
        assert!(ike("aes256-x25519").is_err());
        assert!(esp("aes256gcm16-sha256").is_err());
        assert_eq!(
            esp("rot13").unwrap_err().to_string(),
            "unknown algorithm \"rot13\" in proposal"
        );
    }
}
