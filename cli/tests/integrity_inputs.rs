//! Hostile or careless inputs to `verify` and `verify-bundle`: keys, checkpoints and bundles
//! that are missing, endless, secret or belong to another log. Each must end in a clear error
//! or verdict that names what was wrong, never echo a secret, and never grow memory unbounded.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use mtlog_audit::integrity::note::Signer;
use mtlog_audit::{Level, Options, Sink};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_mtlog-audit")
}

fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

/// Runs the binary with its address space capped at 512 MiB: an unbounded read of an endless
/// file dies of allocation failure instead of taking the machine's memory.
fn run_capped(args: &[&str]) -> Output {
    let mut script = String::from("ulimit -v 524288; exec \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    Command::new("sh").arg("-c").arg(script).arg(bin()).args(args).output().unwrap()
}

fn both(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn signer() -> Signer {
    Signer::from_seed("inputs.example/log", [3; 32]).unwrap()
}

/// A log of 5 events with a checkpoint signed on close.
fn signed_log(tmp: &Path) -> PathBuf {
    let dir = tmp.join("log");
    let sink = Sink::open(Options::new(&dir).signer(signer())).unwrap();
    for n in 0..5u64 {
        sink.event(Level::Information, "Step {N}").with("N", n).emit().unwrap();
    }
    sink.close().unwrap();
    dir
}

#[test]
fn a_missing_key_file_is_named_as_a_file_that_cannot_be_read() {
    // Regression (issue #19, 18): `--key /missing.vkey` said "key text lacks its key ID".
    let tmp = tempfile::tempdir().unwrap();
    let dir = signed_log(tmp.path());
    let out = run(&["verify", "--wal", dir.to_str().unwrap(), "--key", "/missing.vkey"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/missing.vkey"), "{stderr}");
    assert!(stderr.contains("cannot read"), "{stderr}");
    assert!(!stderr.contains("lacks its key ID"), "{stderr}");
    // Key text is still taken as text.
    let vkey = signer().verifier().to_vkey();
    let out = run(&["verify", "--wal", dir.to_str().unwrap(), "--key", &vkey]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

#[test]
fn a_private_key_given_as_key_is_never_printed_back() {
    // Regression (issue #19, 17): the private key was echoed in the error, on stderr and (with
    // --json) on stdout. Method: give it as text and as a file, with and without --json, and
    // look for any 12-character piece of its base64 material in everything the command wrote.
    let tmp = tempfile::tempdir().unwrap();
    let dir = signed_log(tmp.path());
    let secret = signer().private_key_text();
    let material = secret.rsplit('+').next().unwrap().to_owned();
    let file = tmp.path().join("audit.key");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let d = dir.to_str().unwrap();
    for key in [secret.as_str(), file.to_str().unwrap()] {
        for json in [false, true] {
            let mut args = vec!["verify", "--wal", d, "--key", key];
            if json {
                args.push("--json");
            }
            let out = run(&args);
            assert_eq!(out.status.code(), Some(3));
            let all = both(&out);
            assert!(all.contains("PRIVATE signing key"), "{all}");
            for piece in material.as_bytes().windows(12) {
                let piece = std::str::from_utf8(piece).unwrap();
                assert!(!all.contains(piece), "secret material {piece:?} printed: {all}");
            }
        }
    }
    // The same through verify-bundle.
    let out = run(&["verify-bundle", "--bundle", "/nonexistent", "--key", &secret, "--json"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(!both(&out).contains(&material[..12]), "{}", both(&out));
}

#[test]
fn endless_checkpoint_and_bundle_files_are_refused_at_their_limit() {
    // Regression (issue #19, 7): `--checkpoint /dev/zero` grew until the OOM killer ended it.
    // Method: the binary runs with a 512 MiB address-space cap, so the old unbounded read
    // fails by aborting, not by a typed error naming the file and the limit.
    let tmp = tempfile::tempdir().unwrap();
    let dir = signed_log(tmp.path());
    let vkey = signer().verifier().to_vkey();
    let d = dir.to_str().unwrap();
    let out = run_capped(&["verify", "--wal", d, "--key", &vkey, "--checkpoint", "/dev/zero"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/dev/zero") && stderr.contains("1048576 bytes"), "{stderr}");
    let out = run_capped(&["verify-bundle", "--bundle", "/dev/zero", "--key", &vkey]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/dev/zero") && stderr.contains("67108864 bytes"), "{stderr}");
    let out = run_capped(&[
        "bundle",
        "--wal",
        d,
        "--seq",
        "1..2",
        "--checkpoint",
        "/dev/zero",
        "--output",
        tmp.path().join("b.json").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/dev/zero"));
}

/// Signs a checkpoint of `dir`'s first `size` events under `origin` with the test key.
fn foreign_checkpoint(dir: &Path, origin: &str, size: u64, root: Option<[u8; 32]>) -> String {
    let reader = mtlog_audit::Reader::open(dir).unwrap();
    let root = root.unwrap_or_else(|| reader.tree_root(size).unwrap());
    let checkpoint = mtlog_audit::integrity::checkpoint::Checkpoint::new(origin, size, root);
    checkpoint.unwrap().sign(&[&signer()]).unwrap()
}

#[test]
fn a_trusted_keys_checkpoint_of_another_origin_is_another_logs_never_valid() {
    // Regression (issue #19, 21): a trusted key's checkpoint for `other.example/log` with the
    // right root was accepted (exit 0); with another root it read "root mismatch, history
    // rewritten". Both are "checkpoint of another log" (exit 6) unless --origin names it.
    let tmp = tempfile::tempdir().unwrap();
    let dir = signed_log(tmp.path());
    let d = dir.to_str().unwrap();
    let vkey = signer().verifier().to_vkey();
    let same_root = tmp.path().join("same-root.note");
    std::fs::write(&same_root, foreign_checkpoint(&dir, "other.example/log", 5, None)).unwrap();
    let other_root = tmp.path().join("other-root.note");
    let forged = foreign_checkpoint(&dir, "other.example/log", 3, Some([9; 32]));
    std::fs::write(&other_root, forged).unwrap();
    for file in [&same_root, &other_root] {
        let f = file.to_str().unwrap();
        let out = run(&["verify", "--wal", d, "--key", &vkey, "--checkpoint", f]);
        assert_eq!(out.status.code(), Some(6), "{}", both(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("CHECKPOINT OF ANOTHER LOG"), "{stdout}");
        assert!(!stdout.contains("ROOT MISMATCH"), "{stdout}");
    }
    // Named as this log's origin, the same-root one checks out.
    let f = same_root.to_str().unwrap();
    let (ours, theirs) = ("inputs.example/log", "other.example/log");
    let args = ["verify", "--wal", d, "--key", &vkey, "--checkpoint", f, "--origin", ours];
    let out = run(&[&args[..], &["--origin", theirs]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    // --origin alone pins it: the log's own checkpoints (origin = key name) are now foreign.
    let out = run(&["verify", "--wal", d, "--key", &vkey, "--origin", theirs]);
    assert_eq!(out.status.code(), Some(6), "{}", both(&out));

    // verify-bundle: a bundle proved against the foreign checkpoint is another log's.
    let bundle = tmp.path().join("bundle.json");
    let b = bundle.to_str().unwrap();
    let out = run(&["bundle", "--wal", d, "--seq", "1..3", "--checkpoint", f, "--output", b]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let out = run(&["verify-bundle", "--bundle", b, "--key", &vkey]);
    assert_eq!(out.status.code(), Some(6), "{}", both(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("another log's"), "{}", both(&out));
    let out = run(&["verify-bundle", "--bundle", b, "--key", &vkey, "--origin", theirs]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

#[test]
fn another_logs_larger_checkpoint_in_the_log_directory_is_not_truncation() {
    // Regression (issue #19, 6): a checkpoint of another log, signed by the same key and larger
    // than this log, dropped into DIR/checkpoints made `verify` say "behind" (exit 5).
    let tmp = tempfile::tempdir().unwrap();
    let dir = signed_log(tmp.path());
    let planted = dir.join("checkpoints").join("checkpoint-00000000000000000050.note");
    let other =
        mtlog_audit::integrity::checkpoint::Checkpoint::new("other.example/log", 50, [1; 32]);
    std::fs::write(&planted, other.unwrap().sign(&[&signer()]).unwrap()).unwrap();
    let vkey = signer().verifier().to_vkey();
    let out = run(&["verify", "--wal", dir.to_str().unwrap(), "--key", &vkey]);
    assert_eq!(out.status.code(), Some(6), "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("CHECKPOINT OF ANOTHER LOG") && !stdout.contains("BEHIND"), "{stdout}");

    // Without --key, a checkpoint by an unknown key under that key's own name (today's default
    // origin of another log): the log's own checkpoints, whose roots match, name its origin.
    std::fs::remove_file(&planted).unwrap();
    let stranger = Signer::from_seed("stranger.example/log", [5; 32]).unwrap();
    let other =
        mtlog_audit::integrity::checkpoint::Checkpoint::new("stranger.example/log", 50, [1; 32]);
    std::fs::write(&planted, other.unwrap().sign(&[&stranger]).unwrap()).unwrap();
    let out = run(&["verify", "--wal", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(6), "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("CHECKPOINT OF ANOTHER LOG") && !stdout.contains("BEHIND"), "{stdout}");

    // With a key that signed none of them (the wrong .vkey): everything is unverifiable; the
    // log's own checkpoints still read as its own (roots match), the planted one as another's.
    let wrong = Signer::from_seed("wrong.example/log", [6; 32]).unwrap().verifier().to_vkey();
    let out = run(&["verify", "--wal", dir.to_str().unwrap(), "--key", &wrong]);
    assert_eq!(out.status.code(), Some(6), "{}", both(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("root matches the log").count(), 1, "{stdout}");
    assert_eq!(stdout.matches("CHECKPOINT OF ANOTHER LOG").count(), 1, "{stdout}");
}

/// A log with a fixed log id holding `amounts` as events; signed (tiles, checkpoints) or not.
fn fixed_id_log(dir: &Path, amounts: &[u64], signed: bool) {
    use mtlog_audit_sim::{CountingEntropy, TickClock};
    use std::sync::Arc;
    let mut options = Options::new(dir);
    if signed {
        options = options.signer(signer());
    }
    let sink = Sink::open_with(
        options,
        Arc::new(mtlog_audit::io::RealDisk),
        Arc::new(TickClock::new(1_795_000_000_000_000_000)),
        Arc::new(CountingEntropy::new()),
    )
    .unwrap();
    for amount in amounts {
        sink.event(Level::Information, "Paid {Amount}").with("Amount", *amount).emit().unwrap();
    }
    sink.close().unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn intact_tiles_that_contradict_a_rewritten_log_are_evidence_not_cache_damage() {
    // Regression (issue #19, 24): a log rewritten with every CRC, seq, chain link and seal
    // recomputed, its checkpoints deleted, verified as valid (exit 0) while `verify` said the
    // persisted tiles disagree and "the log itself is not affected". Method: the forged log is
    // a real log with the same log id and one amount changed (so everything in the WAL is
    // consistent); the original's merkle/ directory is left beside it.
    let tmp = tempfile::tempdir().unwrap();
    let amounts: Vec<u64> = (1..=20).collect();
    let original = tmp.path().join("original");
    fixed_id_log(&original, &amounts, true);
    let mut changed = amounts.clone();
    changed[2] = 1_000_000;
    for (name, forged, code, word) in [
        ("rewritten", &changed[..], 4, "\"tampered\""),
        ("truncated", &amounts[..15], 5, "\"behind\""),
    ] {
        let dir = tmp.path().join(name);
        fixed_id_log(&dir, forged, false);
        copy_tree(&original.join("merkle"), &dir.join("merkle"));
        let d = dir.to_str().unwrap();
        let out = run(&["verify", "--wal", d]);
        assert_eq!(out.status.code(), Some(code), "{name}: {}", both(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("valid: every record checksummed"), "{name}: WAL looks fine");
        assert!(stdout.contains("EVIDENCE AGAINST THE LOG"), "{name}: {stdout}");
        assert!(!stdout.contains("not affected"), "{name}: {stdout}");
        let out = run(&["verify", "--wal", d, "--json"]);
        assert_eq!(out.status.code(), Some(code));
        assert!(both(&out).contains(&format!("\"verdict\":{word}")), "{}", both(&out));
    }
    // The same tiles beside the log they were written for: valid.
    let out = run(&["verify", "--wal", original.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
}

#[test]
fn entries_dropped_from_a_bundles_end_are_caught_against_the_range_asked_for() {
    // Regression (issue #19): a bundle's count and range are signed by nobody, so the last
    // entries could be dropped with the header edited to match, and verify-bundle said valid.
    // Now the verifier states the range it asked for (`--seq A..B`, or `A..` for "up to the
    // signed tree size"), and without it the output says the range is unsigned.
    let tmp = tempfile::tempdir().unwrap();
    let dir = signed_log(tmp.path());
    let file = tmp.path().join("bundle.json");
    let (d, f) = (dir.to_str().unwrap(), file.to_str().unwrap());
    let out = run(&["bundle", "--wal", d, "--seq", "2..5", "--output", f]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let vkey = signer().verifier().to_vkey();
    for seq in ["2..5", "2.."] {
        let out = run(&["verify-bundle", "--bundle", f, "--key", &vkey, "--seq", seq]);
        assert_eq!(out.status.code(), Some(0), "{seq}: {}", both(&out));
    }
    let mut bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    bundle["entries"].as_array_mut().unwrap().pop();
    bundle["count"] = 3.into();
    bundle["seq_last"] = 4.into();
    std::fs::write(&file, bundle.to_string()).unwrap();
    let out = run(&["verify-bundle", "--bundle", f, "--key", &vkey]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("unsigned statement"), "{}", both(&out));
    for seq in ["2..5", "2.."] {
        let out = run(&["verify-bundle", "--bundle", f, "--key", &vkey, "--seq", seq]);
        assert_eq!(out.status.code(), Some(4), "{seq}: {}", both(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("dropped"), "{}", both(&out));
    }
}

#[test]
fn prove_writes_a_c2sp_tlog_proof_that_verify_bundle_checks() {
    // Issue #19, 23: one event's proof in the standard tlog-proof@v1 form.
    let tmp = tempfile::tempdir().unwrap();
    let dir = signed_log(tmp.path());
    let d = dir.to_str().unwrap();
    let out = run(&["prove", "--wal", d, "--seq", "3", "--tlog-proof"]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("c2sp.org/tlog-proof@v1\nextra "), "{text}");
    assert!(text.contains("\nindex 2\n"), "{text}");
    let file = tmp.path().join("event.tlog-proof");
    std::fs::write(&file, &text).unwrap();
    let f = file.to_str().unwrap();
    let vkey = signer().verifier().to_vkey();
    let out = run(&["verify-bundle", "--bundle", f, "--key", &vkey]);
    assert_eq!(out.status.code(), Some(0), "{}", both(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid: seq 3 of log"));
    let out = run(&["verify-bundle", "--bundle", f, "--key", &vkey, "--seq", "4..4"]);
    assert_eq!(out.status.code(), Some(4), "{}", both(&out));
    // The record altered (one base64 character of the extra line): tampered.
    let extra_at = text.find("extra ").unwrap() + "extra ".len() + 60;
    let mut altered = text.into_bytes();
    altered[extra_at] = if altered[extra_at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&file, &altered).unwrap();
    let out = run(&["verify-bundle", "--bundle", f, "--key", &vkey]);
    assert_eq!(out.status.code(), Some(4), "{}", both(&out));
    // Another key: unverifiable.
    let stranger = Signer::from_seed("stranger.example/log", [9; 32]).unwrap();
    let out = run(&["verify-bundle", "--bundle", f, "--key", &stranger.verifier().to_vkey()]);
    assert_eq!(out.status.code(), Some(6), "{}", both(&out));
}
