use core::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

// Why 64: `SecretBytes::INLINE_CAPACITY`.
const INLINE_CAPACITY: usize = 64;

/// Key material that is wiped from memory when dropped and never printed.
///
/// Up to [`SecretBytes::INLINE_CAPACITY`] bytes are held inline, longer secrets on the heap; either way the
/// bytes are wiped on drop (the heap buffer's whole capacity). A secret of at most
/// [`SecretBytes::INLINE_CAPACITY`] bytes never holds heap memory, whichever way it was made.
///
/// Moving a value moves its bytes, and the compiler may leave the old copy on the stack unwiped:
/// the same holds for every inline secret (RustCrypto's key schedules, [`crate::PrfOutput`]).
/// What is wiped is every place a secret was stored, when it is dropped.
///
/// `Debug` shows only the length, so a secret that ends up in a log line or a panic message
/// reveals nothing. Equality compares the bytes (not in constant time: it is for tests; compare
/// MACs with `subtle`).
#[derive(Clone)]
pub struct SecretBytes(Storage);

#[derive(Clone)]
enum Storage {
    /// `bytes[len..]` stays zero.
    Inline { len: u8, bytes: [u8; INLINE_CAPACITY] },
    /// More than [`INLINE_CAPACITY`] bytes.
    Heap(Vec<u8>),
}

// The inline length is a `u8`.
const _: () = assert!(INLINE_CAPACITY <= u8::MAX as usize);

impl Storage {
    const EMPTY: Self = Self::Inline { len: 0, bytes: [0; INLINE_CAPACITY] };

    fn zeroed(len: usize) -> Self {
        match u8::try_from(len) {
            Ok(short) if len <= INLINE_CAPACITY => {
                Self::Inline { len: short, bytes: [0; INLINE_CAPACITY] }
            }
            _ => Self::Heap(vec![0; len]),
        }
    }

    fn copied(from: &[u8]) -> Self {
        let mut storage = Self::zeroed(from.len());
        storage.bytes_mut().copy_from_slice(from);
        storage
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Self::Heap(v) => v,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Self::Inline { len, bytes } => &mut bytes[..usize::from(*len)],
            Self::Heap(v) => v,
        }
    }
}

impl SecretBytes {
    /// Secrets up to this many bytes are held inline, without a heap allocation: every PRF output
    /// (HMAC-SHA2-512's is the longest, 64 bytes), every IKE and ESP key we derive (AES-256-GCM's
    /// 36 bytes with its salt, HMAC-SHA2-512's 64), X25519 and ECP shared secrets. Longer ones
    /// (MODP shared secrets, KEYMAT before it is cut into keys, PSKs longer than this) go on the
    /// heap. A handshake makes a few dozen short secrets per side, and one allocation each was a
    /// measurable share of its allocations (issue 16).
    pub const INLINE_CAPACITY: usize = INLINE_CAPACITY;

    /// Takes ownership of `bytes`. A short secret is copied inline and the vector wiped before
    /// it is freed, so nothing is left behind either way.
    pub fn new(mut bytes: Vec<u8>) -> Self {
        if bytes.len() <= INLINE_CAPACITY {
            let secret = Self(Storage::copied(&bytes));
            bytes.zeroize();
            secret
        } else {
            Self(Storage::Heap(bytes))
        }
    }

    /// Copies `bytes` into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(Storage::copied(bytes))
    }

    /// A secret of `len` zero bytes, to be filled in place.
    pub fn zeroed(len: usize) -> Self {
        Self(Storage::zeroed(len))
    }

    pub fn len(&self) -> usize {
        self.expose().len()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    /// The bytes. Callers must not copy them into storage that outlives this value unwiped.
    pub fn expose(&self) -> &[u8] {
        self.0.bytes()
    }

    pub fn expose_mut(&mut self) -> &mut [u8] {
        self.0.bytes_mut()
    }

    /// Splits off the first `at` bytes into a new secret, keeping the rest. Neither part
    /// allocates when it fits inline: cutting KEYMAT into keys costs no allocation per key.
    ///
    /// # Panics
    /// If `at > self.len()`; callers slice key material whose layout they computed.
    pub fn split_off_front(&mut self, at: usize) -> SecretBytes {
        let len = self.len();
        assert!(at <= len, "split at {at} of a {len}-byte secret");
        let front = Self::from_slice(&self.expose()[..at]);
        let rest = len - at;
        match &mut self.0 {
            Storage::Inline { len: inline_len, bytes } => {
                bytes.copy_within(at..len, 0);
                bytes[rest..len].zeroize();
                // `rest <= len <= INLINE_CAPACITY`, which fits a `u8` (asserted above).
                *inline_len = u8::try_from(rest).unwrap_or(u8::MAX);
            }
            Storage::Heap(v) if rest <= INLINE_CAPACITY => {
                // The rest moves inline and the heap buffer is wiped before it is freed.
                let moved = Storage::copied(&v[at..]);
                v.zeroize();
                self.0 = moved;
            }
            Storage::Heap(v) => {
                v.copy_within(at.., 0);
                v[rest..].zeroize();
                v.truncate(rest);
            }
        }
        front
    }
}

