//! The Disk conformance suite and the WAL round trip on the real file system.

use std::sync::Arc;

use mtlog_audit::io::{conformance, OsEntropy, RealDisk, SystemClock};

#[test]
fn real_disk_meets_every_disk_contract() {
    let tmp = tempfile::tempdir().unwrap();
    conformance::check_disk(&RealDisk, tmp.path()).unwrap();
}

#[test]
fn the_wal_round_trips_on_the_real_disk() {
    let tmp = tempfile::tempdir().unwrap();
    conformance::check_wal(
        Arc::new(RealDisk),
        Arc::new(SystemClock),
        Arc::new(OsEntropy),
        tmp.path(),
    )
    .unwrap();
}
