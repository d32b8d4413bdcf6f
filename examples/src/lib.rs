//! Reference servers and tools for the tower-claude layers.
//!
//! The programs, tests and benchmarks arrive with the layers they exercise.
