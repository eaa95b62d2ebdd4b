//! Quarantine: where recovery saves every byte it cuts, before cutting it.
//!
//! A tail cut writes `quarantine/SSSSSSSSSSSSSSSSSSSS-OOOOOOOOOOOO.q`: an 80-byte header (magic
//! `MTLQUAR1`, segment, offset, length, seq range, reason, CRC32C) followed by the raw bytes.
//! Whole segments past a cut are moved to `quarantine/SSSS…-OOOO…-NNNN….wal`. The file is
//! written to a `.tmp` name, fdatasynced, renamed and the directory fsynced, and a quarantine
//! file that already exists is never overwritten. After a crash mid-recovery the repeated
//! recovery finds its own capture (same header fields, same bytes) and keeps it, so a repeated
//! recovery reports the same cuts.
//!
//! A place (segment id, offset) can be cut more than once in a log's life: recovery may
//! prepare a segment id again after an earlier cut shrank that segment to its header or moved
//! it into quarantine whole, and the new file can be cut at the same offset. Such a later cut
//! is a different capture, so it goes under the first free repeat name, `SSSS…-OOOO…_RRR.q`
//! (moved segments: `SSSS…-OOOO…_RRR-NNNN….wal`), `RRR` counting from 001. Neither capture
//! is lost and each is reported.
//!
//! # Examples
//!
//! A power loss while the seal was being written, simulated by cutting the file short:
//!
//! ```
//! use mtlog_audit::io::RealDisk;
//! use mtlog_audit::wal::format::SegmentId;
//! use mtlog_audit::wal::{quarantine, segment};
//! use mtlog_audit::{Level, Options, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let sink = Sink::open(Options::new(dir))?;
//! sink.event(Level::Information, "One").emit()?;
//! sink.event(Level::Information, "Two").emit()?;
//! drop(sink); // closes: writes the seal after event 2
//! let file = std::fs::OpenOptions::new()
//!     .write(true)
//!     .open(dir.join(segment::file_name(SegmentId(1))))?;
//! file.set_len(file.metadata()?.len() - 50)?; // half a seal
//!
//! let sink = Sink::open(Options::new(dir))?; // recovery saves the torn bytes, then cuts
//! let report = sink.recovery_report();
//! assert_eq!(report.events, 2); // nothing acknowledged was lost
//! assert_eq!(report.cuts.len(), 1);
//! assert_eq!(quarantine::list(&RealDisk, dir)?, report.cuts);
//! assert!(dir.join(quarantine::DIR).join(&report.cuts[0].file).exists());
//!
//! // Recovery's two moves, called directly (here on another directory).
//! use mtlog_audit::error::DamageKind;
//! use mtlog_audit::wal::recovery::Cut;
//! # let other = tempfile::tempdir()?;
//! let dir = other.path();
//! let (one, two) = (SegmentId(1), SegmentId(2));
//! let reason = DamageKind::Garbage;
//! let later_segments = vec![two];
//! let cut = Cut { segment: one, offset: 64, len: 4, seq_range: (3, 3), reason, later_segments };
//! quarantine::save_bytes(&RealDisk, dir, &cut, b"torn")?;
//! quarantine::save_bytes(&RealDisk, dir, &cut, b"torn")?; // a repeated recovery: kept once
//! std::fs::write(dir.join(segment::file_name(two)), [0; 64])?;
//! quarantine::move_segment(&RealDisk, dir, &cut, two)?;
//! let entries = quarantine::list(&RealDisk, dir)?;
//! assert_eq!(entries.len(), 2);
//! assert!(entries.iter().any(|e| (e.segment, e.len, e.reason) == (one, 4, Some(reason))));
//! assert!(entries.iter().any(|e| (e.segment, e.len, e.reason) == (two, 64, None))); // whole
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use crate::error::{DamageKind, Error};
use crate::io::{read_exact_at, write_all_at, Disk, DiskFile, OpenMode};
use crate::wal::format::SegmentId;
use crate::wal::recovery::Cut;
use crate::wal::segment;

/// The quarantine directory's name inside the log directory.
/// See the [module docs](self) for an example.
pub const DIR: &str = "quarantine";
const MAGIC: [u8; 8] = *b"MTLQUAR1";
const HEADER_LEN: usize = 80;
/// How many cuts one place (segment id, offset) can take: the repeat number has three digits.
/// See the [module docs](self) for an example.
pub const CUTS_AT_ONE_PLACE_MAX: u32 = 1_000;

