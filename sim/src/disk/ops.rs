//! The `Disk` and `DiskFile` operations, as methods on the world.
//!
//! Each public-facing method records exactly one trace event with its outcome; the `*_inner`
//! helpers do the work. Faults are drawn in a fixed order per operation (documented at each
//! one) so that a seed replays identically.

use std::ffi::OsStr;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use mtlog_audit::io::OpenMode;
use xxhash_rust::xxh3::xxh3_64;

use super::pages::{is_zero, Fill, SECTOR};
use super::state::{
    drop_sectors_past, heal, pending_data, split, DirOp, Entry, Fate, InodeId, Pending, PendingOp,
    ZEROS_MAX, ZEROS_START,
};
use super::{fill_for, FileRef, PROCESS_GONE};
use crate::ledger::FaultKind;
use crate::trace::{result_code, Op, TraceEvent};
use crate::world::World;

/// The name of the lock file `lock_dir` creates, as `RealDisk` does.
const LOCK_FILE: &str = "LOCK";
/// Tags the trace digest of a write of zeros (xored with its length): preallocation writes
/// up to 1 MiB of them, and hashing those bytes cost more than the rest of the trace.
const ZERO_DIGEST: u64 = 0x7a65_726f_0000_0000;
/// The most sectors a seeded misdirected write is displaced by within its file.
const MISDIRECT_SECTORS_MAX: u64 = 8;

pub(crate) fn gone() -> io::Error {
    io::Error::other(PROCESS_GONE)
}

pub(crate) fn eio() -> io::Error {
    const EIO: i32 = 5;
    io::Error::from_raw_os_error(EIO)
}

fn storage_full() -> io::Error {
    io::Error::from(io::ErrorKind::StorageFull)
}

fn read_only() -> io::Error {
    const EBADF: i32 = 9;
    io::Error::from_raw_os_error(EBADF)
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what)
}

impl World {
    /// Every operation starts here: fails if the process is gone, counts the operation, counts
    /// down an armed crash point, and maybe stalls (D12).
    fn begin(&mut self, op: Op, handle: Option<&FileRef>, mutating: bool) -> io::Result<()> {
        let disk = &mut self.disk;
        disk.stats.ops += 1;
        let stale = handle.is_some_and(|h| h.epoch != disk.epoch);
        if stale || disk.dead {
            return Err(gone());
        }
        if mutating {
            if let Some(left) = disk.crash_countdown {
                if left == 0 {
                    disk.dead = true;
                    disk.crash_countdown = None;
                    let mut event = TraceEvent::new(Op::Died);
                    event.data = op as u64;
                    self.record(&event);
                    return Err(gone());
                }
                disk.crash_countdown = Some(left - 1);
            }
            disk.stats.mutating_ops += 1;
        }
        if self.disk.rng_ops.chance(self.faults.slow_io) {
            let nanos = self.disk.rng_ops.log_uniform(self.faults.slow_io_nanos_max.max(1));
            let path = handle.map(|h| self.disk.inode(h.inode).path.clone()).unwrap_or_default();
            let began = self.clock.mono;
            self.log_fault(FaultKind::SlowIo, path, began, nanos, false);
            self.clock_advance(nanos);
        }
        Ok(())
    }

    fn path_of(&self, id: InodeId) -> PathBuf {
        self.disk.inode(id).path.clone()
    }

    fn file_event(
        &mut self,
        op: Op,
        handle: &FileRef,
        offset: u64,
        len: u64,
        data: u64,
        result: i64,
    ) {
        let mut event = TraceEvent::new(op);
        event.file = u64::from(handle.inode);
        event.offset = offset;
        event.len = len;
        event.data = data;
        event.result = result;
        self.record(&event);
    }

    fn path_event(&mut self, op: Op, path: &Path, file: u64, result: i64) {
        let mut event = TraceEvent::new(op);
        event.file = file;
        event.path = Some(path);
        event.result = result;
        self.record(&event);
    }

    // ---- DiskFile ----

    /// `read_at`. Faults, in draw order: slow I/O, latent sector error (D7, not drawn: set by
    /// injection or at a crash), short read (D11).
    pub(crate) fn read_at(
        &mut self,
        h: &FileRef,
        buf: &mut [u8],
        offset: u64,
    ) -> io::Result<usize> {
        let result = self.read_at_inner(h, buf, offset);
        let code = result_code(&result, |n| *n as i64);
        self.file_event(Op::Read, h, offset, buf.len() as u64, 0, code);
        result
    }

