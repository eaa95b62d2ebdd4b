//! Recovery decisions, as a pure function of what the scan found: `classify(&Scan) -> Verdict`.
//!
//! The rule (see `docs/recovery.md` for the table):
//!
//! - `W`, the **proven durable watermark**, is the highest watermark carried by any valid record.
//!   A record's watermark is the highest seq that was fsynced before it was written, so every seq
//!   up to `W` was acknowledged-durable at some point.
//! - Walking the log in order, the first anomaly (damage, hole, misdirected record, seq gap,
//!   chain break, bad header, missing segment, a seal that disagrees with its segment) sits
//!   where seq `e` was expected.
//! - If `e <= W` the anomaly is **corruption**: durable data is affected. It is reported with its
//!   location and never truncated.
//! - If `e > W` it is the **tail** of an interrupted write: everything from there on is
//!   quarantined (bytes saved), then cut, and the cut is reported.
//!
//! Only the last batch before a crash is unproven (no later record carries its watermark). A
//! bit flip there is indistinguishable from a torn write and is handled as a tail: quarantined
//! and reported, never silently dropped. Clean close writes a seal, which proves everything.
//!
//! # Examples
//!
//! The three verdicts, on a segment holding events 1 to 3 (event `n` carries watermark
//! `n - 1`, so `W` is 2):
//!
//! ```
//! use mtlog_audit::error::DamageKind;
//! use mtlog_audit::wal::format::{SegmentId, RECORD_BODY_HARD_MAX, RECORD_HEADER_LEN};
//! use mtlog_audit::wal::recovery::{self, Scan, Verdict};
//! use mtlog_audit::wal::scan::scan_segment;
//!
//! # use mtlog_audit::integrity::chain;
//! # use mtlog_audit::wal::format::*;
//! # /// A segment file holding events 1..=n (as in the `scan` module's example).
//! # fn segment_file(log_id: u128, n: u64) -> Vec<u8> {
//! #     let segment = SegmentId(1);
//! #     let header = SegmentHeader { log_id, segment, capacity: 4096 };
//! #     let mut file = encode_segment_header(&header).to_vec();
//! #     let mut prev_hash = chain::genesis(log_id);
//! #     for seq in 1..=n {
//! #         let header = RecordHeader {
//! #             kind: RecordKind::Event,
//! #             encoding: BodyEncoding::Postcard,
//! #             flags: 0,
//! #             log_id,
//! #             segment,
//! #             seq,
//! #             watermark: seq - 1,
//! #             timestamp_nanos: 0,
//! #             prev_hash,
//! #         };
//! #         encode_record(&mut file, &header, b"body");
//! #         prev_hash = chain::link(&prev_hash, &chain::leaf_hash(log_id, seq, 0, 0, 0, b"body"));
//! #     }
//! #     file.resize(4096, 0);
//! #     file
//! # }
//! let log_id = 7u128;
//! let scan = |file: &[u8]| {
//!     let segment = scan_segment(SegmentId(1), file, log_id, RECORD_BODY_HARD_MAX, &[], None);
//!     Scan { log_id, segments: vec![segment] }
//! };
//! let classify = |file: &[u8]| recovery::classify(&scan(file));
//! let file = segment_file(log_id, 3);
//! let record = |seq: u64| 64 + (seq as usize - 1) * (RECORD_HEADER_LEN + 8); // its offset
//!
//! let Verdict::Clean(head) = classify(&file) else { panic!("expected a clean log") };
//! assert_eq!((head.seq_next, head.watermark), (4, 2));
//!
//! // Event 3 torn by a crash: nothing acknowledged it (3 > W), so it is quarantined and cut.
//! let mut torn = file.clone();
//! torn[record(3) + 50..record(4)].fill(0); // the write reached the disk only in part
//! let Verdict::Tail { cut, head } = classify(&torn) else { panic!("expected a tail") };
//! assert_eq!((cut.offset, cut.seq_range.0, head.seq_next), (record(3) as u64, 3, 3));
//!
//! // The same log read without deciding: its findings, its valid prefix, where its data ends.
//! let torn = scan(&torn);
//! let found = recovery::findings(&torn);
//! assert_eq!((found[0].offset, found[0].seq_expected), (cut.offset, 3));
//! assert_eq!(found[0].anomaly.damage_kind(), cut.reason);
//! assert_eq!(recovery::prefix_head(&torn), head);
//! assert_eq!(recovery::proven_watermark(&torn), 1); // watermark 2 was in the torn event 3
//! assert!(recovery::has_data(&torn.segments[0]));
//! assert_eq!(recovery::data_end(&torn.segments[0]), cut.offset + cut.len);
//!
//! // Event 1 flipped: it was durable (1 <= W), so this is corruption, refused and reported.
//! let mut flipped = file.clone();
//! flipped[record(1) + RECORD_HEADER_LEN] ^= 1;
//! let Verdict::Corrupt(c) = classify(&flipped) else { panic!("expected corruption") };
//! assert_eq!((c.offset, c.seq_range.0), (record(1) as u64, 1));
//! assert!(matches!(c.kind, DamageKind::Checksum { .. }));
//! ```

