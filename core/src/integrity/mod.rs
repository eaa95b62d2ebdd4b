//! Tamper evidence: the hash chain over event records, the RFC 6962 Merkle tree over the same
//! leaves, and signed checkpoints (C2SP tlog-checkpoint inside a C2SP signed note) that let an
//! outsider check the log was not altered, reordered or truncated.

pub mod chain;
pub mod checkpoint;
pub mod merkle;
pub mod note;
