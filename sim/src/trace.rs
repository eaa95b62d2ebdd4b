//! `Trace`: a running hash over every simulated event, plus an optional text log of them.
//!
//! Two runs with the same seed, code and options must produce the same sequence of events; the
//! hash makes that cheap to check (I15), and the text log (one line per event) is what
//! `torture replay` prints so that `grep` and `diff` find the first divergence.
//!
//! Every event is hashed as fixed-width little-endian fields and chained: the running hash is
//! `xxh3_64_with_seed(event, previous)`, one short one-shot hash per event with no allocation
//! and no streaming buffer. Text lines are formatted only when the log is on.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io;
use std::path::Path;

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// What happened: the operation (or fault, or clock event) of one trace event.
///
/// The discriminant is hashed, so add new variants at the end: existing traces keep their hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
#[non_exhaustive]
pub enum Op {
    /// `Disk::open` in `Read` or `ReadWrite` mode.
    Open = 1,
    /// `Disk::open` in `CreateNew` mode.
    Create,
    /// `DiskFile::read_at`.
    Read,
    /// `DiskFile::write_at`.
    Write,
    /// `DiskFile::sync_data`.
    SyncData,
    /// `DiskFile::sync_all`.
    SyncAll,
    /// `DiskFile::set_len`.
    SetLen,
    /// `DiskFile::len`.
    Len,
    /// A `SimFile` was dropped.
    Close,
    /// `Disk::create_dir_all`.
    CreateDirAll,
    /// `Disk::list`.
    List,
    /// `Disk::exists`.
    Exists,
    /// `Disk::rename`.
    Rename,
    /// `Disk::remove`.
    Remove,
    /// `Disk::sync_dir`.
    SyncDir,
    /// `Disk::lock_dir`.
    LockDir,
    /// A `SimLock` was dropped.
    Unlock,
    /// The armed crash point was reached: this and every later operation fails.
    Died,
    /// `SimDisk::crash(CrashKind::Process)`.
    CrashProcess,
    /// `SimDisk::crash(CrashKind::PowerLoss)`.
    CrashPowerLoss,
    /// A fault fired; `data` holds the fault kind's code.
    Fault,
    /// A direct injection by the test or harness (`flip_bit`, `fail_reads`, ...).
    Inject,
    /// `SimClock::advance` (or time passing inside slow I/O).
    ClockAdvance,
    /// A wall-clock step.
    ClockStep,
    /// A timer was scheduled.
    TimerSchedule,
    /// A timer was cancelled.
    TimerCancel,
    /// A timer fired.
    TimerFire,
    /// `Entropy::fill`.
    Entropy,
    /// A note from the harness (`Sim::note`).
    Note,
}

/// One event, as fixed fields. Unused fields are 0.
#[derive(Clone, Copy, Debug)]
pub struct TraceEvent<'a> {
    /// What happened.
    pub op: Op,
    /// The inode id, timer id or other subject of the event.
    pub file: u64,
    /// A byte offset, or a time.
    pub offset: u64,
    /// A length in bytes, or a duration.
    pub len: u64,
    /// Extra data: the xxh3 of written bytes, a fault code, a mode.
    pub data: u64,
    /// The outcome: `>= 0` is success (often a count), `< 0` an error code (see [`error_code`]).
    pub result: i64,
    /// A path, for path-based operations.
    pub path: Option<&'a Path>,
    /// Free text (notes), hashed as bytes.
    pub text: Option<&'a str>,
}

impl<'a> TraceEvent<'a> {
    /// An event with every field but `op` empty.
    pub fn new(op: Op) -> TraceEvent<'a> {
        TraceEvent { op, file: 0, offset: 0, len: 0, data: 0, result: 0, path: None, text: None }
    }
}

/// A running hash over events, and an optional bounded text log of them.
#[derive(Clone)]
pub struct Trace {
    /// The running hash: each event is hashed with the previous value as seed.
    state: u64,
    events: u64,
    log: Option<TextLog>,
}

#[derive(Clone)]
struct TextLog {
    lines: VecDeque<String>,
    lines_max: usize,
    dropped: u64,
}

impl Default for Trace {
    fn default() -> Self {
        Trace::new()
    }
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace")
            .field("events", &self.events)
            .field("hash", &format_args!("{:016x}", self.hash()))
            .finish()
    }
}

impl Trace {
    /// An empty trace with the text log off.
    pub fn new() -> Trace {
        Trace { state: TRACE_SEED, events: 0, log: None }
    }

    /// Keeps the last `lines_max` events as text lines (older ones are counted, then dropped).
    /// Lines already recorded before this call are not reconstructed.
    pub fn enable_log(&mut self, lines_max: usize) {
        assert!(lines_max > 0, "a text log needs room for at least one line");
        self.log = Some(TextLog { lines: VecDeque::new(), lines_max, dropped: 0 });
    }

