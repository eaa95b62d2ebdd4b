//! Sink options, validated at construction: a bad value is a typed error before any file is
//! touched, never a surprise at the first `emit`.
//!
//! # Examples
//!
//! Every bound is a constant here, checked by [`Options::validate`] before any file is touched:
//!
//! ```
//! use std::time::Duration;
//! use mtlog_audit::error::ConfigError;
//! use mtlog_audit::options::{MAX_DELAY_MAX, QUEUE_MAX_MAX, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN};
//! use mtlog_audit::{Error, Options};
//!
//! let dir = "/var/lib/myservice/audit"; // not touched
//! let huge = Options::new(dir).segment_bytes(SEGMENT_BYTES_MAX + 1).validate();
//! let Err(Error::Config(ConfigError::OutOfRange { option, min, max, .. })) = huge else {
//!     panic!("expected a range error, got {huge:?}");
//! };
//! assert_eq!((option, min, max), ("segment_bytes", SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX));
//!
//! let slow = Options::new(dir).max_delay(MAX_DELAY_MAX + Duration::from_micros(1)).validate();
//! let expected = "invalid configuration: max_delay (µs) is 1000001, expected 0..=1000000";
//! assert_eq!(slow.unwrap_err().to_string(), expected);
//! assert!(Options::new(dir).queue_max(QUEUE_MAX_MAX + 1).validate().is_err());
//! Options::new(dir).segment_bytes(SEGMENT_BYTES_MAX).queue_max(QUEUE_MAX_MAX).validate()?;
//! # Ok::<(), Error>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, Error};
use crate::integrity::note::Signer;
use crate::wal::format::{
    framed_len, COMMIT_RECORD_LEN, RECORD_BODY_HARD_MAX, SEAL_RECORD_LEN, SEGMENT_HEADER_LEN,
};

/// Called with every error an `emit` (or an adapter) reports, before it is returned. See
/// [`Options::failure_handler`] for an example.
pub type FailureHandler = Arc<dyn Fn(&Error) + Send + Sync>;

/// Called with each signed checkpoint note once it is durable in the log directory (for example
/// to ship it to a witness or another machine: truncation is detectable only against a
/// checkpoint held outside the log). See [`Options::signer`] for an example.
pub type CheckpointCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// Default cadence: a checkpoint at least every this many events. See [`Options::signer`] for
/// an example.
pub const CHECKPOINT_EVERY_EVENTS_DEFAULT: u64 = 10_000;
/// Default cadence: a checkpoint at least this often while events arrive. See
/// [`Options::signer`] for an example.
pub const CHECKPOINT_EVERY_DEFAULT: Duration = Duration::from_secs(60);

/// Smallest segment accepted. See the [module docs](self) for an example.
pub const SEGMENT_BYTES_MIN: u64 = 4 << 10;
/// Largest segment accepted: the largest segment file a reader loads
/// ([`SEGMENT_LEN_MAX`](crate::wal::format::SEGMENT_LEN_MAX), 1 GiB), since readers and recovery
/// hold one segment's bytes at a time. See the [module docs](self) for an example.
pub const SEGMENT_BYTES_MAX: u64 = crate::wal::format::SEGMENT_LEN_MAX;
/// Largest group-commit delay accepted. See the [module docs](self) for an example.
pub const MAX_DELAY_MAX: Duration = Duration::from_secs(1);
/// Largest number of events waiting for one batch. See the [module docs](self) for an example.
pub const QUEUE_MAX_MAX: usize = 1 << 20;

/// How to open a sink. Start from [`Options::new`] and override what you need.
///
/// Every setter takes and returns the options by value; nothing is checked until
/// [`Options::validate`] (which [`Sink::open`](crate::Sink::open) calls first).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use mtlog_audit::{Level, Options, Sink};
///
/// # let tmp = tempfile::tempdir()?;
/// # let dir = tmp.path();
/// let options = Options::new(dir)
///     .segment_bytes(8 << 20) // preallocated per segment file
///     .body_max(64 << 10) // larger events are refused with Error::RecordTooLarge
///     .batch_max(1024) // events per fdatasync, at most
///     .queue_max(8192) // emitters block beyond this many waiting events
///     .max_delay(Duration::from_micros(200)); // a leader waits this long for company
/// assert_eq!(options.dir(), dir);
/// assert_eq!(options.body_max_effective(), 64 << 10);
/// options.validate()?;
///
/// let sink = Sink::open(options)?;
/// sink.event(Level::Information, "Configured").emit()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Options {
    pub(crate) dir: PathBuf,
    pub(crate) segment_bytes: u64,
    pub(crate) body_max: Option<usize>,
    pub(crate) batch_max: usize,
    pub(crate) queue_max: usize,
    pub(crate) max_delay: Duration,
    pub(crate) failure_handler: Option<FailureHandler>,
    pub(crate) panic_on_failure: bool,
    pub(crate) checkpoints: CheckpointSettings,
}

