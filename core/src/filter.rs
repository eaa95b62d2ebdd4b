//! Event filters for export and replay: a small expression language over an event's level,
//! template, message and properties.
//!
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" expr ")" | compare
//! compare := field op literal
//! field   := "level" | "@l" | "@mt" | "@m" | "@x" | "@i" | property-name
//! op      := "=" | "!=" | "<" | "<=" | ">" | ">=" | "like"
//! literal := 'single-quoted' | "double-quoted" | number | true | false | null | bare-word
//! ```
//!
//! `level >= ERROR and UserId = 42 and @mt like 'payment%'`. Levels compare by severity with
//! a level name (`Error`, `ERR`, `warn`, ...): a misspelt name or a number is a parse error.
//! `like` takes `%` (any run) and `_` (one character, however many bytes it takes). Keywords
//! are case-insensitive.
//! Parsing untrusted text never panics; input length and nesting are bounded.
//!
//! # Examples
//!
//! ```
//! use mtlog_audit::event::{Event, EventId, Level};
//! use mtlog_audit::filter::{Filter, FILTER_DEPTH_MAX, FILTER_LEN_MAX};
//!
//! let filter = Filter::parse("not (@l < Warning) and @m like '%disk_full%'")?;
//! let event = |level| Event::new(EventId::ZERO, 0, level, "Write failed: disk full").render();
//! assert!(filter.matches(&event(Level::Error))); // `_` matched the space
//! assert!(!filter.matches(&event(Level::Information)));
//!
//! // Hostile input is refused with an error, never a panic or a deep recursion.
//! let deep = format!("{}a = 1", "not ".repeat(FILTER_DEPTH_MAX + 1));
//! let error = Filter::parse(&deep).unwrap_err();
//! assert_eq!(error.what, format!("nesting deeper than {FILTER_DEPTH_MAX}"));
//! let long = "a = 1 or ".repeat(FILTER_LEN_MAX);
//! assert_eq!(Filter::parse(&long).unwrap_err().at, FILTER_LEN_MAX);
//! # Ok::<(), mtlog_audit::filter::FilterError>(())
//! ```

use std::cmp::Ordering;
use std::fmt;

use crate::event::{Event, Level, Value};

/// Longest filter text accepted. See the [module docs](self) for an example.
pub const FILTER_LEN_MAX: usize = 4096;
/// Deepest nesting of parentheses and `not` accepted. See the [module docs](self) for an
/// example.
pub const FILTER_DEPTH_MAX: usize = 32;

/// A parsed filter.
///
/// # Examples
///
/// ```
/// use mtlog_audit::event::{Event, EventId, Level};
/// use mtlog_audit::filter::Filter;
///
/// let filter = Filter::parse("level >= warning and (UserId = 42 or @mt like 'Payment%')")?;
/// let event = |level, template: &str, user: u64| {
///     Event::new(EventId::ZERO, 0, level, template).with_property("UserId", user).render()
/// };
/// assert!(filter.matches(&event(Level::Error, "Login failed", 42)));
/// assert!(filter.matches(&event(Level::Warning, "Payment declined", 7)));
/// assert!(!filter.matches(&event(Level::Information, "Login failed", 42)));
/// # Ok::<(), mtlog_audit::filter::FilterError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// Does not hold.
    Not(Box<Filter>),
    /// A comparison.
    Compare {
        /// The field compared.
        field: Field,
        /// The operator.
        op: Op,
        /// The literal compared against.
        literal: Literal,
    },
}

/// What a comparison reads from an event.
///
/// # Examples
///
/// How filter text maps to a [`Field`], an [`Op`] and a [`Literal`]:
///
/// ```
/// use mtlog_audit::filter::{Field, Filter, Literal, Op};
///
/// let compare = |text| match Filter::parse(text) {
///     Ok(Filter::Compare { field, op, literal }) => (field, op, literal),
///     other => panic!("not a comparison: {other:?}"),
/// };
/// let word = |text: &str| Literal::Str(text.into());
/// assert_eq!(compare("LEVEL >= error"), (Field::Level, Op::Ge, word("error")));
/// assert_eq!(compare("@x != null"), (Field::Exception, Op::Ne, Literal::Null));
/// assert_eq!(compare("@mt like 'Pay%'"), (Field::Template, Op::Like, word("Pay%")));
/// assert_eq!(compare("\"@i\" = true"), (Field::Id, Op::Eq, Literal::Bool(true)));
/// let amount = Field::Property("Amount".into());
/// assert_eq!(compare("Amount <= 9.5"), (amount, Op::Le, Literal::Num(9.5)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// The level.
    Level,
    /// The message template.
    Template,
    /// The rendered message.
    Message,
    /// The exception text.
    Exception,
    /// The event id.
    Id,
    /// A property by name.
    Property(String),
}

