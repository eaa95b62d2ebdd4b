//! The integrity files in a log directory, all through [`Disk`]:
//!
//! ```text
//! DIR/checkpoints/checkpoint-<tree size, 20 digits>.note   signed checkpoints (durable)
//! DIR/checkpoints/latest                                   a copy of the newest one (durable)
//! DIR/merkle/state                                         the writer's right edge (cache)
//! DIR/merkle/tile/<L>/<N, C2SP path>                       tiles (cache)
//! ```
//!
//! Checkpoints are written **durably**: tmp file, `fdatasync`, rename, then `fsync` of the
//! directory, so after a power loss a checkpoint file is either absent or whole, and the events
//! it covers were fdatasynced before it was written. Caches are written tmp + rename without
//! fsync: after a power loss a cache file may be missing, stale or torn; its checksum and the
//! chain hash it carries make every such case a rebuild from the WAL, never a wrong answer.
//!
//! # Examples
//!
//! ```
//! use std::path::Path;
//! use mtlog_audit::integrity::store;
//! use mtlog_audit::io::{Disk, RealDisk};
//!
//! assert_eq!(store::checkpoint_file_name(42), "checkpoint-00000000000000000042.note");
//! assert_eq!(store::parse_checkpoint_file_name("checkpoint-00000000000000000042.note"), Some(42));
//! let tile = store::tile_path(Path::new("/log"), 1, 1234067); // C2SP tlog-tiles layout
//! assert_eq!(tile, Path::new("/log/merkle/tile/1/x001/x234/067"));
//!
//! # let tmp = tempfile::tempdir()?;
//! let dir = tmp.path().join(store::CHECKPOINTS_DIR);
//! store::ensure_dir(&RealDisk, &dir)?;
//! let path = dir.join(store::checkpoint_file_name(7));
//! store::write_synced(&RealDisk, &path, b"note\n").map_err(|(_op, e)| e)?;
//! RealDisk.sync_dir(&dir)?; // the caller makes the new name durable
//! assert_eq!(store::read_file(&RealDisk, &path)?, Some(b"note\n".to_vec()));
//! assert_eq!(store::newest_checkpoint_size(&RealDisk, tmp.path())?, 7);
//! assert_eq!(store::list_checkpoints(&RealDisk, tmp.path())?[0].size_named, Some(7));
//! std::fs::write(dir.join("checkpoint-00000000000000000009.note.tmp"), b"")?; // a crash
//! assert_eq!(store::remove_stale_tmp(&RealDisk, tmp.path())?, 1);
//!
//! // Caches: written without fsync, read back checked against their place and log.
//! use mtlog_audit::integrity::store::TileRead;
//! use mtlog_audit::integrity::tiles::{CacheError, Tile};
//! let tile = Tile { level: 0, index: 0, hashes: vec![[1; 32]] };
//! store::write_cache(&RealDisk, &store::tile_path(tmp.path(), 0, 0), &tile.to_bytes(5))?;
//! assert_eq!(store::read_tile(&RealDisk, tmp.path(), 5, 0, 0), TileRead::Found(tile));
//! let foreign = store::read_tile(&RealDisk, tmp.path(), 6, 0, 0); // another log's id
//! assert_eq!(foreign, TileRead::Damaged(CacheError::Identity));
//! assert_eq!(store::read_tile(&RealDisk, tmp.path(), 5, 0, 1), TileRead::Missing);
//! assert!(store::state_path(tmp.path()).ends_with("merkle/state"));
//! assert_eq!(store::hex(&[0xab; 32]), "ab".repeat(32));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};

use crate::io::{read_exact_at, write_all_at, Disk, DiskFile, OpenMode};

use super::merkle::Hash;
use super::tiles::{CacheError, Tile};

/// The directory of signed checkpoints, inside the log directory.
/// See the [module docs](self) for an example.
pub const CHECKPOINTS_DIR: &str = "checkpoints";
/// The directory of Merkle caches, inside the log directory.
/// See the [module docs](self) for an example.
pub const MERKLE_DIR: &str = "merkle";
/// The name of the copy of the newest checkpoint. See the [module docs](self) for an example.
pub const LATEST: &str = "latest";
/// The largest cache or checkpoint file read (a full tile is 8 KiB, a note at most 1 MiB).
/// See the [module docs](self) for an example.
pub const FILE_LEN_MAX: u64 = 2 << 20;

/// The file name of the checkpoint of `tree_size` leaves.
/// See the [module docs](self) for an example.
pub fn checkpoint_file_name(tree_size: u64) -> String {
    format!("checkpoint-{tree_size:020}.note")
}