    fn read_at_inner(&mut self, h: &FileRef, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.begin(Op::Read, Some(h), false)?;
        self.disk.stats.reads += 1;
        let inode = self.disk.inode(h.inode);
        if buf.is_empty() || offset >= inode.cache_len {
            return Ok(0);
        }
        let mut n = (inode.cache_len - offset).min(buf.len() as u64) as usize;
        if inode.read_fails(offset, offset + n as u64) {
            return Err(eio());
        }
        if n > 1 && self.disk.rng_ops.chance(self.faults.short_read) {
            let short = self.disk.rng_ops.range_inclusive(1, n as u64 - 1) as usize;
            let path = self.path_of(h.inode);
            self.log_fault(FaultKind::ShortRead, path, offset, (n - short) as u64, false);
            n = short;
        }
        let inode = self.disk.inode(h.inode);
        inode.cache_view().read(offset, &mut buf[..n], inode.fill);
        self.disk.stats.bytes_read += n as u64;
        Ok(n)
    }

    /// `write_at`. Faults, in draw order: slow I/O, write error (D5), transient ENOSPC (D10),
    /// capacity (D10), short write (D11), lost write (D9), misdirected write (D8).
    pub(crate) fn write_at(&mut self, h: &FileRef, buf: &[u8], offset: u64) -> io::Result<usize> {
        let zeros = is_zero(buf);
        let result = self.write_at_inner(h, buf, offset, zeros);
        let code = result_code(&result, |n| *n as i64);
        // The trace digest of zeros is their length, tagged: no hash pass over preallocation.
        let digest = if zeros { ZERO_DIGEST ^ buf.len() as u64 } else { xxh3_64(buf) };
        self.file_event(Op::Write, h, offset, buf.len() as u64, digest, code);
        result
    }

    fn write_at_inner(
        &mut self,
        h: &FileRef,
        buf: &[u8],
        offset: u64,
        zeros: bool,
    ) -> io::Result<usize> {
        self.begin(Op::Write, Some(h), true)?;
        if !h.writable {
            return Err(read_only());
        }
        self.disk.stats.writes += 1;
        if buf.is_empty() {
            return Ok(0);
        }
        let id = h.inode;
        let end =
            offset.checked_add(buf.len() as u64).ok_or_else(|| invalid("offset overflows"))?;
        let fail_injected = std::mem::take(&mut self.disk.inode_mut(id).inject.fail_next_write);
        if fail_injected || self.disk.rng_ops.chance(self.faults.write_error) {
            return Err(self.fail_write(id, buf, offset));
        }
        let cache_len = self.disk.inode(id).cache_len;
        if end > cache_len && self.disk.rng_ops.chance(self.faults.storage_full) {
            let path = self.path_of(id);
            self.log_fault(FaultKind::StorageFull, path, offset, buf.len() as u64, false);
            return Err(storage_full());
        }
        let mut n = buf.len();
        let writable_end = self.disk.writable_end(id);
        if end > writable_end {
            let path = self.path_of(id);
            self.log_fault(FaultKind::StorageFull, path, writable_end, end - writable_end, false);
            if offset >= writable_end {
                return Err(storage_full());
            }
            // The space that is left takes what fits: a short write; the next call gets ENOSPC.
            n = (writable_end - offset) as usize;
        }
        if n > 1 && self.disk.rng_ops.chance(self.faults.short_write) {
            let short = self.disk.rng_ops.range_inclusive(1, n as u64 - 1) as usize;
            let path = self.path_of(id);
            self.log_fault(FaultKind::ShortWrite, path, offset, (n - short) as u64, false);
            n = short;
        }
        let (fate, ledger) = self.choose_fate(id, offset, n as u64);
        self.apply_write(id, offset, &buf[..n], zeros, fate, ledger);
        Ok(n)
    }

