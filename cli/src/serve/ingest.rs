//! What a request body holds: the events a client sent, parsed and checked before anything is
//! stored, so a request is refused whole or stored whole (never half, by a bad line).
//!
//! Two shapes reach Seq's ingestion endpoint (`POST /api/events/raw`):
//!
//! - **CLEF**, newline-delimited (`Content-Type: application/vnd.serilog.clef`, or `?clef`):
//!   one JSON object per line, `@t`, `@mt`, `@m`, `@l`, `@x`, `@i` and properties. Blank lines
//!   are skipped.
//! - **A JSON batch** (`{"Events":[...]}`, the older raw format): each event either a CLEF
//!   object (it has `@t`) or Seq's long form, `{"Timestamp", "Level", "MessageTemplate",
//!   "Properties", "Exception"}`, which is rewritten to CLEF with its properties in the order
//!   sent.
//!
//! Each event is read by the library's own CLEF reader (`Event::from_clef`) and encoded once, so
//! an event the log would refuse (too large, nested too deep) fails the request here, naming
//! its line or index, before any event of it is stored.

use std::fmt;

use mtlog_audit::event::{ClefError, Event};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The two body shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Newline-delimited CLEF.
    Clef,
    /// `{"Events":[...]}`.
    JsonBatch,
}

/// Why a request's events were refused: the whole request, with the place of the first bad
/// event (1-based line for CLEF, 0-based index into `Events` for a batch).
#[derive(Debug)]
pub enum IngestError {
    /// The body is not UTF-8.
    NotUtf8,
    /// A CLEF line that does not read as an event.
    Clef {
        /// 1-based line.
        line: usize,
        /// Why.
        source: ClefError,
    },
    /// A batch that is not `{"Events":[...]}`, or an event in it that is not an object.
    Batch {
        /// Why.
        reason: String,
    },
    /// An event that is not a JSON object.
    Malformed {
        /// Where: `line N` or `event N`.
        place: String,
        /// Why.
        reason: String,
    },
    /// An event of a batch that does not read as an event.
    BatchEvent {
        /// 0-based index into `Events`.
        index: usize,
        /// Why.
        source: ClefError,
    },
    /// An event that encodes larger than the log accepts.
    TooLarge {
        /// Where: `line N` or `event N`.
        place: String,
        /// Its encoded length.
        len: usize,
        /// The most the log accepts.
        max: usize,
    },
    /// An event that does not encode (a value nested too deep).
    Unencodable {
        /// Where: `line N` or `event N`.
        place: String,
        /// Why.
        reason: String,
    },
    /// More events than one request may carry.
    TooMany {
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotUtf8 => write!(f, "the body is not UTF-8"),
            Self::Clef { line, source } => write!(f, "line {line}: {source}"),
            Self::Batch { reason } => write!(f, "not a JSON batch {{\"Events\":[...]}}: {reason}"),
            Self::BatchEvent { index, source } => write!(f, "event {index}: {source}"),
            Self::Malformed { place, reason } => write!(f, "{place}: not a JSON object: {reason}"),
            Self::TooLarge { place, len, max } => {
                write!(f, "{place}: the event encodes to {len} bytes, more than the {max} allowed")
            }
            Self::Unencodable { place, reason } => write!(f, "{place}: {reason}"),
            Self::TooMany { max } => write!(f, "more than {max} events in one request"),
        }
    }
}

impl IngestError {
    /// Whether the refusal is for size (HTTP 413) rather than form (HTTP 400).
    pub fn is_size(&self) -> bool {
        matches!(self, Self::TooLarge { .. } | Self::TooMany { .. })
    }
}

/// Parses and checks every event of a body. `body_max` is the log's largest encoded event;
/// `events_max` the most events one request may carry.
///
/// # Errors
/// The first bad event, as [`IngestError`]: nothing of the request is to be stored.
pub fn parse(
    body: &[u8],
    shape: Shape,
    body_max: usize,
    events_max: usize,
) -> Result<Vec<Event>, IngestError> {
    let text = std::str::from_utf8(body).map_err(|_| IngestError::NotUtf8)?;
    let mut out = Vec::new();
    let mut encoded = Vec::new();
    let mut check = |event: Event, place: &dyn Fn() -> String| -> Result<(), IngestError> {
        if out.len() == events_max {
            return Err(IngestError::TooMany { max: events_max });
        }
        encoded.clear();
        event
            .encode_body(&mut encoded)
            .map_err(|e| IngestError::Unencodable { place: place(), reason: e.to_string() })?;
        if encoded.len() > body_max {
            return Err(IngestError::TooLarge {
                place: place(),
                len: encoded.len(),
                max: body_max,
            });
        }
        out.push(event);
        Ok(())
    };
    match shape {
        Shape::Clef => {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let line = normalize(line).map_err(|reason| IngestError::Malformed {
                    place: format!("line {}", i + 1),
                    reason,
                })?;
                let event = Event::from_clef(&line)
                    .map_err(|source| IngestError::Clef { line: i + 1, source })?;
                check(event, &|| format!("line {}", i + 1))?;
            }
        }
        Shape::JsonBatch => {
            #[derive(Deserialize)]
            struct Batch<'a> {
                #[serde(rename = "Events", borrow)]
                events: Vec<&'a RawValue>,
            }
            let batch: Batch<'_> = serde_json::from_str(text)
                .map_err(|e| IngestError::Batch { reason: e.to_string() })?;
            for (index, raw) in batch.events.iter().enumerate() {
                let line = clef_line(raw).map_err(|reason| IngestError::Batch {
                    reason: format!("event {index}: {reason}"),
                })?;
                let line = normalize(&line).map_err(|reason| IngestError::Malformed {
                    place: format!("event {index}"),
                    reason,
                })?;
                let event = Event::from_clef(&line)
                    .map_err(|source| IngestError::BatchEvent { index, source })?;
                check(event, &|| format!("event {index}"))?;
            }
        }
    }
    Ok(out)
}

