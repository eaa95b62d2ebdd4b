//! Crash safety of checkpoints: after a power loss at any point of the write path, no signed
//! checkpoint points past the log, every checkpoint's root is the recovered log's root at its
//! size, and the log reopens and keeps signing.
//!
//! `PowerDisk` is a small in-memory `Disk` that keeps, per file, the bytes written and the
//! bytes synced, and per directory the entries created and the entries synced. At a chosen
//! mutating operation the power fails: that operation and every later one fail, and the disk
//! then forgets everything not synced (file data since its last `sync_data`, directory entries
//! since their directory's last `sync_dir`). Directories themselves are durable at creation
//! (the model's one simplification). The run is repeated for every crash point.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mtlog_audit::integrity::audit::Verdict;
use mtlog_audit::integrity::checkpoint::Checkpoint;
use mtlog_audit::integrity::note::Signer;
use mtlog_audit::io::{Clock, DirLock, Disk, DiskFile, Entropy, OpenMode};
use mtlog_audit::{Level, Options, Reader, Sink};

#[derive(Default)]
struct State {
    inodes: Vec<Inode>,
    entries: BTreeMap<PathBuf, usize>,
    durable: BTreeMap<PathBuf, usize>,
    dirs: BTreeSet<PathBuf>,
    ops: u64,
    crash_at: Option<u64>,
    dead: bool,
}

#[derive(Default)]
struct Inode {
    data: Vec<u8>,
    synced: Vec<u8>,
}

#[derive(Clone, Default)]
struct PowerDisk(Arc<Mutex<State>>);

struct PowerFile {
    state: Arc<Mutex<State>>,
    inode: usize,
}

struct NoLock;
impl DirLock for NoLock {}

fn lost() -> io::Error {
    io::Error::other("power lost")
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    /// Counts a mutating operation; fails it (and the rest) once the power is gone.
    fn mutate(&mut self) -> io::Result<()> {
        if self.dead {
            return Err(lost());
        }
        self.ops += 1;
        if self.crash_at.is_some_and(|at| self.ops >= at) {
            self.dead = true;
            return Err(lost());
        }
        Ok(())
    }

    fn live(&self) -> io::Result<()> {
        if self.dead {
            return Err(lost());
        }
        Ok(())
    }
}

impl PowerDisk {
    fn crash_at(&self, op: Option<u64>) {
        lock(&self.0).crash_at = op;
    }

    fn ops(&self) -> u64 {
        lock(&self.0).ops
    }

    /// The power comes back: only what was synced remains.
    fn power_loss(&self) {
        let mut s = lock(&self.0);
        s.entries = s.durable.clone();
        for inode in &mut s.inodes {
            inode.data = inode.synced.clone();
        }
        s.dead = false;
        s.crash_at = None;
    }
}

impl Disk for PowerDisk {
    type File = PowerFile;
    type Lock = NoLock;

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = lock(&self.0);
        s.mutate()?;
        for d in dir.ancestors() {
            s.dirs.insert(d.to_path_buf());
        }
        Ok(())
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<PowerFile> {
        let mut s = lock(&self.0);
        let inode = match mode {
            OpenMode::Read | OpenMode::ReadWrite => {
                s.live()?;
                *s.entries.get(path).ok_or(io::ErrorKind::NotFound)?
            }
            OpenMode::CreateNew => {
                s.mutate()?;
                if s.entries.contains_key(path) {
                    return Err(io::ErrorKind::AlreadyExists.into());
                }
                s.inodes.push(Inode::default());
                let inode = s.inodes.len() - 1;
                s.entries.insert(path.to_path_buf(), inode);
                inode
            }
        };
        Ok(PowerFile { state: self.0.clone(), inode })
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = lock(&self.0);
        s.live()?;
        let names = s.entries.keys().filter(|p| p.parent() == Some(dir));
        Ok(names.filter_map(|p| p.file_name()?.to_str().map(str::to_owned)).collect())
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        let s = lock(&self.0);
        s.live()?;
        Ok(s.entries.contains_key(path) || s.dirs.contains(path))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = lock(&self.0);
        s.mutate()?;
        let inode = s.entries.remove(from).ok_or(io::ErrorKind::NotFound)?;
        s.entries.insert(to.to_path_buf(), inode);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = lock(&self.0);
        s.mutate()?;
        s.entries.remove(path).map(|_| ()).ok_or(io::ErrorKind::NotFound.into())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = lock(&self.0);
        s.mutate()?;
        s.durable.retain(|p, _| p.parent() != Some(dir));
        let current: Vec<(PathBuf, usize)> = s
            .entries
            .iter()
            .filter(|(p, _)| p.parent() == Some(dir))
            .map(|(p, i)| (p.clone(), *i))
            .collect();
        s.durable.extend(current);
        Ok(())
    }

