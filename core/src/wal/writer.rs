//! The writer: a state machine that appends batches of records to segments through `Disk`.
//!
//! It owns no thread and never waits: production's thread glue (`sink.rs`) and the simulator
//! both drive this very type, one call per batch. One call writes the batch (rotating segments
//! as they fill), issues one `fdatasync` per segment touched, and only then advances the durable
//! seq. An I/O error other than a full disk **poisons** the writer: the batch and every later
//! one fail with `Error::Poisoned`, and the fsync is never retried (after a failed fsync the
//! kernel may have dropped the dirty pages; a retry can report success for data that is gone).
//!
//! Rotation order (prepare next, seal current, fsync, switch):
//! 1. the next segment is prepared: durable header, zeros and directory entry (`segment.rs`);
//! 2. the seal record is written after the current segment's last record;
//! 3. `fdatasync` of the current segment makes its records and seal durable;
//! 4. the writer switches; the first ack inside the new segment follows its own `fdatasync`,
//!    and its directory entry was made durable in step 1.
//!
//! # Examples
//!
//! Driving the writer by hand, as the simulator does (production code uses `Sink`):
//!
//! ```
//! use std::sync::Arc;
//! use mtlog_audit::event::{Event, EventId, Level};
//! use mtlog_audit::io::{Disk, OsEntropy, RealDisk};
//! use mtlog_audit::wal::open;
//! use mtlog_audit::wal::writer::{Batch, Writer, WriterConfig};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let disk = Arc::new(RealDisk);
//! let _lock = disk.lock_dir(dir)?;
//! let config = WriterConfig { segment_bytes: 64 << 10, body_max: 1 << 10 };
//! let (segment_bytes, body_max) = (config.segment_bytes, config.body_max);
//! let (start, _report) = open::recover(&disk, dir, segment_bytes, body_max, &OsEntropy)?;
//! let mut writer = Writer::new(disk.clone(), dir, config, start);
//!
//! let mut batch = Batch::default();
//! for n in 0..3 {
//!     let event = Event::new(EventId([n; 16]), 0, Level::Information, "Hello").render();
//!     let before = batch.bodies.len();
//!     event.encode_body(&mut batch.bodies)?;
//!     batch.push_body_written(event.timestamp_nanos, batch.bodies.len() - before);
//! }
//! // A group-commit leader takes at most `batch_max` events and leaves the rest pending.
//! let mut taken = Batch::default();
//! batch.move_front_into(&mut taken, 2);
//! assert_eq!((taken.len(), batch.len()), (2, 1));
//! let mut hashes = Vec::new();
//! let appended = writer.append(&taken, &mut hashes); // one fdatasync for the batch
//! assert!(appended.error.is_none());
//! assert_eq!((appended.seq_first, appended.durable), (1, 2));
//! let appended = writer.append(&batch, &mut hashes);
//! assert_eq!((appended.seq_first, appended.durable), (3, 1));
//! assert_eq!((writer.seq_durable(), writer.chain_head()), (3, hashes[2]));
//! taken.clear();
//! assert!(taken.is_empty());
//!
//! // Nothing failed, the log is still in its first segment, and no rotation is near.
//! assert!(writer.poison().is_none());
//! assert_eq!(writer.active_segment().0, 1);
//! assert_ne!(writer.log_id(), 0);
//! assert!(!writer.may_rotate_within(1 << 10));
//! assert_eq!(writer.wants_prepared(), None); // asked for once the segment is half full
//! writer.write_commit_marker()?; // publishes the durable watermark to readers
//! writer.seal_and_shrink()?; // clean close
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use xxhash_rust::xxh3::Xxh3;

use crate::error::Error;
use crate::integrity::chain::{self, Hash};
use crate::io::{write_all_at, Disk, DiskFile};
use crate::wal::format::{
    self, encode_record, encode_seal_body, framed_len, BodyEncoding, RecordHeader, RecordKind,
    SealBody, SegmentId, COMMIT_RECORD_LEN, FLAG_CLOCK_ADJUSTED, SEAL_RECORD_LEN,
    SEGMENT_HEADER_LEN,
};
use crate::wal::segment::{self, Prepared};

/// Limits the writer enforces.
///
/// See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriterConfig {
    /// Preallocated size of each segment.
    pub segment_bytes: u64,
    /// The largest record body accepted.
    pub body_max: usize,
}

/// Events waiting to be written, in order: bodies concatenated in one buffer (no allocation per
/// event once the buffers have grown).
///
/// See the [module docs](self) for an example.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// The concatenated bodies.
    pub bodies: Vec<u8>,
    /// One entry per event.
    pub entries: Vec<BatchEntry>,
}

