//! Entry points for the cargo-fuzz targets in `fuzz/`, compiled only with the `fuzzing` feature.
//!
//! Each function takes untrusted input, runs one parser of the crate on it, and asserts that
//! parser's contract. A panic is a finding: the fuzz target that called the function saves the
//! input, and the input becomes a regression test in `core/tests/testdata.rs`. The functions
//! never touch a disk, a clock or an entropy source, so every run is a pure function of its
//! input. The structured target over the simulated disk (`wal_ops`) lives in
//! `mtlog-audit-sim`, because this crate cannot depend on the simulator.
//!
//! | target         | function                | contract asserted                                  |
//! |----------------|-------------------------|----------------------------------------------------|
//! | `record`       | [`record_round_trip`]   | parse, encode, parse: same view, same bytes        |
//! | `segment_scan` | [`scan_and_classify`]   | items tile the file, every record re-verifies,     |
//! |                |                         | classify and findings agree, nothing panics        |
//! | `crafted_records` | [`crafted_records`]  | valid checksums, hostile fields (seq 0, u64::MAX,  |
//! |                |                         | any watermark, id, timestamp): as `segment_scan`,  |
//! |                |                         | and seq 0 / `u64::MAX` always among the findings   |
//! | `event_body`   | [`event_body`]          | decode, encode, decode: same event, same bytes     |
//! | `clef`         | [`clef`]                | import, export, import: same event, same line      |
//! | `options`      | [`options`]             | what `validate` accepts, the writer can honour     |
//! | `checkpoint`   | [`checkpoint`]          | parse, print: the same text; parse again: same     |
//! | `note`         | [`note()`]              | parse never panics; unknown keys never verify;     |
//! |                |                         | any text a note carries re-signs and re-opens      |
//! | `proof`        | [`proof`]               | frontier decode, encode: same bytes; arbitrary     |
//! |                |                         | proofs never panic; honest ones verify, forged not |
//!
//! # Examples
//!
//! A fuzz target is one call, `fuzz_target!(|data: &[u8]| fuzzing::event_body(data));`. Each
//! function returns quietly on input its parser refuses and on input that keeps the contract,
//! and panics on a contract broken:
//!
//! ```
//! use mtlog_audit::event::{Event, EventId, Level};
//! use mtlog_audit::fuzzing;
//!
//! let event = Event::new(EventId([1; 16]), 0, Level::Warning, "x={X}")
//!     .with_property("X", -1)
//!     .render();
//! let mut body = Vec::new();
//! event.encode_body(&mut body)?;
//! fuzzing::event_body(&body); // decodes: the round trip is checked
//! fuzzing::event_body(b"\x01not postcard"); // refused, without a panic
//! fuzzing::clef(&event.to_clef());
//! fuzzing::checkpoint("example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
//! fuzzing::note(b"not a note");
//! fuzzing::proof(&[3; 100]);
//! fuzzing::options(&[0; 40]);
//! fuzzing::record_round_trip(&[0; 200]);
//! fuzzing::scan_and_classify(&[0; 512]);
//! fuzzing::crafted_records(&[3; 240]);
//! // What the fuzzer checks on every input: no panic.
//! assert!(std::panic::catch_unwind(|| fuzzing::proof(&[0xff; 300])).is_ok());
//! # Ok::<(), mtlog_audit::event::BodyError>(())
//! ```

// Maintainers: the assertions below are the point of this module, so it panics freely; what it
// must never do is panic *inside* the parsers it calls.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::ops::Range;
use std::time::Duration;

use crate::error::DamageKind;
use crate::event::Event;
use crate::integrity::chain;
use crate::integrity::checkpoint::Checkpoint;
use crate::integrity::merkle::{self, Frontier, StoredTree};
use crate::integrity::note::{self, NoteError, Signer};
use crate::options::Options;
use crate::wal::format::{
    self, RecordDefect, RecordKind, SegmentId, COMMIT_RECORD_LEN, RECORD_BODY_HARD_MAX,
    RECORD_HEADER_LEN, SEAL_RECORD_LEN, SEGMENT_HEADER_LEN,
};
use crate::wal::recovery::{self, Scan, Verdict};
use crate::wal::scan::{self, Item, SegmentScan};