/// When and where signed checkpoints are written (see `docs/integrity.md`). Off until
/// [`Options::signer`] gives a key.
#[derive(Clone)]
pub(crate) struct CheckpointSettings {
    pub(crate) signer: Option<Signer>,
    pub(crate) origin: Option<String>,
    pub(crate) every_events: Option<u64>,
    pub(crate) every: Option<Duration>,
    pub(crate) on_seal: bool,
    pub(crate) on_close: bool,
    pub(crate) external_dir: Option<PathBuf>,
    pub(crate) callback: Option<CheckpointCallback>,
}

impl Default for CheckpointSettings {
    fn default() -> Self {
        CheckpointSettings {
            signer: None,
            origin: None,
            every_events: Some(CHECKPOINT_EVERY_EVENTS_DEFAULT),
            every: Some(CHECKPOINT_EVERY_DEFAULT),
            on_seal: true,
            on_close: true,
            external_dir: None,
            callback: None,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("dir", &self.dir)
            .field("segment_bytes", &self.segment_bytes)
            .field("body_max", &self.body_max_effective())
            .field("batch_max", &self.batch_max)
            .field("queue_max", &self.queue_max)
            .field("max_delay", &self.max_delay)
            .field("failure_handler", &self.failure_handler.is_some())
            .field("panic_on_failure", &self.panic_on_failure)
            .field("signer", &self.checkpoints.signer.as_ref().map(Signer::key))
            .field("checkpoint_origin", &self.checkpoints.origin)
            .field("checkpoint_every_events", &self.checkpoints.every_events)
            .field("checkpoint_every", &self.checkpoints.every)
            .field("checkpoint_on_seal", &self.checkpoints.on_seal)
            .field("checkpoint_on_close", &self.checkpoints.on_close)
            .field("checkpoint_dir", &self.checkpoints.external_dir)
            .field("checkpoint_callback", &self.checkpoints.callback.is_some())
            .finish()
    }
}

impl Options {
    /// Defaults: 32 MiB segments, 1 MiB largest event body, batches of up to 4,096 events,
    /// back-pressure past 65,536 waiting events, group-commit delay 0 (the leader syncs at
    /// once; a batch is whoever arrived meanwhile). No checkpoints until [`Options::signer`].
    /// See [`Options`] for an example.
    pub fn new(dir: impl AsRef<Path>) -> Options {
        Options {
            dir: dir.as_ref().to_path_buf(),
            segment_bytes: 32 << 20,
            body_max: None,
            batch_max: 4096,
            queue_max: 65536,
            max_delay: Duration::ZERO,
            failure_handler: None,
            panic_on_failure: false,
            checkpoints: CheckpointSettings::default(),
        }
    }

    /// The preallocated size of each segment file: [`SEGMENT_BYTES_MIN`] to
    /// [`SEGMENT_BYTES_MAX`], and large enough for the largest record. See [`Options`] for an
    /// example.
    pub fn segment_bytes(mut self, bytes: u64) -> Options {
        self.segment_bytes = bytes;
        self
    }

    /// The largest encoded event body accepted; larger events get `Error::RecordTooLarge`.
    /// Default: 1 MiB, or a quarter of the segment size if that is smaller. See [`Options`]
    /// for an example.
    pub fn body_max(mut self, bytes: usize) -> Options {
        self.body_max = Some(bytes);
        self
    }

    /// The effective largest body (see [`Options::body_max`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::Options;
    ///
    /// assert_eq!(Options::new("audit").body_max_effective(), 1 << 20);
    /// assert_eq!(Options::new("audit").segment_bytes(1 << 20).body_max_effective(), 256 << 10);
    /// assert_eq!(Options::new("audit").body_max(4096).body_max_effective(), 4096);
    /// ```
    pub fn body_max_effective(&self) -> usize {
        self.body_max.unwrap_or_else(|| (1 << 20).min((self.segment_bytes / 4) as usize))
    }