/// One recorded cut (or one segment moved aside by a cut).
/// See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantineEntry {
    /// The file name inside `quarantine/`.
    pub file: String,
    /// The segment cut.
    pub segment: SegmentId,
    /// Where the cut was.
    pub offset: u64,
    /// How many bytes were cut from that segment (for a moved segment: its whole length).
    pub len: u64,
    /// The seqs expected at the cut and the highest seen past it (0, 0 for a moved segment).
    pub seq_range: (u64, u64),
    /// Why the cut was made (`None` for a moved segment).
    pub reason: Option<DamageKind>,
}

/// Saves the cut bytes, unless this capture was saved before (a repeated recovery).
///
/// A file of this cut's name that holds another capture (the place was cut before, in an
/// earlier file with the same segment id) is kept, and this capture takes the next repeat name.
///
/// # Errors
/// Any I/O error (recovery stops; nothing has been cut yet); `AlreadyExists` if the place was
/// cut [`CUTS_AT_ONE_PLACE_MAX`] times.
///
/// See the [module docs](self) for an example.
pub fn save_bytes<D: Disk>(disk: &D, dir: &Path, cut: &Cut, bytes: &[u8]) -> Result<(), Error> {
    let qdir = ensure_dir(disk, dir)?;
    let header = encode_header(cut, bytes.len() as u64);
    for repeat in 0..CUTS_AT_ONE_PLACE_MAX {
        let name = format!("{}.q", place_name(cut, repeat));
        let path = qdir.join(&name);
        if !disk.exists(&path).map_err(|e| Error::io("stat", &path, &e))? {
            return write_capture(disk, &qdir, &name, &header, bytes);
        }
        if holds_capture(disk, &path, &header, bytes)? {
            return Ok(());
        }
    }
    Err(too_many_cuts(&qdir))
}

/// Moves segment `id` into quarantine whole (it lies past the cut), under the first free
/// repeat name: a taken name holds a segment of the same id moved by an earlier cut (the segment
/// was still in the log directory, so it cannot be this one).
///
/// # Errors
/// Any I/O error; `AlreadyExists` if the place was cut [`CUTS_AT_ONE_PLACE_MAX`] times.
///
/// See the [module docs](self) for an example.
pub fn move_segment<D: Disk>(disk: &D, dir: &Path, cut: &Cut, id: SegmentId) -> Result<(), Error> {
    let qdir = ensure_dir(disk, dir)?;
    let from = dir.join(segment::file_name(id));
    for repeat in 0..CUTS_AT_ONE_PLACE_MAX {
        let to = qdir.join(format!("{}-{}", place_name(cut, repeat), segment::file_name(id)));
        if disk.exists(&to).map_err(|e| Error::io("stat", &to, &e))? {
            continue;
        }
        disk.rename(&from, &to).map_err(|e| Error::io("rename", &from, &e))?;
        disk.sync_dir(&qdir).map_err(|e| Error::io("fsync dir", &qdir, &e))?;
        disk.sync_dir(dir).map_err(|e| Error::io("fsync dir", dir, &e))?;
        return Ok(());
    }
    Err(too_many_cuts(&qdir))
}

/// The name of a cut's place, `SSSS…-OOOO…`, with `_RRR` for the `repeat`-th later cut there.
/// The suffix sorts after the first name, so the listing keeps the cuts of one place in order.
fn place_name(cut: &Cut, repeat: u32) -> String {
    assert!(repeat < CUTS_AT_ONE_PLACE_MAX);
    match repeat {
        0 => format!("{:020}-{:012}", cut.segment.0, cut.offset),
        r => format!("{:020}-{:012}_{r:03}", cut.segment.0, cut.offset),
    }
}

/// Writes a new `.q` file `name`: tmp, fdatasync, rename, fsync of the quarantine directory.
fn write_capture<D: Disk>(
    disk: &D,
    qdir: &Path,
    name: &str,
    header: &[u8; HEADER_LEN],
    bytes: &[u8],
) -> Result<(), Error> {
    let path = qdir.join(name);
    let tmp = qdir.join(format!("{name}.tmp"));
    let io = |op, p: &Path, e: std::io::Error| Error::io(op, p, &e);
    if disk.exists(&tmp).map_err(|e| io("stat", &tmp, e))? {
        disk.remove(&tmp).map_err(|e| io("remove", &tmp, e))?;
    }
    let file = disk.open(&tmp, OpenMode::CreateNew).map_err(|e| io("create", &tmp, e))?;
    write_all_at(&file, header, 0).map_err(|e| io("write", &tmp, e))?;
    write_all_at(&file, bytes, HEADER_LEN as u64).map_err(|e| io("write", &tmp, e))?;
    file.sync_data().map_err(|e| io("fdatasync", &tmp, e))?;
    disk.rename(&tmp, &path).map_err(|e| io("rename", &path, e))?;
    disk.sync_dir(qdir).map_err(|e| io("fsync dir", qdir, e))?;
    Ok(())
}

