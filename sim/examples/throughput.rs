//! Measures simulator throughput on a T1-like scenario: a log directory, one segment, 50-500
//! appends each synced (an ack per record), a power loss, then a recovery that lists the
//! directory and reads the segment back. Prints scenarios per second on one core.
//!
//! `cargo run --release -p mtlog-audit-sim --example throughput [scenarios] [quiet|swarm]`

use std::path::Path;

use mtlog_audit::io::{read_exact_at, write_all_at, Disk, DiskFile, OpenMode};
use mtlog_audit_sim::{CrashKind, FaultConfig, Rng, Sim};

fn scenario(seed: u64, swarm: bool) -> u64 {
    let mut rng = Rng::new(seed);
    let mut faults = if swarm { FaultConfig::swarm(&mut rng) } else { FaultConfig::none() };
    faults.capacity_bytes = None;
    let sim = Sim::new(seed, faults);
    let disk = sim.disk();
    let dir = Path::new("/log");
    let segment = Path::new("/log/00000001.seg");
    let _ = disk.create_dir_all(dir);
    let _ = disk.sync_dir(Path::new("/"));
    if let Ok(file) = disk.open(segment, OpenMode::CreateNew) {
        let _ = disk.sync_dir(dir);
        let appends = rng.range_inclusive(50, 500);
        let mut record = [0u8; 200];
        let mut offset = 0u64;
        for i in 0..appends {
            let len = rng.range_inclusive(64, 200) as usize;
            record[..8].copy_from_slice(&i.to_le_bytes());
            if write_all_at(&file, &record[..len], offset).is_err() || file.sync_data().is_err() {
                break;
            }
            offset += len as u64;
        }
    }
    disk.crash(CrashKind::PowerLoss);
    // Recovery: list, open, read everything back in 4 KiB chunks.
    let mut checksum = 0u64;
    if let Ok(names) = disk.list(dir) {
        for name in names {
            let Ok(file) = disk.open(&dir.join(name), OpenMode::Read) else {
                continue;
            };
            let len = file.len().unwrap_or(0);
            let mut buf = [0u8; 4096];
            let mut at = 0;
            while at < len {
                let n = (len - at).min(4096) as usize;
                if read_exact_at(&file, &mut buf[..n], at).is_err() {
                    break;
                }
                checksum = checksum.wrapping_add(u64::from(buf[0]));
                at += n as u64;
            }
        }
    }
    sim.trace_hash() ^ checksum
}

#[allow(clippy::disallowed_methods)] // A benchmark measures wall time; it is not library code.
fn main() {
    let mut args = std::env::args().skip(1);
    let runs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let swarm = args.next().as_deref() != Some("quiet");
    let started = std::time::Instant::now();
    let mut folded = 0u64;
    for seed in 0..runs {
        folded ^= scenario(seed, swarm);
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{runs} scenarios ({}) in {seconds:.2} s: {:.0} scenarios/s/core (fold {folded:016x})",
        if swarm { "swarm faults" } else { "no faults" },
        runs as f64 / seconds
    );
}