/// A comparison operator. See [`Field`] for an example.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `like`
    Like,
}

/// A literal. See [`Field`] for an example.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// A string (quoted or a bare word).
    Str(String),
    /// A number.
    Num(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// Why a filter did not parse: what was expected, at which character.
///
/// # Examples
///
/// ```
/// use mtlog_audit::filter::{Filter, FilterError};
///
/// let error = Filter::parse("level >= 'warn").unwrap_err();
/// assert_eq!(error, FilterError { at: 9, what: "unterminated string".into() });
/// assert_eq!(error.to_string(), "filter: unterminated string at character 9");
///
/// let error = Filter::parse("UserId 42").unwrap_err();
/// assert_eq!(error.to_string(), "filter: expected an operator at character 7");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterError {
    /// Character offset into the filter text.
    pub at: usize,
    /// What was expected or wrong.
    pub what: String,
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "filter: {} at character {}", self.what, self.at)
    }
}

impl std::error::Error for FilterError {}

impl Filter {
    /// Parses filter text.
    ///
    /// # Errors
    /// A [`FilterError`] naming the character offset and what was expected there: text longer
    /// than [`FILTER_LEN_MAX`], nesting deeper than [`FILTER_DEPTH_MAX`], an unterminated
    /// string, a character that starts no token, a missing field name, operator, value or `)`,
    /// a level compared with something other than a level name (or with `like`), or text after
    /// a complete expression.
    ///
    /// # Examples
    ///
    /// ```
    /// use mtlog_audit::filter::{Field, Filter, Literal, Op};
    ///
    /// let filter = Filter::parse("UserId = 42")?;
    /// assert_eq!(
    ///     filter,
    ///     Filter::Compare {
    ///         field: Field::Property("UserId".into()),
    ///         op: Op::Eq,
    ///         literal: Literal::Num(42.0),
    ///     }
    /// );
    /// let error = Filter::parse("UserId = ").unwrap_err();
    /// assert_eq!(error.at, 9);
    /// # Ok::<(), mtlog_audit::filter::FilterError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.len() > FILTER_LEN_MAX {
            return Err(FilterError {
                at: FILTER_LEN_MAX,
                what: format!("longer than {FILTER_LEN_MAX} bytes"),
            });
        }
        let tokens = lex(text)?;
        let mut p = Parser { tokens, pos: 0, depth: 0, len: text.len() };
        let f = p.or()?;
        match p.peek() {
            None => Ok(f),
            Some((at, t)) => Err(FilterError { at: *at, what: format!("unexpected {t}") }),
        }
    }

    /// Whether `event` matches. See [`Filter`] for an example.
    pub fn matches(&self, event: &Event) -> bool {
        match self {
            Filter::And(a, b) => a.matches(event) && b.matches(event),
            Filter::Or(a, b) => a.matches(event) || b.matches(event),
            Filter::Not(a) => !a.matches(event),
            Filter::Compare { field, op, literal } => compare(event, field, *op, literal),
        }
    }
}

