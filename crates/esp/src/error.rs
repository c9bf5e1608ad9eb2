use core::fmt;

use ikeway_crypto::CryptoError;

use crate::replay::WindowSizeError;

/// Why an outbound packet could not be built, or an SA could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EspError {
    /// The caller's buffer cannot hold the ESP packet: give at least `needed` bytes.
    BufferTooSmall { needed: usize, got: usize },
    /// SPIs 0-255 are reserved (RFC 4303 §2.1).
    ReservedSpi(u32),
    /// Every sequence number has been used (RFC 4303 §3.3.3: never wrap). Rekey.
    SequenceExhausted,
    /// The SA's hard byte or packet lifetime is reached. Rekey.
    LifetimeExpired,
    /// `OutboundSa::skip_to` would move the sequence number backwards.
    SequenceBackwards { next: u64, requested: u64 },
    /// The suite is not one ESP accepts here (e.g. a cipher without integrity, or an unsupported
    /// backend pairing).
    UnsupportedSuite,
    /// Replay window size out of range.
    WindowSize(WindowSizeError),
    /// A key had the wrong length, or the crypto library refused an operation.
    Crypto(CryptoError),
}

impl fmt::Display for EspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BufferTooSmall { needed, got } => {
                write!(f, "buffer of {got} bytes, the ESP packet needs {needed}")
            }
            Self::ReservedSpi(spi) => write!(f, "SPI {spi} is reserved (RFC 4303 §2.1)"),
            Self::SequenceExhausted => f.write_str("ESP sequence numbers exhausted: rekey"),
            Self::LifetimeExpired => f.write_str("SA hard lifetime reached: rekey"),
            Self::SequenceBackwards { next, requested } => {
                write!(f, "sequence number may not go back from {next} to {requested}")
            }
            Self::UnsupportedSuite => f.write_str("suite not supported for ESP"),
            Self::WindowSize(e) => e.fmt(f),
            Self::Crypto(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EspError {}

impl From<CryptoError> for EspError {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e)
    }
}

impl From<WindowSizeError> for EspError {
    fn from(e: WindowSizeError) -> Self {
        Self::WindowSize(e)
    }
}

/// Why an inbound packet was dropped. Each reason has its own counter
/// ([`crate::Counters::drops`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Shorter than SPI, sequence number, IV, trailer and ICV.
    Short,
    /// Ciphertext not a multiple of the cipher block (CBC).
    BadLength,
    /// No inbound SA has this SPI.
    UnknownSpi,
    /// The ICV did not verify: forged, corrupted, or the wrong inferred ESN high half.
    BadIcv,
    /// Sequence number already received (inside the window).
    Replay,
    /// Sequence number left of the window.
    TooOld,
    /// Authenticated, but Pad Length overruns the payload or the padding is not 1, 2, 3, ...
    /// (RFC 4303 §2.4).
    BadPadding,
    /// Authenticated, but the next header is not an inner IP packet in tunnel mode.
    BadNextHeader,
    /// Authenticated dummy packet, next header 59 (RFC 4303 §2.6): dropped by design.
    Dummy,
    /// The SA's hard lifetime is reached.
    Expired,
}

impl DropReason {
    pub const ALL: [DropReason; 10] = [
        Self::Short,
        Self::BadLength,
        Self::UnknownSpi,
        Self::BadIcv,
        Self::Replay,
        Self::TooOld,
        Self::BadPadding,
        Self::BadNextHeader,
        Self::Dummy,
        Self::Expired,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Short => "packet too short",
            Self::BadLength => "ciphertext not block aligned",
            Self::UnknownSpi => "unknown SPI",
            Self::BadIcv => "integrity check failed",
            Self::Replay => "replayed sequence number",
            Self::TooOld => "sequence number too old",
            Self::BadPadding => "bad padding",
            Self::BadNextHeader => "bad next header",
            Self::Dummy => "dummy packet",
            Self::Expired => "SA lifetime expired",
        })
    }
}

impl std::error::Error for DropReason {}
