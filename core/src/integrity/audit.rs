//! Checking a log against signed checkpoints, and the proofs an outsider verifies. Pure: the
//! log is given as its tree (a [`HashSource`] recomputed from the WAL), the checkpoints as
//! bytes, the keys as verifiers.
//!
//! What each checkpoint yields, independently:
//!
//! - its **signature**: verified by a trusted key, unverifiable (signed only by keys not
//!   trusted: never evidence of tampering), not checked (no key given at all), invalid (a
//!   trusted key's signature does not verify: the note was altered) or malformed;
//! - its **tree**: the root matches the log's tree at that size, does not match (the log's
//!   history was rewritten, or the checkpoint belongs to another log), or the checkpoint is
//!   **beyond** the log (the log holds fewer events: truncated or rolled back, unless the WAL
//!   itself reports damage that ends the valid prefix early).
//!
//! Then consecutive checkpoints (by size) must be consistent: equal sizes need equal roots
//! (else the log forked), and a consistency proof from the log must verify between them.
//!
//! Keys rotate through the log: a rotation record (see [`keys`](super::keys)) whose old key is
//! trusted, covered by a checkpoint that key signed and whose root matches the log, makes the
//! new key trusted too.
//!
//! [`Reader::audit`](crate::Reader::audit) runs all of this on a log directory; the proofs
//! an outsider checks are [`InclusionProof`] and [`ConsistencyProof`] (see
//! [`Reader::prove_inclusion`](crate::Reader::prove_inclusion)).
//!
//! # Examples
//!
//! [`audit`] itself, on a tree in memory:
//!
//! ```
//! use std::collections::BTreeMap;
//! use mtlog_audit::integrity::audit::{self, CheckpointInput, LogTree, Origins, AuditVerdict};
//! use mtlog_audit::integrity::checkpoint::Checkpoint;
//! use mtlog_audit::integrity::merkle::{self, StoredTree};
//! use mtlog_audit::integrity::note::Signer;
//!
//! let tree = StoredTree::from_leaf_hashes((0..5u8).map(|i| merkle::leaf_hash(&[i])));
//! let signer = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
//! let note = Checkpoint::new("example.com/audit", 3, tree.root_at(3)?)?.sign(&[&signer])?;
//! let inputs = [CheckpointInput { source: "cp-3".into(), external: true, bytes: note.into() }];
//!
//! let mut roots = BTreeMap::new();
//! for size in audit::checkpoint_sizes(&inputs).into_iter().chain([tree.size()]) {
//!     roots.insert(size, tree.root_at(size)?);
//! }
//! let origins = Origins::Default { log_id: 7 }; // the key's name, or mtlog-audit/<log id>
//! let log = LogTree { tree_size: tree.size(), damaged: false, roots: &roots, source: &tree, origins };
//! let report = audit::audit(&log, &inputs, &[signer.verifier()], &[]);
//! assert_eq!(report.verdict(), AuditVerdict::Valid);
//!
//! // A log rolled back below the checkpoint is caught.
//! let short = StoredTree::from_leaf_hashes((0..2u8).map(|i| merkle::leaf_hash(&[i])));
//! let roots = BTreeMap::from([(2, short.root())]);
//! let log = LogTree { tree_size: 2, damaged: false, roots: &roots, source: &short, origins };
//! let report = audit::audit(&log, &inputs, &[signer.verifier()], &[]);
//! assert_eq!(report.verdict(), AuditVerdict::Behind);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use super::chain::to_hex;
use super::checkpoint::{self, Checkpoint};
use super::keys::KeyRotation;
use super::merkle::{self, Hash, HashSource, ProofError};
use super::note::{self, NoteError, NoteKey, Verifier};

/// A checkpoint to check: its bytes and where they came from. See the [module docs](self) for
/// an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointInput {
    /// A file path or other label, for reports.
    pub source: String,
    /// Whether it came from outside the log directory (an external copy).
    pub external: bool,
    /// The signed note.
    pub bytes: Vec<u8>,
}

