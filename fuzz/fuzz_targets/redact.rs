#![no_main]
//! `cargo +nightly fuzz run redact`: see fuzz/README.md.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_claude_fuzz_properties::redact::check(data));
