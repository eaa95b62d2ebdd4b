//! [`Value`]: the typed payload of an event property.
//!
//! The set of kinds is deliberately closed and small: every one of them has an exact encoding in
//! the WAL body (postcard) and a readable one in CLEF (JSON). Nesting is bounded by
//! [`MAX_VALUE_DEPTH`] so no decoder ever recurses without limit on untrusted input.

use super::MAX_VALUE_DEPTH;

/// A property value.
///
/// `PartialEq` is structural, so a `F64(NAN)` is not equal to itself; compare floats with
/// `to_bits` when NaN matters.
///
/// Every property setter takes `impl Into<Value>`; the conversions pick the lossless kind.
///
/// # Examples
///
/// ```
/// use mtlog_audit::Value;
///
/// assert_eq!(Value::from(-3i8), Value::I64(-3));
/// assert_eq!(Value::from(u64::MAX), Value::U64(u64::MAX)); // not squeezed into an i64
/// assert_eq!(Value::from(1.5f32), Value::F64(1.5));
/// assert_eq!(Value::from("alice"), Value::Str("alice".into()));
/// assert_eq!(Value::from(vec![0xffu8, 0]), Value::Bytes(vec![0xff, 0]));
/// assert_eq!(Value::from(None::<u32>), Value::Null);
/// let tags = Value::from(vec![Value::from("a"), Value::from(true)]);
/// let nested = Value::Map(vec![("tags".into(), tags)]);
/// assert!(!nested.is_too_deep());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// No value (`None`, `null`).
    Null,
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer. Kept apart from `I64` so `u64::MAX` survives the WAL exactly.
    U64(u64),
    /// A 64-bit float, any bit pattern (NaN payloads survive the WAL, not CLEF).
    F64(f64),
    /// UTF-8 text.
    Str(String),
    /// Raw bytes (hashes, keys, opaque payloads).
    Bytes(Vec<u8>),
    /// An ordered list.
    Array(Vec<Value>),
    /// An ordered list of named values. Order is kept; duplicate names are kept too, because
    /// dropping one would lose data.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// Whether this value nests deeper than [`MAX_VALUE_DEPTH`] (a scalar has depth 1, an array
    /// of scalars depth 2).
    ///
    /// Recursion stops at the limit, so this is safe (and cheap) on values of any depth.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::event::{Value, MAX_VALUE_DEPTH};
    ///
    /// let mut value = Value::Null; // depth 1
    /// for _ in 1..MAX_VALUE_DEPTH {
    ///     value = Value::Array(vec![value]);
    /// }
    /// assert!(!value.is_too_deep()); // exactly MAX_VALUE_DEPTH
    /// assert!(Value::Array(vec![value]).is_too_deep());
    /// ```
    pub fn is_too_deep(&self) -> bool {
        exceeds(self, MAX_VALUE_DEPTH)
    }
}

/// Whether `value` has more than `levels_allowed` levels. Recurses at most `levels_allowed + 1`
/// frames deep.
fn exceeds(value: &Value, levels_allowed: usize) -> bool {
    if levels_allowed == 0 {
        return true;
    }
    match value {
        Value::Array(items) => items.iter().any(|item| exceeds(item, levels_allowed - 1)),
        Value::Map(entries) => entries.iter().any(|(_, item)| exceeds(item, levels_allowed - 1)),
        _ => false,
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

/// Signed integers widen losslessly into `I64`.
macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(value: $t) -> Value {
                Value::I64(i64::from(value))
            }
        }
    )*};
}

/// Unsigned integers widen losslessly into `U64`.
macro_rules! from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(value: $t) -> Value {
                Value::U64(u64::from(value))
            }
        }
    )*};
}

from_signed!(i8, i16, i32, i64);
from_unsigned!(u8, u16, u32, u64);

// `isize`/`usize` have no `From` into 64-bit integers; this makes the `as` casts below lossless.
const _: () = assert!(std::mem::size_of::<usize>() <= 8);

impl From<isize> for Value {
    fn from(value: isize) -> Value {
        Value::I64(value as i64)
    }
}

impl From<usize> for Value {
    fn from(value: usize) -> Value {
        Value::U64(value as u64)
    }
}

impl From<f32> for Value {
    fn from(value: f32) -> Value {
        Value::F64(f64::from(value))
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Value {
        Value::F64(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::Str(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::Str(value)
    }
}

impl From<Vec<u8>> for Value {
    fn from(value: Vec<u8>) -> Value {
        Value::Bytes(value)
    }
}

impl From<Vec<Value>> for Value {
    fn from(value: Vec<Value>) -> Value {
        Value::Array(value)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        match value {
            Some(inner) => inner.into(),
            None => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_pick_the_lossless_kind() {
        assert_eq!(Value::from(true), Value::Bool(true));
        assert_eq!(Value::from(-3i8), Value::I64(-3));
        assert_eq!(Value::from(i64::MIN), Value::I64(i64::MIN));
        assert_eq!(Value::from(-7isize), Value::I64(-7));
        assert_eq!(Value::from(200u8), Value::U64(200));
        assert_eq!(Value::from(u64::MAX), Value::U64(u64::MAX));
        assert_eq!(Value::from(9usize), Value::U64(9));
        assert_eq!(Value::from(1.5f32), Value::F64(1.5));
        assert_eq!(Value::from("a"), Value::Str("a".into()));
        assert_eq!(Value::from(String::from("b")), Value::Str("b".into()));
        assert_eq!(Value::from(vec![1u8, 2]), Value::Bytes(vec![1, 2]));
        assert_eq!(Value::from(vec![Value::Null]), Value::Array(vec![Value::Null]));
        assert_eq!(Value::from(Some(5u32)), Value::U64(5));
        assert_eq!(Value::from(None::<&str>), Value::Null);
    }

    /// Builds `levels` nested single-element arrays around a null (depth `levels + 1`).
    fn nested(levels: usize) -> Value {
        let mut value = Value::Null;
        for _ in 0..levels {
            value = Value::Array(vec![value]);
        }
        value
    }

    #[test]
    fn depth_limit_allows_exactly_max_levels() {
        assert!(!Value::Null.is_too_deep());
        assert!(!nested(MAX_VALUE_DEPTH - 1).is_too_deep());
        assert!(nested(MAX_VALUE_DEPTH).is_too_deep());
        let map = Value::Map(vec![("k".into(), nested(MAX_VALUE_DEPTH - 1))]);
        assert!(map.is_too_deep());
        // An empty array at the last allowed level is still within the limit.
        let mut edge = Value::Array(Vec::new());
        for _ in 0..MAX_VALUE_DEPTH - 1 {
            edge = Value::Array(vec![edge]);
        }
        assert!(!edge.is_too_deep());
    }
}
