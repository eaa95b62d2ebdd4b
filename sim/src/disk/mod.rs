//! `SimDisk`: the simulated file system, implementing [`mtlog_audit::io::Disk`] with the storage
//! fault model of FAULT-MODEL.md §4a (D1-D14).
//!
//! See the crate documentation for the model. This module holds the public handles
//! ([`SimDisk`], [`SimFile`], [`SimLock`]) and the direct-injection API; `state` holds the data
//! structures, `ops` the trait operations, `crash` what a crash keeps.

mod crash;
mod ops;
mod pages;
mod state;
#[cfg(test)]
mod tests;

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use mtlog_audit::io::{DirLock, Disk, DiskFile, OpenMode};

pub(crate) use state::DiskState;

use crate::ledger::FaultRecord;
use crate::trace::{Op, TraceEvent};
use crate::world::{lock, Shared, Sim};
use pages::{Fill, PAGE_U64, SECTOR};
use state::InodeId;

/// The page size used for content and capacity accounting, in bytes.
pub const PAGE_BYTES: u64 = PAGE_U64;
/// The sector size: the unit of torn writes and latent sector errors, in bytes.
pub const SECTOR_BYTES: u64 = SECTOR;

/// The message of every error returned once the simulated process is gone (an armed crash point
/// was reached, or a handle from before a crash is used).
pub const PROCESS_GONE: &str = "simulated process is gone";

/// How the machine goes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashKind {
    /// `kill -9`: the OS page cache survives, so every completed write, create, rename and
    /// remove persists, synced or not (P1).
    Process,
    /// Power loss: only synced data and synced directory entries persist, plus a seed-chosen
    /// part of what was in flight, possibly torn and reordered (D1-D4).
    PowerLoss,
}

/// Operation counters, for resource-bound checks (I13) and crash-point enumeration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    /// Every `Disk`/`DiskFile` call.
    pub ops: u64,
    /// Calls that can change state: `write_at`, `sync_data`, `sync_all`, `set_len`, creating
    /// `open`, `create_dir_all`, `rename`, `remove`, `sync_dir`, `lock_dir`. These are the
    /// crash points `arm_crash_after` counts.
    pub mutating_ops: u64,
    /// `read_at` calls.
    pub reads: u64,
    /// `write_at` calls.
    pub writes: u64,
    /// `sync_data` and `sync_all` calls.
    pub syncs: u64,
    /// `sync_dir` calls.
    pub dir_syncs: u64,
    /// Bytes returned by reads.
    pub bytes_read: u64,
    /// Bytes accepted by writes.
    pub bytes_written: u64,
    /// Open file handles and held locks in the current process.
    pub open_handles: u64,
    /// The most handles ever open at once in one process.
    pub open_handles_max: u64,
    /// Crashes of either kind.
    pub crashes: u64,
    /// Power losses.
    pub power_losses: u64,
}

/// The simulated disk. Cheap to clone: clones share one file system (and one clock, trace and
/// ledger with the [`Sim`] that made it).
///
/// The harness keeps a clone to crash it while the code under test holds another.
#[derive(Clone)]
pub struct SimDisk {
    shared: Shared,
}

/// An open simulated file. Every operation after a crash fails with [`PROCESS_GONE`].
pub struct SimFile {
    shared: Shared,
    handle: FileRef,
}

/// A held directory lock; dropping it (or a crash) releases it.
pub struct SimLock {
    shared: Shared,
    dir: PathBuf,
    inode: InodeId,
    epoch: u64,
}

/// What a `SimFile` refers to.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileRef {
    pub(crate) inode: InodeId,
    pub(crate) epoch: u64,
    pub(crate) writable: bool,
}

impl std::fmt::Debug for SimDisk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let world = lock(&self.shared);
        f.debug_struct("SimDisk")
            .field("files", &world.disk.inodes.len())
            .field("dirs", &world.disk.dirs.len())
            .field("stats", &world.disk.stats)
            .finish()
    }
}

