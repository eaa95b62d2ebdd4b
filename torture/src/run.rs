//! One simulated run: the deterministic scheduler that drives the WAL writer the way
//! production's thread glue (`core/src/sink.rs`) does, through crashes and faults, and checks
//! the invariants after every recovery.
//!
//! The run owns one [`Sim`] and nothing else: no thread, no wall clock, no global state. Every
//! choice comes from the seed (the knobs' stream, the harness's `sched` stream, and the
//! simulator's own streams), so a seed replays byte for byte.
//!
//! Shape of a run:
//! 1. setup: the log's parent directory exists and is durable; sometimes the log directory too;
//! 2. `cycles` times: open (recover, verify), a write phase (logical writers enqueue events in
//!    seed-chosen order, the group-commit leader appends batches, the background preparer runs
//!    at seed-chosen moments, faults are injected), then an end: kill -9, power loss, clean
//!    close, or a reopen in the same process after a failed fsync;
//! 3. the final phase: faults healed, recover and verify, append a few events (liveness), close
//!    cleanly and read everything back through the strict reader.
//!
//! Every step of open, commit and close is production's own: the log engine (`wal::log::Log`)
//! that `Sink` wraps. The harness plays only the sink's thread glue, with seeded interleavings:
//! encode the event into the pending batch (`Event::encode_body` +
//! `Batch::push_body_written`), take at most `batch_max` events as the leader, hand over a
//! background-prepared segment when the engine's `SegmentNext` names it (running the preparer
//! first when the leader would wait for it), `Log::commit`, the due checkpoint after the acks,
//! and the preparation the commit asked for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mtlog_audit::error::Error;
use mtlog_audit::event::{Event, EventId, Level, Value};
use mtlog_audit::integrity::chain::Hash;
use mtlog_audit::io::{Clock, Disk, Entropy};
use mtlog_audit::wal::format::SegmentId;
use mtlog_audit::wal::log::{Log, Marker, SegmentNext};
use mtlog_audit::wal::segment::Prepared;
use mtlog_audit::wal::writer::Batch;
use mtlog_audit_sim::{CrashKind, FaultKind, Rng, Sim, SimClock, SimDisk, SimEntropy, SimFile};

use crate::coverage::{Branch, Fault};
use crate::knobs::{Knobs, Overrides, Scenario};
use crate::model::Model;
use crate::outcome::{
    Counters, Invariant, Outcome, RunDetail, RunResult, TimelineEvent, Violation, INVARIANTS,
};

/// The log directory inside the simulated file system.
pub const LOG_DIR: &str = "/audit/log";
/// Its parent, created durable before the run.
const PARENT_DIR: &str = "/audit";
/// Open handles (files and locks) one process may hold: the lock, the active segment, a
/// prepared one, one being prepared or read, and slack for recovery's quarantine files.
pub const HANDLES_MAX: u64 = 8;
/// Events appended in the liveness phase.
const LIVENESS_EVENTS: u32 = 3;
/// The share of runs whose final read-back goes through the public strict `Reader`.
const STRICT_READ_SHARE: f64 = 0.25;
/// The message template of every event.
const TEMPLATE: &str = "Writer {Writer} event {N}";

/// How much to keep of a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    /// Keep the text trace and timeline (replay, failure cards).
    pub detail: bool,
    /// How many trace lines to keep when `detail` is on.
    pub trace_lines: usize,
}

/// Runs one seed of one scenario. Never panics: a panic inside becomes [`Outcome::Panic`].
pub fn run_one(seed: u64, scenario: Scenario, options: &RunOptions) -> RunResult {
    run_with(seed, scenario, &Overrides::default(), options)
}

/// As [`run_one`], with some knobs overridden (a shrunk run).
pub fn run_with(
    seed: u64,
    scenario: Scenario,
    overrides: &Overrides,
    options: &RunOptions,
) -> RunResult {
    let knobs = Knobs::draw_with(seed, scenario, overrides);
    let sim = Sim::new(knobs.seed, knobs.faults.clone());
    if options.detail {
        sim.enable_trace_log(options.trace_lines.max(1));
    }
    crate::panics::install_quiet_hook();
    let caught = crate::panics::in_run(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Run::new(&knobs, options, sim.clone()).execute()
        }))
    });
    match caught {
        Ok(result) => result,
        Err(payload) => panic_result(&knobs, options, &sim, payload),
    }
}

fn panic_result(
    knobs: &Knobs,
    options: &RunOptions,
    sim: &Sim,
    payload: Box<dyn std::any::Any + Send>,
) -> RunResult {
    // The simulator's state is intact unless the panic struck inside it (then its lock is
    // poisoned and reading it panics again: keep what can be had).
    let trace = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        (sim.trace_hash(), sim.trace_events(), sim.trace_log())
    }))
    .ok();
    let message = crate::panics::take_message().unwrap_or_else(|| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-text payload".to_owned())
    });
    RunResult {
        seed: knobs.seed,
        scenario: knobs.scenario,
        outcome: Outcome::Panic,
        violations: vec![Violation {
            invariant: Invariant::I9,
            class: Outcome::Panic,
            detail: message,
        }],
        trace_hash: trace.as_ref().map_or(0, |t| t.0),
        trace_events: trace.as_ref().map_or(0, |t| t.1),
        counters: Counters::default(),
        faults: 0,
        branches: 0,
        checks: [0; INVARIANTS.len()],
        excused: 0,
        detail: options.detail.then(|| {
            let (lines, dropped) = trace.map(|t| t.2).unwrap_or_default();
            RunDetail {
                knobs: knobs.to_string(),
                trace: lines,
                trace_dropped: dropped,
                ..RunDetail::default()
            }
        }),
    }
}