/// The tree size a checkpoint file name states, if it is one.
/// See the [module docs](self) for an example.
pub fn parse_checkpoint_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("checkpoint-")?.strip_suffix(".note")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The path of tile `(level, index)`: `DIR/merkle/tile/<level>/<index>`, the index written as
/// C2SP `tlog-tiles` writes it (groups of three digits, all but the last prefixed by `x`:
/// 1234067 is `x001/x234/067`), so no directory holds more than 1,000 entries.
///
/// See the [module docs](self) for an example.
pub fn tile_path(dir: &Path, level: u8, index: u64) -> PathBuf {
    let mut path = dir.join(MERKLE_DIR).join("tile").join(level.to_string());
    let digits = index.to_string();
    let pad = (3 - digits.len() % 3) % 3;
    let digits = format!("{}{digits}", "0".repeat(pad));
    let groups: Vec<&str> =
        digits.as_bytes().chunks(3).map(|c| std::str::from_utf8(c).unwrap_or("000")).collect();
    for (i, group) in groups.iter().enumerate() {
        if i + 1 < groups.len() {
            path.push(format!("x{group}"));
        } else {
            path.push(group);
        }
    }
    path
}

/// The path of the writer's right-edge state. See the [module docs](self) for an example.
pub fn state_path(dir: &Path) -> PathBuf {
    dir.join(MERKLE_DIR).join("state")
}

/// Writes `bytes` to `path` durably except for the directory entry: tmp file, `fdatasync`,
/// rename. The caller `sync_dir`s the parent once for all files it wrote.
///
/// # Errors
/// The I/O error and the operation that failed. After an error `path` holds its old content
/// or the new one.
///
/// See the [module docs](self) for an example.
pub fn write_synced<D: Disk>(
    disk: &D,
    path: &Path,
    bytes: &[u8],
) -> Result<(), (&'static str, io::Error)> {
    let tmp = tmp_path(path);
    if disk.exists(&tmp).map_err(|e| ("stat", e))? {
        disk.remove(&tmp).map_err(|e| ("remove", e))?;
    }
    let file = disk.open(&tmp, OpenMode::CreateNew).map_err(|e| ("create", e))?;
    let written = write_all_at(&file, bytes, 0)
        .map_err(|e| ("write", e))
        .and_then(|()| file.sync_data().map_err(|e| ("fdatasync", e)));
    drop(file);
    // A failed write (a full disk, typically) leaves no tmp file behind: we created it.
    let renamed = written.and_then(|()| disk.rename(&tmp, path).map_err(|e| ("rename", e)));
    if renamed.is_err() {
        let _ = disk.remove(&tmp);
    }
    renamed
}

/// Writes a cache file: parents created, tmp file, rename, no sync (see the module docs).
///
/// # Errors
/// The I/O error; the cache is then simply missing or old.
///
/// See the [module docs](self) for an example.
pub fn write_cache<D: Disk>(disk: &D, path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        if !disk.exists(parent)? {
            disk.create_dir_all(parent)?;
        }
    }
    let tmp = tmp_path(path);
    if disk.exists(&tmp)? {
        disk.remove(&tmp)?;
    }
    let file = disk.open(&tmp, OpenMode::CreateNew)?;
    let written = write_all_at(&file, bytes, 0);
    drop(file);
    let renamed = written.and_then(|()| disk.rename(&tmp, path));
    if renamed.is_err() {
        let _ = disk.remove(&tmp);
    }
    renamed
}

/// Removes the tmp files a crash may leave in `DIR/checkpoints` (`checkpoint-<size>.note.tmp`,
/// `latest.tmp`: only the names [`write_synced`] creates there), returning how many. A tmp
/// file is never a checkpoint: the rename that would have made it one did not happen.
///
/// # Errors
/// The first I/O error listing or removing; files before it are removed.
///
/// See the [module docs](self) for an example.
pub fn remove_stale_tmp<D: Disk>(disk: &D, dir: &Path) -> io::Result<u64> {
    let cp_dir = dir.join(CHECKPOINTS_DIR);
    if !disk.exists(&cp_dir)? {
        return Ok(0);
    }
    let mut removed = 0;
    for name in disk.list(&cp_dir)? {
        let Some(target) = name.strip_suffix(".tmp") else { continue };
        if target == LATEST || parse_checkpoint_file_name(target).is_some() {
            disk.remove(&cp_dir.join(&name))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Reads a whole file, or `None` if it does not exist.
///
/// # Errors
/// I/O errors; `InvalidData` for a file longer than [`FILE_LEN_MAX`].
///
/// See the [module docs](self) for an example.
pub fn read_file<D: Disk>(disk: &D, path: &Path) -> io::Result<Option<Vec<u8>>> {
    if !disk.exists(path)? {
        return Ok(None);
    }
    let file = disk.open(path, OpenMode::Read)?;
    let len = file.len()?;
    if len > FILE_LEN_MAX {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "file too large"));
    }
    let mut bytes = vec![0u8; len as usize];
    read_exact_at(&file, &mut bytes, 0)?;
    Ok(Some(bytes))
}

/// What reading a tile found. See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TileRead {
    /// A tile that decoded and checked.
    Found(Tile),
    /// No file.
    Missing,
    /// A file that is not this tile, with why.
    Damaged(CacheError),
    /// An I/O error reading it.
    Unreadable(io::ErrorKind),
}

