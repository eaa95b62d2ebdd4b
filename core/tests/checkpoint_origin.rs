//! A checkpoint belongs to the log its origin line names. Another log's checkpoint, even one
//! signed by the same key, says nothing about this log: the sink does not refuse to open over
//! it, and the audit reports it as another log's, never as truncation or a rewritten history.
//! The default origin is the signing key's name (C2SP's recommendation); logs signed under the
//! old default `mtlog-audit/<log id>` keep verifying as their own.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Tests touch files directly.

use std::path::Path;

use mtlog_audit::integrity::audit::{AuditVerdict, Origins, TreeStatus};
use mtlog_audit::integrity::checkpoint::{legacy_origin, Checkpoint};
use mtlog_audit::integrity::note::{self, Signer};
use mtlog_audit::integrity::store;
use mtlog_audit::{Error, Level, Options, Reader, Sink};

fn signer() -> Signer {
    Signer::from_seed("origin.example/log", [4; 32]).unwrap()
}

/// Writes `events` events into `dir` with a checkpoint on close, under `origin` (the default
/// when `None`).
fn write_log(dir: &Path, events: u64, origin: Option<&str>) {
    let mut options = Options::new(dir).signer(signer());
    if let Some(origin) = origin {
        options = options.checkpoint_origin(origin);
    }
    let sink = Sink::open(options).unwrap();
    for n in 0..events {
        sink.event(Level::Information, "Step {N}").with("N", n).emit().unwrap();
    }
    sink.close().unwrap();
}

fn log_id(dir: &Path) -> u128 {
    Reader::open(dir).unwrap().log_id()
}

/// Copies the newest checkpoint of `from` into `to`'s checkpoint directory.
fn plant_newest_checkpoint(from: &Path, to: &Path) -> String {
    let note = Reader::open(from).unwrap().checkpoints().unwrap().pop().unwrap();
    let name = note.path.file_name().unwrap().to_owned();
    std::fs::write(to.join(store::CHECKPOINTS_DIR).join(&name), &note.bytes).unwrap();
    String::from_utf8(note.bytes).unwrap()
}

#[test]
fn the_default_origin_is_the_signing_keys_name() {
    // C2SP tlog-checkpoint: the origin SHOULD match the key name; Go's tools and witnesses
    // expect it. Regression (issue #19, 22): the default was `mtlog-audit/<log id>`.
    let tmp = tempfile::tempdir().unwrap();
    write_log(tmp.path(), 3, None);
    let note = Reader::open(tmp.path()).unwrap().checkpoints().unwrap().pop().unwrap();
    let opened = note::open(&note.bytes, &[signer().verifier()]).unwrap();
    let checkpoint = Checkpoint::parse_body(&opened.text).unwrap();
    assert_eq!(checkpoint.origin(), signer().key().name);
    let report = Reader::open(tmp.path()).unwrap().audit(&[signer().verifier()], vec![]).unwrap();
    assert_eq!(report.verdict(), AuditVerdict::Valid);
}

#[test]
fn another_logs_checkpoint_signed_by_the_same_key_is_not_truncation() {
    // Regression (issue #19, 6): log B's checkpoint (10 events) planted in log A (5 events),
    // both signed by one key under their own origins, made `verify` call A truncated and
    // `Sink::open` refuse A with BehindCheckpoint.
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    write_log(&a, 5, Some("a.example/log"));
    write_log(&b, 10, Some("b.example/log"));
    plant_newest_checkpoint(&b, &a);

    let reader = Reader::open(&a).unwrap();
    let pinned = ["a.example/log".to_owned()];
    let report =
        reader.audit_origins(&[signer().verifier()], vec![], Origins::Exactly(&pinned)).unwrap();
    let planted = report.checkpoints.iter().find(|c| c.source.contains("0010")).unwrap();
    assert_eq!(planted.tree, TreeStatus::OtherLog { origin: "b.example/log".into() });
    assert_eq!(report.verdict(), AuditVerdict::Unverifiable);
    assert!(report.consistency.iter().all(|c| c.new_size <= 5), "{:?}", report.consistency);

    // The sink opens A over it and keeps signing A's own checkpoints.
    let sink =
        Sink::open(Options::new(&a).signer(signer()).checkpoint_origin("a.example/log")).unwrap();
    sink.event(Level::Information, "After").emit().unwrap();
    sink.close().unwrap();

    // Its own checkpoint past the log still stops it.
    let c = tmp.path().join("c");
    write_log(&c, 8, Some("a.example/log"));
    let short = tmp.path().join("short");
    write_log(&short, 2, Some("a.example/log"));
    let ours = plant_newest_checkpoint(&c, &short); // same origin and key: "this log"
    assert!(ours.starts_with("a.example/log\n8\n"));
    let err =
        Sink::open(Options::new(&short).signer(signer()).checkpoint_origin("a.example/log")).err();
    assert!(matches!(err, Some(Error::BehindCheckpoint { checkpoint_size: 8, .. })), "{err:?}");
}

