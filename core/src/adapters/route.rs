//! What every adapter shares: the routing rule, delivery (blocking or bounded asynchronous), and
//! counters.

#![allow(clippy::disallowed_methods)] // The async delivery mode spawns its worker thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::event::{Event, Level, Value};
use crate::io::{Clock, Disk, Entropy};
use crate::sink::Sink;

/// Which events go to the audit sink.
///
/// # Examples
///
/// ```
/// use mtlog_audit::adapters::Routing;
/// use mtlog_audit::{Level, Value};
///
/// let routing = Routing { target_prefixes: vec!["payments".into()], ..Routing::default() };
/// assert!(routing.routes(Level::Information, "app", true)); // marked `audit = true`
/// assert!(routing.routes(Level::Error, "app", false)); // at or above `Error`
/// assert!(routing.routes(Level::Debug, "payments::card", false)); // by target
/// assert!(!routing.routes(Level::Information, "app", false)); // ordinary logging
/// assert!(!routing.routes(Level::Fatal, "mtlog_audit::sink", true)); // never its own
/// assert!(routing.is_mark("audit", &Value::Bool(true)));
/// assert!(!routing.is_mark("audit", &Value::from("yes")));
/// assert!(Routing::everything().routes(Level::Verbose, "app", false));
/// ```
#[derive(Clone, Debug)]
pub struct Routing {
    /// Events at or above this level always go (`None`: level alone routes nothing).
    pub level_min: Option<Level>,
    /// Events carrying a field of this name set to `true` go (default `audit`).
    pub audit_field: Option<String>,
    /// Events whose target starts with one of these go.
    pub target_prefixes: Vec<String>,
}

impl Default for Routing {
    /// Marked events (`audit = true`) and everything at `Error` or above.
    fn default() -> Routing {
        Routing {
            level_min: Some(Level::Error),
            audit_field: Some("audit".into()),
            target_prefixes: Vec::new(),
        }
    }
}

impl Routing {
    /// Every event (still excluding the library's own). See [`Routing`] for an example.
    pub fn everything() -> Routing {
        Routing { level_min: Some(Level::Verbose), audit_field: None, target_prefixes: Vec::new() }
    }

    /// Whether an event with this level, target and audit mark goes to the sink. See
    /// [`Routing`] for an example.
    pub fn routes(&self, level: Level, target: &str, marked: bool) -> bool {
        if target.starts_with("mtlog_audit") {
            return false; // never feed the sink its own diagnostics
        }
        marked
            || self.level_min.is_some_and(|min| level >= min)
            || self.target_prefixes.iter().any(|p| target.starts_with(p.as_str()))
    }

    /// Whether a property is the audit mark, set to true. See [`Routing`] for an example.
    pub fn is_mark(&self, name: &str, value: &Value) -> bool {
        self.audit_field.as_deref() == Some(name) && matches!(value, Value::Bool(true))
    }
}

/// How an adapter hands events to the sink. See [`SharedSink`] for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Call `emit` on the logging thread and wait until the event is durable (default).
    Blocking,
    /// Queue up to this many events for a worker thread; the logging thread blocks when the
    /// queue is full. Nothing is dropped.
    Async {
        /// The queue bound.
        queue: usize,
    },
}

/// Adapter counters. See [`SharedSink`] for an example.
#[derive(Debug, Default)]
pub struct AdapterStats {
    /// Events routed to the sink and made durable.
    pub delivered: AtomicU64,
    /// Events routed to the sink whose emit failed (reported to the failure handler).
    pub failures: AtomicU64,
    /// Events not routed (ordinary logging).
    pub skipped: AtomicU64,
}

