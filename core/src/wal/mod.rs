//! The write-ahead log: record framing, segments, the writer with group commit, the reader,
//! and recovery.
//!
//! # Examples
//!
//! Where an event lands, and what reopening finds:
//!
//! ```
//! use mtlog_audit::wal::format::SEGMENT_HEADER_LEN;
//! use mtlog_audit::wal::segment;
//! use mtlog_audit::{Level, Options, Reader, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let sink = Sink::open(Options::new(dir))?;
//! sink.event(Level::Information, "Hello").emit()?;
//! sink.close()?; // seals the segment
//!
//! let stored = Reader::open(dir)?.replay(1..=1)?.next().unwrap()?;
//! assert!(dir.join(segment::file_name(stored.segment)).exists());
//! assert_eq!(stored.offset, SEGMENT_HEADER_LEN as u64); // the first record follows the header
//!
//! let sink = Sink::open(Options::new(dir))?; // recovers
//! assert_eq!(sink.recovery_report().seq_next, 2);
//! assert!(sink.recovery_report().cuts.is_empty()); // a clean close needs no cut
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod format;
pub mod log;
pub mod open;
pub mod quarantine;
pub mod recovery;
pub mod scan;
pub mod segment;
pub mod writer;
