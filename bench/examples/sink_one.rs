//! One configuration of the compare bench, for profiling (`perf record`, `perf stat`) without
//! the baselines around it:
//!
//! ```sh
//! cargo build --release -p mtlog-audit-bench --example sink_one
//! perf stat -e task-clock,context-switches,cpu-migrations \
//!     target/release/examples/sink_one 64 3        # 64 writers, closed loop, 3 s
//! target/release/examples/sink_one 8 3 10000       # 8 writers offering 10,000/s
//! ```
//!
//! Arguments: writers (default 64), seconds (default 3), offered rate (closed loop if absent).
//! `BENCH_DIR` names the directory measured (default `target/bench-data/one`).

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::path::PathBuf;
use std::time::Duration;

use mtlog_audit_bench::{sink_closed_loop, sink_fixed_rate, table};

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let writers = args.first().copied().unwrap_or(64) as usize;
    let duration = Duration::from_secs(args.get(1).copied().unwrap_or(3));
    let dir = std::env::var("BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target/bench-data/one"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create bench dir");
    let m = match args.get(2) {
        Some(&rate) => sink_fixed_rate(&dir, writers, rate, 1024, duration),
        None => sink_closed_loop(&dir, writers, 1024, duration),
    };
    print!("{}", table(&[m]));
    let _ = std::fs::remove_dir_all(&dir);
}
