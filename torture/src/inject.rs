//! Faults the harness injects itself, where the single-copy rule allows (FAULT-MODEL.md,
//! constraint rule; `core/src/wal/recovery.rs`): bit flips and latent sector errors at rest,
//! the same while the writer runs, and misdirected writes.
//!
//! A single copy cannot tell damage to its last, unproven batch from a torn write, so damage is
//! aimed either at records at or below the proven durable watermark `W` (the required outcome:
//! corruption reported where it is) or at bytes no one was promised (records never
//! acknowledged, zeros past the end: the required outcome is a tail cut, or nothing).

use mtlog_audit::wal::format::{RecordKind, SegmentId};
use mtlog_audit::wal::open::{self, Loaded};
use mtlog_audit::wal::recovery;
use mtlog_audit::wal::scan::Item;
use mtlog_audit::wal::segment;
use mtlog_audit_sim::{FaultKind, SECTOR_BYTES};

use crate::coverage::Fault;
use crate::run::{AtRest, Prep, Run};

/// Where one event record lies.
#[derive(Clone, Copy, Debug)]
struct RecordPos {
    segment: SegmentId,
    offset: u64,
    len: u64,
    seq: u64,
}

/// Every event record of a scan, in log order.
fn layout(loaded: &Loaded) -> Vec<RecordPos> {
    let mut out = Vec::new();
    for seg in &loaded.scan.segments {
        for item in &seg.items {
            if let Item::Record(r) = item {
                if r.kind == RecordKind::Event {
                    out.push(RecordPos {
                        segment: seg.id,
                        offset: r.offset,
                        len: r.len,
                        seq: r.seq,
                    });
                }
            }
        }
    }
    out
}

/// A region to damage, with what it hits.
struct Target {
    segment: SegmentId,
    offset: u64,
    len: u64,
}