use crate::error::{Corruption, DamageKind};
use crate::integrity::chain::{self, Hash};
use crate::wal::format::{RecordKind, SegmentId};
use crate::wal::scan::{Item, SegmentScan, SEAL_OK};

/// Everything the scan found, segments in id order. See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// The log's id.
    pub log_id: u128,
    /// The segments, sorted by id.
    pub segments: Vec<SegmentScan>,
}

/// The recovery decision. See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No anomaly: the log continues after `head`.
    Clean(Head),
    /// An interrupted write past the durable point: quarantine and cut at `cut`.
    Tail {
        /// Where to cut.
        cut: Cut,
        /// The state of the log just before the cut.
        head: Head,
    },
    /// Damage at or below the durable watermark: refuse, report, never truncate.
    Corrupt(Corruption),
}

/// The state of the log at its end (or at a cut). See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The seq the next event gets.
    pub seq_next: u64,
    /// The chain value after the last event.
    pub chain: Hash,
    /// The last event's timestamp (for the clock-adjusted flag), if any.
    pub timestamp_last: Option<i64>,
    /// The segment the log ends in, and the offset just past its last valid record.
    pub segment: Option<(SegmentId, u64)>,
    /// Whether that segment ends with a seal.
    pub sealed: bool,
    /// The proven durable watermark.
    pub watermark: u64,
    /// Events found.
    pub events: u64,
}

/// A tail to cut. See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The segment the cut is in.
    pub segment: SegmentId,
    /// The offset of the cut.
    pub offset: u64,
    /// Bytes from the cut to the end of the last non-zero item of that segment.
    pub len: u64,
    /// The seq expected at the cut, and the highest seq seen past it (inclusive).
    pub seq_range: (u64, u64),
    /// Why.
    pub reason: DamageKind,
    /// Later segments that hold data and go to quarantine whole.
    pub later_segments: Vec<SegmentId>,
}

/// What the anomaly found first is, for the decision table. See [`decide`] for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anomaly {
    /// Bytes that are not a record.
    Damage(DamageKind),
    /// Zeros followed by records.
    Hole,
    /// A record with the wrong seq.
    SeqGap {
        /// Expected.
        expected: u64,
        /// Found.
        found: u64,
    },
    /// A record whose predecessor hash does not match.
    ChainBreak(u64),
    /// A segment header that does not verify.
    SegmentHeader,
    /// A missing segment id.
    MissingSegment,
    /// A seal that disagrees with its segment (count, last seq or xxh3).
    Seal,
}

/// The decision for one anomaly: the whole table, one arm per case. See [`decide`] for an
/// example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Report as corruption; keep every byte.
    Refuse,
    /// Quarantine and cut.
    CutTail,
}

