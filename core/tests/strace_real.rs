//! The real disk really syncs: run a writer under `strace` and check, from the system calls
//! themselves, that
//! - before every acknowledgement, each segment file written since its last sync was
//!   fdatasynced (the unsynced 96-byte commit marker excepted: it is written after the sync on
//!   purpose, and only tells readers what is already durable);
//! - every file is fdatasynced before it is renamed into place (a `.prep` segment's header and
//!   zeros, a quarantine file's bytes);
//! - every rename in the log directory is followed by an fsync of the directory before the
//!   renamed file is written to (segment files are created under a `.prep` name and only ever
//!   become visible by rename).
//!
//! A SIGKILL test cannot tell a real sync from none; this can. `.ci/run` installs strace; set
//! `MTLOG_AUDIT_SKIP_STRACE=1` to skip on a machine without it.

#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::Command;

use mtlog_audit::{Level, Options, Sink};

const CHILD_ENV: &str = "MTLOG_AUDIT_STRACE_CHILD";
const TEST_NAME: &str = "every_ack_follows_an_fdatasync_and_every_rename_a_directory_fsync";
const COMMIT_MARKER_LEN: u64 = 96;

#[test]
fn every_ack_follows_an_fdatasync_and_every_rename_a_directory_fsync() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        child(Path::new(&dir));
        return;
    }
    if std::env::var("MTLOG_AUDIT_SKIP_STRACE").is_ok() {
        println!("skipped: MTLOG_AUDIT_SKIP_STRACE is set");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let trace = tmp.path().join("trace.txt");
    let status = Command::new("strace")
        .args(["-f", "-qq", "-s", "200", "-o"])
        .arg(&trace)
        .args(["-e", "trace=openat,pwrite64,write,fdatasync,fsync,rename,renameat,renameat2,close"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, &dir)
        .status()
        .expect("strace is required (apt-get install strace), or set MTLOG_AUDIT_SKIP_STRACE=1");
    assert!(status.success(), "traced writer failed: {status}");
    let text = std::fs::read_to_string(&trace).unwrap();
    let summary = check_trace(&text, dir.to_str().unwrap());
    println!("{summary:?}");
    assert_eq!(summary.acks, 300);
    assert!(summary.renames >= 5, "expected rotations: {summary:?}");
    assert!(summary.dir_fsyncs >= summary.renames);
}

#[derive(Debug, Default)]
struct Summary {
    acks: usize,
    fdatasyncs: usize,
    renames: usize,
    dir_fsyncs: usize,
}

/// Replays the trace, asserting the two rules. Returns counts, so the test can also insist
/// that there was something to check.
fn check_trace(text: &str, dir: &str) -> Summary {
    let mut summary = Summary::default();
    let mut fds: BTreeMap<i64, String> = BTreeMap::new();
    let mut dirty: BTreeSet<i64> = BTreeSet::new(); // segment fds with unsynced record writes
    let mut unsynced: BTreeSet<i64> = BTreeSet::new(); // any fd with unsynced writes
    let mut undurable_names: BTreeSet<String> = BTreeSet::new(); // renamed, dir not yet fsynced
    let mut pending: BTreeMap<String, String> = BTreeMap::new(); // pid -> unfinished line
    for raw in text.lines() {
        // "PID  call(...)": strace pads short pids with extra spaces.
        let (pid, rest) = raw.split_once(' ').unwrap_or(("", raw));
        let rest = rest.trim_start();
        let line = if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(pid.to_owned(), head.to_owned());
            continue;
        } else if let Some(i) = rest.find(" resumed>") {
            let head = pending.remove(pid).unwrap_or_default();
            format!("{head}{}", &rest[i + " resumed>".len()..])
        } else {
            rest.to_owned()
        };
        let Some((call, args, result)) = parse(&line) else { continue };
        if result < 0 {
            continue;
        }
        match call {
            "openat" => {
                if let Some(path) = quoted(args) {
                    assert!(
                        !undurable_names.contains(&path),
                        "{path} opened before its directory entry was fsynced"
                    );
                    fds.insert(result, path);
                }
            }
            "close" => {
                if let Ok(fd) = args.trim().parse::<i64>() {
                    fds.remove(&fd);
                    dirty.remove(&fd);
                    unsynced.remove(&fd);
                }
            }
            "pwrite64" => {
                let fd = first_int(args);
                let len = nth_int(args, 2);
                let path = fds.get(&fd).cloned().unwrap_or_default();
                assert!(!undurable_names.contains(&path), "write to {path} before dir fsync");
                if path.ends_with(".wal") && len != Some(COMMIT_MARKER_LEN) {
                    dirty.insert(fd);
                }
                unsynced.insert(fd);
            }
            "fdatasync" | "fsync" => {
                let fd = first_int(args);
                let path = fds.get(&fd).cloned().unwrap_or_default();
                dirty.remove(&fd);
                unsynced.remove(&fd);
                summary.fdatasyncs += usize::from(call == "fdatasync");
                if path == dir || path.ends_with("/quarantine") {
                    summary.dir_fsyncs += 1;
                    undurable_names.retain(|n| !n.starts_with(&format!("{path}/")));
                }
            }
            "rename" | "renameat" | "renameat2" => {
                let names: Vec<&str> = args.split('"').skip(1).step_by(2).collect();
                if let Some(from) = names.first() {
                    // A file is renamed into place only once its content is durable.
                    let open_unsynced =
                        unsynced.iter().any(|fd| fds.get(fd).map(String::as_str) == Some(*from));
                    assert!(!open_unsynced, "{from} renamed with unsynced writes");
                }
                if let Some(to) = names.get(1) {
                    if to.starts_with(dir) {
                        summary.renames += 1;
                        undurable_names.insert((*to).to_owned());
                    }
                }
            }
            "write" if first_int(args) == 1 && args.contains("ack ") => {
                summary.acks += 1;
                assert!(
                    dirty.is_empty(),
                    "ack #{} with unsynced segment writes on fds {dirty:?} ({:?})",
                    summary.acks,
                    dirty.iter().map(|fd| fds.get(fd)).collect::<Vec<_>>()
                );
            }
            _ => {}
        }
    }
    summary
}

