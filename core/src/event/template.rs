//! Serilog-style message templates: `"User {UserId} accessed record {RecordId}"`.
//!
//! Syntax, as Serilog reads it:
//!
//! - `{Name}` is a property token. `Name` is letters, digits and `_` (so `{0}` works too).
//! - `{@Name}` and `{$Name}` carry Serilog's destructure/stringify hints. Our values are already
//!   structured, so both render like `{Name}`.
//! - `{Name,10}` right-aligns to 10 characters, `{Name,-10}` left-aligns (at most
//!   [`MAX_ALIGNMENT`], so a hostile template cannot make us allocate gigabytes).
//! - `{Name:format}` is accepted and the format is ignored: .NET format strings have no faithful
//!   Rust equivalent, and a half-right number format is worse in an audit log than none.
//! - `{{` and `}}` are literal braces. Anything else that is not a valid token (an unclosed `{`,
//!   `{not valid}`, a lone `}`) is literal text, never an error: rendering is total.
//!
//! Rendering: a token whose property is missing is left exactly as written, so the reader sees
//! what was not supplied. Strings render without quotes at the top level (`alice`, not
//! `"alice"`) for readability; inside arrays and maps they are quoted so `["a, b"]` stays
//! unambiguous. Numbers render plainly, bytes as lowercase hex, `Null` as `null`.
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::event::{template, Value};
//!
//! let props = vec![("User".to_string(), Value::from("bob")), ("Id".into(), 7u8.into())];
//! let text = "{User,-5}|{Id,3}|{Id:X4}|{@User}|{oops";
//! assert_eq!(template::render(text, &props), "bob  |  7|7|bob|{oops");
//! assert_eq!(template::property_names(text), ["User", "Id"]);
//!
//! // Wider than MAX_ALIGNMENT: not a token, so literal text.
//! let wide = format!("{{Id,{}}}", template::MAX_ALIGNMENT + 1);
//! assert_eq!(template::render(&wide, &props), wide);
//! ```

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;

use super::Value;

/// Renders `template` with `properties` substituted (the first property of a name wins).
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::{template, Value};
/// let props = vec![("UserId".to_string(), Value::from("alice")), ("N".into(), 3u8.into())];
/// assert_eq!(
///     template::render("{UserId} read {N} records {{sic}} {Missing}", &props),
///     "alice read 3 records {sic} {Missing}"
/// );
/// ```
pub fn render(template: &str, properties: &[(String, Value)]) -> String {
    let mut out = String::with_capacity(template.len());
    for token in tokens(template) {
        match token {
            Token::Text(text) => out.push_str(text),
            Token::Property(property) => {
                match properties.iter().find(|(name, _)| name == property.name) {
                    Some((_, value)) => push_aligned(&mut out, value, property.alignment),
                    None => out.push_str(property.raw),
                }
            }
        }
    }
    out
}

/// The property names `template` refers to, in order of first appearance, each once, without
/// the `@`/`$` hint.
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::template;
/// assert_eq!(template::property_names("{A} {@B,5} {A:x} {{C}}"), vec!["A", "B"]);
/// ```
pub fn property_names(template: &str) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for token in tokens(template) {
        if let Token::Property(property) = token {
            if !names.contains(&property.name) {
                names.push(property.name);
            }
        }
    }
    names
}

/// The widest `{Name,width}` alignment honoured; wider tokens are literal text. See the
/// [module docs](self) for an example.
pub const MAX_ALIGNMENT: usize = 1024;

/// One piece of a parsed template.
#[derive(Debug, PartialEq)]
enum Token<'a> {
    /// Literal text (an escaped brace is a one-character text token).
    Text(&'a str),
    /// A property token.
    Property(PropertyToken<'a>),
}

/// A `{...}` token that names a property.
#[derive(Debug, PartialEq)]
struct PropertyToken<'a> {
    /// The token exactly as written, braces included, for when the property is missing.
    raw: &'a str,
    /// The property name, without hint, alignment or format.
    name: &'a str,
    alignment: Option<Alignment>,
}

/// Padding requested by `{Name,width}` (right) or `{Name,-width}` (left).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Alignment {
    width: usize,
    left: bool,
}

/// Iterates over the tokens of `template`; the tokens' text concatenates back to `template`.
fn tokens(template: &str) -> impl Iterator<Item = Token<'_>> {
    let mut rest = template;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (token, after) = next_token(rest);
        assert!(after.len() < rest.len(), "every token consumes input");
        rest = after;
        Some(token)
    })
}

