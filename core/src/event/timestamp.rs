//! RFC 3339 text for nanosecond Unix timestamps, written by hand to keep the dependency tree
//! small and the behaviour auditable.
//!
//! The canonical form, written by [`format_rfc3339`], is always UTC with exactly nine fraction
//! digits: `1970-01-01T00:00:00.000000000Z`. A fixed width means the text sorts like the number
//! and carries no hidden precision loss. [`parse_rfc3339`] accepts what other producers write:
//! `T` or `t`, 0 to 9 fraction digits, `Z`, `z` or a `+hh:mm`/`-hh:mm` offset. It rejects
//! leap seconds (`:60`), more than nine fraction digits (we would have to round), and instants
//! outside the `i64` nanosecond range (1677-09-21 to 2262-04-11).
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::event::timestamp::{format_rfc3339, parse_rfc3339};
//!
//! let nanos = parse_rfc3339("2024-05-01t12:00:00.25z")?;
//! assert_eq!(format_rfc3339(nanos), "2024-05-01T12:00:00.250000000Z");
//! assert_eq!(parse_rfc3339(&format_rfc3339(i64::MIN))?, i64::MIN);
//! # Ok::<(), mtlog_audit::event::TimestampError>(())
//! ```

// Maintainers: the calendar maths is Howard Hinnant's `days_from_civil`/`civil_from_days`
// (proleptic Gregorian, exact for any year). Everything runs in i64/i128 with no float.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;

/// Why a string is not an RFC 3339 timestamp we can represent.
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::timestamp::{parse_rfc3339, TimestampError};
///
/// let feb_30 = parse_rfc3339("2024-02-30T00:00:00Z").unwrap_err();
/// assert_eq!(feb_30, TimestampError::FieldOutOfRange { field: "day", found: 30 });
/// assert_eq!(feb_30.to_string(), "timestamp: day 30 out of range");
///
/// let no_zone = parse_rfc3339("2024-02-01T00:00:00").unwrap_err();
/// assert!(matches!(no_zone, TimestampError::Syntax { index: 19, .. }));
/// assert!(no_zone.to_string().ends_with("at byte 19"));
///
/// let far = parse_rfc3339("2300-01-01T00:00:00Z");
/// assert_eq!(far, Err(TimestampError::Unrepresentable));
/// let fine = parse_rfc3339("2024-02-01T00:00:00.1234567891Z");
/// assert_eq!(fine, Err(TimestampError::TooPrecise { digits: 10 }));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampError {
    /// The byte at `index` is not what the grammar needs there (or the text ended early).
    Syntax {
        /// 0-based byte index into the text.
        index: usize,
        /// What the grammar needs at `index`.
        expected: &'static str,
    },
    /// A field parsed but lies outside its calendar range (month 13, February 30th, second 60).
    FieldOutOfRange {
        /// The field's name (`"month"`, `"day"`, ...).
        field: &'static str,
        /// The value found.
        found: u32,
    },
    /// More than nine fraction digits: representing them would need rounding.
    TooPrecise {
        /// Fraction digits found.
        digits: usize,
    },
    /// A valid date whose instant lies outside the `i64` nanosecond range.
    Unrepresentable,
}

/// Formats `nanos` since the Unix epoch as `YYYY-MM-DDThh:mm:ss.nnnnnnnnnZ`.
///
/// Total: every `i64` has a form (years 1677 to 2262), and
/// `parse_rfc3339(&format_rfc3339(x)) == Ok(x)` for every `x`.
///
/// # Panics
/// Never: every `i64` falls in the years 1677 to 2262; an assertion checks the four-digit
/// year that follows from it.
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::timestamp::format_rfc3339;
/// assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000000000Z");
/// assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
/// ```
pub fn format_rfc3339(nanos: i64) -> String {
    let secs = nanos.div_euclid(NANOS_PER_SEC);
    let fraction = nanos.rem_euclid(NANOS_PER_SEC);
    let days = secs.div_euclid(SECS_PER_DAY);
    let second_of_day = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let hour = second_of_day / 3600;
    let minute = second_of_day / 60 % 60;
    let second = second_of_day % 60;
    // The i64 nanosecond range spans years 1677..=2262, so four digits always suffice.
    assert!((1000..=9999).contains(&year));
    format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{fraction:09}Z")
}

