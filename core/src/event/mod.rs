//! Events: what an application hands the log, and the two ways they leave memory.
//!
//! An [`Event`] is a Serilog-style structured log event: a message template, the properties
//! that fill it, a level, a wall-clock timestamp and a 16-byte [`EventId`]. It has two
//! encodings, for two different jobs:
//!
//! - the **WAL body** ([`Event::encode_body`]/[`Event::decode_body`]): compact, exact for every
//!   value (NaN payloads, `u64::MAX`, raw bytes), versioned, and decoded as untrusted input;
//! - **CLEF** ([`Event::to_clef`]/[`Event::from_clef`]): the one-line JSON that Seq and Serilog
//!   tools read, for export and import. JSON cannot say everything the body can; the `clef`
//!   module lists exactly what normalises on the way back.
//!
//! Values nest at most [`MAX_VALUE_DEPTH`] deep, enforced when encoding and when decoding, so
//! no input can drive a decoder into unbounded recursion.
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::event::{Event, EventId, Level, Value};
//!
//! let event = Event::new(EventId([7; 16]), 0, Level::Information, "User {UserId} logged in")
//!     .with_property("UserId", "alice")
//!     .render();
//! assert_eq!(event.message, "User alice logged in");
//!
//! let mut body = Vec::new();
//! event.encode_body(&mut body)?;
//! assert_eq!(Event::decode_body(&body)?, event);
//!
//! let line = event.to_clef();
//! assert_eq!(Event::from_clef(&line)?, event);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod body;
mod clef;
mod id;
mod level;
pub mod template;
pub mod timestamp;
mod value;

pub use body::{BodyError, MalformedKind, BODY_VERSION};
pub use clef::ClefError;
pub use id::{EventId, ParseEventIdError};
pub use level::{Level, ParseLevelError};
pub use timestamp::TimestampError;
pub use value::Value;

/// The deepest a [`Value`] may nest: a scalar is depth 1, an array of scalars depth 2.
///
/// Deep enough for any real structured payload, shallow enough that the recursive encoders and
/// decoders stay far from the stack limit. Exceeding it is an error at encode and at decode.
/// See [`Event::encode_body`] for an example.
pub const MAX_VALUE_DEPTH: usize = 64;

/// One structured log event.
///
/// A [`Sink`](crate::Sink) builds events for you ([`Sink::event`](crate::Sink::event)) with
/// its clock and a fresh id; build one by hand to import, test or transform events.
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::{Event, EventId, Level, Value};
///
/// let event = Event::new(EventId([1; 16]), 0, Level::Error, "Payment {PaymentId} failed")
///     .with_property("PaymentId", 1234)
///     .with_property("Amount", 9.5)
///     .with_exception("card declined")
///     .render();
/// assert_eq!(event.message, "Payment 1234 failed");
/// assert_eq!(event.property("Amount"), Some(&Value::F64(9.5)));
/// assert_eq!(event.exception.as_deref(), Some("card declined"));
/// assert!(event.level >= Level::Warning);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Identity of the event, unique per event (callers mint it, typically from entropy).
    pub id: EventId,
    /// Unix epoch nanoseconds, as the `Clock` reported. May go backwards between events: order
    /// comes from the log's sequence numbers, never from this.
    pub timestamp_nanos: i64,
    /// Severity.
    pub level: Level,
    /// The message template, e.g. `"User {UserId} accessed record {RecordId}"`.
    pub template: String,
    /// The rendered template (see [`Event::render`]). Stored, not recomputed, so the reader
    /// sees exactly the text the writer saw.
    pub message: String,
    /// Named values, in insertion order.
    pub properties: Vec<(String, Value)>,
    /// Exception or error text (a backtrace, an error chain), if any.
    pub exception: Option<String>,
}

impl Event {
    /// New event with empty message and no properties. See [`Event`] for an example.
    pub fn new(
        id: EventId,
        timestamp_nanos: i64,
        level: Level,
        template: impl Into<String>,
    ) -> Event {
        Event {
            id,
            timestamp_nanos,
            level,
            template: template.into(),
            message: String::new(),
            properties: Vec::new(),
            exception: None,
        }
    }

