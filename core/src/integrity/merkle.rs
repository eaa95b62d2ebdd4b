//! The Merkle tree over event leaves, exactly as RFC 6962 / RFC 9162 define it, so that
//! Certificate Transparency, Go's `sumdb/tlog` and Sigstore tooling compute the same roots and
//! accept the same proofs.
//!
//! ```text
//! leaf hash    = SHA-256(0x00 | leaf bytes)     (see chain::leaf_hash for our leaf bytes)
//! node hash    = SHA-256(0x01 | left | right)
//! MTH({})      = SHA-256("")                    (the empty tree)
//! MTH({d0})    = leaf hash of d0
//! MTH(D[n])    = node(MTH(D[0:k]), MTH(D[k:n]))  k = the largest power of two < n
//! ```
//!
//! Three pieces, none of which does I/O:
//!
//! - [`Frontier`]: the O(log n) hashes of the tree's right edge. Enough to append in O(log n)
//!   and to compute the current root; small enough to persist after every batch.
//! - [`HashSource`]: where proofs read **complete** subtree hashes from (C2SP tlog-tiles style
//!   storage: a complete subtree never changes once its last leaf is appended). [`StoredTree`]
//!   is the in-memory implementation. Any proof for any tree size reads O(log n) of them.
//! - [`verify_inclusion`] and [`verify_consistency`]: the RFC 9162 section 2.1.3.2 and 2.1.4.2
//!   algorithms. They take only public data (hashes, sizes, the proof), so an outsider can run
//!   them without trusting us.
//!
//! A subtree is named by `(level, index)`: it covers leaves `[index << level, (index + 1) <<
//! level)`. Level 0 holds the leaf hashes themselves.
//!
//! # Examples
//!
//! The log's side makes proofs from its stored subtrees; the auditor's side checks them with
//! public data only:
//!
//! ```
//! use mtlog_audit::integrity::merkle::{self, Frontier, ProofError, StoredTree};
//!
//! let leaves: Vec<_> = (0..7u8).map(|i| merkle::leaf_hash(&[i])).collect();
//! let tree = StoredTree::from_leaf_hashes(leaves.iter().copied());
//! let (root_4, root_7) = (tree.root_at(4)?, tree.root());
//! assert_eq!(root_7, merkle::root(&leaves));
//!
//! // Leaf 5 is in the tree of 7 leaves.
//! let proof = merkle::inclusion_proof(5, 7, &tree)?;
//! merkle::verify_inclusion(&leaves[5], 5, 7, &proof, &root_7)?;
//! let forged = merkle::verify_inclusion(&leaves[4], 5, 7, &proof, &root_7);
//! assert!(matches!(forged, Err(ProofError::RootMismatch { .. })));
//!
//! // The tree of 4 leaves is a prefix of the tree of 7.
//! let proof = merkle::consistency_proof(4, 7, &tree)?;
//! merkle::verify_consistency(4, 7, &root_4, &root_7, &proof)?;
//!
//! // The writer keeps only the right edge, and persists it.
//! let mut frontier = Frontier::new();
//! leaves.iter().for_each(|leaf| frontier.push(*leaf));
//! assert_eq!((frontier.size(), frontier.hashes().len()), (7, 3)); // 7 = 4 + 2 + 1
//! assert_eq!(frontier.root(), root_7);
//! assert_eq!(Frontier::from_bytes(&frontier.to_bytes())?, frontier);
//! assert_eq!(Frontier::from_source(7, &tree)?, frontier);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Maintainers: everything here may be handed hostile input (a proof, a persisted frontier), so
// indexing and unwrapping are denied: use `get` and return typed errors. Internal invariants
// (frontier length = popcount(size), subtree alignment) are assertions.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
#![deny(missing_docs)]

use std::fmt;

use sha2::{Digest, Sha256};

use super::chain::to_hex;
pub use super::chain::Hash;

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 section 2.1).
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::merkle::{self, StoredTree, EMPTY_ROOT};
///
/// assert_eq!(merkle::root(&[]), EMPTY_ROOT);
/// assert_eq!(StoredTree::new().root(), EMPTY_ROOT);
/// ```
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The RFC 6962 leaf hash of arbitrary leaf bytes: SHA-256(0x00 | data).
///
/// Event records use [`chain::leaf_hash`](super::chain::leaf_hash), which hashes the same way
/// over the record's leaf bytes without first copying them into one buffer. See the
/// [module docs](self) for an example.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    h.finalize().into()
}

