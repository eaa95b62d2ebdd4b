//! Reading a log: replay by seq or time range, and `verify_integrity`.
//!
//! A reader opens the directory read-only and takes no lock, so it is safe beside a running
//! writer. It shows only seqs up to the durable watermark proven on disk (records carry it;
//! the writer's commit marker publishes it when idle): a record a reader returned can never be
//! lost by a later crash. In salvage mode it also returns every valid record past damage.
//!
//! The index (per segment: seq range, min/max timestamp, and every 64th record's offset) is
//! rebuilt on open from the scan; timestamps are never assumed sorted, because the wall clock
//! can step back.

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Corruption, Error};
use crate::event::Event;
use crate::integrity::chain::{self, Hash};
use crate::io::{Disk, RealDisk};
use crate::wal::format::{
    self, BodyEncoding, RecordKind, SegmentId, FLAG_CLOCK_ADJUSTED, RECORD_BODY_HARD_MAX,
};
use crate::wal::open;
use crate::wal::recovery::{self, Finding};
use crate::wal::scan::Item;
use crate::wal::segment;

/// Every how many events the sparse index keeps an offset.
const INDEX_EVERY: u64 = 64;

/// An event read back from the log, with where it was stored.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// Its seq.
    pub seq: u64,
    /// The raw timestamp in the record header.
    pub timestamp_nanos: i64,
    /// Whether the wall clock was behind the previous record's when it was written.
    pub clock_adjusted: bool,
    /// The chain hash after this event.
    pub chain_hash: Hash,
    /// The segment holding it.
    pub segment: SegmentId,
    /// Its offset in the segment file.
    pub offset: u64,
    /// The event.
    pub event: Event,
}

/// The result of [`Reader::verify_integrity`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Segment files.
    pub segments: usize,
    /// Valid event records.
    pub events: u64,
    /// The first and last seq of the valid prefix (`None` for an empty log).
    pub seq_range: Option<(u64, u64)>,
    /// The proven durable watermark.
    pub watermark: u64,
    /// The chain hash at the end of the valid prefix.
    pub head_hash: Hash,
    /// Every anomaly, in log order, with its location and the seq expected there.
    pub findings: Vec<Finding>,
}

