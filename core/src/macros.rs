//! The `audit!` macro: Serilog-style message templates with positional arguments.
//!
//! ```no_run
//! use mtlog_audit::{audit, Level, Options, Sink};
//! let sink = Sink::open(Options::new("./audit-data"))?;
//! let (user_id, record_id) = (42, "r-7");
//! audit!(sink, "User {UserId} accessed record {RecordId}", user_id, record_id)?;
//! audit!(sink, Level::Warning => "Login failed for {UserId}", user_id)?;
//! # Ok::<(), mtlog_audit::Error>(())
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
/// receipt once the event is durable. See the [module docs](crate::macros).
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
