//! Opening the log (the engine's `Log::open`, as `Sink::open_with` calls it), judging what the recovery did
//! against the model and the injected faults, and reading everything back.

use std::sync::Arc;

use mtlog_audit::error::{Corruption, DamageKind, Error};
use mtlog_audit::integrity::chain::{self, Hash};
use mtlog_audit::wal::format::{
    framed_len, RecordKind, COMMIT_RECORD_LEN, FLAG_CLOCK_ADJUSTED, RECORD_HEADER_LEN,
    SEAL_RECORD_LEN, SEGMENT_HEADER_LEN,
};
use mtlog_audit::wal::log::Log;
use mtlog_audit::wal::open::{self, RecoveryReport};
use mtlog_audit::wal::quarantine::QuarantineEntry;
use mtlog_audit::wal::recovery;
use mtlog_audit::wal::scan::Item;
use mtlog_audit::wal::writer::Batch;
use mtlog_audit::{Options, Reader};
use mtlog_audit_sim::{CrashKind, FaultConfig, SimClock, SimDisk, SimEntropy};

use crate::coverage::{Branch, Fault};
use crate::model::SlotState;
use crate::outcome::{Invariant, Outcome};
use crate::run::{OpenLog, Prep, Run};

/// One open, exactly as `Sink::open_with` does it: the engine's `Log::open` (the directory
/// and its durable entry, the lock, recovery, the checkpointer, the first commit marker).
fn recover_on(
    disk: &Arc<SimDisk>,
    clock: &SimClock,
    entropy: &SimEntropy,
    options: &Options,
) -> Result<Log<SimDisk>, Error> {
    Log::open(disk.clone(), options, Arc::new(clock.clone()), entropy)
}

