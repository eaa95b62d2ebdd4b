//! Reading a log: replay by seq or time range, and `verify_integrity`.
//!
//! A reader opens the directory read-only and takes no lock, so it is safe beside a running
//! writer. It shows only seqs up to the durable watermark proven on disk (records carry it;
//! the writer's commit marker publishes it when idle): a record a reader returned can never be
//! lost by a later crash. In salvage mode it also returns every valid record past damage.
//!
//! The index (per segment: seq range, min/max timestamp, and every 64th record's offset) is
//! rebuilt on open from the scan; timestamps are never assumed sorted, because the wall clock
//! can step back.
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
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::error::{Corruption, Error};
use crate::event::Event;
use crate::integrity::audit::{
    self, AuditReport, CheckpointInput, ConsistencyProof, InclusionProof,
};
use crate::integrity::bundle::{self, Bundle, BundleError, BUNDLE_ENTRIES_MAX, BUNDLE_FORMAT};
use crate::integrity::chain::{self, Hash};
use crate::integrity::checkpoint::Checkpoint;
use crate::integrity::keys::{self, KeyRotation};
use crate::integrity::merkle::{self, HashSource, ProveError, StoredTree};
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
use crate::wal::scan::Item;
use crate::wal::segment;

/// Every how many events the sparse index keeps an offset.
const INDEX_EVERY: u64 = 64;

/// An event read back from the log, with where it was stored. See [`Reader::replay`] for an
/// example.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// Its seq.
    pub seq: u64,
    /// The raw timestamp in the record header.
    pub timestamp_nanos: i64,
    /// Whether the wall clock was behind the previous record's when it was written.
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
    path: PathBuf,
    seq_first: u64,
    seq_last: u64,
    ts_min: i64,
    ts_max: i64,
    sparse: Vec<(u64, u64)>,
    /// Offsets of every record in the (strict or salvage) view, with seq; built lazily would
    /// be leaner, but the scan already walked them.
    events: usize,
}