/// Whether the `.q` file at `path` is this capture: the same place, expected seq, reason and
/// bytes. The highest seq seen past the cut is left out: a repeated recovery computes it after
/// the interrupted one may already have moved later segments away (`docs/recovery.md`,
/// section 8). A file that does not decode is another capture (it is never overwritten).
fn holds_capture<D: Disk>(
    disk: &D,
    path: &Path,
    header: &[u8; HEADER_LEN],
    bytes: &[u8],
) -> Result<bool, Error> {
    let file = disk.open(path, OpenMode::Read).map_err(|e| Error::io("open", path, &e))?;
    let len = file.len().map_err(|e| Error::io("stat", path, &e))?;
    if len != (HEADER_LEN + bytes.len()) as u64 {
        return Ok(false);
    }
    let mut stored = vec![0u8; HEADER_LEN + bytes.len()];
    read_exact_at(&file, &mut stored, 0).map_err(|e| Error::io("read", path, &e))?;
    let (stored_header, stored_bytes) = stored.split_at(HEADER_LEN);
    // Everything but "seq to" (40..48) and the CRC over it (72..76).
    let same = |r: std::ops::Range<usize>| stored_header.get(r.clone()) == header.get(r);
    Ok(same(0..40) && same(48..72) && same(76..HEADER_LEN) && stored_bytes == bytes)
}

fn too_many_cuts(qdir: &Path) -> Error {
    let err = std::io::Error::from(std::io::ErrorKind::AlreadyExists);
    Error::io("name a quarantine file", qdir, &err)
}

/// Every quarantine entry, sorted by file name.
///
/// # Errors
/// I/O errors listing or reading the quarantine directory.
///
/// See the [module docs](self) for an example.
pub fn list<D: Disk>(disk: &D, dir: &Path) -> Result<Vec<QuarantineEntry>, Error> {
    let qdir = dir.join(DIR);
    if !disk.exists(&qdir).map_err(|e| Error::io("stat", &qdir, &e))? {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for name in disk.list(&qdir).map_err(|e| Error::io("list", &qdir, &e))? {
        let path = qdir.join(&name);
        if name.ends_with(".q") {
            let file =
                disk.open(&path, OpenMode::Read).map_err(|e| Error::io("open", &path, &e))?;
            let mut h = [0u8; HEADER_LEN];
            if read_exact_at(&file, &mut h, 0).is_ok() {
                if let Some(entry) = decode_header(&name, &h) {
                    out.push(entry);
                }
            }
        } else if let Some(entry) = moved_entry(disk, &name, &path)? {
            out.push(entry);
        }
    }
    Ok(out)
}

fn moved_entry<D: Disk>(
    disk: &D,
    name: &str,
    path: &Path,
) -> Result<Option<QuarantineEntry>, Error> {
    let mut parts = name.splitn(3, '-');
    let (Some(_), Some(_), Some(seg)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    let Some(id) = segment::parse_file_name(seg) else {
        return Ok(None);
    };
    let file = disk.open(path, OpenMode::Read).map_err(|e| Error::io("open", path, &e))?;
    let len = file.len().map_err(|e| Error::io("stat", path, &e))?;
    Ok(Some(QuarantineEntry {
        file: name.to_owned(),
        segment: id,
        offset: 0,
        len,
        seq_range: (0, 0),
        reason: None,
    }))
}

/// Creates `quarantine/` if missing and fsyncs the log directory on **every** call, not only
/// after a create: if a create's fsync failed, the next call finds the directory present but
/// its entry not durable, and a capture written into it would vanish with a power loss while
/// the cut it saves persists (the same defect torture's I17 found in `integrity::store`).
fn ensure_dir<D: Disk>(disk: &D, dir: &Path) -> Result<PathBuf, Error> {
    let qdir = dir.join(DIR);
    if !disk.exists(&qdir).map_err(|e| Error::io("stat", &qdir, &e))? {
        disk.create_dir_all(&qdir).map_err(|e| Error::io("mkdir", &qdir, &e))?;
    }
    disk.sync_dir(dir).map_err(|e| Error::io("fsync dir", dir, &e))?;
    Ok(qdir)
}

fn encode_header(cut: &Cut, len: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..16].copy_from_slice(&cut.segment.0.to_le_bytes());
    h[16..24].copy_from_slice(&cut.offset.to_le_bytes());
    h[24..32].copy_from_slice(&len.to_le_bytes());
    h[32..40].copy_from_slice(&cut.seq_range.0.to_le_bytes());
    h[40..48].copy_from_slice(&cut.seq_range.1.to_le_bytes());
    let (code, a, b) = reason_code(cut.reason);
    h[48..52].copy_from_slice(&code.to_le_bytes());
    h[56..64].copy_from_slice(&a.to_le_bytes());
    h[64..72].copy_from_slice(&b.to_le_bytes());
    let crc = crc32c::crc32c(&h[..72]);
    h[72..76].copy_from_slice(&crc.to_le_bytes());
    h
}

fn decode_header(name: &str, h: &[u8; HEADER_LEN]) -> Option<QuarantineEntry> {
    let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap_or([0; 8]));
    let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap_or([0; 4]));
    if h[0..8] != MAGIC || u32_at(72) != crc32c::crc32c(&h[..72]) {
        return None;
    }
    Some(QuarantineEntry {
        file: name.to_owned(),
        segment: SegmentId(u64_at(8)),
        offset: u64_at(16),
        len: u64_at(24),
        seq_range: (u64_at(32), u64_at(40)),
        reason: reason_from(u32_at(48), u64_at(56), u64_at(64)),
    })
}

