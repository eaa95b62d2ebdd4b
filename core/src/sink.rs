//! `Sink`: the one public entry point. Thread glue around the log engine (`wal::log`).
//!
//! Group commit, leader/follower style: an emitter encodes its event outside any lock, appends
//! the bytes to the pending batch and takes a ticket. If no leader is running, it becomes the
//! leader: it takes the whole pending batch, writes it and issues one `fdatasync` for all of
//! it (the leader does the sync itself: no hand-off to another thread, best at low
//! concurrency), publishes the results and wakes the followers. Emitters that arrived while a
//! sync was running form the next batch. Nobody polls or spins: followers block on a condvar.
//!
//! A background thread prepares the next segment (preallocation and zero-fill) when the active
//! one is half full, so rotation does not put a zero-fill on anyone's ack path.
//!
//! Every step of open, commit and close is the log engine's (`wal::log`), which owns no thread:
//! the simulator drives the same engine with seeded interleavings, without this file. This
//! file holds only what needs threads: the queue, the condvars, the leader/follower hand-off
//! and the preparer thread.
//!
//! # Examples
//!
//! Four threads emitting at once share fdatasyncs; every ack is durable, every seq distinct:
//!
//! ```
//! use mtlog_audit::{Level, Options, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! let sink = Sink::open(Options::new(tmp.path()))?;
//! let results: Vec<Result<u64, mtlog_audit::Error>> = std::thread::scope(|s| {
//!     let handles: Vec<_> = (0..4u64)
//!         .map(|t| {
//!             let sink = &sink;
//!             s.spawn(move || sink.event(Level::Information, "T {T}").with("T", t).emit())
//!         })
//!         .collect();
//!     handles.into_iter().map(|h| h.join().unwrap().map(|r| r.seq)).collect()
//! });
//! let mut seqs = results.into_iter().collect::<Result<Vec<u64>, _>>()?;
//! seqs.sort();
//! assert_eq!(seqs, vec![1, 2, 3, 4]);
//! assert!(sink.stats().batches <= 4); // some emitters may have shared a batch
//! sink.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![allow(clippy::disallowed_methods)] // Production thread glue: spawns the preparer thread.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::Error;
use crate::event::{Event, EventId, Level, Value};
use crate::integrity::chain::Hash;
use crate::integrity::checkpointer::MerkleOpenReport;
use crate::integrity::keys;
use crate::integrity::note::Signer;
use crate::io::{Clock, Disk, Entropy, OsEntropy, RealDisk, SystemClock};
use crate::options::Options;
use crate::wal::format::SegmentId;
use crate::wal::log::{Checkpoints, Log, Preparer};
use crate::wal::open::RecoveryReport;
use crate::wal::segment::Prepared;
use crate::wal::writer::Batch;

/// Proof that an event is durable: its seq and the hash chain value after it. See the
/// [crate docs](crate) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The event's place in the log.
    pub seq: u64,
    /// The chain hash after this event (see `integrity::chain`).
    pub chain_hash: Hash,
}

/// Counters for resource-bound checks and metrics. See [`Sink`] for an example.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Events waiting in the pending batch now.
    pub queue_depth: usize,
    /// The largest queue depth seen.
    pub queue_depth_max: usize,
    /// Bytes of event bodies waiting now.
    pub buffered_bytes: usize,
    /// Batches written.
    pub batches: u64,
    /// Events made durable.
    pub events: u64,
    /// The highest durable seq.
    pub seq_durable: u64,
}

/// An audit sink writing to a log directory. See the crate docs.
///
/// A sink is `Sync`: share one between threads (by reference or in an `Arc`). Concurrent
/// emitters share one `fdatasync` per batch (group commit).
///
/// # Examples
///
/// ```
/// use mtlog_audit::{Level, Options, Sink};
///
/// # let tmp = tempfile::tempdir()?;
/// let sink = Sink::open(Options::new(tmp.path()))?;
/// std::thread::scope(|s| {
///     for worker in 0..4 {
///         let sink = &sink;
///         s.spawn(move || {
///             for n in 0..5 {
///                 sink.event(Level::Information, "Worker {Worker} step {N}")
///                     .with("Worker", worker)
///                     .with("N", n)
///                     .emit()
///                     .expect("emit");
///             }
///         });
///     }
/// });
/// sink.flush()?;
/// let stats = sink.stats();
/// assert_eq!(stats.events, 20);
/// assert_eq!(stats.seq_durable, 20);
/// assert_eq!(stats.queue_depth, 0);
/// assert!(stats.batches >= 1 && stats.batches <= 20); // fewer when emitters shared a sync
/// sink.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Sink<D: Disk = RealDisk, C: Clock = SystemClock, E: Entropy = OsEntropy> {
    shared: Arc<Shared<D>>,
    clock: Arc<C>,
    entropy: Arc<E>,
    options: Options,
    report: RecoveryReport,
    merkle: Option<MerkleOpenReport>,
    preparer: Mutex<Option<JoinHandle<()>>>,
}

