//! `SimClock`: event-driven simulated time with wall-clock faults (C1-C4).
//!
//! Time moves only when told: [`SimClock::advance`], [`SimClock::advance_to`],
//! [`SimClock::advance_to_next_timer`] (jump straight to the next due timer, as madsim does,
//! instead of ticking), or a slow disk operation (D12). Reading the clock never moves it.
//!
//! - Monotonic time never goes back (C4); every change asserts it.
//! - Wall time follows monotonic time at a rate off by `drift_ppm` parts per million (C2) and
//!   may step forward or backward by seeded jumps or [`SimClock::step_wall`] (C1).
//! - A timer may fire late (C3): `advance_to_next_timer` then lands after its due time.

use std::collections::{BTreeMap, BTreeSet};

use mtlog_audit::io::Clock;

use crate::ledger::FaultKind;
use crate::rng::Rng;
use crate::trace::{Op, TraceEvent};
use crate::world::{lock, Shared, Sim, World};

/// Wall time at the simulated epoch: 2026-01-01T00:00:00Z, in nanoseconds since the Unix epoch.
const WALL_ORIGIN_NANOS: i64 = 1_767_225_600_000_000_000;
/// Drift is expressed in parts per million.
const PPM: i128 = 1_000_000;

/// Identifies a scheduled timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u64);

/// A timer that fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FiredTimer {
    /// Which timer.
    pub id: TimerId,
    /// The monotonic time it was scheduled for.
    pub due: u64,
    /// The monotonic time it fired at (`>= due`; later when C3 made it late or time had
    /// already passed its due time).
    pub fired_at: u64,
}

/// The clock part of the world.
#[derive(Clone)]
pub(crate) struct ClockState {
    pub(crate) mono: u64,
    pub(crate) wall: i64,
    drift_ppm: i64,
    /// Sub-nanosecond remainder of the drift, in ppm-nanoseconds, so drift is exact over time.
    drift_carry: i128,
    /// Timers by (due time, id): ids break ties in scheduling order.
    timers: BTreeSet<(u64, u64)>,
    due_by_id: BTreeMap<u64, u64>,
    next_timer: u64,
    rng: Rng,
}

impl ClockState {
    pub(crate) fn new(rng: &Rng) -> ClockState {
        let mut rng = rng.fork("clock");
        // Seed-chosen origins, so no code can rely on time starting at zero.
        let mono = rng.range_inclusive(1_000_000_000, 1 << 40);
        let wall = WALL_ORIGIN_NANOS + rng.signed_up_to(365 * 86_400 * 1_000_000_000);
        ClockState {
            mono,
            wall,
            drift_ppm: 0,
            drift_carry: 0,
            timers: BTreeSet::new(),
            due_by_id: BTreeMap::new(),
            next_timer: 1,
            rng,
        }
    }

    /// Moves monotonic time forward by `nanos` and wall time by the drifted amount.
    fn tick(&mut self, nanos: u64) {
        let before = self.mono;
        self.mono = before.checked_add(nanos).expect("monotonic time overflowed u64 nanoseconds");
        assert!(self.mono >= before, "monotonic time went backwards");
        let scaled = i128::from(nanos) * (PPM + i128::from(self.drift_ppm)) + self.drift_carry;
        self.drift_carry = scaled.rem_euclid(PPM);
        let whole = scaled.div_euclid(PPM);
        self.wall = clamp_i64(i128::from(self.wall) + whole);
    }
}

impl World {
    /// Advances time by `nanos`, maybe stepping the wall clock first (C1, seeded).
    pub(crate) fn clock_advance(&mut self, nanos: u64) {
        if self.clock.rng.chance(self.faults.clock_step) {
            let delta = self.clock.rng.signed_up_to(self.faults.clock_step_nanos_max.max(1));
            self.clock_step(delta);
        }
        self.clock.tick(nanos);
        let mut event = TraceEvent::new(Op::ClockAdvance);
        event.len = nanos;
        event.result = self.clock.wall;
        self.record(&event);
    }

    fn clock_step(&mut self, delta: i64) {
        self.clock.wall = clamp_i64(i128::from(self.clock.wall) + i128::from(delta));
        let at = self.clock.mono;
        self.log_fault(FaultKind::WallClockStep { delta }, Default::default(), at, 0, false);
    }

    pub(crate) fn draw_clock_drift(&mut self) {
        let max = self.faults.clock_drift_ppm_max;
        assert!(u128::from(max) < PPM as u128, "clock drift must stay below 1,000,000 ppm");
        if max > 0 {
            let ppm = self.clock.rng.signed_up_to(max);
            self.clock.drift_ppm = ppm;
            self.log_fault(FaultKind::WallClockDrift { ppm }, Default::default(), 0, 0, false);
        }
    }
}

