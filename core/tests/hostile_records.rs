//! Records with valid checksums and hostile field values, written by someone who can write the
//! log directory (the CRC32C is unkeyed, so anyone can make one): every reader and `Sink::open`
//! must answer with a typed outcome, never a panic.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Tests touch files directly.

use std::path::Path;

use mtlog_audit::event::{Event, EventId};
use mtlog_audit::integrity::chain;
use mtlog_audit::wal::format::{
    encode_record, encode_segment_header, BodyEncoding, RecordHeader, RecordKind, SegmentHeader,
    SegmentId, SEGMENT_ID_MAX,
};
use mtlog_audit::wal::segment;
use mtlog_audit::{DamageKind, Error, Level, Options, Reader, Sink};

const LOG: u128 = 0x5eed_cafe;
const CAPACITY: usize = 64 << 10;
const EVENTS: u64 = 5;

/// Writes segment `id` holding events 1..=EVENTS, each its own batch (watermark = seq - 1),
/// chained from genesis, with `craft(index, header)` applied to each header before it is framed:
/// the checksums stay valid. Returns the file's bytes as written.
fn write_segment(dir: &Path, id: u64, craft: impl Fn(u64, &mut RecordHeader)) -> Vec<u8> {
    let segment = SegmentId(id);
    let header = SegmentHeader { log_id: LOG, segment, capacity: CAPACITY as u64 };
    let mut file = encode_segment_header(&header).to_vec();
    let mut prev_hash = chain::genesis(LOG);
    for index in 0..EVENTS {
        let seq = index + 1;
        let event = Event::new(EventId([seq as u8; 16]), seq as i64, Level::Information, "E {N}")
            .with_property("N", seq)
            .render();
        let mut body = Vec::new();
        event.encode_body(&mut body).unwrap();
        let mut h = RecordHeader {
            kind: RecordKind::Event,
            encoding: BodyEncoding::Postcard,
            flags: 0,
            log_id: LOG,
            segment,
            seq,
            watermark: seq - 1,
            timestamp_nanos: seq as i64,
            prev_hash,
        };
        craft(index, &mut h);
        encode_record(&mut file, &h, &body);
        let leaf = chain::leaf_hash(LOG, h.seq, h.timestamp_nanos, h.flags, 0, &body);
        prev_hash = chain::link(&h.prev_hash, &leaf);
    }
    file.resize(CAPACITY, 0);
    std::fs::write(dir.join(segment::file_name(segment)), &file).unwrap();
    file
}

/// Opens the log every way a user can: strict and salvage readers (and replays everything they
/// show), then the sink. Returns the sink's outcome.
fn open_every_way(dir: &Path) -> Result<Sink, Error> {
    for reader in [Reader::open(dir), Reader::open_salvage(dir)] {
        let reader = reader.unwrap_or_else(|e| panic!("a reader refused the log: {e}"));
        let _ = reader.verify_integrity();
        for item in reader.replay(0..=u64::MAX).unwrap() {
            let _ = item;
        }
        for item in reader.replay_time(i64::MIN, i64::MAX).unwrap() {
            let _ = item;
        }
    }
    Sink::open(Options::new(dir))
}

#[test]
fn a_last_event_with_seq_u64_max_is_a_seq_gap_cut_as_the_tail() {
    // Regression (issue #19, defect 3): `seq + 1` overflowed in the recovery walk, so every
    // command and `Sink::open` panicked on this record. It is an anomaly where seq 5 was
    // expected; nothing proves seq 5 durable (watermark 3), so it is the tail: cut, reported.
    let tmp = tempfile::tempdir().unwrap();
    write_segment(tmp.path(), 1, |i, h| {
        if i == 4 {
            h.seq = u64::MAX;
        }
    });
    let sink = open_every_way(tmp.path()).expect("a tail is cut, not refused");
    let report = sink.recovery_report();
    assert_eq!(report.seq_next, 5);
    let reasons: Vec<_> = report.cuts.iter().map(|c| c.reason).collect();
    assert_eq!(reasons, [Some(DamageKind::SeqGap { expected: 5, found: u64::MAX })]);
}

#[test]
fn an_event_with_seq_u64_max_after_damage_is_reported_not_taken_as_a_position() {
    // After damage the walk takes the next record's seq as its position; u64::MAX has no
    // successor and must be reported as what it is.
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = write_segment(tmp.path(), 1, |i, h| {
        if i == 3 {
            h.seq = u64::MAX;
        }
    });
    // Damage the third record (seq 3): the walk resynchronises on the fourth, seq u64::MAX.
    let third = Reader::open(tmp.path()).unwrap().replay(3..=3).unwrap().next().unwrap().unwrap();
    bytes[third.offset as usize + 100] ^= 0x55;
    std::fs::write(tmp.path().join(segment::file_name(SegmentId(1))), &bytes).unwrap();
    let found = Reader::open_salvage(tmp.path()).unwrap().verify_integrity().findings;
    let kinds: Vec<DamageKind> = found.iter().map(|f| f.anomaly.damage_kind()).collect();
    assert!(matches!(kinds[0], DamageKind::Checksum { .. }), "{kinds:?}");
    assert_eq!(kinds[1], DamageKind::SeqGap { expected: 3, found: u64::MAX }, "{kinds:?}");
    assert!(matches!(open_every_way(tmp.path()), Err(Error::Corruption(_))));
}