/// One event of a batch.
///
/// See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchEntry {
    /// The event's timestamp.
    pub timestamp_nanos: i64,
    /// How its body is encoded.
    pub encoding: BodyEncoding,
    /// Its body's length; bodies follow each other in [`Batch::bodies`].
    pub body_len: u32,
}

impl Batch {
    /// Appends an event whose body the caller already wrote at the end of `bodies`.
    ///
    /// See the [module docs](self) for an example.
    pub fn push_body_written(&mut self, timestamp_nanos: i64, body_len: usize) {
        self.entries.push(BatchEntry {
            timestamp_nanos,
            encoding: BodyEncoding::Postcard,
            body_len: body_len as u32,
        });
    }

    /// Moves the first `n` events into `to` (which must be empty): how a group-commit leader
    /// takes at most `batch_max` events and leaves the rest pending. Shared by the production
    /// glue and the simulator, so both split batches the same way.
    ///
    /// See the [module docs](self) for an example.
    ///
    /// # Panics
    /// If `to` is not empty or `n` exceeds [`Batch::len`]: callers' bugs.
    pub fn move_front_into(&mut self, to: &mut Batch, n: usize) {
        assert!(to.is_empty());
        assert!(n <= self.len());
        if n == self.len() {
            std::mem::swap(self, to);
            return;
        }
        let bytes: usize = self.entries[..n].iter().map(|e| e.body_len as usize).sum();
        to.bodies.extend_from_slice(&self.bodies[..bytes]);
        to.entries.extend_from_slice(&self.entries[..n]);
        self.bodies.drain(..bytes);
        self.entries.drain(..n);
    }

    /// Empties the batch, keeping its buffers.
    ///
    /// See the [module docs](self) for an example.
    pub fn clear(&mut self) {
        self.bodies.clear();
        self.entries.clear();
    }

    /// How many events.
    ///
    /// See the [module docs](self) for an example.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether empty.
    ///
    /// See the [module docs](self) for an example.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The outcome of [`Writer::append`].
///
/// See the [module docs](self) for an example.
#[derive(Debug)]
pub struct Appended {
    /// The seq of the batch's first event (valid when `durable > 0`).
    pub seq_first: u64,
    /// How many events of the batch, from the start, are durable. The rest failed.
    pub durable: usize,
    /// Why the rest failed, if any did.
    pub error: Option<Error>,
}

/// The segment being appended to.
struct Active<F> {
    id: SegmentId,
    path: PathBuf,
    file: F,
    capacity: u64,
    /// Where the next record goes.
    offset: u64,
    /// xxh3 over every byte before `offset`, for the seal.
    hasher: Xxh3,
    events: u64,
}

/// The state a writer starts from (after recovery).
///
/// See the [module docs](self) for an example.
pub struct WriterStart<F> {
    /// The log id.
    pub log_id: u128,
    /// The seq the next event gets.
    pub seq_next: u64,
    /// The chain value after the last event.
    pub chain: Hash,
    /// The last event's timestamp.
    pub timestamp_last: Option<i64>,
    /// The empty segment to append to.
    pub active: Prepared<F>,
}

/// The WAL writer. See the module docs.
///
/// See the [module docs](self) for an example.
pub struct Writer<D: Disk> {
    disk: Arc<D>,
    dir: PathBuf,
    log_id: u128,
    config: WriterConfig,
    active: Active<D::File>,
    prepared: Option<Prepared<D::File>>,
    seq_next: u64,
    seq_durable: u64,
    chain: Hash,
    timestamp_last: Option<i64>,
    buf: Vec<u8>,
    poisoned: Option<Error>,
}

impl<D: Disk> Writer<D> {
    /// A writer continuing the log described by `start`.
    ///
    /// See the [module docs](self) for an example.
    ///
    /// # Panics
    /// If `start.seq_next` is 0 (seqs start at 1).
    pub fn new(
        disk: Arc<D>,
        dir: &Path,
        config: WriterConfig,
        start: WriterStart<D::File>,
    ) -> Self {
        let mut hasher = Xxh3::new();
        hasher.update(&start.active.header);
        assert!(start.seq_next >= 1);
        Writer {
            disk,
            dir: dir.to_path_buf(),
            log_id: start.log_id,
            config,
            active: Active {
                id: start.active.id,
                path: start.active.path,
                file: start.active.file,
                capacity: start.active.capacity,
                offset: SEGMENT_HEADER_LEN as u64,
                hasher,
                events: 0,
            },
            prepared: None,
            seq_next: start.seq_next,
            seq_durable: start.seq_next - 1,
            chain: start.chain,
            timestamp_last: start.timestamp_last,
            buf: Vec::new(),
            poisoned: None,
        }
    }

