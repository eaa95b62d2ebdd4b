//! The simulated disk's state: inodes with cached and durable content, directories with current
//! and durable entries, and the per-process state a crash resets.
//!
//! Two views of everything:
//! - the **cache** (what reads return: every completed write, create, rename and remove), and
//! - the **durable** state (what survives a power loss),
//!
//! linked by the **pending** operations since the last successful sync: per file the writes and
//! `set_len`s since its last good `sync_data`, per directory the entry operations since its last
//! good `sync_dir`. A sync moves pending operations into the durable state; a power loss keeps the
//! durable state plus a seed-chosen part of the pending operations; a process crash keeps all of
//! them. Content is never copied wholesale on a sync, only the pending bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};

use super::pages::{pages_for, Fill, Pages, SECTOR};
use super::DiskStats;
use crate::rng::Rng;

/// An inode number: an index into `DiskState::inodes`. Never reused within a simulation.
pub(crate) type InodeId = u32;

/// The whole simulated file system.
#[derive(Clone)]
pub(crate) struct DiskState {
    pub(crate) inodes: Vec<Inode>,
    /// Every directory that currently exists, including the roots `/` and `` (for relative
    /// paths), which always exist and are always durable.
    pub(crate) dirs: BTreeMap<PathBuf, Dir>,
    /// Directories whose lock is held, with the `LOCK` file's inode.
    pub(crate) locks: BTreeSet<PathBuf>,
    /// Paths whose file sync failed in this process, with the lowest offset whose content may
    /// not be durable (the `RealDisk` meaning of `synced_len_after_failure`).
    pub(crate) failed_syncs: BTreeMap<PathBuf, u64>,
    /// The process generation: bumped by every crash; handles from older ones are dead.
    pub(crate) epoch: u64,
    /// Whether the armed crash point was reached (every operation fails until `crash`).
    pub(crate) dead: bool,
    /// Mutating operations left before the process dies, if armed.
    pub(crate) crash_countdown: Option<u64>,
    pub(crate) capacity_pages: Option<u64>,
    /// Pages charged to live files: `pages_for(cache_len)` summed over inodes that have a name or
    /// an open handle.
    pub(crate) used_pages: u64,
    pub(crate) stats: DiskStats,
    /// Draws made during operations (faults at `write_at`, `sync_data`, ...).
    pub(crate) rng_ops: Rng,
    /// Draws made at crashes (what a power loss keeps, at-rest faults).
    pub(crate) rng_crash: Rng,
    /// The seed of every file's D14 garbage (mixed with the inode id).
    pub(crate) garbage_seed: u64,
}

/// A file's identity and content.
#[derive(Clone)]
pub(crate) struct Inode {
    /// The last name it was given (for the ledger and `synced_len_after_failure`).
    pub(crate) path: PathBuf,
    /// How many current directory entries point at it.
    pub(crate) nlink: u32,
    /// Open handles (files and lock guards) in the current process.
    pub(crate) handles: u32,
    /// Unreachable after a crash: content freed, never used again.
    pub(crate) freed: bool,
    /// What reads return, unless `cache_is_durable` (then the durable pages serve both).
    pub(crate) cache: Pages,
    pub(crate) cache_len: u64,
    /// After a crash the cache equals the durable content. Instead of copying every page of
    /// every file, both views share the durable pages until the first change to either
    /// ([`Inode::unshare`]), so files a recovery only reads (sealed segments) are never copied.
    pub(crate) cache_is_durable: bool,
    pub(crate) durable: Pages,
    pub(crate) durable_len: u64,
    /// Writes and `set_len`s since the last successful file sync, in program order.
    pub(crate) pending: Vec<Pending>,
    /// The bytes of the pending writes, back to back (one buffer, reused across syncs).
    pub(crate) pending_bytes: Vec<u8>,
    /// Sector indexes whose reads fail (D7), until a write covers the whole sector.
    pub(crate) bad_sectors: BTreeSet<u64>,
    /// The failing sectors of the medium: what `bad_sectors` returns to at a crash. A write
    /// or a truncation heals a sector on the medium only once it persists, so an unsynced
    /// truncation that a power loss reverts brings the failing sector back with its bytes.
    pub(crate) bad_sectors_durable: BTreeSet<u64>,
    /// What never-written bytes read as.
    pub(crate) fill: Fill,
    pub(crate) inject: Injections,
}

/// Faults queued by the direct-injection methods for the next operation on a file.
#[derive(Clone, Debug, Default)]
pub(crate) struct Injections {
    pub(crate) fail_next_sync: bool,
    pub(crate) fail_next_write: bool,
    pub(crate) lose_next_write: bool,
    pub(crate) misdirect_next_write: Option<(InodeId, u64)>,
}

