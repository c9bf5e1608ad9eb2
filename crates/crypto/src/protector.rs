//! One interface over the two ways IPsec protects a message: an AEAD, or a cipher followed by
//! an integrity check over the ciphertext (encrypt-then-MAC, RFC 7296 §3.14, RFC 4303 §3.3.2).

use crate::{
    AeadAlgorithm, AeadBackend, AeadKeying, BlockCipher, CipherKey, CryptoError, Integrity,
    IntegrityKey, SaltedAead,
};

/// An encryption transform as negotiated in an SA payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encryption {
    Aead(AeadAlgorithm),
    Cipher(BlockCipher),
}

/// Names as administrators write them: `AES-GCM-16-256`, `AES-CBC-256`, `CHACHA20-POLY1305`.
impl core::fmt::Display for Encryption {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Aead(AeadAlgorithm::AesGcm { key_bits, icv_len }) => {
                write!(f, "AES-GCM-{icv_len}-{key_bits}")
            }
            Self::Aead(AeadAlgorithm::ChaCha20Poly1305) => f.write_str("CHACHA20-POLY1305"),
            Self::Cipher(BlockCipher::AesCbc { key_bits }) => write!(f, "AES-CBC-{key_bits}"),
            Self::Cipher(BlockCipher::AesCtr { key_bits }) => write!(f, "AES-CTR-{key_bits}"),
            Self::Cipher(BlockCipher::TripleDesCbc) => f.write_str("3DES-CBC"),
        }
    }
}

impl Encryption {
    /// Builds from an IANA encryption ID and its Key Length attribute (bits).
    pub fn from_iana(id: u16, key_bits: Option<u16>) -> Option<Self> {
        AeadAlgorithm::from_iana(id, key_bits)
            .map(Self::Aead)
            .or_else(|| BlockCipher::from_iana(id, key_bits).map(Self::Cipher))
    }

    pub fn iana_id(self) -> u16 {
        match self {
            Self::Aead(a) => a.iana_id(),
            Self::Cipher(c) => c.iana_id(),
        }
    }

    pub fn key_bits_attribute(self) -> Option<u16> {
        match self {
            Self::Aead(a) => a.key_bits_attribute(),
            Self::Cipher(c) => c.key_bits_attribute(),
        }
    }

    pub fn is_aead(self) -> bool {
        matches!(self, Self::Aead(_))
    }

    /// Keying material length, salt or nonce included.
    pub fn keymat_len(self) -> usize {
        match self {
            Self::Aead(a) => a.keymat_len(),
            Self::Cipher(c) => c.keymat_len(),
        }
    }

    pub fn iv_len(self) -> usize {
        match self {
            Self::Aead(a) => a.iv_len(),
            Self::Cipher(c) => c.iv_len(),
        }
    }

    /// Plaintext (with padding) must be a multiple of this.
    pub fn block_len(self) -> usize {
        match self {
            Self::Aead(_) => 1,
            Self::Cipher(c) => c.block_len(),
        }
    }
}

/// A complete protection suite: an encryption transform and, unless it is an AEAD, an
/// integrity transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Suite {
    encryption: Encryption,
    integrity: Option<Integrity>,
}

impl Suite {
    /// Combines transforms; an AEAD with an integrity transform, or a plain cipher without one,
    /// is refused (RFC 7296 §3.3.2, RFC 5282 §8).
    pub fn new(encryption: Encryption, integrity: Option<Integrity>) -> Result<Self, CryptoError> {
        match (encryption.is_aead(), integrity.is_some()) {
            (true, false) | (false, true) => Ok(Self { encryption, integrity }),
            _ => Err(CryptoError::Unsupported),
        }
    }

    pub fn encryption(&self) -> Encryption {
        self.encryption
    }

    pub fn integrity(&self) -> Option<Integrity> {
        self.integrity
    }

    pub fn encryption_key_len(&self) -> usize {
        self.encryption.keymat_len()
    }

    pub fn integrity_key_len(&self) -> usize {
        self.integrity.map_or(0, Integrity::key_len)
    }

    pub fn iv_len(&self) -> usize {
        self.encryption.iv_len()
    }

    pub fn icv_len(&self) -> usize {
        match (self.encryption, self.integrity) {
            (Encryption::Aead(a), _) => a.icv_len(),
            (_, Some(i)) => i.icv_len(),
            (Encryption::Cipher(_), None) => {
                unreachable!("Suite::new requires integrity for a plain cipher")
            }
        }
    }

    pub fn block_len(&self) -> usize {
        self.encryption.block_len()
    }

