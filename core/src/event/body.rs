//! The WAL record body: one [`Event`] as a version byte followed by postcard.
//!
//! The byte layout is documented on [`BODY_VERSION`].
//!
//! Tags and level codes are the on-disk format: never renumber them; add new ones at the end
//! and bump the version byte if old readers must refuse.
//!
//! Decoding treats the bytes as hostile even though a checksum covered them (the checksum
//! proves we wrote them, not that a past version of us wrote them correctly): it never panics,
//! allocates at most a small multiple of the input, refuses values nested deeper than
//! [`MAX_VALUE_DEPTH`] before recursing further, refuses trailing bytes, and refuses every
//! spelling of an event but its one canonical encoding (so decode and encode are inverses).

// Maintainers: the serde plumbing below uses seeds so each nested value knows its depth. Serde
// errors cannot carry our typed reasons through postcard (its custom error has no payload), so
// the seeds record the reason in a `Cell` beside the decoder and the top level reads it back.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, SeqAccess, VariantAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple, Serializer};
use serde::Serialize;

use super::{Event, EventId, Level, Value, MAX_VALUE_DEPTH};

/// Why an event body could not be encoded or decoded.
///
/// Decoding names the byte offset where it stopped. A body cut short (a torn write, say) is
/// `Malformed` with [`MalformedKind::UnexpectedEnd`]:
///
/// ```
/// use mtlog_audit::event::{BodyError, Event, EventId, Level, MalformedKind, BODY_VERSION};
///
/// let event = Event::new(EventId::ZERO, 0, Level::Information, "Hello").render();
/// let mut body = Vec::new();
/// event.encode_body(&mut body)?;
///
/// let torn = Event::decode_body(&body[..body.len() - 2]).unwrap_err();
/// assert!(matches!(
///     torn,
///     BodyError::Malformed { kind: MalformedKind::UnexpectedEnd, .. }
/// ));
/// assert!(torn.to_string().starts_with("event body: malformed postcard at byte "));
/// assert!(torn.to_string().ends_with(": unexpected end of input"));
///
/// body[0] = BODY_VERSION + 1; // written by a newer version
/// let newer = Event::decode_body(&body).unwrap_err();
/// assert_eq!(newer, BodyError::UnsupportedVersion { found: 2, supported: 1 });
/// assert_eq!(newer.to_string(), "event body: format version 2, this build reads version 1");
/// # Ok::<(), BodyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyError {
    /// Encoding: a property value nests deeper than [`MAX_VALUE_DEPTH`]. Refused at encode so
    /// the WAL never holds a body that decode would reject.
    PropertyTooDeep {
        /// The property's name.
        name: String,
    },
    /// Decoding: the body has no bytes at all.
    Empty,
    /// Decoding: the version byte is not one this build reads.
    UnsupportedVersion {
        /// Version byte found.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// Decoding: the record's body encoding (its header's `encoding` byte) is not one this
    /// build reads, for example an encrypted envelope read without its key support.
    UnreadableEncoding {
        /// The encoding byte.
        found: u8,
    },
    /// Decoding: a value nests deeper than [`MAX_VALUE_DEPTH`].
    ValueTooDeep {
        /// Body offset where decoding stopped.
        offset: usize,
    },
    /// Decoding: a level code no [`Level`] has.
    UnknownLevel {
        /// Body offset where decoding stopped.
        offset: usize,
        /// The code found.
        found: u8,
    },
    /// Decoding: a value tag no [`Value`] kind has.
    UnknownValueTag {
        /// Body offset where decoding stopped.
        offset: usize,
        /// The tag found.
        found: u32,
    },
    /// Decoding: bytes that are not a postcard event of this layout.
    Malformed {
        /// Body offset where decoding stopped.
        offset: usize,
        /// What postcard found wrong.
        kind: MalformedKind,
    },
    /// Decoding: a whole event followed by extra bytes.
    TrailingBytes {
        /// Extra bytes after the event.
        count: usize,
    },
    /// Decoding: an event spelled with a non-canonical encoding (a varint with superfluous
    /// continuation bytes). Every event has exactly one body, the one [`Event::encode_body`]
    /// writes, so decode, encode and the leaf hash over the stored bytes always agree.
    NonCanonical {
        /// Body offset of the first byte that differs from the canonical encoding.
        offset: usize,
    },
}

