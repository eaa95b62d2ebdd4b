//! Reading a log: replay by seq or time range, and `verify_integrity`.
//!
//! A reader opens the directory read-only and takes no lock, so it is safe beside a running
//! writer. It shows only seqs up to the durable watermark proven on disk (records carry it;
//! the writer's commit marker publishes it when idle): a record a reader returned can never be
//! lost by a later crash. In salvage mode it also returns every valid record past damage.
//!
//! The index (per segment: seq range, min/max timestamp, and every shown record's seq, offset
//! and length, 24 bytes a record) is rebuilt on open from the scan; timestamps are never assumed
//! sorted, because the wall clock can step back. A replay reads exactly the indexed records and
//! reports, with its place, any it can no longer read.
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::filter::Filter;
//! use mtlog_audit::{Level, Options, Reader, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let sink = Sink::open(Options::new(dir))?;
//! sink.event(Level::Information, "Login {User}").with("User", "alice").emit()?;
//! sink.event(Level::Warning, "Login failed for {User}").with("User", "bob").emit()?;
//!
//! // Beside the running sink: no lock, and only what is durable.
//! let reader = Reader::open(dir)?;
//! let warnings = Filter::parse("level >= warning")?;
//! let mut found = Vec::new();
//! for stored in reader.replay(1..=u64::MAX)? {
//!     let stored = stored?;
//!     if warnings.matches(&stored.event) {
//!         found.push(stored.event.message);
//!     }
//! }
//! assert_eq!(found, ["Login failed for bob"]);
//! assert_eq!(reader.replay_time(i64::MIN, i64::MAX)?.count(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::error::{Corruption, DamageKind, Error};
use crate::event::{BodyError, Event};
use crate::integrity::audit::{
    self, AuditReport, CheckpointInput, ConsistencyProof, InclusionProof,
};
use crate::integrity::bundle::{self, Bundle, BundleError, BUNDLE_ENTRIES_MAX, BUNDLE_FORMAT};
use crate::integrity::chain::{self, Hash};
use crate::integrity::checkpoint::Checkpoint;
use crate::integrity::keys::{self, KeyRotation};
use crate::integrity::merkle::{self, HashSource, ProofError, StoredTree};
use crate::integrity::note;
use crate::integrity::note::Verifier;
use crate::integrity::store::{self, CheckpointFile, TileRead};
use crate::integrity::tiles::{self, Tile, TILE_WIDTH};
use crate::io::{Disk, OpenMode, RealDisk};
use crate::wal::format::{
    self, BodyEncoding, RecordHeader, RecordKind, SegmentId, FLAG_CLOCK_ADJUSTED,
    RECORD_BODY_HARD_MAX,
};
use crate::wal::open;
use crate::wal::recovery::{self, Finding};
use crate::wal::scan::{self, Item};
use crate::wal::segment;

/// An event read back from the log, with where it was stored. See [`Reader::replay`] for an
/// example.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// Its seq.
    pub seq: u64,
    /// When the record was stamped: the writing sink's wall clock as the record joined the
    /// queue, in seq order (the event's own time is `event.timestamp_nanos`, from the body).
    pub timestamp_nanos: i64,
    /// Whether this stamp is below the previous record's: the writer's wall clock stepped back.
    pub clock_adjusted: bool,
    /// The chain hash after this event.
    pub chain_hash: Hash,
    /// The segment holding it.
    pub segment: SegmentId,
    /// Its offset in the segment file.
    pub offset: u64,
    /// The event.
    pub event: Event,
}

/// An event record's raw parts: what its leaf hash covers (see `integrity::chain`). See
/// [`Reader::records`] for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawRecord {
    /// Its seq.
    pub seq: u64,
    /// The raw timestamp.
    pub timestamp_nanos: i64,
    /// The header flags.
    pub flags: u16,
    /// The body encoding byte (0 postcard, 1 envelope).
    pub encoding: u8,
    /// The body bytes.
    pub body: Vec<u8>,
    /// The RFC 6962 leaf hash of the record.
    pub leaf_hash: Hash,
}

/// What checking the stored tiles against the tree recomputed from the WAL found. See
/// [`Reader::check_merkle_cache`] for an example.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MerkleCacheReport {
    /// Tiles read and compared.
    pub tiles_checked: u64,
    /// Full tiles the tree should have that are not stored (checkpoints were off, or lost).
    pub tiles_missing: u64,
    /// Tiles that did not decode or could not be read, by path, with what was wrong: damage
    /// to the cache.
    pub tiles_damaged: Vec<(PathBuf, String)>,
    /// Tiles whose checksum and log id are intact but whose hashes are not this log's: they
    /// were written for another history of it. Evidence that the log was rewritten or
    /// truncated after they were written (see `docs/security.md`), not cache damage.
    pub tiles_conflicting: Vec<(PathBuf, TileConflict)>,
}

/// How an intact tile contradicts the log. See [`MerkleCacheReport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TileConflict {
    /// Its hashes differ from the log's at the same indexes: records were changed.
    Disagrees,
    /// It holds hashes past the log's end: the log was longer when it was written.
    PastEnd {
        /// Hashes past the end.
        hashes: u64,
    },
}

impl std::fmt::Display for TileConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TileConflict::Disagrees => write!(f, "records other hashes than the log's"),
            TileConflict::PastEnd { hashes } => {
                write!(f, "holds {hashes} hash(es) past the log's end: the log was longer")
            }
        }
    }
}

/// The result of [`Reader::verify_integrity`] (see there for an example).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Segment files.
    pub segments: usize,
    /// Valid event records.
    pub events: u64,
    /// The first and last seq of the valid prefix (`None` for an empty log).
    pub seq_range: Option<(u64, u64)>,
    /// The proven durable watermark.
    pub watermark: u64,
    /// The chain hash at the end of the valid prefix.
    pub head_hash: Hash,
    /// Every anomaly, in log order, with its location and the seq expected there.
    pub findings: Vec<Finding>,
}

