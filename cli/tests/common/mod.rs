//! What the end-to-end test files share: deterministic logs, running the binary, copying.

#![allow(clippy::disallowed_methods, clippy::disallowed_types, dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use mtlog_audit::integrity::note::Signer;
use mtlog_audit::io::RealDisk;
use mtlog_audit::{Level, Options, Sink};
use mtlog_audit_sim::{CountingEntropy, TickClock};

/// Writes `events` events into a new log at `dir`; signed, with a checkpoint every 5 events
/// and on close, when `signer` is given.
pub fn make_log(dir: &Path, events: u64, signer: Option<Signer>) {
    let mut options = Options::new(dir).segment_bytes(4 << 10);
    if let Some(signer) = signer {
        options = options.signer(signer).checkpoint_every_events(Some(5));
    }
    let sink = Sink::open_with(
        options,
        Arc::new(RealDisk),
        Arc::new(TickClock::new(1_795_000_000_000_000_000)),
        Arc::new(CountingEntropy::new()),
    )
    .unwrap();
    for i in 0..events {
        let level = if i % 4 == 3 { Level::Error } else { Level::Information };
        sink.event(level, "Payment {PaymentId} by {UserId}")
            .with("PaymentId", format!("p-{i}"))
            .with("UserId", 40 + i % 3)
            .emit()
            .unwrap();
    }
    sink.close().unwrap();
}

/// The signing key of the signed logs.
pub fn signer() -> Signer {
    Signer::from_seed("audit.example/cli", [7; 32]).unwrap()
}

/// Its verifier key text.
pub fn vkey() -> String {
    signer().verifier().to_vkey()
}

/// A temporary directory holding `log/`: 20 events over several segments, signed.
pub fn signed_log() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    make_log(&dir, 20, Some(signer()));
    (tmp, dir)
}

/// The first segment file of a log.
pub fn first_segment(dir: &Path) -> PathBuf {
    dir.join("00000000000000000001.wal")
}

/// A copy of `dir` with one bit flipped inside the first record's body: verify exits 1.
pub fn damaged_copy(dir: &Path, to: &Path) {
    copy_dir(dir, to);
    let seg = first_segment(to);
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[64 + 100] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
}

pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mtlog-audit"))
}

pub fn run(args: &[&str]) -> Output {
    binary().args(args).output().unwrap()
}

/// The exit code, stdout and stderr, for assertion messages.
pub fn shown(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes, to show a command left a directory as it was.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                files.push((path, bytes));
            }
        }
    }
    files.sort();
    files
}