/// One event of a JSON batch as a CLEF line: a CLEF object as it is; Seq's long form rewritten,
/// its `Properties` object spliced in as sent (so their order is kept).
fn clef_line(raw: &RawValue) -> Result<String, String> {
    #[derive(Deserialize)]
    struct Long<'a> {
        #[serde(rename = "Timestamp")]
        timestamp: Option<String>,
        #[serde(rename = "@t")]
        clef_t: Option<&'a RawValue>,
        #[serde(rename = "Level")]
        level: Option<String>,
        #[serde(rename = "MessageTemplate")]
        template: Option<String>,
        #[serde(rename = "RenderedMessage")]
        message: Option<String>,
        #[serde(rename = "Exception")]
        exception: Option<String>,
        #[serde(rename = "Properties", borrow)]
        properties: Option<&'a RawValue>,
    }
    let long: Long<'_> = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    if long.clef_t.is_some() {
        return Ok(raw.get().to_owned());
    }
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let mut line = String::from("{");
    let mut field = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            if line.len() > 1 {
                line.push(',');
            }
            line.push_str(&quote(name));
            line.push(':');
            line.push_str(&quote(&v));
        }
    };
    // Python's seqlog writes `2026-12-08 10:00:00.123+01:00`: RFC 3339 allows the space only
    // by agreement, Seq takes it, and so do we.
    let timestamp = long.timestamp.ok_or("no Timestamp")?;
    let timestamp = match timestamp.as_bytes().get(10) {
        Some(b' ') => format!("{}T{}", &timestamp[..10], &timestamp[11..]),
        _ => timestamp,
    };
    field("@t", Some(timestamp));
    field("@mt", long.template);
    field("@m", long.message);
    field("@l", long.level);
    field("@x", long.exception);
    if let Some(props) = long.properties {
        let text = props.get().trim();
        let inner = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .ok_or("Properties is not an object")?
            .trim();
        if !inner.is_empty() {
            line.push(',');
            line.push_str(inner);
        }
    }
    line.push('}');
    Ok(line)
}

/// The reserved CLEF fields the library's reader knows.
const KNOWN: [&str; 6] = ["@t", "@mt", "@m", "@l", "@x", "@i"];

/// Rewrites one CLEF object, keeping its fields in order, into what the library's strict reader
/// takes: other clients' level names (`CRITICAL`, Python's; the reader already takes `INFO`,
/// `WARN`, `TRACE` and Serilog's forms) become Serilog's, and reserved fields the event model
/// has no place for (`@r` renderings, `@tr` trace and `@sp` span ids) are kept as properties of
/// the same name (CLEF writes them back escaped, `@@tr`), never dropped.
fn normalize(line: &str) -> Result<String, String> {
    let fields = ordered_fields(line)?;
    let mut out = String::with_capacity(line.len() + 8);
    out.push('{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let key =
            if key.starts_with('@') && !key.starts_with("@@") && !KNOWN.contains(&key.as_str()) {
                format!("@{key}")
            } else {
                key.clone()
            };
        out.push_str(&serde_json::to_string(&key).map_err(|e| e.to_string())?);
        out.push(':');
        let level: Option<String> =
            (key == "@l").then(|| serde_json::from_str(value.get()).ok()).flatten();
        match level {
            Some(l) if l.eq_ignore_ascii_case("critical") => out.push_str("\"Fatal\""),
            _ => out.push_str(value.get()),
        }
    }
    out.push('}');
    Ok(out)
}