/// The `start` of a pending write of zeros: its bytes are not copied. A log preallocates
/// every segment with zeros, up to 1 MiB of them, and copying them into the pending buffer
/// and out again at the sync was a tenth of a torture run.
pub(crate) const ZEROS_START: usize = usize::MAX;

/// The bytes of every pending zero write (in `.bss`: untouched pages cost nothing).
pub(crate) static ZEROS: [u8; ZEROS_MAX] = [0; ZEROS_MAX];

/// The longest zero write kept without a copy; longer ones are copied like any other.
pub(crate) const ZEROS_MAX: usize = 1 << 20;

/// The bytes of the pending write `start`, `len` (see [`PendingOp::Write`]), given the
/// inode's `pending_bytes`. A free function so the caller can borrow other fields mutably.
pub(crate) fn pending_data(pending_bytes: &[u8], start: usize, len: usize) -> &[u8] {
    if start == ZEROS_START {
        &ZEROS[..len]
    } else {
        &pending_bytes[start..start + len]
    }
}

/// One pending file operation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pending {
    pub(crate) op: PendingOp,
    /// The ledger entry of the fault this operation carries, if any.
    pub(crate) ledger: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum PendingOp {
    /// `len` bytes at `offset`, stored at `pending_bytes[start..start + len]`, or zeros when
    /// `start` is [`ZEROS_START`] (read them with [`pending_data`]).
    Write {
        offset: u64,
        start: usize,
        len: usize,
        fate: Fate,
    },
    SetLen {
        len: u64,
    },
}

/// What the device will do with a write when it reaches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fate {
    Normal,
    /// D9: never persisted (the file size still grows).
    Lost,
    /// D8: lands at `offset` in `inode` instead.
    Misdirected {
        inode: InodeId,
        offset: u64,
    },
}

/// A directory's entries.
#[derive(Clone, Debug, Default)]
pub(crate) struct Dir {
    /// What `list`, `open` and `exists` see.
    pub(crate) entries: BTreeMap<OsString, Entry>,
    /// What survives a power loss.
    pub(crate) durable: BTreeMap<OsString, Entry>,
    /// Entry operations since the last successful `sync_dir`, in order.
    pub(crate) pending: Vec<DirOp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    File(InodeId),
    Dir,
}

/// One directory-entry operation, as it will be replayed onto the durable entries.
#[derive(Clone, Debug)]
pub(crate) enum DirOp {
    /// Create (a file or a subdirectory).
    Link { name: OsString, entry: Entry },
    /// Remove.
    Unlink { name: OsString },
    /// Rename within this directory: atomic, both names change together.
    Rename { from: OsString, to: OsString, entry: Entry },
    /// The target half of a rename from another directory. It is recorded only here, so the
    /// rename becomes durable when *this* directory is synced (the source name is removed from
    /// the source's durable entries then); before that a power loss keeps the old name.
    RenameIn { from_dir: PathBuf, from: OsString, to: OsString, entry: Entry },
}

impl DiskState {
    pub(crate) fn new(rng: &Rng) -> DiskState {
        let mut dirs = BTreeMap::new();
        dirs.insert(PathBuf::from("/"), Dir::default());
        dirs.insert(PathBuf::new(), Dir::default());
        DiskState {
            inodes: Vec::new(),
            dirs,
            locks: BTreeSet::new(),
            failed_syncs: BTreeMap::new(),
            epoch: 0,
            dead: false,
            crash_countdown: None,
            capacity_pages: None,
            used_pages: 0,
            stats: DiskStats::default(),
            rng_ops: rng.fork("disk-ops"),
            rng_crash: rng.fork("disk-crash"),
            garbage_seed: rng.fork("disk-garbage").next_u64(),
        }
    }

    /// The file at `path`, if it exists.
    pub(crate) fn file_at(&self, path: &Path) -> Option<InodeId> {
        let (parent, name) = split(path).ok()?;
        match self.dirs.get(parent)?.entries.get(name)? {
            Entry::File(id) => Some(*id),
            Entry::Dir => None,
        }
    }

