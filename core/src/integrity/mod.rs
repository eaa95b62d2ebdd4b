//! Tamper evidence: the hash chain over event records, the RFC 6962 Merkle tree over the same
//! leaves, and signed checkpoints (C2SP tlog-checkpoint inside a C2SP signed note) that let an
//! outsider check the log was not altered, reordered or truncated.
//!
//! # Examples
//!
//! A sink with a signing key writes checkpoints; an auditor holding only the verifier key
//! checks the log against them:
//!
//! ```
//! use mtlog_audit::integrity::audit::AuditVerdict;
//! use mtlog_audit::integrity::note::Signer;
//! use mtlog_audit::{Level, Options, Reader, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let signer = Signer::from_seed("example.com/audit", [1; 32])?; // use io::Entropy
//! let sink = Sink::open(Options::new(dir).signer(signer.clone()))?;
//! for n in 1..=3 {
//!     sink.event(Level::Information, "Step {N}").with("N", n).emit()?;
//! }
//! sink.close()?; // signs a last checkpoint
//!
//! let report = Reader::open(dir)?.audit(&[signer.verifier()], Vec::new())?;
//! assert_eq!(report.verdict(), AuditVerdict::Valid);
//! let newest = report.checkpoints.last().and_then(|c| c.checkpoint.as_ref());
//! assert_eq!(newest.map(|c| c.size()), Some(3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod audit;
pub mod bundle;
pub mod chain;
pub mod checkpoint;
pub(crate) mod checkpointer;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod store;
pub mod tiles;
pub mod tlog_proof;

pub use checkpointer::{MerkleOpenReport, MerkleSource, RebuildReason};
