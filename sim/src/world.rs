//! `World`: the whole state of one simulated machine behind one mutex, and `Sim`, its handle.
//!
//! Disk, clock, entropy, trace and ledger live together so that one lock orders every event
//! (the trace interleaves disk operations with clock steps exactly as they happened) and a slow
//! disk operation can advance the clock without a second lock. Use is single-threaded, so the
//! lock is never contended; it exists because the `Disk`, `Clock` and `Entropy` traits take
//! `&self` and must be `Sync`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock::{ClockState, SimClock};
use crate::config::FaultConfig;
use crate::disk::{DiskState, SimDisk};
use crate::entropy::SimEntropy;
use crate::ledger::{FaultKind, FaultRecord};
use crate::rng::Rng;
use crate::trace::{Op, Trace, TraceEvent};

/// Everything one simulated machine holds.
#[derive(Clone)]
pub(crate) struct World {
    pub(crate) seed: u64,
    pub(crate) faults: FaultConfig,
    pub(crate) disk: DiskState,
    pub(crate) clock: ClockState,
    pub(crate) entropy: Rng,
    pub(crate) trace: Trace,
    pub(crate) ledger: Vec<FaultRecord>,
}

pub(crate) type Shared = Arc<Mutex<World>>;

/// Locks the world. Single-threaded use means the lock is never contended; a poisoned lock
/// means an assertion inside the simulator already failed, and the run is void.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, World> {
    match shared.lock() {
        Ok(guard) => guard,
        Err(_) => panic!("the simulator's state was poisoned by an earlier panic"),
    }
}

impl World {
    /// Adds `event` to the trace, stamped with the current monotonic time.
    pub(crate) fn record(&mut self, event: &TraceEvent<'_>) {
        self.trace.record(event, self.clock.mono);
    }

    /// Adds a fault to the ledger (and the trace); returns its ledger index.
    pub(crate) fn log_fault(
        &mut self,
        kind: FaultKind,
        path: PathBuf,
        offset: u64,
        len: u64,
        durable: bool,
    ) -> usize {
        let mut event = TraceEvent::new(Op::Fault);
        event.data = kind.code();
        event.offset = offset;
        event.len = len;
        event.result = i64::from(durable);
        event.path = Some(&path);
        self.trace.record(&event, self.clock.mono);
        self.ledger.push(FaultRecord {
            kind,
            path,
            offset,
            len,
            durable,
            epoch: self.disk.epoch,
            op_index: self.disk.stats.mutating_ops,
        });
        self.ledger.len() - 1
    }
}

/// One simulated machine: a disk, a clock and an entropy source driven by one seed, with one
/// trace and one fault ledger.
///
/// `Sim` and every handle it gives out are cheap to clone and share the same state.
///
/// # Example
/// ```
/// use mtlog_audit::io::{write_all_at, Disk, DiskFile, OpenMode};
/// use mtlog_audit_sim::{CrashKind, FaultConfig, Sim};
/// use std::path::Path;
///
/// let sim = Sim::new(42, FaultConfig::default());
/// let disk = sim.disk();
/// disk.create_dir_all(Path::new("/log")).unwrap();
/// disk.sync_dir(Path::new("/")).unwrap(); // makes "/log" itself durable
/// let file = disk.open(Path::new("/log/a"), OpenMode::CreateNew).unwrap();
/// write_all_at(&file, b"hello", 0).unwrap();
/// file.sync_data().unwrap();
/// disk.sync_dir(Path::new("/log")).unwrap();
/// disk.crash(CrashKind::PowerLoss);
/// assert_eq!(disk.durable_contents(Path::new("/log/a")).unwrap(), b"hello");
/// println!("trace {:016x}", sim.trace_hash());
/// ```
#[derive(Clone)]
pub struct Sim {
    shared: Shared,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let world = lock(&self.shared);
        f.debug_struct("Sim")
            .field("seed", &world.seed)
            .field("faults", &format_args!("{}", world.faults))
            .field("trace", &world.trace)
            .finish()
    }
}

