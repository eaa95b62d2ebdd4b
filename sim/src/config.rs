//! `FaultConfig`: the seeded fault rates of one simulation run (the "swarm knobs").
//!
//! Every field defaults to 0 (off). With the default configuration the simulated disk is a
//! perfect but volatile disk: a power loss keeps exactly what was synced, nothing else fails.
//! Probabilities are per event named in the field's doc; the rest are sizes.

use std::fmt;

use crate::rng::Rng;

/// Fault probabilities and knobs for one run. All default to 0 (off).
///
/// The harness draws one per seed ([`FaultConfig::swarm`]), prints it ([`fmt::Display`] lists the
/// knobs that are on) and may change it mid-run with `Sim::set_faults` (for example, to heal all
/// faults for a liveness phase).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultConfig {
    // ---- D1-D4: what a power loss keeps beyond the synced state ----
    /// D1/D3: per unsynced write or `set_len` at a power loss, the probability that it persists
    /// (whole or torn) rather than vanishing. 0 = a power loss keeps exactly the synced state.
    pub power_loss_keep_write: f64,
    /// D2: per write kept at a power loss, the probability that it persists torn (a sector
    /// prefix, a sector subset, or a partial sector with garbage or zeros).
    pub power_loss_torn_write: f64,
    /// D3: per file at a power loss, the probability that the kept writes land in a shuffled
    /// order instead of program order.
    pub power_loss_reorder: f64,
    /// D3: per file at a power loss, the probability that the unsynced file size persists even
    /// where its data did not (the gap reads as zeros, or garbage under D14).
    pub power_loss_size_without_data: f64,
    /// D4: per directory at a power loss, the probability that a seed-chosen non-empty prefix of
    /// its unsynced creates, renames and removes persists (otherwise all of them revert).
    pub power_loss_keep_dir_ops: f64,

    // ---- D5: errors that lose data ----
    /// D5: per `sync_data`/`sync_all`/`sync_dir`, the probability of `EIO`. A failed file sync
    /// drops the writes since the last good sync from what will persist.
    pub sync_error: f64,
    /// D5: per `write_at`, the probability of `EIO` (a sector prefix of the buffer may land).
    pub write_error: f64,

    // ---- D6-D9: corruption ----
    /// D6: per crash, the probability of flipping 1-3 bits in one sector of one file.
    pub bit_flip_at_crash: f64,
    /// D7: per crash, the probability that one sector of one file starts failing reads (`EIO`),
    /// persistently.
    pub latent_sector_error_at_crash: f64,
    /// D8: per `write_at`, the probability that the data lands elsewhere (nearby in the same
    /// file, or in another file) when it reaches the device; the target keeps stale data.
    pub misdirected_write: f64,
    /// D9: per `write_at`, the probability that the write is acked (and even synced) but never
    /// reaches stable storage. Detect-only.
    pub lost_write: f64,

    // ---- D10-D12, D14 ----
    /// D10: total capacity across all files, in bytes (rounded down to 4 KiB pages).
    /// `None` = unlimited.
    pub capacity_bytes: Option<u64>,
    /// D10: per growing `write_at`/`set_len`, the probability of a transient `ENOSPC` (a quota
    /// blip) regardless of the capacity.
    pub storage_full: f64,
    /// D11: per `read_at`, the probability of returning fewer bytes than possible (at least 1).
    pub short_read: f64,
    /// D11: per `write_at`, the probability of writing fewer bytes than asked (at least 1).
    pub short_write: f64,
    /// D12: per disk operation, the probability that it stalls, advancing the simulated clock.
    pub slow_io: f64,
    /// D12: the longest stall, in nanoseconds (stalls are log-uniform in `1..=max`).
    pub slow_io_nanos_max: u64,
    /// D14: per created file, the probability that its never-written space reads as
    /// deterministic garbage instead of zeros.
    pub uninitialised_garbage: f64,

    // ---- C1-C3: clocks ----
    /// C1: per `SimClock::advance`, the probability of a wall-clock step (forward or backward).
    pub clock_step: f64,
    /// C1: the largest wall-clock step, in nanoseconds, either direction.
    pub clock_step_nanos_max: u64,
    /// C2: the largest wall-clock rate error in parts per million; the run's drift is drawn from
    /// `-max..=max` when the simulation starts. Must be below 1,000,000.
    pub clock_drift_ppm_max: u64,
    /// C3: per fired timer, the probability that it fires late.
    pub timer_late: f64,
    /// C3: the largest timer lateness, in nanoseconds (log-uniform).
    pub timer_late_nanos_max: u64,
}

impl FaultConfig {
    /// No faults at all (the same as `Default`).
    pub fn none() -> FaultConfig {
        FaultConfig::default()
    }

    /// This configuration without the faults that make an operation fail (sync and write
    /// errors, ENOSPC, a capacity limit), keeping what a crash does with pending writes: for
    /// comparing two recoveries that may differ only by the crashes injected into them.
    pub fn without_operation_errors(&self) -> FaultConfig {
        FaultConfig {
            sync_error: 0.0,
            write_error: 0.0,
            storage_full: 0.0,
            capacity_bytes: None,
            ..self.clone()
        }
    }

    /// Whether every fault is off.
    pub fn is_quiet(&self) -> bool {
        *self == FaultConfig::default()
    }

