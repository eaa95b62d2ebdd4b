//! CLEF, the Compact Log Event Format of Serilog and Seq: one JSON object per line.
//!
//! ```text
//! {"@t":"2026-11-27T00:25:29.123456789Z","@mt":"User {UserId}","@m":"User alice",
//!  "@l":"Warning","@x":"...","@i":"00112233-4455-6677-8899-aabbccddeeff","UserId":"alice"}
//! ```
//!
//! Writing: reserved fields come first in the order above; `@l` is omitted for `Information`
//! and `@x` when there is no exception (CLEF convention); `@m` is always written, so an event
//! whose message was never rendered reads back unrendered. Properties follow in their order; a
//! name starting with `@` is written with one more `@` (`@@name`), as CLEF prescribes.
//!
//! Values: `Null`, `Bool`, strings, arrays and maps map to JSON directly (maps keep order and
//! duplicate names); integers are JSON numbers; floats always carry a `.` or an exponent so
//! they read back as floats; bytes are `{"$bytes":"<lowercase hex>"}`.
//!
//! CLEF is an export format and JSON cannot say everything the WAL can. Reading back is exact
//! except for these, which we accept rather than invent a private dialect:
//!
//! - a non-negative `I64` and a `U64` both read back as `I64` (as `U64` above `i64::MAX`);
//! - non-finite floats are written as the strings `"NaN"`, `"Infinity"`, `"-Infinity"` and
//!   read back as strings;
//! - a map whose only entry is `"$bytes"` with a hex string reads back as `Bytes`.
//!
//! Reading is strict where guessing could change meaning: an unknown reserved field (`@r`,
//! `@tr`, ...) is an error rather than silently dropped or turned into a property, and so is a
//! repeated reserved field. Missing `@i` gives [`EventId::ZERO`], missing `@l` gives
//! `Information`, missing `@m` renders the template, missing `@mt` uses the message with its
//! braces doubled (so rendering it gives the message back), and `@t` is required.

// Maintainers: JSON is parsed with serde_json through our own seeds instead of
// `serde_json::Value`, because its map sorts keys (losing property order) and its depth limit is
// not ours. Writing is hand-rolled for the same ordering reason.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

use super::id::ParseEventIdError;
use super::timestamp::{format_rfc3339, parse_rfc3339, TimestampError};
use super::{template, Event, EventId, Level, Value, MAX_VALUE_DEPTH};

/// Why a line is not a CLEF event we can read.
///
/// # Examples
///
/// ```
/// use std::error::Error as _;
/// use mtlog_audit::event::{ClefError, Event, TimestampError};
///
/// let bad_month = r#"{"@t":"2024-13-01T00:00:00Z","@mt":"Hello"}"#;
/// let err = Event::from_clef(bad_month).unwrap_err();
/// assert_eq!(
///     err,
///     ClefError::BadTimestamp {
///         found: "2024-13-01T00:00:00Z".into(),
///         cause: TimestampError::FieldOutOfRange { field: "month", found: 13 },
///     }
/// );
/// let text = err.to_string();
/// assert_eq!(text, r#"clef: @t "2024-13-01T00:00:00Z": timestamp: month 13 out of range"#);
/// assert!(err.source().is_some()); // the TimestampError
///
/// let loud = r#"{"@t":"2024-05-01T00:00:00Z","@mt":"Hello","@l":"Loud"}"#;
/// let err = Event::from_clef(loud).unwrap_err();
/// assert_eq!(err.to_string(), r#"clef: @l "Loud" is not a level name"#);
///
/// let cut = Event::from_clef(r#"{"@t":"2024-05-01T00:00:00Z","#);
/// assert!(matches!(cut, Err(ClefError::NotJson { line: 1, .. })));
/// assert!(matches!(Event::from_clef("[1]"), Err(ClefError::NotAnObject { found: "an array" })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClefError {
    /// The line is not valid JSON.
    NotJson {
        /// 1-based line of the problem within the text (1 for a single line).
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// serde_json's description of the problem.
        reason: String,
    },
    /// The line is JSON but not an object.
    NotAnObject {
        /// The kind of JSON value found.
        found: &'static str,
    },
    /// A property value nests deeper than [`MAX_VALUE_DEPTH`].
    ValueTooDeep,
    /// A required reserved field is absent.
    MissingField {
        /// The field, such as `"@t"`.
        field: &'static str,
    },
    /// A reserved field holds something other than a string.
    FieldNotString {
        /// The field.
        field: &'static str,
        /// The kind of JSON value found.
        found: &'static str,
    },
    /// A reserved field appears twice.
    DuplicateField {
        /// The field.
        field: &'static str,
    },
    /// A field starting with a single `@` that this reader does not know.
    UnknownReservedField {
        /// The field as written.
        field: String,
    },
    /// `@t` is not an RFC 3339 timestamp in the `i64` nanosecond range.
    BadTimestamp {
        /// The text found.
        found: String,
        /// What is wrong with it.
        cause: TimestampError,
    },
    /// `@l` is not a level name.
    BadLevel {
        /// The text found.
        found: String,
    },
    /// `@i` is not an event id in `8-4-4-4-12` hex form.
    BadEventId {
        /// The text found.
        found: String,
        /// What is wrong with it.
        cause: ParseEventIdError,
    },
}

