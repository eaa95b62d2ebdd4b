//! Errors: operating errors (I/O, full disk, bad configuration), corruption found on disk, and
//! the poisoned state after an I/O error the log cannot prove it survived.
//!
//! Every variant carries data, not prose: the segment, the byte offset, the seq range, what was
//! expected and what was found. `Display` is lowercase without a trailing period.
//!
//! # Examples
//!
//! Match on the variant, never on the message:
//!
//! ```
//! use mtlog_audit::{Error, Level, Options, Result, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let sink = Sink::open(Options::new(dir).body_max(64))?;
//! let big: Result<_> = sink.event(Level::Information, "{B}").with("B", "x".repeat(100)).emit();
//! match big {
//!     Err(Error::RecordTooLarge { len, max }) => assert!(len > max && max == 64),
//!     other => panic!("expected RecordTooLarge, got {other:?}"),
//! }
//! // A second writer on the same directory is refused while the first holds it.
//! let second = Sink::open(Options::new(dir));
//! assert!(matches!(second, Err(Error::AlreadyOpen { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::wal::format::SegmentId;

/// The umbrella error of the crate.
///
/// Match on the variant, never on the message. What each one means for an `emit` is in the
/// README's table and on [`Sink::emit`](crate::Sink::emit): only `Poisoned` leaves the outcome
/// unknown.
///
/// # Examples
///
/// ```
/// use mtlog_audit::error::ConfigError;
/// use mtlog_audit::{Error, Options, Sink};
///
/// # let tmp = tempfile::tempdir()?;
/// match Sink::open(Options::new(tmp.path()).segment_bytes(1)) {
///     Err(Error::Config(ConfigError::OutOfRange { option, value, .. })) => {
///         assert_eq!((option, value), ("segment_bytes", 1));
///     }
///     other => panic!("expected a configuration error, got {:?}", other.err()),
/// }
/// let e = Error::Config(ConfigError::EmptyPath);
/// assert_eq!(e.to_string(), "invalid configuration: the log directory path is empty");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// Invalid configuration, found at construction.
    Config(ConfigError),
    /// Another writer holds the log directory's lock.
    AlreadyOpen {
        /// The log directory.
        dir: PathBuf,
    },
    /// The disk or quota is full. Nothing of the failed call was acknowledged; the log is not
    /// poisoned and calls succeed again once space is freed.
    DiskFull {
        /// What the log was doing.
        op: &'static str,
        /// The file involved.
        path: PathBuf,
    },
    /// An earlier write or sync failed, so the log can no longer prove what is on disk. Every
    /// call fails with this until the log is reopened (which recovers to durable data only).
    Poisoned(Arc<PoisonCause>),
    /// An I/O error outside the write path (opening, listing, reading).
    Io {
        /// What the log was doing.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The kind of the underlying error.
        kind: io::ErrorKind,
        /// The raw OS error number, when there is one.
        errno: Option<i32>,
    },
    /// Damage at or below the durable watermark: acknowledged data may be affected. Never
    /// truncated; see `docs/recovery.md`.
    Corruption(Corruption),
    /// An event body that does not encode (`emit`: seq 0, nothing stored), or a record body
    /// that does not decode (for example an event written by a newer version).
    Body {
        /// The record's seq (0 when encoding an event not yet stored).
        seq: u64,
        /// Why, as the body codec says it.
        source: crate::event::BodyError,
    },
    /// A single event too large for one record.
    RecordTooLarge {
        /// The encoded body length.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The sink was closed.
    Closed,
    /// A segment file larger than any reader loads
    /// ([`SEGMENT_LEN_MAX`](crate::wal::format::SEGMENT_LEN_MAX)): damage (or a file that is
    /// not a segment of this log). Refused before anything is allocated for it.
    SegmentTooLarge {
        /// The segment file.
        path: PathBuf,
        /// Its length on disk.
        len: u64,
        /// The largest length read.
        max: u64,
    },
    /// The log's last segment id is above
    /// [`SEGMENT_ID_MAX`](crate::wal::format::SEGMENT_ID_MAX): no writer continues after it (ids
    /// count rotations from 1, so such an id was crafted or renamed). Readers still read it.
    SegmentIdOutOfRange {
        /// The segment file.
        path: PathBuf,
        /// Its id.
        id: SegmentId,
        /// The highest id a writer continues after.
        max: u64,
    },
    /// The log holds fewer events than a checkpoint its own key signed: it was truncated or
    /// rolled back (or the disk lost fsynced data). The sink refuses to open rather than sign
    /// a second, conflicting history.
    BehindCheckpoint {
        /// Events in the log.
        tree_size: u64,
        /// The tree size the checkpoint states.
        checkpoint_size: u64,
        /// The checkpoint file.
        path: PathBuf,
    },
}

