//! `Sink`: the one public entry point. Thin thread glue around the WAL writer.
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
//! The writer itself (`wal::writer`) is sans-thread: the simulator drives the same type with
//! seeded interleavings, without this file.

#![allow(clippy::disallowed_methods)] // Production thread glue: spawns the preparer thread.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::error::Error;
use crate::event::{Event, EventId, Level, Value};
use crate::integrity::chain::Hash;
use crate::integrity::checkpointer::{self, Checkpointer, MerkleOpenReport};
use crate::integrity::keys;
use crate::integrity::note::Signer;
use crate::io::{Clock, Disk, Entropy, OsEntropy, RealDisk, SystemClock};
use crate::options::Options;
use crate::wal::format::{framed_len, SegmentId};
use crate::wal::open::{self, RecoveryReport};
use crate::wal::segment::{self, Prepared};
use crate::wal::writer::{Batch, Writer, WriterConfig};

/// Proof that an event is durable: its seq and the hash chain value after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The event's place in the log.
    pub seq: u64,
    /// The chain hash after this event (see `integrity::chain`).
    pub chain_hash: Hash,
}

/// Counters for resource-bound checks and metrics.
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
pub struct Sink<D: Disk = RealDisk, C: Clock = SystemClock, E: Entropy = OsEntropy> {
    shared: Arc<Shared<D>>,
    clock: Arc<C>,
    entropy: Arc<E>,
    options: Options,
    report: RecoveryReport,
    merkle: Option<MerkleOpenReport>,
    preparer: Mutex<Option<JoinHandle<()>>>,
    _lock: D::Lock,
}

struct Shared<D: Disk> {
    queue: Mutex<Queue>,
    wake: Condvar,
    writer: Mutex<Writer<D>>,
    prep: Mutex<PrepSlot<D::File>>,
    prep_wake: Condvar,
    disk: Arc<D>,
    dir: PathBuf,
    segment_bytes: u64,
    queue_max: usize,
    batch_max: usize,
    max_delay: std::time::Duration,
    /// The Merkle state and checkpoint schedule, when checkpoints are on. Lock order: the
    /// writer, then this one's locks.
    integrity: Option<Checkpointer<D>>,
    failure_handler: Option<crate::options::FailureHandler>,
}

/// The pending batch and the published results.
struct Queue {
    pending: Batch,
    spare: Batch,
    ticket_next: u64,
    ticket_taken: u64,
    leader: bool,
    results: VecDeque<BatchResult>,
    hashes_pool: Vec<Vec<Hash>>,
    closed: bool,
    poisoned: Option<Error>,
    stats: SinkStats,
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
    /// # Errors
    /// `Error::Config` for invalid options, `Error::AlreadyOpen` if another writer holds the
    /// directory, `Error::Corruption` for damage at or below the durable watermark, I/O errors.
    ///
    /// # Example
    /// ```no_run
    /// use mtlog_audit::{Level, Options, Sink};
    /// let sink = Sink::open(Options::new("./audit-data"))?;
    /// let receipt = sink
    ///     .event(Level::Information, "User {UserId} accessed record {RecordId}")
    ///     .with("UserId", 42)
    ///     .with("RecordId", "r-7")
    ///     .emit()?;
    /// assert!(receipt.seq >= 1);
    /// # Ok::<(), mtlog_audit::Error>(())
    /// ```
    pub fn open(options: Options) -> Result<Sink, Error> {
        Sink::open_with(options, Arc::new(RealDisk), Arc::new(SystemClock), Arc::new(OsEntropy))
    }
}

