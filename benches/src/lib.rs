//! Criterion benchmarks of the tower-claude layers against their peers.
//!
//! The programs, tests and benchmarks arrive with the layers they exercise.