/// Splits the first token off non-empty `text`, returning it and the rest.
fn next_token(text: &str) -> (Token<'_>, &str) {
    let bytes = text.as_bytes();
    let Some(brace) = bytes.iter().position(|&b| b == b'{' || b == b'}') else {
        return (Token::Text(text), "");
    };
    if brace > 0 {
        return split_text(text, brace);
    }
    let doubled = bytes.get(1) == bytes.first();
    match (bytes.first(), doubled) {
        // `{{` or `}}`: the first brace is the literal, the second is dropped.
        (_, true) => (Token::Text(prefix(text, 1)), suffix(text, 2)),
        (Some(b'{'), false) => next_property(text),
        // A lone `}` is literal text.
        _ => split_text(text, 1),
    }
}

/// Parses `text`, which starts with a single `{`, as a property token or else as literal text.
fn next_property(text: &str) -> (Token<'_>, &str) {
    let bytes = text.as_bytes();
    let close = bytes.iter().skip(1).position(|&b| b == b'{' || b == b'}').map(|i| i + 1);
    match close {
        // Unclosed: literal to the end.
        None => (Token::Text(text), ""),
        // Another `{` first: literal up to it, so `{a {B}` still finds `{B}`.
        Some(index) if bytes.get(index) == Some(&b'{') => split_text(text, index),
        Some(index) => {
            let raw = prefix(text, index + 1);
            let content = raw.get(1..index).unwrap_or("");
            match parse_tag(raw, content) {
                Some(property) => (Token::Property(property), suffix(text, index + 1)),
                None => split_text(text, index + 1),
            }
        }
    }
}

/// Reads the inside of a `{...}` token: `[@|$]Name[,alignment][:format]`.
fn parse_tag<'a>(raw: &'a str, content: &'a str) -> Option<PropertyToken<'a>> {
    let unhinted = content.strip_prefix(['@', '$']).unwrap_or(content);
    let before_format = match unhinted.split_once(':') {
        Some((before, _format)) => before,
        None => unhinted,
    };
    let (name, alignment) = match before_format.split_once(',') {
        Some((name, alignment)) => (name, Some(parse_alignment(alignment)?)),
        None => (before_format, None),
    };
    let valid_name = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
    valid_name.then_some(PropertyToken { raw, name, alignment })
}

fn parse_alignment(text: &str) -> Option<Alignment> {
    let (left, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let width: usize = digits.parse().ok()?;
    (width <= MAX_ALIGNMENT).then_some(Alignment { width, left })
}

/// `(Text(text[..at]), text[at..])`; `at` always falls on an ASCII brace or the end.
fn split_text(text: &str, at: usize) -> (Token<'_>, &str) {
    (Token::Text(prefix(text, at)), suffix(text, at))
}

fn prefix(text: &str, at: usize) -> &str {
    text.get(..at).unwrap_or(text)
}

fn suffix(text: &str, at: usize) -> &str {
    text.get(at..).unwrap_or("")
}

/// Appends `value`, padded with spaces to `alignment` if given.
fn push_aligned(out: &mut String, value: &Value, alignment: Option<Alignment>) {
    let Some(Alignment { width, left }) = alignment else {
        push_value(out, value, false);
        return;
    };
    let mut rendered = String::new();
    push_value(&mut rendered, value, false);
    let padding = width.saturating_sub(rendered.chars().count());
    if left {
        out.push_str(&rendered);
    }
    out.extend(std::iter::repeat_n(' ', padding));
    if !left {
        out.push_str(&rendered);
    }
}

/// Appends the display form of `value`; `nested` values quote their strings.
fn push_value(out: &mut String, value: &Value, nested: bool) {
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
        Value::F64(x) => push_float(out, *x),
        Value::Str(s) if nested => {
            let _ = write!(out, "{s:?}");
        }
        Value::Str(s) => out.push_str(s),
        Value::Bytes(bytes) => {
            for byte in bytes {
                let _ = write!(out, "{byte:02x}");
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                push_value(out, item, true);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (index, (name, item)) in entries.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                out.push_str(name);
                out.push_str(": ");
                push_value(out, item, true);
            }
            out.push('}');
        }
    }
}

