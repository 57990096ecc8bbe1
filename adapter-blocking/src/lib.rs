//! wireloom-blocking: attaches [`wireloom_core`] to `std::net` sockets, with
//! TLS (rustls) and a memory-mapped file cache: an HTTP [`server`] and
//! [`client`], and an SMTP client ([`smtp`]).
//!
//! It also holds the runtime-neutral IO glue that the async adapters reuse:
//! [`tls`] (configuration loading and the rustls byte pump that drives any
//! core [`Dialogue`](wireloom_core::Dialogue) over TLS) and [`cache`] (the
//! mmap [`FileCache`](cache::FileCache)).
//!
//! ```
//! let _ = wireloom_blocking::core::http::Method::GET;
//! ```

pub use wireloom_core as core;

pub mod cache;
pub mod client;
pub mod driver;
pub mod router;
pub mod server;
pub mod smtp;
pub mod static_files;
pub mod tls;
