//! Scenarios and the swarm knobs a seed expands into.
//!
//! Every named scenario is a fixed set of [`Features`] (which fault families are on) whose
//! intensities are still drawn from the seed; `Swarm` draws the features too. The knobs of a run
//! are printed as one line (the VOPR banner), so a failure report says exactly what the run did.

use std::fmt;

use mtlog_audit::wal::format::{framed_len, SEAL_RECORD_LEN, SEGMENT_HEADER_LEN};
use mtlog_audit_sim::{FaultConfig, Rng};

/// The most event payload bytes one run submits, so big-record seeds stay fast.
pub const PAYLOAD_BYTES_MAX_PER_RUN: usize = 1 << 20;

/// A named scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scenario {
    /// Process crash (page cache survives) at a seed-chosen I/O, often mid-append.
    Kill9DuringWrite,
    /// Power loss: only synced data survives, plus kept, torn and reordered fragments.
    PowerLossSimulation,
    /// Bit flips and latent sector errors at rest, injected after a crash.
    RandomCorruption,
    /// The disk is nearly full: preparation fails with ENOSPC until space is freed.
    DiskFull99Percent,
    /// The wall clock steps backward (and forward) between events.
    ClockJumpBackward,
    /// Bit flips in durable records while the writer keeps appending.
    ConcurrentCorruption,
    /// Power loss with every kept write likely torn at sector granularity.
    TornWrite,
    /// fdatasync and write return EIO: fail-stop, then reopen.
    FsyncFailure,
    /// A write lands at the wrong offset or in the wrong segment.
    MisdirectedWrite,
    /// Crashes at seed-chosen I/Os inside recovery, k times, then a full recovery.
    CrashDuringRecovery,
    /// A seed-chosen mix of everything above.
    Swarm,
}

/// Every runnable scenario, in the order the summary lists them.
pub const SCENARIOS: [Scenario; 11] = [
    Scenario::Kill9DuringWrite,
    Scenario::PowerLossSimulation,
    Scenario::RandomCorruption,
    Scenario::DiskFull99Percent,
    Scenario::ClockJumpBackward,
    Scenario::ConcurrentCorruption,
    Scenario::TornWrite,
    Scenario::FsyncFailure,
    Scenario::MisdirectedWrite,
    Scenario::CrashDuringRecovery,
    Scenario::Swarm,
];

/// Scenarios of the seed design that need a tier this crate does not have yet. Listed in every
/// summary and report as unavailable, never as passing.
pub const UNAVAILABLE: [(&str, &str); 2] = [
    ("NetworkPartition", "not yet available (arrives with replication)"),
    ("ByzantineFailure", "not yet available (arrives with replication)"),
];

