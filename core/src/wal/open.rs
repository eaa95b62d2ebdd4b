//! Opening a log: read every segment, scan, classify, and carry out the verdict.
//!
//! This is the I/O half of recovery; the decisions are in `recovery.rs`. Every step is
//! idempotent, so a crash at any point of it followed by another open reaches the same state,
//! head hash and report:
//! 1. leftover `.prep` files are removed (they never held a record);
//! 2. for a tail verdict, the tail's bytes are saved to `quarantine/` (tmp, fdatasync, rename,
//!    fsync dir; an existing file holding the same capture is kept, one holding another capture
//!    of the same place gets a repeat name beside it, none is overwritten), later segments
//!    holding data are moved there whole;
//! 3. the last segment with data is shrunk to where its valid records end (the torn bytes were
//!    saved first) and fsynced: a shrink is atomic under power loss, a written seal is not;
//! 4. appends continue in the next segment, empty and prepared.
//!
//! # Examples
//!
//! [`load`] reads a log without changing it (what checkers and readers start from);
//! [`recover`] is what `Sink::open` runs under the directory lock:
//!
//! ```
//! use std::sync::Arc;
//! use mtlog_audit::io::{Disk, OsEntropy, RealDisk};
//! use mtlog_audit::wal::format::RECORD_BODY_HARD_MAX;
//! use mtlog_audit::wal::{open, recovery};
//! use mtlog_audit::{Level, Options, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let sink = Sink::open(Options::new(dir))?;
//! sink.event(Level::Information, "One").emit()?;
//! sink.event(Level::Information, "Two").emit()?;
//! drop(sink);
//!
//! let loaded = open::load(&RealDisk, dir, RECORD_BODY_HARD_MAX)?.expect("a log");
//! assert_eq!(loaded.bytes.len(), loaded.scan.segments.len());
//! assert!(matches!(recovery::classify(&loaded.scan), recovery::Verdict::Clean(_)));
//! let lean = open::load_lean(&RealDisk, dir, RECORD_BODY_HARD_MAX)?.expect("a log");
//! assert_eq!((lean.scan, lean.bytes.len()), (loaded.scan, 0)); // the same scan, no bytes kept
//!
//! let disk = Arc::new(RealDisk);
//! let _lock = disk.lock_dir(dir)?;
//! let (start, report) = open::recover(&disk, dir, 1 << 20, 1 << 10, &OsEntropy)?;
//! assert_eq!((report.events, report.seq_next, start.seq_next), (2, 3, 3));
//! assert!(report.cuts.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Corruption, DamageKind, Error};
use crate::integrity::chain::Hash;
use crate::io::{read_exact_at, Disk, DiskFile, Entropy, OpenMode};
use crate::wal::format::{self, HeaderDefect, SegmentId, SEGMENT_HEADER_LEN};
use crate::wal::quarantine::{self, QuarantineEntry};
use crate::wal::recovery::{self, Cut, Head, Scan, Verdict};
use crate::wal::scan::{self, SegmentScan};
use crate::wal::segment::{self, Prepared};
use crate::wal::writer::WriterStart;

/// What recovery on open did and found. Derived from durable state only, so a crash during
/// recovery followed by another open yields an equal report. See
/// [`Sink::open`](crate::Sink::open) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The log id.
    pub log_id: u128,
    /// Segment files with data.
    pub segments: usize,
    /// Events in the log.
    pub events: u64,
    /// The seq the next event gets.
    pub seq_next: u64,
    /// The chain value after the last event.
    pub head_hash: Hash,
    /// Every tail cut ever made in this log, from the persisted quarantine records.
    pub cuts: Vec<QuarantineEntry>,
}

/// The scanned log, before any decision. See the [module docs](self) for an example.
pub struct Loaded {
    /// The scan.
    pub scan: Scan,
    /// The segment files' bytes, by position in `scan.segments`: filled by [`load`] (for
    /// checkers that want to look at the bytes), empty from [`load_lean`] (recovery and
    /// readers, whose memory stays at one segment whatever the log's size).
    pub bytes: Vec<Vec<u8>>,
}

