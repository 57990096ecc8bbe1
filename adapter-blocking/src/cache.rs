//! The memory-mapped file cache (in progress).