impl Scenario {
    /// The scenario's name, as the command line takes it.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Kill9DuringWrite => "Kill9DuringWrite",
            Scenario::PowerLossSimulation => "PowerLossSimulation",
            Scenario::RandomCorruption => "RandomCorruption",
            Scenario::DiskFull99Percent => "DiskFull99Percent",
            Scenario::ClockJumpBackward => "ClockJumpBackward",
            Scenario::ConcurrentCorruption => "ConcurrentCorruption",
            Scenario::TornWrite => "TornWrite",
            Scenario::FsyncFailure => "FsyncFailure",
            Scenario::MisdirectedWrite => "MisdirectedWrite",
            Scenario::CrashDuringRecovery => "CrashDuringRecovery",
            Scenario::Swarm => "Swarm",
        }
    }

    /// Parses a scenario name (case-insensitive).
    pub fn parse(name: &str) -> Option<Scenario> {
        SCENARIOS.iter().copied().find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// The feature set of a named scenario (`Swarm` draws its own).
    fn features(self) -> Features {
        let mut f = Features::default();
        match self {
            Scenario::Kill9DuringWrite => f.kill9 = true,
            Scenario::PowerLossSimulation => f.power_loss = true,
            Scenario::RandomCorruption => {
                f.at_rest = true;
                f.kill9 = true;
                f.power_loss = true;
            }
            Scenario::DiskFull99Percent => {
                f.disk_full = true;
                f.kill9 = true;
            }
            Scenario::ClockJumpBackward => {
                f.clock_jumps = true;
                f.kill9 = true;
            }
            Scenario::ConcurrentCorruption => {
                f.concurrent_corruption = true;
                f.power_loss = true;
            }
            Scenario::TornWrite => {
                f.torn = true;
                f.power_loss = true;
            }
            Scenario::FsyncFailure => {
                f.io_errors = true;
                f.power_loss = true;
            }
            Scenario::MisdirectedWrite => {
                f.misdirected = true;
                f.power_loss = true;
                f.kill9 = true;
            }
            Scenario::CrashDuringRecovery => {
                f.crash_in_recovery = true;
                f.kill9 = true;
                f.power_loss = true;
                f.torn = true;
            }
            Scenario::Swarm => {}
        }
        f.clean_close = true;
        f
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which fault families a run uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// Process crashes (kill -9), between steps or at an armed I/O.
    pub kill9: bool,
    /// Power losses, with the seeded keep/tear/reorder knobs.
    pub power_loss: bool,
    /// Power-loss fragments torn at sector granularity, often.
    pub torn: bool,
    /// Bit flips and latent sector errors at rest, after a crash.
    pub at_rest: bool,
    /// Bit flips in durable records while the writer runs.
    pub concurrent_corruption: bool,
    /// Seeded and targeted EIO on fdatasync, sync_dir and write.
    pub io_errors: bool,
    /// ENOSPC: a nearly full disk, freed later.
    pub disk_full: bool,
    /// Wall-clock steps (backward and forward), drift, late timers.
    pub clock_jumps: bool,
    /// Misdirected writes (D8).
    pub misdirected: bool,
    /// Crashes inside recovery (D13) and repeated recoveries (I10).
    pub crash_in_recovery: bool,
    /// Clean closes between cycles.
    pub clean_close: bool,
    /// Slow I/O, short reads and writes, uninitialised garbage: benign noise.
    pub noise: bool,
    /// Signed checkpoints on: the checkpointer runs under every fault the run injects.
    pub signing: bool,
}

impl Features {
    /// The names of the families that are on.
    pub fn names(&self) -> Vec<&'static str> {
        let all = [
            (self.kill9, "kill9"),
            (self.power_loss, "power_loss"),
            (self.torn, "torn"),
            (self.at_rest, "at_rest"),
            (self.concurrent_corruption, "concurrent_corruption"),
            (self.io_errors, "io_errors"),
            (self.disk_full, "disk_full"),
            (self.clock_jumps, "clock_jumps"),
            (self.misdirected, "misdirected"),
            (self.crash_in_recovery, "crash_in_recovery"),
            (self.clean_close, "clean_close"),
            (self.noise, "noise"),
            (self.signing, "signing"),
        ];
        all.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect()
    }

    /// The families named in a comma-separated list (as [`Features::names`] prints them).
    ///
    /// # Errors
    /// A message naming an unknown family.
    pub fn from_names(list: &str) -> Result<Features, String> {
        let mut f = Features::default();
        for name in list.split(',').filter(|n| !n.is_empty()) {
            let slot = match name {
                "kill9" => &mut f.kill9,
                "power_loss" => &mut f.power_loss,
                "torn" => &mut f.torn,
                "at_rest" => &mut f.at_rest,
                "concurrent_corruption" => &mut f.concurrent_corruption,
                "io_errors" => &mut f.io_errors,
                "disk_full" => &mut f.disk_full,
                "clock_jumps" => &mut f.clock_jumps,
                "misdirected" => &mut f.misdirected,
                "crash_in_recovery" => &mut f.crash_in_recovery,
                "clean_close" => &mut f.clean_close,
                "noise" => &mut f.noise,
                "signing" => &mut f.signing,
                other => return Err(format!("unknown fault family {other:?}")),
            };
            *slot = true;
        }
        Ok(f)
    }

    /// Whether any fault at all is on (clean closes, process restarts and signing are not
    /// faults).
    pub fn any_fault(&self) -> bool {
        let mut f = *self;
        f.clean_close = false;
        f.signing = false;
        f != Features::default()
    }
}

