//! The generator of the compatibility fixtures under `testdata/`: golden logs written by the
//! current format, and corrupt logs made from them by byte surgery, each with a README line.
//!
//! Deterministic: a fixed log id (the entropy source is a constant), fixed events and
//! timestamps, the real WAL writer over `RealDisk`, no threads and no clock. Running it twice
//! gives the same bytes. Regenerate with:
//!
//! ```text
//! cargo run -p mtlog-audit --example make-testdata
//! ```
//!
//! Shared by that example and by `core/tests/testdata.rs`, which checks that today's writer
//! still produces the committed golden bytes and knows which events each golden log holds.
//!
//! Golden logs live under `testdata/golden/v<FORMAT_VERSION>/`: when the format changes, a new
//! version directory is added and the old one stays, so old logs keep being opened.

// Test support: the surgery helpers read and write fixture files directly.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]
#![allow(dead_code)] // each includer uses a different part

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mtlog_audit::event::{Event, EventId, Level, Value};
use mtlog_audit::integrity::checkpoint::Checkpoint;
use mtlog_audit::integrity::merkle::StoredTree;
use mtlog_audit::integrity::note::Signer;
use mtlog_audit::io::{Entropy, RealDisk};
use mtlog_audit::wal::format::{
    self, encode_record, encode_seal_body, RecordKind, SegmentHeader, SegmentId, FORMAT_VERSION,
    SEGMENT_HEADER_LEN,
};
use mtlog_audit::wal::open;
use mtlog_audit::wal::scan::{self, Item, ScannedRecord};
use mtlog_audit::wal::segment;
use mtlog_audit::wal::writer::{Batch, Writer, WriterConfig};

/// Segment size of every fixture (small, so a few dozen events rotate).
pub const SEGMENT_BYTES: u64 = 8 << 10;
/// The largest body: what `Options::new(..).segment_bytes(8 KiB)` allows (a quarter segment).
pub const BODY_MAX: usize = 2 << 10;
/// The log id of every fixture.
pub const LOG_ID: u128 = 0x6d74_6c6f_672d_6175_6469_742d_7465_7374;

/// The golden logs: name, batch sizes, commit marker after each batch, clean close.
pub const GOLDEN: [(&str, &[usize], bool, bool); 3] = [
    // A log created and never written: one prepared segment.
    ("empty", &[], false, false),
    // Batches of 1 to 24 events across three segments, sealed by rotation and by close.
    ("closed", &[1, 5, 10, 20, 24, 30], false, true),
    // As the sink leaves it after kill -9 while idle: the commit marker after the last batch.
    ("unclosed", &[3, 7, 12, 18], true, false),
];

/// Where the golden logs of the current format version live, relative to the repository root.
pub fn golden_dir(root: &Path) -> PathBuf {
    root.join("testdata").join("golden").join(format!("v{FORMAT_VERSION}"))
}

/// Where the corrupt logs live, relative to the repository root.
pub fn corrupt_dir(root: &Path) -> PathBuf {
    root.join("testdata").join("corrupt")
}

/// The events golden log `name` holds, in seq order.
pub fn golden_events(name: &str) -> Vec<Event> {
    let (_, batches, _, _) = GOLDEN.iter().find(|g| g.0 == name).expect("a golden log");
    (1..=batches.iter().sum::<usize>() as u64).map(event).collect()
}

/// Event number `n` (from 1): every level, every value kind, exceptions, and one timestamp
/// that steps back (so its record carries the clock-adjusted flag).
pub fn event(n: u64) -> Event {
    let level = Level::ALL[(n % 6) as usize];
    let back = if n == 4 { -5_000_000_000 } else { 0 };
    let ts = 1_764_201_600_000_000_000 + n as i64 * 1_000_000 + back;
    let mut e = Event::new(
        EventId((u128::from(n) * 0x9e37_79b9_7f4a_7c15).to_le_bytes()),
        ts,
        level,
        "User {UserId} did {Action} on {Record}",
    )
    .with_property("UserId", n % 7)
    .with_property("Action", ["read", "write", "délete", "export"][(n % 4) as usize])
    .with_property("Record", format!("rec-{n:04}"));
    match n % 5 {
        0 => e = e.with_property("Ratio", n as f64 / 3.0).with_property("Nan", f64::NAN),
        1 => e = e.with_property("Raw", vec![0u8, 1, 2, 255, n as u8]),
        2 => {
            let nested = Value::Map(vec![
                ("k".into(), Value::Array(vec![Value::Null, true.into(), (-(n as i64)).into()])),
                ("max".into(), u64::MAX.into()),
            ]);
            e = e.with_property("Nested", nested);
        }
        3 => e = e.with_exception(format!("error: boom {n}\n  at frame 1\n  at frame 2")),
        _ => e = e.with_property("@Escaped", "at-sign property"),
    }
    e.render()
}