    /// The most events one fdatasync covers. See [`Options`] for an example.
    pub fn batch_max(mut self, events: usize) -> Options {
        self.batch_max = events;
        self
    }

    /// The most events waiting for a batch; further emitters block (back-pressure). See
    /// [`Options`] for an example.
    pub fn queue_max(mut self, events: usize) -> Options {
        self.queue_max = events;
        self
    }

    /// How long a group-commit leader waits for more emitters before syncing. Default zero; a
    /// larger delay trades latency for fewer syncs under light concurrent load. See [`Options`]
    /// for an example.
    pub fn max_delay(mut self, delay: Duration) -> Options {
        self.max_delay = delay;
        self
    }

    /// Called with each error before `emit` returns it (and for adapters, which cannot return
    /// errors to their caller), and with an error of the implicit close when a sink is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use mtlog_audit::{Error, Level, Options, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// let failures = Arc::new(AtomicUsize::new(0));
    /// let seen = failures.clone();
    /// let options = Options::new(tmp.path()).body_max(128).failure_handler(move |e| {
    ///     assert!(matches!(e, Error::RecordTooLarge { .. }));
    ///     seen.fetch_add(1, Ordering::Relaxed); // e.g. alert, count, log elsewhere
    /// });
    /// let sink = Sink::open(options)?;
    /// let result = sink.event(Level::Information, &"x".repeat(500)).emit();
    /// assert!(result.is_err());
    /// assert_eq!(failures.load(Ordering::Relaxed), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn failure_handler(mut self, handler: impl Fn(&Error) + Send + Sync + 'static) -> Options {
        self.failure_handler = Some(Arc::new(handler));
        self
    }

    /// Panic (after calling the failure handler) instead of returning an error from `emit`.
    /// For services that must stop rather than carry on without their audit trail.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::{Level, Options, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// let sink = Sink::open(Options::new(tmp.path()).panic_on_failure(true))?;
    /// sink.close()?;
    /// let emit = || sink.event(Level::Information, "Late").emit();
    /// let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(emit));
    /// assert!(outcome.is_err()); // panicked: "audit sink failure: the sink is closed"
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_on_failure(mut self, yes: bool) -> Options {
        self.panic_on_failure = yes;
        self
    }

