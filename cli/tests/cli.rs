//! The `mtlog-audit` binary end to end: outputs (insta snapshots), exit codes, and bad input
//! that must give a clear error and a non-zero exit, never a panic.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use mtlog_audit::io::{Clock, Entropy, RealDisk};
use mtlog_audit::{Level, Options, Sink};

/// A clock that ticks one millisecond per reading from a fixed instant.
struct TickClock(AtomicI64);
impl Clock for TickClock {
    fn wall_nanos(&self) -> i64 {
        self.0.fetch_add(1_000_000, Ordering::SeqCst)
    }
    fn monotonic_nanos(&self) -> u64 {
        0
    }
}

/// Deterministic "randomness", so log ids, event ids and hashes are the same every run.
struct CountingEntropy(AtomicU64);
impl Entropy for CountingEntropy {
    fn fill(&self, buf: &mut [u8]) {
        for b in buf {
            *b = self.0.fetch_add(1, Ordering::SeqCst) as u8;
        }
    }
}

/// A log of 12 events with fixed ids and timestamps.
fn make_log(dir: &Path) {
    let sink = Sink::open_with(
        Options::new(dir).segment_bytes(8 << 10),
        Arc::new(RealDisk),
        Arc::new(TickClock(AtomicI64::new(1_795_000_000_000_000_000))),
        Arc::new(CountingEntropy(AtomicU64::new(0))),
    )
    .unwrap();
    for i in 0..12u64 {
        let level = if i % 4 == 3 { Level::Error } else { Level::Information };
        sink.event(level, "Payment {PaymentId} by {UserId}")
            .with("PaymentId", format!("p-{i}"))
            .with("UserId", 40 + i % 3)
            .emit()
            .unwrap();
    }
    sink.close().unwrap();
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtlog-audit")).args(args).output().unwrap()
}

fn text(out: &Output, dir: &Path) -> String {
    let s = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    s.replace(dir.to_str().unwrap(), "[DIR]")
}

fn log() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    make_log(&dir);
    (tmp, dir)
}

#[test]
fn verify_a_valid_log_in_text_and_json() {
    let (tmp, dir) = log();
    let d = dir.to_str().unwrap();
    insta::assert_snapshot!("verify_valid", text(&run(&["verify", "--wal", d]), tmp.path()));
    insta::assert_snapshot!(
        "verify_valid_json",
        text(&run(&["verify", "--wal", d, "--json"]), tmp.path())
    );
}

