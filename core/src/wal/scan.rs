//! Scanning one segment's bytes into a list of items: records, zero runs and damaged ranges.
//!
//! Pure: bytes in, items out. The scan reads to the end of the preallocated space, because
//! zeros are not by themselves the end of the log: a power loss can persist a later page of a
//! batch and not an earlier one, leaving valid records after a hole. After damage the scan
//! resynchronises at the next 8-aligned offset where a whole, checksummed record of this log
//! starts.
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::integrity::chain;
//! use mtlog_audit::wal::format::*;
//! use mtlog_audit::wal::scan::{scan_segment, Item};
//!
//! // A segment file holding events 1 and 2, the rest of its space zeros.
//! let (log_id, segment) = (7u128, SegmentId(1));
//! let header = SegmentHeader { log_id, segment, capacity: 4096 };
//! let mut file = encode_segment_header(&header).to_vec();
//! let mut prev_hash = chain::genesis(log_id);
//! for seq in 1..=2u64 {
//!     let header = RecordHeader {
//!         kind: RecordKind::Event,
//!         encoding: BodyEncoding::Postcard,
//!         flags: 0,
//!         log_id,
//!         segment,
//!         seq,
//!         watermark: seq - 1, // each event was written after the one before it was synced
//!         timestamp_nanos: 0,
//!         prev_hash,
//!     };
//!     encode_record(&mut file, &header, b"body");
//!     prev_hash = chain::link(&prev_hash, &chain::leaf_hash(log_id, seq, 0, 0, 0, b"body"));
//! }
//! file.resize(4096, 0);
//!
//! let scan = scan_segment(segment, &file, log_id, RECORD_BODY_HARD_MAX, &[], None);
//! assert!(scan.header.is_ok());
//! let seqs: Vec<u64> = scan.items.iter().filter_map(|item| match item {
//!     Item::Record(r) => Some(r.seq),
//!     _ => None,
//! }).collect();
//! assert_eq!(seqs, [1, 2]);
//! assert!(matches!(scan.items.last(), Some(Item::Zeros { .. })));
//! assert_eq!(scan.items.last().map(Item::end), Some(4096)); // the items tile the file
//!
//! // A sector the disk could not read is damage, never mistaken for zeros.
//! let unreadable = [1024..1536];
//! let scan = scan_segment(segment, &file, log_id, RECORD_BODY_HARD_MAX, &unreadable, None);
//! assert!(scan.items.iter().any(|item| matches!(item, Item::Damage { offset: 1024, .. })));
//! ```

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::ops::Range;

use crate::error::DamageKind;
use crate::integrity::chain::{self, Hash};
use crate::wal::format::{
    self, decode_seal_body, HeaderDefect, RecordDefect, RecordKind, SegmentHeader, SegmentId,
    RECORD_ALIGN, RECORD_HEADER_LEN, RECORD_MAGIC, SEGMENT_HEADER_LEN,
};

/// What the scan found in one segment file. See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentScan {
    /// The id from the file name.
    pub id: SegmentId,
    /// The segment id its records were checked against: `id`, unless the file was renamed
    /// (its header, valid and of this log, names another id; see `open::load`).
    pub named: SegmentId,
    /// The decoded header, or why it did not decode.
    pub header: Result<SegmentHeader, HeaderDefect>,
    /// The items in file order; they tile `[SEGMENT_HEADER_LEN, len)` without gaps.
    pub items: Vec<Item>,
    /// The file length.
    pub len: u64,
}

/// One stretch of a segment file. See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    /// A valid record.
    Record(ScannedRecord),
    /// A run of zero bytes.
    Zeros {
        /// Where it starts.
        offset: u64,
        /// How long it is.
        len: u64,
    },
    /// Bytes that are not a valid record of this segment.
    Damage {
        /// Where it starts.
        offset: u64,
        /// How long it is.
        len: u64,
        /// What was found.
        kind: DamageKind,
    },
}