/// Decides what an anomaly at expected seq `e` means given the proven watermark `w`.
///
/// # Examples
///
/// ```
/// use mtlog_audit::wal::recovery::{decide, Anomaly, Decision};
///
/// assert_eq!(decide(Anomaly::Hole, 5, 7), Decision::Refuse); // seq 5 was durable
/// assert_eq!(decide(Anomaly::Hole, 8, 7), Decision::CutTail); // seq 8 never was
/// ```
pub fn decide(anomaly: Anomaly, e: u64, w: u64) -> Decision {
    let durable = e <= w;
    match (anomaly, durable) {
        // Bytes lost after a failed fsync were never acknowledged; they are always the tail.
        (Anomaly::Damage(DamageKind::UnsyncedAfterFailedSync), _) => Decision::CutTail,
        // Valid records of a newer format version: never cut what we cannot read.
        (Anomaly::Damage(DamageKind::Unsupported), _) => Decision::Refuse,
        #[cfg(feature = "canary-truncate-on-crc")] // CANARY: cuts durable data at a bad checksum
        (Anomaly::Damage(DamageKind::Checksum { .. }), true) => Decision::CutTail,
        (Anomaly::Damage(_), true) => Decision::Refuse,
        (Anomaly::Damage(_), false) => Decision::CutTail,
        (Anomaly::Hole, true) => Decision::Refuse,
        (Anomaly::Hole, false) => Decision::CutTail,
        (Anomaly::SeqGap { .. }, true) => Decision::Refuse,
        (Anomaly::SeqGap { .. }, false) => Decision::CutTail,
        (Anomaly::ChainBreak(_), true) => Decision::Refuse,
        (Anomaly::ChainBreak(_), false) => Decision::CutTail,
        (Anomaly::SegmentHeader, true) => Decision::Refuse,
        (Anomaly::SegmentHeader, false) => Decision::CutTail,
        (Anomaly::MissingSegment, true) => Decision::Refuse,
        (Anomaly::MissingSegment, false) => Decision::CutTail,
        (Anomaly::Seal, true) => Decision::Refuse,
        (Anomaly::Seal, false) => Decision::CutTail,
    }
}

impl Anomaly {
    /// The damage kind this anomaly is reported as. See the [module docs](self) for an example.
    pub fn damage_kind(self) -> DamageKind {
        match self {
            Anomaly::Damage(kind) => kind,
            Anomaly::Hole => DamageKind::Hole,
            Anomaly::SeqGap { expected, found } => DamageKind::SeqGap { expected, found },
            Anomaly::ChainBreak(seq) => DamageKind::ChainBreak { seq },
            Anomaly::SegmentHeader => DamageKind::SegmentHeader,
            Anomaly::MissingSegment => DamageKind::MissingSegment,
            Anomaly::Seal => DamageKind::SealMismatch,
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "segment {} offset {}: {} (seq {} expected here)",
            self.segment,
            self.offset,
            self.anomaly.damage_kind(),
            self.seq_expected
        )
    }
}

/// An anomaly with its place in the log. See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Finding {
    /// What.
    pub anomaly: Anomaly,
    /// The segment.
    pub segment: SegmentId,
    /// The offset in it.
    pub offset: u64,
    /// The seq expected there.
    pub seq_expected: u64,
}

/// The proven durable watermark: the highest watermark any valid record carries.
/// See the [module docs](self) for an example.
pub fn proven_watermark(scan: &Scan) -> u64 {
    let mut w = 0;
    for seg in &scan.segments {
        for item in &seg.items {
            if let Item::Record(r) = item {
                w = w.max(r.watermark);
            }
        }
    }
    w
}

/// Classifies the scan. See the [module docs](self) for the rule and an example.
pub fn classify(scan: &Scan) -> Verdict {
    let w = proven_watermark(scan);
    let (head, finding) = walk(scan, w);
    let Some(f) = finding else {
        return Verdict::Clean(head);
    };
    let seq_last = highest_seq(scan).max(f.seq_expected);
    match decide(f.anomaly, f.seq_expected, w) {
        Decision::Refuse => Verdict::Corrupt(Corruption {
            segment: f.segment,
            offset: f.offset,
            seq_range: (f.seq_expected, w.max(f.seq_expected).min(seq_last)),
            kind: f.anomaly.damage_kind(),
        }),
        Decision::CutTail => {
            let len = scan
                .segments
                .iter()
                .find(|s| s.id == f.segment)
                .map_or(0, |s| data_end(s).saturating_sub(f.offset));
            let later_segments = scan
                .segments
                .iter()
                .filter(|s| s.id > f.segment && has_data(s))
                .map(|s| s.id)
                .collect();
            Verdict::Tail {
                cut: Cut {
                    segment: f.segment,
                    offset: f.offset,
                    len,
                    seq_range: (f.seq_expected, seq_last),
                    reason: f.anomaly.damage_kind(),
                    later_segments,
                },
                head,
            }
        }
    }
}