    /// The file at `path`, or `NotFound`.
    pub(crate) fn require_file(&self, path: &Path) -> io::Result<InodeId> {
        self.file_at(path).ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    pub(crate) fn inode(&self, id: InodeId) -> &Inode {
        &self.inodes[id as usize]
    }

    pub(crate) fn inode_mut(&mut self, id: InodeId) -> &mut Inode {
        &mut self.inodes[id as usize]
    }

    /// A new, empty inode named `path`, with one link and one handle.
    pub(crate) fn new_inode(&mut self, path: &Path, fill: Fill) -> InodeId {
        let id =
            InodeId::try_from(self.inodes.len()).expect("fewer than 2^32 files per simulation");
        self.inodes.push(Inode::new(path.to_path_buf(), fill));
        // A new file is empty, so it charges no pages yet whatever its liveness.
        self.change_refs(id, 1, 1);
        id
    }

    /// Adds `links` directory entries and `handles` open handles to an inode (either may be
    /// negative), moving its pages in or out of the capacity charge when its liveness changes.
    pub(crate) fn change_refs(&mut self, id: InodeId, links: i32, handles: i32) {
        let inode = &mut self.inodes[id as usize];
        let live_before = inode.is_live();
        inode.nlink = inode.nlink.checked_add_signed(links).expect("link count stays >= 0");
        inode.handles = inode.handles.checked_add_signed(handles).expect("handle count stays >= 0");
        let live_after = inode.is_live();
        let pages = pages_for(inode.cache_len);
        match (live_before, live_after) {
            (false, true) => self.used_pages += pages,
            (true, false) => {
                assert!(self.used_pages >= pages);
                self.used_pages -= pages;
            }
            _ => {}
        }
    }

    /// Sets the cached length of a live inode, updating the capacity charge.
    pub(crate) fn set_cache_len(&mut self, id: InodeId, len: u64) {
        let inode = &mut self.inodes[id as usize];
        assert!(inode.is_live(), "only a named or open file changes size");
        let before = pages_for(inode.cache_len);
        let after = pages_for(len);
        inode.cache_len = len;
        self.used_pages = self.used_pages - before + after;
    }

    /// The largest end offset the capacity allows a write to `id` to reach (`u64::MAX` when
    /// unlimited).
    pub(crate) fn writable_end(&self, id: InodeId) -> u64 {
        let Some(capacity) = self.capacity_pages else {
            return u64::MAX;
        };
        let pages_free = capacity.saturating_sub(self.used_pages);
        let pages_now = pages_for(self.inodes[id as usize].cache_len);
        (pages_now + pages_free).saturating_mul(super::pages::PAGE_U64)
    }

    /// The directory `dir`, or `NotFound`.
    pub(crate) fn require_dir(&self, dir: &Path) -> io::Result<&Dir> {
        self.dirs.get(dir).ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    pub(crate) fn require_dir_mut(&mut self, dir: &Path) -> io::Result<&mut Dir> {
        self.dirs.get_mut(dir).ok_or_else(|| io::ErrorKind::NotFound.into())
    }

    /// Replays every pending entry operation of `dir` onto the durable entries (`sync_dir`).
    pub(crate) fn make_dir_durable(&mut self, dir: &Path) {
        self.make_dir_prefix_durable(dir, usize::MAX);
    }

    /// Replays the first `count` pending entry operations of `dir` onto the durable entries and
    /// forgets the rest (the rest are only reverted by the caller, at a power loss).
    pub(crate) fn make_dir_prefix_durable(&mut self, dir: &Path, count: usize) {
        let Some(d) = self.dirs.get_mut(dir) else {
            return;
        };
        let mut ops = std::mem::take(&mut d.pending);
        for op in ops.iter().take(count) {
            apply_dir_op(&mut self.dirs, dir, op);
        }
        ops.clear();
        if let Some(d) = self.dirs.get_mut(dir) {
            d.pending = ops;
        }
    }

    /// Whether any pending write or shrink of `id` touches `offset..end`.
    pub(crate) fn pending_covers(&self, id: InodeId, offset: u64, end: u64) -> bool {
        self.inodes[id as usize].pending.iter().any(|p| match p.op {
            PendingOp::Write { offset: w, len, .. } => w < end && offset < w + len as u64,
            PendingOp::SetLen { len } => len < end,
        })
    }

    /// Whether `offset..end` of `id` overlaps durable data no pending operation covers.
    pub(crate) fn region_durable(&self, id: InodeId, offset: u64, end: u64) -> bool {
        let inode = &self.inodes[id as usize];
        offset < inode.durable_len && !self.pending_covers(id, offset, end.min(inode.durable_len))
    }

    /// Inodes that have a name or an open handle, in id order.
    pub(crate) fn live_inodes(&self) -> impl Iterator<Item = InodeId> + '_ {
        self.inodes
            .iter()
            .enumerate()
            .filter(|(_, inode)| inode.is_live())
            .map(|(id, _)| id as InodeId)
    }
}

impl Inode {
    fn new(path: PathBuf, fill: Fill) -> Inode {
        Inode {
            path,
            nlink: 0,
            handles: 0,
            freed: false,
            cache: Pages::default(),
            cache_len: 0,
            cache_is_durable: false,
            durable: Pages::default(),
            durable_len: 0,
            pending: Vec::new(),
            pending_bytes: Vec::new(),
            bad_sectors: BTreeSet::new(),
            bad_sectors_durable: BTreeSet::new(),
            fill,
            inject: Injections::default(),
        }
    }

