//! The sink on the real file system: round trips, concurrency, locking, fail-stop, full disks,
//! clocks that step back, and corruption found on reopen.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Tests touch files directly.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mtlog_audit::event::{Event, EventId};
use mtlog_audit::io::{Clock, Disk, DiskFile, OpenMode, OsEntropy, RealDisk, SystemClock};
use mtlog_audit::{DamageKind, Error, Level, Options, Reader, Sink, Value};

fn small(dir: &Path) -> Options {
    Options::new(dir).segment_bytes(16 << 10).body_max(4 << 10)
}

#[test]
fn emitted_events_replay_byte_identical_after_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sent = Vec::new();
    {
        let sink = Sink::open(small(tmp.path())).unwrap();
        for i in 0..300u64 {
            let ev = sink
                .event(Level::Warning, "Payment {PaymentId} of {Amount} by {User}")
                .with("PaymentId", i)
                .with("Amount", 12.5)
                .with("User", format!("user-{i}"))
                .with("Tags", Value::Array(vec![Value::from("a"), Value::Null]))
                .build();
            let r = sink.emit(&ev).unwrap();
            assert_eq!(r.seq, i + 1);
            sent.push((r, ev));
        }
        sink.close().unwrap();
        sink.close().unwrap(); // idempotent
        assert!(matches!(sink.emit(&sent[0].1), Err(Error::Closed)));
    }
    let sink = Sink::open(small(tmp.path())).unwrap();
    assert_eq!(sink.recovery_report().seq_next, 301);
    assert!(sink.recovery_report().cuts.is_empty());
    drop(sink);
    let reader = Reader::open(tmp.path()).unwrap();
    let got: Vec<_> = reader.replay(1..=u64::MAX).unwrap().map(Result::unwrap).collect();
    assert_eq!(got.len(), 300);
    for (stored, (receipt, ev)) in got.iter().zip(&sent) {
        assert_eq!(stored.seq, receipt.seq);
        assert_eq!(stored.chain_hash, receipt.chain_hash);
        assert_eq!(&stored.event, ev);
    }
    let report = reader.verify_integrity();
    assert!(report.is_valid(), "{:?}", report.findings);
    assert!(report.segments > 3, "small segments must rotate: {}", report.segments);
    assert_eq!(report.seq_range, Some((1, 300)));
    let range: Vec<u64> = reader.replay(17..=19).unwrap().map(|e| e.unwrap().seq).collect();
    assert_eq!(range, vec![17, 18, 19]);
}

#[test]
fn sixty_four_threads_get_unique_seqs_that_all_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::open(Options::new(tmp.path()).segment_bytes(256 << 10)).unwrap();
    let seqs = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..64u64 {
            let (sink, seqs) = (&sink, &seqs);
            s.spawn(move || {
                for i in 0..40u64 {
                    let r = sink
                        .event(Level::Information, "t{T} i{I}")
                        .with("T", t)
                        .with("I", i)
                        .emit();
                    seqs.lock().unwrap().push(r.unwrap().seq);
                }
            });
        }
    });
    let stats = sink.stats();
    sink.close().unwrap();
    let mut seqs = seqs.into_inner().unwrap();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=64 * 40).collect::<Vec<u64>>());
    assert!(stats.batches < 64 * 40, "group commit must batch: {} syncs", stats.batches);
    let reader = Reader::open(tmp.path()).unwrap();
    assert_eq!(reader.replay(1..=u64::MAX).unwrap().count(), 64 * 40);
}

#[test]
fn a_second_writer_gets_already_open_and_a_reader_does_not_need_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::open(small(tmp.path())).unwrap();
    sink.event(Level::Information, "one").emit().unwrap();
    match Sink::open(small(tmp.path())) {
        Err(Error::AlreadyOpen { dir }) => assert_eq!(dir, tmp.path()),
        Err(e) => panic!("expected AlreadyOpen, got {e}"),
        Ok(_) => panic!("a second writer opened a locked log"),
    }
    // The writer is idle: its commit marker tells the reader seq 1 is durable.
    let reader = Reader::open(tmp.path()).unwrap();
    assert_eq!(reader.seq_last(), 1);
}