    /// Whether `backend` keys this suite given keys of its lengths
    /// ([`Suite::encryption_key_len`], [`Suite::integrity_key_len`]): what [`Suite::key`] would
    /// refuse, found without keying anything. [`CryptoError::Unsupported`] if not.
    pub fn check(&self, backend: AeadBackend) -> Result<(), CryptoError> {
        let keys = match self.encryption {
            Encryption::Aead(a) => backend.supports(a),
            // Integrity keys of the right length always key.
            Encryption::Cipher(c) => c.is_supported(),
        };
        if keys { Ok(()) } else { Err(CryptoError::Unsupported) }
    }

    /// The AEAD backend that does this suite's work faster keyed as `keying`
    /// ([`AeadBackend::fastest`]), which [`Suite::check`] accepts; a plain cipher and MAC use
    /// no AEAD backend, and get the default.
    pub fn fastest_backend(&self, keying: AeadKeying) -> AeadBackend {
        match self.encryption {
            Encryption::Aead(a) => AeadBackend::fastest(a, keying),
            Encryption::Cipher(_) => AeadBackend::default(),
        }
    }

    /// Keys the suite for one direction.
    pub fn key(
        &self,
        backend: AeadBackend,
        encryption_key: &[u8],
        integrity_key: &[u8],
    ) -> Result<Protector, CryptoError> {
        match (self.encryption, self.integrity) {
            (Encryption::Aead(a), None) => {
                if !integrity_key.is_empty() {
                    return Err(CryptoError::KeyLength { expected: 0, got: integrity_key.len() });
                }
                Ok(Protector::Aead(SaltedAead::new(backend, a, encryption_key)?))
            }
            (Encryption::Cipher(c), Some(i)) => Ok(Protector::EncryptThenMac {
                cipher: Box::new(c.key(encryption_key)?),
                integrity: Box::new(i.key(integrity_key)?),
            }),
            _ => Err(CryptoError::Unsupported),
        }
    }
}

/// A keyed suite for one direction of traffic.
#[derive(Debug)]
pub enum Protector {
    Aead(SaltedAead),
    EncryptThenMac { cipher: Box<CipherKey>, integrity: Box<IntegrityKey> },
}

impl Protector {
    pub fn iv_len(&self) -> usize {
        match self {
            Self::Aead(a) => a.algorithm().iv_len(),
            Self::EncryptThenMac { cipher, .. } => cipher.algorithm().iv_len(),
        }
    }

    pub fn icv_len(&self) -> usize {
        match self {
            Self::Aead(a) => a.algorithm().icv_len(),
            Self::EncryptThenMac { integrity, .. } => integrity.icv_len(),
        }
    }

    pub fn block_len(&self) -> usize {
        match self {
            Self::Aead(_) => 1,
            Self::EncryptThenMac { cipher, .. } => cipher.algorithm().block_len(),
        }
    }

    /// Encrypts `data` in place and writes the ICV. `aad` is the cleartext that precedes the
    /// IV: it is the AEAD's associated data, or the start of what the MAC covers
    /// (`aad | iv | ciphertext`).
    pub fn seal(
        &self,
        aad: &[u8],
        iv: &[u8],
        data: &mut [u8],
        icv: &mut [u8],
    ) -> Result<(), CryptoError> {
        match self {
            Self::Aead(a) => a.seal(iv, aad, data, icv),
            Self::EncryptThenMac { cipher, integrity } => {
                cipher.encrypt(iv, data)?;
                integrity.compute(&[aad, iv, data], icv)
            }
        }
    }