    /// Sets property `name`. An existing property of that name gets the new value in its old
    /// position, so names stay unique and order stays stable.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::event::{Event, EventId, Level, Value};
    ///
    /// let event = Event::new(EventId::ZERO, 0, Level::Information, "{A} {B}")
    ///     .with_property("A", 1)
    ///     .with_property("B", "two")
    ///     .with_property("A", "one"); // replaces A, keeps it first
    /// assert_eq!(event.property("A"), Some(&Value::from("one")));
    /// let names: Vec<&str> = event.properties.iter().map(|(name, _)| name.as_str()).collect();
    /// assert_eq!(names, ["A", "B"]);
    /// assert_eq!(event.property("C"), None);
    /// ```
    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<Value>) -> Event {
        let name = name.into();
        let value = value.into();
        match self.properties.iter_mut().find(|(existing, _)| *existing == name) {
            Some((_, slot)) => *slot = value,
            None => self.properties.push((name, value)),
        }
        self
    }

    /// Sets the exception text. See [`Event`] for an example.
    pub fn with_exception(mut self, text: impl Into<String>) -> Event {
        self.exception = Some(text.into());
        self
    }

    /// Renders `message` from the template and properties (see [`template::render`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::event::{Event, EventId, Level};
    ///
    /// let event = Event::new(EventId::ZERO, 0, Level::Information, "{User} exported {Count}")
    ///     .with_property("User", "alice");
    /// assert_eq!(event.message, ""); // nothing rendered yet
    /// let event = event.render();
    /// assert_eq!(event.message, "alice exported {Count}"); // a missing property stays visible
    /// ```
    pub fn render(mut self) -> Event {
        self.message = template::render(&self.template, &self.properties);
        self
    }

    /// The value of the first property named `name`. See [`Event::with_property`] for an
    /// example.
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.properties.iter().find(|(existing, _)| existing == name).map(|(_, value)| value)
    }

    /// Appends the WAL record body of this event to `out`: the [`BODY_VERSION`] byte, then the
    /// postcard encoding (layout on [`BODY_VERSION`]). Allocates nothing beyond
    /// growing `out`.
    ///
    /// # Errors
    ///
    /// [`BodyError::PropertyTooDeep`] if a value nests deeper than [`MAX_VALUE_DEPTH`]; `out`
    /// is then unchanged. Refusing here keeps the promise that every stored body decodes.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::event::{BodyError, Event, EventId, Level, Value, BODY_VERSION};
    ///
    /// let event = Event::new(EventId::ZERO, 0, Level::Information, "Hello").render();
    /// let mut body = Vec::new();
    /// event.encode_body(&mut body)?;
    /// assert_eq!(body[0], BODY_VERSION);
    ///
    /// let mut deep = Value::Null;
    /// for _ in 0..100 {
    ///     deep = Value::Array(vec![deep]);
    /// }
    /// let too_deep = event.clone().with_property("Deep", deep);
    /// let mut out = Vec::new();
    /// let refused = too_deep.encode_body(&mut out);
    /// assert!(matches!(refused, Err(BodyError::PropertyTooDeep { .. })));
    /// assert!(out.is_empty());
    /// # Ok::<(), BodyError>(())
    /// ```
    pub fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), BodyError> {
        body::encode(self, out)
    }

    /// Decodes a body produced by [`Event::encode_body`].
    ///
    /// The bytes are treated as untrusted: this never panics, allocates in proportion to the
    /// input, stops at [`MAX_VALUE_DEPTH`] instead of recursing further, and refuses trailing
    /// bytes.
    ///
    /// # Errors
    ///
    /// A [`BodyError`] naming what is wrong and the byte offset where decoding stopped:
    /// `Empty`, `UnsupportedVersion`, `ValueTooDeep`, `UnknownLevel`, `UnknownValueTag`,
    /// `Malformed`, `TrailingBytes` or `NonCanonical`.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::event::{BodyError, Event, EventId, Level};
    ///
    /// let event = Event::new(EventId([3; 16]), 42, Level::Debug, "x={X}")
    ///     .with_property("X", u64::MAX)
    ///     .render();
    /// let mut body = Vec::new();
    /// event.encode_body(&mut body)?;
    /// assert_eq!(Event::decode_body(&body)?, event);
    ///
    /// body.push(0);
    /// assert_eq!(Event::decode_body(&body), Err(BodyError::TrailingBytes { count: 1 }));
    /// assert_eq!(Event::decode_body(&[]), Err(BodyError::Empty));
    /// # Ok::<(), BodyError>(())
    /// ```
    pub fn decode_body(bytes: &[u8]) -> Result<Event, BodyError> {
        body::decode(bytes)
    }

    /// This event as one CLEF line (JSON object, no trailing newline), for Seq and Serilog
    /// tools. `@t` uses the canonical nine-digit UTC form of [`timestamp::format_rfc3339`].
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::event::{Event, EventId, Level};
    ///
    /// let event = Event::new(EventId::ZERO, 1_500_000_000, Level::Warning, "Disk {Pct}% full")
    ///     .with_property("Pct", 91)
    ///     .render();
    /// assert_eq!(
    ///     event.to_clef(),
    ///     concat!(
    ///         r#"{"@t":"1970-01-01T00:00:01.500000000Z","@mt":"Disk {Pct}% full","#,
    ///         r#""@m":"Disk 91% full","@l":"Warning","#,
    ///         r#""@i":"00000000-0000-0000-0000-000000000000","Pct":91}"#,
    ///     )
    /// );
    /// ```
    pub fn to_clef(&self) -> String {
        clef::to_clef(self)
    }

    /// Reads one CLEF line. Missing `@i` gives [`EventId::ZERO`], missing `@l` gives
    /// `Information`, missing `@m` renders the template; `@t` is required.
    ///
    /// # Errors
    ///
    /// A [`ClefError`] for invalid JSON (`NotJson`, `NotAnObject`), a missing or malformed
    /// reserved field (`MissingField`, `FieldNotString`, `DuplicateField`, `BadTimestamp`,
    /// `BadLevel`, `BadEventId`), an unknown reserved field (`UnknownReservedField`), or values
    /// nested deeper than [`MAX_VALUE_DEPTH`] (`ValueTooDeep`).
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::event::{ClefError, Event, Level, Value};
    ///
    /// let line = r#"{"@t":"2024-05-01T12:00:00Z","@mt":"User {UserId} left","UserId":7}"#;
    /// let event = Event::from_clef(line)?;
    /// assert_eq!(event.level, Level::Information); // no "@l"
    /// assert_eq!(event.message, "User 7 left"); // no "@m": rendered
    /// assert_eq!(event.property("UserId"), Some(&Value::I64(7)));
    ///
    /// let missing = Event::from_clef(r#"{"@mt":"no time"}"#);
    /// assert_eq!(missing, Err(ClefError::MissingField { field: "@t" }));
    /// # Ok::<(), ClefError>(())
    /// ```
    pub fn from_clef(line: &str) -> Result<Event, ClefError> {
        clef::from_clef(line)
    }
}