/// A read-only view of a log directory. See [`Reader::open`] for an example.
pub struct Reader<D: Disk = RealDisk> {
    disk: Arc<D>,
    dir: PathBuf,
    log_id: u128,
    segments: Vec<SegmentIndex>,
    seq_visible: u64,
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
                seq_visible: 0,
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
                path: dir.join(segment::file_name(seg.id)),
                seq_first: u64::MAX,
                seq_last: 0,
                ts_min: i64::MAX,
                ts_max: i64::MIN,
                sparse: Vec::new(),
                events: 0,
            };
            for item in &seg.items {
                let Item::Record(r) = item else { continue };
                if r.kind != RecordKind::Event || r.seq > seq_visible {
                    continue;
                }
                if !salvage && r.seq > prefix_last {
                    continue;
                }
                if (idx.events as u64).is_multiple_of(INDEX_EVERY) {
                    idx.sparse.push((r.seq, r.offset));
                }
                idx.events += 1;
                idx.seq_first = idx.seq_first.min(r.seq);
                idx.seq_last = idx.seq_last.max(r.seq);
                idx.ts_min = idx.ts_min.min(r.timestamp_nanos);
                idx.ts_max = idx.ts_max.max(r.timestamp_nanos);
                first.get_or_insert(r.seq);
            }
            events_total += idx.events as u64;
            if idx.events > 0 {
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
            seq_visible: if salvage { u64::MAX } else { seq_visible },
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
    /// sized (the iterator then ends), `Error::Body` for a record whose body does not decode
    /// (an event written by a newer version; the iterator goes on).
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

    /// Replays events whose timestamp is in `[from, to]` (nanoseconds), in seq order. Every
    /// segment whose timestamp range overlaps is read: timestamps are not assumed sorted.
    ///
    /// # Errors
    /// As [`Reader::replay`].
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let sink = Sink::open(Options::new(dir))?;
    /// for (n, at) in [(1, 1_000), (2, 5_000), (3, 2_000)] {
    ///     let mut event = sink.new_event(Level::Information, "Tick {N}").with_property("N", n);
    ///     event.timestamp_nanos = at; // as if the wall clock had stepped back before seq 3
    ///     sink.emit(&event.render())?;
    /// }
    /// let reader = Reader::open(dir)?;
    /// let hits: Vec<_> = reader.replay_time(1_500, 5_000)?.map(|e| e.unwrap()).collect();
    /// let seqs: Vec<u64> = hits.iter().map(|e| e.seq).collect();
    /// assert_eq!(seqs, [2, 3]); // in seq order, not time order
    /// assert!(hits[1].clock_adjusted); // written with a timestamp behind its predecessor's
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replay_time(&self, from_nanos: i64, to_nanos: i64) -> Result<Replay<'_, D>, Error> {
        Ok(Replay::new(self, Filter::Time(from_nanos, to_nanos)))
    }

    /// The raw records of the events in `range` (what their leaf hashes cover), in seq order.
    ///
    /// # Errors
    /// `Error::Io` if a segment file cannot be opened or sized.
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
        loop {
            if replay.segment > 0 && replay.offset < replay.end {
                if let Some((h, body, _)) = replay.next_record() {
                    let body = replay.bytes[body].to_vec();
                    let encoding = encoding_byte(h.encoding);
                    let leaf_hash = chain::leaf_hash(
                        h.log_id,
                        h.seq,
                        h.timestamp_nanos,
                        h.flags,
                        encoding,
                        &body,
                    );
                    out.push(RawRecord {
                        seq: h.seq,
                        timestamp_nanos: h.timestamp_nanos,
                        flags: h.flags,
                        encoding,
                        body,
                        leaf_hash,
                    });
                    continue;
                }
            }
            if !replay.load_next()? {
                return Ok(out);
            }
        }
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
    /// [`ProveError::SizesOutOfOrder`] if the log holds fewer events.
    pub fn tree_root(&self, tree_size: u64) -> Result<Hash, ProveError> {
        self.check_size(tree_size)?;
        let source = self.source();
        merkle::tree_root(tree_size, &source).or_else(|_| self.rebuilt().root_at(tree_size))
    }

    /// The inclusion proof of event `seq` in the tree of the first `tree_size` events.
    ///
    /// # Errors
    /// [`ProveError::IndexOutOfRange`] if `seq` is 0 or past `tree_size`;
    /// [`ProveError::SizesOutOfOrder`] if the log holds fewer than `tree_size` events.
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
    pub fn prove_inclusion(&self, seq: u64, tree_size: u64) -> Result<InclusionProof, ProveError> {
        self.check_size(tree_size)?;
        let index =
            seq.checked_sub(1).ok_or(ProveError::IndexOutOfRange { index: u64::MAX, tree_size })?;
        let source = self.source();
        let hashes = merkle::inclusion_proof(index, tree_size, &source)
            .or_else(|_| merkle::inclusion_proof(index, tree_size, self.rebuilt()))?;
        let root = self.tree_root(tree_size)?;
        let leaf_hash =
            self.leaf_hash(seq).ok_or(ProveError::IndexOutOfRange { index, tree_size })?;
        Ok(InclusionProof { seq, tree_size, leaf_hash, root, hashes })
    }

    /// The consistency proof from the tree of `old_size` events to the tree of `new_size`.
    ///
    /// # Errors
    /// [`ProveError::SizesOutOfOrder`] if `old_size > new_size` or the log holds fewer than
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
    ) -> Result<ConsistencyProof, ProveError> {
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
    /// use mtlog_audit::integrity::audit::{CheckpointInput, Verdict};
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
    /// assert_eq!(report.verdict(), Verdict::Valid);
    /// assert_eq!(report.checkpoints.len(), 2);
    ///
    /// let stranger = Signer::from_seed("someone.else/log", [6; 32])?.verifier();
    /// let report = reader.audit(&[stranger], Vec::new())?;
    /// assert_eq!(report.verdict(), Verdict::Unverifiable); // not tampering: an unknown signer
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

    fn check_size(&self, tree_size: u64) -> Result<(), ProveError> {
        if tree_size > self.tree_size() {
            return Err(ProveError::SizesOutOfOrder {
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
                seq_expected: seal.seq + 1,
            });
            added = true;
        }
        let Some(at) = tail.iter().position(|&b| b != 0) else { continue };
        let offset = (end + at as u64) / format::RECORD_ALIGN as u64 * format::RECORD_ALIGN as u64;
        findings.push(Finding {
            anomaly: recovery::Anomaly::Damage(crate::error::DamageKind::Garbage),
            segment: seg.id,
            offset,
            seq_expected: seal.seq + 1,
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

/// An iterator over stored events, one segment read at a time. See [`Reader::replay`] for an
/// example.
pub struct Replay<'a, D: Disk> {
    reader: &'a Reader<D>,
    filter: Filter,
    segment: usize,
    bytes: Vec<u8>,
    offset: usize,
    end: usize,
    failed: bool,
}

impl<'a, D: Disk> Replay<'a, D> {
    fn new(reader: &'a Reader<D>, filter: Filter) -> Self {
        Replay { reader, filter, segment: 0, bytes: Vec::new(), offset: 0, end: 0, failed: false }
    }

    fn wants_segment(&self, s: &SegmentIndex) -> bool {
        match &self.filter {
            Filter::Seq(r) => s.seq_last >= *r.start() && s.seq_first <= *r.end(),
            Filter::Time(from, to) => s.ts_max >= *from && s.ts_min <= *to,
        }
    }

    /// Loads the next wanted segment; false when there is none.
    fn load_next(&mut self) -> Result<bool, Error> {
        while self.segment < self.reader.segments.len() {
            let s = &self.reader.segments[self.segment];
            self.segment += 1;
            if !self.wants_segment(s) {
                continue;
            }
            let (bytes, _) = segment::read_all(&*self.reader.disk, &s.path)?;
            let start = match &self.filter {
                Filter::Seq(r) => s
                    .sparse
                    .iter()
                    .rev()
                    .find(|(seq, _)| *seq <= *r.start())
                    .map_or(s.sparse.first().map_or(0, |x| x.1), |x| x.1),
                Filter::Time(..) => s.sparse.first().map_or(0, |x| x.1),
            };
            self.bytes = bytes;
            self.offset = start as usize;
            self.end = self.bytes.len();
            return Ok(true);
        }
        Ok(false)
    }

    /// The next wanted event record in the loaded segment: header, body range in `bytes`,
    /// offset.
    fn next_record(&mut self) -> Option<(RecordHeader, std::ops::Range<usize>, u64)> {
        let s = &self.reader.segments[self.segment - 1];
        while self.offset < self.end {
            let parsed = format::parse_record(
                &self.bytes,
                self.offset,
                self.reader.log_id,
                s.id,
                RECORD_BODY_HARD_MAX,
            );
            let rec = match parsed {
                Ok(rec) => rec,
                // Damage, zeros or a foreign record: step to the next aligned offset. The index
                // says which seqs are visible, so nothing past damage is returned unless it is
                // valid and (in strict mode) inside the valid prefix.
                Err(_) => {
                    self.offset += format::RECORD_ALIGN;
                    continue;
                }
            };
            let at = self.offset as u64;
            self.offset += rec.framed_len();
            let h = rec.header;
            if h.kind != RecordKind::Event {
                if h.kind == RecordKind::Seal {
                    self.offset = self.end;
                }
                continue;
            }
            if h.seq > s.seq_last || h.seq > self.reader.seq_visible {
                self.offset = self.end;
                return None;
            }
            if h.seq < s.seq_first {
                continue;
            }
            let wanted = match &self.filter {
                Filter::Seq(r) => r.contains(&h.seq),
                Filter::Time(from, to) => h.timestamp_nanos >= *from && h.timestamp_nanos <= *to,
            };
            if let Filter::Seq(r) = &self.filter {
                if h.seq > *r.end() {
                    self.offset = self.end;
                    return None;
                }
            }
            if !wanted {
                continue;
            }
            // The body follows the fixed-size header (docs/wal-format.md).
            let start = at as usize + format::RECORD_HEADER_LEN;
            let body = start..start + rec.body.len();
            debug_assert_eq!(self.bytes.get(body.clone()), Some(rec.body));
            return Some((h, body, at));
        }
        None
    }

    fn next_in_segment(&mut self) -> Option<Result<StoredEvent, Error>> {
        let s_id = self.reader.segments[self.segment - 1].id;
        let (h, body, at) = self.next_record()?;
        let body = &self.bytes[body];
        let encoding = encoding_byte(h.encoding);
        let leaf = chain::leaf_hash(h.log_id, h.seq, h.timestamp_nanos, h.flags, encoding, body);
        let chain_hash = chain::link(&h.prev_hash, &leaf);
        let event = match h.encoding {
            BodyEncoding::Postcard => Event::decode_body(body)
                .map_err(|e| Error::Body { seq: h.seq, reason: e.to_string() }),
            other => Err(Error::Body {
                seq: h.seq,
                reason: format!("body encoding {other:?} is not readable by this version"),
            }),
        };
        Some(event.map(|event| StoredEvent {
            seq: h.seq,
            timestamp_nanos: h.timestamp_nanos,
            clock_adjusted: h.flags & FLAG_CLOCK_ADJUSTED != 0,
            chain_hash,
            segment: s_id,
            offset: at,
            event,
        }))
    }
}

impl<D: Disk> Iterator for Replay<'_, D> {
    type Item = Result<StoredEvent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            if self.segment > 0 && self.offset < self.end {
                if let Some(item) = self.next_in_segment() {
                    return Some(item);
                }
            }
            match self.load_next() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