/// Parses an RFC 3339 timestamp into nanoseconds since the Unix epoch.
///
/// # Errors
///
/// [`TimestampError`] says which byte or field is wrong, or that the instant does not fit.
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::timestamp::parse_rfc3339;
/// assert_eq!(parse_rfc3339("1970-01-01T02:00:00.5+02:00"), Ok(500_000_000));
/// ```
pub fn parse_rfc3339(text: &str) -> Result<i64, TimestampError> {
    let mut cursor = Cursor { bytes: text.as_bytes(), index: 0 };
    let year = cursor.digits(4)?;
    cursor.expect(b'-', "'-'")?;
    let month = cursor.digits(2)?;
    cursor.expect(b'-', "'-'")?;
    let day = cursor.digits(2)?;
    cursor.expect_either(b'T', b't', "'T'")?;
    let hour = cursor.digits(2)?;
    cursor.expect(b':', "':'")?;
    let minute = cursor.digits(2)?;
    cursor.expect(b':', "':'")?;
    let second = cursor.digits(2)?;
    let fraction = cursor.fraction()?;
    let offset_secs = cursor.offset()?;
    if cursor.index != cursor.bytes.len() {
        return Err(TimestampError::Syntax { index: cursor.index, expected: "end of text" });
    }

    check_range("month", month, 1, 12)?;
    check_range("day", day, 1, days_in_month(i64::from(year), month))?;
    check_range("hour", hour, 0, 23)?;
    check_range("minute", minute, 0, 59)?;
    check_range("second", second, 0, 59)?;

    let days = days_from_civil(i64::from(year), month, day);
    let secs =
        days * SECS_PER_DAY + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)
            - offset_secs;
    let nanos = i128::from(secs) * i128::from(NANOS_PER_SEC) + i128::from(fraction);
    i64::try_from(nanos).map_err(|_| TimestampError::Unrepresentable)
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampError::Syntax { index, expected } => {
                write!(f, "timestamp: expected {expected} at byte {index}")
            }
            TimestampError::FieldOutOfRange { field, found } => {
                write!(f, "timestamp: {field} {found} out of range")
            }
            TimestampError::TooPrecise { digits } => {
                write!(f, "timestamp: {digits} fraction digits, at most 9 are supported")
            }
            TimestampError::Unrepresentable => {
                f.write_str("timestamp: outside the i64 nanosecond range (1677 to 2262)")
            }
        }
    }
}

impl std::error::Error for TimestampError {}

/// A read position in the timestamp text.
struct Cursor<'a> {
    bytes: &'a [u8],
    index: usize,
}

