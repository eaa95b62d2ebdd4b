//! [`Level`]: how severe an event is, named as Serilog and CLEF name it.
//!
//! The numeric codes (`as_u8`) are part of the WAL body format: never renumber a variant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Severity of an event, ordered `Verbose < Debug < Information < Warning < Error < Fatal`.
///
/// The names match Serilog's `LogEventLevel` so CLEF files open in Seq and friends unchanged.
///
/// # Examples
///
/// ```
/// use mtlog_audit::Level;
///
/// assert!(Level::Warning > Level::Information);
/// assert_eq!(Level::Warning.as_str(), "Warning");
/// assert_eq!(Level::Warning.to_string(), "Warning");
/// assert_eq!("WRN".parse::<Level>(), Ok(Level::Warning)); // Serilog's short form
/// assert_eq!("warn".parse::<Level>(), Ok(Level::Warning));
/// assert!("loud".parse::<Level>().is_err());
/// assert_eq!(Level::from_u8(Level::Fatal.as_u8()), Some(Level::Fatal));
/// assert_eq!(Level::from_u8(6), None);
/// assert_eq!(Level::ALL.len(), 6);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Level {
    /// Tracing detail, normally off.
    Verbose,
    /// Internal detail useful while debugging.
    Debug,
    /// Normal operation worth recording. CLEF omits `@l` for this level.
    Information,
    /// Something unexpected that the system survived.
    Warning,
    /// An operation failed.
    Error,
    /// The process or a whole subsystem cannot go on.
    Fatal,
}

/// A level name that [`Level::from_str`] does not know.
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::{Level, ParseLevelError};
///
/// let err = "Loud".parse::<Level>().unwrap_err();
/// assert_eq!(err, ParseLevelError { found: "Loud".into() });
/// assert!(err.to_string().starts_with(r#"level: unknown name "Loud", expected one of"#));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseLevelError {
    /// The text that was offered.
    pub found: String,
}

impl Level {
    /// Every level, lowest first. See [`Level`] for an example.
    pub const ALL: [Level; 6] = [
        Level::Verbose,
        Level::Debug,
        Level::Information,
        Level::Warning,
        Level::Error,
        Level::Fatal,
    ];

    /// The Serilog/CLEF name: `"Verbose"`, `"Debug"`, `"Information"`, `"Warning"`, `"Error"`,
    /// `"Fatal"`. See [`Level`] for an example.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Verbose => "Verbose",
            Level::Debug => "Debug",
            Level::Information => "Information",
            Level::Warning => "Warning",
            Level::Error => "Error",
            Level::Fatal => "Fatal",
        }
    }

    /// The stable numeric code, 0 (`Verbose`) to 5 (`Fatal`), used in the WAL body. See
    /// [`Level`] for an example.
    pub fn as_u8(self) -> u8 {
        match self {
            Level::Verbose => 0,
            Level::Debug => 1,
            Level::Information => 2,
            Level::Warning => 3,
            Level::Error => 4,
            Level::Fatal => 5,
        }
    }

    /// The level with numeric code `code`, or `None` for a code no level has (corruption or a
    /// newer format). See [`Level`] for an example.
    pub fn from_u8(code: u8) -> Option<Level> {
        Level::ALL.get(usize::from(code)).copied()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = ParseLevelError;

    /// Accepts, ignoring ASCII case, the full names, Serilog's three-letter forms (`VRB`, `DBG`,
    /// `INF`, `WRN`, `ERR`, `FTL`) and the common aliases `info`, `warn` and `trace` (=
    /// `Verbose`), so logs from other ecosystems import without a mapping table.
    fn from_str(text: &str) -> Result<Level, ParseLevelError> {
        let lower = text.to_ascii_lowercase();
        let level = match lower.as_str() {
            "verbose" | "vrb" | "trace" => Level::Verbose,
            "debug" | "dbg" => Level::Debug,
            "information" | "inf" | "info" => Level::Information,
            "warning" | "wrn" | "warn" => Level::Warning,
            "error" | "err" => Level::Error,
            "fatal" | "ftl" => Level::Fatal,
            _ => return Err(ParseLevelError { found: text.to_owned() }),
        };
        Ok(level)
    }
}

impl fmt::Display for ParseLevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "level: unknown name {:?}, expected one of Verbose, Debug, Information, Warning, \
             Error, Fatal",
            self.found
        )
    }
}

impl std::error::Error for ParseLevelError {}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_severity_order_and_round_trip() {
        for (index, level) in Level::ALL.iter().enumerate() {
            assert_eq!(usize::from(level.as_u8()), index);
            assert_eq!(Level::from_u8(level.as_u8()), Some(*level));
        }
        assert!(Level::ALL.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(Level::from_u8(6), None);
        assert_eq!(Level::from_u8(255), None);
    }

    #[test]
    fn names_short_forms_and_aliases_parse_ignoring_case() {
        for level in Level::ALL {
            assert_eq!(level.as_str().parse::<Level>(), Ok(level));
            assert_eq!(level.as_str().to_uppercase().parse::<Level>(), Ok(level));
        }
        let cases = [
            ("VRB", Level::Verbose),
            ("trace", Level::Verbose),
            ("dbg", Level::Debug),
            ("INF", Level::Information),
            ("Info", Level::Information),
            ("WRN", Level::Warning),
            ("warn", Level::Warning),
            ("err", Level::Error),
            ("FTL", Level::Fatal),
        ];
        for (text, level) in cases {
            assert_eq!(text.parse::<Level>(), Ok(level), "{text}");
        }
    }

    #[test]
    fn unknown_name_is_reported_as_written() {
        let err = "Critical".parse::<Level>().unwrap_err();
        assert_eq!(err.found, "Critical");
        assert!(err.to_string().starts_with("level: unknown name \"Critical\""));
    }
}