fn compare(event: &Event, field: &Field, op: Op, literal: &Literal) -> bool {
    match field {
        Field::Level => {
            let Literal::Str(name) = literal else { return false };
            let Ok(level) = name.parse::<Level>() else { return false };
            ordered(event.level.cmp(&level), op)
        }
        Field::Template => text(&event.template, op, literal),
        Field::Message => text(&event.message, op, literal),
        Field::Exception => event.exception.as_deref().is_some_and(|x| text(x, op, literal)),
        Field::Id => text(&event.id.to_string(), op, literal),
        Field::Property(name) => match (event.property(name), literal) {
            (None, Literal::Null) | (Some(Value::Null), Literal::Null) => op == Op::Eq,
            (None, _) => op == Op::Ne,
            (Some(Value::Str(s)), _) => text(s, op, literal),
            (Some(Value::Bool(b)), Literal::Bool(l)) => ordered(b.cmp(l), op),
            (Some(v), Literal::Num(n)) => match number(v) {
                Some(x) => x.partial_cmp(n).is_some_and(|o| ordered(o, op)),
                None => false,
            },
            (Some(v), Literal::Str(s)) => match number(v) {
                Some(x) => s
                    .parse::<f64>()
                    .ok()
                    .and_then(|n| x.partial_cmp(&n))
                    .is_some_and(|o| ordered(o, op)),
                None => false,
            },
            _ => op == Op::Ne,
        },
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::I64(x) => Some(*x as f64),
        Value::U64(x) => Some(*x as f64),
        Value::F64(x) => Some(*x),
        _ => None,
    }
}

fn text(s: &str, op: Op, literal: &Literal) -> bool {
    let l = match literal {
        Literal::Str(l) => l.clone(),
        Literal::Num(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Null => return op == Op::Ne,
    };
    if op == Op::Like {
        let (s, l): (Vec<char>, Vec<char>) = (s.chars().collect(), l.chars().collect());
        return like(&s, &l);
    }
    ordered(s.cmp(l.as_str()), op)
}

fn ordered(o: Ordering, op: Op) -> bool {
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        Op::Like => false,
    }
}

/// SQL `LIKE` over characters (Unicode scalar values, so `_` is one character however many
/// bytes it takes in UTF-8), iteratively (no recursion, O(n·m) worst case).
fn like(s: &[char], p: &[char]) -> bool {
    let (mut si, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while let Some(&sc) = s.get(si) {
        match p.get(pi) {
            Some('%') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == '_' || c == sc => {
                si += 1;
                pi += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).unwrap_or_default().iter().all(|&c| c == '%')
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Num(f64),
    Op(Op),
    Open,
    Close,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "'{w}'"),
            Token::Quoted(q) => write!(f, "string '{q}'"),
            Token::Num(n) => write!(f, "number {n}"),
            Token::Op(o) => write!(f, "operator {o:?}"),
            Token::Open => write!(f, "'('"),
            Token::Close => write!(f, "')'"),
        }
    }
}

fn lex(text: &str) -> Result<Vec<(usize, Token)>, FilterError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&(at, c)) = chars.get(i) {
        let next = chars.get(i + 1).map(|x| x.1);
        match c {
            _ if c.is_whitespace() => i += 1,
            '(' => {
                out.push((at, Token::Open));
                i += 1;
            }
            ')' => {
                out.push((at, Token::Close));
                i += 1;
            }
            '=' => {
                out.push((at, Token::Op(Op::Eq)));
                i += if next == Some('=') { 2 } else { 1 };
            }
            '!' if next == Some('=') => {
                out.push((at, Token::Op(Op::Ne)));
                i += 2;
            }
            '<' | '>' => {
                let op = match (c, next) {
                    ('<', Some('=')) => Op::Le,
                    ('>', Some('=')) => Op::Ge,
                    ('<', Some('>')) => Op::Ne,
                    ('<', _) => Op::Lt,
                    _ => Op::Gt,
                };
                let two = matches!((c, next), ('<', Some('=' | '>')) | ('>', Some('=')));
                out.push((at, Token::Op(op)));
                i += if two { 2 } else { 1 };
            }
            '\'' | '"' => {
                let mut s = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(FilterError { at, what: "unterminated string".into() }),
                        Some(&(_, q)) if q == c && chars.get(j + 1).map(|x| x.1) == Some(c) => {
                            s.push(c);
                            j += 2;
                        }
                        Some(&(_, q)) if q == c => break,
                        Some(&(_, q)) => {
                            s.push(q);
                            j += 1;
                        }
                    }
                }
                out.push((at, Token::Quoted(s)));
                i = j + 1;
            }
            _ if c.is_alphanumeric() || matches!(c, '@' | '_' | '-' | '.' | '$') => {
                let mut j = i;
                let mut w = String::new();
                while let Some(&(_, d)) = chars.get(j) {
                    if d.is_alphanumeric() || matches!(d, '@' | '_' | '-' | '.' | '$' | '+') {
                        w.push(d);
                        j += 1;
                    } else {
                        break;
                    }
                }
                let token = match w.parse::<f64>() {
                    Ok(n) if w.starts_with(|x: char| x.is_ascii_digit() || x == '-') => {
                        Token::Num(n)
                    }
                    _ if w.eq_ignore_ascii_case("like") => Token::Op(Op::Like),
                    _ => Token::Word(w),
                };
                out.push((at, token));
                i = j;
            }
            _ => return Err(FilterError { at, what: format!("unexpected character '{c}'") }),
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    pos: usize,
    depth: usize,
    len: usize,
}