/// Writes `event` as one CLEF line, without a trailing newline.
pub(super) fn to_clef(event: &Event) -> String {
    let mut out = String::with_capacity(160 + event.template.len() + event.message.len());
    out.push_str("{\"@t\":\"");
    out.push_str(&format_rfc3339(event.timestamp_nanos));
    out.push_str("\",\"@mt\":");
    push_string(&mut out, &event.template);
    out.push_str(",\"@m\":");
    push_string(&mut out, &event.message);
    if event.level != Level::Information {
        out.push_str(",\"@l\":");
        push_string(&mut out, event.level.as_str());
    }
    if let Some(exception) = &event.exception {
        out.push_str(",\"@x\":");
        push_string(&mut out, exception);
    }
    let _ = write!(out, ",\"@i\":\"{}\"", event.id);
    for (name, value) in &event.properties {
        out.push(',');
        if name.starts_with('@') {
            // CLEF escape: a user property may not pose as a reserved field.
            out.push_str("\"@");
            push_string_body(&mut out, name);
            out.push('"');
        } else {
            push_string(&mut out, name);
        }
        out.push(':');
        push_value(&mut out, value);
    }
    out.push('}');
    out
}

/// Reads one CLEF line (surrounding whitespace, including a newline, is allowed).
pub(super) fn from_clef(line: &str) -> Result<Event, ClefError> {
    let fields = match parse_json(line)? {
        Value::Map(fields) => fields,
        other => return Err(ClefError::NotAnObject { found: json_kind(&other) }),
    };
    let mut reserved = Reserved::default();
    let mut properties = Vec::new();
    for (key, value) in fields {
        if key.starts_with("@@") {
            // Undo the CLEF escape: drop exactly one `@`.
            properties.push((key.get(1..).unwrap_or_default().to_owned(), value));
        } else if key.starts_with('@') {
            reserved.set(key, value)?;
        } else {
            properties.push((key, value));
        }
    }
    reserved.into_event(properties)
}

impl fmt::Display for ClefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("clef: ")?;
        match self {
            ClefError::NotJson { reason, .. } => write!(f, "not json: {reason}"),
            ClefError::NotAnObject { found } => write!(f, "expected a json object, found {found}"),
            ClefError::ValueTooDeep => {
                write!(f, "a property value nests deeper than {MAX_VALUE_DEPTH}")
            }
            ClefError::MissingField { field } => write!(f, "missing required field {field}"),
            ClefError::FieldNotString { field, found } => {
                write!(f, "field {field} must be a string, found {found}")
            }
            ClefError::DuplicateField { field } => write!(f, "field {field} appears twice"),
            ClefError::UnknownReservedField { field } => write!(
                f,
                "unknown reserved field {field:?} (a property named so is written \"@{field}\")"
            ),
            ClefError::BadTimestamp { found, cause } => write!(f, "@t {found:?}: {cause}"),
            ClefError::BadLevel { found } => write!(f, "@l {found:?} is not a level name"),
            ClefError::BadEventId { found, cause } => write!(f, "@i {found:?}: {cause}"),
        }
    }
}