    /// D5 on `write_at`: a seed-chosen sector prefix of `buf` lands (as far as space allows),
    /// then the call fails with `EIO`.
    fn fail_write(&mut self, id: InodeId, buf: &[u8], offset: u64) -> io::Error {
        let end = offset + buf.len() as u64;
        let boundaries = sector_boundaries(offset, end);
        let cut = boundaries[self.disk.rng_ops.index(boundaries.len())];
        let landed = (cut.min(self.disk.writable_end(id)).max(offset) - offset) as usize;
        let path = self.path_of(id);
        self.log_fault(FaultKind::WriteError, path, offset, buf.len() as u64, false);
        if landed > 0 {
            self.apply_write(
                id,
                offset,
                &buf[..landed],
                is_zero(&buf[..landed]),
                Fate::Normal,
                None,
            );
        }
        eio()
    }

    /// Decides whether a write will be lost (D9) or misdirected (D8) when it reaches the device.
    fn choose_fate(&mut self, id: InodeId, offset: u64, len: u64) -> (Fate, Option<usize>) {
        let inject = &mut self.disk.inode_mut(id).inject;
        let lose = std::mem::take(&mut inject.lose_next_write);
        let misdirect = inject.misdirect_next_write.take();
        if lose || self.disk.rng_ops.chance(self.faults.lost_write) {
            let path = self.path_of(id);
            let index = self.log_fault(FaultKind::LostWrite, path, offset, len, false);
            return (Fate::Lost, Some(index));
        }
        let landing = match misdirect {
            Some(landing) => Some(landing),
            None if self.disk.rng_ops.chance(self.faults.misdirected_write) => {
                Some(self.pick_landing(id, offset))
            }
            None => None,
        };
        let Some((target, landing_offset)) = landing else {
            return (Fate::Normal, None);
        };
        let kind = FaultKind::MisdirectedWrite {
            landing_path: self.path_of(target),
            landing_offset,
            landing_durable: false,
        };
        let path = self.path_of(id);
        let index = self.log_fault(kind, path, offset, len, false);
        (Fate::Misdirected { inode: target, offset: landing_offset }, Some(index))
    }

    /// A seeded landing spot: another live file at the same offset, or a few sectors away in
    /// the same file (earlier when possible, where older, likely durable data lives).
    fn pick_landing(&mut self, id: InodeId, offset: u64) -> (InodeId, u64) {
        let others: Vec<InodeId> = self.disk.live_inodes().filter(|o| *o != id).collect();
        let rng = &mut self.disk.rng_ops;
        if !others.is_empty() && rng.chance(0.5) {
            return (others[rng.index(others.len())], offset);
        }
        let shift = rng.range_inclusive(1, MISDIRECT_SECTORS_MAX) * SECTOR;
        (id, if offset >= shift { offset - shift } else { offset + shift })
    }

    /// Puts `data` into the cache and the pending list of `id`.
    fn apply_write(
        &mut self,
        id: InodeId,
        offset: u64,
        data: &[u8],
        zeros: bool,
        fate: Fate,
        ledger: Option<usize>,
    ) {
        let end = offset + data.len() as u64;
        let inode = self.disk.inode_mut(id);
        inode.unshare();
        let fill = inode.fill;
        inode.cache.write(offset, data, fill);
        inode.heal_sectors(offset, end);
        let start = if zeros && data.len() <= ZEROS_MAX {
            ZEROS_START
        } else {
            let start = inode.pending_bytes.len();
            inode.pending_bytes.extend_from_slice(data);
            start
        };
        let op = PendingOp::Write { offset, start, len: data.len(), fate };
        inode.pending.push(Pending { op, ledger });
        if end > inode.cache_len {
            self.disk.set_cache_len(id, end);
        }
        self.disk.stats.bytes_written += data.len() as u64;
    }

    /// `sync_data`/`sync_all` (the simulator treats them alike: both persist data and size).
    /// Faults, in draw order: slow I/O, sync error (D5).
    pub(crate) fn sync(&mut self, h: &FileRef, op: Op) -> io::Result<()> {
        let result = self.sync_inner(h, op);
        let code = result_code(&result, |()| 0);
        let len = self.disk.inode(h.inode).durable_len;
        self.file_event(op, h, 0, len, 0, code);
        result
    }