/// Why the log was poisoned.
///
/// # Examples
///
/// What every call returns after an `fdatasync` failed with `EIO` (built by hand here: a real
/// one needs a failing disk, as the simulator provides):
///
/// ```
/// use std::io::ErrorKind;
/// use std::sync::Arc;
/// use mtlog_audit::error::PoisonCause;
/// use mtlog_audit::Error;
///
/// let path = "/var/lib/audit/segment".into();
/// let cause = PoisonCause { op: "fdatasync", path, kind: ErrorKind::Other, errno: Some(5) };
/// let err = Error::Poisoned(Arc::new(cause));
/// assert_eq!(
///     err.to_string(),
///     "log poisoned: fdatasync of /var/lib/audit/segment failed: other error (errno 5); \
///      reopen the log to recover"
/// );
/// if let Error::Poisoned(cause) = &err {
///     assert_eq!((cause.op, cause.errno), ("fdatasync", Some(5)));
/// }
/// ```
#[derive(Debug)]
pub struct PoisonCause {
    /// The operation that failed (`"write"`, `"fdatasync"`, ...).
    pub op: &'static str,
    /// The file involved.
    pub path: PathBuf,
    /// The underlying error kind.
    pub kind: io::ErrorKind,
    /// The raw OS error number, when there is one.
    pub errno: Option<i32>,
}

/// Damage found on disk, with its exact location.
///
/// # Examples
///
/// A flipped bit in the second record, as a reader and the sink report it:
///
/// ```
/// use mtlog_audit::error::{Corruption, DamageKind};
/// use mtlog_audit::wal::format::RECORD_HEADER_LEN;
/// use mtlog_audit::wal::segment;
/// use mtlog_audit::{Error, Level, Options, Reader, Sink};
///
/// # let tmp = tempfile::tempdir()?;
/// # let dir = tmp.path();
/// let sink = Sink::open(Options::new(dir))?;
/// for n in 1..=3 {
///     sink.event(Level::Information, "Event {N}").with("N", n).emit()?;
/// }
/// sink.close()?;
/// let second = Reader::open(dir)?.replay(2..=2)?.next().unwrap()?;
/// let path = dir.join(segment::file_name(second.segment));
/// let mut bytes = std::fs::read(&path)?;
/// bytes[second.offset as usize + RECORD_HEADER_LEN] ^= 1; // a bit of seq 2's body
/// std::fs::write(&path, bytes)?;
///
/// let found: Corruption = Reader::open(dir)?.corruption().cloned().unwrap();
/// assert_eq!((found.segment, found.offset), (second.segment, second.offset));
/// assert_eq!(found.seq_range.0, 2);
/// assert!(matches!(found.kind, DamageKind::Checksum { .. }));
/// let text = found.to_string();
/// let place = format!("segment {} offset {}: checksum mismatch", second.segment, second.offset);
/// assert!(text.starts_with(&place), "{text}");
///
/// // Damage below the durable watermark: the sink refuses to open, naming the same place.
/// match Sink::open(Options::new(dir)) {
///     Err(Error::Corruption(c)) => assert_eq!(c, found),
///     other => panic!("expected corruption, got {:?}", other.err()),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// The segment holding the damage.
    pub segment: SegmentId,
    /// The byte offset in that segment's file where the damage starts.
    pub offset: u64,
    /// The seqs whose records are affected or expected there (inclusive bounds).
    pub seq_range: (u64, u64),
    /// What was found.
    pub kind: DamageKind,
}

