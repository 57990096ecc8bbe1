//! wireloom-bench: comparisons of wireloom against the crates a user would
//! otherwise pick, measured side by side in one run. See `BENCHMARKS.md`.