    fn sync_inner(&mut self, h: &FileRef, op: Op) -> io::Result<()> {
        self.begin(op, Some(h), true)?;
        self.disk.stats.syncs += 1;
        let id = h.inode;
        let fail_injected = std::mem::take(&mut self.disk.inode_mut(id).inject.fail_next_sync);
        if fail_injected || self.disk.rng_ops.chance(self.faults.sync_error) {
            self.fail_sync(id);
            return Err(eio());
        }
        self.persist_pending(id, true);
        // fdatasync persists the size the page cache has, even where a failed sync dropped data.
        self.disk.inode_mut(id).make_size_durable();
        Ok(())
    }

    /// D5 on sync: the pending writes are dropped from what will persist (the page cache keeps
    /// returning them until a crash), and the lowest offset they touched is remembered for
    /// `synced_len_after_failure`, as `RealDisk` does: in a preallocated file the durable
    /// *length* says nothing, because the dropped bytes lie inside it.
    fn fail_sync(&mut self, id: InodeId) {
        let inode = self.disk.inode_mut(id);
        let mut span: Option<(u64, u64)> = None;
        // The lowest offset from which content may differ from what the cache shows.
        let mut dirty_from: Option<u64> = None;
        for p in &inode.pending {
            match p.op {
                PendingOp::Write { offset, len, .. } => {
                    let end = offset + len as u64;
                    span =
                        Some(span.map_or((offset, end), |(lo, hi)| (lo.min(offset), hi.max(end))));
                    dirty_from = Some(dirty_from.map_or(offset, |d| d.min(offset)));
                }
                PendingOp::SetLen { len } => {
                    dirty_from = Some(dirty_from.map_or(len, |d| d.min(len)));
                }
            }
        }
        let durable_len = inode.durable_len;
        let (lo, hi) = span.unwrap_or((durable_len, inode.cache_len.max(durable_len)));
        inode.clear_pending();
        let path = inode.path.clone();
        if let Some(dirty_from) = dirty_from {
            let trusted = dirty_from.min(durable_len);
            let entry = self.disk.failed_syncs.entry(path.clone()).or_insert(trusted);
            *entry = (*entry).min(trusted);
        }
        self.log_fault(FaultKind::SyncError, path, lo, hi - lo, false);
    }

    /// Moves every pending operation of `id` into its durable content, in program order. Lost
    /// writes only grow the size; misdirected ones land elsewhere. With `acked`, the ledger
    /// entries of such writes become durable: the log was told they are on disk.
    pub(crate) fn persist_pending(&mut self, id: InodeId, acked: bool) {
        let inode = self.disk.inode_mut(id);
        if inode.pending.is_empty() {
            return;
        }
        inode.unshare();
        let mut landings = Vec::new();
        for p in &inode.pending {
            match p.op {
                PendingOp::Write { offset, start, len, fate } => {
                    let data = pending_data(&inode.pending_bytes, start, len);
                    match fate {
                        Fate::Normal => {
                            inode.durable.write(offset, data, inode.fill);
                            heal(&mut inode.bad_sectors_durable, offset, offset + len as u64);
                        }
                        Fate::Lost => {}
                        Fate::Misdirected { inode: target, offset: at } => {
                            landings.push((target, at, data.to_vec(), p.ledger));
                        }
                    }
                    inode.durable_len = inode.durable_len.max(offset + len as u64);
                    if acked && fate != Fate::Normal {
                        if let Some(index) = p.ledger {
                            self.ledger[index].durable = true;
                        }
                    }
                }
                PendingOp::SetLen { len } => {
                    if len < inode.durable_len {
                        inode.durable.truncate(len, inode.fill);
                        drop_sectors_past(&mut inode.bad_sectors_durable, len);
                    }
                    inode.durable_len = len;
                }
            }
        }
        inode.clear_pending();
        for (target, at, data, ledger) in landings {
            self.land(target, at, &data, ledger);
        }
    }

    /// D8: writes misdirected data into `target`'s durable content and notes in the ledger
    /// whether it overwrote durable data there.
    pub(crate) fn land(
        &mut self,
        target: InodeId,
        offset: u64,
        data: &[u8],
        ledger: Option<usize>,
    ) {
        // A misdirected write hits blocks of the medium; only those the target file owns show
        // in it. Past the file's durable end it lands in blocks the file does not have (freed
        // by a shrink, never allocated), so it can neither extend the file nor show in it.
        let file_end = self.disk.inode(target).durable_len;
        let end = (offset + data.len() as u64).min(file_end);
        let overwrote_durable = offset < end && self.disk.region_durable(target, offset, end);
        if offset < end {
            let inode = self.disk.inode_mut(target);
            inode.unshare(); // the target's page cache does not see the misdirected bytes
            inode.durable.write(offset, &data[..(end - offset) as usize], inode.fill);
        }
        if let Some(index) = ledger {
            if let FaultKind::MisdirectedWrite { landing_durable, .. } =
                &mut self.ledger[index].kind
            {
                *landing_durable = overwrote_durable;
            }
        }
    }