/// The simulated clock. Cheap to clone; all clones (and the disk) share one time.
#[derive(Clone)]
pub struct SimClock {
    shared: Shared,
}

impl std::fmt::Debug for SimClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let world = lock(&self.shared);
        f.debug_struct("SimClock")
            .field("monotonic", &world.clock.mono)
            .field("wall", &world.clock.wall)
            .field("drift_ppm", &world.clock.drift_ppm)
            .field("timers", &world.clock.timers.len())
            .finish()
    }
}

impl SimClock {
    pub(crate) fn new(shared: Shared) -> SimClock {
        SimClock { shared }
    }

    /// The machine this clock belongs to.
    pub fn sim(&self) -> Sim {
        Sim::from_shared(self.shared.clone())
    }

    /// Advances time by `nanos` (the wall clock follows, with drift and seeded steps).
    pub fn advance(&self, nanos: u64) {
        lock(&self.shared).clock_advance(nanos);
    }

    /// Advances monotonic time to `at`; does nothing if it is already there or past.
    pub fn advance_to(&self, at: u64) {
        let mut world = lock(&self.shared);
        let now = world.clock.mono;
        if at > now {
            world.clock_advance(at - now);
        }
    }

    /// Schedules a timer due at monotonic time `at` (in the past is allowed: it is due now).
    pub fn schedule(&self, at: u64) -> TimerId {
        let mut world = lock(&self.shared);
        let id = world.clock.next_timer;
        world.clock.next_timer += 1;
        world.clock.timers.insert((at, id));
        world.clock.due_by_id.insert(id, at);
        let mut event = TraceEvent::new(Op::TimerSchedule);
        event.file = id;
        event.offset = at;
        world.record(&event);
        TimerId(id)
    }

    /// Schedules a timer `nanos` from now.
    pub fn schedule_after(&self, nanos: u64) -> TimerId {
        let now = self.now();
        self.schedule(now.saturating_add(nanos))
    }

    /// Cancels a timer; returns whether it was still pending.
    pub fn cancel(&self, timer: TimerId) -> bool {
        let mut world = lock(&self.shared);
        let Some(at) = world.clock.due_by_id.remove(&timer.0) else {
            return false;
        };
        world.clock.timers.remove(&(at, timer.0));
        let mut event = TraceEvent::new(Op::TimerCancel);
        event.file = timer.0;
        world.record(&event);
        true
    }

    /// The next timer to fire and its due time, without firing it.
    pub fn next_timer(&self) -> Option<(TimerId, u64)> {
        let world = lock(&self.shared);
        world.clock.timers.first().map(|(at, id)| (TimerId(*id), *at))
    }

    /// How many timers are pending.
    pub fn pending_timers(&self) -> usize {
        lock(&self.shared).clock.timers.len()
    }

    /// Fires the earliest timer: advances time to its due time (plus a seeded lateness, C3) if
    /// that is in the future, removes it and returns it. `None` if no timer is pending (a
    /// harness may treat that as "no events left": a deadlock check).
    pub fn advance_to_next_timer(&self) -> Option<FiredTimer> {
        let mut guard = lock(&self.shared);
        let world = &mut *guard;
        let (due, id) = world.clock.timers.pop_first()?;
        world.clock.due_by_id.remove(&id);
        let mut late = 0;
        if world.clock.rng.chance(world.faults.timer_late) {
            late = world.clock.rng.log_uniform(world.faults.timer_late_nanos_max.max(1));
            world.log_fault(FaultKind::TimerLate, Default::default(), due, late, false);
        }
        let target = due.saturating_add(late);
        let now = world.clock.mono;
        if target > now {
            world.clock_advance(target - now);
        }
        let fired_at = world.clock.mono;
        let mut event = TraceEvent::new(Op::TimerFire);
        event.file = id;
        event.offset = due;
        event.len = fired_at - due.min(fired_at);
        world.record(&event);
        Some(FiredTimer { id: TimerId(id), due, fired_at })
    }

    /// Steps the wall clock by `delta` nanoseconds, forward or backward (C1). Monotonic time
    /// does not move.
    pub fn step_wall(&self, delta: i64) {
        lock(&self.shared).clock_step(delta);
    }

    /// Sets the wall clock's rate error in parts per million (C2).
    ///
    /// # Panics
    /// If `|ppm| >= 1_000_000`.
    pub fn set_drift_ppm(&self, ppm: i64) {
        assert!(i128::from(ppm).abs() < PPM, "clock drift must stay below 1,000,000 ppm");
        let mut world = lock(&self.shared);
        world.clock.drift_ppm = ppm;
        world.log_fault(FaultKind::WallClockDrift { ppm }, Default::default(), 0, 0, false);
    }

