//! Every documented exit code, per command: the table "Exit codes per command" in
//! `docs/cli.md` is read, and each (command, code) it lists must be reached by a scenario
//! below, and each scenario's code must be listed. A code the docs promise that no test
//! reaches, or a code a command exits with that the docs do not name, fails here.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{copy_dir, damaged_copy, run, shown, signed_log, vkey};

/// (command, code) pairs from the table in `docs/cli.md`.
fn documented() -> BTreeSet<(String, i32)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/cli.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let table = text
        .split("### Exit codes per command")
        .nth(1)
        .expect("docs/cli.md has a section 'Exit codes per command'");
    let mut pairs = BTreeSet::new();
    for line in table.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|'))
    {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(command) = cells.get(1).and_then(|c| c.strip_prefix('`')) else { continue };
        let command = command.trim_end_matches('`');
        for code in cells[2].split(',') {
            let code = code.trim().parse().unwrap_or_else(|_| panic!("{line}: codes column"));
            pairs.insert((command.to_owned(), code));
        }
    }
    assert!(pairs.len() > 20, "the table was not found or read: {pairs:?}");
    pairs
}

/// The files the scenarios work on.
struct Fixture {
    _tmp: tempfile::TempDir,
    tmp: PathBuf,
    log: PathBuf,
    damaged: PathBuf,
    truncated: PathBuf,
    external_checkpoint: PathBuf,
    tampered: PathBuf,
    bundle: PathBuf,
    bundle_dropped: PathBuf,
    existing: PathBuf,
    key_prefix: PathBuf,
}

