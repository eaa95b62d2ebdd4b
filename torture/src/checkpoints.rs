//! I17: the checkpointer under the simulator, in runs with signing on (a seeded share of
//! Swarm). The engine writes checkpoints where production does (after a commit that made one
//! due, and at close), so crashes, power losses, fsync failures and ENOSPC strike while a
//! checkpoint is written. The checks:
//! - a checkpoint write that returns a size signs only durable seqs, and sizes never move back;
//! - at every open, a checkpoint of its own key larger than the recovered log makes the open
//!   fail (`Error::BehindCheckpoint`): a checkpoint that outran the durable log (these runs
//!   inject no loss of acknowledged data), a violation;
//! - after a seeded share of opens and after the final close, every checkpoint on disk verifies
//!   (our key, a tree of at most the recovered log's size, the recovered log's root at that
//!   size), and the newest is not older than the newest one whose write returned (it was
//!   fsynced, renamed and its directory fsynced: it must survive). Checkpoint files are never
//!   deleted or rewritten, so a bad or missing one persists to the final check: only the moment
//!   of detection moves, as with the full read-back.

use std::sync::Arc;

use mtlog_audit::error::Error;
use mtlog_audit::integrity::checkpoint::Checkpoint;
use mtlog_audit::integrity::note::Signer;
use mtlog_audit::Reader;
use xxhash_rust::xxh3::xxh3_64;

use crate::outcome::{Invariant, Outcome};
use crate::run::Run;

/// The origin line of the run's checkpoints.
const ORIGIN: &str = "torture.mtlog-audit.example/log";

/// The share of opens after which every checkpoint on disk is verified (the Reader scans the
/// whole log): the final close always is.
pub(crate) const VERIFY_SHARE: f64 = 0.25;

/// The signer of a run's checkpoints: a pure function of the seed.
pub(crate) fn signer(seed: u64) -> Signer {
    let mut key = [0x5au8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    // A valid origin and a 32-byte seed: `from_seed` cannot refuse them.
    Signer::from_seed(ORIGIN, key).expect("a valid origin and seed")
}

impl Run<'_> {
    /// After a due checkpoint was written (or failed): it signed only durable seqs, and the
    /// sizes written never move back.
    pub(crate) fn judge_checkpoint_write(
        &mut self,
        written: &Result<Option<u64>, Error>,
        seq_durable: u64,
    ) {
        let Ok(Some(size)) = written else { return };
        self.check(Invariant::I17);
        if *size > seq_durable {
            self.violate(
                Invariant::I17,
                Outcome::Checkpoint,
                format!("a checkpoint of {size} events was written with seq {seq_durable} durable"),
            );
            return;
        }
        if *size < self.checkpoint_written_max {
            self.violate(
                Invariant::I17,
                Outcome::Checkpoint,
                format!(
                    "a checkpoint of {size} events was written after one of {}",
                    self.checkpoint_written_max
                ),
            );
            return;
        }
        self.checkpoint_written_max = *size;
    }

    /// After an open (head: the recovered log's last seq): every checkpoint on disk verifies
    /// against the log and covers only its durable seqs; none that returned went missing.
    /// Returns whether the checks passed.
    pub(crate) fn verify_checkpoints(&mut self, head: u64) -> bool {
        self.check(Invariant::I17);
        let Some(signer) = &self.signer else { return true };
        let keys = [signer.verifier()];
        let reader = match Reader::open_with(Arc::clone(&self.disk), &self.dir, false) {
            Ok(r) => r,
            Err(e) => {
                let detail = format!("the recovered log does not open for reading: {e}");
                self.violate(Invariant::I17, Outcome::Checkpoint, detail);
                return false;
            }
        };
        let files = match reader.checkpoints() {
            Ok(files) => files,
            Err(e) => {
                let detail = format!("listing the checkpoints: {e}");
                self.violate(Invariant::I17, Outcome::Checkpoint, detail);
                return false;
            }
        };
        let mut newest = 0u64;
        for file in &files {
            let name = file.path.display();
            // A checkpoint file never changes once renamed into place (these runs inject no
            // damage at rest): its signature is checked once per content, its root every time.
            let digest = (file.path.clone(), xxh3_64(&file.bytes));
            let opened = match self.checkpoints_verified.get(&digest) {
                Some(&(size, root)) => Ok((size, root)),
                None => {
                    Checkpoint::open_note(&file.bytes, &keys).map(|(c, _)| (c.size(), c.root()))
                }
            };
            if let Ok(pair) = opened {
                self.checkpoints_verified.insert(digest, pair);
            }
            let problem = match opened {
                Err(e) => Some(format!("{name} does not verify: {e}")),
                Ok((size, _)) if size > head => {
                    Some(format!("{name} covers {size} events, the log holds {head}"))
                }
                Ok((size, root)) => match reader.tree_root(size) {
                    Ok(found) if found == root => {
                        newest = newest.max(size);
                        None
                    }
                    Ok(_) => Some(format!("{name}: its root is not the log's at {size}")),
                    Err(e) => Some(format!("{name}: no root at {size}: {e}")),
                },
            };
            if let Some(detail) = problem {
                self.violate(Invariant::I17, Outcome::Checkpoint, detail);
                return false;
            }
        }
        if newest < self.checkpoint_written_max {
            let detail = format!(
                "the newest checkpoint on disk covers {newest} events; one of {} was written",
                self.checkpoint_written_max
            );
            self.violate(Invariant::I17, Outcome::Checkpoint, detail);
            return false;
        }
        true
    }

    /// An open refused because the log is behind a checkpoint of its own key.
    pub(crate) fn judge_behind_checkpoint(&mut self, e: &Error) {
        self.check(Invariant::I17);
        self.violate(
            Invariant::I17,
            Outcome::Checkpoint,
            format!("a checkpoint outran the durable log: {e}"),
        );
    }
}
