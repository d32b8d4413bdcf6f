//! The properties the fuzz targets in `fuzz/` check, one module per parser
//! that reads attacker bytes. Each `check` takes the raw fuzzer input, shapes
//! it with `arbitrary`, runs the parser and panics when a property fails.
//!
//! The same functions replay the committed corpus under `cargo test` on
//! stable (`tests/corpus.rs`), so CI covers every input a fuzzer ever kept.
#![forbid(unsafe_code)]
#![allow(missing_docs, unreachable_pub)]

pub mod bearer;
pub mod client_ip;
pub mod config;
pub mod headers;
pub mod paths;
pub mod redact;
pub mod webhook;

/// A hand-written seed: `seed:` and text in the target's own simple format
/// (see each module), so the REFERENCE.md vectors and the bypass shapes of the
/// tests can be committed as readable files. The fuzzer mutates them too.
pub(crate) fn seed(data: &[u8]) -> Option<String> {
    data.strip_prefix(b"seed:")
        .map(|rest| String::from_utf8_lossy(rest).into_owned())
}

/// A target's check: panics when a property fails.
pub type Check = fn(&[u8]);

/// Every target: its name (the `fuzz_targets/<name>.rs` file and the
/// `corpus/<name>/` folder) and its check.
pub const TARGETS: [(&str, Check); 7] = [
    ("paths", paths::check),
    ("client_ip", client_ip::check),
    ("bearer", bearer::check),
    ("webhook", webhook::check),
    ("config", config::check),
    ("redact", redact::check),
    ("headers", headers::check),
];
