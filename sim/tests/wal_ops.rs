//! The structured fuzz target's harness (`mtlog_audit_sim::wal_ops`) on fixed op sequences:
//! the scenarios it must handle, plus every sequence the `wal_ops` fuzz target ever failed on
//! (as a regression test, named for the bug).

use mtlog_audit::DamageKind;
use mtlog_audit_sim::wal_ops::{run, Op};

fn emits(n: usize, len: u16) -> Vec<Op> {
    (0..n).map(|i| Op::Emit { len: len.wrapping_add(i as u16 * 37), ts_step: 1 }).collect()
}

#[test]
fn flushed_events_survive_power_loss_and_rotation() {
    // Goal: the model check passes on the plain path. Method: batches large enough to rotate
    // 8 KiB segments several times, a power loss after each flush, a reopen.
    let mut ops = Vec::new();
    for _ in 0..6 {
        ops.extend(emits(7, 300));
        ops.push(Op::Flush);
        ops.push(Op::PowerLoss);
    }
    ops.push(Op::Reopen);
    let out = run(&ops);
    assert_eq!(out.events, 42);
    assert!(out.corruption.is_none());
}

#[test]
fn a_batch_dying_mid_write_keeps_the_acknowledged_part_and_at_most_a_prefix_of_the_rest() {
    // Goal: every crash point of a rotating batch, both crash kinds. Method: 20 events of
    // ~650 bytes span two segments; the process dies after k mutating operations.
    for after in 0..8u8 {
        for power in [false, true] {
            let mut ops = emits(3, 100);
            ops.push(Op::Flush);
            ops.extend(emits(20, 600));
            ops.push(Op::FlushCrash { after, power });
            ops.push(Op::Reopen);
            ops.extend(emits(2, 10));
            ops.push(Op::Flush);
            let out = run(&ops);
            assert!(out.events >= 5, "after {after} power {power}: {out:?}");
            assert!(out.corruption.is_none());
        }
    }
}

#[test]
fn a_flip_in_an_acknowledged_record_is_reported_as_corruption() {
    // Goal: damage below the watermark is refused, with its place. Method: two batches (the
    // second proves the first durable), a clean close, a flip inside the first record's body.
    let mut ops = emits(2, 50);
    ops.push(Op::Flush);
    ops.extend(emits(2, 50));
    ops.push(Op::Flush);
    ops.push(Op::Close);
    ops.push(Op::CorruptByte { file: 0, offset: 64 + 96 + 20, bit: 3 });
    ops.push(Op::Reopen);
    let out = run(&ops);
    let c = out.corruption.expect("corruption");
    assert_eq!(c.offset, 64);
    assert!(matches!(c.kind, DamageKind::Checksum { .. }), "{c}");
}

#[test]
fn a_flip_in_unused_space_costs_nothing() {
    // Goal: garbage past the last record is a tail, not corruption. Method: a flip far into
    // the preallocated zeros of the only segment, then a power loss and a reopen.
    let mut ops = emits(3, 20);
    ops.push(Op::Flush);
    ops.push(Op::CorruptByte { file: 0, offset: 6000, bit: 0 });
    ops.push(Op::PowerLoss);
    ops.push(Op::Reopen);
    ops.extend(emits(3, 20));
    ops.push(Op::Flush);
    let out = run(&ops);
    assert_eq!(out.events, 6);
    assert!(out.corruption.is_none());
    assert_eq!(out.cuts, 1, "the garbage goes to the quarantine");
}

#[test]
fn closing_reopening_and_clock_steps_back_keep_every_event() {
    let mut ops = Vec::new();
    for round in 0..4u16 {
        ops.push(Op::Emit { len: round * 100, ts_step: -100 });
        ops.push(Op::Emit { len: 5, ts_step: 50 });
        ops.push(Op::Flush);
        ops.push(Op::Close);
        ops.push(Op::Crash);
    }
    let out = run(&ops);
    assert_eq!(out.events, 8);
    assert!(out.reopens >= 4);
}

#[test]
fn a_segment_cut_back_to_its_header_is_not_reused_for_appends() {
    // Regression (fuzz target `wal_ops`): a clean close seals the only segment; a flipped byte
    // in the seal makes the next recovery cut the seal away, shrinking the segment to its
    // 64-byte header; the recovery after that took the header-only file for an empty prepared
    // segment and gave it to the writer with a capacity of 64 bytes, whose room arithmetic
    // (`capacity - SEAL_RECORD_LEN`) underflowed. Fixed in `open::continue_after`: only an
    // empty segment still at its prepared size is reused.
    let ops = [
        Op::Close,
        Op::CorruptByte { file: 255, offset: 1_664_548_863, bit: 99 },
        Op::FlushCrash { after: 255, power: true },
        Op::Close,
    ];
    let out = run(&ops);
    assert!(out.corruption.is_none());
    assert_eq!(out.cuts, 1, "the damaged seal goes to the quarantine");
}
