//! Real processes, real SIGKILL (issue 4, point 5): `torture --real` kills 50 writer children
//! at seeded moments and checks I1-I4 against what they acknowledged over a pipe after every
//! kill. `torture --real --iterations 10000` runs the long version (README).

#![allow(clippy::disallowed_methods)] // A real file to block the log directory.

#[test]
fn fifty_sigkilled_writers_lose_no_acknowledged_event() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_torture"))
        .args(["--real", "--iterations", "50", "--no-progress"])
        .output()
        .expect("the torture binary runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("verdict: PASS (real: 50 kills"), "{text}");
    // The run checked something: most children acknowledged events before their kill.
    let acked: u64 = text
        .split(" events acknowledged")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(acked > 0, "{text}");
}

#[test]
fn a_missing_log_directory_parent_is_a_clear_failure_not_a_panic() {
    // The children cannot create their log under a regular file: the run fails, typed.
    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("plain-file");
    std::fs::write(&file, b"x").expect("write");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_torture"))
        .args(["--real", "--iterations", "2", "--no-progress", "--real-dir"])
        .arg(file.join("log"))
        .output()
        .expect("the torture binary runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("verdict: FAIL (real)"), "{text}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}
