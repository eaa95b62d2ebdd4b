//! Nothing of the user's is destroyed (issue 19: 1, 2, 9, 12, 13): no command deletes or
//! overwrites a file it did not create. Outputs that exist are refused without `--force`,
//! nothing is written inside the log directory being read, and scratch directories are made
//! fresh and removed only by what made them.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::path::Path;

use common::{first_segment, make_log, run, shown, signed_log, snapshot, vkey};

/// The quickest bench run: the smallest duration, event size and concurrency accepted.
const QUICK: [&str; 7] =
    ["bench", "--duration", "10ms", "--concurrency", "1", "--event-size", "64B"];

/// Files in `dir` a bench run would have left: its own scratch directories.
fn bench_leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("mtlog-audit-bench"))
        .collect()
}

#[test]
fn bench_keeps_whatever_its_directory_held_and_removes_only_its_own() {
    // Regression: `bench --dir X` removed X recursively at the end, and `bench --dir .`
    // emptied the working directory; without --dir it removed ./mtlog-audit-bench, whoever
    // made it. Method: directories holding files bench must not touch, including names it
    // used for its own scratch ("raw", "sink", "mtlog-audit-bench"), then the three ways to
    // point bench at a directory.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mine");
    for sub in ["raw", "sink", "mtlog-audit-bench"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        std::fs::write(dir.join(sub).join("precious.txt"), sub).unwrap();
    }
    std::fs::write(dir.join("notes.txt"), b"keep me").unwrap();
    let before = snapshot(&dir);

    let mut args = QUICK.to_vec();
    args.extend(["--dir", dir.to_str().unwrap()]);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert_eq!(snapshot(&dir), before, "bench --dir DIR changed what DIR held");

    for extra in [&["--dir", "."][..], &[][..]] {
        let out = common::binary().args(QUICK).args(extra).current_dir(&dir).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", shown(&out));
        assert_eq!(snapshot(&dir), before, "bench {extra:?} in DIR changed what DIR held");
    }
    assert_eq!(bench_leftovers(&dir), ["mtlog-audit-bench"], "only the user's own is left");
}

