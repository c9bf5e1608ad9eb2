//! The library half of the `ikeway` binary: the pure parsers of untrusted input that fuzz
//! targets and integration tests reach directly (the binary's commands use them from here).
//!
//! ```
//! let mut out = Vec::new();
//! let summary = ikeway::decode::run(b"# no messages\n", None, &mut out).unwrap();
//! assert_eq!(summary.messages, 0);
//! ```

#![forbid(unsafe_code)]

pub mod decode;
pub mod wireshark;
