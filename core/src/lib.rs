//! # mtlog-audit: audit logs that cannot lose data
//!
//! An event handed to [`Sink::emit`] returns `Ok` only once it is durable on stable storage
//! (fdatasync of the segment file; fsync of the directory after creating or renaming one).
//! After any crash, reopening the log yields every acknowledged event, in order, exactly once,
//! and never an event that was not written. Damage is reported with its location, never silently
//! cut away: see `docs/recovery.md`.
//!
//! # Quick start
//!
//! Open a sink (this creates or recovers the log), emit, close; then read the log back and
//! check it:
//!
//! ```
//! use mtlog_audit::{audit, Level, Options, Reader, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path().join("audit");
//! // `dir` is the log directory, e.g. "/var/lib/myservice/audit".
//! let sink = Sink::open(Options::new(&dir))?;
//! let receipt = sink
//!     .event(Level::Information, "User {UserId} accessed record {RecordId}")
//!     .with("UserId", 42)
//!     .with("RecordId", "r-7")
//!     .emit()?; // returns once the event is fdatasynced
//! audit!(sink, Level::Warning => "Login failed for {UserId}", 7)?; // the same, as a macro
//! sink.flush()?; // waits for events other threads emitted
//! sink.close()?; // seals the active segment; dropping the sink does this too
//!
//! // Readers take no lock and see only what is proven durable.
//! let reader = Reader::open(&dir)?;
//! let stored: Vec<_> = reader.replay(1..=u64::MAX)?.collect::<Result<_, _>>()?;
//! assert_eq!(stored.len(), 2);
//! assert_eq!(stored[0].seq, receipt.seq);
//! assert_eq!(stored[0].chain_hash, receipt.chain_hash);
//! assert_eq!(stored[0].event.message, "User 42 accessed record r-7");
//! assert_eq!(stored[1].event.level, Level::Warning);
//! assert!(reader.verify_integrity().is_valid());
//! # Ok::<(), Box<dyn std::error::Error>>(())
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

#![warn(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

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

/// Whether this build of the library runs its debug self-checks (debug assertions: every
/// encoded body decoded again and compared, invariant assertions in the WAL). On in debug
/// builds and, in this repository's workspace, in `--release` builds too (so the torture harness
/// keeps them); off in the `bench` profile and in a service's own release build. Benchmarks
/// print it, since the self-checks cost time on the hot path.
///
/// # Examples
///
/// ```
/// // A benchmark says what it measured.
/// let checks = if mtlog_audit::SELF_CHECKS { "on" } else { "off" };
/// assert!(checks == "on" || checks == "off");
/// ```
pub const SELF_CHECKS: bool = cfg!(debug_assertions);

/// The README's Rust blocks, compiled as doctests (`no_run`: they write outside a temp
/// directory), so the quick start and the walkthrough cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
