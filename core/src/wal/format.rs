//! The on-disk format: segment header and record framing, as pure functions over bytes.
//!
//! The layout is drawn byte by byte in `docs/wal-format.md`; the constants here are the single
//! source of truth and the tests pin them. All integers are little-endian.
//!
//! ```text
//! segment file: | header (64) | record | record | ... | seal record | zeros (preallocated) |
//! record:       | header (96) | body (body_len) | zero padding to a multiple of 8 |
//! ```
//!
//! Every record names its log, segment and seq inside the checksummed header, so a block written
//! to the wrong place (misdirected) or left over from an earlier write (stale) is detected, never
//! accepted. Parsing never panics and never allocates: it borrows the body from the input.
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::wal::format::*;
//!
//! let (log_id, segment) = (7u128, SegmentId(1));
//! let header = SegmentHeader { log_id, segment, capacity: 1 << 20 };
//! let mut file = encode_segment_header(&header).to_vec();
//! assert_eq!(decode_segment_header(&file), Ok(header));
//! assert_eq!(decode_segment_header(&[0; 64]), Err(HeaderDefect::Zeroed)); // never written
//! assert_eq!(decode_segment_header(&file[..10]), Err(HeaderDefect::Short));
//!
//! let record = RecordHeader {
//!     kind: RecordKind::Event,
//!     encoding: BodyEncoding::Postcard,
//!     flags: 0,
//!     log_id,
//!     segment,
//!     seq: 1,
//!     watermark: 0, // nothing was durable before it
//!     timestamp_nanos: 1_700_000_000_000_000_000,
//!     prev_hash: [0; 32],
//! };
//! encode_record(&mut file, &record, b"body");
//! assert_eq!(file.len(), SEGMENT_HEADER_LEN + framed_len(4)); // padded to 8 bytes
//!
//! let view = parse_record(&file, SEGMENT_HEADER_LEN, log_id, segment, 1024)?;
//! assert_eq!((view.header, view.body), (record, &b"body"[..]));
//! assert_eq!(view.framed_len(), framed_len(4));
//!
//! // A flipped bit, another segment, and unwritten space are each told apart.
//! let mut flipped = file.clone();
//! flipped[SEGMENT_HEADER_LEN + RECORD_HEADER_LEN] ^= 1;
//! let bad = parse_record(&flipped, SEGMENT_HEADER_LEN, log_id, segment, 1024);
//! assert!(matches!(bad, Err(RecordDefect::Checksum { .. })));
//! let elsewhere = parse_record(&file, SEGMENT_HEADER_LEN, log_id, SegmentId(2), 1024);
//! assert_eq!(elsewhere, Err(RecordDefect::Misdirected(segment)));
//! assert_eq!(parse_record(&[0; 128], 0, log_id, segment, 1024), Err(RecordDefect::Zero));
//!
//! let seal = SealBody { count: 1, xxh3: 0xfeed };
//! assert_eq!(decode_seal_body(&encode_seal_body(&seal)), Some(seal));
//! # Ok::<(), RecordDefect>(())
//! ```

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;

/// A segment's number; segment files are named after it and numbered from 1 without gaps.
/// See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(pub u64);

