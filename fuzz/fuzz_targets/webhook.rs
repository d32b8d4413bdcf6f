#![no_main]
//! `cargo +nightly fuzz run webhook`: see fuzz/README.md.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_claude_fuzz_properties::webhook::check(data));
