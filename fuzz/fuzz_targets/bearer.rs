#![no_main]
//! `cargo +nightly fuzz run bearer`: see fuzz/README.md.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_claude_fuzz_properties::bearer::check(data));
