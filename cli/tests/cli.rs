//! The `mtlog-audit` binary end to end: outputs (insta snapshots), exit codes, and bad input
//! that must give a clear error and a non-zero exit, never a panic.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use mtlog_audit::io::RealDisk;
use mtlog_audit::{Level, Options, Sink};
use mtlog_audit_sim::{CountingEntropy, TickClock};

/// A log of 12 events with fixed ids and timestamps.
fn make_log(dir: &Path) {
    let sink = Sink::open_with(
        Options::new(dir).segment_bytes(8 << 10),
        Arc::new(RealDisk),
        Arc::new(TickClock::new(1_795_000_000_000_000_000)),
        Arc::new(CountingEntropy::new()),
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

#[cfg(not(feature = "parquet"))]
#[test]
fn parquet_export_without_the_feature_is_a_usage_error_that_says_how_to_build_it() {
    let (tmp, dir) = log();
    let file = tmp.path().join("all.parquet");
    let args = ["export", "--wal", dir.to_str().unwrap(), "--format", "parquet", "--output"];
    let out = run(&[&args[..], &[file.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out, tmp.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("built without the `parquet` feature"), "{stderr}");
    assert!(stderr.contains("cargo install --path cli --features parquet"), "{stderr}");
    assert!(stderr.contains("cargo run -p mtlog-audit-cli --features parquet --"), "{stderr}");
    assert!(!file.exists(), "a refused export must not create its output");
    // With --json the same error is one JSON object on stdout, with the same exit code.
    let out = run(&[&args[..], &[file.to_str().unwrap(), "--json"]].concat());
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("--features parquet"), "{v}");
}

/// One exported event, as the checks below compare it across formats.
#[cfg(feature = "parquet")]
#[derive(Debug, PartialEq)]
struct Row {
    seq: u64,
    timestamp_nanos: i64,
    level: String,
    message: String,
    template: String,
    event_id: String,
    chain_hash: String,
    clock_adjusted: bool,
    properties: serde_json::Value,
}

/// The rows of a JSON lines export: CLEF fields inside, `@l` absent for Information.
#[cfg(feature = "parquet")]
fn jsonl_rows(path: &Path) -> Vec<Row> {
    let field = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap().to_owned();
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let event = &v["event"];
            let properties: serde_json::Map<_, _> = event
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !k.starts_with('@'))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Row {
                seq: v["seq"].as_u64().unwrap(),
                timestamp_nanos: mtlog_audit::event::timestamp::parse_rfc3339(
                    event["@t"].as_str().unwrap(),
                )
                .unwrap(),
                level: event["@l"].as_str().unwrap_or("Information").to_owned(),
                message: field(event, "@m"),
                template: field(event, "@mt"),
                event_id: field(event, "@i"),
                chain_hash: field(&v, "chain_hash"),
                clock_adjusted: v["clock_adjusted"].as_bool().unwrap(),
                properties: serde_json::Value::Object(properties),
            }
        })
        .collect()
}

/// The rows of a Parquet export, read back with the parquet crate's arrow reader.
#[cfg(feature = "parquet")]
fn parquet_rows(path: &Path) -> Vec<Row> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{TimestampNanosecondType, UInt64Type};
    use arrow_schema::{DataType, TimeUnit};
    let file = std::fs::File::open(path).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        assert_eq!(
            column("timestamp").data_type(),
            &DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
        );
        let seq = column("seq");
        let seq = seq.as_primitive::<UInt64Type>();
        let timestamp = column("timestamp");
        let timestamp = timestamp.as_primitive::<TimestampNanosecondType>();
        let strings: Vec<_> =
            ["level", "message", "template", "event_id", "properties"].map(column).into();
        let strings: Vec<_> = strings.iter().map(|c| c.as_string::<i32>()).collect();
        let chain_hash = column("chain_hash");
        let chain_hash = chain_hash.as_fixed_size_binary();
        let clock_adjusted = column("clock_adjusted");
        let clock_adjusted = clock_adjusted.as_boolean();
        for i in 0..batch.num_rows() {
            let hash: [u8; 32] = chain_hash.value(i).try_into().unwrap();
            rows.push(Row {
                seq: seq.value(i),
                timestamp_nanos: timestamp.value(i),
                level: strings[0].value(i).to_owned(),
                message: strings[1].value(i).to_owned(),
                template: strings[2].value(i).to_owned(),
                event_id: strings[3].value(i).to_owned(),
                chain_hash: mtlog_audit::integrity::chain::to_hex(&hash),
                clock_adjusted: clock_adjusted.value(i),
                properties: serde_json::from_str(strings[4].value(i)).unwrap(),
            });
        }
    }
    rows
}

