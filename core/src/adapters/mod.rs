//! Logger adapters: route events from `tracing`, `log` and `slog` into an audit
//! [`Sink`](crate::Sink), and the
//! [`audit!`](crate::audit) macro for Serilog-style templates.
//!
//! Selective routing, as in the seed design: only events marked for audit (a field `audit =
//! true`, or a target under a configured prefix) or at or above a level reach the sink; the rest
//! belong to the application's ordinary logging.
//!
//! Durability: by default an adapter calls `emit`, which **blocks until the event is
//! fdatasynced**. An asynchronous mode is opt-in, bounded, and blocks the caller when full:
//! nothing is ever dropped silently (unlike `tracing-appender`'s non-blocking writer, which drops
//! lines past its buffer). Adapters cannot return errors to their caller, so failures go to the
//! sink's failure handler and to [`AdapterStats::failures`], and panic if the sink was opened
//! with `panic_on_failure`. Events from this library's own targets (`mtlog_audit…`) are ignored,
//! so the sink can never recurse into itself.
//!
//! Each adapter is behind the cargo feature of its logger, `tracing`, `log` or `slog`, and its
//! module shows it in use. What they share needs no feature: a [`SharedSink`] (the sink, a
//! [`Routing`] rule and a [`Delivery`] mode) is also how to write an adapter of your own.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use mtlog_audit::adapters::{Delivery, Routing, SharedSink};
//! use mtlog_audit::{Level, Options, Reader, Sink};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let sink = Arc::new(Sink::open(Options::new(dir))?);
//! let shared = SharedSink::new(sink, Routing::default(), Delivery::Blocking);
//! // Routed: marked `audit = true`, or at `Error` and above; the rest is ordinary logging.
//! assert!(shared.routing().routes(Level::Information, "app", true));
//! assert!(!shared.routing().routes(Level::Information, "app", false));
//!
//! let event = shared.new_event(Level::Information, "User {Id} exported data");
//! shared.submit(event.with_property("Id", 42).render());
//! // Blocking delivery: durable before `submit` returned.
//! let stored = Reader::open(dir)?.replay(1..=1)?.next().unwrap()?;
//! assert_eq!(stored.event.message, "User 42 exported data");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "log")]
pub mod log;
mod route;
#[cfg(feature = "slog")]
pub mod slog;
#[cfg(feature = "tracing")]
pub mod tracing;

pub use route::{AdapterStats, Delivery, Routing, SharedSink};