    /// Verifies the ICV, then decrypts `data` in place. Nothing is decrypted unless the ICV
    /// verified.
    pub fn open(
        &self,
        aad: &[u8],
        iv: &[u8],
        data: &mut [u8],
        icv: &[u8],
    ) -> Result<(), CryptoError> {
        match self {
            Self::Aead(a) => a.open(iv, aad, data, icv),
            Self::EncryptThenMac { cipher, integrity } => {
                integrity.verify(&[aad, iv, data], icv)?;
                cipher.decrypt(iv, data)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_aead_with_integrity_and_cipher_without() {
        let gcm = Encryption::Aead(AeadAlgorithm::AES128_GCM16);
        let cbc = Encryption::Cipher(BlockCipher::AesCbc { key_bits: 128 });
        assert_eq!(Suite::new(gcm, Some(Integrity::HmacSha256_128)), Err(CryptoError::Unsupported));
        assert_eq!(Suite::new(cbc, None), Err(CryptoError::Unsupported));
    }

    #[test]
    fn check_agrees_with_keying() {
        let encryptions = [
            Encryption::Aead(AeadAlgorithm::AES256_GCM16),
            Encryption::Aead(AeadAlgorithm::AesGcm { key_bits: 192, icv_len: 8 }),
            Encryption::Aead(AeadAlgorithm::AesGcm { key_bits: 100, icv_len: 16 }),
            Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
            Encryption::Cipher(BlockCipher::AesCtr { key_bits: 100 }),
            Encryption::Cipher(BlockCipher::TripleDesCbc),
        ];
        for backend in [AeadBackend::RustCrypto, AeadBackend::Ring, AeadBackend::AwsLc] {
            for e in encryptions {
                let integrity = (!e.is_aead()).then_some(Integrity::HmacSha256_128);
                let suite = Suite::new(e, integrity).unwrap();
                let keyed = suite.key(
                    backend,
                    &vec![7; suite.encryption_key_len()],
                    &vec![7; suite.integrity_key_len()],
                );
                assert_eq!(suite.check(backend), keyed.map(|_| ()), "{backend:?} {e:?}");
            }
        }
    }

    /// An AEAD suite's protector works on every backend that keys it, and they interoperate
    /// (an IKE peer or an ESP SA may use either): what one seals the other opens, with the
    /// same ciphertext and ICV, and a forged ICV is refused. `fastest_backend` is one that
    /// keys the suite.
    #[test]
    fn protectors_on_either_backend_interoperate() {
        let encryptions = [
            Encryption::Aead(AeadAlgorithm::AES128_GCM16),
            Encryption::Aead(AeadAlgorithm::AES256_GCM16),
            Encryption::Aead(AeadAlgorithm::ChaCha20Poly1305),
            Encryption::Aead(AeadAlgorithm::AesGcm { key_bits: 256, icv_len: 8 }),
            Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
        ];
        for e in encryptions {
            let integrity = (!e.is_aead()).then_some(Integrity::HmacSha256_128);
            let suite = Suite::new(e, integrity).unwrap();
            for keying in [AeadKeying::PerSa, AeadKeying::PerMessage] {
                assert_eq!(suite.check(suite.fastest_backend(keying)), Ok(()), "{e:?}");
            }
            let ek: Vec<u8> = (0..suite.encryption_key_len() as u8).collect();
            let ak = vec![9u8; suite.integrity_key_len()];
            let keyed: Vec<(AeadBackend, Protector)> =
                [AeadBackend::RustCrypto, AeadBackend::Ring, AeadBackend::AwsLc]
                    .into_iter()
                    .filter_map(|b| suite.key(b, &ek, &ak).ok().map(|p| (b, p)))
                    .collect();
            assert!(!keyed.is_empty(), "{e:?}");
            let iv = vec![6u8; suite.iv_len()];
            let plain: Vec<u8> = (0..336).map(|i| i as u8).collect();
            let sealed: Vec<(Vec<u8>, Vec<u8>)> = keyed
                .iter()
                .map(|(_, p)| {
                    let mut data = plain.clone();
                    let mut icv = vec![0u8; suite.icv_len()];
                    p.seal(b"IKE header", &iv, &mut data, &mut icv).unwrap();
                    (data, icv)
                })
                .collect();
            for (backend, opener) in &keyed {
                for (data, icv) in &sealed {
                    assert_eq!((data, icv), (&sealed[0].0, &sealed[0].1), "{backend:?} {e:?}");
                    let mut opened = data.clone();
                    opener.open(b"IKE header", &iv, &mut opened, icv).unwrap();
                    assert_eq!(opened, plain, "{backend:?} {e:?}");
                    let mut forged = icv.clone();
                    forged[0] ^= 1;
                    let mut opened = data.clone();
                    assert_eq!(
                        opener.open(b"IKE header", &iv, &mut opened, &forged),
                        Err(CryptoError::Authentication),
                        "{backend:?} {e:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn encrypt_then_mac_verifies_before_decrypting() {
        let suite = Suite::new(
            Encryption::Cipher(BlockCipher::AesCbc { key_bits: 256 }),
            Some(Integrity::HmacSha256_128),
        )
        .unwrap();
        let p = suite.key(AeadBackend::RustCrypto, &[1; 32], &[2; 32]).unwrap();
        let mut data = [0x55u8; 32];
        let mut icv = [0u8; 16];
        p.seal(b"header", &[3; 16], &mut data, &mut icv).unwrap();
        let ciphertext = data;
        icv[15] ^= 1;
        assert_eq!(p.open(b"header", &[3; 16], &mut data, &icv), Err(CryptoError::Authentication));
        assert_eq!(data, ciphertext, "a forged message must not be decrypted");
        icv[15] ^= 1;
        p.open(b"header", &[3; 16], &mut data, &icv).unwrap();
        assert_eq!(data, [0x55; 32]);
    }
}