/// Reads and scans every segment in `dir`. No writes.
///
/// Returns `None` for a directory without segment files. See the [module docs](self) for an
/// example.
///
/// # Errors
/// `Error::Io` if the directory cannot be listed or a segment file cannot be opened or sized;
/// `Error::Corruption` (`DamageKind::SegmentHeader`) if no segment header identifies the log.
pub fn load<D: Disk>(disk: &D, dir: &Path, body_max: usize) -> Result<Option<Loaded>, Error> {
    load_inner(disk, dir, body_max, true)
}

/// As [`load`], without keeping the segments' bytes. See the [module docs](self) for an
/// example.
///
/// # Errors
/// As [`load`].
pub fn load_lean<D: Disk>(disk: &D, dir: &Path, body_max: usize) -> Result<Option<Loaded>, Error> {
    load_inner(disk, dir, body_max, false)
}

fn load_inner<D: Disk>(
    disk: &D,
    dir: &Path,
    body_max: usize,
    keep_bytes: bool,
) -> Result<Option<Loaded>, Error> {
    let names = disk.list(dir).map_err(|e| Error::io("list", dir, &e))?;
    let mut ids: Vec<SegmentId> =
        names.iter().filter_map(|n| segment::parse_file_name(n)).collect();
    ids.sort_unstable(); // the walk visits segments in id order, whatever `list` returned
    if ids.is_empty() {
        return Ok(None);
    }
    // First the headers, to learn the log id; then one segment at a time, so memory stays at
    // one segment whatever the log's size.
    let mut log_id = None;
    for &id in &ids {
        let path = dir.join(segment::file_name(id));
        let file = disk.open(&path, OpenMode::Read).map_err(|e| Error::io("open", &path, &e))?;
        let mut header = [0u8; SEGMENT_HEADER_LEN];
        if read_exact_at(&file, &mut header, 0).is_ok() {
            if let Ok(h) = format::decode_segment_header(&header) {
                if h.segment == id {
                    log_id = Some(h.log_id);
                    break;
                }
            }
        }
    }
    // No header identifies the log (each damaged, or the files renamed): its records still do.
    // The log is then read (and its damaged headers reported by the walk), not refused whole.
    let log_id = match log_id {
        Some(id) => id,
        None => log_id_from_records(disk, dir, &ids, body_max)?.ok_or(Error::Corruption(
            Corruption {
                segment: ids[0],
                offset: 0,
                seq_range: (1, 1),
                kind: DamageKind::SegmentHeader,
            },
        ))?,
    };
    let mut segments = Vec::with_capacity(ids.len());
    let mut kept = Vec::new();
    for &id in &ids {
        let path = dir.join(segment::file_name(id));
        let (b, bad) = segment::read_all(disk, &path)?;
        #[cfg(not(feature = "canary-trust-page-cache"))]
        let trusted = disk.synced_len_after_failure(&path);
        #[cfg(feature = "canary-trust-page-cache")] // CANARY: trusts bytes a failed fsync lost
        let trusted: Option<u64> = None;
        // A renamed file (its header valid, of this log, naming another id) holds records that
        // name that id: read them as such; the walk still reports the header's mismatch.
        let named = match format::decode_segment_header(&b) {
            Ok(h) if h.log_id == log_id && h.segment != id => h.segment,
            _ => id,
        };
        let mut s = scan::scan_segment(named, &b, log_id, body_max, &bad, trusted);
        s.id = id; // `s.named` keeps the id its records name
        if let Ok(h) = s.header {
            if h.log_id != log_id || h.segment != id {
                s.header = Err(HeaderDefect::Identity);
            }
        }
        segments.push(s);
        if keep_bytes {
            kept.push(b);
        }
    }
    Ok(Some(Loaded { scan: Scan { log_id, segments }, bytes: kept }))
}

