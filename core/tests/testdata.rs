//! Compatibility and regression tests over the committed fixtures in `testdata/`.
//!
//! - Every golden log (written by a released format version) opens, replays exactly the events
//!   its generator wrote, verifies, and takes more events.
//! - Today's writer still writes the golden bytes of the current version, byte for byte.
//! - Every corrupt log yields exactly its snapshotted outcome, read-only and for writing
//!   (`snapshots/testdata__*.snap`); a second open agrees with the first.
//! - Every input a fuzz target ever failed on (`testdata/fuzz/<target>/`) passes its target.
//!
//! Fixtures are copied into a temporary directory before opening: opening for writing
//! recovers, and so modifies, the log. Regenerate them with
//! `cargo run -p mtlog-audit --example make-testdata` (see `core/tests/testdata/generate.rs`).

// Test code: reads fixture files directly and unwraps freely.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

#[path = "testdata/generate.rs"]
mod generate;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use mtlog_audit::event::Event;
use mtlog_audit::wal::format::SegmentId;
use mtlog_audit::wal::segment;
use mtlog_audit::{Error, Level, Options, Reader, RecoveryReport, Sink};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn options(dir: &Path) -> Options {
    Options::new(dir).segment_bytes(generate::SEGMENT_BYTES)
}

/// Copies the fixture directory `from` into a fresh temporary directory.
fn copy_of(from: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
    }
    tmp
}

fn body(e: &Event) -> Vec<u8> {
    let mut b = Vec::new();
    e.encode_body(&mut b).unwrap();
    b
}