/// What was wrong with malformed postcard bytes. See [`BodyError`] for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MalformedKind {
    /// The bytes ended inside a field (a torn or truncated body).
    UnexpectedEnd,
    /// A varint longer than its type allows.
    BadVarint,
    /// A bool byte other than 0 or 1.
    BadBool,
    /// A string that is not UTF-8.
    BadUtf8,
    /// An option tag other than 0 or 1.
    BadOption,
    /// Any other postcard complaint.
    Other,
}

/// The body format version: the first byte of every body, and the only one this build reads.
///
/// A body is this byte followed by a postcard tuple:
///
/// ```text
/// body   = version:u8 (= 1)  tuple
/// tuple  = id:16 bytes  timestamp_nanos:zigzag varint  level:u8 (0 Verbose .. 5 Fatal)
///          template:str  message:str  properties:entries  exception:(0 | 1 str)
/// entries = count:varint  (name:str value)*
/// value  = tag:varint then, by tag:
///          0 Null: nothing          1 Bool: u8 (0 | 1)      2 I64: zigzag varint
///          3 U64: varint            4 F64: 8 bytes LE        5 Str: str
///          6 Bytes: len:varint bytes                         7 Array: count:varint value*
///          8 Map: entries
/// str    = len:varint  UTF-8 bytes
/// ```
///
/// Every varint is LEB128 (postcard); signed ones are zigzag-encoded first.
///
/// See [`Event::encode_body`] for an example.
pub const BODY_VERSION: u8 = 1;

/// Appends `BODY_VERSION` and the postcard tuple of `event` to `out`.
///
/// Allocates nothing but the growth of `out`. On error `out` is unchanged.
pub(super) fn encode(event: &Event, out: &mut Vec<u8>) -> Result<(), BodyError> {
    // Bounded-depth check first (recursion stops at the limit), so serialising below recurses
    // at most MAX_VALUE_DEPTH levels and never writes a body decode would refuse.
    if let Some((name, _)) = event.properties.iter().find(|(_, value)| value.is_too_deep()) {
        return Err(BodyError::PropertyTooDeep { name: name.clone() });
    }
    let start = out.len();
    out.push(BODY_VERSION);
    let written = postcard::serialize_with_flavor(&BodyRef(event), ExtendVec(out));
    if let Err(cause) = written {
        // Cannot happen: `ExtendVec` never refuses a byte, every sequence has a known length
        // and no `Serialize` impl here returns a custom error. A failure is our bug.
        unreachable!("event body: postcard refused an in-memory event: {cause}");
    }
    assert!(out.len() > start + 1, "a body holds at least the version and the id");
    debug_assert!(out.get(start..).is_some_and(|body| decode(body).is_ok()));
    Ok(())
}

/// Decodes a body written by [`encode`].
pub(super) fn decode(bytes: &[u8]) -> Result<Event, BodyError> {
    let Some((&version, tuple)) = bytes.split_first() else {
        return Err(BodyError::Empty);
    };
    if version != BODY_VERSION {
        return Err(BodyError::UnsupportedVersion { found: version, supported: BODY_VERSION });
    }
    let problem = Cell::new(None);
    let mut deserializer = postcard::Deserializer::from_bytes(tuple);
    let decoded = EventSeed { problem: &problem }.deserialize(&mut deserializer);
    // The slice flavour's `finalize` only reports the unread rest; it cannot fail.
    let remaining = deserializer.finalize().map_or(0, <[u8]>::len);
    assert!(remaining <= tuple.len());
    let offset = bytes.len() - remaining;
    match (decoded, problem.get()) {
        (Ok(event), _) if remaining == 0 => match first_difference(&event, tuple) {
            None => Ok(event),
            Some(at) => Err(BodyError::NonCanonical { offset: 1 + at }),
        },
        (Ok(_), _) => Err(BodyError::TrailingBytes { count: remaining }),
        (Err(_), Some(problem)) => Err(problem.at(offset)),
        (Err(cause), None) => Err(BodyError::Malformed { offset, kind: cause.into() }),
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event body: ")?;
        match self {
            BodyError::PropertyTooDeep { name } => {
                write!(f, "property {name:?} nests values deeper than {MAX_VALUE_DEPTH}")
            }
            BodyError::Empty => f.write_str("empty, expected a version byte"),
            BodyError::UnsupportedVersion { found, supported } => {
                write!(f, "format version {found}, this build reads version {supported}")
            }
            BodyError::UnreadableEncoding { found } => {
                write!(f, "body encoding {found} is not readable by this version")
            }
            BodyError::ValueTooDeep { offset } => {
                write!(f, "value nesting deeper than {MAX_VALUE_DEPTH} at byte {offset}")
            }
            BodyError::UnknownLevel { offset, found } => {
                write!(f, "unknown level code {found} at byte {offset}, expected 0 to 5")
            }
            BodyError::UnknownValueTag { offset, found } => {
                write!(f, "unknown value tag {found} at byte {offset}, expected 0 to 8")
            }
            BodyError::Malformed { offset, kind } => {
                write!(f, "malformed postcard at byte {offset}: {kind}")
            }
            BodyError::TrailingBytes { count } => write!(f, "{count} trailing bytes"),
            BodyError::NonCanonical { offset } => {
                write!(f, "non-canonical encoding at byte {offset}, expected the one encoding")
            }
        }
    }
}

