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

#[test]
fn seeds_from_the_first_million_misdirected_over_the_first_records_are_reported_where_they_landed()
{
    // 1,000,000-seed run of 2026-11-27 (19 seeds): a misdirected write landed on the first
    // records of segment 1. Recovery took the displaced record for the start of a log whose
    // earlier segments were retired and reported the damage where its copy ended, so the
    // salvage prefix the report promised (the records "before" the damage) did not exist (I5).
    // Fixed in `recovery::Walker::record`: a log starts at seq 1, in whatever segment.
    for seed in [455841, 198632, 755577, 902232] {
        let r = run_one(seed, Scenario::Swarm, &RunOptions::default());
        assert!(!r.failed(), "seed {seed}: {:?}", r.violations);
    }
}

#[test]
fn seeds_from_the_first_million_an_unreadable_sector_after_a_seal_does_not_refuse_the_log() {
    // 1,000,000-seed run of 2026-11-27 (4 seeds): a latent sector error after a seal made
    // `Reader::open` fail (the check for bytes after seals read the tail in one piece), so the
    // salvage reader returned nothing of a log whose records were all readable (I5). Fixed in
    // `reader::findings_after_seals`: the tail is read sector by sector
    // (`segment::read_lenient`) and an unreadable sector is a `ReadError` finding.
    for seed in [275993, 309031, 588423, 848018] {
        let r = run_one(seed, Scenario::Swarm, &RunOptions::default());
        assert!(!r.failed(), "seed {seed}: {:?}", r.violations);
    }
}

#[test]
fn seeds_from_the_first_million_a_lost_truncation_brings_its_failing_sector_back() {
    // 1,000,000-seed run of 2026-11-27 (6 seeds, I10): recovery truncated a segment over a
    // failing sector and crashed before syncing; the simulated power loss restored the bytes
    // but not the failing sector, so the next recovery kept a record the uninterrupted one
    // could not read. A simulator bug (the medium's failing sectors now change only with what
    // persists: `bad_sectors_durable` in sim/src/disk/state.rs), not a WAL bug.
    for seed in [209251, 258119, 286216, 581336, 689967, 765354] {
        let r = run_one(seed, Scenario::Swarm, &RunOptions::default());
        assert!(!r.failed(), "seed {seed}: {:?}", r.violations);
    }
}

#[test]
fn seed_537160_a_write_misdirected_past_the_end_of_a_shrunk_segment_does_not_show_in_it() {
    // 1,000,000-seed run of 2026-11-27 (I6): the simulator let a misdirected write extend a
    // segment that recovery had shrunk, so a hole and a stray record appeared after its end,
    // and the next recovery cut from there, with the acknowledged record of the next segment.
    // No file system shows a misdirected write past a file's end: fixed in the simulator
    // (`World::land`). Recovery's rule (an anomaly above the proven watermark is the tail) is
    // unchanged; docs/recovery.md says why bytes past an ended segment cannot arise.
    let r = run_one(537160, Scenario::Swarm, &RunOptions::default());
    assert!(!r.failed(), "{:?}", r.violations);
}

#[test]
fn seed_706946_a_log_whose_first_record_is_gone_is_not_opened_from_a_later_seq() {
    // 1,000,000-seed run of 2026-11-27 (I3): the only record of segment 1 (seq 1, acknowledged)
    // was gone after the faults, stale bytes in its place; recovery opened the log clean from
    // seq 2 in segment 2, as if segment 1 had been retired. A log starts at seq 1: the walk now
    // reports a `SeqGap` at the first event of any other seq (`recovery::Walker::record`).
    let r = run_one(706946, Scenario::Swarm, &RunOptions::default());
    assert!(!r.failed(), "{:?}", r.violations);
}