impl std::error::Error for ClefError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClefError::BadTimestamp { cause, .. } => Some(cause),
            ClefError::BadEventId { cause, .. } => Some(cause),
            _ => None,
        }
    }
}

// ---- Reserved fields ------------------------------------------------------------------------

/// The reserved fields of one line, each seen at most once.
#[derive(Default)]
struct Reserved {
    timestamp: Option<String>,
    template: Option<String>,
    message: Option<String>,
    level: Option<String>,
    exception: Option<String>,
    id: Option<String>,
}

impl Reserved {
    /// Stores reserved field `key` (which starts with a single `@`).
    fn set(&mut self, key: String, value: Value) -> Result<(), ClefError> {
        let (field, slot) = match key.as_str() {
            "@t" => ("@t", &mut self.timestamp),
            "@mt" => ("@mt", &mut self.template),
            "@m" => ("@m", &mut self.message),
            "@l" => ("@l", &mut self.level),
            "@x" => ("@x", &mut self.exception),
            "@i" => ("@i", &mut self.id),
            _ => return Err(ClefError::UnknownReservedField { field: key }),
        };
        if slot.is_some() {
            return Err(ClefError::DuplicateField { field });
        }
        match value {
            Value::Str(text) => {
                *slot = Some(text);
                Ok(())
            }
            other => Err(ClefError::FieldNotString { field, found: json_kind(&other) }),
        }
    }

    fn into_event(self, properties: Vec<(String, Value)>) -> Result<Event, ClefError> {
        let found = self.timestamp.ok_or(ClefError::MissingField { field: "@t" })?;
        let timestamp_nanos = parse_rfc3339(&found)
            .map_err(|cause| ClefError::BadTimestamp { found: found.clone(), cause })?;
        let level = match self.level {
            Some(found) => found.parse().map_err(|_| ClefError::BadLevel { found })?,
            None => Level::Information,
        };
        let id = match self.id {
            Some(found) => found.parse().map_err(|cause| ClefError::BadEventId { found, cause })?,
            None => EventId::ZERO,
        };
        let template = match (self.template, &self.message) {
            (Some(template), _) => template,
            (None, Some(message)) => message.replace('{', "{{").replace('}', "}}"),
            (None, None) => String::new(),
        };
        let message = match self.message {
            Some(message) => message,
            None => template::render(&template, &properties),
        };
        Ok(Event {
            id,
            timestamp_nanos,
            level,
            template,
            message,
            properties,
            exception: self.exception,
        })
    }
}

// ---- Writing JSON ---------------------------------------------------------------------------

/// Appends `text` as a JSON string, quotes included.
fn push_string(out: &mut String, text: &str) {
    out.push('"');
    push_string_body(out, text);
    out.push('"');
}

/// Appends `text` JSON-escaped, without quotes.
fn push_string_body(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// Appends `value` as JSON. Recursion is bounded by the depth of `value`, which
/// [`MAX_VALUE_DEPTH`] bounds for every value that can be stored or read.
fn push_value(out: &mut String, value: &Value) {
    // `write!` into a `String` cannot fail, so its `fmt::Result` is ignored throughout.
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::I64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::U64(n) => {
            let _ = write!(out, "{n}");
        }
        Value::F64(x) if x.is_nan() => out.push_str("\"NaN\""),
        Value::F64(x) if x.is_infinite() => {
            out.push_str(if *x > 0.0 { "\"Infinity\"" } else { "\"-Infinity\"" });
        }
        Value::F64(x) => {
            // `Debug` prints the shortest text that reads back exactly, always with a `.` or
            // an exponent (`1.0`, `1e300`), so JSON readers see a float, not an integer.
            let _ = write!(out, "{x:?}");
        }
        Value::Str(s) => push_string(out, s),
        Value::Bytes(bytes) => {
            out.push_str("{\"");
            out.push_str(BYTES_KEY);
            out.push_str("\":\"");
            for byte in bytes {
                let _ = write!(out, "{byte:02x}");
            }
            out.push_str("\"}");
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                push_value(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (index, (name, item)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                push_string(out, name);
                out.push(':');
                push_value(out, item);
            }
            out.push('}');
        }
    }
}

// ---- Reading JSON ---------------------------------------------------------------------------

/// Parses one JSON document into a [`Value`], keeping object order; the root is depth 0, so a
/// top-level property is depth 1 as in the WAL body.
fn parse_json(text: &str) -> Result<Value, ClefError> {
    let too_deep = Cell::new(false);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let parsed = JsonSeed { too_deep: &too_deep, depth: 0 }
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    parsed.map_err(|cause| {
        if too_deep.get() {
            ClefError::ValueTooDeep
        } else {
            ClefError::NotJson {
                line: cause.line(),
                column: cause.column(),
                reason: cause.to_string(),
            }
        }
    })
}

/// The JSON name of a parsed value's kind, for errors.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::I64(_) | Value::U64(_) | Value::F64(_) => "a number",
        Value::Str(_) => "a string",
        Value::Array(_) => "an array",
        Value::Map(_) | Value::Bytes(_) => "an object",
    }
}