/// Everything a seed decides before the run starts.
#[derive(Clone, Debug)]
pub struct Knobs {
    /// The seed.
    pub seed: u64,
    /// The scenario asked for.
    pub scenario: Scenario,
    /// The fault families on.
    pub features: Features,
    /// The simulator's seeded fault rates. The at-rest and misdirected families are injected by
    /// the harness where the single-copy rule allows, never by these rates.
    pub faults: FaultConfig,
    /// Preallocated segment size (4 KiB to 1 MiB).
    pub segment_bytes: u64,
    /// The largest event body accepted (a quarter of the segment, at most 1 MiB).
    pub body_max: usize,
    /// Payload bytes per event, drawn in `payload_min..=payload_max`.
    pub payload_min: usize,
    /// See `payload_min`.
    pub payload_max: usize,
    /// Logical writers (emitting threads in production).
    pub writers: usize,
    /// Events the writers emit over the run, before the liveness phase.
    pub events: u32,
    /// The most events one group commit takes.
    pub batch_max: usize,
    /// The most events waiting; further writers block (back-pressure).
    pub queue_max: usize,
    /// Write phases, each ended by a crash, a clean close or a reopen.
    pub cycles: u32,
    /// Per scheduler step: probability that the group-commit leader runs (when events wait).
    pub commit_bias: f64,
    /// Per scheduler step: probability that the background preparer runs (when asked to).
    pub prepare_bias: f64,
    /// Longest think time between a writer's ack and its next event, simulated nanoseconds.
    pub think_nanos_max: u64,
    /// Whether this seed is fault-free (the swarm's big-state share).
    pub quiet: bool,
    /// With signing on: a checkpoint every this many durable events.
    pub checkpoint_every_events: u64,
    /// With signing on: a checkpoint whenever a batch seals a segment.
    pub checkpoint_on_seal: bool,
}

impl Knobs {
    /// Expands `seed` for `scenario`. Deterministic: the same pair gives the same knobs.
    pub fn draw(seed: u64, scenario: Scenario) -> Knobs {
        Knobs::draw_with(seed, scenario, &Overrides::default())
    }

    /// As [`Knobs::draw`], then `overrides` applied: how a shrunk run is described and
    /// replayed. Every other knob is drawn exactly as without them.
    pub fn draw_with(seed: u64, scenario: Scenario, overrides: &Overrides) -> Knobs {
        let mut rng = Rng::new(seed).fork("knobs");
        let (features, quiet) = match scenario {
            Scenario::Swarm => swarm_features(&mut rng),
            named => (named.features(), false),
        };
        let mut features = overrides.features.unwrap_or(features);
        // From a stream of its own, so the other knobs of every seed stay as they were drawn
        // before signing existed.
        let mut signing = Rng::new(seed).fork("signing");
        if scenario == Scenario::Swarm && overrides.features.is_none() {
            features.signing = signing.chance(SIGNING_SHARE);
        }
        if features.signing {
            // A log cut shorter than its acknowledged records (an excused at-rest or
            // misdirected loss) rightly refuses to open behind its own checkpoint: outside
            // what these runs can judge.
            features.at_rest = false;
            features.misdirected = false;
        }
        // Small enough that most batches of a run meet a checkpoint write, not so small that
        // signing (ed25519) dominates the run.
        let checkpoint_every_events = signing.log_uniform(128).max(4);
        let checkpoint_on_seal = signing.chance(0.5);
        // 4 KiB to 1 MiB, skewed small (the smaller of two log-uniform draws): rotations are
        // frequent, and big preallocated segments, whose zeros every recovery reads, are rarer.
        let pages = rng.log_uniform(256).min(rng.log_uniform(256));
        let segment_bytes = (pages * 4096).min(1 << 20);
        let body_max = (1usize << 20).min(segment_bytes as usize / 4);
        debug_assert!(
            SEGMENT_HEADER_LEN + framed_len(body_max) + SEAL_RECORD_LEN <= segment_bytes as usize
        );
        // Audit events are small (hundreds of bytes); 5 % of seeds use records up to half the
        // largest body, so the large-record paths run too.
        let payload_cap = if rng.chance(0.05) { body_max / 2 } else { (body_max / 2).min(1024) };
        let payload_max = (rng.log_uniform(payload_cap as u64) as usize).clamp(8, body_max / 2);
        let payload_min = rng.range_inclusive(0, payload_max as u64) as usize;
        let writers = rng.range_inclusive(1, 8) as usize;
        let mut events = rng.range_inclusive(50, 500) as u32;
        if quiet {
            // Fault-free seeds go for big state: longer logs, more rotations.
            events = rng.range_inclusive(200, 1500) as u32;
        }
        let events_by_bytes = (PAYLOAD_BYTES_MAX_PER_RUN / payload_max.max(1)) as u32;
        events = events.min(events_by_bytes.max(20));
        let batch_max = rng.log_uniform(64) as usize;
        let queue_max = rng.range_inclusive(1, writers as u64 + 2) as usize;
        let cycles = rng.range_inclusive(1, 3) as u32;
        let commit_bias = 0.1 + 0.8 * rng.unit();
        let prepare_bias = rng.unit();
        let think_nanos_max = rng.log_uniform(50_000_000);
        let faults = fault_config(&mut rng, &features, quiet);
        let writers = overrides.writers.unwrap_or(writers).max(1);
        let queue_max = queue_max.min(writers + 2);
        let events = overrides.events.unwrap_or(events);
        let cycles = overrides.cycles.unwrap_or(cycles).max(1);
        Knobs {
            seed,
            scenario,
            features,
            faults,
            segment_bytes,
            body_max,
            payload_min,
            payload_max,
            writers,
            events,
            batch_max,
            queue_max,
            cycles,
            commit_bias,
            prepare_bias,
            think_nanos_max,
            quiet,
            checkpoint_every_events,
            checkpoint_on_seal,
        }
    }
}