impl SegmentId {
    /// A log's first segment: the writer's first events go here, from seq 1.
    pub const FIRST: SegmentId = SegmentId(1);
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The segment file magic: "MTLAUDIT". See the [module docs](self) for an example.
pub const SEGMENT_MAGIC: [u8; 8] = *b"MTLAUDIT";
/// The current segment format version. A reader refuses versions it does not know.
/// See the [module docs](self) for an example.
pub const FORMAT_VERSION: u16 = 1;
/// Length of the segment header; records start here. See the [module docs](self) for an example.
pub const SEGMENT_HEADER_LEN: usize = 64;
/// The record magic: "MTR1". See the [module docs](self) for an example.
pub const RECORD_MAGIC: [u8; 4] = *b"MTR1";
/// Length of a record header. See the [module docs](self) for an example.
pub const RECORD_HEADER_LEN: usize = 96;
/// Records start at multiples of this, so a scan can resynchronise after damage.
/// See the [module docs](self) for an example.
pub const RECORD_ALIGN: usize = 8;
/// The hard upper bound on a record body, whatever the configuration says (16 MiB).
/// See the [module docs](self) for an example.
pub const RECORD_BODY_HARD_MAX: usize = 16 << 20;
/// The largest segment file any reader or recovery loads (1 GiB). Readers hold one segment's
/// bytes at a time, so this bounds their memory whatever the log's size; a larger file is
/// refused with `Error::SegmentTooLarge` before anything is allocated for it, and
/// `Options::segment_bytes` accepts no more than this.
/// See the [module docs](self) for an example.
pub const SEGMENT_LEN_MAX: u64 = 1 << 30;
/// The highest segment id a writer continues after: ids are numbered from 1 without gaps, so
/// one this high (2^62 rotations) was crafted, and refusing it keeps every `id + 1` of the writer
/// in range. See the [module docs](self) for an example.
pub const SEGMENT_ID_MAX: u64 = 1 << 62;
/// Length of a seal record's body: count (8) + xxh3 of the segment before the seal (8).
/// See the [module docs](self) for an example.
pub const SEAL_BODY_LEN: usize = 16;
/// Bytes a seal record occupies. See the [module docs](self) for an example.
pub const SEAL_RECORD_LEN: usize = RECORD_HEADER_LEN + SEAL_BODY_LEN;
/// Bytes a commit marker occupies (header only). See the [module docs](self) for an example.
pub const COMMIT_RECORD_LEN: usize = RECORD_HEADER_LEN;

const _: () = assert!(SEGMENT_HEADER_LEN.is_multiple_of(RECORD_ALIGN));
const _: () = assert!(RECORD_HEADER_LEN.is_multiple_of(RECORD_ALIGN));
const _: () = assert!(SEAL_RECORD_LEN.is_multiple_of(RECORD_ALIGN));

/// Record flag: the wall clock was behind the previous record's timestamp when this one was
/// written (the timestamp is stored raw; ordering comes from seq).
/// See the [module docs](self) for an example.
pub const FLAG_CLOCK_ADJUSTED: u16 = 1;
const FLAGS_KNOWN: u16 = FLAG_CLOCK_ADJUSTED;

/// What a record is. See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// An audit event: a leaf of the hash chain and the Merkle tree; consumes a seq.
    Event,
    /// The last record of a sealed segment: its seq is the segment's last event seq.
    Seal,
    /// A marker written (unsynced) after a sync when the writer goes idle: its seq says
    /// "every seq up to here is durable". The next batch overwrites it.
    Commit,
}

impl RecordKind {
    fn to_byte(self) -> u8 {
        match self {
            RecordKind::Event => 1,
            RecordKind::Seal => 2,
            RecordKind::Commit => 3,
        }
    }

    fn from_byte(b: u8) -> Option<RecordKind> {
        match b {
            1 => Some(RecordKind::Event),
            2 => Some(RecordKind::Seal),
            3 => Some(RecordKind::Commit),
            _ => None,
        }
    }
}

/// How an event record's body is encoded. See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BodyEncoding {
    /// A postcard-encoded `Event`.
    Postcard,
    /// Reserved for compliance profiles: an AES-256-GCM envelope naming its key id. Readers of
    /// this version report such bodies as undecodable rather than guessing.
    Envelope,
    /// No body (seal and commit records use fixed layouts).
    Fixed,
}

impl BodyEncoding {
    fn to_byte(self) -> u8 {
        match self {
            BodyEncoding::Postcard => 0,
            BodyEncoding::Envelope => 1,
            BodyEncoding::Fixed => 2,
        }
    }

    fn from_byte(b: u8) -> Option<BodyEncoding> {
        match b {
            0 => Some(BodyEncoding::Postcard),
            1 => Some(BodyEncoding::Envelope),
            2 => Some(BodyEncoding::Fixed),
            _ => None,
        }
    }
}

/// The decoded header of a segment file. See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The log this segment belongs to.
    pub log_id: u128,
    /// This segment's id.
    pub segment: SegmentId,
    /// The preallocated size of the file when it was prepared.
    pub capacity: u64,
}

/// Why a segment header did not decode. See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderDefect {
    /// Fewer than 64 bytes.
    Short,
    /// All zero: a file whose header never reached the disk.
    Zeroed,
    /// Wrong magic.
    Magic,
    /// A format version this reader does not know.
    Version(u16),
    /// Checksum mismatch.
    Checksum {
        /// Stored checksum.
        stored: u32,
        /// Computed checksum.
        computed: u32,
    },
    /// A valid header naming another log or another segment id than its file name.
    Identity,
}

