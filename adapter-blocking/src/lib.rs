//! wireloom-blocking: attaches [`wireloom_core`] to `std::net` sockets.
//!
//! This crate is a placeholder until its issue lands; it re-exports the core.
//!
//! ```
//! let _ = wireloom_blocking::core::http::Method::GET;
//! ```

pub use wireloom_core as core;
