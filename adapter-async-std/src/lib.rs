//! wireloom-async-std: attaches [`wireloom_core`] to async-std and smol (futures-io).
//!
//! This crate is a placeholder until its issue lands; it re-exports the core.
//!
//! ```
//! let _ = wireloom_async_std::core::http::Method::GET;
//! ```

pub use wireloom_core as core;