impl Parser {
    fn peek(&self) -> Option<&(usize, Token)> {
        self.tokens.get(self.pos)
    }

    fn at(&self) -> usize {
        self.peek().map_or(self.len, |t| t.0)
    }

    fn keyword(&mut self, k: &str) -> bool {
        if let Some((_, Token::Word(w))) = self.peek() {
            if w.eq_ignore_ascii_case(k) {
                self.pos += 1;
                return true;
            }
        }
        false
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        self.depth += 1;
        if self.depth > FILTER_DEPTH_MAX {
            return Err(FilterError {
                at: self.at(),
                what: format!("nesting deeper than {FILTER_DEPTH_MAX}"),
            });
        }
        let f = if self.keyword("not") {
            Filter::Not(Box::new(self.unary()?))
        } else if matches!(self.peek(), Some((_, Token::Open))) {
            self.pos += 1;
            let inner = self.or()?;
            match self.peek() {
                Some((_, Token::Close)) => self.pos += 1,
                _ => return Err(FilterError { at: self.at(), what: "expected ')'".into() }),
            }
            inner
        } else {
            self.compare()?
        };
        self.depth -= 1;
        Ok(f)
    }

    fn compare(&mut self) -> Result<Filter, FilterError> {
        let at = self.at();
        let field = match self.peek().cloned() {
            Some((_, Token::Word(w))) | Some((_, Token::Quoted(w))) => {
                self.pos += 1;
                match w.to_ascii_lowercase().as_str() {
                    "level" | "@l" => Field::Level,
                    "@mt" => Field::Template,
                    "@m" => Field::Message,
                    "@x" => Field::Exception,
                    "@i" => Field::Id,
                    _ => Field::Property(w),
                }
            }
            _ => return Err(FilterError { at, what: "expected a field name".into() }),
        };
        let op = match self.peek() {
            Some((_, Token::Op(op))) => *op,
            _ => return Err(FilterError { at: self.at(), what: "expected an operator".into() }),
        };
        self.pos += 1;
        let literal_at = self.at();
        let literal = match self.peek().cloned() {
            Some((_, Token::Quoted(s))) => Literal::Str(s),
            Some((_, Token::Num(n))) => Literal::Num(n),
            Some((_, Token::Word(w))) => match w.to_ascii_lowercase().as_str() {
                "true" => Literal::Bool(true),
                "false" => Literal::Bool(false),
                "null" => Literal::Null,
                _ => Literal::Str(w),
            },
            _ => return Err(FilterError { at: self.at(), what: "expected a value".into() }),
        };
        if field == Field::Level {
            level_operand(op, &literal).map_err(|what| FilterError { at: literal_at, what })?;
        }
        self.pos += 1;
        Ok(Filter::Compare { field, op, literal })
    }
}

