//! Shared fixtures for the Criterion benchmarks.