#[cfg(feature = "parquet")]
#[test]
fn parquet_export_holds_the_same_events_as_jsonl_with_and_without_a_filter() {
    // Goal: every column of the Parquet export says what the JSON lines export says, and the
    // filter, summary and exit code work as for the other formats. Method: export the same log
    // both ways under each filter and compare row by row.
    let (tmp, dir) = log();
    let d = dir.to_str().unwrap();
    let cases =
        [(None, 12), (Some("level >= ERROR"), 3), (Some("UserId = 41 and @m like '%p-4%'"), 1)];
    for (index, (filter, expected)) in cases.into_iter().enumerate() {
        let export = |format: &str| {
            let path = tmp.path().join(format!("export-{index}.{format}"));
            let mut args = vec!["export", "--wal", d, "--format", format, "--json", "--output"];
            args.push(path.to_str().unwrap());
            if let Some(f) = filter {
                args.extend(["--filter", f]);
            }
            let out = run(&args);
            assert_eq!(out.status.code(), Some(0), "{}", text(&out, tmp.path()));
            let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(summary["exported"], expected, "{filter:?}: {summary}");
            assert_eq!(summary["scanned"], 12);
            path
        };
        let jsonl = jsonl_rows(&export("jsonl"));
        let parquet = parquet_rows(&export("parquet"));
        assert_eq!(parquet.len(), expected, "{filter:?}");
        assert_eq!(parquet, jsonl, "{filter:?}");
    }
    // The seqs and levels of the filtered export, spelled out, so an export that dropped or
    // reordered rows in both formats alike still fails.
    let errors = parquet_rows(&tmp.path().join("export-1.parquet"));
    let seqs: Vec<u64> = errors.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![4, 8, 12]);
    assert!(errors.iter().all(|r| r.level == "Error"));
    assert_eq!(errors[0].properties, serde_json::json!({ "PaymentId": "p-3", "UserId": 40 }));
    // The fixture's clock ticks 1 ms a reading, two readings an event (the event's own stamp,
    // then the record's as it joins the queue): seq 4's own timestamp is the 7th reading.
    assert_eq!(errors[0].timestamp_nanos, 1_795_000_000_006_000_000);
    // The text summary, as for the other formats.
    let file = tmp.path().join("text.parquet");
    let out =
        run(&["export", "--wal", d, "--format", "parquet", "--output", file.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("exported 12 of 12 events to {}", file.display())
    );
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
    // The aggressive output holds 11 events plus one gap record and one record per finding
    // (the checksum and the seal it breaks), and verifies.
    let recovered = mtlog_audit::Reader::open(&out_a).unwrap();
    let events: Vec<_> = recovered.replay(1..=u64::MAX).unwrap().map(Result::unwrap).collect();
    assert_eq!(events.len(), 14);
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
    // testdata/corrupt/ holds deliberately damaged logs (see its README). Every command that
    // reads a log, given each of them, must exit with a documented code and no panic.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/corrupt");
    let entries = std::fs::read_dir(&root).expect("testdata/corrupt/ is part of the repository");
    let out_dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let wal = path.to_str().unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let exported = out_dir.path().join(format!("{name}.jsonl"));
        let recovered = out_dir.path().join(format!("{name}-recovered"));
        let bundle = out_dir.path().join(format!("{name}.bundle.json"));
        let commands: [Vec<&str>; 9] = [
            vec!["verify", "--wal", wal],
            vec!["stats", "--wal", wal],
            vec!["replay", "--wal", wal],
            vec!["replay", "--wal", wal, "--output", "clef", "--seq", "1..3"],
            vec!["export", "--wal", wal, "--format", "csv", "--output", exported.to_str().unwrap()],
            vec!["recover", "--input", wal, "--output", recovered.to_str().unwrap()],
            vec!["prove", "--wal", wal, "--seq", "1"],
            vec!["bundle", "--wal", wal, "--seq", "1..2", "--output", bundle.to_str().unwrap()],
            vec!["monitor", "--wal", wal, "--interval-ms", "10", "--max-seconds", "0"],
        ];
        for args in &commands {
            let out = run(args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
            assert!(
                matches!(out.status.code(), Some(0 | 1 | 3 | 4 | 5 | 6)),
                "{args:?}: exit {:?}: {stderr}",
                out.status.code()
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixtures under {}", root.display());
}

// ---------------------------------------------------------------------------------------------
// Tamper evidence: keygen, verify with checkpoints, prove, bundles
// ---------------------------------------------------------------------------------------------

const SIGNER_SEED: [u8; 32] = [7; 32];

fn signer() -> mtlog_audit::integrity::note::Signer {
    mtlog_audit::integrity::note::Signer::from_seed("audit.example/cli", SIGNER_SEED).unwrap()
}

fn vkey() -> String {
    signer().verifier().to_vkey()
}

/// A sealed log of 20 events over several segments, checkpoints every 5 events and on seal and
/// close, with copies in `external`.
fn signed_log() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let external = tmp.path().join("external");
    let sink = Sink::open_with(
        Options::new(&dir)
            .segment_bytes(4 << 10)
            .signer(signer())
            .checkpoint_every_events(Some(5))
            .checkpoint_dir(&external),
        Arc::new(RealDisk),
        Arc::new(TickClock::new(1_795_000_000_000_000_000)),
        Arc::new(CountingEntropy::new()),
    )
    .unwrap();
    for i in 0..20u64 {
        sink.event(Level::Information, "Payment {PaymentId} by {UserId}")
            .with("PaymentId", format!("p-{i}"))
            .with("UserId", 40 + i % 3)
            .emit()
            .unwrap();
    }
    sink.close().unwrap();
    (tmp, dir, external)
}

#[test]
fn keygen_writes_a_private_key_readable_only_by_its_owner_and_a_vkey() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("audit");
    let out = run(&["keygen", "--name", "audit.example/log", "--out", prefix.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out, tmp.path()));
    let key = tmp.path().join("audit.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let signer = mtlog_audit::integrity::keys::signer_from_file(&RealDisk, &key).unwrap();
    let vkey = std::fs::read_to_string(tmp.path().join("audit.vkey")).unwrap();
    assert_eq!(vkey.trim(), signer.verifier().to_vkey());
    assert!(String::from_utf8_lossy(&out.stdout).contains(vkey.trim()));
    // Never overwrites a key.
    let again = run(&["keygen", "--name", "x", "--out", prefix.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(std::fs::read_to_string(tmp.path().join("audit.vkey")).unwrap(), vkey);
}

#[test]
fn verify_reports_a_log_with_its_checkpoints() {
    let (tmp, dir, external) = signed_log();
    let d = dir.to_str().unwrap();
    let ext = external.join("checkpoint-00000000000000000020.note");
    let out = run(&["verify", "--wal", d, "--key", &vkey(), "--checkpoint", ext.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("verify_checkpoints", text(&out, tmp.path()));
    // Without a key the roots are still checked; the output says signatures were not.
    let out = run(&["verify", "--wal", d]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("signatures not checked"));
    let out = run(&["verify", "--wal", d, "--key", &vkey(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "valid");
    assert_eq!(v["tree_size"], 20);
}

#[test]
fn verify_exit_codes_name_tampering_truncation_and_unknown_keys() {
    let (tmp, dir, external) = signed_log();
    let d = dir.to_str().unwrap();
    let key = vkey();
    // Unknown key: unverifiable (6), not tampered.
    let stranger =
        mtlog_audit::integrity::note::Signer::from_seed("audit.example/cli", [8; 32]).unwrap();
    let out = run(&["verify", "--wal", d, "--key", &stranger.verifier().to_vkey()]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out, tmp.path()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("UNVERIFIABLE"));
    // A key that is not a key: input error (3).
    assert_eq!(run(&["verify", "--wal", d, "--key", "nonsense"]).status.code(), Some(3));

    // Truncation: the last segments and the checkpoints that would give it away are removed.
    let truncated = tmp.path().join("truncated");
    copy_dir(&dir, &truncated);
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&truncated)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    segs.sort();
    for s in &segs[1..] {
        std::fs::remove_file(s).unwrap();
    }
    std::fs::remove_dir_all(truncated.join("checkpoints")).unwrap();
    let t = truncated.to_str().unwrap();
    // The tiles left in merkle/ were written for the longer log: evidence of truncation (5).
    assert_eq!(run(&["verify", "--wal", t, "--key", &key]).status.code(), Some(5));
    let ext = external.join("checkpoint-00000000000000000020.note");
    let out = run(&["verify", "--wal", t, "--key", &key, "--checkpoint", ext.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out, tmp.path()));
    insta::assert_snapshot!("verify_truncated", text(&out, tmp.path()));

    // An altered checkpoint: tampered (4).
    let cp = dir.join("checkpoints/checkpoint-00000000000000000010.note");
    let note = std::fs::read_to_string(&cp).unwrap();
    std::fs::write(&cp, note.replacen("\n10\n", "\n11\n", 1)).unwrap();
    let out = run(&["verify", "--wal", d, "--key", &key]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out, tmp.path()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("INVALID signature"));
}

fn copy_dir(from: &Path, to: &Path) {
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

#[test]
fn every_single_byte_flip_of_every_segment_makes_verify_fail_with_its_location() {
    // Goal: the CLI, not only the library, reports each flip with the damaged segment. Method:
    // exhaustive over the small signed log, four workers each on their own copy.
    let (tmp, dir, _) = signed_log();
    let key = vkey();
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    segs.sort();
    let mut jobs: Vec<(String, usize)> = Vec::new();
    for s in &segs {
        let name = s.file_name().unwrap().to_str().unwrap().to_owned();
        for offset in 0..std::fs::metadata(s).unwrap().len() as usize {
            jobs.push((name.clone(), offset));
        }
    }
    let workers = 4;
    std::thread::scope(|scope| {
        for w in 0..workers {
            let copy = tmp.path().join(format!("worker-{w}"));
            copy_dir(&dir, &copy);
            let (jobs, key) = (&jobs, &key);
            scope.spawn(move || {
                for (name, offset) in jobs.iter().skip(w).step_by(workers) {
                    let path = copy.join(name);
                    let original = std::fs::read(&path).unwrap();
                    let mut bytes = original.clone();
                    bytes[*offset] ^= 0xff;
                    std::fs::write(&path, &bytes).unwrap();
                    let out = run(&["verify", "--wal", copy.to_str().unwrap(), "--key", key]);
                    std::fs::write(&path, &original).unwrap();
                    let stdout = String::from_utf8_lossy(&out.stdout);
                    assert_eq!(out.status.code(), Some(1), "{name} byte {offset}: {stdout}");
                    let segment: u64 = name.trim_end_matches(".wal").parse().unwrap();
                    let located = stdout.lines().any(|l| {
                        l.trim_start().starts_with(&format!("segment {segment} offset "))
                            && l.split_whitespace()
                                .nth(3)
                                .and_then(|o| o.trim_end_matches(':').parse::<usize>().ok())
                                .is_some_and(|o| o <= *offset)
                    });
                    assert!(located, "{name} byte {offset}: {stdout}");
                }
            });
        }
    });
}

#[test]
fn prove_prints_proofs_that_verify_against_the_checkpoint() {
    let (tmp, dir, _) = signed_log();
    let d = dir.to_str().unwrap();
    let out = run(&["prove", "--wal", d, "--seq", "7", "--tree-size", "10"]);
    insta::assert_snapshot!("prove_text", text(&out, tmp.path()));
    let out = run(&["prove", "--wal", d, "--seq", "7", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["tree_size"], 20, "the newest checkpoint's size by default");
    let hex = |s: &serde_json::Value| {
        mtlog_audit::integrity::bundle::from_hex(s.as_str().unwrap()).unwrap()
    };
    let proof: Vec<[u8; 32]> = v["proof"].as_array().unwrap().iter().map(hex).collect();
    let note = std::fs::read(dir.join("checkpoints/latest")).unwrap();
    let (checkpoint, _) =
        mtlog_audit::integrity::checkpoint::Checkpoint::open_note(&note, &[signer().verifier()])
            .unwrap();
    mtlog_audit::integrity::merkle::verify_inclusion(
        &hex(&v["leaf_hash"]),
        6,
        20,
        &proof,
        &checkpoint.root(),
    )
    .unwrap();
    let out = run(&["prove", "--wal", d, "--old-size", "5", "--tree-size", "20", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["new_root"].as_str().unwrap(),
        mtlog_audit::integrity::chain::to_hex(&checkpoint.root())
    );
    assert_eq!(run(&["prove", "--wal", d, "--seq", "21"]).status.code(), Some(3));
    assert_eq!(run(&["prove", "--wal", d]).status.code(), Some(3));
}

#[test]
fn bundles_verify_offline_and_a_dropped_entry_is_tampering() {
    let (tmp, dir, _) = signed_log();
    let file = tmp.path().join("bundle.json");
    let out = run(&[
        "bundle",
        "--wal",
        dir.to_str().unwrap(),
        "--seq",
        "3..8",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out, tmp.path()));
    let f = file.to_str().unwrap();
    let out = run(&["verify-bundle", "--bundle", f, "--key", &vkey()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out, tmp.path()));
    insta::assert_snapshot!("verify_bundle", text(&out, tmp.path()));
    let mut bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    bundle["entries"].as_array_mut().unwrap().remove(1);
    std::fs::write(&file, bundle.to_string()).unwrap();
    let out = run(&["verify-bundle", "--bundle", f, "--key", &vkey()]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out, tmp.path()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("dropped"));
}

#[test]
fn torture_runs_the_harness_and_its_json_says_whether_it_passed() {
    // The harness itself is tested in torture/; here: the subcommand reaches it, passes its
    // arguments through, and keeps its exit codes (0 pass, 2 usage error).
    let out = run(&["torture", "--seeds", "3", "--jobs", "1", "--no-report", "--no-coverage-gate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("verdict: PASS (3 runs, 0 failing"), "{stdout}");
    let out = run(&["--json", "torture", "--seeds", "2", "--jobs", "1", "--no-report"]);
    let line = String::from_utf8_lossy(&out.stdout);
    let json: serde_json::Value =
        serde_json::from_str(line.lines().last().unwrap_or_default()).unwrap();
    assert_eq!(json["passed"], true, "{line}");
    assert_eq!(json["report"], serde_json::Value::Null, "--no-report writes none: {line}");
    assert_eq!(out.status.code(), Some(0));
    let out = run(&["torture", "--scenario", "NetworkPartition"]);
    assert_eq!(out.status.code(), Some(2), "a scenario not yet available is a usage error");
    let out = run(&["torture", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
}