/// What kind of damage was found. See [`Corruption`] for an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum DamageKind {
    /// A record header whose checksum does not match the bytes found.
    Checksum {
        /// The checksum stored in the record header.
        stored: u32,
        /// The checksum computed over the bytes found.
        computed: u32,
    },
    /// Unparseable bytes without a recognisable record header (bad magic, impossible length,
    /// a record cut short).
    Garbage,
    /// Zero bytes where a record was required, followed by valid records.
    Hole,
    /// A valid record that belongs elsewhere (another segment or another log).
    Misdirected {
        /// The segment id the record names.
        found_segment: SegmentId,
    },
    /// A record whose seq is not the next one.
    SeqGap {
        /// The seq expected here.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// A record whose predecessor hash does not match the chain.
    ChainBreak {
        /// The seq of the record.
        seq: u64,
    },
    /// A segment file whose header does not verify.
    SegmentHeader,
    /// A segment id missing from the sequence of segment files.
    MissingSegment,
    /// A sealed segment whose seal disagrees with its records (count, last seq or xxh3).
    SealMismatch,
    /// An I/O error reading the bytes (a latent sector error).
    ReadError,
    /// Bytes past the length known durable after a failed fsync in this process.
    UnsyncedAfterFailedSync,
    /// A checksummed record or segment header of a format version this build cannot read.
    Unsupported,
}

/// Invalid configuration.
///
/// # Examples
///
/// ```
/// use mtlog_audit::error::ConfigError;
/// use mtlog_audit::integrity::checkpoint::CheckpointTextError;
/// use mtlog_audit::integrity::note::Signer;
/// use mtlog_audit::options::SEGMENT_BYTES_MIN;
/// use mtlog_audit::{Error, Options};
///
/// let dir = "/var/lib/myservice/audit"; // validation touches no file
/// let small = Options::new(dir).segment_bytes(SEGMENT_BYTES_MIN).body_max(64 << 10);
/// let err = small.validate().unwrap_err();
/// let Error::Config(ConfigError::RecordLargerThanSegment { record_bytes, segment_bytes }) = err
/// else {
///     panic!("expected RecordLargerThanSegment, got {err:?}");
/// };
/// assert_eq!(segment_bytes, 4096);
/// assert!(record_bytes > 64 << 10); // a 64 KiB body does not fit a 4 KiB segment
///
/// let unsigned = Options::new(dir).checkpoint_origin("example.com/audit").validate();
/// let err = unsigned.unwrap_err();
/// assert!(matches!(err, Error::Config(ConfigError::CheckpointWithoutSigner)));
/// assert_eq!(
///     err.to_string(),
///     "invalid configuration: checkpoint options need a signing key (Options::signer)"
/// );
///
/// let signer = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
/// let unnamed = Options::new(dir).signer(signer).checkpoint_origin("").validate();
/// let Err(Error::Config(ConfigError::CheckpointOrigin { defect })) = unnamed else {
///     panic!("expected CheckpointOrigin, got {unnamed:?}");
/// };
/// assert_eq!(defect, CheckpointTextError::EmptyLine { line: 1 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A numeric option outside its allowed range.
    OutOfRange {
        /// The option's name.
        option: &'static str,
        /// The value given.
        value: u64,
        /// The smallest allowed value.
        min: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// The largest record does not fit in a segment.
    RecordLargerThanSegment {
        /// The largest record, framed, in bytes.
        record_bytes: u64,
        /// The segment size in bytes.
        segment_bytes: u64,
    },
    /// The directory path is empty.
    EmptyPath,
    /// A checkpoint option was set without a signing key ([`Options::signer`]).
    ///
    /// [`Options::signer`]: crate::Options::signer
    CheckpointWithoutSigner,
    /// The checkpoint origin cannot be a checkpoint's first line.
    CheckpointOrigin {
        /// What is wrong with it.
        defect: crate::integrity::checkpoint::CheckpointTextError,
    },
}

