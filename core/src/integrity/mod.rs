//! Tamper evidence: the hash chain over event records (and, with signed checkpoints, the Merkle
//! tree over the same leaves).

pub mod chain;