/// Reads a JSON value at nesting `depth`.
#[derive(Clone, Copy)]
struct JsonSeed<'a> {
    too_deep: &'a Cell<bool>,
    depth: usize,
}

impl JsonSeed<'_> {
    fn child(self) -> Self {
        JsonSeed { too_deep: self.too_deep, depth: self.depth + 1 }
    }
}

impl<'de> DeserializeSeed<'de> for JsonSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        // Refuse before descending: this is what bounds recursion on hostile input.
        if self.depth > MAX_VALUE_DEPTH {
            self.too_deep.set(true);
            return Err(de::Error::custom(format!("nesting deeper than {MAX_VALUE_DEPTH}")));
        }
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::I64(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        // JSON has one integer kind: prefer I64 and fall back to U64 only when it must.
        Ok(i64::try_from(n).map_or(Value::U64(n), Value::I64))
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Value, E> {
        Ok(Value::F64(x))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Str(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child())? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self.child())?;
            entries.push((key, value));
        }
        Ok(bytes_from_entries(entries))
    }
}

/// `{"$bytes":"<hex>"}` becomes `Bytes`; any other object stays a `Map`.
fn bytes_from_entries(entries: Vec<(String, Value)>) -> Value {
    if let [(key, Value::Str(hex))] = entries.as_slice() {
        if key == BYTES_KEY {
            if let Some(bytes) = decode_hex(hex) {
                return Value::Bytes(bytes);
            }
        }
    }
    Value::Map(entries)
}

/// Decodes an even-length hex string (either case), or `None`.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    hex.as_bytes()
        .chunks_exact(2)
        .map(|pair| match pair {
            // `to_digit(16)` is at most 15, so the byte cannot overflow.
            &[high, low] => Some((digit(high)? * 16 + digit(low)?) as u8),
            _ => None,
        })
        .collect()
}