/// A JSON object's fields in the order written (serde_json's own map would sort them).
fn ordered_fields(text: &str) -> Result<Vec<(String, &RawValue)>, String> {
    struct Fields;
    impl<'de> serde::de::Visitor<'de> for Fields {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                out.push(entry);
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text.trim());
    let fields =
        serde::Deserializer::deserialize_map(&mut de, Fields).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtlog_audit::event::Value;
    use mtlog_audit::Level;

    #[test]
    fn clef_lines_become_events_and_a_bad_line_refuses_the_request_naming_it() {
        let body = b"{\"@t\":\"2026-12-08T10:00:00Z\",\"@mt\":\"User {U}\",\"U\":7}\n\n\
            {\"@t\":\"2026-12-08T10:00:01Z\",\"@mt\":\"Failed\",\"@l\":\"Error\",\"@x\":\"boom\"}\n";
        let events = parse(body, Shape::Clef, 1 << 20, 100).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].property("U"), Some(&Value::I64(7)));
        assert_eq!(events[1].level, Level::Error);
        assert_eq!(events[1].exception.as_deref(), Some("boom"));

        let bad = b"{\"@t\":\"2026-12-08T10:00:00Z\",\"@mt\":\"ok\"}\n{\"@mt\":\"no time\"}\n";
        let err = parse(bad, Shape::Clef, 1 << 20, 100).unwrap_err();
        assert!(matches!(err, IngestError::Clef { line: 2, .. }), "{err}");
        assert!(err.to_string().starts_with("line 2: "));
    }

    #[test]
    fn seq_long_form_batches_keep_property_order_and_clef_objects_pass_through() {
        let body = br#"{"Events":[
            {"Timestamp":"2026-12-08T10:00:00Z","Level":"Warning","MessageTemplate":"Disk {Z} {A}",
             "Properties":{"Z":1,"A":"x"}},
            {"@t":"2026-12-08T10:00:02Z","@mt":"Clef {B}","B":true}
        ]}"#;
        let events = parse(body, Shape::JsonBatch, 1 << 20, 100).unwrap();
        let names: Vec<&str> = events[0].properties.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["Z", "A"]);
        assert_eq!(events[0].level, Level::Warning);
        assert_eq!(events[1].property("B"), Some(&Value::Bool(true)));
        let err = parse(br#"{"Events":[{"Level":"Error"}]}"#, Shape::JsonBatch, 1 << 20, 100);
        assert!(matches!(err, Err(IngestError::Batch { .. })));
        assert!(matches!(
            parse(b"[1,2]", Shape::JsonBatch, 1 << 20, 100),
            Err(IngestError::Batch { .. })
        ));
    }

    #[test]
    fn other_clients_level_names_and_reserved_fields_are_kept_not_refused() {
        // seqlog (Python) with use_clef: Python level names, renderings, trace and span ids.
        let line = r#"{"@t":"2026-12-08T10:00:00.5+01:00","@l":"CRITICAL","@mt":"Disk {0}","@tr":"4bf92f","@sp":"00f067","@r":["sda"],"Z":1,"A":2}"#;
        let events = parse(line.as_bytes(), Shape::Clef, 1 << 20, 10).unwrap();
        assert_eq!(events[0].level, Level::Fatal);
        let names: Vec<&str> = events[0].properties.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["@tr", "@sp", "@r", "Z", "A"]);
        assert!(events[0].to_clef().contains(r#""@@tr":"4bf92f""#));
        // seqlog without CLEF: a space between date and time, Python's level name.
        let batch = r#"{"Events": [{"Timestamp": "2026-12-08 10:00:00.123456+00:00", "Level": "WARNING", "MessageTemplate": "m", "Properties": {}}]}"#;
        let events = parse(batch.as_bytes(), Shape::JsonBatch, 1 << 20, 10).unwrap();
        assert_eq!(
            (events[0].level, events[0].timestamp_nanos % 1_000_000_000),
            (Level::Warning, 123_456_000)
        );
        let err = parse(b"[1]", Shape::Clef, 1 << 20, 10).unwrap_err();
        assert!(err.to_string().starts_with("line 1: not a JSON object"), "{err}");
    }

    #[test]
    fn an_event_the_log_would_refuse_refuses_the_request_before_anything_is_stored() {
        let big = format!("{{\"@t\":\"2026-12-08T10:00:00Z\",\"@mt\":\"{}\"}}\n", "x".repeat(500));
        let body = format!("{{\"@t\":\"2026-12-08T10:00:00Z\",\"@mt\":\"small\"}}\n{big}");
        let err = parse(body.as_bytes(), Shape::Clef, 256, 100).unwrap_err();
        assert!(matches!(&err, IngestError::TooLarge { place, max: 256, .. } if place == "line 2"));
        assert!(err.is_size());
        let two = "{\"@t\":\"2026-12-08T10:00:00Z\",\"@mt\":\"a\"}\n".repeat(3);
        assert!(matches!(
            parse(two.as_bytes(), Shape::Clef, 1 << 20, 2),
            Err(IngestError::TooMany { max: 2 })
        ));
        assert!(matches!(parse(b"\xff\xfe", Shape::Clef, 1 << 20, 2), Err(IngestError::NotUtf8)));
    }
}
