//! Sharded runs merged equal one run over the whole range: verdict, counts, invariants,
//! coverage, swarm bins and failure rows (speed and wall time excepted: the shards ran apart).

use mtlog_audit_reports::Report;
use torture::batch::{detail_failures, run_batch, BatchConfig};
use torture::knobs::Scenario;
use torture::merge::{merge, MergeError, ShardReport};
use torture::report::{self, Provenance};
use torture::seeds::{SeedRange, Shard};

const START: u64 = 40_000;
const SEEDS: u64 = 450;

fn provenance() -> Provenance {
    Provenance {
        commit: "c0ffee".into(),
        dirty: false,
        profile: "test".into(),
        seed_source: "fixed".into(),
    }
}

fn report_of(range: SeedRange) -> Report {
    let config = BatchConfig {
        start: range.start(),
        seeds: range.count(),
        scenario: Scenario::Swarm,
        jobs: 2,
        progress: false,
        keep_hashes: false,
    };
    let mut batch = run_batch(&config);
    detail_failures(&mut batch, 10, 1_000);
    let gaps = batch.tally.gaps();
    report::build(&batch, &provenance(), None, None, &gaps, 10, true).0
}

/// The report with what a merge cannot reproduce (wall time, speed, threads, seed source)
/// blanked.
fn comparable(mut r: Report) -> Report {
    r.wall_seconds = 0.0;
    r.runs_per_second_per_core = 0.0;
    r.runs_per_cpu_second = None;
    r.floor_runs_per_cpu_second = None;
    r.sim_to_wall = 0.0;
    r.jobs = 0;
    r.seed_source = String::new();
    r
}

#[test]
fn three_shards_merged_equal_one_run_over_the_range() {
    let whole = SeedRange::new(START, SEEDS).unwrap();
    let single = report_of(whole);
    let mut shards: Vec<ShardReport> = (0..3)
        .map(|index| ShardReport {
            dir: format!("shard-{index}").into(),
            report: report_of(whole.shard(Shard { index, of: 3 }).unwrap()),
            files: Vec::new(),
        })
        .collect();
    shards.reverse(); // order on the command line does not matter
    let (merged, _) = merge(shards.clone()).unwrap();
    assert_eq!(merged.runs, SEEDS);
    assert_eq!((merged.start, merged.seeds), (START, SEEDS));
    assert!(merged.seed_source.contains("3 shards"));
    assert_eq!(comparable(merged), comparable(single.clone()));

    // A missing shard is refused, not merged into a smaller range that looks whole.
    shards.remove(1);
    assert!(matches!(merge(shards), Err(MergeError::Blocks { .. })));
}
