//! The `Clock` trait: wall time (which may jump) and monotonic time (which never goes back).

/// Time, as the library sees it.
///
/// Ordering never depends on this clock: sequence numbers order events. Wall time is recorded,
/// not trusted; see `docs/wal-format.md` for the timestamp policy.
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time in nanoseconds since the Unix epoch. May step forward or **backward**
    /// at any moment (NTP, VM migration, an operator).
    fn wall_nanos(&self) -> i64;

    /// Monotonic nanoseconds since an arbitrary origin. Never decreases.
    fn monotonic_nanos(&self) -> u64;
}

/// The operating system's clocks.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

#[allow(clippy::disallowed_methods)] // The seam: the only place the real clocks are read.
impl Clock for SystemClock {
    fn wall_nanos(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
        }
    }

    fn monotonic_nanos(&self) -> u64 {
        use std::sync::OnceLock;
        use std::time::Instant;
        static ORIGIN: OnceLock<Instant> = OnceLock::new();
        let origin = *ORIGIN.get_or_init(Instant::now);
        u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}