/// Parses `bytes` as one record at offset 0 (of the log and segment its own header names). If
/// it parses, re-encoding the view must give the same checksummed bytes followed by zero
/// padding, and parsing those must give the same view. The identity checks must refuse the same
/// record for another log or another segment.
///
/// # Panics
/// When the contract does not hold.
///
/// # Examples
///
/// ```
/// mtlog_audit::fuzzing::record_round_trip(b"MTR1 not a whole record");
/// ```
pub fn record_round_trip(bytes: &[u8]) {
    let (log_id, segment) = claimed_identity(bytes);
    let Ok(view) = format::parse_record(bytes, 0, log_id, segment, RECORD_BODY_HARD_MAX) else {
        return;
    };
    let mut again = Vec::with_capacity(view.framed_len());
    format::encode_record(&mut again, &view.header, view.body);
    assert_eq!(again.len(), view.framed_len(), "framed length");
    let covered = RECORD_HEADER_LEN + view.body.len();
    assert_eq!(again.get(..covered), bytes.get(..covered), "re-encoding changed the record");
    assert!(again[covered..].iter().all(|&b| b == 0), "padding is not zero");
    let reparsed = format::parse_record(&again, 0, log_id, segment, RECORD_BODY_HARD_MAX);
    assert_eq!(reparsed, Ok(view), "the re-encoded record parses differently");

    let foreign = format::parse_record(bytes, 0, !log_id, segment, RECORD_BODY_HARD_MAX);
    assert_eq!(foreign, Err(RecordDefect::ForeignLog));
    let elsewhere = SegmentId(segment.0 ^ 1);
    let misdirected = format::parse_record(bytes, 0, log_id, elsewhere, RECORD_BODY_HARD_MAX);
    assert_eq!(misdirected, Err(RecordDefect::Misdirected(segment)));
    if let Some(smaller) = view.body.len().checked_sub(1) {
        let refused = format::parse_record(bytes, 0, log_id, segment, smaller);
        assert_eq!(refused, Err(RecordDefect::Length(view.body.len() as u32)));
    }
}

/// Treats `bytes` as a whole segment file (of the log and segment its header names, intact or
/// not) and scans it three ways: plainly, with sector 1 unreadable, and with a trusted length
/// after a failed fsync. Each scan's items must tile the file, every record it returns must
/// re-parse and re-verify (checksum, log, segment, padding, leaf hash), and `classify` and
/// `findings` must agree on the first anomaly.
///
/// # Panics
/// When the contract does not hold.
///
/// # Examples
///
/// ```
/// mtlog_audit::fuzzing::scan_and_classify(&[0; 1100]); // zeros: a header never written
/// ```
pub fn scan_and_classify(bytes: &[u8]) {
    let (log_id, id) = claimed_identity(bytes);
    check_scan(bytes, log_id, id, &[], None);
    if bytes.len() >= 1024 {
        check_scan(bytes, log_id, id, &[Range { start: 512, end: 1024 }], None);
    }
    if bytes.len() > SEGMENT_HEADER_LEN {
        let trusted = (bytes.len() / 2).max(SEGMENT_HEADER_LEN) as u64;
        check_scan(bytes, log_id, id, &[], Some(trusted));
    }
}

