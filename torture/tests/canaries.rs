//! Canaries (issue 4, point 4): each planted bug must make the smoke run fail. Building six
//! variants takes minutes, so this test is ignored by default; run it with
//! `cargo test -p torture --test canaries -- --ignored`, or `cargo run -p torture -- canaries`.

#[test]
#[ignore = "builds the harness six times; run explicitly"]
fn every_planted_bug_makes_the_smoke_run_fail() {
    let results = torture::canary::run_all(2_000, 0, "torture");
    let missed: Vec<&str> = results.iter().filter(|r| !r.caught).map(|r| r.feature).collect();
    assert!(missed.is_empty(), "planted bugs the harness did not catch: {missed:?}");
}