    /// The highest durable seq.
    ///
    /// See the [module docs](self) for an example.
    pub fn seq_durable(&self) -> u64 {
        self.seq_durable
    }

    /// The chain value after the last durable event.
    ///
    /// See the [module docs](self) for an example.
    pub fn chain_head(&self) -> Hash {
        self.chain
    }

    /// The poison, if an I/O error stopped the writer.
    ///
    /// See the [module docs](self) for an example.
    pub fn poison(&self) -> Option<&Error> {
        self.poisoned.as_ref()
    }

    /// The log id.
    ///
    /// See the [module docs](self) for an example.
    pub fn log_id(&self) -> u128 {
        self.log_id
    }

    /// The active segment's id.
    ///
    /// See the [module docs](self) for an example.
    pub fn active_segment(&self) -> SegmentId {
        self.active.id
    }

    /// The id of the segment that should be prepared next, once the active one is half full
    /// and none is ready: preparing early keeps zero-filling off the ack path.
    ///
    /// See the [module docs](self) for an example.
    pub fn wants_prepared(&self) -> Option<SegmentId> {
        let half = self.active.offset * 2 >= self.active.capacity;
        (self.prepared.is_none() && half && self.poisoned.is_none())
            .then_some(SegmentId(self.active.id.0 + 1))
    }

    /// Whether appending `bytes` more (framed) might need a rotation.
    ///
    /// See the [module docs](self) for an example.
    pub fn may_rotate_within(&self, bytes: u64) -> bool {
        self.active.offset + bytes + SEAL_RECORD_LEN as u64 > self.active.capacity
    }

    /// Installs a segment prepared elsewhere (the background preparer, or the simulator).
    ///
    /// See the [module docs](self) for an example.
    ///
    /// # Panics
    /// If `p` is not the segment after the active one ([`Writer::wants_prepared`] names it).
    pub fn install_prepared(&mut self, p: Prepared<D::File>) {
        assert_eq!(p.id.0, self.active.id.0 + 1, "prepared segment out of order");
        self.prepared = Some(p);
    }

    /// Appends `batch`, rotating as needed, and makes it durable. Returns how many events from
    /// the start of the batch are durable; `hashes` receives their chain values.
    ///
    /// See the [module docs](self) for an example.
    pub fn append(&mut self, batch: &Batch, hashes: &mut Vec<Hash>) -> Appended {
        let seq_first = self.seq_next;
        let mut appended = Appended { seq_first, durable: 0, error: None };
        if let Some(p) = &self.poisoned {
            appended.error = Some(p.clone());
            return appended;
        }
        let mut at = 0usize; // index of the next entry to write
        let mut body_at = 0usize; // its body's offset in batch.bodies
        while at < batch.len() {
            let (end, body_end) = self.fit(batch, at, body_at);
            if end == at {
                // Not even one more record fits: rotate first.
                if let Err(e) = self.rotate() {
                    appended.error = Some(e);
                    return appended;
                }
                continue;
            }
            let more = end < batch.len();
            let (durable, error) = self.write_part(batch, at, end, body_at, more, hashes);
            if durable {
                appended.durable += end - at;
            }
            if error.is_some() {
                appended.error = error;
                return appended;
            }
            at = end;
            body_at = body_end;
        }
        appended
    }

    /// Writes a commit marker after the last record, unsynced: it tells readers (and
    /// recovery, if it survives) that every seq up to the durable one is durable. The next
    /// batch writes over it.
    ///
    /// See the [module docs](self) for an example.
    ///
    /// # Errors
    /// `Error::Poisoned` if the write fails (and from then on), or if the writer was already
    /// poisoned.
    ///
    /// # Panics
    /// Never: every batch leaves room for a seal, and the marker fits in that room; an
    /// assertion checks it.
    pub fn write_commit_marker(&mut self) -> Result<(), Error> {
        if let Some(p) = &self.poisoned {
            return Err(p.clone());
        }
        // The marker sits where the seal will go (the seal overwrites it), inside the room
        // every batch leaves for the seal.
        assert!(self.active.offset + COMMIT_RECORD_LEN as u64 <= self.active.capacity);
        self.buf.clear();
        let header = self.control_header(RecordKind::Commit, self.seq_durable);
        encode_record(&mut self.buf, &header, &[]);
        let buf = std::mem::take(&mut self.buf);
        let r = write_all_at(&self.active.file, &buf, self.active.offset);
        self.buf = buf;
        r.map_err(|e| self.poison_with("write commit marker", &e))
    }