/// Encodes a segment header. See the [module docs](self) for an example.
pub fn encode_segment_header(h: &SegmentHeader) -> [u8; SEGMENT_HEADER_LEN] {
    let mut b = [0u8; SEGMENT_HEADER_LEN];
    b[0..8].copy_from_slice(&SEGMENT_MAGIC);
    b[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    b[10..12].copy_from_slice(&(SEGMENT_HEADER_LEN as u16).to_le_bytes());
    // 12..16: flags, zero in version 1.
    b[16..32].copy_from_slice(&h.log_id.to_le_bytes());
    b[32..40].copy_from_slice(&h.segment.0.to_le_bytes());
    b[40..48].copy_from_slice(&h.capacity.to_le_bytes());
    // 48..60: reserved, zero.
    let crc = crc32c::crc32c(&b[0..60]);
    b[60..64].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes a segment header from the start of `bytes`.
///
/// # Errors
/// A [`HeaderDefect`] saying what is wrong: `Short` (under 64 bytes), `Zeroed`, `Magic`,
/// `Checksum` or `Version`. (`Identity` is for callers that compare the header with the file
/// name.)
///
/// See the [module docs](self) for an example.
pub fn decode_segment_header(bytes: &[u8]) -> Result<SegmentHeader, HeaderDefect> {
    let b: &[u8; SEGMENT_HEADER_LEN] = bytes
        .get(..SEGMENT_HEADER_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or(HeaderDefect::Short)?;
    if b.iter().all(|&x| x == 0) {
        return Err(HeaderDefect::Zeroed);
    }
    if b[0..8] != SEGMENT_MAGIC {
        return Err(HeaderDefect::Magic);
    }
    let stored = le_u32(b, 60);
    let computed = crc32c::crc32c(&b[0..60]);
    if stored != computed {
        return Err(HeaderDefect::Checksum { stored, computed });
    }
    let version = le_u16(b, 8);
    if version != FORMAT_VERSION {
        return Err(HeaderDefect::Version(version));
    }
    Ok(SegmentHeader {
        log_id: le_u128(b, 16),
        segment: SegmentId(le_u64(b, 32)),
        capacity: le_u64(b, 40),
    })
}

/// The fields of a record header. See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// What the record is.
    pub kind: RecordKind,
    /// How the body is encoded.
    pub encoding: BodyEncoding,
    /// `FLAG_*` bits.
    pub flags: u16,
    /// The log the record belongs to.
    pub log_id: u128,
    /// The segment the record was written into.
    pub segment: SegmentId,
    /// Event: its seq. Seal: the segment's last event seq. Commit: the durable seq.
    pub seq: u64,
    /// The highest seq known durable (fsynced) when this record was written.
    pub watermark: u64,
    /// Wall-clock nanoseconds since the Unix epoch, raw.
    pub timestamp_nanos: i64,
    /// The chain hash of the previous event (the chain head, for seal and commit records).
    pub prev_hash: [u8; 32],
}

/// A record parsed in place. See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// The header.
    pub header: RecordHeader,
    /// The body bytes.
    pub body: &'a [u8],
    /// The stored (and verified) checksum.
    pub crc: u32,
}

impl RecordView<'_> {
    /// Bytes the record occupies on disk, padding included.
    /// See the [module docs](self) for an example.
    pub fn framed_len(&self) -> usize {
        framed_len(self.body.len())
    }
}

/// Why bytes at an offset are not a valid record. See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordDefect {
    /// The first eight bytes are zero: unwritten space, not (by itself) damage.
    Zero,
    /// The magic does not match.
    Magic,
    /// The header or body runs past the end of the input.
    Truncated,
    /// The body length exceeds the maximum.
    Length(u32),
    /// Checksum mismatch.
    Checksum {
        /// Stored checksum.
        stored: u32,
        /// Computed checksum.
        computed: u32,
    },
    /// A valid checksum but an unknown kind, encoding or flag: written by a newer version.
    Unknown,
    /// A valid record of another log.
    ForeignLog,
    /// A valid record that names another segment.
    Misdirected(SegmentId),
}

/// Bytes a record with a body of `body_len` occupies, padding included.
/// See the [module docs](self) for an example.
pub fn framed_len(body_len: usize) -> usize {
    (RECORD_HEADER_LEN + body_len).div_ceil(RECORD_ALIGN) * RECORD_ALIGN
}

