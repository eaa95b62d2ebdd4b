//! [`EventId`]: the 16-byte identity every event carries from emit to export.
//!
//! The id is opaque bytes, not a UUID with a version: callers mint it from `io::Entropy` (or
//! anything unique). We only borrow the UUID text layout because every log viewer and
//! spreadsheet already recognises it.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// A 16-byte event identifier.
///
/// Text form (`Display`/`FromStr`) is lowercase hex in UUID layout, `8-4-4-4-12`, for example
/// `00112233-4455-6677-8899-aabbccddeeff`. Serde writes that string in human-readable formats
/// (JSON) and the 16 raw bytes in binary ones (postcard), so a WAL body spends no bytes on hex.
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::{EventId, ParseEventIdError};
///
/// let id: EventId = "00112233-4455-6677-8899-AABBCCDDEEFF".parse()?;
/// assert_eq!(id.0[15], 0xff);
/// assert_eq!(id.to_string(), "00112233-4455-6677-8899-aabbccddeeff");
/// assert_eq!(EventId::ZERO.to_string(), "00000000-0000-0000-0000-000000000000");
/// assert_eq!("0011".parse::<EventId>(), Err(ParseEventIdError::Length { found: 4 }));
/// # Ok::<(), ParseEventIdError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId(pub [u8; 16]);

/// Why a string is not an [`EventId`] in `8-4-4-4-12` hex form.
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::{EventId, ParseEventIdError};
///
/// let err = "00112233-4455-6677-8899_aabbccddeeff".parse::<EventId>().unwrap_err();
/// assert_eq!(err, ParseEventIdError::Char { index: 23, expected: "'-'" });
/// assert_eq!(err.to_string(), "event id: expected '-' at byte 23");
///
/// let err = "0011".parse::<EventId>().unwrap_err();
/// assert_eq!(err.to_string(), "event id: expected 36 characters, found 4");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseEventIdError {
    /// The text is not exactly 36 bytes long.
    Length {
        /// Bytes found.
        found: usize,
    },
    /// A byte at `index` is not what the layout needs there (a hex digit or a `-`).
    Char {
        /// 0-based byte index into the text.
        index: usize,
        /// What the layout needs at `index`.
        expected: &'static str,
    },
}

impl EventId {
    /// The all-zero id: what CLEF lines without `@i` get, so "no id" is visible, not random.
    /// See [`EventId`] for an example.
    pub const ZERO: EventId = EventId([0; 16]);
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, byte) in self.0.iter().enumerate() {
            if DASH_BEFORE_BYTE.contains(&index) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl FromStr for EventId {
    type Err = ParseEventIdError;

    /// Parses the `8-4-4-4-12` hex layout. Upper-case hex digits are accepted; `Display`
    /// always writes lower case.
    fn from_str(text: &str) -> Result<EventId, ParseEventIdError> {
        let bytes = text.as_bytes();
        if bytes.len() != TEXT_LEN {
            return Err(ParseEventIdError::Length { found: bytes.len() });
        }
        let mut id = [0u8; 16];
        let mut index = 0;
        for (byte_index, slot) in id.iter_mut().enumerate() {
            if DASH_BEFORE_BYTE.contains(&byte_index) {
                if bytes.get(index) != Some(&b'-') {
                    return Err(ParseEventIdError::Char { index, expected: "'-'" });
                }
                index += 1;
            }
            let high = hex_digit(bytes, index)?;
            let low = hex_digit(bytes, index + 1)?;
            *slot = (high << 4) | low;
            index += 2;
        }
        assert_eq!(index, TEXT_LEN);
        Ok(EventId(id))
    }
}

impl fmt::Display for ParseEventIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseEventIdError::Length { found } => {
                write!(f, "event id: expected {TEXT_LEN} characters, found {found}")
            }
            ParseEventIdError::Char { index, expected } => {
                write!(f, "event id: expected {expected} at byte {index}")
            }
        }
    }
}

impl std::error::Error for ParseEventIdError {}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.collect_str(self)
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<EventId, D::Error> {
        if deserializer.is_human_readable() {
            deserializer.deserialize_str(EventIdTextVisitor)
        } else {
            <[u8; 16]>::deserialize(deserializer).map(EventId)
        }
    }
}

/// Reads the text form in human-readable formats.
struct EventIdTextVisitor;

impl Visitor<'_> for EventIdTextVisitor {
    type Value = EventId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event id in 8-4-4-4-12 hex form")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<EventId, E> {
        text.parse().map_err(E::custom)
    }
}

/// The value of the hex digit at `index`, or which byte was wrong.
fn hex_digit(bytes: &[u8], index: usize) -> Result<u8, ParseEventIdError> {
    let digit = bytes.get(index).and_then(|&b| (b as char).to_digit(16));
    match digit {
        // `to_digit(16)` returns at most 15, so the cast cannot truncate.
        Some(value) => Ok(value as u8),
        None => Err(ParseEventIdError::Char { index, expected: "a hex digit" }),
    }
}

/// Byte indices (into the 16 id bytes) that a `-` precedes in the text form.
const DASH_BEFORE_BYTE: [usize; 4] = [4, 6, 8, 10];

/// Length of the text form: 32 hex digits and 4 dashes.
const TEXT_LEN: usize = 36;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_uses_lowercase_uuid_layout() {
        let id = EventId([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ]);
        assert_eq!(id.to_string(), "00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(format!("{id:?}"), "EventId(00112233-4455-6677-8899-aabbccddeeff)");
    }

    #[test]
    fn upper_case_hex_is_accepted() {
        let id: EventId = "00112233-4455-6677-8899-AABBCCDDEEFF".parse().unwrap();
        assert_eq!(id.to_string(), "00112233-4455-6677-8899-aabbccddeeff");
    }

    #[test]
    fn malformed_text_names_the_wrong_byte() {
        assert_eq!(
            "00112233-4455-6677-8899-aabbccddeef".parse::<EventId>(),
            Err(ParseEventIdError::Length { found: 35 })
        );
        assert_eq!(
            "00112233x4455-6677-8899-aabbccddeeff".parse::<EventId>(),
            Err(ParseEventIdError::Char { index: 8, expected: "'-'" })
        );
        assert_eq!(
            "0011223g-4455-6677-8899-aabbccddeeff".parse::<EventId>(),
            Err(ParseEventIdError::Char { index: 7, expected: "a hex digit" })
        );
        // A multi-byte character must be an error, not a panic on a char boundary.
        assert!("é0112233-4455-6677-8899-aabbccddeef".parse::<EventId>().is_err());
    }

    #[test]
    fn serde_writes_text_in_json_and_raw_bytes_in_postcard() {
        let id = EventId([7; 16]);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"07070707-0707-0707-0707-070707070707\"");
        assert_eq!(serde_json::from_str::<EventId>(&json).unwrap(), id);
        let bytes = postcard::to_allocvec(&id).unwrap();
        assert_eq!(bytes, vec![7; 16]);
        assert_eq!(postcard::from_bytes::<EventId>(&bytes).unwrap(), id);
    }

    proptest! {
        #[test]
        fn text_form_round_trips(bytes in any::<[u8; 16]>()) {
            let id = EventId(bytes);
            prop_assert_eq!(id.to_string().parse::<EventId>(), Ok(id));
        }
    }
}
