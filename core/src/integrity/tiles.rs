//! Stored subtree hashes as tiles, laid out as C2SP `tlog-tiles` lays them out (tile height 8),
//! and the writer's in-memory right edge that produces them. Pure: no I/O (see
//! [`store`](super::store) for the files).
//!
//! A tile at tile level `L` and index `N` holds the hashes of tree level `8L`, indexes
//! `[256 N, 256 N + W)`, for a width `1 <= W <= 256`. Tile level 0 holds the leaf hashes. A tile
//! is **full** at width 256; a full tile never changes. Any complete subtree `(level, index)`
//! with `level = 8L + r` (`r < 8`) is the perfect fold of `2^r` consecutive hashes of one tile of
//! level `L`, so a proof for any tree size reads one tile per 8 tree levels it touches:
//! O(log n) reads of at most 8 KiB.
//!
//! ```text
//! tile file = magic "MTTL" (4) | version (1) = 1 | tile level (1) | width W (2, LE)
//!           | log id (16, LE) | tile index N (8, LE)
//!           | W hashes (32 each, in index order)
//!           | crc32c (4, LE) of every preceding byte
//! ```
//!
//! The hashes are byte for byte the content of the C2SP tile `tile/<L>/<N>` (or `.p/<W>` when
//! partial); the header and checksum are ours, so a damaged or foreign tile is refused rather
//! than served.
//!
//! The writer's state between restarts (`merkle/state`) is the right edge: the partial tile of
//! each tile level, plus the tree size and the chain hash at that size, which ties the cached
//! state to the WAL (a state whose chain hash is not the WAL's at that size is ignored):
//!
//! ```text
//! state = magic "MTMS" (4) | version (1) = 1 | tile levels K (1) | reserved (2) = 0
//!       | log id (16, LE) | tree size (8, LE) | chain hash at that size (32)
//!       | K times: width (2, LE) | width hashes (32 each)
//!       | crc32c (4, LE) of every preceding byte
//! ```
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::integrity::merkle;
//! use mtlog_audit::integrity::tiles::{Tile, TileBuilder};
//!
//! let log_id = 7u128;
//! let mut builder = TileBuilder::new();
//! let mut completed = Vec::new();
//! for i in 0..300u32 {
//!     builder.push(merkle::leaf_hash(&i.to_le_bytes()), &mut completed);
//! }
//! assert_eq!(completed.len(), 1); // leaves 0..256 filled tile (0, 0)
//! assert!(completed[0].is_full());
//! let partial = builder.partial_tiles();
//! assert_eq!((partial[0].level, partial[0].index, partial[0].hashes.len()), (0, 1, 44));
//!
//! // A tile file round-trips and names its place; the right edge too.
//! let bytes = completed[0].to_bytes(log_id);
//! assert_eq!(Tile::from_bytes(&bytes, log_id, 0, 0)?, completed[0]);
//! assert!(Tile::from_bytes(&bytes, log_id, 0, 1).is_err()); // another tile's place
//! let chain = [9u8; 32];
//! let state = builder.state_to_bytes(log_id, &chain);
//! let (again, chain_again) = TileBuilder::state_from_bytes(&state, log_id)?;
//! assert_eq!((again.size(), again.root(), chain_again), (300, builder.root(), chain));
//! assert_eq!(builder.frontier().size(), 300);
//!
//! // Proofs read tiles: subtree (tree level 9, index 3) is hashes [6, 8) of tile (1, 0).
//! use std::sync::Arc;
//! use mtlog_audit::integrity::merkle::HashSource;
//! use mtlog_audit::integrity::tiles::{perfect_root, tile_span, TileSource};
//! assert_eq!(tile_span(9, 3), Some((1, 0, 6, 8)));
//! let stored: Vec<Arc<Tile>> = completed.iter().chain(&partial).cloned().map(Arc::new).collect();
//! let source = TileSource {
//!     fetch: |level, index| stored.iter().find(|t| (t.level, t.index) == (level, index)).cloned(),
//! };
//! assert_eq!(source.subtree(8, 0), Some(perfect_root(&completed[0].hashes)));
//! assert_eq!(merkle::tree_root(300, &source)?, builder.root());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Maintainers: tile and state bytes come from disk and may be anything, so indexing and
// unwrapping are denied here; decoders return typed errors.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]
#![deny(missing_docs)]

