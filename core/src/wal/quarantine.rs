//! Quarantine: where recovery saves every byte it cuts, before cutting it.
//!
//! A tail cut writes `quarantine/SSSSSSSSSSSSSSSSSSSS-OOOOOOOOOOOO.q`: an 80-byte header (magic
//! `MTLQUAR1`, segment, offset, length, seq range, reason, CRC32C) followed by the raw bytes.
//! Whole segments past a cut are moved to `quarantine/SSSS…-OOOO…-NNNN….wal`. The file is
//! written to a `.tmp` name, fdatasynced, renamed and the directory fsynced, and a quarantine
//! file that already exists is never overwritten: after a crash mid-recovery the first capture
//! of the damaged bytes stays, whatever the interrupted recovery did to the segment after it.
//! Since the report is read back from these files, a repeated recovery reports the same cuts.

use std::path::{Path, PathBuf};

use crate::error::{DamageKind, Error};
use crate::io::{read_exact_at, write_all_at, Disk, DiskFile, OpenMode};
use crate::wal::format::SegmentId;
use crate::wal::recovery::Cut;
use crate::wal::segment;

/// The quarantine directory's name inside the log directory.
pub const DIR: &str = "quarantine";
const MAGIC: [u8; 8] = *b"MTLQUAR1";
const HEADER_LEN: usize = 80;

/// One recorded cut (or one segment moved aside by a cut).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuarantineEntry {
    /// The file name inside `quarantine/`.
    pub file: String,
    /// The segment cut.
    pub segment: SegmentId,
    /// Where the cut was.
    pub offset: u64,
    /// How many bytes were cut from that segment (for a moved segment: its whole length).
    pub len: u64,
    /// The seqs expected at the cut and the highest seen past it (0, 0 for a moved segment).
    pub seq_range: (u64, u64),
    /// Why the cut was made (`None` for a moved segment).
    pub reason: Option<DamageKind>,
}

fn name_for(cut: &Cut) -> String {
    format!("{:020}-{:012}.q", cut.segment.0, cut.offset)
}

/// Saves the cut bytes, unless this cut was saved before.
///
/// # Errors
/// Any I/O error (recovery stops; nothing has been cut yet).
pub fn save_bytes<D: Disk>(disk: &D, dir: &Path, cut: &Cut, bytes: &[u8]) -> Result<(), Error> {
    let qdir = ensure_dir(disk, dir)?;
    let path = qdir.join(name_for(cut));
    if disk.exists(&path).map_err(|e| Error::io("stat", &path, &e))? {
        return Ok(());
    }
    let tmp = qdir.join(format!("{}.tmp", name_for(cut)));
    let io = |op, p: &Path, e: std::io::Error| Error::io(op, p, &e);
    if disk.exists(&tmp).map_err(|e| io("stat", &tmp, e))? {
        disk.remove(&tmp).map_err(|e| io("remove", &tmp, e))?;
    }
    let file = disk.open(&tmp, OpenMode::CreateNew).map_err(|e| io("create", &tmp, e))?;
    let header = encode_header(cut, bytes.len() as u64);
    write_all_at(&file, &header, 0).map_err(|e| io("write", &tmp, e))?;
    write_all_at(&file, bytes, HEADER_LEN as u64).map_err(|e| io("write", &tmp, e))?;
    file.sync_data().map_err(|e| io("fdatasync", &tmp, e))?;
    disk.rename(&tmp, &path).map_err(|e| io("rename", &path, e))?;
    disk.sync_dir(&qdir).map_err(|e| io("fsync dir", &qdir, e))?;
    Ok(())
}

/// Moves segment `id` into quarantine whole (it lies past the cut).
///
/// # Errors
/// Any I/O error.
pub fn move_segment<D: Disk>(disk: &D, dir: &Path, cut: &Cut, id: SegmentId) -> Result<(), Error> {
    let qdir = ensure_dir(disk, dir)?;
    let from = dir.join(segment::file_name(id));
    let to =
        qdir.join(format!("{:020}-{:012}-{}", cut.segment.0, cut.offset, segment::file_name(id)));
    disk.rename(&from, &to).map_err(|e| Error::io("rename", &from, &e))?;
    disk.sync_dir(&qdir).map_err(|e| Error::io("fsync dir", &qdir, &e))?;
    disk.sync_dir(dir).map_err(|e| Error::io("fsync dir", dir, &e))?;
    Ok(())
}