/// The head of the valid prefix: the state just before the first anomaly (or at the end).
/// See the [module docs](self) for an example.
pub fn prefix_head(scan: &Scan) -> Head {
    walk(scan, proven_watermark(scan)).0
}

/// Every anomaly in the log, in order, for `verify_integrity` and read-only salvage: the walk
/// continues past each one, resynchronising on the next valid record.
///
/// See the [module docs](self) for an example.
pub fn findings(scan: &Scan) -> Vec<Finding> {
    let w = proven_watermark(scan);
    let mut out = Vec::new();
    let mut state = Walker::new(scan.log_id, w);
    for (i, seg) in scan.segments.iter().enumerate() {
        let next_has_data = scan.segments[i + 1..].iter().any(has_data);
        state.segment(seg, next_has_data, &mut |f| out.push(f));
    }
    out
}

/// Walks the log in order up to the first anomaly. Returns the head just before it.
fn walk(scan: &Scan, w: u64) -> (Head, Option<Finding>) {
    let mut state = Walker::new(scan.log_id, w);
    let mut first = None;
    for (i, seg) in scan.segments.iter().enumerate() {
        let next_has_data = scan.segments[i + 1..].iter().any(has_data);
        let mut found = None;
        state.segment(seg, next_has_data, &mut |f| {
            if found.is_none() {
                found = Some(f);
            }
        });
        if let Some(f) = found {
            first = Some(f);
            break;
        }
    }
    let head = match state.head_at_first_anomaly.take() {
        Some(h) => h,
        None => state.head(),
    };
    (head, first)
}

struct Walker {
    log_id: u128,
    w: u64,
    seq_next: Option<u64>,
    chain: Option<Hash>,
    timestamp_last: Option<i64>,
    segment: Option<(SegmentId, u64)>,
    sealed: bool,
    prev_id: Option<SegmentId>,
    events: u64,
    head_at_first_anomaly: Option<Head>,
    /// Set after damage or a hole: the next event is taken as the new position.
    resync: bool,
}

impl Walker {
    fn new(log_id: u128, w: u64) -> Walker {
        Walker {
            log_id,
            w,
            seq_next: None,
            chain: None,
            timestamp_last: None,
            segment: None,
            sealed: false,
            prev_id: None,
            events: 0,
            head_at_first_anomaly: None,
            resync: false,
        }
    }

    fn head(&self) -> Head {
        Head {
            seq_next: self.seq_next.unwrap_or(1),
            chain: self.chain.unwrap_or_else(|| chain::genesis(self.log_id)),
            timestamp_last: self.timestamp_last,
            segment: self.segment,
            sealed: self.sealed,
            watermark: self.w,
            events: self.events,
        }
    }

    fn expected(&self) -> u64 {
        self.seq_next.unwrap_or(1)
    }

    fn report(&mut self, f: Finding, sink: &mut dyn FnMut(Finding)) {
        if self.head_at_first_anomaly.is_none() {
            self.head_at_first_anomaly = Some(self.head());
        }
        sink(f);
    }

