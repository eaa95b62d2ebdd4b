//! Fuzz target: the contract it checks is documented on the function it calls.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        mtlog_audit::fuzzing::checkpoint(text);
    }
});