/// Structure-aware: turns `bytes` into records whose checksums are valid but whose fields are
/// hostile (seq 0 or `u64::MAX`, any watermark, timestamps at the `i64` extremes, a wrong
/// segment or predecessor hash, any seal count), frames them into two segments with valid
/// headers and ids anywhere in `u64` (`u64::MAX` included), and scans and classifies them.
/// A valid CRC proves nothing about who wrote a record, so this is what a hostile directory
/// holds; a byte-level fuzzer would almost never get a checksum right.
///
/// Each 24-byte chunk is one record: byte 0 picks the kind, 1 the seq (next, raw from bytes
/// 8..16, 0, `u64::MAX`), 2 the watermark (honest, raw from 16..24, `u64::MAX`, 0), 3 the
/// timestamp (raw from 16..24, `i64::MIN`, `i64::MAX`), 4 the segment named and the predecessor
/// hash (honest or not), 5 the body length, 7 the body bytes; byte 6 of the first chunk says
/// where the second segment starts, and bytes 8..16 of it give the first segment's id.
///
/// The contract: scanning and classifying never panic (no arithmetic on these values
/// overflows), the scan's items tile each file and its records re-verify, `classify` and
/// `findings` agree, and an event of seq 0 or `u64::MAX` is always among the findings.
///
/// # Panics
/// When the contract does not hold.
///
/// # Examples
///
/// ```
/// let mut bytes = [0u8; 96];
/// bytes[1] = 3; // the first record claims seq u64::MAX
/// mtlog_audit::fuzzing::crafted_records(&bytes);
/// ```
pub fn crafted_records(bytes: &[u8]) {
    const LOG: u128 = 0xc0ff_ee00;
    let chunks: Vec<&[u8]> = bytes.chunks(24).take(64).collect();
    let first = chunks.first().map_or(1, |c| word_at(c, 8));
    let split = chunks.first().and_then(|c| c.get(6)).map_or(usize::MAX, |&b| usize::from(b));
    // Two distinct ids in order, the second `u64::MAX` when the first is near it.
    let apart = 1 + (split % 3) as u64;
    let second = first.saturating_add(apart);
    let ids = [SegmentId(second - apart), SegmentId(second)];
    let mut files: Vec<Vec<u8>> = ids
        .iter()
        .map(|&segment| {
            let header = format::SegmentHeader { log_id: LOG, segment, capacity: 0 };
            format::encode_segment_header(&header).to_vec()
        })
        .collect();
    let mut prev_hash = chain::genesis(LOG);
    let mut seq_next = 1u64;
    let mut hostile_seqs = false;
    for (i, chunk) in chunks.iter().enumerate() {
        let byte = |at: usize| chunk.get(at).copied().unwrap_or(0);
        let file = usize::from(i >= split % (chunks.len() + 1));
        let kind = match byte(0) % 4 {
            1 => RecordKind::Seal,
            2 => RecordKind::Commit,
            _ => RecordKind::Event,
        };
        let seq = match byte(1) % 5 {
            1 => word_at(chunk, 8),
            2 => 0,
            3 => u64::MAX,
            _ => seq_next,
        };
        let watermark = match byte(2) % 5 {
            1 => word_at(chunk, 16),
            2 => u64::MAX,
            3 => 0,
            _ => seq.saturating_sub(1),
        };
        let timestamp_nanos = match byte(3) % 4 {
            1 => i64::MIN,
            2 => i64::MAX,
            _ => word_at(chunk, 16) as i64,
        };
        let segment = if byte(4) & 1 == 0 { ids[file] } else { SegmentId(word_at(chunk, 8)) };
        let body: Vec<u8> = match kind {
            RecordKind::Seal => {
                let seal = format::SealBody { count: word_at(chunk, 8), xxh3: word_at(chunk, 16) };
                format::encode_seal_body(&seal).to_vec()
            }
            RecordKind::Commit => Vec::new(),
            RecordKind::Event => vec![byte(7); usize::from(byte(5))],
        };
        let header = format::RecordHeader {
            kind,
            encoding: format::BodyEncoding::Postcard,
            flags: 0,
            log_id: LOG,
            segment,
            seq,
            watermark,
            timestamp_nanos,
            prev_hash: if byte(4) & 2 == 0 { prev_hash } else { [byte(7); 32] },
        };
        format::encode_record(&mut files[file], &header, &body);
        if kind == RecordKind::Event {
            hostile_seqs |= (seq == 0 || seq == u64::MAX) && segment == ids[file];
            let leaf = chain::leaf_hash(LOG, seq, timestamp_nanos, 0, 0, &body);
            prev_hash = chain::link(&header.prev_hash, &leaf);
            seq_next = seq.saturating_add(1);
        }
    }
    let mut segments = Vec::new();
    for (file, &id) in files.iter_mut().zip(&ids) {
        file.resize(file.len() + 256, 0);
        check_scan(file, LOG, id, &[], None);
        segments.push(scan::scan_segment(id, file, LOG, RECORD_BODY_HARD_MAX, &[], None));
    }
    let scan = Scan { log_id: LOG, segments };
    let _ = recovery::prefix_head(&scan);
    if hostile_seqs {
        let findings = recovery::findings(&scan);
        assert!(!findings.is_empty(), "an event of seq 0 or u64::MAX was accepted");
    }
    check_classification(scan);
}