/// The RFC 6962 interior node hash: SHA-256(0x01 | left | right).
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::merkle;
///
/// let (a, b, c) = (merkle::leaf_hash(b"a"), merkle::leaf_hash(b"b"), merkle::leaf_hash(b"c"));
/// assert_eq!(merkle::root(&[a, b]), merkle::node_hash(&a, &b));
/// // Three leaves: the largest power of two (2) goes left.
/// assert_eq!(merkle::root(&[a, b, c]), merkle::node_hash(&merkle::node_hash(&a, &b), &c));
/// ```
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The Merkle tree hash (root) of a tree with these leaf hashes, of any size (the empty tree
/// gives [`EMPTY_ROOT`]).
///
/// Runs in O(n) time and O(log n) memory by pushing every leaf through a [`Frontier`]. See the
/// [module docs](self) for an example.
pub fn root(leaf_hashes: &[Hash]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaf_hashes {
        frontier.push(*leaf);
    }
    frontier.root()
}

// ---------------------------------------------------------------------------------------------
// Frontier
// ---------------------------------------------------------------------------------------------

/// The right edge of a tree: one complete-subtree hash per set bit of the tree size, largest
/// (leftmost) first.
///
/// It holds everything needed to append and to compute the root, in at most 64 hashes, so the
/// writer persists it (see [`Frontier::to_bytes`]) instead of rescanning the log on open. It is
/// a cache: if it is lost or damaged it is rebuilt from the leaves or from stored subtree hashes
/// ([`Frontier::from_source`]). See the [module docs](self) for an example.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `hashes[i]` is the complete subtree for the i-th set bit of `size`, from the top bit down.
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree. See the [module docs](self) for an example.
    pub fn new() -> Frontier {
        Frontier { size: 0, hashes: Vec::new() }
    }

    /// The number of leaves appended so far. See the [module docs](self) for an example.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The right-edge subtree hashes, largest (leftmost) first: one per set bit of [`size`].
    /// See the [module docs](self) for an example.
    ///
    /// [`size`]: Frontier::size
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends one leaf hash. O(log n) worst case, O(1) amortised: each carry merges two equal
    /// complete subtrees, exactly as a binary counter carries. See the [module docs](self) for
    /// an example.
    ///
    /// # Panics
    /// If the tree already holds `u64::MAX` leaves.
    pub fn push(&mut self, leaf_hash: Hash) {
        assert!(self.size < u64::MAX, "merkle tree is full");
        assert_eq!(self.hashes.len(), self.size.count_ones() as usize);
        let mut carry = leaf_hash;
        let mut size = self.size;
        while size & 1 == 1 {
            // One hash per set bit, and every trailing one bit is a set bit: the pop succeeds.
            let Some(left) = self.hashes.pop() else {
                unreachable!("frontier shorter than popcount of its size {}", self.size)
            };
            carry = node_hash(&left, &carry);
            size >>= 1;
        }
        self.hashes.push(carry);
        self.size += 1;
        assert_eq!(self.hashes.len(), self.size.count_ones() as usize);
    }

    /// The root of the tree of [`size`](Frontier::size) leaves. See the [module docs](self)
    /// for an example.
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes)
    }

    /// Rebuilds the frontier of a tree of `tree_size` leaves from stored complete subtrees,
    /// reading one hash per set bit of `tree_size`. See the [module docs](self) for an example.
    ///
    /// # Errors
    /// [`ProofError::MissingSubtree`] if the source lacks a subtree the frontier needs.
    pub fn from_source(tree_size: u64, source: &dyn HashSource) -> Result<Frontier, ProofError> {
        let hashes = complete_subtrees(source, 0, tree_size)?;
        Ok(Frontier { size: tree_size, hashes })
    }

    /// Encodes the frontier for persisting.
    ///
    /// ```text
    /// | magic "MTFR" (4) | version (1) = 1 | tree size (8, LE) |
    /// | hashes (32 each, popcount(tree size) of them, largest subtree first) |
    /// | crc32c (4, LE) of every preceding byte |
    /// ```
    ///
    /// See the [module docs](self) for an example of the round trip.
    ///
    /// # Panics
    /// Never: an assertion checks the encoded length against the layout above.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(frontier_encoded_len(self.size));
        out.extend_from_slice(&FRONTIER_MAGIC);
        out.push(FRONTIER_VERSION);
        out.extend_from_slice(&self.size.to_le_bytes());
        for hash in &self.hashes {
            out.extend_from_slice(hash);
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(out.len(), frontier_encoded_len(self.size));
        out
    }

    /// Decodes bytes written by [`Frontier::to_bytes`]. The input is untrusted: every field is
    /// checked and nothing panics. See the [module docs](self) for an example.
    ///
    /// # Errors
    /// A [`FrontierError`] saying what is wrong: `Truncated`, `Magic`, `Version`, `Length`
    /// (the length disagrees with the stated tree size) or `Checksum`.
    ///
    /// # Panics
    /// Never: an assertion checks that the length check left one hash per set bit of the size.
    pub fn from_bytes(bytes: &[u8]) -> Result<Frontier, FrontierError> {
        let min = FRONTIER_HEADER_LEN + FRONTIER_CRC_LEN;
        let truncated = FrontierError::Truncated { len: bytes.len(), min };
        if bytes.len() < min {
            return Err(truncated);
        }
        if bytes.get(..FRONTIER_MAGIC.len()) != Some(FRONTIER_MAGIC.as_slice()) {
            return Err(FrontierError::Magic);
        }
        let version = bytes.get(FRONTIER_MAGIC.len()).copied().ok_or(truncated)?;
        if version != FRONTIER_VERSION {
            return Err(FrontierError::Version { found: version });
        }
        let size = le_u64(bytes, FRONTIER_MAGIC.len() + 1).ok_or(truncated)?;
        let expected = frontier_encoded_len(size);
        if bytes.len() != expected {
            return Err(FrontierError::Length { size, expected, found: bytes.len() });
        }
        let (body, trailer) = bytes.split_at(expected - FRONTIER_CRC_LEN);
        let stored = trailer.try_into().map(u32::from_le_bytes).map_err(|_| truncated)?;
        let computed = crc32c::crc32c(body);
        if stored != computed {
            return Err(FrontierError::Checksum { stored, computed });
        }
        let hashes: Vec<Hash> = body
            .get(FRONTIER_HEADER_LEN..)
            .ok_or(truncated)?
            .chunks_exact(HASH_LEN)
            .map(|chunk| chunk.try_into().unwrap_or_default())
            .collect();
        assert_eq!(hashes.len(), size.count_ones() as usize);
        Ok(Frontier { size, hashes })
    }
}

/// Why persisted frontier bytes did not decode.
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::merkle::{self, Frontier, FrontierError};
///
/// let mut frontier = Frontier::new();
/// (0..3u8).for_each(|i| frontier.push(merkle::leaf_hash(&[i])));
/// let bytes = frontier.to_bytes();
///
/// let err = Frontier::from_bytes(&bytes[..bytes.len() - 32]).unwrap_err();
/// assert!(matches!(err, FrontierError::Length { size: 3, .. }));
/// assert!(err.to_string().starts_with("merkle frontier for tree size 3 must be "));
///
/// let mut flipped = bytes.clone();
/// flipped[bytes.len() - 10] ^= 1; // a bit of the last hash
/// let err = Frontier::from_bytes(&flipped).unwrap_err();
/// assert!(matches!(err, FrontierError::Checksum { .. }));
/// assert!(err.to_string().starts_with("merkle frontier checksum mismatch: stored 0x"));
///
/// assert!(matches!(Frontier::from_bytes(b"x"), Err(FrontierError::Truncated { len: 1, .. })));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrontierError {
    /// Shorter than the fixed header and checksum.
    Truncated {
        /// Bytes present.
        len: usize,
        /// The smallest valid encoding.
        min: usize,
    },
    /// The bytes do not start with the frontier magic: not a frontier file.
    Magic,
    /// A version this build does not read.
    Version {
        /// The version byte found.
        found: u8,
    },
    /// The length does not match the number of hashes the stored tree size needs.
    Length {
        /// The tree size in the header.
        size: u64,
        /// The length that size implies.
        expected: usize,
        /// The length present.
        found: usize,
    },
    /// The checksum does not match the bytes.
    Checksum {
        /// The checksum stored in the trailer.
        stored: u32,
        /// The checksum of the bytes read.
        computed: u32,
    },
}

impl fmt::Display for FrontierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrontierError::Truncated { len, min } => {
                write!(f, "merkle frontier is {len} bytes, shorter than the minimum {min}")
            }
            FrontierError::Magic => write!(f, "merkle frontier has the wrong magic"),
            FrontierError::Version { found } => write!(
                f,
                "merkle frontier version {found} is not known (this build reads {FRONTIER_VERSION})"
            ),
            FrontierError::Length { size, expected, found } => write!(
                f,
                "merkle frontier for tree size {size} must be {expected} bytes, found {found}"
            ),
            FrontierError::Checksum { stored, computed } => write!(
                f,
                "merkle frontier checksum mismatch: stored {stored:#010x}, computed \
                 {computed:#010x}"
            ),
        }
    }
}