/// Shortest text that reads back as the same float; non-finite values use the CLEF names.
fn push_float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // `Debug` switches to exponent form for very large and small magnitudes, where
        // `Display` would print hundreds of digits.
        let _ = write!(out, "{x:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn props() -> Vec<(String, Value)> {
        vec![
            ("UserId".into(), Value::from("alice")),
            ("RecordId".into(), Value::from(42u64)),
            ("Delta".into(), Value::from(-7i64)),
            ("Ratio".into(), Value::from(0.25)),
            ("Tags".into(), Value::Array(vec!["a".into(), 1u8.into(), Value::Null])),
            (
                "Who".into(),
                Value::Map(vec![("Name".into(), "bob".into()), ("Ok".into(), true.into())]),
            ),
            ("Hash".into(), Value::Bytes(vec![0xde, 0xad, 0x01])),
        ]
    }

    #[test]
    fn properties_render_plainly_in_place() {
        let cases = [
            ("User {UserId} accessed record {RecordId}", "User alice accessed record 42"),
            ("{Delta} {Ratio}", "-7 0.25"),
            ("{Tags}", "[\"a\", 1, null]"),
            ("{Who}", "{Name: \"bob\", Ok: true}"),
            ("{Hash}", "dead01"),
            ("{@Who} {$UserId}", "{Name: \"bob\", Ok: true} alice"),
            ("{RecordId:000.00}", "42"),
            ("", ""),
            ("no tokens at all", "no tokens at all"),
        ];
        for (template, expected) in cases {
            assert_eq!(render(template, &props()), expected, "{template}");
        }
    }

    #[test]
    fn doubled_braces_are_literal_braces() {
        assert_eq!(render("{{UserId}}", &props()), "{UserId}");
        assert_eq!(render("{{{UserId}}}", &props()), "{alice}");
        assert_eq!(render("a }} b {{ c", &props()), "a } b { c");
    }

    #[test]
    fn missing_properties_and_invalid_tokens_stay_as_written() {
        let cases = [
            "{Missing}",
            "{Missing,5:x}",
            "{@Missing}",
            "{}",
            "{not valid}",
            "{UserId",
            "lone } brace",
            "{UserId,abc}",
            "{UserId,99999999999999999999999}",
            "{UserId,1025}",
            "{é",
        ];
        for template in cases {
            assert_eq!(render(template, &props()), template);
        }
        assert_eq!(render("{a {UserId}", &props()), "{a alice");
    }

    #[test]
    fn alignment_pads_by_characters() {
        assert_eq!(render("[{UserId,8}]", &props()), "[   alice]");
        assert_eq!(render("[{UserId,-8}]", &props()), "[alice   ]");
        assert_eq!(render("[{UserId,2}]", &props()), "[alice]");
        let wide = vec![("W".to_string(), Value::from("héé"))];
        assert_eq!(render("[{W,5:x}]", &wide), "[  héé]");
    }

    #[test]
    fn floats_render_readably_including_non_finite() {
        let render_one = |x: f64| render("{X}", &[("X".into(), x.into())]);
        assert_eq!(render_one(1.0), "1.0");
        assert_eq!(render_one(1e300), "1e300");
        assert_eq!(render_one(f64::NAN), "NaN");
        assert_eq!(render_one(f64::INFINITY), "Infinity");
        assert_eq!(render_one(f64::NEG_INFINITY), "-Infinity");
    }

    #[test]
    fn first_property_of_a_name_wins() {
        let duplicated = vec![("A".to_string(), Value::from(1u8)), ("A".into(), 2u8.into())];
        assert_eq!(render("{A}", &duplicated), "1");
    }

    #[test]
    fn property_names_come_in_order_once_without_hints() {
        assert_eq!(
            property_names("User {UserId} accessed {@Record,-3:x} as {UserId} {$0} {{Esc}} {}"),
            vec!["UserId", "Record", "0"]
        );
        assert!(property_names("plain").is_empty());
    }

    proptest! {
        #[test]
        fn tokens_concatenate_back_to_the_template(template in "[{}a-c@$,:\\-0-9 ]{0,30}") {
            // Goal: tokenising loses no text, so rendering with no properties is the identity
            // modulo brace escapes. Method: rebuild the template from token slices.
            let mut rebuilt = String::new();
            let mut rest = template.as_str();
            while !rest.is_empty() {
                let consumed_before = template.len() - rest.len();
                let (token, after) = next_token(rest);
                let consumed = rest.len() - after.len();
                let original = &template[consumed_before..consumed_before + consumed];
                match token {
                    Token::Text(text) if original.len() == 2 && text.len() == 1 => {
                        prop_assert!(original == "{{" || original == "}}");
                        rebuilt.push_str(original);
                    }
                    Token::Text(text) => {
                        prop_assert_eq!(text, original);
                        rebuilt.push_str(text);
                    }
                    Token::Property(property) => {
                        prop_assert_eq!(property.raw, original);
                        rebuilt.push_str(property.raw);
                    }
                }
                rest = after;
            }
            prop_assert_eq!(rebuilt, template);
        }

        #[test]
        fn arbitrary_templates_never_panic(template in "\\PC{0,40}") {
            let _ = render(&template, &props());
            let _ = property_names(&template);
        }
    }
}
