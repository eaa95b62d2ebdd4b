//! The I/O seam: every byte, every clock reading and every random choice the library makes goes
//! through the traits in this module.
//!
//! Production uses [`RealDisk`], [`SystemClock`] and [`OsEntropy`]. The simulator (`sim/`)
//! implements the same traits with a seeded fault model, so the very same WAL code is driven
//! through millions of crash schedules. Nothing outside this module may touch `std::fs`, the
//! system clock, threads' sleep or an OS random source; `clippy.toml` enforces it.
//!
//! # Examples
//!
//! What [`Sink::open`](crate::Sink::open) does; a simulator passes its own implementations:
//!
//! ```
//! use std::sync::Arc;
//! use mtlog_audit::io::{OsEntropy, RealDisk, SystemClock};
//! use mtlog_audit::{Level, Options, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! let (disk, clock, entropy) = (Arc::new(RealDisk), Arc::new(SystemClock), Arc::new(OsEntropy));
//! let sink = Sink::open_with(Options::new(tmp.path()), disk, clock, entropy)?;
//! assert_eq!(sink.event(Level::Information, "Hello").emit()?.seq, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clock;
pub mod conformance;
mod disk;
mod entropy;
mod real;

pub use clock::{Clock, SystemClock};
pub use disk::{is_storage_full, read_exact_at, write_all_at, DirLock, Disk, DiskFile, OpenMode};
pub use entropy::{Entropy, OsEntropy};
pub use real::RealDisk;