    fn lock_dir(&self, _dir: &Path) -> io::Result<NoLock> {
        Ok(NoLock)
    }

    fn synced_len_after_failure(&self, _path: &Path) -> Option<u64> {
        None
    }
}

impl DiskFile for PowerFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let s = lock(&self.state);
        s.live()?;
        let data = &s.inodes[self.inode].data;
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let mut s = lock(&self.state);
        s.mutate()?;
        let data = &mut s.inodes[self.inode].data;
        let end = offset as usize + buf.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[offset as usize..end].copy_from_slice(buf);
        Ok(buf.len())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut s = lock(&self.state);
        s.mutate()?;
        let inode = &mut s.inodes[self.inode];
        inode.synced = inode.data.clone();
        Ok(())
    }

    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }

    fn len(&self) -> io::Result<u64> {
        let s = lock(&self.state);
        s.live()?;
        Ok(s.inodes[self.inode].data.len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut s = lock(&self.state);
        s.mutate()?;
        s.inodes[self.inode].data.resize(len as usize, 0);
        Ok(())
    }
}

struct TickClock(AtomicI64);
impl Clock for TickClock {
    fn wall_nanos(&self) -> i64 {
        self.0.fetch_add(1_000_000, Ordering::SeqCst)
    }
    fn monotonic_nanos(&self) -> u64 {
        0
    }
}

struct CountingEntropy(AtomicU64);
impl Entropy for CountingEntropy {
    fn fill(&self, buf: &mut [u8]) {
        for b in buf {
            *b = self.0.fetch_add(1, Ordering::SeqCst) as u8;
        }
    }
}

fn signer() -> Signer {
    Signer::from_seed("audit.example/crash", [3; 32]).unwrap()
}

fn sink(
    disk: &PowerDisk,
    dir: &Path,
) -> Result<Sink<PowerDisk, TickClock, CountingEntropy>, mtlog_audit::Error> {
    Sink::open_with(
        Options::new(dir).segment_bytes(4 << 10).signer(signer()).checkpoint_every_events(Some(3)),
        Arc::new(disk.clone()),
        Arc::new(TickClock(AtomicI64::new(1_795_000_000_000_000_000))),
        Arc::new(CountingEntropy(AtomicU64::new(0))),
    )
}

/// Emits up to 30 events, stopping at the first error (the power went).
fn write_until_power_fails(disk: &PowerDisk, dir: &Path) {
    let Ok(sink) = sink(disk, dir) else { return };
    for i in 0..30u64 {
        let emitted = sink.event(Level::Information, "Event {N}").with("N", i).emit();
        if emitted.is_err() {
            break;
        }
    }
    let _ = sink.close();
}

#[test]
fn after_a_power_loss_at_any_point_no_checkpoint_points_past_the_log() {
    let dir = PathBuf::from("/log");
    let full = PowerDisk::default();
    write_until_power_fails(&full, &dir);
    let total = full.ops();
    assert!(total > 50, "{total}");
    let keys = [signer().verifier()];
    let mut checked = 0;
    for crash_at in 1..=total + 1 {
        let disk = PowerDisk::default();
        disk.crash_at(Some(crash_at));
        write_until_power_fails(&disk, &dir);
        disk.power_loss();
        let reader = Reader::open_with(Arc::new(disk.clone()), &dir, false).unwrap();
        for file in reader.checkpoints().unwrap() {
            let (checkpoint, _) = Checkpoint::open_note(&file.bytes, &keys)
                .unwrap_or_else(|e| panic!("crash at op {crash_at}: {}: {e}", file.path.display()));
            assert!(
                checkpoint.size() <= reader.tree_size(),
                "crash at op {crash_at}: checkpoint of {} events, log of {}",
                checkpoint.size(),
                reader.tree_size()
            );
            assert_eq!(reader.tree_root(checkpoint.size()).unwrap(), checkpoint.root());
            checked += 1;
        }
        let report = reader.audit(&keys, Vec::new()).unwrap();
        assert_eq!(report.verdict(), Verdict::Valid, "crash at op {crash_at}: {report:#?}");
        // The log reopens (the cached Merkle state is used or rebuilt) and keeps signing.
        let reopened = sink(&disk, &dir).unwrap_or_else(|e| panic!("crash at op {crash_at}: {e}"));
        reopened.event(Level::Information, "After").emit().unwrap();
        reopened.close().unwrap();
        drop(reopened);
        let reader = Reader::open_with(Arc::new(disk.clone()), &dir, false).unwrap();
        let report = reader.audit(&keys, Vec::new()).unwrap();
        assert_eq!(report.verdict(), Verdict::Valid, "crash at op {crash_at}, reopened");
    }
    assert!(checked > total, "{checked} checkpoints checked over {total} crash points");
}