fn fixture() -> Fixture {
    let (tmp_dir, log) = signed_log();
    let tmp = tmp_dir.path().to_path_buf();
    let damaged = tmp.join("damaged");
    damaged_copy(&log, &damaged);

    // Behind: a copy reduced to its first segment, without the checkpoints that show it; the
    // newest checkpoint kept outside.
    let external_checkpoint = tmp.join("checkpoint-00000000000000000020.note");
    std::fs::copy(
        log.join("checkpoints/checkpoint-00000000000000000020.note"),
        &external_checkpoint,
    )
    .unwrap();
    let truncated = tmp.join("truncated");
    copy_dir(&log, &truncated);
    let mut segments: Vec<PathBuf> = std::fs::read_dir(&truncated)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    segments.sort();
    assert!(segments.len() > 1, "the signed log spans several segments");
    for s in &segments[1..] {
        std::fs::remove_file(s).unwrap();
    }
    std::fs::remove_dir_all(truncated.join("checkpoints")).unwrap();

    // Tampered: a checkpoint whose size was edited, so its signature no longer holds.
    let tampered = tmp.join("tampered");
    copy_dir(&log, &tampered);
    let note = tampered.join("checkpoints/checkpoint-00000000000000000010.note");
    let text = std::fs::read_to_string(&note).unwrap();
    std::fs::write(&note, text.replacen("\n10\n", "\n11\n", 1)).unwrap();

    let bundle = tmp.join("bundle.json");
    let out = run(&[
        "bundle",
        "--wal",
        log.to_str().unwrap(),
        "--seq",
        "3..8",
        "--output",
        bundle.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    json["entries"].as_array_mut().unwrap().remove(1);
    let bundle_dropped = tmp.join("bundle-dropped.json");
    std::fs::write(&bundle_dropped, json.to_string()).unwrap();

    let existing = tmp.join("existing.txt");
    std::fs::write(&existing, b"the user's").unwrap();
    let key_prefix = tmp.join("keys");
    let k = key_prefix.to_str().unwrap();
    assert_eq!(run(&["keygen", "--name", "x.example/k", "--out", k]).status.code(), Some(0));
    Fixture {
        _tmp: tmp_dir,
        tmp,
        log,
        damaged,
        truncated,
        external_checkpoint,
        tampered,
        bundle,
        bundle_dropped,
        existing,
        key_prefix,
    }
}

/// One scenario per documented (command, code): the arguments that must exit with it.
fn scenarios(f: &Fixture) -> Vec<(&'static str, i32, Vec<String>)> {
    let p = |p: &Path| p.display().to_string();
    let (log, key) = (p(&f.log), vkey());
    let stranger = mtlog_audit::integrity::note::Signer::from_seed("audit.example/cli", [8; 32])
        .unwrap()
        .verifier()
        .to_vkey();
    let new = |name: &str| p(&f.tmp.join(name));
    let not_a_file = p(&f.existing.join("log"));
    let s = |words: &[&str]| words.iter().map(|w| (*w).to_owned()).collect::<Vec<String>>();
    let quick_bench = ["bench", "--duration", "10ms", "--concurrency", "1", "--event-size", "64B"];
    vec![
        ("verify", 0, s(&["verify", "--wal", &log, "--key", &key])),
        ("verify", 1, s(&["verify", "--wal", &p(&f.damaged)])),
        ("verify", 2, s(&["verify"])),
        ("verify", 3, s(&["verify", "--wal", &new("nothing-here")])),
        ("verify", 4, s(&["verify", "--wal", &p(&f.tampered), "--key", &key])),
        (
            "verify",
            5,
            s(&[
                "verify",
                "--wal",
                &p(&f.truncated),
                "--key",
                &key,
                "--checkpoint",
                &p(&f.external_checkpoint),
            ]),
        ),
        ("verify", 6, s(&["verify", "--wal", &log, "--key", &stranger])),
        ("keygen", 0, s(&["keygen", "--name", "x.example/k", "--out", &new("k2")])),
        ("keygen", 2, s(&["keygen", "--out", &new("k3")])),
        ("keygen", 3, s(&["keygen", "--name", "x.example/k", "--out", &p(&f.key_prefix)])),
        ("prove", 0, s(&["prove", "--wal", &log, "--seq", "7"])),
        ("prove", 2, s(&["prove", "--seq", "7"])),
        ("prove", 3, s(&["prove", "--wal", &log, "--seq", "21"])),
        ("bundle", 0, s(&["bundle", "--wal", &log, "--seq", "1..2", "--output", &new("b2")])),
        ("bundle", 2, s(&["bundle", "--wal", &log, "--seq", "1..2"])),
        ("bundle", 3, s(&["bundle", "--wal", &log, "--seq", "1..2", "--output", &p(&f.existing)])),
        ("verify-bundle", 0, s(&["verify-bundle", "--bundle", &p(&f.bundle), "--key", &key])),
        ("verify-bundle", 2, s(&["verify-bundle", "--key", &key])),
        ("verify-bundle", 3, s(&["verify-bundle", "--bundle", &new("none.json"), "--key", &key])),
        (
            "verify-bundle",
            4,
            s(&["verify-bundle", "--bundle", &p(&f.bundle_dropped), "--key", &key]),
        ),
        ("verify-bundle", 6, s(&["verify-bundle", "--bundle", &p(&f.bundle), "--key", &stranger])),
        ("replay", 0, s(&["replay", "--wal", &log, "--seq", "2..4"])),
        ("replay", 1, s(&["replay", "--wal", &p(&f.damaged)])),
        ("replay", 2, s(&["replay", "--wal", &log, "--output", "yaml"])),
        ("replay", 3, s(&["replay", "--wal", &log, "--seq", "1000..2000"])),
        ("export", 0, s(&["export", "--wal", &log, "--format", "csv", "--output", &new("e.csv")])),
        (
            "export",
            1,
            s(&[
                "export",
                "--wal",
                &p(&f.damaged),
                "--format",
                "jsonl",
                "--output",
                &new("d.jsonl"),
            ]),
        ),
        ("export", 2, s(&["export", "--wal", &log, "--output", &new("e2.csv")])),
        (
            "export",
            3,
            s(&[
                "export",
                "--wal",
                &log,
                "--format",
                "csv",
                "--filter",
                "level >= EROR",
                "--output",
                &new("e3.csv"),
            ]),
        ),
        ("recover", 0, s(&["recover", "--input", &log, "--output", &new("r0")])),
        ("recover", 1, s(&["recover", "--input", &p(&f.damaged), "--output", &new("r1")])),
        ("recover", 2, s(&["recover", "--input", &log])),
        ("recover", 3, s(&["recover", "--input", &log, "--output", &p(&f.damaged)])),
        ("stats", 0, s(&["stats", "--wal", &log])),
        ("stats", 2, s(&["stats", "--wal"])),
        ("stats", 3, s(&["stats", "--wal", &p(&f.tmp)])),
        ("monitor", 0, s(&["monitor", "--wal", &log, "--interval-ms", "10", "--max-seconds", "0"])),
        ("monitor", 2, s(&["monitor", "--wal", &log, "--interval-ms", "often"])),
        ("monitor", 3, s(&["monitor", "--wal", &p(&f.tmp), "--max-seconds", "0"])),
        (
            "bench",
            0,
            [&quick_bench[..], &["--dir", &p(&f.tmp)]]
                .concat()
                .iter()
                .map(|w| w.to_string())
                .collect(),
        ),
        ("bench", 2, s(&["bench", "--concurrency", "many"])),
        ("bench", 3, s(&["bench", "--duration", "forever"])),
        (
            "torture",
            0,
            s(&["torture", "--seeds", "1", "--jobs", "1", "--no-report", "--no-coverage-gate"]),
        ),
        (
            "torture",
            1,
            s(&[
                "torture",
                "--real",
                "--iterations",
                "1",
                "--no-progress",
                "--real-dir",
                &not_a_file,
            ]),
        ),
        ("torture", 2, s(&["torture", "--no-such-flag"])),
        ("serve", 2, s(&["serve", "--data", &new("served")])),
        (
            "serve",
            3,
            s(&[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data",
                &new("served"),
                "--api-key",
                "short:t",
            ]),
        ),
    ]
}

#[test]
fn every_command_exits_with_each_documented_code_and_no_other() {
    let f = fixture();
    let scenarios = scenarios(&f);
    let tested: BTreeSet<(String, i32)> =
        scenarios.iter().map(|(c, code, _)| ((*c).to_owned(), *code)).collect();
    let documented = documented();
    let untested: Vec<_> = documented.difference(&tested).collect();
    let undocumented: Vec<_> = tested.difference(&documented).collect();
    assert!(untested.is_empty(), "documented in docs/cli.md, never tested: {untested:?}");
    assert!(undocumented.is_empty(), "tested, not in docs/cli.md's table: {undocumented:?}");
    for (command, code, args) in &scenarios {
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&words);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{command} {args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(*code), "{command} {args:?}: {}", shown(&out));
    }
}