impl IntegrityReport {
    /// Whether the log has no anomaly at all. See [`Reader::verify_integrity`] for an example.
    pub fn is_valid(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Per-segment index entry.
#[derive(Clone, Debug)]
struct SegmentIndex {
    id: SegmentId,
    /// The id its records name (see [`SegmentScan::named`](crate::wal::scan::SegmentScan)).
    named: SegmentId,
    path: PathBuf,
    seq_first: u64,
    seq_last: u64,
    ts_min: i64,
    ts_max: i64,
    /// Every event record this reader shows in the segment, in file order.
    /// A replay reads exactly these and reports any it can no longer read: the scan found them
    /// valid, so a failure now is damage (or a rewrite) since the open, never skipped silently.
    records: Vec<Indexed>,
}

/// One event record a reader shows: what the scan found at open, checked again on every read.
#[derive(Clone, Copy, Debug)]
struct Indexed {
    seq: u64,
    offset: u64,
    /// Bytes it occupies, padding included (at most a header and the hard body limit).
    len: u32,
}

/// A read-only view of a log directory. See [`Reader::open`] for an example.
pub struct Reader<D: Disk = RealDisk> {
    disk: Arc<D>,
    dir: PathBuf,
    log_id: u128,
    segments: Vec<SegmentIndex>,
    salvage: bool,
    report: IntegrityReport,
    stopped_by: Option<Corruption>,
    /// Leaf hashes of the valid prefix, seq 1 first: the Merkle tree's leaves.
    leaves: Vec<Hash>,
    /// Every subtree, computed from `leaves` on first need (when tiles are missing or damaged).
    rebuilt: OnceLock<StoredTree>,
}

impl Reader {
    /// Opens `dir` read-only on the real disk, showing the durable valid prefix.
    ///
    /// The reader takes no lock, so it can run beside a sink; it shows what was durable when
    /// it was opened.
    ///
    /// # Errors
    /// - `Error::Io` if the directory cannot be listed (`kind: NotFound` if it does not
    ///   exist) or a segment file cannot be opened, sized or read past its damage.
    /// - `Error::Corruption` (`DamageKind::SegmentHeader`) if segment files exist but none has
    ///   a header that names the log.
    ///
    /// Damage inside the log is not an error: the reader shows the valid prefix and reports
    /// the damage ([`Reader::corruption`], [`Reader::verify_integrity`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::{Error, Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let sink = Sink::open(Options::new(dir))?;
    /// sink.event(Level::Information, "First").emit()?;
    ///
    /// let reader = Reader::open(dir)?; // beside the running sink
    /// assert_eq!(reader.seq_last(), 1);
    /// assert_eq!(reader.log_id(), sink.recovery_report().log_id);
    /// assert_eq!(reader.dir(), dir);
    /// assert!(!reader.is_salvage());
    /// assert!(reader.corruption().is_none());
    ///
    /// let missing = Reader::open(dir.join("no-such-log"));
    /// assert!(matches!(missing, Err(Error::Io { kind: std::io::ErrorKind::NotFound, .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader, Error> {
        Reader::open_with(Arc::new(RealDisk), dir.as_ref(), false)
    }

    /// Opens `dir` read-only in salvage mode: every valid record, past damage too.
    ///
    /// # Errors
    /// As [`Reader::open`].
    ///
    /// # Examples
    ///
    /// A flipped bit in the middle of a log: the strict reader stops before it, salvage reads
    /// past it, and the sink refuses to open:
    ///
    /// ```
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
    /// drop(sink); // closes, and releases the directory lock
    ///
    /// // Damage the body of seq 2.
    /// let second = Reader::open(dir)?.replay(2..=2)?.next().unwrap()?;
    /// let path = dir.join(segment::file_name(second.segment));
    /// let mut bytes = std::fs::read(&path)?;
    /// bytes[second.offset as usize + RECORD_HEADER_LEN] ^= 1;
    /// std::fs::write(&path, bytes)?;
    ///
    /// let strict = Reader::open(dir)?;
    /// assert_eq!(strict.seq_last(), 1);
    /// assert_eq!(strict.corruption().map(|c| c.seq_range.0), Some(2));
    /// let salvage = Reader::open_salvage(dir)?;
    /// assert!(salvage.is_salvage());
    /// let seqs: Vec<u64> = salvage.replay(1..=u64::MAX)?.map(|e| e.unwrap().seq).collect();
    /// assert_eq!(seqs, [1, 3]);
    /// assert!(matches!(Sink::open(Options::new(dir)), Err(Error::Corruption(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_salvage(dir: impl AsRef<Path>) -> Result<Reader, Error> {
        Reader::open_with(Arc::new(RealDisk), dir.as_ref(), true)
    }
}

