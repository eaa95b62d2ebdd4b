//! Shrinking a failing seed: the smallest knobs that still fail the same way.
//!
//! A run is a pure function of its seed and knobs, so a failure can be made smaller by
//! changing knobs and rerunning: turn one fault family off, halve the events, drop a cycle,
//! halve the writers; keep the change when the run still fails with the same first violated
//! invariant, undo it otherwise ("drop ops until it stops failing", on the knobs rather than
//! on a recorded op list, whose later choices would all shift). Repeat until no change is
//! kept. The result is printed as overrides that `torture replay --seed S --set '...'`
//! reruns, with its own (shorter) trace.

use crate::knobs::{Features, Knobs, Overrides, Scenario};
use crate::outcome::{Invariant, RunResult};
use crate::run::{run_with, RunOptions};

/// Reruns one shrinking attempt may take at most.
pub const ATTEMPTS_MAX: u32 = 200;

/// What shrinking found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shrunk {
    /// The smallest overrides that still fail the same way.
    pub overrides: Overrides,
    /// Reruns tried.
    pub attempts: u32,
    /// Each kept step, in order ("events 300 -> 150").
    pub steps: Vec<String>,
}

/// Shrinks with `fails(overrides)` as the test: `start` are the knobs of the failing run.
/// Generic over the test so it can be proven on a synthetic predicate.
pub fn shrink_with(start: &Knobs, mut fails: impl FnMut(&Overrides) -> bool) -> Shrunk {
    let mut current = Overrides {
        features: Some(start.features),
        events: Some(start.events),
        cycles: Some(start.cycles),
        writers: Some(start.writers),
    };
    let mut attempts = 0u32;
    let mut steps = Vec::new();
    // After each kept change the candidates are drawn again from the smaller knobs (each is
    // one change away from the current state, never from an older one).
    'search: loop {
        for (candidate, step) in candidates(&current) {
            if attempts >= ATTEMPTS_MAX {
                break 'search;
            }
            attempts += 1;
            if fails(&candidate) {
                current = candidate;
                steps.push(step);
                continue 'search;
            }
        }
        break;
    }
    Shrunk { overrides: current, attempts, steps }
}

/// The smaller variants of `o` to try, each with a description. Families first (a failure
/// that needs fewer fault kinds is easier to read), then sizes.
fn candidates(o: &Overrides) -> Vec<(Overrides, String)> {
    let mut out = Vec::new();
    let features = o.features.unwrap_or_default();
    for name in features.names() {
        let rest: Vec<&str> = features.names().into_iter().filter(|n| *n != name).collect();
        if let Ok(fewer) = Features::from_names(&rest.join(",")) {
            out.push((Overrides { features: Some(fewer), ..*o }, format!("{name} off")));
        }
    }
    if let Some(events) = o.events.filter(|e| *e > 1) {
        for smaller in [events / 4, events / 2, events - 1] {
            if smaller >= 1 && smaller < events {
                out.push((
                    Overrides { events: Some(smaller), ..*o },
                    format!("events {events} -> {smaller}"),
                ));
            }
        }
    }
    if let Some(cycles) = o.cycles.filter(|c| *c > 1) {
        out.push((
            Overrides { cycles: Some(cycles - 1), ..*o },
            format!("cycles {cycles} -> {}", cycles - 1),
        ));
    }
    if let Some(writers) = o.writers.filter(|w| *w > 1) {
        let fewer = writers / 2;
        out.push((
            Overrides { writers: Some(fewer), ..*o },
            format!("writers {writers} -> {fewer}"),
        ));
    }
    out
}

/// Shrinks a failing run of the harness: "the same way" means the same first violated
/// invariant. Returns `None` for a run that did not fail.
pub fn shrink_run(failure: &RunResult) -> Option<Shrunk> {
    let invariant: Invariant = failure.violations.first()?.invariant;
    let start = Knobs::draw(failure.seed, failure.scenario);
    let scenario: Scenario = failure.scenario;
    let options = RunOptions::default();
    Some(shrink_with(&start, |o| {
        let r = run_with(failure.seed, scenario, o, &options);
        r.violations.first().is_some_and(|v| v.invariant == invariant)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shrinking_keeps_only_what_the_failure_needs() {
        // Goal: the loop finds the minimum of a known predicate. Method: a "bug" that needs
        // torn writes and at least 10 events and 2 cycles, from a start with more of each.
        let mut start = Knobs::draw(3, Scenario::Swarm);
        start.features = Features::from_names("kill9,power_loss,torn,noise,clock_jumps").unwrap();
        start.events = 300;
        start.cycles = 3;
        start.writers = 8;
        let shrunk = shrink_with(&start, |o| {
            o.features.is_some_and(|f| f.torn)
                && o.events.is_some_and(|e| e >= 10)
                && o.cycles.is_some_and(|c| c >= 2)
        });
        let o = shrunk.overrides;
        assert_eq!(o.features.map(|f| f.names()), Some(vec!["torn"]));
        assert_eq!((o.events, o.cycles, o.writers), (Some(10), Some(2), Some(1)));
        assert!(shrunk.steps.iter().any(|s| s == "noise off"), "{:?}", shrunk.steps);
        assert!(shrunk.attempts <= ATTEMPTS_MAX);
    }

    #[test]
    fn a_failure_that_needs_everything_is_left_as_it_was() {
        let start = Knobs::draw(5, Scenario::Kill9DuringWrite);
        let whole = Overrides {
            features: Some(start.features),
            events: Some(start.events),
            cycles: Some(start.cycles),
            writers: Some(start.writers),
        };
        let shrunk = shrink_with(&start, |o| *o == whole);
        assert_eq!(shrunk.overrides, whole);
        assert!(shrunk.steps.is_empty());
    }
}
