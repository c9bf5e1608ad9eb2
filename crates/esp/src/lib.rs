//! The ESP fast path (RFC 4303): encapsulation and decapsulation in place, in the caller's
//! buffer, with an anti-replay window and extended sequence numbers. Sans-IO: no sockets, no
//! clock, no allocation or lock per packet. It depends on `ikeway-crypto` only.
//!
//! ```
//! use ikeway_crypto::{AeadAlgorithm, Encryption, SecretBytes, Suite};
//! use ikeway_esp::{InboundSa, NextHeader, OutboundSa, SaConfig};
//!
//! // What the negotiation emits for one direction of a child SA: AES-GCM-16-128, key | salt.
//! let suite = Suite::new(Encryption::Aead(AeadAlgorithm::AES128_GCM16), None).unwrap();
//! let keymat = SecretBytes::from_slice(&[0x42; 20]);
//! let config = SaConfig::new(0xc0ffee01, suite, keymat, SecretBytes::default());
//! let mut sender = OutboundSa::new(&config).unwrap();
//! let mut receiver = InboundSa::new(&config).unwrap();
//!
//! // Put the inner IPv4 packet after the headroom, leave tailroom, encapsulate in place.
//! let inner = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
//! let mut buf = [0u8; 128];
//! let at = sender.headroom();
//! buf[at..at + inner.len()].copy_from_slice(&inner);
//! let esp = sender.encapsulate(&mut buf, inner.len(), NextHeader::IPV4).unwrap();
//! assert_eq!(esp.len(), sender.buffer_len(inner.len()));
//!
//! // The receiver decrypts in place and hands back the inner packet.
//! let got = receiver.decapsulate(esp).unwrap();
//! assert_eq!(got.payload, &inner);
//! assert_eq!(got.next_header, NextHeader::IPV4);
//! assert_eq!(got.seq, 1);
//! ```
//!
//! - [`OutboundSa`] / [`InboundSa`]: one direction of a child SA each; [`SaTable`] finds the
//!   inbound SA by SPI. Counters ([`Counters`]) and drops by [`DropReason`] are per SA.
//! - [`replay`]: the anti-replay window with ESN (RFC 4303 §3.4.3, Appendix A).
//! - [`udp`]: ESP-in-UDP classification on port 4500 (RFC 3948).
//! - [`mss`]: TCP MSS clamping of the inner packets to the tunnel MTU (RFC 4459 §3.2).
//!
//! Sequence numbers never wrap: a soft limit raises [`SaEvent::RekeyNeeded`] and the last
//! number makes [`OutboundSa::encapsulate`] fail with [`EspError::SequenceExhausted`]. Keys are
//! wiped on drop by the crypto types and never appear in `Debug` output.

mod error;
pub mod mss;
pub mod replay;
mod sa;
mod table;
pub mod udp;

pub use error::{DropReason, EspError};
pub use sa::{
    Counters, Decapsulated, ESP_HEADER_LEN, InboundSa, Lifetime, Mode, NextHeader, OutboundSa,
    SMALL_BLOCK_HARD_BYTES, SaConfig, SaEvent, TRAILER_LEN, default_backend,
};
pub use table::SaTable;