impl<D: Disk, C: Clock, E: Entropy> Sink<D, C, E> {
    /// Opens the log through the given seams (the simulator passes its own).
    ///
    /// # Errors
    /// As [`Sink::open`].
    pub fn open_with(
        options: Options,
        disk: Arc<D>,
        clock: Arc<C>,
        entropy: Arc<E>,
    ) -> Result<Sink<D, C, E>, Error> {
        options.validate()?;
        let dir = options.dir.clone();
        if !disk.exists(&dir).map_err(|e| Error::io("stat", &dir, &e))? {
            disk.create_dir_all(&dir).map_err(|e| Error::io("mkdir", &dir, &e))?;
        }
        // The directory's own entry must survive a power loss, or every segment in it goes
        // with it. Synced on every open, not only on create: an earlier open may have created
        // it and then failed before (or while) syncing.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            disk.sync_dir(parent).map_err(|e| Error::io("fsync dir", parent, &e))?;
        }
        let lock = disk.lock_dir(&dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => Error::AlreadyOpen { dir: dir.clone() },
            _ => Error::io("lock", &dir, &e),
        })?;
        let (start, report) = open::recover(
            &disk,
            &dir,
            options.segment_bytes,
            options.body_max_effective(),
            &*entropy,
        )?;
        let config = WriterConfig {
            segment_bytes: options.segment_bytes,
            body_max: options.body_max_effective(),
        };
        let head = checkpointer::Head {
            seq_next: start.seq_next,
            chain: start.chain,
            timestamp_last: start.timestamp_last,
        };
        let (integrity, merkle) = match options.checkpoints.signer.is_some() {
            true => {
                let clock: Arc<dyn Clock> = clock.clone();
                let (c, r) = Checkpointer::open(
                    disk.clone(),
                    &dir,
                    report.log_id,
                    head,
                    options.checkpoints.clone(),
                    clock,
                )?;
                (Some(c), Some(r))
            }
            false => (None, None),
        };
        let mut writer = Writer::new(disk.clone(), &dir, config, start);
        // Recovery fsynced every record it kept: say so to readers at once (unsynced marker,
        // as after every batch), instead of waiting for the next write to carry the watermark.
        writer.write_commit_marker()?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                pending: Batch::default(),
                spare: Batch::default(),
                ticket_next: 0,
                ticket_taken: 0,
                leader: false,
                results: VecDeque::new(),
                hashes_pool: Vec::new(),
                closed: false,
                poisoned: None,
                stats: SinkStats { seq_durable: writer.seq_durable(), ..SinkStats::default() },
            }),
            wake: Condvar::new(),
            writer: Mutex::new(writer),
            prep: Mutex::new(PrepSlot::Idle),
            prep_wake: Condvar::new(),
            disk,
            dir,
            segment_bytes: options.segment_bytes,
            queue_max: options.queue_max,
            batch_max: options.batch_max,
            max_delay: options.max_delay,
            integrity,
            failure_handler: options.failure_handler.clone(),
        });
        let worker = shared.clone();
        let log_id = report.log_id;
        let preparer = std::thread::Builder::new()
            .name("mtlog-audit-prepare".into())
            .spawn(move || worker.run_preparer(log_id))
            .map_err(|e| Error::io("spawn preparer", &options.dir, &e))?;
        Ok(Sink {
            shared,
            clock,
            entropy,
            options,
            report,
            merkle,
            preparer: Mutex::new(Some(preparer)),
            _lock: lock,
        })
    }

    /// What recovery found when the log was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.report
    }

    /// How the Merkle state was loaded on open (`None` when checkpoints are off): from its
    /// cache, or rebuilt from the WAL and why.
    pub fn merkle_report(&self) -> Option<&MerkleOpenReport> {
        self.merkle.as_ref()
    }

    /// Signs and writes a checkpoint of every durable event now, if the tree grew since the
    /// last one. Returns the tree size signed (`None` if nothing new, or checkpoints are off).
    ///
    /// # Errors
    /// I/O errors writing the checkpoint files.
    pub fn checkpoint(&self) -> Result<Option<u64>, Error> {
        match &self.shared.integrity {
            Some(c) => c.checkpoint(),
            None => Ok(None),
        }
    }

    /// Tiles the sink could not write since it opened (caches: rebuilt on a later open).
    pub fn merkle_cache_write_failures(&self) -> u64 {
        self.shared.integrity.as_ref().map_or(0, Checkpointer::cache_errors)
    }

    /// Rotates the checkpoint signing key: records the rotation in the log (an event with
    /// [`keys::ROTATION_TEMPLATE`] naming both verifier keys), then writes a checkpoint signed
    /// by both the old and the new key, and signs with `new` from then on. Auditors holding
    /// either key verify the boundary checkpoint; `verify` learns the new key from the record.
    ///
    /// # Errors
    /// `Error::Config` if checkpoints are off; as [`Sink::emit`]; I/O errors writing the
    /// checkpoint (the rotation record is then durable and the new key in use).
    pub fn rotate_signer(&self, new: Signer) -> Result<Receipt, Error> {
        let Some(c) = &self.shared.integrity else {
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
    pub fn event(&self, level: Level, template: &str) -> EventBuilder<'_, D, C, E> {
        EventBuilder { sink: self, event: self.new_event(level, template) }
    }

    /// A new event stamped with this sink's clock and a fresh id (not yet rendered).
    pub fn new_event(&self, level: Level, template: &str) -> Event {
        let mut id = [0u8; 16];
        self.entropy.fill(&mut id);
        Event::new(EventId(id), self.clock.wall_nanos(), level, template)
    }

    /// Appends `event` and returns once it is durable (fdatasynced).
    ///
    /// An error means the outcome is **unknown** only for `Error::Poisoned` (the write may have
    /// reached the disk); a retry after reopening may then store the event twice, and
    /// consumers de-duplicate by event id. Every other error means nothing was stored.
    ///
    /// # Errors
    /// `Error::RecordTooLarge`, `Error::DiskFull` (retry once space is freed),
    /// `Error::Poisoned` (reopen), `Error::Closed`.
    pub fn emit(&self, event: &Event) -> Result<Receipt, Error> {
        let result = ENCODE_BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            event
                .encode_body(&mut buf)
                .map_err(|e| Error::Body { seq: 0, reason: e.to_string() })?;
            if buf.len() > self.options.body_max_effective() {
                return Err(Error::RecordTooLarge {
                    len: buf.len(),
                    max: self.options.body_max_effective(),
                });
            }
            self.shared.submit(event.timestamp_nanos, &buf)
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
    /// event, so this only matters to callers that share a sink across threads.
    ///
    /// # Errors
    /// The poison, if the log is poisoned.
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
    /// and the Merkle state. Idempotent.
    ///
    /// # Errors
    /// The poison, or an I/O error sealing or writing the final checkpoint.
    pub fn close(&self) -> Result<(), Error> {
        {
            let mut q = self.shared.lock_queue();
            if q.closed {
                return Ok(());
            }
            while q.leader || !q.pending.is_empty() {
                q = self.shared.wait(q);
            }
            q.closed = true;
        }
        self.shared.stop_preparer();
        if let Some(handle) = self.preparer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
        let mut w = self.shared.lock_writer();
        if w.poison().is_some() {
            return Err(w.poison().cloned().unwrap_or(Error::Closed));
        }
        w.seal_and_shrink()?;
        // After the seal: the final checkpoint covers every event, all of them durable.
        match &self.shared.integrity {
            Some(c) => c.close(&w.chain_head()),
            None => Ok(()),
        }
    }

    /// Counters: queue depth, buffered bytes, batches, durable seq.
    pub fn stats(&self) -> SinkStats {
        let q = self.shared.lock_queue();
        SinkStats {
            queue_depth: q.pending.len(),
            buffered_bytes: q.pending.bodies.len(),
            ..q.stats
        }
    }

    /// The log directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.options.dir
    }

    /// Reads the log back through this sink's disk and checks it: segments, records, seq
    /// range, hash chain, every damaged range. Sees what is durable now.
    ///
    /// # Errors
    /// I/O errors reading the log.
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
            return;
        }
        if let Err(e) = self.close() {
            if let Some(h) = &self.options.failure_handler {
                h(&e);
            }
        }
    }
}

