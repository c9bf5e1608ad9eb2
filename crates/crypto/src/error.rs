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
        }
    }
}

impl std::error::Error for CryptoError {}