/// A valid record, with what recovery needs to know about it.
/// See the [module docs](self) for an example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScannedRecord {
    /// Byte offset in the segment file.
    pub offset: u64,
    /// Bytes it occupies, padding included.
    pub len: u64,
    /// What it is.
    pub kind: RecordKind,
    /// Its seq (see [`format::RecordHeader::seq`]).
    pub seq: u64,
    /// The durable watermark it carries.
    pub watermark: u64,
    /// Its raw timestamp.
    pub timestamp_nanos: i64,
    /// Its flags.
    pub flags: u16,
    /// The chain value it names as its predecessor.
    pub prev_hash: Hash,
    /// For events: the leaf hash. For seals: whether count and xxh3 match (`[1; 32]` if they
    /// do, zeros if not). Unused for commit markers.
    pub digest: Hash,
    /// For seals: the event count it states.
    pub seal_count: u64,
}

impl Item {
    /// Where the item starts. See the [module docs](self) for an example.
    pub fn offset(&self) -> u64 {
        match self {
            Item::Record(r) => r.offset,
            Item::Zeros { offset, .. } | Item::Damage { offset, .. } => *offset,
        }
    }

    /// Where the item ends. See the [module docs](self) for an example.
    pub fn end(&self) -> u64 {
        match self {
            Item::Record(r) => r.offset + r.len,
            Item::Zeros { offset, len } | Item::Damage { offset, len, .. } => offset + len,
        }
    }
}

/// Marks a seal whose count and checksum matched. See the [module docs](self) for an example.
pub const SEAL_OK: Hash = [1; 32];

/// Scans a segment file's bytes.
///
/// `log_id` is the log's id (from any intact header); `unreadable` lists byte ranges the disk
/// could not read; bytes at or past `trusted_len` (after a failed fsync in this process) are
/// reported as [`DamageKind::UnsyncedAfterFailedSync`] instead of being parsed. See the
/// [module docs](self) for an example.
pub fn scan_segment(
    id: SegmentId,
    bytes: &[u8],
    log_id: u128,
    body_max: usize,
    unreadable: &[Range<u64>],
    trusted_len: Option<u64>,
) -> SegmentScan {
    let header = format::decode_segment_header(bytes);
    let len = bytes.len() as u64;
    // Not `clamp`: it panics when the file is shorter than a header.
    let limit = trusted_len.map_or(bytes.len(), |t| {
        usize::try_from(t)
            .unwrap_or(usize::MAX)
            .min(bytes.len())
            .max(SEGMENT_HEADER_LEN.min(bytes.len()))
    });
    let mut items = Vec::new();
    let mut pos = SEGMENT_HEADER_LEN.min(bytes.len());
    let mut events = 0u64;
    while pos < limit {
        let view = bytes.get(..limit).unwrap_or(bytes); // limit <= bytes.len(), clamped above
        if let Some(bad) = unreadable.iter().find(|r| r.contains(&(pos as u64))) {
            let end = align_up(bad.end as usize).min(limit);
            items.push(Item::Damage {
                offset: pos as u64,
                len: (end - pos) as u64,
                kind: DamageKind::ReadError,
            });
            pos = end;
            continue;
        }
        // Zero runs and damage stop where an unreadable range starts, so it is reported.
        let stop = unreadable
            .iter()
            .filter(|r| r.start as usize > pos)
            .map(|r| (r.start as usize / RECORD_ALIGN * RECORD_ALIGN).max(pos + RECORD_ALIGN))
            .min()
            .unwrap_or(limit)
            .min(limit);
        match format::parse_record(view, pos, log_id, id, body_max) {
            Ok(rec)
                if padding_is_zero(view, pos, rec.body.len())
                    && !overlaps(unreadable, pos, rec.framed_len()) =>
            {
                let scanned = scanned_record(bytes, pos, &rec, events);
                let is_seal = rec.header.kind == RecordKind::Seal;
                if rec.header.kind == RecordKind::Event {
                    events += 1;
                }
                pos += rec.framed_len();
                items.push(Item::Record(scanned));
                if is_seal {
                    // Nothing after a seal belongs to the segment: a sealed segment may be
                    // shortened to its seal, or keep its preallocated zeros.
                    break;
                }
            }
            Ok(rec) => {
                // The padding can run past the limit (a file or trusted length that ends
                // inside it): the item stops there, so items never overlap or pass the end.
                let end = (pos + rec.framed_len()).min(limit);
                items.push(damage(pos, end, DamageKind::Garbage));
                pos = end;
            }
            Err(RecordDefect::Zero) => {
                #[cfg(not(feature = "canary-scan-stops-at-zero"))]
                let z = zero_run_end(view, pos).min(stop);
                #[cfg(feature = "canary-scan-stops-at-zero")] // CANARY: all zeros after a zero
                let z = limit;
                items.push(Item::Zeros { offset: pos as u64, len: (z - pos) as u64 });
                pos = z;
            }
            Err(defect) => {
                let next = next_record_start(view, pos + RECORD_ALIGN, log_id, id, body_max);
                let end = next.unwrap_or_else(|| align_up(last_nonzero_end(view, pos)));
                let end = end.max(pos + RECORD_ALIGN).min(stop);
                items.push(damage(pos, end, defect_kind(view, pos, defect)));
                pos = end;
            }
        }
    }
    if limit < bytes.len() {
        let end = align_up(last_nonzero_end(bytes, limit)).min(bytes.len()).max(limit);
        if end > limit {
            items.push(damage(limit, end, DamageKind::UnsyncedAfterFailedSync));
        }
        if end < bytes.len() {
            items.push(Item::Zeros { offset: end as u64, len: (bytes.len() - end) as u64 });
        }
    }
    SegmentScan { id, named: id, header, items, len }
}