/// A logical writer (an emitting thread in production).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Client {
    /// Free to emit.
    Ready,
    /// Its event is queued or being written: `emit` has not returned.
    Waiting,
    /// Thinking until its timer fires.
    Sleeping,
}

/// The background preparer's slot, as in `sink.rs`.
pub(crate) enum Prep {
    Idle,
    Requested(SegmentId),
    Ready(Prepared<SimFile>),
}

/// An open log: the engine and the sink-level state around it.
pub(crate) struct OpenLog {
    pub(crate) log: Log<SimDisk>,
    /// The pending batch: everything enqueued since the last leader took it.
    pub(crate) queue: Batch,
    /// Per queued event: (client, submitted index).
    pub(crate) queue_subs: Vec<(usize, usize)>,
    pub(crate) prep: Prep,
    /// Whether an append failed with DiskFull in this process (for the resume branch).
    pub(crate) disk_full_seen: bool,
}

/// How a write phase ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PhaseEnd {
    /// Every event of the phase was handled.
    Done,
    /// The writer is poisoned.
    Poisoned,
    /// An armed crash point killed the process.
    Died,
    /// A violation (or a reported corruption) stopped the run.
    Stopped,
}

/// A fault region the harness injected at rest (or a misdirected write's damage), kept to judge
/// the next recoveries (I5).
#[derive(Clone, Debug)]
pub(crate) struct AtRest {
    pub(crate) what: &'static str,
    pub(crate) segment: SegmentId,
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// Seqs of must-survive records whose bytes the fault hit (when injected).
    pub(crate) victims: Vec<u64>,
    /// Whether a recovery has judged it.
    pub(crate) judged: bool,
    /// Whether the damage shows yet: a misdirected write shows only after a crash.
    pub(crate) visible: bool,
    /// Whether this is where a misdirected write landed.
    pub(crate) landing: bool,
}

/// One run. See the module docs.
pub(crate) struct Run<'k> {
    pub(crate) knobs: &'k Knobs,
    pub(crate) sim: Sim,
    pub(crate) disk: Arc<SimDisk>,
    pub(crate) clock: SimClock,
    pub(crate) entropy: SimEntropy,
    pub(crate) rng: Rng,
    pub(crate) model: Model,
    pub(crate) dir: PathBuf,
    clients: Vec<Client>,
    timers: BTreeMap<u64, usize>,
    pub(crate) log: Option<OpenLog>,
    /// Events still to submit in this run.
    to_submit: u32,
    payload: Vec<u8>,
    encode_buf: Vec<u8>,
    hashes: Vec<Hash>,
    spare: Batch,
    pub(crate) at_rest: Vec<AtRest>,
    /// Seqs at or above this, if lost, are excused (acked but unproven, hit by an at-rest or
    /// misdirected fault: outside the single-copy model).
    pub(crate) excused_from: Option<u64>,
    pub(crate) excused: u32,
    pub(crate) cuts_seen: usize,
    pub(crate) violations: Vec<Violation>,
    pub(crate) corruption_detected: bool,
    pub(crate) checks: [u32; INVARIANTS.len()],
    pub(crate) faults: u64,
    pub(crate) branches: u64,
    pub(crate) counters: Counters,
    pub(crate) detail: Option<RunDetail>,
    ledger_seen: usize,
    mono_start: u64,
    commits: u64,
    /// Events the last append made durable.
    last_durable: usize,
    /// Whether the last thing that happened to the machine was a crash (a fresh process, no
    /// failed fsync remembered): recoveries interrupted by crashes are compared only then.
    pub(crate) fresh_process: bool,
    /// Whether the recovery under way judged injected damage (it then gets a full read-back).
    pub(crate) judged_now: bool,
    /// The largest checkpoint whose write returned (I17: it must survive, and later ones may
    /// not be smaller).
    pub(crate) checkpoint_written_max: u64,
    /// Checkpoint files whose signature verified, by path and content hash: (size, root).
    pub(crate) checkpoints_verified: BTreeMap<(PathBuf, u64), (u64, Hash)>,
    /// The checkpoint key, when signing is on (derived once: key derivation is not free).
    pub(crate) signer: Option<mtlog_audit::integrity::note::Signer>,
}