    /// `len`.
    pub(crate) fn len(&mut self, h: &FileRef) -> io::Result<u64> {
        let result =
            self.begin(Op::Len, Some(h), false).map(|()| self.disk.inode(h.inode).cache_len);
        let code = result_code(&result, |len| *len as i64);
        self.file_event(Op::Len, h, 0, 0, 0, code);
        result
    }

    /// `set_len`. Faults, in draw order: slow I/O, transient ENOSPC when growing (D10),
    /// capacity (D10).
    pub(crate) fn set_len(&mut self, h: &FileRef, len: u64) -> io::Result<()> {
        let result = self.set_len_inner(h, len);
        let code = result_code(&result, |()| 0);
        self.file_event(Op::SetLen, h, 0, len, 0, code);
        result
    }

    fn set_len_inner(&mut self, h: &FileRef, len: u64) -> io::Result<()> {
        self.begin(Op::SetLen, Some(h), true)?;
        if !h.writable {
            return Err(read_only());
        }
        let id = h.inode;
        let cache_len = self.disk.inode(id).cache_len;
        if len > cache_len {
            let transient = self.disk.rng_ops.chance(self.faults.storage_full);
            if transient || len > self.disk.writable_end(id) {
                let path = self.path_of(id);
                self.log_fault(FaultKind::StorageFull, path, cache_len, len - cache_len, false);
                return Err(storage_full());
            }
        }
        let inode = self.disk.inode_mut(id);
        inode.unshare();
        if len < cache_len {
            inode.cache.truncate(len, inode.fill);
            let first_gone = len.div_ceil(SECTOR);
            drop(inode.bad_sectors.split_off(&first_gone));
        }
        inode.pending.push(Pending { op: PendingOp::SetLen { len }, ledger: None });
        self.disk.set_cache_len(id, len);
        // Cut back to what a failed sync left trusted: the bytes it may have lost are gone
        // from the cache too, and anything written from here on is new (`Disk` contract).
        let path = self.path_of(id);
        if self.disk.failed_syncs.get(&path).is_some_and(|trusted| len <= *trusted) {
            self.disk.failed_syncs.remove(&path);
        }
        Ok(())
    }

    /// A `SimFile` was dropped.
    pub(crate) fn close(&mut self, h: &FileRef) {
        if h.epoch == self.disk.epoch {
            self.disk.change_refs(h.inode, 0, -1);
            self.disk.stats.open_handles -= 1;
        }
        self.file_event(Op::Close, h, 0, 0, 0, 0);
    }

    // ---- Disk ----

