use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Key material that is wiped from memory when dropped and never printed.
///
/// `Debug` shows only the length, so a secret that ends up in a log line or a panic message
/// reveals nothing.
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of `bytes`; the caller's copy is the one moved in, so nothing is left behind.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Copies `bytes` into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// A secret of `len` zero bytes, to be filled in place.
    pub fn zeroed(len: usize) -> Self {
        Self(vec![0; len])
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes. Callers must not copy them into storage that outlives this value unwiped.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub fn expose_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Splits off the first `at` bytes into a new secret, keeping the rest.
    ///
    /// # Panics
    /// If `at > self.len()`; callers slice key material whose layout they computed.
    pub fn split_off_front(&mut self, at: usize) -> SecretBytes {
        let rest = self.0.split_off(at);
        // `split_off` leaves the front in `self.0`; swap so `self` keeps the rest.
        let front = core::mem::replace(&mut self.0, rest);
        SecretBytes(front)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_bytes() {
        let s = SecretBytes::from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let shown = format!("{s:?}");
        assert_eq!(shown, "SecretBytes(4 bytes, redacted)");
    }

    #[test]
    fn split_off_front_keeps_order() {
        let mut s = SecretBytes::from_slice(&[1, 2, 3, 4, 5]);
        let front = s.split_off_front(2);
        assert_eq!(front.expose(), &[1, 2]);
        assert_eq!(s.expose(), &[3, 4, 5]);
    }
}