#[test]
fn close_releases_the_lock_so_the_log_reopens_while_the_closed_sink_lives() {
    let tmp = tempfile::tempdir().unwrap();
    let first = Sink::open(small(tmp.path())).unwrap();
    first.event(Level::Information, "one").emit().unwrap();
    first.close().unwrap();
    let second = Sink::open(small(tmp.path())).expect("close released the directory lock");
    assert_eq!(second.event(Level::Information, "two").emit().unwrap().seq, 2);
    // The closed sink stays closed and cannot take the lock back.
    assert!(matches!(first.event(Level::Information, "late").emit(), Err(Error::Closed)));
    assert!(first.close().is_ok());
    match Sink::open(small(tmp.path())) {
        Err(Error::AlreadyOpen { .. }) => {}
        other => panic!("the second sink holds the lock: {:?}", other.map(|_| ())),
    }
    drop(first);
    second.close().unwrap();
    assert_eq!(Reader::open(tmp.path()).unwrap().seq_last(), 2);
}

#[test]
fn invalid_options_are_a_typed_error_before_any_file_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("never-created");
    let r = Sink::open(Options::new(&dir).segment_bytes(10));
    assert!(matches!(r, Err(Error::Config(_))));
    assert!(!dir.exists());
}

#[test]
fn an_event_larger_than_the_limit_is_refused_and_the_sink_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::open(small(tmp.path())).unwrap();
    let big = sink.event(Level::Information, "big").with("Blob", vec![7u8; 8 << 10]).build();
    assert!(matches!(sink.emit(&big), Err(Error::RecordTooLarge { .. })));
    assert_eq!(sink.event(Level::Information, "small").emit().unwrap().seq, 1);
}

#[test]
fn a_flipped_bit_in_a_durable_record_is_corruption_with_its_location_and_salvage_reads_past_it() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let sink = Sink::open(Options::new(tmp.path()).segment_bytes(1 << 20)).unwrap();
        for i in 0..20u64 {
            sink.event(Level::Information, "n {N}").with("N", i).emit().unwrap();
        }
        sink.close().unwrap();
    }
    let seg = tmp.path().join("00000000000000000001.wal");
    let reader = Reader::open(tmp.path()).unwrap();
    let tenth = reader.replay(10..=10).unwrap().next().unwrap().unwrap();
    drop(reader);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[tenth.offset as usize + 120] ^= 0x10;
    std::fs::write(&seg, &bytes).unwrap();
    match Sink::open(Options::new(tmp.path()).segment_bytes(1 << 20)) {
        Err(Error::Corruption(c)) => {
            assert_eq!(c.segment.0, 1);
            assert_eq!(c.offset, tenth.offset);
            assert_eq!(c.seq_range.0, 10);
            assert!(matches!(c.kind, DamageKind::Checksum { .. }), "{c}");
        }
        Err(e) => panic!("expected corruption, got {e}"),
        Ok(_) => panic!("corrupt log opened"),
    }
    // Nothing was cut: the file is unchanged.
    assert_eq!(std::fs::read(&seg).unwrap(), bytes);
    let strict = Reader::open(tmp.path()).unwrap();
    // Nine events, then the damage that ends the prefix: seqs from 10 on are missing.
    let items: Vec<_> = strict.replay(1..=u64::MAX).unwrap().collect();
    assert_eq!(items.iter().filter(|e| e.is_ok()).count(), 9);
    assert!(matches!(items.last(), Some(Err(Error::Corruption(c))) if c.seq_range.0 == 10));
    assert!(strict.corruption().is_some());
    let salvage = Reader::open_salvage(tmp.path()).unwrap();
    let seqs: Vec<u64> = salvage.replay(1..=u64::MAX).unwrap().map(|e| e.unwrap().seq).collect();
    assert_eq!(seqs.len(), 19);
    assert!(!seqs.contains(&10));
    assert!(!salvage.verify_integrity().is_valid());
}

