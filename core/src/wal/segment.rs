//! Segment files: names, preparation (preallocate + zero-fill + header, off the ack path),
//! reading back, and sealing.
//!
//! Preparation order, each step finished before the next (see `docs/wal-format.md`):
//! 1. create `NNN.wal.prep`, write the header and zeros to the full capacity (synced every
//!    MiB on the way, so the writeback never queues far ahead of the appends' syncs);
//! 2. `fdatasync` it;
//! 3. rename it to `NNN.wal`;
//! 4. `fsync` the directory.
//!
//! So a `NNN.wal` file always has a durable header and durable zeros, and a `.prep` file is
//! always garbage from an interrupted preparation (recovery removes it).
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::io::RealDisk;
//! use mtlog_audit::wal::format::{decode_segment_header, SegmentId};
//! use mtlog_audit::wal::segment;
//!
//! assert_eq!(segment::file_name(SegmentId(3)), "00000000000000000003.wal");
//! assert_eq!(segment::parse_file_name("00000000000000000003.wal"), Some(SegmentId(3)));
//! assert!(segment::is_prep_file("00000000000000000003.wal.prep"));
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let prepared = segment::prepare(&RealDisk, dir, 7, SegmentId(1), 64 << 10)?;
//! assert_eq!(prepared.path, dir.join(segment::file_name(SegmentId(1))));
//! let (bytes, unreadable) = segment::read_all(&RealDisk, &prepared.path)?;
//! assert_eq!((bytes.len(), unreadable.len()), (64 << 10, 0));
//! assert_eq!(decode_segment_header(&bytes).map(|h| h.log_id), Ok(7));
//! assert!(bytes[64..].iter().all(|&b| b == 0)); // durable zeros up to the capacity
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::io::{is_storage_full, read_exact_at, write_all_at, Disk, DiskFile, OpenMode};
use crate::wal::format::{self, SegmentHeader, SegmentId, SEGMENT_HEADER_LEN, SEGMENT_LEN_MAX};

/// The file name of segment `id`. See the [module docs](self) for an example.
pub fn file_name(id: SegmentId) -> String {
    format!("{:020}.wal", id.0)
}

/// The segment id a file name denotes, if it is a segment file name. See the
/// [module docs](self) for an example.
pub fn parse_file_name(name: &str) -> Option<SegmentId> {
    let digits = name.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(SegmentId)
}

/// Whether `name` is a leftover of an interrupted preparation. See the [module docs](self)
/// for an example.
pub fn is_prep_file(name: &str) -> bool {
    name.strip_suffix(".prep").is_some_and(|n| parse_file_name(n).is_some())
}

/// A prepared, empty segment: durable header, durable zeros, durable directory entry.
/// See the [module docs](self) for an example.
pub struct Prepared<F> {
    /// Its id.
    pub id: SegmentId,
    /// Its path.
    pub path: PathBuf,
    /// The open file.
    pub file: F,
    /// Its size.
    pub capacity: u64,
    /// Its header bytes (the first bytes the seal's xxh3 covers).
    pub header: [u8; SEGMENT_HEADER_LEN],
}

static ZEROS: [u8; 64 << 10] = [0; 64 << 10];

/// The zero-fill is synced every this many bytes, not only once at the end: the writeback of a
/// whole segment's zeros (32 MiB by default) queued ahead of an append's `fdatasync` on the same
/// disk stalled acks for ~20 ms (`docs/performance.md`); this bounds the stall to one chunk's.
/// The extra syncs change nothing about durability: step 2's `fdatasync` still covers it all.
const ZERO_FILL_SYNC_BYTES: u64 = 1 << 20;

