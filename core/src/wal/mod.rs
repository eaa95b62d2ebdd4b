//! The write-ahead log: record framing, segments, the writer with group commit, the reader,
//! and recovery.

pub mod format;
pub mod open;
pub mod quarantine;
pub mod recovery;
pub mod scan;
pub mod segment;
pub mod writer;