#[test]
fn verify_reports_a_flipped_bit_with_segment_offset_and_checksums_and_exits_1() {
    let (tmp, dir) = log();
    let seg = dir.join("00000000000000000001.wal");
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[64 + 100] ^= 0x01; // inside the first record's body
    std::fs::write(&seg, &bytes).unwrap();
    let out = run(&["verify", "--wal", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("verify_damaged", text(&out, tmp.path()));
}

#[test]
fn replay_by_seq_and_time_in_every_format() {
    let (tmp, dir) = log();
    let d = dir.to_str().unwrap();
    insta::assert_snapshot!(
        "replay_text",
        text(&run(&["replay", "--wal", d, "--seq", "2..4"]), tmp.path())
    );
    insta::assert_snapshot!(
        "replay_clef",
        text(&run(&["replay", "--wal", d, "--seq", "11..", "--output", "clef"]), tmp.path())
    );
    insta::assert_snapshot!(
        "replay_json_time",
        text(
            &run(&[
                "replay",
                "--wal",
                d,
                "--from",
                "2026-11-18T11:06:40.003Z",
                "--to",
                "2026-11-18T11:06:40.005Z",
                "--json",
            ]),
            tmp.path()
        )
    );
}

#[test]
fn export_with_a_filter_to_csv_and_jsonl() {
    let (tmp, dir) = log();
    let d = dir.to_str().unwrap();
    let csv = tmp.path().join("errors.csv");
    let out = run(&[
        "export",
        "--wal",
        d,
        "--format",
        "csv",
        "--filter",
        "level >= ERROR and UserId = 40",
        "--output",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out, tmp.path()));
    insta::assert_snapshot!("export_csv", std::fs::read_to_string(&csv).unwrap());
    let jsonl = tmp.path().join("all.jsonl");
    let out = run(&[
        "export",
        "--wal",
        d,
        "--format",
        "jsonl",
        "--output",
        jsonl.to_str().unwrap(),
        "--json",
    ]);
    insta::assert_snapshot!("export_jsonl_summary", text(&out, tmp.path()));
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap().lines().count(), 12);
}

#[test]
fn recover_conservative_stops_at_damage_and_aggressive_records_the_gap() {
    let (tmp, dir) = log();
    // Damage seq 3 (a durable record): find its offset with the library, then flip a byte.
    let reader = mtlog_audit::Reader::open(&dir).unwrap();
    let third = reader.replay(3..=3).unwrap().next().unwrap().unwrap();
    let seg = dir.join(format!("{:020}.wal", third.segment.0));
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[third.offset as usize + 110] ^= 0x40;
    std::fs::write(&seg, &bytes).unwrap();
    let before = std::fs::read(&seg).unwrap();

    let out_c = tmp.path().join("conservative");
    let out =
        run(&["recover", "--input", dir.to_str().unwrap(), "--output", out_c.to_str().unwrap()]);
    insta::assert_snapshot!("recover_conservative", text(&out, tmp.path()));
    let out_a = tmp.path().join("aggressive");
    let out = run(&[
        "recover",
        "--input",
        dir.to_str().unwrap(),
        "--output",
        out_a.to_str().unwrap(),
        "--mode",
        "aggressive",
    ]);
    insta::assert_snapshot!("recover_aggressive", text(&out, tmp.path()));
    // The input is never modified.
    assert_eq!(std::fs::read(&seg).unwrap(), before);
    // The aggressive output holds 11 events plus one gap record, and verifies.
    let recovered = mtlog_audit::Reader::open(&out_a).unwrap();
    let events: Vec<_> = recovered.replay(1..=u64::MAX).unwrap().map(Result::unwrap).collect();
    assert_eq!(events.len(), 12);
    assert!(events.iter().any(|e| e.event.message.contains("Recovery gap: seqs 3..=3")));
    assert!(recovered.verify_integrity().is_valid());
}

#[test]
fn stats_summarises_a_log() {
    let (tmp, dir) = log();
    insta::assert_snapshot!(
        "stats",
        text(&run(&["stats", "--wal", dir.to_str().unwrap()]), tmp.path())
    );
}

#[test]
fn nonsense_paths_and_arguments_get_a_clear_error_never_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"hello").unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec!["verify".into(), "--wal".into(), "/definitely/not/here".into()],
        vec!["verify".into(), "--wal".into(), file.display().to_string()],
        vec!["stats".into(), "--wal".into(), empty.display().to_string()],
        vec![
            "replay".into(),
            "--wal".into(),
            empty.display().to_string(),
            "--seq".into(),
            "9..1".into(),
        ],
        vec!["replay".into(), "--wal".into(), "/nope".into(), "--from".into(), "yesterday".into()],
        vec![
            "export".into(),
            "--wal".into(),
            "/nope".into(),
            "--format".into(),
            "csv".into(),
            "--output".into(),
            "/x".into(),
            "--filter".into(),
            "((".into(),
        ],
        vec!["bench".into(), "--duration".into(), "forever".into()],
        vec!["frobnicate".into()],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args);
        let code = out.status.code();
        assert!(matches!(code, Some(2) | Some(3)), "{args:?} exited {code:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        assert!(!stderr.trim().is_empty(), "{args:?} said nothing");
    }
}

#[test]
fn every_corrupt_fixture_gives_a_clear_outcome_never_a_panic() {
    // testdata/corrupt/ holds deliberately damaged logs (see its README). Every reading command,
    // given each of them, must exit with a documented code and no panic.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/corrupt");
    let Ok(entries) = std::fs::read_dir(&root) else { return };
    let mut checked = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        for cmd in ["verify", "stats", "replay"] {
            let out = run(&[cmd, "--wal", path.to_str().unwrap()]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{cmd} {}: {stderr}", path.display());
            assert!(matches!(out.status.code(), Some(0 | 1 | 3)), "{cmd} {}", path.display());
        }
        checked += 1;
    }
    assert!(checked == 0 || checked >= 5, "only {checked} fixtures");
}
