//! The fault ledger: every fault the simulator injected, with where it hit and whether that place
//! held durable data, so the checker knows which outcome each fault requires (FAULT-MODEL.md,
//! constraint rule and invariants I5/I6).

use std::path::PathBuf;

/// One injected fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRecord {
    /// What was injected.
    pub kind: FaultKind,
    /// The file (or directory) it hit, by the name it had at the time; empty for clock faults.
    pub path: PathBuf,
    /// The first byte it affected (see [`FaultKind`] for kinds where it means something else).
    pub offset: u64,
    /// How many bytes it affected.
    pub len: u64,
    /// Whether the affected region held **durable** data: bytes a successful `sync_data` had
    /// made stable and no later unsynced write covered. A fault with `durable == true` must end
    /// in a reported corruption or read error (or a repair); one with `durable == false` may be
    /// absorbed as a torn tail.
    ///
    /// For faults riding on a write (lost and misdirected writes), this becomes `true` when a
    /// later `sync_data` returns `Ok` for that write: the log was told the data is durable.
    pub durable: bool,
    /// How many crashes had happened when it was injected (0 = first process).
    pub epoch: u64,
    /// The value of the mutating-operation counter when it was injected.
    pub op_index: u64,
}

/// The kinds of fault, by their FAULT-MODEL.md number.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// D1: a power loss found unsynced writes in `offset..offset+len`; some or all are gone.
    PowerLossUnsynced,
    /// D2: an unsynced write persisted torn at a power loss.
    TornWrite,
    /// D3: a file's unsynced writes persisted out of order at a power loss.
    Reordered,
    /// D3: a file's unsynced size persisted without all of its data (`offset` = the length).
    SizeWithoutData,
    /// D4: a power loss reverted `len` of a directory's unsynced entry operations, keeping the
    /// first `offset`. `path` is the directory.
    DirOpsReverted,
    /// D5: `sync_data`/`sync_all` returned `EIO`; the writes in `offset..offset+len` since the
    /// last good sync will not persist, although reads return them until a crash.
    SyncError,
    /// D5: `sync_dir` returned `EIO`; `path` is the directory.
    SyncDirError,
    /// D5: `write_at` returned `EIO`; a sector prefix of `len` bytes may have landed.
    WriteError,
    /// D6: bits flipped at rest in `offset..offset+len` (one sector, or the flipped byte).
    BitFlip,
    /// D7: reads of the sectors in `offset..offset+len` fail with `EIO` until rewritten.
    LatentSectorError,
    /// D8: the write meant for `offset..offset+len` lands at `landing_path`/`landing_offset`;
    /// the target keeps stale data. `landing_durable` tells whether the landing spot held
    /// durable data when it was overwritten (set when the write reaches the device).
    MisdirectedWrite {
        /// Where the data actually went.
        landing_path: PathBuf,
        /// The offset it went to.
        landing_offset: u64,
        /// Whether it overwrote durable data there.
        landing_durable: bool,
    },
    /// D9: the write is acked (and maybe synced) but never persists. Detect-only.
    LostWrite,
    /// D10: `ENOSPC` from a write or `set_len` growing the file to `offset + len`.
    StorageFull,
    /// D11: a read returned `len` bytes fewer than it could have.
    ShortRead,
    /// D11: a write took `len` bytes fewer than asked.
    ShortWrite,
    /// D12: an operation stalled for `len` nanoseconds (`offset` = monotonic time it began).
    SlowIo,
    /// D14: the file's never-written space reads as garbage instead of zeros.
    UninitialisedGarbage,
    /// C1: the wall clock stepped by `delta` nanoseconds (`offset` = monotonic time).
    WallClockStep {
        /// The step, forward (positive) or backward (negative).
        delta: i64,
    },
    /// C2: the wall clock runs `ppm` parts per million fast (or slow, if negative).
    WallClockDrift {
        /// The rate error.
        ppm: i64,
    },
    /// C3: a timer due at `offset` fired `len` nanoseconds late.
    TimerLate,
}

impl FaultKind {
    /// A stable small number per kind, used in the trace.
    pub fn code(&self) -> u64 {
        match self {
            FaultKind::PowerLossUnsynced => 1,
            FaultKind::TornWrite => 2,
            FaultKind::Reordered => 3,
            FaultKind::SizeWithoutData => 4,
            FaultKind::DirOpsReverted => 5,
            FaultKind::SyncError => 6,
            FaultKind::SyncDirError => 7,
            FaultKind::WriteError => 8,
            FaultKind::BitFlip => 9,
            FaultKind::LatentSectorError => 10,
            FaultKind::MisdirectedWrite { .. } => 11,
            FaultKind::LostWrite => 12,
            FaultKind::StorageFull => 13,
            FaultKind::ShortRead => 14,
            FaultKind::ShortWrite => 15,
            FaultKind::SlowIo => 16,
            FaultKind::UninitialisedGarbage => 17,
            FaultKind::WallClockStep { .. } => 18,
            FaultKind::WallClockDrift { .. } => 19,
            FaultKind::TimerLate => 20,
        }
    }

    /// The FAULT-MODEL.md identifier (`"D2"`, `"C1"`, ...), for coverage matrices.
    pub fn model_id(&self) -> &'static str {
        match self {
            FaultKind::PowerLossUnsynced => "D1",
            FaultKind::TornWrite => "D2",
            FaultKind::Reordered | FaultKind::SizeWithoutData => "D3",
            FaultKind::DirOpsReverted => "D4",
            FaultKind::SyncError | FaultKind::SyncDirError | FaultKind::WriteError => "D5",
            FaultKind::BitFlip => "D6",
            FaultKind::LatentSectorError => "D7",
            FaultKind::MisdirectedWrite { .. } => "D8",
            FaultKind::LostWrite => "D9",
            FaultKind::StorageFull => "D10",
            FaultKind::ShortRead | FaultKind::ShortWrite => "D11",
            FaultKind::SlowIo => "D12",
            FaultKind::UninitialisedGarbage => "D14",
            FaultKind::WallClockStep { .. } => "C1",
            FaultKind::WallClockDrift { .. } => "C2",
            FaultKind::TimerLate => "C3",
        }
    }
}