impl std::fmt::Debug for SimFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimFile").field("handle", &self.handle).finish()
    }
}

impl std::fmt::Debug for SimLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimLock").field("dir", &self.dir).field("epoch", &self.epoch).finish()
    }
}

impl SimDisk {
    pub(crate) fn new(shared: Shared) -> SimDisk {
        SimDisk { shared }
    }

    /// The machine this disk belongs to (trace, ledger, clock).
    pub fn sim(&self) -> Sim {
        Sim::from_shared(self.shared.clone())
    }

    // ---- crashes ----

    /// Crashes the machine. Every open handle dies, every lock is released, the "process gone"
    /// state and any armed crash point are cleared, and reads from then on see only what
    /// persisted. The harness then reopens the log on this same disk.
    pub fn crash(&self, kind: CrashKind) {
        lock(&self.shared).crash(kind);
    }

    /// After `mutating_ops` more mutating operations succeed or fail normally, the next one and
    /// every operation after it fail with [`PROCESS_GONE`] (the process died there) until
    /// [`SimDisk::crash`]. `arm_crash_after(0)` kills the process at its next mutating
    /// operation. Use [`DiskStats::mutating_ops`] of a clean run to enumerate crash points,
    /// including inside recovery (D13).
    pub fn arm_crash_after(&self, mutating_ops: u64) {
        lock(&self.shared).disk.crash_countdown = Some(mutating_ops);
    }

    /// Whether the armed crash point was reached.
    pub fn is_dead(&self) -> bool {
        lock(&self.shared).disk.dead
    }

    // ---- direct fault injection (deterministic, for tests) ----

    /// D5: the next `sync_data`/`sync_all` of `path` returns `EIO` and drops the writes since
    /// the last good sync from what will persist.
    ///
    /// # Errors
    /// `NotFound` if `path` is not a file.
    pub fn fail_next_sync(&self, path: &Path) -> io::Result<()> {
        self.inject(path, "fail_next_sync", |inode| inode.inject.fail_next_sync = true)
    }

    /// D5: the next `write_at` to `path` returns `EIO` (a seed-chosen sector prefix may land).
    ///
    /// # Errors
    /// `NotFound` if `path` is not a file.
    pub fn fail_next_write(&self, path: &Path) -> io::Result<()> {
        self.inject(path, "fail_next_write", |inode| inode.inject.fail_next_write = true)
    }

    /// D9: the next `write_at` to `path` is acked and readable but never persists, even after a
    /// successful sync (the file size does).
    ///
    /// # Errors
    /// `NotFound` if `path` is not a file.
    pub fn lose_next_write(&self, path: &Path) -> io::Result<()> {
        self.inject(path, "lose_next_write", |inode| inode.inject.lose_next_write = true)
    }

    /// D8: the next `write_at` to `path` reaches the device at `landing_offset` of
    /// `landing_path` instead (which may be `path`); the target keeps stale data. Reads return
    /// the intended data until a crash.
    ///
    /// # Errors
    /// `NotFound` if either path is not a file.
    pub fn misdirect_next_write(
        &self,
        path: &Path,
        landing_path: &Path,
        landing_offset: u64,
    ) -> io::Result<()> {
        let landing = lock(&self.shared).disk.require_file(landing_path)?;
        self.inject(path, "misdirect_next_write", |inode| {
            inode.inject.misdirect_next_write = Some((landing, landing_offset));
        })
    }

    /// Cancels every direct injection still queued for the next operations on `path` (a test
    /// that armed one for a write that never came must not have it fire on a later write).
    ///
    /// # Errors
    /// `NotFound` if `path` is not a file.
    pub fn cancel_injections(&self, path: &Path) -> io::Result<()> {
        self.inject(path, "cancel_injections", |inode| inode.inject = Default::default())
    }

