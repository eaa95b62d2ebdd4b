//! Every reading path reports what it could not read, with its place: a replay never skips a
//! record silently, never turns unreadable sectors into an absence, and a reader never counts or
//! shows a record that lies past the damage ending its valid prefix.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Tests touch files directly.

#[macro_use]
#[allow(unused_macros)] // the file wrapper below breaks reads, so it spells them out
mod common;

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mtlog_audit::io::{Disk, DiskFile, OpenMode, RealDisk};
use mtlog_audit::wal::format::{encode_record, parse_record, SegmentId, RECORD_BODY_HARD_MAX};
use mtlog_audit::wal::segment;
use mtlog_audit::{Corruption, DamageKind, Error, Level, Options, Reader, Sink, StoredEvent};

/// A closed log of `n` events, `n {N}`, in one segment. Returns the segment's path.
fn log_of(dir: &Path, n: u64) -> PathBuf {
    let sink = Sink::open(Options::new(dir).segment_bytes(1 << 20)).unwrap();
    for i in 1..=n {
        sink.event(Level::Information, "n {N}").with("N", i).emit().unwrap();
    }
    sink.close().unwrap();
    dir.join(segment::file_name(SegmentId::FIRST))
}

fn stored(dir: &Path, seq: u64) -> StoredEvent {
    Reader::open(dir).unwrap().replay(seq..=seq).unwrap().next().unwrap().unwrap()
}

/// Rewrites the record at `offset` with `seq`, its checksum recomputed: valid, and false.
fn rewrite_seq(path: &Path, offset: u64, seq: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = offset as usize;
    let view = parse_record(&bytes, at, log_id(&bytes), SegmentId::FIRST, RECORD_BODY_HARD_MAX);
    let view = view.unwrap();
    let mut header = view.header;
    header.seq = seq;
    let mut framed = Vec::new();
    encode_record(&mut framed, &header, view.body);
    bytes[at..at + framed.len()].copy_from_slice(&framed);
    std::fs::write(path, bytes).unwrap();
}

fn log_id(segment: &[u8]) -> u128 {
    u128::from_le_bytes(segment[16..32].try_into().unwrap())
}

#[test]
fn a_record_damaged_after_the_open_is_an_error_item_naming_it_and_the_replay_goes_on() {
    // Regression (issue #19, defect 5): a record that stopped parsing after the reader was
    // opened was stepped over, and the replay returned the others as if it had never existed.
    let tmp = tempfile::tempdir().unwrap();
    let path = log_of(tmp.path(), 10);
    let fifth = stored(tmp.path(), 5);
    let reader = Reader::open(tmp.path()).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[fifth.offset as usize + 110] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let items: Vec<Result<StoredEvent, Error>> = reader.replay(1..=10).unwrap().collect();
    assert_eq!(items.len(), 10, "one item per seq");
    for (i, item) in items.iter().enumerate() {
        let seq = i as u64 + 1;
        match item {
            Ok(e) => assert!(seq != 5 && e.seq == seq, "seq {seq}: {e:?}"),
            Err(Error::Corruption(c)) => {
                assert_eq!(seq, 5);
                assert_eq!(
                    (c.segment, c.offset, c.seq_range),
                    (SegmentId(1), fifth.offset, (5, 5))
                );
                assert!(matches!(c.kind, DamageKind::Checksum { .. }), "{c}");
            }
            Err(e) => panic!("seq {seq}: {e}"),
        }
    }
    // The raw read path reports it too, instead of a shorter list.
    assert!(matches!(reader.records(1..=10), Err(Error::Corruption(c)) if c.seq_range == (5, 5)));
}

/// A disk whose reads fail (EIO) where they touch `bad`, once it is set.
#[derive(Clone, Default)]
struct BadSectors {
    bad: Arc<Mutex<Option<Range<u64>>>>,
}

struct BadSectorFile {
    inner: <RealDisk as Disk>::File,
    bad: Arc<Mutex<Option<Range<u64>>>>,
}

impl Disk for BadSectors {
    type File = BadSectorFile;
    type Lock = <RealDisk as Disk>::Lock;

    real_disk_directory_ops!();

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<BadSectorFile> {
        Ok(BadSectorFile { inner: RealDisk.open(path, mode)?, bad: self.bad.clone() })
    }
    fn synced_len_after_failure(&self, _: &Path) -> Option<u64> {
        None
    }
}