impl Cursor<'_> {
    /// Reads exactly `count` ASCII digits as a number.
    fn digits(&mut self, count: usize) -> Result<u32, TimestampError> {
        let mut value = 0u32;
        for _ in 0..count {
            let digit = self
                .digit()
                .ok_or(TimestampError::Syntax { index: self.index, expected: "a digit" })?;
            value = value * 10 + digit;
            self.index += 1;
        }
        Ok(value)
    }

    /// The digit at the cursor, without consuming it.
    fn digit(&self) -> Option<u32> {
        self.bytes.get(self.index).and_then(|&b| (b as char).to_digit(10))
    }

    fn expect(&mut self, wanted: u8, expected: &'static str) -> Result<(), TimestampError> {
        self.expect_either(wanted, wanted, expected)
    }

    fn expect_either(
        &mut self,
        a: u8,
        b: u8,
        expected: &'static str,
    ) -> Result<(), TimestampError> {
        match self.bytes.get(self.index) {
            Some(&found) if found == a || found == b => {
                self.index += 1;
                Ok(())
            }
            _ => Err(TimestampError::Syntax { index: self.index, expected }),
        }
    }

    /// Reads an optional `.ddd` fraction as nanoseconds.
    fn fraction(&mut self) -> Result<i64, TimestampError> {
        if self.bytes.get(self.index) != Some(&b'.') {
            return Ok(0);
        }
        self.index += 1;
        let mut nanos = 0i64;
        let mut count = 0usize;
        while let Some(digit) = self.digit() {
            count += 1;
            if count <= 9 {
                nanos = nanos * 10 + i64::from(digit);
            }
            self.index += 1;
        }
        if count == 0 {
            return Err(TimestampError::Syntax { index: self.index, expected: "a digit" });
        }
        if count > 9 {
            return Err(TimestampError::TooPrecise { digits: count });
        }
        // Scale `0.5` (count 1, nanos 5) up to 500_000_000.
        for _ in count..9 {
            nanos *= 10;
        }
        Ok(nanos)
    }

    /// Reads `Z`, `z` or `+hh:mm`/`-hh:mm`, returning the offset east of UTC in seconds.
    fn offset(&mut self) -> Result<i64, TimestampError> {
        let sign = match self.bytes.get(self.index) {
            Some(b'Z' | b'z') => {
                self.index += 1;
                return Ok(0);
            }
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => {
                return Err(TimestampError::Syntax {
                    index: self.index,
                    expected: "'Z' or a '+hh:mm'/'-hh:mm' offset",
                })
            }
        };
        self.index += 1;
        let hours = self.digits(2)?;
        self.expect(b':', "':'")?;
        let minutes = self.digits(2)?;
        check_range("offset hour", hours, 0, 23)?;
        check_range("offset minute", minutes, 0, 59)?;
        Ok(sign * (i64::from(hours) * 3600 + i64::from(minutes) * 60))
    }
}

fn check_range(field: &'static str, found: u32, min: u32, max: u32) -> Result<(), TimestampError> {
    if (min..=max).contains(&found) {
        Ok(())
    } else {
        Err(TimestampError::FieldOutOfRange { field, found })
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days since 1970-01-01 of the proleptic Gregorian date `year-month-day`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    assert!((1..=12).contains(&month));
    assert!((1..=31).contains(&day));
    // Count years from March so the leap day is the last day of the "year".
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400); // [0, 399]
    let month_from_march = i64::from((month + 9) % 12); // March = 0
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * DAYS_PER_ERA + day_of_era - DAYS_FROM_0000_03_01_TO_EPOCH
}

