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
                let event = Event::from_clef(line)
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
    field("@t", Some(long.timestamp.ok_or("no Timestamp")?));
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
