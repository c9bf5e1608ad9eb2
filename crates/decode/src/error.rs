//! Why a capture or a key table could not be read at all (a message that does not parse is
//! not an error: it is reported in the output and decoding goes on).

/// A capture or key table `decode` cannot read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The capture's framing is broken: `what` says where, `reason` what is wrong.
    #[error("{what}: {reason}")]
    Capture {
        /// The part of the file being read ("pcap frame 7", "line 3", ...).
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A line of a Wireshark key table is not a row of eight fields with hex SPIs and keys.
    #[error("key table line {line}: {reason}")]
    KeyTable {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The JSON lines could not be written.
    #[error("writing the decoded messages: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    pub(crate) fn capture(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Capture { what: what.into(), reason: reason.to_string() }
    }
}