/// Prepares segment `id` in `dir`. Off the ack path: the writer installs the result later.
///
/// # Errors
/// `Error::DiskFull` if the disk is full (the partial `.prep` file is removed, best effort);
/// `Error::Poisoned` for any other I/O error, as the writer must not carry on past an I/O error
/// it cannot explain; `Error::Io` if checking for a stale `.prep` file fails. See the
/// [module docs](self) for an example.
pub fn prepare<D: Disk>(
    disk: &D,
    dir: &Path,
    log_id: u128,
    id: SegmentId,
    capacity: u64,
) -> Result<Prepared<D::File>, Error> {
    let name = file_name(id);
    let path = dir.join(&name);
    let prep = dir.join(format!("{name}.prep"));
    let fail = |op: &'static str, e: io::Error| {
        if is_storage_full(&e) {
            let _ = disk.remove(&prep);
            Error::DiskFull { op, path: prep.clone() }
        } else {
            Error::poisoned(op, prep.clone(), &e)
        }
    };
    if disk.exists(&prep).map_err(|e| Error::io("stat", prep.clone(), &e))? {
        disk.remove(&prep).map_err(|e| fail("remove stale", e))?;
    }
    let file = disk.open(&prep, OpenMode::CreateNew).map_err(|e| fail("create", e))?;
    let header = format::encode_segment_header(&SegmentHeader { log_id, segment: id, capacity });
    write_all_at(&file, &header, 0).map_err(|e| fail("write header", e))?;
    let mut at = SEGMENT_HEADER_LEN as u64;
    let mut unsynced = 0u64;
    while at < capacity {
        let n = (capacity - at).min(ZEROS.len() as u64) as usize;
        write_all_at(&file, &ZEROS[..n], at).map_err(|e| fail("zero-fill", e))?;
        at += n as u64;
        unsynced += n as u64;
        if unsynced >= ZERO_FILL_SYNC_BYTES && at < capacity {
            file.sync_data().map_err(|e| fail("fdatasync zero-fill", e))?;
            unsynced = 0;
        }
    }
    file.sync_data().map_err(|e| fail("fdatasync", e))?;
    disk.rename(&prep, &path).map_err(|e| fail("rename", e))?;
    #[cfg(not(feature = "canary-no-dir-fsync"))] // The canary skips it: the entry may vanish.
    disk.sync_dir(dir).map_err(|e| fail("fsync dir", e))?;
    // Reopen under the final name, so whatever the disk remembers about this file (a failed
    // sync's durable length) is remembered under the name recovery will look up.
    drop(file);
    let file = disk.open(&path, OpenMode::ReadWrite).map_err(|e| fail("reopen", e))?;
    Ok(Prepared { id, path, file, capacity, header })
}

/// Reads a whole segment file. Unreadable sectors (latent errors) read as zeros and are listed
/// in the returned ranges, so the scan reports them instead of mistaking them for zeros.
///
/// # Errors
/// `Error::Io` if the file cannot be opened or sized (or is larger than memory can address);
/// `Error::SegmentTooLarge` if it is longer than [`SEGMENT_LEN_MAX`], checked before anything
/// is allocated. Read errors are not errors: they are the returned ranges.
///
/// See the [module docs](self) for an example.
pub fn read_all<D: Disk>(disk: &D, path: &Path) -> Result<(Vec<u8>, Vec<Range<u64>>), Error> {
    let file = disk.open(path, OpenMode::Read).map_err(|e| Error::io("open", path, &e))?;
    let len = file.len().map_err(|e| Error::io("stat", path, &e))?;
    check_len(path, len)?;
    let len = usize::try_from(len).map_err(|_| Error::Io {
        op: "size",
        path: path.to_path_buf(),
        kind: io::ErrorKind::FileTooLarge,
        errno: None,
    })?;
    let mut bytes = vec![0u8; len];
    let mut bad: Vec<Range<u64>> = Vec::new();
    const CHUNK: usize = 1 << 20;
    let mut at = 0;
    while at < len {
        let end = (at + CHUNK).min(len);
        read_lenient(&file, &mut bytes[at..end], at as u64, &mut bad);
        at = end;
    }
    Ok((bytes, bad))
}