impl std::error::Error for FrontierError {}

// ---------------------------------------------------------------------------------------------
// Stored subtree hashes
// ---------------------------------------------------------------------------------------------

/// Where proofs read complete subtree hashes from.
///
/// Only **complete** subtrees are asked for: subtree `(level, index)` covers leaves
/// `[index << level, (index + 1) << level)` and is complete once the tree holds
/// `(index + 1) << level` leaves. Such a hash never changes afterwards, so it can be stored
/// once (for example in C2SP tlog-tiles) and served for every later tree size. Hashes of the
/// incomplete right edge are computed from complete ones.
///
/// # Examples
///
/// A source that keeps only the leaf hashes and computes larger subtrees on demand:
///
/// ```
/// use mtlog_audit::integrity::merkle::{self, Hash, HashSource};
///
/// struct Leaves(Vec<Hash>);
///
/// impl HashSource for Leaves {
///     fn subtree(&self, level: u8, index: u64) -> Option<Hash> {
///         let width = 1usize.checked_shl(u32::from(level))?;
///         let start = usize::try_from(index).ok()?.checked_mul(width)?;
///         let leaves = self.0.get(start..start.checked_add(width)?)?;
///         Some(merkle::root(leaves))
///     }
/// }
///
/// let leaves = Leaves((0..6u8).map(|i| merkle::leaf_hash(&[i])).collect());
/// let root = merkle::root(&leaves.0);
/// assert_eq!(merkle::tree_root(6, &leaves)?, root);
/// assert_eq!(leaves.subtree(1, 2), Some(merkle::node_hash(&leaves.0[4], &leaves.0[5])));
/// assert_eq!(leaves.subtree(2, 1), None); // leaves 4..8: not complete
/// let proof = merkle::inclusion_proof(4, 6, &leaves)?;
/// merkle::verify_inclusion(&leaves.0[4], 4, 6, &proof, &root)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait HashSource {
    /// The hash of complete subtree `(level, index)`, or `None` if it is not stored (not yet
    /// complete, or lost). Level 0 is the leaf hashes. See [`HashSource`] for an example.
    fn subtree(&self, level: u8, index: u64) -> Option<Hash>;
}

/// Every complete subtree hash of a tree, in memory: about two hashes per leaf.
///
/// Appends in O(log n); serves as the [`HashSource`] for proofs over any tree size up to its
/// own. The durable version of this (tiles on disk) implements the same trait; this one is the
/// reference and the test double. See the [module docs](self) for an example.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoredTree {
    size: u64,
    /// `levels[l][i]` is subtree `(l, i)`; `levels[l].len() == size >> l`.
    levels: Vec<Vec<Hash>>,
}

impl StoredTree {
    /// An empty tree. See [`StoredTree::push`] for an example.
    pub fn new() -> StoredTree {
        StoredTree { size: 0, levels: Vec::new() }
    }

    /// Rebuilds the tree from its leaf hashes, in order: how a lost or damaged store is
    /// recomputed from the WAL. See the [module docs](self) for an example.
    pub fn from_leaf_hashes(leaf_hashes: impl IntoIterator<Item = Hash>) -> StoredTree {
        let mut tree = StoredTree::new();
        for leaf in leaf_hashes {
            tree.push(leaf);
        }
        tree
    }

    /// The number of leaves. See [`StoredTree::push`] for an example.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf hash, storing it and every subtree it completes. O(log n).
    ///
    /// # Panics
    /// If the tree already holds `u64::MAX` leaves.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::integrity::merkle::{self, HashSource, StoredTree};
    ///
    /// let mut tree = StoredTree::new();
    /// for record in [&b"first"[..], b"second", b"third"] {
    ///     tree.push(merkle::leaf_hash(record));
    /// }
    /// assert_eq!(tree.size(), 3);
    /// assert!(tree.subtree(1, 0).is_some()); // leaves 0..2 are complete
    /// assert!(tree.subtree(1, 1).is_none()); // leaves 2..4 are not
    /// let frontier = tree.frontier(); // what a writer persists
    /// assert_eq!((frontier.size(), frontier.hashes().len()), (3, 2)); // 3 = 2 + 1
    /// assert_eq!(frontier.root(), tree.root());
    /// ```
    pub fn push(&mut self, leaf_hash: Hash) {
        assert!(self.size < u64::MAX, "merkle tree is full");
        let mut carry = leaf_hash;
        let mut level = 0usize;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let Some(row) = self.levels.get_mut(level) else {
                unreachable!("level {level} was just created")
            };
            row.push(carry);
            // An even count means the new hash completed a pair: their parent is complete too.
            if row.len() % 2 != 0 {
                break;
            }
            let [.., left, right] = row.as_slice() else {
                unreachable!("a non-empty row of even length has two last hashes")
            };
            carry = node_hash(left, right);
            level += 1;
        }
        self.size += 1;
        assert_eq!(self.levels.first().map_or(0, Vec::len) as u64, self.size);
        debug_assert!(self
            .levels
            .iter()
            .enumerate()
            .all(|(l, r)| r.len() as u64 == self.size >> l));
    }

    /// The root of the whole tree. See the [module docs](self) for an example.
    pub fn root(&self) -> Hash {
        self.frontier().root()
    }

    /// The root of the tree's first `tree_size` leaves, from stored subtrees. See the
    /// [module docs](self) for an example.
    ///
    /// # Errors
    /// [`ProofError::SizesOutOfOrder`] if `tree_size` exceeds [`size`](StoredTree::size).
    pub fn root_at(&self, tree_size: u64) -> Result<Hash, ProofError> {
        if tree_size > self.size {
            return Err(ProofError::SizesOutOfOrder { old_size: tree_size, new_size: self.size });
        }
        tree_root(tree_size, self)
    }

    /// The frontier of the whole tree. See [`StoredTree::push`] for an example.
    pub fn frontier(&self) -> Frontier {
        let hashes = complete_subtrees(self, 0, self.size);
        // Every complete subtree of a tree of `size` leaves is stored (see `push`).
        let Ok(hashes) = hashes else { unreachable!("stored tree misses a complete subtree") };
        Frontier { size: self.size, hashes }
    }
}

impl HashSource for StoredTree {
    fn subtree(&self, level: u8, index: u64) -> Option<Hash> {
        let row = self.levels.get(usize::from(level))?;
        row.get(usize::try_from(index).ok()?).copied()
    }
}

/// The root of a tree of `tree_size` leaves, from stored complete subtrees (one read per set bit
/// of `tree_size`).
///
/// See [`HashSource`] for an example.
///
/// # Errors
/// [`ProofError::MissingSubtree`] if the source lacks a subtree it needs.
pub fn tree_root(tree_size: u64, source: &dyn HashSource) -> Result<Hash, ProofError> {
    Ok(fold_right(&complete_subtrees(source, 0, tree_size)?))
}