impl IntegrityReport {
    /// Whether the log has no anomaly at all.
    pub fn is_valid(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Per-segment index entry.
#[derive(Clone, Debug)]
struct SegmentIndex {
    id: SegmentId,
    path: PathBuf,
    seq_first: u64,
    seq_last: u64,
    ts_min: i64,
    ts_max: i64,
    sparse: Vec<(u64, u64)>,
    /// Offsets of every record in the (strict or salvage) view, with seq; built lazily would
    /// be leaner, but the scan already walked them.
    events: usize,
}

/// A read-only view of a log directory.
pub struct Reader<D: Disk = RealDisk> {
    disk: Arc<D>,
    dir: PathBuf,
    log_id: u128,
    segments: Vec<SegmentIndex>,
    seq_visible: u64,
    salvage: bool,
    report: IntegrityReport,
    stopped_by: Option<Corruption>,
}

impl Reader {
    /// Opens `dir` read-only on the real disk, showing the durable valid prefix.
    ///
    /// # Errors
    /// I/O errors reading the directory or its segments.
    pub fn open(dir: impl AsRef<Path>) -> Result<Reader, Error> {
        Reader::open_with(Arc::new(RealDisk), dir.as_ref(), false)
    }

    /// Opens `dir` read-only in salvage mode: every valid record, past damage too.
    ///
    /// # Errors
    /// As [`Reader::open`].
    pub fn open_salvage(dir: impl AsRef<Path>) -> Result<Reader, Error> {
        Reader::open_with(Arc::new(RealDisk), dir.as_ref(), true)
    }
}

impl<D: Disk> Reader<D> {
    /// Opens `dir` through `disk`.
    ///
    /// # Errors
    /// As [`Reader::open`].
    pub fn open_with(disk: Arc<D>, dir: &Path, salvage: bool) -> Result<Reader<D>, Error> {
        let loaded = open::load_lean(&*disk, dir, RECORD_BODY_HARD_MAX)?;
        let Some(loaded) = loaded else {
            return Ok(Reader {
                disk,
                dir: dir.to_path_buf(),
                log_id: 0,
                segments: Vec::new(),
                seq_visible: 0,
                salvage,
                report: IntegrityReport {
                    segments: 0,
                    events: 0,
                    seq_range: None,
                    watermark: 0,
                    head_hash: [0; 32],
                    findings: Vec::new(),
                },
                stopped_by: None,
            });
        };
        let scan = &loaded.scan;
        let watermark = recovery::proven_watermark(scan);
        let findings = recovery::findings(scan);
        let verdict = recovery::classify(scan);
        let (head, stopped_by) = match &verdict {
            recovery::Verdict::Clean(h) => (h.clone(), None),
            recovery::Verdict::Tail { head, .. } => (head.clone(), None),
            recovery::Verdict::Corrupt(c) => (recovery::prefix_head(scan), Some(c.clone())),
        };
        let prefix_last = head.seq_next - 1;
        let seq_visible = if salvage { u64::MAX } else { watermark.min(prefix_last) };
        let mut segments = Vec::new();
        let mut events_total = 0;
        let mut first = None;
        for seg in &scan.segments {
            let mut idx = SegmentIndex {
                id: seg.id,
                path: dir.join(segment::file_name(seg.id)),
                seq_first: u64::MAX,
                seq_last: 0,
                ts_min: i64::MAX,
                ts_max: i64::MIN,
                sparse: Vec::new(),
                events: 0,
            };
            for item in &seg.items {
                let Item::Record(r) = item else { continue };
                if r.kind != RecordKind::Event || r.seq > seq_visible {
                    continue;
                }
                if !salvage && r.seq > prefix_last {
                    continue;
                }
                if (idx.events as u64).is_multiple_of(INDEX_EVERY) {
                    idx.sparse.push((r.seq, r.offset));
                }
                idx.events += 1;
                idx.seq_first = idx.seq_first.min(r.seq);
                idx.seq_last = idx.seq_last.max(r.seq);
                idx.ts_min = idx.ts_min.min(r.timestamp_nanos);
                idx.ts_max = idx.ts_max.max(r.timestamp_nanos);
                first.get_or_insert(r.seq);
            }
            events_total += idx.events as u64;
            if idx.events > 0 {
                segments.push(idx);
            }
        }
        let last = segments.iter().map(|s| s.seq_last).max();
        let report = IntegrityReport {
            segments: scan.segments.len(),
            events: events_total,
            seq_range: first.zip(last),
            watermark,
            head_hash: head.chain,
            findings,
        };
        Ok(Reader {
            disk,
            dir: dir.to_path_buf(),
            log_id: scan.log_id,
            segments,
            seq_visible: if salvage { u64::MAX } else { seq_visible },
            salvage,
            report,
            stopped_by,
        })
    }

    /// The highest seq this reader shows (0 if none).
    pub fn seq_last(&self) -> u64 {
        self.segments.iter().map(|s| s.seq_last).max().unwrap_or(0)
    }

    /// Whether this reader returns records past damage (salvage mode).
    pub fn is_salvage(&self) -> bool {
        self.salvage
    }

    /// The log id.
    pub fn log_id(&self) -> u128 {
        self.log_id
    }

    /// The log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The corruption that ends the readable prefix, if any (strict mode).
    pub fn corruption(&self) -> Option<&Corruption> {
        self.stopped_by.as_ref()
    }

    /// Segments, records, seq range, chain head and every damaged range.
    pub fn verify_integrity(&self) -> IntegrityReport {
        self.report.clone()
    }

    /// Replays events whose seq is in `range`, in seq order.
    ///
    /// # Errors
    /// I/O errors reading a segment; each item is an error if its body does not decode.
    pub fn replay(&self, range: RangeInclusive<u64>) -> Result<Replay<'_, D>, Error> {
        Ok(Replay::new(self, Filter::Seq(range)))
    }

    /// Replays events whose timestamp is in `[from, to]` (nanoseconds), in seq order. Every
    /// segment whose timestamp range overlaps is read: timestamps are not assumed sorted.
    ///
    /// # Errors
    /// As [`Reader::replay`].
    pub fn replay_time(&self, from_nanos: i64, to_nanos: i64) -> Result<Replay<'_, D>, Error> {
        Ok(Replay::new(self, Filter::Time(from_nanos, to_nanos)))
    }
}

#[derive(Clone, Debug)]
enum Filter {
    Seq(RangeInclusive<u64>),
    Time(i64, i64),
}

/// An iterator over stored events, one segment read at a time.
pub struct Replay<'a, D: Disk> {
    reader: &'a Reader<D>,
    filter: Filter,
    segment: usize,
    bytes: Vec<u8>,
    offset: usize,
    end: usize,
    failed: bool,
}

