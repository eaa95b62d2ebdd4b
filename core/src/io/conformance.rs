//! A conformance suite generic over [`Disk`]: the contracts the WAL relies on, checked against
//! any implementation (the real disk, the simulator, a scrambling wrapper).
//!
//! It is library code, not a test, so every implementation's own test suite can run the same
//! checks: `core/tests/conformance_real.rs` runs it on `RealDisk`, `sim/tests/` on `SimDisk`
//! and `ScramblingDisk`. Each check returns a message naming the contract it found broken.
//!
//! # Examples
//!
//! A `Disk` implementation's test runs [`check_disk`] (and [`check_wal`], which takes the
//! `Arc`s of a disk, a clock and an entropy source, as `Sink::open_with` does):
//!
//! ```
//! use mtlog_audit::io::{conformance, RealDisk};
//!
//! # let tmp = tempfile::tempdir()?;
//! assert_eq!(conformance::check_disk(&RealDisk, tmp.path()), Ok(()));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{read_exact_at, write_all_at, Clock, Disk, DiskFile, Entropy, OpenMode};
use crate::event::Level;
use crate::options::Options;
use crate::reader::Reader;
use crate::sink::Sink;

/// Runs every file-system contract check in `scratch` (an empty directory path). See the
/// [module docs](self) for an example.
///
/// # Errors
/// The first broken contract, described: the operation and what it did instead (an
/// unexpected `io::Error` included).
pub fn check_disk<D: Disk>(disk: &D, scratch: &Path) -> Result<(), String> {
    let dir = scratch.join("conformance");
    disk.create_dir_all(&dir).map_err(|e| format!("create_dir_all: {e}"))?;
    let a = dir.join("a.bin");
    let b = dir.join("b.bin");
    let file = disk.open(&a, OpenMode::CreateNew).map_err(|e| format!("create: {e}"))?;
    expect_kind(
        disk.open(&a, OpenMode::CreateNew).map(drop),
        io::ErrorKind::AlreadyExists,
        "create twice",
    )?;
    expect_kind(disk.open(&b, OpenMode::Read).map(drop), io::ErrorKind::NotFound, "open missing")?;
    let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write_all_at(&file, &data, 100).map_err(|e| format!("write: {e}"))?;
    let len = file.len().map_err(|e| format!("len: {e}"))?;
    ensure(len == 10_100, format!("len after write is {len}, expected 10100"))?;
    let mut back = vec![0u8; 10_100];
    read_exact_at(&file, &mut back, 0).map_err(|e| format!("read: {e}"))?;
    ensure(back[..100].iter().all(|&x| x == 0), "a hole before a write reads as zeros")?;
    ensure(back[100..] == data[..], "read returns what was written")?;
    let mut past = [0u8; 8];
    let n = file.read_at(&mut past, 20_000).map_err(|e| format!("read past end: {e}"))?;
    ensure(n == 0, format!("read past end returned {n} bytes"))?;
    file.sync_data().map_err(|e| format!("sync_data: {e}"))?;
    ensure(disk.synced_len_after_failure(&a).is_none(), "no failed sync is remembered")?;
    file.set_len(20_000).map_err(|e| format!("set_len grow: {e}"))?;
    read_exact_at(&file, &mut past, 19_000).map_err(|e| format!("read grown: {e}"))?;
    ensure(past == [0; 8], "growth by set_len reads as zeros")?;
    file.set_len(50).map_err(|e| format!("set_len shrink: {e}"))?;
    file.sync_all().map_err(|e| format!("sync_all: {e}"))?;
    ensure(file.len().map_err(|e| e.to_string())? == 50, "set_len shrinks")?;
    drop(file);
    disk.sync_dir(&dir).map_err(|e| format!("sync_dir: {e}"))?;
    let other = disk.open(&b, OpenMode::CreateNew).map_err(|e| format!("create b: {e}"))?;
    write_all_at(&other, b"bee", 0).map_err(|e| format!("write b: {e}"))?;
    drop(other);
    let names = disk.list(&dir).map_err(|e| format!("list: {e}"))?;
    ensure(names == ["a.bin", "b.bin"], format!("list sorted regular files, got {names:?}"))?;
    disk.rename(&b, &a).map_err(|e| format!("rename: {e}"))?;
    ensure(!disk.exists(&b).map_err(|e| e.to_string())?, "rename removes the old name")?;
    let renamed = disk.open(&a, OpenMode::Read).map_err(|e| format!("open renamed: {e}"))?;
    let mut bee = [0u8; 3];
    read_exact_at(&renamed, &mut bee, 0).map_err(|e| format!("read renamed: {e}"))?;
    ensure(&bee == b"bee", "rename replaces the target")?;
    drop(renamed);
    disk.remove(&a).map_err(|e| format!("remove: {e}"))?;
    ensure(!disk.exists(&a).map_err(|e| e.to_string())?, "remove removes")?;
    disk.sync_dir(&dir).map_err(|e| format!("sync_dir: {e}"))?;
    let lock = disk.lock_dir(&dir).map_err(|e| format!("lock: {e}"))?;
    expect_kind(disk.lock_dir(&dir).map(drop), io::ErrorKind::WouldBlock, "second lock")?;
    drop(lock);
    disk.lock_dir(&dir).map(drop).map_err(|e| format!("lock after release: {e}"))?;
    Ok(())
}

