//! Seeds that once failed, rerun on every test run. Each names the bug it found.

use torture::knobs::Scenario;
use torture::run::{run_one, RunOptions};

#[test]
fn seed_12844_records_synced_after_a_cut_of_a_failed_syncs_tail_survive_the_next_reopen() {
    // An fdatasync of segment 5 failed; a reopen in the same process cut segment 5 back to its
    // header, and a later recovery prepared id 5 again: a new file under the old name. The
    // failed sync's record (kept by path) outlived both, so the new, synced and acknowledged
    // records of that file were taken for bytes the failed sync may have lost: the read-back
    // after the clean close found "a tail to cut" (I10), and a further reopen in the process
    // would have cut acknowledged records. Fixed in `Disk`: the record follows the file and
    // ends with a cut back to the trusted length (`io::disk`, `synced_len_after_failure`).
    let r = run_one(12844, Scenario::Swarm, &RunOptions::default());
    assert!(!r.failed(), "{:?}", r.violations);
}