    /// Draws a swarm configuration: each fault is on or off by the seed, with a seed-chosen
    /// intensity, and about 15 % of seeds get no fault at all (so that "big-state" behaviours,
    /// such as rotation and long logs, are reached; see FAULT-MODEL.md, swarm rule).
    ///
    /// It switches on every fault, including the detect-only ones (D6-D9): the fault ledger tells
    /// the checker which outcome each requires. Zero a field afterwards to exclude a fault.
    pub fn swarm(rng: &mut Rng) -> FaultConfig {
        if rng.chance(0.15) {
            return FaultConfig::none();
        }
        // Each knob is on with probability 1/2; its rate is log-spread between 1e-4 and 1e-1 so
        // that both "rare" and "storm" regimes are reached.
        let rate = |rng: &mut Rng, high: f64| -> f64 {
            if rng.chance(0.5) {
                let exponent = -4.0 + rng.unit() * 3.0;
                (10f64.powf(exponent) * high * 10.0).min(high)
            } else {
                0.0
            }
        };
        let mut config = FaultConfig {
            power_loss_keep_write: if rng.chance(0.7) { rng.unit() } else { 0.0 },
            power_loss_torn_write: if rng.chance(0.5) { rng.unit() } else { 0.0 },
            power_loss_reorder: if rng.chance(0.5) { rng.unit() } else { 0.0 },
            power_loss_size_without_data: if rng.chance(0.3) { rng.unit() } else { 0.0 },
            power_loss_keep_dir_ops: if rng.chance(0.5) { rng.unit() } else { 0.0 },
            sync_error: rate(rng, 0.05),
            write_error: rate(rng, 0.05),
            bit_flip_at_crash: rate(rng, 0.5),
            latent_sector_error_at_crash: rate(rng, 0.5),
            misdirected_write: rate(rng, 0.01),
            lost_write: rate(rng, 0.01),
            capacity_bytes: None,
            storage_full: rate(rng, 0.05),
            short_read: rate(rng, 0.3),
            short_write: rate(rng, 0.3),
            slow_io: rate(rng, 0.2),
            slow_io_nanos_max: 0,
            uninitialised_garbage: if rng.chance(0.3) { 1.0 } else { 0.0 },
            clock_step: rate(rng, 0.1),
            clock_step_nanos_max: 0,
            clock_drift_ppm_max: if rng.chance(0.5) { rng.log_uniform(500) } else { 0 },
            timer_late: rate(rng, 0.3),
            timer_late_nanos_max: 0,
        };
        if config.slow_io > 0.0 {
            config.slow_io_nanos_max = rng.log_uniform(5_000_000_000);
        }
        if config.clock_step > 0.0 {
            config.clock_step_nanos_max = rng.log_uniform(3_600_000_000_000);
        }
        if config.timer_late > 0.0 {
            config.timer_late_nanos_max = rng.log_uniform(10_000_000_000);
        }
        if rng.chance(0.2) {
            // A small disk: from a few pages to a few MiB.
            config.capacity_bytes = Some(rng.log_uniform(4 << 20).max(4096));
        }
        config
    }
}

/// Lists the knobs that are on, `name=value` separated by spaces, or `quiet`.
impl fmt::Display for FaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rates: [(&str, f64); 18] = [
            ("power_loss_keep_write", self.power_loss_keep_write),
            ("power_loss_torn_write", self.power_loss_torn_write),
            ("power_loss_reorder", self.power_loss_reorder),
            ("power_loss_size_without_data", self.power_loss_size_without_data),
            ("power_loss_keep_dir_ops", self.power_loss_keep_dir_ops),
            ("sync_error", self.sync_error),
            ("write_error", self.write_error),
            ("bit_flip_at_crash", self.bit_flip_at_crash),
            ("latent_sector_error_at_crash", self.latent_sector_error_at_crash),
            ("misdirected_write", self.misdirected_write),
            ("lost_write", self.lost_write),
            ("storage_full", self.storage_full),
            ("short_read", self.short_read),
            ("short_write", self.short_write),
            ("slow_io", self.slow_io),
            ("uninitialised_garbage", self.uninitialised_garbage),
            ("clock_step", self.clock_step),
            ("timer_late", self.timer_late),
        ];
        let sizes: [(&str, u64); 5] = [
            ("capacity_bytes", self.capacity_bytes.unwrap_or(0)),
            ("slow_io_nanos_max", self.slow_io_nanos_max),
            ("clock_step_nanos_max", self.clock_step_nanos_max),
            ("clock_drift_ppm_max", self.clock_drift_ppm_max),
            ("timer_late_nanos_max", self.timer_late_nanos_max),
        ];
        let mut any = false;
        for (name, value) in rates {
            if value > 0.0 {
                write!(f, "{}{name}={value:.4}", if any { " " } else { "" })?;
                any = true;
            }
        }
        for (name, value) in sizes {
            if value > 0 {
                write!(f, "{}{name}={value}", if any { " " } else { "" })?;
                any = true;
            }
        }
        if !any {
            f.write_str("quiet")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_quiet_and_prints_quiet() {
        assert!(FaultConfig::default().is_quiet());
        assert_eq!(FaultConfig::default().to_string(), "quiet");
    }

    #[test]
    fn swarm_is_deterministic_and_sometimes_quiet() {
        let mut quiet = 0;
        for seed in 0..400 {
            let a = FaultConfig::swarm(&mut Rng::new(seed));
            let b = FaultConfig::swarm(&mut Rng::new(seed));
            assert_eq!(a, b);
            assert!(a.clock_drift_ppm_max < 1_000_000);
            if a.is_quiet() {
                quiet += 1;
            }
        }
        assert!((20..=120).contains(&quiet), "{quiet} quiet seeds of 400");
    }
}