/// The WAL over `disk`: open, emit, close, reopen, replay, verify. Uses the production sink
/// (and so its preparer thread): this checks behaviour, not determinism.
///
/// # Errors
/// The first step that failed (`open`, `emit N`, `close`, `reopen`, `reader`, `replay`) with
/// the crate's [`Error`](crate::Error), or the broken expectation (seq order, chain hash,
/// message, count, a finding of `verify_integrity`).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use mtlog_audit::io::{conformance, OsEntropy, RealDisk, SystemClock};
///
/// # let tmp = tempfile::tempdir()?;
/// let (disk, clock, entropy) = (Arc::new(RealDisk), Arc::new(SystemClock), Arc::new(OsEntropy));
/// assert_eq!(conformance::check_wal(disk, clock, entropy, tmp.path()), Ok(()));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn check_wal<D: Disk, C: Clock, E: Entropy>(
    disk: Arc<D>,
    clock: Arc<C>,
    entropy: Arc<E>,
    scratch: &Path,
) -> Result<(), String> {
    let dir = scratch.join("wal");
    let options = || Options::new(&dir).segment_bytes(8 << 10);
    let sink = Sink::open_with(options(), disk.clone(), clock.clone(), entropy.clone())
        .map_err(|e| format!("open: {e}"))?;
    let mut receipts = Vec::new();
    for i in 0..100u64 {
        let r = sink.event(Level::Information, "n {N}").with("N", i).emit();
        receipts.push(r.map_err(|e| format!("emit {i}: {e}"))?);
    }
    sink.close().map_err(|e| format!("close: {e}"))?;
    drop(sink);
    let sink = Sink::open_with(options(), disk.clone(), clock, entropy)
        .map_err(|e| format!("reopen: {e}"))?;
    ensure(sink.recovery_report().seq_next == 101, "reopen continues after seq 100")?;
    ensure(sink.recovery_report().cuts.is_empty(), "a clean close needs no cut")?;
    sink.close().map_err(|e| format!("close: {e}"))?;
    drop(sink);
    let reader = Reader::open_with(disk, &dir, false).map_err(|e| format!("reader: {e}"))?;
    let mut n = 0u64;
    for (stored, receipt) in reader.replay(1..=100).map_err(|e| e.to_string())?.zip(&receipts) {
        let stored = stored.map_err(|e| format!("replay: {e}"))?;
        ensure(stored.seq == receipt.seq, "replay in seq order")?;
        ensure(stored.chain_hash == receipt.chain_hash, "chain hash equals the receipt")?;
        ensure(stored.event.message == format!("n {n}"), "message round trips")?;
        n += 1;
    }
    ensure(n == 100, format!("replayed {n} of 100"))?;
    let report = reader.verify_integrity();
    ensure(report.is_valid(), format!("verify: {:?}", report.findings))?;
    Ok(())
}

fn ensure(ok: bool, what: impl Into<String>) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(what.into())
    }
}

fn expect_kind(r: io::Result<()>, kind: io::ErrorKind, what: &str) -> Result<(), String> {
    match r {
        Err(e) if e.kind() == kind => Ok(()),
        Err(e) => Err(format!("{what}: expected {kind:?}, got {e}")),
        Ok(()) => Err(format!("{what}: expected {kind:?}, got Ok")),
    }
}