/// The share of Swarm seeds with signed checkpoints on.
const SIGNING_SHARE: f64 = 0.2;

/// The swarm: each family on with probability 1/2, and about 15 % of seeds fault-free.
fn swarm_features(rng: &mut Rng) -> (Features, bool) {
    if rng.chance(0.15) {
        return (Features { clean_close: true, ..Features::default() }, true);
    }
    let mut f = Features {
        kill9: rng.chance(0.6),
        power_loss: rng.chance(0.6),
        torn: rng.chance(0.4),
        at_rest: rng.chance(0.3),
        concurrent_corruption: rng.chance(0.2),
        io_errors: rng.chance(0.3),
        disk_full: rng.chance(0.25),
        clock_jumps: rng.chance(0.3),
        misdirected: rng.chance(0.2),
        crash_in_recovery: rng.chance(0.25),
        clean_close: rng.chance(0.7),
        noise: rng.chance(0.5),
        signing: false, // drawn from a stream of its own (`Knobs::draw_with`)
    };
    if f.torn {
        f.power_loss = true;
    }
    if !f.kill9 && !f.power_loss && !f.clean_close {
        f.kill9 = true;
    }
    (f, false)
}

/// The simulator's rates for a feature set. Detect-only and at-rest faults (bit flips, latent
/// errors, misdirected and lost writes) stay 0 here: the harness injects them itself, only where
/// the single-copy rule says the outcome is decidable (FAULT-MODEL.md, constraint rule).
fn fault_config(rng: &mut Rng, f: &Features, quiet: bool) -> FaultConfig {
    let mut c = FaultConfig::none();
    if quiet {
        return c;
    }
    if f.power_loss {
        c.power_loss_keep_write = rng.unit();
        c.power_loss_reorder = if rng.chance(0.5) { rng.unit() } else { 0.0 };
        c.power_loss_size_without_data = if rng.chance(0.6) { 0.5 + 0.5 * rng.unit() } else { 0.0 };
        c.power_loss_keep_dir_ops = if rng.chance(0.5) { rng.unit() } else { 0.0 };
    }
    if f.torn {
        c.power_loss_keep_write = 0.5 + 0.5 * rng.unit();
        c.power_loss_torn_write = 0.3 + 0.7 * rng.unit();
    }
    if f.io_errors {
        c.sync_error = log_rate(rng, 0.05);
        c.write_error = if rng.chance(0.5) { log_rate(rng, 0.02) } else { 0.0 };
    }
    if f.disk_full {
        c.storage_full = if rng.chance(0.5) { log_rate(rng, 0.05) } else { 0.0 };
    }
    if f.clock_jumps {
        c.clock_step = log_rate(rng, 0.3);
        c.clock_step_nanos_max = rng.log_uniform(3_600_000_000_000);
        c.clock_drift_ppm_max = if rng.chance(0.5) { rng.log_uniform(500) } else { 0 };
        c.timer_late = if rng.chance(0.5) { log_rate(rng, 0.3) } else { 0.0 };
        c.timer_late_nanos_max = rng.log_uniform(10_000_000_000);
    }
    if f.noise {
        c.short_read = if rng.chance(0.5) { log_rate(rng, 0.3) } else { 0.0 };
        c.short_write = if rng.chance(0.5) { log_rate(rng, 0.3) } else { 0.0 };
        if rng.chance(0.5) {
            c.slow_io = log_rate(rng, 0.2);
            c.slow_io_nanos_max = rng.log_uniform(5_000_000_000);
        }
        c.uninitialised_garbage = if rng.chance(0.3) { 1.0 } else { 0.0 };
    }
    c
}

/// A rate log-spread between `high / 1000` and `high`.
fn log_rate(rng: &mut Rng, high: f64) -> f64 {
    high * 10f64.powf(-3.0 * rng.unit())
}

/// Changes to the knobs a seed draws: the result of shrinking a failing run
/// ([`crate::shrink`]), replayable with `torture replay --seed S --set '...'`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// The fault families on, instead of the drawn ones.
    pub features: Option<Features>,
    /// Events the writers emit.
    pub events: Option<u32>,
    /// Write phases.
    pub cycles: Option<u32>,
    /// Logical writers.
    pub writers: Option<usize>,
}

