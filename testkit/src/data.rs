//! Reproducible pseudo-random test data (xorshift64): file contents whose
//! every byte is checkable, and random cut points.
//!
//! ```
//! use wireloom_testkit::data::{pattern, Rng};
//!
//! assert_eq!(pattern(7, 100), pattern(7, 100));
//! assert_ne!(pattern(7, 100), pattern(8, 100));
//! let mut r = Rng(42);
//! assert!(r.below(10) < 10);
//! ```

/// A xorshift64 generator; the seed must not be 0.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `len` bytes from [`Rng`] seeded with `seed` (little-endian words).
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut r = Rng(seed);
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&r.next().to_le_bytes());
    }
    v.truncate(len);
    v
}
