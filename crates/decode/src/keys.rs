//! Wireshark's `ikev2_decryption_table` and `ikev1_decryption_table` (UAT files): the keys
//! that let `decode` open encrypted messages. One row per SA, told apart by their shape:
//! IKEv2 `SPIi,SPIr,SK_ei,SK_er,"encryption name",SK_ai,SK_ar,"integrity name"`, IKEv1
//! `initiator cookie,encryption key` (the algorithm and IVs come from the capture itself).

use std::collections::HashMap;

use ikeway_crypto::{AeadBackend, Protector, SecretBytes, Suite};

use crate::Error;
use crate::wireshark::{encryption_named, integrity_named};

/// Keys of one IKE SA, as Wireshark names them.
#[derive(Debug)]
pub(crate) struct SaKeys {
    suite: Suite,
    sk_ei: SecretBytes,
    sk_er: SecretBytes,
    sk_ai: SecretBytes,
    sk_ar: SecretBytes,
}

impl SaKeys {
    /// The keys that protect messages sent by the original initiator (SK_ei/SK_ai) or by the
    /// original responder (SK_er/SK_ar), RFC 7296 §2.14.
    pub(crate) fn protector(&self, sent_by_initiator: bool) -> Result<Protector, String> {
        let (e, a) =
            if sent_by_initiator { (&self.sk_ei, &self.sk_ai) } else { (&self.sk_er, &self.sk_ar) };
        self.suite.key(AeadBackend::default(), e.expose(), a.expose()).map_err(|e| e.to_string())
    }
}

/// A row's keys, or why they cannot be used (an algorithm `decode` does not implement). Such
/// rows are kept so that the messages they cover say so, instead of failing the whole table.
pub(crate) type Row<T = SaKeys> = Result<T, String>;

/// Keys per IKE SA: IKEv2 rows by (SPIi, SPIr) from Wireshark's `ikev2_decryption_table`,
/// IKEv1 rows by initiator cookie from its `ikev1_decryption_table`.
#[derive(Debug, Default)]
pub struct KeyTable {
    rows: HashMap<(u64, u64), Row>,
    ikev1: HashMap<[u8; 8], SecretBytes>,
}

impl KeyTable {
    pub(crate) fn get(&self, spi_i: u64, spi_r: u64) -> Option<&Row> {
        self.rows.get(&(spi_i, spi_r))
    }

    /// The IKEv1 encryption key of the ISAKMP SA with this initiator cookie.
    pub(crate) fn ikev1(&self, cookie_i: &[u8; 8]) -> Option<&SecretBytes> {
        self.ikev1.get(cookie_i)
    }

    /// Reads a table of either kind (or both, row by row); a row naming an algorithm
    /// `decode` lacks is kept as that reason.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut table = Self::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |reason| Error::KeyTable { line: index + 1, reason };
            let fields = split_uat(line).map_err(at)?;
            if let [cookie, key] = fields.as_slice() {
                let (cookie, key) = parse_ikev1_row(cookie, key).map_err(at)?;
                table.ikev1.insert(cookie, key);
            } else {
                let (spis, row) = parse_row(&fields).map_err(at)?;
                table.rows.insert(spis, row);
            }
        }
        Ok(table)
    }
}

/// An `ikev1_decryption_table` row: 8-octet initiator cookie, encryption key (RFC 2409
/// Appendix B's Ka, as long as the cipher's key), both hex.
fn parse_ikev1_row(cookie: &str, key: &str) -> Result<([u8; 8], SecretBytes), String> {
    let cookie = hex::decode(cookie)
        .ok()
        .and_then(|c| <[u8; 8]>::try_from(c).ok())
        .ok_or_else(|| format!("initiator cookie {cookie:?} is not 8 octets of hex"))?;
    let key = hex::decode(key).map_err(|e| format!("key is not hex: {e}"))?;
    Ok((cookie, SecretBytes::new(key)))
}

fn parse_row(fields: &[String]) -> Result<((u64, u64), Row), String> {
    let [spi_i, spi_r, sk_ei, sk_er, encr, sk_ai, sk_ar, integ] = fields else {
        return Err(format!(
            "expected 8 comma-separated fields (IKEv2) or 2 (IKEv1), found {}",
            fields.len()
        ));
    };
    let spi = |s: &str| u64::from_str_radix(s, 16).map_err(|_| format!("SPI {s:?} is not hex"));
    let spis = (spi(spi_i)?, spi(spi_r)?);
    let key = |s: &str| -> Result<SecretBytes, String> {
        Ok(SecretBytes::new(hex::decode(s).map_err(|e| format!("key is not hex: {e}"))?))
    };
    let (sk_ei, sk_er, sk_ai, sk_ar) = (key(sk_ei)?, key(sk_er)?, key(sk_ai)?, key(sk_ar)?);
    let suite = suite_named(encr, integ);
    Ok((spis, suite.map(|suite| SaKeys { suite, sk_ei, sk_er, sk_ai, sk_ar })))
}