/// `call(args) = result` → parts; `None` for lines that are not a completed call.
fn parse(line: &str) -> Option<(&str, &str, i64)> {
    // strace pads the result column: "fsync(5)        = 0".
    let open = line.find('(')?;
    let eq = line.rfind(" = ")?;
    let close = line[..eq].rfind(')')?;
    let result = line[eq + 3..].split_whitespace().next()?.parse().ok()?;
    Some((&line[..open], &line[open + 1..close], result))
}

fn quoted(args: &str) -> Option<String> {
    args.split('"').nth(1).map(str::to_owned)
}

fn first_int(args: &str) -> i64 {
    nth_int(args, 0).map_or(-1, |v| v as i64)
}

fn nth_int(args: &str, n: usize) -> Option<u64> {
    // Strings can contain commas; drop the quoted part first.
    let mut out = String::new();
    let mut in_quote = false;
    let mut escaped = false;
    for c in args.chars() {
        match (in_quote, escaped, c) {
            (true, false, '\\') => escaped = true,
            (true, true, _) => escaped = false,
            (_, false, '"') => in_quote = !in_quote,
            (false, _, c) => out.push(c),
            _ => {}
        }
    }
    out.split(',').nth(n)?.trim().trim_end_matches("...").parse().ok()
}

fn child(dir: &Path) {
    let sink = Sink::open(Options::new(dir).segment_bytes(16 << 10)).expect("open");
    let mut out = std::io::stdout().lock();
    for i in 0..300u64 {
        let r = sink
            .event(Level::Information, "event {I}")
            .with("I", i)
            .with("Pad", "x".repeat(200))
            .emit()
            .expect("emit");
        // One write(2) per ack, so strace shows exactly where each acknowledgement happened.
        let _ = out.write_all(format!("\nack {}\n", r.seq).as_bytes());
        let _ = out.flush();
    }
    sink.close().expect("close");
}