/// The log id named by the first record, in segment id order, whose checksum verifies (the
/// record may name another segment: a renamed file's). Only read when no segment header
/// identifies the log; reads one segment at a time.
fn log_id_from_records<D: Disk>(
    disk: &D,
    dir: &Path,
    ids: &[SegmentId],
    body_max: usize,
) -> Result<Option<u128>, Error> {
    for &id in ids {
        let (bytes, _) = segment::read_all(disk, &dir.join(segment::file_name(id)))?;
        if let Some(log_id) = scan::first_record_log_id(&bytes, id, body_max) {
            return Ok(Some(log_id));
        }
    }
    Ok(None)
}

/// Recovers the log in `dir` for writing (the caller holds the directory lock).
///
/// # Errors
/// `Error::Corruption` for damage at or below the durable watermark, or no segment header
/// naming the log (nothing is changed); `Error::DiskFull` if no segment can be prepared, or
/// `Error::Poisoned` if preparing it meets another I/O error (see
/// [`segment::prepare`]); `Error::Io` for any other I/O error
/// (listing the directory, removing `.prep` files, reading segments, saving a tail to the
/// quarantine, shrinking the last segment, syncing). See the [module docs](self) for an
/// example.
pub fn recover<D: Disk, E: Entropy + ?Sized>(
    disk: &Arc<D>,
    dir: &Path,
    segment_bytes: u64,
    body_max: usize,
    entropy: &E,
) -> Result<(WriterStart<D::File>, RecoveryReport), Error> {
    remove_prep_files(&**disk, dir)?;
    // Existing records are parsed up to the format's hard limit, not the configured one: a
    // smaller body_max on reopen must not turn an intact log into "damage".
    let _ = body_max;
    let loaded = load_lean(&**disk, dir, format::RECORD_BODY_HARD_MAX)?;
    let Some(loaded) = loaded else {
        let log_id = entropy.next_u128();
        let active = segment::prepare(&**disk, dir, log_id, SegmentId::FIRST, segment_bytes)?;
        let start = WriterStart {
            log_id,
            seq_next: 1,
            chain: crate::integrity::chain::genesis(log_id),
            timestamp_last: None,
            active,
        };
        let report = report(&**disk, dir, log_id, 0, 0, &start)?;
        return Ok((start, report));
    };
    let head = match recovery::classify(&loaded.scan) {
        Verdict::Corrupt(c) => return Err(Error::Corruption(c)),
        Verdict::Clean(head) => (head, false),
        Verdict::Tail { cut, head } => {
            let ended = cut_tail(&**disk, dir, &loaded, &cut)?;
            (head, ended)
        }
    };
    let (head, ended_by_cut) = head;
    let active = continue_after(disk, dir, &loaded, &head, ended_by_cut, segment_bytes)?;
    // Every directory entry the writer will rely on must be durable before its first ack: an
    // earlier open may have renamed a segment into place and then failed to fsync the
    // directory, and reusing that segment would put acknowledged records in a file whose name
    // a power loss can still revert. One fsync of the directory settles every entry in it.
    disk.sync_dir(dir).map_err(|e| Error::io("fsync dir", dir, &e))?;
    let start = WriterStart {
        log_id: loaded.scan.log_id,
        seq_next: head.seq_next,
        chain: head.chain,
        timestamp_last: head.timestamp_last,
        active,
    };
    // The segments holding the kept events: a pure function of what survives, so a repeated
    // recovery (after a crash in this one) reports the same number.
    let segments = loaded
        .scan
        .segments
        .iter()
        .filter(|s| {
            s.items.iter().any(|i| {
                matches!(i, scan::Item::Record(r)
                    if r.kind == format::RecordKind::Event && r.seq < head.seq_next)
            })
        })
        .count();
    let report = report(&**disk, dir, loaded.scan.log_id, segments, head.events, &start)?;
    Ok((start, report))
}

