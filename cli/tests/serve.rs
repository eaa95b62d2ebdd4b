//! `mtlog-audit serve` as a client sees it: a real server process on loopback, real HTTP, a
//! SIGKILL right after the answers, and the logs read back by the library's reader.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use mtlog_audit::event::Event;
use mtlog_audit::Reader;

const KEY: &str = "acme-0123456789abcdef";
const OTHER_KEY: &str = "beta-0123456789abcdef";

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(data: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mtlog-audit"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(["--api-key", &format!("{KEY}:acme"), "--api-key", &format!("{OTHER_KEY}:beta")])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("first line {line:?}"));
        Server { addr: addr.to_owned(), child }
    }

    /// POSTs `body` and returns the status code and the body of the answer.
    fn post(&self, query: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        let mut req = format!("POST /api/events/raw{query} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        for (name, value) in headers {
            req.push_str(&format!("{name}: {value}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    }

    fn clef(&self, key: &str, body: &str) -> (u16, String) {
        self.post(
            "",
            &[("X-Seq-ApiKey", key), ("Content-Type", "application/vnd.serilog.clef")],
            body.as_bytes(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn line(n: usize) -> String {
    let level = ["Verbose", "Debug", "Information", "Warning", "Error", "Fatal"][n % 6];
    format!(
        r#"{{"@t":"2026-12-08T10:{:02}:{:02}.{n:06}Z","@mt":"User {{UserId}} paid {{Amount}} for {{Item}}","@l":"{level}","@x":{},"UserId":{n},"Amount":{}.25,"Item":"order-{n}","Tags":["a","é"],"Nested":{{"k":[1,{{"z":null}}]}}}}"#,
        n / 60 % 60,
        n % 60,
        if n.is_multiple_of(7) { format!("\"boom {n}\\n  at frame\"") } else { "null".to_owned() },
        n * 3,
    )
    .replace(r#","@x":null"#, "")
}

fn stored(dir: &Path) -> Vec<String> {
    let reader = Reader::open(dir).unwrap();
    reader.replay(1..=u64::MAX).unwrap().map(|e| e.unwrap().event.to_clef()).collect()
}

#[test]
fn every_acknowledged_event_survives_sigkill_and_reads_back_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(tmp.path(), &[]);
    let mut sent = Vec::new();
    for request in 0..4 {
        let lines: Vec<String> = (request * 40..request * 40 + 40).map(line).collect();
        let (status, body) = server.clef(KEY, &(lines.join("\n") + "\n"));
        assert_eq!(status, 201, "{body}");
        assert_eq!(body, r#"{"MinimumLevelAccepted":null}"#);
        sent.extend(lines);
    }
    // The long JSON form, with the API key in the query.
    let batch = r#"{"Events":[{"Timestamp":"2026-12-08T11:00:00Z","Level":"Warning","MessageTemplate":"Disk {Free} low","Properties":{"Free":12,"Host":"db-1"}}]}"#;
    let (status, body) = server.post(
        &format!("?apiKey={KEY}"),
        &[("Content-Type", "application/json")],
        batch.as_bytes(),
    );
    assert_eq!(status, 201, "{body}");
    sent.push(r#"{"@t":"2026-12-08T11:00:00Z","@mt":"Disk {Free} low","@l":"Warning","Free":12,"Host":"db-1"}"#.to_owned());

    server.child.kill().unwrap(); // SIGKILL: no drain, no seal
    server.child.wait().unwrap();

    let expected: Vec<String> =
        sent.iter().map(|l| Event::from_clef(l).unwrap().to_clef()).collect();
    assert_eq!(stored(&tmp.path().join("acme")), expected);
    assert!(stored(&tmp.path().join("beta")).is_empty(), "another tenant's log stays its own");
}

#[test]
fn bad_requests_are_refused_whole_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = Server::start(tmp.path(), &["--body-max", "20000", "--events-max", "50"]);
    let good = line(1);

    let (status, body) = server.post("?clef", &[], good.as_bytes());
    assert_eq!(status, 401, "{body}");
    let (status, _) = server.clef("acme-0123456789abcdeX", &good);
    assert_eq!(status, 401);

    let malformed =
        format!("{}\n{}\n{{\"@mt\":\"no timestamp\"}}\n{}\n", line(2), line(3), line(4));
    let (status, body) = server.clef(KEY, &malformed);
    assert_eq!(status, 400);
    assert!(
        body.contains("line 3") && body.contains("nothing of this request was stored"),
        "{body}"
    );

    let too_many = (0..51).map(line).collect::<Vec<_>>().join("\n");
    let (status, body) = server.clef(KEY, &too_many);
    assert_eq!(status, 413, "{body}");
    let (status, _) = server.clef(KEY, &"x".repeat(30_000));
    assert_eq!(status, 413, "a body past --body-max");

    let (status, body) = server.clef(OTHER_KEY, &good);
    assert_eq!(status, 201, "{body}");

    // Graceful shutdown drains and seals: the process exits 0 and both logs verify.
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = server.child.wait().unwrap();
    let mut stderr = String::new();
    server.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("2 tenant log(s) sealed"), "{stderr}");
    assert!(stored(&tmp.path().join("acme")).is_empty(), "nothing of a refused request");
    assert_eq!(stored(&tmp.path().join("beta")).len(), 1);
    assert!(Reader::open(tmp.path().join("beta")).unwrap().verify_integrity().is_valid());
}

#[test]
fn a_bad_key_list_is_an_input_error_that_never_prints_a_key() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mtlog-audit"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(tmp.path())
        .args(["--api-key", "secret-0123456789:../escape"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tenant \"../escape\""), "{stderr}");
    assert!(!stderr.contains("secret-0123456789"), "{stderr}");
}
