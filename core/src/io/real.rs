//! `RealDisk`: the production [`Disk`], on `std::fs` and Linux syscalls.
//!
//! Which syscall gives which guarantee:
//! - `sync_data` is `fdatasync(2)` (`File::sync_data`): file data and the size it implies.
//! - `sync_all` is `fsync(2)`: data and all metadata, used after a shrinking `set_len`.
//! - `sync_dir` opens the directory and `fsync(2)`s it: creates, renames and removes inside it.
//! - `lock_dir` is `flock(LOCK_EX | LOCK_NB)` on `DIR/LOCK` (`File::try_lock`).
//!
//! After a failed `fdatasync` the kernel may already have dropped the dirty pages while keeping
//! them readable from the cache (the 2018 "fsyncgate" behaviour), so the length known durable
//! is remembered per path for the rest of the process and reported by
//! [`Disk::synced_len_after_failure`].

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // The seam: std::fs lives here.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::disk::{DirLock, Disk, DiskFile, OpenMode};

/// The real file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealDisk;

/// An open file on the real file system.
#[derive(Debug)]
pub struct RealFile {
    file: File,
    path: PathBuf,
    /// The highest end offset of any completed write, so a successful sync knows what it made
    /// durable without an extra `fstat`.
    written_end: AtomicU64,
    synced_end: AtomicU64,
}

/// The lock on a log directory: an open `LOCK` file holding `flock(LOCK_EX)`.
#[derive(Debug)]
pub struct RealLock {
    _file: File,
}

impl DirLock for RealLock {}

/// Paths whose `fdatasync` failed in this process, with the length known durable.
static FAILED_SYNCS: Mutex<BTreeMap<PathBuf, u64>> = Mutex::new(BTreeMap::new());

impl Disk for RealDisk {
    type File = RealFile;
    type Lock = RealLock;

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<RealFile> {
        let mut options = OpenOptions::new();
        match mode {
            OpenMode::Read => options.read(true),
            OpenMode::ReadWrite => options.read(true).write(true),
            OpenMode::CreateNew => options.read(true).write(true).create_new(true),
        };
        let file = options.open(path)?;
        let len = if mode == OpenMode::CreateNew { 0 } else { file.metadata()?.len() };
        Ok(RealFile {
            file,
            path: path.to_path_buf(),
            written_end: AtomicU64::new(len),
            synced_end: AtomicU64::new(len),
        })
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_owned());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn lock_dir(&self, dir: &Path) -> io::Result<RealLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("LOCK"))?;
        match file.try_lock() {
            Ok(()) => Ok(RealLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    fn synced_len_after_failure(&self, path: &Path) -> Option<u64> {
        lock_failed_syncs().get(path).copied()
    }
}

fn lock_failed_syncs() -> std::sync::MutexGuard<'static, BTreeMap<PathBuf, u64>> {
    // A panic while holding this lock cannot leave the map inconsistent (single inserts), so a
    // poisoned lock is still safe to use.
    FAILED_SYNCS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl DiskFile for RealFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let n = self.file.write_at(buf, offset)?;
        self.written_end.fetch_max(offset + n as u64, Ordering::AcqRel);
        Ok(n)
    }

    fn sync_data(&self) -> io::Result<()> {
        let end = self.written_end.load(Ordering::Acquire);
        match self.file.sync_data() {
            Ok(()) => {
                self.synced_end.fetch_max(end, Ordering::AcqRel);
                Ok(())
            }
            Err(e) => {
                let synced = self.synced_end.load(Ordering::Acquire);
                lock_failed_syncs().insert(self.path.clone(), synced);
                Err(e)
            }
        }
    }

    fn sync_all(&self) -> io::Result<()> {
        let end = self.written_end.load(Ordering::Acquire);
        match self.file.sync_all() {
            Ok(()) => {
                self.synced_end.fetch_max(end, Ordering::AcqRel);
                Ok(())
            }
            Err(e) => {
                let synced = self.synced_end.load(Ordering::Acquire);
                lock_failed_syncs().insert(self.path.clone(), synced);
                Err(e)
            }
        }
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.written_end.store(len, Ordering::Release);
        Ok(())
    }
}
