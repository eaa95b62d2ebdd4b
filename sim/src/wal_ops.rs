//! Arbitrary operation sequences run against the WAL over [`SimDisk`], checked against a plain
//! `Vec` model: the structured fuzz target (`fuzz/fuzz_targets/wal_ops.rs`, with the
//! `arbitrary` feature) and the regression tests in `sim/tests/wal_ops.rs`.
//!
//! The harness drives the log engine production's `Sink` wraps, without the sink's threads:
//! `wal::log::Log::open` (directory, lock, recovery, first commit marker), one `Log::commit` per
//! flushed batch (append, fdatasync, and the unsynced commit marker the sink writes when idle),
//! `Log::close`. The model is the list of acknowledged events, in order. After every reopen it
//! checks:
//!
//! - every acknowledged event is in the log, in order, with its chain hash, and nothing else
//!   except a prefix of a batch that was being written when the process died (those events were
//!   written, so keeping them is allowed; they join the model);
//! - the reader sees a prefix of the model up to the proven watermark, and the log verifies
//!   (`verify` may report damage only in a segment file an [`Op::CorruptByte`] flipped);
//! - acknowledged events go missing, or corruption is reported, only after a
//!   [`Op::CorruptByte`] hit durable data (a segment header, a record, or anything before the
//!   last record of the log), and then only from the first seq that flip can have affected on;
//!   events that go missing are always reported as a cut in the quarantine.
//!
//! A reported corruption ends the run: the log refuses to open, which is the right outcome.
//! Everything is deterministic: the same ops give the same run.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use mtlog_audit::event::{Event, EventId, Level};
use mtlog_audit::integrity::chain::{self, Hash};
use mtlog_audit::io::Disk;
use mtlog_audit::wal::format::{RecordKind, SegmentId, SEGMENT_HEADER_LEN};
use mtlog_audit::wal::log::{Log, Marker};
use mtlog_audit::wal::open::{self, RecoveryReport};
use mtlog_audit::wal::scan::{self, Item};
use mtlog_audit::wal::segment;
use mtlog_audit::wal::writer::Batch;
use mtlog_audit::{Corruption, Error, Options, Reader};

use crate::{CrashKind, FaultConfig, Sim, SimClock, SimDisk, SimEntropy};

/// One step of a run.
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Queues one event whose `Pad` property holds `len % 700` bytes. Its timestamp moves by
    /// `ts_step` milliseconds, backwards too (the writer then flags it clock-adjusted).
    Emit {
        /// Padding length, modulo 700.
        len: u16,
        /// Timestamp step in milliseconds.
        ts_step: i8,
    },
    /// Writes the queued events as one batch and fdatasyncs it (they are acknowledged), then
    /// writes the unsynced commit marker.
    Flush,
    /// Like [`Op::Flush`], but the process dies after `after % 8` more mutating disk
    /// operations, and the machine then crashes (`power`: a power loss, else kill -9).
    FlushCrash {
        /// Mutating operations before the process dies.
        after: u8,
        /// Power loss rather than a process crash.
        power: bool,
    },
    /// Clean close: flush, then seal the active segment and shrink it to the seal.
    Close,
    /// kill -9: the page cache survives.
    Crash,
    /// Power loss: only what was synced survives, plus a seeded, possibly torn, part of the
    /// rest.
    PowerLoss,
    /// Drops the writer without closing and recovers the log (a check point).
    Reopen,
    /// Flips bit `bit % 8` of byte `offset % len` of the `file % n`-th segment file, in the
    /// cached and the durable content alike (a bit rotting at rest).
    CorruptByte {
        /// Which segment file, modulo their number.
        file: u8,
        /// Which byte, modulo the file's length.
        offset: u32,
        /// Which bit, modulo 8.
        bit: u8,
    },
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Events in the model at the end (acknowledged, or adopted from a dying batch).
    pub events: u64,
    /// Successful recoveries.
    pub reopens: u64,
    /// Cuts recorded in the quarantine at the end.
    pub cuts: usize,
    /// The corruption that ended the run, if one did.
    pub corruption: Option<Corruption>,
}