impl Overrides {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }

    /// Parses the [`Display`](fmt::Display) form: `features=kill9,torn events=40 cycles=1
    /// writers=2`, any subset, space-separated (`features=` alone: every family off).
    ///
    /// # Errors
    /// A message naming the part that is not `name=value` with a known name and a valid value.
    pub fn parse(text: &str) -> Result<Overrides, String> {
        let mut o = Overrides::default();
        for part in text.split_whitespace() {
            let (name, value) =
                part.split_once('=').ok_or_else(|| format!("{part:?} is not name=value"))?;
            let number = |v: &str| v.parse::<u32>().map_err(|e| format!("{name}={v}: {e}"));
            match name {
                "features" => o.features = Some(Features::from_names(value)?),
                "events" => o.events = Some(number(value)?),
                "cycles" => o.cycles = Some(number(value)?),
                "writers" => o.writers = Some(number(value)? as usize),
                _ => {
                    return Err(format!(
                        "unknown knob {name:?} (features, events, cycles, writers)"
                    ))
                }
            }
        }
        Ok(o)
    }
}

impl fmt::Display for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(features) = &self.features {
            parts.push(format!("features={}", features.names().join(",")));
        }
        if let Some(n) = self.events {
            parts.push(format!("events={n}"));
        }
        if let Some(n) = self.cycles {
            parts.push(format!("cycles={n}"));
        }
        if let Some(n) = self.writers {
            parts.push(format!("writers={n}"));
        }
        f.write_str(&parts.join(" "))
    }
}

/// One line: every knob, as `name=value` (the VOPR banner).
impl fmt::Display for Knobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed={} scenario={} quiet={} features={} segment_bytes={} body_max={} \
             payload={}..={} writers={} events={} batch_max={} queue_max={} cycles={} \
             commit_bias={:.2} prepare_bias={:.2} think_nanos_max={} faults=[{}]",
            self.seed,
            self.scenario,
            self.quiet,
            self.features.names().join(","),
            self.segment_bytes,
            self.body_max,
            self.payload_min,
            self.payload_max,
            self.writers,
            self.events,
            self.batch_max,
            self.queue_max,
            self.cycles,
            self.commit_bias,
            self.prepare_bias,
            self.think_nanos_max,
            self.faults,
        )?;
        if self.features.signing {
            write!(
                f,
                " checkpoint_every_events={} checkpoint_on_seal={}",
                self.checkpoint_every_events, self.checkpoint_on_seal
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_are_a_pure_function_of_seed_and_scenario() {
        for seed in 0..50 {
            for s in SCENARIOS {
                let a = Knobs::draw(seed, s).to_string();
                assert_eq!(a, Knobs::draw(seed, s).to_string());
            }
        }
    }

    #[test]
    fn swarm_has_a_fault_free_share_between_10_and_20_percent() {
        let quiet = (0..2000).filter(|s| Knobs::draw(*s, Scenario::Swarm).quiet).count();
        assert!((200..=400).contains(&quiet), "{quiet} quiet seeds of 2000");
    }

    #[test]
    fn segment_sizes_span_4_kib_to_1_mib_and_fit_the_largest_record() {
        let sizes: Vec<u64> =
            (0..500).map(|s| Knobs::draw(s, Scenario::Swarm).segment_bytes).collect();
        assert!(sizes.iter().all(|s| (4096..=1 << 20).contains(s)));
        assert!(sizes.contains(&4096));
        assert!(sizes.iter().any(|s| *s >= 512 << 10));
    }

    #[test]
    fn overrides_round_trip_through_their_text_and_change_only_their_knobs() {
        let o = Overrides::parse("features=kill9,torn events=40 cycles=1 writers=2").unwrap();
        assert_eq!(Overrides::parse(&o.to_string()).unwrap(), o);
        let plain = Knobs::draw(77, Scenario::Swarm);
        let k = Knobs::draw_with(77, Scenario::Swarm, &o);
        assert_eq!((k.events, k.cycles, k.writers), (40, 1, 2));
        assert_eq!(k.features.names(), vec!["kill9", "torn"]);
        assert_eq!((k.segment_bytes, k.payload_max), (plain.segment_bytes, plain.payload_max));
        assert!(Overrides::parse("events=x").is_err());
        assert!(Overrides::parse("speed=3").is_err());
        assert!(Overrides::parse("features=kill9,warp").is_err());
        assert_eq!(Overrides::parse("features=").unwrap().features, Some(Features::default()));
    }
}
