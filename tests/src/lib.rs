//! Cross-crate tests of the tower-claude layers on real servers and clients.
//!
//! The tests (in `tests/`) stack every layer the way the reference servers in
//! `tower-claude-examples` do, on axum, tonic and plain hyper over real
//! sockets, and call them with real clients.
