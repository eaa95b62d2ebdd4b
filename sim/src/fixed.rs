//! A clock and an entropy source that are plain counters, for tests on the real disk that must
//! write the same log ids, event ids, timestamps and hashes on every run (insta snapshots,
//! golden files). Not a simulation: nothing is scheduled, nothing fails; the seeded world is
//! [`crate::Sim`].
//!
//! ```
//! use mtlog_audit::io::{Clock, Entropy};
//! use mtlog_audit_sim::{CountingEntropy, TickClock};
//!
//! let clock = TickClock::new(1_000);
//! assert_eq!((clock.wall_nanos(), clock.wall_nanos()), (1_000, 1_001_000)); // 1 ms per reading
//! let entropy = CountingEntropy::new();
//! let mut id = [0u8; 4];
//! entropy.fill(&mut id);
//! assert_eq!(id, [0, 1, 2, 3]);
//! ```

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use mtlog_audit::io::{Clock, Entropy};

/// A wall clock that starts at a fixed instant and moves one millisecond per reading; its
/// monotonic clock stands still.
#[derive(Debug)]
pub struct TickClock(AtomicI64);

impl TickClock {
    /// Starts at `start_nanos` since the Unix epoch.
    pub fn new(start_nanos: i64) -> TickClock {
        TickClock(AtomicI64::new(start_nanos))
    }
}

impl Clock for TickClock {
    fn wall_nanos(&self) -> i64 {
        self.0.fetch_add(1_000_000, Ordering::SeqCst)
    }

    fn monotonic_nanos(&self) -> u64 {
        0
    }
}

/// "Randomness" that counts: bytes 0, 1, 2, ... (wrapping), across calls.
#[derive(Debug, Default)]
pub struct CountingEntropy(AtomicU64);

impl CountingEntropy {
    /// Counts from byte 0.
    pub fn new() -> CountingEntropy {
        CountingEntropy(AtomicU64::new(0))
    }
}

impl Entropy for CountingEntropy {
    fn fill(&self, buf: &mut [u8]) {
        for b in buf {
            *b = self.0.fetch_add(1, Ordering::SeqCst) as u8;
        }
    }
}