impl Event {
    /// Equality with floats compared by their bits, so a NaN equals the same NaN: what a
    /// round trip through a codec must preserve (`==` says NaN != NaN).
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::event::{Event, EventId, Level};
    ///
    /// let event = Event::new(EventId::ZERO, 0, Level::Debug, "").with_property("X", f64::NAN);
    /// assert_ne!(event, event.clone()); // NaN != NaN
    /// assert!(event.bitwise_eq(&event.clone()));
    /// ```
    pub fn bitwise_eq(&self, other: &Event) -> bool {
        self.id == other.id
            && self.timestamp_nanos == other.timestamp_nanos
            && self.level == other.level
            && self.template == other.template
            && self.message == other.message
            && self.exception == other.exception
            && entries_bitwise_eq(&self.properties, &other.properties)
    }
}

fn entries_bitwise_eq(a: &[(String, Value)], b: &[(String, Value)]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && value_bitwise_eq(va, vb))
}

fn value_bitwise_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits(),
        (Value::Array(xs), Value::Array(ys)) => {
            xs.len() == ys.len() && xs.iter().zip(ys).all(|(x, y)| value_bitwise_eq(x, y))
        }
        (Value::Map(xs), Value::Map(ys)) => entries_bitwise_eq(xs, ys),
        _ => a == b,
    }
}

/// Strategies and comparisons shared by the codec tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use proptest::collection::vec;
    use proptest::option;
    use proptest::prelude::*;

    /// Any value up to a few levels deep, floats of every bit pattern included.
    pub(crate) fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::I64),
            any::<u64>().prop_map(Value::U64),
            any::<f64>().prop_map(Value::F64),
            any::<String>().prop_map(Value::Str),
            vec(any::<u8>(), 0..12).prop_map(Value::Bytes),
        ];
        leaf.prop_recursive(5, 48, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Value::Array),
                // Keys never start with `$`, so no map looks like CLEF's `{"$bytes": ..}`.
                vec(("[a-zA-Z0-9_@ é\"\\\\]{0,6}", inner), 0..4).prop_map(Value::Map),
            ]
        })
    }

    /// Any event; property names include `@` prefixes and duplicates.
    pub(crate) fn arb_event() -> impl Strategy<Value = Event> {
        (
            any::<[u8; 16]>(),
            any::<i64>(),
            proptest::sample::select(Level::ALL.to_vec()),
            "[a-zA-Z {}@$,:0-9]{0,24}",
            any::<String>(),
            vec(("@{0,2}[a-zA-Z_0-9\n]{0,6}", arb_value()), 0..5),
            option::of(any::<String>()),
        )
            .prop_map(
                |(id, timestamp_nanos, level, template, message, properties, exception)| Event {
                    id: EventId(id),
                    timestamp_nanos,
                    level,
                    template,
                    message,
                    properties,
                    exception,
                },
            )
    }

    /// Event equality that compares floats by bits, so NaN equals the same NaN.
    pub(crate) fn same_event(a: &Event, b: &Event) -> bool {
        a.bitwise_eq(b)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn with_property_replaces_in_place_and_keeps_order() {
        let event = Event::new(EventId::ZERO, 0, Level::Debug, "")
            .with_property("A", 1u8)
            .with_property("B", 2u8)
            .with_property("A", "one");
        assert_eq!(
            event.properties,
            vec![("A".to_string(), Value::from("one")), ("B".to_string(), Value::from(2u8))]
        );
        assert_eq!(event.property("A"), Some(&Value::from("one")));
        assert_eq!(event.property("C"), None);
    }

    #[test]
    fn new_event_is_unrendered_until_render() {
        let event = Event::new(EventId::ZERO, 0, Level::Fatal, "x={X}").with_property("X", 5i32);
        assert_eq!(event.message, "");
        assert_eq!(event.exception, None);
        let event = event.with_exception("e").render();
        assert_eq!(event.message, "x=5");
        assert_eq!(event.exception.as_deref(), Some("e"));
    }
}