/// Appends one framed record (header, body, zero padding) to `out`.
///
/// # Panics
/// If the body exceeds [`RECORD_BODY_HARD_MAX`]: callers bound bodies before framing.
///
/// See the [module docs](self) for an example.
pub fn encode_record(out: &mut Vec<u8>, header: &RecordHeader, body: &[u8]) {
    assert!(body.len() <= RECORD_BODY_HARD_MAX, "record body of {} bytes", body.len());
    assert!(header.flags & !FLAGS_KNOWN == 0);
    let start = out.len();
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[0..4].copy_from_slice(&RECORD_MAGIC);
    // 4..8: crc, filled below.
    h[8..12].copy_from_slice(&(body.len() as u32).to_le_bytes());
    h[12] = header.kind.to_byte();
    h[13] = header.encoding.to_byte();
    h[14..16].copy_from_slice(&header.flags.to_le_bytes());
    h[16..32].copy_from_slice(&header.log_id.to_le_bytes());
    h[32..40].copy_from_slice(&header.segment.0.to_le_bytes());
    h[40..48].copy_from_slice(&header.seq.to_le_bytes());
    h[48..56].copy_from_slice(&header.watermark.to_le_bytes());
    h[56..64].copy_from_slice(&header.timestamp_nanos.to_le_bytes());
    h[64..96].copy_from_slice(&header.prev_hash);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&h[8..]), body);
    h[4..8].copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(body);
    let padded = start + framed_len(body.len());
    out.resize(padded, 0);
    debug_assert_eq!(out.len() - start, framed_len(body.len()));
}

/// Parses the record starting at `bytes[offset..]` and checks that it belongs to `log_id` and
/// `segment`.
///
/// # Errors
/// A [`RecordDefect`] saying why these bytes are not a valid record of this segment: `Zero`
/// (unwritten space), `Truncated`, `Magic`, `Length` (body longer than `body_max`),
/// `Checksum`, `Unknown` (kind, encoding or flag of a newer version), `ForeignLog` or
/// `Misdirected`.
///
/// See the [module docs](self) for an example.
pub fn parse_record(
    bytes: &[u8],
    offset: usize,
    log_id: u128,
    segment: SegmentId,
    body_max: usize,
) -> Result<RecordView<'_>, RecordDefect> {
    let rest = bytes.get(offset..).ok_or(RecordDefect::Truncated)?;
    if rest.get(..8).is_some_and(|first| first.iter().all(|&b| b == 0)) {
        return Err(RecordDefect::Zero);
    }
    let h: &[u8; RECORD_HEADER_LEN] = rest
        .get(..RECORD_HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(RecordDefect::Truncated)?;
    if h[0..4] != RECORD_MAGIC {
        return Err(RecordDefect::Magic);
    }
    let body_len = le_u32(h, 8);
    if body_len as usize > body_max.min(RECORD_BODY_HARD_MAX) {
        return Err(RecordDefect::Length(body_len));
    }
    let body = rest
        .get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + body_len as usize)
        .ok_or(RecordDefect::Truncated)?;
    let stored = le_u32(h, 4);
    let computed = crc32c::crc32c_append(crc32c::crc32c(&h[8..]), body);
    if stored != computed {
        return Err(RecordDefect::Checksum { stored, computed });
    }
    let kind = RecordKind::from_byte(h[12]).ok_or(RecordDefect::Unknown)?;
    let encoding = BodyEncoding::from_byte(h[13]).ok_or(RecordDefect::Unknown)?;
    let flags = le_u16(h, 14);
    if flags & !FLAGS_KNOWN != 0 {
        return Err(RecordDefect::Unknown);
    }
    let header = RecordHeader {
        kind,
        encoding,
        flags,
        log_id: le_u128(h, 16),
        segment: SegmentId(le_u64(h, 32)),
        seq: le_u64(h, 40),
        watermark: le_u64(h, 48),
        timestamp_nanos: le_u64(h, 56) as i64,
        prev_hash: le_hash(h, 64),
    };
    if header.log_id != log_id {
        return Err(RecordDefect::ForeignLog);
    }
    if header.segment != segment {
        return Err(RecordDefect::Misdirected(header.segment));
    }
    Ok(RecordView { header, body, crc: stored })
}

/// The body of a seal record. See the [module docs](self) for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealBody {
    /// Event records in the segment.
    pub count: u64,
    /// xxh3-64 of the segment file's bytes before the seal record.
    pub xxh3: u64,
}

/// Encodes a seal body. See the [module docs](self) for an example.
pub fn encode_seal_body(s: &SealBody) -> [u8; SEAL_BODY_LEN] {
    let mut b = [0u8; SEAL_BODY_LEN];
    b[0..8].copy_from_slice(&s.count.to_le_bytes());
    b[8..16].copy_from_slice(&s.xxh3.to_le_bytes());
    b
}

/// Decodes a seal body; `None` if its length is wrong. See the [module docs](self) for an example.
pub fn decode_seal_body(body: &[u8]) -> Option<SealBody> {
    if body.len() != SEAL_BODY_LEN {
        return None;
    }
    Some(SealBody { count: le_u64(body, 0), xxh3: le_u64(body, 8) })
}