#[test]
fn bench_on_a_failing_disk_and_with_absurd_sizes_exits_3_without_a_panic() {
    // Regression: bench panicked when the disk filled (the zero-fill's `expect`), and an
    // event size of 2^54 KB overflowed `n * 1024`. Method: the file size limit (`ulimit -f`,
    // with SIGXFSZ ignored) makes the first large write fail as a full disk would, with an
    // errno instead of a panic; the size is given as text.
    let tmp = tempfile::tempdir().unwrap();
    let script = r#"trap "" XFSZ; ulimit -f 1024; exec "$0" "$@""#;
    let out = std::process::Command::new("sh")
        .args(["-c", script, env!("CARGO_BIN_EXE_mtlog-audit")])
        .args(QUICK)
        .args(["--dir", tmp.path().to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("error: raw fdatasync"), "{stderr}");
    assert!(bench_leftovers(tmp.path()).is_empty(), "bench removes its own directory on error");

    for size in ["18014398509481984KB", "99999999999999999999999B", "0KB", "1GB"] {
        let out = run(&["bench", "--duration", "10ms", "--event-size", size]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{size}: {}", shown(&out));
        assert!(stderr.contains(&format!("--event-size {size}: expected")), "{stderr}");
    }
}

#[test]
fn export_refuses_a_segment_of_its_own_log_or_any_existing_file_unless_forced() {
    // Regression: `export --output` overwrote any file, a segment of the log being read
    // included: the export reported success and the log no longer verified.
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    make_log(&log, 12, None);
    let d = log.to_str().unwrap();
    let log_before = snapshot(&log);
    let export = |output: &Path, force: bool| {
        let mut args = vec!["export", "--wal", d, "--format", "jsonl"];
        args.extend(["--output", output.to_str().unwrap()]);
        if force {
            args.push("--force");
        }
        run(&args)
    };

    for force in [false, true] {
        let out = export(&first_segment(&log), force);
        assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("inside the log directory"));
        let out = export(&log.join("new.jsonl"), force);
        assert_eq!(out.status.code(), Some(3), "a new file in the log too: {}", shown(&out));
    }
    assert_eq!(snapshot(&log), log_before, "the log directory is as it was");
    assert_eq!(run(&["verify", "--wal", d]).status.code(), Some(0));

    let mine = tmp.path().join("mine.jsonl");
    std::fs::write(&mine, b"my own data\n").unwrap();
    let out = export(&mine, false);
    assert_eq!(out.status.code(), Some(3), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give --force"), "{}", shown(&out));
    assert_eq!(std::fs::read(&mine).unwrap(), b"my own data\n");
    let out = export(&mine, true);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert_eq!(std::fs::read_to_string(&mine).unwrap().lines().count(), 12);

    let fresh = tmp.path().join("fresh.jsonl");
    assert_eq!(export(&fresh, false).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&fresh).unwrap().lines().count(), 12);
}

#[test]
fn bundle_refuses_the_log_directory_and_existing_files_unless_forced() {
    let (tmp, log) = signed_log();
    let d = log.to_str().unwrap();
    let log_before = snapshot(&log);
    let bundle = |output: &Path, force: bool| {
        let mut args = vec!["bundle", "--wal", d, "--seq", "3..8"];
        args.extend(["--output", output.to_str().unwrap()]);
        if force {
            args.push("--force");
        }
        run(&args)
    };
    for force in [false, true] {
        let latest = log.join("checkpoints/latest");
        for output in [first_segment(&log), latest, log.join("bundle.json")] {
            let out = bundle(&output, force);
            assert_eq!(out.status.code(), Some(3), "{output:?}: {}", shown(&out));
        }
    }
    assert_eq!(snapshot(&log), log_before, "the log directory is as it was");

    let mine = tmp.path().join("evidence.json");
    std::fs::write(&mine, b"older evidence").unwrap();
    assert_eq!(bundle(&mine, false).status.code(), Some(3));
    assert_eq!(std::fs::read(&mine).unwrap(), b"older evidence");
    assert_eq!(bundle(&mine, true).status.code(), Some(0));
    let m = mine.to_str().unwrap();
    let out = run(&["verify-bundle", "--bundle", m, "--key", &vkey()]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
}

#[test]
fn torture_real_refuses_a_directory_that_already_holds_a_log() {
    // Regression: `torture --real --real-dir LOG` recovered and appended to the user's log,
    // then reported one of its events as a phantom, as if the library were broken.
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    make_log(&log, 12, None);
    let before = snapshot(&log);
    let l = log.to_str().unwrap();
    let out = run(&["torture", "--real", "--iterations", "1", "--no-progress", "--real-dir", l]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(stderr.contains("is not empty"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("phantom"), "{}", shown(&out));
    assert_eq!(snapshot(&log), before, "the user's log is as it was");
}

#[test]
fn recover_never_writes_inside_the_log_it_salvages() {
    // Regression: `recover --input LOG --output LOG/salvaged` created a new log inside the
    // one being read. Method: outputs inside the input, directly, nested and through `..`.
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    make_log(&log, 12, None);
    let before = snapshot(&log);
    let l = log.to_str().unwrap();
    let nested = log.join("a/b");
    let climbing = log.join("new/../x");
    for output in [log.join("salvaged"), nested, climbing, log.clone()] {
        let out = run(&["recover", "--input", l, "--output", output.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(3), "{output:?}: {}", shown(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("inside the log directory"));
    }
    assert_eq!(snapshot(&log), before, "the log directory is as it was");
    let beside = tmp.path().join("salvaged");
    let out = run(&["recover", "--input", l, "--output", beside.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
}

#[test]
fn reading_commands_leave_the_log_directory_as_it_was() {
    // The invariant behind the refusals above: every command that reads a log, run on it with
    // its outputs elsewhere, leaves every file of the log byte for byte as it was.
    let (tmp, log) = signed_log();
    let before = snapshot(&log);
    let d = log.to_str().unwrap();
    let out_file = |name: &str| tmp.path().join(name).display().to_string();
    let commands: Vec<Vec<String>> = vec![
        vec!["verify".into(), "--wal".into(), d.into(), "--key".into(), vkey()],
        vec!["stats".into(), "--wal".into(), d.into()],
        vec!["replay".into(), "--wal".into(), d.into()],
        vec!["prove".into(), "--wal".into(), d.into(), "--seq".into(), "3".into()],
        vec!["monitor".into(), "--wal".into(), d.into(), "--max-seconds".into(), "0".into()],
        ["export", "--wal", d, "--format", "csv", "--output", &out_file("e.csv")]
            .map(String::from)
            .to_vec(),
        ["bundle", "--wal", d, "--seq", "1..4", "--output", &out_file("b.json")]
            .map(String::from)
            .to_vec(),
        ["recover", "--input", d, "--output", &out_file("r")].map(String::from).to_vec(),
    ];
    for args in &commands {
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&words);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", shown(&out));
        assert_eq!(snapshot(&log), before, "{args:?} changed the log directory");
    }
}