    /// D6: flips bit `bit` (0-7) of the byte at `offset` of `path`, in both the durable and the
    /// cached content: a silent corruption at rest, the same on every re-read.
    ///
    /// # Errors
    /// `NotFound` if `path` is not a file; `InvalidInput` if `offset` is past both lengths or
    /// `bit > 7`.
    pub fn flip_bit(&self, path: &Path, offset: u64, bit: u8) -> io::Result<()> {
        let mut world = lock(&self.shared);
        let id = world.disk.require_file(path)?;
        world.flip_bit(id, offset, bit)
    }

    /// D7: reads touching sectors `sectors` (sector indexes, 512 bytes each) of `path` fail with
    /// `EIO`, persistently (across crashes) until a write covers the whole sector.
    ///
    /// # Errors
    /// `NotFound` if `path` is not a file; `InvalidInput` for an empty range.
    pub fn fail_reads(&self, path: &Path, sectors: Range<u64>) -> io::Result<()> {
        let mut world = lock(&self.shared);
        let id = world.disk.require_file(path)?;
        world.fail_reads(id, sectors)
    }

    /// D14: makes never-written space of `path` read as garbage (`true`) or zeros (`false`).
    ///
    /// # Errors
    /// `NotFound` if `path` is not a file; `InvalidInput` if it already holds written pages.
    pub fn set_uninitialised_garbage(&self, path: &Path, garbage: bool) -> io::Result<()> {
        let mut world = lock(&self.shared);
        let id = world.disk.require_file(path)?;
        world.set_uninitialised_garbage(id, garbage)
    }

    /// D10: sets the total capacity in bytes (rounded down to whole pages), or unlimited.
    /// Files are charged `ceil(len / 4096)` pages whether written or grown by `set_len`.
    pub fn set_capacity(&self, bytes: Option<u64>) {
        lock(&self.shared).disk.capacity_pages = bytes.map(|b| b / PAGE_U64);
    }

    /// D10 "99 % full": sets the capacity to what is used now plus `bytes` (rounded down to
    /// whole pages).
    pub fn set_free_bytes(&self, bytes: u64) {
        let mut world = lock(&self.shared);
        world.disk.capacity_pages = Some(world.disk.used_pages + bytes / PAGE_U64);
    }

    /// Bytes charged against the capacity now (whole pages).
    pub fn used_bytes(&self) -> u64 {
        lock(&self.shared).disk.used_pages * PAGE_U64
    }

    // ---- observation ----

    /// Every fault injected so far (the same as [`Sim::ledger`]).
    pub fn ledger(&self) -> Vec<FaultRecord> {
        lock(&self.shared).ledger.clone()
    }

    /// The operation counters.
    pub fn stats(&self) -> DiskStats {
        lock(&self.shared).disk.stats
    }

    /// Open file handles and held locks in the current process.
    pub fn open_handles(&self) -> u64 {
        lock(&self.shared).disk.stats.open_handles
    }

    /// The bytes of `path` that would survive a power loss with no in-flight writes persisting:
    /// the durable content up to the durable length. Does not count as an operation.
    ///
    /// # Errors
    /// `NotFound` if `path` is not a file.
    pub fn durable_contents(&self, path: &Path) -> io::Result<Vec<u8>> {
        let world = lock(&self.shared);
        let inode = world.disk.inode(world.disk.require_file(path)?);
        let mut buf = vec![0; usize::try_from(inode.durable_len).map_err(io_invalid)?];
        inode.durable.read(0, &mut buf, inode.fill);
        Ok(buf)
    }

    /// The bytes reads of `path` return now (the page cache). Does not count as an operation
    /// and ignores latent sector errors.
    ///
    /// # Errors
    /// `NotFound` if `path` is not a file.
    pub fn cached_contents(&self, path: &Path) -> io::Result<Vec<u8>> {
        let world = lock(&self.shared);
        let inode = world.disk.inode(world.disk.require_file(path)?);
        let mut buf = vec![0; usize::try_from(inode.cache_len).map_err(io_invalid)?];
        inode.cache_view().read(0, &mut buf, inode.fill);
        Ok(buf)
    }