/// The little-endian `u64` at `at` in `chunk`, zero where the chunk is shorter.
fn word_at(chunk: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (k, slot) in b.iter_mut().enumerate() {
        *slot = chunk.get(at + k).copied().unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

/// Decodes `bytes` as a WAL record body. If it decodes, encoding the event must give back
/// exactly `bytes` (a body has one encoding), and decoding that the same event.
///
/// # Panics
/// When the contract does not hold.
///
/// # Examples
///
/// ```
/// mtlog_audit::fuzzing::event_body(&[1, 0, 0xff, 3]);
/// ```
pub fn event_body(bytes: &[u8]) {
    let Ok(event) = Event::decode_body(bytes) else {
        return;
    };
    let mut body = Vec::with_capacity(bytes.len());
    event.encode_body(&mut body).expect("a decoded event must encode");
    let again = Event::decode_body(&body).expect("a re-encoded body must decode");
    assert!(same_event(&again, &event), "decode, encode, decode changed the event");
    assert_eq!(body, bytes, "a body that decodes must be the one encoding of its event");
}

/// Imports `text` as a CLEF line. If it imports, exporting and importing again must give the
/// same event (bit-exact floats) and exporting that the same line. An imported event is already
/// in the normal form the `clef` module documents (integers as `I64` unless above `i64::MAX`,
/// finite floats only, `{"$bytes": ..}` as bytes), so the trip is exact. The event must also
/// survive the WAL body codec.
///
/// # Panics
/// When the contract does not hold.
///
/// # Examples
///
/// ```
/// mtlog_audit::fuzzing::clef(r#"{"@t":"2024-01-01T00:00:00Z","@mt":"Hi {Name}","Name":1}"#);
/// ```
pub fn clef(text: &str) {
    let Ok(event) = Event::from_clef(text) else {
        return;
    };
    let line = event.to_clef();
    let again = match Event::from_clef(&line) {
        Ok(again) => again,
        Err(e) => panic!("our own line does not import: {e}\n{line}"),
    };
    assert!(same_event(&again, &event), "export, import changed the event\n{line}");
    assert_eq!(again.to_clef(), line, "export is not a fixpoint");
    let mut body = Vec::new();
    event.encode_body(&mut body).expect("an imported event must fit the body codec");
    let stored = Event::decode_body(&body).expect("its body must decode");
    assert!(same_event(&stored, &event), "the body codec changed an imported event");
}

/// Reads five little-endian `u64`s from `bytes` (missing bytes are zero) as segment size,
/// largest body, batch size, queue bound and group-commit delay in microseconds. If `validate`
/// accepts them, the writer's arithmetic must hold: the largest record plus a seal fits one
/// segment after its header, and every value is inside its documented range.
///
/// # Panics
/// When the contract does not hold.
///
/// # Examples
///
/// ```
/// mtlog_audit::fuzzing::options(&[0xff; 40]);
/// ```
pub fn options(bytes: &[u8]) {
    let field = |i: usize| {
        let mut b = [0u8; 8];
        for (k, slot) in b.iter_mut().enumerate() {
            *slot = bytes.get(i * 8 + k).copied().unwrap_or(0);
        }
        u64::from_le_bytes(b)
    };
    let options = Options::new("fuzz")
        .segment_bytes(field(0))
        .body_max(field(1) as usize)
        .batch_max(field(2) as usize)
        .queue_max(field(3) as usize)
        .max_delay(Duration::from_micros(field(4)));
    if options.validate().is_err() {
        return;
    }
    let body_max = options.body_max_effective();
    assert!((1..=RECORD_BODY_HARD_MAX).contains(&body_max));
    let segment = options.segment_bytes;
    let needed = (SEGMENT_HEADER_LEN + format::framed_len(body_max)) as u64;
    assert!(needed + SEAL_RECORD_LEN.max(COMMIT_RECORD_LEN) as u64 <= segment);
    assert!(options.batch_max >= 1 && options.queue_max >= 1);
}

/// Parses `text` as a checkpoint body (a signed note's text). If it parses, printing it must
/// give back exactly `text` (a checkpoint has one spelling), and parsing that the same value.
///
/// # Panics
/// When the contract does not hold.
///
/// # Examples
///
/// ```
/// mtlog_audit::fuzzing::checkpoint("example.com/log\n12\nnot base64\n");
/// ```
pub fn checkpoint(text: &str) {
    let Ok(parsed) = Checkpoint::parse_body(text) else {
        return;
    };
    let body = parsed.to_body();
    assert_eq!(body, text, "a checkpoint that parses must print as itself");
    assert_eq!(Checkpoint::parse_body(&body), Ok(parsed));
}

/// Parses `bytes` as a signed note. Whatever parses: its text ends in a newline, it carries
/// 1 to `SIGNATURES_MAX` signatures, opening it with no known key is `Unverifiable` and with an
/// unrelated key never succeeds; and its text, signed by a known key, opens to the same text
/// (and to the same checkpoint, if it is one).
///
/// # Panics
/// When the contract does not hold.
///
/// # Examples
///
/// ```
/// mtlog_audit::fuzzing::note("text\n\n\u{2014} key AAAA\n".as_bytes());
/// ```
pub fn note(bytes: &[u8]) {
    let Ok(parsed) = note::parse(bytes) else {
        return;
    };
    assert!(parsed.text.ends_with('\n'), "note text without its final newline");
    assert!((1..=note::SIGNATURES_MAX).contains(&parsed.signatures.len()));
    assert!(matches!(note::open(bytes, &[]), Err(NoteError::Unverifiable { .. })));
    let signer = Signer::from_seed("fuzz.example/key", [7; 32]).expect("a valid key name");
    let verifier = signer.verifier();
    assert!(note::open(bytes, std::slice::from_ref(&verifier)).is_err(), "forged note opened");
    let resigned = note::sign(&parsed.text, &[&signer]).expect("a parsed text re-signs");
    let opened = note::open(resigned.as_bytes(), std::slice::from_ref(&verifier));
    let opened = opened.expect("a note we just signed opens");
    assert_eq!(opened.text, parsed.text);
    let as_checkpoint = Checkpoint::open_note(resigned.as_bytes(), &[verifier]).ok();
    assert_eq!(as_checkpoint.map(|(c, _)| c), Checkpoint::parse_body(&parsed.text).ok());
}

/// Merkle proofs and the persisted frontier. `bytes` is read as: index or old size (8, LE),
/// tree size or new size (8), a root (32), a leaf hash (32), then proof hashes (32 each).
/// Verifying that arbitrary claim never panics, whatever the sizes. Then, on a tree of
/// `bytes[0] + 1` leaves, the honest inclusion and consistency proofs verify, and the same
/// proofs with the claimed proof hashes XORed in verify only if nothing changed. Finally, if
/// `bytes` decodes as a frontier, encoding it gives `bytes` back.
///
/// # Panics
/// When the contract does not hold.
///
/// # Examples
///
/// ```
/// mtlog_audit::fuzzing::proof(&[5; 120]);
/// ```
pub fn proof(bytes: &[u8]) {
    let word = |at: usize| {
        let mut b = [0u8; 8];
        for (k, slot) in b.iter_mut().enumerate() {
            *slot = bytes.get(at + k).copied().unwrap_or(0);
        }
        u64::from_le_bytes(b)
    };
    let hash = |at: usize| {
        let mut h = [0u8; 32];
        for (k, slot) in h.iter_mut().enumerate() {
            *slot = bytes.get(at + k).copied().unwrap_or(0);
        }
        h
    };
    let (a, b, root, leaf) = (word(0), word(8), hash(16), hash(48));
    let claimed: Vec<merkle::Hash> = bytes
        .get(80..)
        .unwrap_or_default()
        .chunks(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h[..c.len()].copy_from_slice(c);
            h
        })
        .collect();
    let _ = merkle::verify_inclusion(&leaf, a, b, &claimed, &root);
    let _ = merkle::verify_consistency(a, b, &root, &leaf, &claimed);

    let n = u64::from(bytes.first().copied().unwrap_or(0)) + 1;
    let leaf_of = |i: u64| merkle::leaf_hash(&i.to_le_bytes());
    let tree = StoredTree::from_leaf_hashes((0..n).map(leaf_of));
    let top = tree.root();
    let index = a % n;
    let honest = merkle::inclusion_proof(index, n, &tree).expect("an inclusion proof");
    assert_eq!(merkle::verify_inclusion(&leaf_of(index), index, n, &honest, &top), Ok(()));
    let forged = xor_into(&honest, &claimed);
    let verdict = merkle::verify_inclusion(&leaf_of(index), index, n, &forged, &top);
    assert_eq!(verdict.is_ok(), forged == honest, "a forged inclusion proof verified");
    let old = b % (n + 1);
    let old_root = tree.root_at(old).expect("a root of a prefix");
    let honest = merkle::consistency_proof(old, n, &tree).expect("a consistency proof");
    assert_eq!(merkle::verify_consistency(old, n, &old_root, &top, &honest), Ok(()));
    let forged = xor_into(&honest, &claimed);
    let verdict = merkle::verify_consistency(old, n, &old_root, &top, &forged);
    if forged != honest {
        assert!(verdict.is_err(), "a forged consistency proof verified");
    }

    if let Ok(frontier) = Frontier::from_bytes(bytes) {
        assert_eq!(frontier.to_bytes(), bytes, "a frontier that decodes must encode as itself");
    }
}

fn xor_into(proof: &[merkle::Hash], with: &[merkle::Hash]) -> Vec<merkle::Hash> {
    let mut out = proof.to_vec();
    for (h, x) in out.iter_mut().zip(with) {
        for (b, y) in h.iter_mut().zip(x) {
            *b ^= y;
        }
    }
    out
}

/// The log id and segment id stored at offsets 16 and 32: in a segment header and in a record
/// header alike (zero where the input is shorter). The fuzzer can thus reach the identity-valid
/// paths without guessing 24 bytes.
fn claimed_identity(bytes: &[u8]) -> (u128, SegmentId) {
    let log_id = bytes.get(16..32).map_or(0, |b| u128::from_le_bytes(b.try_into().unwrap()));
    let segment = bytes.get(32..40).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()));
    (log_id, SegmentId(segment))
}