impl<D: Disk> Reader<D> {
    /// Opens `dir` through `disk` (strict, or in salvage mode).
    ///
    /// # Errors
    /// As [`Reader::open`], with the I/O errors coming from `disk`.
    ///
    /// # Panics
    /// Only on a bug of ours: if the strict view's seqs had a gap (the walk ends the valid
    /// prefix at every gap, so they cannot).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mtlog_audit::io::RealDisk;
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// Sink::open(Options::new(dir))?.event(Level::Information, "Hello").emit()?;
    /// let reader = Reader::open_with(Arc::new(RealDisk), dir, false)?;
    /// assert_eq!(reader.seq_last(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_with(disk: Arc<D>, dir: &Path, salvage: bool) -> Result<Reader<D>, Error> {
        let loaded = open::load_lean(&*disk, dir, RECORD_BODY_HARD_MAX)?;
        let Some(loaded) = loaded else {
            return Ok(Reader {
                disk,
                dir: dir.to_path_buf(),
                log_id: 0,
                segments: Vec::new(),
                salvage,
                report: IntegrityReport {
                    segments: 0,
                    events: 0,
                    seq_range: None,
                    watermark: 0,
                    head_hash: [0; 32],
                    findings: Vec::new(),
                },
                stopped_by: None,
                leaves: Vec::new(),
                rebuilt: OnceLock::new(),
            });
        };
        let scan = &loaded.scan;
        let watermark = recovery::proven_watermark(scan);
        let mut findings = recovery::findings(scan);
        let prefix_end = findings.first().map(|f| (f.segment, f.offset));
        findings_after_seals(&*disk, dir, scan, &mut findings)?;
        let verdict = recovery::classify(scan);
        let (head, stopped_by) = match &verdict {
            recovery::Verdict::Clean(h) => (h.clone(), None),
            recovery::Verdict::Tail { head, .. } => (head.clone(), None),
            recovery::Verdict::Corrupt(c) => (recovery::prefix_head(scan), Some(c.clone())),
        };
        let prefix_last = head.seq_next - 1;
        let seq_visible = if salvage { u64::MAX } else { watermark.min(prefix_last) };
        let mut segments = Vec::new();
        let mut events_total = 0;
        let mut first = None;
        for seg in &scan.segments {
            let mut idx = SegmentIndex {
                id: seg.id,
                named: seg.named,
                path: dir.join(segment::file_name(seg.id)),
                seq_first: u64::MAX,
                seq_last: 0,
                ts_min: i64::MAX,
                ts_max: i64::MIN,
                records: Vec::new(),
            };
            for item in &seg.items {
                let Item::Record(r) = item else { continue };
                // Seq 0 is no event's (a log starts at 1): the walk reported it.
                if r.kind != RecordKind::Event || r.seq > seq_visible || r.seq == 0 {
                    continue;
                }
                // Strict readers show the valid prefix: the records *before* the first anomaly,
                // by place, not by seq (a stale or rewritten record past damage can carry a seq
                // inside the prefix's range, and must not be counted or replayed twice).
                let in_prefix = prefix_end.is_none_or(|end| (seg.id, r.offset) < end);
                if !salvage && (r.seq > prefix_last || !in_prefix) {
                    continue;
                }
                // A scanned record's length is a header plus at most the hard body limit.
                let len = u32::try_from(r.len).unwrap_or(u32::MAX);
                // Before the first anomaly seqs run without a gap (a gap is an anomaly).
                let last = idx.records.last().map(|l| l.seq);
                assert!(
                    salvage || last.is_none_or(|l| l.checked_add(1) == Some(r.seq)),
                    "{last:?}, {}",
                    r.seq
                );
                idx.records.push(Indexed { seq: r.seq, offset: r.offset, len });
                idx.seq_first = idx.seq_first.min(r.seq);
                idx.seq_last = idx.seq_last.max(r.seq);
                idx.ts_min = idx.ts_min.min(r.timestamp_nanos);
                idx.ts_max = idx.ts_max.max(r.timestamp_nanos);
                first = Some(first.map_or(r.seq, |f: u64| f.min(r.seq)));
            }
            events_total += idx.records.len() as u64;
            if !idx.records.is_empty() {
                segments.push(idx);
            }
        }
        let leaves = prefix_leaves(scan, prefix_last);
        let last = segments.iter().map(|s| s.seq_last).max();
        let report = IntegrityReport {
            segments: scan.segments.len(),
            events: events_total,
            seq_range: first.zip(last),
            watermark,
            head_hash: head.chain,
            findings,
        };
        Ok(Reader {
            disk,
            dir: dir.to_path_buf(),
            log_id: scan.log_id,
            segments,
            salvage,
            report,
            stopped_by,
            leaves,
            rebuilt: OnceLock::new(),
        })
    }

    /// The highest seq this reader shows (0 if none). See [`Reader::open`] for an example.
    pub fn seq_last(&self) -> u64 {
        self.segments.iter().map(|s| s.seq_last).max().unwrap_or(0)
    }

    /// Whether this reader returns records past damage (salvage mode). See
    /// [`Reader::open_salvage`] for an example.
    pub fn is_salvage(&self) -> bool {
        self.salvage
    }

    /// The log id (0 for a directory without segments). See [`Reader::open`] for an example.
    pub fn log_id(&self) -> u128 {
        self.log_id
    }

    /// The log directory. See [`Reader::open`] for an example.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The corruption that ends the readable prefix, if any (strict mode). See
    /// [`Reader::open_salvage`] for an example.
    pub fn corruption(&self) -> Option<&Corruption> {
        self.stopped_by.as_ref()
    }

    /// Segments, records, seq range, chain head and every damaged range.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let sink = Sink::open(Options::new(dir))?;
    /// sink.event(Level::Information, "One").emit()?;
    /// let last = sink.event(Level::Information, "Two").emit()?;
    /// sink.close()?;
    ///
    /// let report = Reader::open(dir)?.verify_integrity();
    /// assert!(report.is_valid());
    /// assert!(report.findings.is_empty());
    /// assert_eq!((report.segments, report.events), (1, 2));
    /// assert_eq!(report.seq_range, Some((1, 2)));
    /// assert_eq!(report.watermark, 2);
    /// assert_eq!(report.head_hash, last.chain_hash);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_integrity(&self) -> IntegrityReport {
        self.report.clone()
    }

    /// Replays events whose seq is in `range`, in seq order.
    ///
    /// # Errors
    /// This call itself does not fail today; the `Result` leaves room for an up-front check.
    /// Errors come as items of the iterator: `Error::Io` if a segment file cannot be opened or
    /// sized, or `Error::SegmentTooLarge` (the iterator then ends); `Error::Body` for a record
    /// whose body does not decode (an event written by a newer version) and
    /// `Error::Corruption` for a record the index lists that can no longer be read (the
    /// iterator goes on); and, last, the `Error::Corruption` that ends a strict reader's valid
    /// prefix if `range` reaches past it (see [`Replay`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let sink = Sink::open(Options::new(dir))?;
    /// for n in 1..=5 {
    ///     sink.event(Level::Information, "Step {N}").with("N", n).emit()?;
    /// }
    /// let reader = Reader::open(dir)?;
    /// for stored in reader.replay(2..=3)? {
    ///     let stored = stored?;
    ///     assert_eq!(stored.event.message, format!("Step {}", stored.seq));
    /// }
    /// let seqs: Vec<u64> = reader.replay(4..=u64::MAX)?.map(|e| e.unwrap().seq).collect();
    /// assert_eq!(seqs, [4, 5]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replay(&self, range: RangeInclusive<u64>) -> Result<Replay<'_, D>, Error> {
        Ok(Replay::new(self, Filter::Seq(range)))
    }

    /// Replays events whose record timestamp (when the sink stamped the record, see
    /// [`StoredEvent::timestamp_nanos`]) is in `[from, to]` (nanoseconds), in seq order. Every
    /// segment whose timestamp range overlaps is read: a wall clock that stepped back leaves
    /// them unsorted.
    ///
    /// # Errors
    /// As [`Reader::replay`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicI64, Ordering};
    /// use std::sync::Arc;
    /// use mtlog_audit::io::{Clock, OsEntropy, RealDisk};
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// /// A wall clock set by hand.
    /// struct Wall(AtomicI64);
    /// impl Clock for Wall {
    ///     fn wall_nanos(&self) -> i64 { self.0.load(Ordering::SeqCst) }
    ///     fn monotonic_nanos(&self) -> u64 { 0 }
    /// }
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let wall = Arc::new(Wall(AtomicI64::new(0)));
    /// let sink =
    ///     Sink::open_with(Options::new(dir), Arc::new(RealDisk), wall.clone(), Arc::new(OsEntropy))?;
    /// for (n, at) in [(1, 1_000), (2, 5_000), (3, 2_000)] {
    ///     wall.0.store(at, Ordering::SeqCst); // before seq 3 the wall clock steps back
    ///     sink.event(Level::Information, "Tick {N}").with("N", n).emit()?;
    /// }
    /// let reader = Reader::open(dir)?;
    /// let hits: Vec<_> = reader.replay_time(1_500, 5_000)?.map(|e| e.unwrap()).collect();
    /// let seqs: Vec<u64> = hits.iter().map(|e| e.seq).collect();
    /// assert_eq!(seqs, [2, 3]); // in seq order, not time order
    /// assert!(hits[1].clock_adjusted); // stamped behind its predecessor: the clock stepped back
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replay_time(&self, from_nanos: i64, to_nanos: i64) -> Result<Replay<'_, D>, Error> {
        Ok(Replay::new(self, Filter::Time(from_nanos, to_nanos)))
    }

    /// The raw records of the events in `range` (what their leaf hashes cover), in seq order.
    ///
    /// # Errors
    /// `Error::Io` if a segment file cannot be opened or sized; `Error::Corruption` for the
    /// first record in `range` that cannot be read (as [`Reader::replay`] reports it).
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::event::Event;
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let sink = Sink::open(Options::new(dir))?;
    /// sink.event(Level::Information, "Raw").emit()?;
    /// let reader = Reader::open(dir)?;
    /// let records = reader.records(1..=1)?;
    /// assert_eq!(records[0].seq, 1);
    /// assert_eq!(Some(records[0].leaf_hash), reader.leaf_hash(1));
    /// assert_eq!(Event::decode_body(&records[0].body)?.message, "Raw");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn records(&self, range: RangeInclusive<u64>) -> Result<Vec<RawRecord>, Error> {
        let mut replay = Replay::new(self, Filter::Seq(range));
        let mut out = Vec::new();
        while let Some(raw) = replay.next_raw() {
            out.push(replay.raw_record(raw?));
        }
        Ok(out)
    }
}

