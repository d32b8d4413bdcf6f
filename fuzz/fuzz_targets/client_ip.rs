#![no_main]
//! `cargo +nightly fuzz run client_ip`: see fuzz/README.md.
libfuzzer_sys::fuzz_target!(|data: &[u8]| tower_claude_fuzz_properties::client_ip::check(data));