impl Run<'_> {
    fn recover_once(&mut self) -> Result<Log<SimDisk>, Error> {
        let options = self.log_options();
        recover_on(&self.disk, &self.clock, &self.entropy, &options)
    }

    /// The options the harness opens the log with.
    pub(crate) fn log_options(&self) -> Options {
        let options = Options::new(&self.dir)
            .segment_bytes(self.knobs.segment_bytes)
            .body_max(self.knobs.body_max);
        match &self.signer {
            Some(signer) => options
                .signer(signer.clone())
                .checkpoint_every_events(Some(self.knobs.checkpoint_every_events))
                .checkpoint_on_seal(self.knobs.checkpoint_on_seal),
            None => options,
        }
    }

    /// Opens the log: recovery (sometimes interrupted by crashes), verification against the
    /// model, then a writer. Returns whether a writer is open.
    pub(crate) fn open_log(&mut self, cycle: u32) -> bool {
        self.note("recovery", &format!("open {cycle}: recover"));
        self.judge_at_rest();
        // Compared with an uninterrupted recovery only in a fresh process: a crash inside
        // recovery starts a new process, which would forget a failed fsync the reference
        // still remembers.
        // Only where there is something to keep: an empty log recovers to a fresh log id drawn
        // from the entropy source, which differs between the two machines by design.
        let exists = self.model.must_survive_max() > 0;
        let interrupted = self.knobs.features.crash_in_recovery
            && exists
            && self.fresh_process
            && self.rng.chance(0.6);
        let mut result =
            if interrupted { self.recover_with_crashes() } else { self.recover_once() };
        let mut attempts = 1u32;
        loop {
            match result {
                Ok(recovered) => return self.after_recovery(recovered),
                Err(Error::Corruption(c)) => {
                    self.judge_corruption(&c);
                    return false;
                }
                Err(e @ Error::BehindCheckpoint { .. }) => {
                    self.judge_behind_checkpoint(&e);
                    return false;
                }
                Err(e) => {
                    if self.stopped() {
                        return false;
                    }
                    if self.disk.is_dead() {
                        self.crash(CrashKind::Process);
                    }
                    attempts += 1;
                    self.note("recovery", &format!("recovery failed: {e}"));
                    if attempts > 2 * RECOVERY_ATTEMPTS {
                        self.violate(
                            Invariant::I12,
                            Outcome::Liveness,
                            format!("recovery still fails with every fault healed: {e}"),
                        );
                        return false;
                    }
                    if attempts > RECOVERY_ATTEMPTS || matches!(e, Error::DiskFull { .. }) {
                        self.sim.set_faults(FaultConfig::none());
                        self.disk.set_capacity(None);
                    }
                    result = self.recover_once();
                }
            }
        }
    }

    /// D13 and I10: recovers on a copy of the machine without interruption (the reference),
    /// then here with crashes at seed-chosen I/Os inside recovery, k times, then to the end.
    /// The final result must equal the reference.
    fn recover_with_crashes(&mut self) -> Result<Log<SimDisk>, Error> {
        let saved = self.sim.faults();
        // Operation faults would make the two recoveries differ for reasons other than the
        // crashes; what a crash keeps (power loss fragments) stays seeded.
        self.sim.set_faults(saved.without_operation_errors());
        let copy = self.sim.snapshot();
        let copy_disk = Arc::new(copy.disk());
        let ops_before = copy_disk.stats().mutating_ops;
        let options = self.log_options();
        let reference = recover_on(&copy_disk, &copy.clock(), &copy.entropy(), &options)
            .map(|log| log.report().clone());
        let ops = copy_disk.stats().mutating_ops - ops_before;
        drop(copy_disk);
        let k = self.rng.range_inclusive(1, 3);
        for _ in 0..k {
            let n = self.rng.below(ops.max(1));
            self.disk.arm_crash_after(n);
            let attempt = self.recover_once();
            let died = self.disk.is_dead();
            drop(attempt);
            let kind = if self.rng.chance(0.3) { CrashKind::PowerLoss } else { CrashKind::Process };
            self.crash(kind);
            if died {
                self.hit_fault(Fault::CrashInRecovery);
            }
        }
        let result = self.recover_once();
        self.sim.set_faults(saved);
        self.check(Invariant::I10);
        let same = match (&reference, &result) {
            // Both found no log and started a fresh one: its id comes from the entropy source,
            // which the two machines drew differently. (Whether a log should have been there
            // is the read-back's business.)
            (Ok(a), Ok(b)) if a.seq_next == 1 && b.report().seq_next == 1 && a.events == 0 => true,
            (Ok(a), Ok(b)) => same_but_torn_markers(a, b.report()),
            (Err(Error::Corruption(a)), Err(Error::Corruption(b))) => a == b,
            // The reference failed for another reason (an I/O error): nothing to compare.
            (Err(_), _) => true,
            _ => false,
        };
        if same {
            self.hit(Branch::RecoveryResumed);
        } else {
            self.violate(
                Invariant::I10,
                Outcome::Idempotence,
                format!(
                    "recovery after {k} crashes inside it differs from the uninterrupted one: \
                     {} vs {}",
                    describe(&result.as_ref().map(Log::report)),
                    describe(&reference.as_ref()),
                ),
            );
        }
        result
    }

    /// After a successful open: branches, verification, the twice-check.
    fn after_recovery(&mut self, log: Log<SimDisk>) -> bool {
        let report = log.report().clone();
        self.counters.recoveries += 1;
        self.note_branches(&report);
        if !self.verify_recovered(&report) {
            return false;
        }
        let verify =
            self.knobs.features.signing && self.rng.chance(crate::checkpoints::VERIFY_SHARE);
        if verify && !self.verify_checkpoints(report.seq_next - 1) {
            return false;
        }
        let log = if self.knobs.features.crash_in_recovery && self.rng.chance(0.5) {
            drop(log);
            match self.recover_twice(&report) {
                Some(log) => log,
                None => return false,
            }
        } else {
            log
        };
        // Judged faults are settled, except latent sector errors: they persist until the
        // sector is rewritten, and may still explain a later report.
        self.at_rest.retain(|f| !f.judged || f.what == "latent sector error");
        self.excused_from = None;
        self.log = Some(OpenLog {
            log,
            queue: Batch::default(),
            queue_subs: Vec::new(),
            prep: Prep::Idle,
            disk_full_seen: false,
        });
        self.note("recovery", &format!("recovered: head {}", report.seq_next - 1));
        self.check_handles();
        true
    }

    fn note_branches(&mut self, report: &RecoveryReport) {
        let new_cuts = report.cuts.len().saturating_sub(self.cuts_seen);
        for cut in report.cuts.iter().skip(self.cuts_seen) {
            match cut.reason {
                None => self.hit(Branch::SegmentsQuarantined),
                Some(DamageKind::UnsyncedAfterFailedSync) => self.hit(Branch::UnsyncedCut),
                Some(_) => self.hit(Branch::TailCut),
            }
        }
        if new_cuts == 0 && report.events > 0 {
            self.hit(Branch::RecoveryClean);
        }
        if self.detail.is_some() {
            for cut in report.cuts.iter().skip(self.cuts_seen) {
                let label = format!(
                    "cut: segment {} offset {} len {} seqs {:?} reason {:?}",
                    cut.segment, cut.offset, cut.len, cut.seq_range, cut.reason
                );
                self.note_timeline("recovery", label);
            }
        }
    }

    /// I10: recovering the recovered state again, in the same process, reports the same.
    fn recover_twice(&mut self, first: &RecoveryReport) -> Option<Log<SimDisk>> {
        self.check(Invariant::I10);
        // An injected I/O error in the second recovery would be a fault, not a difference.
        let saved = self.sim.faults();
        self.sim.set_faults(saved.without_operation_errors());
        let second = self.recover_once();
        self.sim.set_faults(saved);
        match second {
            Ok(log) => {
                let second = log.report();
                if second != first {
                    self.violate(
                        Invariant::I10,
                        Outcome::Idempotence,
                        format!(
                            "recovering twice differs: {} then {}",
                            describe(&Ok::<_, &Error>(first)),
                            describe(&Ok::<_, &Error>(second))
                        ),
                    );
                    return None;
                }
                self.hit(Branch::RecoveryTwice);
                Some(log)
            }
            Err(e) => {
                self.violate(
                    Invariant::I10,
                    Outcome::Idempotence,
                    format!("a second recovery of a recovered log failed: {e}"),
                );
                None
            }
        }
    }

    /// Before a recovery: for each at-rest fault not judged yet, which of its victims the log
    /// can prove durable (seq <= the proven watermark W): those must be reported. Victims above
    /// W that must survive are outside the single-copy model (acked, unproven, damaged): their
    /// loss is excused and counted.
    fn judge_at_rest(&mut self) {
        if self.at_rest.iter().all(|f| f.judged || !f.visible) {
            return;
        }
        let w = match open::load_lean(&*self.disk, &self.dir, self.knobs.body_max) {
            Ok(Some(loaded)) => recovery::proven_watermark(&loaded.scan),
            _ => 0,
        };
        let mut excused_from = self.excused_from;
        for f in self.at_rest.iter_mut().filter(|f| !f.judged && f.visible) {
            f.judged = true;
            self.judged_now = true;
            for &seq in &f.victims {
                if seq > w {
                    excused_from = Some(excused_from.map_or(seq, |e: u64| e.min(seq)));
                }
            }
        }
        self.excused_from = excused_from;
    }

    /// I5: reported corruption must overlap an injected fault; then the salvage reader must
    /// still return the valid prefix and nothing that was never written.
    fn judge_corruption(&mut self, c: &Corruption) {
        self.check(Invariant::I5);
        let slack = (framed_len(self.knobs.body_max) + SEAL_RECORD_LEN) as u64;
        // The damage item starts at the record the fault hit (at most one record before the
        // fault). A misdirected write that landed past a segment's end also leaves the zeros
        // before it, reported as a hole where they start.
        // A misdirected write's intended place keeps stale bytes, which may be a whole valid
        // record (an old commit marker), so the damage can show one record past it. Where it
        // landed it may have extended a shrunk segment: everything between the old end and the
        // landing then reads as zeros or uninitialised bytes, reported where they start.
        let explained = self.at_rest.iter().any(|f| {
            let misdirected = f.what.starts_with("misdirected");
            let end = if misdirected { f.end + slack } else { f.end };
            let place = f.segment == c.segment
                && c.offset < end
                && (c.offset + slack >= f.start || f.landing);
            // A hole at the very end of a segment reads as its trailing zeros; the loss then
            // shows where the next segment does not continue the seqs: the report names the
            // missing seqs, not the place. Accepted when it names a seq the fault hit.
            let seqs = f.victims.iter().any(|v| (c.seq_range.0..=c.seq_range.1).contains(v));
            place || seqs
        });
        self.note("recovery", &format!("recovery refused: {c}"));
        if !explained {
            let faults: Vec<String> = self
                .at_rest
                .iter()
                .map(|f| format!("{} in segment {} at {}..{}", f.what, f.segment, f.start, f.end))
                .collect();
            self.violate(
                Invariant::I5,
                Outcome::FalseAlarm,
                format!(
                    "recovery reported corruption ({c}) where no fault was injected (faults: [{}])",
                    faults.join("; ")
                ),
            );
            return;
        }
        self.corruption_detected = true;
        self.hit(Branch::CorruptionRefused);
        self.verify_salvage(c);
    }

    /// After a refused recovery: the salvage reader returns every record before the damage,
    /// and every record it returns is one that was written.
    fn verify_salvage(&mut self, c: &Corruption) {
        self.check(Invariant::I2);
        let reader = match Reader::open_with(self.disk.clone(), &self.dir, true) {
            Ok(r) => r,
            // No segment header left to name the log (the damage is the header itself): the
            // reader reports the corruption instead of reading. Reported, so not silent.
            Err(Error::Corruption(h)) if h.kind == DamageKind::SegmentHeader => return,
            Err(e) => {
                self.violate(
                    Invariant::I5,
                    Outcome::SilentLoss,
                    format!("the salvage reader does not open a damaged log: {e}"),
                );
                return;
            }
        };
        let mut seen_prefix = 0u64;
        let mut past_damage = false;
        let mut buf = Vec::new();
        let items = match reader.replay(1..=u64::MAX) {
            Ok(items) => items,
            Err(e) => {
                self.violate(Invariant::I5, Outcome::SilentLoss, format!("salvage replay: {e}"));
                return;
            }
        };
        for item in items {
            let Ok(stored) = item else { continue };
            buf.clear();
            let _ = stored.event.encode_body(&mut buf);
            let matches = self.model.slot(stored.seq).is_some_and(|s| {
                self.model.body(s.sub) == buf.as_slice()
                    && self.model.submitted(s.sub).timestamp_nanos == stored.timestamp_nanos
            });
            if !matches {
                self.violate(
                    Invariant::I2,
                    Outcome::Phantom,
                    format!("salvage returned seq {} with bytes never written there", stored.seq),
                );
                return;
            }
            if stored.seq == seen_prefix + 1 && stored.seq < c.seq_range.0 {
                seen_prefix = stored.seq;
            }
            if stored.seq > c.seq_range.1 {
                past_damage = true;
            }
        }
        if seen_prefix + 1 < c.seq_range.0 {
            self.violate(
                Invariant::I5,
                Outcome::SilentLoss,
                format!(
                    "salvage returned the prefix only up to seq {seen_prefix}, corruption at {}",
                    c.seq_range.0
                ),
            );
            return;
        }
        if past_damage {
            self.hit(Branch::SalvageRead);
        }
    }

    /// I1-I4, I6, I14 after a successful recovery: the log holds exactly a prefix of what was
    /// written, containing everything that must survive, with an intact chain; a second look
    /// finds nothing left to repair; then the model commits that prefix.
    fn verify_recovered(&mut self, report: &RecoveryReport) -> bool {
        let head = report.seq_next - 1;
        self.check(Invariant::I4);
        match self.model.log_id {
            Some(id) if id != report.log_id && self.model.must_survive_max() > 0 => {
                // A new log where one with acknowledged records was: the old one is gone.
                self.violate(
                    Invariant::I1,
                    Outcome::SilentLoss,
                    format!(
                        "recovery created a new log {:032x}: the log {id:032x} with {} records \
                         that must survive is gone (its directory or segments vanished)",
                        report.log_id,
                        self.model.must_survive_max()
                    ),
                );
                return false;
            }
            // Nothing was promised yet: a fresh log after a crash is fine.
            _ => self.model.log_id = Some(report.log_id),
        }
        self.check(Invariant::I6);
        let must_max = self.must_survive_max_unexcused();
        for cut in report.cuts.iter().skip(self.cuts_seen) {
            if cut.reason.is_some() && cut.seq_range.0 <= must_max {
                self.violate(
                    Invariant::I6,
                    Outcome::SilentLoss,
                    format!(
                        "a tail cut at segment {} offset {} starts at seq {}, below the durable \
                         point {must_max}",
                        cut.segment, cut.offset, cut.seq_range.0
                    ),
                );
                return false;
            }
        }
        let new_cuts = report.cuts.len() > self.cuts_seen;
        self.cuts_seen = report.cuts.len();
        // Every recovery gets the O(1) checks; a full read-back runs after every cut, after
        // damage was judged, and for a seeded quarter of the others. Losses, phantoms and chain
        // breaks persist in the log, so the final strict read (every run) still catches what a
        // skipped read-back would have: only the moment of detection moves.
        let lucky = self.rng.chance(FULL_VERIFY_SHARE);
        let full = lucky || new_cuts || self.judged_now || self.knobs.features.misdirected;
        self.judged_now = false;
        let ok = if full {
            self.verify_scan(head, report.head_hash)
        } else {
            self.verify_head(head, report.head_hash)
        };
        if !ok {
            return false;
        }
        self.model.recovered(head);
        true
    }

    /// The O(1) checks of a recovery: nothing that must survive lies past the head, and the
    /// head hash equals the chain value known for it (its receipt, or a verified read-back).
    fn verify_head(&mut self, head: u64, head_hash: Hash) -> bool {
        self.check(Invariant::I1);
        let state = ReadState { chain: head_hash, expected: head + 1, ts_prev: None };
        if let Some(known) = self.model.slot(head).and_then(|s| s.chain) {
            self.check(Invariant::I4);
            if known != head_hash {
                self.violate(
                    Invariant::I4,
                    Outcome::Chain,
                    format!("the recovered head hash at seq {head} differs from its receipt"),
                );
                return false;
            }
        }
        if head > self.model.seq_next() - 1 {
            // More records than were ever written.
            self.violate(
                Invariant::I2,
                Outcome::Phantom,
                format!(
                    "recovered head {head} is past the last seq ever written {}",
                    self.model.seq_next() - 1
                ),
            );
            return false;
        }
        self.finish_read(&state, head, None)
    }

    /// The highest seq that must survive and whose loss is not excused.
    fn must_survive_max_unexcused(&self) -> u64 {
        let max = self.model.must_survive_max();
        match self.excused_from {
            Some(e) if e <= max => self
                .model
                .slots()
                .iter()
                .enumerate()
                .take((e - 1) as usize)
                .filter(|(_, s)| s.must_survive())
                .map(|(i, _)| i as u64 + 1)
                .max()
                .unwrap_or(0),
            _ => max,
        }
    }

    /// Reads every segment back (through the `Disk`, as recovery does) and compares each
    /// record with the model, byte for byte; the chain is followed from genesis. A recovered
    /// log must also classify as clean, ending at the same head (I10: nothing left to redo).
    fn verify_scan(&mut self, head: u64, head_hash: Hash) -> bool {
        let loaded = match open::load(&*self.disk, &self.dir, self.knobs.body_max) {
            Ok(loaded) => loaded,
            Err(e) => {
                self.violate(Invariant::I1, Outcome::SilentLoss, format!("reading back: {e}"));
                return false;
            }
        };
        let log_id = self.model.log_id.unwrap_or(0);
        let mut state = ReadState { chain: chain::genesis(log_id), expected: 1, ts_prev: None };
        if let Some(loaded) = &loaded {
            self.check(Invariant::I10);
            match recovery::classify(&loaded.scan) {
                recovery::Verdict::Clean(h) if h.seq_next == head + 1 && h.chain == head_hash => {}
                other => {
                    self.violate(
                        Invariant::I10,
                        Outcome::Idempotence,
                        format!(
                            "the recovered log does not read back clean at head {head}: {}",
                            verdict_text(&other)
                        ),
                    );
                    return false;
                }
            }
            // The bytes the scan read: reading them again through the `Disk` would only
            // repeat what recovery's own read already exercised.
            for (seg, bytes) in loaded.scan.segments.iter().zip(&loaded.bytes) {
                for item in &seg.items {
                    let Item::Record(r) = item else { continue };
                    if r.kind != RecordKind::Event {
                        continue;
                    }
                    let record = ReadRecord {
                        seq: r.seq,
                        timestamp_nanos: r.timestamp_nanos,
                        clock_adjusted: r.flags & FLAG_CLOCK_ADJUSTED != 0,
                        link: Link::Scanned { prev: r.prev_hash, leaf: r.digest },
                    };
                    let body = record_body(bytes, r.offset);
                    if !self.check_record(&mut state, &record, body, head) {
                        return false;
                    }
                }
            }
        }
        self.finish_read(&state, head, Some(head_hash))
    }

    /// After the final clean close, without the reader: every record read back and compared.
    pub(crate) fn verify_final_scan(&mut self) {
        let head = self.model.seq_next() - 1;
        let head_hash = self.model.slot(head).and_then(|s| s.chain);
        let log_id = self.model.log_id.unwrap_or(0);
        let head_hash =
            head_hash.unwrap_or_else(|| if head == 0 { chain::genesis(log_id) } else { [0; 32] });
        self.verify_scan(head, head_hash);
    }

    /// After the final clean close: the strict reader (the public read path) shows every
    /// record that must survive, byte-identical, with the chain hashes verified before.
    pub(crate) fn verify_strict_read(&mut self) {
        let head = self.model.seq_next() - 1;
        let reader = match Reader::open_with(self.disk.clone(), &self.dir, false) {
            Ok(r) => r,
            Err(e) => {
                self.violate(Invariant::I1, Outcome::SilentLoss, format!("reader: {e}"));
                return;
            }
        };
        let log_id = self.model.log_id.unwrap_or(0);
        let mut state = ReadState { chain: chain::genesis(log_id), expected: 1, ts_prev: None };
        let items = match reader.replay(1..=u64::MAX) {
            Ok(items) => items,
            Err(e) => {
                self.violate(Invariant::I1, Outcome::SilentLoss, format!("replay: {e}"));
                return;
            }
        };
        let mut buf = Vec::new();
        for item in items {
            let stored = match item {
                Ok(s) => s,
                Err(e) => {
                    self.violate(Invariant::I2, Outcome::Phantom, format!("record: {e}"));
                    return;
                }
            };
            buf.clear();
            if stored.event.encode_body(&mut buf).is_err() {
                buf.clear();
            }
            let record = ReadRecord {
                seq: stored.seq,
                timestamp_nanos: stored.timestamp_nanos,
                clock_adjusted: stored.clock_adjusted,
                link: Link::Known(stored.chain_hash),
            };
            if !self.check_record(&mut state, &record, &buf, head) {
                return;
            }
        }
        self.finish_read(&state, head, None);
    }

    /// One record read back against the model.
    fn check_record(
        &mut self,
        state: &mut ReadState,
        r: &ReadRecord,
        body: &[u8],
        head: u64,
    ) -> bool {
        self.check(Invariant::I2);
        self.check(Invariant::I3);
        if r.seq != state.expected || r.seq > head {
            let (class, what) = if r.seq < state.expected {
                (Outcome::Phantom, "a duplicate")
            } else if r.seq > head {
                (Outcome::Phantom, "past the recovered head")
            } else {
                (Outcome::Order, "after a gap")
            };
            self.divergence(r.seq, "expected", state.expected);
            self.violate(
                if class == Outcome::Order { Invariant::I3 } else { Invariant::I2 },
                class,
                format!("seq {} read back {what} (expected seq {})", r.seq, state.expected),
            );
            return false;
        }
        let Some(slot) = self.model.slot(r.seq).copied() else {
            self.violate(
                Invariant::I2,
                Outcome::Phantom,
                format!("seq {} was never written", r.seq),
            );
            return false;
        };
        self.check(Invariant::I1);
        let submitted = *self.model.submitted(slot.sub);
        let bytes_equal = self.model.body(slot.sub) == body;
        if !bytes_equal || submitted.timestamp_nanos != r.timestamp_nanos {
            let class =
                if slot.must_survive() { Outcome::SilentCorruption } else { Outcome::Phantom };
            self.divergence(r.seq, "bytes", 0);
            self.violate(
                if class == Outcome::Phantom { Invariant::I2 } else { Invariant::I1 },
                class,
                format!(
                    "seq {} read back with other bytes than written (body equal: {bytes_equal}, \
                     timestamp {} vs {})",
                    r.seq, r.timestamp_nanos, submitted.timestamp_nanos
                ),
            );
            return false;
        }
        if !self.check_link(state, r, body, slot.chain) {
            return false;
        }
        self.check(Invariant::I14);
        let below = state.ts_prev.is_some_and(|p| r.timestamp_nanos < p);
        if r.clock_adjusted != below {
            self.violate(
                Invariant::I14,
                Outcome::Timestamp,
                format!(
                    "seq {}: clock_adjusted={} but its timestamp {} is {} the previous record's \
                     {:?}",
                    r.seq,
                    r.clock_adjusted,
                    r.timestamp_nanos,
                    if below { "below" } else { "not below" },
                    state.ts_prev
                ),
            );
            return false;
        }
        if r.clock_adjusted {
            self.hit(Branch::ClockAdjusted);
        }
        state.ts_prev = Some(r.timestamp_nanos);
        state.expected += 1;
        true
    }

    /// I4 and the receipt half of I1: the record links to the chain so far (followed from
    /// genesis), and the chain after it equals its receipt (or the value verified before).
    fn check_link(
        &mut self,
        state: &mut ReadState,
        r: &ReadRecord,
        body: &[u8],
        known: Option<Hash>,
    ) -> bool {
        self.check(Invariant::I4);
        let after = match r.link {
            Link::Scanned { prev, leaf } => {
                if prev != state.chain {
                    self.violate(
                        Invariant::I4,
                        Outcome::Chain,
                        format!("the chain breaks at seq {}: its predecessor hash is not the chain from genesis", r.seq),
                    );
                    return false;
                }
                chain::link(&state.chain, &leaf)
            }
            Link::Known(hash) => hash,
        };
        let expected = match known {
            Some(expected) => expected,
            // Not acked and not read back before (a record of an interrupted batch that a
            // recovery kept): recompute its link from the chain so far.
            None => {
                let log_id = self.model.log_id.unwrap_or(0);
                let flags = if r.clock_adjusted { FLAG_CLOCK_ADJUSTED } else { 0 };
                let leaf = chain::leaf_hash(log_id, r.seq, r.timestamp_nanos, flags, 0, body);
                chain::link(&state.chain, &leaf)
            }
        };
        if expected != after {
            self.violate(
                Invariant::I1,
                Outcome::Chain,
                format!(
                    "seq {}: the chain hash differs from {}",
                    r.seq,
                    if known.is_some() { "its receipt" } else { "the chain from genesis" }
                ),
            );
            return false;
        }
        self.model.set_chain(r.seq, after);
        state.chain = after;
        true
    }

    fn finish_read(&mut self, state: &ReadState, head: u64, head_hash: Option<Hash>) -> bool {
        let read = state.expected - 1;
        if read < head {
            let missing = read + 1;
            let must = self.model.slot(missing).is_some_and(|s| s.must_survive());
            self.divergence(missing, "missing", 0);
            self.violate(
                Invariant::I1,
                if must { Outcome::SilentLoss } else { Outcome::Order },
                format!("the log's head is seq {head} but seq {missing} cannot be read back"),
            );
            return false;
        }
        if let Some(h) = head_hash {
            if h != state.chain {
                self.violate(
                    Invariant::I4,
                    Outcome::Chain,
                    format!("the recovered head hash differs from the chain recomputed to {head}"),
                );
                return false;
            }
        }
        for seq in head + 1..=self.model.must_survive_max() {
            let must = self.model.slot(seq).is_some_and(|s| s.must_survive());
            if !must {
                continue;
            }
            if self.excused_from.is_some_and(|e| seq >= e) {
                // Acked, unproven and damaged at rest: outside the single-copy model. The acked
                // head may regress here without that being a rollback (I11).
                self.excused += 1;
                self.model.acked_max = self.model.acked_max.min(head);
                continue;
            }
            self.divergence(seq, "lost", 0);
            self.violate(
                Invariant::I1,
                Outcome::SilentLoss,
                format!(
                    "seq {seq} was {} but the recovered log ends at seq {head}",
                    match self.model.slot(seq).map(|s| s.state) {
                        Some(SlotState::Acked(_)) => "acknowledged",
                        _ => "recovered earlier",
                    }
                ),
            );
            return false;
        }
        true
    }

    /// Fills the failure card's model-vs-recovered rows around `seq`.
    fn divergence(&mut self, seq: u64, what: &str, other: u64) {
        if self.detail.is_none() {
            return;
        }
        let mut rows = Vec::new();
        for s in seq.saturating_sub(2).max(1)..=seq + 2 {
            let model = match self.model.slot(s) {
                Some(slot) => {
                    let sub = self.model.submitted(slot.sub);
                    let state = match slot.state {
                        SlotState::Acked(_) => "acked",
                        SlotState::Committed => "recovered",
                        SlotState::Written => "written (unacked)",
                    };
                    format!(
                        "{state}, writer {}, ts {}, {} bytes, xxh3 {:016x}",
                        sub.writer,
                        sub.timestamp_nanos,
                        self.model.body(slot.sub).len(),
                        xxhash_rust::xxh3::xxh3_64(self.model.body(slot.sub))
                    )
                }
                None => "—".to_owned(),
            };
            let recovered = if s == seq {
                match what {
                    "expected" => format!("read where seq {other} was expected"),
                    "bytes" => "read with different bytes".to_owned(),
                    "missing" => "missing".to_owned(),
                    "lost" => "missing (past the recovered head)".to_owned(),
                    _ => what.to_owned(),
                }
            } else if s < seq {
                "read, equal".to_owned()
            } else {
                "—".to_owned()
            };
            rows.push((s, model, recovered));
        }
        if let Some(d) = &mut self.detail {
            d.divergence = rows;
        }
    }
}