    /// Signs checkpoints with this key, which turns on the Merkle tree state, tiles and signed
    /// checkpoints (`DIR/merkle/`, `DIR/checkpoints/`). Load it with
    /// [`keys::signer_from_file`](crate::integrity::keys::signer_from_file) or
    /// [`keys::signer_from_env`](crate::integrity::keys::signer_from_env). Default cadence:
    /// every 10,000 events, every 60 s, on segment seal and on close.
    ///
    /// # Examples
    ///
    /// The checkpoint settings, all in one place:
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use mtlog_audit::integrity::note::Signer;
    /// use mtlog_audit::{Level, Options, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let (dir, elsewhere) = (tmp.path().join("log"), tmp.path().join("elsewhere"));
    /// let signer = Signer::from_seed("example.com/audit", [7; 32])?; // use io::Entropy
    /// let notes = Arc::new(Mutex::new(Vec::new()));
    /// let shipped = notes.clone();
    /// let options = Options::new(&dir)
    ///     .signer(signer)
    ///     .checkpoint_origin("example.com/audit/payments")
    ///     .checkpoint_every_events(Some(2))
    ///     .checkpoint_every(Some(Duration::from_secs(300)))
    ///     .checkpoint_on_seal(true)
    ///     .checkpoint_on_close(true)
    ///     .checkpoint_dir(&elsewhere) // best on another device or machine
    ///     .checkpoint_callback(move |note| shipped.lock().unwrap().push(note.to_owned()));
    /// let sink = Sink::open(options)?;
    /// for n in 0..2 {
    ///     sink.event(Level::Information, "Payment {N}").with("N", n).emit()?;
    /// }
    /// sink.close()?;
    ///
    /// let notes = notes.lock().unwrap();
    /// assert_eq!(notes.len(), 1); // after 2 events; the close found nothing new to sign
    /// assert!(notes[0].starts_with("example.com/audit/payments\n2\n"));
    /// assert_eq!(std::fs::read_dir(&elsewhere)?.count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn signer(mut self, signer: Signer) -> Options {
        self.checkpoints.signer = Some(signer);
        self
    }

    /// The checkpoint origin line (the log's public name, conventionally a schema-less URL).
    /// Default: the signing key's name (C2SP asks the origin to match it). Give each log its
    /// own key name or origin: two logs with one key and one origin cannot be told apart. Needs
    /// [`Options::signer`]; see there for an example.
    pub fn checkpoint_origin(mut self, origin: impl Into<String>) -> Options {
        self.checkpoints.origin = Some(origin.into());
        self
    }

    /// A checkpoint once this many events became durable since the last one (`None`: never
    /// by count). See [`Options::signer`] for an example.
    pub fn checkpoint_every_events(mut self, events: Option<u64>) -> Options {
        self.checkpoints.every_events = events;
        self
    }

    /// A checkpoint once this long passed since the last one, by the sink's monotonic clock,
    /// checked when a batch completes (`None`: never by time). No thread wakes up for it: an
    /// idle log gets its checkpoint at the next batch or on close. See [`Options::signer`] for an
    /// example.
    pub fn checkpoint_every(mut self, interval: Option<Duration>) -> Options {
        self.checkpoints.every = interval;
        self
    }

    /// A checkpoint when a segment is sealed (default on). See [`Options::signer`] for an
    /// example.
    pub fn checkpoint_on_seal(mut self, yes: bool) -> Options {
        self.checkpoints.on_seal = yes;
        self
    }

    /// A checkpoint on close (default on). See [`Options::signer`] for an example.
    pub fn checkpoint_on_close(mut self, yes: bool) -> Options {
        self.checkpoints.on_close = yes;
        self
    }

    /// Also write every checkpoint durably into this directory (best on another device or
    /// machine: truncation of the log is only detectable against a checkpoint kept elsewhere).
    /// One directory per log: files are named by tree size. Needs [`Options::signer`]; see
    /// there for an example.
    pub fn checkpoint_dir(mut self, dir: impl AsRef<Path>) -> Options {
        self.checkpoints.external_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Also hand every checkpoint note to this callback, after it is durable in the log
    /// directory. It runs on an emitting thread: keep it short (queue the note elsewhere). See
    /// [`Options::signer`] for an example.
    pub fn checkpoint_callback(
        mut self,
        callback: impl Fn(&str) + Send + Sync + 'static,
    ) -> Options {
        self.checkpoints.callback = Some(Arc::new(callback));
        self
    }

    /// The log directory. See [`Options`] for an example.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks every option.
    ///
    /// # Errors
    /// `Error::Config` with the first problem found:
    /// - [`ConfigError::EmptyPath`] if the directory path is empty;
    /// - [`ConfigError::OutOfRange`] naming `segment_bytes`, `body_max`, `batch_max`,
    ///   `queue_max`, `max_delay (µs)`, `checkpoint_every_events` or `checkpoint_every (ms)`
    ///   with its allowed range;
    /// - [`ConfigError::CheckpointWithoutSigner`] if a checkpoint origin or directory is set
    ///   without [`Options::signer`];
    /// - [`ConfigError::CheckpointOrigin`] if the origin cannot be a checkpoint's first line;
    /// - [`ConfigError::RecordLargerThanSegment`] if the largest record does not fit a segment.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::error::ConfigError;
    /// use mtlog_audit::{Error, Options};
    ///
    /// assert!(Options::new("audit").validate().is_ok());
    /// let bad = Options::new("audit").segment_bytes(100).validate();
    /// assert!(matches!(
    ///     bad,
    ///     Err(Error::Config(ConfigError::OutOfRange { option: "segment_bytes", .. }))
    /// ));
    /// let bad = Options::new("audit").checkpoint_dir("/elsewhere").validate();
    /// assert!(matches!(bad, Err(Error::Config(ConfigError::CheckpointWithoutSigner))));
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        if self.dir.as_os_str().is_empty() {
            return Err(ConfigError::EmptyPath.into());
        }
        range("segment_bytes", self.segment_bytes, SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX)?;
        let body_max = self.body_max_effective();
        range("body_max", body_max as u64, 1, RECORD_BODY_HARD_MAX as u64)?;
        range("batch_max", self.batch_max as u64, 1, QUEUE_MAX_MAX as u64)?;
        range("queue_max", self.queue_max as u64, 1, QUEUE_MAX_MAX as u64)?;
        let delay = u64::try_from(self.max_delay.as_micros()).unwrap_or(u64::MAX);
        range("max_delay (µs)", delay, 0, MAX_DELAY_MAX.as_micros() as u64)?;
        self.validate_checkpoints()?;
        let record_bytes = (SEGMENT_HEADER_LEN
            + framed_len(body_max)
            + SEAL_RECORD_LEN.max(COMMIT_RECORD_LEN)) as u64;
        if record_bytes > self.segment_bytes {
            return Err(ConfigError::RecordLargerThanSegment {
                record_bytes,
                segment_bytes: self.segment_bytes,
            }
            .into());
        }
        Ok(())
    }
}