struct Shared<D: Disk> {
    queue: Mutex<Queue>,
    /// Idle and batch-size changes: `flush` and `close` wait here for the queue to drain, and a
    /// leader with a `max_delay` for a full batch.
    wake: Condvar,
    /// Emitters blocked by back-pressure (`queue_max`) wait here for room.
    room: Condvar,
    /// Emitters waiting for their batch: batch `g`'s emitters wait on `acks[g % ACK_SLOTS]`,
    /// so publishing a batch wakes its own emitters and one of the next batch's (to lead), not
    /// every waiter. See [`ack_slot`].
    acks: [Condvar; ACK_SLOTS],
    /// The engine: held by the leader for one commit, by `close` to seal. It also holds the
    /// directory lock until `close`.
    log: Mutex<Log<D>>,
    prep: Mutex<PrepSlot<D::File>>,
    prep_wake: Condvar,
    preparer: Preparer<D>,
    disk: Arc<D>,
    queue_max: usize,
    batch_max: usize,
    max_delay: std::time::Duration,
    /// The engine's checkpointer, when checkpoints are on, for checkpoints written outside the
    /// log's lock. Lock order: the log, then this one's locks.
    checkpoints: Option<Checkpoints<D>>,
    failure_handler: Option<crate::options::FailureHandler>,
}

/// The pending batch and the published results.
struct Queue {
    pending: Batch,
    spare: Batch,
    ticket_next: u64,
    ticket_taken: u64,
    /// Batches taken so far: the generation of the next batch a leader takes.
    batch_next: u64,
    /// Emitters waiting on `room`.
    blocked: usize,
    /// Emitters waiting on each of `acks`, and callers of `flush` and `close` waiting on `wake`:
    /// a leader skips the notify (a system call) when nobody waits.
    waiting_acks: [usize; ACK_SLOTS],
    waiting_idle: usize,
    leader: bool,
    results: VecDeque<BatchResult>,
    hashes_pool: Vec<Vec<Hash>>,
    close: CloseState,
    poisoned: Option<Error>,
    stats: SinkStats,
}

/// Where `close` stands. A second `close` (or the `Drop`) waits for a running one and returns
/// its outcome: `Ok` only once the seal is durable and the lock released, and never `Ok` after
/// a close that failed.
enum CloseState {
    Open,
    Closing,
    Closed(Result<(), Error>),
}

/// Publishes a close's outcome to the other callers of `close` waiting for it, when the closing
/// call returns or unwinds (a panic while sealing leaves them `Error::Closed`, not a wait
/// without end).
struct CloseOutcome<'a, D: Disk> {
    shared: &'a Shared<D>,
    result: Option<Result<(), Error>>,
}

impl<D: Disk> Drop for CloseOutcome<'_, D> {
    fn drop(&mut self) {
        let result = self.result.take().unwrap_or(Err(Error::Closed));
        let mut q = self.shared.lock_queue();
        q.close = CloseState::Closed(result);
        let waiting = q.waiting_idle > 0;
        drop(q);
        if waiting {
            self.shared.wake.notify_all();
        }
    }
}

struct BatchResult {
    ticket_first: u64,
    count: usize,
    seq_first: u64,
    durable: usize,
    error: Option<Error>,
    hashes: Vec<Hash>,
    unread: usize,
}

enum PrepSlot<F> {
    Idle,
    Requested(SegmentId),
    Running(SegmentId),
    Ready(Prepared<F>),
    Stop,
}