impl<'a, D: Disk> Replay<'a, D> {
    fn new(reader: &'a Reader<D>, filter: Filter) -> Self {
        Replay { reader, filter, segment: 0, bytes: Vec::new(), offset: 0, end: 0, failed: false }
    }

    fn wants_segment(&self, s: &SegmentIndex) -> bool {
        match &self.filter {
            Filter::Seq(r) => s.seq_last >= *r.start() && s.seq_first <= *r.end(),
            Filter::Time(from, to) => s.ts_max >= *from && s.ts_min <= *to,
        }
    }

    /// Loads the next wanted segment; false when there is none.
    fn load_next(&mut self) -> Result<bool, Error> {
        while self.segment < self.reader.segments.len() {
            let s = &self.reader.segments[self.segment];
            self.segment += 1;
            if !self.wants_segment(s) {
                continue;
            }
            let (bytes, _) = segment::read_all(&*self.reader.disk, &s.path)?;
            let start = match &self.filter {
                Filter::Seq(r) => s
                    .sparse
                    .iter()
                    .rev()
                    .find(|(seq, _)| *seq <= *r.start())
                    .map_or(s.sparse.first().map_or(0, |x| x.1), |x| x.1),
                Filter::Time(..) => s.sparse.first().map_or(0, |x| x.1),
            };
            self.bytes = bytes;
            self.offset = start as usize;
            self.end = self.bytes.len();
            return Ok(true);
        }
        Ok(false)
    }

    fn next_in_segment(&mut self) -> Option<Result<StoredEvent, Error>> {
        let s = &self.reader.segments[self.segment - 1];
        while self.offset < self.end {
            let parsed = format::parse_record(
                &self.bytes,
                self.offset,
                self.reader.log_id,
                s.id,
                RECORD_BODY_HARD_MAX,
            );
            let rec = match parsed {
                Ok(rec) => rec,
                // Damage, zeros or a foreign record: step to the next aligned offset. The index
                // says which seqs are visible, so nothing past damage is returned unless it is
                // valid and (in strict mode) inside the valid prefix.
                Err(_) => {
                    self.offset += format::RECORD_ALIGN;
                    continue;
                }
            };
            let at = self.offset as u64;
            self.offset += rec.framed_len();
            let h = rec.header;
            if h.kind != RecordKind::Event {
                if h.kind == RecordKind::Seal {
                    self.offset = self.end;
                }
                continue;
            }
            if h.seq > s.seq_last || h.seq > self.reader.seq_visible {
                self.offset = self.end;
                return None;
            }
            if h.seq < s.seq_first {
                continue;
            }
            let wanted = match &self.filter {
                Filter::Seq(r) => r.contains(&h.seq),
                Filter::Time(from, to) => h.timestamp_nanos >= *from && h.timestamp_nanos <= *to,
            };
            if let Filter::Seq(r) = &self.filter {
                if h.seq > *r.end() {
                    self.offset = self.end;
                    return None;
                }
            }
            if !wanted {
                continue;
            }
            let encoding = match h.encoding {
                BodyEncoding::Postcard => 0,
                BodyEncoding::Envelope => 1,
                BodyEncoding::Fixed => 2,
            };
            let leaf =
                chain::leaf_hash(h.log_id, h.seq, h.timestamp_nanos, h.flags, encoding, rec.body);
            let chain_hash = chain::link(&h.prev_hash, &leaf);
            let event = match h.encoding {
                BodyEncoding::Postcard => Event::decode_body(rec.body)
                    .map_err(|e| Error::Body { seq: h.seq, reason: e.to_string() }),
                other => Err(Error::Body {
                    seq: h.seq,
                    reason: format!("body encoding {other:?} is not readable by this version"),
                }),
            };
            return Some(event.map(|event| StoredEvent {
                seq: h.seq,
                timestamp_nanos: h.timestamp_nanos,
                clock_adjusted: h.flags & FLAG_CLOCK_ADJUSTED != 0,
                chain_hash,
                segment: s.id,
                offset: at,
                event,
            }));
        }
        None
    }
}

impl<D: Disk> Iterator for Replay<'_, D> {
    type Item = Result<StoredEvent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        loop {
            if self.segment > 0 && self.offset < self.end {
                if let Some(item) = self.next_in_segment() {
                    return Some(item);
                }
            }
            match self.load_next() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