/// The key of the one-entry object that carries bytes.
const BYTES_KEY: &str = "$bytes";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::event::test_support::{arb_event, same_event};
    use proptest::prelude::*;

    fn sample() -> Event {
        Event::new(EventId([0x11; 16]), 1_795_739_129_123_456_789, Level::Warning, "User {UserId}")
            .with_property("UserId", "alice")
            .with_property("Count", 3i64)
            .with_property("Ratio", 0.5)
            .with_property("Raw", vec![0xde_u8, 0xad])
            .with_property("Tags", Value::Array(vec!["a".into(), Value::Null]))
            .with_property("Who", Value::Map(vec![("Name".into(), "bob".into())]))
            .with_exception("boom\n  at main")
            .render()
    }

    #[test]
    fn writes_reserved_fields_first_then_properties_in_order() {
        assert_eq!(
            sample().to_clef(),
            "{\"@t\":\"2026-11-27T00:25:29.123456789Z\",\"@mt\":\"User {UserId}\",\
             \"@m\":\"User alice\",\"@l\":\"Warning\",\"@x\":\"boom\\n  at main\",\
             \"@i\":\"11111111-1111-1111-1111-111111111111\",\"UserId\":\"alice\",\"Count\":3,\
             \"Ratio\":0.5,\"Raw\":{\"$bytes\":\"dead\"},\"Tags\":[\"a\",null],\
             \"Who\":{\"Name\":\"bob\"}}"
        );
    }

    #[test]
    fn information_level_and_absent_exception_are_omitted() {
        let line = Event::new(EventId::ZERO, 0, Level::Information, "hi").render().to_clef();
        assert_eq!(
            line,
            "{\"@t\":\"1970-01-01T00:00:00.000000000Z\",\"@mt\":\"hi\",\"@m\":\"hi\",\
             \"@i\":\"00000000-0000-0000-0000-000000000000\"}"
        );
    }

    #[test]
    fn sample_round_trips() {
        let event = sample();
        let parsed = Event::from_clef(&event.to_clef()).unwrap();
        assert_eq!(parsed, event);
    }

    #[test]
    fn at_properties_are_escaped_and_unescaped() {
        let event = Event::new(EventId::ZERO, 0, Level::Debug, "{@t}")
            .with_property("@t", "not a timestamp")
            .with_property("@@x", 1i64)
            .with_property("a@b", 2i64);
        let line = event.to_clef();
        assert!(line.contains(",\"@@t\":\"not a timestamp\""), "{line}");
        assert!(line.contains(",\"@@@x\":1"), "{line}");
        assert!(line.contains(",\"a@b\":2"), "{line}");
        assert!(line.starts_with("{\"@t\":\"1970-01-01T00:00:00.000000000Z\""));
        assert_eq!(Event::from_clef(&line).unwrap(), event);
    }

    #[test]
    fn defaults_fill_absent_optional_fields() {
        let event = Event::from_clef(
            "{\"@t\":\"2020-01-01T00:00:00+01:00\",\"@mt\":\"Hi {Who}\",\"Who\":\"x\"}",
        )
        .unwrap();
        assert_eq!(event.id, EventId::ZERO);
        assert_eq!(event.level, Level::Information);
        assert_eq!(event.message, "Hi x");
        assert_eq!(event.exception, None);
        assert_eq!(event.timestamp_nanos, 1_577_833_200_000_000_000);

        let only_message =
            Event::from_clef("{\"@t\":\"2020-01-01T00:00:00Z\",\"@m\":\"a {b}\"}\n").unwrap();
        assert_eq!(only_message.template, "a {{b}}");
        assert_eq!(only_message.render().message, "a {b}");
    }

    #[test]
    fn levels_parse_from_short_forms() {
        let event = Event::from_clef("{\"@t\":\"2020-01-01T00:00:00Z\",\"@l\":\"WRN\"}").unwrap();
        assert_eq!(event.level, Level::Warning);
    }

    #[test]
    fn json_kinds_map_to_values() {
        let line = "{\"@t\":\"2020-01-01T00:00:00Z\",\"n\":-1,\"u\":18446744073709551615,\
                    \"p\":5,\"f\":1e300,\"z\":-0.0,\"nan\":\"NaN\",\"b\":{\"$bytes\":\"0A\"},\
                    \"notbytes\":{\"$bytes\":\"xyz\"},\"dup\":{\"k\":1,\"k\":2}}";
        let event = Event::from_clef(line).unwrap();
        assert_eq!(event.property("n"), Some(&Value::I64(-1)));
        assert_eq!(event.property("u"), Some(&Value::U64(u64::MAX)));
        assert_eq!(event.property("p"), Some(&Value::I64(5)));
        assert_eq!(event.property("f"), Some(&Value::F64(1e300)));
        let Some(Value::F64(z)) = event.property("z") else { panic!("z not a float") };
        assert_eq!(z.to_bits(), (-0.0f64).to_bits());
        assert_eq!(event.property("nan"), Some(&Value::Str("NaN".into())));
        assert_eq!(event.property("b"), Some(&Value::Bytes(vec![10])));
        assert_eq!(
            event.property("notbytes"),
            Some(&Value::Map(vec![("$bytes".into(), "xyz".into())]))
        );
        assert_eq!(
            event.property("dup"),
            Some(&Value::Map(vec![("k".into(), Value::I64(1)), ("k".into(), Value::I64(2))]))
        );
    }

    #[test]
    fn floats_read_back_bit_exact() {
        // Regression: serde_json's default float parser is best-effort and read this value back
        // one ulp off; the `float_roundtrip` feature in core/Cargo.toml makes it exact.
        let x = -2.139_099_071_350_822e127_f64;
        let event = Event::new(EventId::ZERO, 0, Level::Debug, "").with_property("x", x);
        let Some(Value::F64(read)) =
            Event::from_clef(&event.to_clef()).unwrap().property("x").cloned()
        else {
            panic!("x is not a float");
        };
        assert_eq!(read.to_bits(), x.to_bits());
    }

    #[test]
    fn malformed_lines_get_typed_errors() {
        let t = "\"@t\":\"2020-01-01T00:00:00Z\"";
        type Check = fn(&ClefError) -> bool;
        let cases: Vec<(String, Check)> = vec![
            ("{".into(), |e| matches!(e, ClefError::NotJson { line: 1, .. })),
            ("{} {}".into(), |e| matches!(e, ClefError::NotJson { .. })),
            ("[1]".into(), |e| matches!(e, ClefError::NotAnObject { found: "an array" })),
            ("{}".into(), |e| matches!(e, ClefError::MissingField { field: "@t" })),
            ("{\"@t\":5}".into(), |e| {
                matches!(e, ClefError::FieldNotString { field: "@t", found: "a number" })
            }),
            (format!("{{{t},{t}}}"), |e| matches!(e, ClefError::DuplicateField { field: "@t" })),
            (
                format!("{{{t},\"@r\":[]}}"),
                |e| matches!(e, ClefError::UnknownReservedField { field } if field == "@r"),
            ),
            ("{\"@t\":\"yesterday\"}".into(), |e| matches!(e, ClefError::BadTimestamp { .. })),
            (format!("{{{t},\"@l\":\"Loud\"}}"), |e| matches!(e, ClefError::BadLevel { .. })),
            (format!("{{{t},\"@i\":\"1234\"}}"), |e| matches!(e, ClefError::BadEventId { .. })),
        ];
        for (line, check) in cases {
            let err = Event::from_clef(&line).unwrap_err();
            assert!(check(&err), "{line}: {err:?}");
            let text = err.to_string();
            assert!(text.starts_with("clef: ") && !text.ends_with('.'), "{text}");
        }
    }

    #[test]
    fn deep_json_is_refused_at_our_limit() {
        let nested = |levels: usize| {
            format!(
                "{{\"@t\":\"2020-01-01T00:00:00Z\",\"p\":{}1{}}}",
                "[".repeat(levels),
                "]".repeat(levels)
            )
        };
        assert!(Event::from_clef(&nested(MAX_VALUE_DEPTH - 1)).is_ok());
        assert_eq!(Event::from_clef(&nested(MAX_VALUE_DEPTH)), Err(ClefError::ValueTooDeep));
        assert_eq!(Event::from_clef(&nested(10_000)), Err(ClefError::ValueTooDeep));
    }

    /// What a value becomes after a trip through JSON (see the module docs).
    fn normalise(value: Value) -> Value {
        match value {
            Value::U64(n) => i64::try_from(n).map_or(Value::U64(n), Value::I64),
            Value::F64(x) if x.is_nan() => Value::Str("NaN".into()),
            Value::F64(x) if x.is_infinite() => {
                Value::Str(if x > 0.0 { "Infinity" } else { "-Infinity" }.into())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(normalise).collect()),
            Value::Map(entries) => {
                Value::Map(entries.into_iter().map(|(k, v)| (k, normalise(v))).collect())
            }
            other => other,
        }
    }

    proptest! {
        #[test]
        fn clef_round_trips_up_to_json_normalisation(event in arb_event()) {
            let line = event.to_clef();
            prop_assert!(!line.contains('\n'));
            let parsed = Event::from_clef(&line).unwrap();
            let mut expected = event.clone();
            expected.properties =
                expected.properties.into_iter().map(|(k, v)| (k, normalise(v))).collect();
            prop_assert!(same_event(&parsed, &expected), "{line}\n{parsed:?}\n{expected:?}");
            prop_assert_eq!(parsed.to_clef(), line);
        }

        #[test]
        fn arbitrary_lines_never_panic(line in "\\PC{0,60}") {
            let _ = Event::from_clef(&line);
        }
    }
}