    fn segment(&mut self, seg: &SegmentScan, next_has_data: bool, sink: &mut dyn FnMut(Finding)) {
        if let Some(prev) = self.prev_id {
            // Segments come sorted by id, so `prev < seg.id` and `prev + 1` exists.
            assert!(prev < seg.id, "segments out of order: {prev} before {}", seg.id);
            let missing = SegmentId(prev.0.saturating_add(1));
            if seg.id != missing {
                let f = self.finding(Anomaly::MissingSegment, missing, 0);
                self.report(f, sink);
            }
        }
        self.prev_id = Some(seg.id);
        match seg.header {
            Ok(_) => {}
            Err(crate::wal::format::HeaderDefect::Version(_)) => {
                let f = self.finding(Anomaly::Damage(DamageKind::Unsupported), seg.id, 0);
                self.report(f, sink);
            }
            Err(_) => {
                let f = self.finding(Anomaly::SegmentHeader, seg.id, 0);
                self.report(f, sink);
            }
        }
        if !has_data(seg) && !next_has_data {
            // An empty prepared segment at the end: the log's next segment, ready for use.
            if self.segment.is_none() || self.sealed {
                self.segment = Some((seg.id, crate::wal::format::SEGMENT_HEADER_LEN as u64));
                self.sealed = false;
            }
            return;
        }
        self.segment = Some((seg.id, crate::wal::format::SEGMENT_HEADER_LEN as u64));
        self.sealed = false;
        for (i, item) in seg.items.iter().enumerate() {
            match item {
                Item::Record(r) => self.record(seg.id, r, sink),
                Item::Zeros { offset, .. } => {
                    if seg.items[i + 1..].iter().any(|x| !matches!(x, Item::Zeros { .. })) {
                        let f = self.finding(Anomaly::Hole, seg.id, *offset);
                        self.report(f, sink);
                        self.resync = true;
                    }
                }
                Item::Damage { offset, kind, .. } => {
                    let f = self.finding(Anomaly::Damage(*kind), seg.id, *offset);
                    self.report(f, sink);
                    self.resync = true;
                }
            }
        }
        // An unsealed segment before later data is legal: recovery ends segments by shrinking
        // them, not by writing a seal (see `open::end_at`). The next segment's first record
        // must continue the seq and the chain, which the walk checks.
    }

    fn record(
        &mut self,
        id: SegmentId,
        r: &crate::wal::scan::ScannedRecord,
        sink: &mut dyn FnMut(Finding),
    ) {
        match r.kind {
            RecordKind::Event if self.resync => {
                // The first record after damage: the damage was reported; its seq gap and
                // chain break are the same damage seen again. Take this record's place, unless
                // its seq is one no event can have (0, or the last u64, which has no next).
                self.resync = false;
                if !seq_is_possible(r.seq) {
                    let expected = self.expected();
                    let f = self.finding(Anomaly::SeqGap { expected, found: r.seq }, id, r.offset);
                    self.report(f, sink);
                }
                self.chain = Some(chain::link(&r.prev_hash, &r.digest));
                self.seq_next = Some(seq_after(r.seq));
                self.timestamp_last = Some(r.timestamp_nanos);
                self.events += 1;
                self.segment = Some((id, r.offset + r.len));
            }
            RecordKind::Event => {
                let expected = self.expected();
                // A log starts at seq 1, from genesis: a first event of another seq means the
                // records before it were lost (the first segment's records destroyed or
                // displaced, say), not retired, since nothing retires segments yet.
                if r.seq != expected || !seq_is_possible(r.seq) {
                    let f = self.finding(Anomaly::SeqGap { expected, found: r.seq }, id, r.offset);
                    self.report(f, sink);
                }
                let chain_prev = match self.chain {
                    Some(c) => Some(c),
                    None if r.seq == 1 => Some(chain::genesis(self.log_id)),
                    None => None, // a first event of another seq: reported as a SeqGap above
                };
                if chain_prev.is_some_and(|c| c != r.prev_hash) {
                    let f = self.finding(Anomaly::ChainBreak(r.seq), id, r.offset);
                    self.report(f, sink);
                }
                self.chain = Some(chain::link(&r.prev_hash, &r.digest));
                self.seq_next = Some(seq_after(r.seq));
                self.timestamp_last = Some(r.timestamp_nanos);
                self.events += 1;
                self.segment = Some((id, r.offset + r.len));
            }
            RecordKind::Seal => {
                let last = self.expected().saturating_sub(1);
                if r.digest != SEAL_OK || (self.seq_next.is_some() && r.seq != last) {
                    let f = self.finding(Anomaly::Seal, id, r.offset);
                    self.report(f, sink);
                }
                self.sealed = true;
                self.segment = Some((id, r.offset + r.len));
            }
            RecordKind::Commit => {
                // Proves durability only. A recovered log keeps it (the segment is ended after
                // it), so the proof survives the reopen.
                self.segment = Some((id, r.offset + r.len));
            }
        }
    }

