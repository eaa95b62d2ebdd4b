//! The log engine: every step production runs at open, between an `emit` and its ack, and at
//! close, in one order, without a thread.
//!
//! `Sink` wraps it in thread glue (the queue, the condvars, the leader/follower hand-off and the
//! preparer thread); the torture harness, the `wal_ops` fuzz harness and the benchmarks drive
//! this very type, one call per step, so a seed that passes there proves the order production
//! runs, not a copy of it.
//!
//! Open ([`Log::open`]):
//! 1. the log directory is created if missing, and its parent fsynced (on every open: an
//!    earlier open may have created it and failed before the sync);
//! 2. the directory lock is taken;
//! 3. recovery (`open.rs`) cuts a torn tail and prepares the segment to append to;
//! 4. with checkpoints on, the checkpointer loads (or rebuilds) the Merkle state;
//! 5. the first commit marker publishes the recovered watermark to readers.
//!
//! Commit ([`Log::commit`], one batch):
//! 1. a segment the preparer finished is installed, if it is the next one;
//! 2. the writer appends the batch and fdatasyncs it (`writer.rs`);
//! 3. the checkpointer takes the durable events' leaves, and says whether a checkpoint is due;
//! 4. a commit marker, unsynced, when no other batch waits;
//! 5. a preparation request, when the active segment is half full.
//!
//! The due checkpoint ([`Log::checkpoint`]) is written after the batch's acks are published, so
//! only one emitter waits for its fsyncs. Close ([`Log::close`]) seals the active segment,
//! writes the final checkpoint and the Merkle state, and releases the lock.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use mtlog_audit::event::{Event, EventId, Level};
//! use mtlog_audit::io::{OsEntropy, RealDisk, SystemClock};
//! use mtlog_audit::wal::log::{Log, Marker};
//! use mtlog_audit::wal::writer::Batch;
//! use mtlog_audit::Options;
//!
//! # let tmp = tempfile::tempdir()?;
//! let options = Options::new(tmp.path().join("log"));
//! let mut log = Log::open(Arc::new(RealDisk), &options, Arc::new(SystemClock), &OsEntropy)?;
//! assert_eq!(log.report().seq_next, 1);
//!
//! let mut batch = Batch::default();
//! let event = Event::new(EventId([1; 16]), 0, Level::Information, "Hello").render();
//! event.encode_body(&mut batch.bodies)?;
//! batch.push_body_written(event.timestamp_nanos, batch.bodies.len());
//! let mut hashes = Vec::new();
//! let next = log.segment_next(&batch);
//! assert!(!next.waits_for(next.id)); // far from a rotation: never wait for the preparer
//! let committed = log.commit(&batch, &mut hashes, None, || true);
//! assert!(committed.appended.error.is_none());
//! assert_eq!((committed.seq_durable, committed.checkpoint_due), (1, false));
//! assert!(matches!(committed.marker, Marker::Written)); // the queue was idle
//! assert_eq!(committed.prepare, None); // asked for once the segment is half full
//! log.close()?; // seals and releases the lock
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Error;
use crate::integrity::chain::Hash;
use crate::integrity::checkpointer::{self, Checkpointer, MerkleOpenReport};
use crate::integrity::note::Signer;
use crate::io::{Clock, Disk, Entropy};
use crate::options::Options;
use crate::wal::format::{framed_len, SegmentId};
use crate::wal::open::{self, RecoveryReport};
use crate::wal::segment::{self, Prepared};
use crate::wal::writer::{Appended, Batch, Writer, WriterConfig};

/// An open log: the writer, the checkpointer (when checkpoints are on) and the directory lock.
/// See the [module docs](self) for an example.
pub struct Log<D: Disk> {
    writer: Writer<D>,
    checkpoints: Option<Checkpoints<D>>,
    preparer: Preparer<D>,
    report: RecoveryReport,
    merkle: Option<MerkleOpenReport>,
    /// Held from open until [`Log::close`] returns (or the log is dropped).
    lock: Option<D::Lock>,
}