impl std::error::Error for BodyError {}

impl fmt::Display for MalformedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MalformedKind::UnexpectedEnd => "unexpected end of input",
            MalformedKind::BadVarint => "varint too long",
            MalformedKind::BadBool => "bool byte not 0 or 1",
            MalformedKind::BadUtf8 => "string not utf-8",
            MalformedKind::BadOption => "option tag not 0 or 1",
            MalformedKind::Other => "bytes do not match the event layout",
        })
    }
}

impl From<postcard::Error> for MalformedKind {
    fn from(cause: postcard::Error) -> MalformedKind {
        match cause {
            postcard::Error::DeserializeUnexpectedEnd => MalformedKind::UnexpectedEnd,
            postcard::Error::DeserializeBadVarint => MalformedKind::BadVarint,
            postcard::Error::DeserializeBadBool => MalformedKind::BadBool,
            postcard::Error::DeserializeBadUtf8 => MalformedKind::BadUtf8,
            postcard::Error::DeserializeBadOption => MalformedKind::BadOption,
            _ => MalformedKind::Other,
        }
    }
}

// ---- Encoding -------------------------------------------------------------------------------

/// A postcard output that appends to a caller's `Vec`, so encoding reuses its capacity.
struct ExtendVec<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for ExtendVec<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Where the canonical encoding of `event`'s tuple first differs from `tuple`, if anywhere.
///
/// Postcard's decoder accepts varints with superfluous continuation bytes (`0x80 0x00` for 0),
/// so two byte strings can decode to one event. Re-serialising into a comparing output, which
/// allocates nothing, finds such a spelling.
fn first_difference(event: &Event, tuple: &[u8]) -> Option<usize> {
    let mut compare = CompareWith { expected: tuple, at: 0, mismatch: None };
    let written = postcard::serialize_with_flavor(&BodyRef(event), &mut compare);
    if let Err(cause) = written {
        // Cannot happen: as in `encode`, nothing here refuses a byte.
        unreachable!("event body: postcard refused a decoded event: {cause}");
    }
    match compare.mismatch {
        Some(at) => Some(at),
        None if compare.at != tuple.len() => Some(compare.at.min(tuple.len())),
        None => None,
    }
}

/// A postcard output that compares what would be written with `expected`.
struct CompareWith<'a> {
    expected: &'a [u8],
    at: usize,
    mismatch: Option<usize>,
}

impl postcard::ser_flavors::Flavor for &mut CompareWith<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        if self.mismatch.is_none() && self.expected.get(self.at) != Some(&byte) {
            self.mismatch = Some(self.at);
        }
        self.at += 1;
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        for &byte in bytes {
            self.try_push(byte)?;
        }
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Serialises an event as the body tuple (without the version byte).
struct BodyRef<'a>(&'a Event);

impl Serialize for BodyRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let event = self.0;
        let mut tuple = serializer.serialize_tuple(EVENT_FIELDS)?;
        tuple.serialize_element(&event.id.0)?;
        tuple.serialize_element(&event.timestamp_nanos)?;
        tuple.serialize_element(&event.level.as_u8())?;
        tuple.serialize_element(event.template.as_str())?;
        tuple.serialize_element(event.message.as_str())?;
        tuple.serialize_element(&EntriesRef(&event.properties))?;
        tuple.serialize_element(&event.exception.as_deref())?;
        tuple.end()
    }
}

