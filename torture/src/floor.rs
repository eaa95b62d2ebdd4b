//! The T1 floor: what a simulated run costs the writer alone, measured in the harness's own
//! process so the runs per CPU-second it prints stand beside a ceiling taken on the same CPU,
//! under the same load, at the same moment.
//!
//! Every run encodes its events and computes each one's RFC 6962 leaf hash and chain link
//! (`Writer::append`), before any simulated disk, recovery or check. [`run_floor`] does exactly
//! that for [`FLOOR_EVENTS`] events shaped like the harness's ([`shaped_events`]); the criterion
//! micro bench `T1 run floor` times the same function.

use mtlog_audit::event::{Event, EventId};
use mtlog_audit::integrity::chain::{self, Hash};
use mtlog_audit::Level;

/// Events per run: the mean of the 50..=500 appends a T1 run makes.
pub const FLOOR_EVENTS: u64 = 275;

/// `n` events shaped like the harness's (`Run::build_event`: the same template and properties,
/// payloads of 27..=490 bytes, mean 258).
pub fn shaped_events(n: u64) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let len = 27 + (i * 463 / n.saturating_sub(1).max(1)) as usize;
            let mut ev = Event::new(
                EventId([i as u8; 16]),
                i as i64,
                Level::Information,
                "Writer {Writer} event {N}",
            );
            ev.message = format!("Writer 1 event {i}");
            ev.with_property("Writer", 1u64)
                .with_property("N", i)
                .with_property("Payload", vec![0x5au8; len])
        })
        .collect()
}

/// One run's worth of the writer's work on `events`: encode, leaf hash, chain link. Returns the
/// chain head (so the work cannot be optimised away). `body` is the reused encode buffer.
///
/// # Panics
/// If an event does not encode (the shaped events always do).
pub fn run_floor(events: &[Event], body: &mut Vec<u8>) -> Hash {
    let mut head = [0u8; 32];
    for (seq, ev) in (1..).zip(events) {
        body.clear();
        ev.encode_body(body).expect("floor events encode");
        let leaf = chain::leaf_hash(1, seq, ev.timestamp_nanos, 0, 0, body);
        head = chain::link(&head, &leaf);
    }
    head
}

/// Measures [`run_floor`] on this thread for about `cpu_budget_seconds` of its CPU time and
/// returns the floor runs per CPU-second, or `None` where the OS does not report thread CPU
/// time (the harness then prints no floor rather than a wall-clock guess).
pub fn measure(cpu_budget_seconds: f64) -> Option<f64> {
    let events = shaped_events(FLOOR_EVENTS);
    let mut body = Vec::with_capacity(2048);
    let before = thread_cpu_seconds()?;
    let mut runs = 0u64;
    let mut sink = [0u8; 32];
    loop {
        for _ in 0..16 {
            let head = run_floor(&events, &mut body);
            sink[0] ^= head[0];
            runs += 1;
        }
        let spent = thread_cpu_seconds()? - before;
        if spent >= cpu_budget_seconds {
            std::hint::black_box(sink);
            return Some(runs as f64 / spent);
        }
    }
}

/// User + system CPU seconds of the calling thread, from `/proc/thread-self/stat` (Linux).
fn thread_cpu_seconds() -> Option<f64> {
    // The harness measuring itself, outside any simulation.
    #[allow(clippy::disallowed_methods)]
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    crate::batch::cpu_seconds_of_stat(&stat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_does_the_writers_work_and_measures_it() {
        let events = shaped_events(FLOOR_EVENTS);
        assert_eq!(events.len(), FLOOR_EVENTS as usize);
        let payloads: Vec<usize> = events
            .iter()
            .map(|e| match e.property("Payload") {
                Some(mtlog_audit::event::Value::Bytes(b)) => b.len(),
                other => panic!("payload {other:?}"),
            })
            .collect();
        assert_eq!((payloads[0], payloads[FLOOR_EVENTS as usize - 1]), (27, 490));
        let mut body = Vec::new();
        let head = run_floor(&events, &mut body);
        assert_ne!(head, [0; 32]);
        assert_eq!(head, run_floor(&events, &mut body), "the same events, the same chain");
        if let Some(rate) = measure(0.02) {
            assert!(rate > 0.0 && rate.is_finite(), "{rate}");
        }
    }
}