impl<'k> Run<'k> {
    fn new(knobs: &'k Knobs, options: &RunOptions, sim: Sim) -> Run<'k> {
        let disk = Arc::new(sim.disk());
        let clock = sim.clock();
        let entropy = sim.entropy();
        let mono_start = clock.now();
        let mut rng = Rng::new(knobs.seed).fork("sched");
        let payload_len = knobs.payload_max.max(1);
        let mut payload = vec![0u8; payload_len];
        rng.fill(&mut payload);
        Run {
            knobs,
            sim,
            disk,
            clock,
            entropy,
            rng,
            model: Model::default(),
            dir: PathBuf::from(LOG_DIR),
            clients: vec![Client::Ready; knobs.writers],
            timers: BTreeMap::new(),
            log: None,
            to_submit: knobs.events,
            payload,
            encode_buf: Vec::new(),
            hashes: Vec::new(),
            spare: Batch::default(),
            at_rest: Vec::new(),
            excused_from: None,
            excused: 0,
            cuts_seen: 0,
            violations: Vec::new(),
            corruption_detected: false,
            checks: [0; INVARIANTS.len()],
            faults: 0,
            branches: 0,
            counters: Counters::default(),
            detail: options
                .detail
                .then(|| RunDetail { knobs: knobs.to_string(), ..RunDetail::default() }),
            ledger_seen: 0,
            mono_start,
            commits: 0,
            last_durable: 0,
            fresh_process: true,
            judged_now: false,
            checkpoint_written_max: 0,
            checkpoints_verified: BTreeMap::new(),
            signer: knobs.features.signing.then(|| crate::checkpoints::signer(knobs.seed)),
        }
    }

    fn execute(mut self) -> RunResult {
        self.setup();
        for cycle in 0..self.knobs.cycles {
            if self.stopped() || !self.open_log(cycle) {
                break;
            }
            let end = self.write_phase(cycle);
            if end == PhaseEnd::Stopped || self.stopped() {
                break;
            }
            self.end_cycle(end);
        }
        if !self.stopped() {
            self.final_phase();
        }
        self.finish()
    }

    /// Whether the run is over (a violation, or a correctly reported corruption).
    pub(crate) fn stopped(&self) -> bool {
        !self.violations.is_empty() || self.corruption_detected
    }

    /// Records a violation; the run stops at the next check of [`Run::stopped`].
    pub(crate) fn violate(&mut self, invariant: Invariant, class: Outcome, detail: String) {
        self.note_timeline("check", format!("{} {}: {detail}", invariant.id(), class));
        self.violations.push(Violation { invariant, class, detail });
    }

    /// Counts one check of `invariant`.
    pub(crate) fn check(&mut self, invariant: Invariant) {
        self.checks[invariant.index()] += 1;
    }

    pub(crate) fn hit(&mut self, branch: Branch) {
        self.branches |= branch.bit();
    }

    pub(crate) fn hit_fault(&mut self, fault: Fault) {
        self.faults |= fault.bit();
    }

    /// Adds a harness note to the trace (hashed in every mode) and the timeline (detail only).
    pub(crate) fn note(&mut self, lane: &'static str, text: &str) {
        self.sim.note(text);
        if self.detail.is_some() {
            self.note_timeline(lane, text.to_owned());
        }
    }

    pub(crate) fn note_timeline(&mut self, lane: &'static str, label: String) {
        if self.detail.is_none() {
            return;
        }
        self.pull_ledger_to_timeline();
        let at_nanos = self.clock.now() - self.mono_start;
        if let Some(d) = &mut self.detail {
            d.timeline.push(TimelineEvent { at_nanos, lane, label });
        }
    }

    /// In detail mode, puts faults the simulator injected since the last look on the timeline.
    fn pull_ledger_to_timeline(&mut self) {
        let Some(d) = &mut self.detail else { return };
        let at_nanos = self.clock.now() - self.mono_start;
        for record in self.sim.ledger_since(self.ledger_seen) {
            self.ledger_seen += 1;
            let label = format!(
                "{} {:?} {} off={} len={} durable={}",
                record.kind.model_id(),
                record.kind,
                record.path.display(),
                record.offset,
                record.len,
                record.durable
            );
            d.timeline.push(TimelineEvent { at_nanos, lane: "fault", label });
        }
    }

    fn setup(&mut self) {
        // The deployment is not under test: no faults while it is laid out.
        let faults = self.sim.faults();
        self.sim.set_faults(mtlog_audit_sim::FaultConfig::none());
        self.lay_out();
        self.sim.set_faults(faults);
    }

    fn lay_out(&mut self) {
        let parent = Path::new(PARENT_DIR);
        // The deployment: the parent directory exists and is durable. Half the seeds also
        // pre-create the log directory durably; the others leave it to the log's first open.
        self.disk.create_dir_all(parent).expect("the simulator creates a directory");
        self.disk.sync_dir(Path::new("/")).ok();
        if self.rng.chance(0.5) {
            self.disk.create_dir_all(&self.dir).expect("the simulator creates a directory");
            self.disk.sync_dir(parent).ok();
            self.note("app", "setup: log directory pre-created and durable");
        } else {
            self.note("app", "setup: log directory left to the first open");
        }
    }

    // ---- the write phase ----

    /// Runs writers and the leader until this cycle's share of events is handled, the writer is
    /// poisoned, or the process dies.
    fn write_phase(&mut self, cycle: u32) -> PhaseEnd {
        let last = cycle + 1 == self.knobs.cycles;
        let share = if last {
            self.to_submit
        } else {
            self.rng.range_inclusive(0, u64::from(self.to_submit)) as u32
        };
        let mut budget = share;
        self.note("app", &format!("cycle {cycle}: write phase, {share} events"));
        // Each trigger fires once, at the first step after `share - budget` events reached it.
        let mut arm_at = self.choose_mid_io_kill(share);
        let mut corrupt_at =
            self.choose_step(self.knobs.features.concurrent_corruption, share, 0.7);
        let mut misdirect_at = self.choose_step(self.knobs.features.misdirected, share, 0.7);
        let mut disk_full_at = self.choose_step(self.knobs.features.disk_full, share, 0.8);
        let mut full_errors = 0u32;
        let mut steps = 0u64;
        loop {
            if self.disk.is_dead() {
                return PhaseEnd::Died;
            }
            if self.stopped() {
                return PhaseEnd::Stopped;
            }
            if self.log.as_ref().is_some_and(|l| l.log.writer().poison().is_some()) {
                return PhaseEnd::Poisoned;
            }
            steps += 1;
            let handled = share - budget;
            if due(&mut disk_full_at, handled) {
                let free = self.rng.below(2 * self.knobs.segment_bytes);
                self.disk.set_free_bytes(free);
                self.note("fault", &format!("disk 99% full: {free} bytes free"));
            }
            if due(&mut corrupt_at, handled) {
                self.inject_concurrent();
            }
            let queued = !self.queue_is_empty();
            let misdirect = queued && due(&mut misdirect_at, handled);
            let arm = queued && due(&mut arm_at, handled);
            match self.step(&mut budget, misdirect, arm) {
                Step::Progress => {}
                Step::DiskFull => {
                    full_errors += 1;
                    if full_errors >= 2 || self.rng.chance(0.3) {
                        self.disk.set_capacity(None);
                        self.note("app", "operator frees disk space");
                    }
                }
                Step::Idle => return PhaseEnd::Done,
            }
            debug_assert!(steps < 1_000_000, "a write phase never ends");
        }
    }

    fn queue_is_empty(&self) -> bool {
        self.log.as_ref().is_none_or(|l| l.queue.is_empty())
    }

    /// The number of handled events at which to arm a mid-I/O crash, if this phase gets one.
    fn choose_mid_io_kill(&mut self, share: u32) -> Option<u32> {
        let f = self.knobs.features;
        if !(f.kill9 || f.power_loss) || share == 0 || !self.rng.chance(0.5) {
            return None;
        }
        Some(self.rng.below(u64::from(share)) as u32)
    }

    fn choose_step(&mut self, on: bool, share: u32, chance: f64) -> Option<u32> {
        if !on || share == 0 || !self.rng.chance(chance) {
            return None;
        }
        Some(self.rng.below(u64::from(share)) as u32)
    }

    /// One scheduler step: a commit, a preparation, an enqueue or a timer.
    fn step(&mut self, budget: &mut u32, misdirect: bool, arm: bool) -> Step {
        let log = self.log.as_ref().expect("a write phase runs on an open log");
        let queued = log.queue.len();
        let requested = matches!(log.prep, Prep::Requested(_));
        let can_enqueue = *budget > 0 && queued < self.knobs.queue_max;
        let ready: Vec<usize> = if *budget > 0 {
            (0..self.clients.len()).filter(|&c| self.clients[c] == Client::Ready).collect()
        } else {
            Vec::new()
        };
        if !ready.is_empty() && queued >= self.knobs.queue_max {
            self.hit(Branch::Backpressure);
        }
        if queued > 0
            && (ready.is_empty() || !can_enqueue || self.rng.chance(self.knobs.commit_bias))
        {
            return self.commit(budget, misdirect, arm);
        }
        if requested && self.rng.chance(self.knobs.prepare_bias) {
            self.prepare_in_background();
            return Step::Progress;
        }
        if can_enqueue && !ready.is_empty() {
            let client = ready[self.rng.index(ready.len())];
            self.enqueue(client, budget);
            return Step::Progress;
        }
        if !self.timers.is_empty() {
            self.fire_timer();
            return Step::Progress;
        }
        if queued > 0 {
            return self.commit(budget, misdirect, arm);
        }
        Step::Idle
    }

    fn fire_timer(&mut self) {
        if let Some(fired) = self.clock.advance_to_next_timer() {
            if let Some(client) = self.timers.remove(&fired.id.0) {
                self.clients[client] = Client::Ready;
            }
        } else {
            // The clock lost a timer we hold: wake everyone rather than stall.
            self.timers.clear();
            self.clients.iter_mut().for_each(|c| *c = Client::Ready);
        }
    }

    /// A client builds an event and queues it (`Sink::emit` up to the queue).
    fn enqueue(&mut self, client: usize, budget: &mut u32) {
        if self.knobs.features.clock_jumps && self.rng.chance(0.05) {
            let back = self.rng.log_uniform(3_600_000_000_000) as i64;
            let delta = if self.rng.chance(0.8) { -back } else { back };
            self.clock.step_wall(delta);
            self.hit_fault(if delta < 0 { Fault::ClockStepBackward } else { Fault::ClockStep });
        }
        self.clock.advance(self.rng.log_uniform(100_000));
        let too_large = self.rng.chance(0.002);
        let event = self.build_event(client, too_large);
        self.encode_buf.clear();
        event.encode_body(&mut self.encode_buf).expect("harness events nest shallowly");
        if self.encode_buf.len() > self.knobs.body_max {
            // `Sink::emit` refuses before queueing: nothing stored, nothing acked.
            self.hit(Branch::RecordTooLarge);
            return;
        }
        let timestamp = event.timestamp_nanos;
        let sub = self.model.submit(&self.encode_buf, timestamp, client as u16);
        self.counters.submitted += 1;
        let log = self.log.as_mut().expect("enqueue on an open log");
        log.queue.bodies.extend_from_slice(&self.encode_buf);
        log.queue.push_body_written(timestamp, self.encode_buf.len());
        log.queue_subs.push((client, sub));
        assert!(log.queue.len() <= self.knobs.queue_max, "queue bound exceeded");
        self.clients[client] = Client::Waiting;
        *budget -= 1;
        self.to_submit -= 1;
    }

    fn build_event(&mut self, client: usize, too_large: bool) -> Event {
        let mut id = [0u8; 16];
        self.entropy.fill(&mut id);
        let timestamp = self.clock.wall_nanos();
        let level = match self.rng.below(6) {
            0 => Level::Verbose,
            1 => Level::Debug,
            2 => Level::Information,
            3 => Level::Warning,
            4 => Level::Error,
            _ => Level::Fatal,
        };
        let n = self.counters.submitted;
        let mut event = Event::new(EventId(id), timestamp, level, TEMPLATE);
        let bytes = if too_large {
            vec![0x5a; self.knobs.body_max + 1]
        } else {
            let span = (self.knobs.payload_max - self.knobs.payload_min) as u64;
            let len = self.knobs.payload_min + self.rng.range_inclusive(0, span) as usize;
            let start =
                self.rng.below((self.payload.len() - len.min(self.payload.len())) as u64 + 1);
            let start = start as usize;
            self.payload[start..start + len.min(self.payload.len() - start)].to_vec()
        };
        event.message = format!("Writer {client} event {n}");
        event.properties = vec![
            ("Writer".to_owned(), Value::U64(client as u64)),
            ("N".to_owned(), Value::U64(n)),
            ("Payload".to_owned(), Value::Bytes(bytes)),
        ];
        event
    }

    /// The group-commit leader: takes up to `batch_max` queued events and appends them.
    fn commit(&mut self, budget: &mut u32, misdirect: bool, arm: bool) -> Step {
        let mut batch = std::mem::take(&mut self.spare);
        batch.clear();
        let (subs, next) = {
            let log = self.log.as_mut().expect("commit on an open log");
            let take = log.queue.len().min(self.knobs.batch_max);
            log.queue.move_front_into(&mut batch, take);
            let subs: Vec<(usize, usize)> = log.queue_subs.drain(..take).collect();
            (subs, log.log.segment_next(&batch))
        };
        assert!(batch.len() <= self.knobs.batch_max, "batch bound exceeded");
        if subs.iter().any(|(c, _)| *c != subs[0].0) {
            self.hit(Branch::GroupCommit);
        }
        let prepared = self.take_prepared(next);
        let misdirected = if misdirect { self.misdirect_next_write() } else { None };
        if arm && misdirected.is_none() {
            let n = self.rng.below(8);
            self.disk.arm_crash_after(n);
            self.note("fault", &format!("kill armed: {n} more mutating ops"));
        }
        let seq_next = self.model.seq_next();
        let step = self.append(&batch, &subs, budget, prepared);
        if let Some(m) = misdirected {
            let acked_to = seq_next + self.last_durable as u64;
            self.resolve_misdirect(m, seq_next..acked_to);
        }
        self.spare = batch;
        self.commits += 1;
        self.check_handles();
        step
    }

    /// `take_prepared` of `sink.rs`: a prepared segment goes to the engine if it is the next
    /// one; if the preparer is still on it and the batch may rotate, the leader waits for it
    /// (here: runs it now).
    fn take_prepared(&mut self, next: SegmentNext) -> Option<Prepared<SimFile>> {
        let log = self.log.as_mut().expect("open log");
        if matches!(log.prep, Prep::Requested(id) if next.waits_for(id)) {
            self.prepare_in_background();
        }
        let log = self.log.as_mut().expect("open log");
        if !matches!(&log.prep, Prep::Ready(p) if next.installs(p.id)) {
            return None;
        }
        let Prep::Ready(p) = std::mem::replace(&mut log.prep, Prep::Idle) else { return None };
        self.hit(Branch::PreparedInstalled);
        Some(p)
    }

    /// The background preparer's work (`run_preparer` of `sink.rs`), at a seed-chosen moment.
    fn prepare_in_background(&mut self) {
        let log = self.log.as_mut().expect("open log");
        let Prep::Requested(id) = log.prep else { return };
        let result = log.log.preparer().prepare(id);
        // On error the writer prepares synchronously at rotation (as in production).
        log.prep = match result {
            Ok(p) => Prep::Ready(p),
            Err(_) => Prep::Idle,
        };
    }

    /// `Log::commit` and everything the leader does around it; acks go back to clients.
    fn append(
        &mut self,
        batch: &Batch,
        subs: &[(usize, usize)],
        budget: &mut u32,
        prepared: Option<Prepared<SimFile>>,
    ) -> Step {
        let ledger_before = self.sim.ledger_len();
        let active_before =
            self.log.as_ref().map(|l| l.log.writer().active_segment().0).unwrap_or(0);
        let acked_max_before = self.model.acked_max;
        let mut hashes = std::mem::take(&mut self.hashes);
        hashes.clear();
        let OpenLog { log, queue, prep, .. } = self.log.as_mut().expect("open log");
        let committed = log.commit(batch, &mut hashes, prepared, || queue.is_empty());
        if let Some(id) = committed.prepare {
            if matches!(prep, Prep::Idle) {
                *prep = Prep::Requested(id);
            }
        }
        let appended = committed.appended;
        let durable = appended.durable;
        self.last_durable = durable;
        let poisoned = log.writer().poison().is_some();
        let active_after = log.writer().active_segment().0;
        self.counters.batches += 1;
        if active_after > active_before {
            self.counters.rotations += active_after - active_before;
            self.hit(Branch::Rotation);
        }
        if self.disk.is_dead() {
            // The process died inside the append: what it returned never reached anyone. A
            // kill after the sync would still have acked in production (the leader publishes
            // after `append` returns), so acks up to `durable` stand.
            self.hit_fault(Fault::KillMidIo);
        }
        // One check for the commit: an EIO in the append or in the marker after it must
        // surface from one of them and poison the log.
        let marker_failed = matches!(committed.marker, Marker::Failed(_));
        self.check_failstop(ledger_before, appended.error.is_some() || marker_failed, "commit");
        if matches!(committed.marker, Marker::Written) {
            self.hit(Branch::CommitMarker);
        }
        let sub_ids: Vec<usize> = subs.iter().map(|(_, s)| *s).collect();
        if durable > 0 && appended.seq_first <= acked_max_before {
            self.check(Invariant::I11);
            self.violate(
                Invariant::I11,
                Outcome::SilentLoss,
                format!("seq {} acked again after {acked_max_before}", appended.seq_first),
            );
        }
        if let Err(m) =
            self.model.appended(appended.seq_first, &sub_ids, &hashes[..durable], poisoned)
        {
            self.violate(
                Invariant::I3,
                Outcome::Order,
                format!("writer used seq {} where the model expected {}", m.found, m.expected),
            );
        }
        self.counters.acked += durable as u64;
        self.check(Invariant::I11);
        for (i, &(client, _)) in subs.iter().enumerate() {
            if i < durable {
                self.after_ack(client);
            } else {
                self.clients[client] = Client::Ready;
                if !poisoned {
                    *budget += 1;
                    self.to_submit += 1;
                }
            }
        }
        self.hashes = hashes;
        if self.detail.is_some() {
            let label = format!(
                "commit {} events: {} acked from seq {}{}",
                batch.len(),
                durable,
                appended.seq_first,
                appended.error.as_ref().map(|e| format!(", error: {e}")).unwrap_or_default()
            );
            self.note_timeline("app", label);
        }
        if committed.checkpoint_due {
            self.write_checkpoint();
        }
        match appended.error {
            None => {
                if let Some(log) = &mut self.log {
                    if std::mem::take(&mut log.disk_full_seen) {
                        self.hit(Branch::DiskFullResume);
                    }
                }
                Step::Progress
            }
            Some(Error::DiskFull { .. }) if !poisoned => {
                if let Some(log) = &mut self.log {
                    log.disk_full_seen = true;
                }
                Step::DiskFull
            }
            Some(_) => {
                if !self.disk.is_dead() {
                    self.hit(Branch::FailStop);
                    self.probe_failstop();
                }
                Step::Progress
            }
        }
    }

    fn after_ack(&mut self, client: usize) {
        let think = self.rng.below(self.knobs.think_nanos_max + 1);
        if think == 0 {
            self.clients[client] = Client::Ready;
        } else {
            let timer = self.clock.schedule_after(think);
            self.timers.insert(timer.0, client);
            self.clients[client] = Client::Sleeping;
        }
    }

    /// The checkpoint a commit said is due, written after the batch's acks (as the sink's
    /// leader does, after publishing). A failure goes to the failure handler in production:
    /// the events are durable and acknowledged regardless.
    fn write_checkpoint(&mut self) {
        let Some(log) = &self.log else { return };
        let written = log.log.checkpoint();
        let seq_durable = log.log.writer().seq_durable();
        self.note("app", &format!("checkpoint: {}", describe_checkpoint(&written)));
        self.judge_checkpoint_write(&written, seq_durable);
    }

    /// I9: an EIO injected during a writer call must surface as an error and poison the
    /// writer.
    fn check_failstop(&mut self, ledger_before: usize, call_failed: bool, what: &str) {
        self.check(Invariant::I9);
        if self.disk.is_dead() {
            return;
        }
        // The WAL's files only: a checkpoint or Merkle cache that fails to write is reported
        // (or counted) and retried later, and never poisons the log.
        let eio = self.sim.ledger_since(ledger_before).iter().any(|r| {
            !self.is_checkpoint_path(&r.path)
                && matches!(
                    r.kind,
                    FaultKind::SyncError | FaultKind::WriteError | FaultKind::SyncDirError
                )
        });
        if !eio {
            return;
        }
        let poisoned = self.log.as_ref().is_some_and(|l| l.log.writer().poison().is_some());
        if !call_failed || !poisoned {
            self.violate(
                Invariant::I9,
                Outcome::NoFailstop,
                format!(
                    "an EIO was injected during {what}, which returned {} with the writer {}",
                    if call_failed { "an error" } else { "success" },
                    if poisoned { "poisoned" } else { "not poisoned" }
                ),
            );
        }
    }

    /// Whether `path` is the checkpointer's (checkpoints, Merkle caches), not the WAL's.
    fn is_checkpoint_path(&self, path: &Path) -> bool {
        let checkpoints = self.dir.join(mtlog_audit::integrity::store::CHECKPOINTS_DIR);
        let merkle = self.dir.join(mtlog_audit::integrity::store::MERKLE_DIR);
        path.starts_with(&checkpoints) || path.starts_with(&merkle)
    }

    /// I9: a poisoned writer accepts nothing and touches nothing.
    fn probe_failstop(&mut self) {
        self.check(Invariant::I9);
        let stats_before = self.disk.stats();
        let log = self.log.as_mut().expect("open log");
        let mut probe = Batch::default();
        probe.bodies.extend_from_slice(b"probe");
        probe.push_body_written(0, 5);
        let mut hashes = Vec::new();
        let appended = log.log.commit(&probe, &mut hashes, None, || true).appended;
        let stats_after = self.disk.stats();
        let touched =
            stats_after.writes != stats_before.writes || stats_after.syncs != stats_before.syncs;
        if appended.durable != 0 || appended.error.is_none() || touched {
            self.violate(
                Invariant::I9,
                Outcome::NoFailstop,
                format!(
                    "a poisoned writer accepted a batch: durable={} error={} io={}",
                    appended.durable,
                    appended.error.is_some(),
                    touched
                ),
            );
        }
    }

    /// I13: open handles stay bounded.
    pub(crate) fn check_handles(&mut self) {
        self.check(Invariant::I13);
        let handles = self.disk.open_handles();
        if handles > HANDLES_MAX {
            self.violate(
                Invariant::I13,
                Outcome::Resource,
                format!("{handles} open handles, bound {HANDLES_MAX}"),
            );
        }
    }

    // ---- the end of a cycle ----

    fn end_cycle(&mut self, end: PhaseEnd) {
        let f = self.knobs.features;
        let kind = match end {
            PhaseEnd::Died => Some(self.crash_kind()),
            PhaseEnd::Poisoned if self.rng.chance(0.5) => None,
            _ => {
                let mut options = Vec::new();
                if f.kill9 {
                    options.push(Some(CrashKind::Process));
                }
                if f.power_loss {
                    options.push(Some(CrashKind::PowerLoss));
                }
                if f.clean_close || options.is_empty() {
                    options.push(None);
                }
                options[self.rng.index(options.len())]
            }
        };
        match (kind, end) {
            (Some(kind), _) => self.crash(kind),
            (None, PhaseEnd::Poisoned) => self.reopen_in_process(),
            (None, _) => {
                self.close_cleanly();
            }
        }
        if kind.is_some() && f.at_rest && self.rng.chance(0.7) {
            self.inject_at_rest();
        }
    }

    fn crash_kind(&mut self) -> CrashKind {
        let f = self.knobs.features;
        match (f.kill9, f.power_loss) {
            (true, true) => {
                if self.rng.chance(0.5) {
                    CrashKind::Process
                } else {
                    CrashKind::PowerLoss
                }
            }
            (false, true) => CrashKind::PowerLoss,
            _ => CrashKind::Process,
        }
    }

    /// Crashes the machine; every handle dies with the process.
    pub(crate) fn crash(&mut self, kind: CrashKind) {
        self.disk.crash(kind);
        self.log = None;
        self.fail_queued();
        self.fresh_process = true;
        // Misdirected writes show only after a crash (the page cache held the right bytes).
        for f in &mut self.at_rest {
            f.visible = true;
        }
        self.counters.crashes += 1;
        match kind {
            CrashKind::Process => {
                self.hit_fault(Fault::Kill9);
                self.note("disk", "crash: kill -9");
            }
            CrashKind::PowerLoss => {
                self.hit_fault(Fault::PowerLoss);
                self.note("disk", "crash: power loss");
            }
        }
    }

    /// After a failed fsync: the application drops the sink and opens it again, in the same
    /// process (the page cache still holds bytes that never reached the disk).
    fn reopen_in_process(&mut self) {
        // A kill armed in this phase that has not struck stays out of the next one.
        self.disk.arm_crash_after(u64::MAX);
        self.fresh_process = false;
        self.log = None;
        self.fail_queued();
        self.hit(Branch::ReopenAfterEio);
        self.note("app", "reopen in the same process after an I/O error");
    }

    /// `Sink::close`: flush the queue, seal and shrink. A failure here is a poisoned close.
    /// Returns whether the log was sealed.
    fn close_cleanly(&mut self) -> bool {
        let mut budget = 0u32;
        let mut rounds = 0;
        while !self.queue_is_empty() && !self.stopped() && !self.disk.is_dead() {
            if self.log.as_ref().is_some_and(|l| l.log.writer().poison().is_some()) {
                break;
            }
            self.commit(&mut budget, false, false);
            rounds += 1;
            if rounds > 10_000 {
                break;
            }
        }
        let sealed = match &mut self.log {
            Some(log) if log.log.writer().poison().is_none() => {
                let ledger_before = self.sim.ledger_len();
                let r = log.log.close();
                // `Error::Io` from close comes only after a good seal: the final checkpoint or
                // the Merkle state failed (an EIO there, even on the log directory's fsync,
                // never poisons the log). Every other failure is the seal's.
                let checkpoint_failed = match &r {
                    Err(Error::Io { path, .. }) => self.is_checkpoint_path(path),
                    _ => false,
                };
                match checkpoint_failed {
                    true => self.check(Invariant::I9),
                    false => self.check_failstop(ledger_before, r.is_err(), "seal and shrink"),
                }
                r.is_ok() || checkpoint_failed
            }
            _ => false,
        };
        if sealed {
            self.hit(Branch::CleanClose);
        }
        self.log = None;
        self.disk.arm_crash_after(u64::MAX);
        self.fresh_process = false;
        self.fail_queued();
        self.check(Invariant::I13);
        let handles = self.disk.open_handles();
        if handles != 0 {
            self.violate(
                Invariant::I13,
                Outcome::Resource,
                format!("{handles} handles still open after the log was closed and dropped"),
            );
        }
        self.note("app", if sealed { "clean close" } else { "close failed (poisoned)" });
        sealed
    }

    /// Events still queued when the log goes away never get an ack; their clients are free.
    fn fail_queued(&mut self) {
        for c in &mut self.clients {
            if *c == Client::Waiting {
                *c = Client::Ready;
            }
        }
    }

    // ---- the final phase ----

    fn final_phase(&mut self) {
        self.sim.set_faults(mtlog_audit_sim::FaultConfig::none());
        self.disk.set_capacity(None);
        self.note("app", "final phase: faults healed");
        if !self.open_log(self.knobs.cycles) {
            if !self.stopped() {
                self.violate(
                    Invariant::I12,
                    Outcome::Liveness,
                    "the log did not open with every fault healed".to_owned(),
                );
            }
            return;
        }
        self.check(Invariant::I12);
        for _ in 0..LIVENESS_EVENTS {
            let acked_before = self.counters.acked;
            let mut budget = 1;
            self.to_submit += 1;
            let client = 0;
            self.clients[client] = Client::Ready;
            self.enqueue(client, &mut budget);
            if budget == 1 {
                // Refused as too large: the liveness event is not the point; try once more.
                self.to_submit -= 1;
                continue;
            }
            self.commit(&mut budget, false, false);
            if self.stopped() {
                return;
            }
            if self.counters.acked != acked_before + 1 {
                self.violate(
                    Invariant::I12,
                    Outcome::Liveness,
                    "with faults healed an append did not succeed".to_owned(),
                );
                return;
            }
        }
        let sealed = self.close_cleanly();
        if self.stopped() {
            return;
        }
        if !sealed {
            self.violate(
                Invariant::I12,
                Outcome::Liveness,
                "with faults healed the log did not close cleanly".to_owned(),
            );
            return;
        }
        self.hit(Branch::Liveness);
        if self.knobs.features.signing && !self.verify_checkpoints(self.model.seq_next() - 1) {
            return;
        }
        // The public read path is the costliest check (the reader scans, walks the chain twice
        // and decodes every body): every run reads back in full, a seeded share through it.
        if self.rng.chance(STRICT_READ_SHARE) {
            self.verify_strict_read();
        } else {
            self.verify_final_scan();
        }
    }

    fn finish(mut self) -> RunResult {
        self.pull_ledger_to_timeline();
        for record in self.sim.ledger() {
            if let Some(f) = Fault::of(&record.kind) {
                self.faults |= f.bit();
            }
            if matches!(record.kind, FaultKind::WallClockStep { delta } if delta < 0) {
                self.faults |= Fault::ClockStepBackward.bit();
            }
        }
        let stats = self.disk.stats();
        self.counters.sim_nanos = self.clock.now() - self.mono_start;
        self.counters.disk_ops = stats.ops;
        self.counters.head = self.model.seq_next() - 1;
        let outcome = match self.violations.first() {
            Some(v) => v.class,
            None if self.corruption_detected => Outcome::CorruptionDetected,
            None if self.branches & (Branch::TailCut.bit() | Branch::UnsyncedCut.bit()) != 0 => {
                Outcome::TailTruncated
            }
            None => Outcome::Clean,
        };
        if let Some(d) = &mut self.detail {
            let (lines, dropped) = self.sim.trace_log();
            d.trace = lines;
            d.trace_dropped = dropped;
        }
        RunResult {
            seed: self.knobs.seed,
            scenario: self.knobs.scenario,
            outcome,
            violations: self.violations,
            trace_hash: self.sim.trace_hash(),
            trace_events: self.sim.trace_events(),
            counters: self.counters,
            faults: self.faults,
            branches: self.branches,
            checks: self.checks,
            excused: self.excused,
            detail: self.detail,
        }
    }
}

/// A checkpoint's outcome, for the trace.
fn describe_checkpoint(written: &Result<Option<u64>, Error>) -> String {
    match written {
        Ok(Some(size)) => format!("signed tree size {size}"),
        Ok(None) => "nothing new".to_owned(),
        Err(e) => format!("failed: {e}"),
    }
}

/// Whether a one-shot trigger at `at` is due after `handled` events; consumes it if so.
fn due(at: &mut Option<u32>, handled: u32) -> bool {
    if at.is_some_and(|a| handled >= a) {
        *at = None;
        return true;
    }
    false
}

/// What a scheduler step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Progress,
    DiskFull,
    Idle,
}