/// A constant entropy source: the log id is always [`LOG_ID`].
pub struct FixedEntropy;

impl Entropy for FixedEntropy {
    fn fill(&self, buf: &mut [u8]) {
        for (b, k) in buf.iter_mut().zip(LOG_ID.to_le_bytes().iter().cycle()) {
            *b = *k;
        }
    }
}

/// Writes a log into `dir` (which must not exist): `batches` of events numbered from 1, a
/// commit marker after each batch if `marker`, a clean close if `close`.
pub fn write_log(dir: &Path, batches: &[usize], marker: bool, close: bool) {
    fs::create_dir_all(dir).expect("mkdir");
    let disk = Arc::new(RealDisk);
    let (start, report) =
        open::recover(&disk, dir, SEGMENT_BYTES, BODY_MAX, &FixedEntropy).expect("create");
    assert_eq!(report.log_id, LOG_ID);
    let config = WriterConfig { segment_bytes: SEGMENT_BYTES, body_max: BODY_MAX };
    let mut writer = Writer::new(disk, dir, config, start);
    let mut n = 0u64;
    for &size in batches {
        let mut batch = Batch::default();
        for _ in 0..size {
            n += 1;
            let before = batch.bodies.len();
            let e = event(n);
            e.encode_body(&mut batch.bodies).expect("encode");
            batch.push_body_written(e.timestamp_nanos, batch.bodies.len() - before);
        }
        let appended = writer.append(&batch, &mut Vec::new());
        assert!(appended.error.is_none() && appended.durable == size, "append");
        if marker {
            writer.write_commit_marker().expect("marker");
        }
    }
    if close {
        writer.seal_and_shrink().expect("close");
    }
}

/// Writes every golden log and every corrupt log under `root` (the repository root), replacing
/// what is there, and the corrupt logs' README.
pub fn write_all(root: &Path) {
    let golden = golden_dir(root);
    let _ = fs::remove_dir_all(&golden);
    for (name, batches, marker, close) in GOLDEN {
        write_log(&golden.join(name), batches, marker, close);
    }
    let corrupt = corrupt_dir(root);
    let _ = fs::remove_dir_all(&corrupt);
    let mut readme = String::from(README_HEAD);
    for fixture in FIXTURES {
        let dir = corrupt.join(fixture.name);
        write_log(&dir, fixture.batches, fixture.marker, fixture.close);
        let (segment, offset, what) = (fixture.damage)(&dir);
        let _ = writeln!(
            readme,
            "| `{}` | {} (segment {segment}, offset {offset}) | {} |",
            fixture.name, what, fixture.expected
        );
    }
    fs::write(corrupt.join("README.md"), readme).expect("README");
    let clef = root.join("testdata").join("clef");
    let _ = fs::remove_dir_all(&clef);
    fs::create_dir_all(&clef).expect("mkdir clef");
    let lines: String = golden_events("closed").iter().map(|e| e.to_clef() + "\n").collect();
    fs::write(clef.join("events.clef"), lines).expect("events.clef");
    write_checkpoint(&root.join("testdata").join("checkpoint"), &golden.join("closed"));
}

/// The origin line of the golden checkpoint.
pub const CHECKPOINT_ORIGIN: &str = "example.com/mtlog-audit/golden-v1-closed";

/// The Merkle root over the event records of the log in `dir` (their leaf hashes, in order).
pub fn merkle_root(dir: &Path) -> (u64, [u8; 32]) {
    let mut leaves = Vec::new();
    for id in (1..).take_while(|&id| segment_path(dir, id).exists()) {
        leaves.extend(
            records(dir, id).into_iter().filter(|r| r.kind == RecordKind::Event).map(|r| r.digest),
        );
    }
    let tree = StoredTree::from_leaf_hashes(leaves);
    (tree.size(), tree.root())
}