fn report<D: Disk, F>(
    disk: &D,
    dir: &Path,
    log_id: u128,
    segments: usize,
    events: u64,
    start: &WriterStart<F>,
) -> Result<RecoveryReport, Error> {
    Ok(RecoveryReport {
        log_id,
        segments,
        events,
        seq_next: start.seq_next,
        head_hash: start.chain,
        cuts: quarantine::list(disk, dir)?,
    })
}

fn remove_prep_files<D: Disk>(disk: &D, dir: &Path) -> Result<(), Error> {
    let names = disk.list(dir).map_err(|e| Error::io("list", dir, &e))?;
    let mut removed = false;
    for name in names.iter().filter(|n| segment::is_prep_file(n)) {
        let path = dir.join(name);
        disk.remove(&path).map_err(|e| Error::io("remove", path, &e))?;
        removed = true;
    }
    if removed {
        disk.sync_dir(dir).map_err(|e| Error::io("fsync dir", dir, &e))?;
    }
    Ok(())
}

/// Quarantines the tail and ends the log at the cut. Idempotent. Returns whether it ended
/// the head segment.
fn cut_tail<D: Disk>(disk: &D, dir: &Path, loaded: &Loaded, cut: &Cut) -> Result<bool, Error> {
    let position = loaded.scan.segments.iter().position(|s| s.id == cut.segment);
    let whole = cut.offset < SEGMENT_HEADER_LEN as u64 || position.is_none();
    if position.is_some() && !whole {
        // Read again rather than keep every segment in memory during recovery: only the cut
        // segment's bytes are needed, once.
        let path = dir.join(segment::file_name(cut.segment));
        let (bytes, _) = segment::read_all(disk, &path)?;
        let start = cut.offset as usize;
        let end = (cut.offset + cut.len) as usize;
        quarantine::save_bytes(disk, dir, cut, bytes.get(start..end).unwrap_or(&[]))?;
    }
    let mut moved: Vec<SegmentId> = cut.later_segments.clone();
    if whole && position.is_some() {
        moved.insert(0, cut.segment);
    }
    for id in moved {
        quarantine::move_segment(disk, dir, cut, id)?;
    }
    if !whole {
        end_at(disk, dir, cut.segment, cut.offset)?;
        return Ok(true);
    }
    Ok(false)
}

/// Ends segment `id` at `offset` (just past its last valid record): shrinks the file there and
/// fsyncs it.
///
/// Why a shrink and not a seal record: a shrink is one metadata change that a power loss
/// either keeps or reverts, so a crash in the middle of recovery leaves either the old state
/// (recovered again the same way) or the new one. A seal written here could itself be torn,
/// and the next recovery would have to cut and report our own torn seal: the report would
/// depend on where the crash struck. Seals are written by the writer (rotation, clean close);
/// a segment ended by recovery is followed by the next segment, whose first record continues
/// the seq and the hash chain, which is what proves nothing is missing between them.
fn end_at<D: Disk>(disk: &D, dir: &Path, id: SegmentId, offset: u64) -> Result<(), Error> {
    let path = dir.join(segment::file_name(id));
    let file = disk.open(&path, OpenMode::ReadWrite).map_err(|e| Error::io("open", &path, &e))?;
    let io = |op, e: std::io::Error| Error::io(op, path.clone(), &e);
    file.set_len(offset).map_err(|e| io("truncate", e))?;
    file.sync_all().map_err(|e| io("fsync", e))?;
    Ok(())
}

