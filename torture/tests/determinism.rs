//! I15: the same seed gives the same trace hash, in this process and in fresh processes with
//! different `--jobs` (which is how CI checks it: `torture determinism --seeds 1000`).

use torture::knobs::Scenario;
use torture::run::{run_one, RunOptions};

#[test]
fn a_seed_replays_to_the_same_trace_hash_with_and_without_detail() {
    for seed in 0..40 {
        let a = run_one(seed, Scenario::Swarm, &RunOptions::default());
        let b = run_one(seed, Scenario::Swarm, &RunOptions { detail: true, trace_lines: 100 });
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}");
        assert_eq!(a.outcome, b.outcome, "seed {seed}");
        assert_ne!(a.trace_hash, 0);
    }
}

#[test]
fn fresh_processes_with_different_jobs_agree_on_every_trace_hash() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_torture"))
        .args(["determinism", "--seeds", "150", "--start", "7"])
        .output()
        .expect("the torture binary runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("150 of 150 seeds match"), "{text}");
}
