//! The `Entropy` trait: the one source of every random choice (log ids, event ids, later keys
//! and retry jitter), so a simulation seeded with the same number makes the same choices.

/// A source of random bytes.
///
/// # Examples
///
/// ```
/// use mtlog_audit::io::{Entropy, OsEntropy};
///
/// let mut id = [0u8; 16];
/// OsEntropy.fill(&mut id);
/// assert_ne!(OsEntropy.next_u128(), OsEntropy.next_u128());
/// ```
pub trait Entropy: Send + Sync + 'static {
    /// Fills `buf` with random bytes. See [`Entropy`] for an example.
    fn fill(&self, buf: &mut [u8]);

    /// A random `u128`, for identifiers. See [`Entropy`] for an example.
    fn next_u128(&self) -> u128 {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        u128::from_le_bytes(b)
    }
}

/// The operating system's random source (`getrandom`). See [`Entropy`] for an example.
///
/// # Panics
/// [`Entropy::fill`] panics if the operating system's random source fails: identifiers would
/// repeat, so there is no safe way to continue.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsEntropy;

#[allow(clippy::disallowed_methods)] // The seam: the only place the OS random source is read.
impl Entropy for OsEntropy {
    fn fill(&self, buf: &mut [u8]) {
        // The OS random source failing is not an operating condition we can continue through:
        // identifiers would repeat. Stop loudly instead.
        if let Err(e) = getrandom::fill(buf) {
            panic!("the operating system's random source failed: {e}");
        }
    }
}
