//! The `Disk` trait: the file-system operations the WAL needs, with their durability contracts.
//!
//! The contracts are written for the worst real file system we claim to survive (ext4/xfs on a
//! volatile write cache, Linux page-cache semantics after a failed fsync). The simulator
//! implements exactly these contracts and no more, so code that relies on anything unstated here
//! fails in simulation.

use std::io;
use std::path::Path;

/// How [`Disk::open`] opens a file.
///
/// # Examples
///
/// ```
/// use std::io::ErrorKind;
/// use mtlog_audit::io::{write_all_at, Disk, OpenMode, RealDisk};
///
/// # let tmp = tempfile::tempdir()?;
/// let path = tmp.path().join("a.bin");
/// let missing = RealDisk.open(&path, OpenMode::Read).map(drop);
/// assert_eq!(missing.unwrap_err().kind(), ErrorKind::NotFound);
///
/// let file = RealDisk.open(&path, OpenMode::CreateNew)?;
/// write_all_at(&file, b"x", 0)?;
/// RealDisk.sync_dir(tmp.path())?; // now the name `a.bin` is durable too
/// let again = RealDisk.open(&path, OpenMode::CreateNew).map(drop);
/// assert_eq!(again.unwrap_err().kind(), ErrorKind::AlreadyExists);
/// RealDisk.open(&path, OpenMode::ReadWrite)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenMode {
    /// Read only. The file must exist.
    Read,
    /// Read and write. The file must exist.
    ReadWrite,
    /// Create a new file for reading and writing; fails with `AlreadyExists` if it exists.
    /// The new directory entry is **not durable** until [`Disk::sync_dir`] on its parent
    /// returns `Ok`.
    CreateNew,
}

/// A held exclusive lock on a log directory; dropping it releases the lock.
///
/// # Examples
///
/// ```
/// use std::io::ErrorKind;
/// use mtlog_audit::io::{Disk, RealDisk};
///
/// # let tmp = tempfile::tempdir()?;
/// let lock = RealDisk.lock_dir(tmp.path())?;
/// let second = RealDisk.lock_dir(tmp.path()).map(drop);
/// assert_eq!(second.unwrap_err().kind(), ErrorKind::WouldBlock);
/// drop(lock); // released
/// RealDisk.lock_dir(tmp.path())?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait DirLock: Send + Sync {}