impl Default for SecretBytes {
    fn default() -> Self {
        Self(Storage::EMPTY)
    }
}

impl PartialEq for SecretBytes {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for SecretBytes {}

/// Wipes the bytes (a heap buffer's whole capacity, then frees it) and leaves an empty secret.
impl Zeroize for SecretBytes {
    fn zeroize(&mut self) {
        match &mut self.0 {
            Storage::Inline { len, bytes } => {
                // `bytes[len..]` is zero already (every constructor starts from zeros, and a
                // split wipes what the rest no longer covers), so only the secret is written
                // over: a volatile write per byte, for 32 bytes where a whole array is 64
                // (several dozen secrets are dropped per handshake).
                bytes[..usize::from(*len)].zeroize();
                *len = 0;
            }
            Storage::Heap(v) => {
                v.zeroize();
                // `Storage` has no `Drop` of its own: this frees the wiped buffer.
                self.0 = Storage::EMPTY;
            }
        }
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for SecretBytes {}

// Key material also lives inside our dependencies' types: keyed HMAC states in the hash cores
// (`sha1`, `sha2`), key schedules in the block ciphers (`aes`, also under AES-GCM, and `des`).
// Each must wipe itself on drop, which their `zeroize` features provide; this fails to build
// if one of those features goes away.
const _: () = {
    fn wiped_on_drop<T: ZeroizeOnDrop>() {}
    #[allow(dead_code)] // a compile-time check, never called
    fn dependencies_wipe_their_key_material() {
        wiped_on_drop::<sha1::block_api::Sha1Core>();
        wiped_on_drop::<sha2::block_api::Sha256VarCore>();
        wiped_on_drop::<sha2::block_api::Sha512VarCore>();
        wiped_on_drop::<aes::Aes128Enc>();
        wiped_on_drop::<aes::Aes192Enc>();
        wiped_on_drop::<aes::Aes256Enc>();
        wiped_on_drop::<aes::Aes128>();
        wiped_on_drop::<aes::Aes192>();
        wiped_on_drop::<aes::Aes256>();
        wiped_on_drop::<des::TdesEde3>();
    }
};

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes, redacted)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_inline(s: &SecretBytes) -> bool {
        matches!(s.0, Storage::Inline { .. })
    }

    fn counting(len: usize) -> Vec<u8> {
        (0..len).map(|i| i as u8).collect()
    }

    #[test]
    fn debug_does_not_show_bytes() {
        let s = SecretBytes::from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        let shown = format!("{s:?}");
        assert_eq!(shown, "SecretBytes(4 bytes, redacted)");
        let long = SecretBytes::from_slice(&[0xab; 65]);
        assert_eq!(format!("{long:?}"), "SecretBytes(65 bytes, redacted)");
    }

    #[test]
    fn split_off_front_keeps_order() {
        let mut s = SecretBytes::from_slice(&[1, 2, 3, 4, 5]);
        let front = s.split_off_front(2);
        assert_eq!(front.expose(), &[1, 2]);
        assert_eq!(s.expose(), &[3, 4, 5]);
    }

    /// Up to the inline capacity nothing is on the heap, however the secret was made; past it,
    /// everything is, and the bytes are the same either way.
    #[test]
    fn short_secrets_are_inline_and_long_ones_on_the_heap() {
        for len in [0, 1, 32, INLINE_CAPACITY, INLINE_CAPACITY + 1, 256] {
            let bytes = counting(len);
            let made = [
                SecretBytes::from_slice(&bytes),
                SecretBytes::new(bytes.clone()),
                SecretBytes::zeroed(len),
            ];
            for s in &made {
                assert_eq!(s.len(), len);
                assert_eq!(is_inline(s), len <= INLINE_CAPACITY, "{len}");
            }
            assert_eq!(made[0].expose(), bytes);
            assert_eq!(made[1].expose(), bytes);
            assert!(made[2].expose().iter().all(|&b| b == 0));
        }
        assert!(is_inline(&SecretBytes::default()));
        assert!(SecretBytes::default().is_empty());
    }