#[test]
fn an_event_rewritten_to_seq_zero_is_a_seq_gap_where_it_lies() {
    let tmp = tempfile::tempdir().unwrap();
    write_segment(tmp.path(), 1, |i, h| {
        if i == 2 {
            h.seq = 0;
        }
    });
    match open_every_way(tmp.path()) {
        Err(Error::Corruption(c)) => {
            assert_eq!(c.kind, DamageKind::SeqGap { expected: 3, found: 0 }, "{c}");
        }
        other => panic!("expected corruption at seq 3, got {:?}", other.err()),
    }
}

#[test]
fn a_watermark_of_u64_max_and_extreme_timestamps_open_without_panic() {
    let tmp = tempfile::tempdir().unwrap();
    write_segment(tmp.path(), 1, |i, h| match i {
        0 => h.timestamp_nanos = i64::MIN,
        1 => h.timestamp_nanos = i64::MAX,
        4 => h.watermark = u64::MAX,
        _ => {}
    });
    let reader = Reader::open(tmp.path()).unwrap();
    assert_eq!(reader.verify_integrity().watermark, u64::MAX);
    let seqs: Vec<u64> = reader.replay(1..=u64::MAX).unwrap().map(|e| e.unwrap().seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    let sink = open_every_way(tmp.path()).expect("an intact log opens");
    assert_eq!(sink.recovery_report().seq_next, 6);
}

#[test]
fn a_segment_with_id_u64_max_is_read_and_refused_for_writing_with_its_path() {
    // Regression (issue #19, defect 3): `Sink::open` computed the next segment id as
    // `id + 1` and panicked on a segment file named u64::MAX.
    let tmp = tempfile::tempdir().unwrap();
    write_segment(tmp.path(), u64::MAX, |_, _| {});
    let reader = Reader::open(tmp.path()).unwrap();
    assert_eq!(reader.seq_last(), 4); // seq 5 is not proven durable (watermark 4)
    match open_every_way(tmp.path()) {
        Err(Error::SegmentIdOutOfRange { path, id, max }) => {
            assert_eq!(id, SegmentId(u64::MAX));
            assert_eq!(max, SEGMENT_ID_MAX);
            assert!(path.ends_with(segment::file_name(id)), "{}", path.display());
        }
        other => panic!("expected SegmentIdOutOfRange, got {:?}", other.err()),
    }
}

#[test]
fn a_seal_claiming_seq_u64_max_with_bytes_after_it_is_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = write_segment(tmp.path(), 1, |_, _| {});
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    let end = end.div_ceil(8) * 8;
    let seal = RecordHeader {
        kind: RecordKind::Seal,
        encoding: BodyEncoding::Fixed,
        flags: 0,
        log_id: LOG,
        segment: SegmentId(1),
        seq: u64::MAX,
        watermark: u64::MAX,
        timestamp_nanos: 0,
        prev_hash: [0; 32],
    };
    let mut framed = Vec::new();
    encode_record(&mut framed, &seal, &[0; 16]);
    bytes[end..end + framed.len()].copy_from_slice(&framed);
    bytes[end + framed.len() + 8] = 1; // a stray byte after the seal
    std::fs::write(tmp.path().join(segment::file_name(SegmentId(1))), &bytes).unwrap();
    let findings = Reader::open(tmp.path()).unwrap().verify_integrity().findings;
    assert!(!findings.is_empty());
    assert!(matches!(open_every_way(tmp.path()), Err(Error::Corruption(_))));
}

#[test]
fn the_structured_fuzz_entry_point_holds_on_a_fixed_sweep_of_inputs() {
    // The `crafted_records` fuzz target's contract, on inputs from a fixed generator (so the
    // plain test suite exercises it without a fuzzer): 3,000 inputs of up to 64 records each,
    // every field choice reached (seq 0 and u64::MAX, extreme watermarks, timestamps and
    // segment ids). A panic fails the test.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..3000usize {
        let len = (next() % 65) as usize * 24 + round % 24;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if round % 3 == 0 {
            if let Some(first) = bytes.get_mut(8..16) {
                first.copy_from_slice(&(u64::MAX - round as u64 % 3).to_le_bytes());
            }
        }
        mtlog_audit::fuzzing::crafted_records(&bytes);
    }
}
