//! Criterion microbenchmarks of the pure hot-path pieces: event encoding, record framing, the
//! chain hash and the segment scan; and the floor under a simulated WAL run (see
//! `t1_run_floor`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mtlog_audit::event::{Event, EventId, Level};
use mtlog_audit::integrity::chain;
use mtlog_audit::wal::format::{encode_record, BodyEncoding, RecordHeader, RecordKind, SegmentId};
use mtlog_audit::wal::scan::scan_segment;

fn event() -> Event {
    Event::new(
        EventId([7; 16]),
        1,
        Level::Information,
        "User {UserId} accessed record {RecordId} {Pad}",
    )
    .with_property("UserId", 42u64)
    .with_property("RecordId", "r-7")
    .with_property("Pad", "x".repeat(900))
    .render()
}

fn header(seq: u64) -> RecordHeader {
    RecordHeader {
        kind: RecordKind::Event,
        encoding: BodyEncoding::Postcard,
        flags: 0,
        log_id: 1,
        segment: SegmentId(1),
        seq,
        watermark: seq - 1,
        timestamp_nanos: 0,
        prev_hash: [0; 32],
    }
}

fn benches(c: &mut Criterion) {
    let ev = event();
    let mut body = Vec::new();
    ev.encode_body(&mut body).unwrap();
    let mut g = c.benchmark_group("hot path, 1 KiB event");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode event body", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            out.clear();
            ev.encode_body(&mut out).unwrap();
        })
    });
    g.bench_function("frame record (crc32c)", |b| {
        let mut out = Vec::with_capacity(2048);
        b.iter(|| {
            out.clear();
            encode_record(&mut out, &header(5), &body);
        })
    });
    g.bench_function("leaf + chain hash (sha-256)", |b| {
        let prev = [1u8; 32];
        b.iter(|| chain::link(&prev, &chain::leaf_hash(1, 5, 0, 0, 0, &body)))
    });
    g.finish();

    let mut segment = vec![0u8; 64];
    segment[..64].copy_from_slice(&mtlog_audit::wal::format::encode_segment_header(
        &mtlog_audit::wal::format::SegmentHeader {
            log_id: 1,
            segment: SegmentId(1),
            capacity: 4 << 20,
        },
    ));
    let mut seq = 1;
    while segment.len() + 2048 < 4 << 20 {
        encode_record(&mut segment, &header(seq), &body);
        seq += 1;
    }
    segment.resize(4 << 20, 0);
    let mut g = c.benchmark_group("recovery");
    g.throughput(Throughput::Bytes(segment.len() as u64));
    g.bench_function("scan a 4 MiB segment", |b| {
        b.iter(|| scan_segment(SegmentId(1), &segment, 1, 1 << 20, &[], None))
    });
    g.finish();
}

/// The work every simulated T1 run (issue 3, point 8: 50-500 appends, crash, recover, check)
/// must do before any disk, recovery or checking: encode each event's body and compute its
/// leaf hash and chain link, as the writer does in `Writer::append`. 275 events, the mean of
/// 50..=500. One iteration is one run's worth, so criterion's `elem/s` is the ceiling on runs/s
/// per core that this work alone allows; docs/torture.md compares it with the 10,000 goal.
fn t1_run_floor(c: &mut Criterion) {
    // The torture harness's events, and the same work torture measures as its floor.
    let shaped = torture::floor::shaped_events(torture::floor::FLOOR_EVENTS);
    // The smallest event the API builds: a one-character template, no properties.
    let minimal: Vec<Event> = (0..torture::floor::FLOOR_EVENTS)
        .map(|n| Event::new(EventId([n as u8; 16]), n as i64, Level::Information, "x").render())
        .collect();
    let mut g = c.benchmark_group("T1 run floor: encode + leaf + chain, 275 events");
    g.throughput(Throughput::Elements(1));
    for (name, events) in [("torture-shaped events", &shaped), ("minimal events", &minimal)] {
        let mut body = Vec::with_capacity(2048);
        g.bench_function(name, |b| b.iter(|| torture::floor::run_floor(events, &mut body)));
    }
    g.finish();
}

criterion_group!(micro, benches, t1_run_floor);
criterion_main!(micro);