// ---------------------------------------------------------------------------------------------
// Proofs
// ---------------------------------------------------------------------------------------------

/// The RFC 6962 audit path (RFC 9162 inclusion proof) of leaf `index` in the tree of the first
/// `tree_size` leaves, deepest sibling first. Reads O(log n) subtree hashes. See the
/// [module docs](self) for an example.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] if `index >= tree_size`; [`ProofError::MissingSubtree`] if
/// the source lacks a subtree the proof needs.
///
/// # Panics
/// Never: an assertion checks the proof's length against RFC 9162's.
pub fn inclusion_proof(
    index: u64,
    tree_size: u64,
    source: &dyn HashSource,
) -> Result<Vec<Hash>, ProofError> {
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange { index, tree_size });
    }
    // Walk down from the root, collecting the sibling of each subtree holding the leaf. Only the
    // first right sibling can be incomplete, so this reads O(log n) hashes in all.
    let mut path = Vec::new();
    let (mut lo, mut hi) = (0u64, tree_size);
    while hi - lo > 1 {
        let k = split(hi - lo);
        if index < lo + k {
            path.push(range_hash(source, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(range_hash(source, lo, lo + k)?);
            lo += k;
        }
    }
    path.reverse();
    assert_eq!(path.len(), inclusion_proof_len(index, tree_size));
    Ok(path)
}

/// The RFC 6962 consistency proof (RFC 9162 section 2.1.4) that the tree of `old_size` leaves is
/// a prefix of the tree of `new_size` leaves. Empty when `old_size` is 0 or equals `new_size`.
/// Reads O(log n) subtree hashes. See the [module docs](self) for an example.
///
/// # Errors
/// [`ProofError::SizesOutOfOrder`] if `old_size > new_size`; [`ProofError::MissingSubtree`] if
/// the source lacks a subtree the proof needs.
///
/// # Panics
/// Never: an assertion checks the proof's length against RFC 9162's.
pub fn consistency_proof(
    old_size: u64,
    new_size: u64,
    source: &dyn HashSource,
) -> Result<Vec<Hash>, ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo:hi], complete) from RFC 6962 section 2.1.2, unrolled: `m` counts the old
    // leaves inside [lo, hi); `complete` is true while [lo, lo + m) is a subtree whose hash the
    // verifier already knows (it is the old root).
    let mut proof = Vec::new();
    let (mut lo, mut hi, mut m) = (0u64, new_size, old_size);
    let mut complete = true;
    loop {
        if m == hi - lo {
            if !complete {
                proof.push(range_hash(source, lo, hi)?);
            }
            break;
        }
        let k = split(hi - lo);
        if m <= k {
            proof.push(range_hash(source, lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(source, lo, lo + k)?);
            lo += k;
            m -= k;
            complete = false;
        }
    }
    proof.reverse();
    assert_eq!(proof.len(), consistency_proof_len(old_size, new_size));
    Ok(proof)
}

// ---------------------------------------------------------------------------------------------
// Verification (public data only)
// ---------------------------------------------------------------------------------------------

/// Checks that `leaf_hash` is leaf `index` of the tree of `tree_size` leaves whose root is
/// `root`, by the RFC 9162 section 2.1.3.2 algorithm. Uses only its arguments. See the
/// [module docs](self) for an example.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`], [`ProofError::WrongProofLength`] for a proof that cannot
/// belong to these sizes, or [`ProofError::RootMismatch`] when the leaf, index, proof or root
/// was altered.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange { index, tree_size });
    }
    let expected = inclusion_proof_len(index, tree_size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength { expected, found: proof.len() });
    }
    let (mut f_n, mut s_n) = (index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        // The length check above makes this unreachable; kept because the RFC has it and a
        // verifier must never walk past the root.
        if s_n == 0 {
            return Err(ProofError::WrongProofLength { expected, found: proof.len() });
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::WrongProofLength { expected, found: proof.len() });
    }
    if r != *root {
        return Err(ProofError::RootMismatch { claimed: *root, derived: r });
    }
    Ok(())
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a prefix of the tree of
/// `new_size` leaves with root `new_root`, by the RFC 9162 section 2.1.4.2 algorithm. Uses only
/// its arguments.
///
/// Equal sizes need an empty proof and equal roots. Old size 0 needs an empty proof and
/// `old_root` equal to [`EMPTY_ROOT`] (stricter than RFC 9162, which leaves it unspecified: a
/// checkpoint of size 0 claiming another root is not a checkpoint of this tree).
///
/// See the [module docs](self) for an example.
///
/// # Errors
/// [`ProofError::SizesOutOfOrder`], [`ProofError::WrongProofLength`], or
/// [`ProofError::OldRootMismatch`] / [`ProofError::NewRootMismatch`] when a root or the proof was
/// altered (or the two trees diverge: a fork or rewritten history).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizesOutOfOrder { old_size, new_size });
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength { expected, found: proof.len() });
    }
    if old_size == 0 {
        if *old_root != EMPTY_ROOT {
            return Err(ProofError::OldRootMismatch { claimed: *old_root, derived: EMPTY_ROOT });
        }
        return Ok(());
    }
    if old_size == new_size {
        if old_root != new_root {
            return Err(ProofError::NewRootMismatch { claimed: *new_root, derived: *old_root });
        }
        return Ok(());
    }
    let (old_derived, new_derived) = consistency_roots(old_size, new_size, old_root, proof)
        .ok_or(ProofError::WrongProofLength { expected, found: proof.len() })?;
    if old_derived != *old_root {
        return Err(ProofError::OldRootMismatch { claimed: *old_root, derived: old_derived });
    }
    if new_derived != *new_root {
        return Err(ProofError::NewRootMismatch { claimed: *new_root, derived: new_derived });
    }
    Ok(())
}