use std::fmt;

use super::merkle::{node_hash, Frontier, Hash, HashSource};

/// Tree levels per tile level. See the [module docs](self) for an example.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile. See the [module docs](self) for an example.
pub const TILE_WIDTH: usize = 1 << TILE_HEIGHT;
/// Tile levels needed for a tree of up to `u64::MAX` leaves.
/// See the [module docs](self) for an example.
pub const TILE_LEVELS_MAX: usize = 64 / TILE_HEIGHT as usize;

/// One tile: hashes of tree level `8 * level`, indexes `[256 * index, 256 * index + width)`.
/// See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tile {
    /// The tile level (tree level divided by 8).
    pub level: u8,
    /// The tile index within its level.
    pub index: u64,
    /// The hashes, `1..=256` of them.
    pub hashes: Vec<Hash>,
}

impl Tile {
    /// Whether the tile holds all 256 hashes (and so never changes).
    /// See the [module docs](self) for an example.
    pub fn is_full(&self) -> bool {
        self.hashes.len() == TILE_WIDTH
    }

    /// Encodes the tile for its file (see the module docs).
    ///
    /// # Panics
    /// If the tile is empty or wider than 256.
    ///
    /// See the [module docs](self) for an example.
    pub fn to_bytes(&self, log_id: u128) -> Vec<u8> {
        assert!(!self.hashes.is_empty());
        assert!(self.hashes.len() <= TILE_WIDTH);
        let mut out = Vec::with_capacity(TILE_HEADER_LEN + 32 * self.hashes.len() + CRC_LEN);
        out.extend_from_slice(&TILE_MAGIC);
        out.push(VERSION);
        out.push(self.level);
        out.extend_from_slice(&(self.hashes.len() as u16).to_le_bytes());
        out.extend_from_slice(&log_id.to_le_bytes());
        out.extend_from_slice(&self.index.to_le_bytes());
        for hash in &self.hashes {
            out.extend_from_slice(hash);
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a tile file, checking that it is the tile `(level, index)` of log `log_id`.
    ///
    /// # Errors
    /// A [`CacheError`] naming the defect.
    ///
    /// See the [module docs](self) for an example.
    pub fn from_bytes(
        bytes: &[u8],
        log_id: u128,
        level: u8,
        index: u64,
    ) -> Result<Tile, CacheError> {
        let body = checked_body(bytes, TILE_MAGIC, TILE_HEADER_LEN)?;
        let width = usize::from(le_u16(body, 6).ok_or(CacheError::Truncated)?);
        let found_level = body.get(5).copied().ok_or(CacheError::Truncated)?;
        let found_log = le_u128(body, 8).ok_or(CacheError::Truncated)?;
        let found_index = le_u64(body, 24).ok_or(CacheError::Truncated)?;
        if found_log != log_id || found_level != level || found_index != index {
            return Err(CacheError::Identity);
        }
        if width == 0 || width > TILE_WIDTH {
            return Err(CacheError::Length);
        }
        let hashes = hashes_at(body, TILE_HEADER_LEN, width)?;
        if TILE_HEADER_LEN + 32 * width != body.len() {
            return Err(CacheError::Length);
        }
        Ok(Tile { level, index, hashes })
    }
}

/// Why a cache file (tile or state) was refused. A cache is never trusted over the WAL: any of
/// these means "rebuild from the WAL", not "the log was altered".
///
/// # Examples
///
/// ```
/// use mtlog_audit::integrity::tiles::{CacheError, Tile};
///
/// let tile = Tile { level: 0, index: 3, hashes: vec![[1; 32], [2; 32]] };
/// let bytes = tile.to_bytes(7);
/// assert_eq!(Tile::from_bytes(&bytes, 7, 0, 3), Ok(tile));
///
/// assert_eq!(Tile::from_bytes(&bytes, 8, 0, 3), Err(CacheError::Identity)); // another log
/// let mut flipped = bytes.clone();
/// flipped[40] ^= 1; // a bit of the first hash
/// let err = Tile::from_bytes(&flipped, 7, 0, 3).unwrap_err();
/// assert!(matches!(err, CacheError::Checksum { .. }));
/// assert!(err.to_string().starts_with("checksum mismatch, stored 0x"));
/// assert_eq!(Tile::from_bytes(&bytes[..10], 7, 0, 3), Err(CacheError::Truncated));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheError {
    /// Shorter than its header and checksum.
    Truncated,
    /// Wrong magic: not a file of this kind.
    Magic,
    /// A version this build does not read.
    Version {
        /// The version byte found.
        found: u8,
    },
    /// The checksum does not match the bytes.
    Checksum {
        /// Stored.
        stored: u32,
        /// Computed.
        computed: u32,
    },
    /// The length disagrees with the widths in the header.
    Length,
    /// A valid file for another log, level or index.
    Identity,
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::Truncated => write!(f, "shorter than its header"),
            CacheError::Magic => write!(f, "wrong magic"),
            CacheError::Version { found } => write!(f, "unknown version {found}"),
            CacheError::Checksum { stored, computed } => {
                write!(f, "checksum mismatch, stored {stored:#010x}, computed {computed:#010x}")
            }
            CacheError::Length => write!(f, "length disagrees with its header"),
            CacheError::Identity => write!(f, "belongs to another log, level or index"),
        }
    }
}