/// A signed checkpoint (C2SP signed note) of the golden log in `log`, and the verifier key that
/// opens it: a compatibility fixture for the note and checkpoint formats.
fn write_checkpoint(out: &Path, log: &Path) {
    fs::create_dir_all(out).expect("mkdir checkpoint");
    let signer = Signer::from_seed("example.com/mtlog-audit", [0x5e; 32]).expect("signer");
    let (size, root) = merkle_root(log);
    let checkpoint = Checkpoint::new(CHECKPOINT_ORIGIN, size, root).expect("checkpoint");
    let note = checkpoint.sign(&[&signer]).expect("sign");
    fs::write(out.join("closed.note"), note).expect("note");
    fs::write(out.join("closed.vkey"), signer.verifier().to_vkey() + "\n").expect("vkey");
}

/// One corrupt fixture: the log it starts from, the damage done, the outcome expected.
pub struct Fixture {
    /// Directory name under `testdata/corrupt/`.
    pub name: &'static str,
    batches: &'static [usize],
    marker: bool,
    close: bool,
    /// Damages the log in the directory; returns (segment, offset, what is wrong).
    damage: fn(&Path) -> (u64, u64, String),
    /// The expected typed outcome of opening it for writing, in words.
    pub expected: &'static str,
}

const CLOSED: &[usize] = &[1, 5, 10, 20, 24, 30];
const UNPROVEN: &[usize] = &[4, 8, 8];

/// Every corrupt fixture.
pub const FIXTURES: [Fixture; 15] = [
    Fixture {
        name: "torn-write",
        batches: UNPROVEN,
        marker: false,
        close: false,
        damage: torn_write,
        expected: "tail cut: quarantine entry (reason checksum) from the torn record; \
                   seqs 1..=19 kept",
    },
    Fixture {
        name: "bit-flip",
        batches: CLOSED,
        marker: false,
        close: true,
        damage: bit_flip,
        expected: "`Corruption` checksum mismatch at that offset, seqs 5..",
    },
    Fixture {
        name: "truncated",
        batches: UNPROVEN,
        marker: false,
        close: false,
        damage: truncated,
        expected: "tail cut: quarantine entry (reason garbage) from the cut record; \
                   seqs 1..=19 kept",
    },
    Fixture {
        name: "truncated-sealed",
        batches: CLOSED,
        marker: false,
        close: true,
        damage: truncated_sealed,
        expected: "`Corruption` garbage (record runs past the end of the file) at that offset",
    },
    Fixture {
        name: "misdirected",
        batches: CLOSED,
        marker: false,
        close: true,
        damage: misdirected,
        expected: "`Corruption` misdirected record naming segment 2 at that offset, seqs 3..",
    },
    Fixture {
        name: "foreign-record",
        batches: CLOSED,
        marker: false,
        close: true,
        damage: foreign_record,
        expected: "`Corruption` misdirected record (another log's) at that offset, seqs 6..",
    },
    Fixture {
        name: "zero-filled-tail",
        batches: UNPROVEN,
        marker: false,
        close: false,
        damage: zero_filled_tail,
        expected: "clean: seqs 1..=12 kept, nothing cut (zeros are the end of the log)",
    },
    Fixture {
        name: "hole",
        batches: CLOSED,
        marker: false,
        close: true,
        damage: hole,
        expected: "`Corruption` hole (zeros before later records) at that offset",
    },
    Fixture {
        name: "bad-header",
        batches: CLOSED,
        marker: false,
        close: true,
        damage: bad_header,
        expected: "`Corruption` segment header does not verify, segment 2 offset 0",
    },
    Fixture {
        name: "unknown-version",
        batches: CLOSED,
        marker: false,
        close: true,
        damage: unknown_version,
        expected: "`Corruption` unsupported (a newer format version; never cut), segment 2 \
                   offset 0",
    },
    Fixture {
        name: "seq-gap",
        batches: CLOSED,
        marker: false,
        close: true,
        damage: seq_gap,
        expected: "`Corruption` seq gap, expected 10, found 11, at that offset",
    },
    Fixture {
        name: "chain-break",
        batches: CLOSED,
        marker: false,
        close: true,
        damage: chain_break,
        expected: "`Corruption` hash chain broken at seq 10, at that offset",
    },
    Fixture {
        name: "seal-mismatch",
        batches: CLOSED,
        marker: false,
        close: true,
        damage: seal_mismatch,
        expected: "`Corruption` seal disagrees with the segment's records, at the seal",
    },
    Fixture {
        name: "missing-segment",
        batches: CLOSED,
        marker: false,
        close: true,
        damage: missing_segment,
        expected: "`Corruption` segment file missing, segment 2 offset 0",
    },
    Fixture {
        name: "garbage-tail",
        batches: &[3, 7, 12, 18],
        marker: true,
        close: false,
        damage: garbage_tail,
        expected: "tail cut: quarantine entry (reason garbage) at the garbage; all 40 seqs kept",
    },
];