impl Run<'_> {
    fn load(&self) -> Option<Loaded> {
        open::load(&*self.disk, &self.dir, self.knobs.body_max).ok().flatten()
    }

    fn must_survive(&self, seq: u64) -> bool {
        self.model.slot(seq).is_some_and(|s| s.must_survive())
    }

    /// Seqs of records overlapping `start..end` of `segment` that must survive.
    fn victims(&self, records: &[RecordPos], segment: SegmentId, start: u64, end: u64) -> Vec<u64> {
        records
            .iter()
            .filter(|r| r.segment == segment && r.offset < end && start < r.offset + r.len)
            .filter(|r| self.must_survive(r.seq))
            .map(|r| r.seq)
            .collect()
    }

    /// After a crash: one bit flip or latent sector error in a segment, at rest.
    pub(crate) fn inject_at_rest(&mut self) {
        let Some(loaded) = self.load() else { return };
        let w = recovery::proven_watermark(&loaded.scan);
        let records = layout(&loaded);
        let detect: Vec<RecordPos> = records.iter().copied().filter(|r| r.seq <= w).collect();
        let cut: Vec<RecordPos> =
            records.iter().copied().filter(|r| r.seq > w && !self.must_survive(r.seq)).collect();
        let target = if !detect.is_empty() && (cut.is_empty() || self.rng.chance(0.7)) {
            let r = detect[self.rng.index(detect.len())];
            Target { segment: r.segment, offset: r.offset, len: r.len }
        } else if !cut.is_empty() {
            let r = cut[self.rng.index(cut.len())];
            Target { segment: r.segment, offset: r.offset, len: r.len }
        } else {
            return;
        };
        self.damage(&records, &target, w, "at rest");
    }

    /// While the writer runs: damage to a record already proven by a synced one.
    pub(crate) fn inject_concurrent(&mut self) -> bool {
        let Some(loaded) = self.load() else { return false };
        // Records at or below the watermark of the newest *synced* record: that record
        // survives any crash, so the damage stays provably below W.
        let proven = self.synced_watermark(&loaded);
        let records = layout(&loaded);
        let detect: Vec<RecordPos> = records.iter().copied().filter(|r| r.seq <= proven).collect();
        if detect.is_empty() {
            return false;
        }
        let r = detect[self.rng.index(detect.len())];
        let target = Target { segment: r.segment, offset: r.offset, len: r.len };
        self.damage(&records, &target, proven, "while writing");
        true
    }

    /// The watermark the newest acknowledged batch carries: `first seq - 1` of it, found as the
    /// highest watermark among event records with an acknowledged seq.
    fn synced_watermark(&self, loaded: &Loaded) -> u64 {
        let mut w = 0;
        for seg in &loaded.scan.segments {
            for item in &seg.items {
                if let Item::Record(r) = item {
                    if r.kind == RecordKind::Event && r.seq <= self.model.acked_max {
                        w = w.max(r.watermark);
                    }
                }
            }
        }
        w
    }

    /// Flips a bit in `target` or makes its sector unreadable, if the single-copy rule allows
    /// the sector; records the region and its victims.
    fn damage(&mut self, records: &[RecordPos], target: &Target, w: u64, when: &'static str) {
        let path = self.dir.join(segment::file_name(target.segment));
        let offset = target.offset + self.rng.below(target.len.max(1));
        let sector = offset / SECTOR_BYTES;
        let (s_start, s_end) = (sector * SECTOR_BYTES, (sector + 1) * SECTOR_BYTES);
        // A whole sector hits neighbours too: allowed only if none of them is an acked record
        // the log cannot prove (seq above W that must survive).
        let latent_ok = records
            .iter()
            .filter(|r| {
                r.segment == target.segment && r.offset < s_end && s_start < r.offset + r.len
            })
            .all(|r| r.seq <= w || !self.must_survive(r.seq));
        let latent = latent_ok && self.rng.chance(0.3);
        let (what, start, end) = if latent {
            if self.disk.fail_reads(&path, sector..sector + 1).is_err() {
                return;
            }
            self.hit_fault(Fault::LatentSectorError);
            ("latent sector error", s_start, s_end)
        } else {
            let bit = self.rng.below(8) as u8;
            if self.disk.flip_bit(&path, offset, bit).is_err() {
                return;
            }
            self.hit_fault(Fault::BitFlip);
            ("bit flip", offset, offset + 1)
        };
        let victims = self.victims(records, target.segment, start, end);
        self.note(
            "fault",
            &format!("{what} {when}: segment {} {start}..{end}, W {w}", target.segment),
        );
        self.at_rest.push(AtRest {
            what,
            segment: target.segment,
            start,
            end,
            victims,
            judged: false,
            visible: true,
            landing: false,
        });
    }

    /// D8: the next write to the active segment lands elsewhere: in the same segment at a
    /// seed-chosen aligned offset (over older records or into the zeros ahead), or in another
    /// segment. Returns what to resolve after the append.
    pub(crate) fn misdirect_next_write(&mut self) -> Option<Misdirect> {
        let pre = layout(&self.load()?);
        let log = self.log.as_ref()?;
        let active = log.log.writer().active_segment();
        let path = self.dir.join(segment::file_name(active));
        let mut landing_segment = active;
        if self.rng.chance(0.4) {
            let other = match &log.prep {
                Prep::Ready(p) => Some(p.id),
                _ if active.0 > 1 => Some(SegmentId(active.0 - 1)),
                _ => None,
            };
            if let Some(id) = other {
                landing_segment = id;
            }
        }
        let landing_path = self.dir.join(segment::file_name(landing_segment));
        let room = self.knobs.segment_bytes / 2;
        let landing_offset = 64 + self.rng.below(room.max(8)) / 8 * 8;
        self.disk.misdirect_next_write(&path, &landing_path, landing_offset).ok()?;
        Some(Misdirect { path, ledger_from: self.sim.ledger_len(), pre })
    }

    /// After the append: finds the misdirected write in the ledger and records the damage at
    /// its intended place and where it landed. `acked` are the seqs this append acknowledged.
    pub(crate) fn resolve_misdirect(&mut self, m: Misdirect, acked: std::ops::Range<u64>) {
        let _ = self.disk.cancel_injections(&m.path);
        let fired = self.sim.ledger_since(m.ledger_from).into_iter().find_map(|r| match r.kind {
            FaultKind::MisdirectedWrite { landing_path, landing_offset, .. } => {
                Some((r.path, r.offset, r.len, landing_path, landing_offset))
            }
            _ => None,
        });
        let Some((path, offset, len, landing_path, landing_offset)) = fired else { return };
        self.hit_fault(Fault::MisdirectedWrite);
        let name = |p: &std::path::Path| {
            p.file_name().and_then(|n| n.to_str()).and_then(segment::parse_file_name)
        };
        let (Some(source), Some(target)) = (name(&path), name(&landing_path)) else { return };
        let landing_end = landing_offset + len;
        // The landing overwrites what was there before the append (the cache never shows it)
        // and, in the same sync, what this append wrote there.
        let mut landed = self.victims(&m.pre, target, landing_offset, landing_end);
        let mut intended = Vec::new();
        match (self.disk.is_dead(), self.load()) {
            (false, Some(post)) => {
                let post = layout(&post);
                intended = self.victims(&post, source, offset, offset + len);
                landed.extend(self.victims(&post, target, landing_offset, landing_end));
            }
            _ => {
                // The process died: the batch's acked records are the victims (a superset).
                intended.extend(acked.clone());
                if target == source {
                    landed.extend(acked);
                }
            }
        }
        landed.sort_unstable();
        landed.dedup();
        self.note(
            "fault",
            &format!(
                "misdirected write: segment {source} {offset}+{len} landed in segment {target} \
                 at {landing_offset}"
            ),
        );
        self.at_rest.push(AtRest {
            what: "misdirected write (intended place)",
            segment: source,
            start: offset,
            end: offset + len,
            victims: intended,
            judged: false,
            visible: false,
            landing: false,
        });
        self.at_rest.push(AtRest {
            what: "misdirected write (landing place)",
            segment: target,
            start: landing_offset,
            end: landing_end,
            victims: landed,
            judged: false,
            visible: false,
            landing: true,
        });
    }
}

/// A misdirection armed before an append.
pub(crate) struct Misdirect {
    path: std::path::PathBuf,
    ledger_from: usize,
    /// Every event record before the append.
    pre: Vec<RecordPos>,
}
