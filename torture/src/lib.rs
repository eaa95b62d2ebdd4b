//! # torture: the mtlog-audit WAL through millions of seeded crash and fault schedules
//!
//! Each seed expands into a printed set of knobs ([`knobs::Knobs`]), drives the very `Writer`
//! and recovery code production uses, on the simulator of `mtlog-audit-sim`, through crashes,
//! power losses and the storage fault model of FAULT-MODEL.md, and checks the invariants of
//! §4b after every recovery against a ground-truth model ([`model::Model`]). A failure prints
//! the one command that replays it. See `docs/torture.md`.
//!
//! ```
//! use torture::knobs::Scenario;
//! use torture::run::{run_one, RunOptions};
//! let result = run_one(42, Scenario::Swarm, &RunOptions::default());
//! assert!(!result.failed(), "{:?}", result.violations);
//! // Same seed, same trace (I15).
//! assert_eq!(result.trace_hash, run_one(42, Scenario::Swarm, &RunOptions::default()).trace_hash);
//! ```

pub mod batch;
pub mod canary;
pub mod cli;
pub mod coverage;
pub mod determinism;
pub mod floor;
pub mod knobs;
pub mod merge;
pub mod model;
pub mod outcome;
pub mod panics;
pub mod real;
pub mod report;
pub mod run;
pub mod seeds;
pub mod shrink;
pub mod swarm;

mod checkpoints;
mod inject;
mod recover;

/// The replay command for a seed.
pub fn replay_command(seed: u64, scenario: knobs::Scenario) -> String {
    format!("cargo run --release -p torture -- replay --seed {seed} --scenario {scenario}")
}

/// The replay command for a seed with knob overrides (a shrunk run).
pub fn replay_command_with(seed: u64, scenario: knobs::Scenario, overrides: &str) -> String {
    format!("{} --set '{overrides}'", replay_command(seed, scenario))
}
