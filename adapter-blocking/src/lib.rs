//! wireloom-blocking: attaches [`wireloom_core`] to `std::net` sockets, with
//! TLS (rustls) and a memory-mapped file cache: an HTTP [`server`] and
//! [`client`], and an SMTP client ([`smtp`]).
//!
//! The runtime-neutral pieces it shares with the async adapters (TLS
//! configuration and byte pump, the mmap [`FileCache`](cache::FileCache),
//! the [`router`]) live in [`wireloom_io`] and are re-exported here.
//!
//! Errors: an HTTP request fails with [`client::ClientError`], an SMTP
//! session with [`smtp::Error`] (which carries core's SMTP
//! [`ClientError`](wireloom_core::smtp::client::ClientError) when the
//! session failed as core reports it); a server reports nothing to the
//! caller (a failed connection closes).
//!
//! ```
//! let _ = wireloom_blocking::core::http::Method::GET;
//! ```

pub use wireloom_core as core;

pub use wireloom_io::cache;
pub mod client;
pub mod driver;
pub use wireloom_io::router;
pub mod server;
pub mod smtp;
pub mod static_files;
pub mod tls;
pub mod ws;
