//! Crash safety of checkpoints: after a power loss at any point of the write path, no signed
//! checkpoint points past the log, every checkpoint's root is the recovered log's root at its
//! size, and the log reopens and keeps signing.
//!
//! The disk is the simulator's `SimDisk`, the one the torture harness runs under: it keeps per
//! file the bytes written and the bytes synced, and per directory the entries created and the
//! entries synced (directories too). At a chosen mutating operation the process dies (that
//! operation and every later one fail); then the power fails, and the disk keeps what was synced
//! plus a seeded share of the rest (kept, torn or reordered writes, kept directory operations).
//! The run is repeated for every crash point.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mtlog_audit::integrity::audit::AuditVerdict;
use mtlog_audit::integrity::checkpoint::Checkpoint;
use mtlog_audit::integrity::note::Signer;
use mtlog_audit::io::Disk;
use mtlog_audit::{Level, Options, Reader, Sink};
use mtlog_audit_sim::{CrashKind, FaultConfig, Sim, SimClock, SimDisk, SimEntropy};

/// What a power loss keeps of unsynced state: every case the simulator knows, often.
fn power_loss() -> FaultConfig {
    FaultConfig {
        power_loss_keep_write: 0.5,
        power_loss_torn_write: 0.5,
        power_loss_reorder: 0.3,
        power_loss_keep_dir_ops: 0.5,
        ..FaultConfig::none()
    }
}

/// A fresh simulated machine for crash point `crash_at` (its seed, so each point tears
/// differently), with a durable `/audit`.
fn machine(crash_at: u64) -> Sim {
    let sim = Sim::new(0xc4ec_0000 + crash_at, power_loss());
    let disk = sim.disk();
    disk.create_dir_all(Path::new("/audit")).expect("mkdir");
    disk.sync_dir(Path::new("/")).expect("fsync /");
    sim
}

fn signer() -> Signer {
    Signer::from_seed("audit.example/crash", [3; 32]).unwrap()
}

fn sink(sim: &Sim, dir: &Path) -> Result<Sink<SimDisk, SimClock, SimEntropy>, mtlog_audit::Error> {
    Sink::open_with(
        Options::new(dir).segment_bytes(4 << 10).signer(signer()).checkpoint_every_events(Some(3)),
        Arc::new(sim.disk()),
        Arc::new(sim.clock()),
        Arc::new(sim.entropy()),
    )
}

/// Emits up to 30 events, stopping at the first error (the power went).
fn write_until_power_fails(sim: &Sim, dir: &Path) {
    let Ok(sink) = sink(sim, dir) else { return };
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
    let dir = PathBuf::from("/audit/log");
    let full = machine(0);
    let before = full.disk().stats().mutating_ops;
    write_until_power_fails(&full, &dir);
    let total = full.disk().stats().mutating_ops - before;
    assert!(total > 50, "{total}");
    let keys = [signer().verifier()];
    let mut checked = 0;
    for crash_at in 0..=total {
        let sim = machine(crash_at);
        let disk = sim.disk();
        disk.arm_crash_after(crash_at);
        write_until_power_fails(&sim, &dir);
        disk.crash(CrashKind::PowerLoss);
        // A crash at the first operations leaves no log directory (the simulator has one only
        // once its entry is durable): nothing to read, only the reopen below.
        let reader = match disk.exists(&dir).unwrap() {
            true => Some(Reader::open_with(Arc::new(disk.clone()), &dir, false))
                .map(|r| r.unwrap_or_else(|e| panic!("crash at op {crash_at}: {e}"))),
            false => None,
        };
        for file in reader.iter().flat_map(|r| r.checkpoints().unwrap()) {
            let reader = reader.as_ref().expect("a checkpoint is read through a reader");
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
        // No audit before the reopen: the power loss may have kept a torn, unsynced tail,
        // which the audit rightly calls damage until recovery cuts it.
        // The log reopens (the cached Merkle state is used or rebuilt) and keeps signing.
        let reopened = sink(&sim, &dir).unwrap_or_else(|e| panic!("crash at op {crash_at}: {e}"));
        reopened.event(Level::Information, "After").emit().unwrap();
        reopened.close().unwrap();
        drop(reopened);
        let reader = Reader::open_with(Arc::new(disk.clone()), &dir, false).unwrap();
        let report = reader.audit(&keys, Vec::new()).unwrap();
        assert_eq!(report.verdict(), AuditVerdict::Valid, "crash at op {crash_at}, reopened");
    }
    assert!(checked > total, "{checked} checkpoints checked over {total} crash points");
}