    /// KEYMAT cut into keys the way `keys::derive_ike_keys` does it: every part has the bytes
    /// of its place, each key is inline, and the rest moves inline once it fits.
    #[test]
    fn split_off_front_of_heap_material_gives_inline_keys() {
        let all = counting(168);
        let mut material = SecretBytes::from_slice(&all);
        let mut at = 0;
        for cut in [32, 0, 0, 36, 36, 32, 32] {
            let key = material.split_off_front(cut);
            assert_eq!(key.expose(), &all[at..at + cut]);
            assert!(is_inline(&key));
            at += cut;
            assert_eq!(material.expose(), &all[at..]);
            assert_eq!(is_inline(&material), material.len() <= INLINE_CAPACITY);
        }
        assert!(material.is_empty());
        // A front longer than the inline capacity stays on the heap.
        let mut long = SecretBytes::from_slice(&counting(200));
        let front = long.split_off_front(100);
        assert!(!is_inline(&front) && !is_inline(&long));
        assert_eq!(front.expose(), &counting(200)[..100]);
        assert_eq!(long.expose(), &counting(200)[100..]);
    }

    #[test]
    fn split_off_front_wipes_what_the_rest_no_longer_covers() {
        let mut s = SecretBytes::from_slice(&counting(10));
        let _ = s.split_off_front(4);
        let Storage::Inline { len, bytes } = &s.0 else { panic!("a 6-byte secret is inline") };
        assert_eq!(*len, 6);
        assert_eq!(&bytes[..6], &counting(10)[4..]);
        assert!(bytes[6..].iter().all(|&b| b == 0), "the old tail is wiped");
    }

    #[test]
    #[should_panic(expected = "split at 6 of a 5-byte secret")]
    fn split_off_front_past_the_end_panics() {
        let mut s = SecretBytes::from_slice(&[1, 2, 3, 4, 5]);
        let _ = s.split_off_front(6);
    }

    #[test]
    fn equality_compares_bytes_wherever_they_are_held() {
        let mut heap = SecretBytes::from_slice(&counting(80));
        let _ = heap.split_off_front(40);
        // `heap` moved inline on the split; compare with one made inline directly.
        assert_eq!(heap, SecretBytes::from_slice(&counting(80)[40..]));
        assert_ne!(heap, SecretBytes::from_slice(&counting(40)));
        assert_eq!(SecretBytes::new(counting(100)), SecretBytes::from_slice(&counting(100)));
        assert_eq!(SecretBytes::zeroed(0), SecretBytes::default());
    }

    /// What lets a drop wipe only `bytes[..len]`: past the length, an inline secret's bytes
    /// are zero after every way of making or cutting one.
    #[test]
    fn inline_bytes_past_the_length_stay_zero() {
        fn tail_is_zero(s: &SecretBytes) -> bool {
            match &s.0 {
                Storage::Inline { len, bytes } => {
                    bytes[usize::from(*len)..].iter().all(|&b| b == 0)
                }
                Storage::Heap(_) => true,
            }
        }
        let mut written = SecretBytes::zeroed(10);
        written.expose_mut().fill(0xff);
        let mut from_heap = SecretBytes::from_slice(&[0xee; 100]);
        let front = from_heap.split_off_front(60);
        let mut inline = SecretBytes::new(vec![0xdd; 50]);
        let inline_front = inline.split_off_front(20);
        for s in [&written, &written.clone(), &from_heap, &front, &inline, &inline_front] {
            assert!(tail_is_zero(s), "{s:?}");
        }
        assert_eq!(from_heap.expose(), &[0xee; 40]);
        assert_eq!(inline.expose(), &[0xdd; 30]);
    }

    #[test]
    fn zeroize_empties_and_wipes() {
        for len in [20, 100] {
            let mut s = SecretBytes::from_slice(&counting(len));
            s.zeroize();
            assert!(s.is_empty());
            let Storage::Inline { bytes, .. } = &s.0 else { panic!("an empty secret is inline") };
            assert!(bytes.iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn expose_mut_writes_through() {
        for len in [16, 96] {
            let mut s = SecretBytes::zeroed(len);
            s.expose_mut()[len - 1] = 7;
            assert_eq!(s.expose()[len - 1], 7);
            assert_eq!(s.len(), len);
        }
    }
}