/// Ops after this many are ignored, so one input cannot run for long.
pub const OPS_MAX: usize = 256;
/// Events after this many are not queued.
pub const EVENTS_MAX: usize = 2_000;
/// Queued events after this many are not queued until a flush.
pub const BATCH_MAX: usize = 48;
/// Segment size: small, so runs rotate often.
pub const SEGMENT_BYTES: u64 = 8 << 10;
/// The largest event body.
pub const BODY_MAX: usize = 1 << 10;

const DIR: &str = "/log";
const SEED: u64 = 0x0f0f_5eed;

/// Runs `ops` on a fresh simulated machine and checks the model after every reopen and at the
/// end (after a final power loss).
///
/// # Panics
/// When the WAL breaks its promise: an acknowledged event missing without a reported cut,
/// corruption without a flip of durable data, an event that was never written, a wrong chain
/// hash, or a log that does not verify after recovery.
pub fn run(ops: &[Op]) -> Outcome {
    let mut h = Harness::new();
    for op in ops.iter().take(OPS_MAX) {
        if h.step(op).is_err() {
            return h.outcome();
        }
    }
    h.drop_process(CrashKind::PowerLoss);
    let _ = h.reopen();
    h.outcome()
}

/// The run stopped on a reported corruption.
struct Stopped;

/// One acknowledged event of the model.
struct Logged {
    event: Event,
    /// The chain value after it, when the writer reported one (not for adopted events).
    chain: Option<Hash>,
}

struct Harness {
    disk: Arc<SimDisk>,
    entropy: SimEntropy,
    sim_clock: SimClock,
    log_open: Option<Log<SimDisk>>,
    log_id: Option<u128>,
    /// Queued, not yet written.
    pending: Vec<Event>,
    /// The model: every acknowledged event, in order.
    log: Vec<Logged>,
    /// Events of a batch that was being written when the process died.
    in_flight: Vec<Event>,
    /// The lowest seq a flip of durable data since the last recovery can have affected.
    hit_seq: Option<u64>,
    /// Every segment file a flip ever landed in, for the whole run.
    ///
    /// `verify` may rightly report the changed bytes as damage in these, and only these, for as
    /// long as the bytes stay (until a cut takes them away), whatever recovery made of the flip.
    /// It is not reset on reopen as `hit_seq` is: a flip that recovery does not read (the zeros
    /// after a rotation seal, which `hit_seq_of` counts as durable data since later segments
    /// hold records) passes a recovery and is reported by `verify` after every later one. The
    /// old rule tolerated damage only while `hit_seq` was set or after a flip `hit_seq_of` saw
    /// as unused, and so failed at the second reopen after such a flip (fuzz target `wal_ops`).
    flipped_segments: BTreeSet<SegmentId>,
    cuts: usize,
    reopens: u64,
    corruption: Option<Corruption>,
    events_made: u64,
    clock: i64,
}

impl Harness {
    fn new() -> Harness {
        let faults = FaultConfig {
            power_loss_keep_write: 0.6,
            power_loss_torn_write: 0.5,
            power_loss_reorder: 0.5,
            ..FaultConfig::none()
        };
        let sim = Sim::new(SEED, faults);
        let disk = Arc::new(sim.disk());
        disk.create_dir_all(Path::new(DIR)).expect("mkdir");
        disk.sync_dir(Path::new("/")).expect("fsync /");
        Harness {
            disk,
            entropy: sim.entropy(),
            sim_clock: sim.clock(),
            log_open: None,
            log_id: None,
            pending: Vec::new(),
            log: Vec::new(),
            in_flight: Vec::new(),
            hit_seq: None,
            flipped_segments: BTreeSet::new(),
            cuts: 0,
            reopens: 0,
            corruption: None,
            events_made: 0,
            clock: 1_700_000_000_000_000_000,
        }
    }

    fn outcome(&self) -> Outcome {
        Outcome {
            events: self.log.len() as u64,
            reopens: self.reopens,
            cuts: self.cuts,
            corruption: self.corruption.clone(),
        }
    }

