//! The writer's side of tamper evidence: the Merkle right edge kept beside the WAL writer, the
//! tiles it completes, and signed checkpoints written at the configured cadence.
//!
//! The sink's leader calls [`Checkpointer::push_durable`] with every batch, after the writer
//! made it durable and while it still holds the writer (so leaves arrive in seq order). The
//! push recomputes each record's leaf hash and checks that linking it onto the chain gives the
//! chain hash the writer returned: the Merkle tree and the hash chain provably cover the same
//! records. Then [`Checkpointer::is_due`] says whether a checkpoint is due (count, time by the
//! sink's clock, seal); the leader writes it after publishing the batch's results, so only
//! that one emitter waits for the checkpoint's fsyncs.
//!
//! Ordering that makes a checkpoint never point past the log: its tree holds only leaves the
//! writer reported durable (fdatasynced, directory entries synced), and its file is written
//! tmp + fdatasync + rename + directory fsync. See `docs/integrity.md`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Corruption, DamageKind, Error};
use crate::io::{Clock, Disk};
use crate::options::CheckpointSettings;
use crate::wal::format::{BodyEncoding, RecordKind, FLAG_CLOCK_ADJUSTED, RECORD_BODY_HARD_MAX};
use crate::wal::open;
use crate::wal::scan::Item;
use crate::wal::writer::Batch;

use super::chain::{self, Hash};
use super::checkpoint::{self, Checkpoint};
use super::note::Signer;
use super::store::{self, TileRead};
use super::tiles::{CacheError, Tile, TileBuilder};

/// How the writer's Merkle state was obtained when the sink opened
/// ([`Sink::merkle_report`](crate::Sink::merkle_report)).
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::note::Signer;
/// use mtlog_audit::integrity::store;
/// use mtlog_audit::integrity::tiles::CacheError;
/// use mtlog_audit::integrity::{MerkleSource, RebuildReason};
/// use mtlog_audit::{Level, Options, Sink};
///
/// # let tmp = tempfile::tempdir()?;
/// # let dir = tmp.path();
/// let signer = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
/// let open = || Sink::open(Options::new(dir).signer(signer.clone()));
/// let sink = open()?;
/// assert_eq!(sink.merkle_report().unwrap().source, MerkleSource::Empty);
/// sink.event(Level::Information, "Hello").emit()?;
/// sink.close()?;
///
/// let sink = open()?;
/// let report = sink.merkle_report().unwrap();
/// assert_eq!((report.tree_size, &report.source), (1, &MerkleSource::Cached));
/// assert_eq!(report.checkpoint_newest, Some(1));
/// sink.close()?;
///
/// // A damaged cache is rebuilt from the WAL, never trusted.
/// let state = store::state_path(dir);
/// let mut bytes = std::fs::read(&state)?;
/// bytes[20] ^= 1;
/// std::fs::write(&state, bytes)?;
/// let sink = open()?;
/// let source = &sink.merkle_report().unwrap().source;
/// let MerkleSource::Rebuilt { reason, .. } = source else { panic!("{source:?}") };
/// assert!(matches!(reason, RebuildReason::Damaged(CacheError::Checksum { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleOpenReport {
    /// Leaves in the tree (events in the log).
    pub tree_size: u64,
    /// Where the state came from.
    pub source: MerkleSource,
    /// The newest checkpoint in `DIR/checkpoints` (tree size), if any.
    pub checkpoint_newest: Option<u64>,
}

/// Where the writer's Merkle state came from. See [`MerkleOpenReport`] for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MerkleSource {
    /// An empty log: nothing to load.
    Empty,
    /// `merkle/state` matched the WAL's size and chain hash.
    Cached,
    /// Recomputed from the WAL's records, with the reason the cache was not used and how many
    /// tiles were missing or damaged and rewritten.
    Rebuilt {
        /// Why the cached state was not used.
        reason: RebuildReason,
        /// Tiles rewritten because they were missing, damaged or wrong.
        tiles_rewritten: u64,
    },
}

