//! `Sink::close` from several threads on the real file system: a second `close` returns only
//! once the first has sealed the log and released the directory lock, with the first one's
//! outcome, and a failed close is never followed by an `Ok`.
//!
//! Method: a `Disk` wrapper holds back (or fails) the `fdatasync`s of the close once a gate is
//! set. One thread closes and stalls inside the seal; the test thread closes too and, when its
//! call returns, checks that the seal's sync has completed and that the directory can be
//! opened again at once (the lock is free).

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Tests touch files directly.

#[macro_use]
mod common;

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use mtlog_audit::io::{Disk, DiskFile, OpenMode, OsEntropy, RealDisk, SystemClock};
use mtlog_audit::{Error, Level, Options, Sink};

/// How long the gated sync of the first close stalls: far longer than a second `close` needs
/// to return if it does not wait.
const STALL: Duration = Duration::from_millis(400);

#[test]
fn a_second_close_waits_for_the_first_to_seal_and_release_the_lock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let disk = Arc::new(GatedDisk::default());
    let sink = Arc::new(open(tmp.path(), &disk, Options::new(tmp.path())));
    sink.event(Level::Information, "before close").emit().expect("emit");

    let (entered_tx, entered) = mpsc::channel();
    *disk.entered.lock().expect("lock") = Some(entered_tx);
    disk.gate.store(GATE_STALL, Ordering::SeqCst);
    let first = {
        let sink = sink.clone();
        std::thread::spawn(move || sink.close())
    };
    entered.recv_timeout(Duration::from_secs(60)).expect("the first close reaches its sync");

    let second = sink.close();
    assert!(
        disk.stalled_sync_done.load(Ordering::SeqCst),
        "the second close returned {second:?} while the first was still inside its seal's sync"
    );
    second.expect("second close");
    disk.gate.store(GATE_OPEN, Ordering::SeqCst);
    // The lock is free the moment any close returns.
    let reopened = Sink::open(Options::new(tmp.path())).expect("reopen after the second close");
    first.join().expect("first close thread").expect("first close");
    let report = reopened.verify_integrity().expect("verify");
    assert!(report.is_valid(), "{report:?}");
    assert_eq!(report.events, 1, "{report:?}");
}

#[test]
fn every_close_after_a_failed_one_returns_its_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let disk = Arc::new(GatedDisk::default());
    let handled = Arc::new(AtomicUsize::new(0));
    let options = {
        let handled = handled.clone();
        Options::new(tmp.path()).failure_handler(move |_| {
            handled.fetch_add(1, Ordering::SeqCst);
        })
    };
    let sink = open(tmp.path(), &disk, options);
    sink.event(Level::Information, "before close").emit().expect("emit");

    disk.gate.store(GATE_FAIL, Ordering::SeqCst);
    let first = sink.close();
    assert!(matches!(first, Err(Error::Poisoned(_))), "{first:?}");
    let second = sink.close();
    assert!(matches!(second, Err(Error::Poisoned(_))), "a close after a failed one: {second:?}");
    drop(sink);
    // The failed close told its caller; dropping the sink does not report the same error again.
    assert_eq!(handled.load(Ordering::SeqCst), 0);
}

fn open(dir: &Path, disk: &Arc<GatedDisk>, options: Options) -> Sink<GatedDisk> {
    assert_eq!(options.dir(), dir);
    Sink::open_with(options, disk.clone(), Arc::new(SystemClock), Arc::new(OsEntropy))
        .expect("open")
}

const GATE_OPEN: u8 = 0;
const GATE_STALL: u8 = 1;
const GATE_FAIL: u8 = 2;

/// `RealDisk` whose file syncs stall (the first one, announced on `entered`) or fail with EIO
/// while the gate says so.
#[derive(Default)]
struct GatedDisk {
    gate: Arc<AtomicU8>,
    entered: Arc<Mutex<Option<mpsc::Sender<()>>>>,
    stalled_sync_done: Arc<AtomicBool>,
}

struct GatedFile {
    inner: <RealDisk as Disk>::File,
    gate: Arc<AtomicU8>,
    entered: Arc<Mutex<Option<mpsc::Sender<()>>>>,
    stalled_sync_done: Arc<AtomicBool>,
}

impl Disk for GatedDisk {
    type File = GatedFile;
    type Lock = <RealDisk as Disk>::Lock;

    real_disk_directory_ops!();

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<GatedFile> {
        Ok(GatedFile {
            inner: RealDisk.open(path, mode)?,
            gate: self.gate.clone(),
            entered: self.entered.clone(),
            stalled_sync_done: self.stalled_sync_done.clone(),
        })
    }
    fn synced_len_after_failure(&self, path: &Path) -> Option<u64> {
        RealDisk.synced_len_after_failure(path)
    }
}

impl GatedFile {
    fn gated(&self, sync: impl FnOnce() -> io::Result<()>) -> io::Result<()> {
        match self.gate.load(Ordering::SeqCst) {
            GATE_FAIL => Err(io::Error::from_raw_os_error(5)), // EIO
            GATE_STALL => {
                let entered = self.entered.lock().expect("lock").take();
                if let Some(entered) = entered {
                    entered.send(()).expect("test thread waits");
                    std::thread::sleep(STALL);
                    sync()?;
                    self.stalled_sync_done.store(true, Ordering::SeqCst);
                    return Ok(());
                }
                sync()
            }
            _ => sync(),
        }
    }
}

impl DiskFile for GatedFile {
    inner_file_reads_and_size!();

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        self.inner.write_at(buf, offset)
    }
    fn sync_data(&self) -> io::Result<()> {
        self.gated(|| self.inner.sync_data())
    }
    fn sync_all(&self) -> io::Result<()> {
        self.gated(|| self.inner.sync_all())
    }
}