thread_local! {
    // Per-thread encode buffer, so encoding an event allocates nothing once warm and happens
    // outside the queue lock.
    static ENCODE_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Sink {
    /// Opens (creating or recovering) the log in `options.dir` on the real disk and clocks.
    ///
    /// Opening creates the directory if needed, takes its lock, and recovers whatever a crash
    /// left behind: a torn tail past the durable point is saved to `quarantine/` and cut (see
    /// [`Sink::recovery_report`]); damage to durable data is refused.
    ///
    /// # Errors
    /// - `Error::Config` if the options are invalid (see [`Options::validate`]), before any file
    ///   is touched.
    /// - `Error::AlreadyOpen` if another sink, in this or another process, holds the
    ///   directory's lock.
    /// - `Error::Corruption` for damage at or below the durable watermark (or no segment header
    ///   naming the log). Nothing is changed; read it with `Reader::open_salvage`.
    /// - `Error::BehindCheckpoint` (checkpoints on) if the log holds fewer events than a
    ///   checkpoint its own key signed.
    /// - `Error::DiskFull` if there is no space to prepare the segment to append to.
    /// - `Error::Poisoned` if preparing that segment or writing the first commit marker meets
    ///   any other I/O error.
    /// - `Error::Io` for any other I/O error: creating, syncing or locking the directory,
    ///   listing or reading segments, quarantining a torn tail, reading the checkpoints and
    ///   Merkle state, or spawning the segment-preparing thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::{Error, Level, Options, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let sink = Sink::open(Options::new(dir))?;
    /// assert_eq!(sink.dir(), dir);
    /// assert_eq!(sink.recovery_report().seq_next, 1); // a new, empty log
    /// sink.event(Level::Information, "Service started").emit()?;
    ///
    /// // One writer per directory.
    /// assert!(matches!(Sink::open(Options::new(dir)), Err(Error::AlreadyOpen { .. })));
    /// drop(sink); // closes
    ///
    /// let sink = Sink::open(Options::new(dir))?;
    /// let report = sink.recovery_report();
    /// assert_eq!((report.events, report.seq_next), (1, 2));
    /// assert!(report.cuts.is_empty()); // a clean close leaves nothing to cut
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(options: Options) -> Result<Sink, Error> {
        Sink::open_with(options, Arc::new(RealDisk), Arc::new(SystemClock), Arc::new(OsEntropy))
    }
}

impl<D: Disk, C: Clock, E: Entropy> Sink<D, C, E> {
    /// Opens the log through the given seams (the simulator passes its own).
    ///
    /// # Errors
    /// As [`Sink::open`], with the I/O errors coming from `disk`.
    ///
    /// # Examples
    ///
    /// The real disk and entropy source with a clock of one's own:
    ///
    /// ```
    /// use std::sync::Arc;
    /// use mtlog_audit::io::{Clock, OsEntropy, RealDisk};
    /// use mtlog_audit::{Level, Options, Sink};
    ///
    /// struct Frozen(i64);
    /// impl Clock for Frozen {
    ///     fn wall_nanos(&self) -> i64 { self.0 }
    ///     fn monotonic_nanos(&self) -> u64 { 0 }
    /// }
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// let options = Options::new(tmp.path());
    /// let clock = Arc::new(Frozen(1_700_000_000_000_000_000));
    /// let sink = Sink::open_with(options, Arc::new(RealDisk), clock, Arc::new(OsEntropy))?;
    /// let event = sink.event(Level::Information, "Tick").build();
    /// assert_eq!(event.timestamp_nanos, 1_700_000_000_000_000_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_with(
        options: Options,
        disk: Arc<D>,
        clock: Arc<C>,
        entropy: Arc<E>,
    ) -> Result<Sink<D, C, E>, Error> {
        options.validate()?;
        let log = Log::open(disk.clone(), &options, clock.clone(), &*entropy)?;
        let report = log.report().clone();
        let merkle = log.merkle_report().cloned();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                pending: Batch::default(),
                spare: Batch::default(),
                ticket_next: 0,
                ticket_taken: 0,
                batch_next: 0,
                blocked: 0,
                waiting_acks: [0; ACK_SLOTS],
                waiting_idle: 0,
                leader: false,
                results: VecDeque::new(),
                hashes_pool: Vec::new(),
                close: CloseState::Open,
                poisoned: None,
                stats: SinkStats {
                    seq_durable: log.writer().seq_durable(),
                    ..SinkStats::default()
                },
            }),
            wake: Condvar::new(),
            room: Condvar::new(),
            acks: [Condvar::new(), Condvar::new()],
            checkpoints: log.checkpoints(),
            preparer: log.preparer(),
            log: Mutex::new(log),
            prep: Mutex::new(PrepSlot::Idle),
            prep_wake: Condvar::new(),
            disk,
            queue_max: options.queue_max,
            batch_max: options.batch_max,
            max_delay: options.max_delay,
            failure_handler: options.failure_handler.clone(),
        });
        let worker = shared.clone();
        let preparer = std::thread::Builder::new()
            .name("mtlog-audit-prepare".into())
            .spawn(move || worker.run_preparer())
            .map_err(|e| Error::io("spawn preparer", &options.dir, &e))?;
        Ok(Sink {
            shared,
            clock,
            entropy,
            options,
            report,
            merkle,
            preparer: Mutex::new(Some(preparer)),
        })
    }

    /// What recovery found when the log was opened. See [`Sink::open`] for an example.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// How the Merkle state was loaded on open (`None` when checkpoints are off): from its
    /// cache, or rebuilt from the WAL and why. See [`Sink::checkpoint`] for an example.
    pub fn merkle_report(&self) -> Option<&MerkleOpenReport> {
        self.merkle.as_ref()
    }

    /// Signs and writes a checkpoint of every durable event now, if the tree grew since the
    /// last one. Returns the tree size signed (`None` if nothing new, or checkpoints are off).
    ///
    /// # Errors
    /// `Error::Io` if writing a checkpoint file (tmp file, fdatasync, rename, directory
    /// fsync, in `DIR/checkpoints/` and the [`Options::checkpoint_dir`]) fails. The log is
    /// unaffected and the sink keeps working; the next checkpoint tries again.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::integrity::note::Signer;
    /// use mtlog_audit::io::{Entropy, OsEntropy};
    /// use mtlog_audit::{Level, Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let signer = Signer::generate("example.com/audit", &mut |buf| OsEntropy.fill(buf))?;
    /// let sink = Sink::open(Options::new(dir).signer(signer.clone()))?;
    /// assert!(sink.merkle_report().is_some()); // checkpoints are on
    /// for n in 0..3 {
    ///     sink.event(Level::Information, "Step {N}").with("N", n).emit()?;
    /// }
    /// assert_eq!(sink.checkpoint()?, Some(3)); // signed the tree of 3 events
    /// assert_eq!(sink.checkpoint()?, None); // nothing new since
    /// assert_eq!(sink.merkle_cache_write_failures(), 0);
    /// sink.close()?;
    ///
    /// let audit = Reader::open(dir)?.audit(&[signer.verifier()], Vec::new())?;
    /// assert_eq!(audit.verdict(), mtlog_audit::integrity::audit::AuditVerdict::Valid);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checkpoint(&self) -> Result<Option<u64>, Error> {
        match &self.shared.checkpoints {
            Some(c) => c.checkpoint(),
            None => Ok(None),
        }
    }

    /// Tiles the sink could not write since it opened (caches: rebuilt on a later open). See
    /// [`Sink::checkpoint`] for an example.
    pub fn merkle_cache_write_failures(&self) -> u64 {
        self.shared.checkpoints.as_ref().map_or(0, Checkpoints::cache_write_failures)
    }

    /// Rotates the checkpoint signing key: records the rotation in the log (an event with
    /// [`keys::ROTATION_TEMPLATE`] naming both verifier keys), then writes a checkpoint signed
    /// by both the old and the new key, and signs with `new` from then on. Auditors holding
    /// either key verify the boundary checkpoint; `verify` learns the new key from the record.
    ///
    /// # Errors
    /// - `Error::Config` ([`ConfigError::CheckpointWithoutSigner`]) if checkpoints are off;
    ///   nothing is written.
    /// - Any error of [`Sink::emit`], for the rotation record; the old key stays in use.
    /// - `Error::Io` writing the boundary checkpoint: the rotation record is then durable and
    ///   the new key in use, and the next checkpoint is signed by both keys.
    ///
    /// # Panics
    /// As [`Sink::emit`], with [`Options::panic_on_failure`].
    ///
    /// [`ConfigError::CheckpointWithoutSigner`]: crate::error::ConfigError::CheckpointWithoutSigner
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::integrity::audit::AuditVerdict;
    /// use mtlog_audit::integrity::note::Signer;
    /// use mtlog_audit::{Options, Reader, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path();
    /// let old = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
    /// let new = Signer::from_seed("example.com/audit", [2; 32])?;
    /// let sink = Sink::open(Options::new(dir).signer(old.clone()))?;
    /// let receipt = sink.rotate_signer(new.clone())?;
    /// sink.close()?;
    ///
    /// let reader = Reader::open(dir)?;
    /// let rotations = reader.key_rotations()?;
    /// assert_eq!(rotations.len(), 1);
    /// assert_eq!(rotations[0].seq, receipt.seq);
    /// // An auditor who trusts only the old key learns the new one from the log.
    /// let audit = reader.audit(&[old.verifier()], Vec::new())?;
    /// assert_eq!(audit.verdict(), AuditVerdict::Valid);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rotate_signer(&self, new: Signer) -> Result<Receipt, Error> {
        let Some(c) = &self.shared.checkpoints else {
            return Err(crate::error::ConfigError::CheckpointWithoutSigner.into());
        };
        let old = c.signer().verifier();
        let event = self.new_event(Level::Information, keys::ROTATION_TEMPLATE);
        let event = keys::rotation_event(event, &old, &new.verifier()).render();
        let receipt = self.emit(&event)?;
        c.rotate(new);
        c.checkpoint()?;
        Ok(receipt)
    }

    /// Starts an event stamped with this sink's clock and a fresh id from its entropy source.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::{Level, Options, Sink, Value};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// let sink = Sink::open(Options::new(tmp.path()))?;
    /// let event = sink
    ///     .event(Level::Error, "Export of {RecordId} failed")
    ///     .with("RecordId", "r-7")
    ///     .exception("permission denied")
    ///     .build(); // rendered, not emitted
    /// assert_eq!(event.message, "Export of r-7 failed");
    /// assert_eq!(event.property("RecordId"), Some(&Value::from("r-7")));
    /// assert_eq!(event.exception.as_deref(), Some("permission denied"));
    ///
    /// let receipt = sink.event(Level::Information, "Export retried").emit()?;
    /// assert_eq!(receipt.seq, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn event(&self, level: Level, template: &str) -> EventBuilder<'_, D, C, E> {
        EventBuilder { sink: self, event: self.new_event(level, template) }
    }

    /// A new event stamped with this sink's clock and a fresh id (not yet rendered). See
    /// [`Sink::emit`] for an example.
    pub fn new_event(&self, level: Level, template: &str) -> Event {
        let mut id = [0u8; 16];
        self.entropy.fill(&mut id);
        Event::new(EventId(id), self.clock.wall_nanos(), level, template)
    }

    /// Appends `event` and returns once it is durable (fdatasynced).
    ///
    /// The record is stamped with this sink's wall clock when it joins the queue, under the
    /// queue's lock, so record timestamps follow seq order and a record's `clock_adjusted` flag
    /// (its stamp below the previous record's) means the wall clock stepped back, never that
    /// two threads raced. The event's own timestamp (`event.timestamp_nanos`, CLEF `@t`) is
    /// kept unchanged in the body.
    ///
    /// An error means the outcome is **unknown** only for `Error::Poisoned` (the write may have
    /// reached the disk); a retry after reopening may then store the event twice, and
    /// consumers de-duplicate by event id. Every other error means nothing was stored.
    ///
    /// Every error is first handed to the [`Options::failure_handler`].
    ///
    /// # Errors
    /// - `Error::Body` if the event does not encode (a value nested deeper than
    ///   [`MAX_VALUE_DEPTH`](crate::event::MAX_VALUE_DEPTH)); nothing was stored.
    /// - `Error::RecordTooLarge` if the encoded event exceeds [`Options::body_max`]; nothing
    ///   was stored.
    /// - `Error::DiskFull` if the disk filled up before the event was durable; nothing of it
    ///   was acknowledged, the sink is not poisoned, and a retry succeeds once space is freed.
    /// - `Error::Poisoned` if a write or `fdatasync` failed, for this batch or an earlier one:
    ///   whether the event is on disk is unknown, and every later call returns the same error
    ///   until the log is reopened.
    /// - `Error::Closed` after [`Sink::close`].
    ///
    /// # Panics
    /// Instead of returning any of these errors, if the sink was opened with
    /// [`Options::panic_on_failure`] (after calling the failure handler).
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::{Error, Level, Options, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// let sink = Sink::open(Options::new(tmp.path()).body_max(256))?;
    /// let event = sink
    ///     .new_event(Level::Information, "User {UserId} signed in")
    ///     .with_property("UserId", 42)
    ///     .render();
    /// let receipt = sink.emit(&event)?; // durable once this returns
    /// assert_eq!(receipt.seq, 1);
    ///
    /// let huge = sink.new_event(Level::Information, &"x".repeat(1000)).render();
    /// assert!(matches!(sink.emit(&huge), Err(Error::RecordTooLarge { max: 256, .. })));
    /// assert_eq!(sink.emit(&event)?.seq, 2); // the sink is fine: nothing was stored
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn emit(&self, event: &Event) -> Result<Receipt, Error> {
        let result = ENCODE_BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            event.encode_body(&mut buf).map_err(|source| Error::Body { seq: 0, source })?;
            if buf.len() > self.options.body_max_effective() {
                return Err(Error::RecordTooLarge {
                    len: buf.len(),
                    max: self.options.body_max_effective(),
                });
            }
            self.shared.submit(&*self.clock, &buf)
        });
        match result {
            Ok(r) => Ok(r),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Reports an error to the failure handler, and panics if so configured.
    pub(crate) fn fail(&self, e: Error) -> Error {
        if let Some(h) = &self.options.failure_handler {
            h(&e);
        }
        if self.options.panic_on_failure {
            panic!("audit sink failure: {e}");
        }
        e
    }

    /// Waits until every event emitted so far is durable. `emit` already waits for its own
    /// event, so this only matters to callers that share a sink across threads. See [`Sink`]
    /// for an example.
    ///
    /// # Errors
    /// `Error::Poisoned` if a write or `fdatasync` failed (now or earlier): the events in
    /// flight may or may not be on disk. Reopen the log.
    pub fn flush(&self) -> Result<(), Error> {
        let mut q = self.shared.lock_queue();
        while q.leader || !q.pending.is_empty() {
            q = self.shared.wait(q);
        }
        match &q.poisoned {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Flushes, seals the active segment (a clean close proves every record durable) and stops
    /// accepting events. With checkpoints on, then writes the final checkpoint (if configured)
    /// and the Merkle state. Idempotent: a second call, from any thread, waits for the first to
    /// finish and returns its outcome (an `Ok` only once the seal is durable and the directory
    /// lock released; the first call's error after a failed close).
    ///
    /// # Errors
    /// - `Error::Poisoned` if the log was poisoned before, or if writing the seal, its
    ///   `fdatasync`, the shrink or the `fsync` fails.
    /// - `Error::Io` (checkpoints on) if writing the final checkpoint or the Merkle state
    ///   fails; every event is durable and sealed by then.
    ///
    /// Either way the sink is closed afterwards: `emit` returns `Error::Closed`, and the
    /// directory lock is released, so the log can be opened again (by this process or another)
    /// while this value lives on.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::{Error, Level, Options, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// let sink = Sink::open(Options::new(tmp.path()))?;
    /// sink.event(Level::Information, "Shutting down").emit()?;
    /// sink.close()?;
    /// sink.close()?; // idempotent
    /// let late = sink.event(Level::Information, "Too late").emit();
    /// assert!(matches!(late, Err(Error::Closed)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) -> Result<(), Error> {
        {
            let mut q = self.shared.lock_queue();
            loop {
                match &q.close {
                    CloseState::Closed(result) => return result.clone(),
                    // Another thread seals: its outcome is ours, once it has one.
                    CloseState::Closing => q = self.shared.wait(q),
                    CloseState::Open if q.leader || !q.pending.is_empty() => {
                        q = self.shared.wait(q)
                    }
                    CloseState::Open => break,
                }
            }
            q.close = CloseState::Closing;
        }
        let mut outcome = CloseOutcome { shared: &self.shared, result: None };
        // The engine's close releases the directory lock after its last write, whatever the
        // outcome: the next opener may recover the directory.
        let result = self.seal_and_finish();
        outcome.result = Some(result.clone());
        result
    }

    /// The second half of `close`, once no emitter can write: stop the preparer, then the
    /// engine's close (seal, final checkpoint, lock release).
    fn seal_and_finish(&self) -> Result<(), Error> {
        self.shared.stop_preparer();
        if let Some(handle) = self.preparer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
        self.shared.lock_log().close()
    }

    /// Counters: queue depth, buffered bytes, batches, durable seq. See [`Sink`] for an
    /// example.
    pub fn stats(&self) -> SinkStats {
        let q = self.shared.lock_queue();
        SinkStats {
            queue_depth: q.pending.len(),
            buffered_bytes: q.pending.bodies.len(),
            ..q.stats
        }
    }

    /// The log directory. See [`Sink::open`] for an example.
    pub fn dir(&self) -> &std::path::Path {
        &self.options.dir
    }

    /// Reads the log back through this sink's disk and checks it: segments, records, seq
    /// range, hash chain, every damaged range. Sees what is durable now.
    ///
    /// # Errors
    /// As [`Reader::open`](crate::Reader::open): `Error::Io` listing or reading the segment
    /// files, `Error::Corruption` if no segment header names the log. Damage inside the log is
    /// not an error: it is listed in the report's findings.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::{Level, Options, Sink};
    ///
    /// # let tmp = tempfile::tempdir()?;
    /// let sink = Sink::open(Options::new(tmp.path()))?;
    /// let receipt = sink.event(Level::Information, "Backup finished").emit()?;
    /// let report = sink.verify_integrity()?;
    /// assert!(report.is_valid());
    /// assert_eq!(report.seq_range, Some((1, 1)));
    /// assert_eq!(report.head_hash, receipt.chain_hash);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_integrity(&self) -> Result<crate::reader::IntegrityReport, Error> {
        let reader = crate::reader::Reader::open_with(self.shared.disk.clone(), self.dir(), false)?;
        Ok(reader.verify_integrity())
    }
}