/// The empty segment the writer continues in: the last one if it is empty, else a new one.
fn continue_after<D: Disk>(
    disk: &Arc<D>,
    dir: &Path,
    loaded: &Loaded,
    head: &Head,
    ended_by_cut: bool,
    segment_bytes: u64,
) -> Result<Prepared<D::File>, Error> {
    let log_id = loaded.scan.log_id;
    sync_kept_segments(&**disk, dir, loaded)?;
    let (last_id, _) = head.segment.unwrap_or((SegmentId(0), 0));
    // The writer rotates from here to `id + 1` and on: an id past SEGMENT_ID_MAX was crafted
    // (or renamed), and continuing after it could run the ids out.
    if last_id.0 > format::SEGMENT_ID_MAX {
        let path = dir.join(segment::file_name(last_id));
        return Err(Error::SegmentIdOutOfRange { path, id: last_id, max: format::SEGMENT_ID_MAX });
    }
    let last = loaded.scan.segments.iter().find(|s| s.id == last_id);
    // Empty *and* still its prepared size: a segment a cut shrank to its header is empty too,
    // but a writer must never append to it (it has no room even for a seal).
    let reusable =
        |s: &SegmentScan| !recovery::has_data(s) && s.header.is_ok_and(|h| h.capacity == s.len);
    // The head segment itself, if it is an empty prepared one.
    if let Some(s) = last.filter(|s| reusable(s)) {
        return reopen_empty(&**disk, dir, s);
    }
    // End the head segment where its valid records end, unless sealed (or just cut).
    if let Some(s) = last.filter(|_| !head.sealed && !ended_by_cut) {
        let (_, end) = head.segment.unwrap_or((s.id, SEGMENT_HEADER_LEN as u64));
        if end < s.len {
            end_at(&**disk, dir, s.id, end)?;
        }
    }
    let next = SegmentId(last_id.0 + 1); // last_id <= SEGMENT_ID_MAX, checked above
                                         // Remove empty segments past the next one (they hold nothing), so ids stay contiguous.
    for s in loaded.scan.segments.iter().filter(|s| s.id > next && !recovery::has_data(s)) {
        let path = dir.join(segment::file_name(s.id));
        disk.remove(&path).map_err(|e| Error::io("remove", path, &e))?;
    }
    match loaded.scan.segments.iter().find(|s| s.id == next) {
        Some(s) if reusable(s) && dir_has(&**disk, dir, s.id)? => reopen_empty(&**disk, dir, s),
        _ => segment::prepare(&**disk, dir, log_id, next, segment_bytes),
    }
}

/// fdatasyncs every segment that still holds data.
///
/// Why: after a process crash the page cache still holds whatever the dead writer wrote, synced
/// or not, and the scan read it from there. The new writer's records will carry a watermark
/// saying everything before them is durable; that must be true before the first of them is
/// written, so recovery makes it true here. A sync of a clean file costs next to nothing.
fn sync_kept_segments<D: Disk>(disk: &D, dir: &Path, loaded: &Loaded) -> Result<(), Error> {
    for seg in loaded.scan.segments.iter().filter(|s| recovery::has_data(s)) {
        let path = dir.join(segment::file_name(seg.id));
        if !disk.exists(&path).map_err(|e| Error::io("stat", &path, &e))? {
            continue; // moved to quarantine by a cut
        }
        let file = disk.open(&path, OpenMode::Read).map_err(|e| Error::io("open", &path, &e))?;
        file.sync_data().map_err(|e| Error::io("fdatasync", &path, &e))?;
    }
    Ok(())
}

fn dir_has<D: Disk>(disk: &D, dir: &Path, id: SegmentId) -> Result<bool, Error> {
    let path = dir.join(segment::file_name(id));
    disk.exists(&path).map_err(|e| Error::io("stat", path, &e))
}

fn reopen_empty<D: Disk>(
    disk: &D,
    dir: &Path,
    s: &SegmentScan,
) -> Result<Prepared<D::File>, Error> {
    let path: PathBuf = dir.join(segment::file_name(s.id));
    let file = disk.open(&path, OpenMode::ReadWrite).map_err(|e| Error::io("open", &path, &e))?;
    let h = s
        .header
        .map_err(|_| Error::io("header", &path, &std::io::ErrorKind::InvalidData.into()))?;
    Ok(Prepared {
        id: s.id,
        path,
        file,
        capacity: s.len,
        header: format::encode_segment_header(&h),
    })
}