    /// `create_dir_all`: each missing directory is a pending entry in its parent.
    pub(crate) fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        let result = self.create_dir_all_inner(dir);
        let code = result_code(&result, |()| 0);
        self.path_event(Op::CreateDirAll, dir, 0, code);
        result
    }

    fn create_dir_all_inner(&mut self, dir: &Path) -> io::Result<()> {
        self.begin(Op::CreateDirAll, None, true)?;
        let mut missing: Vec<&Path> =
            dir.ancestors().take_while(|a| !self.disk.dirs.contains_key(*a)).collect();
        missing.reverse();
        for path in missing {
            let (parent, name) = split(path)?;
            let parent_dir = self.disk.require_dir_mut(parent)?;
            if parent_dir.entries.contains_key(name) {
                return Err(io::ErrorKind::NotADirectory.into());
            }
            parent_dir.entries.insert(name.to_owned(), Entry::Dir);
            parent_dir.pending.push(DirOp::Link { name: name.to_owned(), entry: Entry::Dir });
            self.disk.dirs.insert(path.to_path_buf(), Default::default());
        }
        Ok(())
    }

    /// `open`. Faults, in draw order: slow I/O, uninitialised garbage for a new file (D14).
    pub(crate) fn open(&mut self, path: &Path, mode: OpenMode) -> io::Result<FileRef> {
        let op = if mode == OpenMode::CreateNew { Op::Create } else { Op::Open };
        let result = self.open_inner(path, mode, op);
        let code = result_code(&result, |h| i64::from(h.inode));
        self.path_event(op, path, mode as u64, code);
        result
    }

    fn open_inner(&mut self, path: &Path, mode: OpenMode, op: Op) -> io::Result<FileRef> {
        self.begin(op, None, mode == OpenMode::CreateNew)?;
        let (parent, name) = split(path)?;
        let existing = self.disk.require_dir(parent)?.entries.get(name).copied();
        let inode = match (mode, existing) {
            (OpenMode::CreateNew, Some(_)) => return Err(io::ErrorKind::AlreadyExists.into()),
            (OpenMode::CreateNew, None) => {
                let garbage = self.disk.rng_ops.chance(self.faults.uninitialised_garbage);
                let id = self.create_file(path, parent, name, garbage);
                if garbage {
                    self.log_fault(
                        FaultKind::UninitialisedGarbage,
                        path.into(),
                        0,
                        u64::MAX,
                        false,
                    );
                }
                id
            }
            (_, None) => return Err(io::ErrorKind::NotFound.into()),
            (_, Some(Entry::Dir)) => return Err(io::ErrorKind::IsADirectory.into()),
            (_, Some(Entry::File(id))) => {
                self.disk.change_refs(id, 0, 1);
                id
            }
        };
        self.count_handle_opened();
        Ok(FileRef { inode, epoch: self.disk.epoch, writable: mode != OpenMode::Read })
    }

    /// A new file with one link and one handle, its entry pending in `parent`.
    fn create_file(&mut self, path: &Path, parent: &Path, name: &OsStr, garbage: bool) -> InodeId {
        let next = InodeId::try_from(self.disk.inodes.len()).expect("fewer than 2^32 files");
        let fill = fill_for(self.disk.garbage_seed, next, garbage);
        let id = self.disk.new_inode(path, fill);
        assert_eq!(id, next);
        // The caller checked that `parent` exists.
        let dir = self.disk.dirs.get_mut(parent).expect("parent directory exists");
        dir.entries.insert(name.to_owned(), Entry::File(id));
        dir.pending.push(DirOp::Link { name: name.to_owned(), entry: Entry::File(id) });
        id
    }

    fn count_handle_opened(&mut self) {
        let stats = &mut self.disk.stats;
        stats.open_handles += 1;
        stats.open_handles_max = stats.open_handles_max.max(stats.open_handles);
    }

    /// `list`: regular files only, sorted bytewise (`BTreeMap<OsString>` order), non-UTF-8 names
    /// skipped as `RealDisk` does.
    pub(crate) fn list(&mut self, dir: &Path) -> io::Result<Vec<String>> {
        let result = self.list_inner(dir);
        let code = result_code(&result, |names| names.len() as i64);
        self.path_event(Op::List, dir, 0, code);
        result
    }

    fn list_inner(&mut self, dir: &Path) -> io::Result<Vec<String>> {
        self.begin(Op::List, None, false)?;
        let d = self.disk.require_dir(dir)?;
        Ok(d.entries
            .iter()
            .filter(|(_, entry)| matches!(entry, Entry::File(_)))
            .filter_map(|(name, _)| name.to_str().map(str::to_owned))
            .collect())
    }

    /// `exists`.
    pub(crate) fn exists(&mut self, path: &Path) -> io::Result<bool> {
        let result = self
            .begin(Op::Exists, None, false)
            .map(|()| self.disk.dirs.contains_key(path) || self.disk.file_at(path).is_some());
        let code = result_code(&result, |found| i64::from(*found));
        self.path_event(Op::Exists, path, 0, code);
        result
    }

    /// `rename` of a file, replacing any file at `to`.
    pub(crate) fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        let result = self.rename_inner(from, to);
        let code = result_code(&result, |()| 0);
        let mut event = TraceEvent::new(Op::Rename);
        event.path = Some(from);
        event.text = to.to_str();
        event.data = xxh3_64(to.as_os_str().as_encoded_bytes());
        event.result = code;
        self.record(&event);
        result
    }

    fn rename_inner(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        self.begin(Op::Rename, None, true)?;
        let (from_parent, from_name) = split(from)?;
        let (to_parent, to_name) = split(to)?;
        let id = match self.disk.require_dir(from_parent)?.entries.get(from_name) {
            Some(Entry::File(id)) => *id,
            Some(Entry::Dir) => return Err(invalid("the simulator renames files only")),
            None => return Err(io::ErrorKind::NotFound.into()),
        };
        let replaced = match self.disk.require_dir(to_parent)?.entries.get(to_name) {
            Some(Entry::Dir) => return Err(io::ErrorKind::IsADirectory.into()),
            Some(Entry::File(other)) => Some(*other),
            None => None,
        };
        if replaced == Some(id) {
            return Ok(()); // POSIX: renaming a link onto itself does nothing.
        }
        let entry = Entry::File(id);
        let source = self.disk.require_dir_mut(from_parent)?;
        source.entries.remove(from_name);
        if from_parent == to_parent {
            source.entries.insert(to_name.to_owned(), entry);
            let op = DirOp::Rename { from: from_name.to_owned(), to: to_name.to_owned(), entry };
            source.pending.push(op);
        } else {
            let target = self.disk.require_dir_mut(to_parent)?;
            target.entries.insert(to_name.to_owned(), entry);
            target.pending.push(DirOp::RenameIn {
                from_dir: from_parent.to_path_buf(),
                from: from_name.to_owned(),
                to: to_name.to_owned(),
                entry,
            });
        }
        if let Some(other) = replaced {
            self.disk.change_refs(other, -1, 0);
        }
        self.disk.inode_mut(id).path = to.to_path_buf();
        // A failed sync's record belongs to the file, not the name: it moves with the file and
        // leaves the name it replaced (`Disk` contract).
        let moved = self.disk.failed_syncs.remove(from);
        self.disk.failed_syncs.remove(to);
        if let Some(trusted) = moved {
            self.disk.failed_syncs.insert(to.to_path_buf(), trusted);
        }
        Ok(())
    }

    /// `remove` of a file.
    pub(crate) fn remove(&mut self, path: &Path) -> io::Result<()> {
        let result = self.remove_inner(path);
        let code = result_code(&result, |()| 0);
        self.path_event(Op::Remove, path, 0, code);
        result
    }

    fn remove_inner(&mut self, path: &Path) -> io::Result<()> {
        self.begin(Op::Remove, None, true)?;
        let (parent, name) = split(path)?;
        let dir = self.disk.require_dir_mut(parent)?;
        let id = match dir.entries.get(name) {
            Some(Entry::File(id)) => *id,
            Some(Entry::Dir) => return Err(io::ErrorKind::IsADirectory.into()),
            None => return Err(io::ErrorKind::NotFound.into()),
        };
        dir.entries.remove(name);
        dir.pending.push(DirOp::Unlink { name: name.to_owned() });
        self.disk.change_refs(id, -1, 0);
        self.disk.failed_syncs.remove(path);
        Ok(())
    }

    /// `sync_dir`. Faults, in draw order: slow I/O, sync error (D5; the entry operations stay
    /// pending, so a power loss may still keep or revert them).
    pub(crate) fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        let result = self.sync_dir_inner(dir);
        let code = result_code(&result, |()| 0);
        self.path_event(Op::SyncDir, dir, 0, code);
        result
    }

    fn sync_dir_inner(&mut self, dir: &Path) -> io::Result<()> {
        self.begin(Op::SyncDir, None, true)?;
        let pending = self.disk.require_dir(dir)?.pending.len() as u64;
        self.disk.stats.dir_syncs += 1;
        if self.disk.rng_ops.chance(self.faults.sync_error) {
            self.log_fault(FaultKind::SyncDirError, dir.to_path_buf(), 0, pending, false);
            return Err(eio());
        }
        self.disk.make_dir_durable(dir);
        Ok(())
    }

    /// `lock_dir`: creates `dir/LOCK` if missing (a pending entry, as with `RealDisk`) and
    /// holds it open.
    pub(crate) fn lock_dir(&mut self, dir: &Path) -> io::Result<(InodeId, u64)> {
        let result = self.lock_dir_inner(dir);
        let code = result_code(&result, |(id, _)| i64::from(*id));
        self.path_event(Op::LockDir, dir, 0, code);
        result
    }

    fn lock_dir_inner(&mut self, dir: &Path) -> io::Result<(InodeId, u64)> {
        self.begin(Op::LockDir, None, true)?;
        self.disk.require_dir(dir)?;
        if self.disk.locks.contains(dir) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let lock_path = dir.join(LOCK_FILE);
        let id = match self.disk.require_dir(dir)?.entries.get(OsStr::new(LOCK_FILE)).copied() {
            Some(Entry::File(id)) => {
                self.disk.change_refs(id, 0, 1);
                id
            }
            Some(Entry::Dir) => return Err(io::ErrorKind::IsADirectory.into()),
            None => self.create_file(&lock_path, dir, OsStr::new(LOCK_FILE), false),
        };
        self.disk.locks.insert(dir.to_path_buf());
        self.count_handle_opened();
        Ok((id, self.disk.epoch))
    }

    /// A `SimLock` was dropped.
    pub(crate) fn unlock(&mut self, dir: &Path, inode: InodeId, epoch: u64) {
        if epoch == self.disk.epoch {
            self.disk.locks.remove(dir);
            self.disk.change_refs(inode, 0, -1);
            self.disk.stats.open_handles -= 1;
        }
        self.path_event(Op::Unlock, dir, u64::from(inode), 0);
    }

    // ---- direct injection ----

    /// D6 by injection: flips one bit in the cached and the durable byte at `offset`.
    pub(crate) fn flip_bit(&mut self, id: InodeId, offset: u64, bit: u8) -> io::Result<()> {
        if bit > 7 {
            return Err(invalid("a byte has bits 0 to 7"));
        }
        let inode = self.disk.inode(id);
        if offset >= inode.cache_len.max(inode.durable_len) {
            return Err(invalid("offset past the end of the file"));
        }
        let durable = self.disk.region_durable(id, offset, offset + 1);
        let inode = self.disk.inode_mut(id);
        let fill = inode.fill;
        if offset < inode.cache_len && !inode.cache_is_durable {
            inode.cache.xor_byte(offset, 1 << bit, fill);
        }
        // With shared pages this one flip changes both views.
        if offset < inode.durable_len {
            inode.durable.xor_byte(offset, 1 << bit, fill);
        }
        let path = self.path_of(id);
        self.log_fault(FaultKind::BitFlip, path, offset, 1, durable);
        Ok(())
    }

    /// D7 by injection: marks sectors as failing reads.
    pub(crate) fn fail_reads(&mut self, id: InodeId, sectors: Range<u64>) -> io::Result<()> {
        if sectors.is_empty() {
            return Err(invalid("an empty sector range"));
        }
        let (offset, end) = (sectors.start * SECTOR, sectors.end * SECTOR);
        let durable = self.disk.region_durable(id, offset, end);
        self.disk.inode_mut(id).fail_sectors(sectors);
        let path = self.path_of(id);
        self.log_fault(FaultKind::LatentSectorError, path, offset, end - offset, durable);
        Ok(())
    }

    /// D14 by injection: switches the fill of a file that holds no written page.
    pub(crate) fn set_uninitialised_garbage(
        &mut self,
        id: InodeId,
        garbage: bool,
    ) -> io::Result<()> {
        let inode = self.disk.inode(id);
        if inode.cache.pages_allocated() > 0 || inode.durable.pages_allocated() > 0 {
            return Err(invalid("the file already holds written pages"));
        }
        let fill = fill_for(self.disk.garbage_seed, id, garbage);
        self.disk.inode_mut(id).fill = fill;
        if let Fill::Garbage(_) = fill {
            let path = self.path_of(id);
            self.log_fault(FaultKind::UninitialisedGarbage, path, 0, u64::MAX, false);
        }
        Ok(())
    }
}

/// The sector-aligned cut points of `offset..end`: `offset`, every sector boundary inside, `end`.
pub(crate) fn sector_boundaries(offset: u64, end: u64) -> Vec<u64> {
    let mut cuts = vec![offset];
    let mut next = (offset / SECTOR + 1) * SECTOR;
    while next < end {
        cuts.push(next);
        next += SECTOR;
    }
    if end > offset {
        cuts.push(end);
    }
    cuts
}