/// Which origin lines are this log's. A checkpoint with another origin is a **checkpoint of
/// another log**: it says nothing about this one (never "behind", never "root mismatch") and
/// makes the audit [`AuditVerdict::Unverifiable`]. See [`AuditReport`] for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origins<'a> {
    /// Exactly these (`verify --origin`): for a log given a custom origin
    /// (`Options::checkpoint_origin`), or to pin the identity an auditor expects.
    Exactly(&'a [String]),
    /// The defaults a sink signs with: the name of the key that signs (C2SP asks the origin
    /// to match it; here, a trusted key's name or the name of a key the log's rotation records
    /// name), or `mtlog-audit/<log id>`, the earlier default ([`checkpoint::legacy_origin`]).
    /// A checkpoint no trusted key signed may also carry the origin of one whose root matches
    /// the log, or if none does, a name on its own signature lines.
    Default {
        /// The log's id.
        log_id: u128,
    },
}

/// The log's side of an audit. See the [module docs](self) for an example.
pub struct LogTree<'a> {
    /// Events in the valid prefix from seq 1.
    pub tree_size: u64,
    /// Whether the WAL reports damage (which ends the valid prefix early).
    pub damaged: bool,
    /// The roots recomputed from the WAL's leaves at every checkpoint size up to `tree_size`,
    /// and at `tree_size` itself (see [`checkpoint_sizes`]).
    pub roots: &'a BTreeMap<u64, Hash>,
    /// Complete subtree hashes, for consistency proofs between checkpoints.
    pub source: &'a dyn HashSource,
    /// The origin lines that are this log's.
    pub origins: Origins<'a>,
}

/// The tree sizes the checkpoints state (read without checking signatures), for computing
/// [`LogTree::roots`]. See the [module docs](self) for an example.
pub fn checkpoint_sizes(checkpoints: &[CheckpointInput]) -> Vec<u64> {
    checkpoints.iter().filter_map(|c| parse_unverified(&c.bytes)).map(|c| c.size()).collect()
}

/// The overall outcome, most severe first. See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AuditVerdict {
    /// A checkpoint note was altered, a root disagrees with the log, or checkpoints fork.
    Tampered,
    /// The log holds fewer events than a checkpoint it was shown: truncated or rolled back.
    Behind,
    /// The WAL reports damage (see the integrity report's findings).
    Damaged,
    /// Some checkpoint is signed only by keys not trusted, or is another log's.
    Unverifiable,
    /// Everything checks.
    Valid,
}

/// What a checkpoint's signatures say. See [`AuditReport`] for an
/// example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureStatus {
    /// Verified by these trusted keys.
    Verified(Vec<NoteKey>),
    /// Signed only by keys not trusted: cannot say, not evidence of tampering.
    Unverifiable(Vec<NoteKey>),
    /// No key was given: signatures not checked.
    NotChecked,
    /// A trusted key's signature does not verify: the note was altered.
    Invalid {
        /// The key.
        key: NoteKey,
        /// The signature's line.
        line: usize,
    },
    /// Not a signed checkpoint at all.
    Malformed(String),
}

/// What a checkpoint's tree says about the log. See [`AuditReport`] for an
/// example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TreeStatus {
    /// The log's tree at this size has this root.
    Matches,
    /// The log's tree at this size has another root.
    RootMismatch {
        /// The root recomputed from the log.
        computed: Hash,
    },
    /// The log holds fewer events than the checkpoint, and the WAL reports no damage.
    Behind {
        /// Events in the log.
        tree_size: u64,
    },
    /// The checkpoint reaches past the damage that ends the WAL's valid prefix: not checkable.
    PastDamage {
        /// Events in the valid prefix.
        tree_size: u64,
    },
    /// The checkpoint names another log (its origin is not one of this log's [`Origins`]):
    /// its size and root say nothing about this log.
    OtherLog {
        /// The origin it names.
        origin: String,
    },
    /// The body did not parse.
    Unparsed,
}

/// One checkpoint's outcome. See [`AuditReport`] for an
/// example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointAudit {
    /// Where it came from.
    pub source: String,
    /// Whether it came from outside the log directory.
    pub external: bool,
    /// The checkpoint (parsed from the note without trusting it), if it parsed.
    pub checkpoint: Option<Checkpoint>,
    /// Signatures.
    pub signature: SignatureStatus,
    /// Tree.
    pub tree: TreeStatus,
}