#[test]
fn a_log_signed_under_the_legacy_default_origin_still_verifies_and_guards_its_size() {
    // Logs written before the default changed carry `mtlog-audit/<log id>`: by default they are
    // still this log's checkpoints (valid, and "behind" when the log is shorter), and another
    // log's legacy checkpoint is another log's.
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for dir in [&a, &b] {
        Sink::open(Options::new(dir)).unwrap().close().unwrap(); // fixes the log id
    }
    write_log(&a, 4, Some(&legacy_origin(log_id(&a))));
    write_log(&b, 9, Some(&legacy_origin(log_id(&b))));
    let report = Reader::open(&a).unwrap().audit(&[signer().verifier()], vec![]).unwrap();
    assert_eq!(report.verdict(), AuditVerdict::Valid, "{report:?}");

    plant_newest_checkpoint(&b, &a);
    let report = Reader::open(&a).unwrap().audit(&[signer().verifier()], vec![]).unwrap();
    assert_eq!(report.verdict(), AuditVerdict::Unverifiable);
    assert!(report.checkpoints.iter().any(|c| matches!(c.tree, TreeStatus::OtherLog { .. })));
    // Reopened with today's default origin (the key's name), the sink ignores B's checkpoint,
    // and A's checkpoints under both origins verify together, consistent with each other.
    let sink = Sink::open(Options::new(&a).signer(signer())).unwrap();
    sink.event(Level::Information, "After the upgrade").emit().unwrap();
    sink.close().unwrap();
    let planted = a.join(store::CHECKPOINTS_DIR).join(store::checkpoint_file_name(9));
    std::fs::remove_file(planted).unwrap();
    let report = Reader::open(&a).unwrap().audit(&[signer().verifier()], vec![]).unwrap();
    assert_eq!(report.verdict(), AuditVerdict::Valid, "{report:?}");
    let origins: Vec<&str> =
        report.checkpoints.iter().filter_map(|c| Some(c.checkpoint.as_ref()?.origin())).collect();
    assert!(origins.contains(&legacy_origin(log_id(&a)).as_str()), "{origins:?}");
    assert!(origins.contains(&"origin.example/log"), "{origins:?}");
    assert!(!report.consistency.is_empty());

    // A's own legacy checkpoint past a rolled-back A is still "behind", to the sink and audit.
    let rolled = tmp.path().join("rolled");
    std::fs::create_dir_all(rolled.join(store::CHECKPOINTS_DIR)).unwrap();
    for entry in std::fs::read_dir(&a).unwrap() {
        let entry = entry.unwrap();
        if entry.path().extension().is_some_and(|e| e == "wal") {
            std::fs::copy(entry.path(), rolled.join(entry.file_name())).unwrap();
        }
    }
    let newest = Reader::open(&a).unwrap().tree_size();
    let c = Checkpoint::new(legacy_origin(log_id(&a)), newest + 3, [0; 32]).unwrap();
    let name = store::checkpoint_file_name(newest + 3);
    let note = c.sign(&[&signer()]).unwrap();
    std::fs::write(rolled.join(store::CHECKPOINTS_DIR).join(name), note).unwrap();
    let report = Reader::open(&rolled).unwrap().audit(&[signer().verifier()], vec![]).unwrap();
    assert_eq!(report.verdict(), AuditVerdict::Behind, "{report:?}");
    let err = Sink::open(Options::new(&rolled).signer(signer())).err();
    assert!(matches!(err, Some(Error::BehindCheckpoint { .. })), "{err:?}");
}

#[test]
fn a_rotation_to_a_key_of_another_name_keeps_the_logs_checkpoints_its_own() {
    // The default origin is the key's name at open, so a rotation to a key named otherwise
    // changes it at the next open. The rotation record names both keys: checkpoints under
    // either name stay this log's, for an auditor holding the old key (who learns the new one)
    // and for one holding only the new key (older checkpoints are then unverifiable, not
    // another log's).
    let tmp = tempfile::tempdir().unwrap();
    let old = Signer::from_seed("old.example/log", [1; 32]).unwrap();
    let new = Signer::from_seed("new.example/log", [2; 32]).unwrap();
    let sink = Sink::open(Options::new(tmp.path()).signer(old.clone())).unwrap();
    sink.event(Level::Information, "Before").emit().unwrap();
    sink.checkpoint().unwrap();
    sink.rotate_signer(new.clone()).unwrap();
    sink.event(Level::Information, "Between").emit().unwrap();
    sink.close().unwrap();
    let sink = Sink::open(Options::new(tmp.path()).signer(new.clone())).unwrap();
    sink.event(Level::Information, "After").emit().unwrap();
    sink.close().unwrap();

    let reader = Reader::open(tmp.path()).unwrap();
    let report = reader.audit(&[old.verifier()], vec![]).unwrap();
    assert_eq!(report.verdict(), AuditVerdict::Valid, "{report:#?}");
    let origins: Vec<&str> =
        report.checkpoints.iter().filter_map(|c| Some(c.checkpoint.as_ref()?.origin())).collect();
    assert!(origins.contains(&"old.example/log") && origins.contains(&"new.example/log"));
    let report = reader.audit(&[new.verifier()], vec![]).unwrap();
    assert_eq!(report.verdict(), AuditVerdict::Unverifiable);
    assert!(report.checkpoints.iter().all(|c| c.tree == TreeStatus::Matches), "{report:#?}");
}
