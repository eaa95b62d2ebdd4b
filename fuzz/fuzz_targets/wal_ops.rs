//! Fuzz target `wal_ops`: arbitrary operation sequences against the WAL over the simulated
//! disk, checked against a `Vec` model. See `mtlog_audit_sim::wal_ops` for what it checks; the
//! driver lives in the simulator crate because the core cannot depend on it.
#![no_main]

use mtlog_audit_sim::wal_ops::{run, Op};

libfuzzer_sys::fuzz_target!(|ops: Vec<Op>| {
    run(&ops);
});