/// The consistency check between two checkpoints adjacent by size. See [`AuditReport`] for an
/// example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyCheck {
    /// The smaller tree size.
    pub old_size: u64,
    /// The larger tree size.
    pub new_size: u64,
    /// The outcome.
    pub status: ConsistencyStatus,
}

/// Whether two checkpoints describe one growing log. See [`AuditReport`] for an
/// example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsistencyStatus {
    /// A consistency proof from the log verifies between them.
    Consistent,
    /// Same size, different roots: two histories.
    Fork,
    /// The proof does not verify: they are not one history (or one disagrees with the log).
    Inconsistent(ProofError),
    /// The larger one is beyond the log: no proof can be made from it.
    Unprovable,
}

/// The audit of a log against its checkpoints.
///
/// # Examples
///
/// Each checkpoint's signature and tree, and each adjacent pair's consistency:
///
/// ```
/// use std::collections::BTreeMap;
/// use mtlog_audit::integrity::audit::{self, CheckpointInput, ConsistencyStatus, LogTree, Origins};
/// use mtlog_audit::integrity::audit::{SignatureStatus, TreeStatus, AuditVerdict};
/// use mtlog_audit::integrity::checkpoint::Checkpoint;
/// use mtlog_audit::integrity::merkle::{self, Hash, StoredTree};
/// use mtlog_audit::integrity::note::Signer;
///
/// let tree = StoredTree::from_leaf_hashes((0..5u8).map(|i| merkle::leaf_hash(&[i])));
/// let ours = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
/// let witness = Signer::from_seed("witness.example", [2; 32])?;
/// let input = |source: &str, size, root: Hash, signer: &Signer| -> CheckpointInput {
///     let checkpoint = Checkpoint::new("example.com/audit", size, root).unwrap();
///     let bytes = checkpoint.sign(&[signer]).unwrap().into();
///     CheckpointInput { source: source.into(), external: true, bytes }
/// };
/// let inputs = vec![
///     input("cp-2", 2, tree.root_at(2)?, &ours),
///     input("cp-4", 4, tree.root_at(4)?, &witness), // a key we were not given
/// ];
/// let mut roots = BTreeMap::new();
/// for size in [2, 4, 5] {
///     roots.insert(size, tree.root_at(size)?);
/// }
/// let origins = Origins::Default { log_id: 7 };
/// let log = LogTree { tree_size: 5, damaged: false, roots: &roots, source: &tree, origins };
///
/// let report = audit::audit(&log, &inputs, &[ours.verifier()], &[]);
/// assert_eq!((report.tree_size, report.root), (5, tree.root()));
/// let [first, second] = &report.checkpoints[..] else { panic!("two checkpoints") };
/// assert_eq!(first.signature, SignatureStatus::Verified(vec![ours.key().clone()]));
/// assert_eq!(second.signature, SignatureStatus::Unverifiable(vec![witness.key().clone()]));
/// assert_eq!((&first.tree, &second.tree), (&TreeStatus::Matches, &TreeStatus::Matches));
/// let check = &report.consistency[0];
/// assert_eq!((check.old_size, check.new_size), (2, 4));
/// assert_eq!(check.status, ConsistencyStatus::Consistent);
/// assert_eq!(report.verdict(), AuditVerdict::Unverifiable);
///
/// // A second checkpoint of size 2 with another root: a forked history.
/// let forged = input("forged-2", 2, merkle::leaf_hash(b"forged"), &ours);
/// let report = audit::audit(&log, &[inputs[0].clone(), forged], &[ours.verifier()], &[]);
/// assert!(matches!(report.checkpoints[1].tree, TreeStatus::RootMismatch { .. }));
/// assert_eq!(report.consistency[0].status, ConsistencyStatus::Fork);
/// assert_eq!(report.verdict(), AuditVerdict::Tampered);
///
/// // Our key's checkpoint of another log (another origin), even with this log's root: it says
/// // nothing about this log.
/// let other = Checkpoint::new("other.example/log", 5, tree.root())?.sign(&[&ours])?;
/// let other = CheckpointInput { source: "other".into(), external: true, bytes: other.into() };
/// let report = audit::audit(&log, std::slice::from_ref(&other), &[ours.verifier()], &[]);
/// let origin = "other.example/log".to_owned();
/// assert_eq!(report.checkpoints[0].tree, TreeStatus::OtherLog { origin });
/// assert_eq!(report.verdict(), AuditVerdict::Unverifiable);
/// let pinned = ["other.example/log".to_owned()]; // verify --origin other.example/log
/// let log = LogTree { origins: Origins::Exactly(&pinned), ..log };
/// let report = audit::audit(&log, &[other], &[ours.verifier()], &[]);
/// assert_eq!(report.verdict(), AuditVerdict::Valid);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Events in the log's tree.
    pub tree_size: u64,
    /// The log's root.
    pub root: Hash,
    /// Each checkpoint, in tree-size order.
    pub checkpoints: Vec<CheckpointAudit>,
    /// Adjacent checkpoints (by size) checked for consistency.
    pub consistency: Vec<ConsistencyCheck>,
    /// Keys trusted from rotation records: (seq of the record, key).
    pub keys_learned: Vec<(u64, NoteKey)>,
    /// Whether any key was given (otherwise signatures were not checked).
    pub signatures_checked: bool,
    /// Whether the WAL reported damage.
    pub wal_damaged: bool,
}

