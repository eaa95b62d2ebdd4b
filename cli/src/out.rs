//! Standard output that a closed pipe cannot crash, and that cannot fail silently.
//!
//! `std::println!` panics when stdout is a pipe whose reader has gone (`mtlog-audit verify |
//! head -1`): Rust ignores SIGPIPE, so the write fails with EPIPE and the macro panics, printing
//! a panic message and exiting 101, which hides `verify`'s verdict. Restoring SIGPIPE's default
//! action would end the process quietly, but killed by the signal: the exit code would be lost
//! as well. So every line the CLI prints goes through [`print()`] instead:
//!
//! - EPIPE: stdout is marked closed, later lines are dropped, and the command runs to its end
//!   and exits with its own code (`verify` still exits 1 on a damaged log). Loops that only
//!   print (`replay`, `monitor`) ask [`closed`] and stop early.
//! - any other write error (a full disk under `> file`): remembered, and [`finish`] reports it
//!   at exit as an I/O error (exit 3, unless the command already failed with another code), so
//!   a truncated output never passes for a complete one.
//!
//! `main.rs` shadows `print!`, `println!`, `eprint!` and `eprintln!` with macros that call these
//! functions, so no code in this crate can reach the panicking ones.

use std::fmt;
use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// Stdout accepts writes.
const OPEN: u8 = 0;
/// The reader of the pipe has gone: later output is dropped, quietly.
const PIPE_CLOSED: u8 = 1;
/// A write failed for another reason: later output is dropped, and the exit reports it.
const FAILED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(OPEN);
static FAILURE: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes to stdout, unless an earlier write found it closed or failing.
pub fn print(args: fmt::Arguments<'_>) {
    if closed() {
        return;
    }
    if let Err(e) = std::io::stdout().lock().write_fmt(args) {
        failed(e);
    }
}

/// Writes to stderr. A failure has nowhere to be reported, so it is ignored (never a panic).
pub fn eprint(args: fmt::Arguments<'_>) {
    let _ = std::io::stderr().lock().write_fmt(args);
}

/// Whether stdout stopped taking output (pipe closed or write failed): loops that only print
/// can stop.
pub fn closed() -> bool {
    STATE.load(Ordering::Relaxed) != OPEN
}

/// Flushes stdout and turns a write failure other than a closed pipe into an error exit.
pub fn finish(code: ExitCode) -> ExitCode {
    if !closed() {
        if let Err(e) = std::io::stdout().lock().flush() {
            failed(e);
        }
    }
    let failure = FAILURE.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    match failure {
        Some(e) => {
            eprint(format_args!("error: writing to standard output: {e}\n"));
            if code == ExitCode::SUCCESS {
                ExitCode::from(crate::commands::EXIT_INPUT)
            } else {
                code
            }
        }
        None => code,
    }
}

fn failed(e: std::io::Error) {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        STATE.store(PIPE_CLOSED, Ordering::Relaxed);
        return;
    }
    let mut failure = FAILURE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    failure.get_or_insert(e);
    STATE.store(FAILED, Ordering::Relaxed);
}