    /// Seals the active segment where it ends and shrinks the file to the seal (clean close).
    ///
    /// See the [module docs](self) for an example.
    ///
    /// # Errors
    /// `Error::Poisoned` on any I/O error (writing the seal, its `fdatasync`, the shrink or the
    /// `fsync`), or if the writer was already poisoned.
    pub fn seal_and_shrink(&mut self) -> Result<(), Error> {
        if let Some(p) = &self.poisoned {
            return Err(p.clone());
        }
        self.write_seal(self.active.events, self.seq_next - 1, self.chain)?;
        let end = self.active.offset + SEAL_RECORD_LEN as u64;
        let file = &self.active.file;
        let r = file.sync_data().and_then(|()| file.set_len(end)).and_then(|()| file.sync_all());
        r.map_err(|e| self.poison_with("seal", &e))
    }

    /// The index one past the last entry from `at` that fits in the active segment (keeping
    /// room for the seal), and the body offset there.
    fn fit(&self, batch: &Batch, at: usize, mut body_at: usize) -> (usize, usize) {
        let room = self.active.capacity - SEAL_RECORD_LEN as u64;
        let mut offset = self.active.offset;
        let mut end = at;
        for e in &batch.entries[at..] {
            let len = framed_len(e.body_len as usize) as u64;
            if offset + len > room {
                break;
            }
            offset += len;
            body_at += e.body_len as usize;
            end += 1;
        }
        (end, body_at)
    }

    fn write_part(
        &mut self,
        batch: &Batch,
        at: usize,
        end: usize,
        body_at: usize,
        more: bool,
        hashes: &mut Vec<Hash>,
    ) -> (bool, Option<Error>) {
        let watermark = self.seq_durable;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let mut chain = self.chain;
        let mut ts_last = self.timestamp_last;
        let mut body_off = body_at;
        let hashes_before = hashes.len();
        for (i, e) in batch.entries[at..end].iter().enumerate() {
            let body = &batch.bodies[body_off..body_off + e.body_len as usize];
            body_off += e.body_len as usize;
            assert!(body.len() <= self.config.body_max);
            let flags = match ts_last {
                Some(prev) if e.timestamp_nanos < prev => FLAG_CLOCK_ADJUSTED,
                _ => 0,
            };
            let seq = self.seq_next + i as u64;
            let header = RecordHeader {
                kind: RecordKind::Event,
                encoding: e.encoding,
                flags,
                log_id: self.log_id,
                segment: self.active.id,
                seq,
                watermark,
                timestamp_nanos: e.timestamp_nanos,
                prev_hash: chain,
            };
            encode_record(&mut buf, &header, body);
            let enc = match e.encoding {
                BodyEncoding::Postcard => 0,
                BodyEncoding::Envelope => 1,
                BodyEncoding::Fixed => 2,
            };
            let leaf = chain::leaf_hash(self.log_id, seq, e.timestamp_nanos, flags, enc, body);
            chain = chain::link(&chain, &leaf);
            hashes.push(chain);
            // The flag compares with the previous record's raw timestamp, as recovery does
            // after a reopen (the last event's timestamp), so the rule is the same either side.
            ts_last = Some(e.timestamp_nanos);
        }
        let offset = self.active.offset;
        assert!(offset + buf.len() as u64 + SEAL_RECORD_LEN as u64 <= self.active.capacity);
        let written = write_all_at(&self.active.file, &buf, offset);
        if let Err(e) = written {
            self.buf = buf;
            hashes.truncate(hashes_before);
            return (false, Some(self.poison_with("write", &e)));
        }
        self.active.hasher.update(&buf);
        self.active.offset += buf.len() as u64;
        self.buf = buf;
        let count = (end - at) as u64;
        if more {
            // The rest of the batch goes to the next segment: seal this one first. If the next
            // segment cannot be prepared (disk full), still make this part durable.
            let prepared = self.ensure_prepared();
            let events = self.active.events + count;
            let sealed = match prepared {
                Ok(()) => self.write_seal(events, self.seq_next + count - 1, chain),
                Err(e) => Err(e),
            };
            if let Err(e @ Error::Poisoned(_)) = sealed {
                // Fail-stop: nothing of a batch that met an I/O error is acknowledged.
                hashes.truncate(hashes_before);
                return (false, Some(e));
            }
            let synced = self.sync_part(count, chain, ts_last, hashes, hashes_before);
            return match (synced, sealed) {
                (Err(e), _) => (false, Some(e)),
                (Ok(()), Err(e)) => (true, Some(e)),
                (Ok(()), Ok(())) => {
                    self.switch();
                    (true, None)
                }
            };
        }
        match self.sync_part(count, chain, ts_last, hashes, hashes_before) {
            Ok(()) => (true, None),
            Err(e) => (false, Some(e)),
        }
    }

