//! wireloom-tokio: attaches [`wireloom_core`] to tokio.
//!
//! This crate is a placeholder until its issue lands; it re-exports the core.
//!
//! ```
//! let _ = wireloom_tokio::core::http::Method::GET;
//! ```

pub use wireloom_core as core;