/// The state of a read-back pass.
struct ReadState {
    chain: Hash,
    expected: u64,
    ts_prev: Option<i64>,
}

/// What a read-back pass needs of a stored event.
struct ReadRecord {
    seq: u64,
    timestamp_nanos: i64,
    clock_adjusted: bool,
    link: Link,
}

/// How a read-back record ties into the chain.
#[derive(Clone, Copy)]
enum Link {
    /// From a scan: the predecessor it names and its leaf hash over the stored bytes.
    Scanned { prev: Hash, leaf: Hash },
    /// From the reader: the chain hash after it.
    Known(Hash),
}

/// The body of the record at `offset` (its length is in the header, bytes 8..12).
fn record_body(bytes: &[u8], offset: u64) -> &[u8] {
    let at = offset as usize;
    let len = bytes
        .get(at + 8..at + 12)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(0, |b| u32::from_le_bytes(b) as usize);
    let start = at + RECORD_HEADER_LEN;
    bytes.get(start..start + len).unwrap_or(&[])
}

/// Whether two recovery reports agree, but for cuts of a torn first commit marker. The open's
/// last step writes that marker unsynced, after every decision of recovery is durable: a power
/// loss after (or during) an interrupted attempt's marker tears it, and the next open rightly
/// cuts the torn bytes, which the uninterrupted reference never wrote.
fn same_but_torn_markers(reference: &RecoveryReport, result: &RecoveryReport) -> bool {
    let kept = |r: &RecoveryReport| -> Vec<QuarantineEntry> {
        let head = r.seq_next - 1;
        r.cuts.iter().filter(|c| !is_torn_marker_cut(c, head)).cloned().collect()
    };
    let (a, b) = (kept(reference), kept(result));
    reference.log_id == result.log_id
        && reference.segments == result.segments
        && reference.events == result.events
        && reference.seq_next == result.seq_next
        && reference.head_hash == result.head_hash
        && a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| same_cut(x, y))
}