/// The crate's result type. See the [module docs](self) for an example.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, err: &io::Error) -> Error {
        Error::Io { op, path: path.into(), kind: err.kind(), errno: err.raw_os_error() }
    }

    pub(crate) fn poisoned(op: &'static str, path: impl Into<PathBuf>, err: &io::Error) -> Error {
        Error::Poisoned(Arc::new(PoisonCause {
            op,
            path: path.into(),
            kind: err.kind(),
            errno: err.raw_os_error(),
        }))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "invalid configuration: {e}"),
            Error::AlreadyOpen { dir } => write!(
                f,
                "log directory {} is already open for writing by another sink or process",
                dir.display()
            ),
            Error::DiskFull { op, path } => write!(
                f,
                "disk full during {op} of {}: nothing was acknowledged; retry once space is freed",
                path.display()
            ),
            Error::Poisoned(cause) => write!(f, "log poisoned: {cause}; reopen the log to recover"),
            Error::Io { op, path, kind, errno } => {
                write!(f, "{op} of {} failed: {kind}", path.display())?;
                if let Some(errno) = errno {
                    write!(f, " (errno {errno})")?;
                }
                Ok(())
            }
            Error::Corruption(c) => write!(f, "{c}"),
            Error::Body { seq, source } => write!(f, "record seq {seq}: {source}"),
            Error::RecordTooLarge { len, max } => {
                write!(f, "event body of {len} bytes exceeds the record limit of {max} bytes")
            }
            Error::Closed => write!(f, "the sink is closed"),
            Error::SegmentTooLarge { path, len, max } => write!(
                f,
                "segment file {} is {len} bytes, larger than the {max} bytes a reader loads: \
                 damaged, or not a segment of this log",
                path.display()
            ),
            Error::SegmentIdOutOfRange { path, id, max } => write!(
                f,
                "segment file {} has id {id}, above the highest id a writer continues after \
                 ({max}): renamed or crafted; read it with a reader",
                path.display()
            ),
            Error::BehindCheckpoint { tree_size, checkpoint_size, path } => write!(
                f,
                "log holds {tree_size} events but its signed checkpoint {} states \
                 {checkpoint_size}: the log was truncated or rolled back",
                path.display()
            ),
        }
    }
}

impl fmt::Display for PoisonCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {} failed: {}", self.op, self.path.display(), self.kind)?;
        if let Some(errno) = self.errno {
            write!(f, " (errno {errno})")?;
        }
        Ok(())
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "segment {} offset {}: {} (seqs {}..={})",
            self.segment, self.offset, self.kind, self.seq_range.0, self.seq_range.1
        )
    }
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DamageKind::Checksum { stored, computed } => {
                write!(f, "checksum mismatch, stored {stored:#010x}, computed {computed:#010x}")
            }
            DamageKind::Garbage => write!(f, "bytes that are not a record"),
            DamageKind::Hole => write!(f, "zeroed hole before later records"),
            DamageKind::Misdirected { found_segment } => {
                write!(f, "misdirected record naming segment {found_segment}")
            }
            DamageKind::SeqGap { expected, found } => {
                write!(f, "seq gap, expected {expected}, found {found}")
            }
            DamageKind::ChainBreak { seq } => {
                write!(f, "hash chain broken at seq {seq}: predecessor hash does not match")
            }
            DamageKind::SegmentHeader => write!(f, "segment header does not verify"),
            DamageKind::MissingSegment => write!(f, "segment file missing"),
            DamageKind::SealMismatch => write!(f, "seal disagrees with the segment's records"),
            DamageKind::ReadError => write!(f, "read error"),
            DamageKind::UnsyncedAfterFailedSync => {
                write!(f, "bytes past the last successful sync before a failed fsync")
            }
            DamageKind::Unsupported => {
                write!(f, "record of a newer format version; upgrade mtlog-audit to read it")
            }
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::OutOfRange { option, value, min, max } => {
                write!(f, "{option} is {value}, expected {min}..={max}")
            }
            ConfigError::RecordLargerThanSegment { record_bytes, segment_bytes } => write!(
                f,
                "largest record ({record_bytes} bytes framed) does not fit a segment of \
                 {segment_bytes} bytes"
            ),
            ConfigError::EmptyPath => write!(f, "the log directory path is empty"),
            ConfigError::CheckpointWithoutSigner => {
                write!(f, "checkpoint options need a signing key (Options::signer)")
            }
            ConfigError::CheckpointOrigin { defect } => {
                write!(f, "checkpoint origin is not a valid origin line: {defect}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Body { source, .. } => Some(source),
            _ => None,
        }
    }
}
impl std::error::Error for ConfigError {}
impl std::error::Error for Corruption {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Config(e)
    }
}

impl From<Corruption> for Error {
    fn from(c: Corruption) -> Error {
        Error::Corruption(c)
    }
}