/// Every event the reader shows, checked against the generator's event of the same seq
/// (compared as encoded bodies: the body codec is exact, NaN payloads included).
fn replay_checked(dir: &Path) -> u64 {
    let reader = Reader::open(dir).unwrap();
    let mut n = 0;
    for stored in reader.replay(1..=u64::MAX).unwrap() {
        let stored = stored.unwrap();
        n += 1;
        assert_eq!(stored.seq, n, "{}: seq order", dir.display());
        assert_eq!(body(&stored.event), body(&generate::event(n)), "seq {n} differs");
    }
    n
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_golden_log_opens_replays_its_events_verifies_and_takes_more() {
    // Goal: logs written by every released format version stay readable and writable.
    // Method: for each version directory and each log in it, read it (read-only), then open it
    // for writing (which must cut nothing), append one event, close, and read it again.
    let golden = root().join("testdata").join("golden");
    let versions = names_in(&golden);
    assert!(versions.contains(&"v1".to_string()), "no golden logs of format v1");
    for version in versions {
        for name in names_in(&golden.join(&version)) {
            let expected = generate::golden_events(&name).len() as u64;
            let tmp = copy_of(&golden.join(&version).join(&name));
            let dir = tmp.path();
            let report = Reader::open(dir).unwrap().verify_integrity();
            assert!(report.is_valid(), "{version}/{name}: {:?}", report.findings);
            assert_eq!(report.events, expected, "{version}/{name}");
            assert_eq!(replay_checked(dir), expected, "{version}/{name}");

            let sink = Sink::open(options(dir)).unwrap();
            let recovered = sink.recovery_report().clone();
            assert!(recovered.cuts.is_empty(), "{version}/{name}: {:?}", recovered.cuts);
            assert_eq!(recovered.events, expected);
            assert_eq!(recovered.seq_next, expected + 1);
            assert_eq!(recovered.log_id, generate::LOG_ID);
            let e = generate::event(expected + 1);
            assert_eq!(sink.emit(&e).unwrap().seq, expected + 1);
            sink.close().unwrap();
            drop(sink);
            assert_eq!(replay_checked(dir), expected + 1, "{version}/{name} after an append");
            assert!(Reader::open(dir).unwrap().verify_integrity().is_valid());
            insta::assert_snapshot!(
                format!("golden_{version}_{name}"),
                format!(
                    "events {expected}\nlog id {:032x}\nhead hash {}\n",
                    recovered.log_id,
                    mtlog_audit::integrity::chain::to_hex(&recovered.head_hash)
                )
            );
        }
    }
}

#[test]
fn todays_writer_still_writes_the_committed_golden_bytes() {
    // Goal: an unintended format change fails here, before it ships. A deliberate one bumps
    // FORMAT_VERSION, which writes a new golden directory and keeps this one.
    let golden = generate::golden_dir(&root());
    for (name, batches, marker, close) in generate::GOLDEN {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(name);
        generate::write_log(&dir, batches, marker, close);
        let mut files: Vec<_> =
            fs::read_dir(golden.join(name)).unwrap().map(|e| e.unwrap()).collect();
        files.sort_by_key(|e| e.file_name());
        assert!(!files.is_empty());
        for file in files {
            let committed = fs::read(file.path()).unwrap();
            let written = fs::read(dir.join(file.file_name())).unwrap();
            assert!(
                committed == written,
                "{name}/{:?} differs from today's writer",
                file.file_name()
            );
        }
    }
}

#[test]
fn every_corrupt_log_yields_its_snapshotted_outcome() {
    let corrupt = generate::corrupt_dir(&root());
    let names = names_in(&corrupt);
    let expected: Vec<&str> = generate::FIXTURES.iter().map(|f| f.name).collect();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(names, sorted, "fixtures on disk against the generator's list");
    for name in names {
        let tmp = copy_of(&corrupt.join(&name));
        insta::assert_snapshot!(format!("corrupt_{name}"), outcome(tmp.path()));
    }
}

/// What a log yields: the read-only view, then opening it for writing (twice, to check that a
/// second recovery agrees with the first).
fn outcome(dir: &Path) -> String {
    let mut out = String::new();
    let reader = Reader::open(dir).unwrap();
    let r = reader.verify_integrity();
    let _ = writeln!(
        out,
        "read-only: {} segments, {} events shown, seqs {:?}, watermark {}",
        r.segments, r.events, r.seq_range, r.watermark
    );
    for f in &r.findings {
        let _ = writeln!(
            out,
            "  finding: segment {} offset {}, seq {} expected: {:?}",
            f.segment, f.offset, f.seq_expected, f.anomaly
        );
    }
    if let Some(c) = reader.corruption() {
        let _ = writeln!(out, "  replay stops at: {c}");
    }
    drop(reader);
    let (text, first) = open_for_writing(dir);
    out.push_str(&text);
    if let Some(first) = first {
        // The first open closed the sink (sealing its new segment), so only the log's
        // content and the quarantine must agree, not the segment count.
        let (_, second) = open_for_writing(dir);
        let second = second.expect("a second open after a successful one");
        assert_eq!((second.events, second.seq_next), (first.events, first.seq_next));
        assert_eq!(second.cuts, first.cuts, "the second recovery reports other cuts");
    }
    out
}

fn open_for_writing(dir: &Path) -> (String, Option<RecoveryReport>) {
    let mut out = String::new();
    let report = match Sink::open(options(dir)) {
        Err(Error::Corruption(c)) => {
            let _ = writeln!(
                out,
                "open: corruption at segment {} offset {}, seqs {}..={}: {:?}",
                c.segment, c.offset, c.seq_range.0, c.seq_range.1, c.kind
            );
            let _ = writeln!(out, "  message: {c}");
            None
        }
        Err(e) => panic!("opening failed with a non-corruption error: {e}"),
        Ok(sink) => {
            let report = sink.recovery_report().clone();
            let _ = writeln!(
                out,
                "open: ok, {} events kept, seq next {}, {} segments with data",
                report.events, report.seq_next, report.segments
            );
            for cut in &report.cuts {
                let _ = writeln!(
                    out,
                    "  quarantine {}: segment {} offset {} len {}, seqs {:?}, reason {:?}",
                    cut.file, cut.segment, cut.offset, cut.len, cut.seq_range, cut.reason
                );
            }
            sink.close().unwrap();
            drop(sink);
            assert_eq!(replay_checked(dir), report.events, "what recovery kept replays");
            let after = Reader::open(dir).unwrap().verify_integrity();
            assert!(after.is_valid(), "findings after recovery: {:?}", after.findings);
            Some(report)
        }
    };
    (out, report)
}

#[test]
fn the_log_id_of_every_fixture_is_the_generators() {
    // A cheap guard against committing a fixture written by some other program.
    for group in [generate::golden_dir(&root()), generate::corrupt_dir(&root())] {
        for name in names_in(&group) {
            let path = group.join(&name).join(segment::file_name(SegmentId(1)));
            let bytes = fs::read(&path).unwrap();
            let header = mtlog_audit::wal::format::decode_segment_header(&bytes).unwrap();
            assert_eq!(header.log_id, generate::LOG_ID, "{}", path.display());
        }
    }
}

#[test]
fn every_input_a_fuzz_target_failed_on_now_passes() {
    // Goal: a fuzz finding stays fixed. Method: replay each saved input through its target's
    // entry point (the same function the fuzz target calls); a panic fails the test.
    let fuzz = root().join("testdata").join("fuzz");
    if !fuzz.exists() {
        return;
    }
    let mut replayed = 0;
    for target in names_in(&fuzz) {
        let mut inputs: Vec<_> =
            fs::read_dir(fuzz.join(&target)).unwrap().map(|e| e.unwrap().path()).collect();
        inputs.sort();
        for input in inputs {
            let bytes = fs::read(&input).unwrap();
            use mtlog_audit::fuzzing as f;
            match target.as_str() {
                "record" => f::record_round_trip(&bytes),
                "segment_scan" => f::scan_and_classify(&bytes),
                "crafted_records" => f::crafted_records(&bytes),
                "event_body" => f::event_body(&bytes),
                "clef" => f::clef(std::str::from_utf8(&bytes).unwrap_or_default()),
                "options" => f::options(&bytes),
                "checkpoint" => f::checkpoint(std::str::from_utf8(&bytes).unwrap_or_default()),
                "note" => f::note(&bytes),
                "proof" => f::proof(&bytes),
                other => panic!("unknown fuzz target directory {other}"),
            }
            replayed += 1;
        }
    }
    assert!(replayed > 0, "testdata/fuzz/ holds no inputs");
}

#[test]
fn an_event_from_the_generator_is_stable() {
    // The fixtures' expected events come from `generate::event`; changing it would make every
    // golden replay comparison fail, so pin one of each kind here with a readable message.
    let e = generate::event(3);
    assert_eq!(e.level, Level::ALL[3]);
    assert_eq!(e.message, "User 3 did export on rec-0003");
    assert!(e.exception.is_some());
}

#[test]
fn the_committed_clef_export_still_imports_to_the_same_lines() {
    // Goal: CLEF written by an earlier version stays importable, and today's export of the same
    // events is byte-identical. Method: each committed line imports, re-exports to itself, and
    // equals today's export of the generator's event of that number.
    let text =
        fs::read_to_string(root().join("testdata").join("clef").join("events.clef")).unwrap();
    let mut n = 0;
    for line in text.lines() {
        n += 1;
        let imported = Event::from_clef(line).unwrap();
        assert_eq!(imported.to_clef(), line, "line {n} does not re-export to itself");
        assert_eq!(generate::event(n).to_clef(), line, "today's export of event {n} differs");
    }
    assert_eq!(n, generate::golden_events("closed").len() as u64);
}

#[test]
fn the_committed_signed_checkpoint_still_opens_and_matches_the_golden_log() {
    // Goal: signed checkpoints (C2SP signed note + tlog checkpoint) written by an earlier
    // version keep verifying, and still describe the golden log's Merkle tree.
    let dir = root().join("testdata").join("checkpoint");
    let note = fs::read(dir.join("closed.note")).unwrap();
    let vkey = fs::read_to_string(dir.join("closed.vkey")).unwrap();
    let verifier = mtlog_audit::integrity::note::Verifier::from_vkey(vkey.trim_end()).unwrap();
    let (checkpoint, keys) =
        mtlog_audit::integrity::checkpoint::Checkpoint::open_note(&note, &[verifier]).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(checkpoint.origin(), generate::CHECKPOINT_ORIGIN);
    let (size, root_hash) = generate::merkle_root(&generate::golden_dir(&root()).join("closed"));
    assert_eq!((checkpoint.size(), checkpoint.root()), (size, root_hash));
    assert_eq!(size, generate::golden_events("closed").len() as u64);
}