/// Serialises named values (event properties or a `Value::Map`) as a seq of pairs.
struct EntriesRef<'a>(&'a [(String, Value)]);

impl Serialize for EntriesRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for (name, value) in self.0 {
            seq.serialize_element(&(name.as_str(), ValueRef(value)))?;
        }
        seq.end()
    }
}

/// Serialises a value as `tag payload`.
struct ValueRef<'a>(&'a Value);

impl Serialize for ValueRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let name = "Value";
        match self.0 {
            Value::Null => serializer.serialize_unit_variant(name, TAG_NULL, "Null"),
            Value::Bool(b) => serializer.serialize_newtype_variant(name, TAG_BOOL, "Bool", b),
            Value::I64(n) => serializer.serialize_newtype_variant(name, TAG_I64, "I64", n),
            Value::U64(n) => serializer.serialize_newtype_variant(name, TAG_U64, "U64", n),
            Value::F64(x) => serializer.serialize_newtype_variant(name, TAG_F64, "F64", x),
            Value::Str(s) => serializer.serialize_newtype_variant(name, TAG_STR, "Str", s.as_str()),
            Value::Bytes(b) => {
                serializer.serialize_newtype_variant(name, TAG_BYTES, "Bytes", &BytesRef(b))
            }
            Value::Array(items) => {
                serializer.serialize_newtype_variant(name, TAG_ARRAY, "Array", &ItemsRef(items))
            }
            Value::Map(entries) => {
                serializer.serialize_newtype_variant(name, TAG_MAP, "Map", &EntriesRef(entries))
            }
        }
    }
}

/// Serialises bytes as `len bytes` in one copy (a `Vec<u8>` would go element by element).
struct BytesRef<'a>(&'a [u8]);

impl Serialize for BytesRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// Serialises array items as a seq of values.
struct ItemsRef<'a>(&'a [Value]);

impl Serialize for ItemsRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ValueRef))
    }
}

// ---- Decoding -------------------------------------------------------------------------------

/// A typed reason a seed gave up, kept beside the decoder because postcard's custom error
/// cannot carry it.
#[derive(Clone, Copy, Debug)]
enum Problem {
    TooDeep,
    UnknownLevel(u8),
    UnknownValueTag(u32),
}

impl Problem {
    fn at(self, offset: usize) -> BodyError {
        match self {
            Problem::TooDeep => BodyError::ValueTooDeep { offset },
            Problem::UnknownLevel(found) => BodyError::UnknownLevel { offset, found },
            Problem::UnknownValueTag(found) => BodyError::UnknownValueTag { offset, found },
        }
    }
}

/// Where seeds record a [`Problem`].
type ProblemSlot = Cell<Option<Problem>>;

/// Records `problem` and returns the (payload-free) error that unwinds the decoder.
fn give_up<E: de::Error>(slot: &ProblemSlot, problem: Problem) -> E {
    slot.set(Some(problem));
    E::custom("see the recorded problem")
}

/// The next element of a fixed-length tuple; postcard always has one, but say so if not.
fn required<'de, T: de::Deserialize<'de>, A: SeqAccess<'de>>(
    seq: &mut A,
    index: usize,
) -> Result<T, A::Error> {
    seq.next_element()?.ok_or_else(|| de::Error::invalid_length(index, &"an event tuple"))
}

/// Capacity to reserve for a sequence that claims `hint` elements: postcard already drops hints
/// longer than the remaining input; the cap keeps a claim from reserving much before the
/// elements are actually read.
fn cautious_capacity(hint: Option<usize>) -> usize {
    hint.unwrap_or(0).min(PREALLOC_ELEMENTS_MAX)
}

struct EventSeed<'p> {
    problem: &'p ProblemSlot,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = Event;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Event, D::Error> {
        deserializer.deserialize_tuple(EVENT_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event tuple")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Event, A::Error> {
        let id: [u8; 16] = required(&mut seq, 0)?;
        let timestamp_nanos: i64 = required(&mut seq, 1)?;
        let level_code: u8 = required(&mut seq, 2)?;
        let level = Level::from_u8(level_code)
            .ok_or_else(|| give_up(self.problem, Problem::UnknownLevel(level_code)))?;
        let template: String = required(&mut seq, 3)?;
        let message: String = required(&mut seq, 4)?;
        let entries = EntriesSeed { problem: self.problem, depth: 1 };
        let properties = seq
            .next_element_seed(entries)?
            .ok_or_else(|| de::Error::invalid_length(5, &"an event tuple"))?;
        let exception: Option<String> = required(&mut seq, 6)?;
        Ok(Event {
            id: EventId(id),
            timestamp_nanos,
            level,
            template,
            message,
            properties,
            exception,
        })
    }
}

