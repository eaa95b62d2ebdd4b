//! A `tracing` Layer for an audit sink (cargo feature `tracing`).
//!
//! Event fields become properties, with the fields of every enclosing span (outermost first;
//! the event's own fields win). A `template` field, when given, is kept as the message template;
//! otherwise the message is the template.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use mtlog_audit::adapters::tracing::AuditLayer;
//! use mtlog_audit::adapters::{Delivery, Routing, SharedSink};
//! use mtlog_audit::{Options, Reader, Sink, Value};
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let sink = Arc::new(Sink::open(Options::new(dir))?);
//! let audit = SharedSink::new(sink, Routing::default(), Delivery::Blocking);
//! let subscriber = tracing_subscriber::registry().with(AuditLayer::new(audit.clone()));
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!("request", RequestId = "req-1");
//!     let _entered = span.enter();
//!     tracing::info!("cache miss"); // ordinary logging: not audited
//!     tracing::info!(
//!         audit = true,
//!         UserId = 42,
//!         RecordId = "r-7",
//!         template = "User {UserId} accessed record {RecordId}",
//!         "User 42 accessed record r-7"
//!     ); // durable when this returns
//! });
//!
//! let stored = Reader::open(dir)?.replay(1..=u64::MAX)?.next().unwrap()?;
//! assert_eq!(stored.event.template, "User {UserId} accessed record {RecordId}");
//! assert_eq!(stored.event.property("RequestId"), Some(&Value::from("req-1"))); // from the span
//! assert_eq!(stored.event.property("UserId"), Some(&Value::I64(42)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event as TracingEvent, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::route::SharedSink;
use crate::event::{Level, Value};
use crate::io::{Clock, Disk, Entropy};

/// A Layer routing events to an audit sink. See the [module docs](self) for an example.
pub struct AuditLayer<D: Disk, C: Clock, E: Entropy> {
    shared: Arc<SharedSink<D, C, E>>,
}

impl<D: Disk, C: Clock, E: Entropy> AuditLayer<D, C, E> {
    /// A layer delivering through `shared`. See the [module docs](self) for an example.
    pub fn new(shared: Arc<SharedSink<D, C, E>>) -> Self {
        AuditLayer { shared }
    }
}

/// Fields recorded on a span, kept in its extensions.
struct SpanFields(Vec<(String, Value)>);

#[derive(Default)]
struct Collect {
    fields: Vec<(String, Value)>,
    message: Option<String>,
}

impl Collect {
    fn put(&mut self, field: &Field, value: Value) {
        match field.name() {
            "message" => {
                self.message = Some(match value {
                    Value::Str(s) => s,
                    other => format!("{other:?}"),
                })
            }
            name => {
                self.fields.retain(|(k, _)| k != name);
                self.fields.push((name.to_owned(), value));
            }
        }
    }
}

impl Visit for Collect {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::U64(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::F64(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::Str(value.to_owned()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::Str(format!("{value:?}")));
    }
}

fn level(l: &tracing::Level) -> Level {
    match *l {
        tracing::Level::TRACE => Level::Verbose,
        tracing::Level::DEBUG => Level::Debug,
        tracing::Level::INFO => Level::Information,
        tracing::Level::WARN => Level::Warning,
        tracing::Level::ERROR => Level::Error,
    }
}

impl<S, D, C, E> Layer<S> for AuditLayer<D, C, E>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    D: Disk,
    C: Clock,
    E: Entropy,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut c = Collect::default();
        attrs.record(&mut c);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(c.fields));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(fields) = ext.get_mut::<SpanFields>() {
                let mut c = Collect { fields: std::mem::take(&mut fields.0), message: None };
                values.record(&mut c);
                fields.0 = c.fields;
            }
        }
    }

    fn on_event(&self, event: &TracingEvent<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut own = Collect::default();
        event.record(&mut own);
        let mut props: Vec<(String, Value)> = Vec::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    for (k, v) in &fields.0 {
                        props.retain(|(x, _)| x != k);
                        props.push((k.clone(), v.clone()));
                    }
                }
            }
        }
        for (k, v) in own.fields {
            props.retain(|(x, _)| *x != k);
            props.push((k, v));
        }
        let routing = self.shared.routing();
        let marked = props.iter().any(|(k, v)| routing.is_mark(k, v));
        if !routing.routes(level(meta.level()), meta.target(), marked) {
            self.shared.skip();
            return;
        }
        let message = own.message.unwrap_or_default();
        let template = match props.iter().position(|(k, _)| k == "template") {
            Some(i) => match props.remove(i).1 {
                Value::Str(s) => s,
                other => format!("{other:?}"),
            },
            None => message.clone(),
        };
        let mut audit = self.shared.new_event(level(meta.level()), &template);
        for (k, v) in props {
            audit = audit.with_property(k, v);
        }
        audit = audit.with_property("SourceContext", meta.target());
        audit.message = message;
        self.shared.submit(audit);
    }
}