/// A level comparison needs an ordering operator and a level name: anything else (a misspelt
/// name, a number, `like`) would match no event, and an export that silently matches nothing
/// reads as "no such events". Returns what is wrong, naming the bad token.
fn level_operand(op: Op, literal: &Literal) -> Result<(), String> {
    const NAMES: &str = "Verbose, Debug, Information, Warning, Error or Fatal";
    if op == Op::Like {
        return Err("level compares by severity with =, !=, <, <=, >, >=, not like".into());
    }
    match literal {
        Literal::Str(name) if name.parse::<Level>().is_ok() => Ok(()),
        Literal::Str(name) => Err(format!("unknown level '{name}': expected {NAMES}")),
        Literal::Num(n) => Err(format!("level {n} is a number: expected a level name, {NAMES}")),
        Literal::Bool(b) => Err(format!("level {b}: expected a level name, {NAMES}")),
        Literal::Null => Err(format!("level null: expected a level name, {NAMES}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventId;

    fn event() -> Event {
        Event::new(EventId([1; 16]), 0, Level::Error, "Payment {PaymentId} failed for {UserId}")
            .with_property("PaymentId", "p-9")
            .with_property("UserId", 42u64)
            .with_property("Amount", 12.5)
            .render()
    }

    #[test]
    fn the_issue_example_matches_and_its_negations_do_not() {
        let e = event();
        let f = Filter::parse("level >= ERROR and UserId = 42 and @mt like 'payment%'").unwrap();
        assert!(!f.matches(&e), "like is case-sensitive: 'payment%' vs 'Payment'");
        let f = Filter::parse("level >= ERROR and UserId = 42 and @mt like 'Payment%'").unwrap();
        assert!(f.matches(&e));
        assert!(!Filter::parse("level > error").unwrap().matches(&e));
        assert!(Filter::parse("not (UserId < 10 or Amount >= 20)").unwrap().matches(&e));
        assert!(Filter::parse("Missing = null and PaymentId != 'x'").unwrap().matches(&e));
        assert!(Filter::parse("@m like '%p-9%42'").unwrap().matches(&e));
    }

    #[test]
    fn bad_filters_name_the_position() {
        assert_eq!(Filter::parse("UserId =").unwrap_err().what, "expected a value");
        assert_eq!(Filter::parse("(a = 1").unwrap_err().at, 6);
        assert_eq!(Filter::parse("a = 'x").unwrap_err().what, "unterminated string");
        let deep = format!("{}a = 1{}", "(".repeat(100), ")".repeat(100));
        assert!(Filter::parse(&deep).unwrap_err().what.contains("nesting"));
        assert!(Filter::parse(&"a".repeat(5000)).is_err());
    }

    #[test]
    fn like_handles_wildcards_without_backtracking_blowup() {
        let like = |s: &str, p: &str| text(s, Op::Like, &Literal::Str(p.into()));
        assert!(like("abc", "a%c"));
        assert!(like("abc", "_b_"));
        assert!(!like("abc", "a%d"));
        assert!(like("", "%"));
        assert!(!like(&"a".repeat(2000), "%a%a%a%a%a%b"));
    }

    #[test]
    fn underscore_matches_one_character_however_many_bytes_it_takes() {
        // Regression (issue 19, 14): `like` compared bytes, so `_` matched one byte of a
        // multi-byte character and 'caf_' did not match "café". Method: two-, three- and
        // four-byte characters against `_`, runs of `_` and `%`, through the parser.
        let matches = |pattern: &str, message: &str| {
            let f = Filter::parse(&format!("@m like '{pattern}'")).unwrap();
            f.matches(&Event::new(EventId::ZERO, 0, Level::Information, message).render())
        };
        assert!(matches("caf_", "café"));
        assert!(!matches("caf__", "café"), "é is one character, not two");
        assert!(matches("__", "日本"));
        assert!(!matches("______", "日本"), "six bytes, but two characters");
        assert!(matches("_x_", "🦀x🦀"));
        assert!(matches("%本", "日本"));
        assert!(matches("日%", "日本"));
        assert!(!matches("_", ""));
    }

    #[test]
    fn unknown_and_numeric_levels_are_errors_naming_the_token() {
        // Regression (issue 19, 15): `level >= EROR` and `level = 3` parsed and matched
        // nothing, so an export wrote an empty file and exited 0.
        let error = Filter::parse("level >= EROR").unwrap_err();
        assert_eq!(error.at, 9);
        assert!(error.what.contains("'EROR'"), "{error}");
        let error = Filter::parse("UserId = 1 and level = 3").unwrap_err();
        assert_eq!(error.at, 23);
        assert!(error.what.contains("level 3"), "{error}");
        assert!(Filter::parse("@l like 'Err%'").unwrap_err().what.contains("not like"));
        assert!(Filter::parse("level = null").is_err());
        assert!(Filter::parse("level = true").is_err());
        for good in ["level >= warn", "@l = 'Error'", "LEVEL < FTL", "level != information"] {
            assert!(Filter::parse(good).is_ok(), "{good}");
        }
    }
}