impl AuditReport {
    /// The most severe outcome. See the [module docs](self) for an example.
    pub fn verdict(&self) -> AuditVerdict {
        let mut verdict =
            if self.wal_damaged { AuditVerdict::Damaged } else { AuditVerdict::Valid };
        for c in &self.checkpoints {
            let v = match (&c.signature, &c.tree) {
                (SignatureStatus::Invalid { .. } | SignatureStatus::Malformed(_), _) => {
                    AuditVerdict::Tampered
                }
                (SignatureStatus::Unverifiable(_), _) | (_, TreeStatus::OtherLog { .. }) => {
                    AuditVerdict::Unverifiable
                }
                (_, TreeStatus::RootMismatch { .. } | TreeStatus::Unparsed) => {
                    AuditVerdict::Tampered
                }
                (_, TreeStatus::Behind { .. }) => AuditVerdict::Behind,
                _ => AuditVerdict::Valid,
            };
            verdict = verdict.min(v);
        }
        for c in &self.consistency {
            if matches!(c.status, ConsistencyStatus::Fork | ConsistencyStatus::Inconsistent(_)) {
                verdict = verdict.min(AuditVerdict::Tampered);
            }
        }
        verdict
    }
}

/// Audits `log` against `checkpoints`, trusting `trusted` keys and the keys that rotation
/// records vouched for by trusted, matching checkpoints introduce. See the
/// [module docs](self) for an example.
pub fn audit(
    log: &LogTree<'_>,
    checkpoints: &[CheckpointInput],
    trusted: &[Verifier],
    rotations: &[KeyRotation],
) -> AuditReport {
    let root = log.roots.get(&log.tree_size).copied().unwrap_or(merkle::EMPTY_ROOT);
    let parsed: Vec<Option<Checkpoint>> =
        checkpoints.iter().map(|c| parse_unverified(&c.bytes)).collect();
    let trees: Vec<TreeStatus> = parsed.iter().map(|p| tree_status(log, p.as_ref())).collect();
    let (keys, keys_learned) = learn_keys(checkpoints, &trees, trusted, rotations);
    // The origin check comes after the keys are learned: a default origin may be their name.
    let trees = with_origins(log.origins, checkpoints, &parsed, trees, &keys, rotations);
    let mut audits: Vec<CheckpointAudit> = checkpoints
        .iter()
        .zip(parsed)
        .zip(trees)
        .map(|((input, checkpoint), tree)| CheckpointAudit {
            source: input.source.clone(),
            external: input.external,
            signature: signature_status(&input.bytes, &keys, trusted.is_empty()),
            checkpoint,
            tree,
        })
        .collect();
    audits.sort_by_key(|a| a.checkpoint.as_ref().map(Checkpoint::size));
    let consistency = consistency_checks(log, &audits);
    AuditReport {
        tree_size: log.tree_size,
        root,
        checkpoints: audits,
        consistency,
        keys_learned,
        signatures_checked: !trusted.is_empty(),
        wal_damaged: log.damaged,
    }
}