    fn step(&mut self, op: &Op) -> Result<(), Stopped> {
        match *op {
            Op::Emit { len, ts_step } => self.emit(len, ts_step),
            Op::Flush => {
                self.ensure_writer()?;
                self.flush();
            }
            Op::FlushCrash { after, power } => {
                self.ensure_writer()?;
                self.flush_and_die(u64::from(after % 8));
                let kind = if power { CrashKind::PowerLoss } else { CrashKind::Process };
                self.drop_process(kind);
            }
            Op::Close => {
                self.ensure_writer()?;
                self.flush();
                if let Some(mut log) = self.log_open.take() {
                    log.close().expect("seal on a fault-free disk");
                }
            }
            Op::Crash => self.drop_process(CrashKind::Process),
            Op::PowerLoss => self.drop_process(CrashKind::PowerLoss),
            Op::Reopen => {
                self.log_open = None;
                self.pending.clear();
                self.reopen()?;
            }
            Op::CorruptByte { file, offset, bit } => self.corrupt(file, offset, bit),
        }
        Ok(())
    }

    fn emit(&mut self, len: u16, ts_step: i8) {
        if self.pending.len() >= BATCH_MAX || self.events_made as usize >= EVENTS_MAX {
            return;
        }
        self.events_made += 1;
        self.clock += i64::from(ts_step) * 1_000_000;
        let n = self.events_made;
        let event = Event::new(
            EventId(u128::from(n).to_le_bytes()),
            self.clock,
            Level::Information,
            "event {N}",
        )
        .with_property("N", n)
        .with_property("Pad", vec![n as u8; usize::from(len % 700)])
        .render();
        self.pending.push(event);
    }

    fn batch(&self) -> Batch {
        let mut batch = Batch::default();
        for event in &self.pending {
            let before = batch.bodies.len();
            event.encode_body(&mut batch.bodies).expect("encode");
            let len = batch.bodies.len() - before;
            assert!(len <= BODY_MAX, "test event of {len} bytes");
            batch.push_body_written(event.timestamp_nanos, len);
        }
        batch
    }

