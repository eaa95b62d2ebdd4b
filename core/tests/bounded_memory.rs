//! Memory stays bounded whatever the size of the files in the log directory: a segment file
//! larger than any reader loads is refused with a typed error naming it and its size, before
//! anything is allocated for it.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)] // Tests touch files directly.

use std::path::Path;

use mtlog_audit::wal::format::{encode_segment_header, SegmentHeader, SegmentId, SEGMENT_LEN_MAX};
use mtlog_audit::wal::segment;
use mtlog_audit::{Error, Level, Options, Reader, Sink};

/// Writes a segment header for `id` into a file of `len` bytes: sparse, so it costs no disk.
fn sparse_segment(dir: &Path, id: u64, len: u64) -> std::path::PathBuf {
    let path = dir.join(segment::file_name(SegmentId(id)));
    let header = SegmentHeader { log_id: 9, segment: SegmentId(id), capacity: len };
    std::fs::write(&path, encode_segment_header(&header)).unwrap();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len).unwrap();
    path
}

fn assert_too_large(outcome: Result<(), Error>, path: &Path, len: u64, who: &str) {
    match outcome {
        Err(Error::SegmentTooLarge { path: p, len: l, max }) => {
            assert_eq!((p.as_path(), l, max), (path, len, SEGMENT_LEN_MAX), "{who}");
        }
        other => panic!("{who}: expected SegmentTooLarge, got {other:?}"),
    }
}

#[test]
fn a_sparse_one_tib_segment_is_refused_by_name_and_size_without_allocating_it() {
    // Regression (issue #19, defect 4): every reader read a segment whole, so a 1 TiB sparse
    // file aborted every command and `Sink::open` on allocation, and a 3 GiB one cost 3 GB.
    // Method: a real sparse file, then each way of opening a log; with the old code the
    // allocation aborts the test process.
    for len in [1u64 << 40, 3 << 30, SEGMENT_LEN_MAX + 1] {
        let tmp = tempfile::tempdir().unwrap();
        {
            let sink = Sink::open(Options::new(tmp.path()).segment_bytes(64 << 10)).unwrap();
            sink.event(Level::Information, "Before").emit().unwrap();
            sink.close().unwrap();
        }
        let path = sparse_segment(tmp.path(), 2, len);
        let dir = tmp.path();
        assert_too_large(Reader::open(dir).map(drop), &path, len, "Reader::open");
        assert_too_large(Reader::open_salvage(dir).map(drop), &path, len, "Reader::open_salvage");
        assert_too_large(Sink::open(Options::new(dir)).map(drop), &path, len, "Sink::open");
        let text = Reader::open(dir).err().unwrap().to_string();
        assert!(text.contains(&path.display().to_string()) && text.contains(&len.to_string()));
    }
}

#[test]
fn a_segment_of_the_largest_size_accepted_is_read() {
    // The bound refuses nothing a writer can produce: a file of exactly SEGMENT_LEN_MAX (sparse
    // here) is loaded and scanned.
    let tmp = tempfile::tempdir().unwrap();
    sparse_segment(tmp.path(), 1, SEGMENT_LEN_MAX);
    let reader = Reader::open(tmp.path()).unwrap();
    assert!(reader.verify_integrity().is_valid());
    assert_eq!(reader.seq_last(), 0);
}