/// The checkpoint a note states, read without checking signatures (for the tree check; the
/// signature check decides whether to believe it).
fn parse_unverified(bytes: &[u8]) -> Option<Checkpoint> {
    let parsed = note::parse(bytes).ok()?;
    Checkpoint::parse_body(&parsed.text).ok()
}

/// The tree statuses with each checkpoint that names another log's origin marked
/// [`TreeStatus::OtherLog`]. Under [`Origins::Default`] a checkpoint is this log's when its
/// origin is the legacy one, or the name of a trusted key (learned ones included) or of a key
/// the log's rotation records name (a rotation to a key of another name changes the default
/// origin). One that no trusted key signed (no key given, or unverifiable) may also carry the
/// origin of a checkpoint whose root matches the log, or, when none matches, a name on its own
/// signature lines: nothing better is known then.
fn with_origins(
    origins: Origins<'_>,
    checkpoints: &[CheckpointInput],
    parsed: &[Option<Checkpoint>],
    trees: Vec<TreeStatus>,
    keys: &[Verifier],
    rotations: &[KeyRotation],
) -> Vec<TreeStatus> {
    let mut names: Vec<&str> = keys.iter().map(|v| v.key().name.as_str()).collect();
    names.extend(rotations.iter().flat_map(|r| [&r.old, &r.new]).map(|v| v.key().name.as_str()));
    let matching: Vec<&str> = parsed
        .iter()
        .zip(&trees)
        .filter(|(_, tree)| **tree == TreeStatus::Matches)
        .filter_map(|(c, _)| Some(c.as_ref()?.origin()))
        .collect();
    let own = |origin: &str, note: &[u8]| -> bool {
        let log_id = match origins {
            Origins::Exactly(list) => return list.iter().any(|o| o == origin),
            Origins::Default { log_id } => log_id,
        };
        if origin == checkpoint::legacy_origin(log_id) || names.contains(&origin) {
            return true;
        }
        if Checkpoint::open_note(note, keys).is_ok() {
            return false; // a trusted key vouches for this origin: it is not one of ours
        }
        match matching.is_empty() {
            false => matching.contains(&origin),
            true => {
                note::parse(note).is_ok_and(|n| n.signatures.iter().any(|s| s.key.name == origin))
            }
        }
    };
    checkpoints
        .iter()
        .zip(parsed)
        .zip(trees)
        .map(|((input, checkpoint), tree)| match checkpoint {
            Some(c) if !own(c.origin(), &input.bytes) => {
                TreeStatus::OtherLog { origin: c.origin().to_owned() }
            }
            _ => tree,
        })
        .collect()
}

fn tree_status(log: &LogTree<'_>, checkpoint: Option<&Checkpoint>) -> TreeStatus {
    let Some(checkpoint) = checkpoint else { return TreeStatus::Unparsed };
    let size = checkpoint.size();
    if size > log.tree_size {
        return match log.damaged {
            true => TreeStatus::PastDamage { tree_size: log.tree_size },
            false => TreeStatus::Behind { tree_size: log.tree_size },
        };
    }
    match log.roots.get(&size) {
        Some(computed) if *computed == checkpoint.root() => TreeStatus::Matches,
        Some(computed) => TreeStatus::RootMismatch { computed: *computed },
        // The caller computes a root for every stated size up to the log's.
        None => TreeStatus::RootMismatch { computed: merkle::EMPTY_ROOT },
    }
}

fn signature_status(bytes: &[u8], keys: &[Verifier], no_keys: bool) -> SignatureStatus {
    if let Err(e) = note::parse(bytes) {
        return SignatureStatus::Malformed(e.to_string());
    }
    if no_keys {
        return SignatureStatus::NotChecked;
    }
    match note::open(bytes, keys) {
        Ok(opened) => SignatureStatus::Verified(opened.verified),
        Err(NoteError::Unverifiable { unknown }) => SignatureStatus::Unverifiable(unknown),
        Err(NoteError::InvalidSignature { key, line }) => SignatureStatus::Invalid { key, line },
        Err(e) => SignatureStatus::Malformed(e.to_string()),
    }
}