#[test]
fn timestamps_that_step_back_are_stored_raw_flagged_and_found_by_time_range() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(SteppingClock(AtomicI64::new(1_000_000)));
    let sink =
        Sink::open_with(small(tmp.path()), Arc::new(RealDisk), clock.clone(), Arc::new(OsEntropy))
            .unwrap();
    for t in [1_000, 2_000, 500, 3_000] {
        clock.0.store(t, Ordering::SeqCst);
        sink.event(Level::Information, "at {T}").with("T", t).emit().unwrap();
    }
    sink.close().unwrap();
    let reader = Reader::open(tmp.path()).unwrap();
    let all: Vec<_> = reader.replay(1..=4).unwrap().map(Result::unwrap).collect();
    let flags: Vec<bool> = all.iter().map(|e| e.clock_adjusted).collect();
    assert_eq!(flags, vec![false, false, true, false]);
    let window: Vec<u64> =
        reader.replay_time(400, 1_500).unwrap().map(|e| e.unwrap().seq).collect();
    assert_eq!(window, vec![1, 3]);
}

#[test]
fn the_clock_adjusted_flag_means_the_wall_clock_stepped_back_never_that_emitters_raced() {
    // Goal: `clock_adjusted` says the writer's wall clock stepped back (issue 19, item 25).
    // Regression: records carried the event's own timestamp, taken before the event had its
    // seq, so concurrent emitters on a steady clock (examples/basic: 8 threads, 1,000 events)
    // read as clock tampering ("clock adjusted 15"), and so did events whose own time runs
    // backwards. Records are now stamped in seq order as they join the queue; the event's own
    // timestamp stays in the body.
    let tmp = tempfile::tempdir().unwrap();
    let clock = Arc::new(SteppingClock(AtomicI64::new(10_000)));
    let sink =
        Sink::open_with(small(tmp.path()), Arc::new(RealDisk), clock.clone(), Arc::new(OsEntropy))
            .unwrap();
    // Events whose own timestamps run backwards, on a clock that does not move back.
    for (n, own) in [(1u8, 9_000i64), (2, 3_000), (3, 1_000)] {
        clock.0.fetch_add(10, Ordering::SeqCst);
        sink.emit(&Event::new(EventId([n; 16]), own, Level::Information, "own time").render())
            .unwrap();
    }
    // Eight threads emitting at once, each event stamped by the caller before it has a seq.
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..50 {
                    let event = sink.new_event(Level::Information, "raced");
                    clock.0.fetch_add(1, Ordering::SeqCst); // the clock only moves forward
                    sink.emit(&event).unwrap();
                }
            });
        }
    });
    clock.0.store(5, Ordering::SeqCst); // the wall clock steps back, once
    sink.event(Level::Warning, "after the step").emit().unwrap();
    sink.event(Level::Warning, "after the step").emit().unwrap();
    sink.close().unwrap();
    let reader = Reader::open(tmp.path()).unwrap();
    let all: Vec<_> = reader.replay(1..=u64::MAX).unwrap().map(Result::unwrap).collect();
    assert_eq!(all.len(), 3 + 400 + 2);
    let flagged: Vec<u64> = all.iter().filter(|e| e.clock_adjusted).map(|e| e.seq).collect();
    assert_eq!(flagged, [404], "only the first record after the step");
    let own: Vec<i64> = all[..3].iter().map(|e| e.event.timestamp_nanos).collect();
    assert_eq!(own, [9_000, 3_000, 1_000], "the events keep their own timestamps");
}

struct SteppingClock(AtomicI64);