/// Why `merkle/state` was not used. See [`MerkleOpenReport`] for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RebuildReason {
    /// No state file (first open with checkpoints on, or it was deleted).
    Missing,
    /// The state file did not decode.
    Damaged(CacheError),
    /// The state file could not be read.
    Unreadable(std::io::ErrorKind),
    /// The state is for another size or chain (a crash after the last checkpoint, or the WAL
    /// changed under it).
    Stale {
        /// The tree size the state names.
        state_size: u64,
        /// The events in the log.
        log_size: u64,
    },
}

/// The Merkle state and checkpoint schedule of one open sink.
pub(crate) struct Checkpointer<D: Disk> {
    disk: Arc<D>,
    dir: PathBuf,
    log_id: u128,
    origin: String,
    settings: CheckpointSettings,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// The largest tree size whose checkpoint files were written; serialises checkpoint I/O.
    written: Mutex<u64>,
}

struct State {
    tiles: TileBuilder,
    chain: Hash,
    timestamp_last: Option<i64>,
    signer: Signer,
    /// The outgoing key during a rotation: it co-signs the next checkpoint.
    signer_old: Option<Signer>,
    events_since: u64,
    checkpoint_mono: u64,
    signed_size: Option<u64>,
    completed: Vec<Tile>,
    cache_errors: u64,
}

/// What one checkpoint needs, taken under the state lock, written outside it.
struct Snapshot {
    size: u64,
    /// The outgoing key that co-signed it, during a rotation.
    signer_old: Option<Signer>,
    note: String,
    partial: Vec<Tile>,
    state: Vec<u8>,
}

/// Where the writer starts: the WAL's head after recovery.
pub(crate) struct Head {
    pub(crate) seq_next: u64,
    pub(crate) chain: Hash,
    pub(crate) timestamp_last: Option<i64>,
}