/// Reads a seq of `(name, value)` pairs whose values sit at nesting `depth`.
struct EntriesSeed<'p> {
    problem: &'p ProblemSlot,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = Vec<(String, Value)>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = Vec<(String, Value)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of named values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(cautious_capacity(seq.size_hint()));
        let pair = EntrySeed { problem: self.problem, depth: self.depth };
        while let Some(entry) = seq.next_element_seed(pair)? {
            entries.push(entry);
        }
        Ok(entries)
    }
}

/// Reads one `(name, value)` pair.
#[derive(Clone, Copy)]
struct EntrySeed<'p> {
    problem: &'p ProblemSlot,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = (String, Value);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_tuple(2, self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = (String, Value);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a (name, value) pair")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let name: String = required(&mut seq, 0)?;
        let value = seq
            .next_element_seed(ValueSeed { problem: self.problem, depth: self.depth })?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok((name, value))
    }
}

/// Reads one value at nesting `depth` (a property's own value is depth 1).
#[derive(Clone, Copy)]
struct ValueSeed<'p> {
    problem: &'p ProblemSlot,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        // The check that bounds recursion: refuse before reading any deeper.
        if self.depth > MAX_VALUE_DEPTH {
            return Err(give_up(self.problem, Problem::TooDeep));
        }
        deserializer.deserialize_enum("Value", VALUE_VARIANTS, self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tagged value")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (tag, payload) = data.variant::<u32>()?;
        let inner = ValueSeed { problem: self.problem, depth: self.depth + 1 };
        let value =
            match tag {
                TAG_NULL => {
                    payload.unit_variant()?;
                    Value::Null
                }
                TAG_BOOL => Value::Bool(payload.newtype_variant()?),
                TAG_I64 => Value::I64(payload.newtype_variant()?),
                TAG_U64 => Value::U64(payload.newtype_variant()?),
                TAG_F64 => Value::F64(payload.newtype_variant()?),
                TAG_STR => Value::Str(payload.newtype_variant()?),
                TAG_BYTES => Value::Bytes(payload.newtype_variant_seed(BytesSeed)?),
                TAG_ARRAY => Value::Array(payload.newtype_variant_seed(ItemsSeed(inner))?),
                TAG_MAP => Value::Map(payload.newtype_variant_seed(EntriesSeed {
                    problem: self.problem,
                    depth: inner.depth,
                })?),
                other => return Err(give_up(self.problem, Problem::UnknownValueTag(other))),
            };
        Ok(value)
    }
}

/// Reads array items, each with the given seed's depth.
struct ItemsSeed<'p>(ValueSeed<'p>);

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = Vec<Value>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Vec<Value>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence of values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut items = Vec::with_capacity(cautious_capacity(seq.size_hint()));
        while let Some(item) = seq.next_element_seed(self.0)? {
            items.push(item);
        }
        Ok(items)
    }
}

/// Reads a length-prefixed byte string in one copy.
struct BytesSeed;

impl<'de> DeserializeSeed<'de> for BytesSeed {
    type Value = Vec<u8>;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_byte_buf(self)
    }
}

impl Visitor<'_> for BytesSeed {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
        Ok(bytes.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(bytes)
    }
}

/// Fields in the body tuple.
const EVENT_FIELDS: usize = 7;

/// Elements reserved up front for any one sequence, however many it claims.
const PREALLOC_ELEMENTS_MAX: usize = 256;

const TAG_NULL: u32 = 0;
const TAG_BOOL: u32 = 1;
const TAG_I64: u32 = 2;
const TAG_U64: u32 = 3;
const TAG_F64: u32 = 4;
const TAG_STR: u32 = 5;
const TAG_BYTES: u32 = 6;
const TAG_ARRAY: u32 = 7;
const TAG_MAP: u32 = 8;

