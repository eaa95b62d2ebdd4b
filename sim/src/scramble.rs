//! `ScramblingDisk`: a test-only `Disk` wrapper that stores every byte XORed with a keystream.
//!
//! Code that reads or writes files only through the `Disk` trait cannot tell the difference:
//! bytes are scrambled on `write_at` and unscrambled on `read_at`. Code that bypasses the trait
//! (a stray `std::fs::read`, a tool reading the segment directly) sees garbage and fails loudly.
//! This is the conformance check STYLE.md §5 asks for.
//!
//! The keystream depends only on the key and the byte's file offset, not on the file, so renames
//! keep content readable and short reads and writes need no state. One consequence: space that
//! was never written (holes, `set_len` growth) reads back as keystream, not zeros, exactly like
//! uninitialised sectors (D14), which the log must tolerate anyway.

use std::io;
use std::path::Path;

use mtlog_audit::io::{Disk, DiskFile, OpenMode};

use crate::rng::mix64;

/// Wraps a [`Disk`] so the bytes at rest are scrambled.
#[derive(Clone, Debug)]
pub struct ScramblingDisk<D> {
    inner: D,
    key: u64,
}

/// A file of a [`ScramblingDisk`].
#[derive(Debug)]
pub struct ScramblingFile<F> {
    inner: F,
    key: u64,
}

impl<D: Disk> ScramblingDisk<D> {
    /// Wraps `inner`, scrambling with `key`. Reopen files with the same key to read them.
    pub fn new(inner: D, key: u64) -> ScramblingDisk<D> {
        ScramblingDisk { inner, key }
    }

    /// The wrapped disk (to crash it or inspect it scrambled).
    pub fn inner(&self) -> &D {
        &self.inner
    }
}

/// XORs `buf`, the bytes at file offset `offset`, with the keystream of `key`.
pub fn scramble(key: u64, buf: &mut [u8], offset: u64) {
    let mut i = 0;
    while i < buf.len() {
        let at = offset + i as u64;
        let word = mix64(key ^ (at >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes();
        let start = (at & 7) as usize;
        let n = (8 - start).min(buf.len() - i);
        for (byte, mask) in buf[i..i + n].iter_mut().zip(&word[start..start + n]) {
            *byte ^= mask;
        }
        i += n;
    }
}

impl<D: Disk> Disk for ScramblingDisk<D> {
    type File = ScramblingFile<D::File>;
    type Lock = D::Lock;

    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Self::File> {
        Ok(ScramblingFile { inner: self.inner.open(path, mode)?, key: self.key })
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list(dir)
    }

    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.inner.exists(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }

    fn lock_dir(&self, dir: &Path) -> io::Result<Self::Lock> {
        self.inner.lock_dir(dir)
    }

    fn synced_len_after_failure(&self, path: &Path) -> Option<u64> {
        self.inner.synced_len_after_failure(path)
    }
}

impl<F: DiskFile> DiskFile for ScramblingFile<F> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let n = self.inner.read_at(buf, offset)?;
        scramble(self.key, &mut buf[..n], offset);
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let mut scrambled = buf.to_vec();
        scramble(self.key, &mut scrambled, offset);
        self.inner.write_at(&scrambled, offset)
    }

    fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data()
    }

    fn sync_all(&self) -> io::Result<()> {
        self.inner.sync_all()
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FaultConfig, Sim};
    use mtlog_audit::io::{read_exact_at, write_all_at};

    #[test]
    fn bytes_round_trip_through_the_trait_but_are_garbage_underneath() {
        let sim = Sim::new(1, FaultConfig::none());
        let disk = ScramblingDisk::new(sim.disk(), 0xfeed);
        disk.create_dir_all(Path::new("/d")).unwrap();
        let file = disk.open(Path::new("/d/f"), OpenMode::CreateNew).unwrap();
        write_all_at(&file, b"the quick brown fox", 3).unwrap();
        let mut back = [0u8; 19];
        read_exact_at(&file, &mut back, 3).unwrap();
        assert_eq!(&back, b"the quick brown fox");
        disk.rename(Path::new("/d/f"), Path::new("/d/g")).unwrap();
        let renamed = disk.open(Path::new("/d/g"), OpenMode::Read).unwrap();
        let mut part = [0u8; 5];
        read_exact_at(&renamed, &mut part, 17).unwrap();
        assert_eq!(&part, b"n fox");
        let raw = disk.inner().cached_contents(Path::new("/d/g")).unwrap();
        assert_ne!(&raw[3..], b"the quick brown fox");
    }
}
