//! Real processes, real SIGKILL: the test binary re-executes itself as a writer that reports
//! every acknowledged event over a pipe; the parent kills it at random moments, reopens the log
//! and checks that every acknowledged event is there, byte-identical, and nothing else is.
//!
//! This covers process crash only (the page cache survives); power loss belongs to the
//! simulator. Iterations: `MTLOG_AUDIT_CRASH_ITERATIONS` (default 50).

#![allow(clippy::disallowed_methods)] // Real processes, real time: that is the point here.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use mtlog_audit::{EventId, Level, Options, Reader, Sink};

const CHILD_ENV: &str = "MTLOG_AUDIT_CRASH_CHILD";
const TEST_NAME: &str = "sigkill_at_random_moments_loses_no_acknowledged_event";

fn options(dir: &Path) -> Options {
    // Small segments, so kills land during rotation and preparation too.
    Options::new(dir).segment_bytes(64 << 10)
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_event() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    let iterations: u64 = std::env::var("MTLOG_AUDIT_CRASH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("MTLOG_AUDIT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_c0de);
    println!("crash test: {iterations} iterations, seed {seed} (MTLOG_AUDIT_CRASH_SEED to replay)");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let mut rng = seed;
    let mut base_us = 2_000u64;
    let mut productive = 0u64;
    // Every acknowledged event over all iterations: seq -> event id.
    let mut acked: BTreeMap<u64, EventId> = BTreeMap::new();
    // Every event a child handed to emit: id -> (thread, index), from which its content follows.
    let mut tried: BTreeMap<EventId, (u64, u64)> = BTreeMap::new();
    for iteration in 0..iterations {
        // A child must live long enough to start (exec, open, recover) before the kill can land
        // in its writes; on a loaded machine that takes longer, so the base delay adapts.
        let delay_us = base_us + next(&mut rng) % 40_000;
        let (new_acks, new_tried) = run_child_and_kill(&dir, Duration::from_micros(delay_us));
        if new_acks.is_empty() {
            base_us = (base_us * 2).min(2_000_000);
        } else {
            productive += 1;
        }
        for (seq, id) in new_acks {
            if let Some(old) = acked.insert(seq, id) {
                panic!("iteration {iteration}: seq {seq} acknowledged twice ({old} and {id})");
            }
        }
        tried.extend(new_tried);
        check(&dir, &acked, &tried, iteration);
    }
    assert!(
        productive * 2 >= iterations,
        "only {productive} of {iterations} children acknowledged anything before the kill"
    );
}

/// Reopens the log (recovering it) and checks it against what the children reported.
fn check(
    dir: &Path,
    acked: &BTreeMap<u64, EventId>,
    tried: &BTreeMap<EventId, (u64, u64)>,
    iteration: u64,
) {
    let sink = Sink::open(options(dir))
        .unwrap_or_else(|e| panic!("iteration {iteration}: recovery failed: {e}"));
    let report = sink.recovery_report().clone();
    sink.close().unwrap();
    drop(sink);
    let reader = Reader::open(dir).unwrap();
    assert!(
        reader.verify_integrity().is_valid(),
        "iteration {iteration}: {:?}",
        reader.verify_integrity()
    );
    let mut seq_expected = 1;
    let mut found = BTreeMap::new();
    for stored in reader.replay(1..=u64::MAX).unwrap() {
        let stored = stored.unwrap();
        assert_eq!(stored.seq, seq_expected, "iteration {iteration}: seq gap or reorder");
        seq_expected += 1;
        // No phantoms: everything recovered was handed to emit by some child, and it is
        // byte-identical to what was handed over (content follows from thread and index).
        let Some(&(t, i)) = tried.get(&stored.event.id) else {
            panic!("iteration {iteration}: phantom event {}", stored.event.id);
        };
        assert_eq!(stored.event.template, "t{T} i{I}");
        assert_eq!(stored.event.message, format!("t{t} i{i}"), "iteration {iteration}");
        assert_eq!(stored.event.property("T"), Some(&mtlog_audit::Value::U64(t)));
        assert_eq!(stored.event.property("I"), Some(&mtlog_audit::Value::U64(i)));
        found.insert(stored.seq, stored.event.id);
    }
    assert_eq!(seq_expected, report.seq_next, "iteration {iteration}: report head");
    for (seq, id) in acked {
        assert_eq!(found.get(seq), Some(id), "iteration {iteration}: acknowledged seq {seq} lost");
    }
}

/// Starts a writer child, lets it run for `delay`, SIGKILLs it, and returns what it reported.
type Reported = (Vec<(u64, EventId)>, Vec<(EventId, (u64, u64))>);

fn run_child_and_kill(dir: &Path, delay: Duration) -> Reported {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut acks = Vec::new();
        let mut tried = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The test harness prints "test NAME ... " without a newline before the child's
            // first line: start at the marker.
            let start = line.find("try ").or_else(|| line.find("ack ")).unwrap_or(0);
            let parts: Vec<&str> = line[start..].split(' ').collect();
            match parts[..] {
                ["try", id, t, i] => {
                    tried.push((id.parse().unwrap(), (t.parse().unwrap(), i.parse().unwrap())))
                }
                ["ack", seq, id] => acks.push((seq.parse().unwrap(), id.parse().unwrap())),
                _ => {} // a line cut by the kill, or the test harness's own output
            }
        }
        (acks, tried)
    });
    std::thread::sleep(delay);
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    reader.join().unwrap()
}

/// The child: four threads emitting until killed, printing `try ID T I` before each emit and
/// `ack SEQ ID` after each acknowledgement. Lines are written whole under the stdout lock.
fn child(dir: &Path) {
    let sink = Sink::open(options(dir)).expect("child open");
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let sink = &sink;
            s.spawn(move || {
                for i in 0..1_000_000u64 {
                    let ev = sink
                        .event(Level::Information, "t{T} i{I}")
                        .with("T", t)
                        .with("I", i)
                        .build();
                    println_locked(&format!("try {} {t} {i}", ev.id));
                    let r = sink.emit(&ev).expect("child emit");
                    println_locked(&format!("ack {} {}", r.seq, ev.id));
                }
            });
        }
    });
}

fn println_locked(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn next(state: &mut u64) -> u64 {
    // SplitMix64: a seeded, reproducible schedule of kill delays.
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