impl std::error::Error for CacheError {}

/// The hash of the perfect subtree over `hashes` (a power of two of them, at least one).
///
/// # Panics
/// If `hashes.len()` is not a power of two.
///
/// See the [module docs](self) for an example.
pub fn perfect_root(hashes: &[Hash]) -> Hash {
    assert!(hashes.len().is_power_of_two());
    let mut row: Vec<Hash> = hashes.to_vec();
    while row.len() > 1 {
        row = row.chunks_exact(2).map(fold_pair).collect();
    }
    let [root] = row.as_slice() else { unreachable!("a power of two folds to one hash") };
    *root
}

fn fold_pair(pair: &[Hash]) -> Hash {
    match pair {
        [left, right] => node_hash(left, right),
        _ => unreachable!("chunks_exact(2) yields pairs"),
    }
}

/// Where in the tiles a complete subtree lives: tile `(tile level, tile index)`, hashes
/// `[from, to)`; `None` for a subtree no tree of `u64` leaves has.
///
/// # Panics
/// Never: an assertion checks that the span ends inside its tile.
///
/// See the [module docs](self) for an example.
pub fn tile_span(level: u8, index: u64) -> Option<(u8, u64, usize, usize)> {
    if level >= 64 {
        return None;
    }
    let tile_level = level / TILE_HEIGHT;
    let r = u32::from(level % TILE_HEIGHT);
    if index.leading_zeros() < r {
        return None;
    }
    let first = index << r; // index at tree level 8 * tile_level
    let tile_index = first >> TILE_HEIGHT;
    let from = (first % TILE_WIDTH as u64) as usize;
    let to = from + (1usize << r);
    assert!(to <= TILE_WIDTH);
    Some((tile_level, tile_index, from, to))
}

/// `value >> bits`, zero when `bits >= 64`.
fn shr(value: u64, bits: usize) -> u64 {
    u32::try_from(bits).ok().and_then(|b| value.checked_shr(b)).unwrap_or(0)
}

/// A [`HashSource`] over tiles fetched by a closure (from disk, from memory): each subtree is
/// the perfect fold of a slice of one tile. See the [module docs](self) for an example.
pub struct TileSource<F: Fn(u8, u64) -> Option<std::sync::Arc<Tile>>> {
    /// Fetches tile `(tile level, tile index)`, or `None` if missing or damaged.
    pub fetch: F,
}

impl<F: Fn(u8, u64) -> Option<std::sync::Arc<Tile>>> HashSource for TileSource<F> {
    fn subtree(&self, level: u8, index: u64) -> Option<Hash> {
        let (tile_level, tile_index, from, to) = tile_span(level, index)?;
        let tile = (self.fetch)(tile_level, tile_index)?;
        let hashes = tile.hashes.get(from..to)?;
        Some(perfect_root(hashes))
    }
}