/// A sink shared by adapters, with the delivery mode and counters.
///
/// Every adapter is built from one (`AuditLayer::new`, `AuditLogger::new`,
/// `AuditDrain::new`); several adapters may share it. It is also all an adapter for another
/// logger needs:
///
/// ```
/// use std::sync::atomic::Ordering;
/// use std::sync::Arc;
/// use mtlog_audit::adapters::{Delivery, Routing, SharedSink};
/// use mtlog_audit::{Level, Options, Reader, Sink};
///
/// # let tmp = tempfile::tempdir()?;
/// # let dir = tmp.path();
/// let sink = Arc::new(Sink::open(Options::new(dir))?);
/// let shared = SharedSink::new(sink, Routing::default(), Delivery::Async { queue: 64 });
///
/// // What an adapter does with each record of its logger:
/// for level in [Level::Information, Level::Error] {
///     let (target, marked) = ("app", false); // the record's target and `audit` field
///     if !shared.routing().routes(level, target, marked) {
///         shared.skip(); // ordinary logging, not audited
///         continue;
///     }
///     let event = shared.new_event(level, "Request failed").render();
///     shared.submit(event); // queued; blocks only when 64 events wait
/// }
/// shared.shutdown(); // waits until every queued event is durable
///
/// assert_eq!(shared.stats().delivered.load(Ordering::Relaxed), 1);
/// assert_eq!(shared.stats().skipped.load(Ordering::Relaxed), 1);
/// assert_eq!(shared.stats().failures.load(Ordering::Relaxed), 0);
/// assert_eq!(shared.sink().stats().seq_durable, 1);
/// assert_eq!(Reader::open(dir)?.seq_last(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SharedSink<D: Disk, C: Clock, E: Entropy> {
    sink: Arc<Sink<D, C, E>>,
    routing: Routing,
    stats: Arc<AdapterStats>,
    queue: Option<Mutex<SyncSender<Event>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl<D: Disk, C: Clock, E: Entropy> SharedSink<D, C, E> {
    /// Wraps `sink` with a routing rule and a delivery mode. With [`Delivery::Async`] this
    /// starts the worker thread (if the thread cannot be spawned, events are delivered on the
    /// logging thread instead). See [`SharedSink`] for an example.
    pub fn new(sink: Arc<Sink<D, C, E>>, routing: Routing, delivery: Delivery) -> Arc<Self> {
        let stats = Arc::new(AdapterStats::default());
        let (queue, worker) = match delivery {
            Delivery::Blocking => (None, None),
            Delivery::Async { queue } => {
                let (tx, rx) = sync_channel::<Event>(queue.max(1));
                let (sink, stats) = (sink.clone(), stats.clone());
                let worker = std::thread::Builder::new()
                    .name("mtlog-audit-adapter".into())
                    .spawn(move || {
                        for event in rx {
                            deliver(&sink, &stats, &event);
                        }
                    })
                    .ok();
                (Some(Mutex::new(tx)), worker)
            }
        };
        Arc::new(SharedSink { sink, routing, stats, queue, worker: Mutex::new(worker) })
    }

    /// The routing rule. See [`SharedSink`] for an example.
    pub fn routing(&self) -> &Routing {
        &self.routing
    }

    /// The sink. See [`SharedSink`] for an example.
    pub fn sink(&self) -> &Sink<D, C, E> {
        &self.sink
    }

    /// The counters. See [`SharedSink`] for an example.
    pub fn stats(&self) -> &AdapterStats {
        &self.stats
    }

    /// A new event stamped by the sink's clock and entropy. See [`SharedSink`] for an example.
    pub fn new_event(&self, level: Level, template: &str) -> Event {
        self.sink.new_event(level, template)
    }

    /// Delivers a routed event (blocking until durable, or queued in async mode). A failed
    /// `emit` goes to the sink's failure handler and [`AdapterStats::failures`]; with
    /// `panic_on_failure` it panics (on the worker thread in async mode). See [`SharedSink`]
    /// for an example.
    pub fn submit(&self, event: Event) {
        match &self.queue {
            None => deliver(&self.sink, &self.stats, &event),
            Some(tx) => {
                let tx = tx.lock().unwrap_or_else(|p| p.into_inner()).clone();
                // `send` blocks while the queue is full: back-pressure, never a drop.
                if let Err(returned) = tx.send(event) {
                    deliver(&self.sink, &self.stats, &returned.0);
                }
            }
        }
    }

    /// Counts an event that was not routed. See [`SharedSink`] for an example.
    pub fn skip(&self) {
        self.stats.skipped.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits until every queued event was delivered (async mode), then stops the worker.
    /// Events submitted afterwards are delivered on the calling thread. See [`SharedSink`]
    /// for an example.
    pub fn shutdown(&self) {
        if let Some(tx) = &self.queue {
            // Replace the sender with a closed one so the worker's loop ends.
            let (closed, _) = sync_channel(0);
            drop(std::mem::replace(&mut *tx.lock().unwrap_or_else(|p| p.into_inner()), closed));
        }
        if let Some(w) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = w.join();
        }
    }
}

fn deliver<D: Disk, C: Clock, E: Entropy>(
    sink: &Sink<D, C, E>,
    stats: &AdapterStats,
    event: &Event,
) {
    // `emit` already calls the failure handler (and panics when so configured).
    match sink.emit(event) {
        Ok(_) => stats.delivered.fetch_add(1, Ordering::Relaxed),
        Err(_) => stats.failures.fetch_add(1, Ordering::Relaxed),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_takes_marked_events_levels_and_prefixes_and_never_its_own() {
        let r = Routing { target_prefixes: vec!["payments".into()], ..Routing::default() };
        assert!(r.routes(Level::Information, "app", true));
        assert!(r.routes(Level::Error, "app", false));
        assert!(!r.routes(Level::Warning, "app", false));
        assert!(r.routes(Level::Debug, "payments::card", false));
        assert!(!r.routes(Level::Fatal, "mtlog_audit::sink", true));
        assert!(r.is_mark("audit", &Value::Bool(true)));
        assert!(!r.is_mark("audit", &Value::Bool(false)));
    }
}