impl<D: Disk> Checkpointer<D> {
    /// Loads (or rebuilds from the WAL) the Merkle state for a log whose head is `head`.
    ///
    /// # Errors
    /// I/O errors; corruption if the WAL reads differently than recovery saw it;
    /// [`Error::BehindCheckpoint`] if the log is shorter than a checkpoint its key signed.
    pub(crate) fn open(
        disk: Arc<D>,
        dir: &Path,
        log_id: u128,
        head: Head,
        signer: Signer,
        settings: CheckpointSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<(Checkpointer<D>, MerkleOpenReport), Error> {
        assert!(head.seq_next >= 1);
        let log_size = head.seq_next - 1;
        // Tmp files of checkpoint writes a crash interrupted: never checkpoints, ours to remove
        // (best effort: a leftover is harmless, `write_synced` replaces one of the same name).
        let _ = store::remove_stale_tmp(&*disk, dir);
        let (tiles, source) = load_state(&*disk, dir, log_id, log_size, &head.chain)?;
        assert_eq!(tiles.size(), log_size);
        // The default origin is the key's name: C2SP asks for it, and standard verifiers
        // (Go's, the witnesses') expect it.
        let origin = settings.origin.clone().unwrap_or_else(|| signer.key().name.clone());
        let newest = newest_checkpoint(&*disk, dir, &signer, (&origin, log_id), log_size)?;
        let report = MerkleOpenReport { tree_size: log_size, source, checkpoint_newest: newest };
        let state = State {
            tiles,
            chain: head.chain,
            timestamp_last: head.timestamp_last,
            signer,
            signer_old: None,
            events_since: 0,
            checkpoint_mono: clock.monotonic_nanos(),
            signed_size: newest.filter(|&n| n == log_size),
            completed: Vec::new(),
            cache_errors: 0,
        };
        let checkpointer = Checkpointer {
            disk,
            dir: dir.to_path_buf(),
            log_id,
            origin,
            settings,
            clock,
            state: Mutex::new(state),
            written: Mutex::new(newest.unwrap_or(0).min(log_size)),
        };
        Ok((checkpointer, report))
    }

    /// Appends the durable events of `batch` (the first `durable` of them, from `seq_first`)
    /// whose chain hashes the writer returned in `chains`. Writes the tiles they complete
    /// (cache: a failure is counted, never fatal). O(log n) hashing per event plus one leaf
    /// hash over the body.
    ///
    /// # Panics
    /// If the recomputed chain disagrees with the writer's: the two would cover different
    /// bytes, and a checkpoint signed from here would be wrong.
    pub(crate) fn push_durable(&self, batch: &Batch, seq_first: u64, chains: &[Hash]) {
        let mut s = self.lock_state();
        assert!(chains.len() <= batch.len());
        if chains.is_empty() {
            return;
        }
        assert_eq!(s.tiles.size() + 1, seq_first, "merkle tree out of step with the log");
        let mut body_at = 0usize;
        let mut completed = std::mem::take(&mut s.completed);
        for (i, (entry, chain_writer)) in batch.entries.iter().zip(chains).enumerate() {
            let len = entry.body_len as usize;
            let body = &batch.bodies[body_at..body_at + len];
            body_at += len;
            let flags = match s.timestamp_last {
                Some(prev) if entry.timestamp_nanos < prev => FLAG_CLOCK_ADJUSTED,
                _ => 0,
            };
            let seq = seq_first + i as u64;
            let encoding = encoding_byte(entry.encoding);
            let leaf =
                chain::leaf_hash(self.log_id, seq, entry.timestamp_nanos, flags, encoding, body);
            let chain = chain::link(&s.chain, &leaf);
            // The canary pushes before the writer computed any chain value (wal/log.rs).
            #[cfg(not(feature = "canary-checkpoint-undurable"))]
            assert_eq!(&chain, chain_writer, "leaf of seq {seq} disagrees with the writer's chain");
            #[cfg(feature = "canary-checkpoint-undurable")]
            let _ = chain_writer;
            s.chain = chain;
            s.timestamp_last = Some(entry.timestamp_nanos);
            s.tiles.push(leaf, &mut completed);
        }
        s.events_since += chains.len() as u64;
        for tile in completed.drain(..) {
            let path = store::tile_path(&self.dir, tile.level, tile.index);
            if store::write_cache(&*self.disk, &path, &tile.to_bytes(self.log_id)).is_err() {
                s.cache_errors += 1;
            }
        }
        s.completed = completed;
    }

    /// Whether a checkpoint is due after a batch (`sealed`: the batch sealed a segment).
    pub(crate) fn is_due(&self, sealed: bool) -> bool {
        let s = self.lock_state();
        let size = s.tiles.size();
        if size == 0 || s.signed_size == Some(size) {
            return false;
        }
        let by_count = self.settings.every_events.is_some_and(|n| s.events_since >= n);
        let by_time = self.settings.every.is_some_and(|every| {
            let elapsed = self.clock.monotonic_nanos().saturating_sub(s.checkpoint_mono);
            u128::from(elapsed) >= every.as_nanos()
        });
        by_count || by_time || (sealed && self.settings.on_seal)
    }

    /// Signs and writes a checkpoint of the current tree, unless one of this size is already
    /// signed by the current keys. Returns the tree size signed.
    ///
    /// # Errors
    /// I/O errors writing the checkpoint (the log itself is unaffected).
    pub(crate) fn checkpoint(&self) -> Result<Option<u64>, Error> {
        let Some(snapshot) = self.snapshot() else { return Ok(None) };
        if let Err(e) = self.write(&snapshot) {
            // Not written: the next checkpoint tries again, co-signed if this one was.
            let mut s = self.lock_state();
            s.signed_size = None;
            if s.signer_old.is_none() {
                s.signer_old = snapshot.signer_old;
            }
            return Err(e);
        }
        Ok(Some(snapshot.size))
    }

    /// Starts signing with `new`; the next checkpoint carries both signatures. The caller
    /// has already made the rotation record durable.
    pub(crate) fn rotate(&self, new: Signer) {
        let mut s = self.lock_state();
        let old = std::mem::replace(&mut s.signer, new);
        s.signer_old = Some(old);
        // Force the boundary checkpoint even if the size was already signed by the old key.
        s.signed_size = None;
    }

    /// The current signer.
    pub(crate) fn signer(&self) -> Signer {
        self.lock_state().signer.clone()
    }

    /// On close: the final checkpoint (if configured), the right edge and the state, synced.
    ///
    /// # Errors
    /// I/O errors writing them.
    pub(crate) fn close(&self, chain_writer: &Hash) -> Result<(), Error> {
        if self.settings.on_close {
            self.checkpoint()?;
        }
        let (partial, state) = {
            let s = self.lock_state();
            assert_eq!(&s.chain, chain_writer, "merkle chain out of step with the writer");
            (s.tiles.partial_tiles(), s.tiles.state_to_bytes(self.log_id, &s.chain))
        };
        for tile in &partial {
            let path = store::tile_path(&self.dir, tile.level, tile.index);
            let _ = store::write_cache(&*self.disk, &path, &tile.to_bytes(self.log_id));
        }
        let merkle = self.dir.join(store::MERKLE_DIR);
        store::ensure_dir(&*self.disk, &merkle).map_err(|e| Error::io("mkdir", &merkle, &e))?;
        let path = store::state_path(&self.dir);
        store::write_synced(&*self.disk, &path, &state)
            .map_err(|(op, e)| Error::io(op, path.clone(), &e))?;
        self.disk.sync_dir(&merkle).map_err(|e| Error::io("fsync dir", &merkle, &e))
    }

    /// Tiles that could not be written since open (they are rebuilt on a later open).
    pub(crate) fn cache_errors(&self) -> u64 {
        self.lock_state().cache_errors
    }

    fn snapshot(&self) -> Option<Snapshot> {
        let mut s = self.lock_state();
        let size = s.tiles.size();
        if s.signed_size == Some(size) {
            return None;
        }
        let checkpoint = Checkpoint::new(self.origin.clone(), size, s.tiles.root());
        // The origin was validated with the options and by `open`'s default format.
        let Ok(checkpoint) = checkpoint else {
            unreachable!("origin {} was validated", self.origin)
        };
        let signers: Vec<&Signer> = s.signer_old.iter().chain([&s.signer]).collect();
        let note = checkpoint.sign(&signers);
        let Ok(note) = note else { unreachable!("one or two signers always sign a checkpoint") };
        let snapshot = Snapshot {
            size,
            signer_old: s.signer_old.clone(),
            note,
            partial: s.tiles.partial_tiles(),
            state: s.tiles.state_to_bytes(self.log_id, &s.chain),
        };
        s.signer_old = None;
        s.signed_size = Some(size);
        s.events_since = 0;
        s.checkpoint_mono = self.clock.monotonic_nanos();
        Some(snapshot)
    }

    fn write(&self, snapshot: &Snapshot) -> Result<(), Error> {
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if snapshot.size < *written {
            return Ok(()); // a newer checkpoint was written meanwhile
        }
        let disk = &*self.disk;
        let cp_dir = self.dir.join(store::CHECKPOINTS_DIR);
        write_note_durably(disk, &cp_dir, snapshot.size, &snapshot.note, true)?;
        // Caches: the right edge, so proofs at this size read tiles only, and the state, so a
        // reopen after a crash at this size does not rescan.
        for tile in &snapshot.partial {
            let path = store::tile_path(&self.dir, tile.level, tile.index);
            let _ = store::write_cache(disk, &path, &tile.to_bytes(self.log_id));
        }
        let _ = store::write_cache(disk, &store::state_path(&self.dir), &snapshot.state);
        if let Some(external) = &self.settings.external_dir {
            write_note_durably(disk, external, snapshot.size, &snapshot.note, false)?;
        }
        *written = snapshot.size;
        if let Some(callback) = &self.settings.callback {
            callback(&snapshot.note);
        }
        Ok(())
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // Only our own assertions panic while holding it; they stop the sink's use anyway.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes `checkpoint-<size>.note` (and `latest` if asked) into `dir` durably: tmp, fdatasync,
/// rename, directory fsync.
fn write_note_durably<D: Disk>(
    disk: &D,
    dir: &Path,
    size: u64,
    note: &str,
    latest: bool,
) -> Result<(), Error> {
    store::ensure_dir(disk, dir).map_err(|e| write_error("mkdir", dir, &e))?;
    let path = dir.join(store::checkpoint_file_name(size));
    store::write_synced(disk, &path, note.as_bytes())
        .map_err(|(op, e)| write_error(op, &path, &e))?;
    if latest {
        let path = dir.join(store::LATEST);
        store::write_synced(disk, &path, note.as_bytes())
            .map_err(|(op, e)| write_error(op, &path, &e))?;
    }
    disk.sync_dir(dir).map_err(|e| write_error("fsync dir", dir, &e))
}

/// A checkpoint write's error, typed as the WAL types its own: a full disk is
/// [`Error::DiskFull`], recognised by errno, never by message.
fn write_error(op: &'static str, path: &Path, err: &std::io::Error) -> Error {
    if crate::io::is_storage_full(err) {
        return Error::DiskFull { op, path: path.to_path_buf() };
    }
    Error::io(op, path, err)
}

/// The writer's right edge for a log of `log_size` events whose chain head is `chain`: from
/// `merkle/state` when it matches, else rebuilt from the WAL.
fn load_state<D: Disk>(
    disk: &D,
    dir: &Path,
    log_id: u128,
    log_size: u64,
    chain: &Hash,
) -> Result<(TileBuilder, MerkleSource), Error> {
    let reason = match store::read_file(disk, &store::state_path(dir)) {
        Ok(Some(bytes)) => match TileBuilder::state_from_bytes(&bytes, log_id) {
            Ok((tiles, stored)) if tiles.size() == log_size && &stored == chain => {
                return Ok((tiles, MerkleSource::Cached));
            }
            Ok((tiles, _)) => RebuildReason::Stale { state_size: tiles.size(), log_size },
            Err(e) => RebuildReason::Damaged(e),
        },
        Ok(None) if log_size == 0 => return Ok((TileBuilder::new(), MerkleSource::Empty)),
        Ok(None) => RebuildReason::Missing,
        Err(e) => RebuildReason::Unreadable(e.kind()),
    };
    let (tiles, tiles_rewritten) = rebuild(disk, dir, log_id, log_size, chain)?;
    Ok((tiles, MerkleSource::Rebuilt { reason, tiles_rewritten }))
}

/// Recomputes the right edge from the WAL's leaf hashes, checks every full tile on disk
/// against it and rewrites the missing, damaged or wrong ones.
fn rebuild<D: Disk>(
    disk: &D,
    dir: &Path,
    log_id: u128,
    log_size: u64,
    chain_head: &Hash,
) -> Result<(TileBuilder, u64), Error> {
    let mut tiles = TileBuilder::new();
    let mut chain = chain::genesis(log_id);
    let mut completed = Vec::new();
    let mut rewritten = 0u64;
    let loaded = open::load_lean(disk, dir, RECORD_BODY_HARD_MAX)?;
    let segments = loaded.map(|l| l.scan.segments).unwrap_or_default();
    for seg in &segments {
        for item in &seg.items {
            let Item::Record(r) = item else { continue };
            if r.kind != RecordKind::Event || r.seq > log_size {
                continue;
            }
            let expected = tiles.size() + 1;
            if r.seq != expected || r.prev_hash != chain {
                // Recovery accepted this log a moment ago: it changed under us.
                let kind = if r.seq != expected {
                    DamageKind::SeqGap { expected, found: r.seq }
                } else {
                    DamageKind::ChainBreak { seq: r.seq }
                };
                let seq_range = (expected, expected);
                return Err(
                    Corruption { segment: seg.id, offset: r.offset, seq_range, kind }.into()
                );
            }
            chain = chain::link(&chain, &r.digest);
            tiles.push(r.digest, &mut completed);
            for tile in completed.drain(..) {
                rewritten += u64::from(ensure_tile(disk, dir, log_id, &tile));
            }
        }
    }
    if tiles.size() != log_size || &chain != chain_head {
        let kind = DamageKind::SeqGap { expected: log_size + 1, found: tiles.size() + 1 };
        let segment = segments.last().map_or(crate::wal::format::SegmentId(1), |s| s.id);
        let seq_range = (tiles.size() + 1, log_size);
        return Err(Corruption { segment, offset: 0, seq_range, kind }.into());
    }
    Ok((tiles, rewritten))
}

/// Writes `tile` unless the same tile is on disk; returns whether it wrote.
fn ensure_tile<D: Disk>(disk: &D, dir: &Path, log_id: u128, tile: &Tile) -> bool {
    if let TileRead::Found(stored) = store::read_tile(disk, dir, log_id, tile.level, tile.index) {
        if &stored == tile {
            return false;
        }
    }
    let path = store::tile_path(dir, tile.level, tile.index);
    let _ = store::write_cache(disk, &path, &tile.to_bytes(log_id));
    true
}

/// The newest checkpoint's tree size in `DIR/checkpoints` (by file name); refuses a log that is
/// shorter than a checkpoint of this log (its origin, or the legacy default for its id) signed
/// by `signer`'s key. Another log's checkpoint, even signed by the same key, or a file that is
/// not a checkpoint, is not ours to act on (`verify` reports it). Reads only the files named
/// past the log's size, newest first.
fn newest_checkpoint<D: Disk>(
    disk: &D,
    dir: &Path,
    signer: &Signer,
    (origin, log_id): (&str, u128),
    log_size: u64,
) -> Result<Option<u64>, Error> {
    let cp_dir = dir.join(store::CHECKPOINTS_DIR);
    let newest = store::newest_checkpoint_size(disk, dir)
        .map_err(|e| Error::io("list", cp_dir.clone(), &e))?;
    if newest <= log_size {
        return Ok((newest > 0).then_some(newest));
    }
    let mut past: Vec<u64> = disk
        .list(&cp_dir)
        .map_err(|e| Error::io("list", cp_dir.clone(), &e))?
        .iter()
        .filter_map(|name| store::parse_checkpoint_file_name(name))
        .filter(|&size| size > log_size)
        .collect();
    past.sort_unstable_by(|a, b| b.cmp(a));
    let legacy = checkpoint::legacy_origin(log_id);
    for size in past {
        let path = cp_dir.join(store::checkpoint_file_name(size));
        let bytes =
            store::read_file(disk, &path).map_err(|e| Error::io("read", path.clone(), &e))?;
        let opened = bytes.map(|b| Checkpoint::open_note(&b, &[signer.verifier()]));
        if let Some(Ok((checkpoint, _))) = opened {
            let ours = checkpoint.origin() == origin || checkpoint.origin() == legacy;
            if ours && checkpoint.size() > log_size {
                let checkpoint_size = checkpoint.size();
                return Err(Error::BehindCheckpoint { tree_size: log_size, checkpoint_size, path });
            }
        }
    }
    Ok(Some(newest))
}

fn encoding_byte(encoding: BodyEncoding) -> u8 {
    // As the writer maps it into the leaf bytes (wal/writer.rs, reader.rs).
    match encoding {
        BodyEncoding::Postcard => 0,
        BodyEncoding::Envelope => 1,
        BodyEncoding::Fixed => 2,
    }
}