/// Tamper evidence: the RFC 6962 tree over the events of the valid prefix, proofs, checkpoints.
///
/// The tree's leaf `i` is the leaf hash of seq `i + 1`; its size is the number of events in
/// the valid prefix from seq 1 (up to the first damage, including events past the proven
/// durable watermark that are whole). Proofs read the tiles in `DIR/merkle/` (O(log n) reads);
/// a missing or damaged tile makes them fall back to the tree recomputed from the WAL, never to
/// a wrong answer (level-0 tiles are also compared with the WAL's leaves).
impl<D: Disk> Reader<D> {
    /// Leaves in the tree: events in the valid prefix, from seq 1. See
    /// [`Reader::prove_inclusion`] for an example.
    pub fn tree_size(&self) -> u64 {
        self.leaves.len() as u64
    }

    /// The leaf hash of `seq`, if it is in the tree. See [`Reader::records`] for an example.
    pub fn leaf_hash(&self, seq: u64) -> Option<Hash> {
        let index = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.leaves.get(index).copied()
    }

    /// The root of the tree of the first `tree_size` events. See [`Reader::prove_consistency`]
    /// for an example.
    ///
    /// # Errors
    /// [`ProofError::SizesOutOfOrder`] if the log holds fewer events.
    pub fn tree_root(&self, tree_size: u64) -> Result<Hash, ProofError> {
        self.check_size(tree_size)?;
        let source = self.source();
        merkle::tree_root(tree_size, &source).or_else(|_| self.rebuilt().root_at(tree_size))
    }

    /// The inclusion proof of event `seq` in the tree of the first `tree_size` events.
    ///
    /// # Errors
    /// [`ProofError::IndexOutOfRange`] if `seq` is 0 or past `tree_size`;
    /// [`ProofError::SizesOutOfOrder`] if the log holds fewer than `tree_size` events.
    ///
    /// # Examples
    ///
    /// The proof, with a checkpoint of the tree, convinces someone who holds neither the log
    /// nor any key of ours (here the checkpoint is not signed; see [`Reader::export_bundle`]):
    ///
    /// ```
    /// use mtlog_audit::integrity::checkpoint::Checkpoint;
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let sink = Sink::open(Options::new(dir))?;
    /// for n in 1..=5 {
    ///     sink.event(Level::Information, "Step {N}").with("N", n).emit()?;
    /// }
    /// let reader = Reader::open(dir)?;
    /// assert_eq!(reader.tree_size(), 5);
    /// let proof = reader.prove_inclusion(3, 5)?;
    /// assert_eq!(proof.leaf_index(), 2);
    /// assert_eq!(Some(proof.leaf_hash), reader.leaf_hash(3));
    ///
    /// let checkpoint = Checkpoint::new("example.com/audit", 5, reader.tree_root(5)?)?;
    /// proof.verify(&checkpoint)?;
    /// assert!(reader.prove_inclusion(6, 5).is_err()); // not in that tree
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prove_inclusion(&self, seq: u64, tree_size: u64) -> Result<InclusionProof, ProofError> {
        self.check_size(tree_size)?;
        let index =
            seq.checked_sub(1).ok_or(ProofError::IndexOutOfRange { index: u64::MAX, tree_size })?;
        let source = self.source();
        let hashes = merkle::inclusion_proof(index, tree_size, &source)
            .or_else(|_| merkle::inclusion_proof(index, tree_size, self.rebuilt()))?;
        let root = self.tree_root(tree_size)?;
        let leaf_hash =
            self.leaf_hash(seq).ok_or(ProofError::IndexOutOfRange { index, tree_size })?;
        Ok(InclusionProof { seq, tree_size, leaf_hash, root, hashes })
    }

