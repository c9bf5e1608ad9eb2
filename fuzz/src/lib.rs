//! Harnesses the fuzz targets share. The encrypted paths are fuzzed *inside* a valid envelope:
//! [`ike::Pair`] completes a real IKE handshake in process (fixed seeds, the insecure key
//! exchange) and seals the fuzzer's bytes with the SA's own keys; [`esp::Inbound`] does the same
//! for ESP in front of a pump datapath whose keys it knows. So every byte the fuzzer chooses reaches
//! the code behind the ICV.

#![forbid(unsafe_code)]

pub mod certs;
pub mod eap;
pub mod esp;
pub mod ike;

/// A cursor over the fuzzer's input: each read takes what is there and never fails, so every
/// input is a valid program for a target.
#[derive(Debug)]
pub struct Input<'a>(pub &'a [u8]);

impl<'a> Input<'a> {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// A length-prefixed slice (two bytes of length, cut to what is left).
    pub fn bytes(&mut self) -> &'a [u8] {
        let len = usize::from(self.u16()).min(self.0.len());
        let (taken, rest) = self.0.split_at(len);
        self.0 = rest;
        taken
    }
}
