//! What a crash keeps.
//!
//! Order of a crash, fixed so a seed replays identically:
//! 1. at-rest faults (D6 bit flips, D7 latent sectors) on the pre-crash durable content;
//! 2. per file, in inode order: all pending operations persist (process crash), or a seeded
//!    subset, maybe torn (D2), reordered (D3) and with the size but not the data (D3);
//! 3. per directory, in path order: all pending entry operations persist (process crash), or a
//!    seeded prefix (D4); directories whose own entry did not persist vanish with their content;
//! 4. the new process starts: caches are reset to the durable content (shared, copied on first
//!    change), unreachable files are freed, handles and locks die.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::ops::sector_boundaries;
use super::pages::{pages_for, Fill, Pages, SECTOR};
use super::state::{drop_sectors_past, heal, pending_data, Entry, Fate, InodeId, PendingOp};
use super::CrashKind;
use crate::ledger::FaultKind;
use crate::rng::Rng;
use crate::trace::{Op, TraceEvent};
use crate::world::World;

/// A misdirected write that reaches the device during a crash: target, offset, bytes, ledger.
type Landing = (InodeId, u64, Vec<u8>, Option<usize>);

impl World {
    pub(crate) fn crash(&mut self, kind: CrashKind) {
        self.inject_at_rest_faults();
        for index in 0..self.disk.inodes.len() {
            let id = index as InodeId;
            if self.disk.inode(id).freed {
                continue;
            }
            match kind {
                CrashKind::Process => {
                    self.persist_pending(id, false);
                    self.disk.inode_mut(id).make_size_durable();
                }
                CrashKind::PowerLoss => self.persist_some_pending(id),
            }
        }
        self.crash_dirs(kind);
        self.restart();
        let stats = &mut self.disk.stats;
        stats.crashes += 1;
        if kind == CrashKind::PowerLoss {
            stats.power_losses += 1;
        }
        let op = match kind {
            CrashKind::Process => Op::CrashProcess,
            CrashKind::PowerLoss => Op::CrashPowerLoss,
        };
        let mut event = TraceEvent::new(op);
        event.file = self.disk.epoch;
        event.len = self.disk.used_pages;
        self.record(&event);
    }

    /// D6/D7 at a crash: one sector of one file that has durable content.
    fn inject_at_rest_faults(&mut self) {
        let flip = self.disk.rng_crash.chance(self.faults.bit_flip_at_crash);
        let latent = self.disk.rng_crash.chance(self.faults.latent_sector_error_at_crash);
        if !flip && !latent {
            return;
        }
        // Files reachable through durable entries, with durable bytes.
        let candidates: Vec<InodeId> = self
            .disk
            .dirs
            .values()
            .flat_map(|d| d.durable.values())
            .filter_map(|e| match e {
                Entry::File(id) => Some(*id),
                Entry::Dir => None,
            })
            .filter(|id| self.disk.inode(*id).durable_len > 0)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if candidates.is_empty() {
            return;
        }
        if flip {
            let (id, start, end) = self.pick_durable_sector(&candidates);
            let durable = self.disk.region_durable(id, start, end);
            let flips = self.disk.rng_crash.range_inclusive(1, 3);
            for _ in 0..flips {
                let at = self.disk.rng_crash.range_inclusive(start, end - 1);
                let bit = self.disk.rng_crash.below(8);
                let inode = &mut self.disk.inodes[id as usize];
                inode.durable.xor_byte(at, 1 << bit, inode.fill);
            }
            let path = self.disk.inode(id).path.clone();
            self.log_fault(FaultKind::BitFlip, path, start, end - start, durable);
        }
        if latent {
            let (id, start, end) = self.pick_durable_sector(&candidates);
            let durable = self.disk.region_durable(id, start, end);
            self.disk.inode_mut(id).fail_sectors(start / SECTOR..start / SECTOR + 1);
            let path = self.disk.inode(id).path.clone();
            self.log_fault(FaultKind::LatentSectorError, path, start, end - start, durable);
        }
    }

    /// A seeded sector inside the durable length of one of `candidates`: (file, start, end).
    fn pick_durable_sector(&mut self, candidates: &[InodeId]) -> (InodeId, u64, u64) {
        let rng = &mut self.disk.rng_crash;
        let id = candidates[rng.index(candidates.len())];
        let durable_len = self.disk.inodes[id as usize].durable_len;
        let sector = rng.below(durable_len.div_ceil(SECTOR));
        let start = sector * SECTOR;
        (id, start, (start + SECTOR).min(durable_len))
    }

