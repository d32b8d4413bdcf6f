//! Cross-crate tests of the tower-claude layers on real servers and clients.
//!
//! The programs, tests and benchmarks arrive with the layers they exercise.
