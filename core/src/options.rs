//! Sink options, validated at construction: a bad value is a typed error before any file is
//! touched, never a surprise at the first `emit`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{ConfigError, Error};
use crate::integrity::note::Signer;
use crate::wal::format::{
    framed_len, COMMIT_RECORD_LEN, RECORD_BODY_HARD_MAX, SEAL_RECORD_LEN, SEGMENT_HEADER_LEN,
};

/// Called with every error an `emit` (or an adapter) reports, before it is returned.
pub type FailureHandler = Arc<dyn Fn(&Error) + Send + Sync>;

/// Called with each signed checkpoint note once it is durable in the log directory (for example
/// to ship it to a witness or another machine: truncation is detectable only against a
/// checkpoint held outside the log).
pub type CheckpointCallback = Arc<dyn Fn(&str) + Send + Sync>;

/// Default cadence: a checkpoint at least every this many events.
pub const CHECKPOINT_EVERY_EVENTS_DEFAULT: u64 = 10_000;
/// Default cadence: a checkpoint at least this often while events arrive.
pub const CHECKPOINT_EVERY_DEFAULT: Duration = Duration::from_secs(60);

/// Smallest segment accepted.
pub const SEGMENT_BYTES_MIN: u64 = 4 << 10;
/// Largest segment accepted.
pub const SEGMENT_BYTES_MAX: u64 = 1 << 40;
/// Largest group-commit delay accepted.
pub const MAX_DELAY_MAX: Duration = Duration::from_secs(1);
/// Largest number of events waiting for one batch.
pub const QUEUE_MAX_MAX: usize = 1 << 20;

/// How to open a sink. Start from [`Options::new`] and override what you need.
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
    /// once; a batch is whoever arrived meanwhile).
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

    /// The preallocated size of each segment file.
    pub fn segment_bytes(mut self, bytes: u64) -> Options {
        self.segment_bytes = bytes;
        self
    }

    /// The largest encoded event body accepted; larger events get `Error::RecordTooLarge`.
    /// Default: 1 MiB, or a quarter of the segment size if that is smaller.
    pub fn body_max(mut self, bytes: usize) -> Options {
        self.body_max = Some(bytes);
        self
    }

    /// The effective largest body (see [`Options::body_max`]).
    pub fn body_max_effective(&self) -> usize {
        self.body_max.unwrap_or_else(|| (1 << 20).min((self.segment_bytes / 4) as usize))
    }

    /// The most events one fdatasync covers.
    pub fn batch_max(mut self, events: usize) -> Options {
        self.batch_max = events;
        self
    }

    /// The most events waiting for a batch; further emitters block (back-pressure).
    pub fn queue_max(mut self, events: usize) -> Options {
        self.queue_max = events;
        self
    }

    /// How long a group-commit leader waits for more emitters before syncing. Default zero; a
    /// larger delay trades latency for fewer syncs under light concurrent load.
    pub fn max_delay(mut self, delay: Duration) -> Options {
        self.max_delay = delay;
        self
    }

    /// Called with each error before `emit` returns it (and for adapters, which cannot return
    /// errors to their caller).
    pub fn failure_handler(mut self, handler: impl Fn(&Error) + Send + Sync + 'static) -> Options {
        self.failure_handler = Some(Arc::new(handler));
        self
    }

    /// Panic (after calling the failure handler) instead of returning an error from `emit`.
    pub fn panic_on_failure(mut self, yes: bool) -> Options {
        self.panic_on_failure = yes;
        self
    }

    /// Signs checkpoints with this key, which turns on the Merkle tree state, tiles and signed
    /// checkpoints (`DIR/merkle/`, `DIR/checkpoints/`). Load it with
    /// [`keys::signer_from_file`](crate::integrity::keys::signer_from_file) or
    /// [`keys::signer_from_env`](crate::integrity::keys::signer_from_env). Default cadence:
    /// every 10,000 events, every 60 s, on segment seal and on close.
    pub fn signer(mut self, signer: Signer) -> Options {
        self.checkpoints.signer = Some(signer);
        self
    }

    /// The checkpoint origin line (the log's public name, conventionally a schema-less URL).
    /// Default: `mtlog-audit/<log id as 32 hex digits>`.
    pub fn checkpoint_origin(mut self, origin: impl Into<String>) -> Options {
        self.checkpoints.origin = Some(origin.into());
        self
    }

    /// A checkpoint once this many events became durable since the last one (`None`: never
    /// by count).
    pub fn checkpoint_every_events(mut self, events: Option<u64>) -> Options {
        self.checkpoints.every_events = events;
        self
    }

    /// A checkpoint once this long passed since the last one, by the sink's monotonic clock,
    /// checked when a batch completes (`None`: never by time). No thread wakes up for it: an
    /// idle log gets its checkpoint at the next batch or on close.
    pub fn checkpoint_every(mut self, interval: Option<Duration>) -> Options {
        self.checkpoints.every = interval;
        self
    }

    /// A checkpoint when a segment is sealed (default on).
    pub fn checkpoint_on_seal(mut self, yes: bool) -> Options {
        self.checkpoints.on_seal = yes;
        self
    }

    /// A checkpoint on close (default on).
    pub fn checkpoint_on_close(mut self, yes: bool) -> Options {
        self.checkpoints.on_close = yes;
        self
    }

    /// Also write every checkpoint durably into this directory (best on another device or
    /// machine: truncation of the log is only detectable against a checkpoint kept elsewhere).
    /// One directory per log: files are named by tree size.
    pub fn checkpoint_dir(mut self, dir: impl AsRef<Path>) -> Options {
        self.checkpoints.external_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Also hand every checkpoint note to this callback, after it is durable in the log
    /// directory. It runs on an emitting thread: keep it short (queue the note elsewhere).
    pub fn checkpoint_callback(
        mut self,
        callback: impl Fn(&str) + Send + Sync + 'static,
    ) -> Options {
        self.checkpoints.callback = Some(Arc::new(callback));
        self
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks every option.
    ///
    /// # Errors
    /// `Error::Config` naming the first invalid option.
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
