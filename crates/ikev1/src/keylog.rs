//! The phase 1 encryption key for a Wireshark `ikev1_decryption_table` (one line per ISAKMP
//! SA: the initiator's cookie and the key, both in hex), with which tshark decrypts every
//! message of the SA. This hands out a secret: only for an explicit key log (`--keylog`).

use ikeway_crypto::SecretBytes;

use crate::engine::Ikev1Sa;

/// An ISAKMP SA's cookies and encryption key.
#[derive(Debug)]
pub struct KeyExport<'a> {
    pub cky_i: u64,
    pub cky_r: u64,
    pub enc_key: &'a SecretBytes,
}

impl KeyExport<'_> {
    /// The line of Wireshark's `ikev1_decryption_table` UAT: `cookie-i,key`, lowercase hex.
    pub fn wireshark_line(&self) -> String {
        let key: String = self.enc_key.expose().iter().map(|b| format!("{b:02x}")).collect();
        format!("{:016x},{key}", self.cky_i)
    }
}

impl Ikev1Sa {
    /// The SA's encryption key once phase 1 derived it, for a key log the user asked for;
    /// never for ordinary logging.
    pub fn export_keys_for_debugging(&self) -> Option<KeyExport<'_>> {
        let keys = self.keys.as_ref()?;
        Some(KeyExport { cky_i: self.cky_i, cky_r: self.cky_r, enc_key: &keys.enc_key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wireshark_line_is_the_initiator_cookie_and_the_key_in_hex() {
        let key = SecretBytes::from_slice(&[0x14, 0xdb, 0x00, 0xff]);
        let export = KeyExport { cky_i: 0xe6f2_de7b_1a07_b547, cky_r: 5, enc_key: &key };
        assert_eq!(export.wireshark_line(), "e6f2de7b1a07b547,14db00ff");
    }
}