    /// The length of `path` that would survive a power loss (the durable watermark of its
    /// size). Does not count as an operation.
    ///
    /// # Errors
    /// `NotFound` if `path` is not a file.
    pub fn durable_len(&self, path: &Path) -> io::Result<u64> {
        let world = lock(&self.shared);
        Ok(world.disk.inode(world.disk.require_file(path)?).durable_len)
    }

    /// How many writes and `set_len`s of `path` are not yet synced.
    ///
    /// # Errors
    /// `NotFound` if `path` is not a file.
    pub fn pending_ops(&self, path: &Path) -> io::Result<usize> {
        let world = lock(&self.shared);
        let inode = world.disk.inode(world.disk.require_file(path)?);
        Ok(inode.pending.len())
    }

    fn inject(
        &self,
        path: &Path,
        what: &str,
        set: impl FnOnce(&mut state::Inode),
    ) -> io::Result<()> {
        let mut world = lock(&self.shared);
        let id = world.disk.require_file(path)?;
        set(world.disk.inode_mut(id));
        let mut event = TraceEvent::new(Op::Inject);
        event.file = u64::from(id);
        event.path = Some(path);
        event.text = Some(what);
        world.record(&event);
        Ok(())
    }
}

fn io_invalid<E>(_: E) -> io::Error {
    io::ErrorKind::InvalidInput.into()
}

impl Disk for SimDisk {
    type File = SimFile;
    type Lock = SimLock;

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        lock(&self.shared).create_dir_all(dir)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<SimFile> {
        let handle = lock(&self.shared).open(path, mode)?;
        Ok(SimFile { shared: self.shared.clone(), handle })
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        lock(&self.shared).list(dir)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        lock(&self.shared).exists(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        lock(&self.shared).rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        lock(&self.shared).remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        lock(&self.shared).sync_dir(dir)
    }

    fn lock_dir(&self, dir: &Path) -> io::Result<SimLock> {
        let (inode, epoch) = lock(&self.shared).lock_dir(dir)?;
        Ok(SimLock { shared: self.shared.clone(), dir: dir.to_path_buf(), inode, epoch })
    }

    fn synced_len_after_failure(&self, path: &Path) -> Option<u64> {
        lock(&self.shared).disk.failed_syncs.get(path).copied()
    }
}

impl DiskFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        lock(&self.shared).read_at(&self.handle, buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        lock(&self.shared).write_at(&self.handle, buf, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        lock(&self.shared).sync(&self.handle, Op::SyncData)
    }

    fn sync_all(&self) -> io::Result<()> {
        lock(&self.shared).sync(&self.handle, Op::SyncAll)
    }

    fn len(&self) -> io::Result<u64> {
        lock(&self.shared).len(&self.handle)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        lock(&self.shared).set_len(&self.handle, len)
    }
}

impl Drop for SimFile {
    fn drop(&mut self) {
        // Never panic in drop: a poisoned world means the run already failed.
        if let Ok(mut world) = self.shared.lock() {
            world.close(&self.handle);
        }
    }
}

impl DirLock for SimLock {}

impl Drop for SimLock {
    fn drop(&mut self) {
        if let Ok(mut world) = self.shared.lock() {
            world.unlock(&self.dir, self.inode, self.epoch);
        }
    }
}

/// The `Fill` of a new file: zeros, or D14 garbage unique to the inode.
pub(crate) fn fill_for(garbage_seed: u64, id: InodeId, garbage: bool) -> Fill {
    if garbage {
        Fill::Garbage(crate::rng::mix64(garbage_seed ^ u64::from(id)))
    } else {
        Fill::Zero
    }
}