    /// Appends the queued events; on a fault-free disk the whole batch must be acknowledged.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = self.batch();
        let log = self.log_open.as_mut().expect("an open log");
        let mut hashes = Vec::new();
        let committed = log.commit(&batch, &mut hashes, None, || true);
        let appended = committed.appended;
        assert!(appended.error.is_none(), "append failed: {:?}", appended.error);
        assert_eq!(appended.durable, batch.len());
        assert_eq!(appended.seq_first, self.log.len() as u64 + 1, "seq of the batch");
        let marker = committed.marker;
        assert!(
            matches!(marker, Marker::Written),
            "commit marker on a fault-free disk: {marker:?}"
        );
        for (event, chain) in self.pending.drain(..).zip(hashes) {
            self.log.push(Logged { event, chain: Some(chain) });
        }
    }

    /// Appends the queued events with the process set to die after `after` mutating
    /// operations: what was acknowledged joins the model, the rest is in flight.
    fn flush_and_die(&mut self, after: u64) {
        let batch = self.batch();
        self.disk.arm_crash_after(after);
        let Some(log) = self.log_open.as_mut() else { return };
        let mut hashes = Vec::new();
        let appended = match batch.is_empty() {
            true => None,
            // The process dies before the marker, as when another batch is already queued
            // (the sink then leaves the marker to that batch).
            false => Some(log.commit(&batch, &mut hashes, None, || false).appended),
        };
        let durable = appended.as_ref().map_or(0, |a| a.durable);
        assert_eq!(hashes.len(), durable, "a chain hash per acknowledged event");
        let mut events = std::mem::take(&mut self.pending).into_iter();
        for (event, chain) in events.by_ref().take(durable).zip(hashes) {
            self.log.push(Logged { event, chain: Some(chain) });
        }
        self.in_flight = events.collect();
    }

    fn drop_process(&mut self, kind: CrashKind) {
        self.log_open = None;
        self.pending.clear();
        self.disk.crash(kind);
    }

    fn ensure_writer(&mut self) -> Result<(), Stopped> {
        if self.log_open.is_none() {
            self.reopen()?;
        }
        Ok(())
    }

    /// Opens the log (recovering it) and checks it against the model.
    fn reopen(&mut self) -> Result<(), Stopped> {
        let options = Options::new(DIR).segment_bytes(SEGMENT_BYTES).body_max(BODY_MAX);
        let clock = Arc::new(self.sim_clock.clone());
        let log = match Log::open(self.disk.clone(), &options, clock, &self.entropy) {
            Ok(r) => r,
            Err(Error::Corruption(c)) => {
                let h = self.hit_seq.unwrap_or_else(|| {
                    panic!("corruption reported with no durable byte flipped: {c}")
                });
                assert!(c.seq_range.0 >= h, "corruption {c} before the first flipped seq {h}");
                self.corruption = Some(c);
                return Err(Stopped);
            }
            Err(e) => panic!("recovery failed on a disk without I/O faults: {e}"),
        };
        let report = log.report().clone();
        self.log_id.get_or_insert(report.log_id);
        assert_eq!(Some(report.log_id), self.log_id, "the log id changed");
        self.check(&report);
        self.log_open = Some(log);
        self.reopens += 1;
        self.hit_seq = None;
        Ok(())
    }

    /// Compares the recovered log with the model, and adopts what the model allows.
    fn check(&mut self, report: &RecoveryReport) {
        let stored = self.stored_events();
        let n = stored.len();
        assert_eq!(report.seq_next, n as u64 + 1, "seq_next against the events found");
        assert_eq!(report.events, n as u64);
        let cut_new = report.cuts.len() > self.cuts;
        assert!(report.cuts.len() >= self.cuts, "a quarantine entry disappeared");
        self.cuts = report.cuts.len();
        let kept = stored.iter().zip(&self.log).take_while(|(s, l)| **s == l.event).count();
        if kept < self.log.len() {
            // Acknowledged events are missing: only after a flip of durable data, from the
            // first seq it can reach, and never without a cut in the quarantine.
            let h = self.hit_seq.unwrap_or_else(|| {
                panic!("acknowledged seq {} lost with no durable byte flipped", kept + 1)
            });
            assert!(kept as u64 + 1 >= h, "seq {} lost before the flipped seq {h}", kept + 1);
            assert!(cut_new, "acknowledged seq {} lost without a reported cut", kept + 1);
            assert_eq!(n, kept, "events after a loss that the model does not have");
            self.log.truncate(kept);
            self.in_flight.clear();
        } else {
            let extra = &stored[kept..];
            assert!(extra.len() <= self.in_flight.len(), "{} events never written", extra.len());
            assert!(extra.iter().zip(&self.in_flight).all(|(s, f)| s == f), "events differ");
            for event in extra {
                self.log.push(Logged { event: event.clone(), chain: None });
            }
            self.in_flight.clear();
        }
        let expected_head = match self.log.last() {
            None => Some(chain::genesis(report.log_id)),
            Some(l) => l.chain,
        };
        if let Some(head) = expected_head {
            assert_eq!(report.head_hash, head, "head hash after {} events", self.log.len());
        }
        self.check_reader();
    }

    /// Every event in the log's segments, in order, decoded; seqs must run from 1.
    fn stored_events(&self) -> Vec<Event> {
        let loaded = open::load(&*self.disk, Path::new(DIR), BODY_MAX).expect("load");
        let Some(loaded) = loaded else { return Vec::new() };
        let mut out = Vec::new();
        for (seg, bytes) in loaded.scan.segments.iter().zip(&loaded.bytes) {
            for item in &seg.items {
                let Item::Record(r) = item else { continue };
                if r.kind != RecordKind::Event {
                    continue;
                }
                assert_eq!(r.seq, out.len() as u64 + 1, "seq order in segment {}", seg.id);
                let at = r.offset as usize;
                let view = mtlog_audit::wal::format::parse_record(
                    bytes,
                    at,
                    loaded.scan.log_id,
                    seg.id,
                    BODY_MAX,
                )
                .expect("a scanned record parses");
                out.push(Event::decode_body(view.body).expect("a stored body decodes"));
            }
        }
        out
    }

    /// The reader shows the model up to the proven watermark, and the log verifies.
    fn check_reader(&self) {
        let reader = Reader::open_with(self.disk.clone(), Path::new(DIR), false).expect("reader");
        let report = reader.verify_integrity();
        // After a flip, `verify` may report the changed bytes as damage (the zeros after a
        // rotation seal are checked too) even where recovery loses nothing; the model checks
        // the data itself. Elsewhere, nothing may be found.
        let tolerated = |f: &mtlog_audit::wal::recovery::Finding| {
            self.flipped_segments.contains(&f.segment)
                && matches!(f.anomaly, mtlog_audit::wal::recovery::Anomaly::Damage(_))
        };
        assert!(
            report.findings.iter().all(tolerated),
            "findings after recovery: {:?}",
            report.findings
        );
        let visible = (report.watermark as usize).min(self.log.len());
        let shown: Vec<Event> = reader
            .replay(1..=u64::MAX)
            .expect("replay")
            .map(|s| s.expect("a replayed event").event)
            .collect();
        assert_eq!(shown.len(), visible, "the reader shows {} of {visible}", shown.len());
        assert!(shown.iter().zip(&self.log).all(|(s, l)| *s == l.event), "reader events differ");
    }

    fn corrupt(&mut self, file: u8, offset: u32, bit: u8) {
        let dir = Path::new(DIR);
        let names = self.disk.list(dir).expect("list");
        let ids: Vec<SegmentId> =
            names.iter().filter_map(|n| segment::parse_file_name(n)).collect();
        if ids.is_empty() {
            return;
        }
        let id = ids[usize::from(file) % ids.len()];
        let path = dir.join(segment::file_name(id));
        let cached = self.disk.cached_contents(&path).expect("cached contents");
        let durable = self.disk.durable_contents(&path).expect("durable contents");
        let len = cached.len().max(durable.len());
        if len == 0 {
            return;
        }
        let at = offset as usize % len;
        if let Some(h) = self.hit_seq_of(&ids, id, at as u64) {
            self.hit_seq = Some(self.hit_seq.map_or(h, |old| old.min(h)));
        }
        self.flipped_segments.insert(id);
        self.disk.flip_bit(&path, at as u64, bit % 8).expect("flip");
    }

    /// If a flip at `offset` of segment `id` hits durable data, the lowest seq it can affect.
    ///
    /// Durable data is the segment header and everything up to the last record of the log, in
    /// either the cached or the durable content: a flip there may legitimately end in a
    /// reported corruption or a reported cut. A flip past the last record is in space the log
    /// has not used yet, and must cost nothing.
    fn hit_seq_of(&self, ids: &[SegmentId], id: SegmentId, offset: u64) -> Option<u64> {
        let mut records = Vec::new(); // (segment, offset, end, kind, seq)
        for &s in ids {
            let path = Path::new(DIR).join(segment::file_name(s));
            for bytes in [self.disk.cached_contents(&path), self.disk.durable_contents(&path)] {
                let bytes = bytes.expect("contents");
                let log_id = self.log_id.unwrap_or(0);
                let found = scan::scan_segment(s, &bytes, log_id, BODY_MAX, &[], None);
                for item in found.items {
                    if let Item::Record(r) = item {
                        records.push((s, r.offset, r.offset + r.len, r.kind, r.seq));
                    }
                }
            }
        }
        let after = |&&(s, _, end, _, _): &&(SegmentId, u64, u64, RecordKind, u64)| {
            s > id || (s == id && end > offset)
        };
        let hit = offset < SEGMENT_HEADER_LEN as u64 || records.iter().any(|r| after(&r));
        if !hit {
            return None;
        }
        let event = |r: &&(SegmentId, u64, u64, RecordKind, u64)| r.3 == RecordKind::Event;
        let first_after = records.iter().filter(after).filter(event).map(|r| r.4).min();
        let last_before = records.iter().filter(|r| !after(r)).filter(event).map(|r| r.4).max();
        Some(first_after.unwrap_or_else(|| last_before.unwrap_or(0) + 1))
    }
}
