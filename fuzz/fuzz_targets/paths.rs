#![no_main]
//! `cargo +nightly fuzz run paths`: see fuzz/README.md.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_claude_fuzz_properties::paths::check(data));
