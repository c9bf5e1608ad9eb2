//! Non-AEAD encryption transforms for IKE and ESP: AES-CBC (RFC 3602), AES-CTR (RFC 3686,
//! RFC 5930) and 3DES-CBC (RFC 2451, kept only to read old captures and old peers).
//!
//! These provide confidentiality only; they are always paired with an [`crate::Integrity`]
//! transform (RFC 7296 §3.3.2) by [`crate::Protector`].

use core::fmt;

use aes::cipher::{
    BlockCipherDecrypt, BlockCipherEncrypt, BlockModeDecrypt, BlockModeEncrypt, InnerIvInit,
    KeyInit, StreamCipher, inout::InOutBuf,
};

use crate::CryptoError;

/// A non-AEAD encryption algorithm and key size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockCipher {
    /// ENCR_AES_CBC (12) with a 128, 192 or 256-bit key.
    AesCbc { key_bits: u16 },
    /// ENCR_AES_CTR (13): key followed by a 4-byte nonce (RFC 5930 §2).
    AesCtr { key_bits: u16 },
    /// ENCR_3DES (3): 192-bit key.
    TripleDesCbc,
}

impl BlockCipher {
    /// Builds from an IANA encryption ID and the Key Length attribute (in bits), if any.
    pub fn from_iana(id: u16, key_bits: Option<u16>) -> Option<Self> {
        let aes_bits = |k: Option<u16>| k.filter(|b| matches!(b, 128 | 192 | 256));
        match id {
            3 if key_bits.is_none() || key_bits == Some(192) => Some(Self::TripleDesCbc),
            12 => aes_bits(key_bits).map(|key_bits| Self::AesCbc { key_bits }),
            13 => aes_bits(key_bits).map(|key_bits| Self::AesCtr { key_bits }),
            _ => None,
        }
    }

    pub fn iana_id(self) -> u16 {
        match self {
            Self::TripleDesCbc => 3,
            Self::AesCbc { .. } => 12,
            Self::AesCtr { .. } => 13,
        }
    }

    /// Key Length attribute value in bits, for the SA payload (none for 3DES).
    pub fn key_bits_attribute(self) -> Option<u16> {
        match self {
            Self::AesCbc { key_bits } | Self::AesCtr { key_bits } => Some(key_bits),
            Self::TripleDesCbc => None,
        }
    }

    /// Length of the keying material taken from the key schedule (key plus CTR nonce).
    pub fn keymat_len(self) -> usize {
        match self {
            Self::AesCbc { key_bits } => usize::from(key_bits) / 8,
            Self::AesCtr { key_bits } => usize::from(key_bits) / 8 + 4,
            Self::TripleDesCbc => 24,
        }
    }

    /// Length of the IV carried in each message.
    pub fn iv_len(self) -> usize {
        match self {
            Self::AesCbc { .. } => 16,
            Self::AesCtr { .. } | Self::TripleDesCbc => 8,
        }
    }

    /// The width of the underlying block cipher in bits (AES 128, 3DES 64), whatever the
    /// mode: what bounds how much one key may safely encrypt (birthday bound, "Sweet32").
    pub fn cipher_block_bits(self) -> u32 {
        match self {
            Self::AesCbc { .. } | Self::AesCtr { .. } => 128,
            Self::TripleDesCbc => 64,
        }
    }

    /// The length every ciphertext must be a multiple of (1 for the CTR stream mode).
    pub fn block_len(self) -> usize {
        match self {
            Self::AesCbc { .. } => 16,
            Self::AesCtr { .. } => 1,
            Self::TripleDesCbc => 8,
        }
    }

    /// Whether [`BlockCipher::key`] keys this cipher given key material of its length, found
    /// without keying it.
    pub fn is_supported(self) -> bool {
        let nonce = if matches!(self, Self::AesCtr { .. }) { 4 } else { 0 };
        self == Self::TripleDesCbc
            || matches!(self.keymat_len().checked_sub(nonce), Some(16 | 24 | 32))
    }

