//! # mtlog-audit-sim: a seeded, deterministic machine for crash-testing the audit log
//!
//! This crate implements the I/O seam of `mtlog-audit` (the [`Disk`](mtlog_audit::io::Disk),
//! [`Clock`](mtlog_audit::io::Clock) and [`Entropy`](mtlog_audit::io::Entropy) traits) with a
//! storage fault model, so the very same WAL code that runs on `RealDisk` can be driven through
//! millions of crash schedules. Its promise: **a seed determines everything**. The same seed,
//! code and [`FaultConfig`] give the same sequence of events, the same faults and the same trace
//! hash, on any machine.
//!
//! ```
//! use mtlog_audit::io::{write_all_at, Disk, DiskFile, OpenMode};
//! use mtlog_audit_sim::{CrashKind, FaultConfig, Sim};
//! use std::path::Path;
//!
//! let sim = Sim::new(7, FaultConfig::default());
//! let disk = sim.disk();                       // implements Disk; clone it freely
//! disk.create_dir_all(Path::new("/log")).unwrap();
//! let f = disk.open(Path::new("/log/seg-1"), OpenMode::CreateNew).unwrap();
//! write_all_at(&f, b"acked", 0).unwrap();
//! f.sync_data().unwrap();
//! write_all_at(&f, b"in flight", 5).unwrap(); // never synced
//!
//! // The file's directory entry was never synced: a power loss loses the whole file.
//! disk.crash(CrashKind::PowerLoss);
//! assert!(!disk.exists(Path::new("/log/seg-1")).unwrap());
//! assert!(f.len().is_err());                   // handles from before the crash are dead
//! ```
//!
//! ## The pieces
//!
//! - [`Sim`]: one simulated machine. It owns the one seeded state (behind one mutex, never
//!   contended: runs are single-threaded) and hands out [`SimDisk`], [`SimClock`] and
//!   [`SimEntropy`] handles that share it, so the trace interleaves disk, clock and harness
//!   events exactly as they happened.
//! - [`Rng`]: xoshiro256** seeded through SplitMix64, the **only** source of choices. Sub-streams
//!   are split by label ([`Rng::fork`]): the disk's operation faults, its crash outcomes, the
//!   clock and the entropy source each have their own, so adding a draw to one does not shift
//!   another. A fault whose probability is 0 draws nothing.
//! - [`Trace`]: a running xxh3-64 over every event (operation, file, offset, length, xxh3 of the
//!   bytes written, fault, result, simulated time), read with [`Sim::trace_hash`], plus an optional
//!   bounded one-line-per-event text log ([`Sim::enable_trace_log`]) for `torture replay`.
//! - [`FaultConfig`]: the seeded fault rates of a run (all 0 by default), drawn per seed by
//!   [`FaultConfig::swarm`] and printed by its `Display`.
//! - The **fault ledger** ([`Sim::ledger`]): every injected fault as a [`FaultRecord`] with its
//!   kind, file, offset, length and whether that region held durable data, so the checker knows
//!   whether the required outcome is "absorbed as a torn tail" or "reported as corruption".
//! - [`ScramblingDisk`]: wraps any `Disk` and XORs bytes at rest with a keystream, exposing code
//!   that bypasses the trait.
//!
//! ## The disk model
//!
//! Every file has two contents: the **cache** (what reads return: every completed write) and the
//! **durable** content (what survives a power loss), plus the list of **pending** writes and
//! `set_len`s since its last successful `sync_data`. Every directory likewise has current entries,
//! durable entries and the pending creates, renames and removes since its last `sync_dir`.
//! Content is sparse, in 4 KiB pages: never-written space (holes, growth by `set_len`) costs no
//! buffer. A sync copies only the pending bytes into durable pages.
//!
//! What persists, by event:
//! - `sync_data`/`sync_all` returning `Ok`: every pending write and `set_len` of the file, and
//!   its size (the two calls are not distinguished);
//! - `sync_dir` returning `Ok`: every pending entry operation of that directory (not the
//!   directory's own entry in its parent: that needs `sync_dir` of the parent);
//! - [`CrashKind::Process`] (kill -9): everything completed, synced or not: the page cache
//!   survives;
//! - [`CrashKind::PowerLoss`]: the durable state, plus a seeded part of the pending operations
//!   (below).
//!
//! After a crash every handle from before it fails with [`PROCESS_GONE`], locks are released,
//! and caches are reset to the durable content: bytes that a failed sync dropped, lost writes
//! and misdirected writes show their true (stale) content from then on. A directory whose own
//! entry was not durable vanishes with everything in it. Files no directory names any more are
//! freed.
//!
//! [`SimDisk::arm_crash_after`]`(n)` kills the process after `n` more mutating operations: every
//! operation from then on fails until [`SimDisk::crash`]. Enumerating `n` over a clean run's
//! [`DiskStats::mutating_ops`] crashes "at every I/O", including inside recovery (D13).
//!
//! ## The faults (FAULT-MODEL.md §4a)
//!
//! Each fault has a seeded rate in [`FaultConfig`] and, where a test needs one, a direct
//! deterministic injection method on [`SimDisk`]. Every firing is in the ledger.
//!
//! Each line: the fault, its [`FaultConfig`] knob(s), its direct injection ("rate 1.0" where
//! a test sets the knob to 1 instead).
//! - **D1** unsynced data lost at power loss. Always; `power_loss_keep_write` keeps some.
//!   [`SimDisk::crash`].
//! - **D2** torn write: a sector prefix, a sector subset, or a partial sector with garbage or
//!   zeros. `power_loss_torn_write`; rate 1.0.
//! - **D3** reordered persistence; the size persisting without the data. `power_loss_reorder`,
//!   `power_loss_size_without_data`; rate 1.0.
//! - **D4** unsynced creates, renames and removes revert (a seeded prefix per directory
//!   persists, in order). `power_loss_keep_dir_ops`; [`SimDisk::crash`].
//! - **D5** `EIO` on a file sync: the pending writes are dropped from what will persist but
//!   still read back until a crash, the next sync says `Ok`, and
//!   `Disk::synced_len_after_failure` reports the lowest offset the dropped writes touched (as
//!   `RealDisk` does: in a preallocated file the durable *length* covers the lost bytes) until
//!   the next crash. `EIO`
//!   on `sync_dir` (entries stay pending) or on `write_at` (a sector prefix may land).
//!   `sync_error`, `write_error`; [`SimDisk::fail_next_sync`], [`SimDisk::fail_next_write`].
//! - **D6** bit flips at rest, in cache and durable content alike. `bit_flip_at_crash`;
//!   [`SimDisk::flip_bit`].
//! - **D7** latent sector error: reads fail with `EIO`, across crashes, until a write covers
//!   the sector. `latent_sector_error_at_crash`; [`SimDisk::fail_reads`].
//! - **D8** misdirected write: lands elsewhere in the file or in another file, the target
//!   keeps stale data. `misdirected_write`; [`SimDisk::misdirect_next_write`].
//! - **D9** lost write: acked and synced, never persisted (detect-only). `lost_write`;
//!   [`SimDisk::lose_next_write`].
//! - **D10** `ENOSPC` past the capacity (a short write first), or transient. `capacity_bytes`,
//!   `storage_full`; [`SimDisk::set_capacity`], [`SimDisk::set_free_bytes`] ("99 % full").
//! - **D11** short reads and writes. `short_read`, `short_write`; rate 1.0.
//! - **D12** slow I/O: the operation advances the clock (log-uniform, heavy-tailed).
//!   `slow_io`, `slow_io_nanos_max`; [`SimClock::advance`].
//! - **D13** crash during recovery: [`SimDisk::arm_crash_after`].
//! - **D14** never-written space reads as garbage (written zeros stay zeros).
//!   `uninitialised_garbage`; [`SimDisk::set_uninitialised_garbage`].
//! - **C1** wall-clock steps, forward or backward. `clock_step`, `clock_step_nanos_max`;
//!   [`SimClock::step_wall`].
//! - **C2** wall-clock drift. `clock_drift_ppm_max`; [`SimClock::set_drift_ppm`].
//! - **C3** late timers. `timer_late`, `timer_late_nanos_max`; seen through
//!   [`SimClock::advance_to_next_timer`].
//! - **C4** monotonic time never goes back: asserted on every change.
//!
//! Modelling choices worth knowing:
//! - Torn writes damage only bytes of the torn write itself: older bytes sharing its sector keep
//!   their content. A single-copy log cannot survive losing already-durable bytes to a neighbour's
//!   tear, so that is out of model (FAULT-MODEL.md: inject only what the design claims to survive).
//! - `sync_data` also makes a shrinking `set_len` durable (as `fdatasync` does on ext4/xfs); the
//!   model does not punish using `sync_data` where the trait asks for `sync_all`.
//! - A rename between two directories becomes durable when the *target* directory is synced;
//!   until then a power loss keeps the old name.
//! - Lost and misdirected writes show only after a crash (the page cache holds the right bytes
//!   until then), and even a process crash exposes them: the ledger marks them detect-only.
//! - `lock_dir` creates `DIR/LOCK` like `RealDisk`, so `list` shows it.
//! - Paths are compared by components; `..` is not resolved. The roots `/` and `` (for relative
//!   paths) always exist.
//!
//! ## Adding a fault
//!
//! 1. Add a knob to [`FaultConfig`] (default 0, documented with its FAULT-MODEL.md number and
//!    what it is a probability *per*), and to its `Display` list and [`FaultConfig::swarm`].
//! 2. Add a [`FaultKind`] variant with a new `code()` and its `model_id()`.
//! 3. Draw it where it happens: in the operation (`disk/ops.rs`, using `rng_ops`) or at a crash
//!    (`disk/crash.rs`, using `rng_crash`). Draw *after* the existing draws of that operation so
//!    existing seeds keep their behaviour when the knob is 0, and only through
//!    [`Rng::chance`] so a zero rate draws nothing.
//! 4. Record every firing with `World::log_fault`, computing `durable` honestly (use
//!    `DiskState::region_durable`), so the checker demands the right outcome.
//! 5. If tests need it deterministically, add a direct injection method on [`SimDisk`] that sets
//!    a flag in the file's `Injections`, consumed by the same code path as the seeded draw.
//! 6. Add a unit test named as a sentence in `disk/tests.rs`, and a line to the list above.
//!
//! ## Speed
//!
//! The torture harness runs more than 10,000 scenarios per second per core. The hot paths
//! allocate nothing per operation where it can be avoided: pending bytes go into one reused
//! buffer per file, trace events are chained one-shot hashes of fixed-width fields, and text
//! lines are formatted only when the log is on. A crash copies no content: each file's cache
//! shares the durable pages until one of them next changes, so sealed segments that recovery
//! only reads are never copied. The fixed cost per operation is one uncontended mutex, one
//! short hash and, for writes, the hash of the bytes. `examples/throughput.rs` measures a T1-like
//! scenario (50-500 synced appends, a power loss, a full read-back): about 10,000-16,000
//! scenarios per second on one core of the development VM, for the simulator alone.

mod clock;
mod config;
mod disk;
mod entropy;
pub mod fixed;
mod ledger;
mod rng;
mod scramble;
mod trace;
pub mod wal_ops;
mod world;

pub use clock::{FiredTimer, SimClock, TimerId};
pub use config::FaultConfig;
pub use disk::{
    CrashKind, DiskStats, SimDisk, SimFile, SimLock, PAGE_BYTES, PROCESS_GONE, SECTOR_BYTES,
};
pub use entropy::SimEntropy;
pub use fixed::{CountingEntropy, TickClock};
pub use ledger::{FaultKind, FaultRecord};
pub use rng::Rng;
pub use scramble::{scramble, ScramblingDisk, ScramblingFile};
pub use trace::{error_code, Op, Trace, TraceEvent, CODE_GONE, CODE_OTHER};
pub use world::Sim;