/// The writer's right edge: the partial tile of each tile level. Appends in O(1) amortised
/// (a full tile folds 255 node hashes once per 256 appends at its level) and hands back every
/// tile it completes, to be stored. See the [module docs](self) for an example.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TileBuilder {
    size: u64,
    /// `rows[l]`: hashes of tree level `8 l` not yet in a full tile, `< 256` of them.
    rows: Vec<Vec<Hash>>,
}

impl TileBuilder {
    /// The right edge of the empty tree. See the [module docs](self) for an example.
    pub fn new() -> TileBuilder {
        TileBuilder::default()
    }

    /// The number of leaves appended. See the [module docs](self) for an example.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash; pushes every tile it completes onto `completed` (lowest level
    /// first).
    ///
    /// # Panics
    /// If the tree already holds `u64::MAX` leaves.
    ///
    /// See the [module docs](self) for an example.
    pub fn push(&mut self, leaf_hash: Hash, completed: &mut Vec<Tile>) {
        assert!(self.size < u64::MAX, "merkle tree is full");
        let mut carry = leaf_hash;
        let mut level = 0usize;
        loop {
            if self.rows.len() == level {
                self.rows.push(Vec::with_capacity(TILE_WIDTH));
            }
            let Some(row) = self.rows.get_mut(level) else { unreachable!("row {level} exists") };
            row.push(carry);
            if row.len() < TILE_WIDTH {
                break;
            }
            let hashes = std::mem::take(row);
            carry = perfect_root(&hashes);
            // The tile's last hash is at tree level 8 * level, index (size + 1) >> (8 level)
            // minus one; the tile index is that divided by 256.
            let last = (self.size + 1) >> (TILE_HEIGHT as usize * level);
            let index = (last >> TILE_HEIGHT) - 1;
            completed.push(Tile { level: level as u8, index, hashes });
            level += 1;
        }
        self.size += 1;
        debug_assert!(self.rows_agree_with_size());
    }

    /// The partial (non-empty, not full) tile of each level: the right edge to store so that
    /// proofs for the current size read tiles only. See the [module docs](self) for an
    /// example.
    pub fn partial_tiles(&self) -> Vec<Tile> {
        let mut tiles = Vec::new();
        for (level, row) in self.rows.iter().enumerate() {
            if row.is_empty() {
                continue;
            }
            let index = shr(self.size, TILE_HEIGHT as usize * (level + 1));
            tiles.push(Tile { level: level as u8, index, hashes: row.clone() });
        }
        tiles
    }

    /// The frontier of the tree (every frontier subtree lies in the partial rows).
    /// See the [module docs](self) for an example.
    pub fn frontier(&self) -> Frontier {
        let frontier = Frontier::from_source(self.size, self);
        // Every frontier subtree of a tree of `size` leaves lies inside the partial rows.
        let Ok(frontier) = frontier else { unreachable!("right edge misses a frontier subtree") };
        frontier
    }

    /// The root of the tree. See the [module docs](self) for an example.
    pub fn root(&self) -> Hash {
        self.frontier().root()
    }