    /// Expands the key for repeated use.
    pub fn key(self, keymat: &[u8]) -> Result<CipherKey, CryptoError> {
        let expected = self.keymat_len();
        if keymat.len() != expected {
            return Err(CryptoError::KeyLength { expected, got: keymat.len() });
        }
        let mut ctr_nonce = [0u8; 4];
        let key_part = match self {
            Self::AesCtr { .. } => {
                let (key, nonce) = keymat.split_at(expected - 4);
                ctr_nonce.copy_from_slice(nonce);
                key
            }
            _ => keymat,
        };
        let engine = match key_part.len() {
            _ if self == Self::TripleDesCbc => Engine::TripleDes(init(key_part)?),
            16 => Engine::Aes128(init(key_part)?),
            24 => Engine::Aes192(init(key_part)?),
            32 => Engine::Aes256(init(key_part)?),
            _ => return Err(CryptoError::Unsupported),
        };
        Ok(CipherKey { algorithm: self, engine, ctr_nonce })
    }
}

fn init<C: KeyInit>(key: &[u8]) -> Result<C, CryptoError> {
    C::new_from_slice(key)
        .map_err(|_| CryptoError::KeyLength { expected: C::key_size(), got: key.len() })
}

#[derive(Clone)]
enum Engine {
    Aes128(aes::Aes128),
    Aes192(aes::Aes192),
    Aes256(aes::Aes256),
    TripleDes(des::TdesEde3),
}

/// An expanded non-AEAD key. The AES and DES key schedules wipe themselves on drop.
#[derive(Clone)]
pub struct CipherKey {
    algorithm: BlockCipher,
    engine: Engine,
    ctr_nonce: [u8; 4],
}

impl fmt::Debug for CipherKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CipherKey").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl Drop for CipherKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.ctr_nonce);
    }
}

impl CipherKey {
    pub fn algorithm(&self) -> BlockCipher {
        self.algorithm
    }

    /// Encrypts `data` in place with `iv`.
    pub fn encrypt(&self, iv: &[u8], data: &mut [u8]) -> Result<(), CryptoError> {
        self.check(iv, data)?;
        match (&self.engine, self.algorithm) {
            (Engine::Aes128(c), BlockCipher::AesCtr { .. }) => self.ctr(c, iv, data),
            (Engine::Aes192(c), BlockCipher::AesCtr { .. }) => self.ctr(c, iv, data),
            (Engine::Aes256(c), BlockCipher::AesCtr { .. }) => self.ctr(c, iv, data),
            (Engine::Aes128(c), _) => cbc_encrypt(c, iv, data),
            (Engine::Aes192(c), _) => cbc_encrypt(c, iv, data),
            (Engine::Aes256(c), _) => cbc_encrypt(c, iv, data),
            (Engine::TripleDes(c), _) => cbc_encrypt(c, iv, data),
        }
    }

    /// Decrypts `data` in place with `iv`.
    pub fn decrypt(&self, iv: &[u8], data: &mut [u8]) -> Result<(), CryptoError> {
        self.check(iv, data)?;
        match (&self.engine, self.algorithm) {
            // CTR is its own inverse.
            (Engine::Aes128(c), BlockCipher::AesCtr { .. }) => self.ctr(c, iv, data),
            (Engine::Aes192(c), BlockCipher::AesCtr { .. }) => self.ctr(c, iv, data),
            (Engine::Aes256(c), BlockCipher::AesCtr { .. }) => self.ctr(c, iv, data),
            (Engine::Aes128(c), _) => cbc_decrypt(c, iv, data),
            (Engine::Aes192(c), _) => cbc_decrypt(c, iv, data),
            (Engine::Aes256(c), _) => cbc_decrypt(c, iv, data),
            (Engine::TripleDes(c), _) => cbc_decrypt(c, iv, data),
        }
    }

    fn check(&self, iv: &[u8], data: &[u8]) -> Result<(), CryptoError> {
        let iv_len = self.algorithm.iv_len();
        if iv.len() != iv_len {
            return Err(CryptoError::IvLength { expected: iv_len, got: iv.len() });
        }
        let block = self.algorithm.block_len();
        if !data.len().is_multiple_of(block) {
            return Err(CryptoError::NotBlockAligned { block, len: data.len() });
        }
        Ok(())
    }