/// Why a proof could not be produced, or did not verify (one type for both: producing and
/// checking fail on the same sizes and indexes).
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::merkle::{self, ProofError, StoredTree};
///
/// let leaves: Vec<_> = (0..7u8).map(|i| merkle::leaf_hash(&[i])).collect();
/// let tree = StoredTree::from_leaf_hashes(leaves.iter().copied());
/// let (root_4, root_7) = (tree.root_at(4)?, tree.root());
///
/// let proof = merkle::inclusion_proof(5, 7, &tree)?;
/// let err = merkle::verify_inclusion(&leaves[5], 5, 7, &proof[1..], &root_7).unwrap_err();
/// assert_eq!(err, ProofError::WrongProofLength { expected: 3, found: 2 });
/// assert_eq!(err.to_string(), "proof has 2 hashes, these tree sizes need 3");
///
/// // A tree of 7 that does not extend the tree of 4: history was rewritten.
/// let proof = merkle::consistency_proof(4, 7, &tree)?;
/// let other_7 = merkle::root(&[leaves[0]; 7]);
/// let err = merkle::verify_consistency(4, 7, &root_4, &other_7, &proof).unwrap_err();
/// assert!(matches!(err, ProofError::NewRootMismatch { .. }));
/// assert!(err.to_string().starts_with("consistency proof leads to new root "));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not inside the tree the proof is for.
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size given.
        tree_size: u64,
    },
    /// The old tree size exceeds the new one: a log cannot shrink.
    SizesOutOfOrder {
        /// The old tree size given.
        old_size: u64,
        /// The new tree size given.
        new_size: u64,
    },
    /// Producing a proof: the hash source lacks a complete subtree it needs (the store is
    /// behind the tree size asked for, or damaged). Rebuild it from the leaves.
    MissingSubtree {
        /// The subtree's level (0 = leaves).
        level: u8,
        /// The subtree's index within its level.
        index: u64,
    },
    /// The proof has the wrong number of hashes for these sizes (hashes added or removed).
    WrongProofLength {
        /// The number of hashes these sizes need.
        expected: usize,
        /// The number of hashes given.
        found: usize,
    },
    /// Inclusion: the root recomputed from the leaf and proof differs from the root given. The
    /// leaf, its index, a proof hash or the root was altered.
    RootMismatch {
        /// The root given (from a checkpoint).
        claimed: Hash,
        /// The root the proof leads to.
        derived: Hash,
    },
    /// Consistency: the old root recomputed from the proof differs from the old root given.
    OldRootMismatch {
        /// The old root given.
        claimed: Hash,
        /// The old root the proof leads to.
        derived: Hash,
    },
    /// Consistency: the new root recomputed from the proof differs from the new root given: the
    /// new tree does not extend the old one, or the proof or a root was altered.
    NewRootMismatch {
        /// The new root given.
        claimed: Hash,
        /// The new root the proof leads to.
        derived: Hash,
    },
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProofError::IndexOutOfRange { index, tree_size } => {
                write!(f, "leaf index {index} is outside a tree of {tree_size} leaves")
            }
            ProofError::SizesOutOfOrder { old_size, new_size } => {
                write!(f, "old tree size {old_size} exceeds new tree size {new_size}")
            }
            ProofError::MissingSubtree { level, index } => write!(
                f,
                "stored merkle subtree (level {level}, index {index}) is missing: rebuild the \
                 subtree store from the log"
            ),
            ProofError::WrongProofLength { expected, found } => {
                write!(f, "proof has {found} hashes, these tree sizes need {expected}")
            }
            ProofError::RootMismatch { claimed, derived } => write!(
                f,
                "inclusion proof leads to root {}, not the claimed root {}",
                to_hex(derived),
                to_hex(claimed)
            ),
            ProofError::OldRootMismatch { claimed, derived } => write!(
                f,
                "consistency proof leads to old root {}, not the claimed old root {}",
                to_hex(derived),
                to_hex(claimed)
            ),
            ProofError::NewRootMismatch { claimed, derived } => write!(
                f,
                "consistency proof leads to new root {}, not the claimed new root {}",
                to_hex(derived),
                to_hex(claimed)
            ),
        }
    }
}