    fn finding(&self, anomaly: Anomaly, segment: SegmentId, offset: u64) -> Finding {
        Finding { anomaly, segment, offset, seq_expected: self.expected() }
    }
}

/// Whether an event may carry `seq`: a log starts at 1, and the last `u64` has no successor, so
/// a writer could never have continued after it. A record claiming either (its checksum proves
/// nothing about who wrote it) is a seq anomaly, never a position to continue from.
fn seq_is_possible(seq: u64) -> bool {
    seq != 0 && seq != u64::MAX
}

/// The seq after `seq`, saturating: only reached for a record [`seq_is_possible`] refused, which
/// was reported, so the walk's later numbers need not be meaningful, only free of overflow.
fn seq_after(seq: u64) -> u64 {
    seq.saturating_add(1)
}

/// Whether a segment holds anything but zeros after its header.
/// See the [module docs](self) for an example.
pub fn has_data(seg: &SegmentScan) -> bool {
    seg.header.is_err() || seg.items.iter().any(|i| !matches!(i, Item::Zeros { .. }))
}

/// The end of the last non-zero item of a segment. See the [module docs](self) for an example.
pub fn data_end(seg: &SegmentScan) -> u64 {
    seg.items
        .iter()
        .rev()
        .find(|i| !matches!(i, Item::Zeros { .. }))
        .map_or(crate::wal::format::SEGMENT_HEADER_LEN as u64, Item::end)
}