/// An event being built for a sink: `sink.event(level, template).with(k, v).emit()`.
pub struct EventBuilder<'a, D: Disk, C: Clock, E: Entropy> {
    sink: &'a Sink<D, C, E>,
    event: Event,
}

impl<D: Disk, C: Clock, E: Entropy> EventBuilder<'_, D, C, E> {
    /// Adds a property (replacing one of the same name).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.event = self.event.with_property(name, value);
        self
    }

    /// Attaches exception text.
    pub fn exception(mut self, text: &str) -> Self {
        self.event = self.event.with_exception(text);
        self
    }

    /// Renders the message and emits the event, returning once it is durable.
    ///
    /// # Errors
    /// As [`Sink::emit`].
    pub fn emit(self) -> Result<Receipt, Error> {
        let event = self.event.render();
        self.sink.emit(&event)
    }

    /// The rendered event, without emitting it.
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

    fn lock_writer(&self) -> MutexGuard<'_, Writer<D>> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, q: MutexGuard<'a, Queue>) -> MutexGuard<'a, Queue> {
        self.wake.wait(q).unwrap_or_else(|p| p.into_inner())
    }

    fn submit(&self, timestamp_nanos: i64, body: &[u8]) -> Result<Receipt, Error> {
        let mut q = self.lock_queue();
        loop {
            if q.closed {
                return Err(Error::Closed);
            }
            if let Some(e) = &q.poisoned {
                return Err(e.clone());
            }
            if q.pending.len() < self.queue_max {
                break;
            }
            q = self.wait(q); // back-pressure: the queue is bounded
        }
        let ticket = q.ticket_next;
        q.ticket_next += 1;
        q.pending.bodies.extend_from_slice(body);
        q.pending.push_body_written(timestamp_nanos, body.len());
        q.stats.queue_depth_max = q.stats.queue_depth_max.max(q.pending.len());
        if !self.max_delay.is_zero() && q.pending.len() >= self.batch_max {
            self.wake.notify_all(); // a leader waiting for a full batch can go now
        }
        loop {
            if let Some(r) = take_result(&mut q, ticket) {
                return r;
            }
            if q.leader {
                q = self.wait(q);
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
        q.pending.move_front_into(&mut batch, take);
        let ticket_first = q.ticket_taken;
        q.ticket_taken += take as u64;
        let mut hashes = q.hashes_pool.pop().unwrap_or_default();
        drop(q);
        self.wake.notify_all(); // room in the queue for blocked emitters

        hashes.clear();
        let mut w = self.lock_writer();
        self.install_ready(&mut w, &batch);
        let segment_before = w.active_segment();
        let appended = w.append(&batch, &mut hashes);
        let checkpoint_due = match &self.integrity {
            Some(c) => {
                // Still under the writer lock: leaves reach the tree in seq order.
                assert_eq!(hashes.len(), appended.durable, "one chain hash per durable event");
                c.push_durable(&batch, appended.seq_first, &hashes[..appended.durable]);
                c.is_due(w.active_segment() != segment_before)
            }
            None => false,
        };
        let idle = self.lock_queue().pending.is_empty();
        if idle && appended.error.is_none() {
            // Tell readers (and a recovery after kill -9) what is durable; unsynced on purpose.
            let _ = w.write_commit_marker();
        }
        if let Some(id) = w.wants_prepared() {
            self.request_prepare(id);
        }
        let seq_durable = w.seq_durable();
        drop(w);

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
        self.wake.notify_all();
        if checkpoint_due {
            // After publishing: only this emitter waits for the checkpoint's fsyncs.
            drop(q);
            self.write_checkpoint();
            q = self.lock_queue();
        }
        q
    }

    /// Writes a due checkpoint; a failure goes to the failure handler (the events are durable
    /// and acknowledged regardless; the next due checkpoint tries again).
    fn write_checkpoint(&self) {
        let Some(c) = &self.integrity else { return };
        if let Err(e) = c.checkpoint() {
            if let Some(h) = &self.failure_handler {
                h(&e);
            }
        }
    }

    /// Installs a segment the preparer finished; waits for one it is still preparing if this
    /// batch may need it (two preparations of one segment must never race).
    fn install_ready(&self, w: &mut Writer<D>, batch: &Batch) {
        let next = SegmentId(w.active_segment().0 + 1);
        let bytes: u64 = batch.entries.iter().map(|e| framed_len(e.body_len as usize) as u64).sum();
        let mut slot = self.prep.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match &*slot {
                PrepSlot::Requested(id) | PrepSlot::Running(id)
                    if *id == next && w.may_rotate_within(bytes) =>
                {
                    slot = self.prep_wake.wait(slot).unwrap_or_else(|p| p.into_inner());
                }
                PrepSlot::Ready(p) if p.id == next => {
                    if let PrepSlot::Ready(p) = std::mem::replace(&mut *slot, PrepSlot::Idle) {
                        w.install_prepared(p);
                    }
                    return;
                }
                _ => return,
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

    fn run_preparer(&self, log_id: u128) {
        let mut slot = self.prep.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match &*slot {
                PrepSlot::Stop => return,
                PrepSlot::Requested(id) => {
                    let id = *id;
                    *slot = PrepSlot::Running(id);
                    drop(slot);
                    let r =
                        segment::prepare(&*self.disk, &self.dir, log_id, id, self.segment_bytes);
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
