//! The command line refuses what cannot run, at once, and shards and merges through files.

use std::process::Command;

fn torture(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_torture")).args(args).output().unwrap()
}

#[test]
fn empty_overflowing_or_absurd_ranges_are_usage_errors_at_once() {
    for (args, says) in [
        (&["--seeds", "0"][..], "--seeds 0"),
        (&["--start", "18446744073709551615", "--seeds", "2"], "past the last seed"),
        (&["--start", "0xfffffffffffffff0", "--seeds", "1000"], "at most 16 seeds"),
        (&["--seeds", "18446744073709551615"], "more than the"),
        (&["--seeds", "10", "--shard", "10/10"], "I must be below N"),
        (&["--seeds", "3", "--shard", "0/4"], "more shards than seeds"),
        (&["--jobs", "0"], "--jobs"),
        (&["determinism", "--seeds", "0"], "--seeds 0"),
        (&["canaries", "--start", "18446744073709551615", "--seeds", "5"], "past the last seed"),
    ] {
        let out = torture(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn two_shards_through_files_merge_into_the_whole_range() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = |name: &str| tmp.path().join(name).to_str().unwrap().to_owned();
    for shard in ["0/2", "1/2"] {
        let report = dir(&format!("shard-{}", &shard[..1]));
        let out = torture(&[
            "--seeds",
            "120",
            "--start",
            "7",
            "--shard",
            shard,
            "--report",
            &report,
            "--no-determinism",
            "--no-progress",
            "--jobs",
            "1",
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = torture(&["merge", &dir("shard-1"), &dir("shard-0"), "--report", &dir("merged")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("verdict: PASS (120 runs in 2 shards"), "{stdout}");
    let json = std::fs::read_to_string(tmp.path().join("merged/report.json")).unwrap();
    let merged: mtlog_audit_reports::Report = serde_json::from_str(&json).unwrap();
    assert_eq!((merged.start, merged.seeds, merged.runs), (7, 120, 120));
    assert!(tmp.path().join("merged/report.html").exists());

    // One shard alone is not the range it claims to be part of, but it is a range: merging it
    // with itself is refused.
    let out = torture(&["merge", &dir("shard-0"), &dir("shard-0")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("do not follow each other"));
}
