//! # mtlog-audit: audit logs that cannot lose data
//!
//! An event handed to [`Sink::emit`] returns `Ok` only once it is durable on stable storage
//! (fdatasync of the segment file; fsync of the directory after creating or renaming one).
//! After any crash, reopening the log yields every acknowledged event, in order, exactly once,
//! and never an event that was not written. Damage is reported with its location, never silently
//! cut away: see `docs/recovery.md`.
//!
//! ```no_run
//! use mtlog_audit::{Level, Options, Reader, Sink};
//!
//! let sink = Sink::open(Options::new("./audit-data"))?;
//! let receipt = sink
//!     .event(Level::Information, "User {UserId} accessed record {RecordId}")
//!     .with("UserId", 42)
//!     .with("RecordId", "r-7")
//!     .emit()?; // returns once the event is fdatasynced
//! sink.close()?;
//!
//! let reader = Reader::open("./audit-data")?;
//! for stored in reader.replay(receipt.seq..=receipt.seq)? {
//!     println!("{} {}", stored?.seq, "…");
//! }
//! # Ok::<(), mtlog_audit::Error>(())
//! ```
//!
//! Tamper evidence: every event is a leaf of an RFC 6962 Merkle tree. With
//! [`Options::signer`], the sink writes signed checkpoints (C2SP tlog-checkpoint in a C2SP
//! signed note, Ed25519) into `DIR/checkpoints/` and optionally elsewhere; [`Reader::audit`]
//! checks the log against them, [`Reader::prove_inclusion`] and [`Reader::prove_consistency`]
//! make proofs an outsider verifies with public data only (see [`integrity`] and
//! `docs/integrity.md`).
//!
//! All I/O goes through the [`io::Disk`], [`io::Clock`] and [`io::Entropy`] traits; the
//! simulator in `mtlog-audit-sim` implements them with seeded faults and drives the same code.

pub mod adapters;
pub mod error;
pub mod event;
pub mod filter;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod integrity;
pub mod io;
pub mod macros;
pub mod options;
pub mod reader;
pub mod sink;
pub mod wal;

pub use error::{Corruption, DamageKind, Error, Result};
pub use event::{Event, EventId, Level, Value};
pub use options::Options;
pub use reader::{IntegrityReport, MerkleCacheReport, RawRecord, Reader, StoredEvent};
pub use sink::{EventBuilder, Receipt, Sink, SinkStats};
pub use wal::open::RecoveryReport;