impl Options {
    fn validate_checkpoints(&self) -> Result<(), Error> {
        let c = &self.checkpoints;
        if c.signer.is_none() && (c.origin.is_some() || c.external_dir.is_some()) {
            return Err(ConfigError::CheckpointWithoutSigner.into());
        }
        if let Some(origin) = &c.origin {
            if let Err(defect) =
                crate::integrity::checkpoint::Checkpoint::new(origin.clone(), 0, [0; 32])
            {
                return Err(ConfigError::CheckpointOrigin { defect }.into());
            }
        }
        if let Some(n) = c.every_events {
            range("checkpoint_every_events", n, 1, u64::MAX)?;
        }
        if let Some(every) = c.every {
            let ms = u64::try_from(every.as_millis()).unwrap_or(u64::MAX);
            range("checkpoint_every (ms)", ms, 1, u64::MAX)?;
        }
        Ok(())
    }
}

fn range(option: &'static str, value: u64, min: u64, max: u64) -> Result<(), Error> {
    if value < min || value > max {
        return Err(ConfigError::OutOfRange { option, value, min, max }.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_each_bad_value_is_named() {
        assert!(Options::new("x").validate().is_ok());
        let bad = Options::new("x").segment_bytes(100).validate();
        assert!(matches!(
            bad,
            Err(Error::Config(ConfigError::OutOfRange { option: "segment_bytes", .. }))
        ));
        let bad = Options::new("x").segment_bytes(8192).body_max(1 << 20).validate();
        assert!(matches!(bad, Err(Error::Config(ConfigError::RecordLargerThanSegment { .. }))));
        assert!(matches!(Options::new("").validate(), Err(Error::Config(ConfigError::EmptyPath))));
        let bad = Options::new("x").batch_max(0).validate();
        assert!(matches!(
            bad,
            Err(Error::Config(ConfigError::OutOfRange { option: "batch_max", .. }))
        ));
    }

    #[test]
    fn a_segment_larger_than_any_reader_loads_is_refused() {
        // Regression (issue #19, defect 4): 1 TiB segments were accepted, and no reader could
        // load one (each reads a segment whole). The bound is the readers' own.
        let at_max = Options::new("x").segment_bytes(crate::wal::format::SEGMENT_LEN_MAX);
        assert!(at_max.validate().is_ok());
        for bytes in [crate::wal::format::SEGMENT_LEN_MAX + 1, 3 << 30, 1 << 40] {
            let bad = Options::new("x").segment_bytes(bytes).validate();
            assert!(
                matches!(
                    bad,
                    Err(Error::Config(ConfigError::OutOfRange { option: "segment_bytes", .. }))
                ),
                "{bytes}: {bad:?}"
            );
        }
    }

    #[test]
    fn checkpoint_options_are_checked() {
        let signer = Signer::from_seed("k", [1; 32]).unwrap();
        assert!(Options::new("x").signer(signer.clone()).validate().is_ok());
        let bad = Options::new("x").checkpoint_dir("/elsewhere").validate();
        assert!(matches!(bad, Err(Error::Config(ConfigError::CheckpointWithoutSigner))));
        let bad = Options::new("x").signer(signer.clone()).checkpoint_origin("a\nb").validate();
        assert!(matches!(bad, Err(Error::Config(ConfigError::CheckpointOrigin { .. }))));
        let bad = Options::new("x").signer(signer).checkpoint_every_events(Some(0)).validate();
        assert!(matches!(bad, Err(Error::Config(ConfigError::OutOfRange { .. }))));
    }
}