/// A file system, as the WAL sees it.
///
/// Every method is a single operation whose outcome after `Err` is **unknown**: it may have
/// happened, partly happened, or not happened. Callers never assume the negative.
///
/// # Examples
///
/// [`RealDisk`](super::RealDisk) is the production implementation. Creating a file durably
/// takes a write, a `sync_data` of the file and a `sync_dir` of its directory:
///
/// ```
/// use mtlog_audit::io::{read_exact_at, write_all_at, Disk, DiskFile, OpenMode, RealDisk};
///
/// # let tmp = tempfile::tempdir()?;
/// let dir = tmp.path().join("data");
/// let disk = RealDisk;
/// disk.create_dir_all(&dir)?;
/// let file = disk.open(&dir.join("a.bin"), OpenMode::CreateNew)?;
/// write_all_at(&file, b"hello", 0)?;
/// file.sync_data()?; // the bytes are durable
/// disk.sync_dir(&dir)?; // and so is the name `a.bin`
///
/// let mut back = [0u8; 5];
/// read_exact_at(&file, &mut back, 0)?;
/// assert_eq!(&back, b"hello");
/// assert_eq!(file.len()?, 5);
/// assert_eq!(disk.list(&dir)?, ["a.bin"]);
/// assert!(disk.open(&dir.join("a.bin"), OpenMode::CreateNew).is_err()); // AlreadyExists
/// assert_eq!(disk.synced_len_after_failure(&dir.join("a.bin")), None); // no fsync failed
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Disk: Send + Sync + 'static {
    /// An open file. See [`DiskFile`] for an example.
    type File: DiskFile;
    /// The guard returned by [`Disk::lock_dir`]. See [`DirLock`] for an example.
    type Lock: DirLock;

    /// Creates `dir` and its missing parents. After `Ok` the directory exists for this process;
    /// its entry in the parent is durable only after `sync_dir` of the parent.
    /// See [`Disk`] for an example.
    ///
    /// # Errors
    /// The `io::Error` of the failed `mkdir` (`PermissionDenied`, `StorageFull`, a path
    /// component that is a file, ...). Some of the parents may have been created.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;

    /// Opens `path` in `mode`. See [`OpenMode`] for what is durable after `Ok`.
    /// See [`Disk`] for an example.
    ///
    /// # Errors
    /// `NotFound` if `path` does not exist in `Read` or `ReadWrite` mode; `AlreadyExists` if it
    /// exists in `CreateNew` mode; any other `io::Error` of the open.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Self::File>;

    /// The names of the regular files in `dir`, sorted bytewise. Entries whose creation was not
    /// yet made durable are listed (they exist until a power loss). See [`Disk`] for an example.
    ///
    /// # Errors
    /// `NotFound` if `dir` does not exist; any other `io::Error` reading the directory.
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;

    /// Whether `path` exists (file or directory). See [`Disk`] for an example.
    ///
    /// # Errors
    /// An `io::Error` if existence cannot be determined (for example `PermissionDenied` on a
    /// parent); a missing path is `Ok(false)`, not an error.
    fn exists(&self, path: &Path) -> io::Result<bool>;

    /// Atomically renames `from` to `to`, replacing `to`. After `Ok` readers see the new name;
    /// the rename is durable only after `sync_dir` of the parent (of both parents, if they
    /// differ). After a power loss before that, either name may be the one that exists.
    /// See [`Disk`] for an example.
    ///
    /// # Errors
    /// `NotFound` if `from` does not exist; any other `io::Error` of the rename. After `Err`
    /// either name may exist.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Removes the file `path`. Durable only after `sync_dir` of its parent: until then, a
    /// power loss may bring the file back with its old content. See [`Disk`] for an example.
    ///
    /// # Errors
    /// `NotFound` if `path` does not exist; any other `io::Error` of the unlink.
    fn remove(&self, path: &Path) -> io::Result<()>;

    /// Makes every completed create, rename and remove inside `dir` durable (`fsync` of the
    /// directory). After `Err` none of them may be assumed durable. See [`Disk`] for an example.
    ///
    /// # Errors
    /// The `io::Error` of opening or `fsync`ing the directory (`EIO` after a failed write-back).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;

    /// Takes an exclusive, advisory lock on `dir` for the life of the returned guard. Fails with
    /// `io::ErrorKind::WouldBlock` if another holder (in this or another process) has it.
    /// See [`Disk`] for an example.
    ///
    /// # Errors
    /// `WouldBlock` if the lock is held elsewhere; any other `io::Error` creating or locking
    /// the lock file.
    fn lock_dir(&self, dir: &Path) -> io::Result<Self::Lock>;

    /// After a failed `sync_data` on `path` **in this process**, the length of the file that is
    /// known to be on stable storage; `None` if no sync of `path` has failed.
    /// See [`Disk`] for an example.
    ///
    /// Why this exists: on Linux a failed fsync marks the dirty pages clean, so reads keep
    /// returning bytes that never reached the disk until the page is evicted or the machine
    /// restarts. A reopen in the same process must therefore not trust what it reads past this
    /// length.
    ///
    /// The record belongs to the file, not to the name, and ends when the doubt does: a
    /// `set_len` to at most this length drops it (the pages that may be lost are gone, and later
    /// writes are new: without this, the next reopen in the process would cut records written
    /// and synced after recovery cut the doubtful tail); `rename` moves it with the file and
    /// drops the one of the name replaced; `remove` drops it.
    fn synced_len_after_failure(&self, path: &Path) -> Option<u64>;

    /// The Unix permission bits of the file `path` (`mode & 0o7777`), or `None` where the disk
    /// has none (a model disk, a non-Unix system). Used to refuse a private key that others
    /// can read. See [`Disk`] for an example.
    ///
    /// # Errors
    /// `NotFound` if `path` does not exist; any other `io::Error` of the `stat`.
    fn permissions(&self, path: &Path) -> io::Result<Option<u32>> {
        let _ = path;
        Ok(None)
    }
}

