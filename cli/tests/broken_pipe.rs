//! A closed stdout pipe (`mtlog-audit verify | head -1`) ends a command quietly, with the exit
//! code it would have had (issue 19: 8). Method: the binary's stdout is the write end of a pipe
//! whose read end is closed before the binary starts, so its first write fails with EPIPE,
//! every time (a reader that closes "soon" would race with the writes).

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

mod common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{binary, damaged_copy, make_log, shown, signed_log, vkey};

/// Runs `command` with its stdout a pipe nobody reads; returns its output (stdout empty).
fn with_closed_stdout(mut command: Command) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    command.stdout(writer).stderr(Stdio::piped()).output().unwrap()
}

fn quiet_exit(args: &[&str], code: i32) {
    let mut command = binary();
    command.args(args);
    let out = with_closed_stdout(command);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    assert_eq!(out.status.code(), Some(code), "{args:?}: {}", shown(&out));
}

#[test]
fn verify_prove_replay_and_stats_end_quietly_with_their_own_exit_code() {
    let (tmp, log) = signed_log();
    let d = log.to_str().unwrap();
    let damaged = tmp.path().join("damaged");
    damaged_copy(&log, &damaged);
    let key = vkey();
    quiet_exit(&["verify", "--wal", d], 0);
    quiet_exit(&["verify", "--wal", d, "--key", &key], 0);
    quiet_exit(&["verify", "--wal", damaged.to_str().unwrap()], 1);
    quiet_exit(&["verify", "--wal", damaged.to_str().unwrap(), "--json"], 1);
    quiet_exit(&["prove", "--wal", d, "--seq", "7"], 0);
    quiet_exit(&["replay", "--wal", d], 0);
    quiet_exit(&["stats", "--wal", d], 0);
    quiet_exit(&["verify-bundle", "--bundle", "/nonexistent", "--key", &key, "--json"], 3);
}

#[test]
fn monitor_stops_quietly_when_nobody_reads_its_output() {
    // Regression: monitor panicked on the first event it printed into a closed pipe. Method:
    // monitor follows a log with a closed stdout; events are appended; it must end by itself
    // (well before --max-seconds) with exit 0 and no panic.
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("log");
    make_log(&log, 3, None);
    let mut command = binary();
    command.args(["monitor", "--wal", log.to_str().unwrap(), "--interval-ms", "20"]);
    command.args(["--max-seconds", "120"]);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = command.stdout(writer).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let sink = mtlog_audit::Sink::open(mtlog_audit::Options::new(&log)).unwrap();
    sink.event(mtlog_audit::Level::Information, "After {N}").with("N", 1).emit().unwrap();
    sink.close().unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "monitor did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
}

#[test]
fn a_stdout_that_fails_otherwise_is_an_error_not_a_success() {
    // Not a pipe: /dev/full fails every write with ENOSPC, as a full disk under `> file`
    // would. The output is lost, so the command must not exit 0.
    let (_tmp, log) = signed_log();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let out = binary()
        .args(["replay", "--wal", log.to_str().unwrap()])
        .stdout(full)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("writing to standard output"), "{stderr}");
}