    /// The pages reads are served from.
    pub(crate) fn cache_view(&self) -> &Pages {
        if self.cache_is_durable {
            &self.durable
        } else {
            &self.cache
        }
    }

    /// Gives the cache its own pages before the cache or the durable content changes.
    pub(crate) fn unshare(&mut self) {
        if self.cache_is_durable {
            self.cache = self.durable.clone();
            self.cache_is_durable = false;
        }
    }

    pub(crate) fn is_live(&self) -> bool {
        self.nlink > 0 || self.handles > 0
    }

    /// Whether a read of `offset..end` touches a failing sector.
    pub(crate) fn read_fails(&self, offset: u64, end: u64) -> bool {
        if self.bad_sectors.is_empty() || end <= offset {
            return false;
        }
        let first = offset / SECTOR;
        let last = (end - 1) / SECTOR;
        self.bad_sectors.range(first..=last).next().is_some()
    }

    /// Forgets failing sectors that a write of `offset..end` rewrites completely (the drive
    /// remaps a sector on write).
    pub(crate) fn heal_sectors(&mut self, offset: u64, end: u64) {
        heal(&mut self.bad_sectors, offset, end);
    }

    /// Marks sectors failing on the medium and so in what reads see.
    pub(crate) fn fail_sectors(&mut self, sectors: std::ops::Range<u64>) {
        self.bad_sectors.extend(sectors.clone());
        self.bad_sectors_durable.extend(sectors);
    }

    /// Sets the durable length to the cached one (what `fdatasync` does to the size).
    pub(crate) fn make_size_durable(&mut self) {
        if self.cache_len == self.durable_len {
            return;
        }
        self.unshare();
        if self.cache_len < self.durable_len {
            self.durable.truncate(self.cache_len, self.fill);
        }
        self.durable_len = self.cache_len;
    }

    /// Drops the pending operations (after a failed sync or a crash), keeping the buffers.
    pub(crate) fn clear_pending(&mut self) {
        self.pending.clear();
        self.pending_bytes.clear();
    }
}

/// Replays `op`, recorded in `dir`, onto the durable entries.
pub(crate) fn apply_dir_op(dirs: &mut BTreeMap<PathBuf, Dir>, dir: &Path, op: &DirOp) {
    if let DirOp::RenameIn { from_dir, from, entry, .. } = op {
        if let Some(source) = dirs.get_mut(from_dir.as_path()) {
            if source.durable.get(from) == Some(entry) {
                source.durable.remove(from);
            }
        }
    }
    let Some(d) = dirs.get_mut(dir) else { return };
    match op {
        DirOp::Link { name, entry } => {
            d.durable.insert(name.clone(), *entry);
        }
        DirOp::Unlink { name } => {
            d.durable.remove(name);
        }
        DirOp::Rename { from, to, entry } => {
            d.durable.remove(from);
            d.durable.insert(to.clone(), *entry);
        }
        DirOp::RenameIn { to, entry, .. } => {
            d.durable.insert(to.clone(), *entry);
        }
    }
}

/// Splits `path` into its parent directory and file name.
pub(crate) fn split(path: &Path) -> io::Result<(&Path, &OsStr)> {
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "path has no file name")),
    }
}

/// Removes from `bad` the sectors that a write of `offset..end` rewrites completely (the drive
/// remaps a sector on write).
pub(crate) fn heal(bad: &mut BTreeSet<u64>, offset: u64, end: u64) {
    if bad.is_empty() {
        return;
    }
    let first_whole = offset.div_ceil(SECTOR);
    let end_whole = end / SECTOR;
    if first_whole < end_whole {
        let healed: Vec<u64> = bad.range(first_whole..end_whole).copied().collect();
        for sector in healed {
            bad.remove(&sector);
        }
    }
}

/// Forgets the failing sectors past a file truncated to `len`.
pub(crate) fn drop_sectors_past(bad: &mut BTreeSet<u64>, len: u64) {
    drop(bad.split_off(&len.div_ceil(SECTOR)));
}