fn suite_named(encr: &str, integ: &str) -> Row<Suite> {
    let encryption = encryption_named(encr)?;
    let integrity = integrity_named(integ)?;
    Suite::new(encryption, integrity)
        .map_err(|_| format!("{encr:?} cannot be combined with {integ:?}"))
}

/// Splits a UAT line: comma-separated, strings in double quotes with `\xNN` escapes.
fn split_uat(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match (chars.next(), chars.next(), chars.next()) {
                        (Some('x'), Some(h), Some(l)) => {
                            let byte = u8::from_str_radix(&format!("{h}{l}"), 16)
                                .map_err(|_| "bad \\x escape".to_owned())?;
                            field.push(char::from(byte));
                        }
                        _ => return Err("bad escape in quoted field".into()),
                    },
                    Some(c) => field.push(c),
                    None => return Err("unterminated quoted field".into()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                field.push(c);
                chars.next();
            }
        }
        fields.push(field.trim().to_owned());
        match chars.next() {
            Some(',') => continue,
            None => return Ok(fields),
            Some(c) => return Err(format!("unexpected {c:?} after a field")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wireshark_rows() {
        let table = KeyTable::parse(
            "# comment\n\
             1234567890123456,0987654321098765,,,\"NULL [RFC2410]\",,,\"NONE [RFC4306]\"\n\
             0158b8fb90b7623d,13514610cea16160,647075bf167447a1c8683e8dbe4794b4cfe73799cc6bec34905441159ce13705c8dfb3a9,15c9eae6f94631d63068bf44bb69999abc07b3d15e915fd8f0ed99ad481efd75deb02a5e,\"AES-GCM-256 with 16 octet ICV [RFC5282]\",,,\"NONE [RFC4306]\"\n",
        )
        .unwrap();
        let null = table.get(0x1234567890123456, 0x0987654321098765).unwrap();
        assert_eq!(
            null.as_ref().unwrap_err(),
            "encryption algorithm \"NULL [RFC2410]\" is not supported by ikeway decode"
        );
        let keys = table.get(0x0158b8fb90b7623d, 0x13514610cea16160).unwrap().as_ref().unwrap();
        assert_eq!(keys.protector(true).unwrap().icv_len(), 16);
    }

    #[test]
    fn rejects_rows_with_wrong_field_count() {
        let err = KeyTable::parse("aa,bb,\"x\"").unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "key table line 1: expected 8 comma-separated fields (IKEv2) or 2 (IKEv1), found 3"
        );
    }

    #[test]
    fn keeps_rows_with_unknown_algorithms_as_reasons() {
        let table =
            KeyTable::parse("01,02,00,00,\"BLOWFISH-CBC [RFC2451]\",,,\"NONE [RFC4306]\"").unwrap();
        let row = table.get(1, 2).unwrap();
        assert_eq!(
            row.as_ref().unwrap_err(),
            "encryption algorithm \"BLOWFISH-CBC [RFC2451]\" is not supported by ikeway decode"
        );
    }

    #[test]
    fn reads_ikev1_rows_beside_ikev2_rows() {
        let table = KeyTable::parse(
            "e6f2de7b1a07b547,14dbe9e1dbdc82225f2848c32f84745b13d5c5b1a69cc3f5d013fec6a9623898\n\
             01,02,00,00,\"3DES [RFC2451]\",00,00,\"NONE [RFC4306]\"\n",
        )
        .unwrap();
        let key = table.ikev1(&[0xe6, 0xf2, 0xde, 0x7b, 0x1a, 0x07, 0xb5, 0x47]).unwrap();
        assert_eq!(key.expose().len(), 32);
        assert!(table.get(1, 2).is_some());
        let err = KeyTable::parse("e6f2de7b1a07,00").unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "key table line 1: initiator cookie \"e6f2de7b1a07\" is not 8 octets of hex"
        );
    }

    #[test]
    fn splits_quoted_fields_with_escapes() {
        assert_eq!(split_uat(r#"a,"b\x2cc",d"#).unwrap(), ["a", "b,c", "d"]);
    }
}