    fn sync_part(
        &mut self,
        count: u64,
        chain: Hash,
        ts_last: Option<i64>,
        hashes: &mut Vec<Hash>,
        hashes_before: usize,
    ) -> Result<(), Error> {
        #[cfg(not(feature = "canary-ack-before-sync"))]
        let synced = self.active.file.sync_data();
        #[cfg(feature = "canary-ack-before-sync")] // CANARY: acks a batch no fdatasync covered
        let synced: std::io::Result<()> = Ok(());
        #[cfg(feature = "canary-fsync-retry")] // CANARY: retries a failed fdatasync, then acks
        let synced = synced.or_else(|_| self.active.file.sync_data());
        if let Err(e) = synced {
            hashes.truncate(hashes_before);
            return Err(self.poison_with("fdatasync", &e));
        }
        self.seq_next += count;
        self.seq_durable = self.seq_next - 1;
        self.chain = chain;
        self.timestamp_last = ts_last;
        self.active.events += count;
        Ok(())
    }

    fn ensure_prepared(&mut self) -> Result<(), Error> {
        if self.prepared.is_some() {
            return Ok(());
        }
        let id = SegmentId(self.active.id.0 + 1);
        match segment::prepare(&*self.disk, &self.dir, self.log_id, id, self.config.segment_bytes) {
            Ok(p) => {
                self.prepared = Some(p);
                Ok(())
            }
            Err(e @ Error::DiskFull { .. }) => Err(e),
            Err(e) => {
                self.poisoned = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Seals the active segment and switches to the prepared one, when the next record does
    /// not fit.
    fn rotate(&mut self) -> Result<(), Error> {
        self.ensure_prepared()?;
        self.write_seal(self.active.events, self.seq_next - 1, self.chain)?;
        if let Err(e) = self.active.file.sync_data() {
            return Err(self.poison_with("fdatasync seal", &e));
        }
        self.switch();
        Ok(())
    }

    fn switch(&mut self) {
        let p = self.prepared.take().expect("switch without a prepared segment");
        let mut hasher = Xxh3::new();
        hasher.update(&p.header);
        self.active = Active {
            id: p.id,
            path: p.path,
            file: p.file,
            capacity: p.capacity,
            offset: SEGMENT_HEADER_LEN as u64,
            hasher,
            events: 0,
        };
    }

    /// Writes the seal after the last record: `events` in the segment, the last of them
    /// `seq_last`, the chain after it `chain`.
    fn write_seal(&mut self, events: u64, seq_last: u64, chain: Hash) -> Result<(), Error> {
        let seal = SealBody { count: events, xxh3: self.active.hasher.digest() };
        let mut header = self.control_header(RecordKind::Seal, seq_last);
        header.prev_hash = chain;
        self.buf.clear();
        encode_record(&mut self.buf, &header, &encode_seal_body(&seal));
        debug_assert_eq!(self.buf.len(), SEAL_RECORD_LEN);
        assert!(self.active.offset + SEAL_RECORD_LEN as u64 <= self.active.capacity);
        let buf = std::mem::take(&mut self.buf);
        let r = write_all_at(&self.active.file, &buf, self.active.offset);
        self.buf = buf;
        r.map_err(|e| self.poison_with("write seal", &e))
    }

    fn control_header(&self, kind: RecordKind, seq: u64) -> RecordHeader {
        RecordHeader {
            kind,
            encoding: BodyEncoding::Fixed,
            flags: 0,
            log_id: self.log_id,
            segment: self.active.id,
            seq,
            watermark: self.seq_durable,
            timestamp_nanos: self.timestamp_last.unwrap_or(0),
            prev_hash: self.chain,
        }
    }

    /// Poisons the writer: every later call fails with the same error until a reopen.
    fn poison_with(&mut self, op: &'static str, e: &std::io::Error) -> Error {
        let err = Error::poisoned(op, self.active.path.clone(), e);
        self.poisoned = Some(err.clone());
        err
    }
}

// The format module's layout constants are what the writer's arithmetic relies on.
const _: () = assert!(COMMIT_RECORD_LEN <= SEAL_RECORD_LEN);
const _: () = assert!(format::SEGMENT_HEADER_LEN.is_multiple_of(format::RECORD_ALIGN));
