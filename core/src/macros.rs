//! The `audit!` macro: Serilog-style message templates with positional arguments.
//!
//! ```
//! use mtlog_audit::{audit, Level, Options, Reader, Sink, Value};
//!
//! # let tmp = tempfile::tempdir()?;
//! # let dir = tmp.path();
//! let sink = Sink::open(Options::new(dir))?;
//! let (user_id, record_id) = (42, "r-7");
//! audit!(sink, "User {UserId} accessed record {RecordId}", user_id, record_id)?;
//! let receipt = audit!(sink, Level::Warning => "Login failed for {UserId}", user_id)?;
//! assert_eq!(receipt.seq, 2);
//!
//! let first = Reader::open(dir)?.replay(1..=1)?.next().unwrap()?.event;
//! assert_eq!(first.template, "User {UserId} accessed record {RecordId}");
//! assert_eq!(first.message, "User 42 accessed record r-7");
//! assert_eq!(first.property("RecordId"), Some(&Value::from("r-7")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Arguments bind to the template's property names in order of first appearance; the template
//! is stored as written (`@mt`), beside the rendered message.

use crate::event::{template, Level, Value};
use crate::io::{Clock, Disk, Entropy};
use crate::sink::{Receipt, Sink};

/// Emits `template` at `level` with `args` bound to its property names in order. Used by
/// [`audit!`](crate::audit); an argument without a name in the template is kept as `_ArgN`.
///
/// # Errors
/// As [`Sink::emit`].
///
/// # Panics
/// As [`Sink::emit`], if the sink was opened with `panic_on_failure`.
///
/// # Examples
///
/// ```
/// use mtlog_audit::macros::emit_template;
/// use mtlog_audit::{Level, Options, Sink, Value};
///
/// # let tmp = tempfile::tempdir()?;
/// let sink = Sink::open(Options::new(tmp.path()))?;
/// let args = vec![Value::from(42), Value::from("extra")];
/// let receipt = emit_template(&sink, Level::Information, "User {UserId} left", args)?;
/// assert_eq!(receipt.seq, 1); // stored with UserId = 42 and _Arg1 = "extra"
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn emit_template<D: Disk, C: Clock, E: Entropy>(
    sink: &Sink<D, C, E>,
    level: Level,
    template: &str,
    args: Vec<Value>,
) -> Result<Receipt, crate::Error> {
    let names = template::property_names(template);
    let mut event = sink.new_event(level, template);
    for (i, value) in args.into_iter().enumerate() {
        event = match names.get(i) {
            Some(name) => event.with_property(*name, value),
            None => event.with_property(format!("_Arg{i}"), value),
        };
    }
    sink.emit(&event.render())
}

/// Emits an audit event with a message template and positional arguments; returns the
/// receipt once the event is durable. See the [module docs](crate::macros) for an example.
///
/// `audit!(sink, template, args...)` emits at `Level::Information`;
/// `audit!(sink, level => template, args...)` at `level`. Each argument goes through
/// [`Value::from`](crate::Value). It expands to [`emit_template`](crate::macros::emit_template)
/// and returns its `Result`.
#[macro_export]
macro_rules! audit {
    ($sink:expr, $level:expr => $template:expr $(, $arg:expr)* $(,)?) => {
        $crate::macros::emit_template(&$sink, $level, $template, vec![$($crate::Value::from($arg)),*])
    };
    ($sink:expr, $template:expr $(, $arg:expr)* $(,)?) => {
        $crate::macros::emit_template(
            &$sink,
            $crate::Level::Information,
            $template,
            vec![$($crate::Value::from($arg)),*],
        )
    };
}