impl std::error::Error for ProofError {}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The RFC 9162 section 2.1.4.2 loop for `0 < old_size < new_size`: the (old, new) roots the
/// proof leads to, or `None` if the proof runs out or runs past the root.
fn consistency_roots(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    proof: &[Hash],
) -> Option<(Hash, Hash)> {
    assert!(0 < old_size);
    assert!(old_size < new_size);
    // When the old tree is a complete subtree its root is the first node of the path; the proof
    // leaves it out because the verifier has it.
    let (first, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        let (first, rest) = proof.split_first()?;
        (*first, rest)
    };
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (first, first);
    for c in rest {
        if s_n == 0 {
            return None;
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    (s_n == 0).then_some((f_r, s_r))
}

/// The number of hashes in the inclusion proof of leaf `index` in a tree of `tree_size` leaves
/// (`index < tree_size`): one per level of the RFC 6962 recursion.
fn inclusion_proof_len(index: u64, tree_size: u64) -> usize {
    assert!(index < tree_size);
    let (mut m, mut n, mut len) = (index, tree_size, 0usize);
    while n > 1 {
        let k = split(n);
        if m < k {
            n = k;
        } else {
            m -= k;
            n -= k;
        }
        len += 1;
    }
    len
}

/// The number of hashes in the consistency proof from `old_size` to `new_size` leaves
/// (`old_size <= new_size`): one per level of the RFC 6962 SUBPROOF recursion.
fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    assert!(old_size <= new_size);
    if old_size == 0 || old_size == new_size {
        return 0;
    }
    let (mut m, mut n, mut complete, mut len) = (old_size, new_size, true, 0usize);
    loop {
        if m == n {
            return len + usize::from(!complete);
        }
        let k = split(n);
        if m <= k {
            n = k;
        } else {
            m -= k;
            n -= k;
            complete = false;
        }
        len += 1;
    }
}

/// The largest power of two smaller than `n` (`n >= 2`): where RFC 6962 splits a tree.
fn split(n: u64) -> u64 {
    assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The hash of leaves `[lo, hi)`, a subtree range of the RFC 6962 recursion, from the complete
/// subtrees that tile it.
fn range_hash(source: &dyn HashSource, lo: u64, hi: u64) -> Result<Hash, ProofError> {
    assert!(lo < hi);
    Ok(fold_right(&complete_subtrees(source, lo, hi)?))
}

/// The complete subtrees tiling leaves `[lo, hi)`, largest first: one per set bit of `hi - lo`.
/// `lo` must be aligned to the largest of them, which holds for `lo == 0` and for every range
/// of the RFC 6962 recursion.
fn complete_subtrees(source: &dyn HashSource, lo: u64, hi: u64) -> Result<Vec<Hash>, ProofError> {
    assert!(lo <= hi);
    let n = hi - lo;
    let mut hashes = Vec::with_capacity(n.count_ones() as usize);
    let mut start = lo;
    for level in (0..64u8).rev() {
        let width = 1u64 << level;
        if n & width == 0 {
            continue;
        }
        assert!(start.is_multiple_of(width), "subtree at {start} not aligned to {width}");
        let index = start >> level;
        let hash =
            source.subtree(level, index).ok_or(ProofError::MissingSubtree { level, index })?;
        hashes.push(hash);
        start += width;
    }
    assert_eq!(start, hi);
    Ok(hashes)
}

/// Folds complete subtree hashes (largest first) into the root of the range they tile: the
/// rightmost two join first, as the RFC 6962 recursion does. Empty gives [`EMPTY_ROOT`].
fn fold_right(hashes: &[Hash]) -> Hash {
    let mut iter = hashes.iter().rev();
    let Some(last) = iter.next() else { return EMPTY_ROOT };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let field = bytes.get(at..at.checked_add(8)?)?;
    field.try_into().ok().map(u64::from_le_bytes)
}

fn frontier_encoded_len(size: u64) -> usize {
    FRONTIER_HEADER_LEN + HASH_LEN * size.count_ones() as usize + FRONTIER_CRC_LEN
}

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;
const HASH_LEN: usize = 32;

/// Magic at the start of a persisted frontier.
const FRONTIER_MAGIC: [u8; 4] = *b"MTFR";
/// The persisted frontier format version.
const FRONTIER_VERSION: u8 = 1;
/// Magic, version byte, tree size.
const FRONTIER_HEADER_LEN: usize = 4 + 1 + 8;
const FRONTIER_CRC_LEN: usize = 4;

const _: () = assert!(HASH_LEN == std::mem::size_of::<Hash>());
const _: () = assert!(FRONTIER_HEADER_LEN == FRONTIER_MAGIC.len() + 1 + 8);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use std::cell::Cell;

    use proptest::prelude::*;

    use super::*;

    // The RFC 6962 reference leaves, roots per size and proofs, as published in
    // transparency-dev/merkle proof/verify_test.go (originally google/certificate-transparency's
    // merkle tree tests, also used by Go's sumdb/tlog). Values only.
    const LEAVES: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];

    /// `ROOTS[n]` is the root of the tree of the first `n` leaves.
    const ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// (index, tree size, proof). The source numbers leaves from 1; these are 0-based indexes.
    const INCLUSION: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];

    /// (old size, new size, proof).
    const CONSISTENCY: [(u64, u64, &[&str]); 5] = [
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (1, 1, &[]),
    ];

    fn h(hex: &str) -> Hash {
        assert_eq!(hex.len(), 64);
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    fn hs(hexes: &[&str]) -> Vec<Hash> {
        hexes.iter().map(|x| h(x)).collect()
    }

    fn reference_tree() -> StoredTree {
        StoredTree::from_leaf_hashes(LEAVES.iter().map(|l| leaf_hash(l)))
    }

    // The naive model: RFC 6962 section 2.1, written as the recursive definitions.

    fn model_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => EMPTY_ROOT,
            1 => leaves[0],
            n => {
                let k = model_split(n);
                node_hash(&model_root(&leaves[..k]), &model_root(&leaves[k..]))
            }
        }
    }

    fn model_split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn model_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = model_split(n);
        if m < k {
            let mut p = model_path(m, &leaves[..k]);
            p.push(model_root(&leaves[k..]));
            p
        } else {
            let mut p = model_path(m - k, &leaves[k..]);
            p.push(model_root(&leaves[..k]));
            p
        }
    }

    fn model_subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if complete { Vec::new() } else { vec![model_root(leaves)] };
        }
        let k = model_split(n);
        if m <= k {
            let mut p = model_subproof(m, &leaves[..k], complete);
            p.push(model_root(&leaves[k..]));
            p
        } else {
            let mut p = model_subproof(m - k, &leaves[k..], false);
            p.push(model_root(&leaves[..k]));
            p
        }
    }

    fn model_consistency(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        if m == 0 || m == leaves.len() {
            return Vec::new();
        }
        model_subproof(m, leaves, true)
    }

    fn synthetic_leaves(n: usize) -> Vec<Hash> {
        (0..n as u64).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    /// A hash source that counts its reads, to check proofs read O(log n) hashes.
    struct Counting<'a> {
        inner: &'a StoredTree,
        reads: Cell<usize>,
    }

    impl HashSource for Counting<'_> {
        fn subtree(&self, level: u8, index: u64) -> Option<Hash> {
            self.reads.set(self.reads.get() + 1);
            self.inner.subtree(level, index)
        }
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let computed: Hash = Sha256::digest(b"").into();
        assert_eq!(EMPTY_ROOT, computed);
        assert_eq!(root(&[]), EMPTY_ROOT);
        assert_eq!(Frontier::new().root(), EMPTY_ROOT);
        assert_eq!(StoredTree::new().root(), EMPTY_ROOT);
    }

    #[test]
    fn roots_match_the_rfc6962_reference_vectors_for_every_size() {
        let leaves: Vec<Hash> = LEAVES.iter().map(|l| leaf_hash(l)).collect();
        let tree = reference_tree();
        let mut frontier = Frontier::new();
        for n in 0..=LEAVES.len() {
            let want = h(ROOTS[n]);
            assert_eq!(root(&leaves[..n]), want, "root() size {n}");
            assert_eq!(frontier.root(), want, "frontier size {n}");
            assert_eq!(tree.root_at(n as u64).unwrap(), want, "stored tree size {n}");
            assert_eq!(model_root(&leaves[..n]), want, "model size {n}");
            if let Some(leaf) = leaves.get(n) {
                frontier.push(*leaf);
            }
        }
    }

    #[test]
    fn inclusion_proofs_match_the_reference_vectors_and_verify() {
        let tree = reference_tree();
        for (index, size, proof) in INCLUSION {
            let want = hs(proof);
            assert_eq!(inclusion_proof(index, size, &tree).unwrap(), want, "{index}@{size}");
            let leaf = leaf_hash(LEAVES[index as usize]);
            verify_inclusion(&leaf, index, size, &want, &h(ROOTS[size as usize])).unwrap();
        }
    }

    #[test]
    fn consistency_proofs_match_the_reference_vectors_and_verify() {
        let tree = reference_tree();
        for (old, new, proof) in CONSISTENCY {
            let want = hs(proof);
            assert_eq!(consistency_proof(old, new, &tree).unwrap(), want, "{old}->{new}");
            let (old_root, new_root) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
            verify_consistency(old, new, &old_root, &new_root, &want).unwrap();
        }
    }

    #[test]
    fn tampered_inclusion_inputs_fail_with_the_typed_error() {
        // Goal: every way of altering a valid inclusion claim is rejected, and the error names
        // the kind of alteration. Method: take each reference proof and alter one thing.
        let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
        for (index, size, proof) in INCLUSION {
            let proof = hs(proof);
            let leaf = leaf_hash(LEAVES[index as usize]);
            let root = h(ROOTS[size as usize]);
            let verify = |leaf: &Hash, index, size, proof: &[Hash], root: &Hash| {
                verify_inclusion(leaf, index, size, proof, root)
            };
            for i in 0..proof.len() {
                for bit in 0..8 {
                    let mut bad = proof.clone();
                    bad[i][i % 32] ^= 1 << bit;
                    let err = verify(&leaf, index, size, &bad, &root).unwrap_err();
                    assert!(matches!(err, ProofError::RootMismatch { .. }), "{err}");
                }
            }
            let mut bad_leaf = leaf;
            bad_leaf[31] ^= 1;
            let err = verify(&bad_leaf, index, size, &proof, &root).unwrap_err();
            assert!(matches!(err, ProofError::RootMismatch { derived, .. } if derived != root));
            for bad_root in [EMPTY_ROOT, some] {
                let err = verify(&leaf, index, size, &proof, &bad_root).unwrap_err();
                assert_eq!(err, ProofError::RootMismatch { claimed: bad_root, derived: root });
            }
            // A sibling index has the same proof length: the root differs.
            if index ^ 1 < size {
                let err = verify(&leaf, index ^ 1, size, &proof, &root).unwrap_err();
                assert!(matches!(err, ProofError::RootMismatch { .. }), "{err}");
            }
            let err = verify(&leaf, size, size, &proof, &root).unwrap_err();
            assert_eq!(err, ProofError::IndexOutOfRange { index: size, tree_size: size });
            let mut longer = proof.clone();
            longer.push(root);
            let err = verify(&leaf, index, size, &longer, &root).unwrap_err();
            let want = ProofError::WrongProofLength { expected: proof.len(), found: longer.len() };
            assert_eq!(err, want);
            let mut preceded = vec![some];
            preceded.extend_from_slice(&proof);
            assert_eq!(verify(&leaf, index, size, &preceded, &root).unwrap_err(), want);
            let shorter = &proof[..proof.len() - 1];
            let err = verify(&leaf, index, size, shorter, &root).unwrap_err();
            assert!(matches!(err, ProofError::WrongProofLength { .. }), "{err}");
            // Twice the size needs one more hash.
            let err = verify(&leaf, index, size * 2, &proof, &root).unwrap_err();
            assert!(matches!(err, ProofError::WrongProofLength { .. }), "{err}");
        }
    }

    #[test]
    fn tampered_consistency_inputs_fail_with_the_typed_error() {
        for (old, new, proof) in CONSISTENCY.into_iter().filter(|(o, n, _)| o != n) {
            let proof = hs(proof);
            let (old_root, new_root) = (h(ROOTS[old as usize]), h(ROOTS[new as usize]));
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i][0] ^= 0x10;
                let err = verify_consistency(old, new, &old_root, &new_root, &bad).unwrap_err();
                assert!(
                    matches!(
                        err,
                        ProofError::OldRootMismatch { .. } | ProofError::NewRootMismatch { .. }
                    ),
                    "{old}->{new} proof[{i}]: {err}"
                );
            }
            let mut bad_old = old_root;
            bad_old[0] ^= 1;
            let err = verify_consistency(old, new, &bad_old, &new_root, &proof).unwrap_err();
            assert!(
                matches!(
                    err,
                    ProofError::OldRootMismatch { .. } | ProofError::NewRootMismatch { .. }
                ),
                "{err}"
            );
            let mut bad_new = new_root;
            bad_new[0] ^= 1;
            let err = verify_consistency(old, new, &old_root, &bad_new, &proof).unwrap_err();
            assert_eq!(err, ProofError::NewRootMismatch { claimed: bad_new, derived: new_root });
            let err = verify_consistency(old, new, &new_root, &old_root, &proof).unwrap_err();
            assert!(
                matches!(
                    err,
                    ProofError::OldRootMismatch { .. } | ProofError::NewRootMismatch { .. }
                ),
                "{err}"
            );
            let err = verify_consistency(new, old, &old_root, &new_root, &proof).unwrap_err();
            assert_eq!(err, ProofError::SizesOutOfOrder { old_size: new, new_size: old });
            let err = verify_consistency(old, new, &old_root, &new_root, &[]).unwrap_err();
            assert!(matches!(err, ProofError::WrongProofLength { found: 0, .. }), "{err}");
            let mut longer = proof.clone();
            longer.push(new_root);
            let err = verify_consistency(old, new, &old_root, &new_root, &longer).unwrap_err();
            assert!(matches!(err, ProofError::WrongProofLength { .. }), "{err}");
        }
    }

    #[test]
    fn trivial_consistency_needs_an_empty_proof_and_matching_roots() {
        let (r1, r2) = (h(ROOTS[1]), h(ROOTS[2]));
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]).unwrap();
        verify_consistency(0, 5, &EMPTY_ROOT, &r2, &[]).unwrap();
        verify_consistency(3, 3, &r1, &r1, &[]).unwrap();
        let err = verify_consistency(3, 3, &r1, &r2, &[]).unwrap_err();
        assert_eq!(err, ProofError::NewRootMismatch { claimed: r2, derived: r1 });
        let err = verify_consistency(0, 5, &r1, &r2, &[]).unwrap_err();
        assert_eq!(err, ProofError::OldRootMismatch { claimed: r1, derived: EMPTY_ROOT });
        let err = verify_consistency(3, 3, &r1, &r1, &[r1]).unwrap_err();
        assert_eq!(err, ProofError::WrongProofLength { expected: 0, found: 1 });
        let err = verify_consistency(0, 3, &EMPTY_ROOT, &r1, &[EMPTY_ROOT]).unwrap_err();
        assert_eq!(err, ProofError::WrongProofLength { expected: 0, found: 1 });
    }

    #[test]
    fn proofs_for_sizes_the_store_lacks_name_the_missing_subtree() {
        let tree = reference_tree();
        let err = inclusion_proof(0, 9, &tree).unwrap_err();
        assert_eq!(err, ProofError::MissingSubtree { level: 0, index: 8 });
        let err = consistency_proof(3, 16, &tree).unwrap_err();
        assert!(matches!(err, ProofError::MissingSubtree { .. }), "{err}");
        assert_eq!(
            inclusion_proof(8, 8, &tree).unwrap_err(),
            ProofError::IndexOutOfRange { index: 8, tree_size: 8 }
        );
        assert_eq!(
            consistency_proof(5, 4, &tree).unwrap_err(),
            ProofError::SizesOutOfOrder { old_size: 5, new_size: 4 }
        );
        assert!(tree.root_at(9).is_err());
    }

    #[test]
    fn proofs_read_o_log_n_stored_hashes() {
        // Goal: proofs must not rescan the tree. Method: count source reads for every leaf and
        // size pair of a 1000-leaf tree; RFC 6962 needs at most ~2 log2(n) hashes.
        let tree = StoredTree::from_leaf_hashes(synthetic_leaves(1000));
        let counting = Counting { inner: &tree, reads: Cell::new(0) };
        for size in [1u64, 2, 3, 7, 8, 9, 511, 512, 513, 999, 1000] {
            for index in [0, size / 3, size / 2, size - 1] {
                counting.reads.set(0);
                inclusion_proof(index, size, &counting).unwrap();
                assert!(counting.reads.get() <= 2 * 10 + 2, "{index}@{size}");
                counting.reads.set(0);
                consistency_proof(index + 1, size, &counting).unwrap();
                assert!(counting.reads.get() <= 3 * 10 + 2, "{}->{size}", index + 1);
            }
        }
    }

    #[test]
    fn frontier_bytes_round_trip_and_every_defect_is_named() {
        let mut frontier = Frontier::new();
        for leaf in synthetic_leaves(13) {
            frontier.push(leaf);
        }
        let bytes = frontier.to_bytes();
        assert_eq!(bytes.len(), 13 + 3 * 32 + 4);
        assert_eq!(Frontier::from_bytes(&bytes).unwrap(), frontier);
        assert_eq!(Frontier::from_bytes(&Frontier::new().to_bytes()).unwrap(), Frontier::new());

        assert!(matches!(Frontier::from_bytes(&bytes[..5]), Err(FrontierError::Truncated { .. })));
        let mut bad = bytes.clone();
        bad[0] ^= 1;
        assert_eq!(Frontier::from_bytes(&bad), Err(FrontierError::Magic));
        let mut bad = bytes.clone();
        bad[4] = 2;
        assert_eq!(Frontier::from_bytes(&bad), Err(FrontierError::Version { found: 2 }));
        let err = Frontier::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(matches!(err, FrontierError::Length { size: 13, .. }), "{err}");
        for i in 13..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            let err = Frontier::from_bytes(&bad).unwrap_err();
            assert!(matches!(err, FrontierError::Checksum { .. }), "byte {i}: {err}");
        }
    }

    #[test]
    fn frontier_rebuilt_from_stored_subtrees_equals_the_pushed_one() {
        let leaves = synthetic_leaves(77);
        let tree = StoredTree::from_leaf_hashes(leaves.iter().copied());
        let mut frontier = Frontier::new();
        for (n, leaf) in leaves.iter().enumerate() {
            assert_eq!(Frontier::from_source(n as u64, &tree).unwrap(), frontier);
            frontier.push(*leaf);
        }
        assert_eq!(tree.frontier(), frontier);
        let err = Frontier::from_source(78, &tree).unwrap_err();
        assert!(matches!(err, ProofError::MissingSubtree { .. }), "{err}");
    }

    #[test]
    fn split_is_the_largest_power_of_two_below_n() {
        for (n, k) in [(2u64, 1u64), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)] {
            assert_eq!(split(n), k);
        }
        assert_eq!(split(u64::MAX), 1 << 63);
        assert_eq!(split((1 << 63) + 1), 1 << 63);
        assert_eq!(split(1 << 63), 1 << 62);
    }

    #[test]
    fn proof_lengths_at_the_top_of_the_u64_range_do_not_overflow() {
        assert_eq!(inclusion_proof_len(0, u64::MAX), 64);
        assert_eq!(inclusion_proof_len(u64::MAX - 1, u64::MAX), 63);
        assert_eq!(inclusion_proof_len(0, 1 << 63), 63);
        assert!(consistency_proof_len(3, u64::MAX) > 0);
        // Verification of garbage at huge sizes is an error, never a panic.
        let err = verify_inclusion(&EMPTY_ROOT, 5, u64::MAX, &[], &EMPTY_ROOT).unwrap_err();
        assert!(matches!(err, ProofError::WrongProofLength { .. }));
    }

    proptest! {
        #[test]
        fn root_and_frontier_agree_with_the_naive_model(n in 0usize..300) {
            let leaves = synthetic_leaves(n);
            let want = model_root(&leaves);
            prop_assert_eq!(root(&leaves), want);
            let tree = StoredTree::from_leaf_hashes(leaves.iter().copied());
            prop_assert_eq!(tree.root(), want);
            prop_assert_eq!(tree.frontier().root(), want);
            let decoded = Frontier::from_bytes(&tree.frontier().to_bytes()).unwrap();
            prop_assert_eq!(decoded.root(), want);
        }

        #[test]
        fn inclusion_proofs_agree_with_the_naive_model_and_verify(
            stored in 1usize..300, size in any::<prop::sample::Index>(),
            index in any::<prop::sample::Index>(),
        ) {
            // Proofs come from a tree larger than the size proved: complete subtrees never
            // change, so a proof for an old size must not depend on leaves appended since.
            let leaves = synthetic_leaves(stored);
            let tree = StoredTree::from_leaf_hashes(leaves.iter().copied());
            let size = size.index(stored) + 1;
            let index = index.index(size);
            let proof = inclusion_proof(index as u64, size as u64, &tree).unwrap();
            prop_assert_eq!(&proof, &model_path(index, &leaves[..size]));
            let root = model_root(&leaves[..size]);
            verify_inclusion(&leaves[index], index as u64, size as u64, &proof, &root).unwrap();
            if size > 1 {
                let other = (index + 1) % size;
                let (index, size) = (index as u64, size as u64);
                let err = verify_inclusion(&leaves[other], index, size, &proof, &root);
                prop_assert!(matches!(err, Err(ProofError::RootMismatch { .. })), "{:?}", err);
            }
        }

        #[test]
        fn consistency_proofs_agree_with_the_naive_model_and_verify(
            stored in 1usize..300, new in any::<prop::sample::Index>(),
            old in any::<prop::sample::Index>(),
        ) {
            let leaves = synthetic_leaves(stored);
            let tree = StoredTree::from_leaf_hashes(leaves.iter().copied());
            let new = new.index(stored + 1);
            let old = old.index(new + 1);
            let proof = consistency_proof(old as u64, new as u64, &tree).unwrap();
            prop_assert_eq!(&proof, &model_consistency(old, &leaves[..new]));
            let (old_root, new_root) = (model_root(&leaves[..old]), model_root(&leaves[..new]));
            verify_consistency(old as u64, new as u64, &old_root, &new_root, &proof).unwrap();
            // A history rewritten anywhere inside the old tree is caught.
            if old > 0 && old < new {
                let mut forged = leaves[..new].to_vec();
                forged[old - 1][0] ^= 1;
                let forged_root = model_root(&forged);
                let (old, new) = (old as u64, new as u64);
                let err = verify_consistency(old, new, &old_root, &forged_root, &proof);
                prop_assert!(matches!(err, Err(ProofError::NewRootMismatch { .. })), "{:?}", err);
            }
        }

        #[test]
        fn frontier_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Frontier::from_bytes(&bytes);
        }

        #[test]
        fn verification_of_arbitrary_proofs_never_panics(
            index in any::<u64>(), size in any::<u64>(), old in any::<u64>(),
            proof in proptest::collection::vec(any::<[u8; 32]>(), 0..70),
        ) {
            let _ = verify_inclusion(&EMPTY_ROOT, index, size, &proof, &EMPTY_ROOT);
            let _ = verify_consistency(old, size, &EMPTY_ROOT, &EMPTY_ROOT, &proof);
        }
    }
}