/// An open file. Positional I/O only: there is no shared cursor to get wrong.
///
/// # Examples
///
/// ```
/// use mtlog_audit::io::{Disk, DiskFile, OpenMode, RealDisk};
///
/// # let tmp = tempfile::tempdir()?;
/// let file = RealDisk.open(&tmp.path().join("a.bin"), OpenMode::CreateNew)?;
/// let written = file.write_at(b"hello", 2)?; // may be short: see write_all_at
/// assert!(written <= 5);
/// file.sync_data()?; // the data written is durable
///
/// file.set_len(4096)?; // preallocate; the new bytes read as zeros
/// file.sync_all()?; // the new length is durable too
/// let mut buf = [0xff; 8];
/// let read = file.read_at(&mut buf, 0)?; // may be short: see read_exact_at
/// assert!(read >= 1 && buf[0] == 0); // a hole before the write reads as zeros
/// assert_eq!(file.len()?, 4096);
/// assert_eq!(file.read_at(&mut buf, 4096)?, 0); // end of file
/// # Ok::<(), std::io::Error>(())
/// ```
#[allow(clippy::len_without_is_empty)] // A file length is a size, not a collection.
pub trait DiskFile: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`. Returns how many were read; fewer than asked
    /// (a short read) is legal anywhere, and 0 means end of file. Bytes read may come from the
    /// page cache and need not be durable. See [`DiskFile`] for an example.
    ///
    /// # Errors
    /// The `io::Error` of the read (`EIO` for an unreadable sector); `Interrupted` may be
    /// retried ([`read_exact_at`] does).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Writes up to `buf.len()` bytes at `offset` and returns how many were written (a short
    /// write is legal). After `Ok` the bytes are visible to reads but **not durable** until
    /// `sync_data` returns `Ok`. After `Err` the range holds old bytes, new bytes or a mix.
    /// See [`DiskFile`] for an example.
    ///
    /// # Errors
    /// The `io::Error` of the write: `StorageFull` (see [`is_storage_full`]), `EIO`, ...;
    /// `Interrupted` may be retried ([`write_all_at`] does).
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize>;

    /// `fdatasync`: makes every completed write to this file, and any length change they
    /// implied, durable. After `Err` the data written since the last successful sync **may be
    /// lost** while reads still return it, and a later `sync_data` may report `Ok` without
    /// having written it: the caller must treat the file as poisoned and never retry.
    /// See [`DiskFile`] for an example.
    ///
    /// # Errors
    /// The `io::Error` of the `fdatasync` (`EIO`, `StorageFull`): see above for what it means.
    fn sync_data(&self) -> io::Result<()>;

    /// `fsync`: like `sync_data`, plus all metadata. Used after `set_len` shrinks a file.
    /// See [`DiskFile`] for an example.
    ///
    /// # Errors
    /// The `io::Error` of the `fsync`, with the same meaning as for [`DiskFile::sync_data`].
    fn sync_all(&self) -> io::Result<()>;

    /// The current length of the file (including unsynced writes). See [`DiskFile`] for an example.
    ///
    /// # Errors
    /// The `io::Error` of the `fstat`.
    fn len(&self) -> io::Result<u64>;

    /// Sets the file length, zero-filling when it grows. Durable after `sync_all`.
    /// See [`DiskFile`] for an example.
    ///
    /// # Errors
    /// The `io::Error` of the `ftruncate` (`StorageFull` when growing); the length is then
    /// unknown.
    fn set_len(&self, len: u64) -> io::Result<()>;
}

/// Reads exactly `buf.len()` bytes at `offset`, looping over short reads (and retrying
/// `Interrupted`). See [`Disk`] for an example.
///
/// # Errors
/// `UnexpectedEof` if the file ends first, or the underlying read error.
pub fn read_exact_at<F: DiskFile + ?Sized>(
    file: &F,
    mut buf: &mut [u8],
    mut offset: u64,
) -> io::Result<()> {
    while !buf.is_empty() {
        match file.read_at(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `buf` at `offset`, looping over short writes (and retrying `Interrupted`).
/// See [`Disk`] for an example.
///
/// # Errors
/// The underlying write error; `WriteZero` if the file accepts no bytes.
pub fn write_all_at<F: DiskFile + ?Sized>(
    file: &F,
    mut buf: &[u8],
    mut offset: u64,
) -> io::Result<()> {
    while !buf.is_empty() {
        match file.write_at(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether `err` means the device or quota is full (ENOSPC or EDQUOT), judged by kind and errno,
/// never by message text.
///
/// # Examples
///
/// ```
/// use std::io;
/// use mtlog_audit::io::is_storage_full;
///
/// assert!(is_storage_full(&io::Error::from_raw_os_error(28))); // ENOSPC
/// assert!(is_storage_full(&io::Error::from(io::ErrorKind::StorageFull)));
/// assert!(!is_storage_full(&io::Error::from(io::ErrorKind::NotFound)));
/// ```
pub fn is_storage_full(err: &io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    err.kind() == io::ErrorKind::StorageFull
        || err.kind() == io::ErrorKind::QuotaExceeded
        || matches!(err.raw_os_error(), Some(ENOSPC) | Some(EDQUOT))
}