/// The trusted keys grown by rotation records: a rotation is followed when its old key is
/// trusted and a checkpoint covering the record verifies with trusted keys and matches the log.
fn learn_keys(
    checkpoints: &[CheckpointInput],
    trees: &[TreeStatus],
    trusted: &[Verifier],
    rotations: &[KeyRotation],
) -> (Vec<Verifier>, Vec<(u64, NoteKey)>) {
    let mut keys: Vec<Verifier> = trusted.to_vec();
    let mut learned = Vec::new();
    // Each pass learns at least one key or stops: at most one pass per rotation.
    for _ in 0..=rotations.len() {
        let mut grew = false;
        for rotation in rotations {
            let known = |v: &Verifier| keys.iter().any(|k| k.key() == v.key());
            if !known(&rotation.old) || known(&rotation.new) {
                continue;
            }
            let vouched = checkpoints.iter().zip(trees).any(|(input, tree)| {
                *tree == TreeStatus::Matches
                    && Checkpoint::open_note(&input.bytes, &keys).is_ok_and(|(c, signed_by)| {
                        c.size() >= rotation.seq && signed_by.contains(rotation.old.key())
                    })
            });
            if vouched {
                keys.push(rotation.new.clone());
                learned.push((rotation.seq, rotation.new.key().clone()));
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    (keys, learned)
}

fn consistency_checks(log: &LogTree<'_>, audits: &[CheckpointAudit]) -> Vec<ConsistencyCheck> {
    let usable: Vec<&Checkpoint> = audits
        .iter()
        .filter(|a| {
            !matches!(a.signature, SignatureStatus::Invalid { .. } | SignatureStatus::Malformed(_))
                && !matches!(a.tree, TreeStatus::OtherLog { .. })
        })
        .filter_map(|a| a.checkpoint.as_ref())
        .collect();
    let mut checks = Vec::new();
    for pair in usable.windows(2) {
        let [old, new] = pair else { continue };
        let (old_size, new_size) = (old.size(), new.size());
        let status = if old_size == new_size {
            match old.root() == new.root() {
                true => ConsistencyStatus::Consistent,
                false => ConsistencyStatus::Fork,
            }
        } else if new_size > log.tree_size {
            ConsistencyStatus::Unprovable
        } else {
            match merkle::consistency_proof(old_size, new_size, log.source) {
                Ok(proof) => {
                    match merkle::verify_consistency(
                        old_size,
                        new_size,
                        &old.root(),
                        &new.root(),
                        &proof,
                    ) {
                        Ok(()) => ConsistencyStatus::Consistent,
                        Err(e) => ConsistencyStatus::Inconsistent(e),
                    }
                }
                Err(_) => ConsistencyStatus::Unprovable,
            }
        };
        checks.push(ConsistencyCheck { old_size, new_size, status });
    }
    checks
}

// ---------------------------------------------------------------------------------------------
// Proofs an outsider checks
// ---------------------------------------------------------------------------------------------

/// Proof that event `seq` is leaf `seq - 1` of the tree of `tree_size` events. See
/// [`Reader::prove_inclusion`](crate::Reader::prove_inclusion) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The event's seq.
    pub seq: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// The event record's leaf hash.
    pub leaf_hash: Hash,
    /// The tree's root (compare with a checkpoint's).
    pub root: Hash,
    /// The RFC 9162 inclusion proof, deepest sibling first.
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// The leaf index (`seq - 1`). See [`Reader::prove_inclusion`](crate::Reader::prove_inclusion)
    /// for an example.
    pub fn leaf_index(&self) -> u64 {
        self.seq.saturating_sub(1)
    }

    /// Checks the proof against `checkpoint` (size and root) using public data only. See
    /// [`Reader::prove_inclusion`](crate::Reader::prove_inclusion) for an example.
    ///
    /// # Errors
    /// [`ProofError::IndexOutOfRange`] if the checkpoint's size is not the proof's tree size
    /// (compared first) or `seq` is 0; [`ProofError::WrongProofLength`] if the proof has the
    /// wrong number of hashes; [`ProofError::RootMismatch`] if the leaf, the proof or the root
    /// was altered.
    pub fn verify(&self, checkpoint: &Checkpoint) -> Result<(), ProofError> {
        if checkpoint.size() != self.tree_size || self.seq == 0 {
            return Err(ProofError::IndexOutOfRange {
                index: self.leaf_index(),
                tree_size: checkpoint.size(),
            });
        }
        let index = self.leaf_index();
        merkle::verify_inclusion(
            &self.leaf_hash,
            index,
            self.tree_size,
            &self.hashes,
            &checkpoint.root(),
        )
    }
}

/// Proof that the tree of `old_size` events is a prefix of the tree of `new_size` events. See
/// [`Reader::prove_consistency`](crate::Reader::prove_consistency) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub old_size: u64,
    /// The newer tree size.
    pub new_size: u64,
    /// The older root.
    pub old_root: Hash,
    /// The newer root.
    pub new_root: Hash,
    /// The RFC 9162 consistency proof.
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks the proof between two checkpoints using public data only. See
    /// [`Reader::prove_consistency`](crate::Reader::prove_consistency) for an example.
    ///
    /// # Errors
    /// As [`merkle::verify_consistency`] on the two checkpoints' sizes and roots:
    /// [`ProofError::SizesOutOfOrder`], [`ProofError::WrongProofLength`],
    /// [`ProofError::OldRootMismatch`] or [`ProofError::NewRootMismatch`] (a root or the proof
    /// was altered, or the two trees diverge).
    pub fn verify(&self, old: &Checkpoint, new: &Checkpoint) -> Result<(), ProofError> {
        merkle::verify_consistency(old.size(), new.size(), &old.root(), &new.root(), &self.hashes)
    }
}

impl fmt::Display for AuditVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuditVerdict::Tampered => "TAMPERED",
            AuditVerdict::Behind => "BEHIND A CHECKPOINT (truncated or rolled back)",
            AuditVerdict::Damaged => "DAMAGED",
            AuditVerdict::Unverifiable => {
                "UNVERIFIABLE (checkpoints signed by unknown keys, or of another log)"
            }
            AuditVerdict::Valid => "valid",
        })
    }
}

