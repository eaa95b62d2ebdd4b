//! Opens a sink in `./audit-data`, emits 1,000 events from 8 threads, closes, reopens, replays,
//! verifies, and prints a summary. Checkpoints are signed with a key kept in `./audit-data-keys/`
//! (generated on first run); check them with
//! `mtlog-audit verify --wal ./audit-data --key ./audit-data-keys/basic.vkey`.
//!
//! Run: `cargo run --release -p mtlog-audit --example basic`

// An example program: it may spawn threads, read the clock and write its key files directly.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use mtlog_audit::integrity::keys;
use mtlog_audit::integrity::note::Signer;
use mtlog_audit::io::{Entropy, OsEntropy, RealDisk};
use mtlog_audit::{Level, Options, Reader, Sink};

const THREADS: u64 = 8;
const PER_THREAD: u64 = 125;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new("./audit-data");
    let (signer, vkey_path) = signing_key()?;
    let sink = Sink::open(
        Options::new(dir)
            .segment_bytes(4 << 20)
            .signer(signer.clone())
            .checkpoint_every_events(Some(250)),
    )?;
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
    let audit = reader.audit(&[signer.verifier()], Vec::new())?;
    println!("log directory      {}", dir.display());
    println!("events emitted     {} from {THREADS} threads in {elapsed:?}", THREADS * PER_THREAD);
    println!("fdatasync batches  {}", stats.batches);
    println!("events replayed    {replayed} (seqs {first}..)");
    println!("log total          {} events in {} segments", report.events, report.segments);
    println!("head chain hash    {}", mtlog_audit::integrity::chain::to_hex(&report.head_hash));
    println!("integrity          {}", if report.is_valid() { "valid" } else { "DAMAGED" });
    println!(
        "checkpoints        {} signed, newest covers {} events: {}",
        audit.checkpoints.len(),
        audit.checkpoints.last().and_then(|c| c.checkpoint.as_ref()).map_or(0, |c| c.size()),
        audit.verdict()
    );
    println!("verifier key       {}", vkey_path.display());
    println!(
        "check it with      mtlog-audit verify --wal {} --key {}",
        dir.display(),
        vkey_path.display()
    );
    let valid = audit.verdict() == mtlog_audit::integrity::audit::AuditVerdict::Valid;
    if replayed != THREADS * PER_THREAD || !report.is_valid() || !valid {
        return Err("replay or verification failed".into());
    }
    Ok(())
}

/// The example's checkpoint signing key: `./audit-data-keys/basic.key` (made on first run, as
/// `mtlog-audit keygen --name mtlog-audit.example/basic --out ./audit-data-keys/basic` would) and
/// its verifier key `./audit-data-keys/basic.vkey`.
fn signing_key() -> Result<(Signer, std::path::PathBuf), Box<dyn std::error::Error>> {
    let keys_dir = std::path::Path::new("./audit-data-keys");
    let (key_path, vkey_path) = (keys_dir.join("basic.key"), keys_dir.join("basic.vkey"));
    if !key_path.exists() {
        let signer = Signer::generate("mtlog-audit.example/basic", &mut |b| OsEntropy.fill(b))?;
        std::fs::create_dir_all(keys_dir)?;
        write_private(&key_path, &format!("{}\n", signer.private_key_text()))?;
        std::fs::write(&vkey_path, format!("{}\n", signer.verifier().to_vkey()))?;
    }
    Ok((keys::signer_from_file(&RealDisk, &key_path)?, vkey_path))
}

#[allow(clippy::disallowed_types)] // Only the owner may read a private key: mode 0600.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
