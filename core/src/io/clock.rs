//! The `Clock` trait: wall time (which may jump) and monotonic time (which never goes back).

/// Time, as the library sees it.
///
/// Ordering never depends on this clock: sequence numbers order events. Wall time is recorded,
/// not trusted; see `docs/wal-format.md` for the timestamp policy.
///
/// # Examples
///
/// [`SystemClock`] reads the operating system's clocks. A test can pass its own clock to
/// [`Sink::open_with`](crate::Sink::open_with) instead:
///
/// ```
/// use mtlog_audit::io::{Clock, SystemClock};
///
/// let clock = SystemClock;
/// let (t0, t1) = (clock.monotonic_nanos(), clock.monotonic_nanos());
/// assert!(t1 >= t0); // monotonic time never goes back
/// assert!(clock.wall_nanos() > 1_600_000_000_000_000_000); // after September 2020
///
/// /// A clock stopped at one instant.
/// struct Frozen(i64);
/// impl Clock for Frozen {
///     fn wall_nanos(&self) -> i64 { self.0 }
///     fn monotonic_nanos(&self) -> u64 { 0 }
/// }
/// assert_eq!(Frozen(42).wall_nanos(), 42);
/// ```
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time in nanoseconds since the Unix epoch. May step forward or **backward**
    /// at any moment (NTP, VM migration, an operator). See [`Clock`] for an example.
    fn wall_nanos(&self) -> i64;

    /// Monotonic nanoseconds since an arbitrary origin. Never decreases.
    /// See [`Clock`] for an example.
    fn monotonic_nanos(&self) -> u64;
}

/// The operating system's clocks. See [`Clock`] for an example.
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