    /// Encodes the right edge with the chain hash at this size (see the module docs).
    /// See the [module docs](self) for an example.
    pub fn state_to_bytes(&self, log_id: u128, chain: &Hash) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&STATE_MAGIC);
        out.push(VERSION);
        out.push(self.rows.len() as u8);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&log_id.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(chain);
        for row in &self.rows {
            out.extend_from_slice(&(row.len() as u16).to_le_bytes());
            for hash in row {
                out.extend_from_slice(hash);
            }
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a right edge; returns it with the chain hash it was stored with.
    ///
    /// # Errors
    /// A [`CacheError`]; [`CacheError::Length`] also when the rows disagree with the size.
    ///
    /// See the [module docs](self) for an example.
    pub fn state_from_bytes(bytes: &[u8], log_id: u128) -> Result<(TileBuilder, Hash), CacheError> {
        let body = checked_body(bytes, STATE_MAGIC, STATE_HEADER_LEN)?;
        let levels = usize::from(body.get(5).copied().ok_or(CacheError::Truncated)?);
        if le_u128(body, 8).ok_or(CacheError::Truncated)? != log_id {
            return Err(CacheError::Identity);
        }
        let size = le_u64(body, 24).ok_or(CacheError::Truncated)?;
        let chain: Hash = hashes_at(body, 32, 1)?.pop().ok_or(CacheError::Truncated)?;
        if levels > TILE_LEVELS_MAX {
            return Err(CacheError::Length);
        }
        let mut at = STATE_HEADER_LEN;
        let mut rows = Vec::with_capacity(levels);
        for _ in 0..levels {
            let width = usize::from(le_u16(body, at).ok_or(CacheError::Truncated)?);
            if width >= TILE_WIDTH {
                return Err(CacheError::Length);
            }
            rows.push(hashes_at(body, at + 2, width)?);
            at += 2 + 32 * width;
        }
        if at != body.len() {
            return Err(CacheError::Length);
        }
        let builder = TileBuilder { size, rows };
        if !builder.rows_agree_with_size() {
            return Err(CacheError::Length);
        }
        Ok((builder, chain))
    }

    /// Row `l` holds `(size >> 8 l) mod 256` hashes, for every tile level.
    fn rows_agree_with_size(&self) -> bool {
        self.rows.len() <= TILE_LEVELS_MAX
            && (0..TILE_LEVELS_MAX).all(|level| {
                let want = shr(self.size, TILE_HEIGHT as usize * level) % TILE_WIDTH as u64;
                self.rows.get(level).map_or(0, Vec::len) as u64 == want
            })
    }
}

impl HashSource for TileBuilder {
    fn subtree(&self, level: u8, index: u64) -> Option<Hash> {
        let (tile_level, tile_index, from, to) = tile_span(level, index)?;
        let row = self.rows.get(usize::from(tile_level))?;
        let row_index = shr(self.size, TILE_HEIGHT as usize * (usize::from(tile_level) + 1));
        if tile_index != row_index {
            return None;
        }
        row.get(from..to).map(perfect_root)
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Checks magic, version and checksum; returns the bytes before the checksum.
fn checked_body(bytes: &[u8], magic: [u8; 4], header_len: usize) -> Result<&[u8], CacheError> {
    if bytes.len() < header_len + CRC_LEN {
        return Err(CacheError::Truncated);
    }
    if bytes.get(..4) != Some(magic.as_slice()) {
        return Err(CacheError::Magic);
    }
    let version = bytes.get(4).copied().ok_or(CacheError::Truncated)?;
    if version != VERSION {
        return Err(CacheError::Version { found: version });
    }
    let (body, trailer) = bytes.split_at(bytes.len() - CRC_LEN);
    let stored = trailer.try_into().map(u32::from_le_bytes).map_err(|_| CacheError::Truncated)?;
    let computed = crc32c::crc32c(body);
    if stored != computed {
        return Err(CacheError::Checksum { stored, computed });
    }
    Ok(body)
}

fn hashes_at(body: &[u8], at: usize, count: usize) -> Result<Vec<Hash>, CacheError> {
    let end = at.checked_add(32 * count).ok_or(CacheError::Length)?;
    let bytes = body.get(at..end).ok_or(CacheError::Length)?;
    Ok(bytes.chunks_exact(32).map(|c| c.try_into().unwrap_or_default()).collect())
}

fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    bytes.get(at..at + 2)?.try_into().ok().map(u16::from_le_bytes)
}

fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    bytes.get(at..at + 8)?.try_into().ok().map(u64::from_le_bytes)
}

fn le_u128(bytes: &[u8], at: usize) -> Option<u128> {
    bytes.get(at..at + 16)?.try_into().ok().map(u128::from_le_bytes)
}

const TILE_MAGIC: [u8; 4] = *b"MTTL";
const STATE_MAGIC: [u8; 4] = *b"MTMS";
const VERSION: u8 = 1;
/// Magic, version, level, width, log id, tile index.
const TILE_HEADER_LEN: usize = 4 + 1 + 1 + 2 + 16 + 8;
/// Magic, version, levels, reserved, log id, size, chain hash.
const STATE_HEADER_LEN: usize = 4 + 1 + 1 + 2 + 16 + 8 + 32;
const CRC_LEN: usize = 4;