    /// The consistency proof from the tree of `old_size` events to the tree of `new_size`.
    ///
    /// # Errors
    /// [`ProofError::SizesOutOfOrder`] if `old_size > new_size` or the log holds fewer than
    /// `new_size` events.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::integrity::checkpoint::Checkpoint;
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let sink = Sink::open(Options::new(dir))?;
    /// for n in 1..=7 {
    ///     sink.event(Level::Information, "Step {N}").with("N", n).emit()?;
    /// }
    /// let reader = Reader::open(dir)?;
    /// let old = Checkpoint::new("example.com/audit", 3, reader.tree_root(3)?)?;
    /// let new = Checkpoint::new("example.com/audit", 7, reader.tree_root(7)?)?;
    /// // The log of 7 events extends the log of 3: nothing before seq 4 was rewritten.
    /// reader.prove_consistency(3, 7)?.verify(&old, &new)?;
    /// assert!(reader.prove_consistency(7, 3).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prove_consistency(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof, ProofError> {
        self.check_size(new_size)?;
        let source = self.source();
        let hashes = merkle::consistency_proof(old_size, new_size, &source)
            .or_else(|_| merkle::consistency_proof(old_size, new_size, self.rebuilt()))?;
        let old_root = self.tree_root(old_size)?;
        let new_root = self.tree_root(new_size)?;
        Ok(ConsistencyProof { old_size, new_size, old_root, new_root, hashes })
    }

    /// The checkpoint files in `DIR/checkpoints`, in tree-size order (unverified bytes). See
    /// [`Reader::export_bundle`] for an example.
    ///
    /// # Errors
    /// `Error::Io` if the directory cannot be listed or a checkpoint file cannot be read (a
    /// missing directory is no checkpoint, not an error).
    pub fn checkpoints(&self) -> Result<Vec<CheckpointFile>, Error> {
        let dir = self.dir.join(store::CHECKPOINTS_DIR);
        store::list_checkpoints(&*self.disk, &self.dir).map_err(|e| Error::io("read", dir, &e))
    }

    /// Every key rotation record in the valid prefix, in seq order.
    ///
    /// See [`Sink::rotate_signer`](crate::Sink::rotate_signer) for an example.
    ///
    /// # Errors
    /// `Error::Io` if a segment file cannot be opened or sized. Undecodable bodies are skipped
    /// (`verify_integrity` and `replay` report them).
    pub fn key_rotations(&self) -> Result<Vec<KeyRotation>, Error> {
        let mut rotations = Vec::new();
        for stored in self.replay(1..=self.tree_size())? {
            let Ok(stored) = stored else { continue };
            if let Some(rotation) = keys::parse_rotation(stored.seq, &stored.event) {
                rotations.push(rotation);
            }
        }
        Ok(rotations)
    }

    /// Checks the log against every checkpoint in `DIR/checkpoints` and each of `external`:
    /// signatures (with `trusted` keys, plus keys learned from rotation records they vouch
    /// for), roots against the tree recomputed from the WAL, consistency between checkpoints,
    /// and whether the log is behind any of them. See [`audit::audit`].
    ///
    /// What it finds is in the report ([`AuditReport::verdict`]), not in an error.
    ///
    /// # Errors
    /// `Error::Io` listing or reading `DIR/checkpoints` or reading the segments (for the key
    /// rotation records).
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::integrity::audit::{AuditVerdict, CheckpointInput};
    /// use mtlog_audit::integrity::note::Signer;
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let signer = Signer::from_seed("example.com/audit", [5; 32])?; // use io::Entropy
    /// let sink = Sink::open(Options::new(dir).signer(signer.clone()))?;
    /// sink.event(Level::Information, "Audited").emit()?;
    /// sink.close()?; // writes the final checkpoint
    ///
    /// let reader = Reader::open(dir)?;
    /// let copy = reader.checkpoints()?.pop().unwrap(); // as if kept on another machine
    /// let source = "backup".to_owned();
    /// let external = CheckpointInput { source, external: true, bytes: copy.bytes };
    /// let report = reader.audit(&[signer.verifier()], vec![external])?;
    /// assert_eq!(report.verdict(), AuditVerdict::Valid);
    /// assert_eq!(report.checkpoints.len(), 2);
    ///
    /// let stranger = Signer::from_seed("someone.else/log", [6; 32])?.verifier();
    /// let report = reader.audit(&[stranger], Vec::new())?;
    /// assert_eq!(report.verdict(), AuditVerdict::Unverifiable); // not tampering: an unknown signer
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn audit(
        &self,
        trusted: &[Verifier],
        external: Vec<CheckpointInput>,
    ) -> Result<AuditReport, Error> {
        let origins = audit::Origins::Default { log_id: self.log_id() };
        self.audit_origins(trusted, external, origins)
    }

    /// [`Reader::audit`] with the origin lines that are this log's given (`verify --origin`);
    /// a checkpoint naming another is reported as another log's
    /// ([`TreeStatus::OtherLog`](audit::TreeStatus::OtherLog)).
    ///
    /// # Errors
    /// As [`Reader::audit`].
    pub fn audit_origins(
        &self,
        trusted: &[Verifier],
        external: Vec<CheckpointInput>,
        origins: audit::Origins<'_>,
    ) -> Result<AuditReport, Error> {
        let mut inputs: Vec<CheckpointInput> = self
            .checkpoints()?
            .into_iter()
            .map(|f| CheckpointInput {
                source: f.path.display().to_string(),
                external: false,
                bytes: f.bytes,
            })
            .collect();
        inputs.extend(external);
        let rotations = self.key_rotations()?;
        let mut sizes = audit::checkpoint_sizes(&inputs);
        sizes.push(self.tree_size());
        let roots = self.roots_at(sizes);
        let source = self.source();
        let log = audit::LogTree {
            tree_size: self.tree_size(),
            damaged: !self.report.is_valid(),
            roots: &roots,
            source: &source,
            origins,
        };
        Ok(audit::audit(&log, &inputs, trusted, &rotations))
    }

    /// The roots at `sizes` (those up to the tree size), recomputed from the WAL's leaves in one
    /// pass through a frontier: O(n) hashing, O(log n) memory, no cache trusted.
    fn roots_at(&self, mut sizes: Vec<u64>) -> BTreeMap<u64, Hash> {
        sizes.retain(|&s| s <= self.tree_size());
        sizes.sort_unstable();
        sizes.dedup();
        let mut roots = BTreeMap::new();
        let mut frontier = merkle::Frontier::new();
        let mut wanted = sizes.into_iter().peekable();
        for leaf in std::iter::once(None).chain(self.leaves.iter().map(Some)) {
            if let Some(leaf) = leaf {
                frontier.push(*leaf);
            }
            while wanted.next_if_eq(&frontier.size()).is_some() {
                roots.insert(frontier.size(), frontier.root());
            }
        }
        roots
    }

    /// An export bundle of the events `seqs`, each with its inclusion proof in the tree of the
    /// signed checkpoint `checkpoint_note` (which must match this log). Verifies offline with
    /// [`Bundle::verify`].
    ///
    /// # Errors
    /// [`BundleError::Export`] if the note does not parse as a checkpoint, its tree is larger
    /// than this log's or has another root, `seqs` is empty, starts at 0, reaches past the
    /// checkpoint's tree or holds more than [`BUNDLE_ENTRIES_MAX`] events, or a record in it
    /// cannot be read.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::integrity::bundle::Bundle;
    /// use mtlog_audit::integrity::note::Signer;
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let signer = Signer::from_seed("example.com/audit", [5; 32])?; // use io::Entropy
    /// let sink = Sink::open(Options::new(dir).signer(signer.clone()))?;
    /// for n in 1..=4 {
    ///     sink.event(Level::Information, "Transfer {N}").with("N", n).emit()?;
    /// }
    /// sink.close()?;
    ///
    /// let reader = Reader::open(dir)?;
    /// let note = String::from_utf8(reader.checkpoints()?.pop().unwrap().bytes)?;
    /// let json = reader.export_bundle(2..=3, &note)?.to_json();
    ///
    /// // Offline, with only the JSON and the verifier key:
    /// let report = Bundle::from_json(&json)?.verify(&[signer.verifier()])?;
    /// assert_eq!((report.seq_first, report.seq_last, report.count), (2, 3, 2));
    /// assert_eq!(report.checkpoint.size(), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn export_bundle(
        &self,
        seqs: RangeInclusive<u64>,
        checkpoint_note: &str,
    ) -> Result<Bundle, BundleError> {
        let export = |m: String| BundleError::Export(m);
        let parsed = note::parse(checkpoint_note.as_bytes()).map_err(|e| export(e.to_string()))?;
        let checkpoint = Checkpoint::parse_body(&parsed.text).map_err(|e| export(e.to_string()))?;
        let size = checkpoint.size();
        let root = self.tree_root(size).map_err(|e| export(e.to_string()))?;
        if root != checkpoint.root() {
            return Err(export(format!("the checkpoint's root at {size} is not this log's")));
        }
        let (first, last) = (*seqs.start(), *seqs.end());
        if first == 0 || first > last || last > size || last - first >= BUNDLE_ENTRIES_MAX {
            return Err(export(format!(
                "seqs {first}..={last} are not a range of at most {BUNDLE_ENTRIES_MAX} inside \
                 the checkpoint's 1..={size}"
            )));
        }
        let records = self.records(first..=last).map_err(|e| export(e.to_string()))?;
        let mut entries = Vec::with_capacity(records.len());
        for (i, r) in records.iter().enumerate() {
            if r.seq != first + i as u64 {
                return Err(export(format!("seq {} is not readable", first + i as u64)));
            }
            let proof = self.prove_inclusion(r.seq, size).map_err(|e| export(e.to_string()))?;
            entries.push(bundle::entry(
                r.seq,
                r.timestamp_nanos,
                r.flags,
                r.encoding,
                &r.body,
                &proof.hashes,
            ));
        }
        if entries.len() as u64 != last - first + 1 {
            return Err(export(format!("seqs {first}..={last} are not all readable")));
        }
        Ok(Bundle {
            format: BUNDLE_FORMAT.to_owned(),
            log_id: format!("{:032x}", self.log_id),
            checkpoint: checkpoint_note.to_owned(),
            tree_size: size,
            count: entries.len() as u64,
            seq_first: first,
            seq_last: last,
            entries,
        })
    }

    /// Compares every stored tile with the tree recomputed from the WAL. A tile that does not
    /// decode is damage to the cache; an intact one that contradicts the log is evidence
    /// against the log ([`MerkleCacheReport::tiles_conflicting`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::integrity::note::Signer;
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let signer = Signer::from_seed("example.com/audit", [5; 32])?; // use io::Entropy
    /// let sink = Sink::open(Options::new(dir).signer(signer))?;
    /// sink.event(Level::Information, "Cached").emit()?;
    /// sink.close()?; // writes the partial tiles
    ///
    /// let report = Reader::open(dir)?.check_merkle_cache();
    /// assert!(report.tiles_checked >= 1);
    /// assert_eq!(report.tiles_missing, 0);
    /// assert!(report.tiles_damaged.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_merkle_cache(&self) -> MerkleCacheReport {
        let mut report = MerkleCacheReport::default();
        // Row `l`: the complete subtree hashes of tree level 8 l, recomputed from the leaves,
        // one level at a time (each row 256 times shorter than the one below).
        let mut row: Vec<Hash> = Vec::new();
        for level in 0..tiles::TILE_LEVELS_MAX as u8 {
            let hashes: &[Hash] = if level == 0 { &self.leaves } else { &row };
            if hashes.is_empty() {
                break;
            }
            self.check_tile_level(level, hashes, &mut report);
            let next: Vec<Hash> =
                hashes.chunks_exact(TILE_WIDTH).map(tiles::perfect_root).collect();
            row = next;
        }
        report
    }

    fn check_tile_level(&self, level: u8, hashes: &[Hash], report: &mut MerkleCacheReport) {
        let count = hashes.len() as u64;
        for index in 0..count.div_ceil(TILE_WIDTH as u64) {
            let path = store::tile_path(&self.dir, level, index);
            let full = (index + 1) * TILE_WIDTH as u64 <= count;
            let start = usize::try_from(index).unwrap_or(usize::MAX).saturating_mul(TILE_WIDTH);
            match store::read_tile(&*self.disk, &self.dir, self.log_id, level, index) {
                TileRead::Missing if full => report.tiles_missing += 1,
                TileRead::Missing => {}
                TileRead::Found(tile) => {
                    report.tiles_checked += 1;
                    let end = start + tile.hashes.len();
                    if end > hashes.len() {
                        let conflict =
                            TileConflict::PastEnd { hashes: (end - hashes.len()) as u64 };
                        report.tiles_conflicting.push((path, conflict));
                    } else if hashes.get(start..end) != Some(tile.hashes.as_slice()) {
                        report.tiles_conflicting.push((path, TileConflict::Disagrees));
                    }
                }
                TileRead::Damaged(e) => report.tiles_damaged.push((path, e.to_string())),
                TileRead::Unreadable(kind) => {
                    report.tiles_damaged.push((path, format!("unreadable: {kind}")))
                }
            }
        }
    }

    fn check_size(&self, tree_size: u64) -> Result<(), ProofError> {
        if tree_size > self.tree_size() {
            return Err(ProofError::SizesOutOfOrder {
                old_size: tree_size,
                new_size: self.tree_size(),
            });
        }
        Ok(())
    }

    fn rebuilt(&self) -> &StoredTree {
        self.rebuilt.get_or_init(|| StoredTree::from_leaf_hashes(self.leaves.iter().copied()))
    }

    fn source(&self) -> TileCache<'_, D> {
        TileCache { reader: self, tiles: RefCell::new(BTreeMap::new()) }
    }
}

