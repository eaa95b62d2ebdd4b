//! `log::Log` for an audit sink (cargo feature `log`):
//! `log::info!(target: "payments", audit = true; "Paid {}", id)`.
//!
//! Key-values become properties (log's `kv` feature); a `template` key-value, when given, is
//! kept as the message template, otherwise the message is the template.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use mtlog_audit::adapters::log::AuditLogger;
//! use mtlog_audit::adapters::{Delivery, Routing, SharedSink};
//! use mtlog_audit::{Options, Reader, Sink, Value};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let sink = Arc::new(Sink::open(Options::new(dir))?);
//! let routing = Routing { target_prefixes: vec!["payments".into()], ..Routing::default() };
//! let audit = SharedSink::new(sink, routing, Delivery::Blocking);
//! log::set_logger(Box::leak(Box::new(AuditLogger::new(audit)))).expect("first logger");
//! log::set_max_level(log::LevelFilter::Info);
//!
//! log::info!(target: "app", "cache miss"); // ordinary logging: not audited
//! log::info!(target: "app", audit = true, UserId = 42; "User {} exported records", 42);
//! log::info!(target: "payments::card", "Paid invoice {}", 77); // audited by target
//!
//! let events: Vec<_> = Reader::open(dir)?.replay(1..=u64::MAX)?.map(|e| e.unwrap()).collect();
//! assert_eq!(events.len(), 2);
//! assert_eq!(events[0].event.message, "User 42 exported records");
//! assert_eq!(events[0].event.property("UserId"), Some(&Value::I64(42)));
//! assert_eq!(events[1].event.property("SourceContext"), Some(&Value::from("payments::card")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use log::kv::{Key, VisitSource};

use super::route::SharedSink;
use crate::event::{Level, Value};
use crate::io::{Clock, Disk, Entropy};

/// A `log::Log` that routes records to an audit sink. Install with `log::set_boxed_logger` (or
/// `log::set_logger`). See the [module docs](self) for an example.
pub struct AuditLogger<D: Disk, C: Clock, E: Entropy> {
    shared: Arc<SharedSink<D, C, E>>,
}

impl<D: Disk, C: Clock, E: Entropy> AuditLogger<D, C, E> {
    /// A logger delivering through `shared`. See the [module docs](self) for an example.
    pub fn new(shared: Arc<SharedSink<D, C, E>>) -> Self {
        AuditLogger { shared }
    }
}

fn level(l: log::Level) -> Level {
    match l {
        log::Level::Error => Level::Error,
        log::Level::Warn => Level::Warning,
        log::Level::Info => Level::Information,
        log::Level::Debug => Level::Debug,
        log::Level::Trace => Level::Verbose,
    }
}

struct Collect(Vec<(String, Value)>);

impl<'kvs> VisitSource<'kvs> for Collect {
    fn visit_pair(
        &mut self,
        key: Key<'kvs>,
        value: log::kv::Value<'kvs>,
    ) -> Result<(), log::kv::Error> {
        let v = if let Some(b) = value.to_bool() {
            Value::Bool(b)
        } else if let Some(i) = value.to_i64() {
            Value::I64(i)
        } else if let Some(u) = value.to_u64() {
            Value::U64(u)
        } else if let Some(f) = value.to_f64() {
            Value::F64(f)
        } else {
            Value::Str(value.to_string())
        };
        self.0.push((key.as_str().to_owned(), v));
        Ok(())
    }
}

impl<D: Disk, C: Clock, E: Entropy> log::Log for AuditLogger<D, C, E> {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true // routing needs the key-values, so it is decided in `log`
    }

    fn log(&self, record: &log::Record<'_>) {
        let mut props = Collect(Vec::new());
        let _ = record.key_values().visit(&mut props);
        let routing = self.shared.routing();
        let marked = props.0.iter().any(|(k, v)| routing.is_mark(k, v));
        if !routing.routes(level(record.level()), record.target(), marked) {
            self.shared.skip();
            return;
        }
        let message = record.args().to_string();
        let template = props
            .0
            .iter()
            .find(|(k, _)| k == "template")
            .and_then(|(_, v)| if let Value::Str(s) = v { Some(s.clone()) } else { None })
            .unwrap_or_else(|| message.clone());
        let mut event = self.shared.new_event(level(record.level()), &template);
        for (k, v) in props.0 {
            if k != "template" {
                event = event.with_property(k, v);
            }
        }
        event = event.with_property("SourceContext", record.target());
        event.message = message;
        self.shared.submit(event);
    }

    fn flush(&self) {
        let _ = self.shared.sink().flush();
    }
}