    /// Adds `event`, which happened at monotonic time `now_nanos`.
    pub fn record(&mut self, event: &TraceEvent<'_>, now_nanos: u64) {
        let mut fixed = [0u8; 57];
        fixed[0] = event.op as u8;
        fixed[1..9].copy_from_slice(&now_nanos.to_le_bytes());
        fixed[9..17].copy_from_slice(&event.file.to_le_bytes());
        fixed[17..25].copy_from_slice(&event.offset.to_le_bytes());
        fixed[25..33].copy_from_slice(&event.len.to_le_bytes());
        fixed[33..41].copy_from_slice(&event.data.to_le_bytes());
        fixed[41..49].copy_from_slice(&event.result.to_le_bytes());
        let path = event.path.map_or(&[][..], |p| p.as_os_str().as_encoded_bytes());
        let text = event.text.map_or(&[][..], str::as_bytes);
        fixed[49..53].copy_from_slice(&(path.len() as u32).to_le_bytes());
        fixed[53..57].copy_from_slice(&(text.len() as u32).to_le_bytes());
        self.state = xxh3_64_with_seed(&fixed, self.state);
        if !path.is_empty() {
            self.state = xxh3_64_with_seed(path, self.state);
        }
        if !text.is_empty() {
            self.state = xxh3_64_with_seed(text, self.state);
        }
        self.events += 1;
        if let Some(log) = &mut self.log {
            log.push(format_line(self.events, now_nanos, event));
        }
    }

    /// The hash of every event so far.
    pub fn hash(&self) -> u64 {
        self.state
    }

    /// How many events were recorded.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The retained text lines, oldest first (empty when the log is off).
    pub fn lines(&self) -> Vec<String> {
        self.log.as_ref().map_or_else(Vec::new, |log| log.lines.iter().cloned().collect())
    }

    /// How many text lines were dropped to respect the bound.
    pub fn dropped_lines(&self) -> u64 {
        self.log.as_ref().map_or(0, |log| log.dropped)
    }
}

impl TextLog {
    fn push(&mut self, line: String) {
        if self.lines.len() == self.lines_max {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }
}

fn format_line(index: u64, now_nanos: u64, event: &TraceEvent<'_>) -> String {
    let mut line = String::with_capacity(96);
    // Writing to a String cannot fail.
    let _ = write!(
        line,
        "{index:>7} t={now_nanos} {:?} f={} off={} len={} d={:016x} -> ",
        event.op, event.file, event.offset, event.len, event.data
    );
    if event.result >= 0 {
        let _ = write!(line, "ok({})", event.result);
    } else {
        let _ = write!(line, "err({})", error_name(event.result));
    }
    if let Some(path) = event.path {
        let _ = write!(line, " {}", path.display());
    }
    if let Some(text) = event.text {
        let _ = write!(line, " {text}");
    }
    line
}

/// The running hash of an empty trace.
const TRACE_SEED: u64 = 0x6d74_6c6f_672d_7369; // "mtlog-si"

/// The code for "the simulated process is gone" (armed crash reached, or a stale handle).
pub const CODE_GONE: i64 = -1000;
/// The code for an error the trace does not name.
pub const CODE_OTHER: i64 = -999;

/// The negative code recorded in a trace for `err`: `-errno` where one is known.
pub fn error_code(err: &io::Error) -> i64 {
    if let Some(errno) = err.raw_os_error() {
        return -i64::from(errno);
    }
    match err.kind() {
        io::ErrorKind::NotFound => -2,
        io::ErrorKind::WouldBlock => -11,
        io::ErrorKind::PermissionDenied => -13,
        io::ErrorKind::AlreadyExists => -17,
        io::ErrorKind::NotADirectory => -20,
        io::ErrorKind::IsADirectory => -21,
        io::ErrorKind::InvalidInput => -22,
        io::ErrorKind::StorageFull => -28,
        io::ErrorKind::Other => CODE_GONE,
        _ => CODE_OTHER,
    }
}

/// The trace code of an operation's result: `ok` for success, the error code otherwise.
pub(crate) fn result_code<T>(result: &io::Result<T>, ok: impl FnOnce(&T) -> i64) -> i64 {
    match result {
        Ok(value) => ok(value),
        Err(err) => error_code(err),
    }
}

fn error_name(code: i64) -> &'static str {
    match code {
        -2 => "ENOENT",
        -5 => "EIO",
        -9 => "EBADF",
        -11 => "EWOULDBLOCK",
        -13 => "EACCES",
        -17 => "EEXIST",
        -20 => "ENOTDIR",
        -21 => "EISDIR",
        -22 => "EINVAL",
        -28 => "ENOSPC",
        CODE_GONE => "GONE",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_every_field_and_on_order() {
        let mut base = TraceEvent::new(Op::Write);
        base.offset = 10;
        let hash_of = |events: &[TraceEvent<'_>]| {
            let mut trace = Trace::new();
            for e in events {
                trace.record(e, 5);
            }
            trace.hash()
        };
        let mut other = base;
        other.len = 1;
        let mut pathed = base;
        pathed.path = Some(Path::new("/a"));
        assert_eq!(hash_of(&[base, other]), hash_of(&[base, other]));
        assert_ne!(hash_of(&[base, other]), hash_of(&[other, base]));
        assert_ne!(hash_of(&[base]), hash_of(&[pathed]));
        assert_ne!(hash_of(&[base]), hash_of(&[other]));
    }

    #[test]
    fn text_log_keeps_the_last_lines_and_counts_the_dropped() {
        let mut trace = Trace::new();
        trace.enable_log(2);
        for i in 0..5 {
            let mut e = TraceEvent::new(Op::Read);
            e.offset = i;
            e.result = if i == 4 { -5 } else { 3 };
            trace.record(&e, i);
        }
        let lines = trace.lines();
        assert_eq!(lines.len(), 2);
        assert_eq!(trace.dropped_lines(), 3);
        assert!(lines[1].contains("off=4"), "{}", lines[1]);
        assert!(lines[1].ends_with("err(EIO)"), "{}", lines[1]);
    }
}
