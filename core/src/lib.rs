//! # mtlog-audit: audit logs that cannot lose data
//!
//! An event handed to [`Sink::emit`] returns `Ok` only once it is durable on stable storage
//! (fdatasync of the segment file; fsync of the directory after creating or renaming one).
//! After any crash, reopening the log yields every acknowledged event, in order, exactly once,
//! and never an event that was not written. Damage is reported with its location, never silently
//! cut away.

pub mod event;
pub mod io;