const README_HEAD: &str = "\
# Corrupt logs

Each directory is a whole log directory, written by the current writer and then damaged on
purpose. `core/tests/testdata.rs` opens a copy of each (read-only and for writing) and compares
the outcome with its insta snapshot (`core/tests/snapshots/`), so a change to recovery or to the
format that changes any outcome fails loudly. Regenerate (deterministic) with
`cargo run -p mtlog-audit --example make-testdata`; this file is generated too.

Segments are 8 KiB; records start at offset 64 (after the segment header) and are 8-aligned.
\"Tail cut\" means recovery saved the bytes to `quarantine/` and cut them (they were above the
proven durable watermark); `Corruption` means recovery refused to open the log and changed
nothing (the damage is at or below the watermark).

| fixture | what is wrong, and where | expected outcome of opening for writing |
|---|---|---|
";

// ---- surgery ---------------------------------------------------------------------------------

fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(segment::file_name(SegmentId(id)))
}

/// The valid records of segment `id`, in file order.
fn records(dir: &Path, id: u64) -> Vec<ScannedRecord> {
    let bytes = fs::read(segment_path(dir, id)).expect("read segment");
    let s = scan::scan_segment(SegmentId(id), &bytes, LOG_ID, BODY_MAX, &[], None);
    s.items
        .into_iter()
        .filter_map(|i| match i {
            Item::Record(r) => Some(r),
            _ => None,
        })
        .collect()
}

fn event_record(dir: &Path, seq: u64) -> (u64, ScannedRecord) {
    for id in 1.. {
        if !segment_path(dir, id).exists() {
            break;
        }
        let found =
            records(dir, id).into_iter().find(|r| r.kind == RecordKind::Event && r.seq == seq);
        if let Some(r) = found {
            return (id, r);
        }
    }
    panic!("no record of seq {seq}");
}

fn last_record(dir: &Path, id: u64) -> ScannedRecord {
    records(dir, id).pop().expect("a record")
}

fn last_segment(dir: &Path) -> u64 {
    (1..).take_while(|&id| segment_path(dir, id).exists()).last().expect("a segment")
}

fn edit(dir: &Path, id: u64, f: impl FnOnce(&mut Vec<u8>)) {
    let path = segment_path(dir, id);
    let mut bytes = fs::read(&path).expect("read");
    f(&mut bytes);
    fs::write(&path, bytes).expect("write");
}

/// Re-encodes the record at `offset` of segment `id` with a changed header (valid checksum).
fn rewrite(dir: &Path, id: u64, offset: u64, change: impl FnOnce(&mut format::RecordHeader)) {
    edit(dir, id, |bytes| {
        let at = offset as usize;
        let view = format::parse_record(bytes, at, LOG_ID, SegmentId(id), BODY_MAX).expect("rec");
        let mut header = view.header;
        change(&mut header);
        let mut out = Vec::new();
        encode_record(&mut out, &header, view.body);
        bytes[at..at + out.len()].copy_from_slice(&out);
    });
}

fn torn_write(dir: &Path) -> (u64, u64, String) {
    // The last record of an unproven batch: its second half never reached the disk.
    let id = last_segment(dir);
    let r = last_record(dir, id);
    let from = r.offset + r.len / 2;
    edit(dir, id, |b| b[from as usize..(r.offset + r.len) as usize].fill(0));
    (id, r.offset, format!("last record (seq {}) zeroed from offset {from} on", r.seq))
}

fn bit_flip(dir: &Path) -> (u64, u64, String) {
    let (id, r) = event_record(dir, 5);
    let at = r.offset + 96 + 10;
    edit(dir, id, |b| b[at as usize] ^= 0x10);
    (id, r.offset, format!("bit 4 of byte {at} flipped, in the body of seq 5"))
}

fn truncated(dir: &Path) -> (u64, u64, String) {
    let id = last_segment(dir);
    let r = last_record(dir, id);
    let len = r.offset + r.len / 2;
    edit(dir, id, |b| b.truncate(len as usize));
    (id, r.offset, format!("file truncated to {len} bytes, inside the last record (seq {})", r.seq))
}

fn truncated_sealed(dir: &Path) -> (u64, u64, String) {
    let (id, r) = event_record(dir, 20);
    let len = r.offset + 40;
    edit(dir, id, |b| b.truncate(len as usize));
    (id, r.offset, format!("sealed segment truncated to {len} bytes, inside seq 20"))
}