    /// A power loss for one file: a seeded subset of its pending operations persists.
    fn persist_some_pending(&mut self, id: InodeId) {
        let faults = &self.faults;
        let rng = &mut self.disk.rng_crash;
        let inode = &mut self.disk.inodes[id as usize];
        if inode.pending.is_empty() {
            return;
        }
        inode.unshare(); // a no-op: pending operations unshared the file when they happened
        let mut kept: Vec<usize> = Vec::new();
        let mut span: Option<(u64, u64)> = None;
        for (index, p) in inode.pending.iter().enumerate() {
            if let PendingOp::Write { offset, len, fate, .. } = p.op {
                let end = offset + len as u64;
                span = Some(span.map_or((offset, end), |(lo, hi)| (lo.min(offset), hi.max(end))));
                if fate == Fate::Lost {
                    continue;
                }
            }
            if rng.chance(faults.power_loss_keep_write) {
                kept.push(index);
            }
        }
        let reordered = kept.len() > 1 && rng.chance(faults.power_loss_reorder);
        if reordered {
            rng.shuffle(&mut kept);
        }
        let mut torn: Vec<(u64, u64)> = Vec::new();
        let mut landings: Vec<Landing> = Vec::new();
        for &index in &kept {
            let p = inode.pending[index];
            match p.op {
                PendingOp::Write { offset, start, len, fate } => {
                    let data = pending_data(&inode.pending_bytes, start, len);
                    let end = offset + len as u64;
                    match fate {
                        Fate::Misdirected { inode: target, offset: at } => {
                            landings.push((target, at, data.to_vec(), p.ledger));
                            inode.durable_len = inode.durable_len.max(end);
                        }
                        Fate::Lost => {}
                        Fate::Normal if rng.chance(faults.power_loss_torn_write) => {
                            let reached = tear(rng, &mut inode.durable, offset, data, inode.fill);
                            if let Some(reached) = reached {
                                inode.durable_len = inode.durable_len.max(reached);
                                heal(&mut inode.bad_sectors_durable, offset, reached);
                            }
                            torn.push((offset, len as u64));
                        }
                        Fate::Normal => {
                            inode.durable.write(offset, data, inode.fill);
                            inode.durable_len = inode.durable_len.max(end);
                            heal(&mut inode.bad_sectors_durable, offset, end);
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
        let size_without_data =
            inode.cache_len > inode.durable_len && rng.chance(faults.power_loss_size_without_data);
        if size_without_data {
            inode.durable_len = inode.cache_len;
        }
        let durable_len = inode.durable_len;
        let (lo, hi) = span.unwrap_or((durable_len, inode.cache_len.max(durable_len)));
        inode.clear_pending();
        let path = inode.path.clone();
        self.log_fault(FaultKind::PowerLossUnsynced, path.clone(), lo, hi - lo, false);
        if reordered {
            self.log_fault(FaultKind::Reordered, path.clone(), lo, hi - lo, false);
        }
        for (offset, len) in torn {
            self.log_fault(FaultKind::TornWrite, path.clone(), offset, len, false);
        }
        if size_without_data {
            self.log_fault(FaultKind::SizeWithoutData, path, durable_len, 0, false);
        }
        for (target, at, data, ledger) in landings {
            self.land(target, at, &data, ledger);
        }
    }

    /// Directory entries at a crash: all pending operations (process crash) or a seeded prefix
    /// (power loss) persist; directories whose own entry is gone vanish with their content.
    fn crash_dirs(&mut self, kind: CrashKind) {
        let paths: Vec<PathBuf> = self.disk.dirs.keys().cloned().collect();
        for dir in &paths {
            let count = self.disk.dirs.get(dir).map_or(0, |d| d.pending.len());
            let keep = match kind {
                CrashKind::Process => count,
                CrashKind::PowerLoss
                    if count > 0
                        && self.disk.rng_crash.chance(self.faults.power_loss_keep_dir_ops) =>
                {
                    self.disk.rng_crash.range_inclusive(1, count as u64) as usize
                }
                CrashKind::PowerLoss => 0,
            };
            if keep < count {
                let reverted = (count - keep) as u64;
                self.log_fault(
                    FaultKind::DirOpsReverted,
                    dir.clone(),
                    keep as u64,
                    reverted,
                    false,
                );
            }
            self.disk.make_dir_prefix_durable(dir, keep);
        }
        // Paths sort parents first (component order), so a parent is decided before its children.
        let mut vanished: BTreeSet<PathBuf> = BTreeSet::new();
        for dir in &paths {
            let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
                continue;
            };
            let kept = !vanished.contains(parent)
                && self
                    .disk
                    .dirs
                    .get(parent)
                    .is_some_and(|p| p.durable.get(name) == Some(&Entry::Dir));
            if !kept {
                vanished.insert(dir.clone());
            }
        }
        for dir in &vanished {
            self.disk.dirs.remove(dir);
        }
        for d in self.disk.dirs.values_mut() {
            d.entries.clone_from(&d.durable);
        }
    }

    /// The new process: links and names recomputed from the entries, caches reset to the
    /// durable content, unreachable files freed, handles, locks and failed syncs forgotten.
    fn restart(&mut self) {
        let disk = &mut self.disk;
        for inode in &mut disk.inodes {
            inode.nlink = 0;
            inode.handles = 0;
        }
        for (dir_path, dir) in &disk.dirs {
            for (name, entry) in &dir.entries {
                if let Entry::File(id) = entry {
                    let inode = &mut disk.inodes[*id as usize];
                    inode.nlink += 1;
                    inode.path = dir_path.join(name);
                }
            }
        }
        disk.used_pages = 0;
        for inode in &mut disk.inodes {
            if inode.freed {
                continue;
            }
            inode.clear_pending();
            if inode.nlink == 0 {
                inode.freed = true;
                inode.cache = Pages::default();
                inode.durable = Pages::default();
                inode.cache_len = 0;
                inode.durable_len = 0;
                inode.bad_sectors.clear();
                inode.bad_sectors_durable.clear();
                continue;
            }
            inode.cache = Pages::default();
            // The sectors fail again as the medium has them: a heal by a write or truncation
            // that did not persist is undone with it.
            inode.bad_sectors.clone_from(&inode.bad_sectors_durable);
            inode.cache_is_durable = true;
            inode.cache_len = inode.durable_len;
            disk.used_pages += pages_for(inode.cache_len);
        }
        disk.epoch += 1;
        disk.dead = false;
        disk.crash_countdown = None;
        disk.locks.clear();
        disk.failed_syncs.clear();
        disk.stats.open_handles = 0;
    }
}

/// D2: persists part of a write at sector granularity. Returns the end of the furthest byte
/// written, if any. Garbage and zeros only ever replace bytes *of this write*: bytes of the
/// same sector outside it keep their old content (sector atomicity of older data is assumed, or
/// no single-copy log could survive).
fn tear(rng: &mut Rng, pages: &mut Pages, offset: u64, data: &[u8], fill: Fill) -> Option<u64> {
    let cuts = sector_boundaries(offset, offset + data.len() as u64);
    let chunks = cuts.len() - 1;
    assert!(chunks >= 1);
    let mut reached = None;
    let mut put = |pages: &mut Pages, from: u64, to: u64, bytes: &[u8]| {
        pages.write(from, bytes, fill);
        reached = Some(reached.map_or(to, |r: u64| r.max(to)));
    };
    let slice = |from: u64, to: u64| &data[(from - offset) as usize..(to - offset) as usize];
    match rng.below(3) {
        // A prefix of whole sectors, fewer than all.
        0 => {
            let count = rng.index(chunks);
            for j in 0..count {
                put(pages, cuts[j], cuts[j + 1], slice(cuts[j], cuts[j + 1]));
            }
        }
        // An arbitrary subset of sectors.
        1 => {
            for j in 0..chunks {
                if rng.chance(0.5) {
                    put(pages, cuts[j], cuts[j + 1], slice(cuts[j], cuts[j + 1]));
                }
            }
        }
        // Whole sectors up to one partial sector with garbage or zeros; nothing after it.
        _ => {
            let torn_at = rng.index(chunks);
            for j in 0..torn_at {
                put(pages, cuts[j], cuts[j + 1], slice(cuts[j], cuts[j + 1]));
            }
            let (from, to) = (cuts[torn_at], cuts[torn_at + 1]);
            let mut sector = [0u8; SECTOR as usize];
            let part = &mut sector[..(to - from) as usize];
            part.copy_from_slice(slice(from, to));
            let split = (rng.range_inclusive(from, to) - from) as usize;
            match rng.below(5) {
                0 => rng.fill(&mut part[split..]),
                1 => rng.fill(&mut part[..split]),
                2 => rng.fill(part),
                3 => part[split..].fill(0),
                _ => part.fill(0),
            }
            put(pages, from, to, part);
        }
    }
    reached
}
