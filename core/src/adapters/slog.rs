//! `slog::Drain` for an audit sink (cargo feature `slog`):
//! `info!(log, "Paid {}", id; "audit" => true, "UserId" => 42)`.
//!
//! The logger's and the record's key-values become properties; the rendered message is also
//! the template.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use mtlog_audit::adapters::slog::AuditDrain;
//! use mtlog_audit::adapters::{Delivery, Routing, SharedSink};
//! use mtlog_audit::{Options, Reader, Sink, Value};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let sink = Arc::new(Sink::open(Options::new(dir))?);
//! let audit = SharedSink::new(sink, Routing::default(), Delivery::Blocking);
//! let log = slog::Logger::root(AuditDrain::new(audit), slog::o!("service" => "billing"));
//!
//! slog::info!(log, "cache miss"); // ordinary logging: not audited
//! slog::info!(log, "Invoice {} issued", 77; "audit" => true, "InvoiceId" => 77u64);
//!
//! let stored = Reader::open(dir)?.replay(1..=u64::MAX)?.next().unwrap()?;
//! assert_eq!(stored.event.message, "Invoice 77 issued");
//! assert_eq!(stored.event.property("InvoiceId"), Some(&Value::U64(77)));
//! assert_eq!(stored.event.property("service"), Some(&Value::from("billing")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;

use super::route::SharedSink;
use crate::event::{Level, Value};
use crate::io::{Clock, Disk, Entropy};

/// A `slog::Drain` that routes records to an audit sink. It never returns an error (failures go
/// to the sink's failure handler), so it can be used without `.fuse()`. See the
/// [module docs](self) for an example.
pub struct AuditDrain<D: Disk, C: Clock, E: Entropy> {
    // slog requires drains to be unwind-safe. A panic inside `emit` (only our own assertions,
    // or panic_on_failure) leaves the sink fail-stopped, never half-updated, so asserting it is
    // sound.
    shared: std::panic::AssertUnwindSafe<Arc<SharedSink<D, C, E>>>,
}

impl<D: Disk, C: Clock, E: Entropy> AuditDrain<D, C, E> {
    /// A drain delivering through `shared`. See the [module docs](self) for an example.
    pub fn new(shared: Arc<SharedSink<D, C, E>>) -> Self {
        AuditDrain { shared: std::panic::AssertUnwindSafe(shared) }
    }
}

fn level(l: slog::Level) -> Level {
    match l {
        slog::Level::Critical => Level::Fatal,
        slog::Level::Error => Level::Error,
        slog::Level::Warning => Level::Warning,
        slog::Level::Info => Level::Information,
        slog::Level::Debug => Level::Debug,
        slog::Level::Trace => Level::Verbose,
    }
}

struct Collect(Vec<(String, Value)>);

impl slog::Serializer for Collect {
    fn emit_arguments(&mut self, key: slog::Key, val: &fmt::Arguments<'_>) -> slog::Result {
        self.0.push((key.to_string(), Value::Str(val.to_string())));
        Ok(())
    }
    fn emit_bool(&mut self, key: slog::Key, val: bool) -> slog::Result {
        self.0.push((key.to_string(), Value::Bool(val)));
        Ok(())
    }
    fn emit_i64(&mut self, key: slog::Key, val: i64) -> slog::Result {
        self.0.push((key.to_string(), Value::I64(val)));
        Ok(())
    }
    fn emit_u64(&mut self, key: slog::Key, val: u64) -> slog::Result {
        self.0.push((key.to_string(), Value::U64(val)));
        Ok(())
    }
    fn emit_f64(&mut self, key: slog::Key, val: f64) -> slog::Result {
        self.0.push((key.to_string(), Value::F64(val)));
        Ok(())
    }
    fn emit_str(&mut self, key: slog::Key, val: &str) -> slog::Result {
        self.0.push((key.to_string(), Value::Str(val.to_owned())));
        Ok(())
    }
}

impl<D: Disk, C: Clock, E: Entropy> slog::Drain for AuditDrain<D, C, E> {
    type Ok = ();
    type Err = slog::Never;

    fn log(
        &self,
        record: &slog::Record<'_>,
        values: &slog::OwnedKVList,
    ) -> Result<(), slog::Never> {
        let mut props = Collect(Vec::new());
        let _ = slog::KV::serialize(values, record, &mut props);
        let _ = slog::KV::serialize(&record.kv(), record, &mut props);
        let routing = self.shared.routing();
        let marked = props.0.iter().any(|(k, v)| routing.is_mark(k, v));
        if !routing.routes(level(record.level()), record.module(), marked) {
            self.shared.skip();
            return Ok(());
        }
        let message = record.msg().to_string();
        let mut event = self.shared.new_event(level(record.level()), &message);
        for (k, v) in props.0 {
            event = event.with_property(k, v);
        }
        event = event.with_property("SourceContext", record.module());
        event.message = message;
        self.shared.submit(event);
        Ok(())
    }
}