    /// The current rate error in parts per million.
    pub fn drift_ppm(&self) -> i64 {
        lock(&self.shared).clock.drift_ppm
    }

    /// Monotonic now (the same as [`Clock::monotonic_nanos`]).
    pub fn now(&self) -> u64 {
        lock(&self.shared).clock.mono
    }
}

impl Clock for SimClock {
    fn wall_nanos(&self) -> i64 {
        lock(&self.shared).clock.wall
    }

    fn monotonic_nanos(&self) -> u64 {
        lock(&self.shared).clock.mono
    }
}

fn clamp_i64(value: i128) -> i64 {
    value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FaultConfig;

    fn quiet_clock(seed: u64) -> SimClock {
        Sim::new(seed, FaultConfig::none()).clock()
    }

    #[test]
    fn time_moves_only_when_advanced() {
        let clock = quiet_clock(1);
        let (mono, wall) = (clock.monotonic_nanos(), clock.wall_nanos());
        assert_eq!(clock.monotonic_nanos(), mono);
        clock.advance(1_000);
        assert_eq!(clock.monotonic_nanos(), mono + 1_000);
        assert_eq!(clock.wall_nanos(), wall + 1_000);
        clock.advance_to(mono);
        assert_eq!(clock.monotonic_nanos(), mono + 1_000, "advance_to the past is a no-op");
    }

    #[test]
    fn advance_to_next_timer_jumps_to_the_earliest_due_timer() {
        let clock = quiet_clock(2);
        let now = clock.now();
        let late = clock.schedule(now + 500);
        let early = clock.schedule(now + 100);
        let cancelled = clock.schedule(now + 50);
        assert!(clock.cancel(cancelled));
        assert!(!clock.cancel(cancelled));
        let fired = clock.advance_to_next_timer().unwrap();
        assert_eq!(fired.id, early);
        assert_eq!(fired.fired_at, now + 100);
        assert_eq!(clock.advance_to_next_timer().unwrap().id, late);
        assert_eq!(clock.now(), now + 500);
        assert_eq!(clock.advance_to_next_timer(), None);
    }

    #[test]
    fn a_timer_already_due_fires_without_moving_time() {
        let clock = quiet_clock(3);
        let now = clock.now();
        clock.schedule(now - 10);
        let fired = clock.advance_to_next_timer().unwrap();
        assert_eq!(fired.fired_at, now);
    }

    #[test]
    fn wall_clock_steps_backward_while_monotonic_holds() {
        let clock = quiet_clock(4);
        let (mono, wall) = (clock.monotonic_nanos(), clock.wall_nanos());
        clock.step_wall(-5_000_000_000);
        assert_eq!(clock.wall_nanos(), wall - 5_000_000_000);
        assert_eq!(clock.monotonic_nanos(), mono);
        let ledger = clock.sim().ledger();
        assert_eq!(ledger[0].kind, FaultKind::WallClockStep { delta: -5_000_000_000 });
    }

    #[test]
    fn drift_runs_the_wall_clock_fast_exactly() {
        let clock = quiet_clock(5);
        clock.set_drift_ppm(100);
        let wall = clock.wall_nanos();
        for _ in 0..1000 {
            clock.advance(1_000);
        }
        // 1 ms at +100 ppm gains exactly 100 ns, with no rounding lost across small steps.
        assert_eq!(clock.wall_nanos() - wall, 1_000_100);
    }

    #[test]
    fn late_timers_fire_after_their_due_time_and_are_in_the_ledger() {
        let faults =
            FaultConfig { timer_late: 1.0, timer_late_nanos_max: 1_000, ..FaultConfig::none() };
        let clock = Sim::new(6, faults).clock();
        let due = clock.now() + 10;
        clock.schedule(due);
        let fired = clock.advance_to_next_timer().unwrap();
        assert!(fired.fired_at > due && fired.fired_at <= due + 1_000);
        assert!(clock.sim().ledger().iter().any(|r| r.kind == FaultKind::TimerLate));
    }

    #[test]
    fn seeded_steps_and_drift_never_move_monotonic_time_backwards() {
        let faults = FaultConfig {
            clock_step: 0.5,
            clock_step_nanos_max: 1_000_000_000,
            clock_drift_ppm_max: 500,
            ..FaultConfig::none()
        };
        let clock = Sim::new(7, faults).clock();
        let mut mono = clock.monotonic_nanos();
        let mut backward = false;
        let mut wall = clock.wall_nanos();
        for i in 0..200 {
            clock.advance(i * 1_000);
            assert!(clock.monotonic_nanos() >= mono);
            mono = clock.monotonic_nanos();
            backward |= clock.wall_nanos() < wall;
            wall = clock.wall_nanos();
        }
        assert!(backward, "with steps on, the wall clock went backward at least once");
    }
}