/// Every quarantine entry, sorted by file name.
///
/// # Errors
/// I/O errors listing or reading the quarantine directory.
pub fn list<D: Disk>(disk: &D, dir: &Path) -> Result<Vec<QuarantineEntry>, Error> {
    let qdir = dir.join(DIR);
    if !disk.exists(&qdir).map_err(|e| Error::io("stat", &qdir, &e))? {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for name in disk.list(&qdir).map_err(|e| Error::io("list", &qdir, &e))? {
        let path = qdir.join(&name);
        if name.ends_with(".q") {
            let file =
                disk.open(&path, OpenMode::Read).map_err(|e| Error::io("open", &path, &e))?;
            let mut h = [0u8; HEADER_LEN];
            if read_exact_at(&file, &mut h, 0).is_ok() {
                if let Some(entry) = decode_header(&name, &h) {
                    out.push(entry);
                }
            }
        } else if let Some(entry) = moved_entry(disk, &name, &path)? {
            out.push(entry);
        }
    }
    Ok(out)
}

fn moved_entry<D: Disk>(
    disk: &D,
    name: &str,
    path: &Path,
) -> Result<Option<QuarantineEntry>, Error> {
    let mut parts = name.splitn(3, '-');
    let (Some(_), Some(_), Some(seg)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    let Some(id) = segment::parse_file_name(seg) else {
        return Ok(None);
    };
    let file = disk.open(path, OpenMode::Read).map_err(|e| Error::io("open", path, &e))?;
    let len = file.len().map_err(|e| Error::io("stat", path, &e))?;
    Ok(Some(QuarantineEntry {
        file: name.to_owned(),
        segment: id,
        offset: 0,
        len,
        seq_range: (0, 0),
        reason: None,
    }))
}

fn ensure_dir<D: Disk>(disk: &D, dir: &Path) -> Result<PathBuf, Error> {
    let qdir = dir.join(DIR);
    if !disk.exists(&qdir).map_err(|e| Error::io("stat", &qdir, &e))? {
        disk.create_dir_all(&qdir).map_err(|e| Error::io("mkdir", &qdir, &e))?;
        disk.sync_dir(dir).map_err(|e| Error::io("fsync dir", dir, &e))?;
    }
    Ok(qdir)
}

fn encode_header(cut: &Cut, len: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..16].copy_from_slice(&cut.segment.0.to_le_bytes());
    h[16..24].copy_from_slice(&cut.offset.to_le_bytes());
    h[24..32].copy_from_slice(&len.to_le_bytes());
    h[32..40].copy_from_slice(&cut.seq_range.0.to_le_bytes());
    h[40..48].copy_from_slice(&cut.seq_range.1.to_le_bytes());
    let (code, a, b) = reason_code(cut.reason);
    h[48..52].copy_from_slice(&code.to_le_bytes());
    h[56..64].copy_from_slice(&a.to_le_bytes());
    h[64..72].copy_from_slice(&b.to_le_bytes());
    let crc = crc32c::crc32c(&h[..72]);
    h[72..76].copy_from_slice(&crc.to_le_bytes());
    h
}

fn decode_header(name: &str, h: &[u8; HEADER_LEN]) -> Option<QuarantineEntry> {
    let u64_at = |i: usize| u64::from_le_bytes(h[i..i + 8].try_into().unwrap_or([0; 8]));
    let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap_or([0; 4]));
    if h[0..8] != MAGIC || u32_at(72) != crc32c::crc32c(&h[..72]) {
        return None;
    }
    Some(QuarantineEntry {
        file: name.to_owned(),
        segment: SegmentId(u64_at(8)),
        offset: u64_at(16),
        len: u64_at(24),
        seq_range: (u64_at(32), u64_at(40)),
        reason: reason_from(u32_at(48), u64_at(56), u64_at(64)),
    })
}

fn reason_code(kind: DamageKind) -> (u32, u64, u64) {
    match kind {
        DamageKind::Checksum { stored, computed } => (1, stored.into(), computed.into()),
        DamageKind::Garbage => (2, 0, 0),
        DamageKind::Hole => (3, 0, 0),
        DamageKind::Misdirected { found_segment } => (4, found_segment.0, 0),
        DamageKind::SeqGap { expected, found } => (5, expected, found),
        DamageKind::ChainBreak { seq } => (6, seq, 0),
        DamageKind::SegmentHeader => (7, 0, 0),
        DamageKind::MissingSegment => (8, 0, 0),
        DamageKind::SealMismatch => (9, 0, 0),
        DamageKind::ReadError => (10, 0, 0),
        DamageKind::UnsyncedAfterFailedSync => (11, 0, 0),
        DamageKind::Unsupported => (12, 0, 0),
    }
}

fn reason_from(code: u32, a: u64, b: u64) -> Option<DamageKind> {
    Some(match code {
        1 => DamageKind::Checksum { stored: a as u32, computed: b as u32 },
        2 => DamageKind::Garbage,
        3 => DamageKind::Hole,
        4 => DamageKind::Misdirected { found_segment: SegmentId(a) },
        5 => DamageKind::SeqGap { expected: a, found: b },
        6 => DamageKind::ChainBreak { seq: a },
        7 => DamageKind::SegmentHeader,
        8 => DamageKind::MissingSegment,
        9 => DamageKind::SealMismatch,
        10 => DamageKind::ReadError,
        11 => DamageKind::UnsyncedAfterFailedSync,
        12 => DamageKind::Unsupported,
        _ => return None,
    })
}
