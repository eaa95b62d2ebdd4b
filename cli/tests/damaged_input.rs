//! `replay`, `export` and `recover` on damaged logs: nothing in the asked range is skipped
//! silently, every intact record is salvaged, and what `recover` writes into the recovered log
//! is true (gaps only for seqs missing, never inverted; every finding recorded).

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mtlog_audit::wal::format::{encode_record, parse_record, SegmentId, RECORD_BODY_HARD_MAX};
use mtlog_audit::wal::segment;
use mtlog_audit::{Level, Options, Reader, Sink, StoredEvent};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mtlog-audit")).args(args).output().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A closed log of `n` events `Event {N}` with N = seq, in segments of `segment_bytes`.
fn make_log(dir: &Path, n: u64, segment_bytes: u64) {
    let sink = Sink::open(Options::new(dir).segment_bytes(segment_bytes)).unwrap();
    for i in 1..=n {
        sink.event(Level::Information, "Event {N}").with("N", i).emit().unwrap();
    }
    sink.close().unwrap();
}

fn stored(dir: &Path, seq: u64) -> StoredEvent {
    Reader::open(dir).unwrap().replay(seq..=seq).unwrap().next().unwrap().unwrap()
}

fn seg_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(segment::file_name(SegmentId(id)))
}

fn flip(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

/// Recovers `input` aggressively into `output`; returns the run and the recovered messages.
fn recover_aggressive(input: &Path, output: &Path) -> (Output, Vec<String>) {
    let out = run(&[
        "recover",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--mode",
        "aggressive",
    ]);
    let messages = match Reader::open(output) {
        Ok(r) => r.replay(1..=u64::MAX).unwrap().map(|e| e.unwrap().event.message).collect(),
        Err(_) => Vec::new(),
    };
    (out, messages)
}

/// The `N` of every recovered `Event {N}`, in order.
fn recovered_seqs(messages: &[String]) -> Vec<u64> {
    messages.iter().filter_map(|m| m.strip_prefix("Event ")?.parse().ok()).collect()
}

/// The gap notes in the recovered log, as (from, to).
fn gap_notes(messages: &[String]) -> Vec<(u64, u64)> {
    messages
        .iter()
        .filter_map(|m| {
            let rest = m.strip_prefix("Recovery gap: seqs ")?;
            let (range, _) = rest.split_once(" of ")?;
            let (a, b) = range.split_once("..=")?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect()
}

#[test]
fn replay_and_export_of_a_damaged_log_exit_1_naming_where_the_rest_is_missing() {
    // Regression (issue #19, defect 5): replay and export of a log damaged at seq 5 printed
    // seqs 1..=4 and exited 0, as if the log ended there.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    make_log(&dir, 10, 1 << 20);
    let fifth = stored(&dir, 5);
    flip(&seg_path(&dir, 1), fifth.offset as usize + 110);
    let d = dir.to_str().unwrap();
    let out = run(&["replay", "--wal", d]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 4);
    let place = format!("segment 1 offset {}", fifth.offset);
    assert!(stderr(&out).contains(&place) && stderr(&out).contains("5..="), "{}", stderr(&out));
    // A range inside the readable prefix is complete.
    assert_eq!(code(&run(&["replay", "--wal", d, "--seq", "1..4"])), 0);

    let file = tmp.path().join("out.jsonl");
    let out = run(&["export", "--wal", d, "--format", "jsonl", "--output", file.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains(&place), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 4);
}

#[test]
fn a_damaged_header_of_the_only_segment_is_damage_and_aggressive_recovery_keeps_every_record() {
    // Regression (issue #19, defect 10): one damaged header byte made the log an input error
    // (exit 3), and `recover --mode aggressive` salvaged none of its ten intact records.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    make_log(&dir, 10, 1 << 20);
    flip(&seg_path(&dir, 1), 20); // inside the log id: the header's checksum fails
    let verify = run(&["verify", "--wal", dir.to_str().unwrap()]);
    assert_eq!(code(&verify), 1, "damage, not bad input: {}", stderr(&verify));
    let (out, messages) = recover_aggressive(&dir, &tmp.path().join("out"));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert_eq!(recovered_seqs(&messages), (1..=10).collect::<Vec<_>>());
    assert!(gap_notes(&messages).is_empty(), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("segment header does not verify")), "{messages:?}");
}

#[test]
fn an_empty_and_a_renamed_segment_among_others_lose_only_what_they_held() {
    // Regression (issue #19, defects 10 and 11): a renamed segment's records were lost, and the
    // recovered log said seqs were missing that it held, with an inverted range such as
    // 12..=10. Method: a log of several segments; one emptied, one renamed past the end.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    make_log(&dir, 200, 4 << 10);
    let seqs_of = |id: u64| -> Vec<u64> {
        let r = Reader::open(&dir).unwrap();
        r.replay(1..=u64::MAX)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.segment == SegmentId(id))
            .map(|e| e.seq)
            .collect()
    };
    let (lost, moved) = (seqs_of(2), seqs_of(3));
    assert!(!lost.is_empty() && !moved.is_empty() && seq_last_segment(&dir) > 4);
    std::fs::write(seg_path(&dir, 2), b"").unwrap(); // a 0-byte segment
    std::fs::rename(seg_path(&dir, 3), seg_path(&dir, 99)).unwrap(); // renamed past the end
    let (out, messages) = recover_aggressive(&dir, &tmp.path().join("out"));
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let mut kept = recovered_seqs(&messages);
    kept.sort_unstable();
    let expected: Vec<u64> = (1..=200).filter(|s| !lost.contains(s)).collect();
    assert_eq!(kept, expected, "every intact record, the renamed segment's included");
    let gaps = gap_notes(&messages);
    assert_eq!(gaps, [(lost[0], *lost.last().unwrap())], "only the emptied segment's seqs");
    assert!(messages.iter().any(|m| m.contains("segment file missing")), "{messages:?}");
}

fn seq_last_segment(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| segment::parse_file_name(e.unwrap().file_name().to_str()?))
        .map(|id| id.0)
        .max()
        .unwrap()
}

#[test]
fn chain_breaks_and_seal_mismatches_are_recorded_in_the_recovered_log_and_its_report() {
    // Regression (issue #19, defect 11): aggressive recovery left no trace of chain breaks,
    // bad headers or seal mismatches in the recovered log. Method: rewrite seq 6's predecessor
    // hash (checksum recomputed: a valid record that breaks the chain), flip a bit of seq 3
    // (so the seal's xxh3 disagrees too).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    make_log(&dir, 10, 1 << 20);
    let path = seg_path(&dir, 1);
    let (third, sixth) = (stored(&dir, 3), stored(&dir, 6));
    let mut bytes = std::fs::read(&path).unwrap();
    let log_id = u128::from_le_bytes(bytes[16..32].try_into().unwrap());
    let at = sixth.offset as usize;
    let view = parse_record(&bytes, at, log_id, SegmentId(1), RECORD_BODY_HARD_MAX).unwrap();
    let mut header = view.header;
    header.prev_hash = [0xab; 32];
    let mut framed = Vec::new();
    encode_record(&mut framed, &header, view.body);
    bytes[at..at + framed.len()].copy_from_slice(&framed);
    bytes[third.offset as usize + 110] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();

    let output = tmp.path().join("out");
    let (out, messages) = recover_aggressive(&dir, &output);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let kept = recovered_seqs(&messages);
    assert_eq!(kept, [1, 2, 4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(gap_notes(&messages), [(3, 3)]);
    for kind in ["hash chain broken at seq 6", "seal disagrees", "checksum mismatch"] {
        assert!(messages.iter().any(|m| m.contains(kind)), "{kind} not recorded: {messages:?}");
    }
    let report = std::fs::read_to_string(output.join("recovery-report.json")).unwrap();
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f.as_str().unwrap().contains("hash chain broken at seq 6")));
    assert_eq!(report["gaps"], serde_json::json!([{"from_seq": 3, "to_seq": 3}]));
}

#[test]
fn recover_into_a_file_names_the_path() {
    // Regression (issue #19, defect 18): "Not a directory (os error 20)", without the path.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    make_log(&dir, 2, 1 << 20);
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out =
        run(&["recover", "--input", dir.to_str().unwrap(), "--output", file.to_str().unwrap()]);
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains(file.to_str().unwrap()), "{}", stderr(&out));
    assert_eq!(std::fs::read(&file).unwrap(), b"x", "never overwritten");
}