/// What one [`Log::commit`] did. See the [module docs](self) for an example.
#[derive(Debug)]
pub struct Committed {
    /// The writer's outcome: how many events from the start of the batch are durable.
    pub appended: Appended,
    /// The commit marker after the batch.
    pub marker: Marker,
    /// Whether a checkpoint is due ([`Log::checkpoint`] writes it).
    pub checkpoint_due: bool,
    /// The segment the preparer should prepare now, if any.
    pub prepare: Option<SegmentId>,
    /// The highest durable seq after the batch.
    pub seq_durable: u64,
}

/// The commit marker after a batch. See the [module docs](self) for an example.
#[derive(Debug)]
pub enum Marker {
    /// Not written: another batch waits (it will carry the watermark), or the append failed.
    Skipped,
    /// Written, unsynced.
    Written,
    /// Writing it failed: the log is poisoned from now on.
    Failed(Error),
}

/// The segment a batch may need next, and whether the leader must wait for the preparer
/// working on it. See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentNext {
    /// The segment after the active one.
    pub id: SegmentId,
    /// Whether the batch may fill the active segment (and so need `id`).
    pub may_rotate: bool,
}

impl SegmentNext {
    /// Whether a leader must wait for a preparation of `preparing` before committing: it is
    /// the next segment and the batch may rotate into it (two preparations of one segment
    /// must never race, and the writer would otherwise prepare it itself).
    pub fn waits_for(&self, preparing: SegmentId) -> bool {
        preparing == self.id && self.may_rotate
    }

    /// Whether a finished preparation of `prepared` is the one to install now.
    pub fn installs(&self, prepared: SegmentId) -> bool {
        prepared == self.id
    }
}

/// Prepares segments off the ack path (the sink's preparer thread calls it). See
/// [`Log::preparer`].
pub struct Preparer<D: Disk> {
    disk: Arc<D>,
    dir: PathBuf,
    log_id: u128,
    segment_bytes: u64,
}

impl<D: Disk> Clone for Preparer<D> {
    fn clone(&self) -> Self {
        Preparer {
            disk: self.disk.clone(),
            dir: self.dir.clone(),
            log_id: self.log_id,
            segment_bytes: self.segment_bytes,
        }
    }
}

impl<D: Disk> Preparer<D> {
    /// Preparation of segment `id`: header, zero-fill, fdatasync, rename, directory fsync.
    ///
    /// # Errors
    /// As [`segment::prepare`]. The writer then prepares the segment itself at rotation and
    /// reports the error to the events that need it.
    pub fn prepare(&self, id: SegmentId) -> Result<Prepared<D::File>, Error> {
        segment::prepare(&*self.disk, &self.dir, self.log_id, id, self.segment_bytes)
    }
}

/// The checkpointer of an open log, shareable with threads that write checkpoints outside the
/// writer's lock. See [`Log::checkpoints`].
pub struct Checkpoints<D: Disk>(Arc<Checkpointer<D>>);

impl<D: Disk> Clone for Checkpoints<D> {
    fn clone(&self) -> Self {
        Checkpoints(self.0.clone())
    }
}

impl<D: Disk> Checkpoints<D> {
    /// Signs and writes a checkpoint of every durable event, unless this tree size is signed.
    /// Returns the tree size signed.
    ///
    /// # Errors
    /// `Error::Io` writing the checkpoint files; the log is unaffected, and the next
    /// checkpoint tries again.
    pub fn checkpoint(&self) -> Result<Option<u64>, Error> {
        self.0.checkpoint()
    }

    /// Starts signing with `new`; the next checkpoint carries both keys' signatures. The
    /// caller has already made the rotation record durable.
    pub fn rotate(&self, new: Signer) {
        self.0.rotate(new);
    }

    /// The current signer.
    pub fn signer(&self) -> Signer {
        self.0.signer()
    }

    /// Tiles that could not be written since open (caches, rebuilt on a later open).
    pub fn cache_write_failures(&self) -> u64 {
        self.0.cache_errors()
    }
}

