//! Tamper evidence: the hash chain over event records, the RFC 6962 Merkle tree over the same
//! leaves, and signed checkpoints (C2SP tlog-checkpoint inside a C2SP signed note) that let an
//! outsider check the log was not altered, reordered or truncated.

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

pub use checkpointer::{MerkleOpenReport, MerkleSource, RebuildReason};