impl Clock for SteppingClock {
    fn wall_nanos(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
    fn monotonic_nanos(&self) -> u64 {
        SystemClock.monotonic_nanos()
    }
}

#[test]
fn an_fsync_error_poisons_the_sink_and_a_reopen_keeps_only_synced_data() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = Arc::new(FaultyDisk::default());
    let opts = || Options::new(tmp.path()).segment_bytes(1 << 20);
    let sink =
        Sink::open_with(opts(), disk.clone(), Arc::new(SystemClock), Arc::new(OsEntropy)).unwrap();
    for _ in 0..5 {
        sink.event(Level::Information, "before").emit().unwrap();
    }
    disk.fail_sync.store(true, Ordering::SeqCst);
    let failed = sink.event(Level::Information, "lost").emit();
    assert!(matches!(failed, Err(Error::Poisoned(_))), "{failed:?}");
    disk.fail_sync.store(false, Ordering::SeqCst);
    // Fail-stop: even though syncs work again, nothing is acknowledged until a reopen.
    let after = sink.event(Level::Information, "after").emit();
    assert!(matches!(after, Err(Error::Poisoned(_))), "{after:?}");
    assert!(matches!(sink.close(), Err(Error::Poisoned(_))));
    drop(sink);
    let sink =
        Sink::open_with(opts(), disk.clone(), Arc::new(SystemClock), Arc::new(OsEntropy)).unwrap();
    // The failed batch's bytes are still readable from the page cache, but were never proven
    // durable: the reopen cuts them (after saving them to quarantine) and continues.
    let report = sink.recovery_report().clone();
    assert_eq!(report.seq_next, 6);
    assert_eq!(report.cuts.len(), 1);
    assert_eq!(report.cuts[0].reason, Some(DamageKind::UnsyncedAfterFailedSync));
    assert_eq!(sink.event(Level::Information, "resumed").emit().unwrap().seq, 6);
    sink.close().unwrap();
    drop(sink);
    let reader = Reader::open(tmp.path()).unwrap();
    let messages: Vec<String> =
        reader.replay(1..=u64::MAX).unwrap().map(|e| e.unwrap().event.message).collect();
    assert_eq!(messages, ["before", "before", "before", "before", "before", "resumed"]);
}

#[test]
fn a_full_disk_while_preparing_a_segment_fails_cleanly_and_resumes_once_space_is_freed() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = Arc::new(FaultyDisk::default());
    let sink = Sink::open_with(
        small(tmp.path()),
        disk.clone(),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    )
    .unwrap();
    disk.full.store(true, Ordering::SeqCst);
    let mut acked = 0u64;
    let mut full = 0;
    for i in 0..200u64 {
        match sink
            .event(Level::Information, "e {I}")
            .with("Pad", vec![1u8; 300])
            .with("I", i)
            .emit()
        {
            Ok(r) => {
                acked += 1;
                assert_eq!(r.seq, acked);
            }
            Err(Error::DiskFull { .. }) => full += 1,
            Err(e) => panic!("expected DiskFull, got {e}"),
        }
    }
    assert!(full > 0, "the segment never filled");
    disk.full.store(false, Ordering::SeqCst);
    let r = sink.event(Level::Information, "after").emit().unwrap();
    assert_eq!(r.seq, acked + 1);
    sink.close().unwrap();
    drop(sink);
    let reader = Reader::open(tmp.path()).unwrap();
    assert_eq!(reader.replay(1..=u64::MAX).unwrap().count() as u64, acked + 1);
    assert!(reader.verify_integrity().is_valid());
}

/// A real disk with switchable faults: failing fdatasync (remembering what was synced, as
/// `RealDisk` does) and ENOSPC when creating or growing segment files.
#[derive(Default)]
struct FaultyDisk {
    fail_sync: AtomicBool,
    full: AtomicBool,
    synced_after_failure: Mutex<BTreeMap<PathBuf, u64>>,
}