fn misdirected(dir: &Path) -> (u64, u64, String) {
    let (id, r) = event_record(dir, 3);
    rewrite(dir, id, r.offset, |h| h.segment = SegmentId(2));
    (id, r.offset, "seq 3 re-encoded naming segment 2 (valid checksum)".into())
}

fn foreign_record(dir: &Path) -> (u64, u64, String) {
    let (id, r) = event_record(dir, 6);
    rewrite(dir, id, r.offset, |h| h.log_id = !LOG_ID);
    (id, r.offset, "seq 6 re-encoded naming another log (valid checksum)".into())
}

fn zero_filled_tail(dir: &Path) -> (u64, u64, String) {
    // The last batch (8 records, unproven) zeroed: a power loss kept the size, not the data.
    let (id, first) = event_record(dir, 13);
    let r = last_record(dir, id);
    edit(dir, id, |b| b[first.offset as usize..(r.offset + r.len) as usize].fill(0));
    (
        id,
        first.offset,
        format!("seqs 13..=20 zeroed, offsets {}..{}", first.offset, r.offset + r.len),
    )
}

fn hole(dir: &Path) -> (u64, u64, String) {
    let (id, r) = event_record(dir, 45);
    edit(dir, id, |b| b[r.offset as usize..(r.offset + r.len) as usize].fill(0));
    (id, r.offset, format!("seq 45 zeroed ({} bytes), later records intact", r.len))
}

fn bad_header(dir: &Path) -> (u64, u64, String) {
    edit(dir, 2, |b| b[33] ^= 0x01);
    (2, 0, "byte 33 of the segment header (the segment id) flipped".into())
}

fn unknown_version(dir: &Path) -> (u64, u64, String) {
    edit(dir, 2, |b| {
        let mut h = format::encode_segment_header(&SegmentHeader {
            log_id: LOG_ID,
            segment: SegmentId(2),
            capacity: SEGMENT_BYTES,
        });
        h[8..10].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        let crc = crc32c::crc32c(&h[..60]);
        h[60..64].copy_from_slice(&crc.to_le_bytes());
        b[..SEGMENT_HEADER_LEN].copy_from_slice(&h);
    });
    (2, 0, format!("segment header says format version {} (valid checksum)", FORMAT_VERSION + 1))
}

fn seq_gap(dir: &Path) -> (u64, u64, String) {
    let (id, r) = event_record(dir, 10);
    rewrite(dir, id, r.offset, |h| h.seq = 11);
    (id, r.offset, "seq 10 re-encoded as seq 11 (valid checksum)".into())
}

fn chain_break(dir: &Path) -> (u64, u64, String) {
    let (id, r) = event_record(dir, 10);
    rewrite(dir, id, r.offset, |h| h.prev_hash[0] ^= 0xff);
    (id, r.offset, "seq 10 re-encoded with a wrong predecessor hash (valid checksum)".into())
}

fn seal_mismatch(dir: &Path) -> (u64, u64, String) {
    let seal = records(dir, 1).into_iter().find(|r| r.kind == RecordKind::Seal).expect("seal");
    edit(dir, 1, |bytes| {
        let at = seal.offset as usize;
        let view = format::parse_record(bytes, at, LOG_ID, SegmentId(1), BODY_MAX).expect("seal");
        let body = format::decode_seal_body(view.body).expect("seal body");
        let wrong = format::SealBody { count: body.count + 1, xxh3: body.xxh3 };
        let mut out = Vec::new();
        encode_record(&mut out, &view.header, &encode_seal_body(&wrong));
        bytes[at..at + out.len()].copy_from_slice(&out);
    });
    (1, seal.offset, "the seal re-encoded with an event count one too high".into())
}

fn missing_segment(dir: &Path) -> (u64, u64, String) {
    fs::remove_file(segment_path(dir, 2)).expect("remove");
    (2, 0, "segment 2 of 3 deleted".into())
}

fn garbage_tail(dir: &Path) -> (u64, u64, String) {
    // Over the commit marker after the last record: bytes that are no record at all.
    let id = last_segment(dir);
    let r = last_record(dir, id);
    assert_eq!(r.kind, RecordKind::Commit);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    edit(dir, id, |b| {
        for byte in &mut b[r.offset as usize..r.offset as usize + 200] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *byte = x as u8 | 1;
        }
    });
    (id, r.offset, "200 bytes of garbage over the commit marker after the last record".into())
}