/// A cut of at most one commit marker's bytes, right after a fresh segment's header, holding no
/// event (it starts past the head).
fn is_torn_marker_cut(cut: &QuarantineEntry, head: u64) -> bool {
    cut.reason.is_some()
        && cut.offset == SEGMENT_HEADER_LEN as u64
        && cut.len <= COMMIT_RECORD_LEN as u64
        && cut.seq_range.0 > head
}

/// The same cut: place, length, seqs and reason (the quarantine file's repeat name may differ
/// when a torn marker was cut at the same place first).
fn same_cut(a: &QuarantineEntry, b: &QuarantineEntry) -> bool {
    (a.segment, a.offset, a.len, a.seq_range, &a.reason)
        == (b.segment, b.offset, b.len, b.seq_range, &b.reason)
}

fn verdict_text(v: &recovery::Verdict) -> String {
    match v {
        recovery::Verdict::Clean(h) => format!("clean, but at head {}", h.seq_next - 1),
        recovery::Verdict::Tail { cut, .. } => {
            format!(
                "a tail to cut at segment {} offset {} ({:?})",
                cut.segment, cut.offset, cut.reason
            )
        }
        recovery::Verdict::Corrupt(c) => format!("corruption: {c}"),
    }
}

/// Recovery attempts per open before faults are healed.
const RECOVERY_ATTEMPTS: u32 = 6;
/// The share of uneventful recoveries that get a full read-back (see `verify_recovered`).
const FULL_VERIFY_SHARE: f64 = 0.25;

fn describe(r: &Result<&RecoveryReport, &Error>) -> String {
    match r {
        Ok(r) => format!(
            "head {} hash {} events {} segments {} cuts {}",
            r.seq_next - 1,
            hex8(&r.head_hash),
            r.events,
            r.segments,
            r.cuts.len()
        ),
        Err(e) => format!("error: {e}"),
    }
}

fn hex8(h: &Hash) -> String {
    h.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