fn check_scan(
    bytes: &[u8],
    log_id: u128,
    id: SegmentId,
    unreadable: &[Range<u64>],
    trusted: Option<u64>,
) {
    let body_max = RECORD_BODY_HARD_MAX;
    let s = scan::scan_segment(id, bytes, log_id, body_max, unreadable, trusted);
    assert_eq!(s.len, bytes.len() as u64);
    assert_eq!(s.header, format::decode_segment_header(bytes));
    check_tiling(&s);
    let limit = trusted.map_or(bytes.len() as u64, |t| t.max(SEGMENT_HEADER_LEN as u64));
    for item in &s.items {
        let Item::Record(r) = item else { continue };
        let at = usize::try_from(r.offset).unwrap();
        assert_eq!(at % format::RECORD_ALIGN, 0, "record at unaligned offset {at}");
        let view = match format::parse_record(bytes, at, log_id, id, body_max) {
            Ok(view) => view,
            Err(defect) => panic!("scan returned a record at {at} that parses as {defect:?}"),
        };
        let h = view.header;
        assert_eq!(view.framed_len() as u64, r.len);
        assert!(r.offset + r.len <= limit, "record at {at} past the trusted length");
        assert!(!unreadable.iter().any(|u| u.start < r.offset + r.len && r.offset < u.end));
        let padding = &bytes[at + RECORD_HEADER_LEN + view.body.len()..at + view.framed_len()];
        assert!(padding.iter().all(|&b| b == 0), "record at {at} with non-zero padding");
        assert_eq!((h.kind, h.seq, h.watermark), (r.kind, r.seq, r.watermark));
        assert_eq!(
            (h.timestamp_nanos, h.flags, h.prev_hash),
            (r.timestamp_nanos, r.flags, r.prev_hash)
        );
        if h.kind == RecordKind::Event {
            let encoding = bytes[at + 13];
            let leaf =
                chain::leaf_hash(log_id, h.seq, h.timestamp_nanos, h.flags, encoding, view.body);
            assert_eq!(leaf, r.digest, "record at {at}: leaf hash");
        }
    }
    check_classification(Scan { log_id, segments: vec![s] });
}

