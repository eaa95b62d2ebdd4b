//! Fuzz target: the contract it checks is documented on the function it calls.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mtlog_audit::fuzzing::crafted_records(data));
