//! Helpers shared by the real-disk tests (`mod common;` in each; not a test target itself).

/// The directory operations of a `Disk` wrapper around `RealDisk` that only watches or breaks
/// files: create, list, exists, rename, remove, sync and lock go straight to the real disk.
/// Used inside `impl Disk for Wrapper { ... }`.
macro_rules! real_disk_directory_ops {
    () => {
        fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
            RealDisk.create_dir_all(dir)
        }
        fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
            RealDisk.list(dir)
        }
        fn exists(&self, path: &Path) -> io::Result<bool> {
            RealDisk.exists(path)
        }
        fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
            RealDisk.rename(from, to)
        }
        fn remove(&self, path: &Path) -> io::Result<()> {
            RealDisk.remove(path)
        }
        fn sync_dir(&self, dir: &Path) -> io::Result<()> {
            RealDisk.sync_dir(dir)
        }
        fn lock_dir(&self, dir: &Path) -> io::Result<Self::Lock> {
            RealDisk.lock_dir(dir)
        }
    };
}

/// The reads and the size of a `DiskFile` wrapper that only watches or breaks writes and syncs:
/// `read_at`, `len` and `set_len` go straight to `self.inner`. Used inside
/// `impl DiskFile for Wrapper { ... }`.
macro_rules! inner_file_reads_and_size {
    () => {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            self.inner.read_at(buf, offset)
        }
        fn len(&self) -> io::Result<u64> {
            self.inner.len()
        }
        fn set_len(&self, len: u64) -> io::Result<()> {
            self.inner.set_len(len)
        }
    };
}