/// Tiles read so far, by (tile level, tile index); `None` for missing or damaged.
type TilesRead = BTreeMap<(u8, u64), Option<Arc<Tile>>>;

/// Proof reads from the stored tiles, each tile read once; a missing, damaged or (at level 0)
/// WAL-disagreeing tile falls back to the recomputed tree.
struct TileCache<'a, D: Disk> {
    reader: &'a Reader<D>,
    tiles: RefCell<TilesRead>,
}

impl<D: Disk> TileCache<'_, D> {
    fn tile(&self, level: u8, index: u64) -> Option<Arc<Tile>> {
        if let Some(cached) = self.tiles.borrow().get(&(level, index)) {
            return cached.clone();
        }
        let r = self.reader;
        let tile = match store::read_tile(&*r.disk, &r.dir, r.log_id, level, index) {
            TileRead::Found(tile) if level > 0 || level0_matches(&r.leaves, &tile) => {
                Some(Arc::new(tile))
            }
            _ => None,
        };
        self.tiles.borrow_mut().insert((level, index), tile.clone());
        tile
    }
}

impl<D: Disk> HashSource for TileCache<'_, D> {
    fn subtree(&self, level: u8, index: u64) -> Option<Hash> {
        let source = tiles::TileSource { fetch: |l, i| self.tile(l, i) };
        source.subtree(level, index).or_else(|| self.reader.rebuilt().subtree(level, index))
    }
}