    /// AES-CTR with the counter block `nonce | IV | counter`, counter starting at 1
    /// (RFC 3686 §4).
    fn ctr<C>(&self, cipher: &C, iv: &[u8], data: &mut [u8]) -> Result<(), CryptoError>
    where
        C: BlockCipherEncrypt<BlockSize = aes::cipher::consts::U16> + Clone,
    {
        let mut block = [0u8; 16];
        block[..4].copy_from_slice(&self.ctr_nonce);
        block[4..12].copy_from_slice(iv);
        block[15] = 1;
        let core =
            ctr::CtrCore::<C, ctr::flavors::Ctr32BE>::inner_iv_init(cipher.clone(), &block.into());
        let mut stream = ctr::Ctr32BE::<C>::from_core(core);
        stream.try_apply_keystream(data).map_err(|_| CryptoError::Unsupported)
    }
}

fn cbc_encrypt<C>(cipher: &C, iv: &[u8], data: &mut [u8]) -> Result<(), CryptoError>
where
    C: BlockCipherEncrypt + Clone,
{
    let mut mode = cbc::Encryptor::<C>::inner_iv_slice_init(cipher.clone(), iv)
        .map_err(|_| CryptoError::IvLength { expected: iv.len(), got: iv.len() })?;
    let (blocks, tail) = InOutBuf::from(data).into_chunks();
    debug_assert!(tail.is_empty(), "alignment checked by the caller");
    mode.encrypt_blocks_inout(blocks);
    Ok(())
}

fn cbc_decrypt<C>(cipher: &C, iv: &[u8], data: &mut [u8]) -> Result<(), CryptoError>
where
    C: BlockCipherDecrypt + BlockCipherEncrypt + Clone,
{
    let mut mode = cbc::Decryptor::<C>::inner_iv_slice_init(cipher.clone(), iv)
        .map_err(|_| CryptoError::IvLength { expected: iv.len(), got: iv.len() })?;
    let (blocks, tail) = InOutBuf::from(data).into_chunks();
    debug_assert!(tail.is_empty(), "alignment checked by the caller");
    mode.decrypt_blocks_inout(blocks);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `is_supported` says what `key` does, over valid and invalid key sizes alike.
    #[test]
    fn is_supported_agrees_with_keying() {
        let mut ciphers = vec![BlockCipher::TripleDesCbc];
        for key_bits in [0, 64, 100, 128, 129, 192, 256, 257, 512] {
            ciphers.push(BlockCipher::AesCbc { key_bits });
            ciphers.push(BlockCipher::AesCtr { key_bits });
        }
        for c in ciphers {
            let keyed = c.key(&vec![7; c.keymat_len()]).is_ok();
            assert_eq!(c.is_supported(), keyed, "{c:?}");
        }
    }

    #[test]
    fn rejects_unaligned_cbc_input() {
        let key = BlockCipher::AesCbc { key_bits: 128 }.key(&[0; 16]).unwrap();
        let err = key.encrypt(&[0; 16], &mut [0; 17]).unwrap_err();
        assert_eq!(err, CryptoError::NotBlockAligned { block: 16, len: 17 });
    }

    #[test]
    fn round_trips_every_cipher() {
        let ciphers = [
            BlockCipher::AesCbc { key_bits: 128 },
            BlockCipher::AesCbc { key_bits: 192 },
            BlockCipher::AesCbc { key_bits: 256 },
            BlockCipher::AesCtr { key_bits: 128 },
            BlockCipher::AesCtr { key_bits: 256 },
            BlockCipher::TripleDesCbc,
        ];
        for alg in ciphers {
            let key = alg.key(&vec![0x42; alg.keymat_len()]).unwrap();
            let iv = vec![9; alg.iv_len()];
            let plain: Vec<u8> = (0..48u8).collect();
            let mut data = plain.clone();
            key.encrypt(&iv, &mut data).unwrap();
            assert_ne!(data, plain, "{alg:?} changed nothing");
            key.decrypt(&iv, &mut data).unwrap();
            assert_eq!(data, plain, "{alg:?}");
        }
    }

    #[test]
    fn from_iana_checks_key_length_attribute() {
        assert_eq!(
            BlockCipher::from_iana(12, Some(256)),
            Some(BlockCipher::AesCbc { key_bits: 256 })
        );
        assert_eq!(BlockCipher::from_iana(12, Some(100)), None);
        assert_eq!(BlockCipher::from_iana(12, None), None, "AES needs a Key Length attribute");
        assert_eq!(BlockCipher::from_iana(3, None), Some(BlockCipher::TripleDesCbc));
    }
}