struct FaultyFile {
    inner: <RealDisk as Disk>::File,
    path: PathBuf,
    disk: *const FaultyDisk,
    dirty_from: AtomicU64,
}

// SAFETY-free alternative to a raw pointer would be an Arc; the tests keep the disk alive for
// the files' whole life (files never outlive the sink, which holds the Arc).
unsafe impl Send for FaultyFile {}
unsafe impl Sync for FaultyFile {}

impl FaultyFile {
    fn disk(&self) -> &FaultyDisk {
        // SAFETY: see above; the FaultyDisk outlives every file it opened.
        unsafe { &*self.disk }
    }
}

impl Disk for FaultyDisk {
    type File = FaultyFile;
    type Lock = <RealDisk as Disk>::Lock;

    real_disk_directory_ops!();

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<FaultyFile> {
        if mode == OpenMode::CreateNew && self.full.load(Ordering::SeqCst) {
            return Err(io::ErrorKind::StorageFull.into());
        }
        let inner = RealDisk.open(path, mode)?;
        Ok(FaultyFile {
            inner,
            path: path.to_path_buf(),
            disk: self,
            dirty_from: AtomicU64::new(u64::MAX),
        })
    }
    fn synced_len_after_failure(&self, path: &Path) -> Option<u64> {
        self.synced_after_failure.lock().unwrap().get(path).copied()
    }
}

impl DiskFile for FaultyFile {
    inner_file_reads_and_size!();

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.dirty_from.fetch_min(offset, Ordering::SeqCst);
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        if self.disk().fail_sync.load(Ordering::SeqCst) {
            let from = self.dirty_from.load(Ordering::SeqCst);
            self.disk().synced_after_failure.lock().unwrap().insert(self.path.clone(), from);
            return Err(io::Error::from_raw_os_error(5)); // EIO
        }
        self.inner.sync_data()?;
        self.dirty_from.store(u64::MAX, Ordering::SeqCst);
        Ok(())
    }
    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }
}

#[test]
fn the_failure_handler_sees_each_error_and_panic_on_failure_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = seen.clone();
    let sink = Sink::open(
        small(tmp.path()).failure_handler(move |e| sink_seen.lock().unwrap().push(e.to_string())),
    )
    .unwrap();
    let big = sink.event(Level::Information, "big").with("Blob", vec![7u8; 8 << 10]).build();
    assert!(sink.emit(&big).is_err());
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(seen.lock().unwrap()[0].contains("exceeds the record limit"));
    drop(sink);

    let tmp = tempfile::tempdir().unwrap();
    let sink = Sink::open(small(tmp.path()).panic_on_failure(true)).unwrap();
    let big = sink.event(Level::Information, "big").with("Blob", vec![7u8; 8 << 10]).build();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.emit(&big)));
    assert!(result.is_err(), "panic_on_failure must panic");
    // The sink is still usable: a refused event poisons nothing.
    assert_eq!(sink.event(Level::Information, "ok").emit().unwrap().seq, 1);
}

#[test]
fn a_group_commit_delay_batches_concurrent_emitters_and_verify_sees_them() {
    let tmp = tempfile::tempdir().unwrap();
    let sink =
        Sink::open(small(tmp.path()).max_delay(std::time::Duration::from_millis(2))).unwrap();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let sink = &sink;
            s.spawn(move || {
                for i in 0..20u64 {
                    sink.event(Level::Information, "{T}/{I}")
                        .with("T", t)
                        .with("I", i)
                        .emit()
                        .unwrap();
                }
            });
        }
    });
    let stats = sink.stats();
    assert_eq!(stats.events, 160);
    assert!(stats.batches < 160, "the delay must gather emitters: {} batches", stats.batches);
    let report = sink.verify_integrity().unwrap();
    assert_eq!(report.seq_range, Some((1, 160)));
    assert!(report.is_valid());
}