impl DiskFile for BadSectorFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let end = offset + buf.len() as u64;
        if let Some(bad) = self.bad.lock().unwrap().as_ref() {
            if offset < bad.end && bad.start < end {
                return Err(io::Error::from_raw_os_error(5));
            }
        }
        self.inner.read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.inner.sync_all()
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

#[test]
fn a_sector_that_became_unreadable_is_a_read_error_item_not_an_absence() {
    // Regression (issue #19, defect 5): the replay read unreadable sectors as zeros and stepped
    // over them ("replayed 89 events, 0 errors, missing seqs [5]").
    let tmp = tempfile::tempdir().unwrap();
    log_of(tmp.path(), 10);
    let fifth = stored(tmp.path(), 5);
    let disk = Arc::new(BadSectors::default());
    let reader = Reader::open_with(disk.clone(), tmp.path(), false).unwrap();
    let sector = fifth.offset / 512 * 512;
    *disk.bad.lock().unwrap() = Some(sector..sector + 512);
    let mut failed = Vec::new();
    let mut read = Vec::new();
    for item in reader.replay(1..=10).unwrap() {
        match item {
            Ok(e) => read.push(e.seq),
            Err(Error::Corruption(Corruption { seq_range, kind, segment, .. })) => {
                assert_eq!((segment, kind), (SegmentId(1), DamageKind::ReadError));
                failed.push(seq_range.0);
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(failed.contains(&5), "seq 5 unreadable, reported {failed:?}");
    let mut all: Vec<u64> = read.iter().chain(&failed).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (1..=10).collect::<Vec<_>>(), "every seq read or reported");
}

#[test]
fn a_strict_replay_reaching_past_the_damage_ends_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let path = log_of(tmp.path(), 10);
    let seventh = stored(tmp.path(), 7);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[seventh.offset as usize + 110] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let reader = Reader::open(tmp.path()).unwrap();
    // Inside the prefix: nothing is missing.
    assert!(reader.replay(2..=6).unwrap().all(|e| e.is_ok()));
    // Reaching past it: the damage is the last item, with its place.
    let last = reader.replay(5..=8).unwrap().last().unwrap();
    assert!(
        matches!(&last, Err(Error::Corruption(c)) if (c.offset, c.seq_range.0) == (seventh.offset, 7)),
        "{last:?}"
    );
    let last = reader.replay_time(i64::MIN, i64::MAX).unwrap().last().unwrap();
    assert!(matches!(last, Err(Error::Corruption(_))));
    // A salvage reader reads past it; its gaps are its findings.
    let salvage = Reader::open_salvage(tmp.path()).unwrap();
    assert_eq!(salvage.replay(1..=10).unwrap().filter(Result::is_ok).count(), 9);
}

#[test]
fn a_record_rewritten_to_seq_zero_is_neither_counted_nor_shown() {
    // Regression (issue #19, defect 20): `verify` said "events 10 in the valid prefix (seqs
    // 1..=9)": the strict index counted a record of seq 0 found past the damage, since 0 is
    // inside any seq range that starts at 1.
    let tmp = tempfile::tempdir().unwrap();
    let path = log_of(tmp.path(), 10);
    let tenth = stored(tmp.path(), 10);
    rewrite_seq(&path, tenth.offset, 0);
    for reader in [Reader::open(tmp.path()).unwrap(), Reader::open_salvage(tmp.path()).unwrap()] {
        let report = reader.verify_integrity();
        assert_eq!((report.events, report.seq_range), (9, Some((1, 9))), "{report:?}");
        let shown = reader.replay(0..=u64::MAX).unwrap().filter(Result::is_ok).count();
        assert_eq!(shown, 9);
    }
}

#[test]
fn a_stale_copy_of_an_earlier_seq_past_the_damage_is_not_shown_twice() {
    // The strict view is the records before the first anomaly, by place: a record past it that
    // carries a seq of the prefix (a stale or rewritten copy) is not the prefix's.
    let tmp = tempfile::tempdir().unwrap();
    let path = log_of(tmp.path(), 10);
    let tenth = stored(tmp.path(), 10);
    rewrite_seq(&path, tenth.offset, 3);
    let reader = Reader::open(tmp.path()).unwrap();
    let report = reader.verify_integrity();
    assert_eq!((report.events, report.seq_range), (9, Some((1, 9))), "{report:?}");
    let seqs: Vec<u64> =
        reader.replay(1..=u64::MAX).unwrap().filter_map(Result::ok).map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=9).collect::<Vec<_>>());
}
