//! Opens a sink in `./audit-data`, emits 1,000 events from 8 threads, closes, reopens, replays,
//! verifies, and prints a summary.
//!
//! Run: `cargo run --release -p mtlog-audit --example basic`

#![allow(clippy::disallowed_methods)] // An example program: it may spawn threads and read the clock.

use std::time::Instant;

use mtlog_audit::{Level, Options, Reader, Sink};

const THREADS: u64 = 8;
const PER_THREAD: u64 = 125;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new("./audit-data");
    let sink = Sink::open(Options::new(dir).segment_bytes(4 << 20))?;
    let recovered = sink.recovery_report().clone();
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let sink = &sink;
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    sink.event(Level::Information, "User {UserId} accessed record {RecordId}")
                        .with("UserId", t)
                        .with("RecordId", format!("rec-{i}"))
                        .with("Audit", true)
                        .emit()
                        .expect("emit");
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let stats = sink.stats();
    sink.close()?;

    let reader = Reader::open(dir)?;
    let first = recovered.seq_next;
    let mut replayed = 0u64;
    for stored in reader.replay(first..=u64::MAX)? {
        let stored = stored?;
        assert!(stored.event.message.starts_with("User "));
        replayed += 1;
    }
    let report = reader.verify_integrity();
    println!("log directory      {}", dir.display());
    println!("events emitted     {} from {THREADS} threads in {elapsed:?}", THREADS * PER_THREAD);
    println!("fdatasync batches  {}", stats.batches);
    println!("events replayed    {replayed} (seqs {first}..)");
    println!("log total          {} events in {} segments", report.events, report.segments);
    println!("head chain hash    {}", mtlog_audit::integrity::chain::to_hex(&report.head_hash));
    println!("integrity          {}", if report.is_valid() { "valid" } else { "DAMAGED" });
    if replayed != THREADS * PER_THREAD || !report.is_valid() {
        return Err("replay or verification failed".into());
    }
    Ok(())
}