/// The proleptic Gregorian date `(year, month, day)` that is `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + DAYS_FROM_0000_03_01_TO_EPOCH;
    let era = shifted.div_euclid(DAYS_PER_ERA);
    let day_of_era = shifted.rem_euclid(DAYS_PER_ERA); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1; // [1, 31]
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    assert!((1..=12).contains(&month));
    assert!((1..=31).contains(&day));
    // Both were just asserted to be small and positive.
    (year, month as u32, day as u32)
}

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;
/// Days in one 400-year Gregorian cycle.
const DAYS_PER_ERA: i64 = 146_097;
/// Days from 0000-03-01 (start of era 0 in March-based years) to 1970-01-01.
const DAYS_FROM_0000_03_01_TO_EPOCH: i64 = 719_468;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants_format_canonically() {
        let cases = [
            (0, "1970-01-01T00:00:00.000000000Z"),
            (1, "1970-01-01T00:00:00.000000001Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
            (-86_400_000_000_000, "1969-12-31T00:00:00.000000000Z"),
            (951_782_400_000_000_000, "2000-02-29T00:00:00.000000000Z"),
            (1_795_739_129_123_456_789, "2026-11-27T00:25:29.123456789Z"),
            (i64::MIN, "1677-09-21T00:12:43.145224192Z"),
            (i64::MAX, "2262-04-11T23:47:16.854775807Z"),
        ];
        for (nanos, text) in cases {
            assert_eq!(format_rfc3339(nanos), text, "{nanos}");
            assert_eq!(parse_rfc3339(text), Ok(nanos), "{text}");
        }
    }

    #[test]
    fn offsets_short_fractions_and_lowercase_separators_parse() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("1970-01-01t00:00:00z"), Ok(0));
        assert_eq!(parse_rfc3339("1970-01-01T02:00:00+02:00"), Ok(0));
        assert_eq!(parse_rfc3339("1969-12-31T19:30:00-04:30"), Ok(0));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.1234567Z"), Ok(123_456_700));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.5Z"), Ok(-500_000_000));
    }

    #[test]
    fn calendar_agrees_with_a_day_by_day_walk_over_whole_eras() {
        // Goal: the closed-form calendar maths matches naive counting, including century
        // and 400-year leap rules. Method: walk every day from 1600-01-01 to 2400-12-31.
        let mut days = days_from_civil(1600, 1, 1);
        for year in 1600..=2400 {
            for month in 1..=12 {
                for day in 1..=days_in_month(year, month) {
                    assert_eq!(days_from_civil(year, month, day), days);
                    assert_eq!(civil_from_days(days), (year, month, day));
                    days += 1;
                }
            }
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(0, 1, 1), -719_528);
        assert_eq!(civil_from_days(days_from_civil(9999, 12, 31)), (9999, 12, 31));
    }

    #[test]
    fn malformed_text_names_the_problem() {
        let syntax = |index, expected| Err(TimestampError::Syntax { index, expected });
        assert_eq!(parse_rfc3339(""), syntax(0, "a digit"));
        assert_eq!(parse_rfc3339("1970-01-01 00:00:00Z"), syntax(10, "'T'"));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00"), {
            syntax(19, "'Z' or a '+hh:mm'/'-hh:mm' offset")
        });
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.Z"), syntax(20, "a digit"));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Zjunk"), syntax(20, "end of text"));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00+0200"), syntax(22, "':'"));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00é"), {
            syntax(19, "'Z' or a '+hh:mm'/'-hh:mm' offset")
        });
        let range = |field, found| Err(TimestampError::FieldOutOfRange { field, found });
        assert_eq!(parse_rfc3339("1970-13-01T00:00:00Z"), range("month", 13));
        assert_eq!(parse_rfc3339("1900-02-29T00:00:00Z"), range("day", 29));
        assert_eq!(parse_rfc3339("1970-01-01T24:00:00Z"), range("hour", 24));
        assert_eq!(parse_rfc3339("2016-12-31T23:59:60Z"), range("second", 60));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00+24:00"), range("offset hour", 24));
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:00.0000000001Z"),
            Err(TimestampError::TooPrecise { digits: 10 })
        );
    }

    #[test]
    fn instants_outside_i64_nanos_are_unrepresentable() {
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00Z"), Err(TimestampError::Unrepresentable));
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59Z"), Err(TimestampError::Unrepresentable));
        assert_eq!(
            parse_rfc3339("2262-04-11T23:47:16.854775808Z"),
            Err(TimestampError::Unrepresentable)
        );
        assert_eq!(
            parse_rfc3339("1677-09-21T00:12:43.145224191Z"),
            Err(TimestampError::Unrepresentable)
        );
        // The same instant as i64::MAX, written with an offset, still fits.
        assert_eq!(parse_rfc3339("2262-04-12T01:47:16.854775807+02:00"), Ok(i64::MAX));
    }

    proptest! {
        #[test]
        fn parse_inverts_format_for_every_i64(nanos in any::<i64>()) {
            let text = format_rfc3339(nanos);
            prop_assert_eq!(text.len(), 30);
            prop_assert_eq!(parse_rfc3339(&text), Ok(nanos));
        }

        #[test]
        fn canonical_text_sorts_like_the_number(a in any::<i64>(), b in any::<i64>()) {
            prop_assert_eq!(a.cmp(&b), format_rfc3339(a).cmp(&format_rfc3339(b)));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "[0-9T:.Zz+-]{0,40}|\\PC{0,40}") {
            let _ = parse_rfc3339(&text);
        }
    }
}
