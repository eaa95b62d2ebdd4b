//! Group commit's wake-ups on the real file system: every emitter is woken (none is left asleep
//! waiting for a batch that already completed, or for a leader that never comes), and none is
//! acknowledged before an `fdatasync` covered its record.
//!
//! Method: a `Disk` wrapper reads the records the writer hands to each `write_at` and, when a
//! `sync_data` of that file returns `Ok`, raises a durable watermark to the highest event seq
//! written to it. Emitters on many threads assert, right after each ack, that the acked seq is
//! at or below that watermark; the test thread collects every ack with a deadline, so a waiter
//! that is never woken fails the test instead of hanging it. Run with few and many emitters,
//! batches split by a small `batch_max`, back-pressure from a small `queue_max`, and a
//! group-commit delay.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Tests touch files directly.

#[macro_use]
mod common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use mtlog_audit::io::{write_all_at, Disk, DiskFile, OpenMode, OsEntropy, RealDisk, SystemClock};
use mtlog_audit::wal::format::{
    parse_record, RecordKind, SegmentId, RECORD_BODY_HARD_MAX, RECORD_HEADER_LEN,
};
use mtlog_audit::{Level, Options, Sink};

/// Long enough for a slow, shared CI disk; a lost wake-up never finishes at all.
const ACK_DEADLINE: Duration = Duration::from_secs(120);

#[test]
fn sixty_four_emitters_are_each_woken_once_their_record_is_durable() {
    run(|dir| Options::new(dir), 64, 100);
}

#[test]
fn emitters_of_split_batches_and_under_back_pressure_are_each_woken_after_their_sync() {
    // batch_max 3 splits almost every batch, so most tickets wait through several batches;
    // queue_max 8 blocks most of the 48 emitters on back-pressure.
    run(|dir| Options::new(dir).batch_max(3).queue_max(8), 48, 25);
}

#[test]
fn emitters_behind_a_group_commit_delay_are_each_woken_after_their_sync() {
    let delay = Duration::from_micros(300);
    run(|dir| Options::new(dir).batch_max(16).max_delay(delay), 24, 40);
}

#[test]
fn a_lone_emitter_is_woken_after_every_sync() {
    // Small segments: the acks span rotations (seal, fdatasync, switch).
    run(|dir| Options::new(dir).segment_bytes(64 << 10), 1, 300);
}

/// Emits `per_thread` events from each of `threads` threads through a [`WatchedDisk`] and checks
/// every ack against its durable watermark, then that the acked seqs are exactly `1..=n`.
fn run(options: impl FnOnce(&Path) -> Options, threads: u64, per_thread: u64) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let options = options(tmp.path());
    let disk = Arc::new(WatchedDisk::default());
    let sink = Sink::open_with(options, disk.clone(), Arc::new(SystemClock), Arc::new(OsEntropy))
        .expect("open");
    let sink = Arc::new(sink);
    let (acks, acked) = mpsc::channel();
    for t in 0..threads {
        let (sink, disk, acks) = (sink.clone(), disk.clone(), acks.clone());
        // Detached on purpose: a thread stuck forever must not keep the test from failing.
        std::thread::spawn(move || {
            for i in 0..per_thread {
                let receipt =
                    sink.event(Level::Information, "t{T} i{I}").with("T", t).with("I", i).emit();
                let seq = receipt.expect("emit").seq;
                let durable = disk.seq_durable.load(Ordering::SeqCst);
                assert!(seq <= durable, "seq {seq} acked with only {durable} fdatasynced");
                acks.send(seq).expect("send");
            }
        });
    }
    drop(acks);
    let n = threads * per_thread;
    let mut seqs = Vec::new();
    for _ in 0..n {
        match acked.recv_timeout(ACK_DEADLINE) {
            Ok(seq) => seqs.push(seq),
            Err(e) => {
                panic!("{} of {n} acks after {ACK_DEADLINE:?} ({e}): a lost wake-up", seqs.len())
            }
        }
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=n).collect::<Vec<u64>>());
    sink.close().expect("close");
    assert_eq!(disk.seq_durable.load(Ordering::SeqCst), n);
}

/// `RealDisk`, plus the highest event seq that a successful `sync_data` covered.
#[derive(Default)]
struct WatchedDisk {
    seq_durable: Arc<AtomicU64>,
}

struct WatchedFile {
    inner: <RealDisk as Disk>::File,
    seq_durable: Arc<AtomicU64>,
    /// The highest event seq written to this file since its last successful sync.
    seq_written: AtomicU64,
}

impl Disk for WatchedDisk {
    type File = WatchedFile;
    type Lock = <RealDisk as Disk>::Lock;

    real_disk_directory_ops!();

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<WatchedFile> {
        Ok(WatchedFile {
            inner: RealDisk.open(path, mode)?,
            seq_durable: self.seq_durable.clone(),
            seq_written: AtomicU64::new(0),
        })
    }
    fn synced_len_after_failure(&self, path: &Path) -> Option<u64> {
        RealDisk.synced_len_after_failure(path)
    }
}

impl DiskFile for WatchedFile {
    inner_file_reads_and_size!();

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        // Whole buffers only, so each one starts at a record boundary (or is not records).
        write_all_at(&self.inner, buf, offset)?;
        self.seq_written.fetch_max(seq_event_max(buf), Ordering::SeqCst);
        Ok(buf.len())
    }
    fn sync_data(&self) -> io::Result<()> {
        let written = self.seq_written.swap(0, Ordering::SeqCst);
        self.inner.sync_data()?;
        self.seq_durable.fetch_max(written, Ordering::SeqCst);
        Ok(())
    }
    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }
}

/// The highest seq of the event records at the start of `buf` (0 if none): the records the
/// writer frames into one write, followed perhaps by its seal; segment headers and zero-fill
/// are not records and end the walk.
fn seq_event_max(buf: &[u8]) -> u64 {
    let mut offset = 0;
    let mut seq_max = 0;
    while let Some(h) = buf.get(offset..offset + RECORD_HEADER_LEN) {
        let log_id = u128::from_le_bytes(h[16..32].try_into().expect("16 bytes"));
        let segment = SegmentId(u64::from_le_bytes(h[32..40].try_into().expect("8 bytes")));
        let Ok(record) = parse_record(buf, offset, log_id, segment, RECORD_BODY_HARD_MAX) else {
            break;
        };
        if record.header.kind == RecordKind::Event {
            seq_max = seq_max.max(record.header.seq);
        }
        offset += record.framed_len();
    }
    seq_max
}