impl<D: Disk> Log<D> {
    /// Opens (creating or recovering) the log in `options.dir`: the steps 1-5 of the
    /// [module docs](self). The options are taken as given: `Sink::open` validates them.
    ///
    /// # Errors
    /// As [`Sink::open`](crate::Sink::open), but for `Error::Config` and the preparer thread.
    ///
    /// # Panics
    /// If recovery's report and the writer's start disagree (our bug).
    pub fn open<E: Entropy + ?Sized>(
        disk: Arc<D>,
        options: &Options,
        clock: Arc<dyn Clock>,
        entropy: &E,
    ) -> Result<Log<D>, Error> {
        let dir = options.dir.as_path();
        let lock = lock_dir(&*disk, dir)?;
        let config = WriterConfig {
            segment_bytes: options.segment_bytes,
            body_max: options.body_max_effective(),
        };
        let (start, report) =
            open::recover(&disk, dir, config.segment_bytes, config.body_max, entropy)?;
        assert_eq!(start.log_id, report.log_id, "recovery names one log");
        assert_eq!(start.seq_next, report.seq_next, "recovery reports where appends continue");
        // A checkpointer exists only with a signer: it is handed over, so the checkpointer
        // cannot be built without one.
        let (checkpoints, merkle) = match options.checkpoints.signer.clone() {
            Some(signer) => {
                let head = checkpointer::Head {
                    seq_next: start.seq_next,
                    chain: start.chain,
                    timestamp_last: start.timestamp_last,
                };
                let (c, r) = Checkpointer::open(
                    disk.clone(),
                    dir,
                    report.log_id,
                    head,
                    signer,
                    options.checkpoints.clone(),
                    clock,
                )?;
                (Some(Checkpoints(Arc::new(c))), Some(r))
            }
            None => (None, None),
        };
        let preparer = Preparer {
            disk: disk.clone(),
            dir: dir.to_path_buf(),
            log_id: report.log_id,
            segment_bytes: config.segment_bytes,
        };
        let mut writer = Writer::new(disk, dir, config, start);
        // Recovery fsynced every record it kept: say so to readers at once (unsynced marker,
        // as after every batch), instead of waiting for the next write to carry the watermark.
        writer.write_commit_marker()?;
        Ok(Log { writer, checkpoints, preparer, report, merkle, lock: Some(lock) })
    }

    /// What recovery found at open.
    pub fn report(&self) -> &RecoveryReport {
        &self.report
    }

    /// How the Merkle state was loaded at open (`None` when checkpoints are off).
    pub fn merkle_report(&self) -> Option<&MerkleOpenReport> {
        self.merkle.as_ref()
    }

    /// The writer, to look at (durable seq, poison, active segment, log id).
    pub fn writer(&self) -> &Writer<D> {
        &self.writer
    }

    /// The preparer of this log's segments.
    pub fn preparer(&self) -> Preparer<D> {
        self.preparer.clone()
    }

    /// The checkpointer, when checkpoints are on.
    pub fn checkpoints(&self) -> Option<Checkpoints<D>> {
        self.checkpoints.clone()
    }

    /// The segment `batch` may need, to decide before [`Log::commit`] whether to wait for the
    /// preparer and which prepared segment to hand over.
    pub fn segment_next(&self, batch: &Batch) -> SegmentNext {
        let bytes: u64 = batch.entries.iter().map(|e| framed_len(e.body_len as usize) as u64).sum();
        SegmentNext {
            id: SegmentId(self.writer.active_segment().0 + 1),
            may_rotate: self.writer.may_rotate_within(bytes),
        }
    }

