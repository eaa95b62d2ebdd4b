//! Fuzz target `clef`: see `mtlog_audit::fuzzing::clef` for the contract it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        mtlog_audit::fuzzing::clef(text);
    }
});