impl<D: Disk, C: Clock, E: Entropy> Drop for Sink<D, C, E> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // Unwinding from a panic (perhaps a leader's assertion): do not wait on a batch
            // that will never complete. Nothing unsynced was acknowledged.
            self.shared.stop_preparer();
            self.shared.lock_log().release_lock();
            return;
        }
        let reported = matches!(self.shared.lock_queue().close, CloseState::Closed(Err(_)));
        if let Err(e) = self.close() {
            if reported {
                return; // the failed close already returned this error to its caller
            }
            if let Some(h) = &self.options.failure_handler {
                h(&e);
            }
        }
    }
}

/// An event being built for a sink: `sink.event(level, template).with(k, v).emit()`. See
/// [`Sink::event`] for an example.
pub struct EventBuilder<'a, D: Disk, C: Clock, E: Entropy> {
    sink: &'a Sink<D, C, E>,
    event: Event,
}

impl<D: Disk, C: Clock, E: Entropy> EventBuilder<'_, D, C, E> {
    /// Adds a property (replacing one of the same name). See [`Sink::event`] for an example.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.event = self.event.with_property(name, value);
        self
    }

    /// Attaches exception text. See [`Sink::event`] for an example.
    pub fn exception(mut self, text: &str) -> Self {
        self.event = self.event.with_exception(text);
        self
    }

    /// Renders the message and emits the event, returning once it is durable. See
    /// [`Sink::event`] for an example.
    ///
    /// # Errors
    /// As [`Sink::emit`].
    ///
    /// # Panics
    /// As [`Sink::emit`], with [`Options::panic_on_failure`].
    pub fn emit(self) -> Result<Receipt, Error> {
        let event = self.event.render();
        self.sink.emit(&event)
    }

    /// The rendered event, without emitting it. See [`Sink::event`] for an example.
    pub fn build(self) -> Event {
        self.event.render()
    }
}