impl Sim {
    /// A fresh machine: empty disk (only the roots `/` and `` exist), a clock at a seed-chosen
    /// origin, and the given fault rates.
    ///
    /// # Panics
    /// If `faults.clock_drift_ppm_max >= 1_000_000`.
    pub fn new(seed: u64, faults: FaultConfig) -> Sim {
        let rng = Rng::new(seed);
        let mut world = World {
            seed,
            disk: DiskState::new(&rng),
            clock: ClockState::new(&rng),
            entropy: rng.fork("entropy"),
            trace: Trace::new(),
            ledger: Vec::new(),
            faults,
        };
        world.set_capacity_from_faults();
        world.draw_clock_drift();
        Sim { shared: Arc::new(Mutex::new(world)) }
    }

    pub(crate) fn from_shared(shared: Shared) -> Sim {
        Sim { shared }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        lock(&self.shared).seed
    }

    /// The simulated disk.
    pub fn disk(&self) -> SimDisk {
        SimDisk::new(self.shared.clone())
    }

    /// The simulated clock.
    pub fn clock(&self) -> SimClock {
        SimClock::new(self.shared.clone())
    }

    /// The simulated entropy source.
    pub fn entropy(&self) -> SimEntropy {
        SimEntropy::new(self.shared.clone())
    }

    /// The current fault rates.
    pub fn faults(&self) -> FaultConfig {
        lock(&self.shared).faults.clone()
    }

    /// Replaces the fault rates from now on (for example `FaultConfig::none()` to heal every
    /// fault before a liveness phase). `capacity_bytes` takes effect at once; the clock drift is
    /// drawn only at creation (use `SimClock::set_drift_ppm`).
    pub fn set_faults(&self, faults: FaultConfig) {
        let mut world = lock(&self.shared);
        world.faults = faults;
        world.set_capacity_from_faults();
    }

    /// The hash of every event so far (I15: same seed, code and options give the same hash).
    pub fn trace_hash(&self) -> u64 {
        lock(&self.shared).trace.hash()
    }

    /// How many events the trace holds.
    pub fn trace_events(&self) -> u64 {
        lock(&self.shared).trace.events()
    }

    /// Starts keeping the last `lines_max` events as text lines (for `torture replay`).
    pub fn enable_trace_log(&self, lines_max: usize) {
        lock(&self.shared).trace.enable_log(lines_max);
    }

    /// The retained text lines of the trace, oldest first, and how many older ones were dropped.
    pub fn trace_log(&self) -> (Vec<String>, u64) {
        let world = lock(&self.shared);
        (world.trace.lines(), world.trace.dropped_lines())
    }

    /// Adds a harness event (an append, an ack, a checker step) to the trace.
    pub fn note(&self, text: &str) {
        let mut world = lock(&self.shared);
        let mut event = TraceEvent::new(Op::Note);
        event.text = Some(text);
        world.record(&event);
    }

    /// Every fault injected so far, in order.
    pub fn ledger(&self) -> Vec<FaultRecord> {
        lock(&self.shared).ledger.clone()
    }

    /// How many faults the ledger holds (cheap: no copy).
    pub fn ledger_len(&self) -> usize {
        lock(&self.shared).ledger.len()
    }

    /// The faults injected since the ledger held `from` entries, in order.
    pub fn ledger_since(&self, from: usize) -> Vec<FaultRecord> {
        let world = lock(&self.shared);
        world.ledger.get(from..).map_or_else(Vec::new, <[FaultRecord]>::to_vec)
    }

    /// A deep copy of the whole machine (disk, clock, generators, trace and ledger) that evolves
    /// independently from here on: what-if runs, such as the uninterrupted recovery that a
    /// recovery interrupted by crashes must match (I10). Handles from this machine do not work
    /// on the copy; take them from the copy.
    pub fn snapshot(&self) -> Sim {
        let world = lock(&self.shared).clone();
        Sim { shared: Arc::new(Mutex::new(world)) }
    }
}

impl World {
    fn set_capacity_from_faults(&mut self) {
        self.disk.capacity_pages =
            self.faults.capacity_bytes.map(|bytes| bytes / crate::disk::PAGE_BYTES);
    }
}