fn scanned_record(
    bytes: &[u8],
    pos: usize,
    rec: &format::RecordView<'_>,
    events: u64,
) -> ScannedRecord {
    let h = &rec.header;
    let (digest, seal_count) = match h.kind {
        RecordKind::Event => (
            chain::leaf_hash(
                h.log_id,
                h.seq,
                h.timestamp_nanos,
                h.flags,
                encoding_byte(rec),
                rec.body,
            ),
            0,
        ),
        RecordKind::Seal => match decode_seal_body(rec.body) {
            Some(seal) => {
                let ok = seal.count == events
                    && bytes.get(..pos).map(xxhash_rust::xxh3::xxh3_64) == Some(seal.xxh3);
                (if ok { SEAL_OK } else { [0; 32] }, seal.count)
            }
            None => ([0; 32], 0),
        },
        RecordKind::Commit => ([0; 32], 0),
    };
    ScannedRecord {
        offset: pos as u64,
        len: rec.framed_len() as u64,
        kind: h.kind,
        seq: h.seq,
        watermark: h.watermark,
        timestamp_nanos: h.timestamp_nanos,
        flags: h.flags,
        prev_hash: h.prev_hash,
        digest,
        seal_count,
    }
}

/// The encoding byte as stored, for the leaf hash.
fn encoding_byte(rec: &format::RecordView<'_>) -> u8 {
    // The body encoding byte sits at header offset 13; the view was parsed from these bytes.
    match rec.header.encoding {
        format::BodyEncoding::Postcard => 0,
        format::BodyEncoding::Envelope => 1,
        format::BodyEncoding::Fixed => 2,
    }
}

fn damage(start: usize, end: usize, kind: DamageKind) -> Item {
    debug_assert!(end > start);
    Item::Damage { offset: start as u64, len: (end - start) as u64, kind }
}

