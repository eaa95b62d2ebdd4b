//! `mtlog-audit serve` driven by Seq clients no one here wrote: npm's seq-logging, winston with
//! Datalust's `@datalust/winston-seq` transport, and PyPI's seqlog (both of its body shapes), each installed from its registry at a pinned version by
//! `.ci/serve-clients.sh`. Each client sends events and exits 0 only once it saw them accepted;
//! the server is then SIGKILLed, and every event the client saw accepted must be in the log.
//!
//! The clients live in `target/serve-clients` (or `$MTLOG_AUDIT_SERVE_CLIENTS`); the first run
//! installs them. Without node, npm or python3 (or without the registries), set
//! `MTLOG_AUDIT_SKIP_CLIENTS=1` to skip.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use mtlog_audit::event::Value;
use mtlog_audit::{Level, Reader};

const KEY: &str = "clients-0123456789abcdef";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The installed clients, or `None` when skipping was asked for.
fn clients() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if std::env::var_os("MTLOG_AUDIT_SKIP_CLIENTS").is_some() {
            eprintln!("MTLOG_AUDIT_SKIP_CLIENTS is set: the real-client tests are skipped");
            return None;
        }
        let dir = std::env::var_os("MTLOG_AUDIT_SERVE_CLIENTS")
            .map_or_else(|| workspace().join("target/serve-clients"), PathBuf::from);
        let status = Command::new("bash")
            .arg(workspace().join(".ci/serve-clients.sh"))
            .arg(&dir)
            .status()
            .expect("bash runs .ci/serve-clients.sh");
        assert!(
            status.success(),
            ".ci/serve-clients.sh {} failed: it needs node, npm, python3 (venv) and the npm and \
             PyPI registries; set MTLOG_AUDIT_SKIP_CLIENTS=1 to skip these tests",
            dir.display()
        );
        Some(dir)
    })
    .as_deref()
}

/// Starts a server, runs the client `client(url, key, count)` builds against it, SIGKILLs the
/// server once the client is done, and returns the tenant's events.
fn run_client(
    count: usize,
    client: impl Fn(&str, &str, usize) -> Command,
) -> Vec<mtlog_audit::StoredEvent> {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_mtlog-audit"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(tmp.path())
        .args(["--api-key", &format!("{KEY}:svc")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap().to_owned();
    let out = client(&url, KEY, count).output().unwrap();
    server.kill().unwrap(); // SIGKILL right after the client saw success
    server.wait().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("shipped {count}")),
        "client: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = Reader::open(tmp.path().join("svc")).unwrap();
    reader.replay(1..=u64::MAX).unwrap().map(|e| e.unwrap()).collect()
}

/// Every payment `p-0` .. `p-{count-1}` is in the log once, with its amount and level.
fn assert_payments(events: &[mtlog_audit::StoredEvent], count: usize, template: &str) {
    assert_eq!(events.len(), count);
    for (n, stored) in events.iter().enumerate() {
        let e = &stored.event;
        assert_eq!(e.template, template);
        assert_eq!(e.property("PaymentId"), Some(&Value::Str(format!("p-{n}"))), "event {n}");
        let level = if n % 2 == 1 { Level::Warning } else { Level::Information };
        assert_eq!(e.level, level, "event {n}");
        let amount = match e.property("Amount") {
            Some(Value::F64(a)) => *a,
            Some(Value::I64(a)) => *a as f64,
            other => panic!("event {n}: Amount {other:?}"),
        };
        assert_eq!(amount, n as f64 * 1.5, "event {n}");
    }
}

#[test]
fn node_seq_logging_events_survive_sigkill() {
    let Some(dir) = clients() else { return };
    let events = run_client(40, |url, key, count| {
        let mut node = Command::new("node");
        node.arg(workspace().join("cli/tests/clients/seq_logging.js"))
            .args([url, key, &count.to_string()])
            .env("NODE_PATH", dir.join("node_modules"));
        node
    });
    assert_payments(&events, 40, "Node payment {PaymentId} of {Amount}");
}

#[test]
fn node_winston_seq_events_survive_sigkill() {
    let Some(dir) = clients() else { return };
    let events = run_client(30, |url, key, count| {
        let mut node = Command::new("node");
        node.arg(workspace().join("cli/tests/clients/winston_seq.js"))
            .args([url, key, &count.to_string()])
            .env("NODE_PATH", dir.join("node_modules"));
        node
    });
    assert_payments(&events, 30, "Winston payment {PaymentId} of {Amount}");
}

#[test]
fn python_seqlog_events_survive_sigkill_in_both_body_shapes() {
    let Some(dir) = clients() else { return };
    for shape in ["json", "clef"] {
        let events = run_client(30, |url, key, count| {
            let mut python = Command::new(dir.join("venv/bin/python"));
            python.arg(workspace().join("cli/tests/clients/seqlog_client.py")).args([
                url,
                key,
                &count.to_string(),
                shape,
            ]);
            python
        });
        assert_payments(&events, 30, "Python payment {PaymentId} of {Amount}");
        if shape == "clef" {
            // seqlog's CLEF carries `@r`; it is kept as a property, not refused or dropped.
            assert!(events[0].event.property("@r").is_some());
        }
    }
}