/// Refuses a segment file longer than [`SEGMENT_LEN_MAX`]: every reader loads a segment whole,
/// so this is what bounds their memory (`docs/recovery.md`, section 10).
///
/// # Errors
/// `Error::SegmentTooLarge` naming the file and its length.
pub fn check_len(path: &Path, len: u64) -> Result<(), Error> {
    if len > SEGMENT_LEN_MAX {
        return Err(Error::SegmentTooLarge { path: path.to_path_buf(), len, max: SEGMENT_LEN_MAX });
    }
    Ok(())
}

/// Reads `buf.len()` bytes at `offset`. Sectors that cannot be read (latent errors) read as
/// zeros and are appended to `bad` as file ranges, merged with adjacent ones (also with the last
/// range already in `bad`, so reading a file in chunks gives the same list): one bad sector
/// costs one sector, not the read.
pub fn read_lenient<F: DiskFile + ?Sized>(
    file: &F,
    buf: &mut [u8],
    offset: u64,
    bad: &mut Vec<Range<u64>>,
) {
    const SECTOR: u64 = 512;
    if read_exact_at(file, buf, offset).is_ok() {
        return;
    }
    let end = offset + buf.len() as u64;
    let mut at = offset;
    while at < end {
        // Sector-aligned in the file, so a failing sector is reported where it lies.
        let next = ((at / SECTOR + 1) * SECTOR).min(end);
        let slice = &mut buf[(at - offset) as usize..(next - offset) as usize];
        if read_exact_at(file, slice, at).is_err() {
            slice.fill(0);
            match bad.last_mut() {
                Some(last) if last.end == at => last.end = next,
                _ => bad.push(at..next),
            }
        }
        at = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file in memory whose reads fail (EIO) when they touch `bad`.
    struct BadSectors {
        bytes: Vec<u8>,
        bad: Range<u64>,
    }

    impl DiskFile for BadSectors {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            let end = offset + buf.len() as u64;
            if offset < self.bad.end && self.bad.start < end {
                return Err(io::Error::from_raw_os_error(5));
            }
            let from = usize::try_from(offset).unwrap().min(self.bytes.len());
            let n = buf.len().min(self.bytes.len() - from);
            buf[..n].copy_from_slice(&self.bytes[from..from + n]);
            Ok(n)
        }
        fn write_at(&self, _: &[u8], _: u64) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }
        fn sync_data(&self) -> io::Result<()> {
            Ok(())
        }
        fn sync_all(&self) -> io::Result<()> {
            Ok(())
        }
        fn len(&self) -> io::Result<u64> {
            Ok(self.bytes.len() as u64)
        }
        fn set_len(&self, _: u64) -> io::Result<()> {
            Err(io::Error::from(io::ErrorKind::Unsupported))
        }
    }

    #[test]
    fn a_lenient_read_loses_only_the_failing_sectors_and_names_them_in_file_offsets() {
        // The tail after a seal starts mid-sector: the failing sector is reported where it
        // lies in the file, and every readable byte around it is read.
        let file =
            BadSectors { bytes: (0..4096u32).map(|i| i as u8 | 1).collect(), bad: 1024..1536 };
        let mut buf = vec![0u8; 4096 - 700];
        let mut bad = Vec::new();
        read_lenient(&file, &mut buf, 700, &mut bad);
        assert_eq!(bad, vec![1024..1536]);
        for (i, &b) in buf.iter().enumerate() {
            let at = 700 + i;
            let expected = if (1024..1536).contains(&at) { 0 } else { file.bytes[at] };
            assert_eq!(b, expected, "byte {at}");
        }
        // Read in two chunks split inside the bad sector: one range, as read in one piece.
        let mut chunked = Vec::new();
        read_lenient(&file, &mut buf[..580], 700, &mut chunked);
        read_lenient(&file, &mut buf[580..], 1280, &mut chunked);
        assert_eq!(chunked, vec![1024..1536]);
        let mut clean = vec![0u8; 300];
        let mut none = Vec::new();
        read_lenient(&file, &mut clean, 0, &mut none);
        assert!(none.is_empty());
        assert_eq!(clean, file.bytes[..300]);
    }
}