fn level0_matches(leaves: &[Hash], tile: &Tile) -> bool {
    let Some(from) = usize::try_from(tile.index).ok().and_then(|i| i.checked_mul(TILE_WIDTH))
    else {
        return false;
    };
    leaves.get(from..from + tile.hashes.len()) == Some(tile.hashes.as_slice())
}

/// Adds a finding for every sealed segment with non-zero bytes after its seal. Recovery ignores
/// what follows a seal (the writer never writes there: the preallocated zeros stay zeros, or
/// the file ends at the seal), so anything else there is a stray or tampered write: `verify`
/// reports it, so that no byte of a sealed segment can change unnoticed.
fn findings_after_seals<D: Disk>(
    disk: &D,
    dir: &Path,
    scan: &recovery::Scan,
    findings: &mut Vec<Finding>,
) -> Result<(), Error> {
    let mut added = false;
    for seg in &scan.segments {
        let seal = seg.items.iter().rev().find_map(|item| match item {
            Item::Record(r) if r.kind == RecordKind::Seal => Some(r),
            _ => None,
        });
        let Some(seal) = seal else { continue };
        let end = seal.offset + seal.len;
        if end >= seg.len {
            continue; // shrunk to its seal on close
        }
        // A segment is sealed at rotation when the next record does not fit: the tail is
        // shorter than one record, so reading it is cheap.
        let path = dir.join(segment::file_name(seg.id));
        let file = disk.open(&path, OpenMode::Read).map_err(|e| Error::io("open", &path, &e))?;
        let mut tail = vec![0u8; usize::try_from(seg.len - end).unwrap_or(0)];
        // An unreadable sector here is damage to report, not a reason to refuse the log.
        let mut unreadable = Vec::new();
        segment::read_lenient(&file, &mut tail, end, &mut unreadable);
        if let Some(bad) = unreadable.first() {
            findings.push(Finding {
                anomaly: recovery::Anomaly::Damage(crate::error::DamageKind::ReadError),
                segment: seg.id,
                offset: bad.start,
                seq_expected: seal.seq.saturating_add(1),
            });
            added = true;
        }
        let Some(at) = tail.iter().position(|&b| b != 0) else { continue };
        let offset = (end + at as u64) / format::RECORD_ALIGN as u64 * format::RECORD_ALIGN as u64;
        findings.push(Finding {
            anomaly: recovery::Anomaly::Damage(crate::error::DamageKind::Garbage),
            segment: seg.id,
            offset,
            seq_expected: seal.seq.saturating_add(1),
        });
        added = true;
    }
    if added {
        findings.sort_by_key(|f| (f.segment, f.offset));
    }
    Ok(())
}

/// The leaf hashes of the events of the valid prefix, seq 1 first, from the scan.
fn prefix_leaves(scan: &recovery::Scan, prefix_last: u64) -> Vec<Hash> {
    let mut leaves = Vec::new();
    for seg in &scan.segments {
        for item in &seg.items {
            let Item::Record(r) = item else { continue };
            if r.kind != RecordKind::Event || r.seq > prefix_last {
                continue;
            }
            if r.seq != leaves.len() as u64 + 1 {
                // Not contiguous from seq 1 (retention, or damage): the tree stops here.
                return leaves;
            }
            leaves.push(r.digest);
        }
    }
    leaves
}

fn encoding_byte(encoding: BodyEncoding) -> u8 {
    match encoding {
        BodyEncoding::Postcard => 0,
        BodyEncoding::Envelope => 1,
        BodyEncoding::Fixed => 2,
    }
}

#[derive(Clone, Debug)]
enum Filter {
    Seq(RangeInclusive<u64>),
    Time(i64, i64),
}

impl Filter {
    fn wants_segment(&self, s: &SegmentIndex) -> bool {
        match self {
            Filter::Seq(r) => s.seq_last >= *r.start() && s.seq_first <= *r.end(),
            Filter::Time(from, to) => s.ts_max >= *from && s.ts_min <= *to,
        }
    }

    /// Whether a record of `seq` can be wanted (a time filter decides once the header is read).
    fn wants_seq(&self, seq: u64) -> bool {
        match self {
            Filter::Seq(r) => r.contains(&seq),
            Filter::Time(..) => true,
        }
    }

    fn wants_time(&self, timestamp_nanos: i64) -> bool {
        match self {
            Filter::Seq(_) => true,
            Filter::Time(from, to) => (*from..=*to).contains(&timestamp_nanos),
        }
    }

    /// Whether the filter reaches seqs from `seq` on. Timestamps of records that cannot be read
    /// are unknown, so a time filter reaches them all.
    fn reaches(&self, seq: u64) -> bool {
        match self {
            Filter::Seq(r) => !r.is_empty() && *r.end() >= seq,
            Filter::Time(from, to) => from <= to,
        }
    }
}

/// An iterator over stored events, one segment read at a time. See [`Reader::replay`] for an
/// example.
///
/// It reads every record the reader's index lists in the wanted range, and reports each one it
/// cannot: a record that no longer parses as the scan found it at open (rewritten since, or its
/// sectors unreadable now) is an `Error::Corruption` item naming its segment, offset and seq,
/// and the iteration goes on. A strict reader whose valid prefix ends at damage
/// ([`Reader::corruption`]) ends a replay that reaches past it with that corruption as the last
/// item: the seqs from there on are missing, not absent. (A salvage reader's gaps are its
/// [`IntegrityReport::findings`].)
pub struct Replay<'a, D: Disk> {
    reader: &'a Reader<D>,
    filter: Filter,
    /// The next segment of `reader.segments` to consider.
    segment: usize,
    /// The loaded segment (by position in `reader.segments`), its bytes and unreadable ranges.
    loaded: Option<usize>,
    bytes: Vec<u8>,
    unreadable: Vec<Range<u64>>,
    /// The next entry of the loaded segment's `records`.
    record: usize,
    /// The iteration has ended (after an I/O error, or after its last item).
    done: bool,
}

