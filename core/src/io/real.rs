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

/// The real file system. See [`Disk`] for an example.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealDisk;

/// An open file on the real file system.
#[derive(Debug)]
pub struct RealFile {
    file: File,
    path: PathBuf,
    /// The lowest offset written since the last successful sync (`u64::MAX` when clean): if
    /// a sync fails, nothing from here on may be assumed durable.
    dirty_from: AtomicU64,
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
        Ok(RealFile { file, path: path.to_path_buf(), dirty_from: AtomicU64::new(u64::MAX) })
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

    fn permissions(&self, path: &Path) -> io::Result<Option<u32>> {
        use std::os::unix::fs::PermissionsExt;
        Ok(Some(fs::metadata(path)?.permissions().mode() & 0o7777))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)?;
        // A failed sync's record belongs to the file: it moves with it and leaves the name it
        // replaced.
        let mut failed = lock_failed_syncs();
        let moved = failed.remove(from);
        failed.remove(to);
        if let Some(trusted) = moved {
            failed.insert(to.to_path_buf(), trusted);
        }
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)?;
        lock_failed_syncs().remove(path);
        Ok(())
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
        self.dirty_from.fetch_min(offset, Ordering::AcqRel);
        self.file.write_at(buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.after_sync(self.file.sync_data())
    }

    fn sync_all(&self) -> io::Result<()> {
        self.after_sync(self.file.sync_all())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.dirty_from.fetch_min(len, Ordering::AcqRel);
        self.file.set_len(len)?;
        // Cut back to what a failed sync left trusted: the pages it may have lost are dropped
        // by the truncate, and whatever is written from here on is new.
        let mut failed = lock_failed_syncs();
        if failed.get(&self.path).is_some_and(|trusted| len <= *trusted) {
            failed.remove(&self.path);
        }
        Ok(())
    }
}

impl RealFile {
    /// Records the outcome of a sync: clean after success; after failure, remember for the
    /// rest of the process where the possibly lost data starts.
    fn after_sync(&self, result: io::Result<()>) -> io::Result<()> {
        let dirty_from = self.dirty_from.load(Ordering::Acquire);
        match result {
            Ok(()) => {
                // Writes that raced with this sync lowered dirty_from after the load; keep them.
                let _ = self.dirty_from.compare_exchange(
                    dirty_from,
                    u64::MAX,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                Ok(())
            }
            Err(e) => {
                if dirty_from != u64::MAX {
                    let mut failed = lock_failed_syncs();
                    let entry = failed.entry(self.path.clone()).or_insert(dirty_from);
                    *entry = (*entry).min(dirty_from);
                }
                Err(e)
            }
        }
    }
}