/// Reads tile `(level, index)` of log `log_id` from `dir`.
/// See the [module docs](self) for an example.
pub fn read_tile<D: Disk>(disk: &D, dir: &Path, log_id: u128, level: u8, index: u64) -> TileRead {
    match read_file(disk, &tile_path(dir, level, index)) {
        Ok(None) => TileRead::Missing,
        Ok(Some(bytes)) => match Tile::from_bytes(&bytes, log_id, level, index) {
            Ok(tile) => TileRead::Found(tile),
            Err(e) => TileRead::Damaged(e),
        },
        Err(e) => TileRead::Unreadable(e.kind()),
    }
}

/// A checkpoint file found in a directory. See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointFile {
    /// Its path.
    pub path: PathBuf,
    /// The tree size its name states (the note itself is authoritative).
    pub size_named: Option<u64>,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// Every `checkpoint-*.note` file in `DIR/checkpoints`, in tree-size order (`latest` is a copy
/// and is skipped). A missing directory is no checkpoint.
///
/// # Errors
/// I/O errors listing or reading.
///
/// See the [module docs](self) for an example.
pub fn list_checkpoints<D: Disk>(disk: &D, dir: &Path) -> io::Result<Vec<CheckpointFile>> {
    let cp_dir = dir.join(CHECKPOINTS_DIR);
    if !disk.exists(&cp_dir)? {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for name in disk.list(&cp_dir)? {
        let Some(size) = parse_checkpoint_file_name(&name) else { continue };
        let path = cp_dir.join(&name);
        if let Some(bytes) = read_file(disk, &path)? {
            files.push(CheckpointFile { path, size_named: Some(size), bytes });
        }
    }
    files.sort_by_key(|f| f.size_named);
    Ok(files)
}

/// The largest tree size among the checkpoint file names in `DIR/checkpoints` (0 if none).
///
/// # Errors
/// I/O errors listing.
///
/// See the [module docs](self) for an example.
pub fn newest_checkpoint_size<D: Disk>(disk: &D, dir: &Path) -> io::Result<u64> {
    let cp_dir = dir.join(CHECKPOINTS_DIR);
    if !disk.exists(&cp_dir)? {
        return Ok(0);
    }
    Ok(disk.list(&cp_dir)?.iter().filter_map(|n| parse_checkpoint_file_name(n)).max().unwrap_or(0))
}

/// Ensures `dir` exists and its entry is durable.
///
/// The parent is fsynced on every call, not only when `dir` is created: an earlier call may
/// have created it and then failed to sync (EIO), and a checkpoint written into a directory
/// whose own entry a power loss can still revert is lost with it (the torture harness, seed
/// 2455 of Swarm, lost every checkpoint that way).
///
/// # Errors
/// The I/O error.
///
/// See the [module docs](self) for an example.
pub fn ensure_dir<D: Disk>(disk: &D, dir: &Path) -> io::Result<()> {
    if !disk.exists(dir)? {
        disk.create_dir_all(dir)?;
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        disk.sync_dir(parent)?;
    }
    Ok(())
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Lowercase hex of a hash, for file contents and reports.
/// See the [module docs](self) for an example.
pub fn hex(hash: &Hash) -> String {
    super::chain::to_hex(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_follow_the_c2sp_layout() {
        let d = Path::new("/l");
        assert_eq!(tile_path(d, 0, 5), Path::new("/l/merkle/tile/0/005"));
        assert_eq!(tile_path(d, 1, 1234067), Path::new("/l/merkle/tile/1/x001/x234/067"));
        assert_eq!(tile_path(d, 2, 1000), Path::new("/l/merkle/tile/2/x001/000"));
    }

    #[test]
    fn checkpoint_names_round_trip() {
        assert_eq!(parse_checkpoint_file_name(&checkpoint_file_name(42)), Some(42));
        assert_eq!(parse_checkpoint_file_name("checkpoint-42.note"), None);
        assert_eq!(parse_checkpoint_file_name("latest"), None);
    }
}
