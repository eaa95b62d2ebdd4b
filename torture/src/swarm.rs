//! Swarm analysis (FAULT-MODEL.md, report item 7): failure rate against each knob, binned, so
//! "fails only when segments are small and torn writes are on" is visible at a glance.
//!
//! Every run's knobs are a pure function of its seed, so the batch bins them as it counts
//! outcomes; nothing is kept per run.

use crate::knobs::Knobs;

/// One knob: its name, its bins' labels, and which bin a run's knobs fall in.
pub struct Knob {
    /// The knob's name, as the knobs banner prints it.
    pub name: &'static str,
    /// The bins' labels.
    pub bins: &'static [&'static str],
    /// The bin of a run.
    pub bin: fn(&Knobs) -> usize,
}

const OFF_ON: &[&str] = &["off", "on"];

macro_rules! family {
    ($field:ident) => {
        Knob { name: stringify!($field), bins: OFF_ON, bin: |k| usize::from(k.features.$field) }
    };
}

/// The first bin whose upper bound (exclusive) exceeds `x`, or the last bin.
fn bin_below(x: u64, bounds: &[u64]) -> usize {
    bounds.iter().position(|b| x < *b).unwrap_or(bounds.len())
}

/// The knobs analysed, in the report's order.
pub const KNOBS: &[Knob] = &[
    Knob {
        name: "segment_bytes",
        bins: &["4-15 KiB", "16-63 KiB", "64-255 KiB", "256 KiB-1 MiB"],
        bin: |k| bin_below(k.segment_bytes, &[16 << 10, 64 << 10, 256 << 10]),
    },
    Knob {
        name: "payload_max",
        bins: &["< 64 B", "64-255 B", "256 B-1 KiB", "> 1 KiB"],
        bin: |k| bin_below(k.payload_max as u64, &[64, 256, 1025]),
    },
    Knob {
        name: "events",
        bins: &["< 100", "100-299", "300-599", ">= 600"],
        bin: |k| bin_below(u64::from(k.events), &[100, 300, 600]),
    },
    Knob {
        name: "writers",
        bins: &["1", "2-3", "4-5", "6-8"],
        bin: |k| bin_below(k.writers as u64, &[2, 4, 6]),
    },
    Knob {
        name: "batch_max",
        bins: &["1", "2-7", "8-31", ">= 32"],
        bin: |k| bin_below(k.batch_max as u64, &[2, 8, 32]),
    },
    Knob {
        name: "queue_max",
        bins: &["1", "2-3", ">= 4"],
        bin: |k| bin_below(k.queue_max as u64, &[2, 4]),
    },
    Knob {
        name: "cycles",
        bins: &["1", "2", "3"],
        bin: |k| bin_below(u64::from(k.cycles), &[2, 3]),
    },
    Knob {
        name: "commit_bias",
        bins: &["< 0.3", "0.3-0.6", ">= 0.6"],
        bin: |k| bin_below((k.commit_bias * 10.0) as u64, &[3, 6]),
    },
    Knob {
        name: "prepare_bias",
        bins: &["< 0.3", "0.3-0.6", ">= 0.6"],
        bin: |k| bin_below((k.prepare_bias * 10.0) as u64, &[3, 6]),
    },
    Knob { name: "quiet (fault-free)", bins: &["no", "yes"], bin: |k| usize::from(k.quiet) },
    family!(kill9),
    family!(power_loss),
    family!(torn),
    family!(at_rest),
    family!(concurrent_corruption),
    family!(io_errors),
    family!(disk_full),
    family!(clock_jumps),
    family!(misdirected),
    family!(crash_in_recovery),
    family!(clean_close),
    family!(noise),
];

/// Runs and failures per (knob, bin), flattened in [`KNOBS`] order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwarmTally {
    /// (runs, failures) per cell.
    pub cells: Vec<(u64, u64)>,
}

impl Default for SwarmTally {
    fn default() -> Self {
        SwarmTally { cells: vec![(0, 0); KNOBS.iter().map(|k| k.bins.len()).sum()] }
    }
}

impl SwarmTally {
    /// Counts one run.
    pub fn add(&mut self, knobs: &Knobs, failed: bool) {
        let mut base = 0;
        for k in KNOBS {
            let bin = (k.bin)(knobs).min(k.bins.len() - 1);
            let cell = &mut self.cells[base + bin];
            cell.0 += 1;
            cell.1 += u64::from(failed);
            base += k.bins.len();
        }
    }

    /// Adds another tally.
    pub fn merge(&mut self, other: &SwarmTally) {
        for (a, b) in self.cells.iter_mut().zip(&other.cells) {
            a.0 += b.0;
            a.1 += b.1;
        }
    }

    /// (knob, bin, runs, failures) for every cell, in order.
    pub fn rows(&self) -> Vec<(&'static str, &'static str, u64, u64)> {
        let mut out = Vec::with_capacity(self.cells.len());
        let mut cells = self.cells.iter();
        for k in KNOBS {
            for bin in k.bins {
                let (runs, failures) = cells.next().copied().unwrap_or_default();
                out.push((k.name, *bin, runs, failures));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knobs::Scenario;

    #[test]
    fn every_run_lands_in_exactly_one_bin_of_every_knob() {
        let mut t = SwarmTally::default();
        for seed in 0..500 {
            t.add(&Knobs::draw(seed, Scenario::Swarm), seed % 10 == 0);
        }
        let rows = t.rows();
        for k in KNOBS {
            let (runs, failures) = rows
                .iter()
                .filter(|r| r.0 == k.name)
                .fold((0, 0), |acc, r| (acc.0 + r.2, acc.1 + r.3));
            assert_eq!((runs, failures), (500, 50), "{}", k.name);
        }
        // Each bin of the sizes is reached by the swarm (the knob space is covered).
        for name in ["segment_bytes", "events", "writers", "cycles", "torn"] {
            assert!(
                rows.iter().filter(|r| r.0 == name).all(|r| r.2 > 0),
                "{name}: {:?}",
                rows.iter().filter(|r| r.0 == name).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_failure_tied_to_one_family_shows_in_its_on_bin_only() {
        let mut t = SwarmTally::default();
        for seed in 0..400 {
            let k = Knobs::draw(seed, Scenario::Swarm);
            t.add(&k, k.features.torn);
        }
        let torn: Vec<_> = t.rows().into_iter().filter(|r| r.0 == "torn").collect();
        assert_eq!(torn[0].3, 0, "off bin: {torn:?}");
        assert_eq!(torn[1].2, torn[1].3, "every torn run failed: {torn:?}");
    }
}
