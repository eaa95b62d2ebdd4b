//! Panics inside a run become [`crate::outcome::Outcome::Panic`] results. A process-wide hook,
//! installed once, keeps the message and location of the last panic per thread (instead of
//! printing it), so the batch output stays readable and the failure card can show it.

use std::cell::{Cell, RefCell};
use std::sync::Once;

thread_local! {
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
    static IN_RUN: Cell<bool> = const { Cell::new(false) };
}

static INSTALL: Once = Once::new();

/// Runs `f` as a simulation run: a panic inside is recorded quietly for the run's result.
pub fn in_run<T>(f: impl FnOnce() -> T) -> T {
    let before = IN_RUN.with(|r| r.replace(true));
    let out = f();
    IN_RUN.with(|r| r.set(before));
    out
}

/// Installs the quiet hook (idempotent). Panics outside a run (a failing test's assertion)
/// still go to the default hook.
pub fn install_quiet_hook() {
    INSTALL.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_RUN.with(Cell::get) {
                default(info);
                return;
            }
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic with a non-text payload".to_owned());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            LAST.with(|last| *last.borrow_mut() = Some(format!("{message}{at}")));
        }));
    });
}

/// The message of the last panic on this thread, if the hook caught one (and forgets it).
pub fn take_message() -> Option<String> {
    LAST.with(|last| last.borrow_mut().take())
}