/// Variant names in tag order (serde wants them; postcard never writes them).
const VALUE_VARIANTS: &[&str] =
    &["Null", "Bool", "I64", "U64", "F64", "Str", "Bytes", "Array", "Map"];
const _: () = assert!(VALUE_VARIANTS.len() == TAG_MAP as usize + 1);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::event::test_support::{arb_event, same_event};
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn sample() -> Event {
        Event::new(EventId([0xab; 16]), -5, Level::Warning, "User {UserId}")
            .with_property("UserId", "alice")
            .with_property("Nested", Value::Array(vec![Value::Map(vec![("k".into(), 1u8.into())])]))
            .with_property("Raw", vec![0u8, 255])
            .with_exception("boom")
            .render()
    }

    /// Body bytes with `levels` nested single-item arrays as the value of one property.
    fn nested_array_body(levels: usize) -> Vec<u8> {
        let mut body = vec![BODY_VERSION];
        body.extend_from_slice(&[0; 16]); // id
        body.extend_from_slice(&[0, 2, 0, 0]); // timestamp 0, Information, "" template, "" message
        body.extend_from_slice(&[1, 0]); // one property named ""
        for _ in 0..levels {
            body.extend_from_slice(&[TAG_ARRAY as u8, 1]);
        }
        body.push(TAG_NULL as u8);
        body.push(0); // no exception
        body
    }

    #[test]
    fn layout_matches_the_documented_bytes() {
        // Goal: pin the on-disk layout so an accidental change fails loudly.
        let event = Event::new(EventId([1; 16]), -1, Level::Error, "t")
            .with_property("a", Value::Array(vec![Value::Null, true.into(), 7u8.into()]));
        let mut body = Vec::new();
        event.encode_body(&mut body).unwrap();
        let mut expected = vec![1u8];
        expected.extend_from_slice(&[1; 16]);
        expected.extend_from_slice(&[1, 4, 1, b't', 0]); // zigzag(-1), Error, "t", ""
        expected.extend_from_slice(&[1, 1, b'a', 7, 3, 0, 1, 1, 3, 7]); // [Null, true, U64 7]
        expected.push(0);
        assert_eq!(body, expected);
    }

    #[test]
    fn encode_appends_without_touching_existing_bytes() {
        let mut out = vec![9, 9, 9];
        sample().encode_body(&mut out).unwrap();
        assert_eq!(&out[..3], &[9, 9, 9]);
        assert!(same_event(&Event::decode_body(&out[3..]).unwrap(), &sample()));
    }

    #[test]
    fn nesting_at_the_limit_decodes_and_one_more_level_is_refused() {
        let at_limit = Event::decode_body(&nested_array_body(MAX_VALUE_DEPTH - 1)).unwrap();
        let mut reencoded = Vec::new();
        at_limit.encode_body(&mut reencoded).unwrap();
        assert_eq!(reencoded, nested_array_body(MAX_VALUE_DEPTH - 1));
        assert!(matches!(
            Event::decode_body(&nested_array_body(MAX_VALUE_DEPTH)),
            Err(BodyError::ValueTooDeep { .. })
        ));
    }

    #[test]
    fn ten_thousand_nested_arrays_are_an_error_not_a_stack_overflow() {
        // Goal: hostile nesting cannot exhaust the stack. Method: 10_000 array headers, which
        // would overflow a naive recursive decoder; we must stop at level 65.
        let body = nested_array_body(10_000);
        let err = Event::decode_body(&body).unwrap_err();
        // 1 version + 16 id + 4 scalars + 2 property header + 2 bytes per level read.
        assert_eq!(err, BodyError::ValueTooDeep { offset: 23 + 2 * MAX_VALUE_DEPTH });
        assert_eq!(
            err.to_string(),
            format!("event body: value nesting deeper than 64 at byte {}", 23 + 2 * 64)
        );
    }

    #[test]
    fn encoding_refuses_values_decode_would_refuse() {
        let mut deep = Value::Null;
        for _ in 0..1_000 {
            deep = Value::Array(vec![deep]);
        }
        let event = Event::new(EventId::ZERO, 0, Level::Debug, "").with_property("Deep", deep);
        let mut out = vec![7];
        let err = event.encode_body(&mut out).unwrap_err();
        assert_eq!(err, BodyError::PropertyTooDeep { name: "Deep".into() });
        assert_eq!(out, vec![7], "a failed encode leaves the buffer as it was");
    }

    #[test]
    fn damaged_bodies_get_typed_errors() {
        let mut body = Vec::new();
        sample().encode_body(&mut body).unwrap();

        assert_eq!(Event::decode_body(&[]), Err(BodyError::Empty));
        let mut versioned = body.clone();
        versioned[0] = 2;
        assert_eq!(
            Event::decode_body(&versioned),
            Err(BodyError::UnsupportedVersion { found: 2, supported: 1 })
        );

        let mut trailing = body.clone();
        trailing.extend_from_slice(&[0, 0, 0]);
        let err = Event::decode_body(&trailing).unwrap_err();
        assert_eq!(err, BodyError::TrailingBytes { count: 3 });
        assert_eq!(err.to_string(), "event body: 3 trailing bytes");

        let mut level = body.clone();
        level[18] = 6; // after version, 16 id bytes and the one-byte timestamp
        assert_eq!(
            Event::decode_body(&level),
            Err(BodyError::UnknownLevel { offset: 19, found: 6 })
        );

        let mut tag = nested_array_body(0);
        tag[23] = 9;
        assert_eq!(
            Event::decode_body(&tag),
            Err(BodyError::UnknownValueTag { offset: 24, found: 9 })
        );

        let mut utf8 = nested_array_body(0);
        utf8[19] = 1; // template length 1 ...
        utf8.insert(20, 0xff); // ... holding a byte that is not UTF-8
        assert!(matches!(
            Event::decode_body(&utf8),
            Err(BodyError::Malformed { kind: MalformedKind::BadUtf8, .. })
        ));
    }

    #[test]
    fn a_non_canonical_varint_is_refused() {
        // Regression (fuzz target `event_body`): postcard accepts a varint with a superfluous
        // continuation byte (`0xdf 0x00` for 0x5f), so two bodies decoded to one event and
        // re-encoding did not give the stored bytes back. Method: spell the one-byte empty
        // template length 0 as `0x80 0x00`.
        let canonical = nested_array_body(0);
        assert!(Event::decode_body(&canonical).is_ok());
        let mut padded = canonical.clone();
        padded.splice(19..20, [0x80, 0x00]); // template length: 0, in two bytes
        assert_eq!(Event::decode_body(&padded), Err(BodyError::NonCanonical { offset: 19 }));
        let found = [1, 255, 206, 169, 206, 223, 24, 1, 0, 0, 33, 0, 0, 0, 0, 1, 0, 169, 206];
        let mut fuzzed = found.to_vec();
        fuzzed.extend_from_slice(&[223, 0, 0, 0, 0, 0, 0]);
        assert!(matches!(Event::decode_body(&fuzzed), Err(BodyError::NonCanonical { .. })));
    }

    #[test]
    fn huge_length_claims_fail_without_huge_allocation() {
        // A property count of u64::MAX >> 1 with nothing behind it must fail fast on input end.
        let mut body = nested_array_body(0);
        body.truncate(21);
        body.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        assert!(matches!(
            Event::decode_body(&body),
            Err(BodyError::Malformed { kind: MalformedKind::UnexpectedEnd, .. })
        ));
    }

    proptest! {
        #[test]
        fn bodies_round_trip_both_ways(event in arb_event()) {
            let mut body = Vec::new();
            event.encode_body(&mut body).unwrap();
            let decoded = Event::decode_body(&body).unwrap();
            prop_assert!(same_event(&decoded, &event), "{decoded:?} != {event:?}");
            let mut again = Vec::new();
            decoded.encode_body(&mut again).unwrap();
            prop_assert_eq!(again, body);
        }

        #[test]
        fn every_truncation_is_an_error_not_a_panic(event in arb_event()) {
            let mut body = Vec::new();
            event.encode_body(&mut body).unwrap();
            for len in 0..body.len() {
                prop_assert!(Event::decode_body(&body[..len]).is_err(), "prefix {len} decoded");
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in vec(any::<u8>(), 0..256)) {
            if let Some(first) = bytes.first_mut() {
                *first = BODY_VERSION;
            }
            if let Ok(event) = Event::decode_body(&bytes) {
                // Whatever decodes must re-encode and decode to the same event.
                let mut again = Vec::new();
                event.encode_body(&mut again).unwrap();
                prop_assert!(same_event(&Event::decode_body(&again).unwrap(), &event));
            }
        }
    }
}