fn reason_code(kind: DamageKind) -> (u32, u64, u64) {
    match kind {
        DamageKind::Checksum { stored, computed } => (1, stored.into(), computed.into()),
        DamageKind::Garbage => (2, 0, 0),
        DamageKind::Hole => (3, 0, 0),
        DamageKind::Misdirected { found_segment } => (4, found_segment.0, 0),
        DamageKind::SeqGap { expected, found } => (5, expected, found),
        DamageKind::ChainBreak { seq } => (6, seq, 0),
        DamageKind::SegmentHeader => (7, 0, 0),
        DamageKind::MissingSegment => (8, 0, 0),
        DamageKind::SealMismatch => (9, 0, 0),
        DamageKind::ReadError => (10, 0, 0),
        DamageKind::UnsyncedAfterFailedSync => (11, 0, 0),
        DamageKind::Unsupported => (12, 0, 0),
    }
}

fn reason_from(code: u32, a: u64, b: u64) -> Option<DamageKind> {
    Some(match code {
        1 => DamageKind::Checksum { stored: a as u32, computed: b as u32 },
        2 => DamageKind::Garbage,
        3 => DamageKind::Hole,
        4 => DamageKind::Misdirected { found_segment: SegmentId(a) },
        5 => DamageKind::SeqGap { expected: a, found: b },
        6 => DamageKind::ChainBreak { seq: a },
        7 => DamageKind::SegmentHeader,
        8 => DamageKind::MissingSegment,
        9 => DamageKind::SealMismatch,
        10 => DamageKind::ReadError,
        11 => DamageKind::UnsyncedAfterFailedSync,
        12 => DamageKind::Unsupported,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::RealDisk;

    fn cut(segment: u64, offset: u64, seq_to: u64, reason: DamageKind) -> Cut {
        Cut {
            segment: SegmentId(segment),
            offset,
            len: 0,
            seq_range: (1, seq_to),
            reason,
            later_segments: Vec::new(),
        }
    }

    fn saved(dir: &Path, name: &str) -> Vec<u8> {
        let file = RealDisk.open(&dir.join(DIR).join(name), OpenMode::Read).unwrap();
        let mut b = vec![0u8; file.len().unwrap() as usize];
        read_exact_at(&file, &mut b, 0).unwrap();
        b.split_off(HEADER_LEN)
    }

    /// The real disk, but the first `sync_dir` fails (EIO) and the later ones are counted.
    struct FirstDirSyncFails {
        failed: std::sync::atomic::AtomicBool,
        synced: std::sync::atomic::AtomicU32,
    }

    impl Disk for FirstDirSyncFails {
        type File = <RealDisk as Disk>::File;
        type Lock = <RealDisk as Disk>::Lock;
        fn create_dir_all(&self, dir: &Path) -> std::io::Result<()> {
            RealDisk.create_dir_all(dir)
        }
        fn open(&self, path: &Path, mode: OpenMode) -> std::io::Result<Self::File> {
            RealDisk.open(path, mode)
        }
        fn list(&self, dir: &Path) -> std::io::Result<Vec<String>> {
            RealDisk.list(dir)
        }
        fn exists(&self, path: &Path) -> std::io::Result<bool> {
            RealDisk.exists(path)
        }
        fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
            RealDisk.rename(from, to)
        }
        fn remove(&self, path: &Path) -> std::io::Result<()> {
            RealDisk.remove(path)
        }
        fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
            use std::sync::atomic::Ordering::SeqCst;
            if !self.failed.swap(true, SeqCst) {
                return Err(std::io::Error::from_raw_os_error(5));
            }
            self.synced.fetch_add(1, SeqCst);
            RealDisk.sync_dir(dir)
        }
        fn lock_dir(&self, dir: &Path) -> std::io::Result<Self::Lock> {
            RealDisk.lock_dir(dir)
        }
        fn synced_len_after_failure(&self, path: &Path) -> Option<u64> {
            RealDisk.synced_len_after_failure(path)
        }
    }

    #[test]
    fn a_capture_after_a_failed_directory_sync_syncs_the_directory_again() {
        // Goal: a capture is never written into a `quarantine/` whose entry may not be durable.
        // Regression: the log directory was fsynced only when `quarantine/` was created, so
        // after that fsync failed, the retried save found the directory present, skipped the
        // fsync, and a power loss could take the capture while the cut it saves persisted.
        let tmp = tempfile::tempdir().unwrap();
        let disk = FirstDirSyncFails { failed: false.into(), synced: 0.into() };
        let capture = cut(2, 64, 1, DamageKind::Hole);
        assert!(save_bytes(&disk, tmp.path(), &capture, b"tail").is_err());
        save_bytes(&disk, tmp.path(), &capture, b"tail").unwrap();
        let synced = disk.synced.load(std::sync::atomic::Ordering::SeqCst);
        assert!(synced >= 2, "the log directory and quarantine/ synced: {synced}");
        assert_eq!(saved(tmp.path(), "00000000000000000002-000000000064.q"), b"tail");
    }

    #[test]
    fn a_repeated_save_of_one_capture_keeps_one_file_and_another_capture_gets_its_own() {
        // Goal: `save_bytes` is idempotent for one capture (a recovery repeated after a crash,
        // which may compute another highest seq) and never drops a different capture of the
        // same place. Regression: a later cut at a place cut before (segment id prepared again)
        // was taken for the first and not saved (fuzz target `wal_ops`).
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let garbage = cut(2, 64, 1, DamageKind::Hole);
        save_bytes(&RealDisk, dir, &garbage, b"garbage").unwrap();
        save_bytes(&RealDisk, dir, &cut(2, 64, 9, DamageKind::Hole), b"garbage").unwrap();
        let record = cut(2, 64, 1, DamageKind::Checksum { stored: 1, computed: 2 });
        save_bytes(&RealDisk, dir, &record, b"a record").unwrap();
        save_bytes(&RealDisk, dir, &record, b"a record").unwrap();
        save_bytes(&RealDisk, dir, &garbage, b"other garbage").unwrap();
        let names: Vec<String> =
            list(&RealDisk, dir).unwrap().into_iter().map(|e| e.file).collect();
        let expected = [
            "00000000000000000002-000000000064.q",
            "00000000000000000002-000000000064_001.q",
            "00000000000000000002-000000000064_002.q",
        ];
        assert_eq!(names, expected);
        assert_eq!(saved(dir, expected[0]), b"garbage");
        assert_eq!(saved(dir, expected[1]), b"a record");
        assert_eq!(saved(dir, expected[2]), b"other garbage");
    }

    #[test]
    fn a_segment_id_moved_aside_twice_keeps_both_copies() {
        // Goal: `move_segment` never renames over an earlier copy of the same segment id.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let header_cut = cut(2, 0, 1, DamageKind::SegmentHeader);
        for content in [&b"first"[..], b"second"] {
            let path = dir.join(segment::file_name(SegmentId(2)));
            let file = RealDisk.open(&path, OpenMode::CreateNew).unwrap();
            write_all_at(&file, content, 0).unwrap();
            drop(file);
            move_segment(&RealDisk, dir, &header_cut, SegmentId(2)).unwrap();
        }
        let entries = list(&RealDisk, dir).unwrap();
        let found: Vec<(&str, SegmentId, u64)> =
            entries.iter().map(|e| (e.file.as_str(), e.segment, e.len)).collect();
        let first = "00000000000000000002-000000000000-00000000000000000002.wal";
        let again = "00000000000000000002-000000000000_001-00000000000000000002.wal";
        assert_eq!(found, [(first, SegmentId(2), 5), (again, SegmentId(2), 6)]);
    }
}