const _: () = assert!(TILE_WIDTH <= u16::MAX as usize);
const _: () = assert!(TILE_LEVELS_MAX * TILE_HEIGHT as usize == 64);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::expect_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::integrity::merkle::{self, StoredTree};

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n as u32).map(|i| merkle::leaf_hash(&i.to_le_bytes())).collect()
    }

    /// Every tile of a tree: full ones as completed, then the partial right edge.
    fn all_tiles(leaves: &[Hash]) -> (TileBuilder, Vec<Tile>) {
        let mut builder = TileBuilder::new();
        let mut tiles = Vec::new();
        for leaf in leaves {
            builder.push(*leaf, &mut tiles);
        }
        tiles.extend(builder.partial_tiles());
        (builder, tiles)
    }

    #[test]
    fn tiles_serve_every_complete_subtree_of_the_reference_tree() {
        // Goal: a tile store answers exactly as the in-memory StoredTree does. Method: build
        // both over 70,000 leaves (three tile levels, partial tiles at each) and compare every
        // proof-relevant subtree, plus roots at many sizes.
        let leaves = leaves(70_000);
        let tree = StoredTree::from_leaf_hashes(leaves.iter().copied());
        let (builder, tiles) = all_tiles(&leaves);
        let map: std::collections::BTreeMap<(u8, u64), std::sync::Arc<Tile>> =
            tiles.into_iter().map(|t| ((t.level, t.index), std::sync::Arc::new(t))).collect();
        let source = TileSource { fetch: |l, i| map.get(&(l, i)).cloned() };
        for size in [1u64, 2, 255, 256, 257, 65_535, 65_536, 65_537, 69_999, 70_000] {
            assert_eq!(merkle::tree_root(size, &source).unwrap(), tree.root_at(size).unwrap());
            for index in [0, size / 2, size - 1] {
                assert_eq!(
                    merkle::inclusion_proof(index, size, &source).unwrap(),
                    merkle::inclusion_proof(index, size, &tree).unwrap()
                );
            }
        }
        assert_eq!(builder.root(), tree.root());
        assert_eq!(builder.frontier(), tree.frontier());
    }

    #[test]
    fn tiles_and_state_round_trip_and_every_byte_flip_is_refused() {
        let (builder, tiles) = all_tiles(&leaves(300));
        for tile in &tiles {
            let bytes = tile.to_bytes(7);
            assert_eq!(&Tile::from_bytes(&bytes, 7, tile.level, tile.index).unwrap(), tile);
            assert_eq!(
                Tile::from_bytes(&bytes, 8, tile.level, tile.index),
                Err(CacheError::Identity)
            );
            for i in 0..bytes.len() {
                let mut bad = bytes.clone();
                bad[i] ^= 0x20;
                assert!(Tile::from_bytes(&bad, 7, tile.level, tile.index).is_err(), "byte {i}");
            }
        }
        let chain = [9u8; 32];
        let bytes = builder.state_to_bytes(7, &chain);
        assert_eq!(TileBuilder::state_from_bytes(&bytes, 7).unwrap(), (builder, chain));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(TileBuilder::state_from_bytes(&bad, 7).is_err(), "byte {i}");
        }
    }

    proptest! {
        #[test]
        fn builder_root_and_state_agree_with_the_reference(n in 0usize..1200) {
            let leaves = leaves(n);
            let (builder, _) = all_tiles(&leaves);
            prop_assert_eq!(builder.root(), merkle::root(&leaves));
            let bytes = builder.state_to_bytes(1, &[0; 32]);
            let (decoded, _) = TileBuilder::state_from_bytes(&bytes, 1).unwrap();
            prop_assert_eq!(decoded.root(), merkle::root(&leaves));
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Tile::from_bytes(&bytes, 0, 0, 0);
            let _ = TileBuilder::state_from_bytes(&bytes, 0);
        }
    }
}
