#![no_main]
//! `cargo +nightly fuzz run headers`: see fuzz/README.md.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_claude_fuzz_properties::headers::check(data));
