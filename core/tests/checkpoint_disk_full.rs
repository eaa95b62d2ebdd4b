//! A signed writer on a full disk: a checkpoint that cannot be written leaves no file behind,
//! is reported as `Error::DiskFull` (as the WAL reports its own), and the log reopens clean.
//!
//! Method: a `Disk` wrapper around `RealDisk` fails every write into `DIR/checkpoints` with
//! ENOSPC while a flag is set; the WAL's own files are untouched, so events stay durable and
//! only checkpoints fail, as when the last free blocks went to a preallocated segment.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Tests touch files directly.

#[macro_use]
mod common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mtlog_audit::integrity::note::Signer;
use mtlog_audit::integrity::store;
use mtlog_audit::io::{Disk, DiskFile, OpenMode, OsEntropy, RealDisk, SystemClock};
use mtlog_audit::{Error, Level, Options, Sink};

/// `RealDisk` whose writes to files under a `checkpoints` directory fail with ENOSPC while
/// `full` is set.
#[derive(Default)]
struct CheckpointsFullDisk {
    full: Arc<AtomicBool>,
}

struct MaybeFullFile {
    inner: <RealDisk as Disk>::File,
    full: bool,
}

impl Disk for CheckpointsFullDisk {
    type File = MaybeFullFile;
    type Lock = <RealDisk as Disk>::Lock;

    real_disk_directory_ops!();

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<MaybeFullFile> {
        let in_checkpoints = path.components().any(|c| c.as_os_str() == store::CHECKPOINTS_DIR);
        let full = in_checkpoints && self.full.load(Ordering::SeqCst);
        Ok(MaybeFullFile { inner: RealDisk.open(path, mode)?, full })
    }
    fn synced_len_after_failure(&self, path: &Path) -> Option<u64> {
        RealDisk.synced_len_after_failure(path)
    }
}

impl DiskFile for MaybeFullFile {
    inner_file_reads_and_size!();

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        if self.full {
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }
    fn sync_all(&self) -> io::Result<()> {
        self.inner.sync_all()
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(store::CHECKPOINTS_DIR))
        .map(|r| r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn options(dir: &Path) -> Options {
    let signer = Signer::from_seed("full.example/log", [6; 32]).unwrap();
    Options::new(dir).signer(signer).checkpoint_every_events(Some(2))
}

#[test]
fn a_checkpoint_that_does_not_fit_leaves_no_tmp_file_and_close_says_disk_full() {
    // Regression (issue #19, 19): each failed checkpoint left an empty `*.note.tmp`, still
    // there after a clean reopen, and `close` returned `Error::Io` for ENOSPC.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let disk = Arc::new(CheckpointsFullDisk::default());
    let sink = Sink::open_with(
        options(&dir).failure_handler(|_| {}),
        disk.clone(),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
    )
    .unwrap();
    sink.event(Level::Information, "Before").emit().unwrap();
    sink.event(Level::Information, "Before").emit().unwrap();
    let before = names(&dir);
    assert!(before.contains(&store::checkpoint_file_name(2)), "{before:?}");

    disk.full.store(true, Ordering::SeqCst);
    for n in 0..6u64 {
        // The events are durable: only their checkpoints fail.
        sink.event(Level::Information, "Step {N}").with("N", n).emit().unwrap();
    }
    assert_eq!(names(&dir), before, "a failed checkpoint left a file behind");
    let err = sink.close().unwrap_err();
    assert!(matches!(err, Error::DiskFull { .. }), "{err:?}");
    assert_eq!(names(&dir), before);

    // A tmp file a crash left behind is removed by the next open; the log reopens and signs.
    let crashed = dir.join(store::CHECKPOINTS_DIR).join("checkpoint-00000000000000000007.note.tmp");
    std::fs::write(&crashed, b"").unwrap();
    let foreign = dir.join(store::CHECKPOINTS_DIR).join("notes.tmp"); // not a name we write
    std::fs::write(&foreign, b"kept").unwrap();
    let sink = Sink::open(options(&dir)).unwrap();
    assert!(!crashed.exists());
    assert!(foreign.exists(), "a file the log did not create was removed");
    sink.close().unwrap();
    assert!(names(&dir).contains(&store::checkpoint_file_name(8)));
    assert!(names(&dir).iter().all(|n| !n.ends_with(".note.tmp")), "{:?}", names(&dir));
}