impl<D: Disk> Shared<D> {
    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the queue lock happens only in our own assertions, which stop
        // the process's use of the sink anyway; the state is still the last consistent one.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_log(&self) -> MutexGuard<'_, Log<D>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits on `wake` for the queue to go idle (`flush`, `close`).
    fn wait<'a>(&self, mut q: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
        q.waiting_idle += 1;
        let mut q = self.wake.wait(q).unwrap_or_else(|p| p.into_inner());
        q.waiting_idle -= 1;
        q
    }

    /// Queues `body`, stamped with `clock` once it has its place in the queue, and waits for
    /// its outcome.
    fn submit(&self, clock: &dyn Clock, body: &[u8]) -> Result<Receipt, Error> {
        let mut q = self.lock_queue();
        loop {
            if !matches!(q.close, CloseState::Open) {
                return Err(Error::Closed);
            }
            if let Some(e) = &q.poisoned {
                return Err(e.clone());
            }
            if q.pending.len() < self.queue_max {
                break;
            }
            // Back-pressure: the queue is bounded. A leader taking a batch wakes us.
            q.blocked += 1;
            q = self.room.wait(q).unwrap_or_else(|p| p.into_inner());
            q.blocked -= 1;
        }
        let ticket = q.ticket_next;
        q.ticket_next += 1;
        q.pending.bodies.extend_from_slice(body);
        // Stamped under the queue's lock: queue order is seq order, so stamps taken here only
        // go down when the wall clock does (the `clock_adjusted` flag, issue 19 item 25).
        q.pending.push_body_written(clock.wall_nanos(), body.len());
        q.stats.queue_depth_max = q.stats.queue_depth_max.max(q.pending.len());
        if !self.max_delay.is_zero() && q.pending.len() >= self.batch_max {
            self.wake.notify_all(); // a leader waiting for a full batch can go now
        }
        loop {
            if let Some(r) = take_result(&mut q, ticket) {
                return r;
            }
            if q.leader {
                // A follower: sleep until this ticket's batch is published, or (still pending)
                // until the leader hands the next batch over.
                let slot = ack_slot(ticket, q.ticket_taken, q.batch_next);
                q.waiting_acks[slot] += 1;
                q = self.acks[slot].wait(q).unwrap_or_else(|p| p.into_inner());
                q.waiting_acks[slot] -= 1;
            } else {
                q = self.lead(q);
            }
        }
    }

    /// Writes the pending batch as leader and publishes the results.
    fn lead<'a>(&'a self, mut q: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
        q.leader = true;
        if !self.max_delay.is_zero() && q.pending.len() < self.batch_max {
            // Opt-in group-commit delay: give other emitters up to max_delay to join this
            // batch. The default is zero: the leader syncs at once.
            let (guard, _) = self
                .wake
                .wait_timeout_while(q, self.max_delay, |q| q.pending.len() < self.batch_max)
                .unwrap_or_else(|p| p.into_inner());
            q = guard;
        }
        let mut batch = std::mem::take(&mut q.spare);
        batch.clear();
        // Take at most batch_max events; the rest stay pending for the next leader.
        let take = q.pending.len().min(self.batch_max);
        assert!(take > 0, "a leader runs only for a pending ticket");
        q.pending.move_front_into(&mut batch, take);
        let ticket_first = q.ticket_taken;
        q.ticket_taken += take as u64;
        let generation = q.batch_next;
        q.batch_next += 1;
        let mut hashes = q.hashes_pool.pop().unwrap_or_default();
        let blocked = q.blocked > 0;
        drop(q);
        if blocked {
            self.room.notify_all(); // room in the queue for blocked emitters
        }

        hashes.clear();
        let mut log = self.lock_log();
        let prepared = self.take_prepared(&log, &batch);
        // The marker's failure poisons the log: the next batch reports it.
        let committed =
            log.commit(&batch, &mut hashes, prepared, || self.lock_queue().pending.is_empty());
        drop(log);
        if let Some(id) = committed.prepare {
            self.request_prepare(id);
        }
        let (appended, checkpoint_due) = (committed.appended, committed.checkpoint_due);
        let seq_durable = committed.seq_durable;

        let mut q = self.lock_queue();
        if let Some(e @ Error::Poisoned(_)) = &appended.error {
            q.poisoned = Some(e.clone());
        }
        q.stats.batches += 1;
        q.stats.events += appended.durable as u64;
        q.stats.seq_durable = seq_durable;
        q.results.push_back(BatchResult {
            ticket_first,
            count: batch.len(),
            seq_first: appended.seq_first,
            durable: appended.durable,
            error: appended.error,
            hashes,
            unread: batch.len(),
        });
        batch.clear();
        q.spare = batch;
        q.leader = false;
        let (slot_this, slot_next) = (slot_of(generation), slot_of(generation + 1));
        let handoff = !q.pending.is_empty() && q.waiting_acks[slot_next] > 0;
        let acks = q.waiting_acks[slot_this] > 0;
        let idle = q.pending.is_empty() && q.waiting_idle > 0;
        let blocked = q.poisoned.is_some() && q.blocked > 0;
        drop(q);
        // Wake only who needs it, after unlocking (a thread woken under the lock would block on
        // it at once). First one emitter of the next batch, to lead it without queueing behind
        // the acks (a pending emitter that is not waiting will lead by itself); then this
        // batch's emitters; `flush` and `close` once the queue is idle; after a poison, the
        // emitters blocked by back-pressure.
        if handoff {
            self.acks[slot_next].notify_one();
        }
        if acks {
            self.acks[slot_this].notify_all();
        }
        if idle {
            self.wake.notify_all();
        }
        if blocked {
            self.room.notify_all();
        }
        if checkpoint_due {
            // After publishing: only this emitter waits for the checkpoint's fsyncs.
            self.write_checkpoint();
        }
        self.lock_queue()
    }

    /// Writes a due checkpoint; a failure goes to the failure handler (the events are durable
    /// and acknowledged regardless; the next due checkpoint tries again).
    fn write_checkpoint(&self) {
        let Some(c) = &self.checkpoints else { return };
        if let Err(e) = c.checkpoint() {
            if let Some(h) = &self.failure_handler {
                h(&e);
            }
        }
    }

    /// Takes a segment the preparer finished, for the engine to install; waits for one it is
    /// still preparing if this batch may need it (the engine's [`SegmentNext`] decides).
    ///
    /// [`SegmentNext`]: crate::wal::log::SegmentNext
    fn take_prepared(&self, log: &Log<D>, batch: &Batch) -> Option<Prepared<D::File>> {
        let next = log.segment_next(batch);
        let mut slot = self.prep.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match &*slot {
                PrepSlot::Requested(id) | PrepSlot::Running(id) if next.waits_for(*id) => {
                    slot = self.prep_wake.wait(slot).unwrap_or_else(|p| p.into_inner());
                }
                PrepSlot::Ready(p) if next.installs(p.id) => {
                    return match std::mem::replace(&mut *slot, PrepSlot::Idle) {
                        PrepSlot::Ready(p) => Some(p),
                        _ => None,
                    };
                }
                _ => return None,
            }
        }
    }

    fn request_prepare(&self, id: SegmentId) {
        let mut slot = self.prep.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*slot, PrepSlot::Idle) {
            *slot = PrepSlot::Requested(id);
            self.prep_wake.notify_all();
        }
    }

    fn stop_preparer(&self) {
        let mut slot = self.prep.lock().unwrap_or_else(|p| p.into_inner());
        *slot = PrepSlot::Stop;
        self.prep_wake.notify_all();
    }

    fn run_preparer(&self) {
        let mut slot = self.prep.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match &*slot {
                PrepSlot::Stop => return,
                PrepSlot::Requested(id) => {
                    let id = *id;
                    *slot = PrepSlot::Running(id);
                    drop(slot);
                    let r = self.preparer.prepare(id);
                    slot = self.prep.lock().unwrap_or_else(|p| p.into_inner());
                    if matches!(*slot, PrepSlot::Stop) {
                        return;
                    }
                    // On error the writer prepares synchronously at rotation and reports the
                    // error (disk full or poison) to the emitters whose events need it.
                    *slot = match r {
                        Ok(p) => PrepSlot::Ready(p),
                        Err(_) => PrepSlot::Idle,
                    };
                    self.prep_wake.notify_all();
                }
                _ => slot = self.prep_wake.wait(slot).unwrap_or_else(|p| p.into_inner()),
            }
        }
    }
}