    /// Commits `batch`: the steps 1-5 of the [module docs](self). `hashes` (empty) receives the
    /// durable events' chain values; `prepared` is a segment the preparer finished, the one
    /// [`SegmentNext::installs`] names; `queue_idle` says, after the fdatasync, whether no
    /// other batch waits (then the commit marker is written).
    ///
    /// # Panics
    /// If `hashes` is not empty, or `prepared` is not the segment after the active one.
    pub fn commit(
        &mut self,
        batch: &Batch,
        hashes: &mut Vec<Hash>,
        prepared: Option<Prepared<D::File>>,
        queue_idle: impl FnOnce() -> bool,
    ) -> Committed {
        assert!(hashes.is_empty(), "commit fills an empty hash list");
        if let Some(p) = prepared {
            self.writer.install_prepared(p);
        }
        #[cfg(feature = "canary-checkpoint-undurable")] // CANARY: signs leaves before their fsync
        if let Some(c) = &self.checkpoints {
            let unsynced = vec![[0u8; 32]; batch.len()];
            c.0.push_durable(batch, self.writer.seq_durable() + 1, &unsynced);
            if c.0.is_due(false) {
                let _ = c.0.checkpoint();
            }
        }
        let segment_before = self.writer.active_segment();
        let appended = self.writer.append(batch, hashes);
        assert_eq!(hashes.len(), appended.durable, "one chain hash per durable event");
        let checkpoint_due = match &self.checkpoints {
            Some(c) => {
                // Under the caller's exclusive hold on the log: leaves reach the tree in seq
                // order, and only durable ones.
                #[cfg(not(feature = "canary-checkpoint-undurable"))]
                c.0.push_durable(batch, appended.seq_first, hashes);
                c.0.is_due(self.writer.active_segment() != segment_before)
            }
            None => false,
        };
        let marker = match queue_idle() && appended.error.is_none() {
            // Tells readers (and a recovery after kill -9) what is durable; unsynced on purpose.
            true => match self.writer.write_commit_marker() {
                Ok(()) => Marker::Written,
                Err(e) => Marker::Failed(e),
            },
            false => Marker::Skipped,
        };
        let prepare = self.writer.wants_prepared();
        let seq_durable = self.writer.seq_durable();
        assert_eq!(
            seq_durable + 1,
            appended.seq_first + appended.durable as u64,
            "the durable seq moves by the events acknowledged, and only by them"
        );
        Committed { appended, marker, checkpoint_due, prepare, seq_durable }
    }

    /// Writes the checkpoint a commit said is due (or any new one: `Sink::checkpoint`).
    ///
    /// # Errors
    /// As [`Checkpoints::checkpoint`]; `Ok(None)` when checkpoints are off.
    pub fn checkpoint(&self) -> Result<Option<u64>, Error> {
        match &self.checkpoints {
            Some(c) => c.checkpoint(),
            None => Ok(None),
        }
    }

    /// Closes the log: seals the active segment (a clean close proves every record durable),
    /// then, with checkpoints on, writes the final checkpoint (if configured) and the Merkle
    /// state; releases the directory lock whatever the outcome.
    ///
    /// # Errors
    /// - `Error::Poisoned` if the log was poisoned before, or writing the seal, its
    ///   `fdatasync`, the shrink or the `fsync` fails.
    /// - `Error::Io` writing the final checkpoint or the Merkle state; every event is durable
    ///   and sealed by then.
    pub fn close(&mut self) -> Result<(), Error> {
        let result = self.seal_and_finish();
        // After the last write: the next opener may recover the directory.
        self.lock = None;
        result
    }

    /// Releases the directory lock without sealing (a sink dropped while unwinding).
    pub fn release_lock(&mut self) {
        self.lock = None;
    }

    fn seal_and_finish(&mut self) -> Result<(), Error> {
        self.writer.seal_and_shrink()?;
        // After the seal: the final checkpoint covers every event, all of them durable.
        match &self.checkpoints {
            Some(c) => c.0.close(&self.writer.chain_head()),
            None => Ok(()),
        }
    }
}

/// Steps 1 and 2 of open: the directory (created if missing, its entry made durable) and its
/// lock.
fn lock_dir<D: Disk>(disk: &D, dir: &Path) -> Result<D::Lock, Error> {
    if !disk.exists(dir).map_err(|e| Error::io("stat", dir, &e))? {
        disk.create_dir_all(dir).map_err(|e| Error::io("mkdir", dir, &e))?;
    }
    // The directory's own entry must survive a power loss, or every segment in it goes with
    // it. Synced on every open, not only on create: an earlier open may have created it and
    // then failed before (or while) syncing.
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        disk.sync_dir(parent).map_err(|e| Error::io("fsync dir", parent, &e))?;
    }
    disk.lock_dir(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock => Error::AlreadyOpen { dir: dir.to_path_buf() },
        _ => Error::io("lock", dir, &e),
    })
}