/// The damage kind a record defect at `pos` is reported as.
pub(crate) fn defect_kind(bytes: &[u8], pos: usize, defect: RecordDefect) -> DamageKind {
    match defect {
        RecordDefect::Checksum { stored, computed } => DamageKind::Checksum { stored, computed },
        RecordDefect::Misdirected(found_segment) => DamageKind::Misdirected { found_segment },
        RecordDefect::ForeignLog => DamageKind::Misdirected {
            found_segment: SegmentId(read_u64(bytes, pos + 32).unwrap_or(0)),
        },
        RecordDefect::Unknown => DamageKind::Unsupported,
        RecordDefect::Zero
        | RecordDefect::Magic
        | RecordDefect::Truncated
        | RecordDefect::Length(_) => DamageKind::Garbage,
    }
}

fn read_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// The log id named by the first record in `bytes` (at an aligned offset past the header) whose
/// checksum verifies, of whatever log and segment it names. For a segment whose header is
/// damaged: its records still say which log they belong to.
pub fn first_record_log_id(bytes: &[u8], id: SegmentId, body_max: usize) -> Option<u128> {
    let mut q = SEGMENT_HEADER_LEN;
    while let Some(window) = bytes.get(q..q + RECORD_HEADER_LEN) {
        if window.get(..4) == Some(&RECORD_MAGIC[..]) {
            let claimed =
                window.get(16..32).and_then(|b| b.try_into().ok()).map(u128::from_le_bytes);
            if let Some(log_id) = claimed {
                match format::parse_record(bytes, q, log_id, id, body_max) {
                    Ok(_) | Err(RecordDefect::Misdirected(_)) => return Some(log_id),
                    Err(_) => {}
                }
            }
        }
        q += RECORD_ALIGN;
    }
    None
}

/// The next aligned offset at or after `from` where a checksummed record starts (including
/// misdirected ones: they are whole records, only in the wrong place).
fn next_record_start(
    bytes: &[u8],
    from: usize,
    log_id: u128,
    id: SegmentId,
    body_max: usize,
) -> Option<usize> {
    let mut q = align_up(from);
    while q + RECORD_HEADER_LEN <= bytes.len() {
        if bytes.get(q..q + 4) == Some(&RECORD_MAGIC[..]) {
            match format::parse_record(bytes, q, log_id, id, body_max) {
                Ok(_) | Err(RecordDefect::Misdirected(_)) | Err(RecordDefect::ForeignLog) => {
                    return Some(q)
                }
                Err(_) => {}
            }
        }
        q += RECORD_ALIGN;
    }
    None
}

fn padding_is_zero(bytes: &[u8], pos: usize, body_len: usize) -> bool {
    let start = pos + RECORD_HEADER_LEN + body_len;
    let end = pos + format::framed_len(body_len);
    bytes.get(start..end).is_some_and(|p| p.iter().all(|&b| b == 0))
}

fn overlaps(ranges: &[Range<u64>], pos: usize, len: usize) -> bool {
    let (s, e) = (pos as u64, (pos + len) as u64);
    ranges.iter().any(|r| r.start < e && s < r.end)
}

/// The end of the run of zero bytes starting at `pos`, rounded down to alignment (but past
/// `pos`), or the end of `bytes`.
#[cfg_attr(feature = "canary-scan-stops-at-zero", allow(dead_code))]
fn zero_run_end(bytes: &[u8], pos: usize) -> usize {
    let rest = bytes.get(pos..).unwrap_or_default();
    // Preallocated segments are mostly zeros and every recovery reads them: test 64 bytes at
    // a time with a branch-free OR over words (it vectorises), and look for the first non-zero
    // byte only inside the block that has one.
    let mut blocks = rest.chunks_exact(64);
    let mut n = 0;
    let mut found = false;
    for block in &mut blocks {
        if all_zero_words(block) {
            n += 64;
        } else {
            n += block.iter().position(|&b| b != 0).unwrap_or(64);
            found = true;
            break;
        }
    }
    if !found {
        let tail = blocks.remainder();
        n += tail.iter().position(|&b| b != 0).unwrap_or(tail.len());
    }
    let end = pos + n;
    if end == bytes.len() {
        end
    } else {
        (end / RECORD_ALIGN * RECORD_ALIGN).max(pos + RECORD_ALIGN)
    }
}