/// Items are non-empty, in order and contiguous from the end of the header: to the end of the
/// file, or to a seal (the scan stops there; a trusted-length tail may follow it).
fn check_tiling(s: &SegmentScan) {
    let mut at = SEGMENT_HEADER_LEN.min(s.len as usize) as u64;
    let mut after_seal = false;
    for item in &s.items {
        if after_seal {
            assert!(item.offset() >= at, "item at {} overlaps the seal", item.offset());
        } else {
            assert_eq!(item.offset(), at, "gap or overlap before item at {}", item.offset());
        }
        assert!(item.end() > item.offset(), "empty item at {}", item.offset());
        after_seal |= matches!(item, Item::Record(r) if r.kind == RecordKind::Seal);
        at = item.end();
    }
    assert!(at <= s.len);
    if !after_seal {
        assert_eq!(at, s.len, "items end at {at}, the file at {}", s.len);
    }
}

/// `classify` and `findings` agree; the verdict's numbers are consistent; the reader's
/// salvage assumption (with every watermark zeroed, no anomaly is corruption) holds.
fn check_classification(scan: Scan) {
    let verdict = recovery::classify(&scan);
    let findings = recovery::findings(&scan);
    let w = recovery::proven_watermark(&scan);
    let events = scan
        .segments
        .iter()
        .flat_map(|s| &s.items)
        .filter(|i| matches!(i, Item::Record(r) if r.kind == RecordKind::Event))
        .count() as u64;
    let head = match &verdict {
        Verdict::Clean(head) => {
            assert!(findings.is_empty(), "clean verdict but findings {findings:?}");
            head
        }
        Verdict::Tail { cut, head } => {
            let first = findings.first().expect("a cut without a finding");
            assert_eq!((cut.segment, cut.offset), (first.segment, first.offset));
            assert!(cut.seq_range.0 <= cut.seq_range.1);
            head
        }
        Verdict::Corrupt(c) => {
            let first = findings.first().expect("corruption without a finding");
            assert_eq!((c.segment, c.offset), (first.segment, first.offset));
            assert!(c.seq_range.0 <= c.seq_range.1);
            // Above the watermark only what this build cannot read is refused (never cut).
            let unsupported = c.kind == DamageKind::Unsupported;
            assert!(c.seq_range.0 <= w || unsupported, "corruption above the watermark: {c}");
            return check_salvage(scan);
        }
    };
    assert_eq!(head.watermark, w);
    assert!(head.seq_next >= 1);
    assert!(head.events <= events);
    check_salvage(scan);
}

fn check_salvage(mut scan: Scan) {
    for item in scan.segments.iter_mut().flat_map(|s| &mut s.items) {
        if let Item::Record(r) = item {
            r.watermark = 0;
        }
    }
    // The reader's salvage view relies on this: with no watermark, only what this build cannot
    // read (a newer format version) is refused; every other anomaly is a tail.
    if let Verdict::Corrupt(c) = recovery::classify(&scan) {
        assert_eq!(c.kind, DamageKind::Unsupported, "corruption with no watermark: {c}");
    }
}

/// Event equality with floats compared by bits (so a NaN equals the same NaN).
fn same_event(a: &Event, b: &Event) -> bool {
    a.bitwise_eq(b)
}
