use core::fmt;

/// Why a cryptographic operation failed.
///
/// Deliberately coarse: an authentication failure never says which byte or which check failed,
/// so that callers cannot leak it to a peer by accident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// The integrity check value or AEAD tag did not verify.
    Authentication,
    /// A key had the wrong length for the algorithm.
    KeyLength { expected: usize, got: usize },
    /// An IV or nonce had the wrong length for the algorithm.
    IvLength { expected: usize, got: usize },
    /// An ICV buffer had the wrong length for the algorithm.
    IcvLength { expected: usize, got: usize },
    /// Ciphertext for a block mode was not a multiple of the block size.
    NotBlockAligned { block: usize, len: usize },
    /// prf+ was asked for more than 255 iterations of output (RFC 7296 §2.13).
    PrfPlusTooLong { requested: usize, max: usize },
    /// The algorithm or key size is not implemented.
    Unsupported,
    /// A peer's Key Exchange Data had the wrong length for the group (RFC 7296 §3.4).
    PublicValueLength { expected: usize, got: usize },
    /// A peer's Key Exchange Data failed validation (RFC 6989): a MODP value outside
    /// 1 < y < p - 1, an ECP point not on the curve, or a Curve25519 value that gives an
    /// all-zero shared secret (RFC 8031 §2.1).
    InvalidPublicValue,
    /// A Diffie-Hellman private key (or the random bytes for one) was out of range for the group.
    InvalidPrivateKey,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Authentication => f.write_str("integrity check failed"),
            Self::KeyLength { expected, got } => {
                write!(f, "key is {got} bytes, algorithm needs {expected}")
            }
            Self::IvLength { expected, got } => {
                write!(f, "IV is {got} bytes, algorithm needs {expected}")
            }
            Self::IcvLength { expected, got } => {
                write!(f, "ICV is {got} bytes, algorithm needs {expected}")
            }
            Self::NotBlockAligned { block, len } => {
                write!(f, "{len} bytes is not a multiple of the {block}-byte block")
            }
            Self::PrfPlusTooLong { requested, max } => {
                write!(f, "prf+ asked for {requested} bytes, at most {max} possible")
            }
            Self::Unsupported => f.write_str("algorithm not supported"),
            Self::PublicValueLength { expected, got } => {
                write!(f, "key exchange value is {got} bytes, group needs {expected}")
            }
            Self::InvalidPublicValue => f.write_str("invalid key exchange public value"),
            Self::InvalidPrivateKey => f.write_str("invalid key exchange private key"),
        }
    }
}

impl std::error::Error for CryptoError {}