impl fmt::Display for SignatureStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = |k: &[NoteKey]| k.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        match self {
            SignatureStatus::Verified(k) => write!(f, "signed by {}", keys(k)),
            SignatureStatus::Unverifiable(k) => {
                write!(f, "unverifiable: signed only by unknown key(s) {}", keys(k))
            }
            SignatureStatus::NotChecked => write!(f, "signature not checked (no --key)"),
            SignatureStatus::Invalid { key, line } => {
                write!(f, "INVALID signature by {key} on line {line}: the note was altered")
            }
            SignatureStatus::Malformed(e) => write!(f, "MALFORMED note: {e}"),
        }
    }
}

impl fmt::Display for TreeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeStatus::Matches => write!(f, "root matches the log"),
            TreeStatus::RootMismatch { computed } => write!(
                f,
                "ROOT MISMATCH: the log's tree at this size has root {}: history was rewritten",
                to_hex(computed)
            ),
            TreeStatus::Behind { tree_size } => {
                write!(f, "LOG IS BEHIND: it holds {tree_size} events: truncated or rolled back")
            }
            TreeStatus::PastDamage { tree_size } => write!(
                f,
                "not checkable: reaches past the damage ending the valid prefix at {tree_size} \
                 events"
            ),
            TreeStatus::OtherLog { origin } => write!(
                f,
                "CHECKPOINT OF ANOTHER LOG: origin {origin:?} is not this log's (says nothing \
                 about this log; give --origin if this log was given a custom origin)"
            ),
            TreeStatus::Unparsed => write!(f, "not a checkpoint"),
        }
    }
}

impl fmt::Display for ConsistencyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsistencyStatus::Consistent => write!(f, "consistent"),
            ConsistencyStatus::Fork => write!(f, "FORK: same size, different roots"),
            ConsistencyStatus::Inconsistent(e) => write!(f, "INCONSISTENT: {e}"),
            ConsistencyStatus::Unprovable => write!(f, "not provable: beyond the log"),
        }
    }
}