// Fixed-width little-endian reads. Callers pass slices whose length was checked above, so the
// conversions cannot fail; a short slice would be our bug, and panics.
fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(array(b, at))
}
fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(array(b, at))
}
fn le_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(array(b, at))
}
fn le_u128(b: &[u8], at: usize) -> u128 {
    u128::from_le_bytes(array(b, at))
}
fn le_hash(b: &[u8], at: usize) -> [u8; 32] {
    array(b, at)
}
fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    assert!(at + N <= b.len(), "a read of {N} bytes at {at} past {} bytes: our bug", b.len());
    let mut out = [0u8; N];
    if let Some(src) = b.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)] // tests may panic
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(seq: u64) -> RecordHeader {
        RecordHeader {
            kind: RecordKind::Event,
            encoding: BodyEncoding::Postcard,
            flags: 0,
            log_id: 7,
            segment: SegmentId(3),
            seq,
            watermark: seq.saturating_sub(1),
            timestamp_nanos: -5,
            prev_hash: [9; 32],
        }
    }

    #[test]
    fn segment_header_round_trips_and_detects_a_flipped_bit() {
        let h = SegmentHeader { log_id: 0xabc, segment: SegmentId(42), capacity: 1 << 20 };
        let mut b = encode_segment_header(&h);
        assert_eq!(decode_segment_header(&b), Ok(h));
        b[20] ^= 1;
        assert!(matches!(decode_segment_header(&b), Err(HeaderDefect::Checksum { .. })));
        assert_eq!(decode_segment_header(&[0u8; 64]), Err(HeaderDefect::Zeroed));
        assert_eq!(decode_segment_header(&[1u8; 10]), Err(HeaderDefect::Short));
    }

    #[test]
    fn a_record_from_another_segment_is_misdirected_not_accepted() {
        let mut out = Vec::new();
        encode_record(&mut out, &header(1), b"body");
        let parsed = parse_record(&out, 0, 7, SegmentId(4), 1 << 20);
        assert_eq!(parsed, Err(RecordDefect::Misdirected(SegmentId(3))));
        assert_eq!(parse_record(&out, 0, 8, SegmentId(3), 1 << 20), Err(RecordDefect::ForeignLog));
    }

    #[test]
    fn layout_constants_are_pinned() {
        // A change here is a format change: bump FORMAT_VERSION and keep reading version 1.
        let mut out = Vec::new();
        encode_record(&mut out, &header(1), b"x");
        assert_eq!(out.len(), 104);
        assert_eq!(&out[0..4], b"MTR1");
        assert_eq!(out[8..12], 1u32.to_le_bytes());
        assert_eq!(out[40..48], 1u64.to_le_bytes());
        assert_eq!(framed_len(0), 96);
        assert_eq!(framed_len(1), 104);
        assert_eq!(framed_len(8), 104);
    }

    proptest! {
        #[test]
        fn record_decode_then_encode_gives_identical_bytes(
            seq in 1u64.., wm in any::<u64>(), ts in any::<i64>(), adjusted in any::<bool>(),
            body in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let mut h = header(seq);
            h.watermark = wm;
            h.timestamp_nanos = ts;
            h.flags = if adjusted { FLAG_CLOCK_ADJUSTED } else { 0 };
            let mut out = Vec::new();
            encode_record(&mut out, &h, &body);
            let view = parse_record(&out, 0, 7, SegmentId(3), 1 << 20).unwrap();
            prop_assert_eq!(view.header, h);
            prop_assert_eq!(view.body, &body[..]);
            let mut again = Vec::new();
            encode_record(&mut again, &view.header, view.body);
            prop_assert_eq!(again, out);
        }

        #[test]
        fn any_flipped_bit_in_a_record_is_never_accepted(
            body in proptest::collection::vec(any::<u8>(), 0..100), bit in 0usize..(196 * 8),
        ) {
            let mut out = Vec::new();
            encode_record(&mut out, &header(5), &body);
            let bit = bit % (out.len() * 8);
            out[bit / 8] ^= 1 << (bit % 8);
            // Padding bytes are outside the checksum; a flip there leaves the record intact
            // and is caught by the scan's padding check instead.
            let in_padding = bit / 8 >= RECORD_HEADER_LEN + body.len();
            let parsed = parse_record(&out, 0, 7, SegmentId(3), 1 << 20);
            if !in_padding {
                prop_assert!(parsed.is_err());
            }
        }

        #[test]
        fn parsing_arbitrary_bytes_never_panics(
            bytes in proptest::collection::vec(any::<u8>(), 0..400), at in 0usize..400,
        ) {
            let _ = parse_record(&bytes, at, 7, SegmentId(3), 1 << 20);
            let _ = decode_segment_header(&bytes);
        }
    }
}