fn highest_seq(scan: &Scan) -> u64 {
    let mut s = 0;
    for seg in &scan.segments {
        for item in &seg.items {
            if let Item::Record(r) = item {
                if r.kind == RecordKind::Event {
                    s = s.max(r.seq);
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_ANOMALIES: [Anomaly; 9] = [
        Anomaly::Damage(DamageKind::Garbage),
        Anomaly::Damage(DamageKind::UnsyncedAfterFailedSync),
        Anomaly::Damage(DamageKind::Unsupported),
        Anomaly::Hole,
        Anomaly::SeqGap { expected: 1, found: 2 },
        Anomaly::ChainBreak(1),
        Anomaly::SegmentHeader,
        Anomaly::MissingSegment,
        Anomaly::Seal,
    ];

    #[test]
    fn decision_table_is_exhaustive_and_follows_the_watermark_rule() {
        // Goal: every anomaly kind, on each side of the watermark, has exactly the decision the
        // table in docs/recovery.md states. `decide` is a match without a wildcard, so a new
        // anomaly kind does not compile until it has a row; this test pins each row's outcome.
        for a in ALL_ANOMALIES {
            let above = decide(a, 11, 10);
            let below = decide(a, 10, 10);
            let expected_above = match a {
                Anomaly::Damage(DamageKind::Unsupported) => Decision::Refuse,
                _ => Decision::CutTail,
            };
            assert_eq!(above, expected_above, "{a:?} above the watermark");
            let expected_below = match a {
                Anomaly::Damage(DamageKind::UnsyncedAfterFailedSync) => Decision::CutTail,
                _ => Decision::Refuse,
            };
            assert_eq!(below, expected_below, "{a:?} at the watermark");
        }
    }
}

#[cfg(test)]
mod property_tests {
    //! Recovery over prefixes and bit flips of a valid segment, against the plain model: the
    //! records written, in order.
    use super::*;
    use crate::wal::format::{
        encode_record, encode_segment_header, framed_len, BodyEncoding, RecordHeader,
        SegmentHeader, SEGMENT_HEADER_LEN,
    };
    use crate::wal::scan::scan_segment;
    use proptest::prelude::*;

    const LOG: u128 = 0x5eed;
    const CAPACITY: usize = 64 << 10;

    /// A segment of records with bodies `bodies`, each its own batch (watermark = seq - 1),
    /// chained from genesis. Returns the bytes and each record's (offset, framed length).
    fn segment(bodies: &[Vec<u8>]) -> (Vec<u8>, Vec<(usize, usize)>) {
        let header =
            SegmentHeader { log_id: LOG, segment: SegmentId(1), capacity: CAPACITY as u64 };
        let mut b = encode_segment_header(&header).to_vec();
        let mut chain = chain::genesis(LOG);
        let mut spans = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            let seq = i as u64 + 1;
            let h = RecordHeader {
                kind: RecordKind::Event,
                encoding: BodyEncoding::Postcard,
                flags: 0,
                log_id: LOG,
                segment: SegmentId(1),
                seq,
                watermark: seq - 1,
                timestamp_nanos: seq as i64,
                prev_hash: chain,
            };
            spans.push((b.len(), framed_len(body.len())));
            encode_record(&mut b, &h, body);
            chain = chain::link(&chain, &chain::leaf_hash(LOG, seq, seq as i64, 0, 0, body));
        }
        b.resize(CAPACITY, 0);
        (b, spans)
    }

    fn classify_bytes(bytes: &[u8]) -> Verdict {
        let seg = scan_segment(SegmentId(1), bytes, LOG, 1 << 20, &[], None);
        classify(&Scan { log_id: LOG, segments: vec![seg] })
    }

    #[test]
    fn a_later_record_displaced_over_the_first_ones_is_corruption_where_it_landed() {
        // Torture seed 455841: a misdirected write put record 3 over records 1 and 2 at the
        // start of segment 1. The walk took it for the start of a log whose earlier segments
        // were retired, and reported the damage only where record 3's copy ended, as if
        // records 1 and 2 (destroyed) came before the damage. A log starts at seq 1.
        let (mut bytes, spans) = segment(&vec![vec![7u8; 40]; 5]);
        let (at3, len3) = spans[2];
        let record3 = bytes[at3..at3 + len3].to_vec();
        bytes[SEGMENT_HEADER_LEN..SEGMENT_HEADER_LEN + len3].copy_from_slice(&record3);
        match classify_bytes(&bytes) {
            Verdict::Corrupt(c) => {
                assert_eq!((c.segment, c.offset), (SegmentId(1), SEGMENT_HEADER_LEN as u64));
                assert_eq!(c.seq_range.0, 1, "{c}");
                assert_eq!(c.kind, DamageKind::SeqGap { expected: 1, found: 3 }, "{c}");
            }
            other => panic!("displaced first records not refused where they were: {other:?}"),
        }
    }

    /// A seq a hostile writer might put in a record with a valid checksum.
    fn any_seq() -> impl Strategy<Value = u64> {
        prop_oneof![Just(0u64), Just(u64::MAX), Just(u64::MAX - 1), 1u64..40, any::<u64>()]
    }

    proptest! {
        #[test]
        fn records_with_valid_checksums_and_any_field_values_never_panic_the_walk(
            fields in proptest::collection::vec(
                (any_seq(), any_seq(), any::<i64>(), any::<bool>()), 1..24),
        ) {
            // Regression (issue #19, defect 3): a record of seq u64::MAX with a valid checksum
            // overflowed `seq + 1` in the walk, so every reader and `Sink::open` panicked.
            // Method: frame records whose seq, watermark and timestamp are arbitrary (chained
            // honestly or not), and walk them every way; seq 0 and u64::MAX are never accepted.
            let header =
                SegmentHeader { log_id: LOG, segment: SegmentId(1), capacity: CAPACITY as u64 };
            let mut b = encode_segment_header(&header).to_vec();
            let mut chain = chain::genesis(LOG);
            for &(seq, watermark, ts, chained) in &fields {
                let h = RecordHeader {
                    kind: RecordKind::Event,
                    encoding: BodyEncoding::Postcard,
                    flags: 0,
                    log_id: LOG,
                    segment: SegmentId(1),
                    seq,
                    watermark,
                    timestamp_nanos: ts,
                    prev_hash: if chained { chain } else { [7; 32] },
                };
                encode_record(&mut b, &h, b"body");
                chain = chain::link(&h.prev_hash, &chain::leaf_hash(LOG, seq, ts, 0, 0, b"body"));
            }
            b.resize(CAPACITY, 0);
            let seg = scan_segment(SegmentId(1), &b, LOG, 1 << 20, &[], None);
            let scan = Scan { log_id: LOG, segments: vec![seg] };
            let found = findings(&scan);
            let head = prefix_head(&scan);
            prop_assert!(head.seq_next >= 1);
            if fields.iter().any(|f| f.0 == 0 || f.0 == u64::MAX) {
                prop_assert!(!found.is_empty(), "seq 0 or u64::MAX accepted");
            }
            match classify(&scan) {
                Verdict::Corrupt(c) => prop_assert!(c.seq_range.0 <= c.seq_range.1),
                Verdict::Tail { cut, .. } => prop_assert!(cut.seq_range.0 <= cut.seq_range.1),
                Verdict::Clean(h) => prop_assert!(found.is_empty() && h.seq_next >= 1),
            }
        }
    }

    fn bodies() -> impl Strategy<Value = Vec<Vec<u8>>> {
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..40)
    }

    proptest! {
        #[test]
        fn every_prefix_recovers_exactly_the_records_wholly_inside_it(
            bodies in bodies(), cut in any::<prop::sample::Index>(),
        ) {
            let (full, spans) = segment(&bodies);
            let end = spans.last().map_or(SEGMENT_HEADER_LEN, |(o, l)| o + l);
            let len = SEGMENT_HEADER_LEN + cut.index(end - SEGMENT_HEADER_LEN + 1);
            // The prefix persisted; the rest of the preallocated file reads as zeros.
            let mut bytes = full[..len].to_vec();
            bytes.resize(CAPACITY, 0);
            // A record is whole if every byte of it persisted. Trailing zero bytes of a record
            // (a body ending in zeros, the padding) read the same whether written or not.
            let nonzero_end = |&(o, l): &(usize, usize)| {
                full[o..o + l].iter().rposition(|&b| b != 0).map_or(o, |i| o + i + 1)
            };
            let whole = spans.iter().take_while(|s| nonzero_end(s) <= len).count() as u64;
            let head = match classify_bytes(&bytes) {
                Verdict::Clean(h) => h,
                Verdict::Tail { head, cut } => {
                    prop_assert_eq!(cut.offset as usize, spans[whole as usize].0);
                    head
                }
                Verdict::Corrupt(c) => return Err(TestCaseError::fail(format!("{c}"))),
            };
            prop_assert_eq!(head.seq_next - 1, whole);
            prop_assert_eq!(head.events, whole);
        }

        #[test]
        fn a_flipped_bit_is_corruption_at_or_below_the_watermark_and_a_cut_above(
            bodies in bodies(), which in any::<prop::sample::Index>(), bit in 0usize..(8 * 296),
        ) {
            let (mut bytes, spans) = segment(&bodies);
            let j = which.index(spans.len());
            let (offset, len) = spans[j];
            let bit = bit % (len * 8);
            bytes[offset + bit / 8] ^= 1 << (bit % 8);
            let seq = j as u64 + 1;
            let watermark = spans.len() as u64 - 1; // the last record proves all before it
            match classify_bytes(&bytes) {
                Verdict::Corrupt(c) => {
                    prop_assert!(seq <= watermark, "false alarm at seq {}", seq);
                    prop_assert_eq!(c.segment, SegmentId(1));
                    prop_assert_eq!(c.offset as usize, offset);
                    prop_assert_eq!(c.seq_range.0, seq);
                }
                Verdict::Tail { cut, head } => {
                    prop_assert!(seq > watermark, "durable record {} cut as tail", seq);
                    prop_assert_eq!(cut.offset as usize, offset);
                    prop_assert_eq!(head.seq_next, seq);
                }
                Verdict::Clean(h) => {
                    return Err(TestCaseError::fail(format!("flip accepted, head {}", h.seq_next)));
                }
            }
        }
    }
}