/// Whether a 64-byte block is all zeros: an OR over eight words, without early exits.
fn all_zero_words(block: &[u8]) -> bool {
    debug_assert_eq!(block.len(), 64);
    block
        .chunks_exact(8)
        .fold(0u64, |acc, w| acc | u64::from_ne_bytes(w.try_into().unwrap_or([0xff; 8])))
        == 0
}

/// One past the last non-zero byte at or after `pos` (or `pos` if all zero).
fn last_nonzero_end(bytes: &[u8], pos: usize) -> usize {
    let rest = bytes.get(pos..).unwrap_or_default();
    rest.iter().rposition(|&b| b != 0).map_or(pos, |i| pos + i + 1)
}

fn align_up(x: usize) -> usize {
    x.div_ceil(RECORD_ALIGN) * RECORD_ALIGN
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use crate::wal::format::{encode_record, encode_segment_header, BodyEncoding, RecordHeader};

    fn segment_with(records: u64, capacity: usize) -> Vec<u8> {
        let mut b = encode_segment_header(&SegmentHeader {
            log_id: 1,
            segment: SegmentId(1),
            capacity: capacity as u64,
        })
        .to_vec();
        for seq in 1..=records {
            let h = RecordHeader {
                kind: RecordKind::Event,
                encoding: BodyEncoding::Postcard,
                flags: 0,
                log_id: 1,
                segment: SegmentId(1),
                seq,
                watermark: seq - 1,
                timestamp_nanos: 0,
                prev_hash: [0; 32],
            };
            encode_record(&mut b, &h, &[seq as u8; 13]);
        }
        b.resize(capacity, 0);
        b
    }

    #[test]
    fn items_tile_the_file_and_trailing_zeros_are_one_run() {
        let b = segment_with(3, 4096);
        let s = scan_segment(SegmentId(1), &b, 1, 1 << 20, &[], None);
        assert_eq!(s.items.len(), 4);
        assert!(matches!(s.items[3], Item::Zeros { .. }));
        let mut at = SEGMENT_HEADER_LEN as u64;
        for item in &s.items {
            assert_eq!(item.offset(), at);
            at = item.end();
        }
        assert_eq!(at, 4096);
    }

    #[test]
    fn damage_whose_padding_crosses_the_end_stops_at_the_end() {
        // Regression (fuzz target `segment_scan`): a record whose header and body fit but whose
        // zero padding ran past the end of the bytes scanned (a file, or a trusted length not a
        // multiple of 8, ending inside it) became a damage item reaching past that end: it
        // overlapped the next item, or passed the end of the file. Method: end both inside
        // the padding of the second record; the items must still tile the file.
        let b = segment_with(3, 4096);
        let padding_end = SEGMENT_HEADER_LEN + 2 * format::framed_len(13);
        let tiles = |s: &SegmentScan, len: usize| {
            let mut at = SEGMENT_HEADER_LEN as u64;
            for item in &s.items {
                assert_eq!(item.offset(), at, "{:?}", s.items);
                at = item.end();
            }
            assert_eq!(at, len as u64, "{:?}", s.items);
        };
        let trusted = Some(padding_end as u64 - 1);
        let s = scan_segment(SegmentId(1), &b, 1, 1 << 20, &[], trusted);
        assert!(matches!(s.items[1], Item::Damage { kind: DamageKind::Garbage, .. }));
        tiles(&s, b.len());
        let short = &b[..padding_end - 1];
        tiles(&scan_segment(SegmentId(1), short, 1, 1 << 20, &[], None), short.len());
    }

    #[test]
    fn a_hole_before_valid_records_is_zeros_then_records() {
        let mut b = segment_with(3, 4096);
        let second = SEGMENT_HEADER_LEN + format::framed_len(13);
        b[second..second + format::framed_len(13)].fill(0);
        let s = scan_segment(SegmentId(1), &b, 1, 1 << 20, &[], None);
        let kinds: Vec<_> = s.items.iter().map(|i| matches!(i, Item::Record(_))).collect();
        assert_eq!(kinds, vec![true, false, true, false]);
    }

    #[test]
    fn garbage_is_one_damage_item_and_the_scan_resyncs_after_it() {
        let mut b = segment_with(3, 4096);
        let second = SEGMENT_HEADER_LEN + format::framed_len(13);
        b[second + 20] ^= 0x40;
        let s = scan_segment(SegmentId(1), &b, 1, 1 << 20, &[], None);
        assert!(matches!(s.items[1], Item::Damage { kind: DamageKind::Checksum { .. }, .. }));
        assert!(matches!(&s.items[2], Item::Record(r) if r.seq == 3));
    }

    #[test]
    fn unreadable_sectors_are_read_errors() {
        let b = segment_with(3, 4096);
        let bad = vec![Range { start: 512, end: 1024 }];
        let s = scan_segment(SegmentId(1), &b, 1, 1 << 20, &bad, None);
        assert!(s
            .items
            .iter()
            .any(|i| matches!(i, Item::Damage { kind: DamageKind::ReadError, .. })));
    }

    #[test]
    fn bytes_past_the_trusted_length_are_not_parsed() {
        let b = segment_with(3, 4096);
        let trusted = (SEGMENT_HEADER_LEN + format::framed_len(13)) as u64;
        let s = scan_segment(SegmentId(1), &b, 1, 1 << 20, &[], Some(trusted));
        let records = s.items.iter().filter(|i| matches!(i, Item::Record(_))).count();
        assert_eq!(records, 1);
        assert!(matches!(
            s.items[1],
            Item::Damage { kind: DamageKind::UnsyncedAfterFailedSync, .. }
        ));
    }

    #[test]
    fn a_file_shorter_than_a_header_with_a_trusted_length_is_scanned_without_panic() {
        // Regression: the trusted length was clamped with `clamp(64, len)`, which panics when
        // the file (after a failed fsync, say) is shorter than a header.
        let s = scan_segment(SegmentId(1), &[1u8; 20], 1, 1 << 20, &[], Some(10));
        assert_eq!(s.header, Err(HeaderDefect::Short));
        assert!(s.items.iter().all(|i| i.end() <= 20), "{:?}", s.items);
    }

    #[test]
    fn an_item_costs_at_most_120_bytes() {
        // docs/recovery.md, section 10, states the readers' memory bound with this figure: the
        // scan keeps one item per record of every segment while a log is opened.
        assert!(std::mem::size_of::<Item>() <= 120, "{}", std::mem::size_of::<Item>());
    }

    #[test]
    fn zero_run_end_finds_the_first_non_zero_byte_wherever_it_is() {
        // The word-wise scan against the byte-wise definition: every position of a single
        // non-zero byte, from every start, in a buffer whose length is not a multiple of 64.
        let len = 3 * 64 + 40;
        for at in 0..len {
            let mut b = vec![0u8; len];
            b[at] = 0x80;
            for pos in (0..len).step_by(8) {
                let n = b[pos..].iter().position(|&x| x != 0).unwrap_or(len - pos);
                let end = pos + n;
                let expected = if end == len {
                    end
                } else {
                    (end / RECORD_ALIGN * RECORD_ALIGN).max(pos + RECORD_ALIGN)
                };
                assert_eq!(zero_run_end(&b, pos), expected, "non-zero at {at}, from {pos}");
            }
        }
        assert_eq!(zero_run_end(&vec![0u8; len], 0), len);
    }
}