/// A record read back, its body still in the loaded segment's bytes.
struct RawRef {
    header: RecordHeader,
    body: Range<usize>,
    offset: u64,
    segment: SegmentId,
}

impl<'a, D: Disk> Replay<'a, D> {
    fn new(reader: &'a Reader<D>, filter: Filter) -> Self {
        Replay {
            reader,
            filter,
            segment: 0,
            loaded: None,
            bytes: Vec::new(),
            unreadable: Vec::new(),
            record: 0,
            done: false,
        }
    }

    /// The next wanted record, read and checked against the index; `None` at the end.
    fn next_raw(&mut self) -> Option<Result<RawRef, Error>> {
        if self.done {
            return None;
        }
        loop {
            if let Some(item) = self.next_in_segment() {
                return Some(item);
            }
            match self.load_next() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return self.missing_past_prefix().map(Err);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }

    /// Loads the next wanted segment (one segment's bytes at a time); false when there is none.
    fn load_next(&mut self) -> Result<bool, Error> {
        self.loaded = None;
        self.bytes = Vec::new();
        while let Some(s) = self.reader.segments.get(self.segment) {
            self.segment += 1;
            if !self.filter.wants_segment(s) {
                continue;
            }
            let (bytes, unreadable) = segment::read_all(&*self.reader.disk, &s.path)?;
            self.bytes = bytes;
            self.unreadable = unreadable;
            self.loaded = Some(self.segment - 1);
            self.record = 0;
            return Ok(true);
        }
        Ok(false)
    }

    fn next_in_segment(&mut self) -> Option<Result<RawRef, Error>> {
        let s = self.reader.segments.get(self.loaded?)?;
        while let Some(&indexed) = s.records.get(self.record) {
            self.record += 1;
            if !self.filter.wants_seq(indexed.seq) {
                continue;
            }
            match self.read_record(s, indexed) {
                Ok(raw) if !self.filter.wants_time(raw.header.timestamp_nanos) => continue,
                other => return Some(other),
            }
        }
        None
    }

    /// Reads the record the index lists at `indexed`: the same seq, whole and readable, or the
    /// damage found there now.
    fn read_record(&self, s: &SegmentIndex, indexed: Indexed) -> Result<RawRef, Error> {
        let Indexed { seq, offset, len } = indexed;
        let damage = |kind| {
            Error::Corruption(Corruption { segment: s.id, offset, seq_range: (seq, seq), kind })
        };
        let end = offset.saturating_add(u64::from(len));
        if self.unreadable.iter().any(|r| r.start < end && offset < r.end) {
            return Err(damage(DamageKind::ReadError));
        }
        let at = usize::try_from(offset).map_err(|_| damage(DamageKind::Garbage))?;
        let log_id = self.reader.log_id;
        let rec = format::parse_record(&self.bytes, at, log_id, s.named, RECORD_BODY_HARD_MAX)
            .map_err(|defect| damage(scan::defect_kind(&self.bytes, at, defect)))?;
        let h = rec.header;
        if h.kind != RecordKind::Event || h.seq != seq || rec.framed_len() as u64 != u64::from(len)
        {
            return Err(damage(DamageKind::SeqGap { expected: seq, found: h.seq }));
        }
        // The body follows the fixed-size header (docs/wal-format.md).
        let start = at + format::RECORD_HEADER_LEN;
        let body = start..start + rec.body.len();
        debug_assert_eq!(self.bytes.get(body.clone()), Some(rec.body));
        Ok(RawRef { header: h, body, offset, segment: s.id })
    }

    /// The damage that ends a strict reader's prefix, if the filter reaches past it.
    fn missing_past_prefix(&self) -> Option<Error> {
        if self.reader.salvage {
            return None;
        }
        let c = self.reader.stopped_by.as_ref()?;
        self.filter.reaches(c.seq_range.0).then(|| Error::Corruption(c.clone()))
    }

    fn decode(&self, raw: RawRef) -> Result<StoredEvent, Error> {
        let RawRef { header: h, body, offset, segment } = raw;
        let body = self.bytes.get(body).unwrap_or_default();
        let encoding = encoding_byte(h.encoding);
        let leaf = chain::leaf_hash(h.log_id, h.seq, h.timestamp_nanos, h.flags, encoding, body);
        let chain_hash = chain::link(&h.prev_hash, &leaf);
        let event = match h.encoding {
            BodyEncoding::Postcard => {
                Event::decode_body(body).map_err(|source| Error::Body { seq: h.seq, source })?
            }
            other => {
                return Err(Error::Body {
                    seq: h.seq,
                    source: BodyError::UnreadableEncoding { found: encoding_byte(other) },
                })
            }
        };
        Ok(StoredEvent {
            seq: h.seq,
            timestamp_nanos: h.timestamp_nanos,
            clock_adjusted: h.flags & FLAG_CLOCK_ADJUSTED != 0,
            chain_hash,
            segment,
            offset,
            event,
        })
    }

    fn raw_record(&self, raw: RawRef) -> RawRecord {
        let h = raw.header;
        let body = self.bytes.get(raw.body).unwrap_or_default().to_vec();
        let encoding = encoding_byte(h.encoding);
        let leaf_hash =
            chain::leaf_hash(h.log_id, h.seq, h.timestamp_nanos, h.flags, encoding, &body);
        RawRecord {
            seq: h.seq,
            timestamp_nanos: h.timestamp_nanos,
            flags: h.flags,
            encoding,
            body,
            leaf_hash,
        }
    }
}

impl<D: Disk> Iterator for Replay<'_, D> {
    type Item = Result<StoredEvent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let raw = self.next_raw()?;
        Some(raw.and_then(|raw| self.decode(raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_entry_costs_24_bytes() {
        // docs/recovery.md, section 10, states the readers' memory bound with this figure: a
        // reader keeps one entry per record it shows, and one 32-byte leaf hash per event of
        // the valid prefix.
        assert_eq!(std::mem::size_of::<Indexed>(), 24);
        assert_eq!(std::mem::size_of::<Hash>(), 32);
    }
}