/// The result for `ticket`, if its batch has completed.
fn take_result(q: &mut Queue, ticket: u64) -> Option<Result<Receipt, Error>> {
    let i = q
        .results
        .iter()
        .position(|r| ticket >= r.ticket_first && ticket < r.ticket_first + r.count as u64)?;
    let r = &mut q.results[i];
    let index = (ticket - r.ticket_first) as usize;
    let out = if index < r.durable {
        Ok(Receipt { seq: r.seq_first + index as u64, chain_hash: r.hashes[index] })
    } else {
        Err(r.error.clone().unwrap_or(Error::Closed))
    };
    r.unread -= 1;
    while q.results.front().is_some_and(|r| r.unread == 0) {
        if let Some(done) = q.results.pop_front() {
            q.hashes_pool.push(done.hashes);
        }
    }
    Some(out)
}

/// How many condition variables emitters wait on for their batch ([`ack_slot`]). Two suffice:
/// a waiting emitter's ticket is either in the batch being written (one at a time) or pending
/// for the next one. A ticket `batch_max` splits off to a later batch is woken when the next
/// batch publishes, finds no result and waits again on its new slot.
const ACK_SLOTS: usize = 2;

/// The `acks` slot the emitter holding `ticket` waits on: its batch's generation modulo
/// [`ACK_SLOTS`]. A ticket below `ticket_taken` without a result is in the batch being written,
/// generation `batch_next - 1`; any other is pending, for generation `batch_next` (or later).
fn ack_slot(ticket: u64, ticket_taken: u64, batch_next: u64) -> usize {
    let generation = match ticket < ticket_taken {
        true => {
            assert!(batch_next > 0, "ticket {ticket} taken before any batch");
            batch_next - 1
        }
        false => batch_next,
    };
    slot_of(generation)
}

/// The `acks` slot of batch `generation`.
fn slot_of(generation: u64) -> usize {
    (generation % ACK_SLOTS as u64) as usize
}
