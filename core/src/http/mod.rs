//! HTTP/1.1 (RFC 9110, RFC 9112), sans IO.
//!
//! - Messages: [`Method`], [`StatusCode`], [`Version`], [`HeaderName`],
//!   [`HeaderValue`], [`HeaderMap`], [`RequestTarget`], [`RequestHead`],
//!   [`ResponseHead`].
//! - Codecs: the zero-copy head parser in [`parse`], body framing rules in
//!   [`framing`], body decoders and the chunked coding in [`body`], head
//!   writers in [`serialize`].
//! - [`interop`] (feature `http`): conversions to and from the `http`
//!   crate's types.
//! - Connections: [`ServerConnection`] and [`ClientConnection`], both
//!   [`Dialogue`](crate::Dialogue)s.

pub mod body;
mod chars;
pub mod client;
pub mod close;
pub mod error;
pub mod file;
pub mod framing;
mod head_reader;
pub mod header;
#[cfg(feature = "http")]
pub mod interop;
mod message;
mod method;
pub mod outbox;
pub mod parse;
pub mod pool;
pub mod redirect;
pub mod serialize;
pub mod server;
mod status;
pub mod uri;
mod version;

pub use body::BodyLimits;
pub use client::{ClientConfig, ClientConnection, ClientEvent};
pub use close::CloseReason;
pub use error::{Error, ErrorKind, UsageError};
pub use framing::Framing;
pub use header::{names, HeaderMap, HeaderName, HeaderValue, InvalidHeader, IterBytes};
pub use message::{RequestHead, ResponseHead};
pub use method::{InvalidMethod, Method};
pub use parse::{Lenient, ParseConfig};
pub use server::{BodyLength, Request, ServerConfig, ServerConnection, ServerEvent};
pub use status::{InvalidStatusCode, StatusCode};
pub use uri::{InvalidTarget, RequestTarget, TargetForm};
pub use version::Version;

/// The IMF-fixdate form of `t` for a `Date` or `Last-Modified` field
/// (RFC 9110 §5.6.7). Core never reads the clock: the caller passes the time.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// let v = wireloom_core::http::http_date(UNIX_EPOCH + Duration::from_secs(784111777));
/// assert_eq!(v, "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn http_date(t: std::time::SystemTime) -> HeaderValue {
    HeaderValue::from_shared(bytes::Bytes::from(httpdate::fmt_http_date(t)))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}
